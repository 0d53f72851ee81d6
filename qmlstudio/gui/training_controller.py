"""The training dock's controller: starting, pausing, stepping and stopping runs, and what the worker reports.

:class:`TrainingController` is a mixin of :class:`~qmlstudio.gui.training_dock.TrainingDock`
(it uses the dock's widgets, timers and state). It chooses where a run trains (a child process,
:mod:`qmlstudio.gui.training_process`, or a thread of this process,
:class:`~qmlstudio.gui.workers.TrainingWorker`), connects the worker's signals and turns them
into runs in the project: a finished run, a run that could not start, or a child process that
crashed mid-run (kept up to its last report, marked failed).
"""

from __future__ import annotations

import sys
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QObject,
    Qt,
    QTimer,
    Signal,
)

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.core.project import RunRecord
from qmlstudio.gui import training_process
from qmlstudio.gui.process_job import runs_here
from qmlstudio.gui.plots import (
    RunCurves,
)
from qmlstudio.gui.training_process import ProcessTrainingWorker
from qmlstudio.gui.training_runs import _last, run_label
from qmlstudio.gui.training_state import (
    GIL_SWITCH_INTERVAL_S,
    IDLE,
    PAUSED,
    PREPARING,
    RUNNING,
    STOPPING,
)
from qmlstudio.gui.workers import BoundaryFrame, RunSetup, TrainingWorker


class WorkerRelay(QObject):
    """A worker's signals, re-emitted on the GUI thread (created there, one per run).

    The dock's handlers are methods of a mixin, connected as Python callables. Connected
    straight to a worker that then moves to its own ``QThread``, PySide6 sometimes calls them
    on the worker's thread (seen: ``_on_finished`` on the training thread, Qt's "Timers cannot
    be started from another thread", then a dead event loop). A signal-to-signal connection to
    this QObject, which never leaves the GUI thread, is an ordinary Qt connection: queued
    across threads, so every handler runs on the GUI thread.
    """

    prepared = Signal(object)
    baselines = Signal(object)
    iteration = Signal(object)
    boundary = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    done = Signal()
    job = Signal(str, str, object)

    def attach(self, worker: QObject, *, ordered: Qt.ConnectionType) -> None:
        worker.prepared.connect(self.prepared)
        worker.baselines.connect(self.baselines)
        worker.iteration.connect(self.iteration, ordered)
        worker.boundary.connect(self.boundary)
        worker.finished.connect(self.finished)
        worker.failed.connect(self.failed)
        worker.done.connect(self.done)
        worker.job.connect(self.job)


class TrainingController:
    """Run control and the worker's reports (a mixin of TrainingDock)."""

    def train(self, epochs: int | None = None, *, pause_at: int | None = None, step: bool = False) -> bool:
        """Starts a run of the project as it is now; False if one is already going.

        ``epochs`` overrides the project's; ``pause_at`` pauses the run after that iteration
        (a breakpoint); ``step`` pauses it after its first iteration.
        """
        if not self._may_start():
            return False
        if self.preflight is not None and not self.preflight(lambda: self.train(epochs, pause_at=pause_at, step=step)):
            return False  # the window fixes the project first, or asks the user
        self._end_layerwise()
        self.layer_strip.hide()  # it drew the last layerwise schedule
        return self._start_worker(self._project, epochs, self.run_factory, pause_at=pause_at, step=step)

    def _may_start(self) -> bool:
        """Whether a run may start now (the plugins loaded); False while one is going."""
        if self._worker is not None and self._run_ended and not self._shut_down:
            # The last run has said how it ended; its thread or process is only finishing up
            # (its ``done`` is on its way). A click on Train now starts the next run.
            self._on_done()
        if self._worker is not None or self._shut_down:
            return False
        if self.registry is None:
            from qmlstudio.plugins.manager import load_plugins

            self.registry = load_plugins()
        return True

    def _start_worker(self, project: Any, epochs: int | None, run_factory: Any, *, pause_at: int | None = None,
                      step: bool = False) -> bool:
        """Starts training ``project`` (the dock's, or a layerwise phase's) with ``run_factory``."""
        self.failure.hide()
        in_process = self._trains_in_process(run_factory)
        worker_class = TrainingWorker if in_process else ProcessTrainingWorker
        try:
            worker = worker_class(project, self.registry, epochs=epochs, run_factory=run_factory,
                                  step=step, pause_at=pause_at)
        except Exception as exc:  # a project that cannot even be copied: say so, never crash
            self._show_failure("Cannot start training", f"{type(exc).__name__}: {exc}", "")
            self._end_layerwise()
            return False
        relay = WorkerRelay(self)  # lives on this (the GUI) thread; see WorkerRelay
        # The thread worker's batches come from two threads: queued keeps them in order. The
        # process worker emits on this thread, in order; direct keeps them ahead of its
        # ``crashed``, which must see every report that came.
        relay.attach(worker, ordered=Qt.ConnectionType.QueuedConnection if in_process
                     else Qt.ConnectionType.DirectConnection)
        relay.prepared.connect(self._on_prepared)
        relay.baselines.connect(self._on_baselines)
        relay.iteration.connect(self._on_reports, Qt.ConnectionType.DirectConnection)
        relay.boundary.connect(self._on_boundary)
        relay.finished.connect(self._on_finished)
        relay.failed.connect(self._on_failed)
        relay.done.connect(self._on_done)
        relay.job.connect(self._on_job)
        self._relay = relay
        if isinstance(worker, ProcessTrainingWorker):
            worker.crashed.connect(self._on_crashed)
        self._worker = worker
        self._run_ended = False
        self._pending = []
        self._pending_frame = None
        self._meter.reset()
        self._clear_selection()
        self.progress.setRange(0, 0)  # busy until the run knows its length
        self.progress.setFormat("Preparing the data and the circuit…")
        self._set_state(PREPARING)
        if in_process and self._saved_switch is None:  # the engine's thread shares our interpreter
            self._saved_switch = sys.getswitchinterval()
            sys.setswitchinterval(min(self._saved_switch, GIL_SWITCH_INTERVAL_S))
        worker.start()
        self._frame_timer.start()
        self._autosave_timer.start()
        note = getattr(self.preflight, "note", "")  # what the preflight changed, e.g. wires added
        self.status_message.emit(f"Training started · {note}" if note else "Training started")
        return True

    def _trains_in_process(self, run_factory: Any = None) -> bool:
        """Whether the next run trains on a thread of this process rather than in a child.

        A child process rebuilds everything from plain data, so the run stays here when it
        needs what only this process has: a ``run_factory`` that cannot be pickled (a local
        function) or plugins registered in memory rather than installed.
        """
        if self.in_process is not None:
            return self.in_process
        if run_factory is not None:
            import pickle

            try:
                pickle.dumps(run_factory)
            except Exception:  # noqa: BLE001 - a lambda or a closure
                return True
        return runs_here(self.registry)

    def set_paused(self, paused: bool) -> None:
        """Pauses (True) or resumes (False) the run in progress."""
        worker = self._worker
        if worker is None or self._run_ended or self._state == STOPPING:
            self._sync_actions()
            return
        if paused:
            worker.pause()
        else:
            self._meter.reset()
            worker.resume()
        self._set_state(PAUSED if paused else (RUNNING if self._setup is not None else PREPARING))

    def pause(self) -> None:
        self.set_paused(True)

    def resume(self) -> None:
        self.set_paused(False)

    def stop(self) -> None:
        """Stops the run in progress; it is kept in the runs list with status "stopped"."""
        worker = self._worker
        if worker is None or self._run_ended:
            return
        worker.stop()
        self._set_state(STOPPING)

    def step(self) -> None:
        """Trains one more iteration and pauses (starts a run paused after one iteration when idle)."""
        if self._worker is None or self._run_ended:
            self.train(step=True)
            return
        self._meter.reset()
        self._worker.step()
        self._set_state(RUNNING)

    def stop_and_wait(self, timeout_ms: int = 10_000) -> bool:
        """Stops a run in progress and waits (processing events) until it is in the runs list."""
        if self._worker is None:
            return True
        self.stop()
        loop = QEventLoop()
        self.state_changed.connect(lambda state: loop.quit() if state == IDLE else None)
        QTimer.singleShot(timeout_ms, loop.quit)
        if self._worker is not None:
            loop.exec()
        return self._worker is None

    def _halt(self, wait_ms: int) -> bool:
        """Stops the timers and the run in progress, waiting up to ``wait_ms`` for it to end;
        True when there was a run."""
        self._frame_timer.stop()
        self._step_timer.stop()
        self._autosave_timer.stop()
        worker = self._worker
        if worker is None:
            return False
        worker.stop()
        worker.wait(wait_ms)
        return True

    def shutdown(self, discard_autosave: bool = True) -> None:
        """Ends everything before the dock goes away: the run (waited for), timers, autosave.

        With ``discard_autosave`` (a clean close: the user saved or chose not to) the
        autosave is removed; otherwise it stays for recovery.
        """
        if self._shut_down:
            return
        self._shut_down = True
        if self._halt(10_000):
            self._worker = None
        self._restore_switch_interval()
        if self.autosaver is not None:
            self.autosaver.close(discard=discard_autosave)
            self.autosaver = None
        self.runs_model.detach()
        app = QCoreApplication.instance()
        if app is not None:
            try:
                app.aboutToQuit.disconnect(self._on_about_to_quit)
            except (RuntimeError, TypeError):
                pass
        self._set_state(IDLE)


    # ============================================================ worker side
    def _on_prepared(self, setup: RunSetup) -> None:
        self._training = True
        self._setup = setup
        self._setups[setup.run_id] = setup
        live = RunCurves(setup.run_id, "live", setup.task)
        live.total_iterations = setup.total_iterations
        live.has_validation = setup.y_val is not None and len(setup.y_val) > 0
        live.has_parts = setup.kind not in ("vqc", "regressor", "kernel")  # a plugin's model (hybrid)
        self._live = live
        self._curves[setup.run_id] = live
        self.progress.setRange(0, max(1, setup.total_iterations))
        self.progress.setValue(0)
        self.progress.setFormat("Fitting the classical baselines…" if setup.kind != "kernel" else "Fitting…")
        if self._state == PREPARING:
            self._set_state(RUNNING)
        elif self._state == PAUSED:
            self._set_state(PAUSED)
        self._update_live_row(force=True)
        phases = self._layerwise_runs(live)
        if phases is not None:
            self._show(phases, primary=live)
        else:
            self._show([live])
        self.run_started.emit(setup.run_id)

    def _on_baselines(self, baselines: dict[str, Any]) -> None:
        if self._live is not None:
            self._live.baselines = dict(baselines)
            if self._shown and self._shown[0] is self._live:
                self._show_results()

    def _on_reports(self, batch: list[Any]) -> None:
        self._pending.extend(batch)
        self.reports_received += len(batch)

    def _on_boundary(self, frame: BoundaryFrame) -> None:
        self._pending_frame = frame

    def _on_finished(self, record: RunRecord) -> None:
        self._frame()  # everything reported so far goes on the plots first
        self._training = False
        self._run_ended = True
        self._sync_actions()  # Train is offered again at once
        live = self._live
        if record.num_points == 0 and record.status == "stopped":
            self.status_message.emit("Stopped before the first iteration; no run was kept")
            self._forget_live()
            self._layerwise_finished(record, None)
            return
        if live is not None and live.run_id == record.id:
            live.label = ""
            live.baselines = dict(record.baselines) or live.baselines
            live.fill_last_row(record)  # a stopped run's last row, evaluated as it ended
            live.add_final_test(record)
        self.runs_model.set_live(None)
        self._project.add_run(record)
        if live is not None:
            live.label = run_label(self._project, record.id)
        if record.status == "failed":
            self._show_failure("The run failed", record.message or "training failed", self._details(record))
        else:
            self.failure.hide()
        self._autosave()
        self._show_current()
        done = {"completed": "Training completed", "stopped": "Training stopped", "failed": "Training failed"}
        self.status_message.emit(f"{done.get(record.status, 'Training ended')}: {record.message}".rstrip(": "))
        self._update_progress_final(record)
        self.run_finished.emit(record)
        self._layerwise_finished(record, live)

    def _on_job(self, job_id: str, status: str, queue: object) -> None:
        position = "" if queue is None else f" · queue position {queue}"
        text = f"IBM job {job_id}: {status}{position}"
        self.job_label.setText(text)
        self.job_label.show()
        self.status_message.emit(text)

    def _on_failed(self, message: str, details: str) -> None:
        self._frame()
        self._training = False
        self._run_ended = True
        self._sync_actions()  # Train is offered again at once
        self._forget_live()
        self._show_failure("Training could not run", message, details)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Failed")
        self.status_message.emit(message)
        self.run_failed.emit(message, details)
        self._layerwise_finished(None, None)

    def _on_crashed(self, message: str) -> None:
        """The training process died mid-run: keep the run up to its last report, marked failed."""
        self._frame()
        record = self._partial_record()
        if record is None:  # nothing reported yet: nothing to keep
            self._on_failed(message, "")
            return
        iteration = int(record.metrics["iteration"][-1] or 0)
        record.finish("failed", f"{message} The run is kept up to iteration {iteration:,}.")
        if self._setup is not None and self._setup.started:
            record.started = self._setup.started
        self._on_finished(record)
        self._show_failure("The training process crashed", record.message, self._details(record))
        self.run_failed.emit(record.message, "")

    def _restore_switch_interval(self) -> None:
        if self._saved_switch is not None:
            sys.setswitchinterval(self._saved_switch)
            self._saved_switch = None

    def _on_done(self) -> None:
        worker = self._worker
        if worker is not None:
            worker.wait(5_000)
        self._worker = None
        relay, self._relay = self._relay, None
        if relay is not None:
            relay.blockSignals(True)  # a ``done`` still queued for it must not end the next run
            relay.deleteLater()
        self._restore_switch_interval()
        self._frame_timer.stop()
        self._step_timer.stop()
        self._autosave_timer.stop()
        self._setup = None
        self._set_state(IDLE)
        if isinstance(worker, ProcessTrainingWorker) and not self._shut_down:
            training_process.rewarm()  # the next run need not wait for an interpreter

    def _forget_live(self) -> None:
        if self._live is not None:
            self._curves.pop(self._live.run_id, None)
        self._live = None
        self.runs_model.set_live(None)
        self._show_current()

    def _details(self, record: RunRecord) -> str:
        import json

        last = {name: _last(values) for name, values in record.metrics.items()}
        return "\n".join([
            f"Run {record.id}, started {record.started}, status {record.status}",
            record.message,
            "",
            "Last recorded metrics:",
            json.dumps(last, indent=2),
            "",
            "Settings of the run:",
            json.dumps(record.config, indent=2, ensure_ascii=False),
        ] + (["", self._worker.details] if self._worker is not None and self._worker.details else []))
