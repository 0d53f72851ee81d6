"""Forward + exact gradient of a hardware-efficient circuit: our simulator vs EstimatorQNN.

The circuit: RY(x_j) on every qubit (angle encoding), then 3 layers of RY(θ) and RZ(θ) on
every qubit and a CX ladder. Batch of 64 samples, observable ⟨Z_0⟩. For each size it
prints the median time of one :meth:`StatevectorProgram.vjp` (forward + adjoint
gradient) on one thread, on two threads (``threads=2``: two parts of the batch at a time),
with the prefix cache on (the same batch again, one thread; a one-qubit encoding is not
cached, so this shows the cost of asking), and of a forward pass only
(``expectations``); then
qiskit-machine-learning's ``EstimatorQNN`` (``StatevectorEstimator``, parameter-shift
gradient, precision 0 so that no shot noise is added) forward + backward on the same
circuit, its ratio to ours, and the largest difference between the two (values and
gradients). Last, the prefix cache where it pays: after an entangling ZZ-feature-map
encoding.

Run: ``PYTHONPATH=.:plugins python bench/statevector_bench.py [--sizes 4 8 12 16]``.
No asserts: it prints figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable

import numpy as np

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.statevector import StatevectorProgram, z_diagonal

BATCH = 64
LAYERS = 3


def hardware_efficient(num_qubits: int, layers: int = LAYERS) -> CircuitDesign:
    """RY(x_j) encoding, then ``layers`` × (RY(θ), RZ(θ) on every qubit, CX ladder)."""
    gates = [Gate("ry", (q,), (f"x[{q}]",), column=0) for q in range(num_qubits)]
    column, weight = 1, 0
    for _ in range(layers):
        for name in ("ry", "rz"):
            for q in range(num_qubits):
                gates.append(Gate(name, (q,), (f"θ[{weight}]",), column=column))
                weight += 1
            column += 1
        for q in range(num_qubits - 1):
            gates.append(Gate("cx", (q, q + 1), column=column))
            column += 1
    return CircuitDesign(num_qubits, gates)


def zz_encoded(num_qubits: int, layers: int = LAYERS) -> CircuitDesign:
    """The same trainable layers after a ZZ-feature-map encoding (H, P(2x), CX-P-CX)."""
    gates = [Gate("h", (q,), (), 0) for q in range(num_qubits)]
    gates += [Gate("p", (q,), (f"2*x[{q}]",), 1) for q in range(num_qubits)]
    column = 2
    for q in range(num_qubits - 1):
        gates += [
            Gate("cx", (q, q + 1), (), column),
            Gate("p", (q + 1,), (f"(pi - x[{q}])*(pi - x[{q + 1}])",), column + 1),
            Gate("cx", (q, q + 1), (), column + 2),
        ]
        column += 3
    trainable = [g for g in hardware_efficient(num_qubits, layers).gates if g.column > 0]
    gates += [Gate(g.name, g.qubits, g.params, g.column + column) for g in trainable]
    return CircuitDesign(num_qubits, gates)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def estimator_qnn(design: CircuitDesign):
    from qiskit.primitives import StatevectorEstimator
    from qiskit.quantum_info import SparsePauliOp
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    circuit = design.to_circuit()
    inputs = [p for p in circuit.parameters if p.vector.name == "x"]
    weights = [p for p in circuit.parameters if p.vector.name != "x"]
    observable = SparsePauliOp("I" * (design.num_qubits - 1) + "Z")
    return EstimatorQNN(
        circuit=circuit,
        observables=observable,
        input_params=inputs,
        weight_params=weights,
        estimator=StatevectorEstimator(default_precision=0.0),
        default_precision=0.0,  # EstimatorQNN passes 1/64 otherwise, and the estimator adds noise
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 8, 12, 16])
    parser.add_argument("--qnn-budget", type=float, default=60.0, help="skip EstimatorQNN where a run would take longer (s)")
    args = parser.parse_args()

    rng = np.random.default_rng(1234)
    print(f"batch {BATCH}, {LAYERS} layers, observable Z_0; times are medians in seconds")
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at the start")
    header = f"{'qubits':>6} {'weights':>7} {'vjp':>10} {'2 threads':>10} {'cached':>10} {'forward':>10} {'EstimatorQNN':>14} {'ratio':>8} {'max |Δ|':>8}"
    print(header)
    print("-" * len(header))
    for n in args.sizes:
        design = hardware_efficient(n)
        program = StatevectorProgram(design)
        cached = StatevectorProgram(design, cache_bytes=1 << 30)
        threaded = StatevectorProgram(design, threads=2)
        weights = rng.uniform(-np.pi, np.pi, design.num_weights)
        inputs = rng.uniform(-np.pi, np.pi, (BATCH, n))
        obs = z_diagonal(n, [0])[None, :]
        upstream = np.ones((BATCH, 1))
        repeats = 7 if n <= 12 else 3
        t_vjp = median_time(lambda: program.vjp(weights, inputs, obs, upstream), repeats)
        t_threads = median_time(lambda: threaded.vjp(weights, inputs, obs, upstream), repeats)
        t_cached = median_time(lambda: cached.vjp(weights, inputs, obs, upstream), repeats)
        t_forward = median_time(lambda: program.expectations(weights, inputs, obs), repeats)
        qnn_text, ratio_text, diff_text = "-", "-", "-"
        if n <= 12:
            qnn = estimator_qnn(design)
            start = time.perf_counter()
            qnn.forward(inputs, weights)
            t_qnn_forward = time.perf_counter() - start
            # parameter shift: 2 circuits per weight and sample, each about as dear as a
            # forward one; 1.5 for the noise of a shared machine
            projected = 1.5 * t_qnn_forward * (1 + 2 * design.num_weights)
            if projected <= args.qnn_budget:
                qnn_repeats = 3 if projected < 5 else 1

                def qnn_step() -> tuple[np.ndarray, np.ndarray]:
                    forward = qnn.forward(inputs, weights)
                    _, grad = qnn.backward(inputs, weights)
                    return forward, grad

                t_qnn = median_time(qnn_step, qnn_repeats) if qnn_repeats > 1 else _once(qnn_step)
                forward, grad = qnn_step()
                values, ours = program.vjp(weights, inputs, obs, upstream)
                qnn_text = f"{t_qnn:.4f}"
                ratio_text = f"{t_qnn / t_vjp:.0f}×"
                diff = max(np.abs(grad.sum(axis=(0, 1)) - ours).max(), np.abs(forward - values).max())
                diff_text = f"{diff:.1e}"
            else:
                qnn_text = f"~{projected:.0f} (skip)"
        print(
            f"{n:>6} {design.num_weights:>7} {t_vjp:10.4f} {t_threads:10.4f} {t_cached:10.4f} {t_forward:10.4f} "
            f"{qnn_text:>14} {ratio_text:>8} {diff_text:>8}",
            flush=True,
        )

    print()
    print("entangling encoding (ZZ feature map) + the same layers: the prefix cache on a revisited batch")
    print(f"{'qubits':>6} {'vjp':>10} {'cached':>10}")
    for n in [n for n in args.sizes if n <= 12]:
        design = zz_encoded(n)
        program = StatevectorProgram(design)
        cached = StatevectorProgram(design, cache_bytes=1 << 30)
        weights = rng.uniform(-np.pi, np.pi, design.num_weights)
        inputs = rng.uniform(-np.pi, np.pi, (BATCH, n))
        obs, upstream = z_diagonal(n, [0])[None, :], np.ones((BATCH, 1))
        t_vjp = median_time(lambda: program.vjp(weights, inputs, obs, upstream), 7)
        t_cached = median_time(lambda: cached.vjp(weights, inputs, obs, upstream), 7)
        print(f"{n:>6} {t_vjp:10.4f} {t_cached:10.4f}", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def _once(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
