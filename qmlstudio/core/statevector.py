"""The engine's fast exact simulator: batched statevectors with adjoint gradients.

A :class:`StatevectorProgram` compiles a :class:`~qmlstudio.core.circuit.CircuitDesign`
once and then simulates a whole batch of samples per call, with NumPy only:

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

* the batch is the last (contiguous) axis of the state, shape ``(2**n, batch)``, so every
  gate is a handful of vectorised operations over the whole batch whatever the qubit;
* a gate whose angles are the same for every sample uses one matrix (a single BLAS call
  for dense one-qubit gates); a gate whose angles depend on the data uses one matrix per
  sample, broadcast along the batch axis;
* every gate of :data:`~qmlstudio.core.circuit.GATES` is a set of independent 1×1 (phase)
  and 2×2 blocks in its own basis, so diagonal gates are phase multiplications of slices
  and permutation gates (x, cx, swap, ccx...) are slice copies;
* the adjoint method keeps two states (the forward state, uncomputed gate by gate, and the
  adjoint state) instead of one per gate; the observables are diagonal, so the adjoint
  state starts as ``M ψ`` with ``M = Σ_k upstream[b, k] O_k`` per sample;
* the weight-free gates that can act first (the data encoding, typically) form a
  *prefix* whose states depend only on the inputs: the backward pass stops before it and
  an optional cache (``cache_bytes``) keeps its states per batch of inputs;
* designs without data inputs are simulated once, whatever the batch size.

The chain rule runs through the angle formulas: ``∂L/∂θ_i = Σ_gates Σ_angles
∂L/∂angle · ∂angle/∂θ_i``, with ``∂angle/∂θ_i`` the symbolic
:meth:`~qmlstudio.core.expressions.Angle.derivative`, evaluated per sample.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from qmlstudio.core.circuit import GATES, CircuitDesign, Gate
from qmlstudio.core.expressions import Angle

__all__ = [
    "StatevectorProgram",
    "gate_generators",
    "gate_matrix",
    "probabilities_diagonal",
    "z_diagonal",
]

_X = np.array([[0, 1], [1, 0]], dtype=complex)
_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)
_Z = np.array([[1, 0], [0, -1]], dtype=complex)
_SQ = 1 / np.sqrt(2)
import os
_USE_MATMUL = os.environ.get("SV_MATMUL", "1") == "1"

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


def _filled(d: int, shape: tuple[int, ...], entries: dict[tuple[int, int], Any], identity: bool) -> np.ndarray:
    out = np.zeros(shape + (d, d), dtype=complex)
    if identity:
        out[..., range(d), range(d)] = 1
    for (i, j), value in entries.items():
        out[..., i, j] = value
    return out


def _rotation_entries(name: str, a: Any) -> dict[tuple[int, int], Any]:
    """The 2×2 block of a one-angle rotation as {(row, column): value}."""
    if name in ("rz",):
        phase = np.exp(-0.5j * np.asarray(a))
        return {(0, 0): phase, (1, 1): np.conj(phase)}
    c, s = np.cos(0.5 * np.asarray(a)), np.sin(0.5 * np.asarray(a))
    if name == "rx":
        return {(0, 0): c, (0, 1): -1j * s, (1, 0): -1j * s, (1, 1): c}
    return {(0, 0): c, (0, 1): -s, (1, 0): s, (1, 1): c}  # ry


def gate_matrix(name: str, angles: Sequence[Any] = ()) -> np.ndarray:
    """The unitary of gate ``name`` in qiskit's convention, in the gate's own basis.

    Angles are floats (a ``(d, d)`` matrix) or arrays of one angle per sample (a
    ``(batch, d, d)`` stack).
    """
    if name in _FIXED:
        return _FIXED[name]
    shape = _batch_shape(angles)
    if name in ("rx", "ry", "rz"):
        return _filled(2, shape, _rotation_entries(name, angles[0]), identity=False)
    if name in ("crx", "cry", "crz"):
        inner = _rotation_entries(name[1:], angles[0])
        where = (1, 3)
        return _filled(4, shape, {(where[i], where[j]): v for (i, j), v in inner.items()}, identity=True)
    if name == "p":
        return _filled(2, shape, {(1, 1): np.exp(1j * np.asarray(angles[0]))}, identity=True)
    if name == "u":
        theta, phi, lam = (np.asarray(a) for a in angles)
        c, s = np.cos(0.5 * theta), np.sin(0.5 * theta)
        e_phi, e_lam = np.exp(1j * phi), np.exp(1j * lam)
        return _filled(2, shape, {(0, 0): c, (0, 1): -e_lam * s, (1, 0): e_phi * s, (1, 1): e_phi * e_lam * c}, identity=False)
    a = np.asarray(angles[0])
    c, s = np.cos(0.5 * a), np.sin(0.5 * a)
    if name == "rzz":
        phase = np.exp(-0.5j * a)
        return _filled(4, shape, {(0, 0): phase, (1, 1): np.conj(phase), (2, 2): np.conj(phase), (3, 3): phase}, identity=False)
    if name in ("rxx", "ryy"):
        outer = 1j * s if name == "ryy" else -1j * s  # the (00, 11) pair; (01, 10) is -i·s for both
        entries = {(m, m): c for m in range(4)}
        entries.update({(0, 3): outer, (3, 0): outer, (1, 2): -1j * s, (2, 1): -1j * s})
        return _filled(4, shape, entries, identity=False)
    raise KeyError(f"no matrix for gate {name!r}")


def _u_derivatives(angles: Sequence[Any]) -> list[np.ndarray]:
    theta, phi, lam = (np.asarray(a) for a in angles)
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
AngleFn = Callable[[np.ndarray, np.ndarray, np.ndarray], Any]


def _compile_angle(angle: Angle) -> tuple[AngleFn, bool]:
    """A fast evaluator ``f(weights, inputs, inputs_by_feature)`` and whether it varies per sample."""
    kind = angle.kind
    if kind == "constant":
        value = float(angle.evaluate())
        return (lambda w, x, xt: value), False
    if kind == "weight":
        (i,) = angle.weights
        return (lambda w, x, xt: w[i]), False
    if kind == "input":
        (j,) = angle.inputs
        return (lambda w, x, xt: xt[j]), True
    return (lambda w, x, xt: angle.evaluate(w, x)), bool(angle.inputs)


@dataclass
class _Op:
    """One gate, compiled: its layout in the state tensor and how to get its matrices."""

    gate: Gate
    name: str
    blocks: tuple[tuple[int, ...], ...]
    zeros: frozenset[tuple[int, int]]
    base_shape: tuple[int, ...]  # the state (2**n,) as a tensor with the gate's qubits as axes
    index: tuple[tuple[Any, ...], ...]  # per basis state m of the gate: the slice of the tensor
    angles: tuple[AngleFn, ...]
    per_sample: bool  # some angle depends on the inputs
    derivatives: tuple[tuple[tuple[int, AngleFn], ...], ...]  # per angle: (weight, ∂angle/∂θ)
    fixed: np.ndarray | None  # the matrix of a gate without angles
    generator_entries: tuple[tuple[int, int], ...]  # entries of ∂U·U† that can be nonzero

    @property
    def has_weights(self) -> bool:
        return any(self.derivatives)

    @property
    def dense_one_qubit(self) -> bool:
        return len(self.base_shape) == 3 and self.blocks == ((0, 1),) and (0, 0) not in self.zeros


def _compile_gate(gate: Gate, num_qubits: int) -> _Op:
    name = gate.name
    blocks, zeros = _STRUCTURE[name]
    qubits = gate.qubits
    order = sorted(qubits, reverse=True)
    shape = [2 ** (num_qubits - 1 - order[0])]
    for upper, lower in zip(order, order[1:]):
        shape += [2, 2 ** (upper - lower - 1)]
    shape += [2, 2 ** order[-1]]
    index = []
    for m in range(2 ** len(qubits)):
        idx: list[Any] = [slice(None)]
        for t, q in enumerate(order):
            idx += [(m >> qubits.index(q)) & 1]
            if t < len(order) - 1:
                idx += [slice(None)]
        index.append(tuple(idx))
    angles, per_sample, derivatives = [], False, []
    for angle in gate.params:
        fn, varies = _compile_angle(angle)
        angles.append(fn)
        per_sample |= varies
        derivatives.append(tuple((i, _compile_angle(angle.derivative(i))[0]) for i in sorted(angle.weights)))
    entries: set[tuple[int, int]] = set()
    if gate.params:
        rng = np.random.default_rng(11)
        for _ in range(3):
            for generator in gate_generators(name, list(rng.uniform(0.3, 2.8, len(gate.params)))):
                entries |= {(int(i), int(j)) for i, j in zip(*np.nonzero(np.abs(generator) > 1e-12))}
    return _Op(
        gate=gate,
        name=name,
        blocks=blocks,
        zeros=zeros,
        base_shape=tuple(shape),
        index=tuple(index),
        angles=tuple(angles),
        per_sample=per_sample,
        derivatives=tuple(derivatives),
        fixed=_FIXED.get(name),
        generator_entries=tuple(sorted(entries)),
    )


class _Register:
    """A batch of states, shape (2**n, batch), with a spare buffer of the same size."""

    __slots__ = ("state", "spare")

    def __init__(self, state: np.ndarray) -> None:
        self.state = state
        self.spare = np.empty_like(state)

    def apply(self, op: _Op, matrix: np.ndarray) -> None:
        """Applies ``matrix`` (d×d, or batch×d×d) as the gate ``op``, in place."""
        state = self.state
        batch = state.shape[1]
        shape = op.base_shape + (batch,)
        if _USE_MATMUL and op.dense_one_qubit and matrix.ndim == 2:
            # One BLAS call per block of rows: (2×2) @ (2 × L·batch).
            high, _, low = op.base_shape
            out = self.spare.reshape(high, 2, low * batch)
            np.matmul(matrix, state.reshape(high, 2, low * batch), out=out)
            self.state, self.spare = self.spare, state
            return
        tensor = state.reshape(shape)
        per_sample = matrix.ndim == 3
        for block in op.blocks:
            if len(block) == 1:
                m = block[0]
                coefficient = matrix[..., m, m]
                if per_sample or coefficient != 1:
                    tensor[op.index[m]] *= coefficient
                continue
            m0, m1 = block
            v0, v1 = tensor[op.index[m0]], tensor[op.index[m1]]
            size = v0.size
            flat = self.spare.reshape(-1)
            w0, w1 = flat[:size].reshape(v0.shape), flat[size : 2 * size].reshape(v0.shape)
            a, b, c, d = matrix[..., m0, m0], matrix[..., m0, m1], matrix[..., m1, m0], matrix[..., m1, m1]
            if (m0, m0) in op.zeros and (m1, m1) in op.zeros:
                # A permutation with phases: x, y, cx, cy, swap, ccx.
                w0[...] = v0
                if not per_sample and b == 1:
                    v0[...] = v1
                else:
                    np.multiply(v1, b, out=v0)
                if not per_sample and c == 1:
                    v1[...] = w0
                else:
                    np.multiply(w0, c, out=v1)
                continue
            np.multiply(v0, a, out=w0)
            np.multiply(v1, b, out=w1)
            w0 += w1
            v1 *= d
            np.multiply(v0, c, out=w1)
            v1 += w1
            v0[...] = w0

    def reduce(self, op: _Op, other: "_Register", i: int, j: int) -> np.ndarray:
        """Per sample, Σ over the other qubits of self[m=i] · other[m=j]."""
        batch = self.state.shape[1]
        shape = op.base_shape + (batch,)
        left = self.state.reshape(shape)[op.index[i]]
        right = other.state.reshape(shape)[op.index[j]]
        work = self.spare.reshape(-1)[: left.size].reshape(left.shape)
        np.multiply(left, right, out=work)
        return work.reshape(-1, batch).sum(axis=0)


def _dagger(matrix: np.ndarray) -> np.ndarray:
    return np.conj(np.swapaxes(matrix, -1, -2))


def _transpose(matrix: np.ndarray) -> np.ndarray:
    return np.swapaxes(matrix, -1, -2)


# ------------------------------------------------------------------------ program
class StatevectorProgram:
    """A circuit design compiled for exact, batched simulation and adjoint gradients.

    ``weights`` are 1-D (at least ``num_weights`` long). ``inputs`` are samples ×
    features (at least ``num_inputs`` features); a 1-D array is one sample, and ``None``
    is one sample of a design without inputs. Observables are the diagonals of
    computational-basis-diagonal operators, shape ``(k, 2**n)`` (see :func:`z_diagonal`);
    ``None`` means the ``2**n`` basis-state probabilities.

    ``cache_bytes`` > 0 keeps the states after the weight-free prefix (the encoding) for
    recently seen input batches, up to that many bytes: a training loop that revisits the
    same batches then skips the encoding.
    """

    def __init__(self, design: CircuitDesign, cache_bytes: int = 0) -> None:
        design.validate()
        self.num_qubits = design.num_qubits
        self.dim = 2**self.num_qubits
        self.num_weights = design.num_weights
        self.num_inputs = design.num_inputs
        ops = [_compile_gate(g, self.num_qubits) for g in design.ordered_gates]
        # Weight-free gates that no weighted gate precedes on their qubits commute to the
        # front: their states depend on the inputs only.
        prefix, body, touched = [], [], set()
        for op in ops:
            if not op.has_weights and not touched & set(op.gate.qubits):
                prefix.append(op)
            else:
                body.append(op)
                touched |= set(op.gate.qubits)
        self.prefix: tuple[_Op, ...] = tuple(prefix)
        self.body: tuple[_Op, ...] = tuple(body)
        self.uses_inputs = any(op.per_sample for op in ops)
        self.cache_bytes = int(cache_bytes)
        self._cache: OrderedDict[tuple[Any, ...], np.ndarray] = OrderedDict()
        self._cache_lock = threading.Lock()
        self.cache_hits = 0

    # ---------------------------------------------------------------- arguments
    def _arguments(self, weights: Any, inputs: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, int, int]:
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
        sim_batch = batch if self.uses_inputs else 1
        if sim_batch != batch:
            x = x[:1]
        xt = np.ascontiguousarray(x.T)
        return w, x, xt, batch, sim_batch

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
        return obs

    # ------------------------------------------------------------- simulation
    def _matrix(self, op: _Op, w: np.ndarray, x: np.ndarray, xt: np.ndarray) -> tuple[np.ndarray, list[Any]]:
        if op.fixed is not None:
            return op.fixed, []
        values = [fn(w, x, xt) for fn in op.angles]
        return gate_matrix(op.name, values), values

    def _prefix_states(self, w: np.ndarray, x: np.ndarray, xt: np.ndarray, batch: int) -> _Register:
        key = None
        if self.cache_bytes > 0 and self.prefix:
            key = (x.shape, x.tobytes())
            with self._cache_lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    self.cache_hits += 1
                    return _Register(cached.copy())
        state = np.zeros((self.dim, batch), dtype=complex)
        state[0] = 1
        register = _Register(state)
        for op in self.prefix:
            register.apply(op, self._matrix(op, w, x, xt)[0])
        if key is not None and register.state.nbytes <= self.cache_bytes:
            with self._cache_lock:
                self._cache[key] = register.state.copy()
                while sum(s.nbytes for s in self._cache.values()) > self.cache_bytes:
                    self._cache.popitem(last=False)
        return register

    def _forward(self, w: np.ndarray, x: np.ndarray, xt: np.ndarray, batch: int) -> tuple[_Register, list[tuple[np.ndarray, list[Any]]]]:
        register = self._prefix_states(w, x, xt, batch)
        tape = []
        for op in self.body:
            matrix, values = self._matrix(op, w, x, xt)
            register.apply(op, matrix)
            tape.append((matrix, values))
        return register, tape

    def _backward(
        self,
        psi: _Register,
        m_diag: np.ndarray,
        tape: list[tuple[np.ndarray, list[Any]]],
        w: np.ndarray,
        x: np.ndarray,
        xt: np.ndarray,
    ) -> np.ndarray:
        """Per-sample gradients (batch, num_weights) of ⟨ψ|M|ψ⟩, M = diag(m_diag[:, b]).

        ``psi`` holds the final states and is uncomputed in place.
        """
        batch = psi.state.shape[1]
        grad = np.zeros((batch, self.num_weights))
        if not self.body:
            return grad
        # The adjoint state is kept conjugated, μ = conj(M ψ), so that the reductions
        # below are plain products; it evolves with U^T where ψ evolves with U†.
        mu = _Register(np.conj(psi.state))
        mu.state *= m_diag
        for position in range(len(self.body) - 1, -1, -1):
            op = self.body[position]
            matrix, values = tape[position]
            if op.has_weights:
                reduced = {(i, j): mu.reduce(op, psi, i, j) for i, j in op.generator_entries}
                for generator, derivatives in zip(gate_generators(op.name, values), op.derivatives):
                    if not derivatives:
                        continue
                    total = sum(generator[..., i, j] * r for (i, j), r in reduced.items())
                    dangle = 2.0 * np.real(total)
                    for weight, dfn in derivatives:
                        grad[:, weight] += dangle * dfn(w, x, xt)
            if position > 0:
                psi.apply(op, _dagger(matrix))
                mu.apply(op, _transpose(matrix))
        return grad

    # ---------------------------------------------------------------- public API
    def states(self, weights: Any = (), inputs: Any = None) -> np.ndarray:
        """The final statevector of each sample, shape ``(batch, 2**n)``."""
        w, x, xt, batch, sim_batch = self._arguments(weights, inputs)
        register, _ = self._forward(w, x, xt, sim_batch)
        out = register.state.T
        if sim_batch != batch:
            out = np.broadcast_to(out, (batch, self.dim))
        return np.ascontiguousarray(out)

    def probabilities(self, weights: Any = (), inputs: Any = None) -> np.ndarray:
        """Basis-state probabilities of each sample, shape ``(batch, 2**n)``."""
        w, x, xt, batch, sim_batch = self._arguments(weights, inputs)
        register, _ = self._forward(w, x, xt, sim_batch)
        probs = _abs2(register.state).T
        return np.ascontiguousarray(np.broadcast_to(probs, (batch, self.dim)))

    def expectations(self, weights: Any, inputs: Any, observables: Any) -> np.ndarray:
        """⟨O_k⟩ per sample, shape ``(batch, k)``, for diagonal observables ``(k, 2**n)``."""
        w, x, xt, batch, sim_batch = self._arguments(weights, inputs)
        obs = self._observables(observables)
        register, _ = self._forward(w, x, xt, sim_batch)
        return self._values(register, obs, batch)

    def _values(self, register: _Register, obs: np.ndarray | None, batch: int) -> np.ndarray:
        probs = _abs2(register.state)
        values = probs.T if obs is None else (obs @ probs).T
        return np.ascontiguousarray(np.broadcast_to(values, (batch, values.shape[1])))

    def vjp(self, weights: Any, inputs: Any, observables: Any, upstream: Any) -> tuple[np.ndarray, np.ndarray]:
        """Values ⟨O_k⟩_b ``(batch, k)`` and ``Σ_b Σ_k upstream[b, k] ∂⟨O_k⟩_b/∂θ`` ``(num_weights,)``.

        One forward and one adjoint pass, whatever ``k`` and the batch size.
        """
        w, x, xt, batch, sim_batch = self._arguments(weights, inputs)
        obs = self._observables(observables)
        k = self.dim if obs is None else obs.shape[0]
        up = np.asarray(upstream, dtype=float)
        if up.shape != (batch, k):
            raise ValueError(f"upstream must have shape (batch, k) = ({batch}, {k}), got {up.shape}")
        register, tape = self._forward(w, x, xt, sim_batch)
        values = self._values(register, obs, batch)
        if sim_batch != batch:
            up = up.sum(axis=0, keepdims=True)
        m_diag = up.T if obs is None else obs.T @ up.T  # (2**n, batch): M per sample
        grad = self._backward(register, np.ascontiguousarray(m_diag), tape, w, x, xt)
        return values, grad.sum(axis=0)

    def jacobian(self, weights: Any, inputs: Any, observables: Any) -> np.ndarray:
        """``∂⟨O_k⟩_b/∂θ_i``, shape ``(batch, k, num_weights)``: one adjoint pass per observable."""
        w, x, xt, batch, sim_batch = self._arguments(weights, inputs)
        obs = self._observables(observables)
        if obs is None:
            obs = np.eye(self.dim)
        register, tape = self._forward(w, x, xt, sim_batch)
        final = register.state
        jac = np.zeros((sim_batch, obs.shape[0], self.num_weights))
        for k, row in enumerate(obs):
            psi = _Register(final.copy())
            m_diag = np.broadcast_to(row[:, None], final.shape)
            jac[:, k, :] = self._backward(psi, m_diag, tape, w, x, xt)
        return np.ascontiguousarray(np.broadcast_to(jac, (batch,) + jac.shape[1:]))


def _abs2(state: np.ndarray) -> np.ndarray:
    return state.real**2 + state.imag**2
