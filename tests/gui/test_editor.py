"""The drag-and-drop ansatz editor, driven through its real widgets.

The ``test_drop_handler_*`` tests are unit tests of the canvas's drop handling: they build
the palette's mime data by hand and send ``QDragEnterEvent`` / ``QDragMoveEvent`` /
``QDropEvent`` to the canvas's viewport. They are not drag tests: no mouse is pressed on the
palette and Qt starts no drag. The drags from the palette under the real mouse are in
``test_palette_drag.py``. Moves and handle drags on the canvas are ``QTest`` mouse events;
edits are checked on the model (the project's ``CircuitDesign``), undo and redo against
the design's exact ``to_dict()``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QUndoStack
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from qiskit import QuantumCircuit
from qiskit.quantum_info import Operator

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.project import Project
from qmlstudio.gui.editor import PALETTE_MIME, CircuitEditor, PaletteEntry, palette_mime
from qmlstudio.gui.main_window import MainWindow


# ------------------------------------------------------------------ helpers
def scene_point(editor: CircuitEditor, qubit: float, column: float) -> QPointF:
    layout = editor.scene.layout
    return QPointF(layout.column_x(column), layout.wire_y(qubit))


def view_point(editor: CircuitEditor, qubit: float, column: float) -> QPoint:
    return editor.canvas.mapFromScene(scene_point(editor, qubit, column))


def send_drop_events(editor: CircuitEditor, mime: QMimeData, at: QPoint) -> QDropEvent:
    """Drag-enter, drag-move and drop events with ``mime`` at ``at`` (viewport coordinates); the drop event.

    Synthetic events for the drop handler's unit tests, not a drag: see test_palette_drag.py.
    """
    viewport = editor.canvas.viewport()
    action = Qt.DropAction.CopyAction
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at, action, mime, buttons, modifiers)
    QApplication.sendEvent(viewport, enter)
    move = QDragMoveEvent(at, action, mime, buttons, modifiers)
    QApplication.sendEvent(viewport, move)
    drop = QDropEvent(QPointF(at), action, mime, buttons, modifiers)
    QApplication.sendEvent(viewport, drop)
    return drop


def drop(editor: CircuitEditor, kind: str, name: str, qubit: float, column: float) -> bool:
    """Whether the canvas accepts synthetic drop events for the palette entry at that wire and column."""
    return send_drop_events(editor, palette_mime(kind, name), view_point(editor, qubit, column)).isAccepted()


def drag_with_mouse(editor: CircuitEditor, start: QPoint, end: QPoint) -> None:
    viewport = editor.canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    steps = 6
    for i in range(1, steps + 1):
        QTest.mouseMove(viewport, start + (end - start) * i / steps)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def snapshot(editor: CircuitEditor) -> dict[str, Any]:
    assert editor.design is not None
    return json.loads(json.dumps(editor.design.to_dict()))


def items_at_positions(editor: CircuitEditor) -> list[tuple[Gate, tuple[float, float]]]:
    return [(item.gate, (item.pos().x(), item.pos().y())) for item in editor.scene.gate_items()]


# ------------------------------------------------------------------ fixtures
@pytest.fixture
def blank(registry) -> Project:
    project = Project.new("blank", circuit=CircuitDesign(3))
    project.mark_saved()
    return project


@pytest.fixture
def editor(qtbot, blank: Project, registry) -> CircuitEditor:
    stack = QUndoStack()
    widget = CircuitEditor(stack, registry)
    widget._stack = stack  # keep the stack alive with the widget
    widget.set_project(blank)
    widget.resize(1000, 500)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


# ------------------------------------------------------------------ the drop handler (synthetic drop events)
def test_drop_handler_adds_a_gate_at_the_qubit_and_column_dropped_on(editor: CircuitEditor) -> None:
    assert drop(editor, "gate", "h", qubit=1, column=2)
    assert editor.design.gates == (Gate("h", (1,), (), 2),)
    assert editor.undo_stack.undoText() == "Add H"
    item = editor.scene.gate_items()[0]
    assert item.isSelected()
    assert item.pos() == scene_point(editor, 1, 2)


def test_drop_handler_gives_a_rotation_the_next_trainable_weight(editor: CircuitEditor) -> None:
    assert drop(editor, "gate", "ry", 0, 0)
    assert drop(editor, "gate", "rz", 2, 0)
    assert [g.params[0].text for g in editor.design.gates] == ["θ[0]", "θ[1]"]


def test_drop_handler_puts_a_two_qubit_gate_on_the_wire_dropped_on_and_the_next(editor: CircuitEditor) -> None:
    assert drop(editor, "gate", "cx", 1, 0)
    assert editor.design.gates == (Gate("cx", (1, 2), (), 0),)


def test_drop_handler_shows_the_drop_indicator_where_the_gate_will_land(editor: CircuitEditor) -> None:
    viewport = editor.canvas.viewport()
    mime = palette_mime("gate", "cx")
    at = view_point(editor, 0, 3)
    QApplication.sendEvent(viewport, QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                                      Qt.KeyboardModifier.NoModifier))
    move = QDragMoveEvent(at, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(viewport, move)
    indicator = editor.scene.indicator
    assert move.isAccepted() and indicator.isVisible()
    assert "q0, q1" in indicator.caption and "column 3" in indicator.caption
    assert indicator.rects[0].contains(scene_point(editor, 0.5, 3))
    assert editor.design.gates == ()  # nothing happens before the drop


def test_drop_handler_refuses_mime_data_from_elsewhere(editor: CircuitEditor) -> None:
    junk = QMimeData()
    junk.setData(PALETTE_MIME, b"{not json")
    assert not send_drop_events(editor, junk, view_point(editor, 0, 0)).isAccepted()
    text = QMimeData()
    text.setText("h")
    assert not send_drop_events(editor, text, view_point(editor, 0, 0)).isAccepted()
    unknown = palette_mime("gate", "warp-drive")
    assert not send_drop_events(editor, unknown, view_point(editor, 0, 0)).isAccepted()
    assert editor.design.gates == () and editor.undo_stack.count() == 0


def test_drop_handler_refuses_a_three_qubit_gate_on_a_two_qubit_circuit_with_a_message(qtbot, registry) -> None:
    project = Project.new("two", circuit=CircuitDesign(2))
    stack = QUndoStack()
    widget = CircuitEditor(stack, registry)
    qtbot.addWidget(widget)
    widget.set_project(project)
    with qtbot.waitSignal(widget.message) as said:
        assert not widget.drop(PaletteEntry("gate", "ccx"), scene_point(widget, 0, 0))
    assert "needs 3 qubits" in said.args[0]
    assert project.circuit.gates == ()


# ------------------------------------------------------------------ moving
def test_dragging_a_placed_gate_moves_it(editor: CircuitEditor, qtbot) -> None:
    editor.design.set_gates([Gate("h", (0,), (), 0), Gate("x", (2,), (), 0)])
    drag_with_mouse(editor, view_point(editor, 0, 0), view_point(editor, 1, 3))
    qtbot.waitUntil(lambda: editor.design.gates[0] == Gate("h", (1,), (), 3))
    assert editor.design.gates[1] == Gate("x", (2,), (), 0)
    assert editor.undo_stack.undoText() == "Move H"
    assert editor.scene.item_for(0).pos() == scene_point(editor, 1, 3)


def test_arrow_keys_nudge_the_selection_and_escape_clears_it(editor: CircuitEditor) -> None:
    editor.design.set_gates([Gate("h", (0,), (), 0)])
    editor.scene.select_indices([0])
    editor.canvas.setFocus()
    QTest.keyClick(editor.canvas, Qt.Key.Key_Right)
    QTest.keyClick(editor.canvas, Qt.Key.Key_Down)
    assert editor.design.gates == (Gate("h", (1,), (), 1),)
    assert editor.selected_indices() == [0]
    QTest.keyClick(editor.canvas, Qt.Key.Key_Escape)
    assert editor.selected_indices() == []


def test_dragging_a_handle_sets_the_other_qubit_of_a_two_qubit_gate(editor: CircuitEditor, qtbot) -> None:
    assert drop(editor, "gate", "cx", 0, 1)
    item = editor.scene.item_for(0)
    assert item.isSelected()
    handle = item.handles[0]
    assert handle.isVisible()
    start = editor.canvas.mapFromScene(handle.scenePos())
    end = editor.canvas.mapFromScene(QPointF(handle.scenePos().x(), editor.scene.layout.wire_y(2)))
    drag_with_mouse(editor, start, end)
    qtbot.waitUntil(lambda: editor.design.gates[0].qubits == (0, 2))
    assert editor.design.gates[0].column == 1
    assert editor.undo_stack.undoText() == "Change qubits of CX"


def test_rubber_band_selects_and_delete_removes(editor: CircuitEditor, qtbot) -> None:
    editor.design.set_gates([Gate("h", (0,), (), 0), Gate("x", (1,), (), 1), Gate("z", (2,), (), 4)])
    layout = editor.scene.layout
    start = editor.canvas.mapFromScene(QPointF(layout.x0 + 2, layout.TOP + 2))
    end = editor.canvas.mapFromScene(QPointF(layout.column_x(2), layout.wire_y(1.4)))
    drag_with_mouse(editor, start, end)
    assert editor.selected_indices() == [0, 1]

    editor.actions["edit.delete"].trigger()
    assert editor.design.gates == (Gate("z", (2,), (), 4),)
    assert editor.undo_stack.undoText() == "Delete 2 gates"


# ------------------------------------------------------------------ undo
def test_undo_and_redo_restore_the_exact_previous_design(editor: CircuitEditor, qtbot) -> None:
    history = [snapshot(editor)]
    assert drop(editor, "gate", "ry", 0, 0)
    history.append(snapshot(editor))
    assert drop(editor, "gate", "cx", 0, 1)
    history.append(snapshot(editor))
    editor.move_gates([0], 2, 1)
    history.append(snapshot(editor))
    editor.scene.select_indices([1])
    editor.delete_selected()
    history.append(snapshot(editor))
    editor.add_qubit()
    history.append(snapshot(editor))
    assert editor.undo_stack.count() == 5

    for expected in reversed(history[:-1]):
        editor.undo_stack.undo()
        assert snapshot(editor) == expected
    for expected in history[1:]:
        editor.undo_stack.redo()
        assert snapshot(editor) == expected
    # The scene followed every step.
    assert [item.gate for item in editor.scene.gate_items()] == list(editor.design.gates)
    assert editor.scene.layout.num_qubits == 4


def test_drop_handler_inserts_a_template_as_one_undo_step_and_a_block(editor: CircuitEditor, registry, blank: Project) -> None:
    assert drop(editor, "gate", "h", 0, 0)
    before = snapshot(editor)
    count = editor.undo_stack.count()

    assert drop(editor, "template", "real-amplitudes", 1, 1)

    assert editor.undo_stack.count() == count + 1
    assert editor.undo_stack.undoText() == "Insert Real amplitudes"
    # The project's own template settings are used when it names this template.
    assert blank.ansatz is not None and blank.ansatz.name == "real-amplitudes"
    template = registry.ansatze["real-amplitudes"].create(blank.ansatz.options).build(3)
    added = editor.design.gates[1:]
    assert len(added) == len(template.gates)
    assert {g.block for g in added} == {"real-amplitudes"}
    assert editor.design.num_weights == template.num_weights
    # The block is selected as a unit, and a double-click on one of its gates selects it again.
    assert editor.selected_indices() == list(range(1, len(editor.design.gates)))
    editor.scene.select_indices([0])
    editor.scene.select_block("real-amplitudes")
    assert editor.selected_indices() == list(range(1, len(editor.design.gates)))

    editor.undo_stack.undo()
    assert snapshot(editor) == before


def test_drop_handler_makes_an_encoding_a_data_layer_on_the_wires_and_the_projects_encoding_on_its_block(
        editor: CircuitEditor, blank: Project) -> None:
    original = blank.encoding
    assert drop(editor, "encoding", "dense-angle", 0, 1)
    layer = editor.design.gates
    assert layer and {g.block for g in layer} == {"encoding:dense-angle"}
    assert editor.design.num_inputs > 0 and editor.design.num_weights == 0

    item = editor.scene.encoding_item
    assert item is not None and blank.encoding.name == "angle"
    at = editor.canvas.mapFromScene(item.rect.center())
    assert send_drop_events(editor, palette_mime("encoding", "iqp"), at).isAccepted()
    assert blank.encoding.name == "iqp"
    assert editor.undo_stack.undoText() == "Set encoding to IQP encoding"
    assert editor.scene.encoding_item.title == "IQP encoding"
    editor.undo_stack.undo()
    assert blank.encoding == original


# ------------------------------------------------------------------ clipboard, qubits
def test_copy_paste_cut_and_duplicate(editor: CircuitEditor) -> None:
    editor.design.set_gates([Gate("ry", (0,), ("θ[0]",), 0), Gate("cx", (0, 1), (), 1)])
    editor.select_all()
    editor.actions["edit.copy"].trigger()
    assert editor.actions["edit.paste"].isEnabled()
    editor.scene.select_indices([])
    editor.actions["edit.paste"].trigger()
    assert editor.design.gates[2:] == (Gate("ry", (0,), ("θ[1]",), 2), Gate("cx", (0, 1), (), 3))
    assert editor.selected_indices() == [2, 3]

    editor.actions["edit.duplicate"].trigger()
    assert editor.design.gates[4:] == (Gate("ry", (0,), ("θ[2]",), 4), Gate("cx", (0, 1), (), 5))

    editor.scene.select_indices([0])
    editor.actions["edit.cut"].trigger()
    assert len(editor.design.gates) == 5 and editor.design.gates[0] == Gate("cx", (0, 1), (), 1)
    assert editor.undo_stack.undoText() == "Cut RY"


def test_adding_and_removing_qubits(editor: CircuitEditor, qtbot) -> None:
    editor.design.set_gates([Gate("h", (0,), (), 0), Gate("x", (2,), (), 0)])
    editor.actions["edit.addQubit"].trigger()
    assert editor.design.num_qubits == 4 and editor.scene.layout.num_qubits == 4
    editor.remove_qubit(1)
    assert editor.design.num_qubits == 3
    assert editor.design.gates == (Gate("h", (0,), (), 0), Gate("x", (1,), (), 0))
    assert editor.undo_stack.undoText() == "Remove qubit q1"
    editor.undo_stack.undo()
    assert editor.design.gates == (Gate("h", (0,), (), 0), Gate("x", (2,), (), 0))


# ------------------------------------------------------------------ the model it builds
def test_the_canvas_design_converts_to_the_expected_qiskit_circuit(editor: CircuitEditor) -> None:
    assert drop(editor, "gate", "h", 0, 0)
    assert drop(editor, "gate", "cx", 0, 1)
    assert drop(editor, "gate", "ry", 2, 0)
    assert drop(editor, "gate", "rzz", 1, 2)
    assert drop(editor, "gate", "crx", 2, 3)  # on q2: the target goes up to q1

    circuit = editor.design.to_circuit()
    values = [0.3, -1.1, 0.7]
    bound = circuit.assign_parameters(dict(zip(sorted(circuit.parameters, key=lambda p: p.index), values)))

    expected = QuantumCircuit(3)
    expected.h(0)
    expected.ry(values[0], 2)
    expected.cx(0, 1)
    expected.rzz(values[1], 1, 2)
    expected.crx(values[2], 2, 1)
    assert Operator(bound).equiv(Operator(expected))
    assert Operator(bound) == Operator(expected)


def test_a_saved_project_reopens_with_the_same_canvas(qtbot, registry, tmp_path: Path, blank: Project) -> None:
    window = MainWindow(blank, registry=registry)
    window.close_without_asking = True
    qtbot.addWidget(window)
    window.show()
    editor = window.editor
    assert drop(editor, "template", "efficient-su2", 0, 0)
    assert drop(editor, "gate", "cz", 1, 20)
    assert drop(editor, "gate", "u", 2, 21)
    before = items_at_positions(editor)
    assert window.save_to(tmp_path / "saved.qmls")

    assert window.open_project(tmp_path / "saved.qmls")

    assert window.project is not blank
    assert items_at_positions(window.editor) == before
    assert window.editor.scene.encoding_item is not None
    assert window.undo_stack.count() == 0


def test_a_large_design_rebuilds_with_one_item_per_gate(editor: CircuitEditor) -> None:
    gates = []
    for column in range(60):
        for q in range(0, 10, 2):
            gates.append(Gate("ry" if column % 2 else "cx", (q,) if column % 2 else (q, q + 1),
                              ("θ[0]",) if column % 2 else (), column))
    editor.design.set_gates(gates, num_qubits=10)
    assert len(editor.design.gates) == 300
    assert len(editor.scene.gate_items()) == 300
    assert editor.scene.layout.num_qubits == 10


def test_zoom_actions_and_ctrl_wheel(editor: CircuitEditor) -> None:
    assert math.isclose(editor.canvas.zoom, 1.0)
    editor.actions["view.zoomIn"].trigger()
    assert editor.canvas.zoom > 1.0
    editor.actions["view.zoomReset"].trigger()
    assert math.isclose(editor.canvas.zoom, 1.0)
    editor.actions["view.zoomOut"].trigger()
    assert editor.canvas.zoom < 1.0


def test_probabilities_of_an_edited_design_match_qiskit(editor: CircuitEditor) -> None:
    from qiskit.quantum_info import Statevector

    from qmlstudio.core.statevector import StatevectorProgram

    assert drop(editor, "gate", "h", 0, 0)
    assert drop(editor, "gate", "cx", 0, 1)
    assert drop(editor, "gate", "ry", 2, 0)
    weights = np.array([0.4])
    probs = StatevectorProgram(editor.design).probabilities(weights, None)[0]
    bound = editor.design.to_circuit().assign_parameters(weights)
    assert np.allclose(probs, Statevector(bound).probabilities())
