"""Drags palette entries onto the canvas of a real main window with real mouse input, in a child process.

Run by ``tests/gui/test_palette_drag.py``; it prints one JSON object per drag on stdout.

Why a child process: the whole suite runs on Qt's ``offscreen`` platform, whose drag
(``QOffscreenDrag::drag``) returns ``Qt::IgnoreAction`` at once, without a drag loop, so
no drag can ever reach a drop target there. The ``minimal`` platform uses Qt's own
``QSimpleDrag``: ``QDrag.exec`` runs a nested event loop that follows the mouse events
and sends ``QDragEnterEvent`` / ``QDragMoveEvent`` / ``QDropEvent`` to the window under
the pointer, as a desktop does. Nothing here builds mime data or calls a drop handler:
the test presses on the tile in the palette's viewport, moves past
``QApplication.startDragDistance()`` so that the list view itself starts the ``QDrag``,
and, from a timer that fires inside the drag loop, moves over the canvas and releases.

    QT_QPA_PLATFORM=minimal:enable_fonts python -m tests.gui.real_drag SCENARIO...

Each SCENARIO is ``kind:name@qubit,column`` (drop on that wire and column) or
``kind:name@encoding`` (drop on the project's encoding block).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QListWidget, QScrollArea

from qmlstudio.core.project import Project
from qmlstudio.plugins import Ansatz, AnsatzSpec, CircuitDesign, Encoding, EncodingSpec, Gate, hookimpl

LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


# ------------------------------------------------------------ a test plugin
class Ladder(Ansatz):
    """RY on every qubit, then a CZ ladder: a template no built-in plugin has."""

    def build(self, num_qubits: int) -> CircuitDesign:
        gates = [Gate("ry", (q,), (f"θ[{q}]",), 0) for q in range(num_qubits)]
        gates += [Gate("cz", (q, q + 1), (), 1 + q) for q in range(num_qubits - 1)]
        return CircuitDesign(num_qubits, gates)


class Phases(Encoding):
    """P(x_j) on qubit j."""

    def num_qubits(self, num_features: int) -> int:
        return num_features

    def circuit(self, num_features: int) -> CircuitDesign:
        return CircuitDesign(num_features, [Gate("p", (q,), (f"x[{q}]",), 0) for q in range(num_features)])

    def transform(self, features: Any) -> Any:
        return features


class DragTestPlugin:
    """Adds one template and one encoding to the palette, as a third-party plugin would."""

    @hookimpl
    def qmlstudio_ansatze(self) -> list[AnsatzSpec]:
        return [AnsatzSpec(name="test-ladder", title="Test ladder (test plugin)",
                           description="RY layer and a CZ ladder.", factory=Ladder)]

    @hookimpl
    def qmlstudio_encodings(self) -> list[EncodingSpec]:
        return [EncodingSpec(name="test-phases", title="Test phases (test plugin)",
                             description="P(x) on each qubit.", factory=Phases)]


# ------------------------------------------------------------ the drags
class DragEvents(QObject):
    """Records the drag events the canvas viewport receives (proof that a QDrag reached it)."""

    NAMES = {QEvent.Type.DragEnter: "enter", QEvent.Type.DragMove: "move", QEvent.Type.Drop: "drop"}

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        name = self.NAMES.get(event.type())
        if name and (not self.seen or self.seen[-1] != name):
            self.seen.append(name)
        return False


def palette_point(window: Any, kind: str, name: str) -> tuple[QListWidget, QPoint]:
    """The centre of ``name``'s tile in its section's viewport, scrolled into view like a user would."""
    item = window.palette_widget.item_for(kind, name)
    if item is None:
        raise SystemExit(f"no palette entry {kind}:{name}")
    items = item.listWidget()
    centre = items.visualItemRect(item).center()
    scroll = window.palette_widget.findChild(QScrollArea, "paletteScroll")
    in_body = items.viewport().mapTo(scroll.widget(), centre)
    scroll.ensureVisible(in_body.x(), in_body.y(), 10, 30)
    QApplication.processEvents()
    on_screen = scroll.viewport().rect().contains(items.viewport().mapTo(scroll.viewport(), centre))
    if not on_screen:
        raise SystemExit(f"{kind}:{name} is not visible in the palette")
    return items, centre


def canvas_point(window: Any, where: str) -> QPoint:
    editor = window.editor
    layout = editor.scene.layout
    if where == "encoding":
        scene_pos = editor.scene.encoding_item.sceneBoundingRect().center()
    else:
        qubit, column = (int(v) for v in where.split(","))
        scene_pos = QPointF(layout.column_x(column), layout.wire_y(qubit))
    return editor.canvas.mapFromScene(scene_pos)


def real_drag(window: Any, kind: str, name: str, where: str) -> dict[str, Any]:
    """Presses on the palette tile, moves onto the canvas and releases there; what happened."""
    editor = window.editor
    source, start = palette_point(window, kind, name)
    target = canvas_point(window, where)
    canvas = editor.canvas.viewport()
    events = DragEvents()
    canvas.installEventFilter(events)
    seen: dict[str, Any] = {"in_drag_loop": False, "preview": None}

    def inside_the_drag_loop() -> None:
        seen["in_drag_loop"] = QApplication.mouseButtons() == LEFT
        # Enter the canvas away from the target, then glide onto it.
        for i in range(6, 0, -1):
            QTest.mouseMove(canvas, target + QPoint(-8 * i, 3 * i))
        QTest.mouseMove(canvas, target)
        indicator = editor.scene.indicator
        seen["preview"] = indicator.caption if indicator.isVisible() else None
        QTest.mouseRelease(canvas, LEFT, NONE, target)

    before = editor.design.to_dict()
    encoding_before = window.project.encoding.name if window.project.encoding else None
    QTest.mousePress(source.viewport(), LEFT, NONE, start)
    distance = QApplication.startDragDistance()
    step = max(1, distance // 3)
    offset = 0
    # Below the drag distance nothing may happen yet...
    while offset + step < distance:
        offset += step
        QTest.mouseMove(source.viewport(), start + QPoint(offset, 0))
    # ...the move past it starts the list view's QDrag, whose loop runs the timer.
    QTimer.singleShot(0, inside_the_drag_loop)
    QTest.mouseMove(source.viewport(), start + QPoint(distance + step, 0))
    QApplication.processEvents()
    if not seen["in_drag_loop"]:
        QTest.mouseRelease(source.viewport(), LEFT, NONE, start + QPoint(distance + step, 0))
    QApplication.processEvents()
    canvas.removeEventFilter(events)
    after = editor.design.to_dict()
    added = [g for g in after["gates"] if g not in before["gates"]]
    return {
        "scenario": f"{kind}:{name}@{where}",
        "drag_events": events.seen,
        "in_drag_loop": seen["in_drag_loop"],
        "preview": seen["preview"],
        "added": added,
        "gates_before": len(before["gates"]),
        "gates_after": len(after["gates"]),
        "undo_text": window.undo_stack.undoText(),
        "encoding_before": encoding_before,
        "encoding_after": window.project.encoding.name if window.project.encoding else None,
        "selected": editor.selected_indices(),
    }


def main(argv: list[str]) -> int:
    from qmlstudio.gui.main_window import MainWindow
    from qmlstudio.plugins.manager import load_plugins

    app = QApplication.instance() or QApplication([])
    registry = load_plugins(disabled=[])
    registry.register(DragTestPlugin(), "drag-test-plugin")
    project = Project.new("drag", circuit=CircuitDesign(4, [Gate("h", (0,), (), 0)]))
    project.mark_saved()
    window = MainWindow(project, registry=registry)
    window.close_without_asking = True
    window.resize(1400, 900)
    window.show()
    QTest.qWaitForWindowExposed(window)
    QApplication.processEvents()
    for scenario in argv:
        entry, _, where = scenario.partition("@")
        kind, _, name = entry.partition(":")
        result = real_drag(window, kind, name, where)
        print(json.dumps(result), flush=True)
        # The next drag starts from the same circuit and encoding.
        while window.undo_stack.canUndo():
            window.undo_stack.undo()
        QApplication.processEvents()
    window.close()
    del app
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
