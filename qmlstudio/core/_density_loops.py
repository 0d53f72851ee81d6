"""Compiled loops of the exact noisy simulator (:mod:`qmlstudio.core.density`).

Density matrices are ``(batch, 2^n, 2^n)`` complex arrays, C-ordered, qiskit's basis order. A
``k``-qubit channel (k = 1 or 2) is its tensor ``T[i, j, k, l]`` flattened to ``(4^k, 4^k)``:
row ``i·2^k + j`` (the output element ρ'[i, j] over the channel's local indices), column
``k·2^k + l``. Local index bit ``t`` is the channel's ``t``-th qubit. Each loop updates ρ in
place, a block of 4^k elements at a time, so no array is copied per operation.

Compiled with ``cache=True`` and ``nogil`` (the machine code is kept beside this file;
``make install`` compiles it once through :func:`warm_up`).
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["apply1", "apply2", "apply_rz", "rz_derivative", "warm_up"]

# Reassociation and fused multiply-adds, but no assumption that values are finite (as in _loops)
_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "boundscheck": False,
        "fastmath": {"contract", "reassoc", "nsz", "arcp"}}


@numba.njit(**_JIT)
def apply1(rho: np.ndarray, matrix: np.ndarray, qubit: int) -> None:  # pragma: no cover - compiled
    """ρ ← the one-qubit channel ``matrix`` (4×4) on ``qubit``, for every sample."""
    batch, dim = rho.shape[0], rho.shape[1]
    bit = 1 << qubit
    v = np.empty(4, dtype=np.complex128)
    for b in range(batch):
        for i0 in range(dim):
            if i0 & bit:
                continue
            i1 = i0 | bit
            for j0 in range(dim):
                if j0 & bit:
                    continue
                j1 = j0 | bit
                v[0] = rho[b, i0, j0]
                v[1] = rho[b, i0, j1]
                v[2] = rho[b, i1, j0]
                v[3] = rho[b, i1, j1]
                for o in range(4):
                    acc = matrix[o, 0] * v[0] + matrix[o, 1] * v[1] + matrix[o, 2] * v[2] + matrix[o, 3] * v[3]
                    if o == 0:
                        rho[b, i0, j0] = acc
                    elif o == 1:
                        rho[b, i0, j1] = acc
                    elif o == 2:
                        rho[b, i1, j0] = acc
                    else:
                        rho[b, i1, j1] = acc


@numba.njit(**_JIT)
def apply2(rho: np.ndarray, matrix: np.ndarray, q0: int, q1: int) -> None:  # pragma: no cover - compiled
    """ρ ← the two-qubit channel ``matrix`` (16×16) on ``(q0, q1)`` (local bit 0 is q0)."""
    batch, dim = rho.shape[0], rho.shape[1]
    b0, b1 = 1 << q0, 1 << q1
    both = b0 | b1
    offsets = np.array([0, b0, b1, b0 | b1])
    # the matrix split into real and imaginary parts, transposed: column m of the product is
    # one contiguous row, and the 16 outputs accumulate independently (no dependency chain)
    mr = np.ascontiguousarray(matrix.real.T)
    mi = np.ascontiguousarray(matrix.imag.T)
    vr = np.empty(16)
    vi = np.empty(16)
    wr = np.empty(16)
    wi = np.empty(16)
    for b in range(batch):
        for i in range(dim):
            if i & both:
                continue
            for j in range(dim):
                if j & both:
                    continue
                for r in range(4):
                    for c in range(4):
                        z = rho[b, i | offsets[r], j | offsets[c]]
                        vr[r * 4 + c] = z.real
                        vi[r * 4 + c] = z.imag
                wr[:] = 0.0
                wi[:] = 0.0
                for m in range(16):
                    xr, xi = vr[m], vi[m]
                    for o in range(16):
                        wr[o] += mr[m, o] * xr - mi[m, o] * xi
                        wi[o] += mr[m, o] * xi + mi[m, o] * xr
                for r in range(4):
                    for c in range(4):
                        rho[b, i | offsets[r], j | offsets[c]] = complex(wr[r * 4 + c], wi[r * 4 + c])


@numba.njit(**_JIT)
def apply_rz(rho: np.ndarray, qubit: int, phases: np.ndarray) -> None:  # pragma: no cover - compiled
    """ρ ← RZ on ``qubit`` with ``phases[b] = e^{-iθ_b}``: ×phase where the row's bit is 0 and
    the column's 1, ×conj(phase) where the row's is 1 and the column's 0."""
    batch, dim = rho.shape[0], rho.shape[1]
    bit = 1 << qubit
    for b in range(batch):
        p = phases[b]
        pc = np.conj(p)
        for i in range(dim):
            row_one = (i & bit) != 0
            for j in range(dim):
                col_one = (j & bit) != 0
                if row_one and not col_one:
                    rho[b, i, j] *= pc
                elif col_one and not row_one:
                    rho[b, i, j] *= p


@numba.njit(**_JIT)
def rz_derivative(lam: np.ndarray, rho: np.ndarray, qubit: int, out: np.ndarray) -> None:  # pragma: no cover - compiled
    """``out[b] += 2·Im Σ conj(λ[i, j])·ρ[i, j]`` over rows with ``qubit``'s bit 0 and columns with it 1."""
    batch, dim = rho.shape[0], rho.shape[1]
    bit = 1 << qubit
    for b in range(batch):
        acc = 0j
        for i in range(dim):
            if i & bit:
                continue
            for j in range(dim):
                if j & bit:
                    acc += np.conj(lam[b, i, j]) * rho[b, i, j]
        out[b] += 2.0 * acc.imag


def warm_up() -> None:
    """Compiles the loops for the types the simulator passes (or loads them from the cache)."""
    rho = np.zeros((1, 4, 4), dtype=np.complex128)
    apply1(rho, np.eye(4, dtype=np.complex128), 0)
    apply2(rho, np.eye(16, dtype=np.complex128), 0, 1)
    apply_rz(rho, 1, np.ones(1, dtype=np.complex128))
    rz_derivative(rho, rho, 0, np.zeros(1))


if __name__ == "__main__":
    warm_up()
