"""Importing a CSV file: preview, delimiter and header detection, columns, missing values.

:class:`CsvImportDialog` shows the first rows of the file as the ``csv`` dataset plugin
splits them, lets the user pick the delimiter and header (detected by default), the label
column, the feature columns, what to do with missing values and the task, and checks the
whole file with those settings as they change. The check *is* the ``csv`` dataset: the
dialog calls the registry's ``csv`` spec exactly as training will, so what the dialog
accepts, training accepts. Every problem (an empty file, text in a numeric column, a
missing value, one class only, too many classes, a file too large) is shown in red with
its line and column, and the cell is marked in the preview when it is among the rows shown.

The dialog serves any plugin's table importer (an
:class:`~qmlstudio.plugins.descriptors.ImporterSpec` with a ``preview``): the preview comes
from the importer's own reader (so the preview splits lines the same way the load does) and
the check from the dataset the importer names; without an importer, the registry's first
table importer is used, and without one a small reader built on the standard ``csv`` module.

OK gives a ``PluginChoice("csv", options)`` with the file's SHA-256 in ``options["sha256"]``.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from PySide6.QtCore import QSignalBlocker, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.project import PluginChoice, file_sha256
from qmlstudio.gui.dataset_options import CheckChips
from qmlstudio.gui.background import BackgroundRunner, error_message

__all__ = ["CsvCheck", "CsvImportDialog", "check_csv"]

PREVIEW_ROWS = 50
DELIMITERS = {",": "Comma ( , )", ";": "Semicolon ( ; )", "tab": "Tab", "|": "Bar ( | )", "space": "Spaces"}
DELIMITER_WORDS = {",": "commas", ";": "semicolons", "tab": "tabs", "|": "bars", "space": "spaces"}
HEADERS = {"yes": "First row holds column names", "no": "No header row"}
MISSING = {
    "error": "error — stop and show where",
    "drop": "drop — leave those rows out",
    "impute-mean": "impute-mean — fill in the column mean",
}
TASKS = {"classification": "Classification (the label is a class)", "regression": "Regression (the label is a number)"}
ERROR_COLOR = "#CE2C31"
OK_COLOR = "#218358"
LABEL_TINT = QColor("#E6F1FD")
PROBLEM_TINT = QColor("#FFD1D3")
UNUSED_TEXT = QColor("#A0A6AD")
FILE_FILTER = "CSV and text tables (*.csv *.tsv *.txt *.dat);;All files (*)"


# ------------------------------------------------------------ the check (Qt-free)
@dataclass
class CsvCheck:
    """The outcome of checking a file with some settings (made in a worker thread).

    ``preview`` is what :func:`preview_csv` returned (None when the file cannot be read
    at all); ``label`` and ``features`` are the column names in use (defaults filled in);
    ``options`` the csv dataset options they make; ``dataset`` the loaded data, or None
    with ``problem`` (and where it is: ``line``, ``column``) saying why not.
    """

    settings: dict
    preview: dict | None = None
    label: str | None = None
    features: list[str] = field(default_factory=list)
    options: dict = field(default_factory=dict)
    dataset: Any = None
    problem: str = ""
    line: int | None = None
    column: str | None = None
    sha256: str | None = None

    @property
    def ok(self) -> bool:
        return self.dataset is not None and not self.problem


def _fallback_preview(path: str, delimiter: str = "auto", header: str = "auto", rows: int = PREVIEW_ROWS) -> dict:
    """A plain ``csv`` module preview, used only when the built-in csv plugin is missing."""
    from qmlstudio.core.dataset import DatasetError

    file = Path(path).expanduser()
    if not file.is_file():
        raise DatasetError(f"there is no file {str(file)!r}")
    if file.stat().st_size == 0:
        raise DatasetError(f"{file.name} is empty")
    with file.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        head = handle.read(1 << 16)
    chars = {",": ",", ";": ";", "tab": "\t", "|": "|", "space": " "}
    if delimiter == "auto":
        try:
            found = csv.Sniffer().sniff(head, delimiters=",;\t| ").delimiter
        except csv.Error:
            found = ","
        delimiter = next((name for name, char in chars.items() if char == found), ",")
    if delimiter == "space":
        table = [line.split() for line in head.splitlines() if line.strip()]
    else:
        table = [[c.strip() for c in r] for r in csv.reader(io.StringIO(head), delimiter=chars[delimiter]) if any(r)]
    if not table:
        raise DatasetError(f"{file.name} is empty")

    def number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    has_header = not any(number(c) for c in table[0]) if header == "auto" else header == "yes"
    names = table[0] if has_header else [f"column {j + 1}" for j in range(len(table[0]))]
    body = table[1:] if has_header else table
    first_line = 2 if has_header else 1
    return {"delimiter": delimiter, "header": has_header, "columns": list(names),
            "rows": [(first_line + i, r) for i, r in enumerate(body[:rows])]}


def table_importer(registry: Any) -> Any:
    """The registry's first importer that has a table preview (None when no plugin provides one)."""
    return next((spec for spec in registry.importers.values() if spec.preview is not None), None)


def preview_function(importer: Any = None) -> Callable[..., dict]:
    """The importer plugin's own preview reader, or the fallback when there is none."""
    try:
        found = importer.preview_function() if importer is not None else None
    except Exception:  # noqa: BLE001 - a broken reference falls back to the standard reader
        found = None
    return found or _fallback_preview


def _safe_name(name: str) -> bool:
    """Whether a column name can stand in a comma-separated option as it is."""
    return bool(name) and name == name.strip() and "," not in name


def column_options(columns: Sequence[str], has_header: bool, label: str, features: Sequence[str]) -> dict:
    """The csv dataset's ``label_column`` and ``feature_columns`` for chosen column names.

    Names are written where they are safe to read back (a header without commas in its
    names); positions otherwise. ``feature_columns`` is empty when every other column is
    a feature.
    """
    columns = list(columns)
    by_name = has_header and all(_safe_name(c) for c in columns)
    index = columns.index(label)
    others = [c for c in columns if c != label]
    if list(features) == others or sorted(features) == sorted(others):
        feature_text = ""
    else:
        order = sorted(columns.index(f) for f in features)
        feature_text = ",".join(columns[j] if by_name else str(j) for j in order)
    return {"label_column": label if by_name else str(index), "feature_columns": feature_text}


def check_csv(registry: Any, settings: dict, known_sha256: dict | None = None,
              preview: Callable[..., dict] | None = None, dataset: str = "csv") -> CsvCheck:
    """Previews and loads a CSV file with ``settings`` through the registry's ``csv`` dataset.

    ``settings`` holds ``path``, ``delimiter``, ``header``, ``label`` (a column name or
    None for the last column), ``features`` (names, or None for every other column),
    ``missing`` and ``task``. Never raises: every problem lands in the result.
    """
    result = CsvCheck(settings=dict(settings))
    path = str(settings.get("path") or "").strip()
    if not path:
        result.problem = "choose a CSV file to read"
        return result
    try:
        result.preview = (preview or preview_function(table_importer(registry)))(
            path, delimiter=settings.get("delimiter", "auto"), header=settings.get("header", "auto"), rows=PREVIEW_ROWS
        )
    except Exception as exc:
        _note(result, exc)
        return result
    columns = list(result.preview["columns"])
    label = settings.get("label")
    result.label = label if label in columns else columns[-1]
    wanted = settings.get("features")
    features = [c for c in (wanted or []) if c in columns and c != result.label] if wanted is not None else []
    result.features = features or [c for c in columns if c != result.label]
    if len(columns) < 2:
        result.problem = (
            f"{Path(path).name} has a single column when split by {DELIMITER_WORDS[result.preview['delimiter']]}: "
            "a dataset needs at least one feature and a label (is the delimiter right?)"
        )
        return result
    result.options = {
        "path": str(Path(path).expanduser().resolve()),
        **column_options(columns, result.preview["header"], result.label, result.features),
        "delimiter": settings.get("delimiter", "auto"),
        "header": settings.get("header", "auto"),
        "missing": settings.get("missing", "error"),
        "task": settings.get("task", "classification"),
    }
    try:
        spec = registry.get("datasets", dataset)
        result.dataset = spec.create(result.options)
    except Exception as exc:
        _note(result, exc)
        return result
    try:
        stat = os.stat(result.options["path"])
        stamp = (result.options["path"], stat.st_size, stat.st_mtime_ns)
        cached = (known_sha256 or {}).get(stamp)
        result.sha256 = cached or file_sha256(result.options["path"])
        if known_sha256 is not None:
            known_sha256[stamp] = result.sha256
    except OSError as exc:
        result.dataset = None
        result.problem = f"cannot read {Path(path).name}: {exc.strerror or exc}"
    return result


def _note(result: CsvCheck, exc: BaseException) -> None:
    result.problem = error_message(exc)
    result.line = getattr(exc, "line", None)
    result.column = getattr(exc, "column", None)


# ------------------------------------------------------------------ the dialog
class CsvImportDialog(QDialog):
    """Choose a CSV file and how to read it; OK gives the ``csv`` dataset choice (:meth:`choice`).

    :attr:`checked` ``(CsvCheck)`` is emitted after each check of the file with the
    settings shown (valid or not): tests and callers wait on it.
    """

    checked = Signal(object)

    def __init__(self, registry: Any, parent: QWidget | None = None, choice: PluginChoice | None = None,
                 path: str | None = None, importer: Any = None) -> None:
        super().__init__(parent)
        self.setObjectName("csvImportDialog")
        self.setWindowTitle("Import a CSV file")
        self.setModal(True)
        self.resize(820, 620)
        self.registry = registry
        self._result: CsvCheck | None = None
        self._hashes: dict = {}
        self._label: str | None = None
        self._features: list[str] | None = None
        self._columns: list[str] = []
        self.importer = importer if importer is not None else table_importer(registry)
        self.dataset_name = self.importer.dataset if self.importer is not None else "csv"
        self.file_filter = self.importer.file_filter if self.importer is not None else FILE_FILTER
        self._preview = preview_function(self.importer)

        self._runner = BackgroundRunner(self)
        self._runner.finished.connect(self._on_checked)
        self._runner.busy_changed.connect(lambda busy: self.busy_bar.setVisible(busy))
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(150)
        self._timer.timeout.connect(self._start_check)

        self._build()
        if choice is not None and choice.name == self.dataset_name:
            self._restore(choice.options)
        elif path:
            self.set_path(path)
        self._refresh_ok()

    # ------------------------------------------------------------------ API
    def set_path(self, path: str) -> None:
        """Shows the file at ``path`` and checks it (column choices start from the defaults)."""
        self.path_edit.setText(str(path))
        self._label, self._features = None, None
        self._schedule()

    def settings(self) -> dict:
        """The settings the dialog shows, as :func:`check_csv` takes them."""
        return {
            "path": self.path_edit.text().strip(),
            "delimiter": self.delimiter_combo.currentData(),
            "header": self.header_combo.currentData(),
            "label": self._label,
            "features": None if self._features is None else list(self._features),
            "missing": self.missing_combo.currentData(),
            "task": self.task_combo.currentData(),
        }

    @property
    def last_check(self) -> CsvCheck | None:
        """The latest check (of the settings shown, once :attr:`checked` has been emitted for them)."""
        return self._result

    def problem(self) -> str:
        """The problem shown in red (empty when the file can be used)."""
        return self._result.problem if self._result is not None else ""

    def is_valid(self) -> bool:
        """Whether the file, read with the settings shown, gives a usable dataset."""
        return (self._result is not None and self._result.ok and not self._timer.isActive()
                and not self._runner.busy)

    def choice(self) -> PluginChoice | None:
        """The csv dataset choice for the settings shown (with the file's SHA-256), or None."""
        if not self.is_valid():
            return None
        assert self._result is not None
        return PluginChoice(self.dataset_name, {**self._result.options, "sha256": self._result.sha256})

    # ------------------------------------------------------------ building
    def _build(self) -> None:
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("csvPath")
        self.path_edit.setPlaceholderText("A CSV or TSV file: one row per sample, one column holds the label")
        self.path_edit.editingFinished.connect(self._on_path_edited)
        browse = QPushButton("Browse…")
        browse.setObjectName("csvBrowse")
        browse.clicked.connect(self._browse)
        file_row = QHBoxLayout()
        file_row.addWidget(self.path_edit, 1)
        file_row.addWidget(browse)

        self.delimiter_combo = QComboBox()
        self.delimiter_combo.setObjectName("csvDelimiter")
        self.delimiter_combo.addItem("Detect", "auto")
        for value, title in DELIMITERS.items():
            self.delimiter_combo.addItem(title, value)
        self.delimiter_combo.setToolTip("What separates the cells; Detect tries comma, semicolon, tab, | and spaces")
        self.header_combo = QComboBox()
        self.header_combo.setObjectName("csvHeader")
        self.header_combo.addItem("Detect", "auto")
        for value, title in HEADERS.items():
            self.header_combo.addItem(title, value)
        self.header_combo.setToolTip("Whether the first row holds column names; Detect assumes so when it has "
                                     "no number in it")
        self.label_combo = QComboBox()
        self.label_combo.setObjectName("csvLabel")
        self.label_combo.setToolTip("The column to predict")
        self.features_list = CheckChips()
        self.features_list.setObjectName("csvFeatures")
        self.features_list.setToolTip("The columns the model reads; untick text columns and identifiers")
        self.missing_combo = QComboBox()
        self.missing_combo.setObjectName("csvMissing")
        for value, title in MISSING.items():
            self.missing_combo.addItem(title, value)
        self.missing_combo.setToolTip("What to do with empty cells (and NA, NaN, null, ?)")
        self.task_combo = QComboBox()
        self.task_combo.setObjectName("csvTask")
        for value, title in TASKS.items():
            self.task_combo.addItem(title, value)

        def label(text: str, buddy: QWidget) -> QLabel:
            widget = QLabel(text)
            widget.setBuddy(buddy)  # Alt + the underlined letter jumps to the field
            return widget

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.addRow(label("&File", self.path_edit), file_row)
        row = QHBoxLayout()
        row.addWidget(self.delimiter_combo, 1)
        row.addWidget(label("&Header", self.header_combo))
        row.addWidget(self.header_combo, 2)
        form.addRow(label("&Delimiter", self.delimiter_combo), row)
        row = QHBoxLayout()
        row.addWidget(self.label_combo, 1)
        row.addWidget(label("&Task", self.task_combo))
        row.addWidget(self.task_combo, 1)
        form.addRow(label("&Label column", self.label_combo), row)
        form.addRow(label("F&eature columns", self.features_list), self.features_list)
        form.addRow(label("&Missing values", self.missing_combo), self.missing_combo)

        self.table = QTableWidget()
        self.table.setObjectName("csvPreview")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setAlternatingRowColors(True)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setDefaultSectionSize(96)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setToolTip("The first rows of the file; row numbers are the file's line numbers")
        self.preview_label = QLabel("Preview")
        self.preview_label.setStyleSheet("color: #6F7782;")

        self.status = QLabel()
        self.status.setObjectName("csvStatus")
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.busy_bar = QProgressBar()
        self.busy_bar.setRange(0, 0)
        self.busy_bar.setTextVisible(False)
        self.busy_bar.setFixedHeight(4)
        self.busy_bar.setVisible(False)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Use this data")
        self.buttons.accepted.connect(self._accept_if_valid)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.busy_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self.delimiter_combo.currentIndexChanged.connect(self._schedule)
        self.header_combo.currentIndexChanged.connect(self._schedule)
        self.missing_combo.currentIndexChanged.connect(self._schedule)
        self.task_combo.currentIndexChanged.connect(self._schedule)
        self.label_combo.currentIndexChanged.connect(self._on_label_chosen)
        self.features_list.itemChanged.connect(self._on_features_edited)

    def _restore(self, options: dict) -> None:
        for combo, key in ((self.delimiter_combo, "delimiter"), (self.header_combo, "header"),
                           (self.missing_combo, "missing"), (self.task_combo, "task")):
            with QSignalBlocker(combo):
                combo.setCurrentIndex(max(0, combo.findData(options.get(key))))
        self.path_edit.setText(str(options.get("path", "")))
        self._label, self._features = None, None
        self._pending_columns = (options.get("label_column", ""), options.get("feature_columns", ""))
        self._schedule()

    # ------------------------------------------------------------ reactions
    def _browse(self) -> None:
        start = self.path_edit.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a CSV file", start, self.file_filter)
        if path:
            self.set_path(path)

    def _on_path_edited(self) -> None:
        if self._result is None or self.path_edit.text().strip() != self._result.settings.get("path"):
            self._label, self._features = None, None
            self._schedule()

    def _on_label_chosen(self, _index: int) -> None:
        label = self.label_combo.currentData()
        if label is None or label == self._label:
            return
        if self._features is not None and label in self._features:
            self._features = [f for f in self._features if f != label] or None
        self._label = label
        self._schedule()

    def _on_features_edited(self, _item: QListWidgetItem) -> None:
        chosen = [self.features_list.item(i).text() for i in range(self.features_list.count())
                  if self.features_list.item(i).checkState() == Qt.CheckState.Checked]
        self._features = chosen or []
        if not chosen:
            self._show_status("choose at least one feature column", ok=False)
            self._result = None
            self._refresh_ok()
            return
        self._schedule()

    def _schedule(self, *_: Any) -> None:
        self._timer.start()
        self.busy_bar.setVisible(True)
        self._refresh_ok()

    def _start_check(self) -> None:
        settings = self.settings()
        pending = getattr(self, "_pending_columns", None)
        registry, hashes, preview, dataset = self.registry, self._hashes, self._preview, self.dataset_name

        def job() -> CsvCheck:
            if pending is not None:  # reopening a saved choice: turn its column options into names
                _resolve_saved_columns(settings, pending, preview)
            return check_csv(registry, settings, hashes, preview, dataset)

        self._pending_columns = None
        self._runner.submit(job)

    def _on_checked(self, result: CsvCheck) -> None:
        self._result = result
        self._label = result.label
        if result.settings.get("features") is not None or self._features is not None:
            self._features = list(result.features)
        self._show_preview(result)
        if result.ok:
            self._show_status(_summary(result), ok=True)
        else:
            self._show_status(result.problem + _where(result), ok=False)
        self._refresh_ok()
        self.checked.emit(result)

    def _accept_if_valid(self) -> None:
        if self.is_valid():
            self.accept()

    def _refresh_ok(self) -> None:
        self.ok_button.setEnabled(self.is_valid())

    def _show_status(self, text: str, ok: bool) -> None:
        text = text[:1].upper() + text[1:]
        self.status.setText(("✓ " if ok else "⚠ ") + text)
        self.status.setStyleSheet(f"color: {OK_COLOR if ok else ERROR_COLOR};")

    # --------------------------------------------------------------- preview
    def _show_preview(self, result: CsvCheck) -> None:
        preview = result.preview
        detected = preview["delimiter"] if preview else None
        self.delimiter_combo.setItemText(0, f"Detect (found: {DELIMITER_WORDS[detected]})" if detected else "Detect")
        header = None if preview is None else ("yes" if preview["header"] else "no")
        self.header_combo.setItemText(0, f"Detect (found: {'a header' if header == 'yes' else 'no header'})"
                                      if header else "Detect")
        columns = list(preview["columns"]) if preview else []
        if columns != self._columns:
            self._columns = columns
            with QSignalBlocker(self.label_combo):
                self.label_combo.clear()
                for name in columns:
                    self.label_combo.addItem(name, name)
        with QSignalBlocker(self.label_combo):
            self.label_combo.setCurrentIndex(max(0, self.label_combo.findData(result.label)))
        with QSignalBlocker(self.features_list):
            self.features_list.clear()
            for name in columns:
                if name == result.label:
                    continue
                item = QListWidgetItem(name)
                item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsUserCheckable)
                item.setCheckState(Qt.CheckState.Checked if name in result.features else Qt.CheckState.Unchecked)
                self.features_list.addItem(item)
        self.features_list.fit_height()

        rows = preview["rows"] if preview else []
        width = max([len(columns)] + [len(cells) for _, cells in rows])
        self.table.clear()
        self.table.setColumnCount(width)
        self.table.setRowCount(len(rows))
        headers = [(columns[j] if j < len(columns) else f"column {j + 1}") for j in range(width)]
        self.table.setHorizontalHeaderLabels([f"{h}  (label)" if h == result.label else h for h in headers])
        self.table.setVerticalHeaderLabels([str(line) for line, _ in rows])
        bold = QFont(self.table.font())
        bold.setBold(True)
        used = set(result.features)
        problem_cell = None
        for i, (line, cells) in enumerate(rows):
            for j in range(width):
                text = cells[j] if j < len(cells) else ""
                item = QTableWidgetItem(text)
                name = headers[j]
                if name == result.label:
                    item.setBackground(QBrush(LABEL_TINT))
                    item.setFont(bold)
                elif name not in used:
                    item.setForeground(QBrush(UNUSED_TEXT))
                if result.problem and result.line == line and (result.column is None or result.column == name):
                    if result.column is not None or j == 0:
                        item.setBackground(QBrush(PROBLEM_TINT))
                        item.setToolTip(result.problem)
                        problem_cell = problem_cell or item
                self.table.setItem(i, j, item)
        if problem_cell is not None:
            self.table.scrollToItem(problem_cell)
        shown = f"first {len(rows)} rows" if len(rows) >= PREVIEW_ROWS else f"{len(rows)} rows"
        self.preview_label.setText(f"Preview ({shown}; the label column is blue, unused columns are grey)"
                                   if rows else "Preview")

    def problem_cell(self) -> tuple[int, int] | None:
        """(row, column) of the preview cell marked as the problem, or None."""
        for i in range(self.table.rowCount()):
            for j in range(self.table.columnCount()):
                item = self.table.item(i, j)
                if item is not None and item.background().color() == PROBLEM_TINT:
                    return i, j
        return None


def _where(result: CsvCheck) -> str:
    if result.line is None or result.preview is None:
        return ""
    lines = [line for line, _ in result.preview["rows"]]
    if result.line in lines:
        return " (marked in red in the preview)"
    return f" (line {result.line} is past the rows previewed)"


def _summary(result: CsvCheck) -> str:
    data = result.dataset
    dropped = data.extra.get("dropped_rows", 0) if isinstance(data.extra, dict) else 0
    text = f"{data.num_samples} rows, {data.num_features} feature{'s' * (data.num_features != 1)}"
    if data.task == "classification":
        counts = ", ".join(f"{name} {count}" for name, count in data.class_counts().items())
        text += f", {data.num_classes} classes ({counts})"
    else:
        text += f", target from {data.labels.min():.4g} to {data.labels.max():.4g}"
    if dropped:
        text += f"; {dropped} row{'s' * (dropped != 1)} with missing values left out"
    return text


def _resolve_saved_columns(settings: dict, saved: tuple[str, str], preview: Callable[..., dict]) -> None:
    """Fills ``settings['label']`` and ``['features']`` from a saved choice's column options."""
    label_ref, feature_ref = (str(saved[0] or "").strip(), str(saved[1] or "").strip())
    try:
        columns = preview(settings["path"], delimiter=settings["delimiter"], header=settings["header"], rows=1)["columns"]
    except Exception:
        return

    def find(ref: str) -> int | None:
        if ref in columns:
            return columns.index(ref)
        try:
            position = int(ref)
        except ValueError:
            return None
        return position % len(columns) if -len(columns) <= position < len(columns) else None

    label = find(label_ref) if label_ref else len(columns) - 1
    if label is None:
        return
    settings["label"] = columns[label]
    if feature_ref:
        chosen = []
        for part in feature_ref.split(","):
            part = part.strip()
            bounds = part.split("-") if part not in columns and part.count("-") == 1 else None
            if bounds and all(b.strip().lstrip("-").isdigit() for b in bounds):
                first, last = find(bounds[0].strip()), find(bounds[1].strip())
                if first is not None and last is not None:
                    step = 1 if first <= last else -1
                    chosen.extend(columns[j] for j in range(first, last + step, step))
                continue
            j = find(part)
            if j is not None:
                chosen.append(columns[j])
        settings["features"] = chosen or None
