"""The circuit canvas's scene: a picture of a :class:`~qmlstudio.core.circuit.CircuitDesign`.

:class:`CircuitScene` rebuilds its items from the design whenever the design announces a
change (``design.events.changed``) and never edits the design itself: when the user drags
a gate or a qubit handle, the scene only *asks* for the edit with a signal
(:attr:`CircuitScene.moveRequested`, :attr:`CircuitScene.qubitsRequested`...), and the
editor turns the request into an undo command. Wires, labels and the column grid are
painted in :meth:`CircuitScene.drawBackground`, so a rebuild creates one item per gate
(plus a handle per extra qubit of multi-qubit gates, and one frame per block).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import (
    QApplication,
    QGraphicsItem,
    QGraphicsScene,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from qmlstudio.core.circuit import GATES, CircuitDesign, Gate
from qmlstudio.gui import theme
from qmlstudio.gui.editor.edits import retarget
from qmlstudio.gui.editor.painting import BOX_H, BOX_W, paint_gate


class CanvasLayout:
    """Where wires and columns are on the canvas, and which wire and column a point is over."""

    ROW_H = 60.0
    CELL_W = 62.0
    TOP = 46.0  # room for block tabs above the first wire
    LABEL_W = 74.0
    ENC_PAD = 12.0
    GAP = 26.0
    BOTTOM = 70.0  # column numbers and the add-qubit button
    EXTRA_COLUMNS = 3
    MIN_COLUMNS = 4

    def __init__(self, num_qubits: int, num_columns: int, encoding_columns: int = 0,
                 encoding_min_width: float = 0.0, front_width: float = 0.0, head_width: float = 0.0) -> None:
        self.num_qubits = num_qubits
        self.num_columns = num_columns
        self.encoding_columns = encoding_columns
        #: a model's classical front (a hybrid's) sits left of the qubit labels, its head right
        #: of the columns; both are 0 wide for the built-in models
        self.front_width, self.head_width = front_width, head_width
        self.label_left = front_width + self.GAP if front_width else 0.0
        self.encoding_left = self.label_left + self.LABEL_W
        if encoding_columns:
            inner = encoding_columns * self.CELL_W
            self.encoding_width = max(inner + 2 * self.ENC_PAD, encoding_min_width)
            self.encoding_pad = (self.encoding_width - inner) / 2
            self.x0 = self.encoding_left + self.encoding_width + self.GAP
        else:
            self.encoding_width = self.encoding_pad = 0.0
            self.x0 = self.encoding_left + 6
        self.columns_shown = max(num_columns + self.EXTRA_COLUMNS, self.MIN_COLUMNS)

    def wire_y(self, qubit: float) -> float:
        return self.TOP + self.ROW_H * (qubit + 0.5)

    def column_x(self, column: float) -> float:
        return self.x0 + self.CELL_W * (column + 0.5)

    def encoding_column_x(self, column: float) -> float:
        return self.encoding_left + self.encoding_pad + self.CELL_W * (column + 0.5)

    def nearest_qubit(self, y: float) -> int:
        return max(0, min(self.num_qubits - 1, int(math.floor((y - self.TOP) / self.ROW_H))))

    def qubit_at(self, y: float) -> int | None:
        row = math.floor((y - self.TOP) / self.ROW_H)
        return int(row) if 0 <= row < self.num_qubits else None

    def column_at(self, x: float) -> int:
        """The column under ``x`` (negative over the encoding block and the labels)."""
        return int(math.floor((x - self.x0) / self.CELL_W))

    def in_encoding(self, x: float) -> bool:
        return self.encoding_left <= x < self.x0

    @property
    def wires_bottom(self) -> float:
        return self.TOP + self.ROW_H * self.num_qubits

    @property
    def head_left(self) -> float:
        return self.x0 + self.CELL_W * self.columns_shown + self.GAP

    @property
    def width(self) -> float:
        if self.head_width:
            return self.head_left + self.head_width + 20
        return self.x0 + self.CELL_W * self.columns_shown + 20

    @property
    def height(self) -> float:
        return self.wires_bottom + self.BOTTOM

    def cell_rect(self, column: int, low: int, high: int) -> QRectF:
        left = self.x0 + self.CELL_W * column
        return QRectF(left + 3, self.TOP + self.ROW_H * low + 3, self.CELL_W - 6, self.ROW_H * (high - low + 1) - 6)


def gate_tooltip(gate: Gate) -> str:
    gtype = GATES[gate.name]
    roles = qubit_roles(gate.name, len(gate.qubits))
    parts = [f"<b>{gtype.label}</b> — {gtype.description}"]
    parts.append(", ".join(f"{role} q{q}" for role, q in zip(roles, gate.qubits)))
    for pname, angle in zip(gtype.param_names, gate.params):
        kind = {"weight": "trainable weight", "input": "data input", "constant": "constant",
                "expression": "expression"}[angle.kind]
        parts.append(f"{pname} = {angle.text} ({kind})")
    parts.append(f"column {gate.column}" + (f" · block {gate.block}" if gate.block else ""))
    return "<br>".join(parts)


def qubit_roles(name: str, count: int) -> list[str]:
    """What each qubit of a gate is: "control", "target" or (symmetric gates) "qubit"."""
    if count == 1:
        return ["qubit"]
    if name in ("swap", "rxx", "ryy", "rzz", "cz"):
        return ["qubit"] * count
    return ["control"] * (count - 1) + ["target"]


# ------------------------------------------------------------------------ items
class GateItem(QGraphicsItem):
    """One placed gate; selectable, and dragged to move (the scene asks for the move)."""

    Type = QGraphicsItem.UserType + 1

    def __init__(self, index: int, gate: Gate, layout: CanvasLayout) -> None:
        super().__init__()
        self.index = index
        self.gate = gate
        top = min(gate.qubits)
        self.home = QPointF(layout.column_x(gate.column), layout.wire_y(top))
        self.setPos(self.home)
        self.ys = [layout.wire_y(q) - layout.wire_y(top) for q in gate.qubits]
        self.preview: list[float] | None = None
        span = max(self.ys)
        self._rect = QRectF(-BOX_W / 2 - 6, -BOX_H / 2 - 6, BOX_W + 12, span + BOX_H + 12)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setAcceptHoverEvents(True)
        self.handles = [QubitHandle(self, slot) for slot in range(1, len(gate.qubits))]

    def type(self) -> int:  # noqa: A003 - Qt's name
        return self.Type

    def boundingRect(self) -> QRectF:
        if self.preview is not None:
            low, high = min(self.preview + [0.0]), max(self.preview)
            return QRectF(-BOX_W / 2 - 6, low - BOX_H / 2 - 6, BOX_W + 12, high - low + BOX_H + 12)
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        ys = self.preview if self.preview is not None else self.ys
        paint_gate(painter, self.gate.name, ys, self.gate.params, selected=self.isSelected())

    def set_preview(self, ys: list[float] | None) -> None:
        self.prepareGeometryChange()
        self.preview = ys
        self.update()

    def hoverEnterEvent(self, event: Any) -> None:
        # Made on first hover rather than for every item of every rebuild (hundreds of gates).
        if not self.toolTip():
            self.setToolTip(gate_tooltip(self.gate))
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        super().hoverEnterEvent(event)

    # The scene runs the drag of all selected gates; the item only reports the mouse.
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            scene = self.scene()
            if isinstance(scene, CircuitScene):
                scene.begin_move(event.scenePos())
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, CircuitScene):
            scene.drag_move(event.scenePos())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        self.setCursor(Qt.CursorShape.OpenHandCursor)
        scene = self.scene()
        if isinstance(scene, CircuitScene) and event.button() == Qt.MouseButton.LeftButton:
            scene.end_move(event.scenePos())

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, CircuitScene) and self.gate.block:
            scene.select_block(self.gate.block)
        else:
            super().mouseDoubleClickEvent(event)


class QubitHandle(QGraphicsItem):
    """The knob beside one extra qubit of a multi-qubit gate: drag it to another wire."""

    R = 6.5

    def __init__(self, gate_item: GateItem, slot: int) -> None:
        super().__init__(gate_item)
        self.gate_item = gate_item
        self.slot = slot
        self.setPos(BOX_W / 2 - 1, gate_item.ys[slot])
        self.setZValue(2)
        self.setVisible(False)
        self.setCursor(Qt.CursorShape.SizeVerCursor)
        role = qubit_roles(gate_item.gate.name, len(gate_item.gate.qubits))[slot]
        self.setToolTip(f"Drag to another wire to change the {role} qubit")
        self._dragging = False

    def boundingRect(self) -> QRectF:
        r = self.R + 2
        return QRectF(-r, -r, 2 * r, 2 * r)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QPen(QColor(theme.ACCENT), 1.8))
        painter.setBrush(QColor("white"))
        painter.drawEllipse(QPointF(0, 0), self.R, self.R)
        painter.setPen(QPen(QColor(theme.ACCENT), 1.4))
        painter.drawLine(QPointF(0, -3.2), QPointF(0, 3.2))
        painter.drawLine(QPointF(-2, -1.6), QPointF(0, -3.4))
        painter.drawLine(QPointF(2, -1.6), QPointF(0, -3.4))
        painter.drawLine(QPointF(-2, 1.6), QPointF(0, 3.4))
        painter.drawLine(QPointF(2, 1.6), QPointF(0, 3.4))

    def _target_qubit(self, scene_y: float) -> int:
        scene = self.scene()
        assert isinstance(scene, CircuitScene)
        return scene.layout.nearest_qubit(scene_y)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._dragging = True
            event.accept()
        else:
            event.ignore()

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if not self._dragging:
            return
        scene = self.scene()
        assert isinstance(scene, CircuitScene)
        gate = self.gate_item.gate
        qubits = retarget(gate.qubits, self.slot, self._target_qubit(event.scenePos().y()))
        top = scene.layout.wire_y(min(gate.qubits))
        ys = [scene.layout.wire_y(q) - top for q in qubits]
        self.gate_item.set_preview(ys)
        self.setY(ys[self.slot])

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if not self._dragging:
            return
        self._dragging = False
        scene = self.scene()
        assert isinstance(scene, CircuitScene)
        gate = self.gate_item.gate
        qubits = retarget(gate.qubits, self.slot, self._target_qubit(event.scenePos().y()))
        if qubits == gate.qubits:
            self.gate_item.set_preview(None)
            self.setY(self.gate_item.ys[self.slot])
            return
        scene.qubitsRequested.emit(self.gate_item.index, list(qubits))


class BlockItem(QGraphicsItem):
    """A frame behind the gates of one template or encoding block, with a tab that selects it."""

    def __init__(self, name: str, rect: QRectF, color: QColor) -> None:
        super().__init__()
        self.name = name
        self.rect = rect
        self.color = color
        self.setZValue(-10)
        font = theme.ui_font(8.0, bold=True)
        self.font = font
        width = QFontMetricsF(font).horizontalAdvance(self.title) + 16
        self.tab = QRectF(rect.left(), rect.top() - 20, min(max(width, 40.0), max(rect.width(), 60.0)), 20)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip(f"Block “{name}”: click the tab (or double-click a gate) to select the whole block")

    @property
    def title(self) -> str:
        return self.name.removeprefix("encoding:") + (" · data" if self.name.startswith("encoding:") else "")

    def boundingRect(self) -> QRectF:
        return self.rect.united(self.tab).adjusted(-1, -1, 1, 1)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.tab)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fill = QColor(self.color)
        fill.setAlpha(18)
        edge = QColor(self.color)
        edge.setAlpha(110)
        path = QPainterPath()
        path.addRoundedRect(self.rect, 10, 10)
        painter.fillPath(path, fill)
        painter.setPen(QPen(edge, 1.2, Qt.PenStyle.DashLine))
        painter.drawPath(path)
        tab = QPainterPath()
        tab.addRoundedRect(self.tab, 6, 6)
        painter.fillPath(tab, self.color)
        painter.setPen(QColor("white"))
        painter.setFont(self.font)
        metrics = QFontMetricsF(self.font)
        text = metrics.elidedText(self.title, Qt.TextElideMode.ElideRight, self.tab.width() - 12)
        painter.drawText(self.tab, Qt.AlignmentFlag.AlignCenter, text)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, CircuitScene) and event.button() == Qt.MouseButton.LeftButton:
            scene.select_block(self.name, add=bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier))
            event.accept()
        else:
            event.ignore()


class TabbedBlockItem(QGraphicsItem):
    """A selectable rounded frame with a title tab above it, behind the gates: the encoding
    block and a model's classical parts."""

    def __init__(self, rect: QRectF, key: str, tooltip: str) -> None:
        super().__init__()
        self.rect = rect
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable, True)
        self.setZValue(-5)
        self.setToolTip(tooltip)
        self.setData(0, key)

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-4, -24, 4, 4)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRect(self.rect.adjusted(0, -22, 0, 0))
        return path

    def paint_frame(self, painter: QPainter, color: QColor, title: str, fill_alpha: int, edge_alpha: int,
                    opaque: bool = False) -> None:
        """The frame (filled with ``color`` at ``fill_alpha``, over the canvas when ``opaque``,
        its edge at ``edge_alpha`` unless selected) and the tab with ``title``."""
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        fill = QColor(color)
        fill.setAlpha(fill_alpha)
        path = QPainterPath()
        path.addRoundedRect(self.rect, 10, 10)
        if opaque:
            painter.fillPath(path, QColor(theme.CANVAS_BG))
        painter.fillPath(path, fill)
        edge = QColor(theme.ACCENT) if self.isSelected() else QColor(color)
        if not self.isSelected():
            edge.setAlpha(edge_alpha)
        painter.setPen(QPen(edge, 2.0 if self.isSelected() else 1.2))
        painter.drawPath(path)
        tab = QRectF(self.rect.left(), self.rect.top() - 20, self.rect.width(), 20)
        tab_path = QPainterPath()
        tab_path.addRoundedRect(tab, 6, 6)
        painter.fillPath(tab_path, color)
        painter.setPen(QColor("white"))
        font = theme.ui_font(8.0, bold=True)
        painter.setFont(font)
        text = QFontMetricsF(font).elidedText(title, Qt.TextElideMode.ElideRight, tab.width() - 10)
        painter.drawText(tab, Qt.AlignmentFlag.AlignCenter, text)


class EncodingItem(TabbedBlockItem):
    """The project's encoding at the left of the wires: shown, not edited gate by gate."""

    def __init__(self, title: str, design: CircuitDesign, layout: CanvasLayout, tooltip: str) -> None:
        super().__init__(QRectF(layout.encoding_left, layout.TOP - 4, layout.encoding_width,
                                layout.ROW_H * layout.num_qubits + 8), "encoding", tooltip)
        self.title = title
        self.design = design
        self.layout = layout

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        self.paint_frame(painter, QColor(theme.family_color("encoding")), self.title, 22, 150)
        layout = self.layout
        for gate in self.design.gates:
            if max(gate.qubits) >= layout.num_qubits:
                continue
            ys = [layout.wire_y(q) for q in gate.qubits]
            paint_gate(painter, gate.name, ys, gate.params, x=layout.encoding_column_x(gate.column), faded=True)


class ClassicalPartItem(TabbedBlockItem):
    """A model's classical part around the circuit (a hybrid's front or head): its layers and
    parameter count, selectable; the inspector edits the options that shape it."""

    COLOR = "#55677D"
    LINE_H = 15.0

    def __init__(self, key: str, part: dict[str, Any], rect: QRectF) -> None:
        super().__init__(rect, key, f"<b>{part.get('title', key)}</b> — trained with the circuit, end to end.<br>"
                         + "<br>".join(str(line) for line in part.get("lines", ()))
                         + "<br><i>Select it to edit its layers in the inspector.</i>")
        self.key = key
        self.part = part

    @classmethod
    def height_for(cls, part: dict[str, Any]) -> float:
        return 30 + cls.LINE_H * (len(part.get("lines", ())) + 1)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        self.paint_frame(painter, QColor(self.COLOR), str(self.part.get("title", self.key)), 26, 255, opaque=True)
        small = theme.ui_font(8.0)
        metrics = QFontMetricsF(small)
        painter.setFont(small)
        painter.setPen(QColor(theme.WIRE_LABEL))
        lines = [str(line) for line in self.part.get("lines", ())]
        count = self.part.get("parameters")
        lines.append(f"{count:,} parameters" if isinstance(count, int) else "")
        y = self.rect.top() + 10
        for line in lines:
            box = QRectF(self.rect.left() + 8, y, self.rect.width() - 16, self.LINE_H)
            painter.drawText(box, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(line, Qt.TextElideMode.ElideRight, box.width()))
            y += self.LINE_H


class DropIndicator(QGraphicsItem):
    """Where a drop or a move will land: highlighted cells, an insert bar and a caption."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(50)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.rects: list[QRectF] = []
        self.caption = ""
        self.insert_x: float | None = None
        self.bar: tuple[float, float] = (0.0, 0.0)
        self._bounds = QRectF()
        self.setVisible(False)

    def show_at(self, rects: Sequence[QRectF], caption: str, insert_x: float | None, bar: tuple[float, float]) -> None:
        self.prepareGeometryChange()
        self.rects = list(rects)
        self.caption = caption
        self.insert_x = insert_x
        self.bar = bar
        bounds = QRectF()
        for r in self.rects:
            bounds = bounds.united(r)
        if insert_x is not None:
            bounds = bounds.united(QRectF(insert_x - 4, bar[0], 8, bar[1] - bar[0]))
        self._bounds = bounds.adjusted(-10, -30, 260, 10)
        self.setVisible(True)
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        accent = QColor(theme.ACCENT)
        fill = QColor(accent)
        fill.setAlpha(40)
        for rect in self.rects:
            path = QPainterPath()
            path.addRoundedRect(rect, 8, 8)
            painter.fillPath(path, fill)
            painter.setPen(QPen(accent, 1.6, Qt.PenStyle.DashLine))
            painter.drawPath(path)
        if self.insert_x is not None:
            painter.setPen(QPen(accent, 3.0, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
            painter.drawLine(QPointF(self.insert_x, self.bar[0]), QPointF(self.insert_x, self.bar[1]))
        if self.caption and self.rects:
            font = theme.ui_font(8.5, bold=True)
            painter.setFont(font)
            metrics = QFontMetricsF(font)
            first = self.rects[0]
            box = QRectF(first.left(), first.top() - 24, metrics.horizontalAdvance(self.caption) + 14, 20)
            path = QPainterPath()
            path.addRoundedRect(box, 5, 5)
            painter.fillPath(path, accent)
            painter.setPen(QColor("white"))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.caption)


class AddQubitItem(QGraphicsItem):
    """The “+ qubit” pill under the last wire."""

    def __init__(self, layout: CanvasLayout) -> None:
        super().__init__()
        self.rect = QRectF(12, layout.wires_bottom + 8, 72, 24)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Add a qubit wire at the bottom")
        self.setAcceptHoverEvents(True)
        self._hover = False

    def boundingRect(self) -> QRectF:
        return self.rect.adjusted(-1, -1, 1, 1)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        path = QPainterPath()
        path.addRoundedRect(self.rect, 12, 12)
        painter.fillPath(path, QColor(theme.ACCENT_SOFT if self._hover else "#F4F5F7"))
        painter.setPen(QPen(QColor(theme.ACCENT if self._hover else theme.BORDER), 1.0))
        painter.drawPath(path)
        painter.setPen(QColor(theme.ACCENT if self._hover else theme.MUTED_TEXT))
        painter.setFont(theme.ui_font(8.5, bold=True))
        painter.drawText(self.rect, Qt.AlignmentFlag.AlignCenter, "+  qubit")

    def hoverEnterEvent(self, event: Any) -> None:
        self._hover = True
        self.update()

    def hoverLeaveEvent(self, event: Any) -> None:
        self._hover = False
        self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        event.accept()

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        scene = self.scene()
        if isinstance(scene, CircuitScene) and self.rect.contains(event.pos()):
            scene.addQubitRequested.emit()


# ------------------------------------------------------------------------ scene
class CircuitScene(QGraphicsScene):
    """The design's gates on qubit wires, rebuilt from the design's ``changed`` events."""

    #: (gate indices, columns, rows): the user dragged these gates by that many cells.
    moveRequested = Signal(object, int, int)
    #: (gate index, new qubits): the user dragged a qubit handle.
    qubitsRequested = Signal(int, object)
    addQubitRequested = Signal()
    #: (screen position, qubit under the mouse or None): a context menu is wanted there.
    contextMenuRequested = Signal(object, object)
    #: Emitted after every rebuild (the design changed).
    rebuilt = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.design: CircuitDesign | None = None
        self.encoding_design: CircuitDesign | None = None
        self.encoding_title = ""
        self.encoding_tooltip = ""
        self.layout = CanvasLayout(1, 0)
        self._items: list[GateItem] = []
        self.encoding_item: EncodingItem | None = None
        #: a model's classical parts ({"front": …, "head": …}: :meth:`set_parts`) and their items
        self.parts: dict[str, dict[str, Any]] = {}
        self.part_items: dict[str, ClassicalPartItem] = {}
        self.indicator = DropIndicator()
        self._drag: dict[str, Any] | None = None
        self._next_selection: list[int] | None = None
        self._label_font = theme.mono_font(10.0)
        self._small_font = theme.ui_font(7.5)
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.selectionChanged.connect(self._sync_handles)
        self.rebuild()

    # ---------------------------------------------------------------- model
    def set_design(self, design: CircuitDesign | None) -> None:
        """Shows ``design`` and follows its changes from now on."""
        if self.design is not None:
            self.design.events.changed.disconnect(self._on_design_changed)
        self.design = design
        if design is not None:
            design.events.changed.connect(self._on_design_changed)
        self.rebuild()

    def set_encoding(self, design: CircuitDesign | None, title: str = "", tooltip: str = "") -> None:
        """The encoding block drawn left of the wires (None: no block)."""
        self.encoding_design = design
        self.encoding_title = title
        self.encoding_tooltip = tooltip
        self.rebuild()

    def set_parts(self, parts: dict[str, dict[str, Any]] | None) -> None:
        """A model's classical parts drawn around the circuit (``{"front": …, "head": …}``,
        :meth:`~qmlstudio.plugins.descriptors.ModelKind.parts`; empty: none)."""
        parts = dict(parts or {})
        if parts != self.parts:
            self.parts = parts
            self.rebuild()

    def part_selected(self) -> str | None:
        """``"front"`` or ``"head"`` when that part's block is selected, else None."""
        return next((key for key, item in self.part_items.items() if item.isSelected()), None)

    def _on_design_changed(self, **_payload: Any) -> None:
        self.rebuild()

    # -------------------------------------------------------------- building
    def rebuild(self) -> None:
        """Recreates every item from the design, keeping the selection of unchanged gates."""
        previous = [item.gate for item in self._items if item.isSelected()]
        encoding_selected = self.encoding_item is not None and self.encoding_item.isSelected()
        part_selected = self.part_selected()
        self._drag = None
        self.blockSignals(True)
        try:
            self.clear()
            self._items = []
            self.encoding_item = None
            self.part_items = {}
            design = self.design
            num_qubits = design.num_qubits if design is not None else 1
            enc = self.encoding_design
            enc_columns = enc.num_columns if enc is not None and enc.gates else 0
            title_width = QFontMetricsF(theme.ui_font(8.0, bold=True)).horizontalAdvance(self.encoding_title) + 24
            front, head = self.parts.get("front"), self.parts.get("head")
            self.layout = layout = CanvasLayout(num_qubits, design.num_columns if design else 0, enc_columns,
                                                title_width, front_width=232.0 if front else 0.0,
                                                head_width=170.0 if head else 0.0)
            if enc_columns:
                self.encoding_item = EncodingItem(self.encoding_title, enc, layout, self.encoding_tooltip)
                self.addItem(self.encoding_item)
            wires = layout.ROW_H * layout.num_qubits + 8
            for key, part, left, width in (("front", front, 6.0, layout.front_width),
                                           ("head", head, layout.head_left, layout.head_width)):
                if part:
                    rect = QRectF(left, layout.TOP - 4, width, max(wires, ClassicalPartItem.height_for(part)))
                    item = ClassicalPartItem(key, part, rect)
                    self.part_items[key] = item
                    self.addItem(item)
            if design is not None:
                self._add_blocks(design, layout)
                for index, gate in enumerate(design.gates):
                    item = GateItem(index, gate, layout)
                    self.addItem(item)
                    self._items.append(item)
            self.addItem(AddQubitItem(layout))
            self.indicator = DropIndicator()
            self.addItem(self.indicator)
            tallest = max([item.rect.bottom() + 24 for item in self.part_items.values()], default=0.0)
            self.setSceneRect(QRectF(0, 0, layout.width, max(layout.height, tallest)))
            if self._next_selection is not None:
                wanted = set(self._next_selection)
                self._next_selection = None
                for item in self._items:
                    item.setSelected(item.index in wanted)
            else:
                remaining = list(previous)
                for item in self._items:
                    if item.gate in remaining:
                        remaining.remove(item.gate)
                        item.setSelected(True)
            if encoding_selected and self.encoding_item is not None:
                self.encoding_item.setSelected(True)
            if part_selected in self.part_items:
                self.part_items[part_selected].setSelected(True)
        finally:
            self.blockSignals(False)
        self.update()
        self.selectionChanged.emit()
        self.rebuilt.emit()

    def _add_blocks(self, design: CircuitDesign, layout: CanvasLayout) -> None:
        spans: dict[str, list[int]] = {}
        for gate in design.gates:
            if gate.block is None:
                continue
            box = spans.setdefault(gate.block, [gate.column, gate.column, min(gate.qubits), max(gate.qubits)])
            box[0] = min(box[0], gate.column)
            box[1] = max(box[1], gate.column)
            box[2] = min(box[2], min(gate.qubits))
            box[3] = max(box[3], max(gate.qubits))
        for name, (c0, c1, q0, q1) in spans.items():
            rect = QRectF(
                layout.x0 + layout.CELL_W * c0 + 2,
                layout.TOP + layout.ROW_H * q0 + 2,
                layout.CELL_W * (c1 - c0 + 1) - 4,
                layout.ROW_H * (q1 - q0 + 1) - 4,
            )
            family = "encoding" if name.startswith("encoding:") else "template"
            self.addItem(BlockItem(name, rect, theme.family_color(family)))

    def _sync_handles(self) -> None:
        """Qubit handles show on selected multi-qubit gates only."""
        for item in self._items:
            if item.handles:
                selected = item.isSelected()
                for handle in item.handles:
                    if handle.isVisible() != selected:
                        handle.setVisible(selected)

    # ------------------------------------------------------------- queries
    def gate_items(self) -> list[GateItem]:
        """The gate items, in the design's gate order (item ``i`` shows gate ``i``)."""
        return list(self._items)

    def item_for(self, index: int) -> GateItem:
        return self._items[index]

    def selected_indices(self) -> list[int]:
        return [item.index for item in self._items if item.isSelected()]

    def encoding_selected(self) -> bool:
        return self.encoding_item is not None and self.encoding_item.isSelected()

    def select_after_rebuild(self, indices: Sequence[int] | None) -> None:
        """The gates to select after the next rebuild (an edit says what it made)."""
        self._next_selection = None if indices is None else list(indices)

    def select_indices(self, indices: Sequence[int]) -> None:
        wanted = set(indices)
        self.blockSignals(True)
        try:
            self.clearSelection()
            for item in self._items:
                if item.index in wanted:
                    item.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def select_block(self, name: str, add: bool = False) -> None:
        indices = [item.index for item in self._items if item.gate.block == name]
        if add:
            indices += self.selected_indices()
        self.select_indices(indices)

    # ------------------------------------------------------- moving gates
    def begin_move(self, pos: QPointF) -> None:
        self._drag = {"start": QPointF(pos), "active": False, "delta": (0, 0)}

    def drag_move(self, pos: QPointF) -> None:
        drag = self._drag
        if drag is None:
            return
        offset = pos - drag["start"]
        if not drag["active"]:
            if offset.manhattanLength() < QApplication.startDragDistance():
                return
            drag["active"] = True
        layout = self.layout
        columns = round(offset.x() / layout.CELL_W)
        rows = round(offset.y() / layout.ROW_H)
        moving = [item for item in self._items if item.isSelected()]
        if not moving:
            return
        low = min(min(i.gate.qubits) for i in moving)
        high = max(max(i.gate.qubits) for i in moving)
        rows = max(-low, min(rows, layout.num_qubits - 1 - high))
        columns = max(-min(i.gate.column for i in moving), columns)
        drag["delta"] = (columns, rows)
        for item in moving:
            item.setPos(item.home + QPointF(columns * layout.CELL_W, rows * layout.ROW_H))
            item.setZValue(20)
        rects = [layout.cell_rect(i.gate.column + columns, min(i.gate.qubits) + rows, max(i.gate.qubits) + rows)
                 for i in moving]
        n = len(moving)
        caption = f"Move {n} gate{'s' if n != 1 else ''}" + (f" {columns:+d} col" if columns else "") + (
            f" {rows:+d} wire" if rows else "")
        self.indicator.show_at(rects, caption, None, (0, 0))

    def end_move(self, pos: QPointF) -> None:
        drag, self._drag = self._drag, None
        self.indicator.setVisible(False)
        if drag is None or not drag["active"]:
            return
        columns, rows = drag["delta"]
        moving = [item for item in self._items if item.isSelected()]
        for item in moving:
            item.setPos(item.home)
            item.setZValue(0)
        if moving and (columns or rows):
            self.moveRequested.emit([item.index for item in moving], columns, rows)

    # ------------------------------------------------------------ painting
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, QColor(theme.CANVAS_BG))
        layout = self.layout
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        # Alternate column bands make columns easy to count.
        band = QColor(theme.CANVAS_GRID)
        first = max(0, layout.column_at(rect.left()))
        last = min(layout.columns_shown, layout.column_at(rect.right()) + 1)
        for column in range(first, last):
            if column % 2 == 1:
                painter.fillRect(
                    QRectF(layout.x0 + layout.CELL_W * column, layout.TOP - 6, layout.CELL_W,
                           layout.ROW_H * layout.num_qubits + 12), band)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        wire_pen = QPen(QColor(theme.WIRE), 1.4)
        right = max(layout.width, rect.right())
        painter.setFont(self._label_font)
        for q in range(layout.num_qubits):
            y = layout.wire_y(q)
            painter.setPen(wire_pen)
            painter.drawLine(QPointF(layout.encoding_left - 4, y), QPointF(right, y))
            painter.setPen(QColor(theme.WIRE_LABEL))
            painter.drawText(QRectF(layout.label_left + 8, y - 12, layout.LABEL_W - 16, 24),
                             Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"q{q}  |0⟩")
        painter.setFont(self._small_font)
        painter.setPen(QColor("#A0A6AD"))
        y = layout.wires_bottom + 4
        for column in range(first, last):
            painter.drawText(QRectF(layout.x0 + layout.CELL_W * column, y, layout.CELL_W, 14),
                             Qt.AlignmentFlag.AlignCenter, str(column))
        if self.design is not None and not self.design.gates:
            painter.setPen(QColor(theme.MUTED_TEXT))
            painter.setFont(theme.ui_font(10.0))
            painter.drawText(
                QRectF(layout.x0 + 8, layout.TOP + 4, 520, 22),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                "Drag gates or a template from the palette onto a wire",
            )

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        item = self.itemAt(event.scenePos(), self.views()[0].transform() if self.views() else QTransform())
        while item is not None and not isinstance(item, GateItem) and item.parentItem() is not None:
            item = item.parentItem()
        if isinstance(item, GateItem) and not item.isSelected():
            self.select_indices([item.index])
        qubit = self.layout.qubit_at(event.scenePos().y())
        self.contextMenuRequested.emit(event.screenPos(), qubit)
        event.accept()


__all__ = [
    "AddQubitItem",
    "BlockItem",
    "CanvasLayout",
    "CircuitScene",
    "ClassicalPartItem",
    "DropIndicator",
    "EncodingItem",
    "GateItem",
    "QubitHandle",
]
