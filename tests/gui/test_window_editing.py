"""The main window around the editor: menus and actions, the Run hooks, circuit files, plugins, recent projects."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from qmlstudio.core.circuit import Gate
from qmlstudio.core.circuit_files import EXPORT_FORMATS, export_circuit
from qmlstudio.gui.main_window import MainWindow
from qmlstudio.gui.plugin_manager_dialog import PluginManagerDialog


def _menu_texts(window: MainWindow, key: str) -> list[str]:
    return [a.text().replace("&", "") for a in window.menus[key].actions() if not a.isSeparator()]


def test_the_menus_offer_what_the_issue_asks_for(window: MainWindow) -> None:
    assert _menu_texts(window, "file")[:3] == ["New Project", "Open Project…", "Open Recent"]
    assert {"Import Circuit…", "Export Circuit", "Save", "Save As…", "Quit"} <= set(_menu_texts(window, "file"))
    assert _menu_texts(window, "export") == [f"{title}…" for title in EXPORT_FORMATS.values()]
    edit = _menu_texts(window, "edit")
    for text in ("Cut", "Copy", "Paste", "Delete", "Select All", "Duplicate", "Add Qubit"):
        assert text in edit
    view = _menu_texts(window, "view")
    for text in ("Gate Palette", "Inspector", "State", "Dataset", "Training", "Zoom In", "Zoom Out", "Reset Layout"):
        assert text in view
    assert _menu_texts(window, "run")[:5] == ["Train", "Train Layerwise…", "Pause", "Stop", "Step"]
    assert "Manage Plugins…" in _menu_texts(window, "plugins")
    assert {"Documentation", "About QML Studio"} <= set(_menu_texts(window, "help"))


def test_run_actions_have_shortcuts_and_signals_for_the_training_dock(window: MainWindow, qtbot) -> None:
    keys = {k: window.named_actions[k].shortcut().toString() for k in ("run.train", "run.pause", "run.stop", "run.step")}
    assert keys == {"run.train": "F5", "run.pause": "F6", "run.stop": "Shift+F5", "run.step": "F10"}
    assert window.named_actions["run.train"].isEnabled()
    assert not window.named_actions["run.stop"].isEnabled()
    with qtbot.waitSignal(window.train_requested):
        window.named_actions["run.train"].trigger()

    window.set_run_state("running")
    assert not window.named_actions["run.train"].isEnabled()
    with qtbot.waitSignal(window.pause_requested):
        window.named_actions["run.pause"].trigger()
    window.set_run_state("paused")
    assert window.named_actions["run.pause"].text().replace("&", "") == "Resume"
    with qtbot.waitSignal(window.step_requested):
        window.named_actions["run.step"].trigger()
    with qtbot.waitSignal(window.stop_requested):
        window.named_actions["run.stop"].trigger()


def test_the_delete_key_deletes_the_selected_gates(window: MainWindow, project) -> None:
    count = len(project.circuit.gates)
    window.editor.scene.select_indices([0])
    window.canvas.setFocus()
    window.activateWindow()
    QTest.keyClick(window.canvas, Qt.Key.Key_Delete)
    assert len(project.circuit.gates) == count - 1
    assert window.named_actions["edit.undo"].text() == "&Undo Delete H"
    window.named_actions["edit.undo"].trigger()
    assert len(project.circuit.gates) == count


def test_edits_mark_the_project_unsaved_and_undo_names_them(window: MainWindow, project) -> None:
    assert not window.isWindowModified()
    window.editor.add_gate("rx", 0, 30)
    assert window.isWindowModified()
    assert window.named_actions["edit.undo"].text() == "&Undo Add RX"
    assert window.named_actions["edit.undo"].isEnabled()


def test_import_replaces_the_circuit_in_one_undo_step(window: MainWindow, project, tmp_path: Path) -> None:
    from qmlstudio.core.circuit import CircuitDesign

    other = CircuitDesign(3, [Gate("h", (0,), (), 0), Gate("cx", (0, 2), (), 1), Gate("ry", (1,), ("θ[0]",), 2)])
    path = export_circuit(other, tmp_path / "other.qasm")
    before = project.circuit.to_dict()

    assert window.import_circuit(path)

    assert project.circuit.num_qubits == 3 and len(project.circuit.gates) == 3
    assert len(window.editor.scene.gate_items()) == 3
    window.undo_stack.undo()
    assert project.circuit.to_dict() == before


def test_a_broken_circuit_file_is_reported_not_raised(window: MainWindow, project, qtbot, tmp_path: Path) -> None:
    broken = tmp_path / "broken.qasm"
    broken.write_text("OPENQASM 3.0; qubit[2] q; this is not qasm", encoding="utf-8")
    before = project.circuit.to_dict()
    assert not window.import_circuit(broken)
    qtbot.waitUntil(lambda: any(isinstance(w, QMessageBox) and w.objectName() == "errorMessageBox"
                                for w in QApplication.topLevelWidgets()))
    box = next(w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()
               and w.objectName() == "errorMessageBox")
    assert "broken.qasm" in box.text() and "Traceback" not in box.text()
    box.close()
    assert project.circuit.to_dict() == before


def test_export_writes_each_format(window: MainWindow, tmp_path: Path) -> None:
    for suffix in (".qasm", ".qpy", ".py"):
        assert window.export_circuit(tmp_path / f"circuit{suffix}")
        assert (tmp_path / f"circuit{suffix}").stat().st_size > 0


def test_manage_plugins_lists_every_plugin_and_a_change_refreshes_the_palette(window: MainWindow, registry,
                                                                              qtbot) -> None:
    window.named_actions["plugins.manage"].trigger()
    dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, PluginManagerDialog) and w.isVisible())
    names = {dialog.table.item(row, 0).text() for row in range(dialog.table.rowCount())}
    assert set(registry.plugins) == names

    palette = window.palette_widget
    palette.sections["template"][1].clear()  # as if the registry had had no templates
    dialog.plugins_changed.emit()
    assert palette.item_for("template", "real-amplitudes") is not None
    assert [a.text() for a in window.menus["insertTemplate"].actions()] == [
        spec.title for spec in registry.ansatze.values()]
    dialog.close()


def test_opened_and_saved_projects_appear_in_open_recent(window: MainWindow, tmp_path: Path) -> None:
    assert window.save_to(tmp_path / "first.qmls")
    assert window.save_to(tmp_path / "second.qmls")
    window.menus["recent"].aboutToShow.emit()
    texts = [a.text() for a in window.menus["recent"].actions() if not a.isSeparator()]
    assert texts[0].endswith("second.qmls") and texts[1].endswith("first.qmls")
    window.named_actions["file.clearRecent"].trigger()
    window.menus["recent"].aboutToShow.emit()
    assert "No recent projects" in [a.text() for a in window.menus["recent"].actions()]


def test_drop_handler_edits_the_window_project(window: MainWindow, project) -> None:
    """The editor's drop handler called directly (a real drag: test_palette_drag.py)."""
    from qmlstudio.gui.editor import PaletteEntry

    layout = window.editor.scene.layout
    from PySide6.QtCore import QPointF

    assert window.editor.drop(PaletteEntry("gate", "swap"), QPointF(layout.column_x(40), layout.wire_y(2)))
    assert project.circuit.gates[-1] == Gate("swap", (2, 3), (), 40)
    assert "23 gates" in window.summary_label.text()
