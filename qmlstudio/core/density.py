"""An exact noisy simulator: batched density matrices under a device's noise channels.

A :class:`NoisyProgram` is a list of operations on ``n`` qubits (``n`` up to about 10: a
density matrix holds 4^n complex numbers per sample), each one either a fixed channel (a
gate followed by its error, composed into one superoperator) or an RZ rotation whose angle
differs from sample to sample (IBM devices' RZ is virtual: it has no error, and on a density
matrix it is a phase on the off-diagonal blocks). The whole batch of samples moves through the
program at once.

Conventions are qiskit's: qubit 0 is the least significant bit of a basis index; a ``k``-qubit
channel's matrices are indexed little-endian over its qubits (``qubits[0]`` the least
significant). A channel is held as the tensor ``T[i, j, k, l]`` with ``ρ'[i, j] = Σ T[i, j, k, l]
ρ[k, l]`` over its qubits' local indices: a unitary ``U`` gives ``U[i, k]·conj(U[j, l])`` and
Kraus operators ``K_m`` give ``Σ_m K_m[i, k]·conj(K_m[j, l])``.

Readout errors act on the measured probabilities, qubit by qubit, through assignment matrices
``A[prepared, measured]`` (qiskit-aer's ``ReadoutError.probabilities``).

The device-specific part (which channel follows which gate on which qubits) is built from a
noise model by the backend plugin; this module knows only matrices.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from qmlstudio.core import _density_loops as _loops
from qmlstudio.core.errors import QMLStudioError

__all__ = ["NoisyOperation", "NoisyProgram", "channel_tensor", "kraus_tensor", "unitary_tensor", "MAX_DENSITY_QUBITS"]

#: The most qubits a density matrix is simulated on (4^12 complex numbers are 256 MB a sample).
MAX_DENSITY_QUBITS = 12
#: Memory for the states the backward pass reuses: below it every state is kept
CHECKPOINT_BYTES = 256 << 20


def unitary_tensor(unitary: np.ndarray) -> np.ndarray:
    """``T[i, j, k, l] = U[i, k]·conj(U[j, l])``: the channel ``ρ → U ρ U†``."""
    u = np.asarray(unitary, dtype=complex)
    return np.einsum("ik,jl->ijkl", u, u.conj())


def kraus_tensor(operators: Sequence[np.ndarray]) -> np.ndarray:
    """``Σ_m K_m[i, k]·conj(K_m[j, l])``: the channel ``ρ → Σ K_m ρ K_m†``."""
    ks = np.asarray(operators, dtype=complex)
    return np.einsum("mik,mjl->ijkl", ks, ks.conj())


def _flat(tensor: np.ndarray) -> np.ndarray:
    d = tensor.shape[0]
    return np.ascontiguousarray(tensor.reshape(d * d, d * d), dtype=complex)


def _adjoint(tensor: np.ndarray) -> np.ndarray:
    """The channel's adjoint (Hilbert-Schmidt): ``T†[k, l, i, j] = conj(T[i, j, k, l])``."""
    return np.conj(tensor).transpose(2, 3, 0, 1)


def channel_tensor(after: np.ndarray, before: np.ndarray) -> np.ndarray:
    """The channel ``before`` then ``after`` (both tensors on the same qubits)."""
    d = after.shape[0]
    a = after.reshape(d * d, d * d)
    b = before.reshape(d * d, d * d)
    return (a @ b).reshape(d, d, d, d)


@dataclass
class NoisyOperation:
    """One step of a :class:`NoisyProgram`: ``tensor`` (a fixed channel on ``qubits``) or an RZ
    on ``qubits[0]`` whose angle is column ``angle`` of the program's angle table, followed by
    ``after`` (its error channel, or None)."""

    qubits: tuple[int, ...]
    tensor: np.ndarray | None = None
    angle: int | None = None
    after: np.ndarray | None = None
    label: str = ""

    def __post_init__(self) -> None:
        if (self.tensor is None) == (self.angle is None):
            raise QMLStudioError("a noisy operation is either a fixed channel or an RZ angle")
        #: the channels as (4^k, 4^k) matrices, and their adjoints, for the compiled loops
        self.matrices = {name: _flat(t) for name, t in (("tensor", self.tensor), ("after", self.after)) if t is not None}
        self.adjoints = {name: _flat(_adjoint(t)) for name, t in (("tensor", self.tensor), ("after", self.after))
                         if t is not None}


@dataclass
class NoisyProgram:
    """Operations on ``num_qubits`` qubits starting from |0…0⟩, and the readout's assignment
    matrices per measured qubit (``readout[q]``; None: perfect readout)."""

    num_qubits: int
    operations: list[NoisyOperation] = field(default_factory=list)
    readout: dict[int, np.ndarray] = field(default_factory=dict)
    num_angles: int = 0

    def __post_init__(self) -> None:
        if not 1 <= self.num_qubits <= MAX_DENSITY_QUBITS:
            raise QMLStudioError(f"the exact noisy simulator holds density matrices of 1 to {MAX_DENSITY_QUBITS} "
                                 f"qubits; this circuit has {self.num_qubits}")

    # ----------------------------------------------------------------- layout
    def _row_axis(self, qubit: int) -> int:
        return 1 + (self.num_qubits - 1 - qubit)

    def _col_axis(self, qubit: int) -> int:
        return 1 + self.num_qubits + (self.num_qubits - 1 - qubit)

    def initial(self, batch: int) -> np.ndarray:
        dim = 1 << self.num_qubits
        rho = np.zeros((batch, dim, dim), dtype=complex)
        rho[:, 0, 0] = 1.0
        return rho

    # ----------------------------------------------------------------- steps
    def apply_matrix(self, rho: np.ndarray, matrix: np.ndarray, qubits: Sequence[int]) -> np.ndarray:
        """``rho`` after the channel given as its (4^k, 4^k) matrix, in place for one and two
        qubits (the compiled loops), else through :meth:`apply_tensor`."""
        if len(qubits) == 1:
            _loops.apply1(rho, matrix, qubits[0])
            return rho
        if len(qubits) == 2:
            _loops.apply2(rho, matrix, qubits[0], qubits[1])
            return rho
        d = 1 << len(qubits)
        return self.apply_tensor(rho, matrix.reshape(d, d, d, d), qubits)

    def apply_tensor(self, rho: np.ndarray, tensor: np.ndarray, qubits: Sequence[int]) -> np.ndarray:
        """``rho`` (batch, 2^n, 2^n) after the channel ``tensor`` on ``qubits`` (a new array)."""
        n, k = self.num_qubits, len(qubits)
        batch = rho.shape[0]
        t = tensor.reshape((2,) * (4 * k))
        # local index bits, most significant first: qubits[k-1] ... qubits[0]
        order = list(reversed(qubits))
        rows = [self._row_axis(q) for q in order]
        cols = [self._col_axis(q) for q in order]
        r = rho.reshape((batch,) + (2,) * (2 * n))
        out = np.tensordot(t, r, axes=(list(range(2 * k, 4 * k)), rows + cols))
        # out axes: the k new row axes, the k new column axes, then r's axes without rows + cols
        remaining = [a for a in range(1 + 2 * n) if a not in rows + cols]
        source = list(range(2 * k + len(remaining)))
        destination = rows + cols + remaining
        return np.moveaxis(out, source, destination).reshape(rho.shape)

    def apply_rz(self, rho: np.ndarray, qubit: int, angles: np.ndarray) -> np.ndarray:
        """``rho`` after RZ(angle_b) on ``qubit`` for each sample b: the (0, 1) block of that
        qubit's row and column bits gains e^{-iθ}, the (1, 0) block e^{iθ}."""
        _loops.apply_rz(rho, qubit, np.exp(-1j * np.asarray(angles, dtype=float)))
        return rho

    # ----------------------------------------------------------------- runs
    def states(self, angles: np.ndarray | None = None, batch: int | None = None) -> np.ndarray:
        """The final density matrices, (batch, 2^n, 2^n). ``angles`` (batch, num_angles) are
        the RZ angles of each sample."""
        if angles is None:
            if self.num_angles:
                raise QMLStudioError(f"the program has {self.num_angles} angles and none were given")
            angles = np.zeros((batch or 1, 0))
        angles = np.asarray(angles, dtype=float)
        if angles.ndim != 2 or angles.shape[1] != self.num_angles:
            raise QMLStudioError(f"angles must be (batch, {self.num_angles}), got {angles.shape}")
        rho = self.initial(angles.shape[0])
        for op in self.operations:
            rho = self._step(rho, op, angles)
        return rho

    def _step(self, rho: np.ndarray, op: NoisyOperation, angles: np.ndarray) -> np.ndarray:
        """``rho`` after ``op``, in place where the compiled loops apply."""
        if op.tensor is not None:
            return self.apply_matrix(rho, op.matrices["tensor"], op.qubits)
        rho = self.apply_rz(rho, op.qubits[0], angles[:, op.angle])
        return rho if op.after is None else self.apply_matrix(rho, op.matrices["after"], op.qubits)

    def _checked(self, angles: np.ndarray) -> np.ndarray:
        angles = np.asarray(angles, dtype=float)
        if angles.ndim != 2 or angles.shape[1] != self.num_angles:
            raise QMLStudioError(f"angles must be (batch, {self.num_angles}), got {angles.shape}")
        return angles

    def _stride(self, batch: int) -> int:
        """Operations between two checkpoints: 1 (every state kept, nothing recomputed) when
        they fit in :data:`CHECKPOINT_BYTES`, else about √(operations), so that memory grows
        with the square root of the circuit's length."""
        state = batch * (1 << (2 * self.num_qubits)) * 16
        if state * len(self.operations) <= CHECKPOINT_BYTES:
            return 1
        return max(1, int(np.ceil(np.sqrt(len(self.operations)))))

    def forward(self, angles: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """The final states and checkpoints for :meth:`backward` (the state before every
        :meth:`_stride`-th operation)."""
        angles = self._checked(angles)
        stride = self._stride(angles.shape[0])
        rho = self.initial(angles.shape[0])
        # the kept states in one allocation: large enough for the kernel's huge pages (numpy asks
        # for them from 4 MB), where one allocation per state page-faulted every 4 kB (half of
        # a 6-qubit step's time went to those copies)
        kept = np.empty((-(-len(self.operations) // stride),) + rho.shape, dtype=rho.dtype)
        for t, op in enumerate(self.operations):
            if t % stride == 0:
                kept[t // stride] = rho
            rho = self._step(rho, op, angles)
        return rho, list(kept)

    def backward(self, angles: np.ndarray, checkpoints: list[np.ndarray], adjoint: np.ndarray) -> np.ndarray:
        """∂L/∂angles (batch, num_angles) for L = Σ_b Re Tr(adjoint_b† ρ_b): ``adjoint`` is
        ∂L/∂ρ of the final states (Hermitian). Reverse mode through the channels: the cotangent
        moves back through each channel's adjoint (``T†[k, l, i, j] = conj T[i, j, k, l]``); an
        RZ's angle gets 2·Im Σ conj(λ₀₁)·ρ₀₁ over its qubit's (0, 1) block, with λ and ρ taken
        just after the rotation. The states inside each stretch between checkpoints are
        recomputed from its checkpoint."""
        angles = self._checked(angles)
        batch = angles.shape[0]
        grad = np.zeros((batch, self.num_angles))
        lam = np.array(adjoint, dtype=complex, copy=True)
        stride = self._stride(batch)
        ops = self.operations
        for c in range(len(checkpoints) - 1, -1, -1):
            start, stop = c * stride, min(len(ops), (c + 1) * stride)
            if stride == 1:  # every state kept: nothing to recompute, and only RZs read one
                states = None
            else:
                states = [checkpoints[c].copy()]  # the steps below work in place: pullback may be called again
                for t in range(start, stop - 1):
                    states.append(self._step(states[-1].copy(), ops[t], angles))
            for t in range(stop - 1, start - 1, -1):
                op = ops[t]
                if op.tensor is not None:
                    lam = self.apply_matrix(lam, op.adjoints["tensor"], op.qubits)
                    continue
                if op.after is not None:
                    lam = self.apply_matrix(lam, op.adjoints["after"], op.qubits)
                if states is None and op.after is None and t + 1 < len(checkpoints):
                    after = checkpoints[t + 1]  # the state after this RZ, kept by forward: read only
                else:
                    before = checkpoints[t].copy() if states is None else states[t - start]  # the last use
                    after = self.apply_rz(before, op.qubits[0], angles[:, op.angle])
                column = np.zeros(batch)
                _loops.rz_derivative(lam, after, op.qubits[0], column)
                grad[:, op.angle] += column
                lam = self.apply_rz(lam, op.qubits[0], -angles[:, op.angle])
        return grad

    def measure_adjoint(self, upstream: np.ndarray, measured: Sequence[int] | None = None) -> np.ndarray:
        """∂L/∂ρ (diagonal) for ∂L/∂p of :meth:`measure`'s probabilities: through the readout
        matrices' transposes, then spread over the unmeasured qubits."""
        n = self.num_qubits
        batch = upstream.shape[0]
        measured = list(range(n)) if measured is None else list(measured)
        m = len(measured)
        g = np.asarray(upstream, dtype=float).reshape((batch,) + (2,) * m)
        for position, qubit in enumerate(reversed(measured)):
            matrix = self.readout.get(qubit)
            if matrix is None:
                continue
            g = np.moveaxis(np.tensordot(g, np.asarray(matrix, dtype=float), axes=([1 + position], [1])), -1, 1 + position)
        # axis 1 + position holds qubit reversed(measured)[position]; expand to every qubit's axis
        keep = [1 + (n - 1 - q) for q in reversed(measured)]
        full = np.zeros((batch,) + (2,) * n)
        order = sorted(keep)
        g = np.moveaxis(g, list(range(1, m + 1)), [1 + order.index(a) for a in keep])
        shape = [batch] + [2 if a in keep else 1 for a in range(1, n + 1)]
        full += g.reshape(shape)
        diag = full.reshape(batch, -1)
        out = np.zeros((batch, 1 << n, 1 << n), dtype=complex)
        idx = np.arange(1 << n)
        out[:, idx, idx] = diag
        return out

    def fused(self, constants: dict[int, float] | None = None) -> "NoisyProgram":
        """The same program with fewer, larger steps: RZs whose angle is the same for every
        sample (``constants``: angle column → value) become fixed channels, and each fixed
        channel is merged into the nearest earlier fixed one it overlaps, past operations on
        other qubits (which commute with it), when both fit on two qubits. The results are the
        same up to rounding."""
        constants = constants or {}
        out: list[NoisyOperation] = []
        for op in self.operations:
            if op.angle is not None and op.angle in constants:
                theta = constants[op.angle]
                rz = unitary_tensor(np.diag([np.exp(-0.5j * theta), np.exp(0.5j * theta)]))
                op = NoisyOperation(op.qubits, tensor=rz if op.after is None else channel_tensor(op.after, rz),
                                    label=op.label)
            if op.tensor is None:
                out.append(op)
                continue
            for position in range(len(out) - 1, -1, -1):
                earlier = out[position]
                if not set(earlier.qubits) & set(op.qubits):
                    continue
                union = tuple(dict.fromkeys(earlier.qubits + op.qubits))
                if earlier.tensor is not None and len(union) <= 2:
                    first = self._embedded(earlier.matrices["tensor"], earlier.qubits, union)
                    second = self._embedded(op.matrices["tensor"], op.qubits, union)
                    d = 1 << len(union)
                    out[position] = NoisyOperation(union, tensor=(second @ first).reshape(d, d, d, d),
                                                   label=f"{earlier.label}+{op.label}")
                    break
                out.append(op)
                break
            else:
                out.append(op)
        return NoisyProgram(self.num_qubits, out, dict(self.readout), self.num_angles)

    @staticmethod
    def _embedded(matrix: np.ndarray, qubits: tuple[int, ...], target: tuple[int, ...]) -> np.ndarray:
        """``matrix`` (a channel on ``qubits``) as a channel on ``target`` (which holds them)."""
        if qubits == target:
            return matrix
        local = NoisyProgram(len(target))
        d = 1 << len(target)
        columns = np.zeros((d * d, d * d), dtype=complex)
        for k in range(d):
            for l in range(d):
                rho = np.zeros((1, d, d), dtype=complex)
                rho[0, k, l] = 1.0
                rho = local.apply_matrix(rho, matrix, tuple(target.index(q) for q in qubits))
                columns[:, k * d + l] = rho.reshape(-1)
        return columns

    def probabilities(self, angles: np.ndarray | None = None, measured: Sequence[int] | None = None,
                      batch: int | None = None) -> np.ndarray:
        """Probabilities of the measured qubits' bitstrings (``measured[0]`` the least
        significant bit), after the readout errors: (batch, 2^m)."""
        rho = self.states(angles, batch)
        return self.measure(rho, measured)

    def measure(self, rho: np.ndarray, measured: Sequence[int] | None = None) -> np.ndarray:
        n = self.num_qubits
        batch = rho.shape[0]
        measured = list(range(n)) if measured is None else list(measured)
        diag = np.real(np.einsum("bii->bi", rho)).reshape((batch,) + (2,) * n)
        # keep the measured qubits' axes, in the order measured[m-1] ... measured[0]
        keep = [1 + (n - 1 - q) for q in reversed(measured)]
        drop = tuple(a for a in range(1, n + 1) if a not in keep)
        p = diag.sum(axis=drop) if drop else diag
        # sum() keeps the remaining axes in increasing order; put them as 'keep' says
        remaining = sorted(keep)
        p = np.moveaxis(p, [1 + remaining.index(a) for a in keep], list(range(1, len(keep) + 1)))
        for position, qubit in enumerate(reversed(measured)):  # axis 1 + position holds qubit
            matrix = self.readout.get(qubit)
            if matrix is None:
                continue
            p = np.moveaxis(np.tensordot(p, np.asarray(matrix, dtype=float), axes=([1 + position], [0])), -1, 1 + position)
        return np.clip(p.reshape(batch, -1), 0.0, None)
