"""Analysis studies: barren plateaus, encodings side by side, quantum kernels.

The experiments every QML practitioner runs by hand, Qt-free and plugin-free: what they
need from plugins (an ansatz template, a way to build a training run) is passed in as
callables, so the CLI and the GUI share them and tests drive them with plain functions.

**Barren plateaus** (:func:`barren_plateau_study`). For each qubit count ``n`` and layer
count ``L`` a template builds a circuit; weights are drawn uniformly from [0, 2π) and the
gradient of two costs with respect to one weight is computed exactly (adjoint method)
for every sample:

* the *global* cost ``C_G = (1 − ⟨Z⊗Z⊗…⊗Z⟩) / 2``, the probability that the parity of all
  ``n`` qubits is odd (McClean et al., Nat. Commun. 9, 4812 (2018), measure a global
  Pauli string the same way);
* the *local* cost ``C_L = (1 − ⟨Z_0⟩) / 2``, the probability of reading 1 on qubit 0
  (Cerezo et al., Nat. Commun. 12, 1791 (2021)).

The variance over samples is fitted as ``Var ∝ 2^(−a·n)`` (least squares of log2 Var
against ``n``): ``a ≈ 1`` is the 2-design value of a global Pauli string, ``a ≈ 0`` means
no barren plateau. A parity cost gives ``a = 1`` exactly on a product of RY rotations
and tends to it on deep random circuits, while a one-qubit cost only sees its light cone:
on shallow circuits its variance hardly depends on ``n``; deep enough circuits (a
2-design over all qubits) make it decay as well.

All samples are simulated as one batch: each trainable angle ``θ_i`` becomes
``θ_i + x_i`` and the random weights are fed as inputs ``x`` with ``θ = 0``, so that
``∂C/∂θ_i`` at ``θ = 0`` is the gradient at the sampled weights.

**Gradient heatmap** (:func:`gradient_heatmap`): mean |∂C/∂θ_i| over random weights for
one design, arranged by the (qubit, column) of the gate that holds each weight.

**Encoding study** (:func:`encoding_study`): one training per encoding, same data,
seed and optimizer, and the same ansatz: the template is built once on the widest qubit
count the encodings need (an encoding on fewer qubits leaves the others in |0⟩ for the
ansatz), so every encoding trains the same number of weights. Depths and two-qubit gate
counts are measured after transpiling, for the encoding alone and the whole circuit, to a
basis gate set (``rz, sx, x, cx``) and optionally to a device through its pass manager: an
RZZ and a CX–RZ–CX look different drawn but are the same circuit transpiled.

**Kernel study** (:func:`kernel_study`): the fidelity-kernel Gram matrix, its
kernel-target alignment, and a quantum-kernel SVM against an RBF SVM on the same split.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.control import Cancelled  # the one cancel exception (results so far are discarded)
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.expressions import Angle
from qmlstudio.core.statevector import StatevectorProgram, z_diagonal

__all__ = [
    "AnalysisError",
    "BarrenPlateauResult",
    "Cancelled",
    "EncodingRow",
    "EncodingStudyResult",
    "GradientHeatmap",
    "KernelStudyResult",
    "Progress",
    "INIT_STRATEGIES",
    "barren_plateau_study",
    "cost_observables",
    "identity_block",
    "mirror_half",
    "initial_weight_samples",
    "initialisation_study",
    "study_design",
    "with_input_layer",
    "encoding_study",
    "encoding_qubits",
    "encoding_variant",
    "transpiled_counts",
    "fit_decay_rate",
    "gradient_heatmap",
    "hardware_efficient",
    "kernel_study",
    "parse_range",
    "project_kernel_study",
    "sample_gradients",
    "template_builder",
]

COSTS = ("global", "local")


class AnalysisError(QMLStudioError):
    """A study cannot run with these settings (a clear message for the user)."""


#: ``progress(done, total, message)``; returning True (or raising :class:`Cancelled`) stops.
Progress = Callable[[int, int, str], Any]


def _report(progress: Progress | None, done: int, total: int, message: str) -> None:
    if progress is not None and progress(done, total, message) is True:
        raise Cancelled()


def parse_range(text: str, what: str = "range") -> list[int]:
    """``"2-8"`` → ``[2, ..., 8]``, ``"2,4,6"`` → ``[2, 4, 6]``, ``"2-10:2"`` → ``[2, 4, ..., 10]``."""
    values: list[int] = []
    try:
        for part in str(text).split(","):
            part = part.strip()
            if not part:
                continue
            span, _, step = part.partition(":")
            low, dash, high = span.partition("-")
            if dash:
                values.extend(range(int(low), int(high) + 1, int(step or 1)))
            else:
                values.append(int(span))
    except ValueError:
        raise AnalysisError(f"{what} {text!r}: expected numbers like 2-8, 2,4,6 or 2-10:2") from None
    if not values:
        raise AnalysisError(f"{what} {text!r} is empty")
    return sorted(set(values))


# ---------------------------------------------------------------------------
# Barren plateaus
# ---------------------------------------------------------------------------
def hardware_efficient(num_qubits: int, layers: int) -> CircuitDesign:
    """The textbook hardware-efficient ansatz: RY·RZ on every qubit, then a CZ brick-work
    (even pairs, then odd pairs), ``layers`` times, and a final RY·RZ layer."""
    gates: list[Gate] = []
    column, weight = 0, 0

    def rotations() -> None:
        nonlocal column, weight
        for name in ("ry", "rz"):
            for q in range(num_qubits):
                gates.append(Gate(name, (q,), (Angle.weight(weight),), column, "hardware-efficient"))
                weight += 1
            column += 1

    for _ in range(layers):
        rotations()
        for start in (0, 1):
            pairs = [(q, q + 1) for q in range(start, num_qubits - 1, 2)]
            for a, b in pairs:
                gates.append(Gate("cz", (a, b), (), column, "hardware-efficient"))
            if pairs:
                column += 1
    rotations()
    return CircuitDesign(num_qubits, gates)


def cost_observables(num_qubits: int) -> np.ndarray:
    """Rows ``(C_G, C_L)`` as diagonals: (1 − Z⊗…⊗Z)/2 and (1 − Z_0)/2."""
    return np.stack([(1 - z_diagonal(num_qubits, range(num_qubits))) / 2, (1 - z_diagonal(num_qubits, [0])) / 2])


_WEIGHT_SYMBOL = re.compile(r"θ\[(\d+)\]")


def _weights_as_inputs(design: CircuitDesign) -> tuple[CircuitDesign, int]:
    """The design with every ``θ[i]`` replaced by ``θ[i] + x[offset + i]`` (see the module notes)."""
    offset = design.num_inputs

    def shifted(angle: Angle) -> Angle:
        if not angle.weights:
            return angle
        return Angle(_WEIGHT_SYMBOL.sub(lambda m: f"(θ[{m.group(1)}] + x[{offset + int(m.group(1))}])", angle.text))

    gates = [replace(g, params=tuple(shifted(p) for p in g.params)) for g in design.gates]
    return CircuitDesign(design.num_qubits, gates), offset


def sample_gradients(
    design: CircuitDesign,
    observables: np.ndarray,
    samples: int,
    rng: np.random.Generator,
    *,
    inputs: np.ndarray | None = None,
    chunk: int = 256,
    progress: Callable[[], Any] | None = None,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """``∂⟨O_k⟩/∂θ_i`` at ``samples`` weight vectors drawn uniformly from [0, 2π):
    shape ``(samples, k, num_weights)``.

    A design with data inputs gets ``inputs`` (one row, or one row per sample; default
    uniform in [0, 2π) per sample). ``weights`` (samples × weights) replaces the uniform draw
    (another initialisation strategy, :func:`initial_weight_samples`)."""
    num_weights = design.num_weights
    if num_weights == 0:
        raise AnalysisError("the circuit has no trainable weights: there is no gradient to study")
    shifted, offset = _weights_as_inputs(design)
    program = StatevectorProgram(shifted)
    if weights is None:
        weights = rng.uniform(0, 2 * np.pi, size=(samples, num_weights))
    elif np.shape(weights) != (samples, num_weights):
        raise AnalysisError(f"weights must be samples × weights = {samples} × {num_weights}, got {np.shape(weights)}")
    if offset:
        if inputs is None:
            data = rng.uniform(0, 2 * np.pi, size=(samples, offset))
        else:
            data = np.broadcast_to(np.atleast_2d(np.asarray(inputs, dtype=float))[:, :offset], (samples, offset))
        weights = np.hstack([data, weights])
    out = np.empty((samples, len(observables), num_weights))
    zeros = np.zeros(num_weights)
    for start in range(0, samples, chunk):
        part = weights[start : start + chunk]
        out[start : start + len(part)] = program.jacobian(zeros, part, observables)
        if progress is not None:
            progress()
    return out


#: How the barren-plateau study draws the weights at which it takes gradients (the training
#: initialisations it compares): ``uniform`` in [0, 2π); ``small-angle`` uniform in ±ε·π;
#: ``identity-blocks`` (Grant et al., Quantum 3, 214 (2019)): the circuit of half the layers
#: followed by its mirror image (:func:`identity_block`), the mirror's weights equal to the
#: first half's, so the initial circuit is the identity whatever the drawn weights.
INIT_STRATEGIES = ("uniform", "small-angle", "identity-blocks")

_SELF_INVERSE = frozenset({"h", "x", "y", "z", "cx", "cy", "cz", "swap", "ccx"})
_INVERSE_NAMES = {"s": "sdg", "sdg": "s", "t": "tdg", "tdg": "t"}


def _negated(angle: Angle, table: Mapping[int, int]) -> Angle:
    return Angle(f"-({angle.renumbered(weights=table).text})")


def inverse_gates(gate: Gate, table: Mapping[int, int], column: int) -> list[Gate]:
    """Gates whose product is ``gate``'s inverse, with the weights renumbered through ``table``
    (an inverse angle is the negated formula of the renumbered weights)."""
    name = gate.name
    if name in _SELF_INVERSE:
        return [replace(gate, column=column)]
    if name in _INVERSE_NAMES:
        return [replace(gate, name=_INVERSE_NAMES[name], column=column)]
    if name == "sx":  # SX† = RX(−π/2) up to a global phase
        return [Gate("rx", gate.qubits, ("-pi/2",), column, gate.block)]
    if name == "u":  # U(θ, φ, λ)† = U(−θ, −λ, −φ)
        theta, phi, lam = gate.params
        return [replace(gate, params=(_negated(theta, table), _negated(lam, table), _negated(phi, table)), column=column)]
    return [replace(gate, params=tuple(_negated(a, table) for a in gate.params), column=column)]


def identity_block(design: CircuitDesign) -> CircuitDesign:
    """``design`` followed by its inverse, gate by gate in reverse order, whose weights are new
    ones (``θ[i]`` of the design becomes ``θ[i + W]``, W its weight count): with the second
    half's weights equal to the first's the circuit is the identity (Grant et al. 2019)."""
    offset = design.num_weights
    table = {i: i + offset for i in range(offset)}
    gates = list(design.gates)
    column = design.num_columns
    for gate in reversed(design.ordered_gates):
        gates += inverse_gates(gate, table, column)
        column += 1
    return CircuitDesign(design.num_qubits, gates)


def mirror_half(design: CircuitDesign) -> CircuitDesign | None:
    """The first half of ``design`` when ``design`` is :func:`identity_block` of it (the second
    half's gates invert the first's in reverse order, on weights ``θ[i + W/2]``), else None."""
    gates = design.ordered_gates
    weights = design.num_weights
    if not gates or len(gates) % 2 or weights % 2:
        return None
    first = CircuitDesign(design.num_qubits, gates[: len(gates) // 2])
    if first.num_weights * 2 != weights:
        return None

    def key(design_: CircuitDesign) -> list[tuple[Any, ...]]:
        return [(g.name, tuple(g.qubits), tuple(str(a) for a in g.params)) for g in design_.ordered_gates]

    try:
        mirrored = identity_block(first)
    except Exception:  # noqa: BLE001 - a gate without a known inverse: not a mirror design
        return None
    return first if key(mirrored) == key(design) else None


def with_input_layer(design: CircuitDesign, angle: str = "pi/4") -> CircuitDesign:
    """``design`` after RY(π/4) on every qubit: the initial state of McClean et al. 2018, which
    no Pauli-Z cost has as an eigenstate (from |0…0⟩ every gradient at the identity is 0)."""
    gates = [Gate("ry", (q,), (angle,), 0, "input") for q in range(design.num_qubits)]
    gates += [replace(g, column=g.column + 1) for g in design.gates]
    return CircuitDesign(design.num_qubits, gates)


def initial_weight_samples(init: str, rng: np.random.Generator, samples: int, num_weights: int,
                           epsilon: float = 0.05) -> np.ndarray:
    """``samples`` weight vectors drawn as the strategy ``init`` does (for ``identity-blocks``
    ``num_weights`` counts both halves of :func:`identity_block`)."""
    if init == "uniform":
        return rng.uniform(0, 2 * np.pi, size=(samples, num_weights))
    if init == "small-angle":
        return rng.uniform(-epsilon * np.pi, epsilon * np.pi, size=(samples, num_weights))
    if init == "identity-blocks":
        if num_weights % 2:
            raise AnalysisError("identity blocks have as many weights in their mirror as in their first half")
        first = rng.uniform(0, 2 * np.pi, size=(samples, num_weights // 2))
        return np.hstack([first, first])
    raise AnalysisError(f"unknown initialisation {init!r} (known: {', '.join(INIT_STRATEGIES)})")


def fit_decay_rate(qubits: Sequence[int], variances: Sequence[float]) -> tuple[float, float]:
    """``(a, b)`` of the least-squares line ``log2 Var = b − a·n``: ``Var ∝ 2^(−a·n)``."""
    n = np.asarray(qubits, dtype=float)
    v = np.asarray(variances, dtype=float)
    keep = np.isfinite(v) & (v > 0)
    if keep.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(n[keep], np.log2(v[keep]), 1)
    return float(-slope), float(intercept)


@dataclass
class BarrenPlateauResult:
    """Gradient variances of the global and local cost by qubit and layer count.

    ``variance[cost][str(layers)]`` lists one variance per entry of ``qubits``;
    ``rate[cost][str(layers)]`` is the fitted ``a`` of ``Var ∝ 2^(−a·n)`` and
    ``intercept`` its ``log2`` offset. ``variance_ci95[cost][str(layers)]`` gives per entry
    of ``qubits`` the 95% percentile-bootstrap interval ``[low, high]`` of that variance
    (2000 resamples of the gradient samples, seeded).
    """

    template: str
    qubits: list[int]
    layers: list[int]
    samples: int
    seed: int
    weight: str
    variance: dict[str, dict[str, list[float]]]
    mean_abs: dict[str, dict[str, list[float]]]
    rate: dict[str, dict[str, float]]
    intercept: dict[str, dict[str, float]]
    seconds: float = 0.0
    variance_ci95: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    #: the 95% percentile-bootstrap interval of each fitted rate (:func:`rate_interval`)
    rate_ci95: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: how the weights were drawn (:data:`INIT_STRATEGIES`), the small-angle scale, and
    #: whether RY(π/4) on every qubit came first
    init: str = "uniform"
    epsilon: float = 0.05
    input_layer: bool = False
    #: E[(∂C/∂θ)²] by cost, layers and qubits (the variance when the mean is 0, as with
    #: uniform weights; identity blocks give every sample the same gradient: a variance of 0
    #: whatever its size), its bootstrap intervals, its fitted decay rate and the rate's interval
    mean_square: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    mean_square_ci95: dict[str, dict[str, list[list[float]]]] = field(default_factory=dict)
    mean_square_rate: dict[str, dict[str, float]] = field(default_factory=dict)
    mean_square_rate_ci95: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    costs: dict[str, str] = field(default_factory=lambda: {
        "global": "(1 - <Z x Z x ... x Z>)/2 on all qubits",
        "local": "(1 - <Z_0>)/2 on qubit 0",
    })

    def to_dict(self) -> dict[str, Any]:
        def clean(value: Any) -> Any:
            if isinstance(value, dict):
                return {k: clean(v) for k, v in value.items()}
            if isinstance(value, list):
                return [clean(v) for v in value]
            if isinstance(value, float) and not math.isfinite(value):
                return None
            return value

        return clean({
            "study": "barren-plateau", "template": self.template, "qubits": self.qubits, "layers": self.layers,
            "samples": self.samples, "seed": self.seed, "weight": self.weight, "costs": self.costs,
            "variance": self.variance, "variance_ci95": self.variance_ci95, "mean_abs_gradient": self.mean_abs, "rate": self.rate,
            "rate_ci95": self.rate_ci95, "init": self.init, "epsilon": self.epsilon, "input_layer": self.input_layer,
            "mean_square": self.mean_square, "mean_square_ci95": self.mean_square_ci95,
            "mean_square_rate": self.mean_square_rate, "mean_square_rate_ci95": self.mean_square_rate_ci95,
            "intercept": self.intercept, "seconds": self.seconds,
        })


def _weight_index(design: CircuitDesign, which: str | int) -> int:
    if isinstance(which, int):
        if not 0 <= which < design.num_weights:
            raise AnalysisError(f"weight {which} is out of range (the circuit has {design.num_weights})")
        return which
    if which == "first":
        return design.weight_indices[0]
    if which == "middle":
        return design.weight_indices[len(design.weight_indices) // 2]
    if which == "last":
        return design.weight_indices[-1]
    raise AnalysisError(f"weight must be an index, first, middle or last, got {which!r}")


def variance_interval(values: Any, *, seed: Any = 0, resamples: int = 2000, level: float = 0.95) -> list[float]:
    """The percentile-bootstrap interval of the sample variance (ddof=1) of ``values``:
    ``resamples`` resamples with replacement drawn with ``numpy.random.default_rng(seed)``.
    No normality is assumed (gradients of random circuits are far from normal)."""
    low, high, _ = _variance_draws(values, seed=seed, resamples=resamples, level=level)
    return [low, high]


def barren_plateau_point(design: CircuitDesign, samples: int, seed: Any, weight: str | int = "first",
                         init: str = "uniform", epsilon: float = 0.05) -> dict[str, Any]:
    """One point of the barren-plateau sweep: for each cost (``COSTS``) the variance of
    ∂C/∂θ_weight over ``samples`` random weight vectors, its 95% bootstrap interval, the mean
    |gradient| and the 2000 bootstrap variances (``draws``, for the decay rate's interval).
    ``seed`` is the point's own (the study gives ``[seed, n, L]``): the numbers are the same
    wherever the point is computed."""
    index = _weight_index(design, weight)
    n = design.num_qubits
    rng = np.random.default_rng(seed)
    drawn = None if init == "uniform" else initial_weight_samples(init, rng, samples, design.num_weights, epsilon)
    grads = sample_gradients(design, cost_observables(n), samples, rng, weights=drawn)[:, :, index]
    point: dict[str, Any] = {}
    for k, cost in enumerate(COSTS):
        low, high, draws = _variance_draws(grads[:, k], seed=[*np.atleast_1d(seed).tolist(), k])
        ms_low, ms_high, ms_draws = _variance_draws(grads[:, k], seed=[*np.atleast_1d(seed).tolist(), k],
                                                    statistic=_mean_square)
        point[cost] = {"variance": float(np.var(grads[:, k], ddof=1)), "ci95": [low, high],
                       "mean_abs": float(np.mean(np.abs(grads[:, k]))), "draws": draws,
                       "mean_square": float(np.mean(grads[:, k] ** 2)), "mean_square_ci95": [ms_low, ms_high],
                       "mean_square_draws": ms_draws}
    return point


def _mean_square(x: np.ndarray, axis: int) -> np.ndarray:
    return np.mean(x**2, axis=axis)


def _variance_draws(values: Any, *, seed: Any, resamples: int = 2000, level: float = 0.95,
                    statistic: Callable[..., np.ndarray] | None = None) -> tuple[float, float, np.ndarray]:
    """The percentile-bootstrap interval of ``statistic`` (default: the sample variance) and
    its ``resamples`` bootstrap values."""
    x = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    sample = x[rng.integers(0, len(x), size=(resamples, len(x)))]
    draws = np.var(sample, axis=1, ddof=1) if statistic is None else statistic(sample, axis=1)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return float(low), float(high), draws


def rate_interval(qubits: Sequence[int], draws: Sequence[np.ndarray], level: float = 0.95) -> list[float]:
    """The percentile-bootstrap interval of the decay rate ``a``: the line of
    :func:`fit_decay_rate` fitted to each bootstrap resample of the variances (one
    independent resample per qubit count: the points' samples are independent)."""
    n = np.asarray(qubits, dtype=float)
    logs = np.log2(np.maximum(np.column_stack(draws), np.finfo(float).tiny))  # resamples × points
    centred = n - n.mean()
    slopes = (logs - logs.mean(axis=1, keepdims=True)) @ centred / (centred @ centred)
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(-slopes, [tail, 100 - tail])
    return [float(low), float(high)]


def barren_plateau_study(
    build: Callable[[int, int], CircuitDesign],
    qubits: Sequence[int],
    layers: Sequence[int],
    *,
    samples: int = 200,
    seed: int = 7,
    weight: str | int = "first",
    template: str = "hardware-efficient",
    progress: Progress | None = None,
    map_points: Callable[[list[tuple[int, int]], Callable[[int, int], None]], list[dict[str, Any]]] | None = None,
    init: str = "uniform",
    epsilon: float = 0.05,
    input_layer: bool = False,
) -> BarrenPlateauResult:
    """Variance of ∂C/∂θ_weight over random weights, for each qubit and layer count.

    ``build(num_qubits, layers)`` makes the circuit (a template); ``weight`` picks the
    differentiated weight (``"first"``: the first rotation on qubit 0, inside the local
    cost's light cone). Every sample is exact; the same seed gives the same numbers.

    ``map_points(points, done)`` computes the :func:`barren_plateau_point` of each
    ``(qubits, layers)`` of ``points`` elsewhere (the study runner's Dask workers) and
    returns them in order, calling ``done(n, L)`` as each finishes; by default they are
    computed here, one after another.

    ``init`` (:data:`INIT_STRATEGIES`) is how the weights are drawn, ``epsilon`` the
    small-angle scale (±ε·π); for ``identity-blocks`` the circuit of ``L`` layers is the
    template's ``⌈L/2⌉`` layers and their mirror (:func:`identity_block`). ``input_layer``
    puts RY(π/4) on every qubit first (:func:`with_input_layer`), as the initialisation
    comparison does.
    """
    if init not in INIT_STRATEGIES:
        raise AnalysisError(f"unknown initialisation {init!r} (known: {', '.join(INIT_STRATEGIES)})")
    if init == "small-angle" and not (math.isfinite(epsilon) and epsilon > 0):
        raise AnalysisError(f"the small-angle scale must be greater than 0, got {epsilon!r}")
    qubits, layers = sorted(set(int(q) for q in qubits)), sorted(set(int(layer) for layer in layers))
    if not qubits or min(qubits) < 1:
        raise AnalysisError("qubit counts must be at least 1")
    if max(qubits) > 16:
        raise AnalysisError("the barren-plateau study simulates exactly: at most 16 qubits")
    if len(qubits) < 2:
        raise AnalysisError("give at least two qubit counts to fit a decay rate")
    if not layers or min(layers) < 1:
        raise AnalysisError("layer counts must be at least 1")
    if samples < 2:
        raise AnalysisError("at least two samples are needed for a variance")
    start = time.perf_counter()
    points = [(n, L) for L in layers for n in qubits]
    total = len(points)
    finished = 0

    def done(n: int, L: int) -> None:
        nonlocal finished
        finished += 1
        _report(progress, finished, total, f"{n} qubits, {L} layers")

    if map_points is not None:
        _report(progress, 0, total, f"{total} points on the workers")
        results = map_points(points, done)
    else:
        results = []
        for n, L in points:
            _report(progress, finished, total, f"{n} qubits, {L} layers")
            results.append(barren_plateau_point(study_design(build, template, n, L, init, input_layer), samples,
                                                [seed, n, L], weight, init, epsilon))
            finished += 1
    by_point = dict(zip(points, results))
    _report(progress, total, total, "fitting")
    variance: dict[str, dict[str, list[float]]] = {c: {} for c in COSTS}
    variance_ci: dict[str, dict[str, list[list[float]]]] = {c: {} for c in COSTS}
    mean_abs: dict[str, dict[str, list[float]]] = {c: {} for c in COSTS}
    rate: dict[str, dict[str, float]] = {c: {} for c in COSTS}
    rate_ci: dict[str, dict[str, list[float]]] = {c: {} for c in COSTS}
    intercept: dict[str, dict[str, float]] = {c: {} for c in COSTS}
    square: dict[str, dict[str, list[float]]] = {c: {} for c in COSTS}
    square_ci: dict[str, dict[str, list[list[float]]]] = {c: {} for c in COSTS}
    square_rate: dict[str, dict[str, float]] = {c: {} for c in COSTS}
    square_rate_ci: dict[str, dict[str, list[float]]] = {c: {} for c in COSTS}
    for cost in COSTS:
        for L in layers:
            row = [by_point[(n, L)][cost] for n in qubits]
            variance[cost][str(L)] = [p["variance"] for p in row]
            variance_ci[cost][str(L)] = [list(p["ci95"]) for p in row]
            mean_abs[cost][str(L)] = [p["mean_abs"] for p in row]
            rate[cost][str(L)], intercept[cost][str(L)] = fit_decay_rate(qubits, variance[cost][str(L)])
            rate_ci[cost][str(L)] = rate_interval(qubits, [p["draws"] for p in row])
            square[cost][str(L)] = [p["mean_square"] for p in row]
            square_ci[cost][str(L)] = [list(p["mean_square_ci95"]) for p in row]
            square_rate[cost][str(L)] = fit_decay_rate(qubits, square[cost][str(L)])[0]
            square_rate_ci[cost][str(L)] = rate_interval(qubits, [p["mean_square_draws"] for p in row])
    return BarrenPlateauResult(
        template=template, qubits=qubits, layers=layers, samples=samples, seed=seed, weight=str(weight),
        variance=variance, mean_abs=mean_abs, rate=rate, intercept=intercept, seconds=time.perf_counter() - start,
        variance_ci95=variance_ci, rate_ci95=rate_ci, init=init, epsilon=epsilon, input_layer=input_layer,
        mean_square=square, mean_square_ci95=square_ci, mean_square_rate=square_rate,
        mean_square_rate_ci95=square_rate_ci,
    )


def initialisation_study(
    build: Callable[[int, int], CircuitDesign],
    qubits: Sequence[int],
    layers: Sequence[int],
    strategies: Sequence[str] = INIT_STRATEGIES,
    *,
    run: Callable[..., BarrenPlateauResult] | None = None,
    **options: Any,
) -> dict[str, BarrenPlateauResult]:
    """The barren-plateau study once per initialisation strategy, side by side, on the same
    circuits after the same input layer (RY(π/4) on every qubit): gradient variances by
    qubits and layers at the initial point, each with its interval, and the fitted decay
    rates with theirs. ``run`` replaces :func:`barren_plateau_study` (same arguments: the
    study runner's Dask version); ``options`` go to it."""
    unknown = [s for s in strategies if s not in INIT_STRATEGIES]
    if unknown or not strategies:
        raise AnalysisError(f"unknown initialisation {', '.join(unknown) or '(none)'} (known: {', '.join(INIT_STRATEGIES)})")
    run = run or barren_plateau_study
    return {init: run(build, qubits, layers, init=init, input_layer=True, **options) for init in dict.fromkeys(strategies)}


def study_design(build: Callable[[int, int], CircuitDesign], template: str, n: int, L: int, init: str = "uniform",
                 input_layer: bool = False) -> CircuitDesign:
    """The circuit of one point of the barren-plateau study: the template's ``L`` layers, or
    for identity blocks its ``⌈L/2⌉`` layers and their mirror; after the input layer if asked."""
    if init == "identity-blocks":
        design = identity_block(_built(build, template, n, max(1, -(-L // 2))))
    else:
        design = _built(build, template, n, L)
    return with_input_layer(design) if input_layer else design


def _built(build: Callable[[int, int], CircuitDesign], template: str, n: int, L: int) -> CircuitDesign:
    try:
        return build(n, L)
    except QMLStudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - a plugin template's failure becomes a message
        raise AnalysisError(f"the {template} template cannot build {n} qubits × {L} layers: {exc}") from None


@dataclass
class GradientHeatmap:
    """Mean |∂C/∂θ_i| over random weights for one design.

    ``grid[cost]`` is ``num_qubits × num_columns`` (NaN where no gate holds a weight);
    ``per_weight[cost]`` has one value per weight index.
    """

    num_qubits: int
    num_columns: int
    samples: int
    grid: dict[str, np.ndarray]
    per_weight: dict[str, np.ndarray]
    positions: dict[int, tuple[int, int]]

    def to_dict(self) -> dict[str, Any]:
        def rows(a: np.ndarray) -> list[Any]:
            return [[None if not np.isfinite(v) else float(v) for v in row] for row in np.atleast_2d(a)]

        return {
            "num_qubits": self.num_qubits, "num_columns": self.num_columns, "samples": self.samples,
            "grid": {c: rows(g) for c, g in self.grid.items()},
            "per_weight": {c: rows(v)[0] for c, v in self.per_weight.items()},
            "positions": {str(i): list(p) for i, p in self.positions.items()},
        }


def gradient_heatmap(design: CircuitDesign, *, samples: int = 100, seed: int = 7) -> GradientHeatmap:
    """Mean |∂C/∂θ_i| of the global and local cost for ``design``, by gate position."""
    if design.num_weights == 0:
        raise AnalysisError("the circuit has no trainable weights: there is no gradient to map")
    grads = sample_gradients(design, cost_observables(design.num_qubits), samples, np.random.default_rng(seed))
    means = np.mean(np.abs(grads), axis=0)  # (k, num_weights)
    positions: dict[int, tuple[int, int]] = {}
    for gate in design.gates:
        for p in gate.params:
            for i in p.weights:
                positions.setdefault(i, (gate.qubits[-1], gate.column))
    grid, per_weight = {}, {}
    for k, cost in enumerate(COSTS):
        total = np.zeros((design.num_qubits, max(design.num_columns, 1)))
        count = np.zeros_like(total)
        for i, (q, c) in positions.items():
            total[q, c] += means[k, i]
            count[q, c] += 1
        with np.errstate(invalid="ignore"):
            grid[cost] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
        per_weight[cost] = means[k]
    return GradientHeatmap(design.num_qubits, max(design.num_columns, 1), samples, grid, per_weight, positions)


# ---------------------------------------------------------------------------
# Encodings side by side
# ---------------------------------------------------------------------------
#: The basis gate set the encoding study transpiles to (IBM's, without a device's connectivity).
BASIS_GATES = ("rz", "sx", "x", "cx")


@dataclass
class EncodingRow:
    """One encoding's training: the circuit's figures, its accuracy and its curves.

    ``encoding_qubits`` is what the encoding needs, ``qubits`` the circuit's width (the
    study's widest, shared by every row). ``depth`` and ``two_qubit`` are the whole
    circuit's after transpiling to :data:`BASIS_GATES`, ``encoding_depth`` and
    ``encoding_two_qubit`` the encoding's alone; the ``device_*`` fields the same after the
    chosen device's pass manager (None without a device, or when it cannot run the circuit:
    ``device_message`` says why). ``drawn_depth`` is the depth as drawn, before transpiling.
    """

    encoding: str
    qubits: int | None = None
    depth: int | None = None
    two_qubit: int | None = None
    weights: int | None = None
    test_accuracy: float | None = None
    train_accuracy: float | None = None
    seconds: float | None = None
    status: str = "completed"
    message: str = ""
    loss: list[float | None] = field(default_factory=list)
    #: validation accuracy at each evaluated iteration (NaN between evaluations); the test
    #: split is scored once, at the end (``test_accuracy``)
    val_curve: list[float | None] = field(default_factory=list)
    run_id: str | None = None
    encoding_qubits: int | None = None
    encoding_depth: int | None = None
    encoding_two_qubit: int | None = None
    drawn_depth: int | None = None
    device_depth: int | None = None
    device_two_qubit: int | None = None
    device_encoding_depth: int | None = None
    device_encoding_two_qubit: int | None = None
    device_message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass
class EncodingStudyResult:
    """The rows of an encoding study, in the order the encodings were given.

    ``qubits`` is the width every encoding's circuit was given (the same ansatz for all)
    or None when each encoding kept its own width (``match_ansatz=False``); ``basis_gates``
    and ``device`` say what the figures were transpiled to.
    """

    rows: list[EncodingRow]
    ansatz: str | None
    seed: int
    epochs: int | None
    records: list[Any] = field(default_factory=list, repr=False)
    qubits: int | None = None
    basis_gates: tuple[str, ...] = BASIS_GATES
    device: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"study": "encodings", "ansatz": self.ansatz, "seed": self.seed, "epochs": self.epochs,
                "qubits": self.qubits, "basis_gates": list(self.basis_gates), "device": self.device,
                "rows": [r.to_dict() for r in self.rows]}


def transpiled_counts(design: CircuitDesign, *, basis_gates: Sequence[str] = BASIS_GATES,
                      pass_manager: Any = None) -> tuple[int, int]:
    """(depth, two-qubit gates) of ``design`` transpiled to ``basis_gates`` (level 1, seed 0),
    or by ``pass_manager`` (a device's) when given. Barriers and measurements are not counted."""
    from qiskit import transpile

    circuit = design.to_circuit()
    if not circuit.data:
        return 0, 0
    if pass_manager is not None:
        compiled = pass_manager.run(circuit)
    else:
        compiled = transpile(circuit, basis_gates=list(basis_gates), optimization_level=1, seed_transpiler=0)

    def counted(instruction: Any) -> bool:
        operation = instruction.operation
        return not getattr(operation, "_directive", False) and operation.name not in ("barrier", "measure", "delay")

    two = sum(1 for inst in compiled.data if counted(inst) and len(inst.qubits) == 2)
    return int(compiled.depth(filter_function=counted)), int(two)


def _finite(values: Sequence[Any]) -> list[float | None]:
    return [None if v is None or not math.isfinite(float(v)) else float(v) for v in values]


def encoding_qubits(registry: Any, encoding: str, num_features: int, options: Mapping[str, Any] | None = None) -> int:
    """The qubits ``encoding`` needs for ``num_features`` features (an AnalysisError if it cannot)."""
    spec = registry.get("encodings", encoding)
    encoder = spec.create(spec.resolve(dict(options or {})))
    problem = encoder.check(num_features)
    if problem:
        raise AnalysisError(problem)
    return int(encoder.num_qubits(num_features))


def encoding_variant(project: Any, registry: Any, encoding: str, num_features: int,
                     options: Mapping[str, Any] | None = None, num_qubits: int | None = None) -> Any:
    """A copy of ``project`` (no runs) with another encoding and its ansatz template rebuilt
    on ``num_qubits`` qubits (default: the qubits that encoding needs for ``num_features``
    features; more leaves the extra qubits to the ansatz, fewer is an error)."""
    from qmlstudio.core.project import PluginChoice, Project

    spec = registry.get("encodings", encoding)
    resolved = spec.resolve(dict(options or {}))
    needed = encoding_qubits(registry, encoding, num_features, resolved)
    if num_qubits is not None and num_qubits < needed:
        raise AnalysisError(f"{encoding} needs {needed} qubits for {num_features} features, more than {num_qubits}")
    num_qubits = needed if num_qubits is None else num_qubits
    if project.ansatz is not None:
        template = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options)
        circuit = template.build(num_qubits)
    elif project.circuit.num_qubits == num_qubits:
        circuit = project.circuit.copy()
    else:
        raise AnalysisError(
            f"the circuit was drawn by hand for {project.circuit.num_qubits} qubits and {encoding} needs "
            f"{num_qubits}: choose an ansatz template to compare encodings"
        )
    data = project.to_dict()
    data["runs"] = []
    variant = Project.from_dict(data)
    object.__setattr__(variant, "path", project.path)
    variant.encoding = PluginChoice(encoding, resolved)
    variant.circuit = circuit
    return variant


def encoding_study(
    project: Any,
    registry: Any,
    encodings: Sequence[str],
    *,
    build_run: Callable[..., Any],
    epochs: int | None = None,
    progress: Progress | None = None,
    controls: Any = None,
    match_ansatz: bool = True,
    basis_gates: Sequence[str] = BASIS_GATES,
    device: str | None = None,
    device_pass_manager: Any = None,
) -> EncodingStudyResult:
    """Trains the project's model once per encoding (same data, seed, optimizer and ansatz).

    ``build_run(project, registry, epochs=, callback=, controls=)`` is
    :func:`qmlstudio.workflow.build_run` (injected: the core does not import
    plugins). An encoding that does not fit the data gets a row with its message.
    ``progress(done, total, message)`` is called per iteration; ``controls`` (a
    :class:`~qmlstudio.core.training.Controls`) stops the training in progress.

    With ``match_ansatz`` (the default) the ansatz is built on the widest qubit count the
    encodings need, the same circuit for every encoding, so their weight counts are equal
    and only the encoding differs; without it each encoding gets the template on its own
    qubits (fewer qubits, fewer weights: a confounded comparison). Figures are transpiled
    to ``basis_gates`` and, with ``device_pass_manager`` (a device's pass manager, named
    ``device``), to that device.
    """
    if not encodings:
        raise AnalysisError("choose at least one encoding")
    if project.model.kind == "kernel":
        raise AnalysisError("the encoding study trains variational models; this project's model is a kernel SVM")
    probe = build_run(project, registry, epochs=1)
    num_features = probe.data.num_features
    total_epochs = epochs or project.training.epochs
    rows: list[EncodingRow] = []
    records: list[Any] = []
    widths: dict[str, int] = {}
    for name in encodings:
        try:
            widths[name] = encoding_qubits(registry, name, num_features)
        except QMLStudioError:
            pass  # its row says why, below
    width = max(widths.values()) if match_ansatz and widths else None
    if width is not None and project.ansatz is None:
        width = project.circuit.num_qubits if project.circuit.num_qubits >= width else width
    for index, name in enumerate(encodings):
        _report(progress, index, len(encodings), f"{name}: building")
        row = EncodingRow(encoding=name, encoding_qubits=widths.get(name))
        rows.append(row)
        try:
            variant = encoding_variant(project, registry, name, num_features, num_qubits=width)
            design = None

            def callback(it: Any, _name: str = name, _index: int = index) -> None:
                total = max(it.total_iterations, 1)
                fraction = _index + min(it.iteration, total) / total
                if progress is not None and progress(int(fraction * 1000), len(encodings) * 1000,
                                                     f"{_name}: iteration {it.iteration}/{total}") is True:
                    if controls is not None:
                        controls.cancel()

            run = build_run(variant, registry, epochs=total_epochs, callback=callback, controls=controls)
            design = run.model.design
            row.qubits, row.drawn_depth, row.weights = design.num_qubits, design.depth, run.model.num_weights
            _measure_circuits(row, run.model, basis_gates, device_pass_manager)
            record = run.run()
        except QMLStudioError as exc:
            row.status, row.message = "failed", str(exc)
            continue
        records.append(record)
        row.run_id = record.id
        row.status, row.message = record.status, record.message
        trains = [v for v in record.metrics.get("train_accuracy", []) if v is not None]
        row.test_accuracy = (record.test or {}).get("accuracy")
        row.train_accuracy = trains[-1] if trains else None
        row.seconds = record.timings.get("seconds")
        row.loss = _finite(record.metrics.get("loss", []))
        row.val_curve = _finite([v if v is not None else float("nan") for v in record.metrics.get("val_accuracy", [])])
        if record.status == "cancelled" or (controls is not None and controls.cancelled.is_set()):
            raise Cancelled()
    _report(progress, len(encodings), len(encodings), "done")
    ansatz = project.ansatz.name if project.ansatz is not None else None
    return EncodingStudyResult(rows=rows, ansatz=ansatz, seed=project.seed, epochs=total_epochs, records=records,
                               qubits=width, basis_gates=tuple(basis_gates),
                               device=device if device_pass_manager is not None else None)


def _measure_circuits(row: EncodingRow, model: Any, basis_gates: Sequence[str], device_pass_manager: Any) -> None:
    """The row's transpiled figures: the encoding alone and the whole circuit, basis and device."""
    encoding = model.encoding_design
    row.encoding_depth, row.encoding_two_qubit = transpiled_counts(encoding, basis_gates=basis_gates)
    row.depth, row.two_qubit = transpiled_counts(model.design, basis_gates=basis_gates)
    if device_pass_manager is None:
        return
    try:
        row.device_encoding_depth, row.device_encoding_two_qubit = transpiled_counts(
            encoding, pass_manager=device_pass_manager)
        row.device_depth, row.device_two_qubit = transpiled_counts(model.design, pass_manager=device_pass_manager)
    except Exception as exc:  # noqa: BLE001 - a circuit wider than the device: say so in the row
        row.device_message = f"cannot be transpiled for the device: {exc}"


# ---------------------------------------------------------------------------
# Quantum kernels
# ---------------------------------------------------------------------------
@dataclass
class KernelStudyResult:
    """A quantum kernel against the RBF kernel on one split."""

    encoding: str
    gram: np.ndarray  # train × train, rows sorted by label
    labels: np.ndarray  # the sorted training labels
    alignment: float
    rbf_alignment: float
    quantum_train_accuracy: float
    quantum_test_accuracy: float | None
    rbf_train_accuracy: float
    rbf_test_accuracy: float | None
    num_train: int
    num_test: int
    seconds: float

    @property
    def quantum_wins(self) -> bool:
        q, c = self.quantum_test_accuracy, self.rbf_test_accuracy
        return q is not None and c is not None and q > c

    def to_dict(self, matrix: bool = False) -> dict[str, Any]:
        data = {
            "study": "kernel", "encoding": self.encoding, "alignment": self.alignment,
            "rbf_alignment": self.rbf_alignment,
            "qsvc": {"train_accuracy": self.quantum_train_accuracy, "test_accuracy": self.quantum_test_accuracy},
            "rbf_svc": {"train_accuracy": self.rbf_train_accuracy, "test_accuracy": self.rbf_test_accuracy},
            "num_train": self.num_train, "num_test": self.num_test, "seconds": self.seconds,
        }
        if matrix:
            data["gram"] = self.gram.tolist()
            data["labels"] = self.labels.tolist()
        return data


def kernel_study(data: Any, model: Any, *, C: float = 1.0, encoding: str = "", progress: Progress | None = None) -> KernelStudyResult:
    """Gram matrix, alignment, and QSVC vs ``SVC(kernel="rbf")`` on ``data``'s split.

    ``data`` is a :class:`~qmlstudio.core.preprocessing.PreparedData` and ``model`` a
    :class:`~qmlstudio.core.models.ModelCircuit` whose encoding defines the kernel (simulated
    exactly).
    """
    from sklearn.metrics.pairwise import rbf_kernel
    from sklearn.svm import SVC

    from qmlstudio.core.kernels import QuantumKernel, kernel_target_alignment

    if data.task != "classification":
        raise AnalysisError("the kernel study compares classifiers: choose classification data")
    if len(np.unique(data.y_train)) < 2:
        raise AnalysisError("the training split has a single class: nothing to separate")
    start = time.perf_counter()
    _report(progress, 0, 3, "Gram matrix")
    kernel = QuantumKernel(model)
    gram = kernel.matrix(data.x_train)
    _report(progress, 1, 3, "quantum-kernel SVM")
    qsvc = SVC(kernel="precomputed", C=C).fit(gram, data.y_train)
    q_train = float(qsvc.score(gram, data.y_train))
    q_test = None
    has_test = len(data.y_test) > 0
    if has_test:
        q_test = float(qsvc.score(kernel.matrix(data.x_test, data.x_train), data.y_test))
    _report(progress, 2, 3, "RBF SVM")
    rbf = SVC(kernel="rbf", C=C).fit(data.x_train, data.y_train)
    r_train = float(rbf.score(data.x_train, data.y_train))
    r_test = float(rbf.score(data.x_test, data.y_test)) if has_test else None
    gamma = 1.0 / (data.x_train.shape[1] * data.x_train.var()) if data.x_train.var() > 0 else 1.0
    rbf_alignment = kernel_target_alignment(rbf_kernel(data.x_train, gamma=gamma), data.y_train)
    order = np.argsort(data.y_train, kind="stable")
    _report(progress, 3, 3, "done")
    return KernelStudyResult(
        encoding=encoding, gram=gram[np.ix_(order, order)], labels=np.asarray(data.y_train)[order],
        alignment=kernel_target_alignment(gram, data.y_train), rbf_alignment=float(rbf_alignment),
        quantum_train_accuracy=q_train, quantum_test_accuracy=q_test, rbf_train_accuracy=r_train,
        rbf_test_accuracy=r_test, num_train=len(data.y_train), num_test=len(data.y_test),
        seconds=time.perf_counter() - start,
    )


# ---------------------------------------------------------------------------
# From a project and its plugins (the registry is passed in, duck-typed)
# ---------------------------------------------------------------------------
def template_builder(registry: Any, name: str, options: Mapping[str, Any] | None = None) -> Callable[[int, int], CircuitDesign]:
    """``build(num_qubits, layers)`` for the barren-plateau study.

    ``hardware-efficient`` is :func:`hardware_efficient`; any other name is an ansatz
    template plugin whose ``reps`` option is set to the layer count.
    """
    if name == "hardware-efficient":
        return hardware_efficient
    if registry is None:
        raise AnalysisError(f"template {name!r} needs the plugins")
    spec = registry.get("ansatze", name)
    if "reps" not in {o.name for o in spec.options}:
        raise AnalysisError(f"ansatz {name!r} has no reps option: it cannot be built with a chosen layer count")
    base = {k: v for k, v in dict(options or {}).items() if k != "reps"}

    def build(num_qubits: int, layers: int) -> CircuitDesign:
        return spec.create(spec.resolve({**base, "reps": layers})).build(num_qubits)

    return build


def project_kernel_study(
    project: Any, registry: Any, *, build_run: Callable[..., Any], encoding: str | None = None,
    progress: Progress | None = None,
) -> KernelStudyResult:
    """:func:`kernel_study` on the project's prepared split, with its encoding (or ``encoding``)."""
    from qmlstudio.core.models import ModelCircuit

    from qmlstudio.core.project import PluginChoice

    base = build_run(project, registry, epochs=1)
    data = base.data
    if encoding and encoding != project.encoding.name:
        spec = registry.get("encodings", encoding)
        options = spec.resolve({})
        choice = PluginChoice(encoding, options)
        encoder = spec.create(options)
    else:
        choice = project.encoding
        encoder = registry.get("encodings", choice.name).create(choice.options)
    problem = encoder.check(data.num_features)
    if problem:
        raise AnalysisError(f"encoding {choice.name!r}: {problem}")
    model = ModelCircuit(encoder, CircuitDesign(encoder.num_qubits(data.num_features)), data.num_features)
    C = float((project.model.options or {}).get("C", 1.0))
    return kernel_study(data, model, C=C, encoding=choice.name, progress=progress)
