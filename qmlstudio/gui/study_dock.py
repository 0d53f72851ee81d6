"""The Study dock: a project over configurations × seeds, with a live table of means and
95% intervals (the classical baselines' rows under each configuration), a strip plot of the
test scores per configuration, cancel and resume. The work is qmlstudio.workflow.study's;
this dock only collects the choices and shows the results."""

from __future__ import annotations

import threading
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import Project
from qmlstudio.workflow.statistics import study_statistics
from qmlstudio.workflow.study import (
    VARIABLES,
    StudyCancelled,
    find_or_add_study,
    missing_trials,
    new_study,
    parse_vary,
    planned_trials,
    run_study,
    start_local_workers,
)


class _Relay(QObject):
    """Carries the worker thread's news to the GUI thread (queued signals)."""

    trial = Signal(object, int, int)
    finished = Signal(str)


def _cell(s: dict[str, Any]) -> str:
    if s.get("mean") is None:
        return "–"
    text = f"{s['mean']:.3f}"
    if s.get("ci95"):
        half = (s["ci95"][1] - s["ci95"][0]) / 2
        text += f" ± {half:.3f}"
    return text


def _start_local_workers() -> None:
    try:
        start_local_workers()
    except Exception:  # noqa: BLE001  (Run starts it again, and says what failed)
        pass


class StudyDock(QWidget):
    """Pick what varies, the seeds and the workers; run, cancel, resume."""

    #: the study's state changed: "running", "finished", "cancelled" or "failed: ..."
    state_changed = Signal(str)

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("studyDock")
        self.project = project
        self._cancel: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self._study: dict[str, Any] | None = None
        self._workers_started = False
        self._relay = _Relay(self)  # owned by the dock: the study thread's last reference never frees it there
        self._relay.trial.connect(self._on_trial)
        self._relay.finished.connect(self._on_finished)

        self.variable = QComboBox(objectName="studyVariable")
        self.variable.addItems(list(VARIABLES))
        self.values = QLineEdit(objectName="studyValues", placeholderText="values, e.g. angle,amplitude")
        self.add_button = QPushButton("Add", objectName="studyAdd")
        self.add_button.clicked.connect(self._add_vary)
        self.vary_list = QListWidget(objectName="studyVaryList")
        self.vary_list.setMaximumHeight(70)
        self.remove_button = QPushButton("Remove", objectName="studyRemove")
        self.remove_button.clicked.connect(lambda: self.vary_list.takeItem(self.vary_list.currentRow()))
        self.seeds = QSpinBox(objectName="studySeeds", minimum=1, maximum=100, value=5)
        self.workers = QSpinBox(objectName="studyWorkers", minimum=0, maximum=256, value=2)
        self.workers.setToolTip("local Dask worker processes; 0 runs the trials here, one after another")
        self.scheduler = QLineEdit(objectName="studyScheduler", placeholderText="tcp://HOST:8786 (empty: local)")
        self.run_button = QPushButton("Run / resume", objectName="studyRun")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel", objectName="studyCancel", enabled=False)
        self.cancel_button.clicked.connect(self.cancel)
        self.status = QLabel("", objectName="studyStatus")
        self.table = QTableWidget(0, 4, objectName="studyTable")
        self.table.setHorizontalHeaderLabels(["configuration / baseline", "seeds", "test score (mean ± 95% CI)", "verdict"])
        self.table.horizontalHeader().setStretchLastSection(True)
        self.plot = pg.PlotWidget(objectName="studyPlot")
        self.plot.setLabel("left", "test score")
        self.plot.setMinimumHeight(200)
        self.plot.setBackground("w")
        self.plot.addLegend(offset=(-10, 10), labelTextColor="k", brush=pg.mkBrush(255, 255, 255, 220))
        self.curves = pg.PlotWidget(objectName="studyCurves")
        self.curves.setLabel("left", "validation accuracy (mean, 95% CI)")
        self.curves.setLabel("bottom", "step")
        self.curves.setMinimumHeight(200)
        self.curves.setBackground("w")
        self.curves.addLegend(offset=(-10, -10), labelTextColor="k", brush=pg.mkBrush(255, 255, 255, 220))

        pick = QHBoxLayout()
        pick.addWidget(self.variable)
        pick.addWidget(self.values, 1)
        pick.addWidget(self.add_button)
        pick.addWidget(self.remove_button)
        form = QFormLayout()
        form.addRow("Vary", pick)
        form.addRow("", self.vary_list)
        form.addRow("Seeds", self.seeds)
        form.addRow("Workers", self.workers)
        form.addRow("Scheduler", self.scheduler)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(self.table, 1)
        plots = QHBoxLayout()
        plots.addWidget(self.plot, 1)
        plots.addWidget(self.curves, 1)
        layout.addLayout(plots, 2)

    def on_shown(self, visible: bool) -> None:
        """Connected to the dock's ``visibilityChanged`` (a tabbed dock that is not the current
        tab stays "visible" to Qt, off screen): the first time the Study tab is really shown,
        the local workers' fork server starts in the background (its imports take about 2 s
        on one core), so that Run starts its workers in a fraction of a second."""
        if visible and not self._workers_started and self.workers.value() > 0 and not self.scheduler.text().strip():
            self._workers_started = True
            threading.Thread(target=_start_local_workers, name="study-workers", daemon=True).start()

    # ------------------------------------------------------------------ choices
    def set_project(self, project: Project) -> None:
        if self.running:
            self.cancel()
        self.project = project
        self._study = None
        self.table.setRowCount(0)
        self.plot.clear()
        self.curves.clear()

    def _add_vary(self) -> None:
        text = f"{self.variable.currentText()}={self.values.text().strip()}"
        try:
            parse_vary([text])
        except QMLStudioError as exc:
            self.status.setText(str(exc))
            return
        self.vary_list.addItem(text)
        self.values.clear()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # ------------------------------------------------------------------ running
    def start(self) -> None:
        if self.running:
            return
        try:
            vary = parse_vary([self.vary_list.item(i).text() for i in range(self.vary_list.count())])
            scheduler = self.scheduler.text().strip() or None
            if scheduler and "://" not in scheduler:
                raise QMLStudioError("the scheduler is a Dask address such as tcp://HOST:8786")
        except QMLStudioError as exc:
            self.status.setText(str(exc))
            return
        study = find_or_add_study(self.project, new_study(vary, list(range(self.seeds.value()))))
        self._study = study
        # The worker thread gets its own copy of the project and study; results come back
        # through signals and are recorded into the real project on this (the GUI) thread.
        copy = Project.from_dict(self.project.to_dict())
        object.__setattr__(copy, "path", self.project.path)
        mirror = dict(study, trials=list(study["trials"]))
        todo = len(missing_trials(study))
        self.status.setText(f"{todo} of {len(planned_trials(study))} trials to run")
        self._cancel = cancel = threading.Event()
        workers, relay = self.workers.value(), self._relay

        def work() -> None:
            try:
                run_study(copy, mirror, workers=workers, scheduler=scheduler, cancel=cancel,
                          on_trial=lambda trial, done, total: relay.trial.emit(trial, done, total))
            except StudyCancelled:
                relay.finished.emit("cancelled")
            except Exception as exc:  # shown, never a crash of the window
                relay.finished.emit(f"failed: {exc}")
            else:
                relay.finished.emit("finished")

        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self._thread = threading.Thread(target=work, name="study", daemon=True)
        self._thread.start()
        self.state_changed.emit("running")
        self._refresh()

    def cancel(self) -> None:
        if self._cancel is not None:
            self._cancel.set()

    def _on_trial(self, trial: dict[str, Any], done: int, total: int) -> None:
        if self._study is None:
            return
        self._study["trials"].append(trial)
        self.project.mark_changed("studies")
        self.status.setText(f"{done} of {total} trials")
        self._refresh()

    def _on_finished(self, state: str) -> None:
        if self._thread is not None:
            self._thread.join(5)  # it emitted this as its last act
            self._thread = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        if state != "finished":
            self.status.setText(state)
        elif self._study is not None:
            n = len(planned_trials(self._study))
            failed = sum(t.get("status") == "failed" for t in self._study["trials"])
            self.status.setText(f"finished: {len(self._study['trials'])} of {n} trials"
                                + (f" ({failed} failed)" if failed else ""))
        self.state_changed.emit(state)

    # ------------------------------------------------------------------ results
    def statistics(self) -> list[dict[str, Any]]:
        return [] if self._study is None else study_statistics(self._study["trials"])

    def _refresh(self) -> None:
        stats = self.statistics()
        rows: list[tuple[str, str, str, str]] = []
        for s in stats:
            label = ", ".join(f"{k}={v}" for k, v in s["config"].items()) or "(project as is)"
            verdict = (s["comparison"] or {}).get("verdict", "")
            rows.append((label, str(len(s["seeds"])), _cell(s["test_accuracy"]), verdict))
            for name, b in s["baselines"].items():
                rows.append((f"    {name}", str(b["n"]), _cell(b), ""))
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        self.table.resizeColumnsToContents()
        self._draw_strips(stats)
        self._draw_curves(stats)

    #: symbols of the baselines' strips, in the order of their names
    _SYMBOLS = ("t", "s", "d", "+", "x", "star", "p", "h")

    def _draw_strips(self, stats: list[dict[str, Any]]) -> None:
        """Per configuration (x = 0, 1, ...): the quantum model's test score per seed (circles)
        with its mean and 95% interval to the left, and each baseline's per-seed scores on the
        same seeds (other symbols) to the right."""
        import numpy as np

        self.plot.clear()
        trials = [] if self._study is None else self._study["trials"]
        names = sorted({n for s in stats for n in s["baselines"]})
        step = 0.5 / max(len(names), 1)
        for i, s in enumerate(stats):
            done = [t for t in trials if t["config_key"] == s["config_key"] and t.get("status") == "completed"]
            ys = [t["test_accuracy"] for t in done if t.get("test_accuracy") is not None]
            item = pg.ScatterPlotItem([float(i)] * len(ys), ys, size=9, symbol="o", brush=pg.mkBrush(60, 120, 220),
                                      name="quantum model" if i == 0 else None)
            item.study_role = f"strip:{s['config_key']}:quantum"  # type: ignore[attr-defined]  # found by the tests
            self.plot.addItem(item)
            mean, ci = s["test_accuracy"]["mean"], s["test_accuracy"]["ci95"]
            if ci:
                self.plot.addItem(pg.ErrorBarItem(x=np.array([i - 0.15]), y=np.array([mean]), top=ci[1] - mean,
                                                  bottom=mean - ci[0], beam=0.08, pen=pg.mkPen("k", width=2)))
            for j, name in enumerate(names):
                bys = [(t.get("baselines") or {}).get(name) for t in done]
                bys = [y for y in bys if y is not None]
                colour = pg.intColor(j, hues=max(len(names), 1) + 1, alpha=200)
                b = pg.ScatterPlotItem([i + 0.15 + j * step] * len(bys), bys, size=7, symbol=self._SYMBOLS[j % 8],
                                       brush=colour, pen=colour, name=name if i == 0 else None)
                b.study_role = f"strip:{s['config_key']}:{name}"  # type: ignore[attr-defined]  # found by the tests
                self.plot.addItem(b)
        if stats:  # room on the right for the legend
            self.plot.setXRange(-0.5, len(stats) - 0.5 + 1.6, padding=0)
        axis = self.plot.getAxis("bottom")
        axis.setTicks([[(i, ", ".join(f"{v}" for v in s["config"].values()) or "project") for i, s in enumerate(stats)]])

    def _draw_curves(self, stats: list[dict[str, Any]]) -> None:
        """Per configuration: the seed-averaged learning curve (validation accuracy, else training
        accuracy, per step) and its band: the 95% t interval of the mean over the seeds."""
        import numpy as np

        self.curves.clear()
        for i, s in enumerate(stats):
            band = s["curve"]
            keep = [k for k, m in enumerate(band["mean"]) if m is not None]
            if not keep:
                continue
            x = np.array(keep, dtype=float)
            colour = pg.intColor(i, hues=max(len(stats), 1) + 1)
            label = ", ".join(f"{k}={v}" for k, v in s["config"].items()) or "project"
            mean = self.curves.plot(x, np.array([band["mean"][k] for k in keep]), pen=pg.mkPen(colour, width=2),
                                    name=f"{label} (n={len(s['seeds'])})")
            mean.study_role = f"curve:{s['config_key']}"  # type: ignore[attr-defined]  # found by the tests
            low = pg.PlotDataItem(x, np.array([band["low"][k] for k in keep]))
            high = pg.PlotDataItem(x, np.array([band["high"][k] for k in keep]))
            fill_colour = pg.mkColor(colour)
            fill_colour.setAlpha(60)
            fill = pg.FillBetweenItem(low, high, brush=pg.mkBrush(fill_colour))
            fill.study_role = f"band:{s['config_key']}"  # type: ignore[attr-defined]  # found by the tests
            self.curves.addItem(fill)
