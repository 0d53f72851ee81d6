"""Training on a worker thread: the engine's callback becomes Qt signals.

A :class:`TrainingWorker` builds a run from a snapshot of the project (the GUI may go on
editing the project meanwhile), fits the classical baselines, trains, and reports through
signals. It lives on its own ``QThread`` (:meth:`TrainingWorker.start`); the GUI never
waits on it. Pause, resume, step and stop go through the engine's
:class:`~qmlstudio.core.training.Controls` (thread-safe events), because the worker's
thread is busy inside ``run()`` and would never get to a queued slot call.

Reports are batched: the engine may finish thousands of iterations a second, and one
queued signal per iteration would flood the GUI's event loop. The callback only appends to
a list and emits the batch at most every :data:`MIN_EMIT_INTERVAL_S` (and at once when the
run pauses, stops or reaches its last iteration); :meth:`TrainingWorker.flush` lets the GUI
take whatever waits, so that no report is held back longer than one GUI frame. Connect
:attr:`TrainingWorker.iteration` with ``Qt.QueuedConnection`` so that batches from both
paths arrive in order.

The decision boundary of a model on 2-feature data is refreshed every few iterations by one
batched evaluation of the model on a grid (with the test points in the same batch, which
also gives the confusion matrix), on the worker thread, at most every
:data:`BOUNDARY_INTERVAL_S` and never taking more than about 5 % of the training time.
These pictures are always computed by the exact statevector simulator: on a shot-based,
noisy or hardware backend they show the noise-free model with the current weights, so a
picture never spends shots or queues a job (:attr:`RunSetup.exact_view` says which).
"""

from __future__ import annotations

import gc
import math
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import Project, RunRecord
from qmlstudio.gui import build_qiskit_tables
from qmlstudio.gui.training_state import FRAME_RATE_HZ
from qmlstudio.workflow import Controls, ExactView, IterationReport, Run, confusion_matrix, data_units, exact_view
from qmlstudio.workflow.previews import GRID_SIZE

__all__ = [
    "BOUNDARY_INTERVAL_S",
    "MIN_EMIT_INTERVAL_S",
    "BoundaryFrame",
    "RunSetup",
    "TrainingWorker",
    "contour_segments",
    "freeze_long_lived_objects",
    "grid_extent",
    "project_snapshot",
]

#: Reports are emitted at most this often: once a frame of the GUI (FRAME_RATE_HZ); faster
#: ones are batched. A pause, a step or the run's end emits at once.
MIN_EMIT_INTERVAL_S = 1.0 / FRAME_RATE_HZ
#: The decision boundary is re-evaluated at most this often while a run trains.
BOUNDARY_INTERVAL_S = 0.2
#: The share of the training time the live boundary may take.
BOUNDARY_BUDGET = 0.05


@dataclass
class RunSetup:
    """What the GUI learns about a run before its first iteration (emitted as ``prepared``)."""

    run_id: str
    kind: str  # "vqc", "regressor" or "kernel"
    task: str  # "classification" or "regression"
    total_iterations: int
    num_weights: int
    class_names: list[str]
    feature_names: list[str]
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    #: (x_min, x_max, y_min, y_max) of the decision-boundary grid; None unless 2 features
    extent: tuple[float, float, float, float] | None
    #: whether the boundary and confusion matrix are refreshed as the run trains
    live_boundary: bool
    #: whether those pictures come from the run's own (exact) evaluator; False when the
    #: run uses shots or noise and the pictures show the noise-free model instead
    exact_view: bool = True
    config: dict[str, Any] = field(default_factory=dict)
    #: when the run started (ISO 8601, UTC), as its record says
    started: str = ""
    #: the validation rows (empty when the project has no validation split)
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    #: the qubits of the run's circuit (0 when the run has no variational model)
    num_qubits: int = 0


@dataclass
class BoundaryFrame:
    """The model's prediction over the feature plane at one iteration (emitted as ``boundary``).

    ``image`` is indexed ``[row (y), column (x)]``: class probabilities ``(ny, nx, k)`` for
    a classifier, predicted values ``(ny, nx)`` for a regressor. ``predictions`` are the
    predicted labels (or values) of the evaluation split (``split``: the test split, or
    the training split when there is no test split) and ``confusion`` their confusion
    matrix (rows: true class, columns: predicted class; None for regression).
    """

    iteration: int
    extent: tuple[float, float, float, float] | None
    image: np.ndarray | None
    task: str
    predictions: np.ndarray
    confusion: np.ndarray | None
    split: str
    final: bool = False
    #: the 50 % line of a binary classifier as segment end points (x, y), two per segment
    contour: tuple[np.ndarray, np.ndarray] | None = None


_frozen = False


def freeze_long_lived_objects() -> None:
    """Moves every object alive now out of the cyclic garbage collector's sight (``gc.freeze``).

    Called once, after the first run is built: by then qiskit, scikit-learn, pyqtgraph and
    the plugins are imported, some 200 000 objects that live as long as the process. A full
    collection would otherwise walk them all, holding the GIL for 100-200 ms, whichever
    thread triggers it, and the GUI would freeze that long in the middle of training.
    Objects created later are collected as usual; frozen ones are still freed by reference
    counting.
    """
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()


def project_snapshot(project: Project) -> Project:
    """A copy of the project's settings (no runs) that a worker thread may read freely.

    The GUI thread goes on editing the real project while a run trains; the engine reads
    only this copy. The copy keeps the project's path, which relative data paths need.
    """
    copy = Project.from_dict({"schema_version": 1, "name": project.name, **project.config_snapshot()})
    copy.path = project.path
    return copy


def grid_extent(*arrays: np.ndarray, margin: float = 0.08) -> tuple[float, float, float, float]:
    """The feature plane spanned by the points of ``arrays`` (first two columns), with a margin."""
    points = np.concatenate([np.asarray(a, dtype=float)[:, :2] for a in arrays if len(a)])
    lo, hi = points.min(axis=0), points.max(axis=0)
    span = np.where(hi - lo > 1e-9, hi - lo, 1.0)
    lo, hi = lo - margin * span, hi + margin * span
    return float(lo[0]), float(hi[0]), float(lo[1]), float(hi[1])


def _grid(extent: tuple[float, float, float, float], size: int) -> np.ndarray:
    xs = np.linspace(extent[0], extent[1], size)
    ys = np.linspace(extent[2], extent[3], size)
    gx, gy = np.meshgrid(xs, ys)  # rows follow y, columns follow x
    return np.column_stack([gx.ravel(), gy.ravel()])


def contour_segments(z: np.ndarray, level: float, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The line segments where ``z[row, column]`` (rows along ``ys``, columns along ``xs``) crosses
    ``level`` (marching squares, vectorised): x and y of segment end points, two per segment.

    Computed on the worker thread, so that the GUI only draws the boundary line
    (pyqtgraph's own isocurve runs in Python on the GUI thread and takes milliseconds).
    """
    z = np.asarray(z, dtype=float)
    above = z >= level
    with np.errstate(divide="ignore", invalid="ignore"):
        # crossings on the edges along x (between columns j and j+1) and along y (rows i, i+1)
        th = np.clip((level - z[:, :-1]) / (z[:, 1:] - z[:, :-1]), 0.0, 1.0)
        tv = np.clip((level - z[:-1, :]) / (z[1:, :] - z[:-1, :]), 0.0, 1.0)
    h = above[:, :-1] != above[:, 1:]
    v = above[:-1, :] != above[1:, :]
    hx = xs[:-1][None, :] + th * np.diff(xs)[None, :]
    hy = np.broadcast_to(ys[:, None], th.shape)
    vx = np.broadcast_to(xs[None, :], tv.shape)
    vy = ys[:-1][:, None] + tv * np.diff(ys)[:, None]
    # the four edges of each cell: bottom, right, top, left
    flags = np.stack([h[:-1], v[:, 1:], h[1:], v[:, :-1]], axis=-1)
    px = np.stack([hx[:-1], vx[:, 1:], hx[1:], vx[:, :-1]], axis=-1)
    py = np.stack([hy[:-1], vy[:, 1:], hy[1:], vy[:, :-1]], axis=-1)
    count = flags.sum(axis=-1)
    xs_out, ys_out = [], []
    two = count == 2
    if two.any():
        f, x, y = flags[two], px[two], py[two]
        order = np.argsort(~f, axis=1, kind="stable")[:, :2]  # the two crossed edges
        xs_out.append(np.take_along_axis(x, order, axis=1).ravel())
        ys_out.append(np.take_along_axis(y, order, axis=1).ravel())
    four = count == 4  # a saddle: two segments
    if four.any():
        x, y = px[four], py[four]
        xs_out.append(x[:, [0, 1, 2, 3]].ravel())
        ys_out.append(y[:, [0, 1, 2, 3]].ravel())
    if not xs_out:
        return np.empty(0), np.empty(0)
    return np.concatenate(xs_out), np.concatenate(ys_out)


_confusion = confusion_matrix  # the engine's, so that live and final matrices count alike


class TrainingWorker(QObject):
    """Trains one run of a project on a worker thread and reports through signals.

    Signals (all emitted from the worker thread; connect queued):

    * ``prepared(RunSetup)`` — the run is built; the data it trains on.
    * ``baselines(dict)`` — the classical baselines' scores on the same split
      (``{name: {train_accuracy, test_accuracy, seconds}}``), before training starts.
    * ``iteration(list[IterationReport])`` — one or more new iterations, in order.
    * ``boundary(BoundaryFrame)`` — the decision boundary and confusion matrix.
    * ``finished(RunRecord)`` — the run ended (completed, stopped, or failed with a
      message such as a diverged loss); the record holds everything it did.
    * ``failed(message, details)`` — the run could not be built or the engine raised;
      ``details`` holds the traceback.
    * ``done()`` — emitted last, after ``finished`` or ``failed``.

    ``run_factory`` builds the engine's run (default:
    :func:`qmlstudio.workflow.build_run`).
    """

    prepared = Signal(object)
    baselines = Signal(object)
    iteration = Signal(object)
    boundary = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    done = Signal()
    #: a remote job changed: job id, status, queue position (or None) — IBM hardware runs
    job = Signal(str, str, object)

    def __init__(
        self,
        project: Project,
        registry: Any,
        *,
        epochs: int | None = None,
        resume: RunRecord | None = None,
        run_factory: Callable[..., Any] | None = None,
        paused: bool = False,
        step: bool = False,
        pause_at: int | None = None,
    ) -> None:
        super().__init__()
        self.project = project_snapshot(project)
        self.registry = registry
        self.epochs = epochs
        self.resume_record = resume
        self.run_factory = run_factory
        self.controls = Controls()
        if paused:
            self.controls.pause()
        self._step = threading.Event()
        if step:
            self._step.set()
        #: the run pauses after this iteration (a breakpoint), if set
        self.pause_at = pause_at
        self._lock = threading.Lock()
        self._pending: list[IterationReport] = []
        self._last_emit = 0.0
        self._thread: QThread | None = None
        self._run: Any = None
        self._setup: RunSetup | None = None
        self._grid: np.ndarray | None = None
        self._view: ExactView | None = None
        self._boundary_due = 0.0
        self._boundary_cost = 0.0
        self._boundary_iteration = -1
        self._boundary_broken = False
        self.iterations_reported = 0
        self.batches_emitted = 0
        #: the traceback when the engine raised (the run is then kept as "failed")
        self.details = ""

    # ------------------------------------------------------------ lifetime
    def start(self) -> None:
        """Moves the worker to a new thread and starts training there."""
        build_qiskit_tables()  # before the worker thread can touch qiskit
        thread = QThread()
        thread.setObjectName("qmlstudio-training")
        self._thread = thread
        self.moveToThread(thread)
        thread.started.connect(self.run)
        thread.start()

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Blocks until the thread has ended (True) or ``timeout_ms`` passed (False)."""
        if self._thread is None:
            return True
        return bool(self._thread.wait(timeout_ms))

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.isRunning()

    @property
    def setup(self) -> RunSetup | None:
        """What the run trains on, once it is built (None before)."""
        return self._setup

    # ------------------------------------------------------ control (any thread)
    def pause(self) -> None:
        self._step.clear()
        self.controls.pause()

    def resume(self) -> None:
        self._step.clear()
        self.controls.resume()

    def step(self) -> None:
        """Runs one more iteration, then pauses again."""
        self._step.set()
        self.controls.resume()

    def stop(self) -> None:
        """Asks the run to stop; it ends within about a second with status "stopped"."""
        self.controls.cancel()

    @property
    def paused(self) -> bool:
        return self.controls.paused.is_set()

    def flush(self, wait: bool = True, stale_after: float | None = None) -> None:
        """Emits the reports that wait in the batch now (thread-safe; the GUI calls it each frame).

        With ``wait=False`` it returns at once when the other thread is emitting right now
        (the GUI never blocks on the worker: a worker thread preempted while holding the
        lock would otherwise stall the event loop). With ``stale_after`` it emits only when
        no batch went out for that many seconds (the engine's own thread, which emits as it
        reports, is left to do it while it keeps up).
        """
        if stale_after is not None and time.perf_counter() - self._last_emit < stale_after:
            return
        if not self._lock.acquire(blocking=wait):
            return
        try:
            if not self._pending:
                return
            batch, self._pending = self._pending, []
            self._last_emit = time.perf_counter()
            self.batches_emitted += 1
            # Emitted under the lock: with a queued connection the batches arrive in order.
            self.iteration.emit(batch)
        finally:
            self._lock.release()

    # --------------------------------------------------------- worker thread
    @Slot()
    def run(self) -> None:
        """Builds the run, fits the baselines, trains; always ends with ``done``."""
        try:
            self._train()
        finally:
            self.flush()
            app = QCoreApplication.instance()
            if app is not None:
                # Hand the object back to the GUI thread, where Python will delete it.
                self.moveToThread(app.thread())
            self.done.emit()
            if self._thread is not None:
                self._thread.quit()

    def _train(self) -> None:
        try:
            factory = self.run_factory
            if factory is None:
                from qmlstudio.workflow import build_run as factory
            run = factory(
                self.project, self.registry, epochs=self.epochs, callback=self._on_report,
                controls=self.controls, resume=self.resume_record,
            )
        except QMLStudioError as exc:
            self.failed.emit(f"Cannot start training: {exc}", traceback.format_exc())
            return
        except Exception as exc:  # a bug or a plugin that raised: a message, never a crash
            self.failed.emit(f"Cannot start training: {type(exc).__name__}: {exc}", traceback.format_exc())
            return
        self._run = run
        freeze_long_lived_objects()
        backend = getattr(run, "backend", None)
        unsubscribe = None
        if hasattr(backend, "subscribe_jobs"):  # hardware backends report their jobs
            unsubscribe = backend.subscribe_jobs(lambda job_id, status, queue: self.job.emit(str(job_id), str(status), queue))
        try:
            self._setup = self._describe(run)
            self.prepared.emit(self._setup)
            baselines = {} if self.controls.cancelled.is_set() else self._fit_baselines(run)
            record = run.run()  # stopped meanwhile: it stops at its first check
        except Exception as exc:  # the engine or a plugin raised: keep what the run did so far
            self.flush()
            self.details = traceback.format_exc()
            record = getattr(run, "record", None)
            if not isinstance(record, RunRecord) or record.num_points == 0:
                self.failed.emit(f"Training failed: {type(exc).__name__}: {exc}", self.details)
                return
            last = record.metrics["iteration"][-1]
            record.finish("failed", f"training failed after iteration {last}: {type(exc).__name__}: {exc}")
            baselines = {}
        finally:
            if unsubscribe is not None:
                unsubscribe()
        if baselines and not record.baselines:
            record.baselines = baselines
        self.flush()
        self._final_boundary(run, record)
        self.finished.emit(record)

    def _describe(self, run: Any) -> RunSetup:
        data, kind = run.data, run.kind
        total, num_weights = int(run.total_iterations), int(run.num_parameters)
        extent = None
        if data.num_features == 2 and len(data.y_train):
            extent = grid_extent(data.x_train, data.x_test)
        self._view = exact_view(run, max(len(self._eval_split(run)[0]), len(self._eval_split(run, True)[0])))
        if extent is not None and self._view is not None and self._view.grid_size:
            self._grid = _grid(extent, self._view.grid_size)
        elif extent is not None and kind == "kernel" and run.exact:
            self._grid = _grid(extent, GRID_SIZE)  # evaluated once, by the fitted SVM
        return RunSetup(
            run_id=run.record.id,
            kind=kind,
            task=data.task,
            total_iterations=total,
            num_weights=num_weights,
            class_names=list(data.class_names),
            feature_names=list(data.feature_names),
            x_train=np.asarray(data.x_train),
            y_train=data_units(data, data.y_train),
            x_test=np.asarray(data.x_test),
            y_test=data_units(data, data.y_test),
            extent=extent,
            live_boundary=self._view is not None and kind != "kernel",
            exact_view=self._view is None or self._view.same_as_run,
            config=dict(run.record.config),
            started=run.record.started,
            x_val=np.asarray(data.x_val),
            y_val=data_units(data, data.y_val),
            num_qubits=int(getattr(getattr(run, "model", None), "num_qubits", 0) or 0),
        )

    def _fit_baselines(self, run: Run) -> dict[str, Any]:
        """Fits the baselines before training, so the GUI can show them as references (the
        run keeps them and does not fit them again; a kernel run fits them itself)."""
        try:
            results = run.fit_baselines()
        except Exception:  # noqa: BLE001 - baselines are company, not the run itself
            return {}
        if results:
            self.baselines.emit(results)
        return results

    def _on_report(self, report: IterationReport) -> None:
        """The engine's callback: on the worker thread, touching no widget."""
        with self._lock:
            self._pending.append(report)
            self.iterations_reported += 1
            since = time.perf_counter() - self._last_emit
        if self._step.is_set() or (self.pause_at is not None and report.iteration == self.pause_at):
            self._step.clear()
            self.controls.pause()  # the engine blocks right after this callback returns
        holding = self.controls.paused.is_set() or self.controls.cancelled.is_set()
        last = report.total_iterations and report.iteration >= report.total_iterations
        if holding or last or since >= MIN_EMIT_INTERVAL_S:
            self.flush()
        setup = self._setup
        if setup is None or not setup.live_boundary or self._boundary_broken or self._view is None:
            return
        now = time.perf_counter()
        if (holding or last or now >= self._boundary_due) and report.iteration != self._boundary_iteration:
            self._emit_boundary(report.weights, report.iteration)
            cost = time.perf_counter() - now
            self._boundary_cost = cost
            # Keep the grid to a small share of the training time, whatever the model's size.
            self._boundary_due = time.perf_counter() + max(BOUNDARY_INTERVAL_S, cost / BOUNDARY_BUDGET)

    # ------------------------------------------------------------ boundary
    def _eval_split(self, run: Any, final: bool = False) -> tuple[np.ndarray, np.ndarray, str]:
        """The rows the confusion matrix is made of: while training the validation split (the
        training split when there is none); the test split only once, when the run ends."""
        data = run.data
        if final and len(data.y_test):
            return data.x_test, data.y_test, "test"
        if len(data.y_val):
            return data.x_val, data.y_val, "validation"
        return data.x_train, data.y_train, "train"

    def _emit_boundary(self, weights: np.ndarray, iteration: int, final: bool = False) -> None:
        run, setup = self._run, self._setup
        if run is None or setup is None:
            return
        try:
            frame = self._evaluate(run, setup, np.asarray(weights, dtype=float), iteration, final)
        except Exception:  # noqa: BLE001 - a broken view must not break the run
            self._boundary_broken = True
            return
        self._boundary_iteration = iteration
        self.boundary.emit(frame)

    def _evaluate(self, run: Any, setup: RunSetup, weights: np.ndarray, iteration: int, final: bool,
                  predictions: Any = None) -> BoundaryFrame:
        """The boundary frame of ``weights``; ``predictions`` (the run's own
        :class:`~qmlstudio.core.training.Predictions` of these weights) replace the split's."""
        view = self._view
        assert view is not None
        x_eval, y_eval, split = self._eval_split(run, final)
        grid = self._grid
        if predictions is not None:  # the split is known: only the grid is left to evaluate
            head = view.evaluate(weights, grid) if grid is not None else None
            size = 0 if grid is None else int(round(math.sqrt(len(grid))))
            image = None
            if head is not None:
                image = head.reshape(size, size, -1) if setup.task == "classification" else head.reshape(size, size)
            shown = predictions.predictions if setup.task == "classification" else data_units(run.data, predictions.predictions)
            frame = BoundaryFrame(iteration, setup.extent, image, setup.task, np.asarray(shown),
                                  predictions.confusion, predictions.split, final)
            frame.contour = self._contour(frame)
            return frame
        points = x_eval if grid is None else np.concatenate([grid, x_eval])
        size = 0 if grid is None else int(round(math.sqrt(len(grid))))
        out = view.evaluate(weights, points)  # one batched evaluation: the grid and the split
        head, tail = out[: len(points) - len(x_eval)], out[len(points) - len(x_eval) :]
        if setup.task == "classification":
            predictions = np.argmax(tail, axis=1)
            image = None if grid is None else head.reshape(size, size, -1)
            confusion = _confusion(y_eval, predictions, len(setup.class_names))
        else:
            predictions = tail
            image = None if grid is None else head.reshape(size, size)
            confusion = None
        frame = BoundaryFrame(iteration, setup.extent, image, setup.task, predictions, confusion, split, final)
        frame.contour = self._contour(frame)
        return frame

    @staticmethod
    def _contour(frame: BoundaryFrame) -> tuple[np.ndarray, np.ndarray] | None:
        image, extent = frame.image, frame.extent
        if image is None or extent is None or frame.task != "classification" or image.shape[-1] != 2:
            return None
        xs = np.linspace(extent[0], extent[1], image.shape[1])
        ys = np.linspace(extent[2], extent[3], image.shape[0])
        return contour_segments(image[..., 1], 0.5, xs, ys)

    def _final_boundary(self, run: Any, record: RunRecord) -> None:
        setup = self._setup
        if setup is None:
            return
        try:
            if setup.kind == "kernel":
                frame = self._kernel_frame(run, setup)
            elif self._view is None:
                return
            else:
                weights = np.array([np.nan if w is None else w for w in record.final_weights], dtype=float)
                if not len(weights) or not np.all(np.isfinite(weights)):
                    return
                iteration = int(record.metrics["iteration"][-1] or 0) if record.num_points else 0
                # The run's own final predictions when it has them (the tiles' numbers come from
                # them too); outside Pause and Stop, which have done their work by now.
                final = run.final
                if final is not None and not np.array_equal(final.weights, weights):
                    final = None
                with run.uninterrupted():
                    frame = self._evaluate(run, setup, weights, iteration, True, final)
        except Exception:  # noqa: BLE001
            return
        if frame is not None:
            self.boundary.emit(frame)

    def _kernel_frame(self, run: Any, setup: RunSetup) -> BoundaryFrame | None:
        if not run.exact or run.record.status != "completed":
            return None  # a sampled kernel would spend shots on the picture; a stopped one has no SVM
        x_eval, y_eval, split = self._eval_split(run, True)
        predictions = np.argmax(run.predict_proba(x_eval), axis=1)
        image = None
        if self._grid is not None:
            size = int(round(math.sqrt(len(self._grid))))
            image = run.predict_proba(self._grid).reshape(size, size, -1)
        confusion = _confusion(y_eval, predictions, len(setup.class_names))
        frame = BoundaryFrame(1, setup.extent, image, setup.task, np.asarray(predictions), confusion, split, True)
        frame.contour = self._contour(frame)
        return frame
