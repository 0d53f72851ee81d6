"""The dataset panel's widgets: how the panel is laid out and how it draws the data.

:class:`DatasetPanelView` builds the widgets of :class:`~qmlstudio.gui.dataset_panel.DatasetPanel`
(which subclasses it and holds the controller: project edits, loading, imports) and draws
a loaded :class:`~qmlstudio.gui.dataset_loading.DataView` into them. ``_build`` connects the
widgets to the controller's slots (``_on_dataset_chosen``, ``_on_option_changed``...), which
the subclass defines.
"""

from __future__ import annotations

import html

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QResizeEvent
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
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.gui.dataset_loading import (
    DataView,
)
from qmlstudio.gui.dataset_imports import ImportMenu
from qmlstudio.gui.dataset_options import CheckChips, OptionForm
from qmlstudio.gui.dataset_preview import ClassBalance, ScatterPreview, ThumbnailGrid


__all__ = ["DatasetPanelView", "SCALING_TITLES", "SCALING_HELP"]

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
ERROR_COLOR = "#CE2C31"
WARN_BG, WARN_BORDER = "#FFF7E6", "#F5C26B"
OK_COLOR = "#218358"
MUTED = "#6F7782"


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


class DatasetPanelView(QWidget):
    """The widgets and drawing of the dataset panel (see the module docstring)."""

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
        y_train, y_val, y_test = p.y_train, p.y_val, p.y_test
        if p.task == "regression":  # show the targets in the data's own units, not scaled to [-1, 1]
            y_train, y_val, y_test = ((y + 1.0) / p.target_factor + p.target_offset for y in (y_train, y_val, y_test))
        self.scatter.show_data(p.x_train, y_train, p.x_test, y_test, p.feature_names, p.class_names, p.task,
                               x_val=p.x_val, y_val=y_val)
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
