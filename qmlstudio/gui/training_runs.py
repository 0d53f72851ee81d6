"""Runs as the training dock lists them: the runs table's model, run labels, metrics as CSV."""

from __future__ import annotations

import csv
import io
import math
from datetime import datetime
from pathlib import Path
from typing import Any, Sequence

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
)
from PySide6.QtGui import QBrush, QColor, QFont

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.core.project import METRIC_NAMES, Project, RunRecord
from qmlstudio.core.storage import atomic_write_text
from qmlstudio.gui.dataset_options import format_number
from qmlstudio.gui.training_state import _STATUS_COLOURS


# ================================================================== run records
def run_metrics_csv(record: RunRecord) -> str:
    """The run's metrics as CSV text: a header of the metric names, one row per iteration."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(METRIC_NAMES)
    columns = [record.metrics.get(name, []) for name in METRIC_NAMES]
    for row in zip(*columns):
        writer.writerow(["" if v is None else (repr(v) if isinstance(v, float) else v) for v in row])
    return out.getvalue()


def write_run_csv(record: RunRecord, path: str | Path) -> Path:
    """Writes :func:`run_metrics_csv` to ``path`` atomically."""
    atomic_write_text(path, run_metrics_csv(record))
    return Path(path)


def _local_time(stamp: str | None, with_date: bool = True) -> str:
    if not stamp:
        return ""
    try:
        when = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp).astimezone()
    except ValueError:
        return stamp
    return when.strftime("%Y-%m-%d %H:%M:%S" if with_date else "%H:%M:%S")


def _last(values: Sequence[Any]) -> Any:
    for value in reversed(values):
        if value is not None:
            return value
    return None


def _duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return ""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def _eta(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "—"
    if seconds < 1:
        return "<1 s"
    seconds = int(round(seconds))
    if seconds < 3600:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _describe_model(config: dict[str, Any]) -> str:
    model = (config.get("model") or {}).get("kind", "?")
    kind = {"vqc": "VQC", "regressor": "Regressor", "kernel": "Kernel SVM"}.get(model, str(model))
    parts = [kind]
    encoding = (config.get("encoding") or {}).get("name")
    ansatz = config.get("ansatz") or {}
    if model != "kernel" and ansatz.get("name"):
        reps = (ansatz.get("options") or {}).get("reps")
        parts.append(f"{encoding} + {ansatz['name']}" + (f" ×{reps}" if reps else ""))
    elif encoding:
        parts.append(str(encoding))
    qubits = (config.get("circuit") or {}).get("num_qubits")
    if qubits:
        parts.append(f"{qubits} q")
    return " · ".join(parts)


def _describe_optimizer(config: dict[str, Any]) -> str:
    model = config.get("model") or {}
    if model.get("kind") == "kernel":  # an SVM is fitted, no optimizer runs
        c = (model.get("options") or {}).get("C", 1.0)
        return f"SVM fit · C {c:g}" if isinstance(c, (int, float)) else "SVM fit"
    optimizer = config.get("optimizer") or {}
    name = optimizer.get("name", "")
    rate = (optimizer.get("options") or {}).get("learning_rate")
    training = config.get("training") or {}
    epochs = training.get("epochs")
    text = name + (f" lr {format_number(rate)}" if isinstance(rate, (int, float)) else "")
    return text + (f" · {epochs} ep" if epochs else "")


def run_label(project: Project, run_id: str) -> str:
    """A short name for a run in legends: ``#3 14:05:12`` (its number in the project, its start)."""
    for number, run in enumerate(project.runs, start=1):
        if run.id == run_id:
            return f"#{number} {_local_time(run.started, with_date=False)}"
    return "live"


# ===================================================================== runs table
class RunsTableModel(QAbstractTableModel):
    """The project's runs, newest first, with the run in progress (if any) on top.

    Follows ``project.events.runs_changed``; holds no copy of the runs.
    """

    COLUMNS = ("Started", "Model", "Optimizer", "Backend", "Train", "Test", "Time", "Status")

    def __init__(self, project: Project, parent: Any = None) -> None:
        super().__init__(parent)
        self.project = project
        self.live: dict[str, Any] | None = None
        project.events.runs_changed.connect(self._on_runs_changed)

    def set_project(self, project: Project) -> None:
        self.beginResetModel()
        self.project.events.runs_changed.disconnect(self._on_runs_changed)
        self.project = project
        self.live = None
        project.events.runs_changed.connect(self._on_runs_changed)
        self.endResetModel()

    def detach(self) -> None:
        self.project.events.runs_changed.disconnect(self._on_runs_changed)

    def _on_runs_changed(self, **_: Any) -> None:
        try:
            self.beginResetModel()
            self.endResetModel()
        except RuntimeError:  # the view went away without detaching: stop following
            self.project.events.runs_changed.disconnect(self._on_runs_changed)

    # ------------------------------------------------------------------ live row
    def set_live(self, live: dict[str, Any] | None) -> None:
        """Shows (or, with None, removes) the row of the run in progress."""
        if (self.live is None) != (live is None):
            self.beginResetModel()
            self.live = live
            self.endResetModel()
        else:
            self.live = live
            if live is not None:
                self.dataChanged.emit(self.index(0, 0), self.index(0, len(self.COLUMNS) - 1))

    # ------------------------------------------------------------------- reading
    def _runs(self) -> list[RunRecord]:
        return list(reversed(self.project.runs))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        if parent.isValid():
            return 0
        return len(self.project.runs) + (self.live is not None)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.COLUMNS[section]
        return None

    def run_id(self, row: int) -> str | None:
        if self.live is not None:
            if row == 0:
                return self.live["id"]
            row -= 1
        runs = self._runs()
        return runs[row].id if 0 <= row < len(runs) else None

    def row_of(self, run_id: str) -> int | None:
        for row in range(self.rowCount()):
            if self.run_id(row) == run_id:
                return row
        return None

    def record(self, row: int) -> RunRecord | None:
        offset = row - (self.live is not None)
        runs = self._runs()
        return runs[offset] if 0 <= offset < len(runs) else None

    def row_values(self, row: int) -> dict[str, Any]:
        """The values of a row as plain data (the live row or a saved run)."""
        if self.live is not None and row == 0:
            return self.live
        record = self.record(row)
        if record is None:
            return {}
        regression = (record.config.get("model") or {}).get("kind") == "regressor"
        return {
            "id": record.id,
            "started": record.started,
            "config": record.config,
            "train": _last(record.metrics.get("train_accuracy", [])),
            "test": _last(record.metrics.get("test_accuracy", [])),
            "seconds": (record.timings or {}).get("seconds"),
            "status": record.status,
            "message": record.message,
            "iterations": _last(record.metrics.get("iteration", [])),
            "regression": regression,
        }

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        values = self.row_values(index.row())
        if not values:
            return None
        column = self.COLUMNS[index.column()]
        config = values.get("config") or {}
        if role == Qt.ItemDataRole.DisplayRole:
            if column == "Started":
                return _local_time(values.get("started"))
            if column == "Model":
                return _describe_model(config)
            if column == "Optimizer":
                return _describe_optimizer(config)
            if column == "Backend":
                return (config.get("backend") or {}).get("name", "")
            if column in ("Train", "Test"):
                score = values.get("train" if column == "Train" else "test")
                if score is None:
                    return ""
                return f"R² {score:.3f}" if values.get("regression") else f"{score:.3f}"
            if column == "Time":
                return _duration(values.get("seconds"))
            if column == "Status":
                return values.get("status", "")
        if role == Qt.ItemDataRole.ForegroundRole and column == "Status":
            return QBrush(QColor(_STATUS_COLOURS.get(values.get("status", ""), "#374151")))
        if role == Qt.ItemDataRole.FontRole and values is self.live:
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("Train", "Test", "Time"):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"Run {values.get('id', '')}"]
            if column in ("Model", "Optimizer", "Backend"):  # a narrow table elides these: say them whole
                lines.insert(0, str(self.data(index, Qt.ItemDataRole.DisplayRole) or ""))
            if values.get("iterations") is not None:
                lines.append(f"{int(values['iterations']):,} iterations")
            if values.get("message"):
                lines.append(str(values["message"]))
            optimizer = config.get("optimizer") or {}
            if optimizer.get("name"):
                options = ", ".join(f"{k} {format_number(v) if isinstance(v, float) else v}"
                                    for k, v in (optimizer.get("options") or {}).items())
                lines.append(f"Optimizer: {optimizer['name']}" + (f" ({options})" if options else ""))
            return "\n".join(lines)
        if role == Qt.ItemDataRole.UserRole:
            return values.get("id")
        return None
