"""The quantum layer of hybrid models: values and the gradients by weights and by inputs,
against an independent construction (qiskit's ``Statevector`` of ``design.to_circuit()``,
differentiated by central finite differences)."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.expressions import Angle
from qmlstudio.core.gate_matrices import z_diagonal
from qmlstudio.core.quantum_layer import QuantumLayer, with_input_shifts


def _design() -> CircuitDesign:
    a = Angle
    gates = [
        Gate("ry", (0,), (a("x[0]"),), column=0), Gate("ry", (1,), (a("x[1]"),), column=0),
        Gate("rz", (2,), (a("x[2] * x[0]"),), column=0),
        Gate("h", (2,), (), column=1), Gate("rx", (0,), (a("θ[0] + 0.5 * x[1]"),), column=1),
        Gate("cx", (0, 1), (), column=2), Gate("ry", (2,), (a("θ[1]"),), column=2),
        Gate("crz", (1, 2), (a("θ[2] * x[2]"),), column=3),
        Gate("rzz", (0, 2), (a("(pi - x[0]) * (pi - x[1])"),), column=4),
        Gate("u", (1,), (a("θ[3]"), a("sin(x[0])"), a("θ[4]")), column=5),
        Gate("ry", (0,), (a("θ[5]"),), column=6),
    ]
    return CircuitDesign(3, tuple(gates))


def _reference_values(design: CircuitDesign, weights: np.ndarray, inputs: np.ndarray, observables: np.ndarray) -> np.ndarray:
    circuit = design.to_circuit()
    theta = sorted((p for p in circuit.parameters if p.name.startswith("θ")), key=lambda p: p.index)
    xs = sorted((p for p in circuit.parameters if p.name.startswith("x")), key=lambda p: p.index)
    out = []
    for row in inputs:
        bound = circuit.assign_parameters({**{p: weights[p.index] for p in theta}, **{p: row[p.index] for p in xs}})
        probabilities = Statevector(bound).probabilities()
        out.append(observables @ probabilities)
    return np.array(out)


def test_values_and_both_gradients_equal_statevector_finite_differences():
    design = _design()
    rng = np.random.default_rng(5)
    observables = np.stack([z_diagonal(3, (0,)), z_diagonal(3, (0, 1, 2)), z_diagonal(3, (2,))])
    weights = rng.uniform(-np.pi, np.pi, design.num_weights)
    inputs = rng.uniform(-2, 2, (7, 3))
    upstream = rng.normal(size=(7, 3))
    layer = QuantumLayer(design, observables)
    values, pullback = layer.values_and_pullback(weights, inputs)
    np.testing.assert_allclose(values, _reference_values(design, weights, inputs, observables), atol=1e-12)
    grad_w, grad_x = pullback(upstream)
    assert grad_w.shape == (6,) and grad_x.shape == (7, 3)

    def loss(w, x):
        return float(np.sum(upstream * _reference_values(design, w, x, observables)))

    h = 1e-6
    fd_w = [(loss(weights + h * e, inputs) - loss(weights - h * e, inputs)) / (2 * h) for e in np.eye(6)]
    np.testing.assert_allclose(grad_w, fd_w, atol=1e-8)
    fd_x = np.zeros_like(inputs)
    for b in range(7):
        for j in range(3):
            e = np.zeros_like(inputs)
            e[b, j] = h
            fd_x[b, j] = (loss(weights, inputs + e) - loss(weights, inputs - e)) / (2 * h)
    np.testing.assert_allclose(grad_x, fd_x, atol=1e-8)
    # the weight gradient is the engine's ordinary one (no shifts), to rounding
    from qmlstudio.core.statevector import StatevectorProgram

    _, plain = StatevectorProgram(design).value_and_pullback(weights, inputs, observables)
    np.testing.assert_allclose(grad_w, plain(upstream), atol=1e-12)


def test_inputs_the_circuit_does_not_read_get_zero_gradient_and_widths_are_checked():
    design = _design()
    observables = z_diagonal(3, (0,))[None]
    layer = QuantumLayer(design, observables, num_inputs=5)
    _, pullback = layer.values_and_pullback(np.zeros(6), np.ones((2, 5)))
    _, grad_x = pullback(np.ones((2, 1)))
    assert np.all(grad_x[:, 3:] == 0) and np.any(grad_x[:, :3] != 0)
    with pytest.raises(Exception, match="reads x\\[2\\]"):
        QuantumLayer(design, observables, num_inputs=2)
    with pytest.raises(Exception, match="shape \\(batch, 5\\)"):
        layer.values(np.zeros(6), np.ones((2, 4)))


def test_shifted_design_reads_each_input_plus_its_own_shift_weight():
    design = with_input_shifts(_design())
    texts = [str(a) for g in design.gates for a in g.params]
    assert "x[0] + θ[6]" in texts[0] and "θ[0] + 0.5 * (x[1] + θ[7])" in texts
    assert design.num_weights == 6 + 3


def test_per_sample_pullback_of_a_circuit_without_inputs():
    """One state serves every sample: each sample's gradient is its own upstream on it."""
    from qmlstudio.core.statevector import StatevectorProgram

    design = CircuitDesign(2, (Gate("ry", (0,), (Angle("θ[0]"),), column=0), Gate("cx", (0, 1), (), column=1),
                               Gate("rx", (1,), (Angle("θ[1]"),), column=2)))
    program = StatevectorProgram(design)
    observables = np.stack([z_diagonal(2, (1,)), z_diagonal(2, (0, 1))])
    upstream = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, -1.0]])
    _, pullback = program.value_and_pullback([0.3, -0.7], np.zeros((3, 0)), observables, per_sample=True)
    rows = pullback(upstream)
    _, total = program.value_and_pullback([0.3, -0.7], np.zeros((3, 0)), observables)
    np.testing.assert_allclose(rows.sum(axis=0), total(upstream), atol=1e-12)
    np.testing.assert_allclose(rows[2], 2 * rows[0] - rows[1], atol=1e-12)
    assert not np.allclose(rows[0], rows[1])
