"""A third-party backend's account comes through the ``qmlstudio_accounts`` hook: the Run menu gets
its entry and the account dialog speaks of its service (issue 17: what the GUI needs from a plugin
comes through a hook any plugin can implement). Driven with real clicks and keys."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog

from qmlstudio.gui.main_window import MainWindow
from qmlstudio.gui.screenshot import sample_project
from qmlstudio.plugins import AccountSpec, hookimpl


@dataclass
class Device:
    name: str
    qubits: int
    operational: bool = True
    status: str = "active"
    pending_jobs: int = 3
    simulator: bool = False


def acme_account() -> SimpleNamespace:
    """A Qt-free account object as a plugin writes it (here in memory; a real one uses the keyring)."""
    stored: dict[str, str] = {}
    seen: list[tuple[str, str, str | None]] = []

    def check_account(channel: str, instance: str, token: str | None) -> list[Device]:
        seen.append((channel, instance, token))
        if token != "acme-secret":
            raise ValueError(f"Acme Cloud refused the token {token}")
        return [Device("acme_falcon", 27), Device("acme_sim", 32, simulator=True)]

    return SimpleNamespace(
        SERVICE="Acme Cloud", CHANNELS=("acme_eu", "acme_us"), CHANNEL_TITLES={"acme_eu": "Europe", "acme_us": "US"},
        INTRO="QML Studio runs on Acme Cloud's devices with your Acme API token.",
        load_token=lambda: (stored.get("token"), "session" if stored else "none"),
        store_token=lambda token, remember=True: stored.update(token=token) or SimpleNamespace(
            location="session", message="kept for this session"),
        forget_token=stored.clear,
        keyring_status=lambda: SimpleNamespace(available=False, reason="no keyring in this test"),
        check_account=check_account, seen=seen,
    )


ACCOUNT = acme_account()


class AcmePlugin:
    @hookimpl
    def qmlstudio_accounts(self):
        return [AccountSpec(name="acme", title="&Acme Cloud Account…", factory=lambda: ACCOUNT,
                            description="Save or test the Acme Cloud token", backend="acme")]


def test_a_plugins_account_is_in_the_run_menu_and_its_dialog_works(qtbot, registry) -> None:
    registry.register(AcmePlugin(), "acme-accounts")
    try:
        window = MainWindow(sample_project(), registry=registry)
        window.close_without_asking = True
        qtbot.addWidget(window)
        window.show()
        qtbot.waitExposed(window)
        action = window.named_actions["run.account.acme"]
        assert window.named_actions["run.ibmAccount"] in window.menus["run"].actions()  # the built-in one stays
        assert action in window.menus["run"].actions() and action.toolTip().startswith("Save or test the Acme")

        seen: dict[str, object] = {}

        def drive_dialog() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, QDialog):
                QTimer.singleShot(50, drive_dialog)
                return
            try:  # whatever happens here, the modal dialog closes (the test must not hang)
                seen["title"] = dialog.windowTitle()
                seen["name"] = dialog.objectName()
                seen["channels"] = [dialog.channel_combo.itemText(i) for i in range(dialog.channel_combo.count())]
                qtbot.mouseClick(dialog.token_edit, Qt.MouseButton.LeftButton)
                qtbot.keyClicks(dialog.token_edit, "acme-secret")
                qtbot.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
                qtbot.waitUntil(lambda: dialog.table.rowCount() == 2, timeout=10_000)
                seen["status"] = dialog.status_label.text()
                seen["devices"] = [dialog.table.item(r, 0).text() for r in range(2)]
            finally:
                seen.setdefault("devices", None)
                dialog.reject()

        # Open Run with a click on the menu bar, then click the plugin's entry.
        bar, run_menu = window.menuBar(), window.menus["run"]
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.actionGeometry(run_menu.menuAction()).center())
        qtbot.waitUntil(run_menu.isVisible)
        QTimer.singleShot(0, drive_dialog)
        qtbot.mouseClick(run_menu, Qt.MouseButton.LeftButton, pos=run_menu.actionGeometry(action).center())
        qtbot.waitUntil(lambda: "devices" in seen, timeout=15_000)

        assert seen["title"] == "Acme Cloud account" and seen["name"] == "acmeAccountDialog"
        assert seen["channels"] == ["Europe", "US"]
        assert seen["devices"] == ["acme_falcon", "acme_sim"]
        assert ACCOUNT.seen[-1] == ("acme_eu", "", "acme-secret")
        assert "acme-secret" not in str(seen["status"])

        # Removing the plugin takes its entry out of the menu.
        registry.unregister("acme-accounts")
        window.refresh_plugins()
        assert "run.account.acme" not in window.named_actions
        assert all(a.text() != "&Acme Cloud Account…" for a in window.menus["run"].actions())
    finally:
        if "acme-accounts" in getattr(registry, "plugins", {}):
            registry.unregister("acme-accounts")
