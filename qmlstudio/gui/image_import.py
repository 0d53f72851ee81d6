"""Importing image data: MNIST-format IDX files or a folder of images, one sub-folder per class.

:class:`ImageImportDialog` shows the options of the ``idx`` or ``image-folder`` dataset
plugin as a form, reads the images with them in a worker thread as they change, and shows
thumbnails per class and the class balance, or the problem in red. OK gives the
``PluginChoice`` to put in the project. The reading is the plugin's own, exactly as
training will read the data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QProgressBar,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import PluginChoice
from qmlstudio.gui.dataset_options import OptionForm
from qmlstudio.gui.dataset_preview import ClassBalance, ThumbnailGrid
from qmlstudio.gui.background import BackgroundRunner, error_message

__all__ = ["IMAGE_DATASETS", "ImageCheck", "ImageImportDialog"]

#: The image dataset plugins the dialog offers, in order.
IMAGE_DATASETS = ("image-folder", "idx")
ERROR_COLOR = "#CE2C31"
OK_COLOR = "#218358"
_FILTERS = {
    "idx": {
        "images_path": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx3 *.gz);;All files (*)",
        "labels_path": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx1 *.gz);;All files (*)",
    }
}


@dataclass
class ImageCheck:
    """The outcome of reading images with some options: the dataset, or the problem."""

    choice: PluginChoice
    dataset: Any = None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return self.dataset is not None and not self.problem


def check_images(registry: Any, choice: PluginChoice) -> ImageCheck:
    """Reads the images ``choice`` names through its plugin; never raises."""
    try:
        data = registry.get("datasets", choice.name).create(choice.options)
    except Exception as exc:
        return ImageCheck(choice, problem=error_message(exc))
    if data.image_shape is None:
        return ImageCheck(choice, data, problem="these are not images (the data has no image shape)")
    return ImageCheck(choice, data)


class ImageImportDialog(QDialog):
    """Choose IDX files or an image folder; see thumbnails per class; OK gives the choice.

    :attr:`checked` ``(ImageCheck)`` is emitted after each read with the options shown.
    """

    checked = Signal(object)

    def __init__(self, registry: Any, parent: QWidget | None = None, choice: PluginChoice | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageImportDialog")
        self.setWindowTitle("Import images")
        self.setModal(True)
        self.resize(640, 600)
        self.registry = registry
        self._result: ImageCheck | None = None
        self._options: dict[str, dict] = {}

        self._runner = BackgroundRunner(self)
        self._runner.finished.connect(self._on_checked)
        self._runner.busy_changed.connect(lambda busy: self.busy_bar.setVisible(busy))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._start_check)

        self.kind_combo = QComboBox()
        self.kind_combo.setObjectName("imageKind")
        for name in IMAGE_DATASETS:
            spec = registry.datasets.get(name)
            if spec is not None:
                self.kind_combo.addItem(spec.title, name)
                self.kind_combo.setItemData(self.kind_combo.count() - 1, spec.description,
                                            Qt.ItemDataRole.ToolTipRole)
        self.description = QLabel()
        self.description.setWordWrap(True)
        self.description.setStyleSheet("color: #6F7782;")
        self.form = OptionForm()
        self.form.setObjectName("imageOptions")
        self.form.option_changed.connect(self._on_option_changed)
        self.status = QLabel()
        self.status.setObjectName("imageStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedHeight(4)
        self.busy_bar.setVisible(False)
        self.balance = ClassBalance()
        self.thumbnails = ThumbnailGrid()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.thumbnails)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Use these images")
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)

        top = QFormLayout()
        top.addRow("&Source", self.kind_combo)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.description)
        layout.addWidget(self.form)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.balance)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.buttons)

        self.kind_combo.currentIndexChanged.connect(self._on_kind_chosen)
        if choice is not None and self.kind_combo.findData(choice.name) >= 0:
            self._options[choice.name] = dict(choice.options)
            with QSignalBlocker(self.kind_combo):
                self.kind_combo.setCurrentIndex(self.kind_combo.findData(choice.name))
        self._on_kind_chosen()

    # ------------------------------------------------------------------ API
    def kind(self) -> str:
        return self.kind_combo.currentData()

    def set_kind(self, name: str) -> None:
        """Switches to the ``idx`` or ``image-folder`` source."""
        self.kind_combo.setCurrentIndex(self.kind_combo.findData(name))

    def set_options(self, **options: Any) -> None:
        """Sets options of the current source (as if typed) and reads the images again."""
        self._options.setdefault(self.kind(), {}).update(options)
        self.form.set_values(self._current_options())
        self._schedule()

    @property
    def last_check(self) -> ImageCheck | None:
        return self._result

    def problem(self) -> str:
        return self._result.problem if self._result is not None else ""

    def is_valid(self) -> bool:
        return self._result is not None and self._result.ok and not self._timer.isActive() and not self._runner.busy

    def choice(self) -> PluginChoice | None:
        """The dataset choice for the options shown, or None while they do not give images."""
        return self._result.choice if self.is_valid() else None

    # ------------------------------------------------------------ reactions
    def _spec(self) -> Any:
        return self.registry.datasets.get(self.kind())

    def _current_options(self) -> dict:
        spec = self._spec()
        given = self._options.get(self.kind(), {})
        try:
            return spec.resolve({k: v for k, v in given.items() if k != "sha256"})
        except QMLStudioError:
            return dict(given)

    def _on_kind_chosen(self, *_: Any) -> None:
        spec = self._spec()
        if spec is None:
            self.status.setText("⚠ No image dataset plugin is installed")
            self.status.setStyleSheet(f"color: {ERROR_COLOR};")
            return
        self.description.setText(spec.description)
        self.form.set_options(spec.options, self._current_options(), file_filters=_FILTERS.get(spec.name, {}))
        self._schedule()

    def _on_option_changed(self, name: str, value: Any) -> None:
        self._options.setdefault(self.kind(), {})[name] = value
        self._schedule()

    def _schedule(self) -> None:
        self._timer.start()
        self.busy_bar.setVisible(True)
        self.ok_button.setEnabled(False)

    def _start_check(self) -> None:
        choice = PluginChoice(self.kind(), self._current_options())
        registry = self.registry
        self._runner.submit(lambda: check_images(registry, choice))

    def _on_checked(self, result: ImageCheck) -> None:
        self._result = result
        data = result.dataset
        if result.ok:
            h, w = data.image_shape
            self.status.setText(f"✓ {data.num_samples} images of {h}×{w} pixels in {data.num_classes} classes")
            self.status.setStyleSheet(f"color: {OK_COLOR};")
            self.balance.set_counts(list(data.class_counts().items()))
            self.thumbnails.show_images(data.features, data.labels, data.class_names, data.image_shape)
        else:
            message = result.problem[:1].upper() + result.problem[1:]
            self.status.setText("⚠ " + message)
            self.status.setStyleSheet(f"color: {ERROR_COLOR};")
            self.balance.set_counts([])
            self.thumbnails.clear()
        self.ok_button.setEnabled(self.is_valid())
        self.checked.emit(result)

    def _accept_if_valid(self) -> None:
        if self.is_valid():
            self.accept()
