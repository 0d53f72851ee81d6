"""Toolbar and menu icons, drawn with QPainter (no image files to ship or to go missing).

``icon(name)`` gives a simple line icon in the theme's text colour (``color`` to change it);
names: new, open, save, undo, redo, add-qubit, fit, train, pause, resume, stop, step,
plugins, import, export.
"""

from __future__ import annotations

from typing import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from qmlstudio.gui import theme

Painter = Callable[[QPainter, QColor], None]


def _new(p: QPainter, c: QColor) -> None:
    path = QPainterPath()
    path.moveTo(6, 3)
    path.lineTo(14, 3)
    path.lineTo(18, 7)
    path.lineTo(18, 21)
    path.lineTo(6, 21)
    path.closeSubpath()
    p.drawPath(path)
    p.drawLine(QPointF(14, 3), QPointF(14, 7))
    p.drawLine(QPointF(14, 7), QPointF(18, 7))
    p.drawLine(QPointF(12, 11), QPointF(12, 17))
    p.drawLine(QPointF(9, 14), QPointF(15, 14))


def _open(p: QPainter, c: QColor) -> None:
    path = QPainterPath()
    path.moveTo(3, 19)
    path.lineTo(3, 6)
    path.lineTo(9, 6)
    path.lineTo(11, 8)
    path.lineTo(19, 8)
    path.lineTo(19, 11)
    p.drawPath(path)
    body = QPainterPath()
    body.moveTo(3, 19)
    body.lineTo(6, 11)
    body.lineTo(21, 11)
    body.lineTo(18, 19)
    body.closeSubpath()
    p.drawPath(body)


def _save(p: QPainter, c: QColor) -> None:
    path = QPainterPath()
    path.moveTo(4, 4)
    path.lineTo(16, 4)
    path.lineTo(20, 8)
    path.lineTo(20, 20)
    path.lineTo(4, 20)
    path.closeSubpath()
    p.drawPath(path)
    p.drawRect(QRectF(8, 4, 7, 5))
    p.drawRect(QRectF(7, 13, 10, 7))


def _arrow(p: QPainter, c: QColor, mirror: bool) -> None:
    p.save()
    if mirror:
        p.translate(24, 0)
        p.scale(-1, 1)
    path = QPainterPath()
    path.moveTo(8, 9)
    path.lineTo(15, 9)
    path.cubicTo(22, 9, 22, 19, 15, 19)
    path.lineTo(9, 19)
    p.drawPath(path)
    p.drawLine(QPointF(8, 9), QPointF(11.5, 5.5))
    p.drawLine(QPointF(8, 9), QPointF(11.5, 12.5))
    p.restore()


def _add_qubit(p: QPainter, c: QColor) -> None:
    p.drawLine(QPointF(2, 8), QPointF(22, 8))
    p.drawLine(QPointF(2, 15), QPointF(11, 15))
    p.drawLine(QPointF(17, 12), QPointF(17, 22))
    p.drawLine(QPointF(12, 17), QPointF(22, 17))


def _fit(p: QPainter, c: QColor) -> None:
    for sx, sy in ((1, 1), (-1, 1), (1, -1), (-1, -1)):
        x0, y0 = 12 - 8 * sx, 12 - 8 * sy
        p.drawLine(QPointF(x0, y0), QPointF(x0 + 5 * sx, y0))
        p.drawLine(QPointF(x0, y0), QPointF(x0, y0 + 5 * sy))
    p.drawRect(QRectF(9, 9, 6, 6))


def _train(p: QPainter, c: QColor) -> None:
    path = QPainterPath()
    path.moveTo(7, 5)
    path.lineTo(19, 12)
    path.lineTo(7, 19)
    path.closeSubpath()
    p.fillPath(path, c)


def _pause(p: QPainter, c: QColor) -> None:
    p.fillRect(QRectF(7, 5, 3.5, 14), c)
    p.fillRect(QRectF(13.5, 5, 3.5, 14), c)


def _stop(p: QPainter, c: QColor) -> None:
    path = QPainterPath()
    path.addRoundedRect(QRectF(6, 6, 12, 12), 2, 2)
    p.fillPath(path, c)


def _step(p: QPainter, c: QColor) -> None:
    path = QPainterPath()
    path.moveTo(6, 6)
    path.lineTo(15, 12)
    path.lineTo(6, 18)
    path.closeSubpath()
    p.fillPath(path, c)
    p.fillRect(QRectF(16, 6, 3, 12), c)


def _plugins(p: QPainter, c: QColor) -> None:
    path = QPainterPath()
    path.addRoundedRect(QRectF(5, 8, 14, 12), 2, 2)
    p.drawPath(path)
    p.drawLine(QPointF(9, 8), QPointF(9, 4))
    p.drawLine(QPointF(15, 8), QPointF(15, 4))


def _transfer(p: QPainter, c: QColor, out: bool) -> None:
    p.drawLine(QPointF(4, 16), QPointF(4, 20))
    p.drawLine(QPointF(4, 20), QPointF(20, 20))
    p.drawLine(QPointF(20, 20), QPointF(20, 16))
    p.drawLine(QPointF(12, 3), QPointF(12, 15))
    tip, back = (3, 7) if out else (15, 11)
    p.drawLine(QPointF(12, tip), QPointF(8, back))
    p.drawLine(QPointF(12, tip), QPointF(16, back))


_PAINTERS: dict[str, Painter] = {
    "new": _new,
    "open": _open,
    "save": _save,
    "undo": lambda p, c: _arrow(p, c, False),
    "redo": lambda p, c: _arrow(p, c, True),
    "add-qubit": _add_qubit,
    "fit": _fit,
    "train": _train,
    "resume": _train,
    "pause": _pause,
    "stop": _stop,
    "step": _step,
    "plugins": _plugins,
    "import": lambda p, c: _transfer(p, c, False),
    "export": lambda p, c: _transfer(p, c, True),
}


def icon(name: str, color: str | None = None) -> QIcon:
    """The icon ``name`` (see the module docstring), at 24 and 48 pixels, plus a greyed disabled state."""
    result = QIcon()
    draw = _PAINTERS[name]
    for mode, shade in ((QIcon.Mode.Normal, QColor(color or theme.WIRE_LABEL)),
                        (QIcon.Mode.Disabled, QColor("#B4BAC0"))):
        for size in (24, 48):
            pixmap = QPixmap(size, size)
            pixmap.fill(Qt.GlobalColor.transparent)
            painter = QPainter(pixmap)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.scale(size / 24, size / 24)
            pen = QPen(shade, 1.7, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            draw(painter, shade)
            painter.end()
            result.addPixmap(pixmap, mode)
    return result


NAMES = tuple(_PAINTERS)
