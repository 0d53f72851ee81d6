"""The engine's fast exact simulator: batched statevectors with adjoint gradients.

A :class:`StatevectorProgram` compiles a :class:`~qmlstudio.core.circuit.CircuitDesign`
once and then simulates a whole batch of samples per call:

* :meth:`~StatevectorProgram.states` gives one statevector per sample, in qiskit's
  little-endian order (qubit 0 is the least significant bit of the basis index), so the
  rows equal ``qiskit.quantum_info.Statevector`` of the bound circuit;
* :meth:`~StatevectorProgram.expectations` gives ⟨O_k⟩ for observables that are diagonal
  in the computational basis (products of Pauli Z, see :func:`z_diagonal`, or bitstring
  probabilities), given as a ``(k, 2**n)`` array of their diagonals;
* :meth:`~StatevectorProgram.vjp` gives those values and the exact gradient of
  ``Σ_b Σ_k upstream[b, k] ⟨O_k⟩_b`` with respect to the weights, with one forward and
  one backward (adjoint) pass over the whole batch;
* :meth:`~StatevectorProgram.jacobian` gives every ``∂⟨O_k⟩_b / ∂θ_i``.

How it is fast:

* the gate loops are compiled (:mod:`qmlstudio.core._loops`, with Numba): states are
  kept as separate real and imaginary arrays with the batch as the last (contiguous)
  axis, so that each gate is one SIMD pass over the batch whatever its qubits;
* the batch is simulated in parts whose states fit in the last-level cache (8 samples at
  16 qubits, the whole batch up to 13), and with ``threads`` > 1 several parts at once
  (the compiled loops release the GIL);
* a gate whose angles are the same for every sample uses one matrix; a gate whose angles
  depend on the data uses one matrix per sample;
* every gate of :data:`~qmlstudio.core.circuit.GATES` is a set of 2×2 blocks in its own
  basis (phases paired up), so one kernel serves them all, and one-qubit gates, the most
  common, have their own;
* the adjoint method uncomputes the forward state gate by gate next to the adjoint state
  instead of storing one state per gate, in the same pass as it sums what the gradient
  needs: the observables are diagonal, so the adjoint state starts as ``λ = M ψ`` with
  ``M = Σ_k upstream[b, k] O_k`` per sample, and the derivative of a gate ``U`` with
  respect to an angle ``a`` is ``2 Re ⟨λ| (∂U/∂a) U† |ψ⟩``, a few sums of products of
  the two states;
* the weight-free gates that can act first (the data encoding, typically) form a
  *prefix* whose states depend only on the inputs: the backward pass stops before it and
  an optional cache (``cache_bytes``) keeps its states per batch of inputs;
* designs without data inputs are simulated once, whatever the batch size.

The chain rule runs through the angle formulas: ``∂L/∂θ_i = Σ_gates Σ_angles
∂L/∂angle · ∂angle/∂θ_i``, with ``∂angle/∂θ_i`` the symbolic
:meth:`~qmlstudio.core.expressions.Angle.derivative`, evaluated per sample.
"""

from __future__ import annotations

import cmath
import math
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from qmlstudio.core.circuit import GATES, CircuitDesign, Gate
from qmlstudio.core.expressions import Angle

__all__ = [
    "StatevectorProgram",
    "available_cores",
    "gate_generators",
    "gate_matrix",
    "probabilities_diagonal",
    "z_diagonal",
]

_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.array([[1, 0], [0, -1]], dtype=complex)
_SQ = 1 / np.sqrt(2)

# ------------------------------------------------------------------ gate matrices
# A gate's matrix is written in its own basis: index m = Σ_t bit(qubits[t]) << t, so the
# first listed qubit (the control, for controlled gates) is the least significant, as in
# qiskit. Matrices of gates with angles are built for scalar angles (shape (d, d)) or for
# one angle per sample (shape (batch, d, d)).

_FIXED: dict[str, np.ndarray] = {
    "h": np.array([[_SQ, _SQ], [_SQ, -_SQ]], dtype=complex),
    "x": _X,
    "y": _Y,
    "z": _Z,
    "s": np.diag([1, 1j]),
    "sdg": np.diag([1, -1j]),
    "t": np.diag([1, np.exp(1j * np.pi / 4)]),
    "tdg": np.diag([1, np.exp(-1j * np.pi / 4)]),
    "sx": np.array([[1 + 1j, 1 - 1j], [1 - 1j, 1 + 1j]]) / 2,
    "cx": np.eye(4, dtype=complex)[[0, 3, 2, 1]],
    "cy": np.array([[1, 0, 0, 0], [0, 0, 0, -1j], [0, 0, 1, 0], [0, 1j, 0, 0]]),
    "cz": np.diag([1, 1, 1, -1]).astype(complex),
    "swap": np.eye(4, dtype=complex)[[0, 2, 1, 3]],
    "ccx": np.eye(8, dtype=complex)[[0, 1, 2, 7, 4, 5, 6, 3]],
}


def _embed(block: np.ndarray, at: Sequence[int], size: int) -> np.ndarray:
    out = np.zeros((size, size), dtype=complex)
    out[np.ix_(at, at)] = block
    return out


#: ∂U/∂a · U† of the gates with one angle: a constant, since each is exp(a·E).
_GENERATORS: dict[str, np.ndarray] = {
    "rx": -0.5j * _X,
    "ry": -0.5j * _Y,
    "rz": -0.5j * _Z,
    "p": np.diag([0, 1j]),
    "crx": _embed(-0.5j * _X, (1, 3), 4),
    "cry": _embed(-0.5j * _Y, (1, 3), 4),
    "crz": _embed(-0.5j * _Z, (1, 3), 4),
    "rxx": -0.5j * np.kron(_X, _X),
    "ryy": -0.5j * np.kron(_Y, _Y),
    "rzz": -0.5j * np.kron(_Z, _Z),
}


def _batch_shape(values: Sequence[Any]) -> tuple[int, ...]:
    return np.broadcast(*[np.asarray(v) for v in values]).shape


def _cos(a: Any) -> Any:
    return math.cos(a) if isinstance(a, float) else np.cos(a)


def _sin(a: Any) -> Any:
    return math.sin(a) if isinstance(a, float) else np.sin(a)


def _cis(a: Any) -> Any:
    """e^{ia}, for a float or an array."""
    return cmath.exp(1j * a) if isinstance(a, float) else np.exp(1j * a)


def _entries(name: str, angles: Sequence[Any]) -> tuple[dict[tuple[int, int], Any], bool]:
    """The entries of a gate with angles that are not those of the identity.

    Returns ``({(row, column): value}, identity)``: with ``identity`` the diagonal
    entries not listed are 1, otherwise every entry not listed is 0. Angles that are
    floats give Python numbers (fast); arrays give one value per sample.
    """
    if name == "u":
        theta, phi, lam = angles
        c, s = _cos(0.5 * theta), _sin(0.5 * theta)
        e_phi, e_lam = _cis(phi), _cis(lam)
        return {(0, 0): c, (0, 1): -e_lam * s, (1, 0): e_phi * s, (1, 1): e_phi * e_lam * c}, False
    a = angles[0]
    if name == "p":
        return {(1, 1): _cis(a)}, True
    if name in ("rz", "crz", "rzz"):
        phase = _cis(-0.5 * a)
        back = phase.conjugate()
        if name == "rz":
            return {(0, 0): phase, (1, 1): back}, False
        if name == "crz":
            return {(1, 1): phase, (3, 3): back}, True
        return {(0, 0): phase, (1, 1): back, (2, 2): back, (3, 3): phase}, False
    c, s = _cos(0.5 * a), _sin(0.5 * a)
    if name in ("rx", "crx"):
        block = {(0, 0): c, (0, 1): -1j * s, (1, 0): -1j * s, (1, 1): c}
    elif name in ("ry", "cry"):
        block = {(0, 0): c, (0, 1): -s, (1, 0): s, (1, 1): c}
    elif name in ("rxx", "ryy"):
        outer = 1j * s if name == "ryy" else -1j * s  # the (00, 11) pair; (01, 10) is -i·s for both
        entries = {(m, m): c for m in range(4)}
        entries.update({(0, 3): outer, (3, 0): outer, (1, 2): -1j * s, (2, 1): -1j * s})
        return entries, False
    else:
        raise KeyError(f"no matrix for gate {name!r}")
    if name.startswith("c"):  # controlled: the block acts where the control (bit 0) is 1
        where = (1, 3)
        return {(where[i], where[j]): v for (i, j), v in block.items()}, True
    return block, False


def _filled(d: int, shape: tuple[int, ...], entries: dict[tuple[int, int], Any], identity: bool) -> np.ndarray:
    out = np.zeros(shape + (d, d), dtype=complex)
    if identity:
        out[..., range(d), range(d)] = 1
    for (i, j), value in entries.items():
        out[..., i, j] = value
    return out


def _as_angle(value: Any) -> Any:
    return float(value) if np.ndim(value) == 0 else np.asarray(value, dtype=float)


def gate_matrix(name: str, angles: Sequence[Any] = ()) -> np.ndarray:
    """The unitary of gate ``name`` in qiskit's convention, in the gate's own basis.

    Angles are floats (a ``(d, d)`` matrix) or arrays of one angle per sample (a
    ``(batch, d, d)`` stack).
    """
    if name in _FIXED:
        return _FIXED[name]
    angles = [_as_angle(a) for a in angles]
    entries, identity = _entries(name, angles)
    return _filled(2 ** GATES[name].num_qubits, _batch_shape(angles), entries, identity)


def _u_derivatives(angles: Sequence[Any]) -> list[np.ndarray]:
    theta, phi, lam = (np.asarray(_as_angle(a)) for a in angles)
    shape = _batch_shape(angles)
    c, s = np.cos(0.5 * theta), np.sin(0.5 * theta)
    e_phi, e_lam = np.exp(1j * phi), np.exp(1j * lam)
    d_theta = {(0, 0): -0.5 * s, (0, 1): -0.5 * e_lam * c, (1, 0): 0.5 * e_phi * c, (1, 1): -0.5 * e_phi * e_lam * s}
    d_phi = {(1, 0): 1j * e_phi * s, (1, 1): 1j * e_phi * e_lam * c}
    d_lam = {(0, 1): -1j * e_lam * s, (1, 1): 1j * e_phi * e_lam * c}
    return [_filled(2, shape, d, identity=False) for d in (d_theta, d_phi, d_lam)]


def gate_generators(name: str, angles: Sequence[Any] = ()) -> list[np.ndarray]:
    """``∂U/∂a_p · U†`` for each angle ``a_p`` of gate ``name`` (what the adjoint pass uses).

    ``∂U/∂a_p`` is the product of this matrix and :func:`gate_matrix`.
    """
    if name in _GENERATORS:
        return [_GENERATORS[name]]
    if name == "u":
        dagger = np.conj(np.swapaxes(gate_matrix("u", angles), -1, -2))
        return [d @ dagger for d in _u_derivatives(angles)]
    return []


def _structure(name: str) -> tuple[tuple[tuple[int, ...], ...], frozenset[tuple[int, int]]]:
    """The gate's blocks (basis states it mixes, identity states left out) and which
    entries are structurally zero, read off the matrix at random angles."""
    gtype = GATES[name]
    d = 2**gtype.num_qubits
    rng = np.random.default_rng(7)
    samples = [gate_matrix(name, list(rng.uniform(0.3, 2.8, gtype.num_params))) for _ in range(3)]
    nonzero = np.zeros((d, d), dtype=bool)
    identity = np.ones(d, dtype=bool)
    for matrix in samples:
        nonzero |= np.abs(matrix) > 1e-12
        identity &= np.isclose(np.diag(matrix), 1) & (np.abs(matrix).sum(axis=1) < 1 + 1e-9)
    blocks: list[tuple[int, ...]] = []
    seen: set[int] = set()
    for m in range(d):
        if m in seen or identity[m]:
            continue
        partners = [j for j in range(d) if j != m and (nonzero[m, j] or nonzero[j, m])]
        block = (m, *partners)
        if len(block) > 2:  # pragma: no cover - every gate of GATES splits into 1×1 and 2×2 blocks
            raise ValueError(f"gate {name!r} mixes more than two basis states")
        blocks.append(block)
        seen.update(block)
    zeros = frozenset((i, j) for i in range(d) for j in range(d) if not nonzero[i, j])
    return tuple(blocks), zeros


_STRUCTURE = {name: _structure(name) for name in GATES}


# -------------------------------------------------------------------- observables
def z_diagonal(num_qubits: int, qubits: Sequence[int] = (0,)) -> np.ndarray:
    """The diagonal of Z⊗Z⊗… on ``qubits`` (identity elsewhere), in qiskit's basis order.

    With no qubits it is the identity. An observable row for
    :meth:`StatevectorProgram.expectations`.
    """
    index = np.arange(2**num_qubits)
    parity = np.zeros(2**num_qubits, dtype=np.int64)
    for q in qubits:
        if not 0 <= q < num_qubits:
            raise ValueError(f"qubit {q} is out of range for {num_qubits} qubits")
        parity ^= (index >> q) & 1
    return 1.0 - 2.0 * parity


def probabilities_diagonal(num_qubits: int, bitstrings: Sequence[int]) -> np.ndarray:
    """Observable rows whose expectations are the probabilities of the given basis states."""
    rows = np.zeros((len(bitstrings), 2**num_qubits))
    rows[np.arange(len(bitstrings)), list(bitstrings)] = 1.0
    return rows


# ----------------------------------------------------------------- compiled parts
#: Bytes of state that one part of the batch may take in the adjoint pass (ψ and λ, real
#: and imaginary parts): parts that fit in the last-level cache run about twice as fast
#: as whole batches streamed from memory (measured on 16 qubits).
_PART_BYTES = 16 << 20
#: States smaller than this (amplitudes in all) are not worth splitting across threads.
_THREADS_MIN_SIZE = 1 << 16
#: Larger states are cut into parts of at most this many amplitudes (but at least 8
#: columns), whatever the number of threads: the parts, and so every sum and every result,
#: are then the same bit for bit with 1, 2 or 16 threads, and there are parts enough to share.
_THREAD_PART_SIZE = 1 << 15
#: The final states of a batch are kept for the gradient up to this many bytes; above
#: it, the pullback simulates each part again (one more forward pass), so that memory
#: stays bounded by the parts in flight (20 qubits, batch 64: 1 GiB of final states).
_KEEP_BYTES = 256 << 20
#: Bytes of ψ and λ of one block that cache blocking keeps in a core's own cache (L2):
#: gates in a row on qubits below log2(block rows) act block by block, one pass over the
#: part's state for all of them instead of one pass per gate.
_BLOCK_BYTES = 1 << 20
#: ... when ψ and λ of a part take at least this many bytes (beyond the last-level cache):
#: 18% off a step at 20 qubits, nothing gained at 16 (measured).
_BLOCKING_MIN_BYTES = 32 << 20
#: Fold the body's first one-qubit gates on each qubit into the product state (see
#: :class:`StatevectorProgram`); off only to compare with the plain adjoint pass.
_FOLD_FIRST_GATES = True
#: What a gradient step costs in forward passes: the forward pass, and the adjoint pass
#: over ψ and λ with its sums (3.5 forward passes, measured at 12 and 16 qubits).
_STEP_COST = 4.5
#: Runs of permutation gates are fused into one pass up to this many qubits: a gather
#: of rows from all over the state, it beats one streaming pass per gate while the part's
#: state stays in the inner caches (a 3-layer CX-ladder step 10% faster at 12 qubits, 15%
#: slower at 16, measured).
_PERMUTATION_MAX_QUBITS = 14


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), the default number of threads."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        return max(1, os.cpu_count() or 1)

AngleFn = Callable[[np.ndarray, list, np.ndarray, np.ndarray], Any]

_LOOPS: Any = None


def _part_width(dim: int, sim_batch: int) -> int:
    """How many samples of ``dim`` amplitudes one part of a batch holds: as many as fit in the
    cache (whole multiples of 8 columns where possible, for the SIMD loops) and, for large
    states, at most :data:`_THREAD_PART_SIZE` amplitudes, so that threads have parts to share.
    The number of threads plays no part: results are the same whatever it is."""
    width = max(1, _PART_BYTES // (32 * dim))
    if width >= 16:
        width -= width % 8
    if dim * sim_batch >= _THREADS_MIN_SIZE:
        width = min(width, max(8, _THREAD_PART_SIZE // dim))
    return width


def _part_slices(dim: int, sim_batch: int) -> list[slice]:
    """The parts a batch of ``sim_batch`` states is cut into (see :func:`_part_width`)."""
    width = _part_width(dim, sim_batch)
    return [slice(start, min(start + width, sim_batch)) for start in range(0, sim_batch, width)]


def _states_bytes(dim: int, sim_batch: int, threads: int) -> int:
    """Bytes the states of a gradient step take: the final states kept for the gradient (when
    they fit in :data:`_KEEP_BYTES`) and, per part in flight (one per thread), its final
    state, ψ, λ and a spare state, 16 bytes an amplitude each."""
    width = min(_part_width(dim, sim_batch), sim_batch)
    parts = -(-sim_batch // width)
    kept = sim_batch * dim * 16
    return (kept if kept <= _KEEP_BYTES else 0) + min(threads, parts) * 4 * width * dim * 16


def _loops() -> Any:
    """The compiled loops (:mod:`qmlstudio.core._loops`), imported on first use: Numba
    takes a moment to start, which a program that never simulates should not pay."""
    global _LOOPS
    if _LOOPS is None:
        from qmlstudio.core import _loops

        _LOOPS = _loops
    return _LOOPS


def _compile_angle(angle: Angle) -> tuple[AngleFn, bool]:
    """A fast evaluator ``f(weights, weight_list, inputs, inputs_by_feature)`` giving a
    float or one value per sample, and whether it varies per sample."""
    kind = angle.kind
    if kind == "constant":
        value = float(angle.evaluate())
        return (lambda w, wl, x, xt: value), False
    if kind == "weight":
        (i,) = angle.weights
        return (lambda w, wl, x, xt: wl[i]), False
    if kind == "input":
        (j,) = angle.inputs
        return (lambda w, wl, x, xt: xt[j]), True
    if angle.inputs:
        return (lambda w, wl, x, xt: np.asarray(angle.evaluate(w, x), dtype=float)), True
    return (lambda w, wl, x, xt: float(angle.evaluate(w, x))), False


def _kernel_blocks(name: str) -> list[tuple[int, int]]:
    """The gate as 2×2 blocks ``(m0, m1)`` for the compiled loops: its own 2×2 blocks, then its
    phases paired up (a lone phase with a basis state that the gate leaves alone)."""
    blocks, _ = _STRUCTURE[name]
    pairs = [tuple(sorted(b)) for b in blocks if len(b) == 2]
    phases = [b[0] for b in blocks if len(b) == 1]
    if len(phases) % 2:
        used = {m for b in blocks for m in b}
        phases.append(next(m for m in range(2 ** GATES[name].num_qubits) if m not in used))
    pairs += [tuple(sorted(phases[i : i + 2])) for i in range(0, len(phases), 2)]
    return pairs  # type: ignore[return-value]


@dataclass(eq=False)
class _Op:
    """One gate, compiled: where the compiled loops find its amplitudes, how to get its
    coefficients and, for the gradient, its generators."""

    gate: Gate
    name: str
    qubit: int  # a one-qubit gate's qubit, else -1
    targets: np.ndarray  # its qubits, ascending
    offsets: np.ndarray  # basis index of the gate's basis state m
    blocks: np.ndarray  # (m0, m1) of its 2×2 blocks
    angles: tuple[AngleFn, ...]
    per_sample: bool
    derivatives: tuple[tuple[tuple[int, AngleFn], ...], ...]  # per angle: (weight, ∂angle/∂θ)
    per_sample_derivatives: bool
    fixed: np.ndarray | None  # the coefficients of a gate without angles
    need: np.ndarray  # (d, d): the entries of Σ conj(λ_m) ψ_m2 its generators use
    generators: tuple[np.ndarray, ...] | None  # constant ones, per angle (d, d)
    has_weights: bool
    swaps: bool = False  # fixed, on several qubits, each block a swap (CX, SWAP, CCX): moves, no arithmetic

    def coefficients(self, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """The blocks' ``(a, b, c, d)``: ``(blocks, 4)``, or ``(blocks, 4, batch)`` when
        the angles depend on the sample; and the angles."""
        if self.fixed is not None:
            return self.fixed, []
        values = [fn(w, wl, x, xt) for fn in self.angles]
        entries, identity = _entries(self.name, values)
        return _block_values(self.blocks, entries, identity, _batch_shape(values)), values

    def generators_for(self, values: list[Any], columns: slice) -> Sequence[Any]:
        """Its generators for these angles (``values`` of the whole batch) and columns."""
        if self.generators is not None:
            return self.generators
        return gate_generators(self.name, [v[columns] if isinstance(v, np.ndarray) else v for v in values])


class _Fused1:
    """One-qubit gates in a row on one qubit, applied as their product ``U = U_k ⋯ U_1``
    in one pass (forward and backward).

    The gradient stays exact: with ``A_j = U_k ⋯ U_(j+1)``, the derivative of ``U`` with
    respect to an angle of gate ``j`` is ``A_j E A_j† U`` (``E`` that gate's generator,
    :func:`gate_generators`), so its generator in the fused gate is ``A_j E A_j†``,
    evaluated from the same sums ``Σ conj(λ_m) ψ_m2`` as any one-qubit gate's.
    """

    name = "fused1"
    generators = None

    def __init__(self, ops: Sequence[_Op]) -> None:
        self.ops = tuple(ops)
        first = self.ops[0]
        self.gate = first.gate
        self.qubit = first.qubit
        self.targets = first.targets
        self.offsets = first.offsets
        self.blocks = np.array([[0, 1]], dtype=np.int64)
        self.per_sample = any(op.per_sample for op in self.ops)
        self.derivatives = tuple(d for op in self.ops for d in op.derivatives)
        self.per_sample_derivatives = any(op.per_sample_derivatives for op in self.ops)
        self.need = np.ones((2, 2), dtype=bool)
        self.has_weights = any(op.has_weights for op in self.ops)
        self.fixed: np.ndarray | None = None
        if all(op.fixed is not None for op in self.ops):
            self.fixed = self.coefficients(np.zeros(0), [], np.zeros((1, 0)), np.zeros((0, 1)))[0]

    def coefficients(self, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        """``(a, b, c, d)`` of the product, ``(1, 4)`` or ``(1, 4, batch)``; and, for the
        gradient, each gate's matrix and angles."""
        if self.fixed is not None:
            return self.fixed, []
        matrices, values = [], []
        for op in self.ops:
            angles = [fn(w, wl, x, xt) for fn in op.angles]
            values.append(angles)
            matrices.append(gate_matrix(op.name, angles))
        product = matrices[0]
        for matrix in matrices[1:]:
            product = matrix @ product
        if product.ndim == 2:
            coefficients = product.reshape(1, 4)
        else:
            coefficients = product.reshape(-1, 4).T[None]
        return np.ascontiguousarray(coefficients, dtype=complex), [matrices, values]

    def generators_for(self, values: list[Any], columns: slice) -> list[Any]:
        """``A_j E A_j†`` for every angle of every gate (None for angles without weights)."""
        matrices, angles = values
        after: Any = np.eye(2, dtype=complex)
        backwards: list[list[Any]] = []
        for op, matrix, op_angles in zip(reversed(self.ops), reversed(matrices), reversed(angles)):
            if op.has_weights:
                inverse = np.conj(np.swapaxes(after, -1, -2))
                backwards.append([after @ e @ inverse for e in op.generators_for(op_angles, columns)])
            else:
                backwards.append([None] * len(op.derivatives))
            after = after @ (matrix[columns] if matrix.ndim == 3 else matrix)
        return [g for gens in reversed(backwards) for g in gens]


def _monomial(op: _Op) -> bool:
    """Whether the gate is fixed and moves each basis state to one other (times a phase)."""
    if op.name not in _FIXED:
        return False
    return bool(np.all(np.count_nonzero(np.abs(_FIXED[op.name]) > 1e-12, axis=0) == 1))


class _Permutation:
    """Weight-free gates that each send a basis state to one other times a phase (CX,
    SWAP, CCX, CZ, X, Z, S, …) in a row: one pass that moves whole rows (all columns of a
    basis state at once) instead of one pass per gate. A CX ladder is one pass."""

    name = "permutation"
    qubit = -1
    per_sample = False
    per_sample_derivatives = False
    derivatives: tuple = ()
    has_weights = False
    fixed = None
    generators = None

    def __init__(self, ops: Sequence[_Op], num_qubits: int) -> None:
        self.ops = tuple(ops)
        self.gate = self.ops[0].gate
        size = 2**num_qubits
        dest = np.arange(size, dtype=np.int64)  # where basis state b has gone
        phase = np.ones(size, dtype=complex)  # and the phase it has picked up
        for op in self.ops:
            matrix = _FIXED[op.name]
            d = matrix.shape[0]
            rows = np.argmax(np.abs(matrix) > 1e-12, axis=0)  # column m's nonzero row
            factors = matrix[rows, np.arange(d)]
            qubits = op.gate.qubits
            local = np.zeros(size, dtype=np.int64)
            for t, q in enumerate(qubits):
                local |= ((dest >> q) & 1) << t
            moved = dest.copy()
            for t, q in enumerate(qubits):
                moved &= ~(1 << q)
                moved |= ((rows[local] >> t) & 1) << q
            phase = phase * factors[local]
            dest = moved
        self.forward_source = np.empty(size, dtype=np.int64)
        self.forward_source[dest] = np.arange(size, dtype=np.int64)
        self.backward_source = dest
        self.has_phase = not bool(np.all(phase == 1))
        forward_phase = np.empty(size, dtype=complex)
        forward_phase[dest] = phase
        self.forward_phase = (np.ascontiguousarray(forward_phase.real), np.ascontiguousarray(forward_phase.imag))
        self.backward_phase = (np.ascontiguousarray(phase.real), np.ascontiguousarray(-phase.imag))

    def coefficients(self, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        return np.zeros((0, 4), dtype=complex), []

    def move(self, re: np.ndarray, im: np.ndarray, cols: int, out_re: np.ndarray, out_im: np.ndarray, inverse: bool = False) -> None:
        """The run's permutation (or its inverse) of ``re, im`` written into ``out_re, out_im``."""
        k = _loops()
        source = self.backward_source if inverse else self.forward_source
        if self.has_phase:
            ph_re, ph_im = self.backward_phase if inverse else self.forward_phase
            k.permute_phase(re, im, cols, source, ph_re, ph_im, out_re, out_im)
        else:
            k.permute(re, im, cols, source, out_re, out_im)


def _fuse(ops: Sequence[_Op], num_qubits: int) -> list[Any]:
    """The gates in an order the circuit allows, with one-qubit gates in a row on a qubit
    fused (:class:`_Fused1`) and runs of permutation gates fused (:class:`_Permutation`).

    One-qubit gates wait on their qubit until a gate on more qubits comes; then the waiting
    runs are emitted (gates on other qubits commute with them) and the gate follows.
    Permutation gates join the run just emitted when none of their qubits has a
    one-qubit gate waiting."""
    out: list[Any] = []
    pending: dict[int, list[_Op]] = {}

    def flush(qubits: Any) -> None:
        for q in sorted(qubits):
            run = pending.pop(q, None)
            if run:
                out.append(run[0] if len(run) == 1 else _Fused1(run))

    fuse_permutations = num_qubits <= _PERMUTATION_MAX_QUBITS
    for op in ops:
        qubits = op.gate.qubits
        if len(qubits) == 1:
            pending.setdefault(qubits[0], []).append(op)
            continue
        permutation = fuse_permutations and _monomial(op)
        if permutation and out and isinstance(out[-1], list) and not any(q in pending for q in qubits):
            out[-1].append(op)
            continue
        flush(list(pending))
        out.append([op] if permutation else op)
    flush(list(pending))
    return [
        (item[0] if len(item) == 1 else _Permutation(item, num_qubits)) if isinstance(item, list) else item
        for item in out
    ]


def _block_values(blocks: np.ndarray, entries: dict[tuple[int, int], Any], identity: bool, shape: tuple[int, ...] = ()) -> np.ndarray:
    out = np.empty((len(blocks), 4) + shape, dtype=complex)
    for j, (m0, m1) in enumerate(blocks):
        for t, key in enumerate(((m0, m0), (m0, m1), (m1, m0), (m1, m1))):
            out[j, t] = entries.get(key, 1.0 if identity and key[0] == key[1] else 0.0)
    return out


def _split(coefficients: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Real and imaginary parts, contiguous, for the compiled loops."""
    return np.ascontiguousarray(coefficients.real), np.ascontiguousarray(coefficients.imag)


def _dagger(split: tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The blocks of U† from those of U, split: (a, b, c, d) → (ā, c̄, b̄, d̄)."""
    return np.ascontiguousarray(split[0][:, [0, 2, 1, 3]]), np.ascontiguousarray(-split[1][:, [0, 2, 1, 3]])


def _repeated(split: tuple[np.ndarray, np.ndarray], columns: int) -> tuple[np.ndarray, np.ndarray]:
    """One-matrix coefficients repeated for each of ``columns`` columns."""
    return tuple(np.ascontiguousarray(np.broadcast_to(a[..., None], a.shape + (columns,))) for a in split)  # type: ignore[return-value]


class _Step:
    """A body gate's coefficients for one call (the whole batch), split once for the
    compiled loops, and its angles."""

    def __init__(self, coefficients: np.ndarray, values: list[Any]) -> None:
        self.forward = _split(coefficients)
        self.values = values
        self.per_sample = coefficients.ndim == 3
        self._inverse: tuple[np.ndarray, np.ndarray] | None = None  # one matrix's: tiny, kept once made

    def coefficient_columns(self, part: slice) -> np.ndarray:
        """The complex coefficients for the columns of ``part``: ``(blocks, 4[, columns])``."""
        re, im = self.columns(part)
        return re + 1j * im

    def columns(self, part: slice) -> tuple[np.ndarray, np.ndarray]:
        """The gate's coefficients for the columns of ``part``."""
        if not self.per_sample:
            return self.forward
        return np.ascontiguousarray(self.forward[0][..., part]), np.ascontiguousarray(self.forward[1][..., part])

    def inverse(self, part: slice, repeat: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """The inverse's coefficients for the columns of ``part`` (with ``repeat``, one
        matrix repeated for each of that many columns)."""
        if self.per_sample:  # made per part: a copy for the whole batch would stay with the tape
            return _dagger(self.columns(part))
        if self._inverse is None:  # parts on other threads may make it too: the same arrays
            self._inverse = _dagger(self.forward)
        return _repeated(self._inverse, repeat) if repeat else self._inverse


def _compile_gate(gate: Gate) -> _Op:
    name = gate.name
    qubits = gate.qubits
    d = 2 ** len(qubits)
    blocks = np.array(_kernel_blocks(name), dtype=np.int64).reshape(-1, 2)
    angles, per_sample, derivatives, per_sample_derivatives = [], False, [], False
    for angle in gate.params:
        fn, varies = _compile_angle(angle)
        angles.append(fn)
        per_sample |= varies
        parts = []
        for i in sorted(angle.weights):
            dfn, dvaries = _compile_angle(angle.derivative(i))
            parts.append((i, dfn))
            per_sample_derivatives |= dvaries
        derivatives.append(tuple(parts))
    need = np.zeros((d, d), dtype=bool)  # stays empty for a gate without weights: nothing to sum
    if any(derivatives):
        rng = np.random.default_rng(11)
        for _ in range(3):
            for generator in gate_generators(name, list(rng.uniform(0.3, 2.8, len(gate.params)))):
                need |= np.abs(generator) > 1e-12
    op = _Op(
        gate=gate,
        name=name,
        qubit=qubits[0] if len(qubits) == 1 else -1,
        targets=np.array(sorted(qubits), dtype=np.int64),
        offsets=np.array([sum(((m >> t) & 1) << q for t, q in enumerate(qubits)) for m in range(d)], dtype=np.int64),
        blocks=blocks,
        angles=tuple(angles),
        per_sample=per_sample,
        derivatives=tuple(derivatives),
        per_sample_derivatives=per_sample_derivatives,
        fixed=None,
        need=need,
        generators=tuple(gate_generators(name)) if name in _GENERATORS else None,
        has_weights=any(derivatives),
    )
    if name in _FIXED:
        matrix = _FIXED[name]
        op.fixed = _block_values(blocks, {(i, j): complex(matrix[i, j]) for i in range(d) for j in range(d)}, False)
        op.swaps = len(qubits) > 1 and bool(np.all(op.fixed == np.array([0, 1, 1, 0])))
    return op


class _Tape(list):
    """The body's :class:`_Step` list, and ``head``: those of the gates folded into the
    product state."""

    head: list[_Step] = []


class _State:
    """A part's split state, with a spare pair of arrays for the passes that cannot work in
    place (:class:`_Permutation`)."""

    def __init__(self, re: np.ndarray, im: np.ndarray, cols: int) -> None:
        self.re, self.im, self.cols = re, im, cols
        self._spare: tuple[np.ndarray, np.ndarray] | None = None

    def spare(self) -> tuple[np.ndarray, np.ndarray]:
        if self._spare is None:
            self._spare = (np.empty_like(self.re), np.empty_like(self.im))
        return self._spare

    def apply(self, op: Any, cre: np.ndarray, cim: np.ndarray, inverse: bool = False) -> None:
        if isinstance(op, _Permutation):
            out = self.spare()
            op.move(self.re, self.im, self.cols, *out, inverse=inverse)
            self._spare = (self.re, self.im)
            self.re, self.im = out
        else:
            _apply(self.re, self.im, self.cols, op, cre, cim)


def _apply(re: np.ndarray, im: np.ndarray, cols: int, op: _Op, cre: np.ndarray, cim: np.ndarray) -> None:
    """Applies a gate (its split coefficients for these columns) to a split state in place."""
    k = _loops()
    if op.qubit >= 0:
        (k.apply1_uniform if cre.ndim == 2 else k.apply1_columns)(re, im, cols, op.qubit, cre[0], cim[0])
    elif op.swaps:
        k.swap_gate(re, im, cols, op.targets, op.offsets, op.blocks)
    else:
        k.apply_gate(re, im, cols, op.targets, op.offsets, op.blocks, cre, cim)


def _backward_step(state: tuple[np.ndarray, ...], cols: int, op: _Op, cre: np.ndarray, cim: np.ndarray, acc: tuple[np.ndarray, np.ndarray]) -> None:
    """Adds the gate's ``Σ conj(λ_m) ψ_m2`` to ``acc`` (a total, or per column when the
    coefficients are per column), then uncomputes the gate from ψ and λ."""
    k = _loops()
    if op.qubit >= 0:
        (k.backward1_uniform if cre.ndim == 2 else k.backward1_columns)(*state, cols, op.qubit, cre[0], cim[0], *acc)
    elif op.swaps:  # no weights, nothing to sum: uncomputed by swapping again
        k.swap_gate(state[0], state[1], cols, op.targets, op.offsets, op.blocks)
        k.swap_gate(state[2], state[3], cols, op.targets, op.offsets, op.blocks)
    else:
        k.backward_gate(*state, cols, op.targets, op.offsets, op.blocks, cre, cim, op.need, *acc)


@dataclass
class _Part:
    """A part of the batch after the forward pass: its columns and final split state."""

    columns: slice
    x: np.ndarray
    xt: np.ndarray
    re: np.ndarray
    im: np.ndarray

    @property
    def width(self) -> int:
        return self.columns.stop - self.columns.start


def _diagonal_sum(obs: np.ndarray, upstream: np.ndarray) -> np.ndarray:
    """``Σ_k obs[k] ⊗ upstream[k]``, ``(2**n, columns)``: the diagonal of ``M_b`` per column.

    Not ``obs.T @ upstream``: a matrix product goes to BLAS, whose threads stall when the
    cores are busy (26 ms instead of 2 ms at 16 qubits, measured under load)."""
    out = np.multiply.outer(obs[0], upstream[0])
    for k in range(1, obs.shape[0]):
        out += np.multiply.outer(obs[k], upstream[k])
    return out


# ------------------------------------------------------------------------ program
class StatevectorProgram:
    """A circuit design compiled for exact, batched simulation and adjoint gradients.

    ``weights`` are 1-D (at least ``num_weights`` long). ``inputs`` are samples ×
    features (at least ``num_inputs`` features); a 1-D array is one sample, and ``None``
    is one sample of a design without inputs. Observables are the diagonals of
    operators diagonal in the computational basis, shape ``(k, 2**n)`` (see
    :func:`z_diagonal`); ``None`` means the ``2**n`` basis-state probabilities.

    ``cache_bytes`` > 0 keeps the states after the weight-free prefix (the encoding) of
    recently seen input batches, up to that many bytes in all, when that prefix entangles
    qubits (a ZZ feature map, say; one-qubit encodings are rebuilt in one pass anyway): a
    training loop that revisits the same batches then skips the encoding.

    ``threads`` simulates the parts of large batches (``batch × 2**n`` ≥ 65536) that many
    at a time (None: every core this process may use, :func:`available_cores`). The parts
    do not depend on it and their results are combined in a fixed order, so every result
    is the same, bit for bit, whatever the number of threads.

    ``checkpoint``, when given, is called before each part of the batch is simulated (a
    fraction of a second of work at most on large circuits): it may block (a paused run) or
    raise to abandon the call (a stopped one), so that long calls answer at once; with
    threads, the parts not yet started are then skipped and the exception reaches the caller.

    Memory: the final states of the batch (``batch × 2**n`` complex numbers), kept for the
    gradient up to 256 MiB (beyond, the gradient simulates each part again instead), and
    about four more per part being simulated, whatever the number of gates:
    :meth:`state_bytes` gives the figure.
    The program is a snapshot: compile a new one when the design changes.
    """

    def __init__(self, design: CircuitDesign, cache_bytes: int = 0, threads: int | None = None,
                 checkpoint: Callable[[], Any] | None = None) -> None:
        design.validate()
        self.num_qubits = design.num_qubits
        self.dim = 2**self.num_qubits
        self.num_weights = design.num_weights
        self.num_inputs = design.num_inputs
        ops = [_compile_gate(g) for g in design.ordered_gates]
        # Weight-free gates that no weighted gate precedes on their qubits commute to the
        # front: their states depend on the inputs only, and the backward pass stops there.
        prefix, body, touched = [], [], set()
        for op in ops:
            if not op.has_weights and not touched & set(op.gate.qubits):
                prefix.append(op)
            else:
                body.append(op)
                touched |= set(op.gate.qubits)
        self.prefix: tuple[_Op, ...] = tuple(prefix)
        self.unfused_body: tuple[_Op, ...] = tuple(body)
        # The prefix's one-qubit gates before any entangling gate on their qubit make a
        # product state, built at once; the rest of the prefix is applied to it.
        product, entangling, entangled = [], [], set()
        for op in prefix:
            if len(op.gate.qubits) == 1 and op.gate.qubits[0] not in entangled:
                product.append(op)
            else:
                entangling.append(op)
                entangled |= set(op.gate.qubits)
        self.product_prefix: tuple[_Op, ...] = tuple(product)
        self.entangling_prefix: tuple[Any, ...] = tuple(_fuse(entangling, self.num_qubits))
        # The body's first one-qubit gates on a qubit (the first layer's rotations, before any
        # gate on more qubits touches it) are folded into the product state when the prefix
        # does not entangle: no pass over the state forward, and backward only the sums their
        # gradient needs (:meth:`_head_gradient`), taken where the adjoint pass ends.
        head: dict[int, list[_Op]] = {}
        if not entangling and _FOLD_FIRST_GATES:
            blocked: set[int] = set()
            rest = []
            for op in body:
                qubits = op.gate.qubits
                if len(qubits) == 1 and qubits[0] not in blocked:
                    head.setdefault(qubits[0], []).append(op)
                else:
                    blocked |= set(qubits)
                    rest.append(op)
            body = rest
        #: per qubit, the body gates folded into the product state (fused when several)
        self.head: tuple[Any, ...] = tuple(ops[0] if len(ops) == 1 else _Fused1(ops) for _, ops in sorted(head.items()))
        #: the body as it is simulated: runs of gates fused (:func:`_fuse`)
        self.body: tuple[Any, ...] = tuple(_fuse(body, self.num_qubits))
        self.uses_inputs = any(op.per_sample for op in ops)
        self.cache_bytes = int(cache_bytes)
        self.cache_hits = 0
        self.threads = available_cores() if threads is None else max(1, int(threads))
        self.checkpoint = checkpoint
        self._cache: OrderedDict[tuple[Any, ...], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._schedules: dict[int, list[Any]] = {}

    @staticmethod
    def memory_bytes(num_qubits: int, batch: int, num_observables: int = 1, num_gates: int = 0,
                     threads: int | None = None) -> int:
        """The most bytes a call on ``batch`` samples allocates (values and the adjoint gradient),
        known before any program is built (so 2**64 amplitudes overflow nothing: Python integers).

        The states, as :meth:`state_bytes` counts them for the same part layout, plus the
        observables' diagonals (float64, and the index arrays the bitstring readout builds:
        about 24 bytes per amplitude and observable) and the gates' coefficients (per sample
        for the data's: about 32 bytes per gate and sample). ``threads`` defaults to every
        core, as a program's does.
        """
        dim = 2 ** max(int(num_qubits), 0)
        batch = max(int(batch), 1)
        threads = available_cores() if threads is None else max(1, int(threads))
        return (_states_bytes(dim, batch, threads) + 24 * dim * max(int(num_observables), 1)
                + 32 * max(int(num_gates), 0) * batch)

    @property
    def prefix_gates(self) -> list[Gate]:
        """The gates that depend on the inputs only and can act first (the encoding)."""
        return [op.gate for op in self.prefix]

    # ---------------------------------------------------------------- arguments
    def _arguments(self, weights: Any, inputs: Any) -> tuple[np.ndarray, list, np.ndarray, int, int]:
        w = np.asarray(weights, dtype=float).reshape(-1)
        if w.size < self.num_weights:
            raise ValueError(f"the design uses {self.num_weights} weight(s), got {w.size}")
        if inputs is None:
            if self.num_inputs:
                raise ValueError(f"the design uses {self.num_inputs} input(s) per sample, got none")
            x = np.zeros((1, 0))
        else:
            x = np.asarray(inputs, dtype=float)
            if x.ndim == 1:
                x = x[None, :]
            if x.ndim != 2:
                raise ValueError(f"inputs must be samples × features, got shape {x.shape}")
            if x.shape[1] < self.num_inputs:
                raise ValueError(f"the design uses {self.num_inputs} input(s) per sample, got {x.shape[1]}")
            if x.shape[0] == 0:
                raise ValueError("the batch of inputs is empty")
        batch = x.shape[0]
        sim_batch = batch if self.uses_inputs else 1  # without data every sample is the same
        if sim_batch != batch:
            x = x[:1]
        return w, w.tolist(), x, batch, sim_batch

    def _observables(self, observables: Any) -> np.ndarray | None:
        if observables is None:
            return None
        obs = np.asarray(observables)
        if np.iscomplexobj(obs):
            if np.any(obs.imag):
                raise ValueError("observables must be real diagonals (Hermitian and diagonal)")
            obs = obs.real
        obs = np.asarray(obs, dtype=float)
        if obs.ndim == 1:
            obs = obs[None, :]
        if obs.ndim != 2 or obs.shape[1] != self.dim:
            raise ValueError(f"observables must have shape (k, {self.dim}), got {np.shape(observables)}")
        return np.ascontiguousarray(obs)

    # ------------------------------------------------------------- simulation
    def _parts(self, sim_batch: int) -> list[slice]:
        """How the batch is cut: see :func:`_part_slices`."""
        return _part_slices(self.dim, sim_batch)

    def state_bytes(self, batch: int) -> int:
        """The most memory (bytes) the states of a gradient step on ``batch`` samples take:
        the final states kept for the gradient (when they fit in 256 MiB) and, for each part
        being simulated (one per thread), its final state, ψ, λ and a spare state."""
        return _states_bytes(self.dim, batch if self.uses_inputs else 1, self.threads)

    def estimate_seconds(self, weights: Any, inputs: Any, batch: int, evaluated: int = 0) -> dict[str, float]:
        """Expected seconds of a gradient step on ``batch`` samples and of a forward pass on
        ``evaluated`` samples, from one part of ``inputs`` (a few rows) simulated and timed
        now: a step costs about :data:`_STEP_COST` forward passes (one more when the final
        states are not kept), and the parts share the threads.

        Returns ``step_seconds``, ``evaluation_seconds`` and ``forward_seconds_per_sample``
        (on one thread)."""
        sim_batch = batch if self.uses_inputs else 1
        width = self._parts(sim_batch)[0].stop
        rows = np.asarray(inputs, dtype=float) if inputs is not None else None
        if rows is not None:
            rows = rows[:width] if rows.ndim == 2 else rows
        w, wl, x, _, timed = self._arguments(weights, rows)
        tape = self._tape(w, wl, x, np.ascontiguousarray(x.T))
        self._forward(w, wl, x, tape, slice(0, timed))  # compiled code loaded, caches warm
        start = time.perf_counter()
        self._forward(w, wl, x, tape, slice(0, timed))
        per_sample = (time.perf_counter() - start) / timed

        def forward(samples: int) -> float:
            if samples <= 0:
                return 0.0
            simulated = samples if self.uses_inputs else 1
            return per_sample * simulated / min(self.threads, len(self._parts(simulated)))

        again = sim_batch * self.dim * 16 > _KEEP_BYTES
        return {
            "step_seconds": forward(batch) * (_STEP_COST + again),
            "evaluation_seconds": forward(evaluated),
            "forward_seconds_per_sample": per_sample,
        }

    def _map(self, fn: Callable[[Any], Any], items: list[Any]) -> list[Any]:
        """``fn`` over the parts of a batch, ``threads`` at a time (the compiled loops
        release the GIL), each after the :attr:`checkpoint`; the results in the parts'
        order. When one part raises (a stopped run), the parts not yet started are
        skipped and the exception is raised here."""
        checkpoint = self.checkpoint
        if len(items) == 1 or self.threads == 1:
            results = []
            for item in items:
                if checkpoint is not None:
                    checkpoint()
                results.append(fn(item))
            return results
        failed = threading.Event()

        def run(item: Any) -> Any:
            if failed.is_set():
                return None
            try:
                if checkpoint is not None:
                    checkpoint()
                return fn(item)
            except BaseException:
                failed.set()
                raise

        with ThreadPoolExecutor(max_workers=min(self.threads, len(items)), thread_name_prefix="statevector") as pool:
            futures = [pool.submit(run, item) for item in items]
            try:
                return [future.result() for future in futures]
            except BaseException:
                failed.set()
                for future in futures:
                    future.cancel()
                raise

    def _prefix_state(self, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray, cols: int,
                      head: list[tuple[Any, np.ndarray]] = ()) -> _State:
        key = None
        if self.cache_bytes > 0 and self.entangling_prefix:  # a product state is as cheap to rebuild as to copy
            key = (x.shape, x.tobytes())
            with self._cache_lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    self.cache_hits += 1
                    return _State(cached[0].copy(), cached[1].copy(), cols)
        state = self._product_state(w, wl, x, xt, cols, head)
        split = _State(np.ascontiguousarray(state.real).reshape(-1), np.ascontiguousarray(state.imag).reshape(-1), cols)
        for op in self.entangling_prefix:
            split.apply(op, *_split(op.coefficients(w, wl, x, xt)[0]))  # once per part: no tape
        if key is not None and 2 * split.re.nbytes <= self.cache_bytes:
            with self._cache_lock:
                self._cache[key] = (split.re.copy(), split.im.copy())
                while sum(2 * s[0].nbytes for s in self._cache.values()) > self.cache_bytes:
                    self._cache.popitem(last=False)
        return split

    def _product_state(self, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray, batch: int,
                       head: list[tuple[Any, np.ndarray]] = ()) -> np.ndarray:
        """|0…0⟩ after the one-qubit gates of the prefix and then those of ``head`` (the
        body's gates folded in, with their coefficients for these columns): a product of
        one-qubit states, built by outer products in one pass instead of one pass per gate."""
        qubit_states = [np.array([[1.0 + 0j], [0.0]]) for _ in range(self.num_qubits)]
        gates = [(op, op.coefficients(w, wl, x, xt)[0]) for op in self.product_prefix] + list(head)
        for op, coefficients in gates:
            (a, b, c, d) = coefficients[0]
            v = qubit_states[op.gate.qubits[0]]
            qubit_states[op.gate.qubits[0]] = np.array(np.broadcast_arrays(a * v[0] + b * v[1], c * v[0] + d * v[1]))
        state = np.broadcast_to(qubit_states[0], (2, batch))
        for v in qubit_states[1:]:  # qubit q is bit q: higher qubits go to the left
            v = np.broadcast_to(v, (2, batch))
            state = (v[:, None, :] * state[None, :, :]).reshape(-1, batch)
        return np.array(state, dtype=complex, order="C")

    def _schedule(self, cols: int) -> list[Any]:
        """The body's gates in order, for parts of ``cols`` columns: an index into the body,
        or ``(low, indices)`` for gates in a row whose qubits are all below ``low``, applied
        block by block (blocks of ``2**low`` rows that stay in the core's cache while every
        one of these gates acts on them). Without blocks when the part fits in the cache."""
        schedule = self._schedules.get(cols)
        if schedule is not None:
            return schedule
        low = max(1, _BLOCK_BYTES // (32 * cols)).bit_length() - 1
        schedule = []
        if low >= self.num_qubits or 32 * cols * self.dim < _BLOCKING_MIN_BYTES:
            schedule = list(range(len(self.body)))
        else:
            group: list[int] = []
            for i, op in enumerate(self.body):
                if not isinstance(op, _Permutation) and int(op.targets[-1]) < low:
                    group.append(i)
                    continue
                schedule += [(low, tuple(group))] if len(group) > 1 else group
                group = []
                schedule.append(i)
            schedule += [(low, tuple(group))] if len(group) > 1 else group
        self._schedules[cols] = schedule
        return schedule

    def _tape(self, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray) -> "_Tape":
        """Every body gate's coefficients and angles for the whole batch, computed once
        (and those of the gates folded into the product state, as ``tape.head``)."""
        tape = _Tape(_Step(*op.coefficients(w, wl, x, xt)) for op in self.body)
        tape.head = [_Step(*op.coefficients(w, wl, x, xt)) for op in self.head]
        return tape

    def _forward(self, w: np.ndarray, wl: list, x: np.ndarray, tape: list[_Step], columns: slice) -> _Part:
        xp = x[columns]
        xt = np.ascontiguousarray(xp.T)
        cols = len(xp)
        state = self._prefix_state(w, wl, xp, xt, cols, [(op, step.coefficient_columns(columns)) for op, step in zip(self.head, tape.head)])
        for item in self._schedule(cols):
            if isinstance(item, int):
                state.apply(self.body[item], *tape[item].columns(columns))
                continue
            low, group = item
            gates = [(self.body[i], *tape[i].columns(columns)) for i in group]
            size = (1 << low) * cols
            for start in range(0, len(state.re), size):
                re, im = state.re[start : start + size], state.im[start : start + size]
                for op, cre, cim in gates:
                    _apply(re, im, cols, op, cre, cim)
        return _Part(columns, xp, xt, state.re, state.im)

    def _backward(self, part: _Part, m_diag: np.ndarray, tape: list[_Step], w: np.ndarray, wl: list, per_sample: bool = False,
                  consume: bool = False) -> np.ndarray:
        """Gradient of ``Σ_b ⟨ψ_b|M_b|ψ_b⟩``, ``M_b = diag(m_diag[:, b])``: ``(num_weights,)``,
        or per sample ``(columns, num_weights)`` with ``per_sample``.

        ψ and the adjoint state λ = Mψ are uncomputed gate by gate side by side; at each
        gate with weights, ``∂/∂a_p = 2 Re ⟨λ| E_p |ψ⟩`` with ``E_p = ∂U/∂a_p · U†``
        (:func:`gate_generators`), from the sums ``Σ conj(λ_m) ψ_m2`` over the gate's blocks.
        """
        cols = part.width
        grad = np.zeros((cols, self.num_weights)) if per_sample else np.zeros(self.num_weights)
        if not self.body and not any(op.has_weights for op in self.head):
            return grad
        m_flat = np.ascontiguousarray(np.broadcast_to(m_diag, (self.dim, cols))).reshape(-1)
        lam = _State(part.re * m_flat, part.im * m_flat, cols)
        psi = _State(part.re, part.im, cols) if consume else _State(part.re.copy(), part.im.copy(), cols)
        for item in reversed(self._schedule(cols)):
            if not isinstance(item, int):
                self._backward_block(item, psi, lam, tape, part, grad, w, wl, per_sample)
                continue
            op, step = self.body[item], tape[item]
            if isinstance(op, _Permutation):  # ψ and λ share one spare state
                psi.apply(op, step.forward[0], step.forward[1], inverse=True)
                lam._spare, psi._spare = psi._spare, None
                lam.apply(op, step.forward[0], step.forward[1], inverse=True)
                psi._spare, lam._spare = lam._spare, None
                continue
            columns = per_sample or op.per_sample_derivatives or step.per_sample
            cre, cim = step.inverse(part.columns, cols if columns and not step.per_sample else 0)
            d = len(op.offsets)
            shape = (d, d, cols) if columns else (d, d)
            acc = (np.zeros(shape), np.zeros(shape))
            _backward_step((psi.re, psi.im, lam.re, lam.im), cols, op, cre, cim, acc)
            if op.has_weights:
                self._add_gradient(op, step.values, acc[0] + 1j * acc[1], grad, part, w, wl)
        self._head_gradient(psi, lam, tape, part, grad, w, wl, per_sample)
        return grad

    def _head_gradient(self, psi: _State, lam: _State, tape: "_Tape", part: _Part, grad: np.ndarray, w: np.ndarray, wl: list,
                       per_sample: bool) -> None:
        """The gradient of the gates folded into the product state, from ψ and λ where the
        adjoint pass ends (right after them): their sums only, no uncomputing."""
        k = _loops()
        cols = part.width
        for op, step in zip(self.head, tape.head):
            if not op.has_weights:
                continue
            columns = per_sample or op.per_sample_derivatives or step.per_sample
            shape = (2, 2, cols) if columns else (2, 2)
            acc = (np.zeros(shape), np.zeros(shape))
            (k.sums1_columns if columns else k.sums1_uniform)(psi.re, psi.im, lam.re, lam.im, cols, op.qubit, *acc)
            self._add_gradient(op, step.values, acc[0] + 1j * acc[1], grad, part, w, wl)

    def _backward_block(self, item: tuple[int, tuple[int, ...]], psi: _State, lam: _State, tape: list[_Step], part: _Part,
                        grad: np.ndarray, w: np.ndarray, wl: list, per_sample: bool) -> None:
        """The adjoint steps of a group of :meth:`_schedule`, block by block: each gate's sums
        add up over the blocks, then give its gradient."""
        low, group = item
        cols = part.width
        gates = []
        for i in group:
            op, step = self.body[i], tape[i]
            columns = per_sample or op.per_sample_derivatives or step.per_sample
            cre, cim = step.inverse(part.columns, cols if columns and not step.per_sample else 0)
            d = len(op.offsets)
            shape = (d, d, cols) if columns else (d, d)
            gates.append((op, step, cre, cim, (np.zeros(shape), np.zeros(shape))))
        size = (1 << low) * cols
        for start in range(0, len(psi.re), size):
            block = tuple(a[start : start + size] for a in (psi.re, psi.im, lam.re, lam.im))
            for op, _, cre, cim, acc in reversed(gates):
                _backward_step(block, cols, op, cre, cim, acc)
        for op, step, _, _, acc in gates:
            if op.has_weights:
                self._add_gradient(op, step.values, acc[0] + 1j * acc[1], grad, part, w, wl)

    @staticmethod
    def _add_gradient(op: Any, values: list[Any], sums: np.ndarray, grad: np.ndarray, part: _Part, w: np.ndarray, wl: list) -> None:
        """``∂L/∂θ_i += Σ_p 2 Re Σ_{m,m2} E_p[m, m2] sums[m, m2] · ∂a_p/∂θ_i`` (per column
        when ``sums`` is)."""
        generators = op.generators_for(values, part.columns)
        for generator, derivatives in zip(generators, op.derivatives):
            if not derivatives:
                continue
            if sums.ndim == 2:
                dangle: Any = 2.0 * float(np.real(np.sum(generator * sums)))
            elif generator.ndim == 2:
                dangle = 2.0 * np.real(np.einsum("mn,mnc->c", generator, sums))
            else:
                dangle = 2.0 * np.real(np.einsum("cmn,mnc->c", generator, sums))
            for weight, dfn in derivatives:
                term = dangle * dfn(w, wl, part.x, part.xt)
                if grad.ndim == 2:
                    grad[:, weight] += term
                else:
                    grad[weight] += np.sum(term)

    def _part_values(self, part: _Part, obs: np.ndarray | None) -> np.ndarray:
        """``(columns, k)`` values of a part: ⟨O_k⟩, or with no observables the probabilities."""
        if obs is None:
            return (part.re**2 + part.im**2).reshape(self.dim, part.width).T
        values = np.zeros((obs.shape[0], part.width))
        weighted_norms = _loops().weighted_norms
        for k, row in enumerate(obs):
            weighted_norms(part.re, part.im, part.width, row, values[k])
        return values.T

    def _run(self, weights: Any, inputs: Any) -> tuple[list[_Part], list[_Step], np.ndarray, list, int, int]:
        w, wl, x, batch, sim_batch = self._arguments(weights, inputs)
        tape = self._tape(w, wl, x, np.ascontiguousarray(x.T))
        parts = self._map(lambda columns: self._forward(w, wl, x, tape, columns), self._parts(sim_batch))
        return parts, tape, w, wl, batch, sim_batch

    def _values(self, weights: Any, inputs: Any, obs: np.ndarray | None, keep: bool | None = None) -> tuple[np.ndarray, list[_Part | None], list[_Step], np.ndarray, list, int, int]:
        """Values ``(batch, k)`` with one forward pass, each part's values computed on the
        thread that simulated it; the parts' final states are kept (``keep``: None when
        they fit in :data:`_KEEP_BYTES`) or dropped as soon as their values are known."""
        w, wl, x, batch, sim_batch = self._arguments(weights, inputs)
        if keep is None:
            keep = sim_batch * self.dim * 16 <= _KEEP_BYTES
        tape = self._tape(w, wl, x, np.ascontiguousarray(x.T))

        def forward(columns: slice) -> tuple[_Part | None, np.ndarray]:
            part = self._forward(w, wl, x, tape, columns)
            return (part if keep else None), self._part_values(part, obs)

        results = self._map(forward, self._parts(sim_batch))
        values = np.concatenate([v for _, v in results])
        values = np.ascontiguousarray(np.broadcast_to(values, (batch, values.shape[1])))
        return values, [p for p, _ in results], tape, w, wl, batch, sim_batch

    # ---------------------------------------------------------------- public API
    def states(self, weights: Any = (), inputs: Any = None) -> np.ndarray:
        """The final statevector of each sample, shape ``(batch, 2**n)``."""
        parts, *_, batch, _ = self._run(weights, inputs)
        states = np.concatenate([(p.re + 1j * p.im).reshape(self.dim, p.width).T for p in parts])
        return np.ascontiguousarray(np.broadcast_to(states, (batch, self.dim)))

    def probabilities(self, weights: Any = (), inputs: Any = None) -> np.ndarray:
        """Basis-state probabilities of each sample, shape ``(batch, 2**n)``."""
        return self._values(weights, inputs, None, keep=False)[0]

    def expectations(self, weights: Any, inputs: Any, observables: Any) -> np.ndarray:
        """⟨O_k⟩ per sample, shape ``(batch, k)``, for diagonal observables ``(k, 2**n)``.

        A forward pass only, on every thread; no state outlives its part."""
        obs = self._observables(observables)
        return self._values(weights, inputs, obs, keep=False)[0]

    def value_and_pullback(self, weights: Any, inputs: Any, observables: Any) -> tuple[np.ndarray, Callable[[Any], np.ndarray]]:
        """Values ⟨O_k⟩_b ``(batch, k)`` and a *pullback*: the function that maps an
        ``upstream`` array ``(batch, k)`` (∂loss/∂values) to the gradient
        ``Σ_b Σ_k upstream[b, k] ∂⟨O_k⟩_b/∂θ`` ``(num_weights,)``.

        The forward pass runs now; each call of the pullback is one adjoint pass, so a
        training step computes its loss from the values and then its gradient without
        simulating the circuit twice. The pullback keeps the final states (and may be
        called more than once) until it is dropped; when they would take more than 256 MiB
        it keeps none and simulates each part again before its adjoint pass.
        """
        obs = self._observables(observables)
        values, parts, tape, w, wl, batch, sim_batch = self._values(weights, inputs, obs)
        x = self._arguments(weights, inputs)[2]
        k = values.shape[1]
        slices = self._parts(sim_batch)

        def pullback(upstream: Any) -> np.ndarray:
            up = self._upstream(upstream, batch, k)
            if sim_batch != batch:  # every sample has the same state: one pass with Σ_b M_b
                up = up.sum(axis=0, keepdims=True)

            def backward(index: int) -> np.ndarray:
                part = parts[index]
                again = part is None
                if part is None:  # not kept: simulated again
                    part = self._forward(w, wl, x, tape, slices[index])
                upp = up[part.columns].T  # (k, columns)
                m_diag = upp if obs is None else _diagonal_sum(obs, upp)  # (2**n, columns): M of each sample
                return self._backward(part, m_diag, tape, w, wl, consume=again)

            return np.sum(self._map(backward, list(range(len(slices)))), axis=0)

        return values, pullback

    @staticmethod
    def _upstream(upstream: Any, batch: int, k: int) -> np.ndarray:
        up = np.asarray(upstream, dtype=float)
        if up.shape != (batch, k):
            raise ValueError(f"upstream must have shape (batch, k) = ({batch}, {k}), got {up.shape}")
        return up

    def vjp(self, weights: Any, inputs: Any, observables: Any, upstream: Any) -> tuple[np.ndarray, np.ndarray]:
        """Values ⟨O_k⟩_b ``(batch, k)`` and ``Σ_b Σ_k upstream[b, k] ∂⟨O_k⟩_b/∂θ`` ``(num_weights,)``.

        One forward and one adjoint pass, whatever ``k`` and the batch size.
        """
        batch = self._arguments(weights, inputs)[3]
        obs = self._observables(observables)
        self._upstream(upstream, batch, self.dim if obs is None else obs.shape[0])  # fail before simulating
        values, pullback = self.value_and_pullback(weights, inputs, observables)
        return values, pullback(upstream)

    def jacobian(self, weights: Any, inputs: Any, observables: Any) -> np.ndarray:
        """``∂⟨O_k⟩_b/∂θ_i``, shape ``(batch, k, num_weights)``: one adjoint pass per observable."""
        obs = self._observables(observables)
        if obs is None:
            obs = np.eye(self.dim)
        parts, tape, w, wl, batch, _ = self._run(weights, inputs)

        def run(part: _Part) -> np.ndarray:
            jac = np.zeros((part.width, obs.shape[0], self.num_weights))
            for k, row in enumerate(obs):
                jac[:, k, :] = self._backward(part, row[:, None], tape, w, wl, per_sample=True)
            return jac

        jac = np.concatenate(self._map(run, parts))
        return np.ascontiguousarray(np.broadcast_to(jac, (batch,) + jac.shape[1:]))
