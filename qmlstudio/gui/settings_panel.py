"""The "Model & training" panel: the model, the optimizer, the backend and the training settings.

Every edit is one named :class:`~qmlstudio.gui.commands.ProjectEdit` on the undo stack
(steps of one spin box merge into one command). The panel keeps no copy of the project's
settings: it shows what the project holds and redraws from ``project.events.changed``, so
undo, File ▸ Open and edits elsewhere show at once.

Under the backend sits a cost line: the circuits and shots a training run will send
("Per iteration: 616 circuits, 630,784 shots · whole run: …"), or "Exact simulation: no
shots". It is estimated with :func:`~qmlstudio.workflow.estimate_cost` in a
background job, a moment after the last change, never on the GUI thread.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.options import Option
from qmlstudio.core.project import MODEL_KINDS, ModelChoice, PluginChoice, Project, Training
from qmlstudio.gui import startup
from qmlstudio.gui.background import run_in_background
from qmlstudio.gui.commands import ProjectEdit
from qmlstudio.gui.dataset_options import NarrowComboBox, OptionForm
from qmlstudio.workflow import NOISY_EXACT_QUBITS, noisy_training_choice

_COST_DELAY_MS = 400
_INT_LIMIT = 2**31 - 1
#: Project changes after which the cost line is estimated again.
_COST_FIELDS = {"dataset", "preprocessing", "encoding", "ansatz", "circuit", "model", "optimizer", "backend",
                "training"}

MODEL_TITLES = {
    "vqc": "Variational classifier (VQC)",
    "regressor": "Variational regressor",
    "kernel": "Quantum-kernel SVM",
}

_READOUT = Option("readout", "choice", "modulo", title="Readout",
                  help="How measured bitstrings become class scores: 'modulo' maps each bitstring to "
                       "class (index mod classes); 'z' reads ⟨Z⟩ expectation values (a local cost); 'parity' "
                       "reads ⟨Z⊗Z⊗…⊗Z⟩ of all qubits (two classes: a global cost); 'projector' reads the probability of "
                       "all zeros as p(class 0) (two classes: the global cost of Cerezo et al.)",
                       choices=("modulo", "z", "parity", "projector"))
_TRAINABLE = Option("trainable_output", "bool", False, title="Trainable output",
                    help="Learn a scale and bias on the circuit's outputs (a classical head)")
_GRADIENT = Option("gradient", "choice", "auto", title="Gradient",
                   help="auto: adjoint on the statevector backend (QML Studio's simulator), parameter shift "
                        "on every other backend (aer-statevector included, with exact values)",
                   choices=("auto", "adjoint", "parameter-shift"))
_EVAL_EVERY = Option("eval_every", "int", 0, title="Evaluate every", minimum=0, maximum=100_000,
                     help="How many iterations between evaluations of the training and validation splits "
                          "(accuracy points on the plots); 0 evaluates once per epoch. The loss curve moves "
                          "every iteration either way, from each step's mini-batch. The test split is scored "
                          "once, when the run ends.")
_INIT = Option("init", "choice", "uniform", title="Initialisation",
               help="How the weights start. uniform: in ±scale·π. small-angle: in ±ε·π, ε the scale below "
                    "(0.05 unless set): small gradients stay away from a barren plateau. identity-blocks (Grant "
                    "et al. 2019): the template becomes half its layers followed by their mirror image, whose "
                    "weights start equal, so the circuit starts as the identity",
               choices=("uniform", "small-angle", "identity-blocks"))
_INIT_SCALE = Option("init_scale", "float", 1.0, title="Initial scale", minimum=1e-4, maximum=10.0,
                     help="The initial weights are drawn in ±scale·π (ε of a small-angle initialisation)")
_C = Option("C", "float", 1.0, title="C (regularisation)", minimum=1e-4, maximum=1e4,
            help="The SVM's regularisation: larger C fits the training data more closely")
MODEL_FORM = {
    "vqc": (_READOUT, _TRAINABLE, _GRADIENT, _EVAL_EVERY, _INIT, _INIT_SCALE),
    "regressor": (_TRAINABLE, _GRADIENT, _EVAL_EVERY, _INIT, _INIT_SCALE),
    "kernel": (_C,),
}


#: the backends that simulate a fake device's noise (the "Device noise" choice)
NOISY_BACKENDS = ("noisy-exact", "aer-noise")


def _noise_devices(registry: Any) -> list[str]:
    """The fake devices a noisy backend offers (none when neither is usable here)."""
    for name in NOISY_BACKENDS:
        spec = registry.backends.get(name)
        if spec is None or spec.unavailable_reason():
            continue
        for option in spec.options:
            if option.name == "fake_backend":
                return [str(c) for c in option.choices]
    return []


def _unusable_choices(registry: Any, backend: str) -> dict[str, dict[str, str]]:
    """The backend plugin's unusable choices, ``{option: {choice: reason}}`` (empty when it declares none)."""
    spec = registry.backends.get(backend)
    return spec.unusable_choices() if spec is not None else {}


def cost_text(cost: dict[str, Any]) -> str:
    """The cost line for an :func:`estimate_cost` result."""
    if cost.get("exact") and not cost.get("total_circuits"):
        return "Exact simulation: no shots"
    return (f"Per iteration: {cost['circuits_per_iteration']:,} circuits, {cost['shots_per_iteration']:,} shots"
            f" · whole run: {cost['total_circuits']:,} circuits, {cost['total_shots']:,} shots")


class SettingsPanel(QWidget):
    """Model, optimizer, backend and training settings of a project, each edit undoable."""

    #: Emitted with the cost line's text when a new estimate arrives (or its error).
    cost_updated = Signal(str)

    def __init__(self, project: Project, registry: Any, undo_stack: QUndoStack | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsPanel")
        self.registry = registry
        self.undo_stack = undo_stack if undo_stack is not None else QUndoStack(self)
        self._project: Project | None = None
        self._link: dict[str, Any] = {"project": None, "callback": None}
        self.destroyed.connect(lambda *_, link=self._link: _disconnect(link))
        self._shown_kind: str | None = None
        self._shown_optimizer: str | None = None
        self._shown_backend: str | None = None
        self._cost_generation = 0
        self._cost_timer = QTimer(self)
        self._cost_timer.setSingleShot(True)
        self._cost_timer.setInterval(_COST_DELAY_MS)
        self._cost_timer.timeout.connect(self._start_cost)
        self._build()
        self.set_project(project)

    # ================================================================= public API
    @property
    def project(self) -> Project:
        assert self._project is not None
        return self._project

    @property
    def cost_busy(self) -> bool:
        """True while a cost estimate is waiting or running."""
        return self._cost_timer.isActive() or self._cost_pending

    def set_project(self, project: Project) -> None:
        """Follows ``project`` from now on (File ▸ New / Open)."""
        _disconnect(self._link)
        self._project = project
        self._link["project"], self._link["callback"] = project, self._on_project_changed
        project.events.changed.connect(self._on_project_changed)
        self._shown_kind = self._shown_optimizer = self._shown_backend = None
        self._sync()
        self._schedule_cost()

    # ================================================================= building
    def _build(self) -> None:
        content = QWidget()
        column = QVBoxLayout(content)
        column.setContentsMargins(6, 6, 6, 6)

        # Model
        box = QGroupBox("Model")
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow docks: fields under labels
        self.kind_combo = NarrowComboBox(objectName="modelKind")
        self._fill_kinds()
        self.kind_combo.setToolTip("What is trained: a variational classifier or regressor, a quantum-kernel SVM, or a "
                                   "kind a plugin provides (a hybrid quantum-classical network with PyTorch)")
        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        form.addRow("Kind", self.kind_combo)
        self.model_form = OptionForm()
        self.model_form.setObjectName("modelOptions")
        self.model_form.option_changed.connect(self._on_model_option)
        form.addRow(self.model_form)
        self.model_note = QLabel(objectName="modelNote")
        self.model_note.setWordWrap(True)
        self.model_note.setStyleSheet("color: #b3261e;")
        self.model_note.hide()
        form.addRow(self.model_note)
        column.addWidget(box)

        # Optimizer
        box = QGroupBox("Optimizer")
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow docks: fields under labels
        self.optimizer_combo = NarrowComboBox(objectName="optimizerCombo")
        self._fill_optimizers()
        self.optimizer_combo.currentIndexChanged.connect(self._on_optimizer)
        form.addRow("Optimizer", self.optimizer_combo)
        self.optimizer_form = OptionForm()
        self.optimizer_form.setObjectName("optimizerOptions")
        self.optimizer_form.option_changed.connect(self._on_optimizer_option)
        form.addRow(self.optimizer_form)
        column.addWidget(box)

        # Backend
        box = QGroupBox("Backend")
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow docks: fields under labels
        self.backend_combo = NarrowComboBox(objectName="backendCombo")
        self._fill_backends()
        self.backend_combo.currentIndexChanged.connect(self._on_backend)
        # Training under a device's noise: the backend for it is chosen here (noisy-exact when the
        # circuit is small enough to simulate exactly, aer-noise above), the user can still pick
        # either below.
        self.noise_combo = NarrowComboBox(objectName="noiseCombo")
        self.noise_combo.addItem("None (noiseless)", "")
        for device in _noise_devices(self.registry):
            self.noise_combo.addItem(device, device)
        self.noise_combo.setToolTip(
            "Train under the noise of a fake IBM device: its noise model, coupling map and basis gates. Up to "
            f"{NOISY_EXACT_QUBITS} qubits this picks noisy-exact (exact noisy probabilities and gradients, about a "
            "hundred times faster than sampling); above, aer-noise (Aer's shots). Pick aer-noise below for "
            "shot-faithful training.")
        self.noise_combo.currentIndexChanged.connect(self._on_noise)
        self.noise_note = QLabel(objectName="noiseNote")
        self.noise_note.setWordWrap(True)
        self.noise_note.hide()
        if self.noise_combo.count() > 1:
            form.addRow("Device noise", self.noise_combo)
            form.addRow(self.noise_note)
        else:  # no noisy backend installed
            self.noise_combo.hide()
        form.addRow("Backend", self.backend_combo)
        self.backend_form = OptionForm()
        self.backend_form.setObjectName("backendOptions")
        self.backend_form.option_changed.connect(self._on_backend_option)
        form.addRow(self.backend_form)
        # An option the backend cannot apply (mitigation on a Sampler path) is refused here.
        self.backend_refusal = QLabel(objectName="backendRefusal")
        self.backend_refusal.setWordWrap(True)
        self.backend_refusal.setStyleSheet("color: #b3261e;")
        self.backend_refusal.hide()
        form.addRow(self.backend_refusal)
        self.cost_label = QLabel(objectName="costLabel")
        self.cost_label.setWordWrap(True)
        self.cost_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.cost_label.setToolTip("What a training run sends to the backend (estimated; nothing is transpiled)")
        form.addRow(self.cost_label)
        column.addWidget(box)

        # Training
        box = QGroupBox("Training")
        form = QFormLayout(box)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)  # narrow docks: fields under labels
        self.epochs_spin = self._spin("epochsSpin", 1, 100_000, "How many passes over the training data")
        self.epochs_spin.valueChanged.connect(self._on_epochs)
        form.addRow("Epochs", self.epochs_spin)
        row = QHBoxLayout()
        self.batch_spin = self._spin("batchSpin", 1, 1_000_000, "Samples per optimizer step")
        self.batch_spin.valueChanged.connect(self._on_batch)
        self.full_batch_check = QCheckBox("Full batch", objectName="fullBatchCheck")
        self.full_batch_check.setToolTip("Use the whole training split for every optimizer step")
        self.full_batch_check.toggled.connect(self._on_full_batch)
        row.addWidget(self.batch_spin, 1)
        row.addWidget(self.full_batch_check)
        form.addRow("Batch size", row)
        self.early_check = QCheckBox("Early stopping", objectName="earlyStoppingCheck")
        self.early_check.setToolTip("Stop when the validation loss has not improved for 'patience' epochs "
                                    "(needs a validation split; the test split never decides)")
        self.early_check.toggled.connect(self._on_early)
        self.patience_spin = self._spin("patienceSpin", 1, 10_000, "Epochs without improvement before stopping")
        self.patience_spin.setPrefix("patience ")
        self.patience_spin.valueChanged.connect(self._on_patience)
        form.addRow(self.early_check, self.patience_spin)  # the spin under the box when the dock is narrow
        self.seed_spin = self._spin("seedSpin", 0, _INT_LIMIT, "Seed of the split, initial weights and shots")
        self.seed_spin.valueChanged.connect(self._on_seed)
        form.addRow("Seed", self.seed_spin)
        column.addWidget(box)
        column.addStretch(1)

        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        self._cost_pending = False

    @staticmethod
    def _spin(name: str, low: int, high: int, tip: str) -> QSpinBox:
        spin = QSpinBox(objectName=name)
        spin.setRange(low, high)
        spin.setKeyboardTracking(False)
        spin.setAccelerated(True)
        spin.setToolTip(tip)
        return spin

    # ================================================================= showing the project
    def _fill_kinds(self) -> None:
        for kind in MODEL_KINDS:
            self.kind_combo.addItem(MODEL_TITLES.get(kind, kind), kind)
        # kinds plugins provide (hybrid, PyTorch); one that cannot run here is shown disabled, with why
        for kind, spec in self._model_specs().items():
            self.kind_combo.addItem(spec.title, kind)
            index = self.kind_combo.count() - 1
            unavailable = getattr(spec, "unavailable", "")
            self.kind_combo.setItemData(index, unavailable or spec.description, Qt.ItemDataRole.ToolTipRole)
            if unavailable:
                self.kind_combo.model().item(index).setEnabled(False)
                self.kind_combo.setItemText(index, f"{spec.title}: not installed")

    def _fill_optimizers(self) -> None:
        for name, spec in self.registry.optimizers.items():
            gradient_free = not getattr(spec, "uses_gradient", True)
            self.optimizer_combo.addItem(f"{spec.title} (gradient-free)" if gradient_free else spec.title, name)
            self.optimizer_combo.setItemData(self.optimizer_combo.count() - 1, spec.description,
                                             Qt.ItemDataRole.ToolTipRole)

    def _fill_backends(self) -> None:
        for name, spec in self.registry.backends.items():
            self.backend_combo.addItem(spec.title, name)
            index = self.backend_combo.count() - 1
            reason = spec.unavailable_reason()
            item = self.backend_combo.model().item(index)
            if reason:
                item.setEnabled(False)
                item.setToolTip(f"Cannot be used here: {reason}")
            else:
                item.setToolTip(spec.description)

    def refresh_choices(self) -> None:
        """Lists the model kinds, optimizers and backends the registry provides now: after a plugin
        was installed or removed, or a package a part needed (torch for the hybrid) was installed
        from Plugins ▸ Manage. The project's choices stay selected."""
        for combo, fill in ((self.kind_combo, self._fill_kinds), (self.optimizer_combo, self._fill_optimizers),
                            (self.backend_combo, self._fill_backends)):
            with QSignalBlocker(combo):
                combo.clear()
                fill()
        self._shown_kind = self._shown_optimizer = self._shown_backend = None  # their forms are read again
        self._sync()

    def _on_project_changed(self, project: Project | None = None, what: str | None = None, **_: Any) -> None:
        if what in ("model", "optimizer", "backend", "training", "seed", "replaced", "loaded", None):
            self._sync()
        if what in _COST_FIELDS or what is None:
            self._schedule_cost()

    def _sync(self) -> None:
        project = self.project
        with QSignalBlocker(self.kind_combo):
            self.kind_combo.setCurrentIndex(max(self.kind_combo.findData(project.model.kind), 0))
        if self._shown_kind != project.model.kind:
            self.model_form.set_options(self._model_form(project.model.kind))
            self._shown_kind = project.model.kind
        self.model_form.set_values(project.model.options)

        self._select(self.optimizer_combo, project.optimizer.name)
        spec = self.registry.optimizers.get(project.optimizer.name)
        if self._shown_optimizer != project.optimizer.name:
            self.optimizer_form.set_options(list(spec.options) if spec is not None else [])
            self._shown_optimizer = project.optimizer.name
        self.optimizer_form.set_values(project.optimizer.options)

        self._select(self.backend_combo, project.backend.name)
        noisy = project.backend.name in NOISY_BACKENDS
        device = str(project.backend.options.get("fake_backend", "")) if noisy else ""
        self._select(self.noise_combo, device)
        if noisy and device:
            exact = project.backend.name == "noisy-exact"
            self.noise_note.setText(
                f"{device}'s noise, simulated exactly (density matrices, exact gradients)" if exact else
                f"{device}'s noise, sampled with Aer's shots (shot-faithful; noisy-exact is exact and faster up to "
                f"{NOISY_EXACT_QUBITS} qubits)")
        self.noise_note.setVisible(noisy and bool(device))
        spec = self.registry.backends.get(project.backend.name)
        if self._shown_backend != project.backend.name:
            self.backend_form.set_options(list(spec.options) if spec is not None else [])
            self._shown_backend = project.backend.name
            # Asking qiskit-aer for its devices imports it: not before the window is on screen.
            startup.when_shown(self._mark_devices)
        self.backend_form.set_values(project.backend.options)

        training = project.training
        for spin, value in ((self.epochs_spin, training.epochs), (self.patience_spin, training.patience),
                            (self.seed_spin, project.seed)):
            with QSignalBlocker(spin):
                spin.setValue(int(value))
        with QSignalBlocker(self.full_batch_check), QSignalBlocker(self.batch_spin):
            self.full_batch_check.setChecked(training.batch_size is None)
            if training.batch_size is not None:
                self.batch_spin.setValue(training.batch_size)
        self.batch_spin.setEnabled(training.batch_size is not None)
        with QSignalBlocker(self.early_check):
            self.early_check.setChecked(training.early_stopping)
        self.patience_spin.setEnabled(training.early_stopping)

    @staticmethod
    def _select(combo: QComboBox, name: str) -> None:
        with QSignalBlocker(combo):
            index = combo.findData(name)
            if index < 0:  # a plugin that is not installed (any more): show it, marked
                combo.addItem(f"{name} (not installed)", name)
                index = combo.count() - 1
                combo.model().item(index).setEnabled(False)
            combo.setCurrentIndex(index)

    def _mark_devices(self) -> None:
        """Disables the choices the backend's plugin says cannot be used here (a GPU), with the reason."""
        if not shiboken6.isValid(self):
            return
        names = {o.name for o in self.backend_form.options}
        for option, reasons in _unusable_choices(self.registry, self.project.backend.name).items():
            combo = self.backend_form.editor(option) if option in names else None
            if not isinstance(combo, QComboBox):
                continue
            for value, reason in reasons.items():
                index = combo.findData(value)
                if index < 0 or not reason:
                    continue
                item = combo.model().item(index)
                item.setEnabled(False)
                item.setToolTip(f"{value} cannot be used here: {reason}")

    # ================================================================= edits
    def _edit(self, fields: dict[str, Any], text: str, key: str | None = None) -> None:
        if all(getattr(self.project, name) == value for name, value in fields.items()):
            return
        self.undo_stack.push(ProjectEdit(self.project, fields, text, key=key))

    def _model_form(self, kind: str) -> list[Any]:
        """The options the model form shows: the built-in kind's, or the plugin's."""
        if kind in MODEL_FORM:
            return list(MODEL_FORM[kind])
        spec = self._model_specs().get(kind)
        return list(spec.options) if spec is not None else []

    def _model_specs(self) -> dict[str, Any]:
        """The model kinds plugins provide (none from a registry that lists no models)."""
        specs = getattr(self.registry, "specs", None)
        return specs("models") if callable(specs) else {}

    def _on_kind(self, index: int) -> None:
        kind = self.kind_combo.itemData(index)
        if kind and kind != self.project.model.kind:
            spec = self._model_specs().get(kind)
            if spec is not None:  # a plugin's kind: its own options, with their defaults
                self._edit({"model": ModelChoice(kind, spec.resolve({}))}, f"Set model to {spec.title}")
                return
            known = {o.name for o in MODEL_FORM.get(kind, ())} | {"eval_every", "init_scale", "init", "baselines"}
            options = {k: v for k, v in self.project.model.options.items() if k in known}
            self._edit({"model": ModelChoice(kind, options)}, f"Set model to {MODEL_TITLES.get(kind, kind)}")

    def _on_model_option(self, name: str, value: Any) -> None:
        model = self.project.model
        if name == "init":
            self._on_init(str(value))
            return
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        self._edit({"model": ModelChoice(model.kind, {**model.options, name: value})},
                   f"Change model {name.replace('_', ' ')}", key=f"model.{name}" if numeric else None)

    def _on_init(self, init: str) -> None:
        """The initialisation: one undoable edit of the model and, for a template circuit that
        gains or loses its identity blocks' mirror, of the circuit."""
        from qmlstudio.gui.commands import DesignCommand
        from qmlstudio.workflow import initialisation_fields

        project = self.project
        try:
            choice, design = initialisation_fields(project, self.registry, init)
        except QMLStudioError as exc:  # refused, never stored as if applied
            self._sync()
            self.model_note.setText(f"Not applied: {exc}")
            self.model_note.show()
            return
        self.model_note.hide()
        text = f"Set initialisation to {init}"
        if design is None:
            if init == "identity-blocks" and project.ansatz is None:
                self.model_note.setText("Identity blocks need a circuit whose second half mirrors its first: this one "
                                        "is drawn by hand, not built from a template, so training refuses it unless "
                                        "it does (each gate's inverse, in reverse order, on weights of its own).")
                self.model_note.show()
            self._edit({"model": choice}, text)
            return
        self.undo_stack.beginMacro(text)
        try:
            self._edit({"model": choice}, text)
            self.undo_stack.push(DesignCommand(project.circuit, text, design.gates, design.num_qubits))
        finally:
            self.undo_stack.endMacro()

    def _on_optimizer(self, index: int) -> None:
        name = self.optimizer_combo.itemData(index)
        spec = self.registry.optimizers.get(name)
        if spec is None or name == self.project.optimizer.name:
            return
        self._edit({"optimizer": PluginChoice(name, _resolve(spec, {}))}, f"Set optimizer to {spec.title}")

    def _on_optimizer_option(self, name: str, value: Any) -> None:
        choice = self.project.optimizer
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        self._edit({"optimizer": PluginChoice(choice.name, {**choice.options, name: value})},
                   f"Change optimizer {name.replace('_', ' ')}", key=f"optimizer.{name}" if numeric else None)

    def _on_backend(self, index: int) -> None:
        name = self.backend_combo.itemData(index)
        spec = self.registry.backends.get(name)
        if spec is None or name == self.project.backend.name:
            return
        reason = spec.unavailable_reason()
        if reason:  # a disabled item chosen by keyboard or code: put the project's back
            self._sync()
            return
        known = {o.name for o in spec.options}
        kept = {k: v for k, v in self.project.backend.options.items() if k in known}  # shots, seed carry over
        self._edit({"backend": PluginChoice(name, _resolve(spec, kept))}, f"Set backend to {spec.title}")

    def _on_noise(self, index: int) -> None:
        device = self.noise_combo.itemData(index)
        backend = self.project.backend
        if not device:
            if backend.name in NOISY_BACKENDS:
                spec = self.registry.backends.get("statevector")
                if spec is not None:
                    self._edit({"backend": PluginChoice("statevector", _resolve(spec, {}))},
                               "Train without device noise")
            return
        try:
            # no device model loaded here, on the GUI thread: a device too small is refused when
            # the run builds, with the counts
            choice, _ = noisy_training_choice(self.registry, device, self.project.circuit.num_qubits, base=backend,
                                              check_device=False)
        except QMLStudioError as exc:
            self.backend_refusal.setText(f"Not applied: {exc}")
            self.backend_refusal.show()
            self._sync()
            return
        self.backend_refusal.hide()
        self._edit({"backend": choice}, f"Train under {device}'s noise")

    def _on_backend_option(self, name: str, value: Any) -> None:
        choice = self.project.backend
        reason = _unusable_choices(self.registry, self.project.backend.name).get(name, {}).get(value)
        if reason:
            self._sync()
            return
        spec = self.registry.backends.get(choice.name)
        options = {**choice.options, name: value}
        if spec is not None:
            try:
                spec.resolve(options)
            except QMLStudioError as exc:  # refused, never stored as if applied
                self.backend_refusal.setText(f"Not applied: {exc}")
                self.backend_refusal.show()
                self._sync()
                return
        self.backend_refusal.hide()
        numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
        self._edit({"backend": PluginChoice(choice.name, options)},
                   f"Change backend {name.replace('_', ' ')}", key=f"backend.{name}" if numeric else None)

    def _training(self, text: str, key: str | None = None, **changes: Any) -> None:
        from dataclasses import replace

        self._edit({"training": replace(self.project.training, **changes)}, text, key=key)

    def _on_epochs(self, value: int) -> None:
        self._training("Change epochs", key="training.epochs", epochs=value)

    def _on_batch(self, value: int) -> None:
        if not self.full_batch_check.isChecked():
            self._training("Change batch size", key="training.batch", batch_size=value)

    def _on_full_batch(self, checked: bool) -> None:
        if checked:
            self._training("Train on the full batch", batch_size=None)
        else:
            self._training("Train in mini-batches", batch_size=self.batch_spin.value())

    def _on_early(self, checked: bool) -> None:
        self._training("Turn early stopping on" if checked else "Turn early stopping off", early_stopping=checked)

    def _on_patience(self, value: int) -> None:
        self._training("Change patience", key="training.patience", patience=value)

    def _on_seed(self, value: int) -> None:
        self._edit({"seed": value}, "Change seed", key="seed")

    # ================================================================= cost line
    def _schedule_cost(self) -> None:
        self._cost_generation += 1
        self.cost_label.setText("Estimating circuits and shots…")
        self._cost_timer.start()

    def _start_cost(self) -> None:
        from qmlstudio.workflow import estimate_cost

        generation = self._cost_generation
        project, registry = self.project, self.registry
        self._cost_pending = True
        run_in_background(lambda: estimate_cost(project, registry),
                          lambda ok, value: self._cost_done(generation, ok, value), self)

    def _cost_done(self, generation: int, ok: bool, value: Any) -> None:
        if generation != self._cost_generation:
            return  # a later change asked again
        self._cost_pending = False
        if ok:
            text = cost_text(value)
            self.cost_label.setStyleSheet("")
        else:
            text = f"Cost unknown: {value}"
            self.cost_label.setStyleSheet("color: palette(mid);")
        self.cost_label.setText(text)
        self.cost_updated.emit(text)


def _resolve(spec: Any, options: dict[str, Any]) -> dict[str, Any]:
    """The spec's options with defaults filled in; the defaults alone when ``options`` do not check."""
    try:
        return spec.resolve(options)
    except Exception:  # noqa: BLE001 - options of another backend that this one refuses
        return spec.resolve({})


def _disconnect(link: dict) -> None:
    project, callback = link.get("project"), link.get("callback")
    if project is not None and callback is not None:
        project.events.changed.disconnect(callback)
    link["project"] = link["callback"] = None
