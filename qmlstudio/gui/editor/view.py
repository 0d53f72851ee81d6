"""The circuit canvas: a zoomable, pannable view of the :class:`CircuitScene` that accepts palette drops.

Drops are planned and performed by a *drop handler* (the editor): while a palette item is
dragged over the canvas the view asks ``handler.plan(entry, scene_pos)`` what a drop there
would do and shows it with the scene's drop indicator; on drop it calls
``handler.drop(entry, scene_pos)``, which pushes an undo command.

Zoom with Ctrl + wheel (or View ▸ Zoom); pan with the middle mouse button, with Space +
drag, or with the scroll bars; drag on empty canvas to rubber-band select.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragLeaveEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QTransform,
    QWheelEvent,
)
from PySide6.QtWidgets import QFrame, QGraphicsView, QWidget

from qmlstudio.gui.editor.mime import PaletteEntry, read_palette_mime
from qmlstudio.gui.editor.scene import CircuitScene


@dataclass
class DropPlan:
    """What a drop at some point would do, for the drop indicator."""

    rects: Sequence[QRectF]
    caption: str
    insert_x: float | None = None
    bar: tuple[float, float] = field(default=(0.0, 0.0))


class DropHandler(Protocol):
    def plan(self, entry: PaletteEntry, pos: QPointF) -> DropPlan | None: ...

    def drop(self, entry: PaletteEntry, pos: QPointF) -> bool: ...


class CircuitCanvas(QGraphicsView):
    """The view of the circuit scene (object name ``circuitCanvas``)."""

    MIN_ZOOM = 0.3
    MAX_ZOOM = 3.0
    #: The zoom factor changed (1.0 is 100 %).
    zoomChanged = Signal(float)

    def __init__(self, scene: CircuitScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setObjectName("circuitCanvas")
        self.drop_handler: DropHandler | None = None
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setToolTip("")
        self._pan_from: QPointF | None = None
        self._space = False

    @property
    def circuit_scene(self) -> CircuitScene:
        scene = self.scene()
        assert isinstance(scene, CircuitScene)
        return scene

    # ------------------------------------------------------------------ zoom
    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def set_zoom(self, factor: float) -> None:
        factor = max(self.MIN_ZOOM, min(self.MAX_ZOOM, factor))
        self.setTransform(QTransform.fromScale(factor, factor))
        self.zoomChanged.emit(factor)

    def zoom_in(self) -> None:
        self.set_zoom(self.zoom * 1.2)

    def zoom_out(self) -> None:
        self.set_zoom(self.zoom / 1.2)

    def reset_zoom(self) -> None:
        self.set_zoom(1.0)

    def zoom_to_fit(self) -> None:
        rect = self.circuit_scene.itemsBoundingRect().adjusted(-20, -20, 20, 20)
        if rect.isEmpty():
            return
        view = self.viewport().rect()
        factor = min(view.width() / rect.width(), view.height() / rect.height())
        self.set_zoom(factor)
        self.ensureVisible(rect, 0, 0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            if steps:
                self.set_zoom(self.zoom * (1.15**steps))
            event.accept()
            return
        super().wheelEvent(event)

    # ------------------------------------------------------------------- pan
    def _start_pan(self, event: QMouseEvent) -> None:
        self._pan_from = event.position()
        self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        event.accept()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.MiddleButton or (
            self._space and event.button() == Qt.MouseButton.LeftButton
        ):
            self._start_pan(event)
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            delta = event.position() - self._pan_from
            self._pan_from = event.position()
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - round(delta.x()))
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - round(delta.y()))
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None:
            self._pan_from = None
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().mouseReleaseEvent(event)

    ARROWS = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = Qt.Key(event.key())
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        # Arrow keys move the selected gates by one cell (without a selection they scroll).
        nudge = getattr(self.drop_handler, "nudge", None)
        if key in self.ARROWS and nudge is not None and self.circuit_scene.selected_indices():
            columns, rows = self.ARROWS[key]
            nudge(columns, rows)
            event.accept()
            return
        if key == Qt.Key.Key_Escape:
            self.circuit_scene.clearSelection()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self.viewport().unsetCursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    # ------------------------------------------------------------- dropping
    def _plan(self, event: QDragMoveEvent | QDropEvent) -> tuple[PaletteEntry | None, DropPlan | None, QPointF]:
        entry = read_palette_mime(event.mimeData())
        pos = self.mapToScene(event.position().toPoint())
        if entry is None or self.drop_handler is None:
            return entry, None, pos
        return entry, self.drop_handler.plan(entry, pos), pos

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        entry, plan, _ = self._plan(event)
        if entry is None:
            event.ignore()
            return
        self._show(plan)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        entry, plan, _ = self._plan(event)
        if entry is None or plan is None:
            self.circuit_scene.indicator.setVisible(False)
            event.ignore()
            return
        self._show(plan)
        event.setDropAction(Qt.DropAction.CopyAction)
        event.accept()

    def dragLeaveEvent(self, event: QDragLeaveEvent) -> None:
        self.circuit_scene.indicator.setVisible(False)
        event.accept()

    def dropEvent(self, event: QDropEvent) -> None:
        self.circuit_scene.indicator.setVisible(False)
        entry = read_palette_mime(event.mimeData())
        if entry is None or self.drop_handler is None:
            event.ignore()
            return
        pos = self.mapToScene(event.position().toPoint())
        if self.drop_handler.drop(entry, pos):
            event.setDropAction(Qt.DropAction.CopyAction)  # the palette keeps its item
            event.accept()
            self.setFocus()
        else:
            event.ignore()

    def _show(self, plan: DropPlan | None) -> None:
        indicator = self.circuit_scene.indicator
        if plan is None:
            indicator.setVisible(False)
        else:
            indicator.show_at(plan.rects, plan.caption, plan.insert_x, plan.bar)
