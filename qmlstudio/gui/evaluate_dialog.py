"""*Evaluate on…*: the backend a trained run is evaluated on, picked from a list with its options
in a form (shots, seed, the device, error mitigation), as the settings panel sets the project's
backend; the choice is checked as the user edits it (a refused option says why and disables
Evaluate) and shown as the ``NAME[:ARG][,key=value]`` text that ``qmlstudio evaluate --backend``
takes."""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QDialog, QDialogButtonBox, QFormLayout, QLabel, QVBoxLayout, QWidget

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import PluginChoice
from qmlstudio.gui.dataset_options import NarrowComboBox, OptionForm

#: the backend the dialog starts on when the run was trained elsewhere: a device's noise
DEFAULT_BACKEND = "aer-noise"


class EvaluateDialog(QDialog):
    """Picks a backend and its options; :meth:`choice` is the checked :class:`PluginChoice`."""

    def __init__(self, registry: Any, start: PluginChoice | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluateDialog")
        self.setWindowTitle("Evaluate on another backend")
        self.registry = registry
        self._choice: PluginChoice | None = None
        layout = QVBoxLayout(self)
        intro = QLabel("The run's trained weights are evaluated on the test split of this backend, without "
                       "retraining. Error mitigation (readout with mthree, zero-noise extrapolation with mitiq) "
                       "is reported next to the raw figures.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        form = QFormLayout()
        self.backend_combo = NarrowComboBox(objectName="evaluateBackend")
        for name, spec in registry.backends.items():
            self.backend_combo.addItem(spec.title, name)
            item = self.backend_combo.model().item(self.backend_combo.count() - 1)
            reason = spec.unavailable_reason()
            item.setEnabled(not reason)
            item.setToolTip(f"Cannot be used here: {reason}" if reason else spec.description)
        form.addRow("Backend", self.backend_combo)
        layout.addLayout(form)
        self.options = OptionForm()
        self.options.setObjectName("evaluateOptions")
        layout.addWidget(self.options)
        self.refusal = QLabel(objectName="evaluateRefusal")
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet("color: #b3261e;")
        self.refusal.hide()
        layout.addWidget(self.refusal)
        self.command = QLabel(objectName="evaluateCommand")
        self.command.setWordWrap(True)
        self.command.setToolTip("The same evaluation from a terminal")
        layout.addWidget(self.command)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel)
        self.evaluate_button = self.buttons.addButton("Evaluate", QDialogButtonBox.ButtonRole.AcceptRole)
        self.evaluate_button.setObjectName("evaluateAccept")
        self.evaluate_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)

        name = start.name if start is not None and start.name in registry.backends else DEFAULT_BACKEND
        if name not in registry.backends or registry.backends[name].unavailable_reason():
            name = next((n for n, s in registry.backends.items() if not s.unavailable_reason()), name)
        self._show_backend(name, dict(start.options) if start is not None and start.name == name else {})
        self.backend_combo.currentIndexChanged.connect(
            lambda index: self._show_backend(self.backend_combo.itemData(index), {}))
        self.options.option_changed.connect(lambda *_: self._check())

    def choice(self) -> PluginChoice | None:
        """The backend and options shown, checked (None while they are refused)."""
        return self._choice

    def _show_backend(self, name: str, values: dict[str, Any]) -> None:
        spec = self.registry.backends[name]
        self.backend_combo.blockSignals(True)
        self.backend_combo.setCurrentIndex(self.backend_combo.findData(name))
        self.backend_combo.blockSignals(False)
        try:
            shown = spec.resolve(values)
        except QMLStudioError:
            shown = spec.resolve({})
        self.options.set_options(list(spec.options), shown)
        self._check()

    def _check(self) -> None:
        from qmlstudio.workflow import backend_choice, format_backend_choice

        name = self.backend_combo.currentData()
        spec = self.registry.backends[name]
        try:
            options = spec.resolve(self.options.values())
        except QMLStudioError as exc:
            self._choice = None
            self.refusal.setText(f"Not applied: {exc}")
            self.refusal.show()
            self.command.clear()
            self.evaluate_button.setEnabled(False)
            return
        self._choice = PluginChoice(name, options)
        self.refusal.hide()
        self.evaluate_button.setEnabled(True)
        text = format_backend_choice(self._choice, self.registry)
        try:  # shown only when the text reads back as this choice (a value with a comma would not)
            same = backend_choice(self.registry, text) == self._choice
        except QMLStudioError:
            same = False
        self.command.setText(f"<small>qmlstudio evaluate PROJECT --backend {text}</small>" if same else "")


__all__ = ["EvaluateDialog"]
