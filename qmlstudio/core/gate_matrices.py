"""Gate matrices and generators in the simulator's conventions, and measurement diagonals.

A gate's matrix is written in its own basis: index m = Σ_t bit(qubits[t]) << t, so the first
listed qubit (the control, for controlled gates) is the least significant, as in qiskit.
Matrices of gates with angles are built for scalar angles (shape (d, d)) or for one angle per
sample (shape (batch, d, d)). Split from :mod:`qmlstudio.core.statevector`, which re-exports
the public names.
"""

from __future__ import annotations

import cmath
import math
from typing import Any, Sequence

import numpy as np

from qmlstudio.core.circuit import GATES

__all__ = ["gate_generators", "gate_matrix", "probabilities_diagonal", "z_diagonal"]


_X = np.array([[0, 1], [1, 0]], dtype=complex)


_Y = np.array([[0, -1j], [1j, 0]], dtype=complex)


_Z = np.array([[1, 0], [0, -1]], dtype=complex)


_SQ = 1 / np.sqrt(2)


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
