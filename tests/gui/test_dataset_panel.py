"""The dataset panel (qmlstudio.gui.dataset_panel) with real widgets, offscreen.

The panel is a view of a project: tests change widgets and check the project, change the
project and check the widgets, and wait on the panel's signals for the background loads.
"""

from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QUndoStack

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.project import PluginChoice, Project
from qmlstudio.gui.dataset_panel import DatasetPanel, ProjectEdit
from qmlstudio.gui.image_import import ImageImportDialog
from qmlstudio.plugins import DatasetSpec, hookimpl
from qmlstudio.plugins.manager import load_plugins

TIMEOUT = 20000
BUILTIN = {
    # name: (samples, raw features, classes)
    "moons": (200, 2, 2),
    "circles": (200, 2, 2),
    "xor": (200, 2, 2),
    "blobs": (200, 2, 3),
    "iris": (150, 4, 3),
    "wine": (178, 13, 3),
    "breast-cancer": (569, 30, 2),
    "digits": (360, 64, 2),
    "ad-hoc": (60, 2, 2),
}
FILE_DATASETS = {"csv": "choose a CSV file", "idx": "choose the IDX file of images", "image-folder": "choose a folder"}


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def make_project(qubits: int = 2, **settings) -> Project:
    project = Project.new("test", circuit=CircuitDesign(qubits), **settings)
    project.mark_saved()
    return project


@pytest.fixture
def panel(qtbot, registry):
    """A panel on a fresh 2-qubit moons project, its first load done."""
    widget = DatasetPanel(make_project(), registry)
    qtbot.addWidget(widget)
    with qtbot.waitSignal(widget.data_loaded, timeout=TIMEOUT):
        widget.show()
    yield widget
    widget.wait_idle()


def loaded(name: str):
    return lambda view: view.request.dataset.name == name


# ------------------------------------------------------------------ datasets
def test_combo_lists_every_dataset_plugin(panel, registry):
    names = [panel.dataset_combo.itemData(i) for i in range(panel.dataset_combo.count())]
    assert names == list(registry.datasets)
    assert {"image-folder", "csv", "idx", *BUILTIN} <= set(names)
    assert panel.dataset_combo.currentData() == "moons"


@pytest.mark.parametrize("name", sorted(BUILTIN))
def test_each_builtin_dataset_loads_and_is_previewed(qtbot, panel, name):
    samples, features, classes = BUILTIN[name]
    index = panel.dataset_combo.findData(name)
    if name == "moons":  # already loaded: load another first, then come back
        with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("iris")):
            panel.dataset_combo.setCurrentIndex(panel.dataset_combo.findData("iris"))
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded(name)) as blocker:
        panel.dataset_combo.setCurrentIndex(index)
    view = blocker.args[0]
    assert panel.project.dataset.name == name
    assert view.dataset.num_samples == samples
    assert view.dataset.num_features == features
    assert view.prepared is not None and view.prepared.num_classes == classes
    assert panel.error_text() == ""
    train, validation, test = panel.scatter.point_counts()
    assert (train, validation, test) == (len(view.prepared.y_train), len(view.prepared.y_val), len(view.prepared.y_test))
    assert train + validation + test == samples
    assert abs(validation - 0.2 * samples) <= 1  # File ▸ New holds a fifth out for validation
    assert sum(count for _, count in panel.balance.counts()) == samples
    assert panel.classes_list.count() == classes
    assert f"<b>{samples}</b> samples" in panel.summary_label.text()
    assert panel.images_box.isVisibleTo(panel) == (name == "digits")
    if name == "digits":
        assert [name for name, _ in panel.thumbnails.class_rows()] == ["0", "1"]
        assert all(count > 0 for _, count in panel.thumbnails.class_rows())


@pytest.mark.parametrize("name", sorted(FILE_DATASETS))
def test_file_datasets_without_a_file_say_what_to_choose(qtbot, panel, name):
    with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT) as blocker:
        panel.dataset_combo.setCurrentIndex(panel.dataset_combo.findData(name))
    assert FILE_DATASETS[name] in blocker.args[0]
    assert panel.error_label.isVisibleTo(panel)
    assert FILE_DATASETS[name].lower() in panel.error_label.text().lower()
    assert panel.view is None
    assert panel.scatter.point_counts() == (0, 0, 0)


def test_option_form_follows_the_descriptors_and_edits_the_project(qtbot, panel):
    from PySide6.QtWidgets import QDoubleSpinBox, QSpinBox

    samples = panel.option_form.editor("samples")
    noise = panel.option_form.editor("noise")
    assert isinstance(samples, QSpinBox) and (samples.minimum(), samples.maximum()) == (10, 100_000)
    assert isinstance(noise, QDoubleSpinBox) and noise.maximum() == 2.0
    assert "Gaussian noise" in noise.toolTip()
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        samples.setValue(60)
    assert panel.project.dataset.options["samples"] == 60
    assert blocker.args[0].dataset.num_samples == 60
    assert sum(panel.scatter.point_counts()) == 60


def test_a_project_change_from_elsewhere_updates_the_panel(qtbot, panel):
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("wine")):
        panel.project.dataset = PluginChoice("wine")
    assert panel.dataset_combo.currentData() == "wine"
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.project.preprocessing = dataclasses.replace(panel.project.preprocessing, pca=3, scaling="standardize")
    assert panel.pca_check.isChecked() and panel.pca_spin.value() == 3
    assert panel.scaling_combo.currentData() == "standardize"
    assert blocker.args[0].prepared.feature_names == ["PC1", "PC2", "PC3"]
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.project.seed = 123
    assert panel.seed_spin.value() == 123


# -------------------------------------------------------------- preprocessing
def test_preprocessing_widgets_change_the_project(qtbot, panel):
    project = panel.project
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("iris")):
        panel.dataset_combo.setCurrentIndex(panel.dataset_combo.findData("iris"))

    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.scaling_combo.setCurrentIndex(panel.scaling_combo.findData("minmax-sym"))
    assert project.preprocessing.scaling == "minmax-sym"
    x = blocker.args[0].prepared.x_train
    assert x.min() == pytest.approx(-1) and x.max() == pytest.approx(1)

    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.pca_spin.setValue(2)
        panel.pca_check.setChecked(True)
    assert project.preprocessing.pca == 2

    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.test_size_spin.setValue(40)
    assert project.preprocessing.test_size == pytest.approx(0.4)
    assert len(blocker.args[0].prepared.y_test) == 60

    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.stratify_check.setChecked(False)
    assert project.preprocessing.stratify is False

    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.seed_spin.setValue(99)
    assert project.seed == 99

    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.padding_check.setChecked(True)
    assert project.preprocessing.padding is True

    # class subset: untick "virginica"
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.classes_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    assert project.preprocessing.classes == ("setosa", "versicolor")
    assert blocker.args[0].prepared.class_names == ["setosa", "versicolor"]
    assert [n for n, _ in panel.balance.counts()] == ["setosa", "versicolor"]

    # feature selection: drop the first feature, then take all again
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.features_button.setChecked(True)
        panel.features_list.item(0).setCheckState(Qt.CheckState.Unchecked)
    assert project.preprocessing.features == (1, 2, 3)
    assert panel.features_button.text() == "3 of 4"
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.features_all_button.click()
    assert project.preprocessing.features is None
    assert panel.features_button.text() == "all 4"


def test_a_preparation_problem_is_shown_inline_and_can_be_undone(qtbot, panel):
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("iris")):
        panel.dataset_combo.setCurrentIndex(panel.dataset_combo.findData("iris"))
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.classes_list.item(1).setCheckState(Qt.CheckState.Unchecked)
        panel.classes_list.item(2).setCheckState(Qt.CheckState.Unchecked)
    view = blocker.args[0]
    assert view.prepared is None and "at least two classes" in view.problem
    assert "at least two classes" in panel.error_label.text()
    assert panel.classes_list.count() == 3  # the user can tick them again
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.classes_list.item(1).setCheckState(Qt.CheckState.Checked)
    assert blocker.args[0].prepared is not None
    assert not panel.error_label.isVisibleTo(panel)


def test_edits_are_named_undo_commands(qtbot, registry):
    stack = QUndoStack()
    project = make_project()
    panel = DatasetPanel(project, registry, undo_stack=stack)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.show()
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("wine")):
        panel.dataset_combo.setCurrentIndex(panel.dataset_combo.findData("wine"))
    assert stack.undoText() == "Use the Wine dataset"
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.test_size_spin.setValue(30)
        panel.test_size_spin.setValue(35)  # merged with the step before
    assert stack.count() == 2 and stack.undoText() == "Change the train/test split"
    assert isinstance(stack.command(1), ProjectEdit)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        stack.undo()
    assert project.preprocessing.test_size == 0.25
    assert panel.test_size_spin.value() == 25
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("moons")):
        stack.undo()
    assert project.dataset.name == "moons" and panel.dataset_combo.currentData() == "moons"
    panel.wait_idle()


# ------------------------------------------------------------------ qubit fit
def test_too_many_features_offers_pca(qtbot, registry):
    panel = DatasetPanel(make_project(4, dataset=PluginChoice("wine")), registry)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.show()
    fit = blocker.args[0].fit
    assert (fit.features, fit.needed, fit.qubits, fit.pca_to) == (13, 13, 4, 4)
    assert panel.fit_frame.isVisibleTo(panel)
    assert "needs 13 qubits for 13 features, but the circuit has 4" in panel.fit_label.text()
    assert panel.pca_button.isVisibleTo(panel) and panel.pca_button.text() == "Reduce with PCA to 4"
    assert not panel.pad_button.isVisibleTo(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.pca_button.click()
    assert panel.project.preprocessing.pca == 4
    assert blocker.args[0].prepared.num_features == 4 and blocker.args[0].fit.fits
    assert not panel.fit_frame.isVisibleTo(panel)
    assert "4 features fill the 4 qubits" in panel.fit_ok_label.text()
    panel.wait_idle()


def test_too_few_features_offers_padding(qtbot, registry):
    panel = DatasetPanel(make_project(4), registry)  # moons: 2 features, 4 qubits
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.show()
    fit = blocker.args[0].fit
    assert fit.needed == 2 and fit.can_pad and fit.pca_to is None
    assert "puts 2 features on only 2 of them" in panel.fit_label.text()
    assert panel.pad_button.isVisibleTo(panel) and not panel.pca_button.isVisibleTo(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.pad_button.click()
    view = blocker.args[0]
    assert panel.project.preprocessing.padding is True
    assert view.prepared.num_features == 4 and view.fit.padded_to == 4
    assert np.all(view.prepared.x_train[:, 2:] == 0)
    assert "padded with zeros to 4" in panel.fit_ok_label.text()
    # the circuit grows: the panel follows the qubit count
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.project.circuit = CircuitDesign(6)
    assert blocker.args[0].prepared.num_features == 6
    panel.wait_idle()


def test_amplitude_encoding_counts_qubits_its_own_way(qtbot, registry):
    project = make_project(2, dataset=PluginChoice("wine"), encoding=PluginChoice("amplitude"))
    panel = DatasetPanel(project, registry)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.show()
    assert blocker.args[0].fit.needed == 4  # 13 amplitudes need 4 qubits
    assert panel.pca_button.text() == "Reduce with PCA to 4"  # 4 amplitudes fit 2 qubits
    panel.wait_idle()


# -------------------------------------------------------------- image data
def write_idx(folder: Path, count: int = 12, side: int = 4) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    labels = np.arange(count, dtype=np.uint8) % 3
    images = rng.integers(0, 256, size=(count, side, side), dtype=np.uint8)
    images_path, labels_path = folder / "images-idx3-ubyte", folder / "labels-idx1-ubyte"
    images_path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">III", count, side, side) + images.tobytes())
    labels_path.write_bytes(b"\x00\x00\x08\x01" + struct.pack(">I", count) + labels.tobytes())
    return images_path, labels_path


def test_idx_files_load_through_the_option_form(qtbot, panel, tmp_path):
    images_path, labels_path = write_idx(tmp_path)
    with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT):
        panel.dataset_combo.setCurrentIndex(panel.dataset_combo.findData("idx"))
    for name, path in (("images_path", images_path), ("labels_path", labels_path)):
        editor = panel.option_form.editor(name)
        editor.line.setText(str(path))
        editor.line.editingFinished.emit()
        panel.wait_idle()
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.reload()
    view = blocker.args[0]
    assert panel.project.dataset.options["labels_path"] == str(labels_path)
    assert view.dataset.image_shape == (4, 4) and view.dataset.num_samples == 8  # classes "0,1"
    assert panel.thumbnails.class_rows() == [("0", 4), ("1", 4)]
    assert panel.images_box.isVisibleTo(panel)


def test_a_broken_idx_file_is_a_message(qtbot, panel, tmp_path):
    images_path, labels_path = write_idx(tmp_path)
    images_path.write_bytes(images_path.read_bytes()[:-5])
    with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT) as blocker:
        panel.project.dataset = PluginChoice("idx", {"images_path": str(images_path), "labels_path": str(labels_path)})
    assert "is truncated" in blocker.args[0]
    assert "is truncated" in panel.error_label.text()


def make_image_folder(root: Path) -> Path:
    Image = pytest.importorskip("PIL.Image")
    for k, name in enumerate(["cat", "dog"]):
        (root / name).mkdir(parents=True)
        for i in range(3):
            pixels = np.full((10, 10), 60 + 120 * k, dtype=np.uint8)
            pixels[i] = 255 - pixels[i]
            Image.fromarray(pixels, "L").save(root / name / f"{i}.png")
    return root


def test_image_folder_through_the_import_dialog(qtbot, panel, tmp_path):
    folder = make_image_folder(tmp_path / "pets")
    dialog = ImageImportDialog(panel.registry, panel)
    qtbot.addWidget(dialog)
    assert dialog.kind() == "image-folder"
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT) as blocker:
        dialog.set_options(folder=str(tmp_path / "nothing"))
    assert "there is no folder" in blocker.args[0].problem and not dialog.ok_button.isEnabled()
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT) as blocker:
        dialog.set_options(folder=str(folder), size=5)
    assert blocker.args[0].ok and dialog.ok_button.isEnabled()
    assert dialog.thumbnails.class_rows() == [("cat", 3), ("dog", 3)]
    choice = dialog.choice()
    assert choice.name == "image-folder" and choice.options["size"] == 5
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.use_dataset(choice)
    view = blocker.args[0]
    assert view.dataset.image_shape == (5, 5) and view.dataset.class_names == ["cat", "dog"]
    assert panel.thumbnails.class_rows() == [("cat", 3), ("dog", 3)]
    assert panel.option_form.editor("folder").text() == str(folder)
    dialog.close()


def test_image_dialog_reads_idx_files(qtbot, registry, tmp_path):
    images_path, labels_path = write_idx(tmp_path)
    dialog = ImageImportDialog(registry)
    qtbot.addWidget(dialog)
    dialog.set_kind("idx")
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT, check_params_cb=lambda r: r.ok) as blocker:
        dialog.set_options(images_path=str(images_path), labels_path=str(labels_path), classes="")
    assert blocker.args[0].dataset.num_classes == 3
    assert dialog.choice().name == "idx"


# ------------------------------------------------------------ robustness
def test_a_changed_data_file_can_be_accepted(qtbot, registry, tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    choice = PluginChoice("csv", {"path": str(table), "sha256": "0" * 64})
    panel = DatasetPanel(make_project(dataset=choice), registry)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT) as blocker:
        panel.show()
    assert "has changed since it was chosen" in blocker.args[0]
    assert panel.accept_file_button.isVisibleTo(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.accept_file_button.click()
    from qmlstudio.core.project import dataset_file_problem, file_sha256

    assert panel.project.dataset.options["sha256"] == file_sha256(table)
    assert dataset_file_problem(panel.project) is None
    assert not panel.accept_file_button.isVisibleTo(panel)
    panel.wait_idle()


class _Broken:
    @hookimpl
    def qmlstudio_datasets(self):
        return [DatasetSpec(name="broken-data", title="Broken", factory=_raise)]


def _raise():
    raise RuntimeError("the plugin fell over")


def test_a_plugin_that_raises_is_a_message_not_a_crash(qtbot, registry):
    registry.register(_Broken(), "broken-test-plugin")
    try:
        panel = DatasetPanel(make_project(dataset=PluginChoice("broken-data")), registry)
        qtbot.addWidget(panel)
        with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT) as blocker:
            panel.show()
        assert blocker.args[0].endswith("RuntimeError: the plugin fell over") and "broken-data" in blocker.args[0]
        panel.wait_idle()
    finally:
        registry.unregister("broken-test-plugin")


def test_an_unknown_dataset_plugin_is_named(qtbot, registry):
    panel = DatasetPanel(make_project(dataset=PluginChoice("not-installed")), registry)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.load_failed, timeout=TIMEOUT) as blocker:
        panel.show()
    assert "not-installed" in blocker.args[0]
    assert "not installed" in panel.dataset_combo.currentText()
    panel.wait_idle()


def test_set_project_follows_the_new_project_only(qtbot, panel):
    old = panel.project
    new = make_project(dataset=PluginChoice("iris"))
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("iris")):
        panel.set_project(new)
    assert panel.project is new and panel.dataset_combo.currentData() == "iris"
    old.dataset = PluginChoice("wine")  # the old project no longer drives the panel
    assert panel.dataset_combo.currentData() == "iris"
    assert len(old.events.changed) == 0


def test_a_deleted_panel_stops_following_its_project(qtbot, registry):
    project = make_project()
    panel = DatasetPanel(project, registry)
    panel.wait_idle()
    assert len(project.events.changed) == 1
    panel.deleteLater()
    qtbot.waitUntil(lambda: len(project.events.changed) == 0, timeout=5000)
    project.dataset = PluginChoice("iris")  # no crash, nobody listening


def test_busy_indicator_shows_while_loading(qtbot, panel):
    seen = []
    panel.busy_changed.connect(seen.append)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("iris")):
        panel.dataset_combo.setCurrentIndex(panel.dataset_combo.findData("iris"))
        assert panel.busy_bar.isVisibleTo(panel)
    qtbot.waitUntil(lambda: not panel.busy_bar.isVisibleTo(panel), timeout=TIMEOUT)
    assert seen[0] is True and seen[-1] is False


def test_screenshot_renders_the_digits_thumbnails(tmp_path):
    from PySide6.QtGui import QImage

    from qmlstudio.gui.dataset_panel import save_screenshot

    out = save_screenshot(str(tmp_path / "panel.png"), size=(900, 640))
    image = QImage(out)
    assert (image.width(), image.height()) == (900, 640)


def test_regression_data_is_coloured_by_target(qtbot, panel, tmp_path):
    table = tmp_path / "r.csv"
    table.write_text("a,b,t\n" + "".join(f"{i},{i % 5},{i * 0.25}\n" for i in range(40)))
    choice = PluginChoice("csv", {"path": str(table), "task": "regression"})
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        panel.use_dataset(choice)
    view = blocker.args[0]
    assert view.prepared.task == "regression" and view.problem is None
    assert panel.balance.counts() == [] and not panel.classes_list.isVisibleTo(panel)
    assert sum(panel.scatter.point_counts()) == 40
    assert "target 0 … 9.75" in panel.scatter_legend.text().replace("&nbsp;", " ")


def test_typing_a_validation_share_changes_the_validation_split(qtbot, panel):
    """Real keyboard input in the validation box: the project gets the share, the summary
    counts the validation rows, the scatter draws them (diamonds, in the legend), and an
    impossible split is refused with a message."""
    from PySide6.QtCore import Qt

    spin = panel.validation_size_spin
    assert spin.value() == 20 and panel.project.preprocessing.validation_size == pytest.approx(0.2)  # File ▸ New's
    assert panel.scatter.point_counts() == (110, 40, 50)  # of the 200 moons
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        spin.setFocus()
        spin.selectAll()
        qtbot.keyClicks(spin.lineEdit(), "30")
        qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert panel.project.preprocessing.validation_size == pytest.approx(0.3)
    prepared = blocker.args[0].prepared
    assert len(prepared.y_val) == 60 and len(prepared.y_test) == 50
    assert "<b>60</b> validation" in panel.summary_label.text()
    assert sum(count for _, count in panel.balance.counts()) == 200
    assert panel.scatter.point_counts() == (90, 60, 50)
    legend = panel.scatter_legend.text().replace("&nbsp;", " ")
    assert "◆</span> validation (60)" in legend and "training (90)" in legend and "test (50)" in legend

    spin.selectAll()
    qtbot.keyClicks(spin.lineEdit(), "80")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: "leave no training data" in panel.error_text(), timeout=TIMEOUT)
    assert panel.project.preprocessing.validation_size == pytest.approx(0.3)
    assert spin.value() == 30

    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        spin.selectAll()
        qtbot.keyClicks(spin.lineEdit(), "0")
        qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    assert panel.scatter.point_counts() == (150, 0, 50)
    assert "validation" not in panel.scatter_legend.text()


def test_adhoc_takes_its_natural_scaling_and_rescaling_it_warns(qtbot, panel):
    """Choosing ad-hoc by keyboard switches the default scaling to none; choosing min-max to
    [0, π] with the keyboard shows a warning beside the scaling choice (and keeps the choice)."""
    project = panel.project
    assert project.preprocessing.scaling == "minmax-pi" and not panel.scaling_warning.isVisible()
    panel.dataset_combo.setFocus()
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT, check_params_cb=loaded("ad-hoc")):
        qtbot.keyClicks(panel.dataset_combo, "Ad-hoc")
    assert project.dataset.name == "ad-hoc" and project.preprocessing.scaling == "none"
    assert panel.scaling_combo.currentData() == "none" and not panel.scaling_warning.isVisible()
    panel.scaling_combo.setFocus()
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        qtbot.keyClicks(panel.scaling_combo, "Min-max to [0")
    assert project.preprocessing.scaling == "minmax-pi"
    assert panel.scaling_warning.isVisible() and "natural range [0, 2π]" in panel.scaling_warning.text()
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        qtbot.keyClick(panel.scaling_combo, Qt.Key.Key_End)  # the last choice: none
    assert project.preprocessing.scaling == "none" and not panel.scaling_warning.isVisible()
