"""Quantum-kernel support-vector machines.

The fidelity kernel k(x, y) = |⟨ψ(x)|ψ(y)⟩|² of the encoding's states, then
scikit-learn's ``SVC(kernel="precomputed")``. On the ``statevector`` backend (QML
Studio's own simulator) the states are simulated once per sample (a batched statevector)
and the Gram matrix is one matrix product; on any other backend (``aer-statevector``
included, with its ``sampler_shots``) the kernel is estimated through its sampler with the
compute-uncompute circuits of qiskit-machine-learning's ``FidelityQuantumKernel``.

A kernel has a bandwidth: the features are multiplied by it before the feature map
(Shaydulin & Wild 2022, "Importance of kernel bandwidth in quantum machine learning"); a
kernel too narrow for the data fits its training rows perfectly and generalises poorly.
:class:`KernelRun` chooses the SVM's C and the bandwidth by cross-validation on the
training rows (on the statevector backend, where each candidate bandwidth costs one simulation
of the training states), unless the project fixes them.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import numpy as np

from qmlstudio.core.control import Cancelled, Controls
from qmlstudio.core.models import ModelCircuit
from qmlstudio.core.preprocessing import PreparedData
from qmlstudio.core.project import RunRecord


class QuantumKernel:
    """Gram matrices of the encoding's fidelity kernel."""

    def __init__(self, model: ModelCircuit, backend: Any = None, bandwidth: float = 1.0) -> None:
        self.model = model
        self.bandwidth = float(bandwidth)
        self.backend = backend
        # exact states from QML Studio's own simulator (the statevector backend, or none);
        # any other backend's sampler estimates the fidelities from shots (aer-statevector's
        # with its sampler_shots)
        self.exact = backend is None or bool(getattr(backend, "engine", False))
        self.design = model.encoding_design
        self._qml_kernel = None

    def states(self, features: np.ndarray) -> np.ndarray:
        from qmlstudio.core.statevector import StatevectorProgram

        return StatevectorProgram(self.design).states((), self.model.inputs(self.bandwidth * np.asarray(features)))

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

            from qmlstudio.core.binding import bindable_circuit, bindable_sampler

            circuit = bindable_circuit(self.design.to_circuit())  # Qiskit/qiskit-aer#2323
            fidelity = ComputeUncompute(sampler=bindable_sampler(self.backend.sampler()),
                                        pass_manager=self.backend.pass_manager())
            self._qml_kernel = FidelityQuantumKernel(feature_map=circuit, fidelity=fidelity)
        xin = self.model.inputs(self.bandwidth * np.asarray(x))
        yin = None if y is None else self.model.inputs(self.bandwidth * np.asarray(y))
        return np.asarray(self._qml_kernel.evaluate(xin, yin))


def kernel_target_alignment(matrix: np.ndarray, labels: np.ndarray) -> float:
    """⟨K, yyᵀ⟩ / (‖K‖ ‖yyᵀ‖) with labels mapped to ±1 (one-vs-rest of the first class)."""
    y = np.where(labels == labels.min(), -1.0, 1.0)
    target = np.outer(y, y)
    return float(np.sum(matrix * target) / (np.linalg.norm(matrix) * np.linalg.norm(target)))


#: The candidates searched when C and the bandwidth are tuned (the defaults first: on equal
#: cross-validation scores the search keeps the first).
C_GRID = (1.0, 0.1, 10.0, 100.0)
BANDWIDTH_GRID = (1.0, 0.5, 0.25, 0.1)


class KernelRun:
    """Fits a quantum-kernel SVM on the training split and scores it on each split.

    ``tune`` names what cross-validation on the training rows chooses (``"C"``,
    ``"bandwidth"``); the others keep the values given. Tuning needs the statevector backend (exact states).
    """

    def __init__(
        self,
        *,
        data: PreparedData,
        model: ModelCircuit,
        backend: Any = None,
        C: float = 1.0,
        bandwidth: float = 1.0,
        tune: tuple[str, ...] = (),
        seed: int = 7,
        baselines: bool = True,
        config: dict[str, Any] | None = None,
        callback: Callable[[Any], None] | None = None,
        controls: Controls | None = None,
    ) -> None:
        if data.task != "classification":
            from qmlstudio.core.training import TrainingError

            raise TrainingError("a quantum-kernel SVM classifies; pick classification data")
        from qmlstudio.core.memory import check_simulation

        # The states of both splits at once, before anything is allocated.
        check_simulation(model.num_qubits, len(data.y_train) + len(data.y_test), num_gates=len(model.design.gates))
        self.data = data
        self.model = model
        if not (C > 0 and bandwidth > 0):
            from qmlstudio.core.training import TrainingError

            raise TrainingError(f"a kernel's C and bandwidth must be positive (got C={C!r}, bandwidth={bandwidth!r})")
        self.kernel = QuantumKernel(model, backend, bandwidth)
        self.C = C
        self.tune = tuple(tune)
        self.seed = seed
        self.baselines = baselines
        self.callback = callback
        self.record = RunRecord(config=config or {})
        self.svc: Any = None
        self.controls = controls or Controls()
        #: a kernel run has no final-weight predictions (see TrainingRun.final)
        self.final: Any = None

    # The Run protocol (qmlstudio.core.control.Run), as a kernel SVM answers it.
    kind = "kernel"
    #: one report, after the fit
    total_iterations = 1
    #: the weights its reports carry: none (the SVM's dual coefficients are counted in
    #: ``record.parameters`` once fitted)
    num_parameters = 0

    @property
    def backend(self) -> Any:
        return self.kernel.backend

    @property
    def exact(self) -> bool:
        """Whether the kernel's states are exact (the statevector backend), not sampled."""
        return bool(self.kernel.exact)

    def fit_baselines(self) -> dict[str, Any]:
        """``{}``: a kernel run fits its baselines in :meth:`run`, once the SVM's parameter
        count (which the baselines are compared with) is known."""
        return {}

    @contextmanager
    def uninterrupted(self) -> Iterator[None]:
        yield

    def predict_proba(self, features: np.ndarray, parameters: Any = None) -> np.ndarray:
        """Class scores (samples × classes, rows summing to 1) of prepared rows from the
        fitted SVM's decision function (a logistic squashing of the signed distance for two
        classes, a softmax of the one-vs-rest scores otherwise); ``parameters`` is ignored."""
        if self.svc is None:
            from qmlstudio.core.training import TrainingError

            raise TrainingError("the kernel SVM is not fitted yet: run it first")
        decision = np.asarray(self.svc.decision_function(self.kernel.matrix(features, self.data.x_train)), dtype=float)
        if decision.ndim == 1:
            p1 = 1.0 / (1.0 + np.exp(-2.0 * decision))
            return np.column_stack([1 - p1, p1])
        e = np.exp(decision - decision.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def run(self) -> RunRecord:
        from sklearn.svm import SVC

        from qmlstudio.core.training import IterationReport, package_versions, record_backend_use

        record = self.record
        record.versions = package_versions()
        record_backend_use(record, self.kernel.backend, self.kernel)
        start = time.perf_counter()
        try:
            self.controls.check()
            gram = self._tuned_gram()
            self.controls.check()
        except Cancelled:
            record.finish("stopped", "stopped before the kernel SVM was fitted")
            return record
        self.svc = SVC(kernel="precomputed", C=self.C).fit(gram, self.data.y_train)
        record.parameters = int(np.size(self.svc.dual_coef_) + np.size(self.svc.intercept_))
        train_accuracy = float(self.svc.score(gram, self.data.y_train))
        val_accuracy = test_accuracy = None
        if len(self.data.y_val):
            val_accuracy = float(self.svc.score(self.kernel.matrix(self.data.x_val, self.data.x_train), self.data.y_val))
        if len(self.data.y_test):  # scored once, after everything was chosen
            cross = self.kernel.matrix(self.data.x_test, self.data.x_train)
            test_accuracy = float(self.svc.score(cross, self.data.y_test))
            record.test = {"loss": None, "accuracy": test_accuracy}
        record.measured_at = {k: "final_weights" for k in ("train_accuracy", "val_accuracy", "test_accuracy")}
        seconds = time.perf_counter() - start
        report = IterationReport(
            iteration=1, epoch=1, loss=float("nan"), test_loss=None, train_accuracy=train_accuracy,
            test_accuracy=test_accuracy, grad_norm=None, weights=np.zeros(0), elapsed_s=seconds, total_iterations=1,
            val_accuracy=val_accuracy,
        )
        record.append_metrics(**{**report.metrics(), "loss": None})
        if self.callback is not None:
            self.callback(report)
        record.final_weights = []
        record.timings = {"seconds": seconds, "seconds_per_epoch": seconds}
        if self.baselines:
            from qmlstudio.core.baselines import run_baselines

            record.baselines = run_baselines(self.data, self.seed, quantum_parameters=record.parameters)
            record.record_seeds({"baselines": self.seed})
        record.finish("completed", f"kernel-target alignment {kernel_target_alignment(gram, self.data.y_train):.3f}")
        return record

    def _tuned_gram(self) -> np.ndarray:
        """The training Gram matrix at the chosen bandwidth, after choosing C and the
        bandwidth by cross-validation on the training rows (what ``tune`` names)."""
        from sklearn.model_selection import GridSearchCV
        from sklearn.svm import SVC

        from qmlstudio.core.baselines import cross_validation

        tune = [name for name in self.tune if name in ("C", "bandwidth")]
        if not tune:
            return self.kernel.matrix(self.data.x_train)
        folds = cross_validation("classification", self.data.y_train, self.seed)
        grid = {"C": list(C_GRID) if "C" in tune else [self.C],
                "bandwidth": list(BANDWIDTH_GRID) if "bandwidth" in tune else [self.kernel.bandwidth]}
        record = self.record
        if not self.kernel.exact or folds is None:
            why = "the kernel is estimated from shots" if not self.kernel.exact else "too few training rows per class"
            record.tuning = {"grid": grid, "chosen": None, "note": f"not tuned: {why}; C={self.C:g}, "
                             f"bandwidth={self.kernel.bandwidth:g} as set"}
            return self.kernel.matrix(self.data.x_train)
        best: tuple[float, float, float, np.ndarray] | None = None
        for bandwidth in grid["bandwidth"]:
            self.controls.check()
            self.kernel.bandwidth = float(bandwidth)
            gram = self.kernel.matrix(self.data.x_train)
            search = GridSearchCV(SVC(kernel="precomputed"), {"C": grid["C"]}, cv=folds[0], n_jobs=1)
            search.fit(gram, self.data.y_train)
            if best is None or search.best_score_ > best[0]:
                best = (float(search.best_score_), float(bandwidth), float(search.best_params_["C"]), gram)
        assert best is not None
        score, bandwidth, self.C, gram = best
        self.kernel.bandwidth = bandwidth
        record.tuning = {
            "grid": grid, "chosen": {"C": self.C, "bandwidth": bandwidth}, "cv": folds[1], "cv_score": score,
            "note": "C and the bandwidth (features × bandwidth before the feature map) chosen by "
                    "cross-validation on the training rows only",
        }
        return gram
