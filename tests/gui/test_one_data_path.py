"""Issue 17: one data path. For a padded amplitude-encoding project, the canvas's encoding
block, the state view and training see the same padded features (and the same starting
weights), checked against an independent reference: the preprocessing called directly and
qiskit's ``Statevector`` of the normalised padded sample."""

from __future__ import annotations

import dataclasses
import gc

import numpy as np
from PySide6.QtCore import Qt
from qiskit.quantum_info import Statevector

from qmlstudio.core.preprocessing import prepare
from qmlstudio.core.project import ModelChoice
from qmlstudio.gui.main_window import MainWindow
from qmlstudio.workflow import build_run, load_dataset, new_project

TIMEOUT = 60_000


def test_canvas_state_view_and_training_see_the_same_padded_amplitude_features(qtbot, registry) -> None:
    # Iris has 4 features: amplitude encoding puts them on 2 qubits. On a 3-qubit circuit
    # with padding on, the data gets 4 zero features more (8 amplitudes: 3 qubits, 7 angles).
    project = new_project(registry, name="padded amplitudes", dataset="iris", encoding="amplitude", epochs=2)
    built = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options).build(3)
    project.circuit.set_gates(built.gates, 3)
    project.preprocessing = dataclasses.replace(project.preprocessing, padding=True)
    project.model = ModelChoice("vqc", {"baselines": False})
    project.mark_saved()

    # The independent reference: the engine's preprocessing asked for 8 features directly.
    reference = prepare(load_dataset(project, registry), project.preprocessing, project.seed, pad_to=8)
    assert reference.num_features == 8 and np.all(reference.x_train[:, 4:] == 0)

    run = build_run(project, registry)  # what training uses
    assert run.data.num_features == 8 and run.model.num_qubits == 3
    np.testing.assert_array_equal(run.data.x_train, reference.x_train)

    gc.collect()
    window = MainWindow(project, registry=registry)
    window.close_without_asking = True
    qtbot.addWidget(window)
    window.resize(1400, 900)
    window.show()
    qtbot.waitExposed(window)
    qtbot.waitUntil(lambda: window.project_data.num_features == 8, timeout=TIMEOUT)
    np.testing.assert_array_equal(window.project_data.data.x_train, reference.x_train)

    # The canvas's encoding block: 2³ − 1 = 7 angles on 3 wires (unpadded it would be 3 on 2).
    qtbot.waitUntil(lambda: window.canvas.scene().encoding_design is not None, timeout=TIMEOUT)
    encoding = window.canvas.scene().encoding_design
    assert encoding.num_inputs == 7 == run.model.encoding_design.num_inputs
    assert encoding.num_qubits == 3

    # The state view, sample 3 chosen with the keyboard, at the initial weights.
    view = window.state_view
    qtbot.waitUntil(lambda: view.isVisible() and view.probabilities is not None, timeout=TIMEOUT)
    assert view.weights.currentData() == "initial"
    view.sample.setFocus()
    qtbot.keyClick(view.sample, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClicks(view.sample, "3")
    with qtbot.waitSignal(view.updated, timeout=TIMEOUT):
        qtbot.keyClick(view.sample, Qt.Key.Key_Return)
    assert view.sample.value() == 3 and view.chart.num_qubits == 3

    weights = run.initial_parameters()[: run.model.num_weights]
    x = reference.x_train[3]
    state = Statevector(x / np.linalg.norm(x))  # amplitude i on basis state |i⟩
    circuit = project.circuit.to_circuit()
    bound = circuit.assign_parameters({p: weights[p.index] for p in circuit.parameters})
    expected = state.evolve(bound).probabilities()
    np.testing.assert_allclose(view.probabilities, expected, atol=1e-9)
