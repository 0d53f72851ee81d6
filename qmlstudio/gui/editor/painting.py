"""Drawing gates with QPainter: the one place that knows what each gate looks like.

The canvas items and the palette icons both call :func:`paint_gate`, so a gate looks the
same in the palette and on a wire. Controlled gates get control dots and a target (⊕ for
X), SWAP gets crosses, Ising interactions (RXX, RYY, RZZ) a box over both qubits, and
every other gate a rounded box with its label and, for rotations, its angle.
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QIcon, QPainter, QPainterPath, QPen, QPixmap

from qmlstudio.core.circuit import GATES
from qmlstudio.core.expressions import Angle
from qmlstudio.gui import theme

BOX_W = 46.0
BOX_H = 40.0
RADIUS = 7.0
CONTROL_R = 5.5
TARGET_R = 13.0
SWAP_R = 6.0

#: Controlled gates: what sits on the target wire ("oplus", "dot" or a box label).
CONTROLLED: dict[str, str] = {
    "cx": "oplus",
    "ccx": "oplus",
    "cz": "dot",
    "cy": "Y",
    "crx": "RX",
    "cry": "RY",
    "crz": "RZ",
}
#: Two-qubit interactions drawn as one box over both qubits.
INTERACTIONS = frozenset({"rxx", "ryy", "rzz"})


def label_font(size: float = 10.5) -> QFont:
    font = theme.ui_font(size, bold=True)
    return font


def angle_font(size: float = 7.5) -> QFont:
    font = theme.ui_font(size)
    return font


def angle_text(angles: Sequence[Angle]) -> str:
    return ", ".join(a.pretty().replace(" ", "") for a in angles)


def angle_kind(angles: Sequence[Angle]) -> str:
    kinds = {a.kind for a in angles}
    if "input" in kinds or any(a.inputs for a in angles):
        return "input" if kinds == {"input"} else "expression"
    if kinds == {"weight"}:
        return "weight"
    return "constant" if kinds == {"constant"} else "expression"


def _box(
    painter: QPainter,
    rect: QRectF,
    fill: QColor,
    label: str,
    angles: Sequence[Angle] = (),
    selected: bool = False,
    faded: bool = False,
) -> None:
    path = QPainterPath()
    path.addRoundedRect(rect, RADIUS, RADIUS)
    if selected:
        halo = QPainterPath()
        halo.addRoundedRect(rect.adjusted(-4, -4, 4, 4), RADIUS + 3, RADIUS + 3)
        painter.fillPath(halo, QColor(13, 116, 206, 60))
    color = QColor(fill)
    if faded:
        color = color.lighter(135)
    painter.fillPath(path, color)
    pen = QPen(QColor(theme.ACCENT) if selected else color.darker(125), 2.0 if selected else 1.0)
    painter.setPen(pen)
    painter.drawPath(path)
    painter.setPen(QColor("white"))
    if angles:
        painter.setFont(label_font(9.5))
        top = QRectF(rect.left(), rect.top() + 3, rect.width(), rect.height() * 0.5)
        painter.drawText(top, Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, label)
        font = angle_font()
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        text = metrics.elidedText(angle_text(angles), Qt.TextElideMode.ElideRight, rect.width() - 6)
        kind = angle_kind(angles)
        chip_w = min(rect.width() - 4, metrics.horizontalAdvance(text) + 8)
        chip = QRectF(rect.center().x() - chip_w / 2, rect.top() + rect.height() * 0.56, chip_w, metrics.height() + 1)
        if kind != "weight":
            chip_path = QPainterPath()
            chip_path.addRoundedRect(chip, 3, 3)
            painter.fillPath(chip_path, QColor(theme.ANGLE_COLORS[kind]))
            painter.setPen(QColor("#5A2800") if kind in ("input", "expression") else QColor(theme.TEXT))
        else:
            painter.setPen(QColor("white"))
        painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
    else:
        size = 11.5 if len(label) <= 2 else 9.5 if len(label) <= 3 else 8.0
        painter.setFont(label_font(size))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)


def paint_gate(
    painter: QPainter,
    name: str,
    ys: Sequence[float],
    angles: Sequence[Angle] = (),
    selected: bool = False,
    faded: bool = False,
    x: float = 0.0,
) -> None:
    """Draws gate ``name`` centred at ``x``, with ``ys[i]`` the wire height of its i-th qubit."""
    gtype = GATES[name]
    fill = theme.gate_color(name)
    if faded:
        fill = fill.lighter(120)
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    if len(ys) == 1:
        _box(painter, QRectF(x - BOX_W / 2, ys[0] - BOX_H / 2, BOX_W, BOX_H), fill, gtype.label, angles, selected, faded)
        painter.restore()
        return

    top, bottom = min(ys), max(ys)
    line_pen = QPen(QColor(theme.ACCENT) if selected else fill, 3.0 if selected else 2.0)
    if name in INTERACTIONS:
        rect = QRectF(x - BOX_W / 2, top - BOX_H / 2, BOX_W, bottom - top + BOX_H)
        _box(painter, rect, fill, gtype.label, (), selected, faded)
        if angles:
            painter.setFont(angle_font())
            metrics = QFontMetricsF(painter.font())
            text = metrics.elidedText(angle_text(angles), Qt.TextElideMode.ElideRight, BOX_W - 6)
            kind = angle_kind(angles)
            chip = QRectF(x - BOX_W / 2 + 3, rect.center().y() + 9, BOX_W - 6, metrics.height() + 1)
            if kind != "weight":
                path = QPainterPath()
                path.addRoundedRect(chip, 3, 3)
                painter.fillPath(path, QColor(theme.ANGLE_COLORS[kind]))
                painter.setPen(QColor("#5A2800"))
            else:
                painter.setPen(QColor("white"))
            painter.drawText(chip, Qt.AlignmentFlag.AlignCenter, text)
            painter.setPen(QColor("white"))
            painter.setFont(label_font(9.5))
            painter.drawText(QRectF(rect.left(), rect.center().y() - 16, rect.width(), 20), Qt.AlignmentFlag.AlignCenter, gtype.label)
        # Small marks show which wires the box acts on when it spans others.
        for y in ys:
            painter.setPen(QPen(QColor("white"), 2.0))
            painter.drawLine(QPointF(x - BOX_W / 2 + 1, y), QPointF(x - BOX_W / 2 + 6, y))
        painter.restore()
        return

    if selected:
        painter.setPen(QPen(QColor(13, 116, 206, 60), 9.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
    painter.setPen(line_pen)
    painter.drawLine(QPointF(x, top), QPointF(x, bottom))
    if name == "swap":
        painter.setPen(QPen(fill, 2.5))
        for y in ys:
            painter.drawLine(QPointF(x - SWAP_R, y - SWAP_R), QPointF(x + SWAP_R, y + SWAP_R))
            painter.drawLine(QPointF(x - SWAP_R, y + SWAP_R), QPointF(x + SWAP_R, y - SWAP_R))
        painter.restore()
        return

    target = CONTROLLED.get(name, gtype.label)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(fill)
    for y in ys[:-1]:
        painter.drawEllipse(QPointF(x, y), CONTROL_R, CONTROL_R)
    y = ys[-1]
    if target == "dot":
        painter.drawEllipse(QPointF(x, y), CONTROL_R, CONTROL_R)
    elif target == "oplus":
        if selected:
            painter.setBrush(QColor(13, 116, 206, 60))
            painter.drawEllipse(QPointF(x, y), TARGET_R + 4, TARGET_R + 4)
        painter.setBrush(fill)
        painter.setPen(QPen(fill.darker(120), 1.0))
        painter.drawEllipse(QPointF(x, y), TARGET_R, TARGET_R)
        painter.setPen(QPen(QColor("white"), 2.2))
        painter.drawLine(QPointF(x - TARGET_R + 4, y), QPointF(x + TARGET_R - 4, y))
        painter.drawLine(QPointF(x, y - TARGET_R + 4), QPointF(x, y + TARGET_R - 4))
    else:
        _box(painter, QRectF(x - BOX_W / 2, y - BOX_H / 2, BOX_W, BOX_H), fill, target, angles, selected, faded)
    painter.restore()


# ------------------------------------------------------------------------ icons
def _icon_pixmap(width: int, height: int, ratio: float = 2.0) -> QPixmap:
    """A transparent pixmap of ``width`` × ``height`` logical pixels, sharp on high-DPI screens."""
    pixmap = QPixmap(round(width * ratio), round(height * ratio))
    pixmap.setDevicePixelRatio(ratio)
    pixmap.fill(Qt.GlobalColor.transparent)
    return pixmap


def gate_pixmap(name: str, width: int = 44, height: int = 36) -> QPixmap:
    """The palette tile of a gate: its label in a rounded box in its family's colour."""
    gtype = GATES[name]
    pixmap = _icon_pixmap(width, height)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setRenderHint(QPainter.RenderHint.TextAntialiasing, True)
    rect = QRectF(1, 1, width - 2, height - 2)
    path = QPainterPath()
    path.addRoundedRect(rect, 6, 6)
    color = theme.gate_color(name)
    painter.fillPath(path, color)
    painter.setPen(QPen(color.darker(125), 1.0))
    painter.drawPath(path)
    painter.setPen(QColor("white"))
    label = gtype.label
    size = 11.5 if len(label) <= 2 else 9.5 if len(label) <= 3 else 8.0
    painter.setFont(label_font(size))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
    if gtype.num_qubits > 1:
        # Dots in the corner say how many qubits the gate takes.
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(255, 255, 255, 200))
        for i in range(gtype.num_qubits):
            painter.drawEllipse(QPointF(width - 7 - i * 5, height - 6), 1.6, 1.6)
    painter.end()
    return pixmap


def block_pixmap(kind: str, width: int = 44, height: int = 36) -> QPixmap:
    """The palette tile of a template ("template") or an encoding ("encoding")."""
    pixmap = _icon_pixmap(width, height)
    painter = QPainter(pixmap)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    color = theme.family_color(kind)
    rect = QRectF(1, 1, width - 2, height - 2)
    path = QPainterPath()
    path.addRoundedRect(rect, 6, 6)
    painter.fillPath(path, color)
    painter.setPen(QPen(color.darker(125), 1.0))
    painter.drawPath(path)
    white = QColor("white")
    if kind == "encoding":
        # "x →" wires: data flowing into three qubits.
        painter.setFont(label_font(10))
        painter.setPen(white)
        painter.drawText(QRectF(4, 2, 16, height - 4), Qt.AlignmentFlag.AlignCenter, "x")
        painter.setPen(QPen(white, 1.6))
        for i, y in enumerate((10.0, 18.0, 26.0)):
            painter.drawLine(QPointF(20, y), QPointF(width - 6, y))
            painter.setBrush(white)
            painter.drawRect(QRectF(26 + 3 * (i % 2), y - 3, 6, 6))
    else:
        # A layer glyph: rotations on three wires and an entangling ladder.
        painter.setPen(QPen(white, 1.4))
        ys = (9.0, 18.0, 27.0)
        for y in ys:
            painter.drawLine(QPointF(5, y), QPointF(width - 5, y))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(white)
        for y in ys:
            painter.drawRoundedRect(QRectF(9, y - 3.5, 8, 7), 2, 2)
        painter.setPen(QPen(white, 1.4))
        painter.drawLine(QPointF(25, ys[0]), QPointF(25, ys[1]))
        painter.drawLine(QPointF(33, ys[1]), QPointF(33, ys[2]))
        painter.setBrush(white)
        for cx, (a, b) in ((25, (ys[0], ys[1])), (33, (ys[1], ys[2]))):
            painter.drawEllipse(QPointF(cx, a), 2.2, 2.2)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawEllipse(QPointF(cx, b), 3.2, 3.2)
            painter.setBrush(white)
    painter.end()
    return pixmap


def app_icon() -> QIcon:
    """QML Studio's window icon: a Bloch-sphere-like circle with a rotation arrow, drawn here."""
    icon = QIcon()
    for size in (16, 32, 64, 128):
        pixmap = _icon_pixmap(size, size)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        s = float(size)
        rect = QRectF(s * 0.04, s * 0.04, s * 0.92, s * 0.92)
        path = QPainterPath()
        path.addRoundedRect(rect, s * 0.2, s * 0.2)
        painter.fillPath(path, QColor(theme.FAMILY_COLORS["rotations"]))
        painter.setPen(QPen(QColor("white"), max(1.0, s * 0.06)))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawEllipse(QPointF(s / 2, s / 2), s * 0.28, s * 0.28)
        painter.drawEllipse(QRectF(s * 0.22, s * 0.42, s * 0.56, s * 0.16))
        painter.setBrush(QColor(theme.FAMILY_COLORS["encoding"]))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.drawEllipse(QPointF(s * 0.66, s * 0.3), s * 0.08, s * 0.08)
        painter.end()
        icon.addPixmap(pixmap)
    return icon
