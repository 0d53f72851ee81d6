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

For documentation screenshots::

    python -m qmlstudio.gui.dataset_panel --screenshot docs/images/dataset-panel.png
"""

from __future__ import annotations

import dataclasses
import html
import sys
from typing import Any, Mapping, Sequence

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from PySide6.QtCore import QSignalBlocker, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent, QUndoStack
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
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
from qmlstudio.gui.dataset_imports import ImportMenu, run_importer
from qmlstudio.gui.dataset_options import CheckChips, OptionForm
from qmlstudio.gui.dataset_preview import ClassBalance, ScatterPreview, ThumbnailGrid
from qmlstudio.gui.dataset_worker import BackgroundRunner, error_message

__all__ = ["DatasetPanel", "ProjectEdit", "SCALING_TITLES", "save_screenshot"]

#: What each scaling is called in the panel.
SCALING_TITLES = {
    "minmax-pi": "Min-max to [0, π]",
    "minmax-sym": "Min-max to [−1, 1]",
    "standardize": "Standardize (mean 0, sd 1)",
    "none": "None (raw values)",
}
SCALING_HELP = (
    "Angle encodings read features as rotation angles, which repeat every 2π: min-max to [0, π] "
    "keeps distinct values apart. Each scaler is fitted on the training split only."
)
FILE_FILTERS = {
    "idx": {
        "images_path": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx3 *.gz);;All files (*)",
        "labels_path": "IDX files (*-ubyte *-ubyte.gz *.idx *.idx1 *.gz);;All files (*)",
    },
}
ERROR_COLOR = "#CE2C31"
WARN_BG, WARN_BORDER = "#FFF7E6", "#F5C26B"
OK_COLOR = "#218358"
MUTED = "#6F7782"
_RELOAD_DELAY_MS = 40


# ------------------------------------------------------------------------ undo
def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


def _muted(text: str = "") -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setStyleSheet(f"color: {MUTED};")
    return label


# ----------------------------------------------------------------------- panel
class DatasetPanel(QWidget):
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
    def _build(self) -> None:
        self.busy_bar = QProgressBar(self)
        self.busy_bar.setObjectName("datasetBusy")
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedHeight(3)
        self.busy_bar.setStyleSheet("QProgressBar { border: none; background: transparent; }"
                                    "QProgressBar::chunk { background: #0D74CE; }")
        self.busy_bar.setVisible(False)
        self.busy_bar.setToolTip("Loading and preparing the data…")

        settings = QWidget()
        settings.setObjectName("datasetSettings")
        column = QVBoxLayout(settings)
        column.setContentsMargins(10, 8, 10, 8)
        column.setSpacing(8)

        # ---- which dataset
        top = QHBoxLayout()
        self.dataset_combo = QComboBox()
        self.dataset_combo.setObjectName("datasetCombo")
        self.dataset_combo.setToolTip("The data to train on: a classic, generated data or your own file")
        for name, spec in self.registry.datasets.items():
            self.dataset_combo.addItem(spec.title, name)
            self.dataset_combo.setItemData(self.dataset_combo.count() - 1, spec.description,
                                           Qt.ItemDataRole.ToolTipRole)
        self.dataset_combo.currentIndexChanged.connect(self._on_dataset_chosen)
        self.reload_button = QToolButton()
        self.reload_button.setObjectName("datasetReload")
        self.reload_button.setText("↻")
        self.reload_button.setToolTip("Read the data again (after you changed a file on disk)")
        self.reload_button.clicked.connect(self.reload)
        top.addWidget(self.dataset_combo, 1)
        top.addWidget(self.reload_button)
        column.addWidget(_heading("Dataset"))
        column.addLayout(top)
        self.description = _muted()
        self.description.setObjectName("datasetDescription")
        column.addWidget(self.description)

        imports = QHBoxLayout()
        self.import_button = ImportMenu(self)
        self.import_images_button = QPushButton("Import images…")
        self.import_images_button.setObjectName("importImagesButton")
        self.import_images_button.setToolTip("Use MNIST-format IDX files or a folder of images (one sub-folder per class)")
        self.import_images_button.clicked.connect(self.import_images)
        imports.addWidget(self.import_button)
        imports.addWidget(self.import_images_button)
        imports.addStretch(1)
        column.addLayout(imports)

        self.option_form = OptionForm()
        self.option_form.setObjectName("datasetOptions")
        self.option_form.option_changed.connect(self._on_option_changed)
        column.addWidget(self.option_form)

        # ---- problems
        self.error_label = QLabel()
        self.error_label.setObjectName("datasetError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error_label.setStyleSheet(
            f"color: {ERROR_COLOR}; background: #FFF0F0; border: 1px solid #F3B5B7; border-radius: 4px; padding: 6px;"
        )
        self.error_label.setVisible(False)
        self.accept_file_button = QPushButton("Use the file as it is now")
        self.accept_file_button.setObjectName("acceptFileButton")
        self.accept_file_button.setToolTip("Record the file's new SHA-256 in the project, so training uses it")
        self.accept_file_button.setVisible(False)
        self.accept_file_button.clicked.connect(self._accept_changed_file)
        self._changed_sha256 = ""
        column.addWidget(self.error_label)
        column.addWidget(self.accept_file_button, 0, Qt.AlignmentFlag.AlignLeft)

        # ---- preprocessing
        box = QGroupBox("Preprocessing")
        box.setObjectName("preprocessingBox")
        form = QFormLayout(box)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setContentsMargins(8, 6, 8, 8)

        self.classes_list = CheckChips()
        self.classes_list.setObjectName("classesList")
        self.classes_list.setToolTip("The classes to train on; untick one to leave it out (e.g. digits 0 vs 1)")
        self.classes_list.itemChanged.connect(self._on_classes_edited)
        self.classes_label = QLabel("Classes")
        form.addRow(self.classes_label, self.classes_list)

        features_row = QHBoxLayout()
        self.features_button = QToolButton()
        self.features_button.setObjectName("featuresButton")
        self.features_button.setCheckable(True)
        self.features_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.features_button.setArrowType(Qt.ArrowType.RightArrow)
        self.features_button.setText("all")
        self.features_button.setToolTip("Show the feature columns, to train on some of them only")
        self.features_button.toggled.connect(self._toggle_features)
        self.features_all_button = QToolButton()
        self.features_all_button.setObjectName("featuresAllButton")
        self.features_all_button.setText("All")
        self.features_all_button.setToolTip("Use every feature")
        self.features_all_button.clicked.connect(self._use_all_features)
        features_row.addWidget(self.features_button, 1)
        features_row.addWidget(self.features_all_button)
        self.features_list = QListWidget()
        self.features_list.setObjectName("featuresList")
        self.features_list.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.features_list.setMaximumHeight(150)
        self.features_list.setVisible(False)
        self.features_list.itemChanged.connect(self._on_features_edited)
        features = QVBoxLayout()
        features.setSpacing(4)
        features.addLayout(features_row)
        features.addWidget(self.features_list)
        form.addRow("Features", features)

        self.scaling_combo = QComboBox()
        self.scaling_combo.setObjectName("scalingCombo")
        for value, title in SCALING_TITLES.items():
            self.scaling_combo.addItem(title, value)
        self.scaling_combo.setToolTip(SCALING_HELP)
        self.scaling_combo.currentIndexChanged.connect(self._on_scaling_edited)
        form.addRow("Scaling", self.scaling_combo)
        # Said beside the choice when a scaling destroys the data's structure (ad-hoc rescaled).
        self.scaling_warning = QLabel()
        self.scaling_warning.setObjectName("scalingWarning")
        self.scaling_warning.setWordWrap(True)
        self.scaling_warning.setStyleSheet("color: #9a5b00;")
        self.scaling_warning.setVisible(False)
        form.addRow("", self.scaling_warning)

        pca_row = QHBoxLayout()
        self.pca_check = QCheckBox("PCA to")
        self.pca_check.setObjectName("pcaCheck")
        self.pca_check.setToolTip("Reduce the features to their first principal components (fitted on the "
                                  "training split, after standardizing each feature)")
        self.pca_check.toggled.connect(self._on_pca_edited)
        self.pca_spin = QSpinBox()
        self.pca_spin.setObjectName("pcaSpin")
        self.pca_spin.setRange(1, 4096)
        self.pca_spin.setSuffix(" components")
        self.pca_spin.setKeyboardTracking(False)
        self.pca_spin.valueChanged.connect(self._on_pca_edited)
        pca_row.addWidget(self.pca_check)
        pca_row.addWidget(self.pca_spin, 1)
        form.addRow("Reduce", pca_row)

        split_row = QHBoxLayout()
        self.test_size_spin = QDoubleSpinBox()
        self.test_size_spin.setObjectName("testSizeSpin")
        self.test_size_spin.setRange(5, 95)
        self.test_size_spin.setDecimals(0)
        self.test_size_spin.setSingleStep(5)
        self.test_size_spin.setSuffix(" % test")
        self.test_size_spin.setKeyboardTracking(False)
        self.test_size_spin.setToolTip("The share of the samples held out to test the trained model")
        self.test_size_spin.valueChanged.connect(self._on_split_edited)
        self.validation_size_spin = QDoubleSpinBox()
        self.validation_size_spin.setObjectName("validationSizeSpin")
        self.validation_size_spin.setRange(0, 90)
        self.validation_size_spin.setDecimals(0)
        self.validation_size_spin.setSingleStep(5)
        self.validation_size_spin.setSuffix(" % validation")
        self.validation_size_spin.setKeyboardTracking(False)
        self.validation_size_spin.setToolTip(
            "The share of the samples held out for validation: the live curves and early stopping look at it; "
            "the test split is scored once, when a run ends (0: no validation split)"
        )
        self.validation_size_spin.valueChanged.connect(self._on_split_edited)
        self.stratify_check = QCheckBox("Stratify")
        self.stratify_check.setObjectName("stratifyCheck")
        self.stratify_check.setToolTip("Keep the class proportions the same in the training and test splits")
        self.stratify_check.toggled.connect(self._on_split_edited)
        split_row.addWidget(self.test_size_spin, 1)
        split_row.addWidget(self.validation_size_spin, 1)
        split_row.addWidget(self.stratify_check)
        form.addRow("Split", split_row)

        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("seedSpin")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip("Seeds the train/test split, the PCA and the training's initial weights: "
                                  "the same seed gives the same run")
        self.seed_spin.valueChanged.connect(self._on_seed_edited)
        form.addRow("Seed", self.seed_spin)

        self.padding_check = QCheckBox("Pad with zeros to fill the qubits")
        self.padding_check.setObjectName("paddingCheck")
        self.padding_check.setToolTip("Add zero features until the encoding uses every qubit of the circuit")
        self.padding_check.toggled.connect(self._on_padding_edited)
        form.addRow("", self.padding_check)
        column.addWidget(box)

        # ---- qubit fit
        self.fit_frame = QFrame()
        self.fit_frame.setObjectName("qubitFit")
        self.fit_frame.setStyleSheet(
            f"QFrame#qubitFit {{ background: {WARN_BG}; border: 1px solid {WARN_BORDER}; border-radius: 4px; }}"
        )
        fit_layout = QVBoxLayout(self.fit_frame)
        fit_layout.setContentsMargins(8, 6, 8, 6)
        self.fit_label = QLabel()
        self.fit_label.setObjectName("qubitFitLabel")
        self.fit_label.setWordWrap(True)
        fit_buttons = QHBoxLayout()
        self.pca_button = QPushButton()
        self.pca_button.setObjectName("fitPcaButton")
        self.pca_button.clicked.connect(self._apply_fit_pca)
        self.pad_button = QPushButton("Pad with zeros")
        self.pad_button.setObjectName("fitPadButton")
        self.pad_button.setToolTip("Add zero features until the encoding uses every qubit")
        self.pad_button.clicked.connect(self._apply_fit_padding)
        fit_buttons.addWidget(self.pca_button)
        fit_buttons.addWidget(self.pad_button)
        fit_buttons.addStretch(1)
        fit_layout.addWidget(self.fit_label)
        fit_layout.addLayout(fit_buttons)
        self.fit_frame.setVisible(False)
        self.fit_ok_label = QLabel()
        self.fit_ok_label.setObjectName("qubitFitOk")
        self.fit_ok_label.setWordWrap(True)
        self.fit_ok_label.setStyleSheet(f"color: {OK_COLOR};")
        self.fit_ok_label.setVisible(False)
        column.addWidget(self.fit_frame)
        column.addWidget(self.fit_ok_label)
        column.addStretch(1)

        scroll = QScrollArea()
        scroll.setObjectName("datasetSettingsScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(settings)
        settings.setMinimumWidth(280)

        # ---- preview
        preview = QWidget()
        preview.setObjectName("datasetPreview")
        pv = QVBoxLayout(preview)
        pv.setContentsMargins(10, 8, 10, 8)
        pv.setSpacing(6)
        pv.addWidget(_heading("Summary"))
        self.summary_label = QLabel("No data yet")
        self.summary_label.setObjectName("datasetSummary")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextFormat(Qt.TextFormat.RichText)
        pv.addWidget(self.summary_label)
        self.balance = ClassBalance()
        pv.addWidget(self.balance)

        self.images_heading = _heading("Samples")
        self.thumbnails = ThumbnailGrid()
        self.thumbnail_scroll = QScrollArea()
        self.thumbnail_scroll.setWidgetResizable(True)
        self.thumbnail_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.thumbnail_scroll.setWidget(self.thumbnails)
        self.thumbnail_scroll.setMinimumHeight(90)
        images = QWidget()
        il = QVBoxLayout(images)
        il.setContentsMargins(0, 0, 0, 0)
        il.addWidget(self.images_heading)
        il.addWidget(self.thumbnail_scroll, 1)
        self.images_box = images
        images.setVisible(False)

        plot = QWidget()
        pl = QVBoxLayout(plot)
        pl.setContentsMargins(0, 0, 0, 0)
        plot_head = QHBoxLayout()
        plot_head.addWidget(_heading("Scatter"))
        plot_head.addStretch(1)
        self.axes_combo = QComboBox()
        self.axes_combo.setObjectName("scatterAxes")
        self.axes_combo.addItem("Auto axes", "auto")
        self.axes_combo.addItem("First two features", "features")
        self.axes_combo.addItem("Principal components", "pca")
        self.axes_combo.setToolTip("What the plot's axes show: the first two prepared features, or the first "
                                   "two principal components of the prepared data (for the picture only)")
        self.axes_combo.currentIndexChanged.connect(self._on_axes_changed)
        plot_head.addWidget(self.axes_combo)
        pl.addLayout(plot_head)
        self.scatter = ScatterPreview()
        self.scatter_legend = QLabel()
        self.scatter_legend.setObjectName("scatterLegend")
        self.scatter_legend.setWordWrap(True)
        self.scatter_legend.setTextFormat(Qt.TextFormat.RichText)
        pl.addWidget(self.scatter_legend)
        pl.addWidget(self.scatter, 1)

        self.preview_splitter = QSplitter(Qt.Orientation.Vertical)
        self.preview_splitter.setChildrenCollapsible(False)
        self.preview_splitter.addWidget(images)
        self.preview_splitter.addWidget(plot)
        self.preview_splitter.setStretchFactor(0, 2)
        self.preview_splitter.setStretchFactor(1, 3)
        pv.addWidget(self.preview_splitter, 1)

        self.splitter = QSplitter(Qt.Orientation.Vertical, self)
        self.splitter.setObjectName("datasetSplitter")
        self.splitter.setChildrenCollapsible(False)
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(preview)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)

        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(0)
        outer.addWidget(self.busy_bar)
        outer.addWidget(self.splitter, 1)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        # Settings beside the preview when there is room, above it in a narrow dock.
        wide = event.size().width() >= 720 and event.size().width() > 1.1 * event.size().height()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation:
            self.splitter.setOrientation(orientation)
            if wide:
                self.splitter.setSizes([360, max(300, event.size().width() - 360)])

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

    def _show_error(self, message: str) -> None:
        self._error = message
        text = message[:1].upper() + message[1:] if message else ""
        self.error_label.setText(text)
        self.error_label.setVisible(bool(message))

    # ================================================================ drawing
    def _clear_preview(self) -> None:
        self.summary_label.setText("No data to show.")
        self.balance.set_counts([])
        self.scatter.clear_data()
        self.scatter_legend.setText("")
        self.thumbnails.clear()
        self.images_box.setVisible(False)
        self.fit_frame.setVisible(False)
        self.fit_ok_label.setVisible(False)

    def _draw(self, view: DataView) -> None:
        dataset, prepared = view.dataset, view.prepared
        classes = view.class_indices
        # Summary
        lines = [html.escape(dataset.description)] if dataset.description else []
        if prepared is not None:
            n_train, n_test, n_val = len(prepared.y_train), len(prepared.y_test), len(prepared.y_val)
            steps = []
            pre = view.request.preprocessing
            if pre.features is not None:
                steps.append(f"{len(pre.features)} chosen")
            if pre.pca is not None:
                steps.append(f"PCA to {pre.pca}")
            if pre.scaling != "none":
                steps.append(SCALING_TITLES[pre.scaling].split(" (")[0].lower())
            if view.fit is not None and view.fit.padded_to:
                steps.append(f"zero-padded to {view.fit.padded_to}")
            how = f" ({', '.join(steps)})" if steps else ""
            lines.append(
                f"<b>{n_train + n_val + n_test}</b> samples: <b>{n_train}</b> training, "
                + (f"<b>{n_val}</b> validation, " if n_val else "") + f"<b>{n_test}</b> test · "
                f"<b>{dataset.num_features}</b> features → <b>{prepared.num_features}</b>{html.escape(how)}"
            )
            if prepared.task == "classification":
                counts = [int((prepared.y_train == c).sum() + (prepared.y_val == c).sum() + (prepared.y_test == c).sum())
                          for c in range(prepared.num_classes)]
                self.balance.set_counts(list(zip(prepared.class_names, counts)))
            else:
                self.balance.set_counts([])
                lines.append("Regression: the targets are scaled to [−1, 1] for training")
        else:
            lines.append(f"<b>{dataset.num_samples}</b> samples · <b>{dataset.num_features}</b> features")
            counts = dataset.class_counts()
            self.balance.set_counts([(n, counts[n]) for n in (dataset.class_names[c] for c in classes)])
        self.summary_label.setText("<br>".join(lines))

        # Thumbnails of image data, per kept class
        if dataset.image_shape is not None:
            self.thumbnails.show_images(dataset.features, dataset.labels, dataset.class_names,
                                        dataset.image_shape, classes=classes)
            self.images_box.setVisible(True)
            if view.request.key != self._shown_key:  # a new dataset: fit the thumbnails, later keep the user's split
                QTimer.singleShot(0, self, self._size_thumbnails)
        else:
            self.thumbnails.clear()
            self.images_box.setVisible(False)
        self._shown_key = view.request.key
        self._draw_scatter()
        self._draw_fit(view)

    def _size_thumbnails(self) -> None:
        """Gives the thumbnails the height they need, up to half of the preview."""
        total = sum(self.preview_splitter.sizes())
        if total <= 0:
            return
        wanted = self.thumbnails.heightForWidth(self.thumbnail_scroll.viewport().width()) + 30
        top = min(wanted, total // 2)
        self.preview_splitter.setSizes([top, total - top])

    def _draw_scatter(self) -> None:
        view = self._view
        if view is None or view.prepared is None:
            self.scatter.clear_data()
            self.scatter_legend.setText("")
            return
        p = view.prepared
        y_train, y_test = p.y_train, p.y_test
        if p.task == "regression":  # show the targets in the data's own units, not scaled to [-1, 1]
            y_train = (y_train + 1.0) / p.target_factor + p.target_offset
            y_test = (y_test + 1.0) / p.target_factor + p.target_offset
        self.scatter.show_data(p.x_train, y_train, p.x_test, y_test, p.feature_names, p.class_names, p.task)
        self.scatter_legend.setText(self.scatter.legend_html())

    def _draw_fit(self, view: DataView) -> None:
        fit = view.fit
        if fit is None:
            self.fit_frame.setVisible(False)
            self.fit_ok_label.setVisible(bool(view.notes))
            self.fit_ok_label.setText("; ".join(view.notes))
            self.fit_ok_label.setStyleSheet(f"color: {MUTED};")
            return
        if fit.fits:
            self.fit_frame.setVisible(False)
            text = fit.message or (f"✓ {fit.features} feature{'s' * (fit.features != 1)} fill the "
                                   f"{fit.qubits} qubit{'s' * (fit.qubits != 1)} of the circuit "
                                   f"({fit.encoding} encoding).")
            self.fit_ok_label.setText(text if text.startswith("✓") else "✓ " + text)
            self.fit_ok_label.setStyleSheet(f"color: {OK_COLOR};")
            self.fit_ok_label.setVisible(True)
            return
        self.fit_ok_label.setVisible(False)
        self.fit_label.setText("⚠ " + fit.message)
        if fit.pca_to:
            verb = "Reduce with" if fit.pca_to < fit.features else "Use"
            self.pca_button.setText(f"{verb} PCA to {fit.pca_to}")
            self.pca_button.setToolTip(f"Set PCA to {fit.pca_to} components, which the encoding puts on "
                                       f"at most {fit.qubits} qubits")
        self.pca_button.setVisible(bool(fit.pca_to))
        self.pad_button.setVisible(fit.can_pad)
        self.fit_frame.setVisible(True)


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
