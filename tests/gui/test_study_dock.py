"""The Study dock, driven by real clicks and keys: vary, seeds, workers, run, cancel, resume."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from qmlstudio.gui.study_dock import StudyDock
from qmlstudio.workflow.projects import new_project


def _tiny(registry):
    return new_project(registry, name="tiny", dataset="moons", dataset_options={"samples": 40}, epochs=2,
                       batch_size=None)


def _type(qtbot, widget, text):
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    QTest.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(widget, text)


def _setup(qtbot, registry, seeds):
    project = _tiny(registry)
    dock = StudyDock(project)
    qtbot.addWidget(dock)
    dock.show()
    qtbot.waitExposed(dock)
    dock.variable.setFocus()
    # pick "encoding" in the combo with the keyboard (it is the first entry)
    QTest.keyClick(dock.variable, Qt.Key.Key_Home)
    assert dock.variable.currentText() == "encoding"
    _type(qtbot, dock.values, "angle,amplitude")
    qtbot.mouseClick(dock.add_button, Qt.MouseButton.LeftButton)
    _type(qtbot, dock.seeds, str(seeds))
    _type(qtbot, dock.workers, "0")  # in this process: no cluster to start in a GUI test
    assert dock.vary_list.count() == 1 and dock.seeds.value() == seeds and dock.workers.value() == 0
    return project, dock


def test_run_fills_the_table_live_with_baselines_and_verdicts(qtbot, registry):
    project, dock = _setup(qtbot, registry, 2)
    updates = []
    dock._relay.trial.connect(lambda *_: updates.append(dock.table.rowCount()))
    with qtbot.waitSignal(dock.state_changed, timeout=60000, check_params_cb=lambda s: s != "running"):
        qtbot.mouseClick(dock.run_button, Qt.MouseButton.LeftButton)
    assert len(updates) == 4  # one refresh per finished trial
    study = project.studies[0]
    assert len(study["trials"]) == 4 and project.dirty
    texts = [[dock.table.item(r, c).text() for c in range(4)] for r in range(dock.table.rowCount())]
    assert texts[0][0] == "encoding=angle" and texts[0][1] == "2" and "±" in texts[0][2]
    assert any(row[0].strip() == "RBF SVM" for row in texts)
    assert "paired t" in texts[0][3] or "no difference" in texts[0][3]


def test_cancel_keeps_finished_trials_and_run_resumes(qtbot, registry):
    project, dock = _setup(qtbot, registry, 3)
    dock._relay.trial.connect(lambda *_: qtbot.mouseClick(dock.cancel_button, Qt.MouseButton.LeftButton)
                              if dock.cancel_button.isEnabled() and len(project.studies[0]["trials"]) == 1 else None)
    with qtbot.waitSignal(dock.state_changed, timeout=60000, check_params_cb=lambda s: s != "running") as blocker:
        qtbot.mouseClick(dock.run_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["cancelled"]
    kept = len(project.studies[0]["trials"])
    assert 1 <= kept < 6
    with qtbot.waitSignal(dock.state_changed, timeout=60000, check_params_cb=lambda s: s != "running") as blocker:
        qtbot.mouseClick(dock.run_button, Qt.MouseButton.LeftButton)
    assert blocker.args == ["finished"]
    pairs = [(t["config_key"], t["seed"]) for t in project.studies[0]["trials"]]
    assert len(pairs) == 6 and len(set(pairs)) == 6


def test_the_window_has_the_study_dock(window):
    dock = window.docks["studyDock"].widget()
    # In a scroll area, as the training dashboard is, so that it never squeezes the canvas.
    assert dock.widget() is window.study_dock
