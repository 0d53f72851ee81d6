"""The live training dock: train, watch the model learn, compare runs, never lose a run.

:class:`TrainingDock` is a standalone widget (the main window puts it in a ``QDockWidget``)
over a :class:`~qmlstudio.core.project.Project` and a plugin registry:

* **Controls** — Train (F5), Pause/Resume (F6), Stop (Shift+F5) and Step (F10, one iteration
  then pause), as the dock's own ``QAction``\\ s; :meth:`TrainingDock.connect_actions` drives
  them from the Run menu instead. A progress bar shows the iteration, the epoch and the ETA.
* **Live plots** — train/validation loss and accuracy (R² for regression; the test score
  once, at the end) with the best classical baseline as a reference line, the gradient norm
  on a log axis (a barren plateau shows as a flat, tiny norm), the weights' trajectories, the decision boundary over the
  feature plane for 2-feature data, and the confusion matrix. The worker
  (:class:`~qmlstudio.gui.workers.TrainingWorker`) trains on its own thread; the dock
  collects its reports and redraws on a timer at most :data:`FRAME_RATE_HZ` times a second,
  with one ``setData`` per curve, however fast iterations come.
* **Runs** — every run is added to the project with its configuration; the runs table shows
  date, model, optimizer, backend, scores, time and status; selecting several overlays their
  curves. A run's metrics export as CSV and every plot as PNG or SVG.
* **Nothing lost** — an :class:`~qmlstudio.core.autosave.Autosaver` writes the project after
  every run and every minute during one (with the run so far, marked as interrupted); a clean
  save removes the autosave. :mod:`qmlstudio.gui.recovery` offers it back after a crash.
* A failed run (a diverged loss, a dataset that cannot be read, a plugin that raised) shows
  its message in a banner, with the details one click away.

``python -m qmlstudio.gui.training_dock --screenshot OUT.png`` renders the dock mid-way
through training the demo project.
"""

from __future__ import annotations

import csv
import io
import math
import sys
import time
from collections import deque
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Sequence

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QEventLoop,
    QItemSelection,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QBrush, QColor, QFont, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSplitter,
    QStyle,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.autosave import Autosaver
from qmlstudio.core.project import METRIC_NAMES, Project, RunRecord
from qmlstudio.core.storage import atomic_write_text
from qmlstudio.gui.dataset_options import format_number
from qmlstudio.gui.plots import (
    TEST_COLOUR,
    TRAIN_COLOUR,
    BoundaryPanel,
    ConfusionPanel,
    CurveSpec,
    CurvesPanel,
    PlotPanel,
    RunCurves,
    WeightsPanel,
)
from qmlstudio.gui import training_process
from qmlstudio.gui.training_process import ProcessTrainingWorker
from qmlstudio.gui.workers import BoundaryFrame, RunSetup, TrainingWorker

__all__ = [
    "AUTOSAVE_INTERVAL_MS",
    "FRAME_RATE_HZ",
    "RunsTableModel",
    "TrainingDock",
    "run_label",
    "run_metrics_csv",
    "write_run_csv",
]

#: The plots are redrawn at most this often while a run trains.
FRAME_RATE_HZ = 30
#: Text (progress, numbers) is refreshed at most this often while a run trains.
TEXT_INTERVAL_S = 0.1
#: While a run trains, the interpreter hands the GIL between threads this often (Python's
#: default is 5 ms). The engine's thread holds the GIL almost all the time; each time the GUI
#: thread needs it (every slot, every pyqtgraph paint) it would wait up to the switch interval,
#: and a repaint that needs it many times would stall the event loop for tens of milliseconds.
GIL_SWITCH_INTERVAL_S = 0.00025
#: The project is autosaved this often while a run trains (and after every run).
AUTOSAVE_INTERVAL_MS = 60_000

IDLE, PREPARING, RUNNING, PAUSED, STOPPING = "idle", "preparing", "running", "paused", "stopping"

_STATUS_COLOURS = {
    "completed": "#15803d",
    "stopped": "#b45309",
    "failed": "#b91c1c",
    "running": "#1d4ed8",
    "paused": "#b45309",
}
_STATE_TEXT = {
    IDLE: ("Ready", "#4b5563"),
    PREPARING: ("Preparing…", "#1d4ed8"),
    RUNNING: ("Training", "#15803d"),
    PAUSED: ("Paused", "#b45309"),
    STOPPING: ("Stopping…", "#b91c1c"),
}


# ================================================================== run records
def run_metrics_csv(record: RunRecord) -> str:
    """The run's metrics as CSV text: a header of the metric names, one row per iteration."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(METRIC_NAMES)
    columns = [record.metrics.get(name, []) for name in METRIC_NAMES]
    for row in zip(*columns):
        writer.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row])
    return out.getvalue()


def write_run_csv(record: RunRecord, path: str | Path) -> Path:
    """Writes :func:`run_metrics_csv` to ``path`` atomically."""
    atomic_write_text(path, run_metrics_csv(record))
    return Path(path)


def _local_time(stamp: str | None, with_date: bool = True) -> str:
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp).astimezone()
    except ValueError:
        return stamp
    return when.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _last(values: Sequence[Any]) -> Any:
    for value in reversed(values):
        if value is not None:
            return value
    return None


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return "<1 s"
    seconds = int(round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _describe_model(config: dict[str, Any]) -> str:
    model = (config.get("model") or {}).get("kind", "?")
    kind = {"vqc": "VQC", "regressor": "Regressor", "kernel": "Kernel SVM"}.get(model, str(model))
    parts = [kind]
    encoding = (config.get("encoding") or {}).get("name")
    ansatz = config.get("ansatz") or {}
    if model != "kernel" and ansatz.get("name"):
        reps = (ansatz.get("options") or {}).get("reps")
        parts.append(f"{encoding} + {ansatz['name']}" + (f" ×{reps}" if reps else ""))
    elif encoding:
        parts.append(str(encoding))
    qubits = (config.get("circuit") or {}).get("num_qubits")
    if qubits:
        parts.append(f"{qubits} q")
    return " · ".join(parts)


def _describe_optimizer(config: dict[str, Any]) -> str:
    model = config.get("model") or {}
    if model.get("kind") == "kernel":  # an SVM is fitted, no optimizer runs
        c = (model.get("options") or {}).get("C", 1.0)
        return f"SVM fit · C {c:g}" if isinstance(c, (int, float)) else "SVM fit"
    optimizer = config.get("optimizer") or {}
    name = optimizer.get("name", "")
    rate = (optimizer.get("options") or {}).get("learning_rate")
    training = config.get("training") or {}
    epochs = training.get("epochs")
    text = name + (f" lr {format_number(rate)}" if isinstance(rate, (int, float)) else "")
    return text + (f" · {epochs} ep" if epochs else "")


def run_label(project: Project, run_id: str) -> str:
    """A short name for a run in legends: ``#3 14:05:12`` (its number in the project, its start)."""
    for number, run in enumerate(project.runs, start=1):
        if run.id == run_id:
            return f"#{number} {_local_time(run.started, with_date=False)}"
    return "live"


# ===================================================================== runs table
class RunsTableModel(QAbstractTableModel):
    """The project's runs, newest first, with the run in progress (if any) on top.

    Follows ``project.events.runs_changed``; holds no copy of the runs.
    """

    COLUMNS = ("Started", "Model", "Optimizer", "Backend", "Train", "Test", "Time", "Status")

    def __init__(self, project: Project, parent: Any = None) -> None:
        super().__init__(parent)
        self.project = project
        self.live: dict[str, Any] | None = None
        project.events.runs_changed.connect(self._on_runs_changed)

    def set_project(self, project: Project) -> None:
        self.beginResetModel()
        self.project.events.runs_changed.disconnect(self._on_runs_changed)
        self.project = project
        self.live = None
        project.events.runs_changed.connect(self._on_runs_changed)
        self.endResetModel()

    def detach(self) -> None:
        self.project.events.runs_changed.disconnect(self._on_runs_changed)

    def _on_runs_changed(self, **_: Any) -> None:
        try:
            self.beginResetModel()
            self.endResetModel()
        except RuntimeError:  # the view went away without detaching: stop following
            self.project.events.runs_changed.disconnect(self._on_runs_changed)

    # ------------------------------------------------------------------ live row
    def set_live(self, live: dict[str, Any] | None) -> None:
        """Shows (or, with None, removes) the row of the run in progress."""
        if (self.live is None) != (live is None):
            self.beginResetModel()
            self.live = live
            self.endResetModel()
        else:
            self.live = live
            if live is not None:
                self.dataChanged.emit(self.index(0, 0), self.index(0, len(self.COLUMNS) - 1))

    # ------------------------------------------------------------------- reading
    def _runs(self) -> list[RunRecord]:
        return list(reversed(self.project.runs))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(self.project.runs) + (self.live is not None)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def run_id(self, row: int) -> str | None:
        if self.live is not None:
            if row == 0:
                return self.live["id"]
            row -= 1
        runs = self._runs()
        return runs[row].id if 0 <= row < len(runs) else None

    def row_of(self, run_id: str) -> int | None:
        for row in range(self.rowCount()):
            if self.run_id(row) == run_id:
                return row
        return None

    def record(self, row: int) -> RunRecord | None:
        offset = row - (self.live is not None)
        runs = self._runs()
        return runs[offset] if 0 <= offset < len(runs) else None

    def row_values(self, row: int) -> dict[str, Any]:
        """The values of a row as plain data (the live row or a saved run)."""
        if self.live is not None and row == 0:
            return self.live
        record = self.record(row)
        if record is None:
            return {}
        regression = (record.config.get("model") or {}).get("kind") == "regressor"
        return {
            "id": record.id,
            "started": record.started,
            "config": record.config,
            "train": _last(record.metrics.get("train_accuracy", [])),
            "test": _last(record.metrics.get("test_accuracy", [])),
            "seconds": (record.timings or {}).get("seconds"),
            "status": record.status,
            "message": record.message,
            "iterations": _last(record.metrics.get("iteration", [])),
            "regression": regression,
        }

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        values = self.row_values(index.row())
        if not values:
            return None
        column = self.COLUMNS[index.column()]
        config = values.get("config") or {}
        if role == Qt.ItemDataRole.DisplayRole:
            if column == "Started":
                return _local_time(values.get("started"))
            if column == "Model":
                return _describe_model(config)
            if column == "Optimizer":
                return _describe_optimizer(config)
            if column == "Backend":
                return (config.get("backend") or {}).get("name", "")
            if column in ("Train", "Test"):
                score = values.get("train" if column == "Train" else "test")
                if score is None:
                    return ""
                return f"R² {score:.3f}" if values.get("regression") else f"{score:.3f}"
            if column == "Time":
                return _duration(values.get("seconds"))
            if column == "Status":
                return values.get("status", "")
        if role == Qt.ItemDataRole.ForegroundRole and column == "Status":
            return QBrush(QColor(_STATUS_COLOURS.get(values.get("status", ""), "#374151")))
        if role == Qt.ItemDataRole.FontRole and values is self.live:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("Train", "Test", "Time"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Run {values.get('id', '')}"]
            if column in ("Model", "Optimizer", "Backend"):  # a narrow table elides these: say them whole
                lines.insert(0, str(self.data(index, Qt.ItemDataRole.DisplayRole) or ""))
            if values.get("iterations") is not None:
                lines.append(f"{int(values['iterations']):,} iterations")
            if values.get("message"):
                lines.append(str(values["message"]))
            optimizer = config.get("optimizer") or {}
            if optimizer.get("name"):
                options = ", ".join(f"{k} {format_number(v) if isinstance(v, float) else v}"
                                    for k, v in (optimizer.get("options") or {}).items())
                lines.append(f"Optimizer: {optimizer['name']}" + (f" ({options})" if options else ""))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.UserRole:
            return values.get("id")
        return None


# ========================================================================= pieces
class MetricCard(QFrame):
    """A number to watch: a caption and a large value."""

    def __init__(self, name: str, caption: str, tooltip: str, accent: str = "#374151") -> None:
        super().__init__()
        self.setObjectName(f"card_{name}")
        self.setStyleSheet(
            f"#card_{name} {{ background: palette(base); border: 1px solid palette(midlight); "
            f"border-left: 3px solid {accent}; border-radius: 5px; }}"
        )
        self.setToolTip(tooltip)
        self.caption = QLabel(caption)
        self.caption.setStyleSheet("color: palette(dark); border: none;")
        small = self.caption.font()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        self.caption.setFont(small)
        self.value = QLabel("—")
        self.value.setObjectName(f"cardValue_{name}")
        big = self.value.font()
        big.setPointSizeF(big.pointSizeF() * 1.45)
        big.setBold(True)
        self.value.setFont(big)
        self.value.setStyleSheet("border: none;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 5)
        layout.setSpacing(0)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, text: str) -> None:
        self.value.setText(text or "—")


class FailureBanner(QFrame):
    """A message that a run failed, with its details one click away."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failureBanner")
        self.setStyleSheet(
            "#failureBanner { background: #fef2f2; border: 1px solid #fecaca; border-left: 4px solid #dc2626; "
            "border-radius: 5px; } #failureBanner QLabel { color: #7f1d1d; border: none; }"
        )
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(20, 20))
        self.message = QLabel()
        self.message.setObjectName("failureMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details…")
        self.details_button.setObjectName("failureDetails")
        self.details_button.setToolTip("Show the full message, the traceback and the run's settings")
        self.details_button.clicked.connect(self.show_details)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 6, 6)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.title = ""
        self.details = ""
        self.box: QMessageBox | None = None
        self.hide()

    def show_failure(self, title: str, message: str, details: str) -> None:
        self.title, self.details = title, details
        self.message.setText(f"<b>{_escape(title)}</b><br>{_escape(message)}")
        self.details_button.setVisible(bool(details))
        self.show()

    def show_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, self.title or "Training failed",
                          self.message.text(), QMessageBox.StandardButton.Close, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setDetailedText(self.details)
        box.setObjectName("failureDetailsBox")
        self.box = box
        box.open()


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


class _RateMeter:
    """Iterations per second over the recent reports (reset after a pause)."""

    def __init__(self) -> None:
        self.points: deque[tuple[float, float]] = deque(maxlen=600)

    def reset(self) -> None:
        self.points.clear()

    def add(self, iteration: float, elapsed: float) -> None:
        self.points.append((iteration, elapsed))
        while len(self.points) > 2 and self.points[-1][1] - self.points[0][1] > 5.0:
            self.points.popleft()

    def rate(self) -> float | None:
        if len(self.points) < 2:
            return None
        (i0, t0), (i1, t1) = self.points[0], self.points[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 and i1 > i0 else None


# ========================================================================== dock
class TrainingDock(QWidget):
    """The training dashboard for one project (see the module docstring).

    Signals: ``run_started(str)`` (run id, once the run is built), ``run_finished(object)``
    (the :class:`RunRecord`, after it was added to the project and autosaved),
    ``run_failed(str, str)`` (message, details: the run could not start or crashed),
    ``state_changed(str)`` (``"idle"``, ``"preparing"``, ``"running"``, ``"paused"``,
    ``"stopping"``), ``autosaved(str)`` (the autosave's path) and ``status_message(str)``
    (a line for the status bar).
    """

    run_started = Signal(str)
    run_finished = Signal(object)
    run_failed = Signal(str, str)
    state_changed = Signal(str)
    #: a run's weights were evaluated on another backend: run id, accuracy
    evaluated = Signal(str, float)
    autosaved = Signal(str)
    status_message = Signal(str)

    def __init__(
        self,
        project: Project,
        registry: Any = None,
        parent: QWidget | None = None,
        *,
        autosave: bool = True,
        run_factory: Callable[..., Any] | None = None,
        in_process: bool | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("trainingDock")
        self._project = project
        self.registry = registry
        self.run_factory = run_factory
        #: train on a thread of this process (True) or in a child process (False); None: a
        #: child process unless the run needs what only this process has (see _trains_in_process)
        self.in_process = in_process
        self.autosave_enabled = autosave
        self.autosaver: Autosaver | None = Autosaver(project) if autosave else None
        self._state = IDLE
        self._worker: TrainingWorker | ProcessTrainingWorker | None = None
        self._setup: RunSetup | None = None
        self._live: RunCurves | None = None
        self._pending: list[Any] = []
        self._pending_frame: BoundaryFrame | None = None
        self._curves: dict[str, RunCurves] = {}  # run id → curves of runs shown so far
        self._setups: dict[str, RunSetup] = {}  # run id → what runs of this session trained on
        self._shown: list[RunCurves] = []
        self._meter = _RateMeter()
        self._external: dict[str, QAction] = {}
        self._last_live_row = 0.0
        self.frames_drawn = 0
        self.reports_received = 0
        self._shut_down = False
        self._last_text = 0.0
        self._saved_switch: float | None = None
        self._training = False  # a run is between "prepared" and "finished"
        #: ``preflight(retry)`` is asked before each run; False holds the run back (the window
        #: then asks the user, and calls ``retry()`` to start it once the project is fixed)
        self.preflight: Callable[[Callable[[], Any]], bool] | None = None

        self._build_actions()
        self._build_ui()
        self._frame_timer = QTimer(self)
        self._frame_timer.setInterval(int(1000 / FRAME_RATE_HZ))
        self._frame_timer.timeout.connect(self._frame_tick)
        #: the parts of the current frame still to draw, one per event-loop pass (see _frame_tick)
        self._frame_steps: list[tuple[str, Callable[[], Any]]] = []
        self._step_timer = QTimer(self)
        self._step_timer.setSingleShot(True)
        self._step_timer.setInterval(0)
        self._step_timer.timeout.connect(self._next_frame_step)
        self._autosave_timer = QTimer(self)
        self._autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self._autosave_timer.timeout.connect(self._autosave_during_run)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self._on_about_to_quit)
        self._show_current()
        self._progress_of_newest_run()
        self._set_state(IDLE)

    # ================================================================ building
    def _build_actions(self) -> None:
        style = self.style()
        SP = QStyle.StandardPixmap

        def action(name: str, text: str, tip: str, key: str, icon: QStyle.StandardPixmap) -> QAction:
            act = QAction(style.standardIcon(icon), text, self)
            act.setObjectName(name)
            act.setShortcut(QKeySequence(key))
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            act.setToolTip(f"{tip} ({QKeySequence(key).toString(QKeySequence.SequenceFormat.NativeText)})")
            self.addAction(act)
            return act

        self.train_action = action("trainAction", "Train", "Train the model on the project's dataset", "F5",
                                   SP.SP_MediaPlay)
        self.pause_action = action("pauseAction", "Pause", "Pause training; press again to resume", "F6",
                                   SP.SP_MediaPause)
        self.pause_action.setCheckable(True)
        self.stop_action = action("stopAction", "Stop", "Stop training and keep the run so far", "Shift+F5",
                                  SP.SP_MediaStop)
        self.step_action = action("stepAction", "Step", "Train one iteration, then pause", "F10",
                                  SP.SP_MediaSkipForward)
        self.train_action.triggered.connect(lambda: self.train())
        self.pause_action.triggered.connect(self.set_paused)
        self.stop_action.triggered.connect(self.stop)
        self.step_action.triggered.connect(self.step)
        self._pause_icon = style.standardIcon(SP.SP_MediaPause)
        self._resume_icon = style.standardIcon(SP.SP_MediaPlay)

    def _button(self, action: QAction) -> QToolButton:
        button = QToolButton()
        button.setObjectName(action.objectName().replace("Action", "Button"))
        button.setDefaultAction(action)
        button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        button.setMinimumHeight(28)
        return button

    def _build_ui(self) -> None:
        self.train_button = self._button(self.train_action)
        self.pause_button = self._button(self.pause_action)
        self.stop_button = self._button(self.stop_action)
        self.step_button = self._button(self.step_action)
        self.train_button.setStyleSheet("QToolButton:enabled { font-weight: bold; }")

        self.progress = QProgressBar()
        self.progress.setObjectName("trainingProgress")
        self.progress.setTextVisible(True)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("No run yet")
        self.progress.setMinimumWidth(240)
        self.state_label = QLabel()
        self.state_label.setObjectName("trainingState")
        self.state_label.setMinimumWidth(90)
        self.state_label.setAlignment(Qt.AlignmentFlag.AlignCenter)

        controls = QHBoxLayout()
        controls.setSpacing(4)
        for button in (self.train_button, self.pause_button, self.stop_button, self.step_button):
            controls.addWidget(button)
        controls.addSpacing(8)
        controls.addWidget(self.progress, 1)
        controls.addWidget(self.state_label)

        self.failure = FailureBanner()

        self.cards = {
            "loss": MetricCard("loss", "LOSS (TRAIN)", "Cross-entropy (or MSE) on the last mini-batch", TRAIN_COLOUR),
            "val_loss": MetricCard("val_loss", "LOSS (VALIDATION)", "Loss on the validation split (what early "
                                   "stopping decides on)", TEST_COLOUR),
            "train_accuracy": MetricCard("train_accuracy", "ACCURACY (TRAIN)", "Accuracy (R² for regression) on "
                                         "the training split", TRAIN_COLOUR),
            "test_accuracy": MetricCard("test_accuracy", "ACCURACY (TEST)", "Accuracy (R² for regression) on the "
                                        "test split, scored once when the run ends", TEST_COLOUR),
            "grad_norm": MetricCard("grad_norm", "‖∇‖ GRADIENT", "Norm of the loss gradient; a tiny, flat norm is "
                                    "the sign of a barren plateau", "#7c3aed"),
            "speed": MetricCard("speed", "SPEED", "Iterations per second", "#0891b2"),
            "elapsed": MetricCard("elapsed", "ELAPSED", "Training time of this run", "#4b5563"),
        }
        cards = QHBoxLayout()
        cards.setSpacing(6)
        for card in self.cards.values():
            cards.addWidget(card)

        self.loss_plot = CurvesPanel(
            "loss", "Loss",
            [CurveSpec("loss", "train", TRAIN_COLOUR), CurveSpec("val_loss", "validation", TEST_COLOUR, True)],
            y_label="loss", tooltip="Training loss per mini-batch and loss on the validation split (the test split "
            "is scored once, when the run ends)",
        )
        self.accuracy_plot = CurvesPanel(
            "accuracy", "Accuracy",
            [CurveSpec("train_accuracy", "train", TRAIN_COLOUR),
             CurveSpec("val_accuracy", "validation", TEST_COLOUR, True)],
            y_label="accuracy", tooltip="Accuracy (R² for regression) on the training and validation splits; the "
            "dotted line is the best classical baseline on the same split",
        )
        self.accuracy_plot.value_metric = "val_accuracy"
        self.accuracy_plot.value_format = "validation {:.3f}"
        self.grad_plot = CurvesPanel(
            "grad_norm", "Gradient norm", [CurveSpec("grad_norm", "‖∇‖", "#7c3aed")], log_y=True, y_label="norm",
            tooltip="Norm of the loss gradient, on a log axis: a norm that collapses to a tiny, flat value is the "
            "first sign of a barren plateau",
        )
        self.weights_plot = WeightsPanel()
        self.boundary_plot = BoundaryPanel()
        self.confusion_plot = ConfusionPanel()
        self.plots: dict[str, PlotPanel] = {
            "loss": self.loss_plot,
            "accuracy": self.accuracy_plot,
            "grad_norm": self.grad_plot,
            "weights": self.weights_plot,
            "boundary": self.boundary_plot,
            "confusion": self.confusion_plot,
        }
        for panel in self.plots.values():
            panel.exported.connect(lambda path: self.status_message.emit(f"Plot exported to {path}"))
        grid_widget = QWidget()
        grid = QGridLayout(grid_widget)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setSpacing(6)
        grid.addWidget(self.loss_plot, 0, 0)
        grid.addWidget(self.accuracy_plot, 0, 1)
        grid.addWidget(self.boundary_plot, 0, 2)
        grid.addWidget(self.grad_plot, 1, 0)
        grid.addWidget(self.weights_plot, 1, 1)
        grid.addWidget(self.confusion_plot, 1, 2)
        for column in range(3):
            grid.setColumnStretch(column, 1)

        # Runs and results
        self.runs_model = RunsTableModel(self._project, self)
        self.runs_view = QTableView()
        self.runs_view.setObjectName("runsTable")
        self.runs_view.setModel(self.runs_model)
        self.runs_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.runs_view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.runs_view.setAlternatingRowColors(True)
        self.runs_view.verticalHeader().hide()
        self.runs_view.setShowGrid(False)
        self.runs_view.setWordWrap(False)
        header = self.runs_view.horizontalHeader()
        # Columns are fitted when the runs change, not on every update of the live row
        # (ResizeToContents would measure every cell of every run each time).
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(RunsTableModel.COLUMNS.index("Model"), QHeaderView.ResizeMode.Stretch)
        self.runs_model.modelReset.connect(self._fit_run_columns)
        header.setHighlightSections(False)
        self.runs_view.verticalHeader().setDefaultSectionSize(22)
        self.runs_view.setToolTip("Select one run to see it, several (Ctrl/Shift-click) to overlay their curves")
        self._fit_run_columns()
        self.runs_view.selectionModel().selectionChanged.connect(self._on_selection_changed)
        self.runs_model.modelAboutToBeReset.connect(self._remember_selection)
        self.runs_model.modelReset.connect(self._restore_selection)
        self._kept_selection: list[str] = []
        self._restoring = False

        self.export_csv_button = QToolButton()
        self.export_csv_button.setObjectName("exportCsvButton")
        self.export_csv_button.setText("Export CSV…")
        self.export_csv_button.setToolTip("Export the selected run's metrics (one row per iteration) as CSV")
        self.export_csv_button.clicked.connect(self.export_csv_with_dialog)
        self.evaluate_button = QToolButton()
        self.evaluate_button.setObjectName("evaluateOnButton")
        self.evaluate_button.setText("Evaluate on…")
        self.evaluate_button.setToolTip(
            "Evaluate the selected run's trained weights on another backend (a noisy device model, "
            "hardware) without retraining; the accuracy is kept with the run"
        )
        self.evaluate_button.clicked.connect(self.evaluate_with_dialog)
        self.evaluations_label = QLabel()
        self.evaluations_label.setObjectName("runEvaluations")
        self.evaluations_label.setWordWrap(True)
        self.evaluations_label.hide()
        self.runs_title = QLabel("<b>Runs</b>")
        runs_header = QHBoxLayout()
        runs_header.setContentsMargins(2, 0, 2, 0)
        runs_header.addWidget(self.runs_title)
        hint = QLabel("Ctrl-click to overlay runs")
        hint.setStyleSheet("color: palette(dark);")
        runs_header.addWidget(hint)
        runs_header.addStretch(1)
        runs_header.addWidget(self.evaluate_button)
        runs_header.addWidget(self.export_csv_button)
        runs_box = QWidget()
        runs_layout = QVBoxLayout(runs_box)
        runs_layout.setContentsMargins(0, 0, 0, 0)
        runs_layout.setSpacing(3)
        runs_layout.addLayout(runs_header)
        runs_layout.addWidget(self.runs_view, 1)
        runs_layout.addWidget(self.evaluations_label)

        self.baselines_table = QTableWidget(0, 5)
        self.baselines_table.setObjectName("baselinesTable")
        self.baselines_table.setHorizontalHeaderLabels(["Model", "Train", "Test", "Time", "Params"])
        self.baselines_table.verticalHeader().hide()
        self.baselines_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.baselines_table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.baselines_table.setShowGrid(False)
        self.baselines_table.verticalHeader().setDefaultSectionSize(22)
        bheader = self.baselines_table.horizontalHeader()
        bheader.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        bheader.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.baselines_table.setToolTip("The quantum model beside classical baselines trained on the same split")
        baselines_box = QWidget()
        baselines_layout = QVBoxLayout(baselines_box)
        baselines_layout.setContentsMargins(0, 0, 0, 0)
        baselines_layout.setSpacing(3)
        self.baselines_title = QLabel("<b>Quantum vs classical baselines</b>")
        baselines_layout.addWidget(self.baselines_title)
        baselines_layout.addWidget(self.baselines_table, 1)

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(runs_box)
        bottom.addWidget(baselines_box)
        bottom.setStretchFactor(0, 3)
        bottom.setStretchFactor(1, 2)
        bottom.setChildrenCollapsible(False)

        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(grid_widget)
        self.splitter.addWidget(bottom)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([560, 190])
        self.splitter.setChildrenCollapsible(False)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        layout.addLayout(controls)
        layout.addWidget(self.failure)
        self.job_label = QLabel()
        self.job_label.setObjectName("jobStatus")
        self.job_label.setToolTip("The remote job of this run on IBM Quantum hardware: its id, status and queue position")
        self.job_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.job_label.hide()
        layout.addWidget(self.job_label)
        layout.addLayout(cards)
        layout.addWidget(self.splitter, 1)

    # ================================================================== API
    @property
    def project(self) -> Project:
        return self._project

    @property
    def state(self) -> str:
        return self._state

    @property
    def worker(self) -> TrainingWorker | ProcessTrainingWorker | None:
        """The worker of the run in progress (None when idle)."""
        return self._worker

    @property
    def live_curves(self) -> RunCurves | None:
        """The curves of the run in progress (or of the last run of this session)."""
        return self._live

    def connect_actions(self, train: QAction, pause: QAction, stop: QAction, step: QAction | None = None) -> None:
        """Lets the Run menu's actions drive the dock, and keeps them in step with it.

        The menu's actions trigger the dock's; the dock enables and disables them, checks
        ``pause`` while paused and renames it Resume. They take the dock's shortcuts (F5, F6,
        Shift+F5, F10) when they have none, and the dock's own actions drop theirs, so no
        key is bound twice.
        """
        pairs = {"train": (train, self.train_action), "pause": (pause, self.pause_action),
                 "stop": (stop, self.stop_action)}
        if step is not None:
            pairs["step"] = (step, self.step_action)
        for name, (external, own) in pairs.items():
            if external.shortcut().isEmpty():
                external.setShortcut(own.shortcut())
            own.setShortcut(QKeySequence())
            if not external.toolTip() or external.toolTip() == external.text().replace("&", ""):
                external.setToolTip(own.toolTip())
            self._external[name] = external
        pause.setCheckable(True)
        train.triggered.connect(lambda: self.train())
        pause.triggered.connect(self.set_paused)
        stop.triggered.connect(self.stop)
        if step is not None:
            step.triggered.connect(self.step)
        self._sync_actions()

    def set_project(self, project: Project) -> None:
        """Shows another project. A run in progress is stopped (and kept in the old project).

        Call it after the user saved or discarded the old project: its autosave is removed.
        """
        if project is self._project:
            return
        self.stop_and_wait()
        if self.autosaver is not None:
            self.autosaver.close(discard=True)
        self._project = project
        self.autosaver = Autosaver(project) if self.autosave_enabled else None
        self.runs_model.set_project(project)
        self._curves.clear()
        self._setups.clear()
        self._live = None
        self._setup = None
        self.failure.hide()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("No run yet")
        self._show_current()
        self._progress_of_newest_run()

    def _progress_of_newest_run(self) -> None:
        """The progress bar says how the run the plots show (the newest saved one) ended."""
        if self._worker is None and self._project.runs:
            self._update_progress_final(self._project.runs[-1])

    def train(self, epochs: int | None = None, *, pause_at: int | None = None, step: bool = False) -> bool:
        """Starts a run of the project as it is now; False if one is already going.

        ``epochs`` overrides the project's; ``pause_at`` pauses the run after that iteration
        (a breakpoint); ``step`` pauses it after its first iteration.
        """
        if self._worker is not None or self._shut_down:
            return False
        if self.registry is None:
            from qmlstudio.plugins.manager import load_plugins

            self.registry = load_plugins()
        if self.preflight is not None and not self.preflight(lambda: self.train(epochs, pause_at=pause_at, step=step)):
            return False  # the window fixes the project first, or asks the user
        self.failure.hide()
        in_process = self._trains_in_process()
        worker_class = TrainingWorker if in_process else ProcessTrainingWorker
        try:
            worker = worker_class(self._project, self.registry, epochs=epochs, run_factory=self.run_factory,
                                  step=step, pause_at=pause_at)
        except Exception as exc:  # a project that cannot even be copied: say so, never crash
            self._show_failure("Cannot start training", f"{type(exc).__name__}: {exc}", "")
            return False
        worker.prepared.connect(self._on_prepared)
        worker.baselines.connect(self._on_baselines)
        # The thread worker's batches come from two threads: queued keeps them in order. The
        # process worker emits on this thread, in order; direct keeps them ahead of its
        # ``crashed``, which must see every report that came.
        worker.iteration.connect(self._on_reports, Qt.ConnectionType.QueuedConnection if in_process
                                 else Qt.ConnectionType.DirectConnection)
        worker.boundary.connect(self._on_boundary)
        worker.finished.connect(self._on_finished)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        worker.job.connect(self._on_job)
        if isinstance(worker, ProcessTrainingWorker):
            worker.crashed.connect(self._on_crashed)
        self._worker = worker
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

    def _trains_in_process(self) -> bool:
        """Whether the next run trains on a thread of this process rather than in a child.

        A child process rebuilds everything from plain data, so the run stays here when it
        needs what only this process has: a ``run_factory`` that cannot be pickled (a local
        function) or plugins registered in memory rather than installed.
        """
        if self.in_process is not None:
            return self.in_process
        if self.run_factory is not None:
            import pickle

            try:
                pickle.dumps(self.run_factory)
            except Exception:  # noqa: BLE001 - a lambda or a closure
                return True
        plugins = getattr(self.registry, "plugins", {}) or {}
        return any(getattr(info, "source", "") == "registered" and getattr(info, "status", "") != "disabled"
                   for info in plugins.values())

    def set_paused(self, paused: bool) -> None:
        """Pauses (True) or resumes (False) the run in progress."""
        worker = self._worker
        if worker is None or self._state == STOPPING:
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
        if worker is None:
            return
        worker.stop()
        self._set_state(STOPPING)

    def step(self) -> None:
        """Trains one more iteration and pauses (starts a run paused after one iteration when idle)."""
        if self._worker is None:
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

    def shutdown(self, discard_autosave: bool = True) -> None:
        """Ends everything before the dock goes away: the run (waited for), timers, autosave.

        With ``discard_autosave`` (a clean close: the user saved or chose not to) the
        autosave is removed; otherwise it stays for recovery.
        """
        if self._shut_down:
            return
        self._shut_down = True
        self._frame_timer.stop()
        self._step_timer.stop()
        self._autosave_timer.stop()
        worker = self._worker
        if worker is not None:
            worker.stop()
            worker.wait(10_000)
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

    def select_runs(self, run_ids: Sequence[str]) -> None:
        """Selects these runs in the runs table (several: their curves are overlaid)."""
        selection = QItemSelection()
        for run_id in run_ids:
            row = self.runs_model.row_of(run_id)
            if row is not None:
                selection.select(self.runs_model.index(row, 0),
                                 self.runs_model.index(row, self.runs_model.columnCount() - 1))
        self.runs_view.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def selected_run_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.runs_view.selectionModel().selectedRows()})
        return [rid for rid in (self.runs_model.run_id(r) for r in rows) if rid is not None]

    def shown_run_ids(self) -> list[str]:
        """The runs the plots show now."""
        return [curves.run_id for curves in self._shown]

    def show_baselines(self) -> str:
        """Brings the quantum-vs-classical table into view (the latest run's, when no run is
        shown) and says what it compares, or how to get a comparison."""
        if not self._shown and self.runs_model.rowCount() > 0:
            last = self.runs_model.run_id(self.runs_model.rowCount() - 1)
            if last is not None:
                self.select_runs([last])
        area = self.parentWidget()
        while area is not None and not isinstance(area, QScrollArea):
            area = area.parentWidget()
        if area is not None:
            area.ensureWidgetVisible(self.baselines_table)
        self.baselines_table.setFocus(Qt.FocusReason.OtherFocusReason)
        baselines = self._shown[0].baselines if self._shown else {}
        if not baselines:
            if not self._project.model.options.get("baselines", True):
                return 'Classical baselines are turned off in this project (model option "baselines": false)'
            if self._shown:
                return "This run has no classical baselines (a stopped run skips them): train again to get them"
            return ("No classical baselines yet: every training run fits logistic regression, an RBF SVM, an MLP "
                    "and a parameter-matched MLP on the same split, tuned by cross-validation on the training "
                    "rows, and shows them here (press Train)")
        best = max(baselines.items(), key=lambda item: item[1].get("test_accuracy") or float("-inf"))
        return f"Quantum model beside {len(baselines)} classical baselines on the same split (best: {best[0]})"

    def export_run_csv(self, run_id: str, path: str | Path) -> Path:
        """Writes a run's metrics as CSV (one row per iteration)."""
        return write_run_csv(self._project.find_run(run_id), path)

    def export_plot(self, name: str, path: str | Path) -> Path:
        """Writes one plot (``loss``, ``accuracy``, ``grad_norm``, ``weights``, ``boundary``,
        ``confusion``) as PNG or SVG, by the file's suffix."""
        return self.plots[name].export(path)

    def evaluate_on(self, run_id: str, choice: str) -> None:
        """Evaluates run ``run_id``'s weights on the backend ``choice`` (``NAME[:ARG][,k=v]``) in the
        background; the accuracy is added to the run's evaluations and ``evaluated`` is emitted."""
        from qmlstudio.gui.background import run_in_background
        from qmlstudio.workflow import evaluate_weights

        project, registry = self._project, self.registry
        if registry is None:
            from qmlstudio.plugins.manager import load_plugins

            registry = self.registry = load_plugins()
        self.evaluate_button.setEnabled(False)
        self.status_message.emit(f"Evaluating the run on {choice}…")

        def done(ok: bool, value: Any) -> None:
            self.evaluate_button.setEnabled(True)
            if not ok:
                self._show_failure("Cannot evaluate on that backend", str(value), "")
                return
            if project is not self._project:
                return
            run = project.find_run(value.run_id)
            run.evaluations.append(
                {"backend": value.choice.name, "options": dict(value.choice.options), "accuracy": value.accuracy}
            )
            project.run_updated(run)
            self._show_evaluations(run.id)
            self.status_message.emit(f"Accuracy on {choice}: {value.accuracy:.3f}")
            self.evaluated.emit(run.id, float(value.accuracy))

        run_in_background(lambda: evaluate_weights(project, registry, run_id, choice), done, self)

    def evaluate_with_dialog(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        ids = [rid for rid in self.selected_run_ids() if self._is_saved_run(rid)]
        if not ids:
            QMessageBox.information(self, "Evaluate on…", "Select a finished run in the runs list first.")
            return
        choice, ok = QInputDialog.getText(
            self, "Evaluate on another backend",
            "Backend as NAME[:ARG][,key=value…], e.g. aer-noise:fake_manila,seed=3 or aer-shots,shots=4000:",
            text="aer-noise:fake_manila,seed=7",
        )
        if ok and choice.strip():
            self.evaluate_on(ids[0], choice.strip())

    def _show_evaluations(self, run_id: str | None) -> None:
        try:
            run = self._project.find_run(run_id) if run_id else None
        except KeyError:
            run = None
        if run is None or not run.evaluations:
            self.evaluations_label.hide()
            return
        test = run.metrics["test_accuracy"][-1] if run.metrics["test_accuracy"] else None
        parts = [] if test is None else [f"trained backend {test:.3f}"]
        for item in run.evaluations:
            accuracy = item.get("accuracy")
            options = ",".join(f"{k}={v}" for k, v in (item.get("options") or {}).items() if k != "seed")
            where = item["backend"] + (f" ({options})" if options else "")
            parts.append(f"{where} {'–' if accuracy is None else f'{accuracy:.3f}'}")
        self.evaluations_label.setText("<b>Test accuracy</b> · " + " · ".join(parts))
        self.evaluations_label.show()

    def export_csv_with_dialog(self) -> None:
        ids = [rid for rid in self.selected_run_ids() if self._is_saved_run(rid)]
        if not ids and self._shown and self._is_saved_run(self._shown[0].run_id):
            ids = [self._shown[0].run_id]
        if not ids:
            QMessageBox.information(self, "Export CSV", "Select a finished run in the runs list first.")
            return
        record = self._project.find_run(ids[0])
        stamp = record.started.replace(":", "").replace("-", "")
        path, _ = QFileDialog.getSaveFileName(self, "Export run metrics", f"run-{stamp}.csv",
                                              "CSV files (*.csv);;All files (*)")
        if not path:
            return
        try:
            write_run_csv(record, path)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}:\n{exc.strerror or exc}")
            return
        self.status_message.emit(f"Metrics of the run exported to {path}")

    # ============================================================ worker side
    def _on_prepared(self, setup: RunSetup) -> None:
        self._training = True
        self._setup = setup
        self._setups[setup.run_id] = setup
        live = RunCurves(setup.run_id, "live", setup.task)
        live.total_iterations = setup.total_iterations
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
        live = self._live
        if record.num_points == 0 and record.status == "stopped":
            self.status_message.emit("Stopped before the first iteration; no run was kept")
            self._forget_live()
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

    def _on_job(self, job_id: str, status: str, queue: object) -> None:
        position = "" if queue is None else f" · queue position {queue}"
        text = f"IBM job {job_id}: {status}{position}"
        self.job_label.setText(text)
        self.job_label.show()
        self.status_message.emit(text)

    def _on_failed(self, message: str, details: str) -> None:
        self._frame()
        self._training = False
        self._forget_live()
        self._show_failure("Training could not run", message, details)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Failed")
        self.status_message.emit(message)
        self.run_failed.emit(message, details)

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
            single = len(self._shown) == 1
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

    def _show(self, runs: list[RunCurves]) -> None:
        self._shown = runs
        classification = all(run.task == "classification" for run in runs)
        self.accuracy_plot.set_y_limits((-0.02, 1.02) if classification else None)
        self.accuracy_plot.title.setText("Accuracy" if classification else "R²")
        self.accuracy_plot.plot.setLabel("left", "accuracy" if classification else "R²")
        growing = self._training and self._live is not None and self._live in runs
        for panel in (self.loss_plot, self.accuracy_plot, self.grad_plot):
            panel.show_runs(runs, growing)
        if not runs:
            self.loss_plot.set_placeholder("Press Train (F5) to start")
        primary = runs[0] if len(runs) == 1 else None
        self.weights_plot.show_run(primary, growing)
        if len(runs) > 1:
            self.weights_plot.set_placeholder("Select one run\nto see its weights")
        setup = self._setups.get(primary.run_id) if primary is not None else None
        self.boundary_plot.set_data(setup)
        if primary is not None and setup is None:
            self.boundary_plot.set_placeholder("The decision boundary is shown\nfor runs trained in this session")
        elif len(runs) > 1:
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
        self.runs_view.resizeColumnsToContents()

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
        active = self._worker is not None
        enabled = {
            "train": not active,
            "pause": active and state in (PREPARING, RUNNING, PAUSED),
            "stop": active and state != STOPPING,
            "step": (not active) or state in (RUNNING, PAUSED),
        }
        paused = state == PAUSED
        own = {"train": self.train_action, "pause": self.pause_action, "stop": self.stop_action,
               "step": self.step_action}
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
    def _autosave(self, extra: Sequence[RunRecord] = ()) -> None:
        saver = self.autosaver
        if saver is None:
            return
        future = saver.save(extra, wait=False)

        def done(f: Any) -> None:
            # On the autosave thread: only a (queued) signal crosses back to the GUI.
            try:
                path = f.result()
            except Exception as exc:  # noqa: BLE001 - a full disk must not take the GUI down
                self.status_message.emit(f"Autosave failed: {exc}")
                return
            self.autosaved.emit(str(path))

        future.add_done_callback(done)

    def _autosave_during_run(self) -> None:
        """Every minute during a run: the project with the run so far, marked as interrupted."""
        partial = self._partial_record()
        self._autosave([partial] if partial is not None else [])

    def _partial_record(self) -> RunRecord | None:
        setup, live = self._setup, self._live
        if setup is None or live is None or live.rows == 0:
            return None
        iteration = live.last("iteration") or 0
        record = RunRecord(
            id=setup.run_id,
            status="stopped",
            message=f"interrupted after iteration {int(iteration):,}: QML Studio ended before the run finished",
            config=setup.config,
            metrics=live.metrics(),
            final_weights=[] if live.last_weights is None else [float(w) for w in live.last_weights],
            baselines=live.baselines,
        )
        return record

    def _on_about_to_quit(self) -> None:
        # The application quits with a run in progress: never leave a QThread running.
        self._frame_timer.stop()
        self._step_timer.stop()
        self._autosave_timer.stop()
        worker = self._worker
        if worker is not None:
            worker.stop()
            worker.wait(5_000)


# ===================================================================== screenshot
def _settle(app: QApplication, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def _wait(app: QApplication, condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.005)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qmlstudio.gui.training_dock [--screenshot OUT.png] [PROJECT]``."""
    import argparse
    import dataclasses
    import os
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m qmlstudio.gui.training_dock",
                                     description="The training dock on its own, on a project (the demo by default).")
    parser.add_argument("project", nargs="?", help="a .qmls project (default: resources/demo.qmls)")
    parser.add_argument("--screenshot", metavar="PNG", help="train, pause half-way, write the dock to PNG and quit")
    parser.add_argument("--size", default="1440x900", help="window size for the screenshot (WIDTHxHEIGHT)")
    parser.add_argument("--epochs", type=int, help="epochs of the screenshot's run (default: the project's)")
    args = parser.parse_args(argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        # Nothing the screenshot does may touch the user's settings or autosaves.
        os.environ["QMLSTUDIO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="qmlstudio-shot-")
    from qmlstudio.core.project import load_project
    from qmlstudio.plugins.manager import load_plugins

    project_path = Path(args.project) if args.project else Path(__file__).resolve().parents[2] / "resources" / "demo.qmls"
    try:
        project = load_project(project_path)
    except Exception as exc:  # noqa: BLE001
        print(f"training_dock: {exc}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    dock = TrainingDock(project, load_plugins(), autosave=not args.screenshot)
    dock.setWindowTitle(f"Training — {project.name}")
    width, _, height = args.size.partition("x")
    dock.resize(int(width), int(height))
    dock.show()
    if not args.screenshot:
        code = app.exec()
        dock.shutdown(discard_autosave=False)
        return code

    # An earlier, shorter run with a higher learning rate, for the runs list and the comparison.
    original = project.optimizer
    project.optimizer = dataclasses.replace(original, options={**original.options, "learning_rate": 0.01})
    dock.train(epochs=10)
    if not _wait(app, lambda: dock.state == IDLE and len(project.runs) == 1, 120):
        print("training_dock: the first run did not finish", file=sys.stderr)
        return 1
    project.optimizer = original
    first = project.runs[0]
    per_epoch = max(1, int(_last(first.metrics["iteration"]) or 1) // max(1, int(_last(first.metrics["epoch"]) or 1)))
    epochs = args.epochs or project.training.epochs
    half = max(1, epochs * per_epoch // 2)
    # A breakpoint half-way makes the picture the same every time.
    dock.train(epochs=epochs, pause_at=half)
    if not _wait(app, lambda: dock.state == PAUSED and (dock.live_curves is not None)
                 and (dock.live_curves.last("iteration") or 0) >= half, 120):
        print("training_dock: the run did not reach half-way", file=sys.stderr)
        return 1
    _settle(app, 0.8)
    pixmap = dock.grab()
    Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
    ok = pixmap.save(args.screenshot, "PNG")
    dock.shutdown(discard_autosave=True)
    if not ok:
        print(f"training_dock: could not write {args.screenshot}", file=sys.stderr)
        return 1
    print(f"wrote {args.screenshot} ({pixmap.width()}×{pixmap.height()})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


def _tuned_note(scores: dict[str, Any]) -> str:
    """A baseline's tooltip: what was tuned, how, and its untuned test score."""
    tuned = scores.get("tuned") or {}
    chosen = tuned.get("chosen")
    parts = []
    if chosen:
        parts.append("Tuned by " + str(tuned.get("cv", "cross-validation")) + " cross-validation on the training rows: "
                     + ", ".join(f"{k} = {v}" for k, v in chosen.items()))
    elif tuned.get("note"):
        parts.append(str(tuned["note"]))
    if scores.get("untuned_test_accuracy") is not None:
        parts.append(f"untuned (defaults, unscaled inputs): test {scores['untuned_test_accuracy']:.3f}")
    return "; ".join(parts)
