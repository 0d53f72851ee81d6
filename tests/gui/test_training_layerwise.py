"""Layerwise training from the training dock, under real clicks and keys (issue 19, point 2).

The dock's *Layerwise…* button (and Ctrl+F5) opens the dialog; the test types the epochs into
its spin boxes and presses Enter. The phases then run in the dock's child training process,
one after another, and the layer strip and the plots follow the circuit as it grows. The final
weights are compared with the same schedule run by :func:`qmlstudio.workflow.layerwise.run_layerwise`
(what ``qmlstudio train --layerwise`` runs).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication

import qmlstudio.gui  # noqa: F401
from qmlstudio.core.project import ModelChoice, PluginChoice, Project, load_project, save_project
from qmlstudio.gui.training_dock import IDLE, TrainingDock
from qmlstudio.gui.training_layerwise import ALL, KEPT, TRAINING, WAITING
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow.layerwise import phases, run_layerwise

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo.qmls"


@pytest.fixture(scope="module")
def registry() -> Any:
    return load_plugins()


def three_layer_project(tmp_path: Path, registry: Any) -> Project:
    """The demo project (moons, 2 qubits) with real-amplitudes of 3 repetitions."""
    path = tmp_path / "demo.qmls"
    shutil.copy(DEMO, path)
    project = load_project(path)
    project.model = ModelChoice(project.model.kind, {**project.model.options, "baselines": False})
    spec = registry.get("ansatze", "real-amplitudes")
    options = {**project.ansatz.options, "reps": 3}
    project.ansatz = PluginChoice("real-amplitudes", options)
    project.circuit = spec.create(options).build(project.circuit.num_qubits)
    save_project(project)
    return project


def make_dock(qtbot, project: Project, registry: Any) -> TrainingDock:
    dock = TrainingDock(project, registry)
    qtbot.addWidget(dock)
    dock.resize(1300, 860)
    dock.show()
    qtbot.waitExposed(dock)
    return dock


def answer_dialog(qtbot, dock: TrainingDock, per_layer: str, then_all: str, seen: dict[str, Any]) -> None:
    """When the dialog is up: types the epochs into its spin boxes and presses Enter (Train)."""

    def answer() -> None:
        dialog = dock.layerwise_dialog
        if dialog is None or not dialog.isVisible():
            QTimer.singleShot(20, answer)
            return
        for spin, text in ((dialog.per_layer, per_layer), (dialog.then_all, then_all)):
            qtbot.mouseClick(spin.lineEdit(), Qt.MouseButton.LeftButton)
            qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
            qtbot.keyClicks(spin.lineEdit(), text)
        seen["summary"] = dialog.summary.text()
        seen["ok"] = dialog.buttons.buttons()[0].isEnabled()
        qtbot.keyClick(dialog, Qt.Key.Key_Return)

    QTimer.singleShot(0, answer)


def test_layerwise_from_the_dock_grows_the_circuit_live_and_trains_as_the_engine_does(qtbot, tmp_path: Path,
                                                                                      registry: Any) -> None:
    project = three_layer_project(tmp_path, registry)
    dock = make_dock(qtbot, project, registry)
    strips: list[list[str]] = []
    captions: list[str] = []
    dock.run_started.connect(lambda _id: (strips.append(list(dock.layer_strip.states)),
                                          captions.append(dock.layer_strip.caption)))
    seen: dict[str, Any] = {}
    answer_dialog(qtbot, dock, "2", "1", seen)
    qtbot.mouseClick(dock.layerwise_button, Qt.MouseButton.LeftButton)
    assert seen["ok"] and "3 phases of 2 epochs" in seen["summary"] and "every weight for 1" in seen["summary"]
    assert dock.layer_strip.isVisible()
    qtbot.waitUntil(lambda: len(project.runs) == 4 and dock.state == IDLE and dock.worker is None, timeout=90_000)
    try:
        # The strip, as each phase started: the layer in training, those kept, those to come.
        assert strips == [[TRAINING, WAITING, WAITING], [KEPT, TRAINING, WAITING], [KEPT, KEPT, TRAINING], [ALL, ALL, ALL]]
        assert captions[1] == "Layerwise · phase 2 of 4 · 2 of 3 layers · training the new layer"
        assert dock.layer_strip.caption == "Layerwise training done: 4 phases, 3 layers"
        assert dock.layer_strip.states == [KEPT, KEPT, KEPT]
        # Pointing at a layer says when it was trained.
        second = dock.layer_strip._boxes()[1].center().toPoint()
        qtbot.mouseMove(dock.layer_strip, second)
        qtbot.waitUntil(lambda: dock.layer_strip.toolTip().startswith("Layer 2: trained in phase 2 (loss "), timeout=3000)
        runs = project.runs
        assert [r.status for r in runs] == ["completed"] * 4
        assert [r.config["layerwise"]["layers"] for r in runs] == [1, 2, 3, 3]
        assert [r.config["layerwise"]["trains"] for r in runs] == ["every weight", "the new layer", "the new layer",
                                                                   "every weight"]
        # Each phase starts from the last one's weights, its new layer at 0; the kept ones stay.
        for before, after in zip(runs[:2], runs[1:3]):
            count = before.config["layerwise"]["weights"]
            grown = after.config["layerwise"]["weights"]
            assert after.initial_weights[:count] == before.final_weights[:count]
            assert after.initial_weights[count:grown] == [0.0] * (grown - count)
            assert after.final_weights[:count] == before.final_weights[:count]
        # The plots: one curve per phase, each drawn after the phase before on one axis.
        ends = []
        for run in runs:
            x, y = dock.loss_plot.curves[(run.id, "loss")].getData()
            assert len(x) == len(run.metrics["loss"]) and np.all(np.isfinite(y))
            ends.append((x[0], x[-1]))
        assert ends[0][0] == 1
        for (_, last), (first, _) in zip(ends, ends[1:]):
            assert first == last + 1
        # The legend names each phase once (its colour), and the metrics once, by the last phase's lines.
        labels = [label.text for _, label in dock.loss_plot.legend.items]
        assert labels[:4] == ["1 layer", "2 layers", "3 layers", "3 layers, all"]
        names = [spec.name for spec in dock.loss_plot.specs]
        assert labels[4:] and set(labels[4:]) <= set(names[1:]), (labels, names)
        assert dock.train_button.isEnabled() and dock.layerwise_button.isEnabled()
        # The same schedule through the engine's own loop (the CLI's): the same weights.
        fresh = three_layer_project(tmp_path / "engine", registry) if (tmp_path / "engine").mkdir() is None else None
        records = list(run_layerwise(fresh, registry, phases(fresh, registry, 2, 1)))
        for gui, engine in zip(runs, records):
            np.testing.assert_allclose(gui.final_weights, engine.final_weights, rtol=0, atol=1e-12)
        # A plain run afterwards trains the full circuit, and the strip of the schedule goes.
        with qtbot.waitSignal(dock.run_finished, timeout=30_000) as finished:
            qtbot.mouseClick(dock.train_button, Qt.MouseButton.LeftButton)
        assert "layerwise" not in finished.args[0].config and not dock.layer_strip.isVisible()
    finally:
        dock.shutdown()


def test_a_circuit_that_cannot_grow_is_refused_in_the_dialog_and_ctrl_f5_opens_it(qtbot, tmp_path: Path,
                                                                                 registry: Any) -> None:
    project = three_layer_project(tmp_path, registry)
    project.circuit = dataclasses.replace(project.circuit, gates=project.circuit.gates[:-1])  # edited by hand
    dock = make_dock(qtbot, project, registry)
    seen: dict[str, Any] = {}

    def look() -> None:
        dialog = dock.layerwise_dialog
        if dialog is None or not dialog.isVisible():
            QTimer.singleShot(20, look)
            return
        seen["summary"] = dialog.summary.text()
        seen["ok"] = dialog.buttons.buttons()[0].isEnabled()
        qtbot.keyClick(dialog, Qt.Key.Key_Escape)

    QTimer.singleShot(0, look)
    dock.activateWindow()
    qtbot.waitUntil(lambda: QApplication.focusWidget() is not None and dock.isAncestorOf(QApplication.focusWidget()))
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F5, Qt.KeyboardModifier.ControlModifier)
    try:
        assert "Cannot train layerwise" in seen["summary"] and "edited" in seen["summary"]
        assert seen["ok"] is False
        assert project.runs == [] and dock.worker is None and not dock.layer_strip.isVisible()
    finally:
        dock.shutdown()


def test_stop_ends_the_schedule_and_keeps_the_phase_so_far(qtbot, tmp_path: Path, registry: Any) -> None:
    project = three_layer_project(tmp_path, registry)
    dock = make_dock(qtbot, project, registry)
    answer_dialog(qtbot, dock, "3000", "0", {})
    qtbot.mouseClick(dock.layerwise_button, Qt.MouseButton.LeftButton)
    try:
        qtbot.waitUntil(lambda: dock.live_curves is not None and dock.live_curves.rows > 2, timeout=30_000)
        with qtbot.waitSignal(dock.run_finished, timeout=20_000):
            qtbot.mouseClick(dock.stop_button, Qt.MouseButton.LeftButton)
        QApplication.processEvents()
        qtbot.waitUntil(lambda: dock.state == IDLE and dock.worker is None, timeout=10_000)
        qtbot.wait(200)  # no next phase may start
        assert [r.status for r in project.runs] == ["stopped"]
        assert dock.worker is None
        assert dock.layer_strip.caption == "Layerwise training stopped in phase 1 of 3; 1 phase kept"
        assert dock.train_button.isEnabled()
    finally:
        dock.shutdown()
