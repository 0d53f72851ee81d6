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

This module holds the program (:class:`StatevectorProgram`: ordering, prefix cache, threads
and the batch's parts); the compiled operations it runs are in
:mod:`qmlstudio.core.statevector_ops` and the gate matrices in
:mod:`qmlstudio.core.gate_matrices` (public names re-exported here).
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import numpy as np

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.gate_matrices import (
    gate_generators,
    gate_matrix,
    probabilities_diagonal,
    z_diagonal,
)
from qmlstudio.core.statevector_ops import (
    _apply,
    _backward_step,
    _compile_gate,
    _diagonal_sum,
    _fuse,
    _Fused1,
    _loops,
    _Op,
    _Part,
    _Permutation,
    _pair_swap,
    _Pool,
    _split,
    _State,
    _Step,
    _SwapRun,
    _Tape,
)

__all__ = [
    "StatevectorProgram",
    "available_cores",
    "gate_generators",
    "gate_matrix",
    "probabilities_diagonal",
    "z_diagonal",
]


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
#: CX and SWAP gates in a row simulated in one compiled call (:class:`_SwapRun`); off only
#: to compare with one call per gate.
_SWAP_RUNS = True
#: What a gradient step costs in forward passes: the forward pass, and the adjoint pass
#: over ψ and λ with its sums (3.5 forward passes, measured at 12 and 16 qubits).
_STEP_COST = 4.5


def available_cores() -> int:
    """The cores this process may run on (its CPU affinity), the default number of threads."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not on every platform
        return max(1, os.cpu_count() or 1)


def _part_width(dim: int, sim_batch: int) -> int:
    """How many samples of ``dim`` amplitudes one part of a batch holds: as many as fit in the
    cache (whole multiples of 8 columns where possible, for the SIMD loops) and, for large
    states, at most :data:`_THREAD_PART_SIZE` amplitudes, so that threads have parts to share.
    The number of threads plays no part: results are the same whatever it is."""
    width = max(1, _PART_BYTES // (32 * dim))
    if width >= 16:
        width -= width % 8
    if dim * sim_batch >= _THREADS_MIN_SIZE:
        # at least 8 columns, or 4 from 16 qubits on, where 8 columns of ψ and λ alone fill
        # _PART_BYTES: two such parts in flight (two cores) overflowed the last-level cache and
        # each ran 30 % slower (16 qubits: 0.36 -> 0.33 s a step on 2 cores; 20 qubits the same
        # or faster; 13 and 14 qubits slower with 4, so they keep 8)
        least = 8 if 32 * 8 * dim < _PART_BYTES else 4
        width = min(width, max(least, _THREAD_PART_SIZE // dim))
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
    :meth:`state_bytes` gives the figure. The program keeps the latter between calls and
    reuses them part after part (fresh arrays of a few MiB page-fault on first write: a
    sixth of a 16-qubit step on one core, measured); drop the program to free them.
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
        self._swap_runs = _SWAP_RUNS
        #: the parts' states, reused from part to part and call to call (per thread in
        #: flight: ψ, λ, a spare, the final state and M's diagonal at most)
        self._pool = _Pool(limit=8 * self.threads)

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
        part = self._forward(w, wl, x, tape, slice(0, timed))  # compiled code loaded, caches warm
        self._pool.give(part.re, part.im)  # the timed pass reuses its arrays, as the parts of a step do
        start = time.perf_counter()
        part = self._forward(w, wl, x, tape, slice(0, timed))
        per_sample = (time.perf_counter() - start) / timed
        self._pool.give(part.re, part.im)

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
                      gates: list[tuple[Any, np.ndarray]]) -> _State:
        key = None
        if self.cache_bytes > 0 and self.entangling_prefix:  # a product state is as cheap to rebuild as to copy
            key = (x.shape, x.tobytes())
            with self._cache_lock:
                cached = self._cache.get(key)
                if cached is not None:
                    self._cache.move_to_end(key)
                    self.cache_hits += 1
                    state = _State(self._pool.take(cached[0].size), self._pool.take(cached[1].size), cols, self._pool)
                    np.copyto(state.re, cached[0])
                    np.copyto(state.im, cached[1])
                    return state
        split = _State(*self._product_state(cols, gates), cols, self._pool)
        for op in self.entangling_prefix:
            split.apply(op, *_split(op.coefficients(w, wl, x, xt)[0]))  # once per part: no tape
        if key is not None and 2 * split.re.nbytes <= self.cache_bytes:
            with self._cache_lock:
                self._cache[key] = (split.re.copy(), split.im.copy())
                while sum(2 * s[0].nbytes for s in self._cache.values()) > self.cache_bytes:
                    self._cache.popitem(last=False)
        return split

    def _product_state(self, batch: int, gates: list[tuple[Any, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
        """|0…0⟩ after ``gates``, the one-qubit gates of the prefix and then the body's gates
        folded in, with their coefficients for these columns: a product of one-qubit states,
        the k-th gate of every qubit applied at once, then built in one compiled pass, split."""
        qubit_states = np.zeros((self.num_qubits, 2, batch), dtype=complex)
        qubit_states[:, 0] = 1.0
        rounds: list[list[tuple[int, np.ndarray]]] = []  # the k-th gate on each qubit, for every qubit at once
        seen: dict[int, int] = {}
        for op, coefficients in gates:
            q = op.gate.qubits[0]
            k = seen[q] = seen.get(q, -1) + 1
            if k == len(rounds):
                rounds.append([])
            rounds[k].append((q, coefficients[0]))
        for gates_of_round in rounds:
            qubits = [q for q, _ in gates_of_round]
            m = np.stack([np.broadcast_to(c.reshape(4, -1), (4, batch)) for _, c in gates_of_round])  # (gates, 4, batch)
            v = qubit_states[qubits]
            qubit_states[qubits] = np.stack([m[:, 0] * v[:, 0] + m[:, 1] * v[:, 1], m[:, 2] * v[:, 0] + m[:, 3] * v[:, 1]], axis=1)
        re, im = self._pool.take(self.dim * batch), self._pool.take(self.dim * batch)
        _loops().product_state(np.ascontiguousarray(qubit_states.real), np.ascontiguousarray(qubit_states.imag), batch, re, im)
        return re, im

    def _schedule(self, cols: int) -> list[Any]:
        """The body's gates in order, for parts of ``cols`` columns: an index into the body,
        or ``(low, indices)`` for gates in a row whose qubits are all below ``low``, applied
        block by block (blocks of ``2**low`` rows that stay in the core's cache while every
        one of these gates acts on them; without blocks when the part fits in the cache), or
        a :class:`_SwapRun` for CX and SWAP gates in a row."""
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
        coalesced: list[Any] = []  # CX ladders: one call each
        swap = lambda item: self._swap_runs and isinstance(item, int) and _pair_swap(self.body[item])  # noqa: E731
        for swaps, run in itertools.groupby(schedule, key=swap):
            items = list(run)
            coalesced += [_SwapRun([self.body[i] for i in items], cols)] if swaps and len(items) > 1 else items
        schedule = coalesced
        self._schedules[cols] = schedule
        return schedule

    def _tape(self, w: np.ndarray, wl: list, x: np.ndarray, xt: np.ndarray) -> "_Tape":
        """Every body gate's coefficients and angles for the whole batch, computed once
        (and those of the gates folded into the product state, as ``tape.head``; the prefix's
        are made per part, for its columns only: the tape's memory grows with the batch)."""
        tape = _Tape(_Step(*op.coefficients(w, wl, x, xt)) for op in self.body)
        tape.head = [_Step(*op.coefficients(w, wl, x, xt), split=False) for op in self.head]
        return tape

    def _forward(self, w: np.ndarray, wl: list, x: np.ndarray, tape: list[_Step], columns: slice) -> _Part:
        xp = x[columns]
        xt = np.ascontiguousarray(xp.T)
        cols = len(xp)
        gates = [(op, op.coefficients(w, wl, xp, xt)[0]) for op in self.product_prefix]
        gates += [(op, step.coefficient_columns(columns)) for op, step in zip(self.head, tape.head)]
        state = self._prefix_state(w, wl, xp, xt, cols, gates)
        for item in self._schedule(cols):
            if isinstance(item, int):
                state.apply(self.body[item], *tape[item].columns(columns))
                continue
            if isinstance(item, _SwapRun):
                item.apply(state.re, state.im)
                continue
            low, group = item
            gates = [(self.body[i], *tape[i].columns(columns)) for i in group]
            size = (1 << low) * cols
            for start in range(0, len(state.re), size):
                re, im = state.re[start : start + size], state.im[start : start + size]
                for op, cre, cim in gates:
                    _apply(re, im, cols, op, cre, cim)
        self._pool.give(*(state._spare or ()))
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
        pool = self._pool
        lam = _State(np.multiply(part.re, m_flat, out=pool.take(part.re.size)), np.multiply(part.im, m_flat, out=pool.take(part.im.size)),
                     cols, pool)
        if consume:
            psi = _State(part.re, part.im, cols, pool)
        else:
            psi = _State(pool.take(part.re.size), pool.take(part.im.size), cols, pool)
            np.copyto(psi.re, part.re)
            np.copyto(psi.im, part.im)
        for item in reversed(self._schedule(cols)):
            if isinstance(item, _SwapRun):  # no weights: uncomputed only
                item.apply(psi.re, psi.im, inverse=True)
                item.apply(lam.re, lam.im, inverse=True)
                continue
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
            columns = step.per_column(op, part.columns, per_sample)
            cre, cim = step.inverse(part.columns, cols if columns and not step.per_sample else 0)
            d = len(op.offsets)
            shape = (d, d, cols) if columns else (d, d)
            acc = (np.zeros(shape), np.zeros(shape))
            _backward_step((psi.re, psi.im, lam.re, lam.im), cols, op, cre, cim, acc)
            if op.has_weights:
                self._add_gradient(op, step, acc[0] + 1j * acc[1], grad, part, w, wl)
        self._head_gradient(psi, lam, tape, part, grad, w, wl, per_sample)
        pool.give(*psi.arrays(), *lam.arrays())  # the part's own when consumed
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
            columns = step.per_column(op, part.columns, per_sample)
            shape = (2, 2, cols) if columns else (2, 2)
            acc = (np.zeros(shape), np.zeros(shape))
            (k.sums1_columns if columns else k.sums1_uniform)(psi.re, psi.im, lam.re, lam.im, cols, op.qubit, *acc)
            self._add_gradient(op, step, acc[0] + 1j * acc[1], grad, part, w, wl)

    def _backward_block(self, item: tuple[int, tuple[int, ...]], psi: _State, lam: _State, tape: list[_Step], part: _Part,
                        grad: np.ndarray, w: np.ndarray, wl: list, per_sample: bool) -> None:
        """The adjoint steps of a group of :meth:`_schedule`, block by block: each gate's sums
        add up over the blocks, then give its gradient."""
        low, group = item
        cols = part.width
        gates = []
        for i in group:
            op, step = self.body[i], tape[i]
            columns = step.per_column(op, part.columns, per_sample)
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
                self._add_gradient(op, step, acc[0] + 1j * acc[1], grad, part, w, wl)

    @staticmethod
    def _add_gradient(op: Any, step: Any, sums: np.ndarray, grad: np.ndarray, part: _Part, w: np.ndarray, wl: list) -> None:
        """``∂L/∂θ_i += Σ_p 2 Re Σ_{m,m2} E_p[m, m2] sums[m, m2] · ∂a_p/∂θ_i`` (per column
        when ``sums`` is)."""
        if sums.ndim == 2 and grad.ndim == 1 and not op.per_sample_derivatives:
            rule = step.gradient_rule(op, part.columns, w, wl, part.x, part.xt)
            if rule is not None:  # a few C calls for all its angles: the lock held a third as long
                matrix, which, weights, factors = rule
                np.add.at(grad, weights, (2.0 * (matrix @ sums.ravel()).real)[which] * factors)
                return
        generators = step.generators(op, part.columns)
        for generator, derivatives in zip(generators, op.derivatives):
            if not derivatives:
                continue
            if sums.ndim == 2:  # one C call: np.sum's wrapper held the interpreter's lock longer than the sum
                dangle: Any = 2.0 * generator.ravel().dot(sums.ravel()).real
            elif generator.ndim == 2:
                dangle = 2.0 * np.real(np.einsum("mn,mnc->c", generator, sums))
            else:
                dangle = 2.0 * np.real(np.einsum("cmn,mnc->c", generator, sums))
            for weight, dfn in derivatives:
                term = dangle * dfn(w, wl, part.x, part.xt)
                if grad.ndim == 2:
                    grad[:, weight] += term
                else:
                    grad[weight] += term if np.ndim(term) == 0 else term.sum()

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
            values = self._part_values(part, obs)
            if not keep:
                self._pool.give(part.re, part.im)
            return (part if keep else None), values

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

    def value_and_pullback(self, weights: Any, inputs: Any, observables: Any,
                           per_sample: bool = False) -> tuple[np.ndarray, Callable[[Any], np.ndarray]]:
        """Values ⟨O_k⟩_b ``(batch, k)`` and a *pullback*: the function that maps an
        ``upstream`` array ``(batch, k)`` (∂loss/∂values) to the gradient
        ``Σ_b Σ_k upstream[b, k] ∂⟨O_k⟩_b/∂θ`` ``(num_weights,)``; with ``per_sample``, to
        each sample's ``Σ_k upstream[b, k] ∂⟨O_k⟩_b/∂θ``, ``(batch, num_weights)``, from the
        same single adjoint pass (the sums are kept per column).

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
            if sim_batch != batch and not per_sample:  # every sample has the same state: one pass with Σ_b M_b
                up = up.sum(axis=0, keepdims=True)

            def backward(index: int) -> np.ndarray:
                part = parts[index]
                again = part is None
                if part is None:  # not kept: simulated again
                    part = self._forward(w, wl, x, tape, slices[index])
                if per_sample and sim_batch != batch:  # one state for all: each sample's M on it
                    upp = up.T
                    m_diag = upp if obs is None else _diagonal_sum(obs, upp)
                    return np.stack([self._backward(part, m_diag[:, [b]], tape, w, wl) for b in range(batch)])
                upp = up[part.columns].T  # (k, columns)
                if obs is None:
                    return self._backward(part, upp, tape, w, wl, per_sample=per_sample, consume=again)
                out = self._pool.take(self.dim * part.width)
                m_diag = _diagonal_sum(obs, upp, out)  # (2**n, columns): M of each sample
                try:
                    return self._backward(part, m_diag, tape, w, wl, per_sample=per_sample, consume=again)
                finally:
                    self._pool.give(out)

            grads = self._map(backward, list(range(len(slices))))
            return np.concatenate(grads) if per_sample else np.sum(grads, axis=0)

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
