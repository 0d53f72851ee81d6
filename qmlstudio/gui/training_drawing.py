"""The training dock's drawing: frames of the live plots, progress, metric cards, the runs shown, actions' state.

:class:`DockDrawing` is a mixin of :class:`~qmlstudio.gui.training_dock.TrainingDock`.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from PySide6.QtCore import (
    Qt,
)
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QTableWidgetItem,
)

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.core.project import RunRecord
from qmlstudio.gui.plots import (
    RunCurves,
)
from qmlstudio.gui.training_runs import _duration, _eta, _last, run_label
from qmlstudio.gui.training_state import (
    _STATE_TEXT,
    IDLE,
    PAUSED,
    PREPARING,
    RUNNING,
    STOPPING,
    TEXT_INTERVAL_S,
)
from qmlstudio.gui.training_widgets import _tuned_note
from qmlstudio.gui.workers import RunSetup

#: The runs table's model column is at most this wide (pixels) when fitted to its contents.
MAX_MODEL_COLUMN = 240


class DockDrawing:
    """Redraws of the dock (a mixin of TrainingDock)."""

    # ================================================================ drawing
    def _frame_tick(self) -> None:
        """The frame timer: one redraw, its parts spread over several event-loop passes.

        While a run trains, its thread holds the GIL nearly all the time and every call the
        GUI thread makes into Python waits for it: a whole frame (three curve plots, a dozen
        weight curves, the boundary image) done at once would block the event loop for
        20-40 ms. Drawn one part at a time, with the event loop running between the parts,
        no single pass takes more than a few milliseconds; the frame is still complete long
        before the next one is due.
        """
        self._frame(staggered=True)

    def _next_frame_step(self) -> None:
        if self._frame_steps:
            _, step = self._frame_steps.pop(0)
            step()
        if self._frame_steps:
            self._step_timer.start()

    def _finish_frame_steps(self) -> None:
        """Draws at once whatever the last staggered frame has not drawn yet."""
        self._step_timer.stop()
        steps, self._frame_steps = self._frame_steps, []
        for _, step in steps:
            step()

    def _frame(self, staggered: bool = False) -> None:
        """One redraw: the reports and boundary that arrived since the last frame go on the plots.

        ``staggered``: draw the plots one per event-loop pass (the frame timer); otherwise
        (a run ended, a test) everything is drawn before this returns.
        """
        if not staggered:
            self._finish_frame_steps()
        worker = self._worker
        if worker is not None:
            worker.flush(wait=False)  # reports held back in the worker's batch arrive next frame at the latest
            self._sync_pause()
        if not self._pending and self._pending_frame is None:
            return
        live = self._live
        if self._pending and live is not None:
            reports, self._pending = self._pending, []
            live.add_reports(reports)
            for report in reports[:: max(1, len(reports) // 50)]:
                self._meter.add(report.iteration, report.elapsed_s)
            last = reports[-1]
            self._meter.add(last.iteration, last.elapsed_s)
            # Numbers that change 60 times a second cannot be read: text follows at 10 Hz.
            now = time.monotonic()
            if now - self._last_text >= TEXT_INTERVAL_S or worker is None or worker.paused:
                self._last_text = now
                self._update_progress(last)
                text_due = True
            else:
                text_due = False
            self._update_live_row(force=text_due and worker is not None and worker.paused)
        else:
            self._pending = []
            text_due = True
        frame, self._pending_frame = self._pending_frame, None
        if frame is not None and live is not None:
            live.boundary = frame
        showing_live = live is not None and live in self._shown
        if showing_live:
            steps: list[tuple[str, Callable[[], Any]]] = []
            for panel in (self.loss_plot, self.accuracy_plot, self.grad_plot):
                steps.append((panel.name, lambda panel=panel: panel.refresh(text=text_due)))
            if text_due:  # the weights move slowly: 10 redraws a second show them well
                parts = self.weights_plot.refresh_steps() if staggered else [self.weights_plot.refresh]
                steps.extend((f"weights{i}", part) for i, part in enumerate(parts))
            if frame is not None:
                steps.append(("boundary", lambda: self.boundary_plot.set_frame(frame)))
                steps.append(("confusion", lambda: self.confusion_plot.set_frame(frame, self._setup)))
            single = self._primary is live
            if single and text_due:
                def text() -> None:
                    self._update_cards(live)
                    self._update_quantum_row(live)
                steps.append(("text", text))
            if single and frame is not None and frame.final:
                steps.append(("results", self._show_results))
            if staggered:
                # Parts of the last frame not drawn yet give way to this frame's newer ones.
                keys = {key for key, _ in steps}
                self._frame_steps = [(k, f) for k, f in self._frame_steps if k not in keys] + steps
                self._next_frame_step()
            else:
                for _, step in steps:
                    step()
        self.frames_drawn += 1

    def _sync_pause(self) -> None:
        worker = self._worker
        if worker is None or self._state in (STOPPING, IDLE):
            return
        if worker.paused and self._state != PAUSED:
            self._set_state(PAUSED)
        elif not worker.paused and self._state == PAUSED:
            self._set_state(RUNNING if self._setup is not None else PREPARING)

    def _update_progress(self, report: Any) -> None:
        total = int(report.total_iterations or self.progress.maximum())
        done = int(report.iteration)
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(min(done, total))
        epochs = ""
        setup = self._setup
        if setup is not None and setup.total_iterations and report.epoch:
            per_epoch = max(1, round(total / max(1, self._total_epochs(setup))))
            epochs = f" · epoch {report.epoch:,} / {max(1, total // per_epoch):,}"
        rate = self._meter.rate()
        eta = (total - done) / rate if rate else None
        self.progress.setFormat(f"Iteration {done:,} / {total:,}{epochs} · ETA {_eta(eta)}")

    def _total_epochs(self, setup: RunSetup) -> int:
        epochs = (setup.config.get("training") or {}).get("epochs") or 1
        worker = self._worker
        if worker is not None and worker.epochs:
            epochs = worker.epochs
        return int(epochs)

    def _update_progress_final(self, record: RunRecord) -> None:
        iteration = _last(record.metrics.get("iteration", [])) or 0
        maximum = max(self.progress.maximum(), 1)
        if record.status == "completed":
            self.progress.setRange(0, max(int(iteration), 1))
            self.progress.setValue(max(int(iteration), 1))
        else:
            self.progress.setValue(min(int(iteration), maximum))
        seconds = _duration((record.timings or {}).get("seconds"))
        self.progress.setFormat(f"{record.status.capitalize()} after {int(iteration):,} iterations"
                                + (f" in {seconds}" if seconds else ""))

    def _update_cards(self, curves: RunCurves | None) -> None:
        if curves is None:
            for card in self.cards.values():
                card.set_value("")
            return
        regression = curves.task == "regression"
        for name in ("loss", "val_loss", "grad_norm"):
            value = curves.last(name)
            self.cards[name].set_value("" if value is None else f"{value:.4g}")
        for name in ("train_accuracy", "test_accuracy"):
            value = curves.last(name)
            text = "" if value is None else (f"{value:.3f}" if regression else f"{value:.1%}")
            self.cards[name].set_value(text)
        caption = "R²" if regression else "ACCURACY"
        self.cards["train_accuracy"].caption.setText(f"{caption} (TRAIN)")
        self.cards["test_accuracy"].caption.setText(f"{caption} (TEST)")
        elapsed = curves.last("elapsed_s")
        if curves is self._live and self._worker is not None:
            rate = self._meter.rate()
        else:
            iterations = curves.last("iteration")
            rate = iterations / elapsed if iterations and elapsed else None
        self.cards["speed"].set_value("" if not rate else f"{rate:,.0f} it/s" if rate >= 10 else f"{rate:.2f} it/s")
        self.cards["elapsed"].set_value(_duration(elapsed))

    def _update_live_row(self, force: bool = False) -> None:
        setup, live = self._setup, self._live
        if setup is None or live is None:
            return
        now = time.monotonic()
        if not force and now - self._last_live_row < 0.5:
            return  # the table need not follow every frame
        self._last_live_row = now
        self.runs_model.set_live({
            "id": setup.run_id,
            "started": setup.started,
            "config": setup.config,
            "train": live.last("train_accuracy"),
            "test": live.last("test_accuracy"),
            "seconds": live.last("elapsed_s"),
            "status": "paused" if self._worker is not None and self._worker.paused else "running",
            "message": "in progress",
            "iterations": live.last("iteration"),
            "regression": setup.task == "regression",
        })

    # ------------------------------------------------------------ what is shown
    def _curves_of(self, run_id: str) -> RunCurves | None:
        curves = self._curves.get(run_id)
        if curves is not None and curves is not self._live:
            return curves
        if curves is self._live and curves is not None:
            return curves
        try:
            record = self._project.find_run(run_id)
        except KeyError:
            return None
        curves = RunCurves.from_record(record, run_label(self._project, run_id))
        self._curves[run_id] = curves
        return curves

    def _show_current(self) -> None:
        """Shows the run in progress, else the newest run of the project, else nothing."""
        if self._live is not None and (self._worker is not None or self._is_saved_run(self._live.run_id)):
            self._show([self._live])
        elif self._project.runs:
            curves = self._curves_of(self._project.runs[-1].id)
            self._show([curves] if curves is not None else [])
        else:
            self._show([])

    def _is_saved_run(self, run_id: str) -> bool:
        return any(run.id == run_id for run in self._project.runs)

    def _show(self, runs: list[RunCurves], primary: RunCurves | None = None) -> None:
        """Draws ``runs`` on the curves' plots; ``primary`` (default: the one run, if one) also
        fills the weights, the decision boundary, the cards and the confusion matrix (a
        layerwise schedule shows its phases' curves together, its phase in progress in full)."""
        self._shown = runs
        self._primary = primary if primary is not None else (runs[0] if len(runs) == 1 else None)
        classification = all(run.task == "classification" for run in runs)
        self.accuracy_plot.set_y_limits((-0.02, 1.02) if classification else None)
        self.accuracy_plot.title.setText("Accuracy" if classification else "R²")
        self.accuracy_plot.plot.setLabel("left", "accuracy" if classification else "R²")
        growing = self._training and self._live is not None and self._live in runs
        compact = len(runs) > 1 and primary is not None  # a layerwise schedule's phases, one after another
        for panel in (self.loss_plot, self.accuracy_plot, self.grad_plot):
            panel.show_runs(runs, growing, compact=compact)
        if not runs:
            self.loss_plot.set_placeholder("Press Train (F5) to start")
        primary = self._primary
        self.weights_plot.show_run(primary, growing)
        if primary is None and len(runs) > 1:
            self.weights_plot.set_placeholder("Select one run\nto see its weights")
        setup = self._setups.get(primary.run_id) if primary is not None else None
        self.boundary_plot.set_data(setup)
        if primary is not None and setup is None:
            self.boundary_plot.set_placeholder("The decision boundary is shown\nfor runs trained in this session")
        elif primary is None and len(runs) > 1:
            self.boundary_plot.set_placeholder("Select one run\nto see its decision boundary")
        if primary is not None and primary.boundary is not None and setup is not None:
            self.boundary_plot.set_frame(primary.boundary)
        if primary is not None and primary.boundary is not None and setup is not None:
            self.confusion_plot.clear_matrix("")
            self.confusion_plot.set_frame(primary.boundary, setup)
        else:
            self.confusion_plot.clear_matrix("Appears as the model trains" if not runs or primary is self._live
                                             else "Shown for runs trained\nin this session")
        self._update_cards(primary)
        self._show_results()

    def _show_results(self) -> None:
        """The baselines table: each shown run's quantum model, then the first run's baselines."""
        runs = self._shown
        table = self.baselines_table
        rows: list[tuple[str, Any, Any, Any, bool, Any, str]] = []
        for curves in runs:
            label = "Quantum model" if len(runs) == 1 else f"Quantum {curves.label}"
            rows.append((label, curves.last("train_accuracy"), curves.last("test_accuracy"),
                         curves.last("elapsed_s"), True, self._quantum_parameters(curves),
                         "The test split is scored once, when the run ends"))
        baselines = runs[0].baselines if runs else {}
        for name, scores in baselines.items():
            rows.append((name, scores.get("train_accuracy"), scores.get("test_accuracy"), scores.get("seconds"), False,
                         scores.get("parameters"), _tuned_note(scores)))
        table.setRowCount(len(rows))
        regression = bool(runs) and runs[0].task == "regression"
        table.setHorizontalHeaderLabels(["Model", "Train R²" if regression else "Train",
                                         "Test R²" if regression else "Test", "Time", "Params"])
        best_test = max((r[2] for r in rows if r[2] is not None), default=None)
        for row, (name, train, test, seconds, quantum, parameters, note) in enumerate(rows):
            cells = [name, "" if train is None else f"{train:.3f}", "" if test is None else f"{test:.3f}",
                     _duration(seconds), "" if parameters is None else f"{int(parameters):,}"]
            for column, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if column == 0:  # the name column stretches and may elide: the full name on hover
                    item.setToolTip(f"{text}\n{note}" if note else text)
                if column:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                font = item.font()
                font.setBold(quantum)
                if column == 2 and test is not None and best_test is not None and abs(test - best_test) < 1e-12:
                    item.setForeground(QBrush(QColor("#15803d")))
                    font.setBold(True)
                item.setFont(font)
                table.setItem(row, column, item)
        # The best baseline as a reference line on the accuracy plot.
        scored = [(s.get("test_accuracy"), n) for n, s in baselines.items() if s.get("test_accuracy") is not None]
        if scored and len(runs) == 1:
            value, name = max(scored)
            self.accuracy_plot.set_reference(
                [(float(value), f"baseline {value:.3f}", f"Best classical baseline on the same split: {name}, test {value:.3f}")]
            )
        else:
            self.accuracy_plot.set_reference([])

    def _quantum_parameters(self, curves: RunCurves) -> int | None:
        """The quantum model's trainable parameter count: from its record, or for the run in
        progress from its setup."""
        try:
            return self._project.find_run(curves.run_id).parameters
        except KeyError:
            setup = self._setups.get(curves.run_id)
            return setup.num_weights if setup is not None and setup.num_weights else None

    def _update_quantum_row(self, curves: RunCurves) -> None:
        """The quantum model's row of the results table, as the run goes."""
        table = self.baselines_table
        if table.rowCount() == 0 or table.item(0, 0) is None:
            self._show_results()
            return
        for column, value in ((1, curves.last("train_accuracy")), (2, curves.last("test_accuracy"))):
            item = table.item(0, column)
            if item is not None:
                item.setText("" if value is None else f"{value:.3f}")
        item = table.item(0, 3)
        if item is not None:
            item.setText(_duration(curves.last("elapsed_s")))

    def _fit_run_columns(self) -> None:
        """Each column as wide as its title and contents (the last takes what is left); the
        model's description at most :data:`MAX_MODEL_COLUMN` pixels (a cut one is whole in its tooltip)."""
        view = self.runs_view
        view.resizeColumnsToContents()
        header = view.horizontalHeader()
        model = self.runs_model.COLUMNS.index("Model")
        title = header.fontMetrics().horizontalAdvance(self.runs_model.COLUMNS[model]) + 16
        header.resizeSection(model, max(title, min(header.sectionSize(model), MAX_MODEL_COLUMN)))

    # -------------------------------------------------------------- selection
    def _clear_selection(self) -> None:
        self._restoring = True
        self.runs_view.selectionModel().clearSelection()
        self._restoring = False

    def _on_selection_changed(self, *_: Any) -> None:
        if self._restoring:
            return
        ids = self.selected_run_ids()
        self._show_evaluations(ids[0] if len(ids) == 1 else None)
        if not ids:
            self._show_current()
            return
        runs = [c for c in (self._curves_of(rid) for rid in ids) if c is not None]
        if len(runs) > 1:
            for curves in runs:
                if curves is not self._live or self._is_saved_run(curves.run_id):
                    curves.label = run_label(self._project, curves.run_id)
        self._show(runs)
        if self._live is not None and self._live in runs and len(runs) == 1:
            self._update_cards(self._live)

    def _remember_selection(self) -> None:
        self._kept_selection = self.selected_run_ids()

    def _restore_selection(self) -> None:
        if not self._kept_selection:
            return
        self._restoring = True
        try:
            self.select_runs(self._kept_selection)
        finally:
            self._restoring = False

    # ---------------------------------------------------------- state & actions
    def _set_state(self, state: str) -> None:
        changed = state != self._state
        self._state = state
        text, colour = _STATE_TEXT[state]
        self.state_label.setText(text)
        self.state_label.setStyleSheet(
            f"QLabel {{ color: white; background: {colour}; border-radius: 9px; padding: 2px 10px; font-weight: bold; }}"
        )
        self._sync_actions()
        # While the plots are redrawn many times a second their lines are 1 px (ten times
        # cheaper to draw); paused or done, they get their usual width back.
        thin = state in (PREPARING, RUNNING, STOPPING) and self._live is not None and self._live in self._shown
        for panel in (self.loss_plot, self.accuracy_plot, self.grad_plot):
            panel.set_thin(thin)
        self.weights_plot.set_thin(thin)
        if changed:
            self.state_changed.emit(state)

    def _sync_actions(self) -> None:
        state = self._state
        active = self._worker is not None and not self._run_ended  # an ended run's thread only tidies up
        enabled = {
            "train": not active and getattr(self, "_layerwise", None) is None,
            "pause": active and state in (PREPARING, RUNNING, PAUSED),
            "stop": active and state != STOPPING,
            "step": (not active) or state in (RUNNING, PAUSED),
        }
        paused = state == PAUSED
        enabled["layerwise"] = enabled["train"]
        own = {"train": self.train_action, "pause": self.pause_action, "stop": self.stop_action,
               "step": self.step_action, "layerwise": self.layerwise_action}
        for name, action in own.items():
            action.setEnabled(enabled[name])
        self.pause_action.setChecked(paused)
        self.pause_action.setText("Resume" if paused else "Pause")
        self.pause_action.setIcon(self._resume_icon if paused else self._pause_icon)
        for name, action in self._external.items():
            action.setEnabled(enabled[name])
            if name == "pause":
                action.setChecked(paused)
                action.setText("&Resume" if paused else "&Pause")
                action.setIcon(self._resume_icon if paused else self._pause_icon)

    def _show_failure(self, title: str, message: str, details: str) -> None:
        self.failure.show_failure(title, message, details)

    # -------------------------------------------------------------- autosave
