"""The IBM Quantum account dialog, driven offscreen with a mocked IBM Quantum: the token field,
the keyring status, Test connection on a worker thread, Save and Forget — and the token never
reaching a file the app writes (project, settings, QSettings, logs)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

pytest.importorskip("qiskit_ibm_runtime")
keyring = pytest.importorskip("keyring")

from PySide6.QtCore import QSettings, Qt  # noqa: E402
from PySide6.QtWidgets import QLineEdit  # noqa: E402

from qmls_ibm import account  # noqa: E402
from qmls_ibm.errors import IbmError  # noqa: E402

from qmlstudio.core.project import ModelChoice, save_project  # noqa: E402
from qmlstudio.core.settings import Settings  # noqa: E402
from qmlstudio.gui.ibm_account import IbmAccountDialog  # noqa: E402
from qmlstudio.workflow import build_run, evaluate_run, new_project  # noqa: E402

SECRET = "qmls-gui-secret-token-83be0d41"


@pytest.fixture
def fail_keyring():
    import keyring.backends.fail

    original = keyring.get_keyring()
    account._session_token = None
    keyring.set_keyring(keyring.backends.fail.Keyring())
    yield
    account._session_token = None
    keyring.set_keyring(original)


@pytest.fixture
def memory_keyring():
    import keyring.backend

    class MemoryKeyring(keyring.backend.KeyringBackend):
        priority = 1

        def __init__(self):
            super().__init__()
            self.store = {}

        def get_password(self, service, username):
            return self.store.get((service, username))

        def set_password(self, service, username, password):
            self.store[(service, username)] = password

        def delete_password(self, service, username):
            self.store.pop((service, username), None)

    original = keyring.get_keyring()
    account._session_token = None
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    account._session_token = None
    keyring.set_keyring(original)
    keyring.backend.KeyringBackend._classes.discard(MemoryKeyring)


@pytest.fixture
def ibm_service(monkeypatch):
    """QiskitRuntimeService replaced by a stand-in whose devices are fake ones (run locally)."""
    import qiskit_ibm_runtime
    from qiskit_ibm_runtime.fake_provider import FakeLimaV2, FakeManilaV2

    calls: list[dict] = []

    class Service:
        def __init__(self, **kwargs):
            calls.append(kwargs)

        def backend(self, name):
            return FakeManilaV2()

        def backends(self):
            return [FakeManilaV2(), FakeLimaV2()]

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", Service)
    return calls


def make_dialog(qtbot, **kwargs) -> IbmAccountDialog:
    dialog = IbmAccountDialog(**kwargs)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_token_field_and_keyring_status(qtbot, memory_keyring):
    dialog = make_dialog(qtbot)
    assert dialog.token_edit.echoMode() == QLineEdit.EchoMode.Password
    dialog.show_token.trigger()
    assert dialog.token_edit.echoMode() == QLineEdit.EchoMode.Normal
    dialog.show_token.trigger()
    assert dialog.token_edit.echoMode() == QLineEdit.EchoMode.Password
    assert dialog.remember_box.isEnabled() and dialog.remember_box.isChecked()
    assert "system keyring" in dialog.keyring_label.text()
    assert dialog.stored_label.text() == "No token is stored yet."
    assert [dialog.channel_combo.itemData(i) for i in range(dialog.channel_combo.count())] == list(account.CHANNELS)


def test_without_a_keyring_the_dialog_says_so_and_keeps_the_token_for_the_session(qtbot, fail_keyring):
    dialog = make_dialog(qtbot)
    assert not dialog.remember_box.isEnabled() and not dialog.remember_box.isChecked()
    assert "session only" in dialog.keyring_label.text()
    assert "session only" in dialog.remember_box.toolTip()
    dialog.token_edit.setText(SECRET)
    with qtbot.waitSignal(dialog.token_saved) as saved:
        dialog.buttons.accepted.emit()
    assert saved.args == ["session"]
    assert account.load_token() == (SECRET, "session")
    assert dialog.token_edit.text() == ""


def test_test_connection_lists_devices_with_status_and_queue(qtbot, memory_keyring):
    seen = []

    def check(channel, instance, token):
        seen.append((channel, instance, token))
        return [account.BackendInfo("ibm_kyiv", 127, True, "active", 12),
                account.BackendInfo("ibm_sherbrooke", 127, False, "maintenance", None)]

    dialog = make_dialog(qtbot, check=check)
    dialog.token_edit.setText(SECRET)
    dialog.instance_edit.setText("crn:v1:my-instance")
    with qtbot.waitSignal(dialog.connection_tested, timeout=10_000) as tested:
        qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
    assert tested.args[0] is True and "2 devices, 1 operational" in tested.args[1]
    assert seen == [("ibm_quantum_platform", "crn:v1:my-instance", SECRET)]
    table = dialog.table
    assert table.rowCount() == 2
    assert [table.item(0, c).text() for c in range(4)] == ["ibm_kyiv", "127", "active", "12"]
    assert [table.item(1, c).text() for c in range(4)] == ["ibm_sherbrooke", "127", "maintenance", "–"]
    assert dialog.test_button.isEnabled() and not dialog.busy.isVisible()


def test_failed_connection_shows_the_clear_message(qtbot, memory_keyring):
    def check(channel, instance, token):
        raise IbmError(f"IBM Quantum did not accept the API token ({token})", "auth")

    dialog = make_dialog(qtbot, check=check)
    dialog.token_edit.setText(SECRET)
    with qtbot.waitSignal(dialog.connection_tested, timeout=10_000) as tested:
        dialog.test_connection()
    assert tested.args[0] is False and "did not accept the API token" in tested.args[1]
    assert SECRET not in tested.args[1] and SECRET not in dialog.status_label.text()
    assert dialog.table.rowCount() == 0


def test_save_remembers_the_token_in_the_keyring_and_forget_removes_it(qtbot, memory_keyring):
    dialog = make_dialog(qtbot)
    dialog.channel_combo.setCurrentIndex(dialog.channel_combo.findData("ibm_cloud"))
    dialog.instance_edit.setText("my-instance")
    dialog.token_edit.setText(SECRET)
    with qtbot.waitSignal(dialog.token_saved) as saved:
        dialog.save()
    assert saved.args == ["keyring"]
    assert memory_keyring.store == {("qmlstudio", "ibm-quantum"): SECRET}
    settings = QSettings()
    assert settings.value("ibm/channel") == "ibm_cloud" and settings.value("ibm/instance") == "my-instance"
    assert all(SECRET not in str(settings.value(key)) for key in settings.allKeys())

    again = make_dialog(qtbot)  # the next time: the channel is remembered, the token is not shown
    assert again.channel == "ibm_cloud" and again.token_edit.text() == ""
    assert again.stored_label.text() == "A token is saved in the system keyring."
    again.forget()
    assert memory_keyring.store == {} and account.load_token() == (None, "none")
    assert again.stored_label.text() == "No token is stored yet."


def _files_holding(secret: str, *folders: Path) -> list[str]:
    found = []
    needle = secret.encode()
    for folder in folders:
        if not folder.exists():
            continue
        for path in folder.rglob("*"):
            if path.is_file():
                try:
                    if needle in path.read_bytes():
                        found.append(str(path))
                except OSError:
                    pass
    return found


def test_the_token_never_reaches_a_file(qtbot, tmp_path, fail_keyring, ibm_service, registry):
    log_file = tmp_path / "logs" / "qmlstudio.log"
    log_file.parent.mkdir()
    handler = logging.FileHandler(log_file, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    root = logging.getLogger()
    previous_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        # the user enters the token and tests the connection (the service gets the token)
        dialog = make_dialog(qtbot)
        dialog.token_edit.setText(SECRET)
        with qtbot.waitSignal(dialog.connection_tested, timeout=20_000) as tested:
            dialog.test_connection()
        assert tested.args[0] is True, tested.args
        dialog.save()
        assert ibm_service and all(call.get("token") == SECRET for call in ibm_service)

        # a project on IBM Quantum: trained, evaluated, saved; settings saved
        project = new_project(registry, name="ibm", dataset="moons", dataset_options={"samples": 20},
                              ansatz_options={"reps": 1}, optimizer="spsa", epochs=1, batch_size=0,
                              backend="ibm", backend_options={"backend": "ibm_test", "shots": 64, "seed": 1})
        project.model = ModelChoice("vqc", {"baselines": False})
        record = build_run(project, registry).run()
        assert record.status == "completed", record.message
        project.add_run(record)
        evaluate_run(project, registry, record.id, "ibm:ibm_test,shots=32,mode=job")
        (tmp_path / "project").mkdir()
        path = save_project(project, tmp_path / "project" / "ibm.qmls")
        settings = Settings.load()
        settings.add_recent(str(path))
        settings.save()
        QSettings().sync()
    finally:
        root.removeHandler(handler)
        root.setLevel(previous_level)
        handler.close()

    log_text = log_file.read_text(encoding="utf-8")
    assert "connected to IBM Quantum" in log_text and "job" in log_text  # the log saw the whole flow
    assert path.exists() and Settings.path().exists()
    folders = [tmp_path, Path(os.environ["QMLSTUDIO_CONFIG_DIR"]), Path(QSettings().fileName()).parent,
               Path.home() / ".qiskit"]
    assert _files_holding(SECRET, *folders) == []
