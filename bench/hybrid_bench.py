"""Seconds per training step of a hybrid model at 8 qubits, batch 64: QML Studio's quantum layer
(qmls_torch: one batched forward, one adjoint pass for the gradients by weights and inputs)
against the same model with qiskit-machine-learning's TorchConnector + EstimatorQNN (exact
StatevectorEstimator, parameter-shift gradients), in one run.

The model: 8×8 digits (64 features) → Linear(64, 8) → π·tanh → 8-qubit circuit (RY(x) angle
encoding, 3 layers of RY(θ) and a CX ladder, 24 weights) → ⟨Z_q⟩ of the 8 qubits →
Linear(8, 10) → cross-entropy; Adam. A step is forward, backward and the optimizer's update.
Target: ours ≥ 100× faster.

    .venv/bin/python bench/hybrid_bench.py [--qubits 8] [--batch 64] [--steps 20] [--reference-steps 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from qiskit.primitives import StatevectorEstimator
from qiskit.quantum_info import SparsePauliOp
from qiskit_machine_learning.connectors import TorchConnector
from qiskit_machine_learning.gradients import ParamShiftEstimatorGradient
from qiskit_machine_learning.neural_networks import EstimatorQNN
from sklearn.datasets import load_digits

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.expressions import Angle
from qmlstudio.core.gate_matrices import z_diagonal
from qmls_torch import HybridNet, QuantumTorchLayer


def design(n: int, reps: int) -> CircuitDesign:
    gates, column, w = [Gate("ry", (q,), (Angle(f"x[{q}]"),), column=0) for q in range(n)], 1, 0
    for _ in range(reps):
        for q in range(n):
            gates.append(Gate("ry", (q,), (Angle(f"θ[{w}]"),), column=column))
            w += 1
        column += 1
        for q in range(n - 1):
            gates.append(Gate("cx", (q, q + 1), (), column=column))
            column += 1
    return CircuitDesign(n, tuple(gates))


def reference_qnn(d: CircuitDesign) -> EstimatorQNN:
    circuit = d.to_circuit()
    inputs = sorted((p for p in circuit.parameters if p.name.startswith("x[")), key=lambda p: p.index)
    weights = sorted((p for p in circuit.parameters if p.name.startswith("θ[")), key=lambda p: p.index)
    n = d.num_qubits
    observables = [SparsePauliOp("".join("Z" if i == n - 1 - q else "I" for i in range(n))) for q in range(n)]
    estimator = StatevectorEstimator(default_precision=0.0)
    return EstimatorQNN(circuit=circuit, estimator=estimator, observables=observables, input_params=inputs,
                        weight_params=weights, gradient=ParamShiftEstimatorGradient(estimator), input_gradients=True,
                        default_precision=0.0)


def time_steps(model: torch.nn.Module, features: torch.Tensor, labels: torch.Tensor, steps: int) -> float:
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    started = time.perf_counter()
    for _ in range(steps):
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(features), labels)
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - started) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--qubits", type=int, default=8)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--reference-steps", type=int, default=1)
    args = parser.parse_args()
    digits = load_digits()
    rng = np.random.default_rng(0)
    rows = rng.choice(len(digits.target), args.batch, replace=False)
    x = torch.tensor(digits.data[rows] / 16.0)
    y = torch.tensor(digits.target[rows])
    d = design(args.qubits, args.reps)
    n = args.qubits
    observables = np.stack([z_diagonal(n, (q,)) for q in range(n)])
    ours = HybridNet(QuantumTorchLayer(d, observables, seed=0), num_features=64, num_outputs=10, seed=0)
    time_steps(ours, x, y, 2)  # warm: the compiled loops
    t_ours = time_steps(ours, x, y, args.steps)

    class Reference(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.front = torch.nn.Linear(64, n)
            self.quantum = TorchConnector(reference_qnn(d), initial_weights=np.random.default_rng(0).uniform(0, 2 * np.pi, d.num_weights))
            self.head = torch.nn.Linear(n, 10)

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return self.head(self.quantum(torch.pi * torch.tanh(self.front(features))))

    torch.manual_seed(0)
    reference = Reference()
    t_ref = time_steps(reference, x.float(), y, args.reference_steps)
    print(f"hybrid: digits 64 features -> Linear(64,{n}) -> {n} qubits, {d.num_weights} weights, "
          f"{len(d.gates)} gates -> Linear({n},10); batch {args.batch}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads")
    print(f"{'QML Studio (qmls_torch)':<40} {t_ours:9.4f} s/step  ({args.steps} steps)")
    print(f"{'TorchConnector + EstimatorQNN':<40} {t_ref:9.4f} s/step  ({args.reference_steps} steps)")
    print(f"speed-up {t_ref / t_ours:,.0f}x (target >= 100x)")


if __name__ == "__main__":
    main()
