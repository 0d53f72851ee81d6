"""Quantum-kernel support-vector machines.

The fidelity kernel k(x, y) = |⟨ψ(x)|ψ(y)⟩|² of the encoding's states, then
scikit-learn's ``SVC(kernel="precomputed")``. On an exact backend the states are
simulated once per sample (a batched statevector) and the Gram matrix is one matrix
product; on any other backend the kernel is estimated through its sampler with the
compute-uncompute circuits of qiskit-machine-learning's ``FidelityQuantumKernel``.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from qmlstudio.core.models import ModelCircuit
from qmlstudio.core.preprocessing import PreparedData
from qmlstudio.core.project import RunRecord


class QuantumKernel:
    """Gram matrices of the encoding's fidelity kernel."""

    def __init__(self, model: ModelCircuit, backend: Any = None) -> None:
        self.model = model
        self.backend = backend
        self.exact = backend is None or getattr(backend, "exact", False)
        self.design = model.encoding_design
        self._qml_kernel = None

    def states(self, features: np.ndarray) -> np.ndarray:
        from qmlstudio.core.statevector import StatevectorProgram

        return StatevectorProgram(self.design).states((), self.model.inputs(features))

    def matrix(self, x: np.ndarray, y: np.ndarray | None = None) -> np.ndarray:
        """K[i, j] = |⟨ψ(x_i)|ψ(y_j)⟩|² (y defaults to x)."""
        if self.exact:
            sx = self.states(x)
            sy = sx if y is None else self.states(y)
            return np.abs(sx.conj() @ sy.T) ** 2
        return self._sampled(x, y)

    def _sampled(self, x: np.ndarray, y: np.ndarray | None) -> np.ndarray:
        if self._qml_kernel is None:
            from qiskit_machine_learning.kernels import FidelityQuantumKernel
            from qiskit_machine_learning.state_fidelities import ComputeUncompute

            circuit = self.design.to_circuit()
            fidelity = ComputeUncompute(sampler=self.backend.sampler(), pass_manager=self.backend.pass_manager())
            self._qml_kernel = FidelityQuantumKernel(feature_map=circuit, fidelity=fidelity)
        xin = self.model.inputs(x)
        yin = None if y is None else self.model.inputs(y)
        return np.asarray(self._qml_kernel.evaluate(xin, yin))


def kernel_target_alignment(matrix: np.ndarray, labels: np.ndarray) -> float:
    """⟨K, yyᵀ⟩ / (‖K‖ ‖yyᵀ‖) with labels mapped to ±1 (one-vs-rest of the first class)."""
    y = np.where(labels == labels.min(), -1.0, 1.0)
    target = np.outer(y, y)
    return float(np.sum(matrix * target) / (np.linalg.norm(matrix) * np.linalg.norm(target)))


class KernelRun:
    """Fits a quantum-kernel SVM on the training split and scores it on both splits."""

    def __init__(
        self,
        *,
        data: PreparedData,
        model: ModelCircuit,
        backend: Any = None,
        C: float = 1.0,
        seed: int = 7,
        baselines: bool = True,
        config: dict[str, Any] | None = None,
        callback: Callable[[Any], None] | None = None,
    ) -> None:
        if data.task != "classification":
            from qmlstudio.core.training import TrainingError

            raise TrainingError("a quantum-kernel SVM classifies; pick classification data")
        self.data = data
        self.model = model
        self.kernel = QuantumKernel(model, backend)
        self.C = C
        self.seed = seed
        self.baselines = baselines
        self.callback = callback
        self.record = RunRecord(config=config or {})
        self.svc: Any = None

    def run(self) -> RunRecord:
        from sklearn.svm import SVC

        from qmlstudio.core.training import IterationReport, package_versions, record_backend_use

        record = self.record
        record.versions = package_versions()
        record_backend_use(record, self.kernel.backend, self.kernel)
        start = time.perf_counter()
        gram = self.kernel.matrix(self.data.x_train)
        self.svc = SVC(kernel="precomputed", C=self.C).fit(gram, self.data.y_train)
        train_accuracy = float(self.svc.score(gram, self.data.y_train))
        test_accuracy = None
        if len(self.data.y_test):
            cross = self.kernel.matrix(self.data.x_test, self.data.x_train)
            test_accuracy = float(self.svc.score(cross, self.data.y_test))
        seconds = time.perf_counter() - start
        report = IterationReport(
            iteration=1, epoch=1, loss=float("nan"), test_loss=None, train_accuracy=train_accuracy,
            test_accuracy=test_accuracy, grad_norm=None, weights=np.zeros(0), elapsed_s=seconds, total_iterations=1,
        )
        record.append_metrics(**{**report.metrics(), "loss": None})
        if self.callback is not None:
            self.callback(report)
        record.final_weights = []
        record.timings = {"seconds": seconds, "seconds_per_epoch": seconds}
        if self.baselines:
            from qmlstudio.core.baselines import run_baselines

            record.baselines = run_baselines(self.data, self.seed)
            record.record_seeds({"baselines": self.seed})
        record.finish("completed", f"kernel-target alignment {kernel_target_alignment(gram, self.data.y_train):.3f}")
        return record
