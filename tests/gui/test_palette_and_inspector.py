"""The gate palette (groups, plugin entries, search, drag data, clicks) and the inspector (qubits, angles,
validation)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QScrollArea

from qmlstudio.core.circuit import GATE_GROUPS, GATES, CircuitDesign, Gate
from qmlstudio.core.project import Project
from qmlstudio.gui.editor import CircuitEditor, GatePalette, PaletteEntry, read_palette_mime
from qmlstudio.gui.editor.palette import ENTRY_ROLE
from qmlstudio.gui.inspector import Inspector
from qmlstudio.gui.main_window import MainWindow


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


def test_a_palette_items_mime_data_carries_its_entry(palette: GatePalette) -> None:
    """The data a drag carries (the drag itself, under the real mouse: test_palette_drag.py)."""
    item = palette.item_for("gate", "cry")
    assert item is not None
    mime = item.listWidget().mimeData([item])
    assert read_palette_mime(mime) == PaletteEntry("gate", "cry")
    template = palette.item_for("template", "two-local")
    assert read_palette_mime(template.listWidget().mimeData([template])) == PaletteEntry("template", "two-local")


def click_entry(palette: GatePalette, kind: str, name: str, double: bool = False) -> None:
    """A real (double-)click on the entry's tile in its section's viewport."""
    item = palette.item_for(kind, name)
    items = item.listWidget()
    scroll = palette.findChild(QScrollArea, "paletteScroll")
    centre = items.visualItemRect(item).center()
    in_body = items.viewport().mapTo(scroll.widget(), centre)
    scroll.ensureVisible(in_body.x(), in_body.y(), 10, 30)
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mouseClick(items.viewport(), left, none, centre)
    if double:
        # What a window system sends for the second click: a double-click press, then a release.
        QTest.mouseDClick(items.viewport(), left, none, centre)
        QTest.mouseRelease(items.viewport(), left, none, centre)


def looks_selected(palette: GatePalette) -> list[PaletteEntry]:
    return [item.data(ENTRY_ROLE) for _, items in palette.sections.values() for item in items.selectedItems()]


def test_only_one_palette_entry_looks_selected_across_the_sections(palette: GatePalette) -> None:
    click_entry(palette, "gate", "h")
    assert looks_selected(palette) == [PaletteEntry("gate", "h")]
    click_entry(palette, "gate", "cx")
    assert looks_selected(palette) == [PaletteEntry("gate", "cx")]
    click_entry(palette, "template", "two-local")
    assert looks_selected(palette) == [PaletteEntry("template", "two-local")]
    click_entry(palette, "encoding", "iqp")
    assert looks_selected(palette) == [PaletteEntry("encoding", "iqp")]
    click_entry(palette, "gate", "ry")
    assert looks_selected(palette) == [PaletteEntry("gate", "ry")]
    # No other section keeps a current item either (it would draw a focus frame).
    current = [items for _, items in palette.sections.values() if items.currentItem() is not None]
    assert current == [palette.item_for("gate", "ry").listWidget()]


@pytest.fixture
def wide_window(qtbot, registry):
    """The main window on a 2-qubit circuit 40 columns long: its end is out of sight."""
    project = Project.new("wide", circuit=CircuitDesign(2, [Gate("h", (c % 2,), (), c) for c in range(40)]))
    project.mark_saved()
    window = MainWindow(project, registry=registry)
    window.close_without_asking = True
    qtbot.addWidget(window)
    window.resize(1100, 700)
    window.show()
    qtbot.waitExposed(window)
    window.canvas.horizontalScrollBar().setValue(0)
    return window


def visible_scene_rect(window: MainWindow) -> QRectF:
    canvas = window.canvas
    return canvas.mapToScene(canvas.viewport().rect()).boundingRect()


def test_double_clicking_a_palette_gate_appends_selects_and_scrolls_to_it(wide_window: MainWindow) -> None:
    window = wide_window
    design = window.project.circuit
    assert design.num_columns == 40
    end = window.editor.scene.layout.cell_rect(40, 0, 0)
    assert not visible_scene_rect(window).contains(end), "the test needs the end of the circuit out of sight"

    click_entry(window.palette_widget, "gate", "x", double=True)

    # At the end of q0, whose last gate is in column 38.
    assert design.gates[-1] == Gate("x", (0,), (), 39)
    assert window.undo_stack.undoText() == "Add X"
    assert window.editor.selected_indices() == [len(design.gates) - 1]
    item = window.editor.scene.item_for(len(design.gates) - 1)
    assert visible_scene_rect(window).contains(item.sceneBoundingRect())


def test_double_clicking_a_template_or_an_encoding_reveals_and_selects_it(wide_window: MainWindow) -> None:
    window = wide_window
    design = window.project.circuit
    click_entry(window.palette_widget, "template", "two-local", double=True)
    added = [i for i, g in enumerate(design.gates) if g.block == "two-local"]
    assert added and min(design.gates[i].column for i in added) == 40
    assert window.editor.selected_indices() == added
    first = window.editor.scene.item_for(added[0])
    assert visible_scene_rect(window).intersects(first.sceneBoundingRect())

    window.canvas.horizontalScrollBar().setValue(window.canvas.horizontalScrollBar().maximum())
    click_entry(window.palette_widget, "encoding", "iqp", double=True)
    assert window.project.encoding.name == "iqp"
    assert window.editor.scene.encoding_selected() and window.editor.selected_indices() == []
    block = window.editor.scene.encoding_item.sceneBoundingRect()
    assert visible_scene_rect(window).intersects(block)


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


# ------------------------------------------------------- a hybrid's classical parts
def test_a_hybrids_front_and_head_are_canvas_blocks_edited_in_the_inspector(qtbot, registry) -> None:
    """A hybrid project draws its classical front left of the qubits and its head right of the
    circuit, with their layers and parameter counts for the data. A click on the front shows
    its options in the inspector; typing a hidden size there is one undoable edit of the model
    and redraws the block. The built-in models draw no such blocks."""
    from qmlstudio.workflow import new_project, prepared_data

    from qmls_torch.hybrid import HybridNet, conv_front  # noqa: F401  (torch: the counts are checked against it)

    project = new_project(registry, name="c", dataset="digits", model="hybrid", qubits=4,
                          model_options={"front": "conv", "conv_channels": "8,16"})
    data = prepared_data(project, registry)
    stack = QUndoStack()
    editor = CircuitEditor(stack, registry)
    editor.set_project(project)
    editor.set_data(data)
    inspector = Inspector(editor, registry)
    qtbot.addWidget(editor)
    qtbot.addWidget(inspector)
    editor.resize(1400, 500)
    editor.show()
    inspector.show()
    qtbot.waitExposed(editor)
    scene = editor.scene
    front, head = scene.part_items["front"], scene.part_items["head"]
    layout = scene.layout
    assert front.rect.right() < layout.label_left + layout.LABEL_W <= layout.encoding_left  # before the qubits
    assert head.rect.left() > layout.x0 + layout.CELL_W * layout.num_columns  # after the circuit
    built = conv_front((8, 8), (8, 16), (), 4, "tanh")
    assert front.part["parameters"] == sum(p.numel() for p in built.parameters())
    assert head.part["parameters"] == 4 * 2 + 2  # ⟨Z⟩ of 4 qubits → 2 classes
    assert "linear 64 → 4" in front.part["lines"]

    QTest.mouseClick(editor.canvas.viewport(), Qt.MouseButton.LeftButton, pos=editor.canvas.mapFromScene(
        front.rect.center()))
    assert scene.part_selected() == "front"
    assert inspector.title.text().startswith("Classical front") and inspector.part_form.isVisible()
    line = inspector.part_form.editor("front_hidden")
    QTest.mouseClick(line, Qt.MouseButton.LeftButton)
    QTest.keyClicks(line, "16")
    QTest.keyClick(line, Qt.Key.Key_Return)
    assert project.model.options["front_hidden"] == "16"
    assert stack.undoText() == "Change model front hidden"
    assert "linear 64 → 16 → 4" in scene.part_items["front"].part["lines"]
    assert scene.part_selected() == "front"  # still selected after the redraw
    stack.undo()
    assert project.model.options["front_hidden"] == ""
    assert "linear 64 → 4" in scene.part_items["front"].part["lines"]

    QTest.mouseClick(editor.canvas.viewport(), Qt.MouseButton.LeftButton, pos=editor.canvas.mapFromScene(
        scene.part_items["head"].rect.center()))
    assert inspector.title.text().startswith("Classical head")
    assert [o.name for o in inspector.part_form.options] == ["readout", "head_hidden", "activation"]

    editor.set_project(Project.new("p"))  # a built-in model: no classical blocks
    assert scene.part_items == {} and editor.scene.layout.label_left == 0
