"""The simulator's speed-ups keep its answers: threads (bit for bit), fused gates (against
the unfused program, qiskit's ``Statevector`` and finite differences), a stop raised in one
part while others run, memory bounded by the parts at 20 qubits, and the time estimate.

The unfused reference is the same program with :func:`qmlstudio.core.statevector._fuse`
replaced by the identity: every gate its own pass, as before fusion existed.
"""

from __future__ import annotations

import threading
import time
import tracemalloc

import numpy as np
import pytest
from qiskit.quantum_info import Statevector

from qmlstudio.core import statevector as sv
from qmlstudio.core import statevector_ops
from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.statevector import StatevectorProgram, z_diagonal
from tests.core.fresh_interpreter import in_fresh_interpreter


def qiskit_state(design: CircuitDesign, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    circuit = design.to_circuit()
    values = {p: float(weights[p.index] if p.vector.name == "θ" else inputs[p.index]) for p in circuit.parameters}
    return Statevector(circuit.assign_parameters(values)).data


def ladder_design(n: int, layers: int = 2) -> CircuitDesign:
    """Angle encoding, then RY-RZ layers with data re-uploaded after the weights, CX ladders,
    a CZ/S/SWAP run (a permutation with phases) and a CCX: every kind of fusion."""
    gates = [Gate("ry", (q,), (f"x[{q % 3}]",), 0) for q in range(n)]
    column, weight = 1, 0
    for layer in range(layers):
        for q in range(n):
            gates.append(Gate("ry", (q,), (f"θ[{weight}]",), column))
            gates.append(Gate("rz", (q,), (f"θ[{weight + 1}] * x[{q % 3}]",), column + 1))
            if q % 3 == 0:  # a data gate after weights on the qubit: per-sample generators
                gates.append(Gate("rx", (q,), (f"x[{(q + 1) % 3}]",), column + 2))
            if q % 4 == 1:
                gates.append(Gate("u", (q,), (f"θ[{weight}]", "0.3", f"x[{q % 3}]"), column + 3))
                gates.append(Gate("h", (q,), (), column + 4))
            weight += 2
        column += 5
        for q in range(n - 1):
            gates.append(Gate("cx", (q, q + 1), (), column))
            column += 1
        if layer == 0:
            gates += [Gate("cz", (0, n - 1), (), column), Gate("s", (1,), (), column + 1),
                      Gate("swap", (1, 2), (), column + 2), Gate("ccx", (2, 0, 1), (), column + 3)]
            column += 4
    return CircuitDesign(n, gates)


def unfused(design: CircuitDesign, monkeypatch, **options) -> StatevectorProgram:
    with monkeypatch.context() as patch:
        patch.setattr(sv, "_fuse", lambda ops, num_qubits: list(ops))
        patch.setattr(sv, "_FOLD_FIRST_GATES", False)
        patch.setattr(sv, "_SWAP_RUNS", False)
        return StatevectorProgram(design, **options)


def problem(n: int, batch: int, seed: int = 3) -> tuple[CircuitDesign, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    design = ladder_design(n)
    rng = np.random.default_rng(seed)
    weights = rng.uniform(-np.pi, np.pi, design.num_weights)
    inputs = rng.uniform(-np.pi, np.pi, (batch, 3))
    observables = np.stack([z_diagonal(n, [0]), z_diagonal(n, [n - 1, 1]), rng.normal(size=2**n)])
    upstream = rng.normal(size=(batch, 3))
    return design, weights, inputs, observables, upstream


# ------------------------------------------------------------------ fusion
def test_fusion_happens_and_keeps_states_values_and_gradients(monkeypatch):
    design, weights, inputs, observables, upstream = problem(5, 4)
    fused = StatevectorProgram(design)
    plain = unfused(design, monkeypatch)
    kinds = [type(op).__name__ for op in fused.body + fused.head]
    assert kinds.count("_Fused1") >= 10 and kinds.count("_Permutation") >= 2
    assert len(fused.head) == 5 and not plain.head  # the first layer, folded into the product state
    assert all(op.per_sample for op in fused.head)  # RZ(θ·x): sums per sample
    assert len(fused.body) + len(fused.head) < len(plain.body) / 2
    assert any(op.has_phase for op in fused.body if isinstance(op, sv._Permutation))  # the CZ/S run
    states = fused.states(weights, inputs)
    np.testing.assert_allclose(states, plain.states(weights, inputs), atol=1e-12, rtol=0)
    for b in range(len(inputs)):
        np.testing.assert_allclose(states[b], qiskit_state(design, weights, inputs[b]), atol=1e-12, rtol=0)
    values, grad = fused.vjp(weights, inputs, observables, upstream)
    plain_values, plain_grad = plain.vjp(weights, inputs, observables, upstream)
    np.testing.assert_allclose(values, plain_values, atol=1e-12, rtol=0)
    np.testing.assert_allclose(grad, plain_grad, atol=1e-12, rtol=0)
    np.testing.assert_allclose(fused.jacobian(weights, inputs, observables), plain.jacobian(weights, inputs, observables),
                               atol=1e-12, rtol=0)
    h = 1e-6
    for i in (0, 3, 7, design.num_weights - 1):  # θ in RY, RZ·x and U gates of both layers
        up, down = weights.copy(), weights.copy()
        up[i] += h
        down[i] -= h
        numeric = np.sum(upstream * (fused.expectations(up, inputs, observables) - fused.expectations(down, inputs, observables))) / (2 * h)
        assert grad[i] == pytest.approx(numeric, abs=1e-6)
    assert np.max(np.abs(grad)) > 1e-2


def test_first_layer_folded_into_the_product_state(monkeypatch):
    """RY(x) encoding, then RY(θ)·RZ(θ) on each qubit (weights only: one sum for the
    batch) before the first CX: those gates cost no pass forward, only sums backward."""
    n = 4
    gates = [Gate("ry", (q,), (f"x[{q}]",), 0) for q in range(n)]
    gates += [Gate("ry", (q,), (f"θ[{2 * q}]",), 1) for q in range(n)] + [Gate("rz", (q,), (f"θ[{2 * q + 1}]",), 2) for q in range(n)]
    gates += [Gate("cx", (q, q + 1), (), 3 + q) for q in range(n - 1)] + [Gate("ry", (0,), ("θ[0] * θ[8]",), 6)]
    design = CircuitDesign(n, gates)
    folded, plain = StatevectorProgram(design), unfused(design, monkeypatch)
    assert len(folded.head) == n and not any(op.per_sample for op in folded.head)
    rng = np.random.default_rng(6)
    weights, inputs = rng.uniform(-2, 2, 9), rng.uniform(0, np.pi, (3, n))
    obs, up = np.stack([z_diagonal(n, [0]), rng.normal(size=2**n)]), rng.normal(size=(3, 2))
    values, grad = folded.vjp(weights, inputs, obs, up)
    expected = plain.vjp(weights, inputs, obs, up)
    np.testing.assert_allclose(values, expected[0], atol=1e-12, rtol=0)
    np.testing.assert_allclose(grad, expected[1], atol=1e-12, rtol=0)
    np.testing.assert_allclose(folded.jacobian(weights, inputs, obs), plain.jacobian(weights, inputs, obs), atol=1e-12, rtol=0)
    for b in range(3):
        np.testing.assert_allclose(folded.states(weights, inputs)[b], qiskit_state(design, weights, inputs[b]), atol=1e-12)
    h = 1e-6
    for i in range(9):
        step = np.eye(9)[i] * h
        numeric = np.sum(up * (folded.expectations(weights + step, inputs, obs) - folded.expectations(weights - step, inputs, obs))) / (2 * h)
        assert grad[i] == pytest.approx(numeric, abs=1e-6)


def test_fused_one_qubit_runs_and_permutations_in_the_encoding(monkeypatch):
    """A weight-free prefix that entangles (H, P(x), CX, CZ ladders) is fused too."""
    n = 4
    gates = [Gate("h", (q,), (), 0) for q in range(n)]
    gates += [Gate("cx", (q, q + 1), (), 1 + q) for q in range(n - 1)]
    gates += [Gate("p", (q,), (f"x[{q}]",), 5) for q in range(n)] + [Gate("sx", (q,), (), 6) for q in range(n)]
    gates += [Gate("cz", (q, q + 1), (), 7 + q) for q in range(n - 1)]
    gates += [Gate("ry", (q,), (f"θ[{q}]",), 11) for q in range(n)] + [Gate("crx", (0, 3), ("θ[4]",), 12)]
    design = CircuitDesign(n, gates)
    fused = StatevectorProgram(design)
    assert any(isinstance(op, sv._Permutation) for op in fused.entangling_prefix)
    assert any(isinstance(op, sv._Fused1) for op in fused.entangling_prefix)
    rng = np.random.default_rng(5)
    weights, inputs = rng.uniform(-2, 2, 5), rng.uniform(-2, 2, (3, n))
    plain = unfused(design, monkeypatch)
    np.testing.assert_allclose(fused.states(weights, inputs), plain.states(weights, inputs), atol=1e-12, rtol=0)
    for b in range(3):
        np.testing.assert_allclose(fused.states(weights, inputs)[b], qiskit_state(design, weights, inputs[b]), atol=1e-12)
    obs, up = z_diagonal(n, [0, 2]), rng.normal(size=(3, 1))
    np.testing.assert_allclose(fused.vjp(weights, inputs, obs, up)[1], plain.vjp(weights, inputs, obs, up)[1], atol=1e-12, rtol=0)


def test_cx_ladders_above_the_permutation_size_run_in_one_call_with_the_same_answers(monkeypatch):
    """Above 14 qubits a CX ladder is not one permutation but a run of swaps, simulated in one
    compiled call (a :class:`_SwapRun`) forward and, in reverse, backward: the same states and
    gradients as one call per gate, and qiskit's states."""
    design, weights, inputs, observables, upstream = problem(15, 2)
    program = StatevectorProgram(design)
    runs = [item for item in program._schedule(2) if isinstance(item, statevector_ops._SwapRun)]
    assert runs and max(len(run.ops) for run in runs) == 14  # a whole ladder
    plain = unfused(design, monkeypatch)
    assert not any(isinstance(item, statevector_ops._SwapRun) for item in plain._schedule(2))
    np.testing.assert_allclose(program.states(weights, inputs), plain.states(weights, inputs), atol=1e-12, rtol=0)
    np.testing.assert_allclose(program.states(weights, inputs)[1], qiskit_state(design, weights, inputs[1]), atol=1e-12)
    values, grad = program.vjp(weights, inputs, observables, upstream)
    expected = plain.vjp(weights, inputs, observables, upstream)
    np.testing.assert_allclose(values, expected[0], atol=1e-12, rtol=0)
    np.testing.assert_allclose(grad, expected[1], atol=1e-10, rtol=0)
    assert np.abs(grad).max() > 1e-2


def test_cache_blocks_keep_the_answers(monkeypatch):
    """Gates on low qubits applied block by block (as at 20 qubits), forced here at 8."""
    design, weights, inputs, observables, upstream = problem(8, 5)
    plain = StatevectorProgram(design)
    monkeypatch.setattr(sv, "_BLOCK_BYTES", 32 * 5 * 2**5)  # blocks of 32 rows: gates on qubits 0-4
    monkeypatch.setattr(sv, "_BLOCKING_MIN_BYTES", 0)
    monkeypatch.setattr(statevector_ops, "_PERMUTATION_MAX_QUBITS", 0)  # CX ladders as gates, in the blocks (as at 20 qubits)
    blocked = StatevectorProgram(design)
    assert any(blocked.body[i].name == "cx" for item in blocked._schedule(5) if isinstance(item, tuple) for i in item[1])
    groups = [item for item in blocked._schedule(5) if isinstance(item, tuple)]
    assert groups and all(item[0] == 5 for item in groups) and sum(len(item[1]) for item in groups) >= 10
    np.testing.assert_allclose(blocked.states(weights, inputs), plain.states(weights, inputs), atol=1e-12, rtol=0)
    values, grad = blocked.vjp(weights, inputs, observables, upstream)
    expected = plain.vjp(weights, inputs, observables, upstream)
    np.testing.assert_allclose(values, expected[0], atol=1e-12, rtol=0)
    np.testing.assert_allclose(grad, expected[1], atol=1e-12, rtol=0)
    np.testing.assert_allclose(blocked.jacobian(weights, inputs, observables[:1]), plain.jacobian(weights, inputs, observables[:1]),
                               atol=1e-12, rtol=0)
    np.testing.assert_allclose(blocked.states(weights, inputs)[2], qiskit_state(design, weights, inputs[2]), atol=1e-12)


# ------------------------------------------------------------------ threads
def test_any_number_of_threads_gives_the_same_bits():
    design, weights, inputs, observables, upstream = problem(11, 40)
    programs = {t: StatevectorProgram(design, threads=t) for t in (1, 2, 3)}
    assert len(programs[1]._parts(40)) >= 3  # parts for threads to share, the same for every count
    assert all(p._parts(40) == programs[1]._parts(40) for p in programs.values())
    results = {}
    for t, program in programs.items():
        values, grad = program.vjp(weights, inputs, observables, upstream)
        results[t] = (values, grad, program.expectations(weights, inputs, observables),
                      program.probabilities(weights, inputs[:9]), program.jacobian(weights, inputs[:16], observables[:1]))
    for t in (2, 3):
        for got, expected in zip(results[t], results[1]):
            assert np.array_equal(got, expected)
    assert np.max(np.abs(results[1][1])) > 1e-3


def test_all_threads_work_at_once():
    """With threads, the parts really run side by side (the loops release the GIL)."""
    design, weights, inputs, observables, _ = problem(10, 64)
    running, most = [0], [0]
    lock = threading.Lock()
    program = StatevectorProgram(design, threads=2)
    original = program._forward

    def forward(*args):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.02)
            return original(*args)
        finally:
            with lock:
                running[0] -= 1

    program._forward = forward
    program.expectations(weights, inputs, observables)
    assert most[0] == 2


def test_a_stop_in_one_part_stops_the_others_and_reaches_the_caller():
    design, weights, inputs, observables, upstream = problem(12, 64)
    calls = []
    lock = threading.Lock()

    class Stop(Exception):
        pass

    def checkpoint():
        with lock:
            calls.append(threading.current_thread().name)
            if len(calls) == 2:
                raise Stop

    program = StatevectorProgram(design, threads=2, checkpoint=checkpoint)
    parts = len(program._parts(64))
    assert parts >= 8
    with pytest.raises(Stop):
        program.vjp(weights, inputs, observables, upstream)
    assert len(calls) <= 3  # the parts not started were skipped
    assert all(name.startswith("statevector") for name in calls)
    calls.clear()
    program.checkpoint = None
    expected = StatevectorProgram(design, threads=1).vjp(weights, inputs, observables, upstream)
    assert np.array_equal(program.vjp(weights, inputs, observables, upstream)[1], expected[1])


# ------------------------------------------------------------------ memory
def test_without_the_final_states_the_gradient_simulates_each_part_again(monkeypatch):
    design, weights, inputs, observables, upstream = problem(12, 64)
    kept = StatevectorProgram(design, threads=1)
    expected = kept.vjp(weights, inputs, observables, upstream)
    state_bytes = 64 * 2**12 * 16
    kept_bytes = kept.state_bytes(64)
    monkeypatch.setattr(sv, "_KEEP_BYTES", state_bytes // 2)
    program = StatevectorProgram(design, threads=1)
    forwards = []
    original = program._forward
    program._forward = lambda *a: forwards.append(1) or original(*a)
    parts = len(program._parts(64))
    values, pullback = program.value_and_pullback(weights, inputs, observables)
    grad = pullback(upstream)
    assert len(forwards) == 2 * parts
    assert np.array_equal(values, expected[0]) and np.array_equal(grad, expected[1])
    # The peak, measured in a process of its own (tracemalloc counts every thread's allocations,
    # and the suite's other threads once pushed it to 0.67 of a state here).
    peak = in_fresh_interpreter(f"""
        import json, tracemalloc
        from qmlstudio.core import statevector as sv
        from qmlstudio.core.statevector import StatevectorProgram
        from tests.core.test_statevector_speed import problem

        design, weights, inputs, observables, upstream = problem(12, 64)
        StatevectorProgram(design, threads=1).vjp(weights, inputs, observables, upstream)  # compiled code in place
        sv._KEEP_BYTES = {state_bytes // 2}
        program = StatevectorProgram(design, threads=1)
        tracemalloc.start()
        values, pullback = program.value_and_pullback(weights, inputs, observables)
        grad = pullback(upstream)
        print(json.dumps(tracemalloc.get_traced_memory()[1]))
    """)
    # A few states of one part, not the batch's: the part's 4 kept states are half the batch's
    # state; the rest is the part's temporaries. Keeping the batch's states would be >= 1.
    assert peak < 0.6 * state_bytes
    assert program.state_bytes(64) == 4 * (state_bytes // parts)
    assert kept_bytes == state_bytes + 4 * (state_bytes // parts)


def test_twenty_qubits_batch_64_in_bounded_memory():
    """20 qubits, 64 samples (1 GiB of final states): parts of one sample, a few of them in
    memory at a time; the answer equals the 2-qubit circuit's (the other 18 qubits stay in
    product states that neither gate nor observable touches)."""
    n = 20
    encoding = [Gate("ry", (q,), (f"x[{q}]",), 0) for q in range(n)]
    body = [Gate("ry", (0,), ("θ[0]",), 1), Gate("rz", (0,), ("θ[1]",), 2), Gate("cx", (0, 1), (), 3), Gate("ry", (1,), ("θ[2]",), 4)]
    big = StatevectorProgram(CircuitDesign(n, encoding + body), threads=2)
    small = StatevectorProgram(CircuitDesign(2, encoding[:2] + body))
    assert big.state_bytes(64) <= 2 * 4 * 2**20 * 16  # two parts of one sample in flight
    rng = np.random.default_rng(20)
    weights, inputs = rng.uniform(-2, 2, 3), rng.uniform(0, np.pi, (64, n))
    upstream = rng.normal(size=(64, 1))
    tracemalloc.start()
    try:
        values, grad = big.vjp(weights, inputs, z_diagonal(n, [1]), upstream)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = small.vjp(weights, inputs[:, :2], z_diagonal(2, [1]), upstream)
    np.testing.assert_allclose(values, expected[0], atol=1e-12)
    np.testing.assert_allclose(grad, expected[1], atol=1e-10)
    assert peak < 2**30 / 4  # far below the batch's 1 GiB of states


def test_the_estimate_follows_the_timed_part():
    design, weights, inputs, _, _ = problem(10, 64)
    program = StatevectorProgram(design, threads=1)
    estimate = program.estimate_seconds(weights, inputs, 64, evaluated=128)
    per_sample = estimate["forward_seconds_per_sample"]
    assert per_sample > 0
    assert estimate["step_seconds"] == pytest.approx(per_sample * 64 * sv._STEP_COST)
    assert estimate["evaluation_seconds"] == pytest.approx(per_sample * 128)
    start = time.perf_counter()
    program.expectations(weights, inputs, z_diagonal(10, [0]))
    measured = time.perf_counter() - start
    assert 0.1 < per_sample * 64 / measured < 10  # the same order as a real forward pass
