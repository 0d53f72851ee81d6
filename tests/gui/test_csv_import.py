"""The CSV import dialog (qmlstudio.gui.csv_import) with files written by the tests.

Every problem gets a clear message naming the line and the column, OK stays disabled
until the file can be used, and what OK gives loads exactly as training will load it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from qmlstudio.core.project import Project, file_sha256
from qmlstudio.gui.csv_import import CsvImportDialog, _fallback_preview, check_csv, column_options
from qmlstudio.gui.dataset_panel import DatasetPanel
from qmlstudio.plugins.manager import load_plugins

TIMEOUT = 20000


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


@pytest.fixture
def dialog(qtbot, registry):
    widget = CsvImportDialog(registry)
    qtbot.addWidget(widget)
    widget.show()
    return widget


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def open_file(qtbot, dialog, path: Path):
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT) as blocker:
        dialog.set_path(str(path))
    return blocker.args[0]


def change(qtbot, dialog, combo, value):
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT) as blocker:
        combo.setCurrentIndex(combo.findData(value))
    return blocker.args[0]


IRIS_LIKE = "sepal,petal,species\n" + "".join(
    f"{1 + i * 0.1:.1f},{2 + (i % 5) * 0.3:.1f},{['setosa', 'versicolor', 'virginica'][i % 3]}\n" for i in range(30)
)


def test_a_file_with_a_header(qtbot, dialog, tmp_path):
    path = write(tmp_path, "flowers.csv", IRIS_LIKE)
    assert not dialog.ok_button.isEnabled()
    result = open_file(qtbot, dialog, path)
    assert result.ok, result.problem
    assert dialog.ok_button.isEnabled()
    assert result.preview["delimiter"] == "," and result.preview["header"] is True
    assert dialog.delimiter_combo.itemText(0) == "Detect (found: commas)"
    assert dialog.header_combo.itemText(0) == "Detect (found: a header)"
    assert [dialog.label_combo.itemText(i) for i in range(dialog.label_combo.count())] == ["sepal", "petal", "species"]
    assert dialog.label_combo.currentText() == "species"
    assert dialog.table.rowCount() == 30 and dialog.table.columnCount() == 3
    assert dialog.table.verticalHeaderItem(0).text() == "2"  # the file's line numbers
    assert dialog.table.horizontalHeaderItem(2).text() == "species  (label)"
    assert "30 rows, 2 features, 3 classes (setosa 10, versicolor 10, virginica 10)" in dialog.status.text()
    choice = dialog.choice()
    assert choice.name == "csv"
    assert choice.options["path"] == str(path.resolve())
    assert choice.options["sha256"] == file_sha256(path)
    assert choice.options["label_column"] == "species" and choice.options["feature_columns"] == ""


def test_a_file_without_a_header(qtbot, dialog, tmp_path):
    path = write(tmp_path, "plain.txt", "".join(f"{i};{i * 2},5;{i % 2}\n" for i in range(12)))
    result = open_file(qtbot, dialog, path)
    assert result.ok, result.problem
    assert result.preview["delimiter"] == ";" and result.preview["header"] is False
    assert dialog.header_combo.itemText(0) == "Detect (found: no header)"
    assert result.preview["columns"] == ["column 1", "column 2", "column 3"]
    assert result.dataset.features[1, 1] == pytest.approx(2.5)  # decimal comma
    assert dialog.table.verticalHeaderItem(0).text() == "1"
    assert dialog.choice().options["label_column"] == "2"  # by position without a header

    # the label column is a choice: take the first column, drop the second from the features
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT):
        dialog.label_combo.setCurrentIndex(0)
    assert dialog.last_check.label == "column 1"
    assert dialog.last_check.ok, dialog.last_check.problem
    item = next(dialog.features_list.item(i) for i in range(dialog.features_list.count())
                if dialog.features_list.item(i).text() == "column 2")
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT) as blocker:
        item.setCheckState(Qt.CheckState.Unchecked)
    assert blocker.args[0].options["feature_columns"] == "2"
    assert blocker.args[0].dataset.num_features == 1


def test_missing_values_need_a_decision(qtbot, dialog, tmp_path):
    path = write(tmp_path, "gaps.csv", "a,b,y\n1,2,0\n3,,1\n5,6,0\n7,NA,1\n9,10,0\n11,12,1\n")
    result = open_file(qtbot, dialog, path)
    assert not result.ok and not dialog.ok_button.isEnabled()
    assert result.problem.startswith("line 3, column 'b': the value is missing (1 more missing cell(s) elsewhere)")
    assert "Choose 'drop' or 'impute-mean'" in dialog.status.text()
    assert "marked in red in the preview" in dialog.status.text()
    assert dialog.problem_cell() == (1, 1)

    result = change(qtbot, dialog, dialog.missing_combo, "drop")
    assert result.ok and dialog.ok_button.isEnabled()
    assert result.dataset.num_samples == 4
    assert "2 rows with missing values left out" in dialog.status.text()

    result = change(qtbot, dialog, dialog.missing_combo, "impute-mean")
    assert result.ok and result.dataset.num_samples == 6
    assert result.dataset.features[1, 1] == pytest.approx((2 + 6 + 10 + 12) / 4)
    assert dialog.choice().options["missing"] == "impute-mean"


def test_text_in_a_numeric_column_names_the_row_and_column(qtbot, dialog, tmp_path):
    path = write(tmp_path, "text.csv", "x,size,y\n1,2,a\n2,3,b\n3,big,a\n4,5,b\n")
    result = open_file(qtbot, dialog, path)
    assert not result.ok
    assert result.problem.startswith("line 4, column 'size': 'big' is not a number")
    assert (result.line, result.column) == (4, "size")
    assert "Line 4, column 'size': 'big' is not a number" in dialog.status.text()
    assert dialog.problem_cell() == (2, 1)
    assert not dialog.ok_button.isEnabled()
    # leaving the text column out of the features fixes it
    item = next(dialog.features_list.item(i) for i in range(dialog.features_list.count())
                if dialog.features_list.item(i).text() == "size")
    with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT) as blocker:
        item.setCheckState(Qt.CheckState.Unchecked)
    assert blocker.args[0].ok and blocker.args[0].options["feature_columns"] == "x"
    assert dialog.problem_cell() is None


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("empty.csv", "", "empty.csv is empty"),
        ("blank.csv", "\n\n  \n", "blank.csv is empty"),
        ("one.csv", "a,b,y\n1,2,x\n3,4,x\n", "the label column 'y' has only one class ('x')"),
        ("many.csv", "a,y\n" + "".join(f"{i},{i}\n" for i in range(60)),
         "the label column 'y' has 60 different values: more than 50 classes"),
        ("ragged.csv", "a,b,y\n1,2,0\n3,4\n", "line 3 has 2 cells where the header has 3"),
        ("single.csv", "a\n1\n2\n", "single.csv has a single column"),
        ("binary.csv", "\0\0\0abc", "binary.csv is not a text file"),
    ],
)
def test_each_problem_gets_its_message(qtbot, dialog, tmp_path, name, text, message):
    path = write(tmp_path, name, text)
    result = open_file(qtbot, dialog, path)
    assert not result.ok
    assert message in result.problem
    assert dialog.status.text().startswith("⚠ ")
    assert not dialog.ok_button.isEnabled()
    assert dialog.choice() is None


def test_too_many_classes_becomes_regression(qtbot, dialog, tmp_path):
    path = write(tmp_path, "many.csv", "a,y\n" + "".join(f"{i},{i * 0.5}\n" for i in range(60)))
    assert not open_file(qtbot, dialog, path).ok
    result = change(qtbot, dialog, dialog.task_combo, "regression")
    assert result.ok and result.dataset.task == "regression"
    assert "target from 0 to 29.5" in dialog.status.text()


def test_a_file_too_large_to_hold_is_refused(qtbot, dialog, tmp_path, monkeypatch):
    import qmls_datasets.csv_table as csv_table

    monkeypatch.setattr(csv_table, "MAX_BYTES", 100)
    path = write(tmp_path, "big.csv", IRIS_LIKE)
    result = open_file(qtbot, dialog, path)
    assert "CSV files larger than 0 MB are not loaded" in result.problem


def test_missing_file_and_explicit_delimiter_and_header(qtbot, dialog, tmp_path):
    result = open_file(qtbot, dialog, tmp_path / "nowhere.csv")
    assert "there is no file" in result.problem
    path = write(tmp_path, "t.tsv", "1\t2\t0\n3\t4\t1\n5\t6\t0\n7\t8\t1\n")
    result = open_file(qtbot, dialog, path)
    assert result.ok and result.preview["delimiter"] == "tab"
    result = change(qtbot, dialog, dialog.header_combo, "yes")  # the first row as names
    assert result.ok and result.preview["columns"] == ["1", "2", "0"]
    assert result.dataset.num_samples == 3
    result = change(qtbot, dialog, dialog.delimiter_combo, ",")
    assert not result.ok and "single column" in result.problem


def test_reopening_a_saved_choice_restores_the_columns(qtbot, registry, tmp_path):
    path = write(tmp_path, "f.csv", "id,a,b,label\n" + "".join(f"{i},{i},{i % 4},{i % 2}\n" for i in range(10)))
    first = CsvImportDialog(registry)
    qtbot.addWidget(first)
    open_file(qtbot, first, path)
    item = first.features_list.item(0)  # "id"
    with qtbot.waitSignal(first.checked, timeout=TIMEOUT):
        item.setCheckState(Qt.CheckState.Unchecked)
    choice = first.choice()
    assert choice.options["feature_columns"] == "a,b"
    second = CsvImportDialog(registry, choice=choice)
    qtbot.addWidget(second)
    with qtbot.waitSignal(second.checked, timeout=TIMEOUT) as blocker:
        second.show()
    assert blocker.args[0].features == ["a", "b"] and blocker.args[0].label == "label"
    assert second.choice().options == choice.options


def test_ok_sets_the_project_dataset_through_the_panel(qtbot, registry, tmp_path, monkeypatch):
    path = write(tmp_path, "flowers.csv", IRIS_LIKE)
    project = Project.new("csv")
    panel = DatasetPanel(project, registry)
    qtbot.addWidget(panel)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT):
        panel.show()

    def run_dialog(dialog):  # what the user does: pick the file, wait for the check, press OK
        with qtbot.waitSignal(dialog.checked, timeout=TIMEOUT):
            dialog.set_path(str(path))
        dialog.ok_button.click()
        return dialog.result()

    monkeypatch.setattr(CsvImportDialog, "exec", run_dialog)
    with qtbot.waitSignal(panel.data_loaded, timeout=TIMEOUT) as blocker:
        choose_import(qtbot, panel, "csv")
    assert project.dataset.name == "csv"
    assert project.dataset.options["sha256"] == file_sha256(path)
    assert blocker.args[0].dataset.class_names == ["setosa", "versicolor", "virginica"]
    assert panel.dataset_combo.currentData() == "csv"
    panel.wait_idle()


def choose_import(qtbot, panel, name):
    """Clicks Import… and then the importer's menu entry, as a user does."""
    button, action = panel.import_button, panel.import_button.action(name)
    assert action is not None, f"no menu entry for importer {name!r}"

    def click_entry():
        menu = button.menu()
        assert menu.isVisible()
        QTest.mouseClick(menu, Qt.MouseButton.LeftButton, pos=menu.actionGeometry(action).center())

    QTimer.singleShot(0, click_entry)  # the menu runs its own event loop once the button is pressed
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)


# ------------------------------------------------------------- the helpers
def test_column_options_use_positions_when_names_are_unsafe():
    assert column_options(["a", "b", "y"], True, "y", ["a", "b"]) == {"label_column": "y", "feature_columns": ""}
    assert column_options(["a", "b", "y"], True, "y", ["b"]) == {"label_column": "y", "feature_columns": "b"}
    assert column_options(["a,1", "b", "y"], True, "b", ["y"]) == {"label_column": "1", "feature_columns": "2"}
    assert column_options(["column 1", "column 2"], False, "column 1", ["column 2"]) == {
        "label_column": "0", "feature_columns": ""}


def test_check_csv_never_raises(registry, tmp_path):
    assert check_csv(registry, {"path": ""}).problem == "choose a CSV file to read"
    assert "there is no file" in check_csv(registry, {"path": str(tmp_path / "x.csv")}).problem


def test_fallback_preview_without_the_plugin(tmp_path):
    path = write(tmp_path, "f.csv", "a;b;y\n1;2;0\n3;4;1\n")
    preview = _fallback_preview(str(path))
    assert preview["delimiter"] == ";" and preview["header"] is True
    assert preview["columns"] == ["a", "b", "y"] and preview["rows"][0] == (2, ["1", "2", "0"])
