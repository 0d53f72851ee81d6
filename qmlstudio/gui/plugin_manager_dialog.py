"""The Plugins dialog: every plugin and its status; enable, disable, install, update, uninstall, roll back.

The table shows what the :class:`~qmlstudio.plugins.manager.PluginRegistry` knows; the
details pane shows a selected plugin's problems with their tracebacks. Enabling and
disabling are saved in :class:`~qmlstudio.core.settings.Settings` and take effect at the
next start. Installs, updates, uninstalls and rollbacks are the Qt-free flows of
:mod:`qmlstudio.installer`, driven here with a ``QProcess`` per pip command, so the
window never blocks: pip's output streams into the output pane and Cancel kills it. Each
flow stops at a plan (pip's dry run, or what an uninstall or rollback would do) until the
user confirms; a plan that would change QML Studio's own dependencies is refused unless
"Install anyway" is ticked.

After a change the registry rescans the entry points, so a new plugin's encodings,
templates, optimizers, datasets and backends are there at once; :attr:`plugins_changed`
tells the palette and the other views. Where that is not possible (a new version of a
plugin already loaded, QML Studio's own dependencies changed, another environment) the
dialog says that a restart is needed.
"""

from __future__ import annotations

import importlib
import shlex
import sys
import traceback
from typing import Any, Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QColor, QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.settings import Settings
from qmlstudio.gui.pip_process import (
    PipProcess,
)
from qmlstudio.installer import (
    Confirm,
    Flow,
    Installer,
    InstallPlan,
    Note,
    Outcome,
    RollbackPlan,
    Run,
    UninstallPlan,
)
from qmlstudio.plugins.manager import PluginInfo, PluginRegistry, availability_changes

COLUMNS = ("Plugin", "Version", "Source", "Provides", "Status")
NAME_ROLE = Qt.ItemDataRole.UserRole
NEXT_START_NOTE = "Enabling or disabling a plugin takes effect the next time QML Studio starts."
FAILED_COLOR = QColor("#CE2C31")
MUTED_COLOR = QColor("#6F7782")


def provides_text(info: PluginInfo) -> str:
    """``encodings: a, b · datasets: c``"""
    return " · ".join(f"{kind}: {', '.join(names)}" for kind, names in info.provides.items() if names)


def source_text(info: PluginInfo) -> str:
    if info.builtin:
        return "built-in"
    if info.source == "registered":
        return "registered in this session"
    return f"third-party ({info.source})"


def status_text(info: PluginInfo, disabled_next: bool) -> str:
    """The status cell: what is true now, and what changes at the next start."""
    if info.status == "failed":
        text = f"failed: {info.reason}" if info.reason else "failed"
    elif info.status == "disabled":
        text = "disabled"
    else:
        warnings = len(info.problems)
        text = "ok" + (f" ({warnings} warning{'s' if warnings > 1 else ''})" if warnings else "")
    if disabled_next and info.status != "disabled":
        text += " · disabled from the next start"
    elif not disabled_next and info.status == "disabled":
        text += " · enabled from the next start"
    return text


def details_text(info: PluginInfo, disabled_next: bool) -> str:
    """Everything about one plugin, tracebacks included, for the details pane."""
    lines = [
        f"Plugin:   {info.name}",
        f"Version:  {info.version or 'unknown'}",
        f"Source:   {source_text(info)}",
        f"Module:   {info.module or '?'}",
        f"Status:   {status_text(info, disabled_next)}",
    ]
    for kind, names in info.provides.items():
        if names:
            lines.append(f"Provides {kind}: {', '.join(names)}")
    if info.status == "failed":
        lines.append("")
        lines.append("This plugin contributes nothing; QML Studio runs without it.")
    for problem in info.problems:
        lines += ["", f"Problem ({problem.stage}): {problem.message}"]
        if problem.traceback:
            lines.append(problem.traceback.rstrip())
    return "\n".join(lines)


class PluginManagerDialog(QDialog):
    """Plugins ▸ Manage Plugins: the plugins, their status, and safe installs through pip.

    ``registry`` is the app's registry (rescanned after each change); ``settings`` holds the
    disabled plugins (loaded from disk when not given); ``python`` is the interpreter whose
    environment pip changes (this one by default). ``installer`` replaces the default
    :class:`~qmlstudio.installer.Installer` (extra pip options such as
    ``--no-index --find-links DIR``); ``python`` is then ignored.
    """

    #: The registry gained or lost plugins: palettes and menus should re-read it.
    plugins_changed = Signal()
    #: An install, update, uninstall or rollback waits for the user's go-ahead (the plan).
    confirmation_requested = Signal(object)
    #: An install, update, uninstall or rollback ended (an :class:`Outcome`).
    operation_finished = Signal(object)

    def __init__(
        self,
        registry: PluginRegistry,
        settings: Settings | None = None,
        python: str | None = None,
        parent: QWidget | None = None,
        *,
        installer: Installer | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("pluginManagerDialog")
        self.setWindowTitle("Plugins")
        self.resize(1100, 820)
        self.registry = registry
        self.settings = settings if settings is not None else Settings.load()
        self.installer = installer if installer is not None else Installer(python or sys.executable)
        self.restart_reasons: list[str] = []
        self._flow: Flow | None = None
        self._flow_action = ""
        self._pending: Confirm | None = None
        self.last_outcome: Outcome | None = None
        self.runner = PipProcess(self)
        self.runner.output.connect(self._append)
        self.runner.finished.connect(self._advance)
        self._build()
        self.refresh()

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("pluginTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        for column in range(len(COLUMNS)):
            mode = QHeaderView.ResizeMode.Stretch if COLUMNS[column] in ("Provides", "Status") else \
                QHeaderView.ResizeMode.ResizeToContents
            header.setSectionResizeMode(column, mode)
        self.table.setToolTip("Tick a plugin to enable it from the next start, untick to disable it")
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemChanged.connect(self._item_changed)

        self.toggle_button = QPushButton("Disable")
        self.toggle_button.setObjectName("pluginToggleButton")
        self.toggle_button.setToolTip("Enable or disable the selected plugin from the next start on")
        self.toggle_button.clicked.connect(self._toggle_selected)
        self.update_button = QPushButton("Update")
        self.update_button.setObjectName("pluginUpdateButton")
        self.update_button.setToolTip("Update the selected plugin's package from the package index (dry run first)")
        self.update_button.clicked.connect(self.update_selected)
        self.uninstall_button = QPushButton("Uninstall…")
        self.uninstall_button.setObjectName("pluginUninstallButton")
        self.uninstall_button.setToolTip("Remove the selected plugin's package (asks first)")
        self.uninstall_button.clicked.connect(self.uninstall_selected)
        self.rollback_button = QPushButton("Roll Back Last Change…")
        self.rollback_button.setObjectName("pluginRollbackButton")
        self.rollback_button.clicked.connect(self.rollback)
        buttons = QHBoxLayout()
        for button in (self.toggle_button, self.update_button, self.uninstall_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.rollback_button)

        self.note_label = QLabel(NEXT_START_NOTE)
        self.note_label.setObjectName("pluginNextStartNote")
        self.note_label.setWordWrap(True)
        self.details = QPlainTextEdit()
        self.details.setObjectName("pluginDetails")
        self.details.setReadOnly(True)
        self.details.setFont(mono)
        self.details.setPlaceholderText("Select a plugin to see what it provides and, if it failed, why.")

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.table, 3)
        top_layout.addLayout(buttons)
        top_layout.addWidget(self.note_label)
        top_layout.addWidget(self.details, 2)

        # -- install, plan and output
        self.install_edit = QLineEdit()
        self.install_edit.setObjectName("pluginInstallSource")
        self.install_edit.setPlaceholderText("Package name (qmlstudio-foo or qmlstudio-foo==1.2), a .whl file or a project folder")
        self.install_edit.setClearButtonEnabled(True)
        self.install_edit.returnPressed.connect(self.install_from_field)
        wheel_button = QPushButton("Wheel…")
        wheel_button.setToolTip("Choose a wheel (.whl) file")
        wheel_button.clicked.connect(self._choose_wheel)
        folder_button = QPushButton("Folder…")
        folder_button.setToolTip("Choose a plugin's project folder (with pyproject.toml); a wheel is built from it")
        folder_button.clicked.connect(self._choose_folder)
        self.install_button = QPushButton("Install…")
        self.install_button.setObjectName("pluginInstallButton")
        self.install_button.setToolTip("Check what pip would change (dry run), then install after you confirm")
        self.install_button.clicked.connect(self.install_from_field)
        self.browse_buttons = (wheel_button, folder_button)
        install_row = QHBoxLayout()
        install_row.addWidget(self.install_edit, 1)
        install_row.addWidget(wheel_button)
        install_row.addWidget(folder_button)
        install_row.addWidget(self.install_button)

        self.plan_view = QPlainTextEdit()
        self.plan_view.setObjectName("pluginPlan")
        self.plan_view.setReadOnly(True)
        self.plan_view.setFont(mono)
        self.plan_view.setMaximumHeight(220)
        self.plan_view.setVisible(False)
        self.refusal_label = QLabel()
        self.refusal_label.setObjectName("pluginRefusal")
        self.refusal_label.setWordWrap(True)
        self.refusal_label.setTextFormat(Qt.TextFormat.PlainText)
        self.refusal_label.setStyleSheet(f"color: {FAILED_COLOR.name()};")
        self.refusal_label.setVisible(False)
        self.override_check = QCheckBox("Install anyway: I accept that this may break QML Studio (it can be rolled back)")
        self.override_check.setObjectName("pluginOverride")
        self.override_check.setVisible(False)
        self.override_check.toggled.connect(self._update_confirm)
        self.confirm_button = QPushButton("Install")
        self.confirm_button.setObjectName("pluginConfirmButton")
        self.confirm_button.setVisible(False)
        self.confirm_button.clicked.connect(lambda: self._answer(True))
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("pluginCancelButton")
        self.cancel_button.setToolTip("Stop pip now, or drop the plan shown")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        confirm_row = QHBoxLayout()
        confirm_row.addWidget(self.override_check, 1)
        confirm_row.addWidget(self.confirm_button)
        confirm_row.addWidget(self.cancel_button)

        self.status_label = QLabel("")
        self.status_label.setObjectName("pluginStatus")
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 0)
        self.progress.setMaximumWidth(160)
        self.progress.setVisible(False)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.progress)

        self.output = QPlainTextEdit()
        self.output.setObjectName("pluginOutput")
        self.output.setReadOnly(True)
        self.output.setFont(mono)
        self.output.setMaximumBlockCount(5000)
        self.output.setPlaceholderText("pip's output appears here.")

        install_box = QGroupBox("Install a plugin")
        box_layout = QVBoxLayout(install_box)
        box_layout.addLayout(install_row)
        box_layout.addWidget(self.plan_view)
        box_layout.addWidget(self.refusal_label)
        box_layout.addLayout(confirm_row)
        box_layout.addLayout(status_row)
        box_layout.addWidget(self.output, 1)

        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(install_box)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 2)

        self.restart_label = QLabel()
        self.restart_label.setObjectName("pluginRestartNeeded")
        self.restart_label.setWordWrap(True)
        self.restart_label.setStyleSheet("background: #FFF4D6; border: 1px solid #E2B93B; padding: 6px;")
        self.restart_label.setVisible(False)

        close = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        close.rejected.connect(self.reject)
        self.close_button = close.button(QDialogButtonBox.StandardButton.Close)
        # Return in the install field starts a dry run; only the confirm button, once it has
        # the focus, may be pressed with Return (QDialog would otherwise press the first button).
        for button in self.findChildren(QPushButton):
            button.setAutoDefault(button is self.confirm_button)

        layout = QVBoxLayout(self)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.restart_label)
        layout.addWidget(close)

    # ------------------------------------------------------------------- table
    def refresh(self) -> None:
        """Rebuilds the table from the registry and the settings, keeping the selection."""
        selected = self.selected_name()
        self.table.blockSignals(True)
        try:
            infos = list(self.registry.plugins.values())
            self.table.setRowCount(len(infos))
            for row, info in enumerate(infos):
                disabled_next = info.name in self.settings.disabled_plugins
                failed = info.status == "failed"
                cells = (info.name, info.version or "", source_text(info), provides_text(info),
                         status_text(info, disabled_next))
                for column, text in enumerate(cells):
                    item = QTableWidgetItem(text)
                    item.setData(NAME_ROLE, info.name)
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
                    if column == 0:
                        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                        item.setCheckState(Qt.CheckState.Unchecked if disabled_next else Qt.CheckState.Checked)
                    if failed:
                        item.setForeground(FAILED_COLOR)
                    elif info.status == "disabled" or disabled_next:
                        item.setForeground(MUTED_COLOR)
                    item.setToolTip(f"{info.name}: {status_text(info, disabled_next)}" if column != 3 else text)
                    self.table.setItem(row, column, item)
        finally:
            self.table.blockSignals(False)
        row = self.row_of(selected) if selected else -1
        if row < 0 and self.table.rowCount():
            row = 0
        if row >= 0:
            self.table.selectRow(row)
        self._selection_changed()
        self._update_buttons()

    def row_of(self, name: str | None) -> int:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(NAME_ROLE) == name:
                return row
        return -1

    def select(self, name: str) -> None:
        """Selects the plugin called ``name`` in the table."""
        row = self.row_of(name)
        if row < 0:
            raise KeyError(name)
        self.table.selectRow(row)

    def selected_name(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(NAME_ROLE) if item is not None else None

    def selected_info(self) -> PluginInfo | None:
        name = self.selected_name()
        return self.registry.plugins.get(name) if name else None

    def _selection_changed(self) -> None:
        info = self.selected_info()
        if info is None:
            self.details.setPlainText("")
        else:
            self.details.setPlainText(details_text(info, info.name in self.settings.disabled_plugins))
        self._update_buttons()

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() != 0:
            return
        # the table is rebuilt after this handler returns: the item being changed must outlive it
        self.set_enabled(item.data(NAME_ROLE), item.checkState() == Qt.CheckState.Checked, deferred=True)

    # ------------------------------------------------------------ enable/disable
    def set_enabled(self, name: str, enabled: bool, *, deferred: bool = False) -> None:
        """Enables or disables ``name`` from the next start on; saved in the settings at once."""
        disabled = [n for n in self.settings.disabled_plugins if n != name]
        if not enabled:
            disabled.append(name)
        if disabled == self.settings.disabled_plugins:
            return
        self.settings.disabled_plugins = disabled
        try:
            self.settings.save()
        except OSError as exc:
            self.status_label.setText(f"Could not save the settings: {exc}")
        else:
            state = "enabled" if enabled else "disabled"
            self.status_label.setText(f"Plugin '{name}' {state}: this takes effect the next time QML Studio starts.")
        if deferred:
            QTimer.singleShot(0, self.refresh)
        else:
            self.refresh()

    def _toggle_selected(self) -> None:
        info = self.selected_info()
        if info is not None:
            self.set_enabled(info.name, info.name in self.settings.disabled_plugins)

    # ------------------------------------------------------------------ buttons
    def _installed_distribution(self, info: PluginInfo | None) -> str | None:
        """The distribution that installed ``info``, if it is a third-party package."""
        if info is None or info.builtin or info.source in ("registered", "unknown"):
            return None
        return info.source

    def _update_buttons(self) -> None:
        busy = self.busy
        info = self.selected_info()
        self.toggle_button.setEnabled(info is not None)
        if info is not None:
            self.toggle_button.setText("Enable" if info.name in self.settings.disabled_plugins else "Disable")
        dist = self._installed_distribution(info)
        for button in (self.update_button, self.uninstall_button):
            button.setEnabled(dist is not None and not busy)
        if info is not None and info.builtin:
            why = "Built-in plugins are part of QML Studio: disable them instead"
        elif info is not None and dist is None:
            why = "This plugin was not installed as a package"
        else:
            why = ""
        self.update_button.setToolTip(why or f"Update {dist} from the package index (dry run first)")
        self.uninstall_button.setToolTip(why or f"Remove {dist} (asks first)")
        for widget in (self.install_button, self.install_edit, *self.browse_buttons):
            widget.setEnabled(not busy)
        last = self.installer.history.last_undoable(self.installer.python)
        self.rollback_button.setEnabled(last is not None and not busy)
        self.rollback_button.setToolTip(
            f"Undo the last change: {last.describe()}" if last is not None else "No change made from here to undo"
        )
        self.cancel_button.setEnabled(busy)

    @property
    def busy(self) -> bool:
        return self._flow is not None

    def _choose_wheel(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Install a plugin wheel", "", "Wheels (*.whl);;All files (*)")
        if path:
            self.install_edit.setText(path)

    def _choose_folder(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Install a plugin from its project folder")
        if path:
            self.install_edit.setText(path)

    def focus_install(self) -> None:
        """Puts the cursor in the install field (for Plugins ▸ Install Plugin…)."""
        self.install_edit.setFocus()
        self.install_edit.selectAll()

    # ----------------------------------------------------------------- actions
    def install_from_field(self) -> None:
        """Starts installing what the install field names: a dry run and a plan first."""
        spec = self.install_edit.text().strip()
        if not spec:
            self.status_label.setText("Type a package name, or choose a wheel or a project folder.")
            self.install_edit.setFocus()
            return
        self.start("install", lambda: self.installer.install(spec))

    def update_selected(self) -> None:
        dist = self._installed_distribution(self.selected_info())
        if dist is not None:
            self.start("update", lambda: self.installer.update(dist))

    def uninstall_selected(self) -> None:
        dist = self._installed_distribution(self.selected_info())
        if dist is not None:
            self.start("uninstall", lambda: self.installer.uninstall(dist))

    def rollback(self) -> None:
        self.start("rollback", self.installer.rollback)

    def cancel(self) -> None:
        """Kills the running pip, or drops the plan waiting for confirmation."""
        if self.runner.running:
            self.status_label.setText("Cancelling…")
            self.runner.cancel()
        elif self._pending is not None:
            self._answer(False)

    # -------------------------------------------------------------- the driver
    def start(self, action: str, make_flow: Callable[[], Flow]) -> bool:
        """Runs a flow of :mod:`qmlstudio.installer`; False when another one is running."""
        if self.busy:
            self.status_label.setText("Another operation is running; wait for it or cancel it.")
            return False
        self._flow_action = action
        self.output.clear()
        self._hide_plan()
        self.progress.setVisible(True)
        try:
            self._flow = make_flow()
        except QMLStudioError as exc:
            self._finish(Outcome(action, False, str(exc)))
            return True
        self._update_buttons()
        self._advance(None)
        return True

    def _advance(self, value: Any) -> None:
        flow = self._flow
        if flow is None:
            return
        while True:
            try:
                item = flow.send(value)
            except StopIteration as stop:
                self._finish(stop.value)
                return
            except QMLStudioError as exc:
                self._finish(Outcome(self._flow_action, False, str(exc)))
                return
            except Exception as exc:  # noqa: BLE001 - a bug must not leave the dialog stuck
                self._append(traceback.format_exc())
                self._finish(Outcome(self._flow_action, False, f"internal error: {type(exc).__name__}: {exc}"))
                return
            if isinstance(item, Note):
                self._append(item.text + "\n")
                value = None
                continue
            if isinstance(item, Run):
                self.status_label.setText(item.title + "…")
                if not item.capture:
                    command = item.argv[2:] if item.argv[1:2] == ["-m"] else item.argv
                    self._append(f"$ {shlex.join(command)}\n")
                self.runner.start(item)
                return
            if isinstance(item, Confirm):
                self._ask(item)
                return
            value = None

    def _ask(self, request: Confirm) -> None:
        self._pending = request
        plan = request.plan
        self.plan_view.setPlainText(plan.describe())
        self.plan_view.setVisible(True)
        if isinstance(plan, InstallPlan):
            verb = "Update" if plan.action == "update" else "Install"
            count = len(plan.changes)
            label = f"{verb} ({count} package{'s' if count != 1 else ''})" if count else verb
        elif isinstance(plan, UninstallPlan):
            label = f"Uninstall {plan.distribution.name}"
        elif isinstance(plan, RollbackPlan):
            label = "Roll Back"
        else:
            label = "Go Ahead"
        self.confirm_button.setText(label)
        refused = request.refused
        self.refusal_label.setText(
            f"Refused: {plan.summary()}. The plan above says more; tick “Install anyway” to override."
            if refused and isinstance(plan, InstallPlan) else ""
        )
        self.refusal_label.setVisible(refused)
        self.override_check.blockSignals(True)
        self.override_check.setChecked(False)
        self.override_check.blockSignals(False)
        self.override_check.setVisible(refused)
        self.confirm_button.setVisible(True)
        self._update_confirm()
        self.progress.setVisible(False)
        self.status_label.setText(
            "Refused: see why above." if refused
            else "Check the plan, then confirm."
        )
        self.confirm_button.setFocus()
        self.confirmation_requested.emit(plan)

    def _update_confirm(self) -> None:
        refused = self._pending is not None and self._pending.refused
        self.confirm_button.setEnabled(self._pending is not None and (not refused or self.override_check.isChecked()))

    def _answer(self, go_ahead: bool) -> None:
        if self._pending is None:
            return
        if go_ahead and self._pending.refused and not self.override_check.isChecked():
            return
        self._pending = None
        self.confirm_button.setVisible(False)
        self.override_check.setVisible(False)
        self.progress.setVisible(True)
        self._advance(go_ahead)

    def _hide_plan(self) -> None:
        self._pending = None
        for widget in (self.plan_view, self.refusal_label, self.override_check, self.confirm_button):
            widget.setVisible(False)

    def _append(self, text: str) -> None:
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text)
        self.output.setTextCursor(cursor)
        self.output.ensureCursorVisible()

    def _finish(self, outcome: Outcome) -> None:
        self._flow = None
        self._pending = None
        self.last_outcome = outcome
        self.progress.setVisible(False)
        self.confirm_button.setVisible(False)
        self.override_check.setVisible(False)
        if outcome.ok:
            first = outcome.message.splitlines()[0] if outcome.message else "done"
            self.status_label.setText(first[0].upper() + first[1:])
        elif outcome.cancelled:
            self.status_label.setText("Cancelled." + (" Some packages had changed: Roll Back undoes it." if outcome.change else ""))
        else:
            refused = isinstance(outcome.plan, InstallPlan) and outcome.plan.refused and outcome.change is None
            self.status_label.setText("Not installed: refused (see above)." if refused else "Failed: see the output below.")
            if not refused:
                self.refusal_label.setText(outcome.message)
                self.refusal_label.setVisible(True)
        self._append(("\n" if self.output.toPlainText() else "") + outcome.message + "\n")
        try:
            self._apply(outcome)
        finally:
            self.refresh()
            self.operation_finished.emit(outcome)

    def _apply(self, outcome: Outcome) -> None:
        """Brings the registry up to date with what changed on disk, or says a restart is needed."""
        if outcome.change is None:
            return
        known = set(self.registry.plugins)
        changed = False
        for name in outcome.removed_plugins:
            info = self.registry.plugins.get(name)
            if info is not None and not info.builtin:
                self.registry.unregister(name)
                changed = True
        importlib.invalidate_caches()
        before = self.registry.availability()
        added = self.registry.load_entry_points()
        # the loaded plugins' hooks again: a part that needed a package (the hybrid kind, torch)
        # can run once pip installed it, without a restart
        self.registry.refresh()
        after = self.registry.availability()
        changed = changed or bool(added) or before != after
        reasons = []
        loaded = []
        for name in outcome.plugins:
            if name in added:
                info = self.registry.plugins[name]
                if info.status == "failed":
                    loaded.append(f"plugin '{name}' is installed but failed to load: {info.reason} (details above)")
                elif info.status == "disabled":
                    loaded.append(f"plugin '{name}' is installed but disabled in the settings")
                else:
                    loaded.append(f"plugin '{name}' is ready: {provides_text(info) or 'it provides nothing'}")
            elif name in known:
                reasons.append(f"the new version of plugin '{name}' loads when QML Studio restarts")
            else:
                reasons.append(
                    f"plugin '{name}' was installed for {self.installer.python} but this QML Studio cannot see it"
                )
        loaded += availability_changes(before, after)
        if outcome.protected_touched:
            reasons.append("QML Studio's own dependencies changed")
        for line in loaded:
            self._append(line + "\n")
        if reasons:
            self.restart_reasons += [r for r in reasons if r not in self.restart_reasons]
            self.restart_label.setText("Restart QML Studio to finish: " + "; ".join(self.restart_reasons) + ".")
            self.restart_label.setVisible(True)
        if changed:
            self.plugins_changed.emit()

    # ---------------------------------------------------------------- closing
    def _may_close(self) -> bool:
        """Drops a plan waiting for confirmation; False while pip runs (killing it on close would be a surprise)."""
        if self._pending is not None and not self.runner.running:
            self._answer(False)
        if self.busy:
            self.status_label.setText("An operation is running: cancel it before closing.")
            return False
        return True

    def reject(self) -> None:
        if self._may_close():
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._may_close():
            event.ignore()
            return
        super().closeEvent(event)


def show_plugin_manager(registry: PluginRegistry, parent: QWidget | None = None, install: bool = False) -> PluginManagerDialog:
    """Opens the dialog (not modal) over ``parent``; with ``install`` the cursor waits in the install field."""
    dialog = PluginManagerDialog(registry, parent=parent)
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.show()
    if install:
        dialog.focus_install()
    return dialog


__all__ = ["PluginManagerDialog", "PipProcess", "show_plugin_manager"]
