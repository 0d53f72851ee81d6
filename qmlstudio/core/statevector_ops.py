"""The compiled operations the exact simulator runs: one gate, fused runs of gates, permutations.

:func:`_compile_gate` turns a design's gate into an :class:`_Op` (its angle formulas compiled,
its matrix entries per sample); :func:`_fuse` merges runs of one-qubit gates and of permutation
gates; :func:`_apply` and :func:`_backward_step` run an operation forward and back on a batch
of states with the Numba loops of :mod:`qmlstudio.core._loops`. The program that orders them,
caches prefixes and splits the batch across threads is
:class:`~qmlstudio.core.statevector.StatevectorProgram`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from qmlstudio.core.circuit import GATES, Gate
from qmlstudio.core.errors import ExpressionError
from qmlstudio.core.expressions import Angle
from qmlstudio.core.gate_matrices import (
    _FIXED,
    _GENERATORS,
    _STRUCTURE,
    _batch_shape,
    _entries,
    gate_generators,
    gate_matrix,
)

__all__ = ["AngleFn"]


#: Runs of permutation gates are fused into one pass up to this many qubits: a gather
#: of rows from all over the state, it beats one streaming pass per gate while the part's
#: state stays in the inner caches (a 3-layer CX-ladder step 10% faster at 12 qubits, 15%
#: slower at 16, measured).
_PERMUTATION_MAX_QUBITS = 14


AngleFn = Callable[[np.ndarray, list, np.ndarray, np.ndarray], Any]


_LOOPS: Any = None


def _loops() -> Any:
    """The compiled loops (:mod:`qmlstudio.core._loops`), imported on first use: Numba
    takes a moment to start, which a program that never simulates should not pay."""
    global _LOOPS
    if _LOOPS is None:
        from qmlstudio.core import _loops

        _LOOPS = _loops
    return _LOOPS


def _compile_angle(angle: Angle, where: str = "a gate") -> tuple[AngleFn, bool]:
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
        return (lambda w, wl, x, xt: _finite(np.asarray(angle.evaluate(w, x), dtype=float), angle, where)), True
    return (lambda w, wl, x, xt: _finite(float(angle.evaluate(w, x)), angle, where)), False


def _finite(value: Any, angle: Angle, where: str) -> Any:
    """The value of a formula angle, refused with where it is when not finite (``exp`` of a
    large weight, a division by an input that is zero, the log of a negative value)."""
    if not np.all(np.isfinite(value)):
        raise ExpressionError(f"{where}: angle {angle.text!r} is not finite for the current weights and inputs "
                              "(it overflows or divides by zero); bound it, for example with sin() or a smaller factor")
    return value


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


def _pair_swap(op: Any) -> bool:
    """Whether the gate is a CX or a SWAP: two qubits, one block that swaps its two states."""
    return isinstance(op, _Op) and op.swaps and len(op.targets) == 2 and len(op.blocks) == 1


class _SwapRun:
    """CX and SWAP gates in a row, for parts of ``cols`` columns: their
    :func:`~qmlstudio.core._loops.swap_pairs` tables, forward and (the gates in reverse
    order, each its own inverse) backward."""

    def __init__(self, ops: Sequence[_Op], cols: int) -> None:
        self.ops = tuple(ops)
        rows = [((1 << int(op.targets[0])) * cols, (1 << int(op.targets[1])) * cols,
                 int(op.offsets[op.blocks[0, 0]]) * cols, int(op.offsets[op.blocks[0, 1]]) * cols) for op in self.ops]
        self.forward = np.array(rows, dtype=np.int64).reshape(-1, 4)
        self.backward = np.ascontiguousarray(self.forward[::-1])

    def apply(self, re: np.ndarray, im: np.ndarray, inverse: bool = False) -> None:
        _loops().swap_pairs(re, im, self.backward if inverse else self.forward)


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

    def __init__(self, coefficients: np.ndarray, values: list[Any], split: bool = True) -> None:
        """``split``: the coefficients as the compiled loops take them (a body gate's); else
        kept complex only (a gate of the product state, see :meth:`coefficient_columns`)."""
        self.coefficients = None if split else coefficients
        self.forward: Any = _split(coefficients) if split else None
        self.values = values
        self.per_sample = coefficients.ndim == 3
        self._inverse: tuple[np.ndarray, np.ndarray] | None = None  # one matrix's: tiny, kept once made
        self._generators: Sequence[Any] | None = None
        self._part_generators: dict[tuple[int, int], Sequence[Any]] = {}
        self._rule: Any = None  # see gradient_rule: not made yet (None), made, or False (none)

    def generators(self, op: Any, part: slice) -> Sequence[Any]:
        """``op.generators_for`` this step's angles and the columns of ``part``. When the gate
        is the same for every sample they do not depend on the part: made once for the call
        and shared by the parts (a fused gate's are a dozen small matrix products, made with
        the interpreter's lock held: once per part, they kept the threads waiting). Else
        made once per part (asked for twice: :meth:`per_column`, then the gradient)."""
        if not self.per_sample:
            if self._generators is None:  # parts on other threads may make them too: equal values
                self._generators = op.generators_for(self.values, part)
            return self._generators
        key = (part.start, part.stop)
        made = self._part_generators.get(key)
        if made is None:  # each part is one thread's: no two threads make the same key
            made = self._part_generators[key] = op.generators_for(self.values, part)
        return made

    def gradient_rule(self, op: Any, part: slice, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray) -> Any:
        """For a gate whose generators and angle derivatives are the same for every sample:
        ``(matrix, which, weights, factors)`` such that its gradient from one total of sums
        ``S`` is ``factors · 2 Re (matrix @ S.ravel())[which]``, added at ``weights``; made
        once for the call. None when the generators differ by sample."""
        if self._rule is None:
            if self._generators_vary(op, part):
                self._rule = False
            else:
                rows, which, weights, factors = [], [], [], []
                for generator, derivatives in zip(self.generators(op, part), op.derivatives):
                    if not derivatives:
                        continue
                    rows.append(np.asarray(generator, dtype=complex).ravel())
                    for weight, dfn in derivatives:
                        which.append(len(rows) - 1)
                        weights.append(weight)
                        factors.append(float(dfn(w, wl, x, xt)))
                self._rule = (np.array(rows).reshape(len(rows), -1), np.array(which, dtype=np.int64),
                              np.array(weights, dtype=np.int64), np.array(factors))
        return self._rule or None

    def per_column(self, op: Any, part: slice, per_sample: bool) -> bool:
        """Whether the adjoint pass needs the gate's sums per column: for per-sample
        gradients, and where the gradient's factors (generators, angle derivatives) differ
        from sample to sample. Not merely because the gate does: a fused encoding and
        trainable rotations (``RZ(θ)·RY(θ)·RY(x)``) has the same generators for every
        sample, and one sum over the columns costs half as much as one per column."""
        if per_sample or op.per_sample_derivatives:
            return True
        if not op.has_weights or not self.per_sample:
            return False
        return self._generators_vary(op, part)

    def _generators_vary(self, op: Any, part: slice) -> bool:
        """Whether the gate's generators differ from sample to sample (one per column)."""
        return any(g is not None and np.ndim(g) == 3 for g in self.generators(op, part))

    def coefficient_columns(self, part: slice) -> np.ndarray:
        """The complex coefficients for the columns of ``part``: ``(blocks, 4[, columns])``."""
        if self.coefficients is None:
            re, im = self.columns(part)
            return re + 1j * im
        return self.coefficients[..., part] if self.per_sample else self.coefficients

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
        fn, varies = _compile_angle(angle, gate.what)
        angles.append(fn)
        per_sample |= varies
        parts = []
        for i in sorted(angle.weights):
            dfn, dvaries = _compile_angle(angle.derivative(i), f"{gate.what} (derivative by θ[{i}])")
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


class _Pool:
    """Arrays for the parts' states, handed back when a part is done with them and handed
    out again to the next part: a fresh array of a few MiB costs a page fault per 4 KiB
    when first written (16 qubits, 4 columns: 47,000 faults and a sixth of a one-thread
    step, measured on this VM). Holds at most ``limit`` arrays, all of the largest size it
    has seen; a smaller one (a batch's last, narrower part) is the start of one of them.
    Thread-safe."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._free: list[np.ndarray] = []
        self._size = 0
        self._lock = threading.Lock()

    def take(self, size: int) -> np.ndarray:
        """An array of ``size`` floats, its values undefined."""
        with self._lock:
            if size <= self._size and self._free:
                return self._free.pop()[:size]
        return np.empty(size)

    def give(self, *arrays: np.ndarray | None) -> None:
        """Arrays (from :meth:`take` or not) that nothing uses any more."""
        with self._lock:
            for array in arrays:
                if array is not None and array.base is not None:  # handed out as the start of one
                    array = array.base
                if array is None or array.base is not None or array.size < self._size:
                    continue
                if array.size > self._size:
                    self._size, self._free = array.size, []
                if len(self._free) < self.limit:
                    self._free.append(array)


class _State:
    """A part's split state, with a spare pair of arrays for the passes that cannot work in
    place (:class:`_Permutation`), taken from ``pool`` when there is one."""

    def __init__(self, re: np.ndarray, im: np.ndarray, cols: int, pool: _Pool | None = None) -> None:
        self.re, self.im, self.cols = re, im, cols
        self._spare: tuple[np.ndarray, np.ndarray] | None = None
        self.pool = pool

    def spare(self) -> tuple[np.ndarray, np.ndarray]:
        if self._spare is None:
            if self.pool is None:
                self._spare = (np.empty_like(self.re), np.empty_like(self.im))
            else:
                self._spare = (self.pool.take(self.re.size), self.pool.take(self.im.size))
        return self._spare

    def arrays(self) -> tuple[np.ndarray | None, ...]:
        """Its arrays and its spare ones, to hand back to a pool."""
        return (self.re, self.im) + (self._spare or (None, None))

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
        if not op.has_weights:  # nothing to sum: uncomputed only
            _apply(state[0], state[1], cols, op, cre, cim)
            _apply(state[2], state[3], cols, op, cre, cim)
        elif cre.ndim == 2:
            k.backward1_uniform(*state, cols, op.qubit, cre[0], cim[0], *acc)
        elif acc[0].ndim == 2:  # a gate per sample, with one sum over the columns
            k.sums1_uniform(*state, cols, op.qubit, *acc)
            k.apply1_columns(state[0], state[1], cols, op.qubit, cre[0], cim[0])
            k.apply1_columns(state[2], state[3], cols, op.qubit, cre[0], cim[0])
        else:
            k.backward1_columns(*state, cols, op.qubit, cre[0], cim[0], *acc)
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


def _diagonal_sum(obs: np.ndarray, upstream: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``Σ_k obs[k] ⊗ upstream[k]``, ``(2**n, columns)``: the diagonal of ``M_b`` per column,
    into ``out`` (``2**n × columns`` floats) when given.

    Not ``obs.T @ upstream``: a matrix product goes to BLAS, whose threads stall when the
    cores are busy (26 ms instead of 2 ms at 16 qubits, measured under load); nor numpy's
    outer products (a temporary per observable) or einsum (1 ms a part at 16 qubits, with
    the interpreter's lock held): a compiled loop."""
    if out is None:
        out = np.empty(obs.shape[1] * upstream.shape[1])
    _loops().diagonal_sum(np.ascontiguousarray(obs, dtype=float), np.ascontiguousarray(upstream, dtype=float), out)
    return out.reshape(obs.shape[1], upstream.shape[1])
