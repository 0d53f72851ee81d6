"""The example plugin's own tests: hooks registered in try/finally, states checked against qiskit."""

import numpy as np
from qiskit.circuit.library import RYGate
from qiskit.quantum_info import Statevector

import qmls_example
from qmlstudio.plugins.manager import PluginRegistry


def test_hook_qmlstudio_encodings():
    registry = PluginRegistry()
    registry.register(qmls_example, "example")
    try:
        encoding = registry.get("encodings", "example-arctan").create({"scale": 2.0})
    finally:
        registry.unregister("example")
    features = np.array([[0.3, -4.0]])
    design = encoding.circuit(2)
    values = encoding.transform(features)[0]
    circuit = design.to_circuit()
    state = Statevector(circuit.assign_parameters({p: values[i] for i, p in enumerate(circuit.parameters)}))
    angles = 2 * np.arctan(2.0 * features[0])
    expected = Statevector(RYGate(angles[1]).to_matrix()[:, 0]).tensor(Statevector(RYGate(angles[0]).to_matrix()[:, 0]))
    assert state.equiv(expected)


def test_hook_qmlstudio_datasets():
    registry = PluginRegistry()
    registry.register(qmls_example, "example")
    try:
        data = registry.get("datasets", "example-spirals").create({"samples": 50})
    finally:
        registry.unregister("example")
    assert data.features.shape == (50, 2)
    assert data.class_counts() == {"arm A": 25, "arm B": 25}
