"""Quantum models: the circuit they run, how its measurements become predictions, and losses.

A model circuit is the encoding's circuit (over data inputs ``x``) followed by the user's
ansatz (over weights ``θ``), the pair repeated for data re-uploading. Its outputs are
expectation values of observables that are diagonal in the computational basis:

* ``modulo`` readout (qiskit-machine-learning's VQC convention): the probability of class
  c is the probability of measuring a bitstring whose integer value is c modulo C;
* ``z`` readout: class scores from ⟨Z_c⟩ on the first qubits;
* regression: ⟨Z_0⟩.

Two evaluators compute those values and the gradient of a loss through them: the
:class:`ExactEvaluator` (batched statevector, adjoint gradient, for exact backends) and
the :class:`PrimitiveEvaluator` (any backend's V2 primitives, parameter-shift gradient
with every shifted binding of a batch in one PUB).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

import numpy as np

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import ExpressionError, QMLStudioError
from qmlstudio.core.statevector import StatevectorProgram, z_diagonal

#: How a classifier reads its classes: ``modulo`` (the measured bitstring's index mod the
#: classes), ``z`` (⟨Z⟩ of qubit 0, or of qubit c for class c: a local cost) and ``parity``
#: (⟨Z⊗Z⊗…⊗Z⟩ of all qubits, two classes: a global cost, as in the barren-plateau study) and
#: ``projector`` (two classes: p(class 0) = |⟨0…0|ψ⟩|², the probability of measuring all zeros, read
#: as ⟨2|0…0⟩⟨0…0| − I⟩; the global cost of Cerezo et al. 2021).
READOUTS = ("modulo", "z", "parity", "projector")


class ModelError(QMLStudioError):
    """The model cannot be built from these choices (too many classes for the qubits...)."""


# ---------------------------------------------------------------------------
# The circuit
# ---------------------------------------------------------------------------
def compose(encoding_design: CircuitDesign, ansatz: CircuitDesign, repetitions: int = 1) -> CircuitDesign:
    """Encoding then ansatz, ``repetitions`` times; each repetition gets its own weights."""
    num_qubits = max(encoding_design.num_qubits, ansatz.num_qubits)
    per_layer = ansatz.num_weights
    gates = []
    column = 0
    for r in range(repetitions):
        for gate in encoding_design.gates:
            gates.append(replace(gate, column=column + gate.column))
        column += encoding_design.num_columns
        table = {i: i + r * per_layer for i in range(per_layer)}
        for gate in ansatz.gates:
            params = tuple(p.renumbered(weights=table) for p in gate.params) if r else gate.params
            gates.append(replace(gate, column=column + gate.column, params=params))
        column += ansatz.num_columns
    return CircuitDesign(num_qubits, gates)


class ModelCircuit:
    """The encoding plus the ansatz as one design, and the encoding's data transform."""

    def __init__(self, encoding: Any, ansatz: CircuitDesign, num_features: int) -> None:
        problem = encoding.check(num_features)
        if problem:
            raise ModelError(problem)
        self.encoding = encoding
        self.num_features = num_features
        self.encoding_design = encoding.circuit(num_features)
        self.ansatz = ansatz
        self.repetitions = int(getattr(encoding, "repetitions", 1) or 1)
        self.design = compose(self.encoding_design, ansatz, self.repetitions)
        self.num_qubits = self.design.num_qubits
        #: trainable circuit weights (gaps in the ansatz numbering included)
        self.num_weights = ansatz.num_weights * self.repetitions
        self._checked_width: int | None = None
        for gate in ansatz.gates:  # every derivative the exact gradient needs, with where it failed
            for angle in gate.params:
                for index in sorted(angle.weights):
                    try:
                        angle.derivative(index)
                    except ExpressionError as exc:
                        raise ModelError(f"{gate.where} of the circuit: {exc}") from None

    def inputs(self, features: np.ndarray) -> np.ndarray:
        """Values bound to ``x`` for raw (prepared) feature rows."""
        values = np.asarray(self.encoding.transform(np.asarray(features, dtype=float)), dtype=float)
        values = values[None, :] if values.ndim == 1 else values
        if values.ndim == 2 and values.shape[1] != self._checked_width:
            self.check_inputs(values.shape[1])
        return values

    def check_inputs(self, width: int) -> None:
        """Refuses a circuit whose gates read an input ``x[j]`` that the encoding does not give
        (``width`` values per sample), naming the first such gate."""
        if self.design.num_inputs > width:
            for gate in self.ansatz.gates:
                beyond = sorted(j for angle in gate.params for j in angle.inputs if j >= width)
                if beyond:
                    given = f"x[0] to x[{width - 1}]" if width else "no inputs"
                    raise ModelError(f"{gate.where} of the circuit reads x[{beyond[0]}], but the {self.encoding_name} encoding "
                                     f"of {self.num_features} feature(s) gives {given}")
            raise ModelError(f"the encoding's circuit reads x[{self.design.num_inputs - 1}], but its transform "
                             f"gives {width} value(s) per sample")
        self._checked_width = width

    @property
    def encoding_name(self) -> str:
        return str(getattr(self.encoding, "name", None) or type(self.encoding).__name__)


# ---------------------------------------------------------------------------
# Heads: measurements → predictions, and the loss
# ---------------------------------------------------------------------------
class Head:
    """Turns observable values into predictions and gives the loss and its gradients.

    ``observables(num_qubits)`` gives the diagonals the evaluator measures;
    ``num_extra`` classical parameters (output scale and bias) follow the circuit
    weights in the optimizer's vector.
    """

    num_extra = 0

    def observables(self, num_qubits: int) -> np.ndarray:
        raise NotImplementedError

    def initial_extra(self) -> np.ndarray:
        return np.zeros(self.num_extra)

    def loss(self, values: np.ndarray, extra: np.ndarray, targets: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Loss, ∂loss/∂values (batch × k) and ∂loss/∂extra."""
        raise NotImplementedError

    def predict(self, values: np.ndarray, extra: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class ClassifierHead(Head):
    """Class probabilities and the mean cross-entropy (natural log) of the true class."""

    def __init__(self, num_classes: int, readout: str = "modulo", trainable_output: bool = False, scale: float = 3.0) -> None:
        if readout not in READOUTS:
            raise ModelError(f"readout must be one of {', '.join(READOUTS)}, got {readout!r}")
        if num_classes < 2:
            raise ModelError("a classifier needs at least two classes")
        self.num_classes = num_classes
        self.readout = readout
        self.trainable = trainable_output
        self.scale = scale
        if readout == "z":
            self.num_extra = (2 if num_classes == 2 else 1 + num_classes) if trainable_output else 0

    def problem(self, num_qubits: int) -> str | None:
        """Why this readout cannot read this many classes from ``num_qubits`` qubits, or None
        (checked before anything is simulated)."""
        c = self.num_classes
        if self.readout == "modulo" and c > 2**num_qubits:
            return f"{c} classes need at least {math.ceil(math.log2(c))} qubits for bitstring readout"
        if self.readout in ("parity", "projector") and c != 2:
            return f"the {self.readout} readout reads two classes, the data has {c}: use modulo or z"
        if self.readout == "z" and c > 2 and c > num_qubits:
            return f"Z readout of {c} classes needs {c} qubits, the circuit has {num_qubits}"
        return None

    def observables(self, num_qubits: int) -> np.ndarray:
        c = self.num_classes
        problem = self.problem(num_qubits)
        if problem:
            raise ModelError(problem)
        if self.readout == "modulo":
            index = np.arange(2**num_qubits)
            return (index[None, :] % c == np.arange(c)[:, None]).astype(float)
        if self.readout == "parity":
            return z_diagonal(num_qubits, range(num_qubits))[None, :]
        if self.readout == "projector":  # +1 on |0…0⟩, −1 elsewhere: (1 + value)/2 = p(all zeros) = p(class 0)
            diagonal = -np.ones(2**num_qubits)
            diagonal[0] = 1.0
            return diagonal[None, :]
        if c == 2:
            return z_diagonal(num_qubits, [0])[None, :]
        return np.stack([z_diagonal(num_qubits, [q]) for q in range(c)])

    def initial_extra(self) -> np.ndarray:
        if not self.num_extra:
            return np.zeros(0)
        extra = np.zeros(self.num_extra)
        extra[0] = self.scale
        return extra

    def _probabilities(self, values: np.ndarray, extra: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]]:
        """Probabilities and a pull-back from ∂L/∂p to (∂L/∂values, ∂L/∂extra)."""
        if self.readout == "modulo":
            return values, lambda g: (g, np.zeros(0))
        if self.num_classes == 2 and not self.trainable:
            z = values[:, 0]
            probs = np.column_stack([(1 + z) / 2, (1 - z) / 2])
            return probs, lambda g: (((g[:, 0] - g[:, 1]) / 2)[:, None], np.zeros(0))
        if self.num_classes == 2:
            a, b = extra
            logit = -a * values[:, 0] + b  # logit of class 1
            p1 = 1.0 / (1.0 + np.exp(-logit))
            probs = np.column_stack([1 - p1, p1])

            def pull(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
                d_logit = (g[:, 1] - g[:, 0]) * p1 * (1 - p1)
                return (-a * d_logit)[:, None], np.array([np.sum(-values[:, 0] * d_logit), np.sum(d_logit)])

            return probs, pull
        a = extra[0] if self.trainable else self.scale
        bias = extra[1:] if self.trainable else np.zeros(self.num_classes)
        logits = a * values + bias
        logits -= logits.max(axis=1, keepdims=True)
        probs = np.exp(logits)
        probs /= probs.sum(axis=1, keepdims=True)

        def pull_softmax(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            d_logits = probs * (g - np.sum(g * probs, axis=1, keepdims=True))
            d_extra = np.concatenate([[np.sum(d_logits * values)], d_logits.sum(axis=0)]) if self.trainable else np.zeros(0)
            return a * d_logits, d_extra

        return probs, pull_softmax

    def probabilities(self, values: np.ndarray, extra: np.ndarray) -> np.ndarray:
        probs, _ = self._probabilities(values, extra)
        return np.clip(probs, 0.0, 1.0)

    def loss(self, values, extra, targets):
        probs, pull = self._probabilities(values, extra)
        n = len(targets)
        picked = probs[np.arange(n), targets]
        clipped = np.clip(picked, 1e-10, None)
        loss = float(-np.mean(np.log(clipped)))
        d_probs = np.zeros_like(probs)
        d_probs[np.arange(n), targets] = np.where(picked > 1e-10, -1.0 / (n * clipped), 0.0)
        d_values, d_extra = pull(d_probs)
        return loss, d_values, d_extra

    def predict(self, values, extra):
        return np.argmax(self.probabilities(values, extra), axis=1)

    @staticmethod
    def score(predictions: np.ndarray, targets: np.ndarray) -> float:
        return float(np.mean(predictions == targets)) if len(targets) else float("nan")


class RegressorHead(Head):
    """ŷ = a·⟨Z_0⟩ + b (a = 1, b = 0 unless trainable) and the mean squared error."""

    def __init__(self, trainable_output: bool = False) -> None:
        self.trainable = trainable_output
        self.num_extra = 2 if trainable_output else 0

    def observables(self, num_qubits: int) -> np.ndarray:
        return z_diagonal(num_qubits, [0])[None, :]

    def initial_extra(self) -> np.ndarray:
        return np.array([1.0, 0.0]) if self.trainable else np.zeros(0)

    def _affine(self, extra: np.ndarray) -> tuple[float, float]:
        return (float(extra[0]), float(extra[1])) if self.trainable else (1.0, 0.0)

    def predict(self, values, extra):
        a, b = self._affine(extra)
        return a * values[:, 0] + b

    def loss(self, values, extra, targets):
        a, _ = self._affine(extra)
        residual = self.predict(values, extra) - targets
        n = len(targets)
        loss = float(np.mean(residual**2))
        d_pred = 2.0 * residual / n
        d_extra = np.array([np.sum(d_pred * values[:, 0]), np.sum(d_pred)]) if self.trainable else np.zeros(0)
        return loss, (a * d_pred)[:, None], d_extra

    @staticmethod
    def score(predictions: np.ndarray, targets: np.ndarray) -> float:
        """R² (1 is perfect, 0 is as good as predicting the mean)."""
        if len(targets) < 2:
            return float("nan")
        total = np.sum((targets - targets.mean()) ** 2)
        return float(1.0 - np.sum((targets - predictions) ** 2) / total) if total > 0 else float("nan")


# ---------------------------------------------------------------------------
# Evaluators: observable values and loss gradients for a batch
# ---------------------------------------------------------------------------
class ExactEvaluator:
    """Exact values on a batched statevector; gradients by the adjoint method."""

    gradient_method = "adjoint"
    exact = True

    def __init__(self, design: CircuitDesign, observables: np.ndarray, cache_bytes: int = 64 << 20,
                 checkpoint: Callable[[], Any] | None = None, threads: int | None = None) -> None:
        # checkpoint: called between the parts of large batches (pause and stop mid-call)
        # threads: how many parts of a batch run at once (None: every core; same results)
        self.program = StatevectorProgram(design, cache_bytes=cache_bytes, checkpoint=checkpoint, threads=threads)
        self.observables = observables
        self.shots_used = 0

    def values(self, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        return self.program.expectations(weights, inputs, self.observables)

    def values_and_pullback(self, weights: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """Values and a function mapping ∂L/∂values to ∂L/∂weights (one adjoint pass)."""
        return self.program.value_and_pullback(weights, inputs, self.observables)

    def states(self, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        return self.program.states(weights, inputs)


# Parameter-shift rules: (shift, coefficient) pairs for d/dφ of f(φ).
_TWO_TERM = ((math.pi / 2, 0.5), (-math.pi / 2, -0.5))
_D_PLUS = (math.sqrt(2) + 1) / (4 * math.sqrt(2))
_D_MINUS = (math.sqrt(2) - 1) / (4 * math.sqrt(2))
_FOUR_TERM = ((math.pi / 2, _D_PLUS), (-math.pi / 2, -_D_PLUS), (3 * math.pi / 2, -_D_MINUS), (-3 * math.pi / 2, _D_MINUS))
_CONTROLLED_ROTATIONS = {"crx", "cry", "crz"}


class PrimitiveEvaluator:
    """Values through a backend's V2 primitives; gradients by parameter shift.

    A shot-based backend's ``SamplerV2`` gives outcome frequencies, to which the diagonal
    observables are applied. An exact backend (``backend.exact``, such as
    ``aer-statevector``) runs its ``EstimatorV2`` instead, on the diagonal observables
    written as sums of Z strings (:func:`diagonal_paulis`), so the values carry no shot
    noise and the shift rules give exact gradients.

    Every angle of the design that is not a constant becomes its own circuit parameter
    φ_k, whose values the engine computes per sample from the weights and inputs. The
    circuit is transpiled once. A batch is one PUB: all samples, and for a gradient all
    shifted φ sets (two per weight-dependent angle, four for controlled rotations),
    broadcast together. The chain rule through each angle's formula gives ∂L/∂θ.

    Parameterized controlled gates never reach the backend's primitives (see
    :mod:`qmlstudio.core.binding`): they are unrolled into their definitions, which are
    the same functions of φ, so the shift rules hold unchanged.
    """

    gradient_method = "parameter-shift"
    exact = False

    def __init__(self, design: CircuitDesign, observables: np.ndarray, backend: Any, readout: str = "probabilities") -> None:
        from qiskit import QuantumCircuit
        from qiskit.circuit import ParameterVector
        from qmlstudio.core.binding import bindable_circuit
        from qmlstudio.core.circuit import standard_gate_classes

        self.backend = backend
        self.observables = observables  # (k, 2**n) diagonals, applied to probabilities
        self.num_qubits = design.num_qubits
        self.shots_used = 0
        library = standard_gate_classes()
        angles = []  # (gate name, Angle)
        self._where = []  # where each angle's gate is, for messages
        for gate in design.ordered_gates:
            for p in gate.params:
                if not p.is_constant:
                    angles.append((gate.name, p))
                    self._where.append(gate.what)  # composed: its columns are not the canvas's
        self.angles = angles
        phi = ParameterVector("φ", len(angles))
        bare = QuantumCircuit(design.num_qubits)
        k = 0
        for gate in design.ordered_gates:
            params = []
            for p in gate.params:
                if p.is_constant:
                    params.append(float(p.evaluate()))
                else:
                    params.append(phi[k])
                    k += 1
            op = library[gate.name].base_class(*params) if params else library[gate.name]
            bare.append(op, list(gate.qubits))
        #: exact values from the backend's estimator (no shots) rather than sampled frequencies
        self.uses_estimator = bool(getattr(backend, "exact", False))
        circuit = bare.copy()
        if not self.uses_estimator:
            circuit.measure_all()
        self.parameters = list(phi)
        # Aer binds parameterized controlled rotations wrongly (Qiskit/qiskit-aer#2323): the
        # engine unrolls them before and after the backend's pass manager, whatever the backend.
        self.circuit = bindable_circuit(backend.pass_manager().run(bindable_circuit(circuit)))
        if self.uses_estimator:
            paulis = [diagonal_paulis(row, design.num_qubits) for row in np.atleast_2d(observables)]
            if self.circuit.layout is not None:  # a device's layout: observables follow the qubits
                paulis = [p.apply_layout(self.circuit.layout) for p in paulis]
            self.pauli_observables = [paulis]  # shape (1, k): broadcast against (rows, 1) bindings
        # Bind by name: transpiling keeps the φ parameters but may reorder them.
        order = {p.name: i for i, p in enumerate(phi)}
        self.circuit_order = [order[p.name] for p in self.circuit.parameters]
        self.weight_uses = []  # for each weight-dependent angle: (angle index, weights, derivative angles)
        for index, (name, angle) in enumerate(angles):
            if angle.weights:
                rule = _FOUR_TERM if name in _CONTROLLED_ROTATIONS else _TWO_TERM
                self.weight_uses.append((index, rule, {i: angle.derivative(i) for i in sorted(angle.weights)}))
        self.num_weights = design.num_weights

    def _phi(self, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        batch = inputs.shape[0]
        phi = np.empty((batch, len(self.angles)))
        for k, (_, angle) in enumerate(self.angles):
            phi[:, k] = np.broadcast_to(angle.evaluate(weights, inputs), (batch,))
            if not np.all(np.isfinite(phi[:, k])):
                raise ExpressionError(f"{self._where[k]}: angle {angle.text!r} is not finite for the current weights and "
                                      "inputs (it overflows or divides by zero); bound it, for example with sin() or a "
                                      "smaller factor")
        return phi

    def _run(self, phi: np.ndarray) -> np.ndarray:
        """Observable values for φ sets of any leading shape: (..., len(φ)) → (..., k)."""
        if self.uses_estimator:
            return self._estimate(phi)
        lead = phi.shape[:-1]
        probs, _ = self.sample(phi.reshape(-1, phi.shape[-1]) if self.angles else np.zeros((int(np.prod(lead)), 0)))
        return (probs @ self.observables.T).reshape(*lead, -1)

    def bound_circuit(self, row: np.ndarray) -> Any:
        """The transpiled circuit with one row of φ values bound (what a sample runs)."""
        return self.circuit.assign_parameters(np.asarray(row, dtype=float)[self.circuit_order]) if self.angles \
            else self.circuit

    def sample(self, phi: np.ndarray) -> tuple[np.ndarray, int | None]:
        """Outcome distributions (rows × 2**n, qubit 0 the lowest bit) for rows of φ values, and
        the shots behind each row (``None``: exact probabilities). Sampled through the backend's
        ``SamplerV2``: one PUB for the whole batch."""
        rows = phi.shape[0]
        pub = (self.circuit, phi[:, self.circuit_order]) if self.angles else (self.circuit,)
        return self._sampled([pub], [rows])

    def sample_circuits(self, circuits: list[Any]) -> tuple[np.ndarray, int | None]:
        """As :meth:`sample` for circuits already transpiled for the backend and bound (the
        folded circuits of zero-noise extrapolation): one PUB each, in one job."""
        return self._sampled([(c,) for c in circuits], [1] * len(circuits))

    def _sampled(self, pubs: list[Any], rows: list[int]) -> tuple[np.ndarray, int | None]:
        """The frequencies of ``pubs`` run in one sampler job (``rows[i]`` rows from PUB i)."""
        from qmlstudio.core.binding import bindable_sampler

        # None lets the sampler use its own default (e.g. the Aer backend's sampler_shots):
        # an exact backend has no shots of its own, and 1024 here would override the user's choice.
        shots = getattr(self.backend, "shots", None)
        results = bindable_sampler(self.backend.sampler()).run(pubs, shots=shots).result()
        dim = 2**self.num_qubits
        parts, used = [], 0
        try:
            for result, count in zip(results, rows):
                data = next(iter(result.data.values()))
                probs = _probabilities(data, dim, count)
                if probs.shape[0] != count:  # a circuit without parameters ran once for every row
                    probs = np.broadcast_to(probs[:1], (count, dim))
                parts.append(probs)
                used = int(getattr(data, "num_shots", None) or shots or 0)
        except (AttributeError, TypeError, ValueError, IndexError, KeyError, StopIteration) as exc:
            raise self._garbage("sampler", exc) from exc
        self.shots_used += sum(rows) * used
        return (np.concatenate(parts) if parts else np.zeros((0, dim))), used or None

    def _estimate(self, phi: np.ndarray) -> np.ndarray:
        """Exact observable values from the backend's estimator (one PUB, no shots)."""
        lead = phi.shape[:-1]
        rows = int(np.prod(lead))
        if self.angles:
            bound = phi.reshape(-1, phi.shape[-1])[:, self.circuit_order]
            pub: tuple[Any, ...] = (self.circuit, self.pauli_observables, bound.reshape(rows, 1, -1))
        else:
            pub = (self.circuit, self.pauli_observables)
        result = self.backend.estimator().run([pub]).result()[0]
        try:
            evs = np.real(np.asarray(result.data.evs, dtype=complex)).reshape(-1, len(self.pauli_observables[0]))
            if evs.shape[0] != rows:  # a circuit without parameters ran once for every row
                evs = np.broadcast_to(evs[:1], (rows, evs.shape[1]))
            return evs.reshape(*lead, -1)
        except (AttributeError, TypeError, ValueError) as exc:
            raise self._garbage("estimator", exc) from exc

    def _garbage(self, primitive: str, exc: Exception) -> ModelError:
        """The backend's primitive answered with results that do not fit what it was asked."""
        who = getattr(type(self.backend), "_qmls_who", None) or f"the backend {type(self.backend).__name__}"
        return ModelError(f"{who} failed in {primitive}(): its results do not fit the circuit it was "
                          f"given ({type(exc).__name__}: {exc})")

    def values(self, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
        return self._run(self._phi(weights, inputs))

    def values_and_pullback(self, weights: np.ndarray, inputs: np.ndarray,
                            per_sample: bool = False) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """Values and the pullback ∂L/∂values → ∂L/∂θ, summed over the batch, or per sample
        (``(batch, num_weights)``) with ``per_sample``."""
        phi = self._phi(weights, inputs)
        shifted = [phi]
        plan = []
        for index, rule, _ in self.weight_uses:
            for shift, coefficient in rule:
                moved = phi.copy()
                moved[:, index] += shift
                plan.append((index, coefficient))
                shifted.append(moved)
        results = self._run(np.stack(shifted))  # (1 + S, batch, k): one PUB
        values = results[0]

        def pullback(upstream: np.ndarray) -> np.ndarray:
            d_phi = np.zeros((phi.shape[0], len(self.angles)))
            for (index, coefficient), shifted_values in zip(plan, results[1:]):
                d_phi[:, index] += coefficient * np.sum(upstream * shifted_values, axis=1)
            return self._weight_gradient(d_phi, weights, inputs, per_sample)

        return values, pullback

    def _weight_gradient(self, d_phi: np.ndarray, weights: np.ndarray, inputs: np.ndarray,
                         per_sample: bool = False) -> np.ndarray:
        """∂L/∂θ from ∂L/∂φ (batch, angles): the chain rule through each angle's formula
        (summed over the batch, or ``(batch, num_weights)`` with ``per_sample``)."""
        rows = d_phi.shape[0]
        grad = np.zeros((rows, self.num_weights))
        for index, _, derivatives in self.weight_uses:
            for i, derivative in derivatives.items():
                grad[:, i] += d_phi[:, index] * np.broadcast_to(derivative.evaluate(weights, inputs), (rows,))
        return grad if per_sample else grad.sum(axis=0)


class NoisyExactEvaluator(PrimitiveEvaluator):
    """Exact noisy values and gradients: the circuit transpiled as the backend's device runs it,
    then simulated as batched density matrices under the device's noise channels
    (:class:`~qmlstudio.core.density.NoisyProgram`, built by ``backend.noisy_program``), with
    the readout errors on the measured probabilities; gradients in reverse mode through the
    channels (one forward and one backward pass for the whole batch, no shifted circuits).

    The transpiled circuit's RZ angles are affine in the circuit's φ parameters (the transpiler
    only adds constants and merges rotations); any other dependence is refused.
    """

    gradient_method = "adjoint (density matrix)"
    exact = False

    def __init__(self, design: CircuitDesign, observables: np.ndarray, backend: Any) -> None:
        super().__init__(design, observables, backend)
        program, angles, active, measured = backend.noisy_program(self.circuit)
        if len(measured) != design.num_qubits:
            raise ModelError(f"the transpiled circuit measures {len(measured)} qubits, the model has {design.num_qubits}")
        self.measured, self.active = measured, active
        position = {p.name: k for k, p in enumerate(self.parameters)}
        self.offsets = np.zeros(len(angles))
        self.coefficients = np.zeros((len(angles), len(self.parameters)))
        for a, angle in enumerate(angles):
            names = {p.name: p for p in getattr(angle, "parameters", ())}
            if not names:
                self.offsets[a] = float(angle)
                continue
            self.offsets[a] = float(angle.bind({p: 0.0 for p in names.values()}))
            for name, parameter in names.items():
                slope = angle.gradient(parameter)
                if getattr(slope, "parameters", None):
                    raise ModelError(f"the transpiled circuit's angle {angle} is not affine in the circuit's angles: "
                                     "the exact noisy simulator cannot differentiate it")
                self.coefficients[a, position[name]] = float(slope)
        # RZs whose angle no sample changes become fixed channels, merged with their neighbours
        constant = {a: float(self.offsets[a]) for a in range(len(angles)) if not self.coefficients[a].any()}
        self.program = program.fused(constant)
        from qmlstudio.core.statevector import available_cores

        self.threads = max(1, available_cores())

    def _angles(self, phi: np.ndarray) -> np.ndarray:
        return self.offsets + phi @ self.coefficients.T

    #: the most memory the density matrices of one call may take at once (parts of a large
    #: batch run one after another); None: half of what the machine has available
    memory_budget: int | None = None

    def _budget(self) -> int:
        from qmlstudio.core.memory import available_memory

        if self.memory_budget is not None:
            return int(self.memory_budget)
        available = available_memory()
        return (available // 2) if available else 1 << 30

    def _sample_bytes(self, gradient: bool) -> int:
        """Memory per sample: the state and the cotangent, and for a gradient the states the
        backward pass keeps (about √T of them when they do not all fit)."""
        state = 16 << (2 * self.program.num_qubits)
        kept = 2 * int(np.ceil(np.sqrt(max(1, len(self.program.operations))))) if gradient else 0
        return state * (3 + kept)

    def _parts(self, rows: int, gradient: bool = False) -> list[slice]:
        """The batch in parts: at least one per thread (the compiled loops release the GIL),
        and small enough for the memory budget. Each part is simulated alone, so the results do
        not depend on the split. Refused, with the figures, when one sample does not fit."""
        budget = self._budget()
        per_sample = self._sample_bytes(gradient)
        if per_sample > budget:
            from qmlstudio.core.memory import format_bytes

            n = self.program.num_qubits
            raise ModelError(f"a density matrix of {n} qubits holds 4^{n} = {4 ** n:,} numbers: one sample needs "
                             f"{format_bytes(per_sample)}, more than the {format_bytes(budget)} this machine can give "
                             "it; use fewer qubits (a smaller device layout or fewer features)")
        chunk = max(1, budget // per_sample)
        parts = max(min(self.threads, rows), -(-rows // chunk)) if rows else 0
        edges = np.linspace(0, rows, parts + 1).astype(int) if parts else np.array([0, rows])
        return [slice(int(a), int(b)) for a, b in zip(edges, edges[1:]) if b > a]

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``fn`` over ``items`` (parts of a batch) on the threads, results in order."""
        if len(items) <= 1 or self.threads <= 1:
            return [fn(item) for item in items]
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=min(self.threads, len(items)), thread_name_prefix="density") as pool:
            return list(pool.map(fn, items))

    def _run(self, phi: np.ndarray) -> np.ndarray:
        lead = phi.shape[:-1]
        probs, _ = self.sample(phi.reshape(-1, phi.shape[-1]))
        return (probs @ self.observables.T).reshape(*lead, -1)

    def _exact(self, phi: np.ndarray) -> np.ndarray:
        angles = self._angles(phi)
        return np.concatenate(self._map(lambda part: self.program.probabilities(angles[part], self.measured),
                                        self._parts(angles.shape[0])))

    def _shots(self, probs: np.ndarray) -> tuple[np.ndarray, int | None]:
        """Exact probabilities, or with the backend's ``shots`` the frequencies of that many shots
        drawn from them (multinomial, seeded by the backend: shot noise on top, reproducible)."""
        shots = getattr(self.backend, "shots", None)
        if not shots:
            return probs, None
        rng = np.random.default_rng(self.backend.next_seed())
        p = np.clip(probs, 0.0, None)
        counts = rng.multinomial(int(shots), p / p.sum(axis=1, keepdims=True))
        self.shots_used += probs.shape[0] * int(shots)
        return counts / float(shots), int(shots)

    def sample(self, phi: np.ndarray) -> tuple[np.ndarray, int | None]:
        return self._shots(self._exact(phi))

    def sample_circuits(self, circuits: list[Any]) -> tuple[np.ndarray, int | None]:
        """Each bound, transpiled circuit simulated exactly as a program of its own (the folded
        circuits of zero-noise extrapolation), with the backend's shots on top if it has them."""
        rows = []
        for circuit in circuits:
            program, angles, _, measured = self.backend.noisy_program(circuit)
            if len(measured) != self.num_qubits:
                raise ModelError(f"the circuit measures {len(measured)} qubits, the model has {self.num_qubits}")
            rows.append(program.probabilities(np.array([[float(a) for a in angles]]), measured)[0])
        return self._shots(np.array(rows).reshape(len(rows), 2**self.num_qubits))

    def values_and_pullback(self, weights: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        phi = self._phi(weights, inputs)
        angles = self._angles(phi)
        rows = angles.shape[0]
        # the states the backward pass needs are kept when the whole batch's fit the budget;
        # else each part runs forward again in the pullback, one part at a time per thread
        keep = rows * self._sample_bytes(True) <= self._budget()

        def forward(part: slice) -> tuple[slice, np.ndarray, Any]:
            rho, checkpoints = self.program.forward(angles[part])
            return part, self.program.measure(rho, self.measured), checkpoints if keep else None

        runs = self._map(forward, self._parts(rows, gradient=True))
        values = np.concatenate([probs for _, probs, _ in runs]) @ self.observables.T

        def pullback(upstream: np.ndarray) -> np.ndarray:
            d_probs = np.asarray(upstream, dtype=float) @ self.observables

            def backward(item: tuple[slice, np.ndarray, Any]) -> np.ndarray:
                part, _, checkpoints = item
                if checkpoints is None:
                    checkpoints = self.program.forward(angles[part])[1]
                adjoint = self.program.measure_adjoint(d_probs[part], self.measured)
                return self.program.backward(angles[part], checkpoints, adjoint)

            d_angles = np.concatenate(self._map(backward, runs))
            return self._weight_gradient(d_angles @ self.coefficients, weights, inputs)

        return values, pullback


def diagonal_paulis(diagonal: np.ndarray, num_qubits: int) -> Any:
    """A diagonal observable (its ``2**n`` entries, qubit 0 the lowest bit) as a ``SparsePauliOp``
    of Z strings: ``D = Σ_z c_z Z^z`` with ``c_z = 2**-n Σ_b D_b (-1)^popcount(z & b)`` (a
    Walsh–Hadamard transform). Terms whose coefficient is below 1e-12 of the largest are left out.
    """
    from qiskit.quantum_info import SparsePauliOp

    size = 2**num_qubits
    c = np.asarray(diagonal, dtype=float).reshape(size).copy()
    h = 1
    while h < size:
        pairs = c.reshape(-1, 2, h)
        c = np.stack([pairs[:, 0] + pairs[:, 1], pairs[:, 0] - pairs[:, 1]], axis=1).reshape(size)
        h *= 2
    c /= size
    largest = float(np.max(np.abs(c))) if size else 0.0
    terms = [("Z" * bin(z).count("1"), [q for q in range(num_qubits) if z >> q & 1], float(c[z]))
             for z in np.flatnonzero(np.abs(c) > 1e-12 * largest)] if largest > 0 else []
    if not terms:
        terms = [("", [], 0.0)]
    return SparsePauliOp.from_sparse_list(terms, num_qubits=num_qubits)


def _probabilities(data: Any, dim: int, rows: int) -> np.ndarray:
    """Outcome frequencies per parameter row of a sampler result (rows × 2**n)."""
    if hasattr(data, "array") and hasattr(data, "num_shots"):
        # A BitArray: decode every shot at once instead of building count dicts row by row.
        packed = np.asarray(data.array).reshape(-1, data.num_shots, data.array.shape[-1])
        outcomes = np.zeros(packed.shape[:2], dtype=np.int64)
        for column in range(packed.shape[-1]):  # big-endian bytes, as BitArray stores them
            outcomes = (outcomes << 8) | packed[..., column]
        offsets = np.arange(outcomes.shape[0], dtype=np.int64)[:, None] * dim
        counts = np.bincount((outcomes + offsets).ravel(), minlength=outcomes.shape[0] * dim)
        return counts.reshape(outcomes.shape[0], dim).astype(float) / data.num_shots
    probs = np.zeros((rows, dim))
    for r in range(rows):
        try:
            counts = data.get_int_counts(r)
        except TypeError:  # results without a parameter axis
            counts = data.get_int_counts()
        for value, c in counts.items():
            probs[r, value] = c
    return probs / probs.sum(axis=1, keepdims=True)
