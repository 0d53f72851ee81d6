"""What the window checks before a run starts: hidden qubits, and circuits too wide to simulate.

:class:`TrainingPreflight` is asked by the training dock before every run (its
``preflight``). It runs :func:`~qmlstudio.workflow.check_trainable` on the
project as it is:

* when the encoding needs more qubits than the circuit has (iris's 4 features on a
  3-qubit circuit), the missing wires are added to the design as one undoable edit, with a
  note in the status bar, and the run starts: training never uses a wire that the canvas,
  the figures and the state view do not show;
* when the model needs more memory than the machine has (digits' 64 features under angle
  encoding: 2^64 amplitudes), the run is held back and :class:`TooBigDialog` says so with
  the numbers and offers the fixes (PCA to a few features, amplitude encoding) as buttons;
  one click changes the project (one undoable edit) and starts the run.

Any other problem is left to the run itself, which reports it as before.
"""

from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QPushButton, QWidget

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.workflow import SimulationTooLarge, format_bytes

__all__ = ["TooBigDialog", "TrainingPreflight"]


class TooBigDialog(QMessageBox):
    """Says why the circuit cannot be simulated here, and offers one button per fix.

    ``fixes`` are :class:`~qmlstudio.workflow.SimulationFix` objects; the
    button of fix ``i`` is ``buttons_by_fix[i]`` (object name ``fix_<kind>``), and
    ``chosen`` is the fix clicked (None for Cancel).
    """

    def __init__(self, error: SimulationTooLarge, fixes: list[Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("tooBigDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("Too big to simulate")
        self.setTextFormat(Qt.TextFormat.RichText)
        n = error.num_qubits
        self.setText(f"<b>This model needs {n} qubits: too many to simulate on this machine.</b>")
        detail = (
            f"{n} qubits need 2<sup>{n}</sup> = {error.amplitudes:,} amplitudes per sample, "
            f"{format_bytes(16 * error.amplitudes)} at 16 bytes each. A training step on "
            f"{error.batch:,} samples needs {format_bytes(error.needed)}, and this machine has "
            f"{format_bytes(error.available)} available."
        )
        if fixes:
            detail += "<br><br>Choose a fix: the project changes (Undo takes it back) and training starts."
        else:
            detail += "<br><br>Reduce the features (Dataset ▸ PCA) or the qubits of the circuit, then train again."
        self.setInformativeText(detail)
        self.fixes = list(fixes)
        self.chosen: Any = None
        self.buttons_by_fix: list[QPushButton] = []
        for fix in self.fixes:
            button = self.addButton(fix.title, QMessageBox.ButtonRole.AcceptRole)
            button.setObjectName(f"fix_{fix.kind}")
            button.setToolTip(_fix_tooltip(fix))
            self.buttons_by_fix.append(button)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        if self.buttons_by_fix:
            self.setDefaultButton(self.buttons_by_fix[0])
        self.buttonClicked.connect(self._on_clicked)

    def _on_clicked(self, button: Any) -> None:
        if button in self.buttons_by_fix:
            self.chosen = self.fixes[self.buttons_by_fix.index(button)]


def _fix_tooltip(fix: Any) -> str:
    if fix.kind == "pca":
        return (f"Keep the first {fix.features} principal components of the features and rebuild the "
                f"circuit on {fix.qubits} qubits")
    return (f"Encode the features as the amplitudes of a {fix.qubits}-qubit state and rebuild the "
            f"circuit on {fix.qubits} qubits")


class TrainingPreflight:
    """The training dock's ``preflight`` for a main window (see the module's docstring)."""

    def __init__(self, window: Any) -> None:
        self.window = window
        #: the dialog shown last (tests and screenshots find it here)
        self.dialog: TooBigDialog | None = None
        #: what the last check changed in the project, in words ("" when nothing)
        self.note = ""
        self._applied = ""  # the fix chosen in the dialog, said when the run it starts begins

    def _data(self) -> Any:
        """The project's prepared data when the window has it loaded and current."""
        project_data = self.window.project_data
        if project_data.loading or project_data.pending:
            return None
        return project_data.data

    def __call__(self, retry: Callable[[], Any]) -> bool:
        from qmlstudio.workflow import HiddenQubits, check_trainable

        window = self.window
        self.note, self._applied = self._applied, ""
        project, registry = window.project, window.registry
        if project is None or registry is None:
            return True
        try:
            try:
                check_trainable(project, registry, self._data())
            except HiddenQubits as hidden:
                self._widen(hidden)
                check_trainable(project, registry, self._data())
        except SimulationTooLarge as exc:
            self._ask(exc, retry)
            return False
        except QMLStudioError:
            return True  # the run says what is wrong, in its own words
        except Exception:  # noqa: BLE001 - a plugin's fault: the run reports it with details
            return True
        return True

    def _widen(self, hidden: Any) -> None:
        added = hidden.needed - hidden.qubits
        text = f"Add {added} qubit{'s' if added != 1 else ''} for the {hidden.encoding} encoding"
        if not self.window.editor.widen(hidden.needed, text):
            raise hidden  # the editor refused (e.g. past the qubit limit): the run says why
        note = hidden.note
        # The training dock adds the note to its "Training started" message.
        self.note = "; ".join(filter(None, [self.note, f"{note[:1].upper()}{note[1:]} (Undo removes it)"]))
        self.window.statusBar().showMessage(self.note, 10_000)

    def _ask(self, error: SimulationTooLarge, retry: Callable[[], Any]) -> None:
        from qmlstudio.workflow import simulation_fixes

        window = self.window
        try:
            fixes = simulation_fixes(window.project, window.registry, batch=error.batch)
        except Exception:  # noqa: BLE001 - no fix to offer, the numbers still go out
            fixes = []
        dialog = TooBigDialog(error, fixes, window)
        self.dialog = dialog
        window.statusBar().showMessage(f"Too big to simulate: {error.describe()}", 10_000)

        def finished(_result: int) -> None:
            fix = dialog.chosen
            dialog.deleteLater()
            if self.dialog is dialog:
                self.dialog = None
            if fix is not None and self.apply(fix):
                retry()

        dialog.finished.connect(finished)
        dialog.open()

    def apply(self, fix: Any) -> bool:
        """Makes ``fix`` one undoable edit of the project (its field, then the circuit)."""
        from qmlstudio.gui.commands import DesignCommand, ProjectEdit
        from qmlstudio.workflow import fixed_project_fields

        window = self.window
        project = window.project
        try:
            fields = fixed_project_fields(project, window.registry, fix)
            gates, qubits = fields.pop("gates"), fields.pop("num_qubits")
            design_command = DesignCommand(project.circuit, fix.title, gates, qubits)
        except QMLStudioError as exc:
            window.show_error("Cannot apply the fix", str(exc))
            return False
        stack = window.undo_stack
        stack.beginMacro(fix.title)
        try:
            stack.push(ProjectEdit(project, fields, fix.title))
            stack.push(design_command)
        finally:
            stack.endMacro()
        self._applied = f"{fix.title}: the circuit now has {qubits} qubits (Undo takes it back)"
        window.statusBar().showMessage(self._applied, 10_000)
        return True
