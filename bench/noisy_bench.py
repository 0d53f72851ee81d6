"""Seconds per training iteration under a device's noise: aer-noise, noisy-exact and qiskit-ml.

Issue 18's figures. Two projects as `qmlstudio new` makes them (angle encoding,
real-amplitudes, batch 32): iris (4 qubits) on fake_manila and breast-cancer reduced to 6
principal components on fake_nairobi. For each, one training iteration's work (values and
the loss gradient of a batch of 32 at the initial weights, what `TrainingRun` does per
iteration), the median of several repeats after a warm-up, through

* **aer-noise**: today's path: parameter shift, every shifted circuit sampled 1,024 times by
  Aer with the device's noise model (shot noise in the gradient);
* **noisy-exact**: batched density matrices through the same transpiled circuit and the
  same noise channels, gradients in one backward pass (exact, no shots);
* **qiskit-ml**: `EstimatorQNN` (forward + backward) on qiskit-aer's `EstimatorV2` with the
  same noise model and method `density_matrix`, on the same transpiled circuit
  (`default_precision=0`, exact expectation values; its default parameter-shift gradient);
* **PennyLane `default.mixed`** (backprop) when PennyLane is installed (`pip install -e .[bench]`;
  it is not a dependency of QML Studio): the same transpiled circuit with the same noise
  channels as Kraus operators, the batch broadcast, the gradient over the circuit's angles.

It also prints whether the computations agree: noisy-exact's values and gradient against
qiskit-ml's on the same circuit (the estimator has no readout error, so the readout
errors are switched off for that check), and against finite differences.

    .venv/bin/python bench/noisy_bench.py [--repeats 5] [--aer-repeats 3] [--qml-batch 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for path in (ROOT, ROOT / "plugins"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from qmlstudio.plugins.manager import load_plugins  # noqa: E402
from qmlstudio.workflow import new_project  # noqa: E402
from qmlstudio.workflow.runs import build_run  # noqa: E402

PROJECTS = (
    ("iris, 4 qubits", dict(dataset="iris"), "fake_manila"),
    ("breast-cancer PCA 6, 6 qubits", dict(dataset="breast-cancer", features=6), "fake_nairobi"),
)


def _run(registry, options, backend):
    project = new_project(registry, name="bench", backend=backend, epochs=1, batch_size=32,
                          model_options={"baselines": False}, **options)
    return build_run(project, registry)


def _step(run, weights, batch, targets):
    """One iteration's work: values, the head's loss, the pullback."""
    extra = run.head.initial_extra()
    values, pullback = run.evaluator.values_and_pullback(weights, batch)
    _, d_values, _ = run.head.loss(values, extra, targets)
    return pullback(d_values)


def _median_seconds(fn, repeats):
    fn()  # warm-up (compiling, transpiling, caches)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _qiskit_ml(run, backend_object):
    """EstimatorQNN over the same transpiled circuit, on Aer's noisy density-matrix estimator."""
    from qiskit_aer.primitives import EstimatorV2 as AerEstimator
    from qiskit_machine_learning.neural_networks import EstimatorQNN

    from qmlstudio.core.models import diagonal_paulis

    logical = run.model.design.to_circuit()
    circuit = backend_object.pass_manager().run(logical)  # the device's layout, routing and basis
    weights = [p for p in circuit.parameters if p.name.startswith("θ")]
    inputs = [p for p in circuit.parameters if p.name.startswith("x")]
    observables = [diagonal_paulis(row, logical.num_qubits).apply_layout(circuit.layout)
                   for row in np.atleast_2d(run.evaluator.observables)]
    estimator = AerEstimator(options={"default_precision": 0.0,
                                      "backend_options": {"method": "density_matrix",
                                                          "noise_model": backend_object.noise_model()}})
    qnn = EstimatorQNN(circuit=circuit, estimator=estimator, observables=observables, input_params=inputs,
                       weight_params=weights, default_precision=0.0)
    return qnn, weights, inputs


def _default_mixed(run):
    """PennyLane ``default.mixed`` (backprop) running the same transpiled circuit with the same
    noise channels: each gate as its matrix, each of its errors as ``QubitChannel`` Kraus
    operators (qiskit's, wires reversed: qiskit's first qubit is the lowest bit), the RZ angles
    broadcast over the batch. Returns ``step(angles, upstream)``, the forward pass and the
    gradient of Σ upstream·p over the angles (what the noisy model's loss gradient costs before
    the chain rule to the weights, which is cheap), and ``probs(angles)`` for the check. The
    readout errors (a classical 2×2 per qubit on the probabilities) are left out of both."""
    import pennylane as qml
    from qiskit.quantum_info import Kraus, Operator

    evaluator = run.evaluator
    noise = run.backend.noise_model()
    isa = evaluator.circuit
    index = {bit: i for i, bit in enumerate(isa.qubits)}
    place = {physical: i for i, physical in enumerate(evaluator.active)}
    wires = len(evaluator.active)
    operations, angle = [], 0
    for item in isa.data:
        name = item.operation.name
        if name in ("barrier", "measure"):
            continue
        physical = tuple(index[q] for q in item.qubits)
        reversed_wires = [place[p] for p in reversed(physical)]
        if name == "rz":
            operations.append(("rz", angle, reversed_wires))
            angle += 1
        else:
            operations.append(("unitary", Operator(item.operation).data, reversed_wires))
        error = noise._local_quantum_errors.get(name, {}).get(physical)
        if error is not None:
            operations.append(("channel", Kraus(error.to_quantumchannel()).data, reversed_wires))
    measured = [evaluator.measured[c] for c in range(len(evaluator.measured))]
    device = qml.device("default.mixed", wires=wires)

    @qml.qnode(device, diff_method="backprop")
    def circuit(angles):
        for kind, data, on in operations:
            if kind == "rz":
                qml.RZ(angles[:, data], wires=on)
            elif kind == "unitary":
                qml.QubitUnitary(data, wires=on)
            else:
                qml.QubitChannel(data, wires=on)
        return qml.probs(wires=list(reversed(measured)))  # the last measured qubit the highest bit

    def step(angles, upstream):
        angles = qml.numpy.array(angles, requires_grad=True)
        return qml.grad(lambda a: qml.math.sum(circuit(a) * upstream))(angles)

    return step, lambda angles: np.asarray(circuit(qml.numpy.array(angles, requires_grad=False)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--aer-repeats", type=int, default=3, help="repeats of the slow aer-noise and qiskit-ml steps")
    parser.add_argument("--qml-batch", type=int, default=2, help="samples qiskit-ml is timed on (scaled to 32)")
    args = parser.parse_args()
    import importlib.metadata as md

    versions = {name: md.version(name) for name in ("qiskit", "qiskit-aer", "qiskit-machine-learning", "numba")}
    try:
        versions["pennylane"] = md.version("pennylane")
    except md.PackageNotFoundError:
        versions["pennylane"] = "not installed"
    print(f"python {platform.python_version()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}; "
          + ", ".join(f"{k} {v}" for k, v in versions.items()))
    registry = load_plugins()
    rows = []
    for title, options, device in PROJECTS:
        exact = _run(registry, options, f"noisy-exact:{device}")
        shots = _run(registry, options, f"aer-noise:{device}")
        weights = exact.initial_parameters()[: exact.model.num_weights]
        batch, targets = exact.train_inputs[:32], exact.data.y_train[:32]
        t_exact = _median_seconds(lambda: _step(exact, weights, batch, targets), args.repeats)
        t_shots = _median_seconds(lambda: _step(shots, weights, batch, targets), args.aer_repeats)
        qnn, _, _ = _qiskit_ml(exact, exact.backend)
        # qiskit-ml's cost is linear in the batch (its circuits are per sample) and takes minutes
        # for 32 samples: timed on --qml-batch samples and scaled to 32 (marked * in the table)
        few = batch[: args.qml_batch]
        t_qml = _median_seconds(lambda: (qnn.forward(few, weights), qnn.backward(few, weights)), args.aer_repeats)
        t_qml *= len(batch) / len(few)
        # the same computation? values and d(Σ u·values)/dθ without the readout errors, against qiskit-ml
        evaluator = exact.evaluator
        readout, evaluator.program.readout = evaluator.program.readout, {}
        values, pullback = evaluator.values_and_pullback(weights, batch[:4])
        upstream = np.random.default_rng(0).normal(size=values.shape)
        ours = pullback(upstream)
        forward = qnn.forward(batch[:4], weights)
        _, theirs = qnn.backward(batch[:4], weights)
        theirs = np.einsum("bk,bkw->w", upstream, theirs)
        step = 1e-6
        numeric = np.array([(np.sum(upstream * evaluator.values(weights + step * e, batch[:4]))
                             - np.sum(upstream * evaluator.values(weights - step * e, batch[:4]))) / (2 * step)
                            for e in np.eye(len(weights))])
        t_mixed, d_mixed = None, None
        if versions["pennylane"] != "not installed":
            mixed_step, mixed_probs = _default_mixed(exact)
            angles = evaluator._angles(evaluator._phi(weights, batch))
            upstream_p = np.random.default_rng(1).normal(size=(len(batch), 2 ** exact.model.num_qubits))
            t_mixed = _median_seconds(lambda: mixed_step(angles, upstream_p), args.aer_repeats)
            # the same probabilities (readout errors off in both), for the first samples
            d_mixed = float(np.abs(mixed_probs(angles[:4]) - evaluator.program.probabilities(angles[:4], evaluator.measured)).max())
        evaluator.program.readout = readout
        rows.append((title, device, t_shots, t_exact, t_qml, t_mixed, np.abs(values - forward).max(),
                     np.abs(ours - theirs).max(), np.abs(ours - numeric).max(), d_mixed, exact.model.num_weights,
                     len(evaluator.program.operations)))
    print()
    print(f"{'project':32} {'device':13} {'aer-noise':>10} {'noisy-exact':>12} {'qiskit-ml':>10} {'default.mixed':>14} "
          f"{'speed-up vs aer-noise':>22}")
    for title, device, t_shots, t_exact, t_qml, t_mixed, *_ in rows:
        mixed = "-" if t_mixed is None else f"{t_mixed:.3f}s"
        print(f"{title:32} {device:13} {t_shots:9.3f}s {t_exact * 1e3:10.1f}ms {t_qml:8.1f}s* {mixed:>14} "
              f"{t_shots / t_exact:21.0f}×")
    print("   seconds per training iteration (values + loss gradient of a batch of 32), median; target: noisy-exact ≥ 100× "
          "faster than aer-noise and faster than default.mixed")
    for title, device, t_shots, t_exact, t_qml, t_mixed, *_ in rows:
        met = t_shots / t_exact >= 100 and (t_mixed is None or t_exact < t_mixed)
        versus = "" if t_mixed is None else f", {t_mixed / t_exact:.0f}× faster than default.mixed"
        print(f"   {title}: {t_shots / t_exact:.0f}× faster than aer-noise{versus}: target {'met' if met else 'NOT met'}")
    print(f"   * qiskit-ml timed on {args.qml_batch} samples and scaled to 32 (its circuits are per sample)")
    if versions["pennylane"] == "not installed":
        print("   PennyLane default.mixed: not installed (pip install -e .[bench]), not measured")
    print()
    for title, _device, *_, dv, dg, dfd, dm, weights, ops in rows:
        mixed = "" if dm is None else f"; probabilities vs default.mixed (readout errors off) {dm:.1e}"
        print(f"{title}: {weights} weights, {ops} density-matrix operations; noisy-exact vs qiskit-ml (readout errors off): "
              f"values {dv:.1e}, gradient {dg:.1e}; gradient vs central differences {dfd:.1e}{mixed}")


if __name__ == "__main__":
    main()
