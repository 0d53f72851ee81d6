"""The "Model & training" panel: each edit is an undoable project edit; the cost line runs in the background."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QComboBox, QDockWidget

from qmlstudio.core.project import PluginChoice
from qmlstudio.gui.background import wait_for_background
from qmlstudio.gui.settings_panel import SettingsPanel
from qmlstudio.gui.screenshot import sample_project


@pytest.fixture
def panel(qtbot, project, registry):
    stack = QUndoStack()
    widget = SettingsPanel(project, registry, undo_stack=stack)
    widget._test_stack = stack  # keep the stack alive with the panel
    qtbot.addWidget(widget)
    yield widget
    wait_for_background(5000)


def _choose(combo: QComboBox, data: str) -> None:
    combo.setCurrentIndex(combo.findData(data))


def _wait_cost(qtbot, panel: SettingsPanel) -> str:
    qtbot.waitUntil(lambda: not panel.cost_busy, timeout=60_000)
    return panel.cost_label.text()


def test_optimizer_combo_edits_and_undo_restores(panel, project):
    before = project.optimizer
    _choose(panel.optimizer_combo, "spsa")
    assert project.optimizer.name == "spsa"
    assert "learning_rate" in project.optimizer.options  # resolved with defaults
    assert "gradient-free" in panel.optimizer_combo.currentText()
    assert panel.undo_stack.undoText() == "Set optimizer to SPSA"
    panel.undo_stack.undo()
    assert project.optimizer == before
    assert panel.optimizer_combo.currentData() == before.name


def test_optimizer_option_spin_box_edits_options_and_merges(panel, project):
    spin = panel.optimizer_form.editor("learning_rate")
    spin.setValue(0.05)
    spin.setValue(0.03)
    assert project.optimizer.options["learning_rate"] == pytest.approx(0.03)
    assert panel.undo_stack.count() == 1  # the steps of one spin box merge
    panel.undo_stack.undo()
    assert project.optimizer.options["learning_rate"] == pytest.approx(0.1)
    assert spin.value() == pytest.approx(0.1)


def test_backend_combo_sets_backend(panel, project):
    _choose(panel.backend_combo, "aer-shots")
    assert project.backend.name == "aer-shots"
    assert project.backend.options["shots"] > 0
    assert "shots" in {o.name for o in panel.backend_form.options}


def test_unavailable_backend_is_disabled_with_its_reason(qtbot, project, registry):
    ibm = dataclasses.replace(registry.backends["ibm"], available=lambda: "no IBM account saved")
    fake = SimpleNamespace(optimizers=registry.optimizers, backends={**registry.backends, "ibm": ibm})
    widget = SettingsPanel(project, fake, undo_stack=QUndoStack())
    qtbot.addWidget(widget)
    item = widget.backend_combo.model().item(widget.backend_combo.findData("ibm"))
    assert not item.isEnabled()
    assert "no IBM account saved" in item.toolTip()
    _choose(widget.backend_combo, "ibm")  # chosen anyway (by code): refused
    assert project.backend.name == "statevector"
    qtbot.waitUntil(lambda: not widget.cost_busy, timeout=60_000)
    wait_for_background(5000)


def test_gpu_device_is_disabled_with_the_reason(panel):
    qmls_aer = pytest.importorskip("qmls_aer")
    reason = qmls_aer.device_options()[1].get("GPU")
    if reason is None:
        pytest.skip("this machine can simulate on a GPU")
    _choose(panel.backend_combo, "aer-statevector")  # the default, statevector, runs on the CPU only
    combo = panel.backend_form.editor("device")
    item = combo.model().item(combo.findData("GPU"))
    assert not item.isEnabled()
    assert reason in item.toolTip()


def test_training_settings(panel, project):
    panel.epochs_spin.setValue(12)
    panel.epochs_spin.setValue(13)
    assert project.training.epochs == 13
    assert project.training.batch_size is None and panel.full_batch_check.isChecked()
    assert not panel.batch_spin.isEnabled()
    panel.batch_spin.setValue(16)
    panel.full_batch_check.setChecked(False)
    assert project.training.batch_size == 16 and panel.batch_spin.isEnabled()
    panel.full_batch_check.setChecked(True)
    assert project.training.batch_size is None
    panel.early_check.setChecked(True)
    panel.patience_spin.setValue(9)
    assert project.training.early_stopping and project.training.patience == 9
    panel.seed_spin.setValue(42)
    assert project.seed == 42
    for _ in range(panel.undo_stack.count()):
        panel.undo_stack.undo()
    assert project.training.epochs == 30 and project.seed == 7 and not project.training.early_stopping
    assert panel.epochs_spin.value() == 30 and panel.seed_spin.value() == 7


def test_model_kind_and_options(panel, project):
    panel.model_form.editor("gradient").setCurrentIndex(2)
    assert project.model.options["gradient"] == "parameter-shift"
    _choose(panel.kind_combo, "kernel")
    assert project.model.kind == "kernel"
    assert [o.name for o in panel.model_form.options] == ["C"]
    panel.undo_stack.undo()
    assert project.model.kind == "vqc"
    assert panel.model_form.editor("gradient").currentData() == "parameter-shift"


def test_cost_line_shots_and_exact(qtbot, panel, project):
    assert _wait_cost(qtbot, panel) == "Exact simulation: no shots"
    project.backend = PluginChoice("aer-shots", {"shots": 100})
    text = _wait_cost(qtbot, panel)
    assert text.startswith("Per iteration:") and "shots" in text and "whole run" in text
    assert "no shots" not in text


def test_set_project_follows_the_new_project(panel, project):
    other = sample_project()
    other.optimizer = PluginChoice("cobyla", {})
    other.training = dataclasses.replace(other.training, epochs=3)
    panel.set_project(other)
    assert panel.optimizer_combo.currentData() == "cobyla"
    assert panel.epochs_spin.value() == 3
    project.training = dataclasses.replace(project.training, epochs=77)  # the old one is not followed
    assert panel.epochs_spin.value() == 3
    panel.epochs_spin.setValue(5)
    assert other.training.epochs == 5 and project.training.epochs == 77


def test_main_window_has_the_dock_and_the_ibm_action(window, monkeypatch):
    dock = window.findChild(QDockWidget, "settingsDock")
    assert dock is window.docks["settingsDock"]
    assert dock.windowTitle() == "Model and Training"
    assert dock in window.tabifiedDockWidgets(window.docks["inspectorDock"])
    assert window.settings_panel.project is window.project
    action = window.named_actions["run.ibmAccount"]
    assert action in window.menus["run"].actions() if hasattr(window, "menus") and "run" in window.menus else True
    opened = []
    import qmlstudio.gui.ibm_account as ibm_account

    monkeypatch.setattr(ibm_account.IbmAccountDialog, "exec", lambda self: opened.append(self) or 0)
    action.trigger()
    assert len(opened) == 1
    # New Project: the panel follows it, and its edits go on the window's undo stack.
    fresh = sample_project()
    window.set_project(fresh)
    assert window.settings_panel.project is fresh
    window.settings_panel.epochs_spin.setValue(4)
    assert fresh.training.epochs == 4
    window.undo_stack.undo()
    assert fresh.training.epochs == 30
    wait_for_background(5000)


def test_mitigation_the_backend_cannot_apply_is_refused_in_the_panel(qtbot, project, registry):
    """Ticking twirling for IBM's local testing mode (which ignores it) is refused with a message."""
    from PySide6.QtCore import QPoint, Qt

    if "ibm" not in registry.backends or registry.backends["ibm"].unavailable_reason():
        pytest.skip("qiskit-ibm-runtime is not installed")
    project.backend = PluginChoice("ibm", registry.backends["ibm"].resolve({"channel": "local", "backend": "fake_manila"}))
    stack = QUndoStack()
    widget = SettingsPanel(project, registry, undo_stack=stack)
    qtbot.addWidget(widget)
    widget.show()
    box = widget.backend_form.editor("twirling")
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert project.backend.options["twirling"] is False and stack.count() == 0  # nothing stored
    assert widget.backend_refusal.isVisible() and "local testing mode" in widget.backend_refusal.text()
    assert not box.isChecked()  # the form shows what the project holds
    channel = widget.backend_form.editor("channel")  # on real hardware twirling applies
    channel.setCurrentIndex(channel.findData("ibm_quantum_platform"))
    qtbot.mouseClick(box, Qt.MouseButton.LeftButton, pos=QPoint(8, box.height() // 2))
    assert project.backend.options["twirling"] is True and not widget.backend_refusal.isVisible()


def test_a_plugin_backend_s_unusable_choices_are_disabled_with_the_reason(qtbot, project):
    from qmlstudio.plugins import BackendSpec, Option, hookimpl
    from qmlstudio.plugins.manager import load_plugins

    spec = BackendSpec(
        name="tp-sim", title="Third-party simulator", factory="tp_sim:Backend",
        options=(Option("device", "choice", "cpu", choices=("cpu", "qpu")),),
        choice_reasons=lambda: {"device": {"qpu": "no QPU attached", "cpu": None}},
    )
    registry = load_plugins(disabled=[])
    registry.register(SimpleNamespace(qmlstudio_backends=hookimpl(lambda: [spec])), "third-party-sim")
    project.backend = PluginChoice("tp-sim", {"device": "cpu"})
    widget = SettingsPanel(project, registry, undo_stack=QUndoStack())
    qtbot.addWidget(widget)
    widget.show()
    combo = widget.backend_form.editor("device")
    qpu = combo.model().item(combo.findData("qpu"))
    qtbot.waitUntil(lambda: not qpu.isEnabled(), timeout=10_000)
    assert "no QPU attached" in qpu.toolTip()
    assert combo.model().item(combo.findData("cpu")).isEnabled()
    _choose(combo, "qpu")  # chosen anyway (by code): refused
    assert project.backend.options["device"] == "cpu"
    qtbot.waitUntil(lambda: not widget.cost_busy, timeout=60_000)
    wait_for_background(5000)


def test_the_initialisation_is_chosen_with_the_keyboard_and_rebuilds_a_template_with_identity_blocks(qtbot, registry):
    """Model settings → Initialisation, changed by key presses on the real combo box: small-angle
    stores ε = 0.05; identity-blocks rebuilds the template as half its layers and their mirror (one
    undoable edit with the model's option); undo takes each back."""
    from PySide6.QtCore import Qt

    from qmlstudio.core.analysis import mirror_half
    from qmlstudio.workflow import new_project

    project = new_project(registry, name="init", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 4},
                          epochs=1)
    original = project.circuit.gates
    stack = QUndoStack()
    widget = SettingsPanel(project, registry, undo_stack=stack)
    qtbot.addWidget(widget)
    widget.show()
    combo = widget.model_form.editor("init")
    assert combo.currentData() == "uniform" and combo.toolTip()
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)  # opens the list; Escape closes it
    qtbot.keyClick(combo.view(), Qt.Key.Key_Escape)
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert project.model.options["init"] == "small-angle" and project.model.options["init_scale"] == 0.05
    assert widget.model_form.editor("init_scale").value() == pytest.approx(0.05)
    assert project.circuit.gates == original
    qtbot.keyClick(combo, Qt.Key.Key_Down)
    assert project.model.options["init"] == "identity-blocks" and "init_scale" not in project.model.options
    half = mirror_half(project.circuit)
    assert half is not None and project.circuit.num_weights == 2 * half.num_weights
    assert stack.undoText() == "Set initialisation to identity-blocks"
    stack.undo()  # the circuit and the option together
    assert project.circuit.gates == original and project.model.options["init"] == "small-angle"
    assert combo.currentData() == "small-angle"
    stack.undo()
    assert "init" not in project.model.options and combo.currentData() == "uniform"


def test_identity_blocks_on_a_hand_drawn_circuit_say_what_training_needs(qtbot, project, registry):
    from PySide6.QtCore import Qt

    project.ansatz = None
    stack = QUndoStack()
    widget = SettingsPanel(project, registry, undo_stack=stack)
    qtbot.addWidget(widget)
    widget.show()
    combo = widget.model_form.editor("init")
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_End)
    assert project.model.options["init"] == "identity-blocks"
    assert widget.model_note.isVisible() and "mirrors its first" in widget.model_note.text()


def test_device_noise_picks_the_exact_noisy_simulator_when_the_circuit_is_small_enough(qtbot, project, registry):
    """Device noise: the popup opened with the mouse and the device typed sets noisy-exact on it for
    a 4-qubit circuit (the seed carries over, the note says why, one undo goes back); on a
    12-qubit circuit the Down key picks aer-noise, which says that noisy-exact stops at 10."""
    from PySide6.QtCore import Qt

    from qmlstudio.workflow import NOISY_EXACT_QUBITS, new_project

    project.backend = PluginChoice("statevector", {})
    stack = QUndoStack()
    widget = SettingsPanel(project, registry, undo_stack=stack)
    qtbot.addWidget(widget)
    widget.show()
    combo = widget.noise_combo
    assert combo.isVisible() and combo.currentData() == "" and not widget.noise_note.isVisible()
    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)  # opens the popup
    popup = combo.view()
    qtbot.waitUntil(popup.isVisible, timeout=5000)
    qtbot.keyClicks(popup, "fake_lima")  # typed: the list's keyboard search finds it
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not popup.isVisible(), timeout=5000)
    assert project.backend.name == "noisy-exact" and project.backend.options["fake_backend"] == "fake_lima"
    assert widget.backend_combo.currentData() == "noisy-exact" and combo.currentData() == "fake_lima"
    assert widget.noise_note.isVisible() and "simulated exactly" in widget.noise_note.text()
    assert stack.undoText() == "Train under fake_lima's noise"
    stack.undo()
    assert project.backend.name == "statevector" and combo.currentData() == ""

    wide = new_project(registry, name="wide", dataset="digits", features=12, epochs=1)
    assert wide.circuit.num_qubits == 12 > NOISY_EXACT_QUBITS
    other = SettingsPanel(wide, registry, undo_stack=QUndoStack())
    qtbot.addWidget(other)
    other.show()
    other.noise_combo.setFocus()
    qtbot.keyClick(other.noise_combo, Qt.Key.Key_Down)
    device = other.noise_combo.itemData(1)
    assert wide.backend.name == "aer-noise" and wide.backend.options["fake_backend"] == device
    assert "shot-faithful" in other.noise_note.text() and str(NOISY_EXACT_QUBITS) in other.noise_note.text()


def test_the_panel_fits_a_narrow_dock_without_scrolling_sideways(qtbot, project, registry):
    """At the dock's default width (about 300 px inside) every row fits: long option labels put
    their field on the next line and the combos elide their text rather than push the form past
    the dock's edge (seen under Xvfb: the Device noise note and the model kind were cut at the
    right), and the combos' popups still show whole names."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QScrollArea

    # noisy-exact: the longest option labels ("Zero-noise extrapolation (mitiq)") and device names
    project.backend = PluginChoice("noisy-exact", registry.backends["noisy-exact"].resolve({}))
    widget = SettingsPanel(project, registry, undo_stack=QUndoStack())
    qtbot.addWidget(widget)
    widget.resize(300, 900)
    widget.show()
    qtbot.waitExposed(widget)
    scroll = widget.findChild(QScrollArea)
    qtbot.wait(50)
    assert scroll.widget().minimumSizeHint().width() <= scroll.viewport().width()
    assert not scroll.horizontalScrollBar().isVisible()
    for combo in (widget.kind_combo, widget.optimizer_combo, widget.backend_combo, widget.noise_combo):
        right = combo.mapTo(scroll.viewport(), combo.rect().topRight()).x()
        assert right <= scroll.viewport().width(), combo.objectName()
        combo.setFocus()
        qtbot.keyClick(combo, Qt.Key.Key_F4)  # opens the popup, as Alt+Down does
        qtbot.waitUntil(combo.view().isVisible, timeout=5000)
        longest = max(combo.view().fontMetrics().horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
        assert combo.view().viewport().width() >= longest, combo.objectName()  # whole names in the popup
        qtbot.keyClick(combo.view(), Qt.Key.Key_Escape)
        qtbot.waitUntil(lambda c=combo: not c.view().isVisible(), timeout=5000)


def _type_item(qtbot, combo: QComboBox, text: str) -> None:
    """Opens the combo with the mouse, types the start of an item's text (the list's keyboard
    search) and presses Return, as a user does."""
    from PySide6.QtCore import Qt

    qtbot.mouseClick(combo, Qt.MouseButton.LeftButton)
    popup = combo.view()
    qtbot.waitUntil(popup.isVisible, timeout=5000)
    qtbot.keyClicks(popup, text)
    qtbot.keyClick(popup, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not popup.isVisible(), timeout=5000)


def test_the_hybrid_kind_is_picked_with_the_mouse_and_shows_its_options(qtbot, panel):
    panel.show()
    qtbot.waitExposed(panel)
    _type_item(qtbot, panel.kind_combo, "Hybrid")
    assert panel.project.model.kind == "hybrid"
    assert panel.project.model.options == {"front_hidden": "", "front": "dense", "conv_channels": "8,16",
                                           "readout": "z", "head_hidden": "", "activation": "tanh", "baselines": True,
                                           "ablation": True}
    assert ({"front_hidden", "front", "conv_channels", "readout", "head_hidden", "activation", "baselines", "ablation"}
            == {o.name for o in panel.model_form.options})
    panel._test_stack.undo()
    assert panel.project.model.kind == "vqc"


def test_without_torch_the_hybrid_kind_is_shown_disabled_with_how_to_install_it(qtbot, project, monkeypatch):
    import importlib.util

    from PySide6.QtCore import Qt

    from qmlstudio.plugins.manager import load_plugins

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    registry = load_plugins()
    monkeypatch.setattr(importlib.util, "find_spec", real)
    stack = QUndoStack()
    widget = SettingsPanel(project, registry, undo_stack=stack)
    qtbot.addWidget(widget)
    widget.show()
    qtbot.waitExposed(widget)
    combo = widget.kind_combo
    index = combo.findData("hybrid")
    assert not combo.model().item(index).isEnabled()
    assert "not installed" in combo.itemText(index)
    assert "pip install 'qmlstudio[torch]'" in combo.itemData(index, Qt.ItemDataRole.ToolTipRole)
    _type_item(qtbot, combo, "Hybrid")  # a disabled item: the keyboard search skips it
    assert project.model.kind == "vqc"
