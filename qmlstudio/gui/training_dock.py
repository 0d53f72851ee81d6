"""The live training dock: train, watch the model learn, compare runs, never lose a run.

:class:`TrainingDock` is a standalone widget (the main window puts it in a ``QDockWidget``)
over a :class:`~qmlstudio.core.project.Project` and a plugin registry:

* **Controls** — Train (F5), Pause/Resume (F6), Stop (Shift+F5) and Step (F10, one iteration
  then pause), as the dock's own ``QAction``\\ s; :meth:`TrainingDock.connect_actions` drives
  them from the Run menu instead. A progress bar shows the iteration, the epoch and the ETA.
* **Live plots** — train/validation loss and accuracy (R² for regression; the test score
  once, at the end) with the best classical baseline as a reference line, the gradient norm
  on a log axis (a barren plateau shows as a flat, tiny norm), the weights' trajectories, the decision boundary over the
  feature plane for 2-feature data, and the confusion matrix. The run trains in a child
  process (:class:`~qmlstudio.gui.training_process.ProcessTrainingWorker`; on a thread of this
  process, :class:`~qmlstudio.gui.workers.TrainingWorker`, only when it needs what only this
  process has); the dock collects its reports and redraws on a timer at most
  :data:`FRAME_RATE_HZ` times a second, with one ``setData`` per curve, however fast
  iterations come. A crash of the child keeps the run up to its last report, marked failed.
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

The dock is split by responsibility: this module holds the widget (its layout, the public API
and the evaluation on another backend); :mod:`~qmlstudio.gui.training_controller` starts and
controls runs and turns the worker's reports into runs; :mod:`~qmlstudio.gui.training_drawing`
redraws; :mod:`~qmlstudio.gui.training_autosave` autosaves; :mod:`~qmlstudio.gui.training_runs`
is the runs table; :mod:`~qmlstudio.gui.training_widgets` the small pieces;
:mod:`~qmlstudio.gui.training_state` the states and rates; :mod:`~qmlstudio.gui.training_screenshot`
the screenshot CLI.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Sequence

import shiboken6
from PySide6.QtCore import (
    QCoreApplication,
    QItemSelection,
    QItemSelectionModel,
    QObject,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QGridLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QScrollArea,
    QSplitter,
    QStyle,
    QTableView,
    QTableWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.core.autosave import Autosaver
from qmlstudio.core.project import PluginChoice, Project
from qmlstudio.gui.plots import (
    TEST_COLOUR,
    TRAIN_COLOUR,
    BoundaryPanel,
    ConfusionPanel,
    CurvesPanel,
    CurveSpec,
    PlotPanel,
    RunCurves,
    WeightsPanel,
)
from qmlstudio.gui.training_process import ProcessTrainingWorker
from qmlstudio.gui.workers import BoundaryFrame, RunSetup, TrainingWorker

__all__ = [
    "AUTOSAVE_INTERVAL_MS",
    "FRAME_RATE_HZ",
    "IDLE",
    "PAUSED",
    "PREPARING",
    "RUNNING",
    "STOPPING",
    "RunsTableModel",
    "TrainingDock",
    "run_label",
    "run_metrics_csv",
    "write_run_csv",
]

from qmlstudio.gui.training_autosave import AutosaveGlue
from qmlstudio.gui.training_controller import TrainingController
from qmlstudio.gui.training_drawing import DockDrawing
from qmlstudio.gui.training_layerwise import LayerStrip, LayerwiseControl
from qmlstudio.gui.training_runs import (
    RunsTableModel,
    run_label,
    run_metrics_csv,
    write_run_csv,
)
from qmlstudio.gui.training_state import (
    AUTOSAVE_INTERVAL_MS,
    FRAME_RATE_HZ,
    IDLE,
    PAUSED,
    PREPARING,
    RUNNING,
    STOPPING,
)
from qmlstudio.gui.training_widgets import FailureBanner, MetricCard, _RateMeter


# ========================================================================== dock

def evaluation_table(evaluation: dict) -> str:
    """The latest evaluation's raw and mitigated figures as a small HTML table: accuracy and
    loss with their 95 % intervals over shots, and the mean |Δp| against the exact simulator."""
    from qmlstudio.workflow.evaluation import FIGURE_NAMES

    def interval(pair: Any) -> str:
        return f" <small>[{pair[0]:.3f}, {pair[1]:.3f}]</small>" if pair else ""

    rows = "".join(
        f"<tr><td>{FIGURE_NAMES.get(name, name)}</td><td>{f['accuracy']:.3f}{interval(f.get('accuracy_ci95'))}</td>"
        f"<td>{f['loss']:.4f}{interval(f.get('loss_ci95'))}</td><td>{f['mean_abs_dp']:.4f}</td></tr>"
        for name, f in (evaluation.get("metrics") or {}).items())
    cost = evaluation.get("cost") or {}
    note = (f"<br><small>on {evaluation.get('backend')}: {cost.get('circuits', 0):,} circuits, {cost.get('shots', 0):,} shots"
            + (f", calibration {cost['calibration_shots']:,} shots" if cost.get("calibration_shots") else "")
            + "; intervals: bootstrap of the measured counts; |Δp|: against the exact simulator</small>")
    return ("<table cellspacing='0' cellpadding='2'><tr><th align='left'></th><th>accuracy</th><th>loss</th>"
            f"<th>mean |Δp|</th></tr>{rows}</table>{note}")

class TrainingDock(TrainingController, LayerwiseControl, DockDrawing, AutosaveGlue, QWidget):
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
        self._run_ended = False  # the run in progress has reported finished or failed
        self._relay: QObject | None = None  # re-emits the worker's signals on this thread
        self._setup: RunSetup | None = None
        self._live: RunCurves | None = None
        self._pending: list[Any] = []
        self._pending_frame: BoundaryFrame | None = None
        self._curves: dict[str, RunCurves] = {}  # run id → curves of runs shown so far
        self._setups: dict[str, RunSetup] = {}  # run id → what runs of this session trained on
        self._shown: list[RunCurves] = []
        self._primary: RunCurves | None = None  # the shown run whose weights and boundary are drawn
        self.layerwise_dialog: Any = None  # the Train Layerwise dialog while it is open
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
        self.layerwise_action = action("layerwiseAction", "Layerwise…",
                                       "Train layerwise: grow the ansatz a layer at a time, training each new layer",
                                       "Ctrl+F5", SP.SP_ArrowUp)
        self.train_action.triggered.connect(lambda: self.train())
        self.layerwise_action.triggered.connect(self.layerwise_with_dialog)
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
        self.layerwise_button = self._button(self.layerwise_action)
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
        for button in (self.train_button, self.pause_button, self.stop_button, self.step_button, self.layerwise_button):
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
            "grad_norm", "Gradient norm",
            [CurveSpec("grad_norm", "‖∇‖", "#7c3aed"), CurveSpec("grad_norm_classical", "classical", "#0f766e", True),
             CurveSpec("grad_norm_quantum", "quantum", "#c2410c", True)], log_y=True, y_label="norm",
            tooltip="Norm of the loss gradient, on a log axis: a norm that collapses to a tiny, flat value is the "
            "first sign of a barren plateau. A hybrid network also shows the norms of its classical (front and "
            "head) and its quantum (circuit) parameters apart",
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
        header.setStretchLastSection(True)
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
        self.layer_strip = LayerStrip()
        self.layer_strip.hide()  # shown by a layerwise schedule
        layout.addWidget(self.layer_strip)
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

    def connect_actions(self, train: QAction, pause: QAction, stop: QAction, step: QAction | None = None,
                        layerwise: QAction | None = None) -> None:
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
        if layerwise is not None:
            pairs["layerwise"] = (layerwise, self.layerwise_action)
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
        if layerwise is not None:
            layerwise.triggered.connect(self.layerwise_with_dialog)
        self._sync_actions()

    def set_project(self, project: Project) -> None:
        """Shows another project. A run in progress is stopped (and kept in the old project).

        Call it after the user saved or discarded the old project: its autosave is removed.
        """
        if project is self._project:
            return
        self._end_layerwise()  # a layerwise schedule of the old project starts no next phase
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
        self.layer_strip.hide()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("No run yet")
        self._show_current()
        self._progress_of_newest_run()

    def _progress_of_newest_run(self) -> None:
        """The progress bar says how the run the plots show (the newest saved one) ended."""
        if self._worker is None and self._project.runs:
            self._update_progress_final(self._project.runs[-1])

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

    def evaluate_on(self, run_id: str, choice: str | PluginChoice) -> None:
        """Evaluates run ``run_id``'s weights on the backend ``choice`` (a :class:`PluginChoice`,
        or its text ``NAME[:ARG][,k=v]``) in the background; the accuracy is added to the run's
        evaluations and ``evaluated`` is emitted."""
        from qmlstudio.gui.background import run_in_background
        from qmlstudio.workflow import describe_evaluation_plan, evaluate_weights, format_backend_choice, record_evaluation

        project, registry = self._project, self.registry
        if registry is None:
            from qmlstudio.plugins.manager import load_plugins

            registry = self.registry = load_plugins()
        if isinstance(choice, PluginChoice):
            chosen: str | PluginChoice = choice
            choice = format_backend_choice(choice, registry)  # for the status line
        else:
            chosen = choice
        self.evaluate_button.setEnabled(False)
        self.status_message.emit(f"Evaluating the run on {choice}…")

        def done(ok: bool, value: Any) -> None:
            self.evaluate_button.setEnabled(True)
            if not ok:
                self._show_failure("Cannot evaluate on that backend", str(value), "")
                return
            if project is not self._project:
                return
            run = record_evaluation(project, value)  # as the CLI records it (seeds, what the backend applied)
            self._show_evaluations(run.id)
            self.status_message.emit(f"Accuracy on {choice}: {value.accuracy:.3f}")
            self.evaluated.emit(run.id, float(value.accuracy))

        def planned(plan: dict[str, Any]) -> None:  # on the background thread: a queued signal
            if shiboken6.isValid(self):
                self.status_message.emit(f"Evaluating the run on {choice}: {describe_evaluation_plan(plan)}…")

        run_in_background(lambda: evaluate_weights(project, registry, run_id, chosen, on_plan=planned), done, self)

    def evaluate_with_dialog(self) -> None:
        """*Evaluate on…*: the backend and its options from :class:`EvaluateDialog` (the last one
        used is offered again), then :meth:`evaluate_on`."""
        from qmlstudio.gui.evaluate_dialog import EvaluateDialog

        ids = [rid for rid in self.selected_run_ids() if self._is_saved_run(rid)]
        if not ids and self._shown and self._is_saved_run(self._shown[0].run_id):
            ids = [self._shown[0].run_id]  # the run on the plots, as Export CSV… takes it
        if not ids:
            QMessageBox.information(self, "Evaluate on…", "Select a finished run in the runs list first.")
            return
        if self.registry is None:
            from qmlstudio.plugins.manager import load_plugins

            self.registry = load_plugins()
        dialog = EvaluateDialog(self.registry, getattr(self, "_last_evaluation", None), self)
        try:
            accepted = dialog.exec() == EvaluateDialog.DialogCode.Accepted
            choice = dialog.choice()
        finally:
            dialog.deleteLater()
        if accepted and choice is not None:
            self._last_evaluation = choice
            self.evaluate_on(ids[0], choice)

    def _backend_defaults(self, name: str) -> dict[str, Any]:
        """The default of each option of backend ``name`` (those the evaluations line leaves out)."""
        try:
            return {o.name: o.default for o in self.registry.get("backends", name).options}
        except Exception:  # noqa: BLE001 - no registry, or a backend no longer installed: show them all
            return {}

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
            defaults = self._backend_defaults(item["backend"])
            options = ",".join(f"{k}={v}" for k, v in (item.get("options") or {}).items()
                               if k != "seed" and (k not in defaults or defaults[k] != v))
            where = item["backend"] + (f" ({options})" if options else "")
            parts.append(f"{where} {'–' if accuracy is None else f'{accuracy:.3f}'}")
        text = "<b>Test accuracy</b> · " + " · ".join(parts)
        latest = run.evaluations[-1]
        if len(latest.get("metrics") or {}) > 1 or any((f or {}).get("accuracy_ci95")
                                                        for f in (latest.get("metrics") or {}).values()):
            text += evaluation_table(latest)
        self.evaluations_label.setText(text)
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


def main(argv: Sequence[str] | None = None) -> int:
    """The screenshot CLI (:mod:`qmlstudio.gui.training_screenshot`)."""
    from qmlstudio.gui.training_screenshot import main as screenshot_main

    return screenshot_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
