"""The account dialog of a backend plugin (IBM Quantum's built in): the API token, the channel and instance, and the account's devices.

Any plugin brings its own account through the hook ``qmlstudio_accounts``; the Run menu has one
entry per account, and this dialog edits it. What the dialog says about the service comes from the
account object: ``SERVICE`` (its name, e.g. "IBM Quantum"), ``INTRO`` (a paragraph, may hold a
link), ``CHANNELS``/``CHANNEL_TITLES`` (where accounts live) and ``DEFAULT_CHANNEL``; without them
it uses the account spec's title and description.

The token field echoes as a password. "Remember in the system keyring" keeps the token in
the operating system's keyring; the line under it says whether a keyring exists here and,
where none does, that the token is kept for this session only. The token never goes to the
project, the settings, QSettings or the logs: the Qt-free account object of the backend
plugin's :class:`~qmlstudio.plugins.descriptors.AccountSpec` (hook ``qmlstudio_accounts``) holds it.
Only the channel and instance (not secret) are remembered in QSettings.

"Test connection" connects on a worker thread and lists the account's devices with their
status and queue length. Open it with ``IbmAccountDialog(parent).exec()``; ``check`` (a
function ``(channel, instance, token) -> list[BackendInfo]``) can be injected for tests.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.gui.background import run_in_background

COLUMNS = ("Device", "Qubits", "Status", "Queue")
SETTINGS_CHANNEL = "ibm/channel"
SETTINGS_INSTANCE = "ibm/instance"
OK_COLOR = "#1E7F4F"
WARN_COLOR = "#A35200"
ERROR_COLOR = "#CE2C31"


def account_object(registry: Any = None, name: str | None = None) -> Any:
    """The account object of the plugin account ``name`` (the first one when None), or None when no plugin provides it."""
    if registry is None:
        from qmlstudio.plugins.manager import load_plugins

        registry = load_plugins()
    specs = registry.accounts
    spec = specs.get(name) if name is not None else next(iter(specs.values()), None)
    if spec is None:
        return None
    try:
        return spec.create()
    except Exception:  # noqa: BLE001 - a plugin whose account cannot load offers no account
        return None


IBM_INTRO = (
    "QML Studio runs on IBM Quantum hardware with your account's API token "
    "(create one on <a href='https://quantum.cloud.ibm.com'>quantum.cloud.ibm.com</a>). "
    "The token is never written to project files, settings or logs."
)


def _account_spec(registry: Any, name: str | None) -> Any:
    specs = getattr(registry, "accounts", None) or {}
    return specs.get(name) if name is not None else next(iter(specs.values()), None)


def _attempt(check: Callable[..., Any], channel: str, instance: str, token: str | None) -> tuple[bool, Any]:
    """Runs on the worker thread: the device list, or a message (never the token)."""
    try:
        return True, list(check(channel, instance, token))
    except Exception as exc:  # noqa: BLE001 - every failure is shown, none raised
        message = str(exc) or type(exc).__name__
        if token:
            message = message.replace(token, "***")
        return False, message


class AccountDialog(QDialog):
    """Enter, test and remember an account's API token (object name ``ibmAccountDialog`` for IBM
    Quantum's, ``<name>AccountDialog`` for another plugin's)."""

    #: Test connection finished: ok, and a message for people
    connection_tested = Signal(bool, str)
    #: Save stored the token: where it went (``keyring`` or ``session``)
    token_saved = Signal(str)

    def __init__(
        self,
        parent: QWidget | None = None,
        *,
        check: Callable[[str, str, str | None], Any] | None = None,
        account: Any = None,
        registry: Any = None,
        account_name: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setMinimumWidth(560)
        self.account = account if account is not None else account_object(registry, account_name)
        spec = _account_spec(registry, account_name) if account is None else None
        self.account_name = account_name or (spec.name if spec is not None else "ibm")
        self.setObjectName("ibmAccountDialog" if self.account_name == "ibm" else f"{self.account_name}AccountDialog")
        title = (spec.title if spec is not None and spec.title else "").replace("&", "").rstrip("…. ")
        default_service = "IBM Quantum" if self.account_name == "ibm" else (title.removesuffix(" Account") or self.account_name)
        #: the service's name in the dialog's texts
        self.service = str(getattr(self.account, "SERVICE", "") or default_service)
        self._intro = str(getattr(self.account, "INTRO", "") or (
            IBM_INTRO if self.account_name == "ibm" else
            f"QML Studio runs on {self.service} with your account's API token"
            + (f": {spec.description}" if spec is not None and spec.description else "") + "."
            + " The token is never written to project files, settings or logs."))
        self._default_channel = str(getattr(self.account, "DEFAULT_CHANNEL", "") or
                                    next(iter(getattr(self.account, "CHANNELS", ()) or ()), "ibm_quantum_platform"))
        self._settings_channel = f"{self.account_name}/channel"
        self._settings_instance = f"{self.account_name}/instance"
        self.setWindowTitle(f"{self.service} account")
        self._check = check or (self.account.check_account if self.account is not None else None)
        self.testing = False
        self.backends: list[Any] = []
        self._build()
        self._load()

    # ------------------------------------------------------------------ ui
    def _build(self) -> None:
        layout = QVBoxLayout(self)
        intro = QLabel(self._intro)
        intro.setWordWrap(True)
        intro.setOpenExternalLinks(True)
        layout.addWidget(intro)

        form = QFormLayout()
        self.token_edit = QLineEdit()
        self.token_edit.setObjectName("tokenEdit")
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.token_edit.setPlaceholderText(f"paste your {self.service} API token")
        self.token_edit.setToolTip(f"The API token of your {self.service} account; shown as dots")
        self.show_token = QAction("Show", self.token_edit)
        self.show_token.setCheckable(True)
        self.show_token.setToolTip("Show or hide the token")
        self.show_token.toggled.connect(self._toggle_echo)
        self.token_edit.addAction(self.show_token, QLineEdit.ActionPosition.TrailingPosition)
        form.addRow("API &token:", self.token_edit)

        self.channel_combo = QComboBox()
        self.channel_combo.setObjectName("channelCombo")
        channels = getattr(self.account, "CHANNELS", ("ibm_quantum_platform", "ibm_cloud", "local"))
        titles = getattr(self.account, "CHANNEL_TITLES", {})
        for channel in channels:
            self.channel_combo.addItem(titles.get(channel, channel), channel)
        self.channel_combo.setToolTip("Where the account lives; 'Local testing' uses fake devices, offline")
        self.channel_combo.currentIndexChanged.connect(self._on_channel)
        form.addRow("&Channel:", self.channel_combo)

        self.instance_edit = QLineEdit()
        self.instance_edit.setObjectName("instanceEdit")
        self.instance_edit.setPlaceholderText("optional: the instance's CRN or name")
        self.instance_edit.setToolTip("The instance to use and bill; empty for the account's default")
        form.addRow("&Instance:", self.instance_edit)
        layout.addLayout(form)

        self.remember_box = QCheckBox("&Remember in the system keyring")
        self.remember_box.setObjectName("rememberBox")
        self.keyring_label = QLabel()
        self.keyring_label.setObjectName("keyringStatus")
        self.keyring_label.setWordWrap(True)
        layout.addWidget(self.remember_box)
        layout.addWidget(self.keyring_label)
        self.stored_label = QLabel()
        self.stored_label.setObjectName("storedStatus")
        self.stored_label.setWordWrap(True)
        layout.addWidget(self.stored_label)

        row = QHBoxLayout()
        self.test_button = QPushButton("&Test connection")
        self.test_button.setObjectName("testButton")
        self.test_button.setToolTip(f"Connect to {self.service} and list the devices of the account")
        self.test_button.clicked.connect(self.test_connection)
        self.forget_button = QPushButton("&Forget token")
        self.forget_button.setObjectName("forgetButton")
        self.forget_button.setToolTip("Remove the token from this session and from the system keyring")
        self.forget_button.clicked.connect(self.forget)
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)
        self.busy.setMaximumWidth(120)
        self.busy.setVisible(False)
        row.addWidget(self.test_button)
        row.addWidget(self.forget_button)
        row.addWidget(self.busy)
        row.addStretch(1)
        layout.addLayout(row)
        self.status_label = QLabel()
        self.status_label.setObjectName("connectionStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.status_label)

        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("backendTable")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.setToolTip("The account's devices: status and the jobs waiting in each queue")
        layout.addWidget(self.table, 1)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Close)
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        if self.account is None:
            self._set_status(
                "The IBM Quantum plugin is not available: install it with pip install 'qmlstudio[ibm]'."
                if self.account_name == "ibm" else f"The {self.service} account could not be loaded from its plugin.",
                ERROR_COLOR
            )
            for widget in (self.token_edit, self.test_button, self.forget_button, self.remember_box):
                widget.setEnabled(False)
            self.buttons.button(QDialogButtonBox.StandardButton.Save).setEnabled(False)

    # --------------------------------------------------------------- state
    def _load(self) -> None:
        settings = QSettings()
        channel = str(settings.value(self._settings_channel, self._default_channel) or self._default_channel)
        index = self.channel_combo.findData(channel)
        self.channel_combo.setCurrentIndex(max(index, 0))
        self.instance_edit.setText(str(settings.value(self._settings_instance, "") or ""))
        if self.account is None:
            return
        self.refresh_keyring_status()
        self._show_stored()
        self._on_channel()

    def refresh_keyring_status(self) -> None:
        """Shows whether a system keyring is available (and why not)."""
        status = self.account.keyring_status()
        self.keyring_available = status.available
        self.remember_box.setEnabled(status.available)
        self.remember_box.setChecked(status.available)
        self.remember_box.setToolTip(status.reason)
        color = OK_COLOR if status.available else WARN_COLOR
        prefix = "✓ " if status.available else "⚠ "
        self.keyring_label.setText(f"<span style='color:{color}'>{prefix}{_capital(status.reason)}.</span>")

    def _show_stored(self) -> None:
        _, source = self.account.load_token()
        text = {
            "keyring": "A token is saved in the system keyring.",
            "session": "A token is kept for this session.",
        }.get(source, "No token is stored yet.")
        self.stored_label.setText(text)
        self.forget_button.setEnabled(source != "none")
        if source != "none":
            self.token_edit.setPlaceholderText("a token is stored; paste a new one to replace it")

    def _toggle_echo(self, shown: bool) -> None:
        self.token_edit.setEchoMode(QLineEdit.EchoMode.Normal if shown else QLineEdit.EchoMode.Password)
        self.show_token.setText("Hide" if shown else "Show")

    def _on_channel(self, *_: Any) -> None:
        local = self.channel == "local"
        self.instance_edit.setEnabled(not local)
        if local:
            self._set_status("Local testing mode needs no token: it runs fake devices offline.", OK_COLOR)

    @property
    def channel(self) -> str:
        return str(self.channel_combo.currentData() or self._default_channel)

    @property
    def instance(self) -> str:
        return self.instance_edit.text().strip()

    def _set_status(self, text: str, color: str) -> None:
        self.status_label.setText(f"<span style='color:{color}'>{_escape(text)}</span>")

    # ------------------------------------------------------------- actions
    def test_connection(self) -> None:
        """Connects on a worker thread; the table lists the devices when it answers."""
        if self.testing or self._check is None:
            return
        token = self.token_edit.text().strip() or None
        self.testing = True
        self.test_button.setEnabled(False)
        self.busy.setVisible(True)
        self._set_status(f"Connecting to {self.service}…", "#374151")
        check, channel, instance = self._check, self.channel, self.instance
        run_in_background(lambda: _attempt(check, channel, instance, token), self._on_checked, self)

    def _on_checked(self, ok: bool, value: Any) -> None:
        self.testing = False
        self.test_button.setEnabled(True)
        self.busy.setVisible(False)
        if ok:
            ok, value = value  # _attempt's own answer
        if not ok:
            message = str(value)
            self._set_status(message, ERROR_COLOR)
            self.connection_tested.emit(False, message)
            return
        self.backends = list(value)
        self._fill_table(self.backends)
        operational = sum(1 for b in self.backends if getattr(b, "operational", False))
        message = f"Connected: {len(self.backends)} devices, {operational} operational."
        self._set_status(message, OK_COLOR)
        self.connection_tested.emit(True, message)

    def _fill_table(self, rows: list[Any]) -> None:
        self.table.setRowCount(len(rows))
        for r, info in enumerate(rows):
            queue = "–" if info.pending_jobs is None else f"{info.pending_jobs:,}"
            values = (info.name, "–" if info.qubits is None else str(info.qubits), info.status, queue)
            for c, text in enumerate(values):
                item = QTableWidgetItem(text)
                if c in (1, 3):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if not info.operational:
                    item.setForeground(QColor("#6F7782"))
                self.table.setItem(r, c, item)

    def save(self) -> None:
        """Keeps the token (keyring or session) and remembers the channel and instance."""
        settings = QSettings()
        settings.setValue(self._settings_channel, self.channel)
        settings.setValue(self._settings_instance, self.instance)
        token = self.token_edit.text().strip()
        if not token:
            self.accept()
            return
        try:
            saved = self.account.store_token(token, remember=self.remember_box.isChecked())
        except Exception as exc:  # noqa: BLE001 - shown, never raised
            self._set_status(str(exc), ERROR_COLOR)
            return
        self.token_edit.clear()
        self._show_stored()
        self._set_status(saved.message, OK_COLOR if saved.where == "keyring" else WARN_COLOR)
        self.token_saved.emit(saved.where)
        self.accept()

    def forget(self) -> None:
        """Removes the token from the session and the keyring."""
        self.account.forget_token()
        self.token_edit.clear()
        self._show_stored()
        self.token_edit.setPlaceholderText(f"paste your {self.service} API token")
        self._set_status("The token is forgotten.", OK_COLOR)


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


#: The dialog's earlier name (IBM Quantum's account was the only one).
IbmAccountDialog = AccountDialog
