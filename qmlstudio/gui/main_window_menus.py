"""The main window's actions, menus and tool bar (a mixin of :class:`~qmlstudio.gui.main_window.MainWindow`).

Every command of the window is a named :class:`QAction` (``window.named_actions[key]``) with its
shortcut and tip; the menus and the tool bar are filled from those. Plugins add entries: the
Insert Template / Insert Encoding Layer menus list every template and encoding, and the Run menu
has one entry per account a plugin provides. Split from ``main_window.py`` by responsibility.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QMenu,
    QToolBar,
)

from qmlstudio.core.circuit_files import EXPORT_FORMATS, IMPORT_FORMATS
from qmlstudio.gui import icons, theme

#: the application's name (menus, titles, settings)
APP_NAME = "QML Studio"


class WindowMenus:
    """The actions, menus and tool bar of the main window."""

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
        self._action("run.layerwise", "Train &Layerwise…",
                     "Grow the ansatz a layer at a time, training each new layer (Skolik et al. 2021)", "Ctrl+F5")
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
        fill(menu("&Run", "run"), ["run.train", "run.layerwise", "run.pause", "run.stop", "run.step", None, "run.compare", None])
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

