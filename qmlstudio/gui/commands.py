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

from typing import Any, Mapping, Sequence

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


class ProjectEdit(QUndoCommand):
    """One named edit of project fields (``dataset``, ``preprocessing``, ``seed``), undoable.

    Consecutive edits with the same ``key`` (a spin box stepped several times) merge into
    one command, so one undo takes the whole change back.
    """

    ID = 0x5D5E

    def __init__(self, project: Any, fields: Mapping[str, Any], text: str, key: str | None = None) -> None:
        super().__init__(text)
        self.project = project
        self.new = dict(fields)
        self.old = {name: getattr(project, name) for name in fields}
        self.key = key

    def id(self) -> int:  # noqa: A003  (Qt's name)
        return self.ID if self.key else -1

    def mergeWith(self, other: QUndoCommand) -> bool:  # noqa: N802
        if not isinstance(other, ProjectEdit) or other.key != self.key or other.project is not self.project:
            return False
        for name, value in other.new.items():
            self.old.setdefault(name, other.old[name])
            self.new[name] = value
        return True

    def redo(self) -> None:
        for name, value in self.new.items():
            setattr(self.project, name, value)

    def undo(self) -> None:
        for name, value in self.old.items():
            setattr(self.project, name, value)


