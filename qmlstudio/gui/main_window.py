"""The main window: the circuit in the middle, the gate palette, dataset and training docks.

The window holds a :class:`~qmlstudio.core.project.Project` and an undo stack; the views
follow ``project.events.changed`` and the circuit's ``events.changed`` and keep no copy of
either. Menus, docks and actions have stable object names and keys
(``window.named_actions["file.open"]``, ``window.menus["view"]``, ``window.docks["trainingDock"]``)
so that later features can find and extend them.
"""

from __future__ import annotations

import html
import platform
from importlib import metadata
from pathlib import Path
from typing import Any, Callable

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QFontDatabase,
    QFontMetrics,
    QKeySequence,
    QResizeEvent,
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
    QStyle,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

import qmlstudio
from qmlstudio.core.circuit import GATE_GROUPS, GATES, CircuitDesign
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import FILE_SUFFIX, Project, load_project, save_project
from qmlstudio.core.settings import config_dir

APP_NAME = "QML Studio"
PROJECT_FILTER = f"QML Studio projects (*{FILE_SUFFIX});;All files (*)"
#: Bumped when the docks change so much that an old saved layout should be dropped.
WINDOW_STATE_VERSION = 1
DEFAULT_SIZE = QSize(1400, 900)


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


# ------------------------------------------------------------------------- views
class CircuitView(QWidget):
    """The project's circuit, drawn as text; follows ``design.events.changed``.

    A stand-in for the drag-and-drop ansatz editor, which will take its place. Long
    circuits wrap to the width of the view instead of scrolling sideways.
    """

    #: Narrowest wrap width (characters) before the view scrolls sideways instead.
    MIN_COLUMNS = 60

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("circuitView")
        self._design: CircuitDesign | None = None
        self._circuit: Any = None
        self._columns = 0

        self.heading = QLabel("Circuit")
        self.heading.setObjectName("circuitHeading")
        heading_font = self.heading.font()
        heading_font.setPointSizeF(heading_font.pointSizeF() * 1.3)
        heading_font.setBold(True)
        self.heading.setFont(heading_font)
        self.subtitle = QLabel("θ[i] are trainable weights, x[j] the features of a sample")
        self.subtitle.setObjectName("circuitSubtitle")
        self.subtitle.setStyleSheet("color: palette(dark);")

        self.drawing = QLabel()
        self.drawing.setObjectName("circuitDrawing")
        self.drawing.setTextFormat(Qt.TextFormat.PlainText)
        self.drawing.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.drawing.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        mono.setPointSizeF(max(mono.pointSizeF(), 10.0))
        self.drawing.setFont(mono)
        self.drawing.setContentsMargins(24, 20, 24, 20)

        paper = QFrame()
        paper.setObjectName("circuitPaper")
        paper.setStyleSheet(
            "#circuitPaper { background: palette(base); border: 1px solid palette(midlight); border-radius: 6px; }"
        )
        paper_layout = QVBoxLayout(paper)
        paper_layout.setContentsMargins(0, 0, 0, 0)
        paper_layout.addWidget(self.drawing)
        paper_layout.addStretch(1)

        self.scroll = QScrollArea()
        self.scroll.setObjectName("circuitScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setWidget(paper)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(16, 12, 16, 12)
        layout.setSpacing(6)
        layout.addWidget(self.heading)
        layout.addWidget(self.subtitle)
        layout.addSpacing(6)
        layout.addWidget(self.scroll, 1)

        # Re-wrapping on every resize event would redraw many times during one drag.
        self._rewrap_timer = QTimer(self)
        self._rewrap_timer.setSingleShot(True)
        self._rewrap_timer.setInterval(80)
        self._rewrap_timer.timeout.connect(self._rewrap)
        self.refresh()

    @property
    def design(self) -> CircuitDesign | None:
        return self._design

    def set_design(self, design: CircuitDesign | None) -> None:
        """Shows ``design`` (or nothing) and follows its changes from now on."""
        if self._design is not None:
            self._design.events.changed.disconnect(self._on_design_changed)
        self._design = design
        if design is not None:
            design.events.changed.connect(self._on_design_changed)
        self.refresh()

    def _on_design_changed(self, **_payload: Any) -> None:
        self.refresh()

    def columns_available(self) -> int:
        """How many characters of drawing fit across the view."""
        char_width = max(1, QFontMetrics(self.drawing.font()).horizontalAdvance("─"))
        margins = self.drawing.contentsMargins()
        width = self.scroll.viewport().width() - margins.left() - margins.right() - 4
        return max(self.MIN_COLUMNS, width // char_width)

    def refresh(self) -> None:
        """Redraws the design (after it changed)."""
        design = self._design
        self._circuit = None
        if design is None or not design.gates:
            wires = design.num_qubits if design is not None else 0
            self.drawing.setText(
                f"The circuit is empty ({wires} qubit wire{'s' if wires != 1 else ''}).\n\n"
                "Gates you place in the ansatz editor, and the encoding and layer\n"
                "templates you add, will be drawn here."
            )
            return
        try:
            self._circuit = design.to_circuit()
        except Exception as exc:  # drawing is a convenience; a failure must not break the window
            self.drawing.setText(f"The circuit cannot be drawn: {exc}")
            return
        self._columns = 0
        self._rewrap()

    def _rewrap(self) -> None:
        if self._circuit is None:
            return
        columns = self.columns_available()
        if columns == self._columns:
            return
        self._columns = columns
        try:
            text = str(self._circuit.draw(output="text", fold=columns))
        except Exception as exc:
            text = f"The circuit cannot be drawn: {exc}"
        self.drawing.setText(text)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self._circuit is not None:
            self._rewrap_timer.start()


class PlaceholderPanel(QWidget):
    """A dock's content until its real widget exists: says what will be there."""

    def __init__(self, title: str, text: str, details: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        heading = QLabel(title)
        font = heading.font()
        font.setBold(True)
        heading.setFont(font)
        body = QLabel(text)
        body.setWordWrap(True)
        body.setTextFormat(Qt.TextFormat.PlainText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(8)
        layout.addWidget(heading)
        layout.addWidget(body)
        if details:
            extra = QLabel(details)
            extra.setWordWrap(True)
            extra.setTextFormat(Qt.TextFormat.RichText)
            layout.addWidget(extra)
        soon = QLabel("Coming in a later version.")
        soon.setStyleSheet("color: palette(mid); font-style: italic;")
        layout.addWidget(soon)
        layout.addStretch(1)
        self.text = "\n".join([title, text, details])


def _palette_details() -> str:
    rows = []
    for group in GATE_GROUPS:
        labels = " ".join(g.label for g in GATES.values() if g.group == group)
        rows.append(f"<b>{html.escape(group.capitalize())}</b><br>{html.escape(labels)}")
    return "<br><br>".join(rows)


# -------------------------------------------------------------------- main window
class MainWindow(QMainWindow):
    """QML Studio's main window on one :class:`~qmlstudio.core.project.Project`.

    The window follows ``project.events.changed``: the title shows the project's name and
    its unsaved-changes mark (``project.dirty``), the status bar the circuit's summary.
    ``named_actions`` maps stable keys ("file.open", "view.trainingDock"...) to the window's
    QActions; ``docks`` maps the docks' object names to them.
    """

    #: Emitted with the new project after File ▸ New or File ▸ Open.
    projectChanged = Signal(object)

    def __init__(self, project: Project | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("mainWindow")
        self.project: Project | None = None
        self.named_actions: dict[str, QAction] = {}
        self.docks: dict[str, QDockWidget] = {}
        #: When True, closing never asks about unsaved changes (timed quits, tests).
        self.close_without_asking = False
        #: Every edit is a command on this stack (the ansatz editor pushes them).
        self.undo_stack = QUndoStack(self)

        self.circuit_view = CircuitView(self)
        self.setCentralWidget(self.circuit_view)
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
        self._create_toolbar()
        self._create_status_bar()

        self.resize(DEFAULT_SIZE)
        self._default_state = self.saveState(WINDOW_STATE_VERSION)
        self.restore_settings()
        self.set_project(project if project is not None else new_project())

    # ------------------------------------------------------------------ project
    def set_project(self, project: Project) -> None:
        """Shows ``project`` and forgets the undo history of the previous one."""
        if self.project is not None:
            self.project.events.changed.disconnect(self._on_project_changed)
        self.project = project
        project.events.changed.connect(self._on_project_changed)
        self.circuit_view.set_design(project.circuit)
        self.undo_stack.clear()
        self._update_title()
        self._update_summary()
        self.projectChanged.emit(project)

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
        if what == "circuit" and self.project is not None and self.circuit_view.design is not self.project.circuit:
            self.circuit_view.set_design(self.project.circuit)
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
        icon: QStyle.StandardPixmap | None = None,
    ) -> QAction:
        action = QAction(text, self)
        action.setObjectName(key.replace(".", "_") + "Action")
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        self._describe(action, tip)
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        if slot is None:
            action.setEnabled(False)
        else:
            action.triggered.connect(slot)
        self.named_actions[key] = action
        return action

    @staticmethod
    def _describe(action: QAction, tip: str) -> None:
        shortcut = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({shortcut})" if shortcut else tip)
        action.setStatusTip(tip)

    def _create_actions(self) -> None:
        SP = QStyle.StandardPixmap
        soon = " (not available yet)"
        # File
        self._action("file.new", "&New Project", "Start a new, empty project", QKeySequence.StandardKey.New,
                     self.new_project, SP.SP_FileIcon)
        self._action("file.open", "&Open Project…", "Open a QML Studio project (.qmls)", QKeySequence.StandardKey.Open,
                     self.open_project_dialog, SP.SP_DialogOpenButton)
        self._action("file.save", "&Save", "Save the project", QKeySequence.StandardKey.Save,
                     self.save, SP.SP_DialogSaveButton)
        self._action("file.saveAs", "Save &As…", "Save the project under a new name",
                     QKeySequence.StandardKey.SaveAs, self.save_as)
        self._action("file.exportCircuit", "&Export Circuit…",
                     "Export the circuit as OpenQASM, QPY, Python or an image" + soon, "Ctrl+E")
        self._action("file.quit", "&Quit", "Quit QML Studio", QKeySequence.StandardKey.Quit, self.close)
        self.named_actions["file.quit"].setMenuRole(QAction.MenuRole.QuitRole)

        # Edit: undo and redo follow the undo stack (enabled state and "Undo <command>" text).
        undo = self.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence(QKeySequence.StandardKey.Undo))
        undo.setObjectName("edit_undoAction")
        self._describe(undo, "Undo the last change to the circuit")
        self.named_actions["edit.undo"] = undo
        redo = self.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcut(QKeySequence(QKeySequence.StandardKey.Redo))
        redo.setObjectName("edit_redoAction")
        self._describe(redo, "Redo the change last undone")
        self.named_actions["edit.redo"] = redo
        self._action("edit.cut", "Cu&t", "Cut the selected gates" + soon, QKeySequence.StandardKey.Cut)
        self._action("edit.copy", "&Copy", "Copy the selected gates" + soon, QKeySequence.StandardKey.Copy)
        self._action("edit.paste", "&Paste", "Paste gates" + soon, QKeySequence.StandardKey.Paste)
        self._action("edit.delete", "&Delete", "Delete the selected gates" + soon, QKeySequence.StandardKey.Delete)
        self._action("edit.selectAll", "Select &All", "Select every gate" + soon, QKeySequence.StandardKey.SelectAll)

        # View: the docks' own toggle actions, so that menu and dock state never disagree.
        for number, (name, dock) in enumerate(self.docks.items(), start=1):
            toggle = dock.toggleViewAction()
            toggle.setObjectName(f"view_{name}Action")
            toggle.setShortcut(QKeySequence(f"Ctrl+{number}"))
            self._describe(toggle, f"Show or hide the {dock.windowTitle().lower()} panel")
            self.named_actions[f"view.{name}"] = toggle
        self._action("view.resetLayout", "&Reset Layout", "Put the panels back where they started",
                     None, self.reset_layout)
        full = self._action("view.fullScreen", "&Full Screen", "Use the whole screen",
                            QKeySequence.StandardKey.FullScreen, self._toggle_full_screen)
        full.setCheckable(True)

        # Run
        self._action("run.train", "&Train", "Train the model on the project's dataset" + soon, "F5",
                     icon=SP.SP_MediaPlay)
        self._action("run.pause", "&Pause", "Pause training" + soon, "F6", icon=SP.SP_MediaPause)
        self._action("run.stop", "&Stop", "Stop training" + soon, "Shift+F5", icon=SP.SP_MediaStop)
        self._action("run.compare", "&Compare with Classical Baselines",
                     "Train scikit-learn baselines on the same split" + soon)

        # Plugins
        self._action("plugins.manage", "&Installed Plugins…",
                     "List, enable and disable plugins: encodings, ansätze, optimizers, datasets, backends" + soon)
        self._action("plugins.install", "&Install Plugin…", "Install a plugin from a package index or a wheel" + soon)

        # Help
        self._action("help.shortcuts", "&Keyboard Shortcuts", "List every keyboard shortcut",
                     QKeySequence.StandardKey.HelpContents, self.show_shortcuts)
        about = self._action("help.about", f"&About {APP_NAME}", "Versions of QML Studio and its libraries",
                             None, self.show_about)
        about.setMenuRole(QAction.MenuRole.AboutRole)
        about_qt = self._action("help.aboutQt", "About &Qt", "The Qt version and licence", None, QApplication.aboutQt)
        about_qt.setMenuRole(QAction.MenuRole.AboutQtRole)

    def _create_menus(self) -> None:
        bar = self.menuBar()
        layout = {
            "&File": ["file.new", "file.open", None, "file.save", "file.saveAs", "file.exportCircuit", None, "file.quit"],
            "&Edit": ["edit.undo", "edit.redo", None, "edit.cut", "edit.copy", "edit.paste", "edit.delete",
                      None, "edit.selectAll"],
            "&View": [*(f"view.{name}" for name in self.docks), "view.toolbar", None, "view.resetLayout",
                      "view.fullScreen"],
            "&Run": ["run.train", "run.pause", "run.stop", None, "run.compare"],
            "&Plugins": ["plugins.manage", "plugins.install"],
            "&Help": ["help.shortcuts", None, "help.about", "help.aboutQt"],
        }
        self.menus: dict[str, QMenu] = {}
        self.toolbar = QToolBar("Main Toolbar", self)
        toggle = self.toolbar.toggleViewAction()
        toggle.setObjectName("view_toolbarAction")
        self._describe(toggle, "Show or hide the toolbar")
        self.named_actions["view.toolbar"] = toggle
        for title, keys in layout.items():
            menu = bar.addMenu(title)
            menu.setObjectName(title.strip("&").lower() + "Menu")
            menu.setToolTipsVisible(True)
            for key in keys:
                if key is None:
                    menu.addSeparator()
                else:
                    menu.addAction(self.named_actions[key])
            self.menus[title.strip("&").lower()] = menu

    def _create_toolbar(self) -> None:
        bar = self.toolbar
        bar.setObjectName("mainToolBar")
        bar.setMovable(False)
        bar.setIconSize(QSize(18, 18))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        for key in ("file.new", "file.open", "file.save", None, "edit.undo", "edit.redo", None,
                    "run.train", "run.stop"):
            if key is None:
                bar.addSeparator()
            else:
                bar.addAction(self.named_actions[key])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)

    def _create_docks(self) -> None:
        panels = [
            ("gatePaletteDock", "Gate Palette", Qt.DockWidgetArea.LeftDockWidgetArea, PlaceholderPanel(
                "Gate palette",
                "Drag gates onto the qubit wires: fixed gates, rotations with trainable (θ) or data (x) "
                "angles, entanglers, and whole layer templates from plugins.",
                _palette_details(),
            )),
            ("datasetDock", "Dataset", Qt.DockWidgetArea.RightDockWidgetArea, PlaceholderPanel(
                "Dataset",
                "Pick a built-in dataset or load a CSV file, choose the features and the label, scale "
                "them, set the train / test split, and preview the samples in a scatter plot.",
            )),
            ("trainingDock", "Training", Qt.DockWidgetArea.BottomDockWidgetArea, PlaceholderPanel(
                "Training",
                "Start, pause and stop training and watch it live: loss, accuracy and gradient norm "
                "per iteration, the decision boundary, progress and time left, and classical "
                "baselines trained on the same split.",
            )),
        ]
        for name, title, area, widget in panels:
            dock = QDockWidget(title, self)
            dock.setObjectName(name)
            widget.setObjectName(name.replace("Dock", "Placeholder"))
            dock.setWidget(widget)
            dock.setFeatures(
                QDockWidget.DockWidgetFeature.DockWidgetClosable
                | QDockWidget.DockWidgetFeature.DockWidgetMovable
                | QDockWidget.DockWidgetFeature.DockWidgetFloatable
            )
            self.addDockWidget(area, dock)
            self.docks[name] = dock
        self.resizeDocks([self.docks["gatePaletteDock"], self.docks["datasetDock"]], [230, 290],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.docks["trainingDock"]], [240], Qt.Orientation.Vertical)

    def _create_status_bar(self) -> None:
        status = self.statusBar()
        status.setObjectName("statusBar")
        self.summary_label = QLabel()
        self.summary_label.setObjectName("projectSummary")
        self.summary_label.setContentsMargins(8, 0, 8, 0)
        status.addPermanentWidget(self.summary_label)
        status.showMessage("Ready", 3000)

    # ------------------------------------------------------------------ commands
    def new_project(self) -> None:
        if self.confirm_discard():
            self.set_project(new_project())
            self.statusBar().showMessage("New project", 3000)

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
        self.statusBar().showMessage(f"Saved {written}", 5000)
        return True

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
            keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
            if keys:
                text = action.text().replace("&", "").rstrip("…")
                rows.append(f"<tr><td style='padding-right:16px'>{html.escape(text)}</td>"
                            f"<td><b>{html.escape(keys)}</b></td></tr>")
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
        if isinstance(state, QByteArray):
            self.restoreState(state, WINDOW_STATE_VERSION)

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

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.confirm_discard():
            event.ignore()
            return
        self.save_settings()
        event.accept()
