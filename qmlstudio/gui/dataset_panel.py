"""The dataset panel: choose the data, how it is prepared, and see it.

:class:`DatasetPanel` is a view of a :class:`~qmlstudio.core.project.Project`: it shows the
project's dataset (a plugin and its options, as a form built from the plugin's declared
options), its preprocessing (class subset, feature selection, scaling, PCA, train/test
split, seed, zero padding) and a preview of the data exactly as training will see it: a
scatter plot coloured by class with training points filled and test points hollow,
thumbnails of image data per class, and a summary with the class balance. It tells the
user when the encoding needs more qubits than the circuit has (or fills fewer) and offers
PCA or padding in one click.

Like napari's views it holds no setting of its own: every edit assigns a new
``project.dataset`` / ``project.preprocessing`` / ``project.seed`` (through an undo stack
when one is given), and the panel redraws from ``project.events.changed``. Loading and
preparing the data runs in a worker thread; the GUI never waits, a thin bar shows the
work, and every problem is a red message in the panel.

The module is the controller (project edits, loading, imports); the widgets and drawing are
in :mod:`qmlstudio.gui.dataset_view`, the Import menu in :mod:`qmlstudio.gui.dataset_imports`.

For documentation screenshots::

    python -m qmlstudio.gui.dataset_panel --screenshot docs/images/dataset-panel.png
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any, Sequence

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import (
    QListWidgetItem,
    QWidget,
)

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import PluginChoice, Project
from qmlstudio.gui.dataset_loading import (
    BOOKKEEPING_OPTIONS,
    DataFileChanged,
    DataRequest,
    DataView,
    chosen_classes,
    load_and_prepare,
)
from qmlstudio.gui.commands import ProjectEdit
from qmlstudio.gui.dataset_imports import run_importer
from qmlstudio.gui.dataset_view import SCALING_TITLES, DatasetPanelView
from qmlstudio.gui.background import BackgroundRunner, error_message
from qmlstudio.workflow.projects import model_maps_features

__all__ = ["DatasetPanel", "ProjectEdit", "SCALING_TITLES", "save_screenshot"]

FILE_FILTERS = {
    "idx": {
        "images_path": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx3 *.gz);;All files (*)",
        "labels_path": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx1 *.gz);;All files (*)",
    },
}
_RELOAD_DELAY_MS = 40


# ----------------------------------------------------------------------- panel
class DatasetPanel(DatasetPanelView):
    """The dataset dock's widget, a view of one project (see the module docstring).

    ``registry`` is the plugin registry (``load_plugins()``); ``undo_stack`` (optional)
    receives every edit as a named :class:`ProjectEdit`. Signals:

    - :attr:`data_loaded` ``(DataView)``: the data for the project's current settings has
      been loaded and prepared (``view.prepared`` is None when it loaded but could not be
      prepared; ``view.problem`` says why).
    - :attr:`load_failed` ``(str)``: the data could not be loaded; the message is shown.
    - :attr:`busy_changed` ``(bool)``: background work started or ended.
    """

    data_loaded = Signal(object)
    load_failed = Signal(str)
    busy_changed = Signal(bool)

    def __init__(
        self,
        project: Project,
        registry: Any,
        parent: QWidget | None = None,
        undo_stack: QUndoStack | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("datasetPanel")
        self.registry = registry
        self.undo_stack = undo_stack
        self._project: Project | None = None
        self._view: DataView | None = None
        self._error = ""
        self._cache: tuple[str, Any] | None = None  # (dataset key, Dataset): derived, not a setting
        self._submitted: DataRequest | None = None
        self._form_dataset: str | None = None
        self._num_qubits: int | None = None
        self._shown_key: str | None = None

        self._runner = BackgroundRunner(self)
        self._runner.finished.connect(self._on_loaded)
        self._runner.failed.connect(self._on_failed)
        self._runner.busy_changed.connect(self._on_busy)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(_RELOAD_DELAY_MS)
        self._timer.timeout.connect(self._start_load)
        # The project outlives the panel: stop following it when the panel goes.
        link = self._link = {"project": None, "callback": None}
        self.destroyed.connect(lambda *_: _disconnect(link))

        self._build()
        self.set_project(project)

    # ================================================================= public API
    @property
    def project(self) -> Project:
        assert self._project is not None
        return self._project

    @property
    def view(self) -> DataView | None:
        """What is shown now: the loaded and prepared data, or None (nothing loaded yet, or an error)."""
        return self._view

    @property
    def busy(self) -> bool:
        return self._runner.busy or self._timer.isActive()

    def error_text(self) -> str:
        """The problem shown in red (empty when there is none)."""
        return self._error

    def set_project(self, project: Project) -> None:
        """Follows ``project`` from now on (File ▸ New / Open) and loads its data."""
        _disconnect(self._link)
        self._project = project
        self._link["project"], self._link["callback"] = project, self._on_project_changed
        project.events.changed.connect(self._on_project_changed)
        self._cache = None
        self._submitted = None
        self._shown_key = None
        self._num_qubits = project.circuit.num_qubits
        self._sync_dataset()
        self._sync_preprocessing()
        self._schedule()

    def reload(self) -> None:
        """Reads the data again (a file may have changed on disk)."""
        self._cache = None
        self._submitted = None
        self._schedule()

    def wait_idle(self, msecs: int = 30000) -> bool:
        """Blocks until background work has ended (for scripts and tests; the GUI never calls it)."""
        if self._timer.isActive():
            self._timer.stop()
            self._start_load()
        return self._runner.wait(msecs)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(340, 760)

    # ============================================================== building
    # ===================================================== project → widgets
    def _on_project_changed(self, project: Project | None = None, what: str = "", **_: Any) -> None:
        if project is not self._project:
            return
        if what == "dataset":
            self._sync_dataset()
            self._schedule()
        elif what in ("preprocessing", "seed"):
            self._sync_preprocessing()
            self._schedule()
        elif what == "encoding":
            self._schedule()
        elif what == "model":
            if self._request() != self._submitted:  # a kind that maps the features itself, or no longer
                self._schedule()
        elif what == "circuit":
            if project.circuit.num_qubits != self._num_qubits:
                self._num_qubits = project.circuit.num_qubits
                self._schedule()

    def _spec(self, name: str | None = None) -> Any:
        return self.registry.datasets.get(name or self.project.dataset.name)

    def _sync_dataset(self) -> None:
        choice = self.project.dataset
        spec = self._spec(choice.name)
        with QSignalBlocker(self.dataset_combo):
            index = self.dataset_combo.findData(choice.name)
            if index < 0:  # a plugin that is not installed: show its name, greyed
                self.dataset_combo.addItem(f"{choice.name} (not installed)", choice.name)
                index = self.dataset_combo.count() - 1
                item = self.dataset_combo.model().item(index)
                if item is not None:
                    item.setEnabled(False)
            self.dataset_combo.setCurrentIndex(index)
        self.description.setText(spec.description if spec is not None else "")
        values = {k: v for k, v in choice.options.items() if k not in BOOKKEEPING_OPTIONS}
        if spec is None:
            self.option_form.set_options(())
            self._form_dataset = None
        else:
            try:
                values = spec.resolve(values)
            except QMLStudioError:
                pass  # show what is stored; loading will say what is wrong with it
            if self._form_dataset != choice.name:
                self.option_form.set_options(spec.options, values, file_filters=self._file_filters(choice.name))
                self._form_dataset = choice.name
            else:
                self.option_form.set_values(values)
        self.option_form.setVisible(bool(spec is not None and spec.options))

    def _sync_preprocessing(self) -> None:
        pre = self.project.preprocessing
        blockers = [QSignalBlocker(w) for w in (self.scaling_combo, self.pca_check, self.pca_spin,
                                                 self.test_size_spin, self.validation_size_spin,
                                                 self.stratify_check, self.seed_spin,
                                                 self.padding_check)]
        self.scaling_combo.setCurrentIndex(max(0, self.scaling_combo.findData(pre.scaling)))
        spec = self._spec()
        check = getattr(spec, "scaling_warning", None)
        warning = check(pre.scaling) if callable(check) else None
        self.scaling_warning.setText(f"⚠ {warning}" if warning else "")
        self.scaling_warning.setVisible(bool(warning))
        self.pca_check.setChecked(pre.pca is not None)
        if pre.pca is not None:
            self.pca_spin.setValue(pre.pca)
        self.pca_spin.setEnabled(pre.pca is not None)
        self.test_size_spin.setValue(round(pre.test_size * 100))
        self.validation_size_spin.setValue(round(pre.validation_size * 100))
        self.stratify_check.setChecked(pre.stratify)
        self.seed_spin.setValue(min(self.project.seed, self.seed_spin.maximum()))
        self.padding_check.setChecked(pre.padding)
        del blockers
        self._sync_lists()

    def _sync_lists(self) -> None:
        """The class and feature check lists: names from the loaded data, ticks from the project."""
        pre = self.project.preprocessing
        dataset = self._view.dataset if self._view is not None else None
        with QSignalBlocker(self.classes_list):
            self.classes_list.clear()
            classification = dataset is not None and dataset.task == "classification"
            if classification:
                kept = set(chosen_classes(dataset, pre.classes))
                for index, name in enumerate(dataset.class_names):
                    item = QListWidgetItem(str(name))
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if index in kept else Qt.CheckState.Unchecked)
                    item.setData(Qt.ItemDataRole.UserRole, index)
                    self.classes_list.addItem(item)
            self.classes_list.setVisible(classification)
            self.classes_label.setVisible(classification)
            self.classes_list.fit_height()
        with QSignalBlocker(self.features_list):
            self.features_list.clear()
            names = list(dataset.feature_names) if dataset is not None else []
            chosen = set(pre.features) if pre.features is not None else set(range(len(names)))
            for index, name in enumerate(names):
                item = QListWidgetItem(f"{index}: {name}")
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if index in chosen else Qt.CheckState.Unchecked)
                item.setData(Qt.ItemDataRole.UserRole, index)
                self.features_list.addItem(item)
        total = len(names)
        used = total if pre.features is None else len(pre.features)
        self.features_button.setText(f"all {total}" if pre.features is None else f"{used} of {total}")
        if not total:
            self.features_button.setText("all" if pre.features is None else f"{len(pre.features)} chosen")
        self.features_all_button.setEnabled(pre.features is not None)
        with QSignalBlocker(self.pca_spin):
            self.pca_spin.setMaximum(max(used if total else 4096, pre.pca or 1))
            if pre.pca is not None:
                self.pca_spin.setValue(pre.pca)

    # ===================================================== widgets → project
    def _edit(self, text: str, key: str | None = None, **fields: Any) -> None:
        """Assigns project fields as one (undoable) edit; a value the project refuses is shown."""
        project = self.project
        fields = {name: value for name, value in fields.items() if getattr(project, name) != value}
        if not fields:
            return
        try:
            if self.undo_stack is not None:
                self.undo_stack.push(ProjectEdit(project, fields, text, key))
            else:
                for name, value in fields.items():
                    setattr(project, name, value)
        except QMLStudioError as exc:
            self._show_error(str(exc))
            self._sync_preprocessing()

    def _replace_preprocessing(self, text: str, key: str | None = None, **changes: Any) -> None:
        try:
            new = dataclasses.replace(self.project.preprocessing, **changes)
        except QMLStudioError as exc:  # e.g. no class left: say so and show the project as it is
            self._show_error(str(exc))
            self._sync_preprocessing()
            return
        self._edit(text, key, preprocessing=new)

    def _on_dataset_chosen(self, index: int) -> None:
        name = self.dataset_combo.itemData(index)
        spec = self._spec(name)
        if spec is None or name == self.project.dataset.name:
            return
        try:
            options = spec.resolve({})
        except QMLStudioError:
            options = {}
        pre = dataclasses.replace(self.project.preprocessing, classes=None, features=None, pca=None)
        old_spec = self._spec()
        old_default = getattr(old_spec, "default_scaling", "minmax-pi")
        if pre.scaling == old_default:  # a scaling the user left as it was follows the new dataset's
            pre = dataclasses.replace(pre, scaling=getattr(spec, "default_scaling", pre.scaling))
        self._edit(f"Use the {spec.title} dataset", dataset=PluginChoice(name, options), preprocessing=pre)

    def _on_option_changed(self, name: str, value: Any) -> None:
        choice = self.project.dataset
        options = dict(choice.options)
        options[name] = value
        if name == "path":
            options.pop("sha256", None)  # a new file: the old hash does not apply
        spec = self._spec(choice.name)
        title = next((o.label for o in spec.options if o.name == name), name) if spec else name
        self._edit(f"Set {title.lower()}", f"dataset.{name}", dataset=PluginChoice(choice.name, options))

    def _on_classes_edited(self, _item: QListWidgetItem) -> None:
        names = []
        for row in range(self.classes_list.count()):
            item = self.classes_list.item(row)
            if item.checkState() == Qt.CheckState.Checked:
                names.append(item.text())
        classes = None if len(names) == self.classes_list.count() else tuple(names)
        if classes == ():
            self._show_error("keep at least two classes")
            self._sync_lists()
            return
        self._replace_preprocessing("Choose classes", classes=classes)

    def _toggle_features(self, shown: bool) -> None:
        self.features_list.setVisible(shown)
        self.features_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    def _on_features_edited(self, _item: QListWidgetItem) -> None:
        chosen = [
            self.features_list.item(row).data(Qt.ItemDataRole.UserRole)
            for row in range(self.features_list.count())
            if self.features_list.item(row).checkState() == Qt.CheckState.Checked
        ]
        if not chosen:
            self._show_error("keep at least one feature")
            self._sync_lists()
            return
        features = None if len(chosen) == self.features_list.count() else tuple(chosen)
        self._replace_preprocessing("Choose features", features=features)

    def _use_all_features(self) -> None:
        self._replace_preprocessing("Use every feature", features=None)

    def _on_scaling_edited(self, _index: int) -> None:
        scaling = self.scaling_combo.currentData()
        self._replace_preprocessing(f"Scale: {SCALING_TITLES[scaling]}", scaling=scaling)

    def _on_pca_edited(self, *_: Any) -> None:
        on = self.pca_check.isChecked()
        self.pca_spin.setEnabled(on)
        pca = self.pca_spin.value() if on else None
        self._replace_preprocessing(f"PCA to {pca}" if on else "No PCA", "preprocessing.pca", pca=pca)

    def _on_split_edited(self, *_: Any) -> None:
        self._replace_preprocessing(
            "Change the train/test split", "preprocessing.split",
            test_size=round(self.test_size_spin.value()) / 100.0,
            validation_size=round(self.validation_size_spin.value()) / 100.0, stratify=self.stratify_check.isChecked(),
        )

    def _on_seed_edited(self, value: int) -> None:
        self._edit("Change the seed", "seed", seed=int(value))

    def _on_padding_edited(self, on: bool) -> None:
        self._replace_preprocessing("Pad with zeros" if on else "No padding", padding=bool(on))

    def _apply_fit_pca(self) -> None:
        fit = self._view.fit if self._view is not None else None
        if fit is not None and fit.pca_to:
            self._replace_preprocessing(f"Reduce with PCA to {fit.pca_to}", pca=fit.pca_to)

    def _apply_fit_padding(self) -> None:
        self._replace_preprocessing("Pad with zeros", padding=True)

    def _accept_changed_file(self) -> None:
        if not self._changed_sha256:
            return
        choice = self.project.dataset
        self._edit("Use the changed data file", dataset=PluginChoice(choice.name, {**choice.options,
                                                                                   "sha256": self._changed_sha256}))

    def _on_axes_changed(self, _index: int) -> None:
        self.scatter.mode = self.axes_combo.currentData()
        self._draw_scatter()

    # ----------------------------------------------------------------- imports
    def _file_filters(self, dataset: str) -> dict[str, str]:
        """File-dialog filters for a dataset's path options: its importer plugin's, then the image formats'."""
        filters = dict(FILE_FILTERS.get(dataset, {}))
        for spec in self.registry.importers.values():
            if spec.dataset == dataset:
                filters.setdefault("path", spec.file_filter)
        return filters

    def import_with(self, importer: str) -> None:
        """Runs the plugin importer ``importer`` (see :mod:`qmlstudio.gui.dataset_imports`)."""
        run_importer(self, importer)

    def import_images(self) -> None:
        """Opens the image import dialog (IDX files or a folder of images)."""
        from qmlstudio.gui.image_import import ImageImportDialog

        current = self.project.dataset if self.project.dataset.name in ("idx", "image-folder") else None
        dialog = ImageImportDialog(self.registry, self, choice=current)
        if dialog.exec() and dialog.choice() is not None:
            self.use_dataset(dialog.choice(), "Import images")

    def use_dataset(self, choice: PluginChoice, text: str = "Change the dataset") -> None:
        """Makes ``choice`` the project's dataset (one undoable edit; class and feature choices reset)."""
        pre = dataclasses.replace(self.project.preprocessing, classes=None, features=None, pca=None)
        if choice.name == self.project.dataset.name:
            pre = dataclasses.replace(pre, pca=self.project.preprocessing.pca)
        self._edit(text, dataset=choice, preprocessing=pre)

    # ================================================================ loading
    def _schedule(self) -> None:
        self._timer.start()
        self._on_busy(True)

    def _request(self) -> DataRequest:
        project = self.project
        path = getattr(project, "path", None)
        return DataRequest(
            dataset=project.dataset,
            preprocessing=project.preprocessing,
            seed=project.seed,
            encoding=project.encoding,
            num_qubits=project.circuit.num_qubits,
            project_file=None if path is None else str(path),
            maps_features=model_maps_features(project),
        )

    def _start_load(self) -> None:
        request = self._request()
        if request == self._submitted:
            self._on_busy(self._runner.busy)
            return
        self._submitted = request
        cached = self._cache[1] if self._cache is not None and self._cache[0] == request.key else None
        registry = self.registry
        self._runner.submit(lambda: load_and_prepare(request, registry, cached))

    def _on_busy(self, _busy: bool) -> None:
        busy = self._runner.busy or self._timer.isActive()
        if self.busy_bar.isVisible() != busy:
            self.busy_bar.setVisible(busy)
            self.busy_changed.emit(busy)

    def _on_loaded(self, view: DataView) -> None:
        self._cache = (view.request.key, view.dataset)
        self._view = view
        self._changed_sha256 = ""
        self.accept_file_button.setVisible(False)
        self._sync_lists()
        self._show_error(view.problem or "")
        self._draw(view)
        self.data_loaded.emit(view)

    def _on_failed(self, exc: BaseException) -> None:
        message = error_message(exc)
        self._view = None
        self._cache = None
        self._submitted = None if isinstance(exc, DataFileChanged) else self._submitted
        self._changed_sha256 = exc.sha256 if isinstance(exc, DataFileChanged) else ""
        self.accept_file_button.setVisible(bool(self._changed_sha256))
        self._show_error(message)
        self._sync_lists()
        self._clear_preview()
        self.load_failed.emit(message)

def _disconnect(link: dict) -> None:
    project, callback = link.get("project"), link.get("callback")
    if project is not None and callback is not None:
        project.events.changed.disconnect(callback)
    link["project"] = link["callback"] = None


# ============================================================== screenshot
def screenshot_project() -> Project:
    """The project the documentation screenshot shows: digits 0–3, PCA to 4, on 4 qubits."""
    from qmlstudio.core.circuit import CircuitDesign
    from qmlstudio.core.project import Preprocessing

    project = Project.new(
        "digits",
        circuit=CircuitDesign(4),
        dataset=PluginChoice("digits", {"classes": "0,1,2,3"}),
        preprocessing=Preprocessing(pca=4, scaling="minmax-pi"),
    )
    project.mark_saved()
    return project


def save_screenshot(out: str, size: tuple[int, int] = (1180, 760), project: Project | None = None) -> str:
    """Renders the panel offscreen on :func:`screenshot_project` and writes a PNG to ``out``."""
    import os
    import time
    from pathlib import Path

    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a picture, never a window on the screen

    from qmlstudio.plugins.manager import load_plugins

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    try:
        from qmlstudio.gui.theme import style_sheet  # the application's look, where it exists

        app.setStyleSheet(style_sheet())
    except Exception:  # pragma: no cover - the theme is optional for the picture
        pass
    panel = DatasetPanel(project or screenshot_project(), load_plugins())
    panel.resize(*size)
    panel.show()
    panel.wait_idle()
    deadline = time.monotonic() + 0.6
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not panel.grab().save(str(target), "PNG"):
        raise SystemExit(f"cannot write {target}")
    panel.close()
    panel.deleteLater()
    return str(target)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] != "--screenshot":
        print("usage: python -m qmlstudio.gui.dataset_panel --screenshot OUT.png", file=sys.stderr)
        return 2
    print(f"wrote {save_screenshot(args[1])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
