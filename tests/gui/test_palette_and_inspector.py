"""The gate palette (groups, plugin entries, search, drag data) and the inspector (qubits, angles, validation)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtTest import QTest

from qmlstudio.core.circuit import GATE_GROUPS, GATES, CircuitDesign, Gate
from qmlstudio.core.project import Project
from qmlstudio.gui.editor import CircuitEditor, GatePalette, PaletteEntry, read_palette_mime
from qmlstudio.gui.editor.palette import ENTRY_ROLE
from qmlstudio.gui.inspector import Inspector


# ------------------------------------------------------------------ palette
@pytest.fixture
def palette(qtbot, registry) -> GatePalette:
    widget = GatePalette(registry)
    widget.resize(240, 700)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def test_the_palette_has_every_gate_by_group_and_the_plugins_templates_and_encodings(palette: GatePalette,
                                                                                       registry) -> None:
    for group in GATE_GROUPS:
        items = palette.sections[group][1]
        names = [items.item(i).data(ENTRY_ROLE).name for i in range(items.count())]
        assert names == [n for n, g in GATES.items() if g.group == group]
    entries = palette.entries()
    assert {PaletteEntry("template", n) for n in registry.ansatze} <= set(entries)
    assert {PaletteEntry("encoding", n) for n in registry.encodings} <= set(entries)
    for group, (label, items) in palette.sections.items():
        for i in range(items.count()):
            item = items.item(i)
            assert not item.icon().isNull(), item.data(ENTRY_ROLE)
            assert item.toolTip().strip(), item.data(ENTRY_ROLE)


def test_the_search_field_filters_the_palette(palette: GatePalette, qtbot) -> None:
    QTest.keyClicks(palette.search, "rot")
    visible = palette.entries(visible_only=True)
    assert PaletteEntry("gate", "rx") in visible and PaletteEntry("gate", "h") not in visible
    assert not palette.sections["single-qubit"][1].isVisible()

    palette.search.clear()
    QTest.keyClicks(palette.search, "amplitude")
    visible = set(palette.entries(visible_only=True))
    assert PaletteEntry("template", "real-amplitudes") in visible
    assert PaletteEntry("encoding", "amplitude") in visible
    assert PaletteEntry("gate", "cx") not in visible

    palette.search.setText("no such gate at all")
    assert palette.entries(visible_only=True) == []
    assert palette.empty_label.isVisible()
    palette.search.clear()
    assert len(palette.entries(visible_only=True)) == len(palette.entries())


def test_dragging_a_palette_item_carries_its_entry(palette: GatePalette) -> None:
    item = palette.item_for("gate", "cry")
    assert item is not None
    mime = item.listWidget().mimeData([item])
    assert read_palette_mime(mime) == PaletteEntry("gate", "cry")
    template = palette.item_for("template", "two-local")
    assert read_palette_mime(template.listWidget().mimeData([template])) == PaletteEntry("template", "two-local")


def test_double_clicking_a_palette_gate_appends_it(qtbot, registry) -> None:
    project = Project.new("p", circuit=CircuitDesign(2, [Gate("h", (0,), (), 0)]))
    editor = CircuitEditor(QUndoStack(), registry)
    qtbot.addWidget(editor)
    editor.set_project(project)
    palette = GatePalette(registry)
    qtbot.addWidget(palette)
    palette.activated.connect(editor.activate)
    palette.show()
    item = palette.item_for("gate", "x")
    item.listWidget().itemActivated.emit(item)
    assert project.circuit.gates[-1] == Gate("x", (0,), (), 1)


# ------------------------------------------------------------------ inspector
@pytest.fixture
def editing(qtbot, registry):
    project = Project.new("p", circuit=CircuitDesign(3, [
        Gate("ry", (0,), ("θ[0]",), 0),
        Gate("cx", (0, 1), (), 1),
        Gate("rz", (2,), ("θ[4]",), 0),
    ]))
    stack = QUndoStack()
    editor = CircuitEditor(stack, registry)
    editor._stack = stack
    editor.set_project(project)
    inspector = Inspector(editor, registry)
    qtbot.addWidget(editor)
    qtbot.addWidget(inspector)
    editor.show()
    inspector.show()
    return project, editor, inspector


def test_the_inspector_shows_the_selected_gate(editing) -> None:
    project, editor, inspector = editing
    assert inspector.title.text() == "Nothing selected"
    editor.scene.select_indices([1])
    assert inspector.title.text() == "CX gate"
    assert [s.value() for s in inspector.qubit_spins[:2]] == [0, 1]
    assert inspector.qubit_labels[0].text() == "control" and inspector.qubit_labels[1].text() == "target"
    assert not inspector.angles_heading.isVisible()
    editor.scene.select_indices([0])
    row = inspector.angle_editors[0]
    assert row.isVisible() and row.kind.currentData() == "weight" and row.index.value() == 0
    editor.scene.select_indices([0, 1])
    assert inspector.title.text() == "2 gates selected"


def test_changing_the_kind_of_an_angle_numbers_new_weights_automatically(editing) -> None:
    project, editor, inspector = editing
    editor.scene.select_indices([0])
    row = inspector.angle_editors[0]
    row.kind.setCurrentIndex(row.kind.findData("input"))
    assert project.circuit.gates[0].params[0].text == "x[0]"
    assert editor.undo_stack.undoText() == "Set angle of RY"
    row.kind.setCurrentIndex(row.kind.findData("weight"))
    assert project.circuit.gates[0].params[0].text == "θ[5]"  # the next free weight
    assert editor.selected_indices() == [0]


def test_an_invalid_expression_is_explained_inline_and_never_applied(editing) -> None:
    project, editor, inspector = editing
    editor.scene.select_indices([2])
    row = inspector.angle_editors[0]
    row.text.selectAll()
    QTest.keyClicks(row.text, "2*x[0] +")
    assert row.error.isVisible() and "cannot read angle" in row.error.text()
    assert row.text.property("invalid") is True
    QTest.keyClick(row.text, Qt.Key.Key_Return)
    assert project.circuit.gates[2].params[0].text == "θ[4]"

    QTest.keyClick(row.text, Qt.Key.Key_Backspace)
    QTest.keyClicks(row.text, "+ pi/2")
    assert not row.error.isVisible()
    QTest.keyClick(row.text, Qt.Key.Key_Return)
    angle = project.circuit.gates[2].params[0]
    assert angle.text == "2 * x[0] + pi / 2" and angle.kind == "expression"
    assert row.kind.currentData() == "expression"


def test_qubits_are_edited_in_the_inspector(editing) -> None:
    project, editor, inspector = editing
    editor.scene.select_indices([1])
    inspector.qubit_spins[1].setValue(2)
    assert project.circuit.gates[1].qubits == (0, 2)
    inspector.qubit_spins[0].setValue(2)  # onto the other qubit: they swap
    assert project.circuit.gates[1].qubits == (2, 0)
    assert editor.undo_stack.undoText() == "Change qubits of CX"


def test_selecting_the_encoding_block_shows_the_encoding(editing, registry) -> None:
    project, editor, inspector = editing
    item = editor.scene.encoding_item
    assert item is not None
    item.setSelected(True)
    assert inspector.title.text().startswith("Encoding · ")
    assert inspector.encoding_choice.currentData() == project.encoding.name
    row = inspector.encoding_choice.findData("zz-feature-map")
    inspector.encoding_choice.activated.emit(row)
    assert project.encoding.name == "zz-feature-map"
