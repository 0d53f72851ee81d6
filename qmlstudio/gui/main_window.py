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
from typing import Any, Callable

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDesktopServices, QKeySequence, QUndoStack
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
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import qmlstudio
from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.circuit_files import EXPORT_FORMATS, IMPORT_FORMATS, export_circuit, import_circuit
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import FILE_SUFFIX, Project, load_project, save_project
from qmlstudio.core.settings import Settings, config_dir
from qmlstudio.gui import icons, theme
from qmlstudio.gui.editor import CircuitEditor, GatePalette
from qmlstudio.gui.editor.painting import app_icon
from qmlstudio.gui.analysis import install_analysis_menu
from qmlstudio.gui.dataset_panel import DatasetPanel
from qmlstudio.gui.inspector import Inspector
from qmlstudio.gui.preflight import TrainingPreflight
from qmlstudio.gui.project_data import ProjectData
from qmlstudio.gui.state_view import StateView
from qmlstudio.gui.settings_panel import SettingsPanel
from qmlstudio.gui.training_dock import TrainingDock
from qmlstudio.gui.study_dock import StudyDock

APP_NAME = "QML Studio"
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
class MainWindow(QMainWindow):
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
                                           actions["run.step"])
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
    def _action(
        self,
        key: str,
        text: str,
        tip: str,
        shortcut: QKeySequence.StandardKey | str | None = None,
        slot: Callable[..., Any] | None = None,
        icon: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(key.replace(".", "_") + "Action")
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        self._describe(action, tip)
        if icon is not None:
            action.setIcon(icons.icon(icon))
        if slot is None:
            action.setEnabled(False)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        self.named_actions[key] = action
        return action

    @staticmethod
    def _describe(action: QAction, tip: str) -> None:
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        action.setStatusTip(tip)

    def _create_actions(self) -> None:
        # File
        self._action("file.new", "&New Project", "Start a new, empty project", QKeySequence.StandardKey.New,
                     self.new_project, "new")
        self._action("file.open", "&Open Project…", "Open a QML Studio project (.qmls)", QKeySequence.StandardKey.Open,
                     self.open_project_dialog, "open")
        self._action("file.save", "&Save", "Save the project", QKeySequence.StandardKey.Save,
                     self.save, "save")
        self._action("file.saveAs", "Save &As…", "Save the project under a new name",
                     QKeySequence.StandardKey.SaveAs, self.save_as)
        self._action("file.clearRecent", "&Clear Recent Projects", "Forget the list of recent projects", None,
                     self.clear_recent)
        readable = " or ".join(IMPORT_FORMATS.values())
        self._action("file.importCircuit", "&Import Circuit…", f"Replace the circuit with one from a file ({readable})",
                     "Ctrl+I", self.import_circuit_dialog, "import")
        export_keys = {".qasm": "Ctrl+E"}
        for suffix, title in EXPORT_FORMATS.items():
            self._action(f"file.export{suffix.replace('.', '_')}", f"{title}…",
                         f"Export the circuit as {title} ({suffix})", export_keys.get(suffix),
                         lambda s=suffix: self.export_circuit_dialog(s))
        self._action("file.quit", "&Quit", "Quit QML Studio", QKeySequence.StandardKey.Quit, self.close)
        self.named_actions["file.quit"].setMenuRole(QAction.MenuRole.QuitRole)

        # Edit: undo and redo follow the undo stack (enabled state and "Undo <command>" text).
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        undo.setObjectName("edit_undoAction")
        undo.setIcon(icons.icon("undo"))
        self._describe(undo, "Undo the last change to the circuit")
        self.named_actions["edit.undo"] = undo
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence(QKeySequence.StandardKey.Redo))
        redo.setObjectName("edit_redoAction")
        redo.setIcon(icons.icon("redo"))
        self._describe(redo, "Redo the change last undone")
        self.named_actions["edit.redo"] = redo
        # The editor's own actions (they act on the canvas's selection).
        self.editor.actions["edit.addQubit"].setIcon(icons.icon("add-qubit"))
        self.editor.actions["view.zoomFit"].setIcon(icons.icon("fit"))
        for key, action in self.editor.actions.items():
            self.named_actions[key] = action
            self.addAction(action)

        # View: the docks' own toggle actions, so that menu and dock state never disagree.
        for number, (name, dock) in enumerate(self.docks.items(), start=1):
            toggle = dock.toggleViewAction()
            toggle.setObjectName(f"view_{name}Action")
            toggle.setText(dock.windowTitle().replace("&", "&&"))  # an "&" in a title is no mnemonic
            toggle.setShortcut(QKeySequence(f"Ctrl+{number}"))
            self._describe(toggle, f"Show or hide the {dock.windowTitle().lower()} panel")
            self.named_actions[f"view.{name}"] = toggle
        self._action("view.resetLayout", "&Reset Layout", "Put the panels back where they started",
                     None, self.reset_layout)
        full = self._action("view.fullScreen", "&Full Screen", "Use the whole screen",
                            QKeySequence.StandardKey.FullScreen)
        full.setEnabled(True)
        full.setCheckable(True)
        full.toggled.connect(self._toggle_full_screen)

        # Run: the training dock connects to the signals and reports its state with set_run_state.
        self._action("run.train", "&Train", "Train the model on the project's dataset", "F5",
                     self._request_train)
        self.named_actions["run.train"].setIcon(icons.icon("train", theme.SUCCESS))
        self._action("run.pause", "&Pause", "Pause training (press again to resume)", "F6",
                     self.pause_requested.emit, "pause")
        self._action("run.stop", "&Stop", "Stop training and keep the run so far", "Shift+F5",
                     self.stop_requested.emit, "stop")
        self._action("run.step", "St&ep", "Run one optimizer iteration and pause", "F10",
                     self.step_requested.emit, "step")
        self._action("run.compare", "&Compare with Classical Baselines",
                     "Show the run beside the classical baselines trained on the same split "
                     "(logistic regression, MLP, RBF SVM)", "Ctrl+Shift+B", self.compare_baselines)

        # Plugins
        self._action("plugins.manage", "&Manage Plugins…",
                     "List the installed plugins: encodings, ansätze, optimizers, datasets, backends",
                     None, self.show_plugins, "plugins")

        # Help
        self._action("help.docs", "&Documentation", "Open QML Studio's documentation",
                     QKeySequence.StandardKey.HelpContents, self.open_docs)
        self._action("help.shortcuts", "&Keyboard Shortcuts", "List every keyboard shortcut",
                     "Ctrl+/", self.show_shortcuts)
        about = self._action("help.about", f"&About {APP_NAME}", "Versions of QML Studio and its libraries",
                             None, self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about_qt = self._action("help.aboutQt", "About &Qt", "The Qt version and licence", None, QApplication.aboutQt)
        about_qt.setMenuRole(QAction.MenuRole.AboutQtRole)

    def _create_menus(self) -> None:
        bar = self.menuBar()
        self.toolbar = QToolBar("Main Toolbar", self)
        toggle = self.toolbar.toggleViewAction()
        toggle.setObjectName("view_toolbarAction")
        self._describe(toggle, "Show or hide the toolbar")
        self.named_actions["view.toolbar"] = toggle

        def menu(title: str, key: str, parent: QMenu | None = None) -> QMenu:
            made = parent.addMenu(title) if parent is not None else bar.addMenu(title)
            made.setObjectName(key + "Menu")
            made.setToolTipsVisible(True)
            self.menus[key] = made
            return made

        def fill(target: QMenu, keys: list[str | None]) -> None:
            for key in keys:
                if key is None:
                    target.addSeparator()
                else:
                    target.addAction(self.named_actions[key])

        file_menu = menu("&File", "file")
        fill(file_menu, ["file.new", "file.open"])
        recent = menu("Open &Recent", "recent", file_menu)
        recent.aboutToShow.connect(self._fill_recent_menu)
        self._fill_recent_menu()
        fill(file_menu, [None, "file.save", "file.saveAs", None, "file.importCircuit"])
        export = menu("&Export Circuit", "export", file_menu)
        fill(export, [f"file.export{s.replace('.', '_')}" for s in EXPORT_FORMATS])
        fill(file_menu, [None, "file.quit"])

        edit_menu = menu("&Edit", "edit")
        fill(edit_menu, ["edit.undo", "edit.redo", None, "edit.cut", "edit.copy", "edit.paste", "edit.duplicate",
                         "edit.delete", None, "edit.selectAll", "edit.selectBlock", None, "edit.addQubit",
                         "edit.removeQubit", None])
        menu("Insert &Template", "insertTemplate", edit_menu)
        menu("Insert &Encoding Layer", "insertEncoding", edit_menu)
        self._fill_insert_menus()

        view_menu = menu("&View", "view")
        fill(view_menu, [*(f"view.{name}" for name in self.docks), "view.toolbar", None, "view.zoomIn",
                         "view.zoomOut", "view.zoomReset", "view.zoomFit", None, "view.resetLayout",
                         "view.fullScreen"])
        fill(menu("&Run", "run"), ["run.train", "run.pause", "run.stop", "run.step", None, "run.compare", None])
        self._account_actions: list[QAction] = []
        self._fill_account_actions()
        fill(menu("&Plugins", "plugins"), ["plugins.manage"])
        fill(menu("&Help", "help"), ["help.docs", "help.shortcuts", None, "help.about", "help.aboutQt"])

    def _fill_account_actions(self) -> None:
        """Run ▸ one entry per account a plugin provides (hook ``qmlstudio_accounts``): its title,
        its description as the tip, the account dialog on that plugin's account object."""
        run_menu = self.menus["run"]
        for action in self._account_actions:
            run_menu.removeAction(action)
            for key, named in list(self.named_actions.items()):
                if named is action:
                    del self.named_actions[key]
            action.deleteLater()
        self._account_actions = []
        specs = getattr(self.registry, "accounts", {}) or {}
        for name in sorted(specs):
            spec = specs[name]
            # the IBM account keeps its old key (scripts and shortcuts name it)
            key = "run.ibmAccount" if name == "ibm" else f"run.account.{name}"
            action = self._action(key, spec.title or f"{name} Account…", spec.description or
                                  f"The account of backend {spec.backend!r}", None,
                                  lambda account=name: self.account_dialog(account))
            run_menu.addAction(action)
            self._account_actions.append(action)

    def _fill_insert_menus(self) -> None:
        """Edit ▸ Insert Template / Insert Encoding Layer: one item per template and encoding of the plugins."""
        for key, table, insert in (
            ("insertTemplate", getattr(self.registry, "ansatze", {}), self.editor.insert_template),
            ("insertEncoding", getattr(self.registry, "encodings", {}), self.editor.insert_encoding_layer),
        ):
            target = self.menus[key]
            target.clear()
            for name, spec in table.items():
                action = target.addAction(spec.title)
                action.setToolTip(spec.description)
                action.triggered.connect(lambda _checked=False, n=name, f=insert: f(n))
            target.setEnabled(bool(table))

    def _create_toolbar(self) -> None:
        bar = self.toolbar
        bar.setObjectName("mainToolBar")
        bar.setMovable(False)
        bar.setIconSize(QSize(18, 18))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for key in ("file.new", "file.open", "file.save", "edit.undo", "edit.redo"):
            self.named_actions[key].setPriority(QAction.Priority.LowPriority)  # icon only
        for key in ("file.new", "file.open", "file.save", None, "edit.undo", "edit.redo", None,
                    "edit.addQubit", "view.zoomFit", None, "run.train", "run.pause", "run.stop", "run.step"):
            if key is None:
                bar.addSeparator()
            else:
                bar.addAction(self.named_actions[key])
        for key in ("run.train",):
            widget = bar.widgetForAction(self.named_actions[key])
            if widget is not None:
                widget.setObjectName(key.replace(".", "_") + "ActionButton")
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

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

    def show_plugins(self) -> Any:
        """Plugins ▸ Manage Plugins: the plugin manager on this window's registry."""
        from qmlstudio.gui.plugin_manager_dialog import PluginManagerDialog

        dialog = PluginManagerDialog(self.registry, parent=self)
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
