"""The main window: title, menus and shortcuts, docks, About, settings, and starting the app."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import PySide6
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMessageBox

import qmlstudio
from qmlstudio.core.circuit import Gate
from qmlstudio.core.project import save_project
from qmlstudio.gui.app import run_gui
from qmlstudio.gui.main_window import MainWindow, new_project

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKS = ("gatePaletteDock", "inspectorDock", "stateDock", "datasetDock", "trainingDock", "settingsDock", "studyDock")
#: Docks that share an area as tabs (dataset and training at the bottom, the settings behind the
#: inspector): the one raised shows, the others are hidden behind it.
TABBED_DOCKS = ("datasetDock", "trainingDock", "settingsDock", "studyDock")


def _message_boxes(name: str) -> list[QMessageBox]:
    return [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.objectName() == name]


# ------------------------------------------------------------------ title and status
def test_title_names_the_project_and_marks_unsaved_changes(window: MainWindow, project) -> None:
    assert window.windowTitle() == "demo[*] — QML Studio"
    assert not window.isWindowModified()

    project.circuit.add_gate(Gate("rx", (0,), ("θ[8]",), column=20))

    assert window.isWindowModified()
    project.name = "moons classifier"
    assert window.windowTitle() == "moons classifier[*] — QML Studio"


def test_status_bar_and_canvas_follow_the_circuit(window: MainWindow, project) -> None:
    summary = window.findChild(type(window.summary_label), "projectSummary")
    assert summary is window.summary_label
    assert "4 qubits" in summary.text() and "22 gates" in summary.text()
    assert "8 trainable weights" in summary.text() and "4 data inputs" in summary.text()
    items = window.editor.scene.gate_items()
    assert [item.gate for item in items] == list(project.circuit.gates)

    project.circuit.add_gate(Gate("rx", (0,), ("θ[8]",), column=20))

    assert "23 gates" in summary.text() and "9 trainable weights" in summary.text()
    assert window.editor.scene.gate_items()[-1].gate == Gate("rx", (0,), ("θ[8]",), column=20)
    assert window.editor.figures.values["gates"].text() == "23"


def test_an_empty_circuit_has_an_empty_canvas(qtbot) -> None:
    win = MainWindow(new_project())
    qtbot.addWidget(win)
    assert win.editor.scene.gate_items() == []
    assert win.editor.figures.values["gates"].text() == "0"
    assert win.windowTitle() == "Untitled project[*] — QML Studio"


# ------------------------------------------------------------------ menus and actions
def test_menus_are_in_order(window: MainWindow) -> None:
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Run", "Plugins", "Analysis", "Help"]


@pytest.mark.parametrize(
    "key, standard",
    [
        ("file.new", QKeySequence.StandardKey.New),
        ("file.open", QKeySequence.StandardKey.Open),
        ("file.save", QKeySequence.StandardKey.Save),
        ("file.saveAs", QKeySequence.StandardKey.SaveAs),
        ("file.quit", QKeySequence.StandardKey.Quit),
        ("edit.undo", QKeySequence.StandardKey.Undo),
        ("edit.redo", QKeySequence.StandardKey.Redo),
        ("edit.copy", QKeySequence.StandardKey.Copy),
        ("edit.paste", QKeySequence.StandardKey.Paste),
    ],
)
def test_actions_have_the_standard_shortcuts(window: MainWindow, key: str, standard) -> None:
    assert window.named_actions[key].shortcut() == QKeySequence(standard)


def test_every_action_has_a_tooltip_and_sits_in_a_menu(window: MainWindow) -> None:
    in_menus = {a for menu in window.menus.values() for a in menu.actions()}
    for key, action in window.named_actions.items():
        assert action.toolTip().strip(), key
        assert action in in_menus, f"{key} is in no menu"


def test_shortcuts_are_unique(window: MainWindow) -> None:
    seen: dict[str, str] = {}
    for key, action in window.named_actions.items():
        shortcut = action.shortcut().toString()
        if shortcut:
            assert shortcut not in seen, f"{key} and {seen[shortcut]} share {shortcut}"
            seen[shortcut] = key


def test_undo_follows_the_undo_stack(window: MainWindow) -> None:
    assert not window.named_actions["edit.undo"].isEnabled()
    assert not window.named_actions["edit.redo"].isEnabled()


def test_quit_closes_the_window(window: MainWindow, qtbot) -> None:
    window.named_actions["file.quit"].trigger()
    qtbot.waitUntil(lambda: not window.isVisible())


# ---------------------------------------------------------------------------- docks
def test_docks_exist_and_placeholders_say_what_comes(window: MainWindow) -> None:
    for name in DOCKS:
        dock = window.findChild(QDockWidget, name)
        assert dock is not None, name
        assert dock.isVisible() or name in TABBED_DOCKS
        assert dock.toggleViewAction().isChecked()
    assert window.tabifiedDockWidgets(window.docks["datasetDock"]) == [window.docks["trainingDock"],
                                                                       window.docks["studyDock"]]
    assert window.docks["datasetDock"].widget().objectName() == "datasetPanel"
    assert window.docks["trainingDock"].widget().widget() is window.training_dock
    names = {entry.name for entry in window.docks["gatePaletteDock"].widget().entries()}
    assert {"cx", "ry", "ccx", "real-amplitudes", "angle"} <= names


@pytest.mark.parametrize("name", DOCKS)
def test_view_menu_toggles_each_dock(window: MainWindow, qtbot, name: str) -> None:
    dock = window.findChild(QDockWidget, name)
    toggle = next(a for a in window.menus["view"].actions() if a.objectName() == f"view_{name}Action")
    assert toggle.isChecked()

    toggle.trigger()
    qtbot.waitUntil(lambda: not dock.isVisible())
    assert not toggle.isChecked()

    toggle.trigger()
    qtbot.waitUntil(dock.isVisible)
    assert toggle.isChecked()


def test_reset_layout_brings_back_closed_docks(window: MainWindow, qtbot) -> None:
    for dock in window.docks.values():
        dock.close()
    window.named_actions["view.resetLayout"].trigger()
    qtbot.waitUntil(lambda: all(d.isVisible() for d in window.docks.values()))


def test_geometry_and_dock_state_are_restored(qtbot, project, config_dir: Path) -> None:
    first = MainWindow(project)
    qtbot.addWidget(first)
    first.show()
    qtbot.waitExposed(first)
    first.resize(760, 540)  # the offscreen screen is 800×600; restoring clamps to it
    first.docks["trainingDock"].close()
    qtbot.waitUntil(lambda: not first.docks["trainingDock"].isVisible())
    size = first.size()
    first.close()
    assert (config_dir / "gui.ini").exists()

    second = MainWindow(project)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    assert second.size() == size
    assert not second.docks["trainingDock"].isVisible()
    assert second.docks["datasetDock"].isVisible()


def test_a_damaged_settings_file_gives_the_default_layout(qtbot, project, config_dir: Path) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "gui.ini").write_bytes(b"[mainWindow]\ngeometry=garbage\nstate=@ByteArray(\\x1\\x2)\n")
    win = MainWindow(project)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    assert all(d.isVisible() for d in win.docks.values())


# ---------------------------------------------------------------------------- About
def test_about_shows_the_versions(window: MainWindow, qtbot) -> None:
    window.named_actions["help.about"].trigger()
    qtbot.waitUntil(lambda: bool(_message_boxes("aboutBox")))
    box = _message_boxes("aboutBox")[0]
    text = box.text()
    assert qmlstudio.__version__ in text
    assert metadata.version("qiskit") in text
    assert metadata.version("qiskit-aer") in text
    assert PySide6.__version__ in text
    for name in ("QML Studio", "qiskit", "qiskit-aer", "PySide6"):
        assert name in text
    box.close()


# ------------------------------------------------------------------- opening, saving
def test_open_a_broken_file_shows_why_and_keeps_the_project(window: MainWindow, project, qtbot, tmp_path) -> None:
    broken = tmp_path / "broken.qmls"
    broken.write_text('{"schema_version": 1, "name": ', encoding="utf-8")

    assert window.open_project(broken) is False

    qtbot.waitUntil(lambda: bool(_message_boxes("errorMessageBox")))
    box = _message_boxes("errorMessageBox")[0]
    assert "broken.qmls" in box.text() and "Traceback" not in box.text()
    assert window.project is project
    box.close()


def test_save_then_open_round_trips(window: MainWindow, project, tmp_path) -> None:
    project.circuit.add_gate(Gate("rx", (0,), ("θ[8]",), column=20))
    target = tmp_path / "saved.qmls"

    assert window.save_to(target)
    assert target.exists() and not window.isWindowModified()

    assert window.open_project(target)
    assert window.project is not project
    assert window.project.circuit == project.circuit
    assert window.project_path == target


# -------------------------------------------------------------------------- run_gui
def test_run_gui_quits_by_itself_with_exit_code_0(qapp) -> None:
    assert run_gui(quit_after_ms=200) == 0


def test_run_gui_reports_a_bad_project_and_opens_a_new_one(qapp, tmp_path) -> None:
    bad = tmp_path / "not-a-project.qmls"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n....")
    seen: dict[str, object] = {}

    def look() -> None:
        boxes = _message_boxes("errorMessageBox")
        seen["message"] = boxes[0].text() if boxes else None
        windows = [w for w in QApplication.topLevelWidgets() if isinstance(w, MainWindow) and w.isVisible()]
        seen["title"] = windows[0].windowTitle() if windows else None

    QTimer.singleShot(150, look)
    assert run_gui(str(bad), quit_after_ms=400) == 0
    assert "not-a-project.qmls" in str(seen["message"]) and "PNG" in str(seen["message"])
    assert seen["title"] == "Untitled project[*] — QML Studio"


def _run_python(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environment = dict(os.environ)
    environment.update(QT_QPA_PLATFORM="offscreen", QMLSTUDIO_CONFIG_DIR=str(tmp_path / "config"), **env)
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), environment.get("PYTHONPATH")]))
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=environment, cwd=tmp_path
    )


def test_the_window_opens_and_closes_in_a_fresh_process(tmp_path) -> None:
    done = _run_python(
        "from qmlstudio.gui.app import run_gui; raise SystemExit(run_gui(quit_after_ms=300))", tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_a_broken_project_in_a_fresh_process_gives_no_traceback(tmp_path) -> None:
    broken = tmp_path / "broken.qmls"
    broken.write_text("{ this is not json", encoding="utf-8")
    done = _run_python(
        f"from qmlstudio.gui.app import run_gui; raise SystemExit(run_gui({str(broken)!r}))",
        tmp_path,
        QMLSTUDIO_QUIT_AFTER_MS="300",
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr


def test_a_project_saved_by_core_opens_in_the_window(qtbot, project, tmp_path) -> None:
    path = save_project(project, tmp_path / "demo.qmls")
    win = MainWindow()
    qtbot.addWidget(win)
    assert win.open_project(path)
    assert win.windowTitle() == "demo[*] — QML Studio"
    assert "22 gates" in win.summary_label.text()
