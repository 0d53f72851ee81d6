"""The main window: the circuit editor in the middle, the palette, inspector, state, dataset and training docks.

The window holds a :class:`~qmlstudio.core.project.Project`, the plugin registry and an
undo stack; the views follow ``project.events.changed`` and the circuit's
``events.changed`` and keep no copy of either. Menus, docks and actions have stable object
names and keys (``window.named_actions["file.open"]``, ``window.menus["view"]``,
``window.docks["trainingDock"]``) so that later features can find and extend them.

The Run menu's actions emit :attr:`MainWindow.train_requested`, ``pause_requested``,
``stop_requested`` and ``step_requested``; the training dock connects to them and reports
its state back with :meth:`MainWindow.set_run_state`.
"""

from __future__ import annotations

import html
import platform
from importlib import metadata
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QKeySequence,
    QUndoStack,
)
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QFrame,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSizePolicy,
    QWidget,
)

import qmlstudio
from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.circuit_files import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    export_circuit,
    import_circuit,
)
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import FILE_SUFFIX, Project, load_project, save_project
from qmlstudio.core.settings import Settings, config_dir
from qmlstudio.gui import icons
from qmlstudio.gui.analysis import install_analysis_menu
from qmlstudio.gui.dataset_panel import DatasetPanel
from qmlstudio.gui.editor import CircuitEditor, GatePalette
from qmlstudio.gui.editor.painting import app_icon
from qmlstudio.gui.inspector import Inspector
from qmlstudio.gui.main_window_menus import APP_NAME, WindowMenus
from qmlstudio.gui.preflight import TrainingPreflight
from qmlstudio.gui.project_data import ProjectData
from qmlstudio.gui.settings_panel import SettingsPanel
from qmlstudio.gui.state_view import StateView
from qmlstudio.gui.study_dock import StudyDock
from qmlstudio.gui.training_dock import TrainingDock

PROJECT_FILTER = f"QML Studio projects (*{FILE_SUFFIX});;All files (*)"
#: Bumped when the docks change so much that an old saved layout should be dropped.
WINDOW_STATE_VERSION = 3
DEFAULT_SIZE = QSize(1400, 900)
RECENT_LIMIT = 10
RUN_STATES = ("unavailable", "idle", "running", "paused")
DOCS_URL = "https://github.com/qmlstudio/qmlstudio#readme"


def _scrollable(widget: QWidget) -> QScrollArea:
    """``widget`` in a frameless scroll area, so that its dock can be smaller than its minimum size."""
    area = QScrollArea()
    area.setObjectName(widget.objectName() + "Scroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area


# ---------------------------------------------------------------- settings and projects
def gui_settings() -> QSettings:
    """Where the window remembers its geometry and dock layout.

    An INI file next to QML Studio's other settings (``$QMLSTUDIO_CONFIG_DIR/gui.ini``),
    so that one variable keeps tests and scripts away from the user's real settings.
    """
    return QSettings(str(config_dir() / "gui.ini"), QSettings.Format.IniFormat)


def new_project(name: str = "Untitled project") -> Project:
    """An empty project with the defaults, as File ▸ New makes it."""
    return Project.new(name)


class ProjectOpenError(QMLStudioError):
    """A project file that cannot be opened, with a message for the user."""


def open_project_file(path: str | Path) -> Project:
    """The project stored at ``path``; :class:`ProjectOpenError` with a clear message if not.

    Any failure of the loader becomes a message: the GUI never shows a traceback for a
    file the user picked.
    """
    path = Path(path)
    try:
        return load_project(path)
    except QMLStudioError as exc:  # ProjectError names the file, the field and the problem
        message = str(exc)
    except Exception as exc:  # a bug in the loader must not take the GUI down
        message = f"cannot open project '{path}': {type(exc).__name__}: {exc}"
    raise ProjectOpenError(message)


def design_summary(design: CircuitDesign | None) -> str:
    """One line for the status bar: qubits, gates, trainable weights, inputs and depth."""
    if design is None:
        return "No circuit"

    def count(n: int, one: str, many: str) -> str:
        return f"{n} {one if n == 1 else many}"

    parts = [
        count(design.num_qubits, "qubit", "qubits"),
        count(len(design.gates), "gate", "gates"),
        count(design.num_weights, "trainable weight", "trainable weights"),
        count(design.num_inputs, "data input", "data inputs"),
        f"depth {design.depth}",
    ]
    return "  ·  ".join(parts)


def component_versions() -> dict[str, str]:
    """Versions of QML Studio and the libraries it is built on, for About and bug reports."""
    import PySide6
    from PySide6.QtCore import qVersion

    def dist(name: str) -> str:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"

    return {
        "QML Studio": qmlstudio.__version__,
        "qiskit": dist("qiskit"),
        "qiskit-aer": dist("qiskit-aer"),
        "qiskit-machine-learning": dist("qiskit-machine-learning"),
        "PySide6": PySide6.__version__,
        "Qt": qVersion(),
        "Python": platform.python_version(),
    }


def docs_location() -> QUrl:
    """The documentation shipped in the package (``qmlstudio/docs/index.md``), else the project's page.

    The pages are package data (pyproject.toml), so an installed QML Studio opens its own
    version's pages, offline; only a package that lost them falls back to the web page.
    """
    index = Path(qmlstudio.__file__).parent / "docs" / "index.md"
    if index.is_file():
        return QUrl.fromLocalFile(str(index))
    return QUrl(DOCS_URL)


# ------------------------------------------------------------------------- panels
class MainWindow(WindowMenus, QMainWindow):
    """QML Studio's main window on one :class:`~qmlstudio.core.project.Project`.

    The window follows ``project.events.changed``: the title shows the project's name and
    its unsaved-changes mark (``project.dirty``), the status bar the circuit's summary.
    ``named_actions`` maps stable keys ("file.open", "view.trainingDock"...) to the window's
    QActions; ``docks`` maps the docks' object names to them. ``registry`` is the plugin
    registry (``load_plugins()`` when not given).
    """

    #: Emitted with the new project after File ▸ New or File ▸ Open.
    projectChanged = Signal(object)
    #: Run ▸ Train, Pause/Resume, Stop and Step (the training dock carries them out).
    train_requested = Signal()
    pause_requested = Signal()
    stop_requested = Signal()
    step_requested = Signal()

    def __init__(self, project: Project | None = None, parent: QWidget | None = None, registry: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.setWindowIcon(app_icon())
        if registry is None:
            from qmlstudio.plugins.manager import load_plugins

            registry = load_plugins()
        self.registry = registry
        self.project: Project | None = None
        self.named_actions: dict[str, QAction] = {}
        self.docks: dict[str, QDockWidget] = {}
        self.menus: dict[str, QMenu] = {}
        #: When True, closing never asks about unsaved changes (timed quits, tests).
        self.close_without_asking = False
        #: Every edit is a command on this stack.
        self.undo_stack = QUndoStack(self)
        self.undo_stack.setUndoLimit(500)
        self.run_state = "unavailable"

        self.project_data = ProjectData(registry, self)
        self.editor = CircuitEditor(self.undo_stack, registry, self)
        self.canvas = self.editor.canvas
        self.setCentralWidget(self.editor)
        # The figures bar may clip on a narrow window rather than make the window wide.
        self.editor.figures.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.editor.figures.setMinimumWidth(200)
        self.palette_widget = GatePalette(registry)
        self.palette_widget.activated.connect(self.editor.activate)
        self.inspector = Inspector(self.editor, registry)
        self.state_view = StateView(registry, self.project_data)
        initial = project if project is not None else new_project()
        self.dataset_panel = DatasetPanel(initial, registry, undo_stack=self.undo_stack)
        self.training_dock = TrainingDock(initial, registry)
        self.study_dock = StudyDock(initial)
        self.settings_panel = SettingsPanel(initial, registry, undo_stack=self.undo_stack)
        self.editor.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.project_data.changed.connect(lambda: self.editor.set_num_features(self.project_data.num_features))
        self.project_data.changed.connect(lambda: self.editor.set_data(self.project_data.data))

        self.setDockOptions(
            QMainWindow.DockOption.AnimatedDocks
            | QMainWindow.DockOption.AllowNestedDocks
            | QMainWindow.DockOption.AllowTabbedDocks
        )
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)

        self._create_docks()
        self._create_actions()
        self._create_menus()
        install_analysis_menu(self)  # Analysis ▸ barren plateaus, encodings, kernel, report
        self._create_toolbar()
        self._create_status_bar()
        self.set_run_state("idle")
        actions = self.named_actions
        self.training_dock.connect_actions(actions["run.train"], actions["run.pause"], actions["run.stop"],
                                           actions["run.step"], layerwise=actions["run.layerwise"])
        #: asked before each run: adds the wires the encoding needs, refuses what cannot be simulated
        self.preflight = TrainingPreflight(self)
        self.training_dock.preflight = self.preflight
        self.training_dock.state_changed.connect(self._on_training_state)
        self.training_dock.status_message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.training_dock.run_started.connect(lambda _id: self.docks["trainingDock"].raise_())

        self.resize(DEFAULT_SIZE)
        self._default_state = self.saveState(WINDOW_STATE_VERSION)
        self.restore_settings()
        self.set_project(initial)

    # ------------------------------------------------------------------ project
    def set_project(self, project: Project) -> None:
        """Shows ``project`` and forgets the undo history of the previous one."""
        if self.project is not None:
            self.project.events.changed.disconnect(self._on_project_changed)
        self.project = project
        project.events.changed.connect(self._on_project_changed)
        self.undo_stack.clear()
        self.project_data.set_project(project)
        self.editor.set_project(project)
        self.state_view.set_project(project)
        if self.dataset_panel.project is not project:
            self.dataset_panel.set_project(project)
        self.training_dock.set_project(project)
        self.study_dock.set_project(project)
        if self.settings_panel.project is not project:
            self.settings_panel.set_project(project)
        self.inspector.refresh()
        self._update_title()
        self._update_summary()
        self.projectChanged.emit(project)

    @property
    def design(self) -> CircuitDesign | None:
        return getattr(self.project, "circuit", None)

    @property
    def project_path(self) -> Path | None:
        """The file the project was opened from or last saved to (None for a new one)."""
        path = getattr(self.project, "path", None)
        return Path(path) if path is not None else None

    @property
    def project_name(self) -> str:
        name = getattr(self.project, "name", "")
        if name:
            return str(name)
        return self.project_path.stem if self.project_path is not None else "Untitled project"

    def _on_project_changed(self, what: str = "", **_payload: object) -> None:
        if what == "saved":
            self.undo_stack.setClean()
        self._update_title()
        self._update_summary()

    def _update_title(self) -> None:
        # "[*]" is where Qt shows the modified mark; a literal one in a name would confuse it.
        name = self.project_name.replace("[*]", "[ * ]")
        self.setWindowTitle(f"{name}[*] — {APP_NAME}")
        self.setWindowModified(bool(getattr(self.project, "dirty", False)))

    def _update_summary(self) -> None:
        self.summary_label.setText(design_summary(getattr(self.project, "circuit", None)))

    # ------------------------------------------------------------------ building
    def _create_docks(self) -> None:
        panels = [
            ("gatePaletteDock", "Gate Palette", Qt.DockWidgetArea.LeftDockWidgetArea, self.palette_widget),
            ("inspectorDock", "Inspector", Qt.DockWidgetArea.RightDockWidgetArea, self.inspector),
            ("stateDock", "State", Qt.DockWidgetArea.RightDockWidgetArea, self.state_view),
            ("datasetDock", "Dataset", Qt.DockWidgetArea.BottomDockWidgetArea, self.dataset_panel),
            # The training dashboard is large: it scrolls in a small dock instead of forcing a big window.
            ("trainingDock", "Training", Qt.DockWidgetArea.BottomDockWidgetArea, _scrollable(self.training_dock)),
            ("settingsDock", "Model and Training", Qt.DockWidgetArea.RightDockWidgetArea, self.settings_panel),
            ("studyDock", "Study", Qt.DockWidgetArea.BottomDockWidgetArea, _scrollable(self.study_dock)),
        ]
        for name, title, area, widget in panels:
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            dock.setWidget(widget)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetClosable
                | QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            )
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        # Data and training share the wide bottom area as tabs; the data comes first.
        self.tabifyDockWidget(self.docks["datasetDock"], self.docks["trainingDock"])
        self.tabifyDockWidget(self.docks["trainingDock"], self.docks["studyDock"])
        self.docks["studyDock"].visibilityChanged.connect(self.study_dock.on_shown)
        # The model and training settings share the inspector's place; the inspector comes first.
        self.tabifyDockWidget(self.docks["inspectorDock"], self.docks["settingsDock"])
        self.docks["inspectorDock"].raise_()
        self.docks["datasetDock"].raise_()
        self._default_dock_sizes()

    def _default_dock_sizes(self) -> None:
        self.resizeDocks([self.docks["gatePaletteDock"], self.docks["inspectorDock"]], [236, 330],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["inspectorDock"], self.docks["stateDock"]], [320, 300], Qt.Orientation.Vertical)
        self.resizeDocks([self.docks["datasetDock"]], [330], Qt.Orientation.Vertical)

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._layout_restored and not getattr(self, "_sized_once", False):
            # Dock sizes only stick once the window has its real size.
            self._sized_once = True
            QTimer.singleShot(0, self._default_dock_sizes)

    def _create_status_bar(self) -> None:
        status = self.statusBar()
        status.setObjectName("statusBar")
        self.summary_label = QLabel()
        self.summary_label.setObjectName("projectSummary")
        self.summary_label.setContentsMargins(8, 0, 8, 0)
        status.addPermanentWidget(self.summary_label)
        status.showMessage("Ready", 3000)

    # ----------------------------------------------------------------- running
    def set_run_state(self, state: str) -> None:
        """What the Run actions offer: "unavailable" (no training dock), "idle", "running" or "paused"."""
        if state not in RUN_STATES:
            raise ValueError(f"run state must be one of {', '.join(RUN_STATES)}, got {state!r}")
        self.run_state = state
        actions = self.named_actions
        actions["run.train"].setEnabled(state in ("unavailable", "idle"))
        actions["run.layerwise"].setEnabled(state == "idle")
        actions["run.pause"].setEnabled(state in ("running", "paused"))
        actions["run.stop"].setEnabled(state in ("running", "paused"))
        actions["run.step"].setEnabled(state in ("idle", "paused"))
        pause = actions["run.pause"]
        pause.setText("&Resume" if state == "paused" else "&Pause")
        self._describe(pause, "Resume training" if state == "paused" else "Pause training (press again to resume)")
        pause.setIcon(icons.icon("resume" if state == "paused" else "pause"))

    def _request_train(self) -> None:
        self.train_requested.emit()

    # ------------------------------------------------------------------ commands
    def new_project(self) -> None:
        if self.confirm_discard():
            self.set_project(new_project())
            self.statusBar().showMessage("New project", 3000)

    def account_dialog(self, name: str = "ibm") -> None:
        """Run ▸ a plugin's account: the token dialog on its account object (the token goes to
        the keyring, never a file)."""
        from qmlstudio.gui.ibm_account import AccountDialog

        AccountDialog(self, registry=self.registry, account_name=name).exec()

    def ibm_account_dialog(self) -> None:
        """Run ▸ IBM Quantum Account…."""
        self.account_dialog("ibm")

    def open_project_dialog(self) -> None:
        if not self.confirm_discard():
            return
        start = str(self.project_path.parent) if self.project_path else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Open Project", start, PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_project(self, path: str | Path) -> bool:
        """Opens the project at ``path``; on failure says why in a message box and keeps the current one."""
        try:
            project = open_project_file(path)
        except ProjectOpenError as exc:
            self.show_error("Cannot open project", str(exc))
            return False
        self.set_project(project)
        self._remember(path)
        self.statusBar().showMessage(f"Opened {path}", 5000)
        return True

    def save(self) -> bool:
        """Saves to the project's file, or asks for one (Save As) when it has none."""
        if self.project_path is None:
            return self.save_as()
        return self.save_to(self.project_path)

    def save_as(self) -> bool:
        start = str(self.project_path or Path.cwd() / f"{self.project_name}{FILE_SUFFIX}")
        path, _ = QFileDialog.getSaveFileName(self, "Save Project As", start, PROJECT_FILTER)
        if not path:
            return False
        if not Path(path).suffix:
            path += FILE_SUFFIX
        return self.save_to(path)

    def save_to(self, path: str | Path) -> bool:
        """Writes the project to ``path`` (atomically); a failure is shown, never raised."""
        assert self.project is not None
        try:
            written = save_project(self.project, path)
        except QMLStudioError as exc:
            self.show_error("Cannot save project", str(exc))
            return False
        self._remember(written)
        self.statusBar().showMessage(f"Saved {written}", 5000)
        return True

    # ------------------------------------------------------------ recent files
    def recent_projects(self) -> list[str]:
        return Settings.load().recent_files

    def _remember(self, path: str | Path) -> None:
        settings = Settings.load()
        settings.add_recent(str(path), RECENT_LIMIT)
        try:
            settings.save()
        except OSError:
            pass  # a read-only config folder only costs the recent list

    def clear_recent(self) -> None:
        settings = Settings.load()
        settings.recent_files = []
        try:
            settings.save()
        except OSError:
            pass

    def _fill_recent_menu(self) -> None:
        menu = self.menus["recent"]
        menu.clear()
        recent = self.recent_projects()
        for number, path in enumerate(recent, start=1):
            action = menu.addAction(f"&{number % 10}  {Path(path).name}")
            action.setToolTip(path)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, p=path: self._open_recent(p))
        if not recent:
            empty = menu.addAction("No recent projects")
            empty.setEnabled(False)
        menu.addSeparator()
        menu.addAction(self.named_actions["file.clearRecent"])
        self.named_actions["file.clearRecent"].setEnabled(bool(recent))

    def _open_recent(self, path: str) -> None:
        if self.confirm_discard():
            self.open_project(path)

    # ------------------------------------------------------------ circuit files
    def import_circuit_dialog(self) -> None:
        patterns = " ".join(f"*{s}" for s in IMPORT_FORMATS)
        start = str(self.project_path.parent) if self.project_path else str(Path.cwd())
        path, _ = QFileDialog.getOpenFileName(self, "Import Circuit", start,
                                              f"Circuits ({patterns});;All files (*)")
        if path:
            self.import_circuit(path)

    def import_circuit(self, path: str | Path) -> bool:
        """Replaces the circuit with the one in ``path`` (one undoable step); errors are shown."""
        try:
            design = import_circuit(path)
        except QMLStudioError as exc:
            self.show_error("Cannot import circuit", str(exc))
            return False
        except Exception as exc:  # noqa: BLE001 - a reader's bug must not take the GUI down
            self.show_error("Cannot import circuit", f"{path}: {type(exc).__name__}: {exc}")
            return False
        if not self.editor.import_design(design, f"Import {Path(path).name}"):
            return False
        self.statusBar().showMessage(f"Imported {Path(path).name} (Undo brings the previous circuit back)", 6000)
        return True

    def export_circuit_dialog(self, suffix: str) -> None:
        title = EXPORT_FORMATS[suffix]
        base = self.project_path.with_suffix(suffix) if self.project_path else Path.cwd() / f"circuit{suffix}"
        path, _ = QFileDialog.getSaveFileName(self, f"Export Circuit as {title}", str(base),
                                              f"{title} (*{suffix});;All files (*)")
        if path:
            if not path.endswith(suffix):
                path += suffix
            self.export_circuit(path)

    def export_circuit(self, path: str | Path) -> bool:
        """Writes the circuit to ``path`` in the format its suffix names; errors are shown."""
        if self.design is None:
            return False
        try:
            written = export_circuit(self.design, path)
        except QMLStudioError as exc:
            self.show_error("Cannot export circuit", str(exc))
            return False
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot export circuit", f"{path}: {type(exc).__name__}: {exc}")
            return False
        self.statusBar().showMessage(f"Exported the circuit to {written}", 6000)
        return True

    # ------------------------------------------------------------------ dialogs
    def show_error(self, title: str, message: str) -> QMessageBox:
        """A window-modal message box that does not block the caller (tests can find and close it)."""
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        box.setObjectName("errorMessageBox")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def confirm_discard(self) -> bool:
        """True when there are no unsaved changes or the user agrees to lose them."""
        if not getattr(self.project, "dirty", False) or self.close_without_asking:
            return True
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"“{self.project_name}” has changes that are not saved. Save them first?",
            buttons.Save | buttons.Discard | buttons.Cancel,
            buttons.Save,
        )
        if answer == buttons.Save:
            return self.save()
        return answer == buttons.Discard

    def show_plugins(self, installer: Any = None) -> Any:
        """Plugins ▸ Manage Plugins: the plugin manager on this window's registry (``installer``:
        pip for another environment or with other options than this interpreter's own)."""
        from qmlstudio.gui.plugin_manager_dialog import PluginManagerDialog

        dialog = PluginManagerDialog(self.registry, parent=self, installer=installer)
        dialog.plugins_changed.connect(self.refresh_plugins)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def refresh_plugins(self) -> None:
        """Shows what the registry provides now (after plugins were installed or removed)."""
        self.palette_widget.set_registry(self.registry)
        self._fill_insert_menus()
        self._fill_account_actions()
        self.editor.refresh_encoding()
        self.settings_panel.refresh_choices()

    def compare_baselines(self) -> None:
        """Shows the training dock's quantum-vs-classical table (Run → Compare with Classical Baselines)."""
        dock = self.docks["trainingDock"]
        dock.show()
        dock.raise_()
        self.statusBar().showMessage(self.training_dock.show_baselines(), 8000)

    def open_docs(self) -> None:
        url = docs_location()
        if not QDesktopServices.openUrl(url):
            self.show_error("Documentation", f"The documentation is at {url.toString()}")

    def reset_layout(self) -> None:
        for dock in self.docks.values():
            dock.setFloating(False)
        self.restoreState(self._default_state, WINDOW_STATE_VERSION)
        for dock in self.docks.values():
            dock.show()
        self.toolbar.show()

    def _toggle_full_screen(self, on: bool) -> None:
        if on:
            self.showFullScreen()
        else:
            self.showNormal()

    def about_text(self) -> str:
        rows = "".join(
            f"<tr><td style='padding-right:16px'>{html.escape(name)}</td><td><b>{html.escape(version)}</b></td></tr>"
            for name, version in component_versions().items()
        )
        return (
            f"<h3>{APP_NAME} {html.escape(qmlstudio.__version__)}</h3>"
            "<p>Design, train and benchmark quantum machine-learning circuits.</p>"
            f"<table>{rows}</table>"
        )

    def show_about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setObjectName("aboutBox")
        box.setWindowTitle(f"About {APP_NAME}")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(self.about_text())
        if not self.windowIcon().isNull():
            box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    def show_shortcuts(self) -> QMessageBox:
        rows = []
        for action in self.named_actions.values():
            keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts())
            if keys:
                text = action.text().replace("&", "").rstrip("…")
                rows.append(f"<tr><td style='padding-right:16px'>{html.escape(text)}</td>"
                            f"<td><b>{html.escape(keys)}</b></td></tr>")
        extra = [("Zoom", "Ctrl + mouse wheel"), ("Pan", "Middle mouse button, or Space + drag"),
                 ("Select a block", "Double-click one of its gates")]
        rows += [f"<tr><td style='padding-right:16px'>{a}</td><td><b>{b}</b></td></tr>" for a, b in extra]
        box = QMessageBox(self)
        box.setObjectName("shortcutsBox")
        box.setWindowTitle("Keyboard Shortcuts")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(f"<table>{''.join(rows)}</table>")
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return box

    # ------------------------------------------------------------------ settings
    def restore_settings(self) -> None:
        """Restores the saved geometry and dock layout; the defaults when none is saved or it is unusable."""
        settings = gui_settings()
        geometry = settings.value("mainWindow/geometry")
        state = settings.value("mainWindow/state")
        restored = isinstance(geometry, QByteArray) and self.restoreGeometry(geometry)
        if not restored:
            self._fit_to_screen()
        self._layout_restored = isinstance(state, QByteArray) and self.restoreState(state, WINDOW_STATE_VERSION)

    def save_settings(self) -> None:
        settings = gui_settings()
        settings.setValue("mainWindow/geometry", self.saveGeometry())
        settings.setValue("mainWindow/state", self.saveState(WINDOW_STATE_VERSION))
        settings.sync()

    def _fit_to_screen(self) -> None:
        screen = self.screen() or QApplication.primaryScreen()
        if screen is None:
            return
        available = screen.availableGeometry()
        width = min(DEFAULT_SIZE.width(), int(available.width() * 0.95))
        height = min(DEFAULT_SIZE.height(), int(available.height() * 0.95))
        if width >= 800 and height >= 600:
            self.resize(width, height)
        frame = self.frameGeometry()
        frame.moveCenter(available.center())
        self.move(frame.topLeft())

    def _on_training_state(self, state: str) -> None:
        # The dock keeps the Run actions enabled and labelled; the window only remembers the state.
        self.run_state = state if state in RUN_STATES else "running"

    def closeEvent(self, event: QCloseEvent) -> None:
        # A run in progress is stopped first, so that "Save changes?" covers the run so far.
        self.training_dock.stop_and_wait()
        if not self.confirm_discard():
            event.ignore()
            return
        self.training_dock.shutdown(discard_autosave=True)
        self.analysis.cancel()
        self.analysis.wait()
        self.save_settings()
        event.accept()
