"""A third-party backend on qiskit-aer's V2 primitives, written as docs/plugins.md describes it,
gets the right numbers for parameterized controlled rotations (Qiskit/qiskit-aer#2323): the
engine, not the backend, unrolls them. Checked against ``qiskit.quantum_info.Statevector``."""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

from qiskit.quantum_info import Statevector  # noqa: E402

from qmlstudio.core.binding import BindableSampler, bindable_circuit, unbindable_gates  # noqa: E402
from qmlstudio.core.kernels import QuantumKernel  # noqa: E402
from qmlstudio.core.models import ModelCircuit, PrimitiveEvaluator  # noqa: E402
from qmlstudio.plugins import Backend, BackendSpec, CircuitDesign, Encoding, Gate, hookimpl  # noqa: E402
from qmlstudio.plugins.manager import PluginRegistry  # noqa: E402

SHOTS = 20_000
TOLERANCE = 0.025  # > 6 standard deviations of a probability estimated from 20 000 shots


class PlainAerBackend(Backend):
    """Aer's primitives as they come, with no workaround of its own: what a plugin author writes."""

    exact = False
    shots = SHOTS

    def __init__(self, seed: int = 11) -> None:
        self.seed = seed

    def estimator(self):
        from qiskit_aer.primitives import EstimatorV2

        return EstimatorV2(options={"run_options": {"seed_simulator": self.seed}})

    def sampler(self):
        from qiskit_aer.primitives import SamplerV2

        return SamplerV2(default_shots=SHOTS, seed=self.seed)


class ThirdPartyPlugin:
    @hookimpl
    def qmlstudio_backends(self):
        return [BackendSpec(name="plain-aer", title="Plain Aer (third party)", factory=PlainAerBackend)]


@pytest.fixture
def backend():
    registry = PluginRegistry()
    registry.register(ThirdPartyPlugin(), "third-party-aer")
    try:
        yield registry.get("backends", "plain-aer").create({})
    finally:
        registry.unregister("third-party-aer")


def reference_probabilities(design: CircuitDesign, weights: np.ndarray, inputs: np.ndarray | None = None) -> np.ndarray:
    circuit = design.to_circuit()
    values = {}
    for p in circuit.parameters:
        kind, index = p.name.split("[")[0], int(p.name.split("[")[1].rstrip("]"))
        values[p] = weights[index] if kind == "θ" else inputs[index]
    return Statevector(circuit.assign_parameters(values)).probabilities()


def controlled_design(gate: str) -> CircuitDesign:
    """H and RY on the controls' side, then the controlled rotation: P(11) depends on its angle."""
    design = CircuitDesign(2)
    design.append(Gate("h", (0,)))
    design.append(Gate("ry", (1,), ["θ[1]"]))
    design.append(Gate(gate, (0, 1), ["θ[0]"]))
    if gate == "crz":  # a Z rotation changes no probability until the basis is turned
        design.append(Gate("h", (1,)))
    return design


@pytest.mark.parametrize("gate", ["cry", "crx", "crz"])
def test_hook_qmlstudio_backends_third_party_aer_values_match_statevector(backend, gate):
    design = controlled_design(gate)
    weights = np.array([1.9, 0.7])
    evaluator = PrimitiveEvaluator(design, np.eye(4), backend)
    assert not unbindable_gates(evaluator.circuit)  # nothing Aer binds wrongly reaches it
    values = evaluator.values(weights, np.zeros((1, 0)))[0]
    expected = reference_probabilities(design, weights)
    assert expected[3] > 0.15  # the case Aer gets wrong: P(11) far from 0
    np.testing.assert_allclose(values, expected, atol=TOLERANCE)


def test_third_party_aer_parameter_shift_gradient_matches_finite_differences(backend):
    design = controlled_design("cry")
    weights = np.array([1.9, 0.7])
    evaluator = PrimitiveEvaluator(design, np.eye(4), backend)
    _, pullback = evaluator.values_and_pullback(weights, np.zeros((1, 0)))
    upstream = np.array([[0.0, 0.0, 0.0, 1.0]])  # d P(11) / dθ
    grad = pullback(upstream)
    eps = 1e-5
    expected = [
        (reference_probabilities(design, weights + eps * np.eye(2)[i])[3]
         - reference_probabilities(design, weights - eps * np.eye(2)[i])[3]) / (2 * eps)
        for i in range(2)
    ]
    assert abs(expected[0]) > 0.1
    np.testing.assert_allclose(grad, expected, atol=0.04)


class ControlledEncoding(Encoding):
    """x[0] on an RY, then CRX(x[1]): data in a controlled rotation, as some feature maps do."""

    def num_qubits(self, num_features):
        return 2

    def circuit(self, num_features):
        design = CircuitDesign(2)
        design.append(Gate("h", (0,)))
        design.append(Gate("ry", (1,), ["x[0]"]))
        design.append(Gate("crx", (0, 1), ["x[1]"]))
        return design


def test_third_party_aer_kernel_matches_statevector_fidelities(backend):
    encoding = ControlledEncoding()
    model = ModelCircuit(encoding, CircuitDesign(2), 2)
    kernel = QuantumKernel(model, backend)
    assert not kernel.exact
    x = np.array([[0.3, 2.5], [1.2, -2.0], [2.0, 0.4]])
    gram = kernel.matrix(x)
    states = [Statevector(encoding.circuit(2).to_circuit().assign_parameters(list(row))) for row in x]
    expected = np.array([[abs(a.inner(b)) ** 2 for b in states] for a in states])
    assert expected[0, 1] < 0.6
    np.testing.assert_allclose(gram, expected, atol=TOLERANCE)


def test_bindable_sampler_fixes_aer_and_keeps_the_rest():
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter
    from qiskit_aer.primitives import SamplerV2

    t = Parameter("t")
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cry(t, 0, 1)
    circuit.measure_all()
    assert unbindable_gates(circuit) == {"cry"}
    unrolled = bindable_circuit(circuit)
    assert unbindable_gates(unrolled) == set() and unrolled.parameters == circuit.parameters
    assert bindable_circuit(unrolled) is unrolled
    raw = SamplerV2(seed=3)
    wrapped = BindableSampler(raw)
    assert wrapped.options is raw.options  # everything else is the wrapped sampler's own
    counts = wrapped.run([(circuit, [1.9])], shots=SHOTS).result()[0].data.meas.get_counts()
    expected = 0.5 * math.sin(1.9 / 2) ** 2
    assert abs(counts.get("11", 0) / SHOTS - expected) < TOLERANCE
