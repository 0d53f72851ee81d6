"""Before a run: hidden qubits become visible wires, and a circuit too big to simulate gets a dialog.

Driven through the real Train button and the dialog's real buttons (``qtbot.mouseClick``),
on the main window, as a newcomer meets them: iris (4 features) on a 3-qubit circuit, and
digits (64 features) under angle encoding.
"""

from __future__ import annotations

import gc
from typing import Any, Iterator

import pytest
from PySide6.QtCore import Qt

from qmlstudio.core.project import ModelChoice, Project
from qmlstudio.gui.main_window import MainWindow
from qmlstudio.gui.training_dock import IDLE
from qmlstudio.workflow import new_project

TIMEOUT = 30_000


def iris_on_three_qubits(registry: Any) -> Project:
    """Iris (4 features, angle encoding) on a real-amplitudes circuit of 3 qubits."""
    project = new_project(registry, name="iris on 3 qubits", dataset="iris", epochs=100_000)
    built = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options).build(3)
    project.circuit.set_gates(built.gates, 3)
    project.model = ModelChoice("vqc", {"baselines": False})
    project.mark_saved()
    return project


def digits_project(registry: Any) -> Project:
    """Digits (64 features) under angle encoding: a 64-qubit model."""
    project = new_project(registry, name="digits", dataset="digits", epochs=100_000)
    project.model = ModelChoice("vqc", {"baselines": False})
    project.mark_saved()
    return project


def open_window(qtbot, project: Project, registry: Any) -> MainWindow:
    # Windows of earlier tests are garbage now: collect them here, on the GUI thread. Left to
    # the collector, they could be freed on the training thread, and a QObject deleted there
    # while this thread deletes another deadlocks on Qt's signal-slot locks.
    gc.collect()
    window = MainWindow(project, registry=registry)
    window.close_without_asking = True
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.project_data.data is not None, timeout=TIMEOUT)
    return window


@pytest.fixture
def stop_training() -> Iterator[list[MainWindow]]:
    windows: list[MainWindow] = []
    yield windows
    for window in windows:
        window.training_dock.shutdown()


def test_iris_on_three_qubits_trains_on_the_wires_the_canvas_shows(qtbot, registry, stop_training) -> None:
    project = iris_on_three_qubits(registry)
    window = open_window(qtbot, project, registry)
    stop_training.append(window)
    view = window.state_view
    # Before training: the state view does not draw a fourth wire the canvas lacks.
    view.recompute()
    assert view.chart.probabilities is None or view.chart.num_qubits == 3
    assert "needs 4 qubits" in view.chart.message or "needs 4 qubits" in view.caption.text()
    assert window.canvas.scene().layout.num_qubits == 3

    dock = window.training_dock
    qtbot.mouseClick(dock.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dock.worker is not None and dock.worker.setup is not None, timeout=TIMEOUT)
    model_qubits = dock.worker.setup.num_qubits  # the run trains in another process: what it said
    assert model_qubits == 4
    assert project.circuit.num_qubits == 4
    assert window.canvas.scene().layout.num_qubits == 4
    assert window.editor.figures.values["qubits"].text() == "4"
    qtbot.waitUntil(lambda: view.chart.probabilities is not None and view.chart.num_qubits == 4, timeout=TIMEOUT)
    assert "added 1 qubit (q3)" in window.statusBar().currentMessage()
    assert window.undo_stack.undoText() == "Add 1 qubit for the angle encoding"

    qtbot.waitUntil(lambda: dock.live_curves is not None and dock.live_curves.rows > 0, timeout=TIMEOUT)
    with qtbot.waitSignal(dock.run_finished, timeout=TIMEOUT) as finished:
        qtbot.mouseClick(dock.stop_button, Qt.MouseButton.LeftButton)
    assert finished.args[0].config["circuit"]["num_qubits"] == 4
    qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
    # The wire was an edit like any other: Undo takes it away again.
    window.canvas.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert project.circuit.num_qubits == 3 and window.canvas.scene().layout.num_qubits == 3


@pytest.mark.parametrize("kind", ["pca", "encoding"])
def test_digits_under_angle_encoding_gets_a_dialog_whose_fix_starts_training(qtbot, registry, stop_training,
                                                                             kind: str) -> None:
    project = digits_project(registry)
    window = open_window(qtbot, project, registry)
    stop_training.append(window)
    dock = window.training_dock
    qtbot.mouseClick(dock.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.preflight.dialog is not None and window.preflight.dialog.isVisible(), timeout=TIMEOUT)
    dialog = window.preflight.dialog
    assert dock.worker is None and dock.state == IDLE  # nothing was simulated
    assert "64 qubits" in dialog.text()
    assert "2<sup>64</sup> = 18,446,744,073,709,551,616 amplitudes" in dialog.informativeText()
    assert "EiB" in dialog.informativeText() and "available" in dialog.informativeText()
    titles = [button.text() for button in dialog.buttons_by_fix]
    assert titles == ["Reduce to 8 features with PCA", "Use amplitude encoding (6 qubits)"]

    button = dialog.findChild(type(dialog.buttons_by_fix[0]), f"fix_{kind}")
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dock.worker is not None, timeout=TIMEOUT)
    assert window.statusBar().currentMessage().startswith(f"Training started · {button.text()}: the circuit now has")
    if kind == "pca":
        assert project.preprocessing.pca == 8 and project.encoding.name == "angle"
        assert project.circuit.num_qubits == 8
    else:
        assert project.preprocessing.pca is None and project.encoding.name == "amplitude"
        assert project.circuit.num_qubits == 6
    with qtbot.waitSignal(dock.run_finished, timeout=TIMEOUT) as finished:
        qtbot.waitUntil(lambda: dock.live_curves is not None and dock.live_curves.rows > 0, timeout=TIMEOUT)
        qtbot.mouseClick(dock.stop_button, Qt.MouseButton.LeftButton)
    record = finished.args[0]
    assert record.num_points > 0 and record.config["circuit"]["num_qubits"] == project.circuit.num_qubits
    qtbot.waitUntil(lambda: dock.state == IDLE, timeout=5000)
    # One Undo takes the whole fix back.
    window.undo_stack.undo()
    assert project.circuit.num_qubits == 64 and project.preprocessing.pca is None
    assert project.encoding.name == "angle"


def test_cancel_leaves_the_project_as_it_was(qtbot, registry) -> None:
    project = digits_project(registry)
    window = open_window(qtbot, project, registry)
    before = project.to_dict()
    qtbot.mouseClick(window.training_dock.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.preflight.dialog is not None and window.preflight.dialog.isVisible(), timeout=TIMEOUT)
    qtbot.mouseClick(window.preflight.dialog.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.preflight.dialog is None, timeout=5000)
    assert window.training_dock.worker is None
    after = project.to_dict()
    assert {k: v for k, v in after.items() if k != "modified"} == {k: v for k, v in before.items() if k != "modified"}


def test_with_padding_the_views_show_the_padded_features_training_uses(qtbot, registry) -> None:
    """Zero padding fills the circuit's width: the canvas's encoding block, the state view and the
    run see the same (padded) features, also after the circuit gets wider."""
    import dataclasses

    from qmlstudio.workflow import build_run

    project = iris_on_three_qubits(registry)
    built = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options).build(6)
    project.circuit.set_gates(built.gates, 6)
    project.preprocessing = dataclasses.replace(project.preprocessing, padding=True)
    project.encoding = dataclasses.replace(project.encoding, options={**project.encoding.options, "hadamard": True})
    window = open_window(qtbot, project, registry)
    trained = build_run(project, registry)
    assert trained.data.num_features == 6
    qtbot.waitUntil(lambda: window.project_data.num_features == 6, timeout=TIMEOUT)
    encoding = window.canvas.scene().encoding_design
    assert encoding is not None and encoding.num_inputs == 6 == trained.model.encoding_design.num_inputs
    window.state_view.recompute()
    assert window.state_view.chart.num_qubits == 6
    # A wire more: the padding grows with it, in the views as in training.
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Down,
                   Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)  # Edit ▸ Add Qubit
    assert project.circuit.num_qubits == 7
    qtbot.waitUntil(lambda: window.project_data.num_features == 7, timeout=TIMEOUT)
    assert build_run(project, registry).data.num_features == 7
    qtbot.waitUntil(lambda: window.canvas.scene().encoding_design.num_inputs == 7, timeout=TIMEOUT)
