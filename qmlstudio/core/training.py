"""Training runs: mini-batch training of a quantum model, reported every iteration.

A :class:`TrainingRun` takes prepared data, the model circuit, an optimizer and a backend
(plugin objects, passed in: the core never looks plugins up), trains for a number of
epochs and calls ``callback(IterationReport)`` after every iteration. It honours a cancel
token and a pause flag within one second (the checks sit in every loss evaluation and
between iterations), stops with a clear message when the loss is not finite (keeping the
best weights so far), stops early on the validation loss when asked, and can resume from
a saved run. Everything it did is kept in a :class:`~qmlstudio.core.project.RunRecord`.

The test split decides nothing: it is scored once, after training, at the final weights.
Each metrics row says where it was measured (``RunRecord.measured_at``): the loss and
gradient norm where the optimizer measured them (its ``loss_at``: before the step for
Adam and SGD, after it for the SciPy methods, around the weights before the step for
SPSA), the training and validation figures at the weights after the step, which are the
row's weights.
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, Iterator

import numpy as np

from qmlstudio.core.control import Cancelled, Controls
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.memory import check_simulation
from qmlstudio.core.models import (
    ClassifierHead,
    ExactEvaluator,
    Head,
    ModelCircuit,
    NoisyExactEvaluator,
    PrimitiveEvaluator,
    RegressorHead,
)
from qmlstudio.core.preprocessing import PreparedData
from qmlstudio.core.project import RunRecord, now_iso

GRADIENT_METHODS = ("auto", "adjoint", "parameter-shift")


class TrainingError(QMLStudioError):
    """The run cannot start (bad choices) or failed."""


class EarlyStopping:
    """The rule that stops training early, for the built-in runs and a plugin's models alike:
    at the first epoch whose validation loss has not improved on the best so far (by more
    than 1e-9) for ``patience`` epochs. Refused (:class:`TrainingError`) without validation
    rows: the test split never decides anything."""

    def __init__(self, patience: int, validation_rows: int) -> None:
        if validation_rows == 0:
            raise TrainingError(
                "early stopping needs a validation split, and this project has none (validation size 0); "
                "set one (qmlstudio new --validation-size 0.2, or Validation in the dataset panel) or turn "
                "early stopping off. The test split is never used to decide when to stop."
            )
        self.patience = int(patience)
        self.best = math.inf
        self.waited = 0

    def update(self, val_loss: float) -> bool:
        """Takes an epoch's validation loss; True when training should stop now."""
        if val_loss < self.best - 1e-9:
            self.best, self.waited = val_loss, 0
            return False
        self.waited += 1
        return self.waited >= self.patience

    def message(self, epoch: int) -> str:
        return f"stopped early at epoch {epoch}: the validation loss did not improve for {self.patience} epochs"


@dataclass
class TrainingOptions:
    """How a run trains; the project's ``training`` and ``model.options`` fill it."""

    epochs: int = 30
    batch_size: int | None = None
    early_stopping: bool = False
    patience: int = 5
    seed: int = 7
    readout: str = "modulo"
    trainable_output: bool = False
    gradient: str = "auto"
    #: how many iterations between evaluations of the train and validation splits (0: once
    #: per epoch, the default: on mini-batches evaluating every step costs more than the step)
    eval_every: int = 0
    #: initial weights are drawn uniformly from [-init_scale·π, init_scale·π] (small-angle
    #: initialisation: an ``init_scale`` ε well below 1)
    init_scale: float = 1.0
    #: ``uniform`` (or ``small-angle``: the same draw, the name saying that ε is small), or
    #: ``identity-blocks`` (Grant et al. 2019): the circuit's second half mirrors its first
    #: (:func:`~qmlstudio.core.analysis.identity_block`) and its weights start equal to the
    #: first half's, so the initial circuit is the identity
    init: str = "uniform"
    baselines: bool = True
    #: a warm start: the parameters (circuit weights, then the head's) the run starts from
    #: instead of drawn ones, e.g. a previous run's final weights
    start_weights: tuple[float, ...] | None = None
    #: circuit weights that stay where they start: their gradient is 0 (the layers trained
    #: before in layerwise training)
    frozen: tuple[int, ...] = ()


@dataclass
class IterationReport:
    """What the engine reports after each iteration."""

    iteration: int
    epoch: int
    loss: float
    test_loss: float | None
    train_accuracy: float | None
    test_accuracy: float | None
    grad_norm: float | None
    weights: np.ndarray
    elapsed_s: float
    shots: int = 0
    total_iterations: int = 0
    val_loss: float | None = None
    val_accuracy: float | None = None
    #: a hybrid network's gradient norms of its classical and of its quantum parameters
    grad_norm_classical: float | None = None
    grad_norm_quantum: float | None = None

    def metrics(self) -> dict[str, Any]:
        return {
            "iteration": self.iteration,
            "epoch": self.epoch,
            "loss": self.loss,
            "test_loss": self.test_loss,
            "train_accuracy": self.train_accuracy,
            "test_accuracy": self.test_accuracy,
            "grad_norm": self.grad_norm,
            "elapsed_s": self.elapsed_s,
            "val_loss": self.val_loss,
            "val_accuracy": self.val_accuracy,
            "grad_norm_classical": self.grad_norm_classical,
            "grad_norm_quantum": self.grad_norm_quantum,
        }


@dataclass
class Predictions:
    """A run's final weights applied to one split: the one result every view of the run shows.

    ``split`` is ``"test"`` (``"train"`` when there is no test split); ``predictions`` are
    the predicted labels (values, for a regressor, in the engine's [-1, 1] units) of its
    samples, ``targets`` the true ones, ``accuracy`` the score (R² for a regressor), and
    ``confusion`` the confusion matrix (rows: true class, columns: predicted; None for a
    regressor). The confusion matrix's trace over its total is ``accuracy``.
    """

    split: str
    weights: np.ndarray
    targets: np.ndarray
    predictions: np.ndarray
    loss: float
    accuracy: float
    confusion: np.ndarray | None


def confusion_matrix(targets: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts of samples by true class (rows) and predicted class (columns)."""
    matrix = np.zeros((num_classes, num_classes), dtype=int)
    np.add.at(matrix, (np.asarray(targets, dtype=int), np.asarray(predicted, dtype=int)), 1)
    return matrix


def initial_weights(count: int, seed: int, scale: float = 1.0, init: str = "uniform") -> np.ndarray:
    """The circuit weights a run starts from: uniform in [-π, π) × ``scale``, drawn with ``seed``;
    for ``identity-blocks`` the first half drawn so and the second half (the mirror) equal to it."""
    if init == "identity-blocks":
        half = np.random.default_rng(seed).uniform(-np.pi, np.pi, count // 2) * scale
        return np.concatenate([half, half])
    return np.random.default_rng(seed).uniform(-np.pi, np.pi, count) * scale


def batches_per_epoch(rows: int, batch_size: int | None) -> int:
    """Mini-batches (so iterations) in one epoch over ``rows`` training rows."""
    return 1 if not batch_size or batch_size >= rows else math.ceil(rows / batch_size)


def package_versions() -> dict[str, str]:
    """Versions of the packages a run depends on, for its record."""
    import importlib.metadata
    import platform

    versions = {"python": platform.python_version()}
    # numba compiles the exact simulator's loops; qiskit-ibm-runtime gives the device models
    # (noise, coupling maps) of aer-noise and runs the ibm backend.
    for name in ("qmlstudio", "qiskit", "qiskit-aer", "qiskit-machine-learning", "numpy", "scipy", "scikit-learn",
                 "numba", "qiskit-ibm-runtime", "qiskit-aer-gpu"):
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def record_backend_use(record: RunRecord, backend: Any, evaluator: Any) -> None:
    """Writes into ``record`` what actually ran the circuits and the seeds it used.

    On the exact path (``evaluator.exact``, the ``statevector`` backend) QML Studio's own
    statevector simulator runs everything in double precision on the CPU; otherwise the
    backend's primitives run the circuits (its Estimator for an exact backend such as
    ``aer-statevector``, its Sampler otherwise) with the options it reports
    (``backend.applied_options()``) and seeds (``backend.random_seeds()``).
    """
    if getattr(evaluator, "exact", False):
        applied: dict[str, Any] = {"evaluator": "exact statevector (QML Studio, adjoint gradients)",
                                   "precision": "double", "device": "CPU", "shots": None}
        threads = getattr(backend, "threads", None)
        if threads is not None:
            applied["threads"] = threads
        record.backend_applied = applied
        return
    method = getattr(evaluator, "gradient_method", None)  # none for a kernel (fidelities only)
    primitive = "backend estimator" if getattr(evaluator, "uses_estimator", False) else "backend sampler"
    applied = {"evaluator": primitive + (f" ({method} gradients)" if method else " (compute-uncompute fidelities)")}
    report = getattr(backend, "applied_options", None)
    if callable(report):
        applied.update(report())
    record.backend_applied = applied
    seeds = getattr(backend, "random_seeds", None)
    if callable(seeds):
        record.record_seeds({f"backend_{name}": value for name, value in seeds().items()})


class _Objective:
    """The loss on the current mini-batch, as the optimizer's Problem."""

    def __init__(self, run: "TrainingRun") -> None:
        self.run = run
        self.batch = np.arange(len(run.data.y_train))
        self.last: tuple[np.ndarray, float, float | None] | None = None
        #: what was not finite in the latest evaluation (None when all was finite): an
        #: optimizer may end on a NaN gradient without reporting the iteration
        self.not_finite: str | None = None

    def _split(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        n = self.run.model.num_weights
        return x[:n], x[n:]

    def value(self, x: np.ndarray) -> float:
        self.run.controls.check()
        if not np.all(np.isfinite(x)):  # the optimizer stepped to infinity: the run diverged
            self.not_finite = "weights not finite"
            return math.nan
        weights, extra = self._split(np.asarray(x, dtype=float))
        values = self.run.evaluator.values(weights, self.run.train_inputs[self.batch])
        loss = self.run.head.loss(values, extra, self.run.data.y_train[self.batch])[0]
        self.last = (np.array(x, dtype=float), loss, None)
        self.not_finite = None if math.isfinite(loss) else f"loss {loss}"
        return loss

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.run.controls.check()
        if not np.all(np.isfinite(x)):
            self.not_finite = "weights not finite"
            return math.nan, np.full(np.shape(x), math.nan)
        weights, extra = self._split(np.asarray(x, dtype=float))
        values, pullback = self.run.evaluator.values_and_pullback(weights, self.run.train_inputs[self.batch])
        loss, d_values, d_extra = self.run.head.loss(values, extra, self.run.data.y_train[self.batch])
        grad = np.concatenate([pullback(d_values), d_extra])
        if self.run.options.frozen:
            grad[list(self.run.options.frozen)] = 0.0
        with np.errstate(over="ignore", invalid="ignore"):
            norm = float(np.linalg.norm(grad))
        self.last = (np.array(x, dtype=float), loss, norm)
        if not math.isfinite(loss):
            self.not_finite = f"loss {loss}"
        elif not math.isfinite(norm):
            # Finite parts whose squares overflow (an angle like θ[0]*1e308) stop the run as a
            # divergence; the optimizer gets NaN, not values that overflow in its own arithmetic.
            self.not_finite = "gradient not finite" if not np.all(np.isfinite(grad)) else "gradient too large (its norm overflows)"
            grad = np.full(np.shape(grad), math.nan)
        else:
            self.not_finite = None
        return loss, grad


def check_memory(data: PreparedData, model: ModelCircuit, kind: str) -> int:
    """The bytes a run of ``model`` on ``data`` simulates at once (evaluations take a whole
    split); :class:`~qmlstudio.core.memory.SimulationTooLarge` when the machine lacks them."""
    return check_simulation(
        model.num_qubits,
        max(len(data.y_train), len(data.y_test), 1),
        num_observables=data.num_classes if kind == "vqc" else 1,
        num_gates=len(model.design.gates),
    )


class TrainingRun:
    """One training of a variational classifier or regressor.

    ``optimizer`` is an :class:`~qmlstudio.plugins.descriptors.Optimizer` and ``backend`` a
    :class:`~qmlstudio.plugins.descriptors.Backend` (or None for the built-in exact
    simulator). ``record`` continues a saved run: its final weights are the start and
    its iterations are counted on.
    """

    def __init__(
        self,
        *,
        data: PreparedData,
        model: ModelCircuit,
        kind: str,
        optimizer: Any,
        backend: Any = None,
        options: TrainingOptions | None = None,
        record: RunRecord | None = None,
        config: dict[str, Any] | None = None,
        callback: Callable[[IterationReport], None] | None = None,
        controls: Controls | None = None,
    ) -> None:
        self.data = data
        self.model = model
        self.kind = kind
        self.optimizer = optimizer
        self.backend = backend
        self.options = options or TrainingOptions()
        self.callback = callback
        self.controls = controls or Controls()
        self.resumed = record is not None
        self.record = record or RunRecord(config=config or {})
        if self.options.gradient not in GRADIENT_METHODS:
            raise TrainingError(f"gradient must be one of {', '.join(GRADIENT_METHODS)}")
        if kind == "vqc":
            if data.task != "classification":
                raise TrainingError("a classifier needs classification data")
            self.head: Head = ClassifierHead(data.num_classes, self.options.readout, self.options.trainable_output)
        elif kind == "regressor":
            if data.task != "regression":
                raise TrainingError("a regressor needs regression data (numbers as targets)")
            self.head = RegressorHead(self.options.trainable_output)
        else:
            raise TrainingError(f"TrainingRun trains 'vqc' and 'regressor' models, not {kind!r}")
        # Refuse a model too wide for this machine before its observables or states exist.
        check_memory(data, model, kind)
        observables = self.head.observables(model.num_qubits)
        # QML Studio's own simulator (the statevector backend, or no backend) computes adjoint
        # gradients; every other backend runs its own primitives, with parameter-shift gradients.
        engine = backend is None or bool(getattr(backend, "engine", False))
        # the exact noisy backend: density matrices in the engine, reverse mode through the channels
        noisy_exact = backend is not None and callable(getattr(backend, "noisy_program", None))
        if self.options.gradient == "adjoint" and not engine and not noisy_exact:
            raise TrainingError(
                f"adjoint gradients are computed by QML Studio's own simulator (backend statevector), "
                f"not by {backend.describe()}; choose gradient auto or parameter-shift for this backend, "
                "or the statevector backend"
            )
        if self.options.gradient == "parameter-shift" and backend is not None and engine:
            raise TrainingError(
                "parameter-shift gradients run a backend's primitives, and the statevector backend "
                "(QML Studio's own simulator) has none; choose gradient auto or adjoint, or a primitive "
                "backend such as aer-statevector (exact values through qiskit-aer) or aer-shots"
            )
        use_exact = engine and self.options.gradient in ("auto", "adjoint")
        if use_exact:
            # Pause and Stop act between the parts of a batch, not only between iterations.
            # The backend's threads option (statevector,threads=N) sets the engine's threads.
            self.evaluator: Any = ExactEvaluator(model.design, observables, checkpoint=self.controls.check,
                                                 threads=getattr(backend, "threads", None))
        else:
            if backend is None:
                raise TrainingError("parameter-shift gradients need a backend")
            self.evaluator = (NoisyExactEvaluator(model.design, observables, backend)
                              if noisy_exact and self.options.gradient in ("auto", "adjoint")
                              else PrimitiveEvaluator(model.design, observables, backend))
        self.train_inputs = model.inputs(data.x_train)
        self.test_inputs = model.inputs(data.x_test) if len(data.x_test) else self.train_inputs[:0]
        self.val_inputs = model.inputs(data.x_val) if len(data.x_val) else self.train_inputs[:0]
        self.best: tuple[float, np.ndarray] | None = None
        self._baselines_fitted = False
        #: the final weights' predictions, once :meth:`run` has ended (None before, or if they failed)
        self.final: Predictions | None = None
        if self.options.early_stopping:
            EarlyStopping(self.options.patience, len(data.y_val))  # refused without a validation split

    # ----------------------------------------------------------------- parts
    @property
    def num_parameters(self) -> int:
        return self.model.num_weights + self.head.num_extra

    def initial_parameters(self) -> np.ndarray:
        if self.resumed and self.record.final_weights:
            start = np.array([np.nan if w is None else w for w in self.record.final_weights], dtype=float)
            if start.shape == (self.num_parameters,) and np.all(np.isfinite(start)):
                return start
            raise TrainingError(
                f"the saved run has {len(self.record.final_weights)} weights, this model needs {self.num_parameters}"
            )
        if self.options.start_weights is not None:
            start = np.asarray(self.options.start_weights, dtype=float)
            if start.shape != (self.num_parameters,) or not np.all(np.isfinite(start)):
                raise TrainingError(f"a warm start needs {self.num_parameters} finite parameters (the circuit's weights, "
                                    f"then the readout's), got {start.size}: the same circuit and readout as the run it "
                                    "starts from")
            return start.copy()
        weights = initial_weights(self.model.num_weights, self.options.seed, self.options.init_scale, self.options.init)
        return np.concatenate([weights, self.head.initial_extra()])

    def _batches_per_epoch(self) -> int:
        return batches_per_epoch(len(self.data.y_train), self.options.batch_size)

    @property
    def total_iterations(self) -> int:
        """The iteration the run will have reached when its epochs are done (a resumed
        run counts on from its saved iterations)."""
        total = self.options.epochs * self._batches_per_epoch()
        if self.resumed and self.record.num_points:
            total += int(self.record.metrics["iteration"][-1] or 0)
        return total

    @property
    def exact(self) -> bool:
        """Whether the run evaluates on QML Studio's own exact simulator (no shots, no noise)."""
        return bool(getattr(self.evaluator, "exact", False))

    def fit_baselines(self) -> dict[str, Any]:
        """Fits the classical baselines now, when the options ask for them (``{}`` otherwise),
        and keeps them in the record so that :meth:`run` does not fit them again: the GUI
        shows them as references before the first iteration. ``controls.cancel()`` stops it."""
        if not self.options.baselines:
            return {}
        if not self._baselines_fitted:
            from qmlstudio.core.baselines import run_baselines

            self.record.baselines = run_baselines(
                self.data, self.options.seed, quantum_parameters=self.num_parameters, controls=self.controls
            )
            self.record.record_seeds({"baselines": self.options.seed})
            self._baselines_fitted = True
        return dict(self.record.baselines or {})

    def evaluate(self, parameters: np.ndarray, which: str = "test") -> tuple[float | None, float | None]:
        """Loss and accuracy (R² for regression) on the ``"train"``, ``"val"`` or ``"test"`` split."""
        inputs, targets = {
            "test": (self.test_inputs, self.data.y_test),
            "val": (self.val_inputs, self.data.y_val),
            "train": (self.train_inputs, self.data.y_train),
        }[which]
        if len(targets) == 0:
            return None, None
        weights, extra = parameters[: self.model.num_weights], parameters[self.model.num_weights :]
        values = self.evaluator.values(weights, inputs)
        loss = self.head.loss(values, extra, targets)[0]
        return loss, self.head.score(self.head.predict(values, extra), targets)

    @contextmanager
    def uninterrupted(self) -> Iterator[None]:
        """Within it, the evaluator ignores Pause and Stop: for the evaluations that describe
        a run that has ended (a stopped run's final predictions must not be cut short)."""
        program = getattr(self.evaluator, "program", None)
        checkpoint = getattr(program, "checkpoint", None)
        if program is not None:
            program.checkpoint = None
        try:
            yield
        finally:
            if program is not None:
                program.checkpoint = checkpoint

    def final_predictions(self, parameters: np.ndarray) -> Predictions:
        """The predictions of ``parameters`` on the test split (the training split when
        there is no test split), uninterrupted: see :class:`Predictions`."""
        has_test = len(self.data.y_test) > 0
        inputs, targets = (self.test_inputs, self.data.y_test) if has_test else (self.train_inputs, self.data.y_train)
        parameters = np.asarray(parameters, dtype=float)
        weights, extra = parameters[: self.model.num_weights], parameters[self.model.num_weights :]
        with self.uninterrupted():
            values = self.evaluator.values(weights, inputs)
        loss = float(self.head.loss(values, extra, targets)[0])
        predicted = self.head.predict(values, extra)
        confusion = confusion_matrix(targets, predicted, self.data.num_classes) if self.kind == "vqc" else None
        return Predictions("test" if has_test else "train", parameters.copy(), np.asarray(targets), np.asarray(predicted),
                           loss, float(self.head.score(predicted, targets)), confusion)

    def _describe_final(self, final: np.ndarray, last_reported: np.ndarray | None) -> None:
        """Sets :attr:`final` and makes the record's last row describe the final weights when
        they are that row's weights but it was not evaluated (a run stopped between two
        evaluations), so that the curves' last point, the tiles and the confusion matrix agree.
        Only on an exact evaluator: on shots or hardware another evaluation would cost shots
        (and jobs) and give other numbers anyway."""
        if not getattr(self.evaluator, "exact", False):
            return
        self.final = self.final_predictions(final)
        record = self.record
        if not record.num_points or last_reported is None or not np.array_equal(last_reported, final):
            return
        metrics = record.metrics
        with self.uninterrupted():
            if metrics["train_accuracy"][-1] is None:
                metrics["train_accuracy"][-1] = self.evaluate(final, "train")[1]
            if metrics["val_accuracy"][-1] is None and len(self.data.y_val):
                metrics["val_loss"][-1], metrics["val_accuracy"][-1] = self.evaluate(final, "val")

    def predict(self, parameters: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Predicted labels, or for regression values in the data's own units, for prepared rows."""
        weights, extra = parameters[: self.model.num_weights], parameters[self.model.num_weights :]
        values = self.evaluator.values(weights, self.model.inputs(features))
        predictions = self.head.predict(values, extra)
        if self.kind == "regressor":
            return (predictions + 1.0) / self.data.target_factor + self.data.target_offset
        return predictions

    def predict_proba(self, features: np.ndarray, parameters: np.ndarray | None = None) -> np.ndarray:
        """Class probabilities (samples × classes) of a classifier, or a regressor's predicted
        values in the data's own units, for prepared rows at ``parameters`` (the run's final
        weights when None)."""
        if parameters is None:
            parameters = np.array([np.nan if w is None else w for w in self.record.final_weights], dtype=float)
            if parameters.shape != (self.num_parameters,) or not np.all(np.isfinite(parameters)):
                raise TrainingError("the run has no finite final weights yet: pass the parameters")
        parameters = np.asarray(parameters, dtype=float)
        weights, extra = parameters[: self.model.num_weights], parameters[self.model.num_weights :]
        values = self.evaluator.values(weights, self.model.inputs(features))
        if self.kind == "regressor":
            return (self.head.predict(values, extra) + 1.0) / self.data.target_factor + self.data.target_offset
        return np.asarray(self.head.probabilities(values, extra), dtype=float)  # type: ignore[attr-defined]

    def measured_at(self) -> dict[str, str]:
        """Where each metric of a row is measured (see the module's docstring)."""
        loss_at = getattr(self.optimizer, "loss_at", None)
        loss_at = loss_at if loss_at in ("before_step", "after_step", "around_before_step") else "unknown"
        return {
            "loss": loss_at,
            "grad_norm": loss_at,
            "train_accuracy": "after_step",
            "val_loss": "after_step",
            "val_accuracy": "after_step",
            "test_loss": "final_weights",
            "test_accuracy": "final_weights",
        }

    def _close_backend(self) -> None:
        close = getattr(self.backend, "close", None)
        if callable(close):
            try:
                close()
            except Exception:  # noqa: BLE001 - releasing a session must not lose the run
                pass

    def _score_test(self, final: np.ndarray, last_row: np.ndarray | None, stopped: bool) -> None:
        """Scores the test split once, at the final weights, into ``record.test``.

        The figures also go into the last metrics row when that row's weights are the
        final ones. After a Stop only an exact simulation is scored (a remote backend is
        not sent new work once the user stopped).
        """
        record = self.record
        if len(self.data.y_test) == 0 or not np.all(np.isfinite(final)):
            return
        final_ = self.final
        if final_ is not None and final_.split == "test" and np.array_equal(final_.weights, final):
            # the final predictions (exact simulation) already scored it: the same numbers everywhere
            loss, score = (final_.loss if math.isfinite(final_.loss) else None), final_.accuracy
        else:
            if stopped and not isinstance(self.evaluator, ExactEvaluator):
                return
            try:
                with self.uninterrupted():
                    loss, score = self.evaluate(final, "test")
            except (Cancelled, QMLStudioError, FloatingPointError, OverflowError):
                return
        record.test = {"loss": loss, "accuracy": score}
        if last_row is not None and record.num_points and np.array_equal(last_row, final):
            record.metrics["test_loss"][-1] = loss
            record.metrics["test_accuracy"][-1] = score

    # ------------------------------------------------------------------- run
    def run(self) -> RunRecord:
        """Trains; returns the run record (also on stop or failure, never raises for those)."""
        record = self.record
        record.status = "running"
        record.versions = package_versions()
        record.parameters = self.num_parameters
        record.measured_at = self.measured_at()
        options = self.options
        record.record_seeds({"initial_weights": options.seed, "shuffle": options.seed})
        record_backend_use(record, self.backend, self.evaluator)
        per_epoch = self._batches_per_epoch()
        total = options.epochs * per_epoch
        done = record.num_points
        offset_iteration = int(record.metrics["iteration"][-1]) if done else 0
        offset_epoch = int(record.metrics["epoch"][-1]) if done else 0
        x0 = self.initial_parameters()
        if not self.resumed or not record.initial_weights:
            record.initial_weights = x0.tolist()
        objective = _Objective(self)
        rng = np.random.default_rng(options.seed + offset_iteration)
        order = {"epoch": -1, "perm": np.arange(len(self.data.y_train))}
        start = time.perf_counter()
        elapsed_before = float(record.metrics["elapsed_s"][-1] or 0.0) if done else 0.0
        paused_before = self.controls.paused_s

        def elapsed() -> float:
            """Training time: the wall time since the start, less the time spent paused."""
            return elapsed_before + time.perf_counter() - start - (self.controls.paused_s - paused_before)

        state: dict[str, Any] = {"stop": None, "message": "", "last_reported": None}
        stopping = EarlyStopping(options.patience, len(self.data.y_val)) if options.early_stopping else None
        n_train = len(self.data.y_train)
        size = options.batch_size or n_train

        def choose_batch(iteration: int) -> None:
            epoch, position = divmod(iteration, per_epoch)
            if per_epoch == 1:
                objective.batch = np.arange(n_train)
                return
            if order["epoch"] != epoch:
                order["epoch"], order["perm"] = epoch, rng.permutation(n_train)
            objective.batch = order["perm"][position * size : (position + 1) * size]

        choose_batch(0)

        def on_step(step: Any) -> bool:
            iteration = int(step.iteration)
            x = np.asarray(step.x, dtype=float)
            loss = float(step.loss)
            epoch_index = (iteration - 1) // per_epoch
            end_of_epoch = iteration % per_epoch == 0
            if not math.isfinite(loss) or not np.all(np.isfinite(x)):
                best_text = (
                    f"; kept the best weights so far (loss {self.best[0]:.4g})" if self.best is not None else ""
                )
                state["stop"] = "failed"
                state["message"] = (
                    f"the loss diverged ({loss}) at iteration {offset_iteration + iteration}: try a smaller "
                    f"learning rate{best_text}"
                )
                return True
            if self.best is None or loss < self.best[0]:
                self.best = (loss, x.copy())
            evaluate_now = end_of_epoch if options.eval_every == 0 else iteration % max(1, options.eval_every) == 0
            # Early stopping decides on the validation loss at the end of each epoch, whatever eval_every says.
            evaluate_now = evaluate_now or iteration == total or (options.early_stopping and end_of_epoch)
            val_loss = val_score = train_score = None
            if evaluate_now:
                val_loss, val_score = self.evaluate(x, "val")
                if per_epoch == 1:
                    weights, extra = x[: self.model.num_weights], x[self.model.num_weights :]
                    values = self.evaluator.values(weights, self.train_inputs)
                    train_score = self.head.score(self.head.predict(values, extra), self.data.y_train)
                else:
                    train_score = self.evaluate(x, "train")[1]
            report = IterationReport(
                iteration=offset_iteration + iteration,
                epoch=(offset_iteration + iteration - 1) // per_epoch + 1,
                loss=loss,
                test_loss=None,
                train_accuracy=train_score,
                test_accuracy=None,
                val_loss=val_loss,
                val_accuracy=val_score,
                grad_norm=None if step.grad_norm is None else float(step.grad_norm),
                weights=x.copy(),
                elapsed_s=elapsed(),
                shots=int(getattr(self.evaluator, "shots_used", 0)),
                total_iterations=offset_iteration + total,
            )
            record.append_metrics(**report.metrics())
            record.final_weights = x.tolist()
            state["last_reported"] = x.copy()
            if self.callback is not None:
                self.callback(report)
            if stopping is not None and end_of_epoch and val_loss is not None and stopping.update(val_loss):
                state["stop"], state["message"] = "completed", stopping.message(report.epoch)
                return True
            if iteration < total:
                choose_batch(iteration)
            try:
                self.controls.check()
            except Cancelled:
                state["stop"] = "stopped"
                state["message"] = f"stopped by the user after iteration {report.iteration}"
                return True
            return False

        # Stop also reaches the backend (a hardware backend cancels its remote job).
        backend_cancel = getattr(self.backend, "cancel", None)
        detach = self.controls.on_cancel(backend_cancel) if callable(backend_cancel) else (lambda: None)
        try:
            result = self.optimizer.minimize(objective, x0, max_iterations=total, callback=on_step)
            final = np.asarray(result.x, dtype=float)
        except Cancelled:
            state["stop"] = "stopped"
            last = record.metrics["iteration"][-1] if record.num_points else 0
            state["message"] = f"stopped by the user after iteration {last}"
            final = np.array(record.final_weights or x0, dtype=float)
        except (FloatingPointError, OverflowError) as exc:
            state["stop"], state["message"] = "failed", f"the loss could not be computed: {exc}"
            final = self.best[1] if self.best else x0
        except QMLStudioError as exc:
            if self.controls.cancelled.is_set():  # the backend gave up its job because of Stop
                state["stop"] = "stopped"
                last = record.metrics["iteration"][-1] if record.num_points else 0
                state["message"] = f"stopped by the user after iteration {last} ({exc})"
                final = np.array(record.final_weights or x0, dtype=float)
            else:
                state["stop"], state["message"] = "failed", str(exc)
                final = self.best[1] if self.best else x0
        except BaseException:
            self._close_backend()  # an unexpected error: release the session before it propagates
            raise
        finally:
            detach()
        reported = (int(record.metrics["iteration"][-1]) if record.num_points else 0) - offset_iteration
        if state["stop"] is None and objective.not_finite is not None and reported < total:
            # The optimizer gave up on a loss or gradient that is not finite without reporting it.
            best_text = f"; kept the best weights so far (loss {self.best[0]:.4g})" if self.best is not None else ""
            state["stop"] = "failed"
            state["message"] = (
                f"the loss diverged ({objective.not_finite}) at iteration {offset_iteration + reported + 1}: "
                f"try a smaller learning rate{best_text}"
            )
        if state["stop"] == "failed" and self.best is not None:
            final = self.best[1]
        if not np.all(np.isfinite(final)):
            final = self.best[1] if self.best else x0
        record.final_weights = np.asarray(final, dtype=float).tolist()
        try:
            self._describe_final(np.asarray(final, dtype=float), state["last_reported"])
        except Exception as exc:  # noqa: BLE001 - describing the end must not lose the run
            self.final = None
            if not state["message"]:
                state["message"] = f"the final weights could not be evaluated: {exc}"
        seconds = elapsed()
        epochs_done = (record.metrics["epoch"][-1] or 0) if record.num_points else 0
        record.timings = {"seconds": seconds, "seconds_per_epoch": seconds / epochs_done if epochs_done else None}
        try:
            self._score_test(final, state["last_reported"], stopped=state["stop"] == "stopped")
        finally:
            self._close_backend()  # after the test split: it runs on the same session
        if options.baselines and not self._baselines_fitted and state["stop"] not in ("stopped",):
            self.fit_baselines()
        status = state["stop"] or "completed"
        record.finish(status, state["message"])
        return record
