"""The Plugins dialog, driven through its widgets against a temporary environment (no network).

pip runs, in a ``QProcess``, with the interpreter of a temporary virtual environment that
sees QML Studio's packages and installs into its own site-packages (see
``tests/plugins/test_installer.py``: ``make_env``). This test process plays the QML Studio
that runs in that environment: the environment's site-packages is put first on
``sys.path``, so the dialog's rescan after an install finds what pip put there through
``importlib.metadata``, exactly as it finds new packages in its own environment. The dialog
code is the same as in the app; only the interpreter it hands to pip differs.
"""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from qmlstudio.core.settings import Settings
from qmlstudio.gui.plugin_manager_dialog import PluginManagerDialog
from qmlstudio.installer import InstallPlan, Installer, UninstallPlan
from qmlstudio.plugins.manager import PluginRegistry
from tests.plugins.test_installer import NUMPY, built_wheels, hermetic_pip, make_env, qmlstudio

LONG = 90_000  # ms: pip on a busy CI machine


@pytest.fixture
def temp_env(tmp_path, monkeypatch):
    """A temporary environment whose site-packages this process imports from, first."""
    hermetic_pip(monkeypatch)
    python, site_dir = make_env(tmp_path / "venv")
    monkeypatch.syspath_prepend(str(site_dir))
    yield python, site_dir
    for module in [m for m in sys.modules if m.split(".")[0] in ("qmls_example", "qmls_raises", "qmls_pins_numpy")]:
        del sys.modules[module]
    importlib.invalidate_caches()


def open_dialog(qtbot, registry: PluginRegistry, python: Path, settings: Settings | None = None) -> PluginManagerDialog:
    wheels = built_wheels()
    installer = Installer(python, ["--no-index", "--find-links", str(wheels["dist"]), "--find-links", str(wheels["updates"])])
    dialog = PluginManagerDialog(registry, settings if settings is not None else Settings(), installer=installer)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    return dialog


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled(), button.text()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def cell(dialog: PluginManagerDialog, name: str, column: str) -> str:
    from qmlstudio.gui.plugin_manager_dialog import COLUMNS

    row = dialog.row_of(name)
    assert row >= 0, f"{name} is not in the table"
    return dialog.table.item(row, COLUMNS.index(column)).text()


def gate_palette(registry: PluginRegistry, dialog: PluginManagerDialog):
    """The editor's gate palette on ``registry``, following ``plugins_changed`` as the main window will."""
    try:
        from qmlstudio.gui.editor.palette import GatePalette
    except ImportError:  # the editor is not there yet: the registry is what it will read
        return None
    palette = GatePalette(registry)
    dialog.plugins_changed.connect(lambda: palette.set_registry(registry))
    return palette


def test_install_disable_uninstall_and_refuse_through_the_dialog(qtbot, temp_env):
    python, site_dir = temp_env
    wheels = built_wheels()
    registry = PluginRegistry()
    registry.load_entry_points()
    assert "example-arctan" not in registry.encodings
    settings = Settings()
    dialog = open_dialog(qtbot, registry, python, settings)
    palette = gate_palette(registry, dialog)
    if palette is not None:
        qtbot.addWidget(palette)
        assert palette.item_for("encoding", "example-arctan") is None
    assert cell(dialog, "encodings", "Source") == "built-in"
    assert "angle" in cell(dialog, "encodings", "Provides")

    # -- install the example plugin's wheel: dry run, plan, confirm, pip in a QProcess, rescan
    dialog.install_edit.setText(str(wheels["example"]))
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG) as asked:
        click(qtbot, dialog.install_button)
    plan = asked.args[0]
    assert isinstance(plan, InstallPlan) and not plan.refused
    assert [(c.name, c.after) for c in plan.new] == [("qmlstudio-example-plugin", "0.1.0")]
    assert "install    qmlstudio-example-plugin 0.1.0" in dialog.plan_view.toPlainText()
    assert not dialog.refusal_label.isVisible() and not dialog.override_check.isVisible()
    assert not dialog.install_button.isEnabled() and dialog.cancel_button.isEnabled()
    with qtbot.waitSignals([dialog.plugins_changed, dialog.operation_finished], timeout=LONG):
        click(qtbot, dialog.confirm_button)
    assert dialog.last_outcome.ok, dialog.last_outcome.message
    assert "Successfully installed qmlstudio-example-plugin-0.1.0" in dialog.output.toPlainText()  # streamed
    assert "plugin 'example' is ready: encodings: example-arctan" in dialog.output.toPlainText()
    assert "example-arctan" in registry.encodings and "example-spirals" in registry.datasets
    if palette is not None:
        assert palette.item_for("encoding", "example-arctan") is not None
    assert cell(dialog, "example", "Source") == "third-party (qmlstudio-example-plugin)"
    assert cell(dialog, "example", "Version") == "0.1.0" and cell(dialog, "example", "Status") == "ok"
    assert not dialog.restart_label.isVisible()  # it loaded in place
    assert dialog.install_button.isEnabled() and not dialog.cancel_button.isEnabled()

    # -- update it: the new version is installed, but the old one stays loaded until a restart
    dialog.select("example")
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG) as asked:
        click(qtbot, dialog.update_button)
    assert [(c.name, c.before, c.after) for c in asked.args[0].upgraded] == [("qmlstudio-example-plugin", "0.1.0", "0.2.0")]
    assert dialog.confirm_button.text() == "Update (1 package)"
    with qtbot.waitSignal(dialog.operation_finished, timeout=LONG):
        click(qtbot, dialog.confirm_button)
    assert dialog.last_outcome.ok, dialog.last_outcome.message
    assert dialog.restart_label.isVisible()
    assert "the new version of plugin 'example' loads when QML Studio restarts" in dialog.restart_label.text()

    # -- disable it: saved at once, effective at the next start
    dialog.select("example")
    assert dialog.toggle_button.text() == "Disable"
    click(qtbot, dialog.toggle_button)
    assert Settings.load().disabled_plugins == ["example"]
    assert cell(dialog, "example", "Status") == "ok · disabled from the next start"
    assert dialog.table.item(dialog.row_of("example"), 0).checkState() == Qt.CheckState.Unchecked
    assert dialog.toggle_button.text() == "Enable"
    assert "next time QML Studio starts" in dialog.note_label.text() and dialog.note_label.isVisible()
    assert "next time QML Studio starts" in dialog.status_label.text()
    # the check box does the same
    dialog.table.item(dialog.row_of("example"), 0).setCheckState(Qt.CheckState.Checked)
    assert Settings.load().disabled_plugins == []
    qtbot.waitUntil(lambda: cell(dialog, "example", "Status") == "ok")
    dialog.table.item(dialog.row_of("example"), 0).setCheckState(Qt.CheckState.Unchecked)
    assert Settings.load().disabled_plugins == ["example"]
    qtbot.waitUntil(lambda: cell(dialog, "example", "Status") == "ok · disabled from the next start")

    # -- uninstall it
    dialog.select("example")
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG) as asked:
        click(qtbot, dialog.uninstall_button)
    assert isinstance(asked.args[0], UninstallPlan)
    assert asked.args[0].distribution.name == "qmlstudio-example-plugin"
    assert dialog.confirm_button.text() == "Uninstall qmlstudio-example-plugin"
    with qtbot.waitSignals([dialog.plugins_changed, dialog.operation_finished], timeout=LONG):
        click(qtbot, dialog.confirm_button)
    assert dialog.last_outcome.ok, dialog.last_outcome.message
    assert "example" not in registry.plugins and "example-arctan" not in registry.encodings
    if palette is not None:
        assert palette.item_for("encoding", "example-arctan") is None
    assert dialog.row_of("example") < 0
    assert not list(site_dir.glob("qmlstudio_example_plugin-*"))
    assert dialog.rollback_button.isEnabled() and "uninstall qmlstudio-example-plugin" in dialog.rollback_button.toolTip()

    # -- roll the uninstall back, and uninstall again
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG) as asked:
        click(qtbot, dialog.rollback_button)
    assert asked.args[0].restore == {"qmlstudio-example-plugin": "0.2.0"}
    with qtbot.waitSignals([dialog.plugins_changed, dialog.operation_finished], timeout=LONG):
        click(qtbot, dialog.confirm_button)
    assert dialog.last_outcome.ok, dialog.last_outcome.message
    assert "example-arctan" in registry.encodings and cell(dialog, "example", "Version") == "0.2.0"
    assert "update qmlstudio-example-plugin" in dialog.rollback_button.toolTip()  # next in line
    dialog.select("example")
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG):
        click(qtbot, dialog.uninstall_button)
    with qtbot.waitSignal(dialog.operation_finished, timeout=LONG):
        click(qtbot, dialog.confirm_button)
    assert "example" not in registry.plugins and not list(site_dir.glob("qmlstudio_example_plugin-*"))

    # -- a wheel that pins another numpy: the dry run's plan is refused, with the reason and an override
    dialog.install_edit.setText(str(wheels["pins-numpy"]))
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG) as asked:
        click(qtbot, dialog.install_button)
    plan = asked.args[0]
    assert plan.refused and [c.name for c in plan.protected_changes] == ["numpy"]
    assert dialog.refusal_label.isVisible()
    refusal = dialog.refusal_label.text()
    assert f"numpy {NUMPY} is installed, but qmlstudio-pins-numpy 0.1.0 requires numpy==" in refusal
    assert "QML Studio's own dependencies" in refusal and "Install anyway" in refusal
    assert dialog.override_check.isVisible() and not dialog.override_check.isChecked()
    assert not dialog.confirm_button.isEnabled()
    dialog.override_check.setChecked(True)
    assert dialog.confirm_button.isEnabled()  # the explicit override
    dialog.override_check.setChecked(False)
    assert not dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.operation_finished, timeout=LONG):
        click(qtbot, dialog.cancel_button)
    assert not dialog.last_outcome.ok and dialog.refusal_label.isVisible()
    assert "refused" in dialog.status_label.text()
    assert not list(site_dir.glob("qmlstudio_pins_numpy*"))


def test_a_plugin_that_raises_on_import(qtbot, temp_env, tmp_path):
    python, site_dir = temp_env
    wheels = built_wheels()
    registry = PluginRegistry()
    registry.load_entry_points()
    dialog = open_dialog(qtbot, registry, python)
    dialog.install_edit.setText(str(wheels["raises"]))
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG):
        click(qtbot, dialog.install_button)
    with qtbot.waitSignal(dialog.operation_finished, timeout=LONG):
        click(qtbot, dialog.confirm_button)
    assert dialog.last_outcome.ok, dialog.last_outcome.message
    assert "plugin 'raises' is installed but failed to load: RuntimeError: boom" in dialog.output.toPlainText()

    # the dialog shows the reason in the table and the traceback in the details
    assert cell(dialog, "raises", "Status") == "failed: RuntimeError: boom"
    dialog.select("raises")
    details = dialog.details.toPlainText()
    assert "Problem (import): RuntimeError: boom" in details
    assert "Traceback (most recent call last)" in details and 'raise RuntimeError("boom")' in details
    assert "QML Studio runs without it" in details
    assert dialog.uninstall_button.isEnabled()
    assert registry.plugins["encodings"].status == "ok"  # everything else still loads

    # the app and the CLI in that environment start, and say why
    config = tmp_path / "app-config"
    listing = qmlstudio(python, config, "plugins", "--json")
    assert listing.returncode == 0, listing.stderr
    import json

    raises = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}["raises"]
    assert raises["status"] == "failed" and raises["reason"] == "RuntimeError: boom"
    started = time.monotonic()
    gui = qmlstudio(python, config, "gui", "--quit-after", "500", timeout=180)
    assert gui.returncode == 0, gui.stderr
    assert "Traceback" not in gui.stderr
    assert time.monotonic() - started < 180


def test_cancel_kills_pip(qtbot, temp_env, monkeypatch):
    python, _ = temp_env
    registry = PluginRegistry()
    dialog = open_dialog(qtbot, registry, python)
    # a "pip" that would run for a minute
    monkeypatch.setattr(dialog.installer, "snapshot_command", lambda: [sys.executable, "-c", "import time; time.sleep(60)"])
    dialog.install_edit.setText("qmlstudio-anything")
    click(qtbot, dialog.install_button)
    qtbot.waitUntil(lambda: dialog.runner.running, timeout=5000)
    assert dialog.busy and dialog.cancel_button.isEnabled() and not dialog.install_button.isEnabled()
    dialog.close()  # closing while pip runs is refused: cancel first
    assert dialog.isVisible() and "cancel it" in dialog.status_label.text()
    started = time.monotonic()
    with qtbot.waitSignal(dialog.operation_finished, timeout=10_000):
        click(qtbot, dialog.cancel_button)
    assert time.monotonic() - started < 5
    assert dialog.last_outcome.cancelled and not dialog.busy
    assert dialog.status_label.text() == "Cancelled."
    assert dialog.install_button.isEnabled() and not dialog.cancel_button.isEnabled()


def test_bad_input_gets_a_message_not_a_traceback(qtbot, temp_env, tmp_path):
    python, _ = temp_env
    dialog = open_dialog(qtbot, PluginRegistry(), python)
    click(qtbot, dialog.install_button)
    assert "Type a package name" in dialog.status_label.text() and not dialog.busy
    dialog.install_edit.setText(str(tmp_path / "missing.whl"))
    with qtbot.waitSignal(dialog.operation_finished, timeout=10_000):
        click(qtbot, dialog.install_button)
    assert "no such file or folder" in dialog.refusal_label.text() and dialog.refusal_label.isVisible()
    assert not dialog.busy and "Traceback" not in dialog.output.toPlainText()
    assert not dialog.rollback_button.isEnabled()


def test_built_in_plugins_are_disabled_not_removed(qtbot, temp_env):
    python, _ = temp_env
    registry = PluginRegistry()
    registry.load_entry_points()
    dialog = open_dialog(qtbot, registry, python)
    dialog.select("encodings")
    assert dialog.toggle_button.isEnabled()
    assert not dialog.uninstall_button.isEnabled() and not dialog.update_button.isEnabled()
    assert "Built-in plugins are part of QML Studio" in dialog.uninstall_button.toolTip()
    assert "Problem" not in dialog.details.toPlainText() and "Provides encodings: angle" in dialog.details.toPlainText()


def test_torch_installed_from_the_dialog_makes_the_hybrid_kind_usable_at_once(qtbot, project, tmp_path, monkeypatch):
    """PyTorch into an environment that lacks it, from Plugins ▸ Manage with the keyboard and
    mouse: pip's dry run plans torch alone (its dependencies are there), the install runs, the
    dialog says the hybrid kind can be used now, and the window's model combo offers it without a
    restart. The environment (tests/plugins/torch_env.py) sees every package of this one but
    torch; before and after, QML Studio itself runs there (a fresh interpreter): the kind is
    unavailable and training it is refused, then it trains. This process plays the QML Studio of
    that environment, as in the other tests here, and finds torch only once it is in the
    environment's own site-packages."""
    import importlib.util
    import json

    from PySide6.QtTest import QTest

    from qmlstudio.gui.main_window import MainWindow
    from qmlstudio.plugins.manager import load_plugins
    from tests.plugins.torch_env import env_without_torch, hybrid_reason, qmlstudio as run_there, torch_version, \
        torch_wheel_dir

    wheels = torch_wheel_dir()
    from tests.plugins.test_installer import hermetic_pip

    hermetic_pip(monkeypatch)
    python, site_dir = env_without_torch(tmp_path / "venv")
    config = tmp_path / "config"
    saved = tmp_path / "h.qmls"
    assert "pip install 'qmlstudio[torch]'" in hybrid_reason(python, config)
    made = run_there(python, config, "new", str(saved), "--dataset", "moons", "--model", "hybrid", "--qubits", "2",
                     "--epochs", "1", "--model-option", "baselines=false", "--model-option", "ablation=false")
    assert made.returncode == 0, made.stderr
    refused = run_there(python, config, "train", str(saved))
    assert refused.returncode != 0 and "PyTorch is not installed" in refused.stderr and "Traceback" not in refused.stderr

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: real(name, *a) if name != "torch" or (site_dir / "torch").is_dir() else None)
    monkeypatch.syspath_prepend(str(site_dir))
    win = MainWindow(project, registry=load_plugins())
    win.close_without_asking = True
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    combo = win.settings_panel.kind_combo
    assert not combo.model().item(combo.findData("hybrid")).isEnabled()

    dialog = win.show_plugins(installer=Installer(python, ["--no-index", "--find-links", str(wheels)]))
    qtbot.waitExposed(dialog)
    qtbot.mouseClick(dialog.install_edit, Qt.MouseButton.LeftButton)
    QTest.keyClicks(dialog.install_edit, f"torch=={torch_version()}")
    with qtbot.waitSignal(dialog.confirmation_requested, timeout=LONG) as asked:
        click(qtbot, dialog.install_button)
    plan = asked.args[0]
    assert not plan.refused and [(c.name, c.after) for c in plan.new] == [("torch", torch_version())]
    with qtbot.waitSignals([dialog.plugins_changed, dialog.operation_finished], timeout=LONG):
        click(qtbot, dialog.confirm_button)
    assert dialog.last_outcome.ok, dialog.last_outcome.message
    assert "model kind 'hybrid' can be used now" in dialog.output.toPlainText()
    assert not dialog.restart_label.isVisible()
    item = combo.model().item(combo.findData("hybrid"))
    assert item.isEnabled() and "not installed" not in item.text()
    assert win.registry.availability()[("models", "hybrid")] == ""
    dialog.close()

    # the user picks it in the window; and QML Studio in that environment trains it
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(combo.view().isVisible, timeout=5000)
    qtbot.keyClicks(combo.view(), "Hybrid")
    qtbot.keyClick(combo.view(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: win.project.model.kind == "hybrid", timeout=5000)
    assert hybrid_reason(python, config) == ""
    trained = run_there(python, config, "train", str(saved), "--json")
    assert trained.returncode == 0, trained.stderr
    assert json.loads(trained.stdout.strip().splitlines()[-1])["status"] == "completed"
