"""Quantum models (qmlstudio.core.models) against independent references.

* ⟨Z_0⟩ and its weight gradients equal qiskit-machine-learning's ``EstimatorQNN``;
  modulo-readout class probabilities equal its ``SamplerQNN``; the cross-entropy and
  squared-error losses and their gradients equal its ``CrossEntropyLoss`` / ``L2Loss``
  chained through the QNNs' ``backward``;
* every loss gradient (exact adjoint and parameter shift) equals central finite
  differences, for each readout and head and for shared weights, formulas of weights,
  controlled rotations (four-term shift rule) and data re-uploading;
* the parameter-shift evaluator through the Aer backend's sampler agrees within shot noise
  and spends the shots the backend is set to.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import ParameterVector
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp, Statevector
from qiskit.transpiler import generate_preset_pass_manager
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient, ParamShiftSamplerGradient
from qiskit_machine_learning.neural_networks import EstimatorQNN, SamplerQNN
from qiskit_machine_learning.primitives import QMLSampler
from qiskit_machine_learning.utils.loss_functions import CrossEntropyLoss, L2Loss

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.models import (
    ClassifierHead,
    ExactEvaluator,
    ModelCircuit,
    ModelError,
    PrimitiveEvaluator,
    RegressorHead,
    compose,
)
from qmlstudio.core.statevector import z_diagonal
from qmlstudio.plugins.manager import load_plugins

ATOL = 1e-8


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def custom_ansatz() -> CircuitDesign:
    """Three qubits with shared weights, formulas of weights, a weight mixed with data, every
    controlled rotation and gates whose generators are not Pauli (u, p); every weight
    changes ⟨Z_0⟩ and the bitstring probabilities (diagonal gates are followed by mixers)."""
    g = [
        Gate("ry", (0,), ("θ[0]",), 0), Gate("rx", (1,), ("2*θ[0]",), 0), Gate("h", (2,), (), 0),
        Gate("crx", (0, 1), ("θ[1]",), 1),
        Gate("cry", (1, 2), ("θ[2] + x[0]",), 2),
        Gate("crz", (2, 0), ("θ[3]*θ[1]",), 3),
        Gate("h", (0,), (), 4), Gate("u", (1,), ("θ[4]", "θ[0]", "0.3"), 4), Gate("p", (2,), ("θ[2]",), 4),
        Gate("rzz", (0, 2), ("sin(θ[5])",), 5),
        Gate("ry", (0,), ("θ[5] - θ[4]/2",), 6), Gate("h", (2,), (), 6),
        Gate("cx", (2, 0), (), 7),
    ]
    return CircuitDesign(3, g)


def build(registry, case: str) -> ModelCircuit:
    """The model circuits the tests share, by name."""
    if case == "angle+real-amplitudes":
        encoding = registry.get("encodings", "angle").create({})
        return ModelCircuit(encoding, registry.get("ansatze", "real-amplitudes").create({"reps": 2}).build(2), 2)
    if case == "zz+efficient-su2":
        encoding = registry.get("encodings", "zz-feature-map").create({"reps": 1})
        return ModelCircuit(encoding, registry.get("ansatze", "efficient-su2").create({"reps": 1}).build(3), 3)
    if case == "custom":
        encoding = registry.get("encodings", "angle").create({"rotation": "rx"})
        return ModelCircuit(encoding, custom_ansatz(), 3)
    if case == "reuploading":
        encoding = registry.get("encodings", "reuploading").create({"repetitions": 2})
        ansatz = registry.get("ansatze", "real-amplitudes").create({"reps": 1, "final_rotation": False}).build(2)
        return ModelCircuit(encoding, ansatz, 2)
    raise AssertionError(case)


CASES = ["angle+real-amplitudes", "zz+efficient-su2", "custom", "reuploading"]


def sample(model: ModelCircuit, batch: int = 5, seed: int = 0, extra: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Random parameters (circuit weights, then ``extra`` head parameters) and feature rows."""
    rng = np.random.default_rng(seed)
    params = np.concatenate([rng.uniform(-np.pi, np.pi, model.num_weights), rng.uniform(0.5, 2.0, extra)])
    return params, rng.uniform(0.0, np.pi, (batch, model.num_features))


def qml_parameters(circuit: QuantumCircuit) -> tuple[list, list]:
    """The circuit's x[..] and θ[..] parameters, each in index order (ours)."""
    inputs = sorted((p for p in circuit.parameters if p.name.startswith("x[")), key=lambda p: p.index)
    weights = sorted((p for p in circuit.parameters if p.name.startswith("θ[")), key=lambda p: p.index)
    return inputs, weights


def estimator_qnn(model: ModelCircuit) -> EstimatorQNN:
    """qiskit-machine-learning's QNN of ⟨Z_0⟩ on the same circuit, made exact.

    ``EstimatorQNN`` asks its estimator for a precision of 1/64 unless told otherwise, and
    the reference ``StatevectorEstimator`` then adds noise of that size: both precisions are
    set to 0. Parameter shift is exact for every gate here (qiskit-machine-learning
    unrolls gates it cannot shift)."""
    circuit = model.design.to_circuit()
    inputs, weights = qml_parameters(circuit)
    assert [p.index for p in weights] == list(range(model.num_weights))  # no gaps: the vectors line up
    estimator = StatevectorEstimator(default_precision=0.0)
    observable = SparsePauliOp("I" * (model.num_qubits - 1) + "Z")  # Z on qubit 0 (rightmost)
    return EstimatorQNN(
        circuit=circuit, estimator=estimator, observables=observable, input_params=inputs, weight_params=weights,
        gradient=ParamShiftEstimatorGradient(estimator), default_precision=0.0,
    )


def bind(circuit, x: np.ndarray, weights: np.ndarray):
    """``circuit`` with its inputs set to ``x`` and its weights to ``weights``."""
    inputs, trained = qml_parameters(circuit)
    return circuit.assign_parameters({**{p: x[p.index] for p in inputs}, **{p: weights[p.index] for p in trained}})


def sampler_qnn(model: ModelCircuit, num_classes: int) -> SamplerQNN:
    """qiskit-machine-learning's VQC-style QNN: P(class c) = P(bitstring ≡ c mod C).

    The reference is its own exact sampler (``QMLSampler(shots=None)`` computes the
    probabilities from a ``Statevector``, no sampling), so it can be compared at 1e-8;
    ``StatevectorSampler`` would draw shots."""
    circuit = model.design.to_circuit()
    inputs, weights = qml_parameters(circuit)
    circuit.measure_all()
    sampler = QMLSampler()
    return SamplerQNN(
        circuit=circuit, sampler=sampler, input_params=inputs, weight_params=weights,
        interpret=lambda bits: bits % num_classes, output_shape=num_classes,
        gradient=ParamShiftSamplerGradient(sampler),
    )


# ---------------------------------------------------------------------------
# Equality with qiskit-machine-learning
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", CASES)
def test_z0_values_and_weight_gradients_equal_estimator_qnn(registry, case):
    model = build(registry, case)
    weights, features = sample(model)
    inputs = model.inputs(features)
    qnn = estimator_qnn(model)
    expected_values = qnn.forward(inputs, weights)  # (batch, 1)
    _, expected_jacobian = qnn.backward(inputs, weights)  # (batch, 1, weights)

    evaluator = ExactEvaluator(model.design, RegressorHead().observables(model.num_qubits))
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    np.testing.assert_allclose(values, expected_values, atol=ATOL, rtol=0)
    # per-sample gradients through the simulator, and a weighted sum through the pull-back
    jacobian = evaluator.program.jacobian(weights, inputs, evaluator.observables)
    np.testing.assert_allclose(jacobian, expected_jacobian, atol=ATOL, rtol=0)
    upstream = np.random.default_rng(1).normal(size=values.shape)
    np.testing.assert_allclose(pullback(upstream), np.einsum("bk,bkw->w", upstream, expected_jacobian), atol=ATOL)
    assert np.abs(expected_jacobian).max() > 0.05  # the weights matter: the comparison says something


@pytest.mark.parametrize("case,num_classes", [("angle+real-amplitudes", 2), ("custom", 3), ("reuploading", 3)])
def test_modulo_class_probabilities_equal_sampler_qnn(registry, case, num_classes):
    model = build(registry, case)
    weights, features = sample(model, seed=2)
    inputs = model.inputs(features)
    head = ClassifierHead(num_classes, readout="modulo")
    evaluator = ExactEvaluator(model.design, head.observables(model.num_qubits))
    probabilities = head.probabilities(evaluator.values(weights, inputs), head.initial_extra())
    expected = sampler_qnn(model, num_classes).forward(inputs, weights)
    np.testing.assert_allclose(probabilities, expected, atol=ATOL, rtol=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)
    # and against qiskit's Statevector directly, bitstring by bitstring
    circuit = model.design.to_circuit()
    for row, x in enumerate(inputs):
        bound = bind(circuit, x, weights)
        full = Statevector(bound).probabilities()
        direct = [full[np.arange(full.size) % num_classes == c].sum() for c in range(num_classes)]
        np.testing.assert_allclose(probabilities[row], direct, atol=ATOL)


def two_class_readout(registry, readout: str, seed: int):
    """A two-class model read by ``readout``, five sampled rows, and their probabilities."""
    model = build(registry, "angle+real-amplitudes")
    weights, features = sample(model, batch=5, seed=seed)
    inputs = model.inputs(features)
    head = ClassifierHead(2, readout=readout)
    evaluator = ExactEvaluator(model.design, head.observables(model.num_qubits))
    return model, weights, inputs, head, evaluator, head.probabilities(evaluator.values(weights, inputs), head.initial_extra())


def test_parity_readout_is_the_global_parity_of_a_statevector_and_its_gradient_finite_differences(registry):
    """p(class 1) = (1 − ⟨Z⊗Z⊗…⊗Z⟩)/2 over all qubits (a global cost), against qiskit's
    Statevector and SparsePauliOp; the loss's exact gradient against central differences."""
    model, weights, inputs, head, evaluator, probabilities = two_class_readout(registry, "parity", seed=4)
    circuit = model.design.to_circuit()
    parity = SparsePauliOp("Z" * model.num_qubits)
    for row, x in enumerate(inputs):
        bound = bind(circuit, x, weights)
        z = Statevector(bound).expectation_value(parity).real
        np.testing.assert_allclose(probabilities[row], [(1 + z) / 2, (1 - z) / 2], atol=ATOL)
    targets = np.array([0, 1, 1, 0, 1])
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    loss, d_values, _ = head.loss(values, head.initial_extra(), targets)
    gradient = pullback(d_values)
    eps = 1e-6
    for i in range(len(weights)):
        up, down = weights.copy(), weights.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (head.loss(evaluator.values(up, inputs), head.initial_extra(), targets)[0]
                   - head.loss(evaluator.values(down, inputs), head.initial_extra(), targets)[0]) / (2 * eps)
        assert gradient[i] == pytest.approx(numeric, abs=1e-7)
    assert np.abs(gradient).max() > 1e-3


def test_projector_readout_is_the_all_zeros_probability_of_a_statevector_and_its_gradient_finite_differences(registry):
    """p(class 0) = |⟨0…0|ψ⟩|² (the global cost of Cerezo et al.), against qiskit's Statevector
    amplitude by amplitude; the loss's exact gradient against central differences; the CLI's
    and the settings' choices are the engine's readouts."""
    from qmlstudio.core.models import READOUTS

    model, weights, inputs, head, evaluator, probabilities = two_class_readout(registry, "projector", seed=6)
    circuit = model.design.to_circuit()
    for row, x in enumerate(inputs):
        bound = bind(circuit, x, weights)
        zeros = abs(Statevector(bound).data[0]) ** 2
        np.testing.assert_allclose(probabilities[row], [zeros, 1 - zeros], atol=ATOL)
    # The exact gradient of the readout's values (the loss on top is the parity's and z's, tested
    # above): central differences of the log loss are ill-conditioned where p(all zeros) is tiny.
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    gradient = pullback(np.ones_like(values))
    eps = 1e-6
    for i in range(len(weights)):
        up, down = weights.copy(), weights.copy()
        up[i] += eps
        down[i] -= eps
        numeric = (evaluator.values(up, inputs).sum() - evaluator.values(down, inputs).sum()) / (2 * eps)
        assert gradient[i] == pytest.approx(numeric, abs=1e-8)
    assert np.abs(gradient).max() > 1e-3
    with pytest.raises(ModelError, match="projector readout reads two classes"):
        ClassifierHead(3, "projector").observables(3)
    from qmlstudio.cli.runs import NewCommand
    from qmlstudio.gui.settings_panel import _READOUT

    parser = __import__("argparse").ArgumentParser()
    NewCommand().add_arguments(parser)
    readout = next(a for a in parser._actions if a.dest == "readout")
    assert tuple(readout.choices) == READOUTS == tuple(_READOUT.choices)


@pytest.mark.parametrize("case,num_classes", [("angle+real-amplitudes", 2), ("custom", 3)])
def test_cross_entropy_and_its_gradient_equal_qml_cross_entropy_loss(registry, case, num_classes):
    model = build(registry, case)
    weights, features = sample(model, batch=6, seed=3)
    inputs = model.inputs(features)
    targets = np.arange(6) % num_classes
    head = ClassifierHead(num_classes, readout="modulo")
    evaluator = ExactEvaluator(model.design, head.observables(model.num_qubits))
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    loss, d_values, d_extra = head.loss(values, head.initial_extra(), targets)
    gradient = pullback(d_values)
    assert d_extra.size == 0

    qnn = sampler_qnn(model, num_classes)
    probabilities = qnn.forward(inputs, weights)
    _, jacobian = qnn.backward(inputs, weights)  # (batch, classes, weights)
    one_hot = np.eye(num_classes)[targets]
    per_sample = CrossEntropyLoss()(probabilities, one_hot)  # −Σ t·log2 p for each sample
    # qiskit-machine-learning's loss is in bits (log2), ours in nats: ours = mean(theirs)·ln 2.
    assert loss == pytest.approx(np.mean(per_sample) * math.log(2), abs=ATOL)
    # CrossEntropyLoss.gradient assumes a softmax output (VQC's pseudo-gradient), so the
    # true derivative of its value is written out: ∂/∂p (−t·log2 p) = −t / (p ln 2).
    d_probabilities = -one_hot / (probabilities * math.log(2)) / len(targets)
    expected = np.einsum("bk,bkw->w", d_probabilities, jacobian) * math.log(2)
    np.testing.assert_allclose(gradient, expected, atol=ATOL)
    assert np.abs(expected).max() > 0.01


@pytest.mark.parametrize("trainable", [False, True])
def test_squared_error_and_its_gradient_equal_qml_l2_loss(registry, trainable):
    model = build(registry, "custom")
    params, features = sample(model, batch=7, seed=4, extra=2 if trainable else 0)
    weights, extra = params[: model.num_weights], params[model.num_weights :]
    inputs = model.inputs(features)
    targets = np.linspace(-0.9, 0.8, 7)
    head = RegressorHead(trainable_output=trainable)
    evaluator = ExactEvaluator(model.design, head.observables(model.num_qubits))
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    loss, d_values, d_extra = head.loss(values, extra, targets)

    qnn = estimator_qnn(model)
    z = qnn.forward(inputs, weights)[:, 0]
    _, jacobian = qnn.backward(inputs, weights)
    a, b = (extra if trainable else (1.0, 0.0))
    prediction = a * z + b
    np.testing.assert_allclose(head.predict(values, extra), prediction, atol=ATOL)
    assert loss == pytest.approx(np.mean(L2Loss()(prediction, targets)), abs=ATOL)
    d_prediction = np.mean(L2Loss().gradient(prediction, targets)[:, None] * a * jacobian[:, 0, :], axis=0)
    np.testing.assert_allclose(pullback(d_values), d_prediction, atol=ATOL)
    if trainable:
        residual_gradient = L2Loss().gradient(prediction, targets)  # 2 (ŷ − y)
        np.testing.assert_allclose(d_extra, [np.mean(residual_gradient * z), np.mean(residual_gradient)], atol=ATOL)


# ---------------------------------------------------------------------------
# Gradients against finite differences
# ---------------------------------------------------------------------------
class _ExactCounts:
    """Sampler data whose "counts" are the exact probabilities (what PrimitiveEvaluator reads)."""

    def __init__(self, probabilities: np.ndarray) -> None:
        self.probabilities = probabilities

    def get_int_counts(self, row: int) -> dict[int, float]:
        return {i: p for i, p in enumerate(self.probabilities[row]) if p > 0}


class _ExactSampler:
    """A V2-style sampler without shot noise: qiskit's Statevector of each bound circuit."""

    def run(self, pubs, shots=None):
        results = []
        for circuit, values in pubs:
            unitary = circuit.remove_final_measurements(inplace=False)
            parameters = list(circuit.parameters)  # the order PUB values follow
            probabilities = np.array(
                [Statevector(unitary.assign_parameters(dict(zip(parameters, row)))).probabilities() for row in values]
            )
            results.append(type("PubResult", (), {"data": {"meas": _ExactCounts(probabilities)}})())
        return type("Job", (), {"result": lambda self: results})()


class ExactSamplerBackend:
    """A backend whose sampler is exact, so parameter shift can be checked to 1e-8."""

    exact = False
    shots = None

    def sampler(self):
        return _ExactSampler()

    def pass_manager(self):
        return generate_preset_pass_manager(optimization_level=1, basis_gates=None)


HEADS = {
    "modulo-2": lambda: ClassifierHead(2, "modulo"),
    "modulo-3": lambda: ClassifierHead(3, "modulo"),
    "z-2": lambda: ClassifierHead(2, "z"),
    "z-2-trainable": lambda: ClassifierHead(2, "z", trainable_output=True),
    "z-3": lambda: ClassifierHead(3, "z"),
    "z-3-trainable": lambda: ClassifierHead(3, "z", trainable_output=True),
    "regressor": lambda: RegressorHead(),
    "regressor-trainable": lambda: RegressorHead(trainable_output=True),
}
GRADIENT_CASES = [
    ("angle+real-amplitudes", "modulo-2"),
    ("angle+real-amplitudes", "z-2-trainable"),
    ("custom", "modulo-3"),
    ("custom", "z-2"),
    ("custom", "z-3"),
    ("custom", "z-3-trainable"),
    ("custom", "regressor-trainable"),
    ("zz+efficient-su2", "z-3-trainable"),
    ("reuploading", "modulo-3"),
    ("reuploading", "regressor"),
]


def loss_and_gradient(evaluator, head, model, params, inputs, targets):
    weights, extra = params[: model.num_weights], params[model.num_weights :]
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    loss, d_values, d_extra = head.loss(values, extra, targets)
    return loss, np.concatenate([pullback(d_values), d_extra])


def finite_differences(model, head, params, inputs, targets, step=1e-5):
    """Central differences of the exact loss (values from qiskit-independent numpy code)."""
    evaluator = ExactEvaluator(model.design, head.observables(model.num_qubits))

    def loss(p):
        values = evaluator.values(p[: model.num_weights], inputs)
        return head.loss(values, p[model.num_weights :], targets)[0]

    gradient = np.zeros_like(params)
    for i in range(params.size):
        shift = np.zeros_like(params)
        shift[i] = step
        gradient[i] = (loss(params + shift) - loss(params - shift)) / (2 * step)
    return gradient


@pytest.mark.parametrize("case,head_name", GRADIENT_CASES)
def test_loss_gradients_equal_finite_differences(registry, case, head_name):
    model = build(registry, case)
    head = HEADS[head_name]()
    params, features = sample(model, batch=4, seed=5, extra=head.num_extra)
    inputs = model.inputs(features)
    if isinstance(head, RegressorHead):
        targets = np.array([0.5, -0.3, 0.9, -0.7])
    else:
        targets = np.arange(4) % head.num_classes
    expected = finite_differences(model, head, params, inputs, targets)
    assert np.abs(expected).max() > 1e-3

    exact = ExactEvaluator(model.design, head.observables(model.num_qubits))
    loss, gradient = loss_and_gradient(exact, head, model, params, inputs, targets)
    np.testing.assert_allclose(gradient, expected, atol=1e-6, rtol=0)

    shifted = PrimitiveEvaluator(model.design, head.observables(model.num_qubits), ExactSamplerBackend())
    shift_loss, shift_gradient = loss_and_gradient(shifted, head, model, params, inputs, targets)
    assert shift_loss == pytest.approx(loss, abs=1e-9)
    np.testing.assert_allclose(shift_gradient, expected, atol=1e-6, rtol=0)


def test_controlled_rotations_use_the_four_term_rule(registry):
    """Shifting a controlled rotation by ±π/2 alone gives a wrong derivative; four terms do not."""
    encoding = registry.get("encodings", "angle").create({})
    for name in ("crx", "cry", "crz"):
        ansatz = CircuitDesign(2, [Gate("h", (0,), (), 0), Gate("ry", (1,), ("θ[0]",), 0),
                                   Gate(name, (0, 1), ("θ[1]",), 1), Gate("h", (1,), (), 2)])
        model = ModelCircuit(encoding, ansatz, 2)
        head = RegressorHead()
        params, features = sample(model, batch=3, seed=6)
        inputs, targets = model.inputs(features), np.array([0.2, -0.4, 0.6])
        evaluator = PrimitiveEvaluator(model.design, head.observables(2), ExactSamplerBackend())
        assert [len(rule) for _, rule, _ in evaluator.weight_uses] == [2, 4]
        _, gradient = loss_and_gradient(evaluator, head, model, params, inputs, targets)
        np.testing.assert_allclose(gradient, finite_differences(model, head, params, inputs, targets), atol=1e-6)


def test_shared_weights_and_formulas_add_up(registry):
    """θ[0] appears as θ[0], 2·θ[0] and as a U angle: its gradient is the sum over its uses."""
    model = build(registry, "custom")
    head = ClassifierHead(3, "modulo")
    evaluator = ExactEvaluator(model.design, head.observables(3))
    params, features = sample(model, batch=3, seed=8)
    inputs, targets = model.inputs(features), np.array([0, 1, 2])
    _, gradient = loss_and_gradient(evaluator, head, model, params, inputs, targets)
    expected = finite_differences(model, head, params, inputs, targets)
    assert abs(expected[0]) > 1e-3
    np.testing.assert_allclose(gradient, expected, atol=1e-6)


def test_parameter_shift_through_the_aer_sampler_agrees_within_shot_noise(registry):
    """The real path: Aer's SamplerV2 with the backend's shots (aer-shots), seeded.

    Each weight appears in one plain rotation (two-term rule, coefficients ±1/2). A shot of
    sample b contributes u_bk for the class k it lands in (u the upstream gradient), whose
    variance is at most (max_k u_bk − min_k u_bk)²/4 (Popoviciu), so the gradient's standard
    deviation is at most sqrt(Σ_b 2·¼·range_b²/4) / sqrt(shots); values are probabilities
    (standard deviation ≤ 1/(2·sqrt(shots))). Five standard deviations are allowed.
    """
    backend = registry.get("backends", "aer-shots").create({"shots": 20_000, "seed": 1234})
    model = ModelCircuit(
        registry.get("encodings", "angle").create({}),
        registry.get("ansatze", "real-amplitudes").create({"reps": 1}).build(2), 2,
    )
    head = ClassifierHead(2, "modulo")
    params, features = sample(model, batch=4, seed=9)
    inputs, targets = model.inputs(features), np.array([0, 1, 1, 0])
    evaluator = PrimitiveEvaluator(model.design, head.observables(2), backend)
    values, pullback = evaluator.values_and_pullback(params, inputs)
    rows = 4 * (1 + 2 * model.num_weights)  # every sample, and each with two shifts per weight: one PUB
    assert evaluator.shots_used == rows * 20_000  # the backend's shots, not a built-in default

    exact_values = ExactEvaluator(model.design, head.observables(2)).values(params, inputs)
    assert np.abs(values - exact_values).max() < 5 * 0.5 / math.sqrt(20_000)
    # the pull-back of the exact upstream gradient u, so that only the shifted values are sampled
    _, upstream, _ = head.loss(exact_values, np.zeros(0), targets)
    spread = np.ptp(upstream, axis=1)
    bound = math.sqrt(np.sum(2 * 0.25 * spread**2 / 4)) / math.sqrt(20_000)
    expected = finite_differences(model, head, params, inputs, targets)
    np.testing.assert_allclose(pullback(upstream), expected, atol=5 * bound, rtol=0)
    assert 5 * bound < 0.2 * np.abs(expected).max()  # tight enough to catch a wrong rule or coefficient


# ---------------------------------------------------------------------------
# The circuit and the heads
# ---------------------------------------------------------------------------
def test_reuploading_repeats_the_encoding_with_fresh_weights(registry):
    encoding = registry.get("encodings", "reuploading").create({"repetitions": 2})
    ansatz = registry.get("ansatze", "real-amplitudes").create({"reps": 1}).build(2)
    model = ModelCircuit(encoding, ansatz, 2)
    assert model.repetitions == 2
    assert model.num_weights == model.design.num_weights == 2 * ansatz.num_weights
    # the same circuit built with qiskit: (encoding, ansatz over θ[0..k-1], encoding, ansatz over θ[k..2k-1])
    k = ansatz.num_weights
    theta, x = ParameterVector("θ", 2 * k), ParameterVector("x", 2)
    reference = QuantumCircuit(2)
    for r in range(2):
        for q in range(2):
            reference.ry(x[q], q)
        layer = ansatz.to_circuit()
        layer = layer.assign_parameters({p: theta[p.index + r * k] for p in layer.parameters})
        reference.compose(layer, inplace=True)
    weights, features = sample(model, batch=3, seed=10)
    states = ExactEvaluator(model.design, z_diagonal(2, [0])[None, :]).states(weights, model.inputs(features))
    for row, feature_row in enumerate(features):
        bound = reference.assign_parameters({**dict(zip(theta, weights)), **dict(zip(x, feature_row))})
        overlap = abs(np.vdot(Statevector(bound).data, states[row]))
        assert overlap == pytest.approx(1.0, abs=1e-10)


def test_compose_renumbers_formulas_per_repetition():
    encoding = CircuitDesign(1, [Gate("ry", (0,), ("x[0]",), 0)])
    ansatz = CircuitDesign(1, [Gate("rz", (0,), ("θ[0]*θ[1]",), 0), Gate("rx", (0,), ("2*θ[1]",), 1)])
    design = compose(encoding, ansatz, repetitions=3)
    angles = [str(g.params[0]) for g in design.ordered_gates]
    assert angles[1::3] == ["θ[0] * θ[1]", "θ[2] * θ[3]", "θ[4] * θ[5]"]
    assert angles[2::3] == ["2 * θ[1]", "2 * θ[3]", "2 * θ[5]"]
    assert design.num_weights == 6


def test_heads_refuse_what_the_circuit_cannot_read_out():
    with pytest.raises(ModelError, match="qubits"):
        ClassifierHead(5, "modulo").observables(2)
    with pytest.raises(ModelError, match="3 qubits"):
        ClassifierHead(3, "z").observables(2)
    with pytest.raises(ModelError, match="readout"):
        ClassifierHead(2, "bitwise")
    with pytest.raises(ModelError, match="two classes"):
        ClassifierHead(3, "parity").observables(3)
    with pytest.raises(ModelError):
        ClassifierHead(1)


def test_trainable_output_starts_at_the_scale_and_predicts_the_most_likely_class():
    head = ClassifierHead(3, "z", trainable_output=True)
    assert head.num_extra == 4 and list(head.initial_extra()) == [3.0, 0.0, 0.0, 0.0]
    values = np.array([[0.9, -0.2, 0.1], [-0.5, 0.4, 0.3]])
    probabilities = head.probabilities(values, head.initial_extra())
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert list(head.predict(values, head.initial_extra())) == [0, 1]
    assert ClassifierHead.score(np.array([0, 1]), np.array([0, 2])) == 0.5


def test_sampler_bitarrays_are_decoded_like_their_counts():
    """The vectorised BitArray decoding gives the same frequencies as qiskit's own counts."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import ParameterVector
    from qiskit.primitives import StatevectorSampler

    from qmlstudio.core.models import _probabilities

    phi = ParameterVector("φ", 10)
    circuit = QuantumCircuit(10)
    for q in range(10):
        circuit.ry(phi[q], q)
    circuit.measure_all()
    values = np.random.default_rng(3).uniform(0, np.pi, size=(4, 10))
    data = StatevectorSampler(seed=5).run([(circuit, values)], shots=300).result()[0].data.meas
    decoded = _probabilities(data, 2**10, 4)
    for row in range(4):
        expected = np.zeros(2**10)
        for value, count in data.get_int_counts(row).items():
            expected[value] = count / 300
        np.testing.assert_array_equal(decoded[row], expected)


def test_aer_statevector_runs_aers_estimator_and_matches_the_engine_exactly(registry):
    """aer-statevector's values come from Aer's EstimatorV2 (diagonal observables as Z strings),
    no shots; its parameter-shift gradient equals the engine's adjoint one to rounding."""
    from qmlstudio.core.models import diagonal_paulis

    backend = registry.get("backends", "aer-statevector").create({})
    model = ModelCircuit(
        registry.get("encodings", "angle").create({}),
        registry.get("ansatze", "real-amplitudes").create({"reps": 1}).build(3), 3,
    )
    head = ClassifierHead(3, "modulo")
    params, features = sample(model, batch=4, seed=5)
    inputs = model.inputs(features)
    evaluator = PrimitiveEvaluator(model.design, head.observables(3), backend)
    engine = ExactEvaluator(model.design, head.observables(3))
    assert evaluator.uses_estimator
    values, pullback = evaluator.values_and_pullback(params, inputs)
    exact_values, exact_pullback = engine.values_and_pullback(params, inputs)
    np.testing.assert_allclose(values, exact_values, atol=1e-10)
    upstream = np.random.default_rng(1).normal(size=values.shape)
    np.testing.assert_allclose(pullback(upstream), exact_pullback(upstream), atol=1e-9)
    assert evaluator.shots_used == 0
    diagonal = np.random.default_rng(2).normal(size=8)  # the Walsh–Hadamard expansion is the diagonal
    np.testing.assert_allclose(np.diag(diagonal_paulis(diagonal, 3).to_matrix()).real, diagonal, atol=1e-12)
