"""Compiled inner loops of the exact simulator (:mod:`qmlstudio.core.statevector`).

States are stored *split* and *flat*: the real and the imaginary parts as two float
arrays of ``2**n × columns`` numbers, row-major (one column per sample, qiskit's basis
order along the rows), so that the loops compile to SIMD instructions (complex arithmetic
does not).

A gate is described by

* ``targets``: its qubits in ascending order;
* ``offsets[m]``: the basis index of the gate's own basis state ``m`` (bit ``t`` of ``m``
  is the gate's ``t``-th qubit, as in qiskit), so the amplitudes it mixes are rows
  ``base | offsets[m]`` for every ``base`` with zeros on the targets;
* ``blocks``: rows ``(m0, m1)`` of the 2×2 blocks it is made of (phases are paired up
  as diagonal blocks); basis states in no block are left alone;
* coefficients ``(a, b, c, d)`` of each block, ``[v0, v1] ← [[a, b], [c, d]] [v0, v1]``,
  split into real and imaginary parts: ``(blocks, 4)`` for one matrix for every column
  or ``(blocks, 4, columns)`` for one per column (:func:`apply_gate` and
  :func:`backward_gate` are compiled for each). One-qubit gates, the most common, have
  their own loops (``*1_uniform``, ``*1_columns``), given their single block, ``(4,)`` or
  ``(4, columns)``, and the qubit.

Rows that differ only in the bits below the lowest target are contiguous: the loops run
over such *runs* of ``2**targets[0] × columns`` numbers (for a one-qubit gate, over the
two halves of each block of ``2**(q+1)`` rows).

The adjoint pass (``backward*``) keeps ψ and λ side by side and first adds
``conj(λ_m) ψ_m2`` (rows ``base|offsets[m]`` and ``base|offsets[m2]``; for the pairs where
``need[m, m2]``, every pair for one-qubit gates) to ``acc[m, m2]``: one sum over
everything (``acc`` of ``(d, d)``) or one per column (``(d, d, columns)``: for gates whose
angles depend on the sample, and for per-sample gradients); then it applies the given
coefficients (the gate's inverse) to both, in the same pass.

Compiled with ``cache=True`` (the machine code is kept beside this file) and ``nogil``, so
threads (the GUI's, or :class:`~qmlstudio.core.statevector.StatevectorProgram`'s own)
simulate side by side.
"""

from __future__ import annotations

import numba
import numpy as np
from numba.extending import overload

__all__ = [
    "apply1_columns",
    "apply1_uniform",
    "apply_gate",
    "backward1_columns",
    "backward1_uniform",
    "backward_gate",
    "diagonal_sum",
    "permute",
    "permute_phase",
    "product_state",
    "sums1_columns",
    "sums1_uniform",
    "swap_gate",
    "swap_pairs",
    "warm_up",
    "weighted_norms",
]

# Reassociation and fused multiply-adds, but no assumption that values are finite: a NaN
# must come out as a NaN, for the training loop to see it.
_FAST = {"contract", "reassoc", "nsz", "arcp"}
_JIT = {"cache": True, "nogil": True, "fastmath": _FAST, "error_model": "numpy", "boundscheck": False}
_INLINE = dict(_JIT, inline="always")


# ------------------------------------------------------------------------ helpers
@numba.njit(**_INLINE)
def _run_row(r, t0, targets):  # type: ignore[no-untyped-def]
    """The ``r``-th run: its first basis index (zero on every target) divided by ``2**t0``."""
    r = r << t0
    for t in range(targets.shape[0]):
        q = targets[t]
        r = ((r >> q) << (q + 1)) | (r & ((1 << q) - 1))
    return r >> t0


@numba.njit(**_INLINE)
def _mix(r0, m0, r1, m1, ar, ai, br, bi, cr, ci, dr, di):  # type: ignore[no-untyped-def]
    for c in range(r0.shape[0]):
        x0, y0, x1, y1 = r0[c], m0[c], r1[c], m1[c]
        r0[c] = ar * x0 - ai * y0 + br * x1 - bi * y1
        m0[c] = ar * y0 + ai * x0 + br * y1 + bi * x1
        r1[c] = cr * x0 - ci * y0 + dr * x1 - di * y1
        m1[c] = cr * y0 + ci * x0 + dr * y1 + di * x1


@numba.njit(**_INLINE)
def _mix_columns(r0, m0, r1, m1, cre, cim, j, cols):  # type: ignore[no-untyped-def]
    ar, ai, br, bi = cre[j, 0], cim[j, 0], cre[j, 1], cim[j, 1]
    cr, ci, dr, di = cre[j, 2], cim[j, 2], cre[j, 3], cim[j, 3]
    for s in range(0, r0.shape[0], cols):
        for c in range(cols):
            x0, y0, x1, y1 = r0[s + c], m0[s + c], r1[s + c], m1[s + c]
            r0[s + c] = ar[c] * x0 - ai[c] * y0 + br[c] * x1 - bi[c] * y1
            m0[s + c] = ar[c] * y0 + ai[c] * x0 + br[c] * y1 + bi[c] * x1
            r1[s + c] = cr[c] * x0 - ci[c] * y0 + dr[c] * x1 - di[c] * y1
            m1[s + c] = cr[c] * y0 + ci[c] * x0 + dr[c] * y1 + di[c] * x1


@numba.njit(**_INLINE)
def _apply_run_uniform(R, I, row, t0, offsets, blocks, cre, cim, cols):  # type: ignore[no-untyped-def]
    for j in range(blocks.shape[0]):
        a = row | (offsets[blocks[j, 0]] >> t0)
        b = row | (offsets[blocks[j, 1]] >> t0)
        _mix(R[a], I[a], R[b], I[b], cre[j, 0], cim[j, 0], cre[j, 1], cim[j, 1], cre[j, 2], cim[j, 2], cre[j, 3], cim[j, 3])


@numba.njit(**_INLINE)
def _apply_run_columns(R, I, row, t0, offsets, blocks, cre, cim, cols):  # type: ignore[no-untyped-def]
    for j in range(blocks.shape[0]):
        a = row | (offsets[blocks[j, 0]] >> t0)
        b = row | (offsets[blocks[j, 1]] >> t0)
        _mix_columns(R[a], I[a], R[b], I[b], cre, cim, j, cols)


@numba.njit(**_INLINE)
def _sum_total(ur, ui, vr, vi, acc_re, acc_im, m, m2, cols):  # type: ignore[no-untyped-def]
    sr = 0.0
    si = 0.0
    for c in range(ur.shape[0]):
        sr += ur[c] * vr[c] + ui[c] * vi[c]
        si += ur[c] * vi[c] - ui[c] * vr[c]
    acc_re[m, m2] += sr
    acc_im[m, m2] += si


@numba.njit(**_INLINE)
def _sum_columns(ur, ui, vr, vi, acc_re, acc_im, m, m2, cols):  # type: ignore[no-untyped-def]
    sr, si = acc_re[m, m2], acc_im[m, m2]
    for s in range(0, ur.shape[0], cols):
        for c in range(cols):
            sr[c] += ur[s + c] * vr[s + c] + ui[s + c] * vi[s + c]
            si[c] += ur[s + c] * vi[s + c] - ui[s + c] * vr[s + c]


def _sum(ur, ui, vr, vi, acc_re, acc_im, m, m2, cols):  # type: ignore[no-untyped-def]  # pragma: no cover
    """Adds ``Σ conj(u) v`` over a run to ``acc[m, m2]``: :func:`_sum_total` or, for
    accumulators with a column axis, :func:`_sum_columns` (picked at compile time)."""
    raise NotImplementedError("compiled only")


@overload(_sum, inline="always")
def _sum_overload(ur, ui, vr, vi, acc_re, acc_im, m, m2, cols):  # type: ignore[no-untyped-def]
    return (_sum_total if acc_re.ndim == 2 else _sum_columns).py_func


@numba.njit(**_INLINE)
def _reduce(PR, PI, LR, LI, row, t0, offsets, need, acc_re, acc_im, cols):  # type: ignore[no-untyped-def]
    d = offsets.shape[0]
    for m in range(d):
        a = row | (offsets[m] >> t0)
        for m2 in range(d):
            if need[m, m2]:
                b = row | (offsets[m2] >> t0)
                _sum(LR[a], LI[a], PR[b], PI[b], acc_re, acc_im, m, m2, cols)


# ------------------------------------------------------- one-qubit gates (most of them)
@numba.njit(**_JIT)
def apply1_uniform(re, im, cols, q, cre, cim):  # type: ignore[no-untyped-def]
    """Applies a one-qubit gate on qubit ``q``, coefficients ``(4,)``, in place."""
    half = (1 << q) * cols
    R = re.reshape(-1, 2 * half)
    I = im.reshape(-1, 2 * half)
    ar, ai, br, bi, cr, ci, dr, di = cre[0], cim[0], cre[1], cim[1], cre[2], cim[2], cre[3], cim[3]
    for h in range(R.shape[0]):
        r, i = R[h], I[h]
        for c in range(half):
            x0, y0, x1, y1 = r[c], i[c], r[c + half], i[c + half]
            r[c] = ar * x0 - ai * y0 + br * x1 - bi * y1
            i[c] = ar * y0 + ai * x0 + br * y1 + bi * x1
            r[c + half] = cr * x0 - ci * y0 + dr * x1 - di * y1
            i[c + half] = cr * y0 + ci * x0 + dr * y1 + di * x1


@numba.njit(**_JIT)
def backward1_uniform(pr, pi, lr, li, cols, q, cre, cim, acc_re, acc_im):  # type: ignore[no-untyped-def]
    """One adjoint step over a one-qubit gate with coefficients ``(4,)``: adds every
    ``Σ conj(λ_m) ψ_m2`` to ``acc (2, 2)``, then applies the coefficients to ψ and λ."""
    half = (1 << q) * cols
    if half < 64:  # short runs: the fused loop below does not vectorise there (3x slower)
        sums1_uniform(pr, pi, lr, li, cols, q, acc_re, acc_im)
        apply1_uniform(pr, pi, cols, q, cre, cim)
        apply1_uniform(lr, li, cols, q, cre, cim)
        return
    PR, PI = pr.reshape(-1, 2 * half), pi.reshape(-1, 2 * half)
    LR, LI = lr.reshape(-1, 2 * half), li.reshape(-1, 2 * half)
    ar, ai, br, bi, cr, ci, dr, di = cre[0], cim[0], cre[1], cim[1], cre[2], cim[2], cre[3], cim[3]
    s00r = s00i = s01r = s01i = s10r = s10i = s11r = s11i = 0.0
    for h in range(PR.shape[0]):
        p_r, p_i, l_r, l_i = PR[h], PI[h], LR[h], LI[h]
        for c in range(half):
            x0, y0, x1, y1 = p_r[c], p_i[c], p_r[c + half], p_i[c + half]
            u0, v0, u1, v1 = l_r[c], l_i[c], l_r[c + half], l_i[c + half]
            s00r += u0 * x0 + v0 * y0
            s00i += u0 * y0 - v0 * x0
            s01r += u0 * x1 + v0 * y1
            s01i += u0 * y1 - v0 * x1
            s10r += u1 * x0 + v1 * y0
            s10i += u1 * y0 - v1 * x0
            s11r += u1 * x1 + v1 * y1
            s11i += u1 * y1 - v1 * x1
            p_r[c] = ar * x0 - ai * y0 + br * x1 - bi * y1
            p_i[c] = ar * y0 + ai * x0 + br * y1 + bi * x1
            p_r[c + half] = cr * x0 - ci * y0 + dr * x1 - di * y1
            p_i[c + half] = cr * y0 + ci * x0 + dr * y1 + di * x1
            l_r[c] = ar * u0 - ai * v0 + br * u1 - bi * v1
            l_i[c] = ar * v0 + ai * u0 + br * v1 + bi * u1
            l_r[c + half] = cr * u0 - ci * v0 + dr * u1 - di * v1
            l_i[c + half] = cr * v0 + ci * u0 + dr * v1 + di * u1
    acc_re[0, 0] += s00r
    acc_im[0, 0] += s00i
    acc_re[0, 1] += s01r
    acc_im[0, 1] += s01i
    acc_re[1, 0] += s10r
    acc_im[1, 0] += s10i
    acc_re[1, 1] += s11r
    acc_im[1, 1] += s11i


@numba.njit(**_JIT)
def sums1_uniform(pr, pi, lr, li, cols, q, acc_re, acc_im):  # type: ignore[no-untyped-def]
    """Adds every ``Σ conj(λ_m) ψ_m2`` of qubit ``q`` to ``acc (2, 2)``, states unchanged
    (the gates folded into the product state need the sums, not the uncomputing). One
    loop whatever the length of the runs: on short ones (low qubits, few columns) it still
    beats running sums per position of a run (2.5-3.5x at 4 columns, qubits 1-3, measured
    on this machine's AMD EPYC)."""
    half = (1 << q) * cols
    PR, PI = pr.reshape(-1, 2 * half), pi.reshape(-1, 2 * half)
    LR, LI = lr.reshape(-1, 2 * half), li.reshape(-1, 2 * half)
    s00r = s00i = s01r = s01i = s10r = s10i = s11r = s11i = 0.0
    for h in range(PR.shape[0]):
        p_r, p_i, l_r, l_i = PR[h], PI[h], LR[h], LI[h]
        for c in range(half):
            x0, y0, x1, y1 = p_r[c], p_i[c], p_r[c + half], p_i[c + half]
            u0, v0, u1, v1 = l_r[c], l_i[c], l_r[c + half], l_i[c + half]
            s00r += u0 * x0 + v0 * y0
            s00i += u0 * y0 - v0 * x0
            s01r += u0 * x1 + v0 * y1
            s01i += u0 * y1 - v0 * x1
            s10r += u1 * x0 + v1 * y0
            s10i += u1 * y0 - v1 * x0
            s11r += u1 * x1 + v1 * y1
            s11i += u1 * y1 - v1 * x1
    acc_re[0, 0] += s00r
    acc_im[0, 0] += s00i
    acc_re[0, 1] += s01r
    acc_im[0, 1] += s01i
    acc_re[1, 0] += s10r
    acc_im[1, 0] += s10i
    acc_re[1, 1] += s11r
    acc_im[1, 1] += s11i


@numba.njit(**_JIT)
def sums1_columns(pr, pi, lr, li, cols, q, acc_re, acc_im):  # type: ignore[no-untyped-def]
    """As :func:`sums1_uniform`, one sum per column in ``acc (2, 2, cols)``."""
    half = (1 << q) * cols
    tile = _tile_width(half, cols)
    sums = np.zeros((8, tile))
    PR, PI = pr.reshape(-1, 2 * half), pi.reshape(-1, 2 * half)
    LR, LI = lr.reshape(-1, 2 * half), li.reshape(-1, 2 * half)
    for h in range(PR.shape[0]):
        for s in range(0, half, tile):
            pr0, pi0 = PR[h, s : s + tile], PI[h, s : s + tile]
            pr1, pi1 = PR[h, half + s : half + s + tile], PI[h, half + s : half + s + tile]
            lr0, li0 = LR[h, s : s + tile], LI[h, s : s + tile]
            lr1, li1 = LR[h, half + s : half + s + tile], LI[h, half + s : half + s + tile]
            for c in range(tile):
                x0, y0, x1, y1 = pr0[c], pi0[c], pr1[c], pi1[c]
                u0, v0, u1, v1 = lr0[c], li0[c], lr1[c], li1[c]
                sums[0, c] += u0 * x0 + v0 * y0
                sums[1, c] += u0 * y0 - v0 * x0
                sums[2, c] += u0 * x1 + v0 * y1
                sums[3, c] += u0 * y1 - v0 * x1
                sums[4, c] += u1 * x0 + v1 * y0
                sums[5, c] += u1 * y0 - v1 * x0
                sums[6, c] += u1 * x1 + v1 * y1
                sums[7, c] += u1 * y1 - v1 * x1
    for j in range(tile):
        c = j % cols
        for m in range(2):
            for m2 in range(2):
                acc_re[m, m2, c] += sums[4 * m + 2 * m2, j]
                acc_im[m, m2, c] += sums[4 * m + 2 * m2 + 1, j]


@numba.njit(**_INLINE)
def _tiled(cre, cim, cols, tile):  # type: ignore[no-untyped-def]
    """Per-column coefficients ``(4, cols)`` as one array ``(8, tile)``: real and imaginary
    parts of a, b, c, d, repeated along a tile of ``tile`` numbers (a multiple of
    ``cols``), so that the loops over a run need no modulo."""
    out = np.empty((8, tile))
    for k in range(4):
        for j in range(tile):
            out[2 * k, j] = cre[k, j % cols]
            out[2 * k + 1, j] = cim[k, j % cols]
    return out


@numba.njit(**_INLINE)
def _tile_width(half, cols):  # type: ignore[no-untyped-def]
    """The longest tile up to about 512 numbers that divides a run of ``half``."""
    tile = cols
    while tile * 2 <= 512 and half % (tile * 2) == 0:
        tile *= 2
    return tile


@numba.njit(**_JIT)
def apply1_columns(re, im, cols, q, cre, cim):  # type: ignore[no-untyped-def]
    """Applies a one-qubit gate on qubit ``q``, coefficients ``(4, cols)``, in place."""
    half = (1 << q) * cols
    tile = _tile_width(half, cols)
    t = _tiled(cre, cim, cols, tile)
    R = re.reshape(-1, 2 * half)
    I = im.reshape(-1, 2 * half)
    for h in range(R.shape[0]):
        for s in range(0, half, tile):
            r0, i0 = R[h, s : s + tile], I[h, s : s + tile]
            r1, i1 = R[h, half + s : half + s + tile], I[h, half + s : half + s + tile]
            for c in range(tile):
                x0, y0, x1, y1 = r0[c], i0[c], r1[c], i1[c]
                r0[c] = t[0, c] * x0 - t[1, c] * y0 + t[2, c] * x1 - t[3, c] * y1
                i0[c] = t[0, c] * y0 + t[1, c] * x0 + t[2, c] * y1 + t[3, c] * x1
                r1[c] = t[4, c] * x0 - t[5, c] * y0 + t[6, c] * x1 - t[7, c] * y1
                i1[c] = t[4, c] * y0 + t[5, c] * x0 + t[6, c] * y1 + t[7, c] * x1


@numba.njit(**_JIT)
def backward1_columns(pr, pi, lr, li, cols, q, cre, cim, acc_re, acc_im):  # type: ignore[no-untyped-def]
    """As :func:`backward1_uniform` with coefficients ``(4, cols)`` and one sum per column
    in ``acc (2, 2, cols)`` (two passes: sums then gate; fused, the sums' stores kept
    the loop from vectorising)."""
    sums1_columns(pr, pi, lr, li, cols, q, acc_re, acc_im)
    apply1_columns(pr, pi, cols, q, cre, cim)
    apply1_columns(lr, li, cols, q, cre, cim)


# --------------------------------------------------------- gates of any size
def _apply_run(R, I, row, t0, offsets, blocks, cre, cim, cols):  # type: ignore[no-untyped-def]  # pragma: no cover
    """One run of a gate: :func:`_apply_run_uniform` or :func:`_apply_run_columns`, picked
    at compile time by the coefficients' dimensions."""
    raise NotImplementedError("compiled only")


@overload(_apply_run, inline="always")
def _apply_run_overload(R, I, row, t0, offsets, blocks, cre, cim, cols):  # type: ignore[no-untyped-def]
    return (_apply_run_uniform if cre.ndim == 2 else _apply_run_columns).py_func


@numba.njit(**_JIT)
def apply_gate(re, im, cols, targets, offsets, blocks, cre, cim):  # type: ignore[no-untyped-def]
    """Applies a gate to the split state, in place: one matrix for every column
    (coefficients ``(blocks, 4)``) or one per column (``(blocks, 4, cols)``)."""
    t0 = targets[0]
    R = re.reshape(-1, (1 << t0) * cols)
    I = im.reshape(-1, (1 << t0) * cols)
    for r in range(R.shape[0] >> targets.shape[0]):
        _apply_run(R, I, _run_row(r, t0, targets), t0, offsets, blocks, cre, cim, cols)


@numba.njit(**_INLINE)
def _swap_pair(re, im, run, span, a, b):  # type: ignore[no-untyped-def]
    """Swaps the runs at ``base + a`` and ``base + b`` (flat offsets) for every ``base``
    with zeros on a two-qubit gate's qubits (``run``: 2**t0 × cols numbers, ``span``:
    2**t1 × cols): 20 % faster than :func:`_run_row`'s per-run indexing on a CX ladder,
    2x on CX(0, 1) at 4 columns."""
    for hi in range(0, re.shape[0], 2 * span):
        for base in range(hi, hi + span, 2 * run):
            _swap_runs(re[base + a : base + a + run], im[base + a : base + a + run],
                       re[base + b : base + b + run], im[base + b : base + b + run])


@numba.njit(**_INLINE)
def _swap_runs(ra, ia, rb, ib):  # type: ignore[no-untyped-def]
    """Exchanges two runs of a split state, number by number."""
    for j in range(ra.shape[0]):
        x = ra[j]
        ra[j] = rb[j]
        rb[j] = x
        y = ia[j]
        ia[j] = ib[j]
        ib[j] = y


@numba.njit(**_JIT)
def swap_gate(re, im, cols, targets, offsets, blocks):  # type: ignore[no-untyped-def]
    """A gate whose blocks each swap their two basis states (CX, SWAP, CCX), in place: the
    runs change places, no arithmetic. Its own inverse, so it also uncomputes."""
    t0 = targets[0]
    run = (1 << t0) * cols
    if targets.shape[0] == 2 and blocks.shape[0] == 1:  # CX, SWAP: nested loops, no index arithmetic per run
        _swap_pair(re, im, run, (1 << targets[1]) * cols, offsets[blocks[0, 0]] * cols, offsets[blocks[0, 1]] * cols)
        return
    R = re.reshape(-1, run)
    I = im.reshape(-1, run)
    for r in range(R.shape[0] >> targets.shape[0]):
        row = _run_row(r, t0, targets)
        for j in range(blocks.shape[0]):
            a = row | (offsets[blocks[j, 0]] >> t0)
            b = row | (offsets[blocks[j, 1]] >> t0)
            _swap_runs(R[a], I[a], R[b], I[b])


@numba.njit(**_JIT)
def swap_pairs(re, im, table):  # type: ignore[no-untyped-def]
    """CX and SWAP gates in a row (a CX ladder), one :func:`_swap_pair` per row of ``table``
    ``(run, span, a, b)`` in order, in one call: the thread takes the interpreter's lock
    back once, not once per gate (with two threads, each waited on the other's Python)."""
    for g in range(table.shape[0]):
        _swap_pair(re, im, table[g, 0], table[g, 1], table[g, 2], table[g, 3])


@numba.njit(**_JIT)
def backward_gate(pr, pi, lr, li, cols, targets, offsets, blocks, cre, cim, need, acc_re, acc_im):  # type: ignore[no-untyped-def]
    """One adjoint step over a gate: sums into ``acc`` — ``(d, d)`` totals or
    ``(d, d, cols)`` per column — then uncomputes it from ψ and λ. Coefficients as for
    :func:`apply_gate`."""
    t0 = targets[0]
    run = (1 << t0) * cols
    PR, PI, LR, LI = pr.reshape(-1, run), pi.reshape(-1, run), lr.reshape(-1, run), li.reshape(-1, run)
    reduce = need.any()
    for r in range(PR.shape[0] >> targets.shape[0]):
        row = _run_row(r, t0, targets)
        if reduce:
            _reduce(PR, PI, LR, LI, row, t0, offsets, need, acc_re, acc_im, cols)
        _apply_run(PR, PI, row, t0, offsets, blocks, cre, cim, cols)
        _apply_run(LR, LI, row, t0, offsets, blocks, cre, cim, cols)


@numba.njit(**_JIT)
def weighted_norms(re, im, cols, diagonal, out):  # type: ignore[no-untyped-def]
    """``out[c] += Σ_i diagonal[i] |state[i, c]|²``."""
    R = re.reshape(-1, cols)
    I = im.reshape(-1, cols)
    for i in range(diagonal.shape[0]):
        w = diagonal[i]
        if w == 0.0:
            continue
        r, m = R[i], I[i]
        for c in range(cols):
            out[c] += w * (r[c] * r[c] + m[c] * m[c])


@numba.njit(**_JIT)
def permute(re, im, cols, source, out_re, out_im):  # type: ignore[no-untyped-def]
    """``out[i] = state[source[i]]`` row by row (a row is the ``cols`` numbers of one basis
    state): a run of permutation gates (CX ladders) in one pass. Flat indices: a row view
    per basis state costs more than copying its few columns."""
    for i in range(source.shape[0]):
        s = source[i] * cols
        o = i * cols
        for c in range(cols):
            out_re[o + c] = re[s + c]
            out_im[o + c] = im[s + c]


@numba.njit(**_JIT)
def permute_phase(re, im, cols, source, ph_re, ph_im, out_re, out_im):  # type: ignore[no-untyped-def]
    """``out[i] = phase[i] · state[source[i]]``: as :func:`permute`, with a phase per basis
    state (CZ, S, Z… in the run)."""
    for i in range(source.shape[0]):
        s = source[i] * cols
        o = i * cols
        a, b = ph_re[i], ph_im[i]
        for c in range(cols):
            x, y = re[s + c], im[s + c]
            out_re[o + c] = a * x - b * y
            out_im[o + c] = a * y + b * x


@numba.njit(**_JIT)
def product_state(vre, vim, cols, out_re, out_im):  # type: ignore[no-untyped-def]
    """The product state of one-qubit states ``v[q] (2, cols)`` (qubit ``q`` is bit ``q`` of
    the basis index), split, into ``out`` (``2**n × cols``): qubit by qubit, the rows so far
    times ``v[q][1]`` become the upper half and times ``v[q][0]`` the lower one."""
    for c in range(cols):
        out_re[c] = 1.0
        out_im[c] = 0.0
    size = cols
    for q in range(vre.shape[0]):
        tile = _tile_width(size, cols)
        t = np.empty((4, tile))  # v[q]'s entries repeated along a tile: no modulo in the loop
        for j in range(tile):
            t[0, j], t[1, j] = vre[q, 0, j % cols], vim[q, 0, j % cols]
            t[2, j], t[3, j] = vre[q, 1, j % cols], vim[q, 1, j % cols]
        for o in range(0, size, tile):
            lo_re, lo_im = out_re[o : o + tile], out_im[o : o + tile]
            hi_re, hi_im = out_re[size + o : size + o + tile], out_im[size + o : size + o + tile]
            for c in range(tile):
                x, y = lo_re[c], lo_im[c]
                hi_re[c] = t[2, c] * x - t[3, c] * y
                hi_im[c] = t[2, c] * y + t[3, c] * x
                lo_re[c] = t[0, c] * x - t[1, c] * y
                lo_im[c] = t[0, c] * y + t[1, c] * x
        size *= 2


@numba.njit(**_JIT)
def diagonal_sum(obs, upstream, out):  # type: ignore[no-untyped-def]
    """``out[i, c] = Σ_k obs[k, i] · upstream[k, c]`` (``out`` flat, ``2**n × columns``):
    the adjoint pass's diagonal of M per column, without the interpreter's lock or BLAS.
    By blocks of 64 rows: computed column by column (long loops along the observables'
    rows), then written out row by row."""
    cols = upstream.shape[1]
    dim = obs.shape[1]
    tmp = np.empty((cols, 64))
    for i0 in range(0, dim, 64):
        m = min(64, dim - i0)
        for c in range(cols):
            t = tmp[c]
            for j in range(m):
                t[j] = 0.0
            for k in range(obs.shape[0]):
                u = upstream[k, c]
                ob = obs[k, i0 : i0 + m]
                for j in range(m):
                    t[j] += u * ob[j]
        for j in range(m):
            o = (i0 + j) * cols
            for c in range(cols):
                out[o + c] = tmp[c, j]


def warm_up() -> None:
    """Compiles every kernel for the argument types the simulator passes, or loads them
    from Numba's cache (``make install`` runs this once, so that the first training run
    does not wait for the compiler)."""
    cols = 2
    state = [np.zeros(4 * cols) for _ in range(4)]
    one, per_column = np.zeros((1, 4)), np.zeros((1, 4, cols))
    targets, offsets, blocks = np.array([0, 1], dtype=np.int64), np.array([0, 1, 2, 3], dtype=np.int64), np.array([[1, 3]], dtype=np.int64)
    need = np.zeros((4, 4), dtype=bool)
    apply1_uniform(state[0], state[1], cols, 0, one[0], one[0])
    apply1_columns(state[0], state[1], cols, 0, per_column[0], per_column[0])
    apply_gate(state[0], state[1], cols, targets, offsets, blocks, one, one)
    apply_gate(state[0], state[1], cols, targets, offsets, blocks, per_column, per_column)
    backward1_uniform(*state, cols, 0, one[0], one[0], np.zeros((2, 2)), np.zeros((2, 2)))
    backward1_columns(*state, cols, 0, per_column[0], per_column[0], np.zeros((2, 2, cols)), np.zeros((2, 2, cols)))
    backward_gate(*state, cols, targets, offsets, blocks, one, one, need, np.zeros((4, 4)), np.zeros((4, 4)))
    backward_gate(*state, cols, targets, offsets, blocks, per_column, per_column, need, np.zeros((4, 4, cols)), np.zeros((4, 4, cols)))
    backward_gate(*state, cols, targets, offsets, blocks, per_column, per_column, need, np.zeros((4, 4)), np.zeros((4, 4)))
    weighted_norms(state[0], state[1], cols, np.zeros(4), np.zeros(cols))
    swap_gate(state[0], state[1], cols, targets, offsets, blocks)
    swap_pairs(state[0], state[1], np.array([[cols, 2 * cols, cols, 3 * cols]], dtype=np.int64))
    sums1_uniform(*state, cols, 0, np.zeros((2, 2)), np.zeros((2, 2)))
    sums1_columns(*state, cols, 0, np.zeros((2, 2, cols)), np.zeros((2, 2, cols)))
    source = np.arange(4, dtype=np.int64)
    permute(state[0], state[1], cols, source, state[2], state[3])
    permute_phase(state[0], state[1], cols, source, np.ones(4), np.zeros(4), state[2], state[3])
    product_state(np.ones((2, 2, cols)), np.zeros((2, 2, cols)), cols, state[0], state[1])
    diagonal_sum(np.ones((2, 4)), np.ones((2, cols)), state[0])


if __name__ == "__main__":
    warm_up()
