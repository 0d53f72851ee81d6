"""The plots' data: one run's metrics in growable numpy arrays (:class:`RunCurves`), never touching Qt.

Split from :mod:`qmlstudio.gui.plots` (which re-exports every name): filled from the engine's
reports (a live run) or from a saved :class:`~qmlstudio.core.project.RunRecord`.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from qmlstudio.core.project import METRIC_NAMES, RunRecord

TRAIN_COLOUR = "#2563eb"  # blue
TEST_COLOUR = "#f97316"  # orange
BASELINE_COLOUR = "#6b7280"
#: Colours of runs overlaid on one plot (Tableau 10, colour-blind friendly order).
RUN_COLOURS = ("#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#b07aa1", "#76b7b2", "#edc948", "#ff9da7",
               "#9c755f", "#bab0ac")
#: Class colours of data points and decision regions.
CLASS_COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#db2777",
                 "#4b5563", "#65a30d")
#: At most this many weight trajectories are drawn (the first ones).
MAX_WEIGHT_CURVES = 32
#: Weight curves redrawn in one event-loop pass while a run trains (the rest in the next ones).
WEIGHT_CURVES_PER_STEP = 4
#: Weight rows kept per run before every other one is dropped (the trajectory is thinned).
MAX_WEIGHT_ROWS = 4096

_COLUMNS = {name: i for i, name in enumerate(METRIC_NAMES)}


# ============================================================================ data
class Series:
    """A growable pair of float arrays (x, y); appending is amortised O(1)."""

    def __init__(self, capacity: int = 256) -> None:
        self._x = np.empty(capacity)
        self._y = np.empty(capacity)
        self.n = 0
        #: running extremes, so that a view can follow the data without scanning it each frame
        self.x_min = self.y_min = math.inf
        self.x_max = self.y_max = -math.inf

    def extend(self, xs: np.ndarray, ys: np.ndarray) -> None:
        k = len(xs)
        if not k:
            return
        self.x_min = min(self.x_min, float(np.min(xs)))
        self.x_max = max(self.x_max, float(np.max(xs)))
        self.y_min = min(self.y_min, float(np.min(ys)))
        self.y_max = max(self.y_max, float(np.max(ys)))
        if self.n + k > len(self._x):
            size = max(2 * len(self._x), self.n + k)
            self._x = np.resize(self._x, size)
            self._y = np.resize(self._y, size)
        self._x[self.n : self.n + k] = xs
        self._y[self.n : self.n + k] = ys
        self.n += k

    @property
    def x(self) -> np.ndarray:
        return self._x[: self.n]

    @property
    def y(self) -> np.ndarray:
        return self._y[: self.n]

    def last(self) -> float | None:
        return float(self._y[self.n - 1]) if self.n else None

    def __len__(self) -> int:
        return self.n


def split_rows(setup: Any, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The rows (x, y) of a run's ``"train"``, ``"validation"`` or ``"test"`` split."""
    if split == "test":
        return setup.x_test, setup.y_test
    if split == "validation" and getattr(setup, "y_val", None) is not None:
        return setup.x_val, setup.y_val
    return setup.x_train, setup.y_train


class RunCurves:
    """One run's metrics and weight trajectories, for plotting (Qt-free).

    ``table`` holds every recorded row of :data:`~qmlstudio.core.project.METRIC_NAMES`
    (NaN where a value was not measured); ``series[name]`` holds only the measured points
    of each metric against the iteration, which is what the plots draw.
    """

    def __init__(self, run_id: str, label: str = "", task: str = "classification") -> None:
        self.run_id = run_id
        self.label = label or run_id
        self.task = task
        self.series = {name: Series() for name in METRIC_NAMES if name != "iteration"}
        self._table = np.empty((256, len(METRIC_NAMES)))
        self.rows = 0
        self._weights = np.empty((0, 0))
        self._weight_x = np.empty(0)
        self._kept = 0
        self._tail: tuple[float, np.ndarray] | None = None
        self.weight_rows = 0
        self._weight_stride = 1
        self._weight_seen = 0
        self.last_weights: np.ndarray | None = None
        self.baselines: dict[str, dict[str, float | None]] = {}
        self.boundary: Any = None  # the last BoundaryFrame, when this session computed one
        self.total_iterations = 0
        #: whether the run has a validation split (None: not known); without one the plots
        #: leave its curves out of their legends
        self.has_validation: bool | None = None
        #: whether the run reports its classical and quantum gradient norms apart (a hybrid)
        self.has_parts = False
        self.version = 0  # bumped on every change, so views redraw only what changed
        #: added to the iterations on the plots' x axis (a layerwise phase is drawn after the
        #: phases before it); the table keeps the run's own iterations
        self.x_offset = 0.0

    # ---------------------------------------------------------------- filling
    @classmethod
    def from_record(cls, record: RunRecord, label: str = "") -> "RunCurves":
        curves = cls(record.id, label, _task_of(record))
        rows = np.array(
            [[np.nan if v is None else float(v) for v in record.metrics.get(name, [])] for name in METRIC_NAMES],
            dtype=float,
        ).T.reshape(-1, len(METRIC_NAMES))
        curves._add_rows(rows)
        preprocessing = (record.config or {}).get("preprocessing")
        size = preprocessing.get("validation_size") if isinstance(preprocessing, dict) else None
        measured = any(v is not None for v in record.metrics.get("val_loss", []))
        curves.has_validation = measured or (isinstance(size, (int, float)) and size > 0)
        curves.has_parts = any(v is not None for v in record.metrics.get("grad_norm_quantum", []))
        if record.final_weights:
            weights = np.array([np.nan if w is None else w for w in record.final_weights], dtype=float)
            curves.last_weights = weights
            if record.initial_weights and len(record.initial_weights) == len(weights) and curves.rows:
                start = np.array([np.nan if w is None else w for w in record.initial_weights], dtype=float)
                first = rows[0, 0] - 1 if np.isfinite(rows[0, 0]) else 0.0
                last = rows[-1, 0] if np.isfinite(rows[-1, 0]) else 1.0
                curves._add_weights(np.array([first, last]), np.vstack([start, weights]))
        curves.baselines = dict(record.baselines)
        return curves

    def add_final_test(self, record: RunRecord) -> None:
        """Adds the test split's score, taken once when the run ended, at its last iteration."""
        if not self.rows:
            return
        x = np.array([self._table[self.rows - 1, 0] + self.x_offset])
        for name, key in (("test_loss", "loss"), ("test_accuracy", "accuracy")):
            value = (record.test or {}).get(key)
            if value is not None and math.isfinite(value) and not self.series[name].n:
                self._table[self.rows - 1, _COLUMNS[name]] = value
                self.series[name].extend(x, np.array([float(value)]))
        self.version += 1

    def add_reports(self, reports: Sequence[Any]) -> None:
        """Appends the engine's IterationReports (in order)."""
        if not reports:
            return
        rows = np.array(
            [[_number(getattr(r, name)) for name in METRIC_NAMES] for r in reports], dtype=float
        )
        self._add_rows(rows)
        self.total_iterations = int(getattr(reports[-1], "total_iterations", 0) or self.total_iterations)
        weights = [np.asarray(r.weights, dtype=float) for r in reports if len(getattr(r, "weights", ()))]
        if weights and len({w.shape for w in weights}) == 1:
            self.last_weights = weights[-1]
            x = np.array([r.iteration for r in reports if len(r.weights)], dtype=float) + self.x_offset
            self._add_weights(x, np.vstack(weights))

    def fill_last_row(self, record: RunRecord) -> None:
        """Takes the values the engine measured for the last row after reporting it (a stopped
        run's final weights, evaluated when the run ended): the curves then end where the
        record does. Only values missing here are taken, and only when the rows match."""
        if not self.rows or record.num_points != self.rows:
            return
        row = self._table[self.rows - 1]
        x = row[0] + self.x_offset
        changed = False
        for name, series in self.series.items():
            column = _COLUMNS[name]
            value = record.metrics.get(name, [None])[-1]
            if np.isfinite(row[column]) or value is None or not math.isfinite(float(value)):
                continue
            row[column] = float(value)
            if np.isfinite(x) and (name != "grad_norm" or value > 0):
                series.extend(np.array([x]), np.array([float(value)]))
            changed = True
        if changed:
            self.version += 1

    def _add_rows(self, rows: np.ndarray) -> None:
        k = len(rows)
        if not k:
            return
        if self.rows + k > len(self._table):
            self._table = np.resize(self._table, (max(2 * len(self._table), self.rows + k), len(METRIC_NAMES)))
        self._table[self.rows : self.rows + k] = rows
        self.rows += k
        x = rows[:, 0] + self.x_offset
        for name, series in self.series.items():
            y = rows[:, _COLUMNS[name]]
            keep = np.isfinite(y) & np.isfinite(x)
            if name == "grad_norm":
                keep &= y > 0  # drawn on a log axis
            if keep.all():
                series.extend(x, y)
            elif keep.any():
                series.extend(x[keep], y[keep])
        self.version += 1

    def _add_weights(self, x: np.ndarray, weights: np.ndarray) -> None:
        # Keep the rows of every stride-th iteration, and halve them (doubling the stride)
        # whenever they fill up, so a run of a million iterations keeps a trajectory of a
        # few thousand points; the newest row is always drawn too (the "tail").
        if self._weights.shape[1:] != weights.shape[1:]:
            self._weights = np.empty((256, weights.shape[1]))
            self._weight_x = np.empty(256)
            self._kept = 0
            self._weight_seen = 0
            self._weight_stride = 1
        index = np.arange(self._weight_seen, self._weight_seen + len(x))
        self._weight_seen += len(x)
        keep = index % self._weight_stride == 0
        kx, kw = x[keep], weights[keep]
        need = self._kept + len(kx)
        if need > len(self._weight_x):
            size = max(2 * len(self._weight_x), need)
            self._weights = np.resize(self._weights, (size, weights.shape[1]))
            self._weight_x = np.resize(self._weight_x, size)
        self._weights[self._kept : need] = kw
        self._weight_x[self._kept : need] = kx
        self._kept = need
        if self._kept > MAX_WEIGHT_ROWS:
            self._weight_x = np.ascontiguousarray(self._weight_x[: self._kept : 2])
            self._weights = np.ascontiguousarray(self._weights[: self._kept : 2])
            self._kept = len(self._weight_x)
            self._weight_stride *= 2
        self._tail = None if keep[-1] else (float(x[-1]), weights[-1].copy())
        self.weight_rows = self._kept + (self._tail is not None)

    # ---------------------------------------------------------------- reading
    @property
    def table(self) -> np.ndarray:
        return self._table[: self.rows]

    @property
    def weight_x(self) -> np.ndarray:
        kept = self._weight_x[: self._kept]
        return kept if self._tail is None else np.append(kept, self._tail[0])

    @property
    def weights(self) -> np.ndarray:
        kept = self._weights[: self._kept]
        return kept if self._tail is None else np.vstack([kept, self._tail[1][None, :]])

    def last(self, name: str) -> float | None:
        if name == "iteration":
            return float(self._table[self.rows - 1, 0]) if self.rows else None
        return self.series[name].last()

    def metrics(self) -> dict[str, list[float | None]]:
        """The rows as a RunRecord's ``metrics`` (None where not measured)."""
        table = self.table
        result: dict[str, list[float | None]] = {}
        for name, column in _COLUMNS.items():
            values = table[:, column]
            if name in ("iteration", "epoch"):
                result[name] = [None if not math.isfinite(v) else int(v) for v in values]
            else:
                result[name] = [None if not math.isfinite(v) else float(v) for v in values]
        return result


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _task_of(record: RunRecord) -> str:
    kind = (record.config.get("model") or {}).get("kind") if isinstance(record.config, dict) else None
    return "regression" if kind == "regressor" else "classification"


# ======================================================================= drawing
