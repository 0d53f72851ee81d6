"""The Study dock, driven by real clicks and keys: vary, seeds, workers, run, cancel, resume."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from qmlstudio.gui.study_dock import StudyDock
from qmlstudio.workflow.projects import new_project


def _tiny(registry, baselines=True):
    return new_project(registry, name="tiny", dataset="moons", dataset_options={"samples": 40}, epochs=2,
                       batch_size=None, model_options={"baselines": baselines})


def _type(qtbot, widget, text):
    qtbot.mouseClick(widget, Qt.MouseButton.LeftButton)
    QTest.keyClick(widget, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(widget, text)


def _setup(qtbot, registry, seeds, baselines=True):
    project = _tiny(registry, baselines)
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


def _items(plot, prefix):
    """The dock's plot items whose role starts with prefix: {role: item}."""
    return {i.study_role: i for i in plot.getPlotItem().items
            if getattr(i, "study_role", "").startswith(prefix)}


def _points(item):
    return len(item.getData()[1])


def test_run_fills_the_table_live_with_baselines_and_verdicts(qtbot, registry):
    project, dock = _setup(qtbot, registry, 2)
    updates = []
    live_points = []
    dock._relay.trial.connect(lambda *_: updates.append(dock.table.rowCount()))
    dock._relay.trial.connect(lambda *_: live_points.append(
        sum(_points(i) for i in _items(dock.plot, "strip:").values() if i.study_role.endswith(":quantum"))))
    with qtbot.waitSignal(dock.state_changed, timeout=60000, check_params_cb=lambda s: s != "running"):
        qtbot.mouseClick(dock.run_button, Qt.MouseButton.LeftButton)
    assert len(updates) == 4  # one refresh per finished trial
    study = project.studies[0]
    assert len(study["trials"]) == 4 and project.dirty
    texts = [[dock.table.item(r, c).text() for c in range(4)] for r in range(dock.table.rowCount())]
    assert texts[0][0] == "encoding=angle" and texts[0][1] == "2" and "±" in texts[0][2]
    assert any(row[0].strip() == "RBF SVM" for row in texts)
    assert "paired t" in texts[0][3] or "no difference" in texts[0][3]
    # the strip plot grew by one quantum point per finished trial, live
    assert live_points == [1, 2, 3, 4]
    # per configuration: the quantum model's 2 seeds and each baseline's 2 seeds, at the scores recorded
    strips = _items(dock.plot, "strip:")
    names = sorted(study["trials"][0]["baselines"])
    keys = sorted({t["config_key"] for t in study["trials"]})
    assert set(strips) == {f"strip:{k}:{n}" for k in keys for n in ["quantum", *names]}
    for k in keys:
        mine = [t for t in study["trials"] if t["config_key"] == k]
        assert sorted(strips[f"strip:{k}:quantum"].getData()[1]) == sorted(t["test_accuracy"] for t in mine)
        assert sorted(strips[f"strip:{k}:RBF SVM"].getData()[1]) == sorted(t["baselines"]["RBF SVM"] for t in mine)
    # a seed-averaged curve and its band per configuration; the curve is the mean of the seeds' curves
    curves, bands = _items(dock.curves, "curve:"), _items(dock.curves, "band:")
    assert set(curves) == {f"curve:{k}" for k in keys} and set(bands) == {f"band:{k}" for k in keys}
    k = keys[0]
    seeds_curves = [t["curve"] for t in study["trials"] if t["config_key"] == k]
    n = min(len(c) for c in seeds_curves)
    ys = curves[f"curve:{k}"].getData()[1]
    for step in range(n):
        assert ys[step] == pytest.approx(sum(c[step] for c in seeds_curves) / len(seeds_curves))


def test_cancel_keeps_finished_trials_and_run_resumes(qtbot, registry):
    project, dock = _setup(qtbot, registry, 3, baselines=False)  # the baselines take most of a trial's time
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


def test_opening_the_study_tab_starts_the_local_workers_server(window, qtbot):
    """Clicking the Study tab (real mouse) starts the fork server of the local Dask workers in
    the background, so that Run starts its workers in a fraction of a second."""
    import psutil
    from PySide6.QtWidgets import QTabBar

    dock = window.study_dock
    assert dock.visibleRegion().isEmpty() and not dock._workers_started  # behind the Dataset tab
    bar = next(b for b in window.findChildren(QTabBar) if "Study" in [b.tabText(i) for i in range(b.count())])
    index = [bar.tabText(i) for i in range(bar.count())].index("Study")
    qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
    qtbot.waitUntil(lambda: not dock.visibleRegion().isEmpty(), timeout=3000)
    assert dock._workers_started

    def servers():
        return [p for p in psutil.Process().children() if "multiprocessing.forkserver" in " ".join(p.cmdline())]

    qtbot.waitUntil(lambda: len(servers()) == 1, timeout=10000)
