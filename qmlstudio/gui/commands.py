"""Undo commands: each user edit is one named command that changes the model only.

A :class:`DesignCommand` holds the design's state before and after the edit (its qubit
count and its tuple of frozen gates) and installs one or the other with
:meth:`~qmlstudio.core.circuit.CircuitDesign.set_gates`, so undo restores exactly the
previous design. The new state is validated before the command is made, so an invalid
edit never reaches the undo stack. The canvas, inspector and figures follow the model's
events; no command touches a view. Compound edits can be grouped with
``QUndoStack.beginMacro``.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtGui import QUndoCommand

from qmlstudio.core.circuit import CircuitDesign, Gate


class DesignCommand(QUndoCommand):
    """Replaces the design's gates (and qubit count) with a new state; undo puts back the old one."""

    def __init__(
        self,
        design: CircuitDesign,
        text: str,
        gates: Sequence[Gate],
        num_qubits: int | None = None,
        parent: QUndoCommand | None = None,
    ) -> None:
        super().__init__(text, parent)
        self.design = design
        self.before = (design.num_qubits, tuple(design.gates))
        self.after = (design.num_qubits if num_qubits is None else num_qubits, tuple(gates))
        CircuitDesign(*self.after)  # raises DesignError before anything is pushed

    @property
    def changes_anything(self) -> bool:
        return self.before != self.after

    def redo(self) -> None:
        self.design.set_gates(self.after[1], self.after[0], reason="edit")

    def undo(self) -> None:
        self.design.set_gates(self.before[1], self.before[0], reason="undo")


class ProjectFieldCommand(QUndoCommand):
    """Sets one field of the project (its encoding, for example); undo sets the old value back."""

    def __init__(self, project: Any, field: str, value: Any, text: str, parent: QUndoCommand | None = None) -> None:
        super().__init__(text, parent)
        self.project = project
        self.field = field
        self.before = getattr(project, field)
        self.after = value

    def redo(self) -> None:
        setattr(self.project, self.field, self.after)

    def undo(self) -> None:
        setattr(self.project, self.field, self.before)
