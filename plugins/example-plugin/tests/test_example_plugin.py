"""The example plugin's own tests, written with QML Studio's testing kit (qmlstudio.testing).

Each part is checked against an independent reference: states against circuits built with
qiskit by hand, the optimizer on a quadratic, the backend against ``Statevector``.
"""

import numpy as np
import pytest
from qiskit import QuantumCircuit

import qmls_example
from qmlstudio.plugins import CircuitDesign, Gate
from qmlstudio.testing import (
    assert_ansatz_state,
    assert_backend_matches_statevector,
    assert_dataset_is_valid,
    assert_encoding_state,
    assert_optimizer_minimizes_quadratic,
)


@pytest.fixture
def registry(qmlstudio_plugin):
    return qmlstudio_plugin(qmls_example, "example")


def test_hook_qmlstudio_encodings(registry):
    encoding = registry.get("encodings", "example-arctan").create({"scale": 2.0})
    row = [0.3, 2.9]  # features arrive scaled (to [0, π] by default)
    reference = QuantumCircuit(2)
    for q, x in enumerate(row):
        reference.ry(2 * np.arctan(2.0 * x), q)
    assert_encoding_state(encoding, row, reference)


def test_hook_qmlstudio_ansatze(registry):
    ansatz = registry.get("ansatze", "example-ry-cz").create({"reps": 2})
    weights = np.linspace(-1.2, 2.1, 9)
    start = QuantumCircuit(3)  # a start state with every amplitude non-zero: no wrong gate can hide
    start.h([0, 1, 2])
    start.rx(0.4, 1)
    reference = start.copy()
    w = iter(weights)
    for layer in range(3):
        for q in range(3):
            reference.ry(next(w), q)
        if layer < 2:
            reference.cz(0, 1)
            reference.cz(1, 2)
    assert_ansatz_state(ansatz, 3, weights, reference, initial=start)


def test_hook_qmlstudio_optimizers(registry):
    optimizer = registry.get("optimizers", "example-momentum").create({"learning_rate": 0.2})
    result = assert_optimizer_minimizes_quadratic(optimizer)
    assert result.message == "max iterations"


def test_hook_qmlstudio_backends(registry):
    # cry with a trainable angle: the case qiskit-aer gets wrong unless QML Studio unrolls it
    design = CircuitDesign.from_sequence(2, [Gate("h", (0,)), Gate("ry", (1,), ["θ[1]"]), Gate("cry", (0, 1), ["θ[0]"])])
    exact = registry.get("backends", "example-noisy-aer").create({"error": 0.0, "shots": 20000, "seed": 5})
    assert_backend_matches_statevector(exact, design, [1.9, 0.7])
    noisy = registry.get("backends", "example-noisy-aer").create({"error": 0.2, "shots": 20000, "seed": 5})
    with pytest.raises(AssertionError, match="differ from Statevector"):
        assert_backend_matches_statevector(noisy, design, [1.9, 0.7])


def test_hook_qmlstudio_datasets(registry):
    spec = registry.get("datasets", "example-spirals")
    options = {"samples": 60, "seed": 3}
    data = spec.create(options)
    assert data.features.shape == (60, 2) and data.class_counts() == {"arm A": 30, "arm B": 30}
    assert_dataset_is_valid(data, factory=qmls_example.dataset.two_spirals, options=options)


def test_every_part_trains_together(registry, qmlstudio_train):
    record = qmlstudio_train(
        registry, dataset="example-spirals", encoding="example-arctan", ansatz="example-ry-cz",
        ansatz_options={"reps": 1}, optimizer="example-momentum", backend="example-noisy-aer",
        backend_options={"shots": 500, "seed": 1}, epochs=1,
    )
    losses = record.metrics["loss"]
    assert len(losses) == 1 and np.isfinite(losses[0])  # 32 training samples, one full batch
    assert record.config["dataset"]["options"]["seed"] == 7  # the project's seed reached the dataset
