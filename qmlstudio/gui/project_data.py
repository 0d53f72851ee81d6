"""The project's prepared data (split and scaled), loaded in the background for the views.

The canvas needs the number of features (to draw the encoding block for the real data)
and the state view needs samples. :class:`ProjectData` loads the dataset through its
plugin and prepares it as training would (``qmlstudio.core.preprocessing.prepare``) on a
worker thread whenever the project's dataset, preprocessing or seed changes, and
announces ``changed`` when it is ready (or failed, with ``error`` saying why).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from qmlstudio.gui.background import run_in_background

#: Project fields whose change means the data must be prepared again.
DATA_FIELDS = ("dataset", "preprocessing", "seed")


def _prepare(project_snapshot: tuple[Any, Any, int, Any], registry: Any) -> Any:
    from qmlstudio.core.preprocessing import prepare
    from qmlstudio.plugins.project_setup import load_dataset

    dataset_choice, preprocessing, seed, project = project_snapshot
    dataset = load_dataset(project, registry)
    return prepare(dataset, preprocessing, seed)


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
        self.project = project
        self.data, self.error = None, None
        if project is not None:
            project.events.changed.connect(self._on_project_changed)
            self._timer.start()
        self.changed.emit()

    def _on_project_changed(self, what: str = "", **_: Any) -> None:
        if what in DATA_FIELDS:
            self._timer.start()

    def _load(self) -> None:
        project = self.project
        if project is None or self.registry is None:
            return
        self._generation += 1
        generation = self._generation
        self.loading = True
        snapshot = (project.dataset, project.preprocessing, project.seed, project)
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
