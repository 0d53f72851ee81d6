"""The project's prepared data (split and scaled), loaded in the background for the views.

The canvas needs the number of features (to draw the encoding block for the real data)
and the state view needs samples. :class:`ProjectData` loads the dataset through its
plugin and prepares it exactly as training does
(:func:`qmlstudio.workflow.prepared_data`, zero padding included) on a worker
thread whenever the project's dataset, preprocessing, seed or encoding changes (and, with
padding on, the circuit's width), and announces ``changed`` when it is ready (or failed,
with ``error`` saying why).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from qmlstudio.gui.background import run_in_background

#: Project fields whose change means the data must be prepared again (the encoding, and the
#: circuit's width, followed apart, decide the zero padding).
DATA_FIELDS = ("dataset", "preprocessing", "seed", "encoding")


def _prepare(snapshot: Any, registry: Any) -> Any:
    from qmlstudio.workflow import prepared_data

    # As training prepares it, zero padding included (the padding depends on the encoding
    # and the circuit's qubits): the views never show other data than a run uses.
    return prepared_data(snapshot, registry)


class ProjectData(QObject):
    """The current project's :class:`~qmlstudio.core.preprocessing.PreparedData`, or why there is none."""

    changed = Signal()

    def __init__(self, registry: Any, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.registry = registry
        self.project: Any = None
        self.data: Any = None
        self.error: str | None = None
        self.loading = False
        self._generation = 0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._load)
        self._design: Any = None  # the project's circuit, followed for its width
        self._qubits: int | None = None

    @property
    def num_features(self) -> int | None:
        return None if self.data is None else int(self.data.num_features)

    @property
    def pending(self) -> bool:
        """True between a change of the project's data fields and the start of their load."""
        return self._timer.isActive()

    def set_project(self, project: Any) -> None:
        if self.project is not None:
            self.project.events.changed.disconnect(self._on_project_changed)
            self._follow_circuit(None)
        self.project = project
        self.data, self.error = None, None
        if project is not None:
            project.events.changed.connect(self._on_project_changed)
            self._follow_circuit(project.circuit)
            self._timer.start()
        self.changed.emit()

    def _follow_circuit(self, design: Any) -> None:
        if self._design is not None:
            self._design.events.changed.disconnect(self._on_design_changed)
        self._design = design
        self._qubits = design.num_qubits if design is not None else None
        if design is not None:
            design.events.changed.connect(self._on_design_changed)

    def _on_design_changed(self, **_: Any) -> None:
        design = self._design
        if design is None or design.num_qubits == self._qubits:
            return
        self._qubits = design.num_qubits
        if self.project is not None and self.project.preprocessing.padding:
            self._timer.start()  # the padding fills the new width

    def _on_project_changed(self, what: str = "", **_: Any) -> None:
        if what == "circuit" and self.project is not None and self.project.circuit is not self._design:
            self._follow_circuit(self.project.circuit)  # a new circuit (an import): maybe another width
            if self.project.preprocessing.padding:
                self._timer.start()
        if what in DATA_FIELDS:
            self._timer.start()

    def _load(self) -> None:
        project = self.project
        if project is None or self.registry is None:
            return
        self._generation += 1
        generation = self._generation
        self.loading = True
        from qmlstudio.gui.workers import project_snapshot

        snapshot = project_snapshot(project)  # the worker thread reads a copy, never the live project
        registry = self.registry
        run_in_background(lambda: _prepare(snapshot, registry),
                          lambda ok, value: self._loaded(generation, ok, value), self)

    def _loaded(self, generation: int, ok: bool, value: Any) -> None:
        if generation != self._generation:
            return  # a newer load is under way
        self.loading = False
        if ok:
            self.data, self.error = value, None
        else:
            self.data, self.error = None, str(value)
        self.changed.emit()
