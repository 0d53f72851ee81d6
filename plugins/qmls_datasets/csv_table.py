"""The user's own table from a CSV file, with every problem reported as a clear :class:`DatasetError`.

Errors name the line of the file (1-based, as an editor shows it) and the column, so that
the user can find the cell and fix it; they are :class:`CsvProblem` errors, which also carry
the line and the column as attributes, so that an import dialog can point at the cell.
:func:`preview_csv` splits the first rows exactly as :func:`load_csv` does, for a preview.
The file is read row by row into a float array, so a large file costs about the memory of
its numbers, not of its text.
"""

from __future__ import annotations

import csv
import io
import re
from array import array
from dataclasses import dataclass
from itertools import chain, islice
from pathlib import Path
from typing import Iterator, TextIO

import numpy as np

from qmlstudio.core.dataset import DatasetError
from qmlstudio.plugins import Dataset

MAX_BYTES = 200 * 1024 * 1024
MAX_CLASSES = 50
MISSING_TOKENS = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
_DELIMITERS = {",": ",", ";": ";", "tab": "\t", "|": "|", "space": None}  # None: runs of whitespace
#: The option value that names each delimiter character.
DELIMITER_NAMES = {char: name for name, char in _DELIMITERS.items()}
_SNIFF_LINES = 50
_SNIFF_BYTES = 1 << 16
_DECIMAL_COMMA = re.compile(r"^[+-]?\d*,\d+(?:[eE][+-]?\d+)?$")
_RANGE = re.compile(r"^(-?\d+)\s*-\s*(-?\d+)$")


class CsvProblem(DatasetError):
    """A problem with a CSV file, and where it is.

    ``line`` is the file's line (1-based, as an editor counts) and ``column`` the column's
    name; either is None when the problem is not about one line or one column.
    """

    def __init__(self, message: str, line: int | None = None, column: str | None = None) -> None:
        super().__init__(message)
        self.line = None if line is None else int(line)
        self.column = column


@dataclass
class _Table:
    """The chosen columns of a file: features as floats (NaN where missing), label cells as text."""

    names: list[str]
    feature_indices: list[int]
    label_index: int
    features: np.ndarray
    feature_missing: np.ndarray
    label_cells: list[str]
    lines: np.ndarray  # the file's line number of each row
    delimiter: str | None
    has_header: bool = True


def load_csv(
    path: str = "",
    label_column: str = "",
    feature_columns: str = "",
    delimiter: str = "auto",
    header: str = "auto",
    missing: str = "error",
    task: str = "classification",
) -> Dataset:
    """Reads a table of numbers with one label column into a :class:`Dataset`."""
    file = _check_file(path)
    try:
        table = _read(file, "utf-8-sig", delimiter, header, label_column, feature_columns)
    except UnicodeDecodeError:
        # Spreadsheets on Windows still write cp1252; latin-1 reads any byte, so numbers survive.
        table = _read(file, "latin-1", delimiter, header, label_column, feature_columns)
    decimal_comma = table.delimiter != ","
    label_missing = np.array([c.lower() in MISSING_TOKENS for c in table.label_cells], dtype=bool)

    keep, dropped = _handle_missing(table, label_missing, missing)
    features = table.features[keep]
    lines = table.lines[keep]
    label_cells = [c for c, k in zip(table.label_cells, keep) if k]
    label_name = table.names[table.label_index]

    if task == "regression":
        labels = _regression_targets(label_cells, lines, label_name, decimal_comma)
        class_names: list[str] = []
    else:
        labels, class_names = _classes(label_cells, label_name, decimal_comma)

    note = f", {dropped} row(s) with missing values dropped" if dropped else ""
    return Dataset(
        features,
        labels,
        feature_names=[table.names[j] for j in table.feature_indices],
        class_names=class_names,
        task=task,
        description=f"{file.name}: {features.shape[0]} rows, {features.shape[1]} features, "
        f"label {label_name!r}{note}",
        extra={
            "source": str(file),
            "dropped_rows": dropped,
            "delimiter": DELIMITER_NAMES[table.delimiter],
            "header": table.has_header,
            "columns": list(table.names),
        },
    )


def preview_csv(path: str, delimiter: str = "auto", header: str = "auto", rows: int = 50) -> dict:
    """The first ``rows`` data rows of a CSV file, split as :func:`load_csv` splits them.

    For an import dialog's preview table. Returns a dict: ``delimiter`` (the option value in
    use, the detected one for ``"auto"``: ``","``, ``";"``, ``"tab"``, ``"|"`` or ``"space"``),
    ``header`` (whether the first row holds column names), ``columns`` (the column names,
    ``"column 1"``... without a header) and ``rows`` (a list of ``(line, cells)``).
    Raises :class:`CsvProblem` for a file that cannot be read (missing, empty, too large,
    binary). Nothing but the first rows is read.
    """
    file = _check_file(path)
    try:
        return _preview(file, "utf-8-sig", delimiter, header, rows)
    except UnicodeDecodeError:
        return _preview(file, "latin-1", delimiter, header, rows)


def _preview(file: Path, encoding: str, delimiter: str, header: str, count: int) -> dict:
    try:
        with file.open(encoding=encoding, newline="") as handle:
            head = handle.read(_SNIFF_BYTES)
            if "\0" in head:
                raise CsvProblem(f"{file.name} is not a text file")
            if not head.strip():
                raise CsvProblem(f"{file.name} is empty")
            chosen = _sniff(head, len(head) < _SNIFF_BYTES) if delimiter == "auto" else _DELIMITERS[delimiter]
            handle.seek(0)
            rows = _rows(handle, chosen)
            first = next(rows, None)
            if first is None:
                raise CsvProblem(f"{file.name} has no cells with a value")
            has_header = _has_header(first[1], chosen, header)
            if has_header:
                names = _unique_names(first[1])
                body = list(islice(rows, count))
            else:
                names = [f"column {j + 1}" for j in range(len(first[1]))]
                body = [first, *islice(rows, count - 1)]
    except OSError as exc:
        raise CsvProblem(f"cannot read {file.name}: {exc.strerror or exc}") from None
    return {"delimiter": DELIMITER_NAMES[chosen], "header": has_header, "columns": names, "rows": body}


def _has_header(first_cells: list[str], delimiter: str | None, header: str) -> bool:
    if header == "auto":
        return not any(_is_number(c, delimiter != ",") for c in first_cells)
    return header == "yes"


# ---------------------------------------------------------------------------
# Reading the file
# ---------------------------------------------------------------------------
def _check_file(path: str) -> Path:
    if not str(path).strip():
        raise DatasetError("choose a CSV file to read")
    file = Path(path).expanduser()
    if not file.exists():
        raise DatasetError(f"there is no file {str(file)!r}")
    if not file.is_file():
        raise DatasetError(f"{str(file)!r} is not a file")
    size = file.stat().st_size
    if size > MAX_BYTES:
        raise DatasetError(
            f"{file.name} is {size / 2**20:.0f} MB; CSV files larger than {MAX_BYTES // 2**20} MB are not "
            "loaded (keep fewer rows or columns)"
        )
    if size == 0:
        raise DatasetError(f"{file.name} is empty")
    return file


def _read(
    file: Path, encoding: str, delimiter: str, header: str, label_column: str, feature_columns: str
) -> _Table:
    try:
        with file.open(encoding=encoding, newline="") as handle:
            head = handle.read(_SNIFF_BYTES)
            if "\0" in head:
                raise DatasetError(f"{file.name} is not a text file")
            if not head.strip():
                raise DatasetError(f"{file.name} is empty")
            whole = len(head) < _SNIFF_BYTES
            chosen = _sniff(head, whole) if delimiter == "auto" else _DELIMITERS[delimiter]
            handle.seek(0)
            return _read_rows(_rows(handle, chosen), chosen, header, label_column, feature_columns, file.name)
    except OSError as exc:
        raise DatasetError(f"cannot read {file.name}: {exc.strerror or exc}") from None


def _rows(handle: TextIO, delimiter: str | None) -> Iterator[tuple[int, list[str]]]:
    """Each non-blank row's line number (where it ends) and its cells, stripped."""
    if delimiter is None:
        for number, line in enumerate(handle, start=1):
            cells = line.split()
            if cells:
                yield number, cells
        return
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        for cells in reader:
            cells = [c.strip() for c in cells]
            if any(cells):
                yield reader.line_num, cells
    except csv.Error as exc:
        raise CsvProblem(f"line {reader.line_num}: {exc}", line=reader.line_num) from None


def _to_float(cell: str, decimal_comma: bool) -> float | None:
    try:
        return float(cell)
    except ValueError:
        if decimal_comma and _DECIMAL_COMMA.match(cell):
            return float(cell.replace(",", "."))
        return None


def _is_number(cell: str, decimal_comma: bool) -> bool:
    return _to_float(cell, decimal_comma) is not None


def _sniff(head: str, whole: bool) -> str | None:
    """The delimiter under which most of the first lines split into the same number (≥ 2) of cells,
    preferring the one that gives the most numbers."""
    lines = head.splitlines()
    if not whole:
        lines = lines[:-1]  # probably cut in the middle
    sample = "\n".join(line for line in lines[: _SNIFF_LINES * 2] if line.strip())
    best, best_score = ",", None
    for delimiter in _DELIMITERS.values():
        try:
            rows = [cells for _, cells in _rows(io.StringIO(sample), delimiter)][:_SNIFF_LINES]
        except DatasetError:
            continue
        if not rows:
            continue
        widths = sorted(len(r) for r in rows)
        if widths[len(widths) // 2] < 2:  # most lines must split
            continue
        numeric = sum(_is_number(c, delimiter != ",") for r in rows for c in r)
        score = (widths[0] == widths[-1], numeric, widths[-1])
        if best_score is None or score > best_score:
            best, best_score = delimiter, score
    return best


def _read_rows(
    rows: Iterator[tuple[int, list[str]]],
    delimiter: str | None,
    header: str,
    label_column: str,
    feature_columns: str,
    file_name: str,
) -> _Table:
    decimal_comma = delimiter != ","
    first = next(rows, None)
    if first is None:
        raise DatasetError(f"{file_name} has no cells with a value")
    _, first_cells = first
    has_header = _has_header(first_cells, delimiter, header)
    width = len(first_cells)
    if has_header:
        names = _unique_names(first_cells)
        first = next(rows, None)
        if first is None:
            raise DatasetError(f"{file_name} has a header but no data rows")
    else:
        names = [f"column {j + 1}" for j in range(width)]
    if width < 2:
        shown = {None: "spaces", "\t": "tabs"}.get(delimiter, repr(delimiter))
        raise DatasetError(
            f"{file_name} has a single column when split by {shown}: a dataset needs at least one feature "
            "and a label (is the delimiter right?)"
        )
    label_index = _label_index(names, label_column)
    feature_indices = _feature_indices(names, feature_columns, label_index)
    reference = "header" if has_header else "first row"

    values = array("d")
    missing_cells: list[int] = []  # flat positions in values
    label_cells: list[str] = []
    lines = array("q")
    for line, cells in chain([first], rows):
        if len(cells) != width:
            raise CsvProblem(f"line {line} has {len(cells)} cells where the {reference} has {width}", line=line)
        for j in feature_indices:
            cell = cells[j]
            try:
                number = float(cell)
            except ValueError:
                number = _unusual_cell(cell, decimal_comma, line, names[j])
            if number != number:  # NaN: a missing value
                missing_cells.append(len(values))
            elif number in (np.inf, -np.inf):
                raise CsvProblem(
                    f"line {line}, column {names[j]!r}: {cell!r} is not a finite number", line=line, column=names[j]
                )
            values.append(number)
        label_cells.append(cells[label_index])
        lines.append(line)

    features = np.frombuffer(values, dtype=float).reshape(len(lines), len(feature_indices)).copy()
    feature_missing = np.zeros(features.size, dtype=bool)
    feature_missing[missing_cells] = True
    return _Table(
        names=names,
        feature_indices=feature_indices,
        label_index=label_index,
        features=features,
        feature_missing=feature_missing.reshape(features.shape),
        label_cells=label_cells,
        lines=np.frombuffer(lines, dtype=np.int64).copy(),
        delimiter=delimiter,
        has_header=has_header,
    )


def _unusual_cell(cell: str, decimal_comma: bool, line: int, column: str) -> float:
    """A cell that ``float`` refused: NaN for a missing value, a decimal-comma number, or an error."""
    if cell.lower() in MISSING_TOKENS:
        return float("nan")
    number = _to_float(cell, decimal_comma)
    if number is None:
        raise CsvProblem(
            f"line {line}, column {column!r}: {cell!r} is not a number. "
            "Features must be numbers; leave a text column out of the feature columns",
            line=line,
            column=column,
        )
    return number


def _unique_names(cells: list[str]) -> list[str]:
    names, seen = [], set()
    for j, cell in enumerate(cells):
        name = cell or f"column {j + 1}"
        base, k = name, 2
        while name in seen:
            name, k = f"{base} ({k})", k + 1
        seen.add(name)
        names.append(name)
    return names


# ---------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------
def _column(names: list[str], reference: str, what: str) -> int:
    """A column by name (exact, then ignoring case) or by 0-based position (negative from the end)."""
    reference = reference.strip()
    if reference in names:
        return names.index(reference)
    lowered = [n.lower() for n in names]
    if reference.lower() in lowered:
        return lowered.index(reference.lower())
    try:
        position = int(reference)
    except ValueError:
        known = ", ".join(repr(n) for n in names[:12]) + (", ..." if len(names) > 12 else "")
        raise DatasetError(f"{what}: there is no column {reference!r} (the columns are {known})") from None
    width = len(names)
    if not -width <= position < width:
        raise DatasetError(
            f"{what}: column position {position} is out of range (the file has {width} columns, 0..{width - 1})"
        )
    return position % width


def _label_index(names: list[str], label_column: str) -> int:
    if not label_column.strip():
        return len(names) - 1
    return _column(names, label_column, "label column")


def _feature_indices(names: list[str], feature_columns: str, label_index: int) -> list[int]:
    if not feature_columns.strip():
        return [j for j in range(len(names)) if j != label_index]
    indices: list[int] = []
    for part in feature_columns.split(","):
        part = part.strip()
        if not part:
            continue
        match = _RANGE.match(part)
        if match and part not in names:
            first = _column(names, match.group(1), "feature columns")
            last = _column(names, match.group(2), "feature columns")
            chosen = list(range(first, last + 1)) if first <= last else list(range(first, last - 1, -1))
        else:
            chosen = [_column(names, part, "feature columns")]
        for j in chosen:
            if j == label_index:
                raise CsvProblem(
                    f"feature columns: {names[j]!r} is the label column; it cannot also be a feature",
                    column=names[j],
                )
            if j not in indices:
                indices.append(j)
    if not indices:
        raise DatasetError("feature columns: no column chosen")
    return indices


def _handle_missing(table: _Table, label_missing: np.ndarray, missing: str) -> tuple[np.ndarray, int]:
    """Which rows to keep, and how many are dropped; imputes ``table.features`` in place."""
    features, feature_missing, names = table.features, table.feature_missing, table.names
    any_missing = feature_missing.any(axis=1) | label_missing
    if missing == "error" and any_missing.any():
        i = int(np.argmax(any_missing))
        if label_missing[i]:
            column = names[table.label_index]
        else:
            column = names[table.feature_indices[int(np.argmax(feature_missing[i]))]]
        total = int(feature_missing.sum() + label_missing.sum())
        more = f" ({total - 1} more missing cell(s) elsewhere)" if total > 1 else ""
        raise CsvProblem(
            f"line {table.lines[i]}, column {column!r}: the value is missing{more}. "
            "Choose 'drop' or 'impute-mean' for missing values to load the file anyway",
            line=int(table.lines[i]),
            column=column,
        )
    if missing == "impute-mean":
        keep = ~label_missing
        for k in range(features.shape[1]):
            present = keep & ~feature_missing[:, k]
            if not present.any():
                name = names[table.feature_indices[k]]
                raise CsvProblem(f"column {name!r} has no values to take a mean of", column=name)
            features[feature_missing[:, k], k] = features[present, k].mean()
    else:
        keep = ~any_missing
    if not keep.any():
        raise DatasetError("every row has a missing value; nothing is left to load")
    return keep, int((~keep).sum())


# ---------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------
def _regression_targets(cells: list[str], lines: np.ndarray, name: str, decimal_comma: bool) -> np.ndarray:
    targets = np.empty(len(cells))
    for i, cell in enumerate(cells):
        number = _to_float(cell, decimal_comma)
        if number is None or not np.isfinite(number):
            raise CsvProblem(
                f"line {lines[i]}, column {name!r}: {cell!r} is not a number, and regression needs numeric "
                "targets (choose the classification task for classes)",
                line=int(lines[i]),
                column=name,
            )
        targets[i] = number
    return targets


def _classes(cells: list[str], name: str, decimal_comma: bool) -> tuple[np.ndarray, list[str]]:
    numbers = [_to_float(c, decimal_comma) for c in cells]
    if all(v is not None for v in numbers):
        values = sorted(set(numbers))  # numeric classes in numeric order: 2 before 10
        class_names = [_number_name(v) for v in values]
        lookup = {v: k for k, v in enumerate(values)}
        labels = np.array([lookup[v] for v in numbers], dtype=int)
    else:
        class_names = sorted(set(cells))
        lookup = {v: k for k, v in enumerate(class_names)}
        labels = np.array([lookup[c] for c in cells], dtype=int)
    if len(class_names) < 2:
        raise CsvProblem(
            f"the label column {name!r} has only one class ({class_names[0]!r}); a classifier needs at least two",
            column=name,
        )
    if len(class_names) > MAX_CLASSES:
        raise CsvProblem(
            f"the label column {name!r} has {len(class_names)} different values: more than {MAX_CLASSES} classes. "
            "If it is a quantity to predict, choose the regression task; otherwise check the label column",
            column=name,
        )
    return labels, class_names


def _number_name(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
