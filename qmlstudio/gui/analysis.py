"""The Analysis menu: barren plateaus, gradient heatmap, encodings, kernels, the report.

:func:`install_analysis_menu` adds the menu to a main window (before Help) and returns an
:class:`AnalysisController`, kept as ``window.analysis``. Each long study (barren plateau,
encodings, kernel) is plain data run by :func:`qmlstudio.workflow.analyses.run_analysis` in a
child process (:class:`~qmlstudio.gui.process_job.ProcessJob`: the window keeps its interpreter,
a crash in native code ends the child, not the window), or on a thread
(:class:`~qmlstudio.gui.background.Job`) when a plugin exists only in this process's memory; the
report is written on a thread. Each study shows its
progress and a Cancel button in its result dock, and puts its result in that dock,
created on demand and reused: pyqtgraph plots (log-y gradient variance with the fitted
lines, heatmaps with a colour bar), a table for the encoding study.

Parameters are asked through ``controller.ask(study, defaults)``, a dialog by default;
tests and scripts replace it (return None to cancel).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
import shiboken6
from PySide6.QtCore import QObject, QPoint, QRect, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence

from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.gui.background import Job, long_pool
from qmlstudio.gui.plots import wheel_zooms_with_ctrl
from qmlstudio.gui.process_job import ProcessJob, runs_here
from qmlstudio.workflow.analyses import analysis_spec_project, run_analysis

__all__ = ["AnalysisController", "AnalysisDock", "StudyThread", "install_analysis_menu"]

STUDIES = {
    "barren-plateau": "Barren Plateau",
    "encodings": "Encoding Study",
    "kernel": "Kernel Study",
    "report": "Comparison Report",
}
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


#: A running study: a :class:`~qmlstudio.gui.background.Job` (progress, Cancel, result).
StudyThread = Job


# ---------------------------------------------------------------------------
# Result views
# ---------------------------------------------------------------------------
def _heatmap(title: str, values: np.ndarray, *, x_label: str, y_label: str, levels: tuple[float, float] | None = None,
             colormap: str = "viridis") -> pg.GraphicsLayoutWidget:
    """An ``ImageItem`` of ``values`` (rows down) with a colour bar; NaN cells stay blank."""
    view = pg.GraphicsLayoutWidget()
    view.setBackground("w")
    plot = view.addPlot(title=title)
    image = pg.ImageItem(axisOrder="row-major")
    data = np.asarray(values, dtype=float)
    finite = data[np.isfinite(data)]
    lo, hi = levels or ((float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0))
    if hi <= lo:
        hi = lo + 1e-12
    cmap = pg.colormap.get(colormap)
    # Cells without a value (a gate without weights) are transparent, not the lowest colour.
    rgba = cmap.map(np.clip((np.nan_to_num(data, nan=lo) - lo) / (hi - lo), 0, 1).ravel(), mode="byte")
    rgba = rgba.reshape(data.shape + (4,)).copy()
    rgba[~np.isfinite(data), 3] = 0
    image.setImage(rgba, levels=None)
    image.setRect(-0.5, -0.5, data.shape[1], data.shape[0])
    image.values = data
    plot.addItem(image)
    plot.invertY(True)
    plot.setLabel("bottom", x_label)
    plot.setLabel("left", y_label)
    # Cells are whole rows and columns: ticks at their centres only (no "qubit 0.5").
    for axis, count in (("left", data.shape[0]), ("bottom", data.shape[1])):
        step = max(1, int(math.ceil(count / 12)))
        plot.getAxis(axis).setTicks([[(i, str(i)) for i in range(0, count, step)], []])
    bar = pg.ColorBarItem(values=(lo, hi), colorMap=cmap, interactive=False, width=14)
    view.addItem(bar)
    view.image, view.plot, view.bar = image, plot, bar
    return view


class AnalysisDock(QDockWidget):
    """A study's result dock: a progress row (with Cancel) above the result view."""

    cancel_requested = Signal()

    def __init__(self, study: str, parent: QWidget | None = None) -> None:
        super().__init__(STUDIES[study], parent)
        self.study = study
        self.setObjectName("analysis" + "".join(p.title() for p in study.split("-")) + "Dock")
        holder = QWidget()
        layout = QVBoxLayout(holder)
        layout.setContentsMargins(4, 4, 4, 4)
        row = QHBoxLayout()
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(220)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this study (results so far are discarded)")
        self.cancel_button.clicked.connect(self.cancel_requested)
        row.addWidget(self.status, 1)
        row.addWidget(self.progress)
        row.addWidget(self.cancel_button)
        layout.addLayout(row)
        self.body = QVBoxLayout()
        layout.addLayout(self.body, 1)
        # Until the first result: a line saying where it will be (keeps the status row on top).
        self._placeholder: QLabel | None = QLabel("The result appears here when the study ends.")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setStyleSheet("color: #6B7280;")
        self.body.addWidget(self._placeholder, 1)
        self.setWidget(holder)
        self.content: QWidget | None = None
        self.result: Any = None
        self.set_running(False)

    def set_running(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel_button.setVisible(running)
        if running:
            self.progress.setRange(0, 0)

    def show_progress(self, done: int, total: int, message: str) -> None:
        self.progress.setRange(0, total)
        self.progress.setValue(min(done, total))
        self.status.setText(message)

    def set_content(self, widget: QWidget, result: Any) -> None:
        if self._placeholder is not None:
            self.body.removeWidget(self._placeholder)
            self._placeholder.deleteLater()
            self._placeholder = None
        if self.content is not None:
            self.body.removeWidget(self.content)
            self.content.deleteLater()
        self.content, self.result = widget, result
        self.body.addWidget(widget, 1)


def barren_plateau_view(result: Any, heatmap: Any = None) -> QWidget:
    """Log-y variance against qubits with the fitted lines (rates in the legend), and the
    mean |gradient| map of the current design beside it."""
    splitter = QSplitter(Qt.Orientation.Horizontal)
    plot = pg.PlotWidget(background="w")
    wheel_zooms_with_ctrl(plot)
    plot.setObjectName("variancePlot")
    plot.setLogMode(x=False, y=True)
    plot.showGrid(x=True, y=True, alpha=0.3)
    plot.setLabel("bottom", "qubits n")
    plot.setLabel("left", "Var[∂C/∂θ]")
    plot.setTitle(f"{result.template}: {result.samples} samples, fit Var ∝ 2^(−a·n)")
    plot.getAxis("left").enableAutoSIPrefix(False)
    legend = plot.addLegend(offset=(10, -10), labelTextSize="9pt")
    legend.setBrush(pg.mkBrush(255, 255, 255, 220))
    n = np.asarray(result.qubits, dtype=float)
    fine = np.linspace(n.min(), n.max(), 50)
    error_bars: list[pg.ErrorBarItem] = []
    if getattr(result, "variance_ci95", None):
        plot.setTitle(f"{result.template}: {result.samples} samples (bars: 95% CI), fit Var ∝ 2^(−a·n)")
    k = 0
    for cost, style in (("global", Qt.PenStyle.SolidLine), ("local", Qt.PenStyle.DashLine)):
        for L in result.layers:
            colour = COLOURS[k % len(COLOURS)]
            k += 1
            v = np.asarray(result.variance[cost][str(L)])
            a, b = result.rate[cost][str(L)], result.intercept[cost][str(L)]
            span = (result.rate_ci95 or {}).get(cost, {}).get(str(L))
            interval = f" [{span[0]:.2f}, {span[1]:.2f}]" if span else ""
            plot.plot(n, v, pen=pg.mkPen(colour, width=2, style=style), symbol="o", symbolBrush=colour, symbolSize=7,
                      name=f"{cost}, {L} layers: a = {a:.2f}{interval}")
            if math.isfinite(a):
                plot.plot(fine, 2.0 ** (b - a * fine), pen=pg.mkPen(colour, width=1, style=Qt.PenStyle.DotLine))
            bars = _variance_error_bars(n, v, (result.variance_ci95 or {}).get(cost, {}).get(str(L)), colour)
            if bars is not None:
                plot.addItem(bars)
                error_bars.append(bars)
    plot.setXRange(n.min() - 0.4, n.max() + 0.4, padding=0)  # the end points' bars whole
    plot.legend = legend
    #: the 95% bootstrap intervals of the variances, one error-bar item per curve
    plot.error_bars = error_bars
    splitter.addWidget(plot)
    splitter.plot = plot
    splitter.heatmaps = []
    if heatmap is not None:
        side = QSplitter(Qt.Orientation.Vertical)
        for cost in ("global", "local"):
            view = _heatmap(f"mean |∂C/∂θ|, {cost} cost", heatmap.grid[cost], x_label="column", y_label="qubit")
            view.setObjectName(f"{cost}Heatmap")
            side.addWidget(view)
            splitter.heatmaps.append(view)
        splitter.addWidget(side)
        splitter.setSizes([600, 400])
    return splitter


def _variance_error_bars(n: np.ndarray, variance: np.ndarray, intervals: Any, colour: str) -> pg.ErrorBarItem | None:
    """Vertical bars from each interval's low to high, in the log-y plot's own (log10) units."""
    if not intervals or len(intervals) != len(variance):
        return None
    ci = np.asarray([[np.nan, np.nan] if c is None else c for c in intervals], dtype=float)
    keep = np.isfinite(ci).all(axis=1) & (ci[:, 0] > 0) & (variance > 0)
    if not keep.any():
        return None
    y = np.log10(variance[keep])
    return pg.ErrorBarItem(x=n[keep], y=y, top=np.log10(ci[keep, 1]) - y, bottom=y - np.log10(ci[keep, 0]),
                           beam=0.12, pen=pg.mkPen(colour, width=1))


def encodings_view(result: Any) -> QWidget:
    """The table of encodings and their loss curves overlaid."""
    splitter = QSplitter(Qt.Orientation.Vertical)
    basis = ",".join(getattr(result, "basis_gates", ()) or ())
    device = getattr(result, "device", None)
    columns = [("encoding", "encoding", "the encoding"),
               ("encoding_qubits", "enc. qubits", "qubits the encoding needs"),
               ("qubits", "qubits", "qubits of the whole circuit (the same ansatz for every encoding)"),
               ("weights", "weights", "trainable weights"),
               ("encoding_depth", "enc. depth", f"depth of the encoding alone, transpiled to {basis}"),
               ("encoding_two_qubit", "enc. 2q", f"two-qubit gates of the encoding alone, transpiled to {basis}"),
               ("depth", "depth", f"depth of the whole circuit, transpiled to {basis}"),
               ("two_qubit", "2q", f"two-qubit gates of the whole circuit, transpiled to {basis}")]
    if device:
        columns += [("device_encoding_depth", "dev. enc. depth", f"the encoding alone, transpiled to {device}"),
                    ("device_encoding_two_qubit", "dev. enc. 2q", f"the encoding alone, transpiled to {device}"),
                    ("device_depth", "dev. depth", f"the whole circuit, transpiled to {device}"),
                    ("device_two_qubit", "dev. 2q", f"the whole circuit, transpiled to {device} (SWAPs included)")]
    columns += [("test_accuracy", "test accuracy", "test accuracy at the end"),
                ("seconds", "seconds", "training time"), ("status", "status", "")]
    table = QTableWidget(len(result.rows), len(columns))
    table.setObjectName("encodingTable")
    table.setHorizontalHeaderLabels([title for _, title, _ in columns])
    for c, (_, _, tip) in enumerate(columns):
        table.horizontalHeaderItem(c).setToolTip(tip)
    table.verticalHeader().setVisible(False)
    table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
    for r, row in enumerate(result.rows):
        for c, (key, _, _) in enumerate(columns):
            value = getattr(row, key, None)
            if key == "status":
                notes = [row.status if row.status == "completed" else f"{row.status}: {row.message}"]
                notes += [row.device_message] if getattr(row, "device_message", "") else []
                value = "; ".join(notes)
            text = "–" if value is None else (f"{value:.3f}" if isinstance(value, float) else str(value))
            item = QTableWidgetItem(text)
            if c and key != "status":
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)
    table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.horizontalHeader().setStretchLastSection(True)
    plot = pg.PlotWidget(background="w")
    wheel_zooms_with_ctrl(plot)
    plot.setObjectName("encodingCurves")
    plot.showGrid(x=True, y=True, alpha=0.3)
    plot.setLabel("bottom", "iteration")
    plot.setLabel("left", "training loss")
    plot.addLegend(offset=(-10, 10))
    for k, row in enumerate(result.rows):
        points = [(i, v) for i, v in enumerate(row.loss, start=1) if v is not None]
        if points:
            x, y = zip(*points)
            plot.plot(x, y, pen=pg.mkPen(COLOURS[k % len(COLOURS)], width=2), name=row.encoding)
    splitter.addWidget(table)
    splitter.addWidget(plot)
    splitter.setSizes([180, 320])
    splitter.table, splitter.plot = table, plot
    return splitter


def kernel_view(result: Any) -> QWidget:
    """The Gram matrix (training samples sorted by class) and QSVC against RBF SVC."""
    holder = QWidget()
    layout = QHBoxLayout(holder)
    view = _heatmap(f"quantum kernel ({result.encoding}), samples sorted by class", result.gram,
                    x_label="training sample", y_label="training sample", levels=(0.0, 1.0))
    view.setObjectName("kernelHeatmap")
    layout.addWidget(view, 3)
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    verdict = ("the quantum kernel wins" if result.quantum_wins else
               "the RBF kernel is as good or better" if result.quantum_test_accuracy is not None else "")
    summary = QLabel(
        f"<h3>Kernel-target alignment</h3><p>quantum <b>{fmt(result.alignment)}</b>, RBF {fmt(result.rbf_alignment)}</p>"
        "<h3>Same split</h3><table cellspacing='6'><tr><th></th><th>train</th><th>test</th></tr>"
        f"<tr><td>QSVC</td><td>{fmt(result.quantum_train_accuracy)}</td><td><b>{fmt(result.quantum_test_accuracy)}</b></td></tr>"
        f"<tr><td>RBF SVC</td><td>{fmt(result.rbf_train_accuracy)}</td><td><b>{fmt(result.rbf_test_accuracy)}</b></td></tr>"
        f"</table><p>{result.num_train} training, {result.num_test} test samples: {verdict}.</p>"
    )
    summary.setObjectName("kernelSummary")
    summary.setTextFormat(Qt.TextFormat.RichText)
    summary.setAlignment(Qt.AlignmentFlag.AlignTop)
    summary.setWordWrap(True)
    layout.addWidget(summary, 2)
    holder.heatmap, holder.summary = view, summary
    return holder


def report_view(path: Path, text: str) -> QWidget:
    browser = QTextBrowser()
    browser.setObjectName("reportBrowser")
    browser.setOpenExternalLinks(True)
    browser.setHtml(text)
    browser.path = path
    return browser


# ---------------------------------------------------------------------------
# Parameter dialog
# ---------------------------------------------------------------------------
class StudyDialog(QDialog):
    """Asks a study's settings; :meth:`values` gives them as a dict."""

    def __init__(self, study: str, defaults: dict[str, Any], choices: dict[str, list[str]], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(STUDIES[study])
        form = QFormLayout(self)
        self._getters: dict[str, Callable[[], Any]] = {}
        for key, value in defaults.items():
            if key in choices:
                widget = QListWidget()
                widget.setMaximumHeight(140)
                for name in choices[key]:
                    item = QListWidgetItem(name)
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if name in value else Qt.CheckState.Unchecked)
                    widget.addItem(item)
                self._getters[key] = lambda w=widget: [w.item(i).text() for i in range(w.count())
                                                       if w.item(i).checkState() == Qt.CheckState.Checked]
            elif isinstance(value, bool):
                widget = QCheckBox()
                widget.setChecked(value)
                self._getters[key] = widget.isChecked
            elif isinstance(value, int):
                widget = QSpinBox()
                widget.setRange(1, 100_000)
                widget.setValue(value)
                self._getters[key] = widget.value
            else:
                widget = QLineEdit(str(value))
                self._getters[key] = widget.text
            form.addRow(key.replace("_", " ").capitalize(), widget)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict[str, Any]:
        return {k: get() for k, get in self._getters.items()}


# ---------------------------------------------------------------------------
# The controller
# ---------------------------------------------------------------------------
class AnalysisController(QObject):
    """Runs the studies for a main window and shows their results in docks.

    ``finished(study, result)`` and ``failed(study, message)`` are emitted on the GUI
    thread when a study ends; ``docks[study]`` is its dock once created.
    """

    finished = Signal(str, object)
    failed = Signal(str, str)

    def __init__(self, window: Any) -> None:
        super().__init__(window)
        self.window = window
        self.docks: dict[str, AnalysisDock] = {}
        self.threads: dict[str, StudyThread] = {}
        self.actions: dict[str, QAction] = {}
        self.ask: Callable[[str, dict[str, Any]], dict[str, Any] | None] = self._ask_dialog
        self.ask_report_path: Callable[[Path], Path | None] = self._ask_report_path
        #: True: studies run on a thread here; False: in a child process; None: a child unless a
        #: plugin lives only in this process's memory (:func:`~qmlstudio.gui.process_job.runs_here`)
        self.in_process: bool | None = None

    # ------------------------------------------------------------ plumbing
    @property
    def registry(self) -> Any:
        return self.window.registry

    @property
    def project(self) -> Any:
        return self.window.project

    def _ask_dialog(self, study: str, defaults: dict[str, Any]) -> dict[str, Any] | None:
        choices = {}
        if "encodings" in defaults:
            choices["encodings"] = sorted(getattr(self.registry, "encodings", {}) or defaults["encodings"])
        dialog = StudyDialog(study, defaults, choices, self.window)
        return dialog.values() if dialog.exec() == QDialog.DialogCode.Accepted else None

    def _ask_report_path(self, suggestion: Path) -> Path | None:
        name, _ = QFileDialog.getSaveFileName(self.window, "Save Comparison Report", str(suggestion), "HTML (*.html)")
        return Path(name) if name else None

    def dock(self, study: str) -> AnalysisDock:
        """The study's dock, created on first use as a large window of its own.

        Results (plots, heat maps, tables) need room: docked at the bottom they got a strip
        of 200 pixels. The dock opens floating, at about three quarters of the main window
        (at least 900 × 600 where the screen allows), over the window; it can still be
        docked by double-clicking its title.
        """
        dock = self.docks.get(study)
        if dock is None:
            dock = AnalysisDock(study, self.window)
            dock.cancel_requested.connect(lambda s=study: self.cancel(s))
            self.window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, dock)
            dock.setFloating(True)
            dock.setGeometry(self._floating_geometry(len(self.docks)))
            self.docks[study] = dock
        dock.show()
        dock.raise_()
        return dock

    def _floating_geometry(self, index: int) -> QRect:
        """Where the ``index``-th study window opens: large, over the main window, cascaded."""
        frame = self.window.frameGeometry()
        screen = self.window.screen() or QApplication.primaryScreen()
        available = screen.availableGeometry() if screen is not None else frame
        width = min(max(900, int(frame.width() * 0.75)), available.width())
        height = min(max(600, int(frame.height() * 0.75)), available.height())
        rect = QRect(0, 0, width, height)
        rect.moveCenter(frame.center() + QPoint(28 * index, 28 * index))
        # Keep it on the screen.
        rect.moveLeft(max(available.left(), min(rect.left(), available.right() - width)))
        rect.moveTop(max(available.top(), min(rect.top(), available.bottom() - height)))
        return rect

    def is_running(self, study: str | None = None) -> bool:
        threads = [self.threads.get(study)] if study else list(self.threads.values())
        return any(t is not None and shiboken6.isValid(t) and t.running for t in threads)

    def cancel(self, study: str | None = None) -> None:
        for name, thread in list(self.threads.items()):
            if study in (None, name) and shiboken6.isValid(thread):
                thread.cancel()

    def _start(self, study: str, work: Callable[[Callable[[int, int, str], bool]], Any],
               show: Callable[[AnalysisDock, Any], None], controls: Any = None,
               spec: dict[str, Any] | None = None) -> StudyThread | None:
        """Starts ``study``: in a child process when it has a ``spec`` (plain data, see
        :mod:`qmlstudio.workflow.analyses`) and no plugin lives only in this process's memory,
        otherwise ``work`` on a thread."""
        if self.is_running(study):
            self.window.statusBar().showMessage(f"{STUDIES[study]} is already running", 4000)
            return None
        dock = self.dock(study)
        dock.set_running(True)
        dock.status.setText(f"{STUDIES[study]}: starting…")
        in_process = self.in_process if self.in_process is not None else runs_here(self.registry)
        if spec is not None and not in_process:
            thread: Any = ProcessJob(spec, self, disabled=getattr(self.registry, "disabled", ()))
        else:
            thread = Job(work, self, controls=controls)
        thread.progressed.connect(dock.show_progress)

        def done(result: Any) -> None:
            dock.set_running(False)
            try:
                show(dock, result)
            except Exception as exc:  # noqa: BLE001 - a view that cannot draw is a message
                dock.status.setText(f"{STUDIES[study]}: cannot show the result: {exc}")
                self.failed.emit(study, str(exc))
                return
            self.window.statusBar().showMessage(f"{STUDIES[study]} finished", 5000)
            self.finished.emit(study, result)

        def fail(message: str) -> None:
            dock.set_running(False)
            dock.status.setText(f"{STUDIES[study]}: {message}")
            self.window.statusBar().showMessage(f"{STUDIES[study]}: {message}", 8000)
            self.failed.emit(study, message)

        thread.succeeded.connect(done)
        thread.failed.connect(fail)
        thread.done.connect(lambda s=study, t=thread: self._forget(s, t))
        self.threads[study] = thread
        thread.start(long_pool())  # builds qiskit's gate table on this thread first
        return thread

    def _forget(self, study: str, thread: StudyThread) -> None:
        if self.threads.get(study) is thread:
            del self.threads[study]
        thread.deleteLater()

    def wait(self, msecs: int = 10_000) -> bool:
        """Waits for every study thread (at close, in tests)."""
        return all(t.wait(msecs) for t in list(self.threads.values()) if shiboken6.isValid(t) and t.running)

    def _no_project(self) -> bool:
        if self.project is None:
            self.window.statusBar().showMessage("Open or create a project first", 5000)
            return True
        return False

    # ------------------------------------------------------------ studies
    def barren_plateau(self, **given: Any) -> StudyThread | None:
        """The barren-plateau study (and the current design's gradient map)."""
        defaults = {"qubits": "2-8", "layers": "2,20", "samples": 200, "template": "hardware-efficient",
                    "heatmap": True}
        values = given or self.ask("barren-plateau", defaults)
        if values is None:
            return None
        values = {**defaults, **values}
        project, registry = self.project, self.registry
        template, options = str(values["template"]), {}
        if template == "current" and project is not None and project.ansatz is not None:
            template, options = project.ansatz.name, dict(project.ansatz.options)
        design = project.circuit.copy() if project is not None and values["heatmap"] else None
        spec = {"kind": "barren-plateau", "qubits": str(values["qubits"]), "layers": str(values["layers"]),
                "samples": int(values["samples"]), "template": template, "options": options,
                "design": None if design is None else design.to_dict(),
                "seed": project.seed if project is not None else 7}

        def work(progress: Callable[[int, int, str], bool]) -> Any:
            return run_analysis(spec, registry, progress)

        def show(dock: AnalysisDock, value: Any) -> None:
            result, heat = value
            def rate(c: str, L: int) -> str:
                span = (result.rate_ci95 or {}).get(c, {}).get(str(L))
                return f"{result.rate[c][str(L)]:.2f}" + (f" [{span[0]:.2f}, {span[1]:.2f}]" if span else "")

            rates = ", ".join(f"{c} {L} layers a = {rate(c, L)}" for c in ("global", "local") for L in result.layers)
            dock.status.setText(f"Var ∝ 2^(−a·n), 95% intervals: {rates} ({result.seconds:.1f} s)")
            dock.set_content(barren_plateau_view(result, heat), value)

        return self._start("barren-plateau", work, show, spec=spec)

    def encodings(self, **given: Any) -> StudyThread | None:
        """Trains the project's model with each chosen encoding."""
        from qmlstudio.workflow import Controls

        if self._no_project():
            return None
        current = self.project.encoding.name
        chosen = [current] + [e for e in ("angle", "dense-angle", "zz-feature-map") if e != current]
        defaults = {"encodings": chosen, "epochs": self.project.training.epochs, "keep_runs": False,
                    "same_ansatz": True, "device": ""}
        values = given or self.ask("encodings", defaults)
        if values is None:
            return None
        values = {**defaults, **values}
        names = values["encodings"]
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",") if n.strip()]
        project, registry, controls = self.project, self.registry, Controls()

        device = str(values.get("device") or "").strip() or None

        spec = {"kind": "encodings", **analysis_spec_project(project), "encodings": list(names),
                "epochs": int(values["epochs"]), "same_ansatz": bool(values["same_ansatz"]), "device": device}

        def work(progress: Callable[[int, int, str], bool]) -> Any:
            if device:
                from qmlstudio.gui.background import wait_for_background

                # The views' jobs (a transpile) may be importing qiskit-ibm-runtime's transpiler
                # plugins: importing its device models alongside stalled both. Let them finish first.
                wait_for_background(120_000)
            return run_analysis(spec, registry, progress, controls)

        def show(dock: AnalysisDock, result: Any) -> None:
            if values.get("keep_runs"):
                for record in result.records:
                    project.add_run(record)
            best = max((r for r in result.rows if r.test_accuracy is not None), key=lambda r: r.test_accuracy, default=None)
            width = (f"same ansatz on {result.qubits} qubits" if result.qubits is not None
                     else "ansatz on each encoding's qubits")
            where = ",".join(result.basis_gates) + (f" and {result.device}" if result.device else "")
            dock.status.setText(f"{len(result.rows)} encodings, {width}, {result.epochs} epochs, seed {result.seed}; "
                                f"depths transpiled to {where}"
                                + (f"; best: {best.encoding} ({best.test_accuracy:.3f})" if best else ""))
            dock.set_content(encodings_view(result), result)

        return self._start("encodings", work, show, controls=controls, spec=spec)

    def kernel(self, **given: Any) -> StudyThread | None:
        """The project's quantum kernel against an RBF kernel."""
        if self._no_project():
            return None
        project, registry = self.project, self.registry
        encoding = given.get("encoding") or project.encoding.name

        spec = {"kind": "kernel", **analysis_spec_project(project), "encoding": encoding}

        def work(progress: Callable[[int, int, str], bool]) -> Any:
            return run_analysis(spec, registry, progress)

        def show(dock: AnalysisDock, result: Any) -> None:
            dock.status.setText(f"{result.encoding}: alignment {result.alignment:.3f}; QSVC test "
                                f"{result.quantum_test_accuracy if result.quantum_test_accuracy is None else round(result.quantum_test_accuracy, 3)}"
                                f", RBF SVC test {result.rbf_test_accuracy if result.rbf_test_accuracy is None else round(result.rbf_test_accuracy, 3)}")
            dock.set_content(kernel_view(result), result)

        return self._start("kernel", work, show, spec=spec)

    def report(self, path: str | Path | None = None) -> StudyThread | None:
        """Writes the project's comparison report (with the studies shown) and displays it."""
        from qmlstudio.workflow import render_report

        if self._no_project():
            return None
        project = self.project
        if path is None:
            base = Path(project.path).with_suffix(".report.html") if getattr(project, "path", None) else Path("report.html")
            path = self.ask_report_path(base)
            if path is None:
                return None
        path = Path(path)
        studies = []
        for dock in self.docks.values():
            if dock.study != "report" and dock.result is not None:
                studies.append(dock.result[0] if dock.study == "barren-plateau" else dock.result)

        def work(progress: Callable[[int, int, str], bool]) -> Any:
            from qmlstudio.workflow import write_report

            progress(0, 2, "rendering plots")
            text = render_report(project, studies)
            progress(1, 2, f"writing {path.name}")
            write_report(project, path, studies)
            return path, text

        def show(dock: AnalysisDock, value: Any) -> None:
            written, text = value
            dock.status.setText(f"Saved {written}")
            dock.set_content(report_view(written, text), value)

        return self._start("report", work, show)


def install_analysis_menu(window: Any) -> AnalysisController:
    """Adds the Analysis menu before Help; returns the controller (also ``window.analysis``)."""
    controller = AnalysisController(window)
    bar = window.menuBar()
    menu = window.menus.get("analysis")
    if menu is None:
        from PySide6.QtWidgets import QMenu

        menu = QMenu("&Analysis", bar)
        menu.setObjectName("analysisMenu")
        menu.setToolTipsVisible(True)
        help_menu = window.menus.get("help")
        if help_menu is not None:
            bar.insertMenu(help_menu.menuAction(), menu)
        else:
            bar.addMenu(menu)
        window.menus["analysis"] = menu
    entries = [
        ("barren-plateau", "&Barren Plateau Study…", "Gradient variance against qubits for a global and a local cost",
         controller.barren_plateau, None),
        ("encodings", "&Encoding Study…", "Train the model with each encoding on the same data and seed",
         controller.encodings, None),
        ("kernel", "&Kernel Study", "The quantum kernel's Gram matrix, its alignment, and QSVC against RBF SVC",
         controller.kernel, None),
        (None, None, None, None, None),
        ("report", "Comparison &Report…", "One HTML page with every run, the baselines, the plots and the configuration",
         controller.report, None),
        (None, None, None, None, None),
        ("cancel", "&Cancel Analysis", "Stop the running studies", controller.cancel, QKeySequence("Ctrl+Alt+.")),
    ]
    for key, text, tip, slot, shortcut in entries:
        if key is None:
            menu.addSeparator()
            continue
        action = QAction(text, window)
        action.setObjectName(f"analysis_{key}Action")
        action.setToolTip(tip)
        action.setStatusTip(tip)
        if shortcut is not None:
            action.setShortcut(shortcut)
        action.triggered.connect(lambda _=False, s=slot: s())
        menu.addAction(action)
        controller.actions[key] = action
        if hasattr(window, "named_actions"):
            window.named_actions[f"analysis.{key}"] = action
    window.analysis = controller
    return controller
