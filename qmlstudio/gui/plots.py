"""The training dashboard's plots (pyqtgraph): curves, weights, decision boundary, confusion matrix.

Data and drawing are kept apart. A :class:`RunCurves` holds one run's metrics in growable
numpy arrays, filled from the engine's reports (a live run) or from a saved
:class:`~qmlstudio.core.project.RunRecord`; it never touches Qt. The plot panels show a list
of ``RunCurves`` and redraw only when asked (:meth:`CurvesPanel.refresh`), with one
``setData`` per curve, so the dock can redraw at a bounded frame rate however fast
iterations come. Long runs stay cheap to draw: curves are clipped to the view and
peak-downsampled, and weight trajectories are thinned as they grow.

Every panel is a titled card with an export button (PNG or SVG through pyqtgraph's
exporters, also :meth:`PlotPanel.export`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette, QWheelEvent
from PySide6.QtWidgets import (
    QAbstractScrollArea,
    QApplication,
    QFileDialog,
    QGraphicsItem,
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.project import METRIC_NAMES, RunRecord

__all__ = [
    "CLASS_COLOURS",
    "RUN_COLOURS",
    "TEST_COLOUR",
    "TRAIN_COLOUR",
    "BoundaryPanel",
    "ConfusionPanel",
    "CurvesPanel",
    "PlotPanel",
    "RunCurves",
    "Series",
    "WeightsPanel",
    "export_plot_item",
]

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
        self.version = 0  # bumped on every change, so views redraw only what changed

    # ---------------------------------------------------------------- filling
    @classmethod
    def from_record(cls, record: RunRecord, label: str = "") -> "RunCurves":
        curves = cls(record.id, label, _task_of(record))
        rows = np.array(
            [[np.nan if v is None else float(v) for v in record.metrics.get(name, [])] for name in METRIC_NAMES],
            dtype=float,
        ).T.reshape(-1, len(METRIC_NAMES))
        curves._add_rows(rows)
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
        x = np.array([self._table[self.rows - 1, 0]])
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
            self._add_weights(np.array([r.iteration for r in reports if len(r.weights)], dtype=float), np.vstack(weights))

    def fill_last_row(self, record: RunRecord) -> None:
        """Takes the values the engine measured for the last row after reporting it (a stopped
        run's final weights, evaluated when the run ended): the curves then end where the
        record does. Only values missing here are taken, and only when the rows match."""
        if not self.rows or record.num_points != self.rows:
            return
        row = self._table[self.rows - 1]
        x = row[0]
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
        x = rows[:, 0]
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
def _palette_colours(widget: QWidget) -> tuple[QColor, QColor, QColor]:
    palette = widget.palette()
    return (
        palette.color(QPalette.ColorRole.Base),
        palette.color(QPalette.ColorRole.Text),
        palette.color(QPalette.ColorRole.Mid),
    )


def export_plot_item(item: Any, path: str | Path, width: int = 1200) -> Path:
    """Writes a plot (a PlotItem) as PNG (pyqtgraph's exporter) or SVG, by the file's suffix.

    SVG is drawn by Qt's own ``QSvgGenerator`` from the plot's scene: pyqtgraph 0.14's SVG
    exporter cannot parse the paths that Qt 6.10+ writes (pyqtgraph issue #3485).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".svg":
        return _export_svg(item, path)
    if suffix not in (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"):
        raise ValueError(f"cannot export a plot as '{path.suffix or path.name}': choose .png or .svg")
    import pyqtgraph.exporters as exporters

    exporter = exporters.ImageExporter(item)
    exporter.parameters()["width"] = int(width)
    exporter.export(str(path))
    if not path.exists():
        raise OSError(f"could not write {path}")
    return path


def _export_svg(item: Any, path: Path) -> Path:
    from PySide6.QtCore import QRect, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator

    source = item.sceneBoundingRect()
    size = QSize(max(1, int(source.width())), max(1, int(source.height())))
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    # The scene's pens and fonts are in screen pixels: at the generator's default 72 dpi the
    # curves and the axes would be scaled apart (as pyqtgraph's PR #641 found for its own).
    views = item.scene().views()
    dpi = views[0].logicalDpiX() if views else 96
    generator.setResolution(int(dpi))
    generator.setTitle(getattr(item, "titleLabel", None) and item.titleLabel.text or "QML Studio plot")
    generator.setDescription("Exported from QML Studio")
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"could not write {path}")
    # Export mode makes items draw for a vector device (each symbol drawn, no pixmap atlas).
    items = [it for it in item.scene().items() if hasattr(it, "setExportMode")]
    options = {"antialias": True, "background": None, "painter": painter}
    try:
        for it in items:
            it.setExportMode(True, options)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        item.scene().render(painter, QRectF(0, 0, size.width(), size.height()), source)
    finally:
        for it in items:
            it.setExportMode(False)
        painter.end()
    if not path.exists():
        raise OSError(f"could not write {path}")
    return path


class _WheelZoomsWithCtrl(QObject):
    """Lets a plain mouse wheel over a plot scroll what the plot sits in; Ctrl + wheel zooms.

    pyqtgraph zooms on every wheel event and accepts it, so a panel of plots in a scroll
    area could not be scrolled with the pointer over a plot. The filter stops a wheel event
    without Ctrl before pyqtgraph and hands it to the nearest scroll area around the plot
    (or, with none, leaves it unaccepted for Qt to pass on to the parents).
    """

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() != QEvent.Type.Wheel or event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            return False
        event.ignore()
        plot = watched.parent() if isinstance(watched, QWidget) else None
        area = plot.parentWidget() if isinstance(plot, QWidget) else None
        while area is not None and not isinstance(area, QAbstractScrollArea):
            area = area.parentWidget()
        if area is not None:
            viewport = area.viewport()
            local = QPointF(viewport.mapFromGlobal(event.globalPosition().toPoint()))
            forwarded = QWheelEvent(local, event.globalPosition(), event.pixelDelta(), event.angleDelta(),
                                    event.buttons(), event.modifiers(), event.phase(), event.inverted(),
                                    event.source())
            QApplication.sendEvent(viewport, forwarded)
            event.setAccepted(forwarded.isAccepted())
        return True


_WHEEL_FILTER: _WheelZoomsWithCtrl | None = None


def wheel_zooms_with_ctrl(plot_widget: pg.PlotWidget) -> None:
    """Makes ``plot_widget`` zoom on Ctrl + wheel only (see :class:`_WheelZoomsWithCtrl`)."""
    global _WHEEL_FILTER
    if _WHEEL_FILTER is None:
        _WHEEL_FILTER = _WheelZoomsWithCtrl()
    plot_widget.viewport().installEventFilter(_WHEEL_FILTER)
    tip = plot_widget.toolTip()
    if not tip:
        plot_widget.setToolTip("Ctrl + wheel zooms; drag pans; right-click for the view menu")


def wrap_text(text: str, metrics: QFontMetrics, width: float) -> str:
    """``text`` with its lines broken at spaces so that each is at most ``width`` pixels wide
    (a single word wider than that stays whole: there is nothing better to do with it)."""
    if width <= 0:
        return text
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and metrics.horizontalAdvance(candidate) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return "\n".join(lines)


def _nice_ceiling(value: float) -> float:
    """The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is ≥ ``value``."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if step * power >= value * (1 - 1e-12):
            return step * power
    return 10.0 * power


class StickyRange:
    """View limits that follow growing data in steps rather than every frame.

    Redrawing an axis (its ticks, labels and grid) is the dearest part of a pyqtgraph frame;
    autoscaling to every new point would redraw every axis at every frame. Here the
    iteration axis grows by about half at a time (to a round number), and a value axis
    changes only when the data leave it or fill less than 40 % of it.
    """

    def __init__(self, kind: str = "value", log: bool = False, limits: tuple[float, float] | None = None) -> None:
        self.kind = kind
        self.log = log
        self.limits = limits
        #: fit the data exactly (a finished run) rather than leaving room to grow
        self.tight = False
        self.current: tuple[float, float] | None = None

    def reset(self) -> None:
        self.current = None

    def update(self, lo: float, hi: float) -> tuple[float, float] | None:
        """The new limits for data spanning [lo, hi], or None when the current ones still fit."""
        if self.limits is not None:
            if self.current != self.limits:
                self.current = self.limits
                return self.limits
            return None
        if not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        if self.log:
            lo, hi = math.log10(max(lo, 1e-300)), math.log10(max(hi, 1e-300))
        current = self.current
        if self.kind == "iteration":
            start = min(0.0, lo)
            if self.tight:  # a finished run: its iterations, and a little room for the last point
                end = hi + max(0.5, 0.015 * (hi - start))
                if current == (start, end):
                    return None
                self.current = (start, end)
                return self.current
            if current is not None and current[0] <= start and hi <= current[1]:
                return None
            self.current = (start, _nice_ceiling(max(hi * 1.5, 50.0)))
            return self.current
        span = hi - lo
        if current is not None:
            inside = current[0] <= lo and hi <= current[1]
            if inside and span >= 0.4 * (current[1] - current[0]):
                return None
        pad = max(span * 0.15, 1e-3 if not self.log else 0.05, abs(hi) * 1e-6)
        self.current = (lo - pad, hi + pad)
        return self.current


class LogAxis(pg.AxisItem):
    """A log axis labelled at the decades only (1, 0.1, 0.01…), or at 1-2-5 within one decade:
    pyqtgraph labels every minor tick of a short log range, and the labels pile up."""

    def logTickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        low, high = self.range
        within_decade = math.floor(high) - math.ceil(low) < 1
        labels = []
        for value in values:
            number = 10.0 ** float(value) * scale
            exponent = math.log10(number) if number > 0 else 0.0
            mantissa = round(number / 10.0 ** math.floor(exponent + 1e-9), 6)
            if abs(exponent - round(exponent)) < 1e-6 or (within_decade and mantissa in (2.0, 5.0)):
                labels.append(f"{number:g}")
            else:
                labels.append("")
        return labels


class PlotPanel(QFrame):
    """A titled card around one pyqtgraph plot, with a value on the right and an export button."""

    exported = Signal(str)

    def __init__(self, name: str, title: str, tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self.setObjectName(f"plot_{name}")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setStyleSheet(
            f"#plot_{name} {{ background: palette(base); border: 1px solid palette(midlight); border-radius: 6px; }}"
        )
        self.title = QLabel(title)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.title.setToolTip(tooltip)
        self.value = QLabel("")
        self.value.setObjectName(f"plotValue_{name}")
        self.value.setStyleSheet("color: palette(dark);")
        self.value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.export_button = QToolButton()
        self.export_button.setObjectName(f"export_{name}")
        self.export_button.setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogSaveButton))
        self.export_button.setAutoRaise(True)
        self.export_button.setToolTip(f"Export the {title.lower()} plot as PNG or SVG")
        self.export_button.clicked.connect(self.export_with_dialog)

        background, foreground, _ = _palette_colours(self)
        self.plot_widget = pg.PlotWidget(background=background)
        wheel_zooms_with_ctrl(self.plot_widget)
        self.plot_widget.setMinimumSize(160, 120)
        self.plot_widget.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.plot: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot.showGrid(x=True, y=True, alpha=0.15)
        self.plot.setMenuEnabled(True)
        self.style_axes()
        self.placeholder = pg.TextItem("", color=foreground.lighter(250) if foreground.lightness() < 128 else foreground,
                                       anchor=(0.5, 0.5))
        self.placeholder.setZValue(100)

        header = QHBoxLayout()
        header.setContentsMargins(10, 6, 4, 0)
        header.addWidget(self.title)
        header.addSpacing(8)  # a gap between title and value even when the card is narrow
        header.addStretch(1)
        header.addWidget(self.value)
        header.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(1, 1, 1, 1)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.plot_widget, 1)

        self.x_range = StickyRange("iteration")
        self.y_range = StickyRange("value")
        self._manual = False
        view = self.plot.getViewBox()
        view.sigRangeChangedManually.connect(self._on_manual_range)

    def style_axes(self) -> None:
        """Colours, fonts and caching of the axes (again after an axis is replaced)."""
        _, foreground, _ = _palette_colours(self)
        tick_font = QFont(self.font())
        tick_font.setPointSizeF(max(7.0, tick_font.pointSizeF() * 0.85))
        for side in ("left", "bottom"):
            axis = self.plot.getAxis(side)
            axis.setPen(pg.mkPen(foreground.lighter(170) if foreground.lightness() < 128 else foreground.darker(150)))
            axis.setTextPen(pg.mkPen(foreground))
            axis.setStyle(tickFont=tick_font, tickLength=-4)
            # An axis is re-rendered only when its range changes, not at every frame.
            axis.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)

    def _on_manual_range(self, *_: Any) -> None:
        self._manual = True  # the user zoomed or panned: leave the view alone

    def follow(self, x: tuple[float, float] | None, y: tuple[float, float] | None) -> None:
        """Keeps the view on data spanning ``x`` and ``y`` (see :class:`StickyRange`)."""
        view = self.plot.getViewBox()
        if self._manual:
            if not any(view.autoRangeEnabled()):
                return
            self._manual = False  # the user pressed the "A" button: follow the data again
            self.x_range.reset()
            self.y_range.reset()
        if any(view.autoRangeEnabled()):
            view.disableAutoRange()
        new_x = self.x_range.update(*x) if x is not None else None
        new_y = self.y_range.update(*y) if y is not None else None
        if new_x is not None or new_y is not None:
            view.setRange(xRange=new_x, yRange=new_y, padding=0)

    def reset_view(self, tight: bool | None = None) -> None:
        """Follows the data again (``tight``: fit a finished run exactly; None: keep the setting)."""
        self._manual = False
        if tight is not None:
            self.x_range.tight = tight
        self.x_range.reset()
        self.y_range.reset()

    def set_placeholder(self, text: str) -> None:
        """A grey sentence in the middle of an empty plot ("" removes it).

        It is wrapped to the plot's width (again when the plot is resized), so that it is
        never cut off at the plot's edges.
        """
        self._placeholder_text = text
        if text:
            if self.placeholder.scene() is None:
                self.plot.addItem(self.placeholder, ignoreBounds=True)
            if not getattr(self, "_placeholder_follows", False):
                self._placeholder_follows = True
                view_box = self.plot.getViewBox()
                view_box.sigResized.connect(self._fit_placeholder)
                view_box.sigRangeChanged.connect(self._fit_placeholder)
            self._fit_placeholder()
        elif self.placeholder.scene() is not None:
            self.plot.removeItem(self.placeholder)

    def _fit_placeholder(self, *_: Any) -> None:
        text = getattr(self, "_placeholder_text", "")
        if not text or self.placeholder.scene() is None:
            return
        view_box = self.plot.getViewBox()
        width = view_box.boundingRect().width() - 16
        self.placeholder.setText(wrap_text(text, QFontMetrics(self.placeholder.textItem.font()), width))
        self.placeholder.setPos(view_box.viewRect().center())

    def export(self, path: str | Path) -> Path:
        """Writes this plot to ``path`` (.png or .svg)."""
        return export_plot_item(self.plot, path)

    def export_with_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(
            self, f"Export {self.title.text()}", f"{self.name}.png", "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if not path:
            return
        if not Path(path).suffix:
            path += ".png"
        try:
            self.export(path)
        except (OSError, ValueError, RuntimeError) as exc:
            QMessageBox.warning(self, "Export failed", f"Could not export the plot to {path}:\n{exc}")
            return
        self.exported.emit(path)


# ------------------------------------------------------------------ curves
@dataclass(frozen=True)
class CurveSpec:
    """One metric drawn by a :class:`CurvesPanel`: its series name, legend name and style."""

    metric: str
    name: str
    colour: str
    dashed: bool = False
    symbol: str | None = None


class CurvesPanel(PlotPanel):
    """Metric curves against the iteration, of one run (full styling) or several (one colour each)."""

    def __init__(self, name: str, title: str, specs: Sequence[CurveSpec], *, log_y: bool = False,
                 y_label: str = "", tooltip: str = "", parent: QWidget | None = None) -> None:
        super().__init__(name, title, tooltip, parent)
        self.specs = list(specs)
        self.log_y = log_y
        self.plot.setLabel("bottom", "iteration")
        if y_label:
            self.plot.setLabel("left", y_label)
        if log_y:
            self.plot.setAxisItems({"left": LogAxis("left")})
            self.style_axes()
            self.plot.setLogMode(y=True)
            self.y_range = StickyRange("value", log=True)
        _, text, _ = _palette_colours(self)
        self.legend = self.plot.addLegend(offset=(-8, 8), labelTextSize="8pt", brush=pg.mkBrush(255, 255, 255, 200),
                                          labelTextColor=text)
        self.legend.setParentItem(self.plot.getViewBox())
        self.legend.anchor((1, 0), (1, 0), offset=(-6, 6))
        self.curves: dict[tuple[str, str], pg.PlotDataItem] = {}
        self._pens: dict[tuple[str, str], tuple[str, Qt.PenStyle, float]] = {}
        self._drawn: dict[tuple[str, str], tuple[int, int]] = {}
        self.runs: list[RunCurves] = []
        self.reference_lines: list[pg.InfiniteLine] = []
        self.reference_text = ""  # after the value in the header, e.g. the best baseline
        self.value_metric = specs[0].metric if specs else ""
        self.value_format = "{:.4g}"
        #: shown when the runs have no point of this plot's metrics (a kernel model's loss)
        self.empty_text = "Not measured for this model"
        self._value_stale = False

    def show_runs(self, runs: Sequence[RunCurves], growing: bool = False) -> None:
        """Draws these runs from now on (one: full styling; several: one colour per run).

        ``growing``: a run in progress is among them (leave room on the iteration axis).
        """
        keys: list[tuple[str, str]] = []
        single = len(runs) <= 1
        self.legend.clear()
        for index, run in enumerate(runs):
            for spec in self.specs:
                key = (run.run_id, spec.metric)
                keys.append(key)
                colour = spec.colour if single else RUN_COLOURS[index % len(RUN_COLOURS)]
                style = Qt.PenStyle.DashLine if spec.dashed else Qt.PenStyle.SolidLine
                # Thin (1 px) lines rasterise about ten times faster than wider ones: a run in
                # progress, redrawn many times a second, gets them; a finished run thicker ones.
                width = 1.0 if growing else (2.0 if single else 1.6)
                pen = pg.mkPen(colour, width=width, style=style)
                self._pens[key] = (colour, style, 2.0 if single else 1.6)
                curve = self.curves.get(key)
                if curve is None:
                    curve = pg.PlotDataItem(pen=pen, antialias=False)
                    curve.setClipToView(True)
                    curve.setDownsampling(auto=True, method="peak")
                    self.plot.addItem(curve)
                    self.curves[key] = curve
                curve.setPen(pen)
                if spec.symbol:
                    curve.setSymbol(spec.symbol)
                    curve.setSymbolSize(4)
                    curve.setSymbolPen(None)
                    curve.setSymbolBrush(pg.mkBrush(colour))
                legend_name = spec.name if single else f"{run.label} · {spec.name}"
                self.legend.addItem(curve, legend_name)
                self._drawn.pop(key, None)
        for key in list(self.curves):
            if key not in keys:
                self.plot.removeItem(self.curves.pop(key))
                self._drawn.pop(key, None)
        self.legend.setVisible(bool(keys) and (not single or len(self.specs) > 1))
        self.runs = list(runs)
        self.reset_view(tight=not growing)
        if not runs:  # no old run's axes on an empty plot (File ▸ New)
            self.plot.getViewBox().setRange(xRange=(0, 1), yRange=(0, 1), padding=0)
        self.refresh()

    def refresh(self, text: bool = True) -> bool:
        """Puts new points on the curves (one ``setData`` per changed curve); True if any changed.

        ``text``: also update the number in the header (the dock does that at a lower rate).
        """
        changed = False
        for run in self.runs:
            for spec in self.specs:
                key = (run.run_id, spec.metric)
                curve = self.curves.get(key)
                series = run.series.get(spec.metric)
                if curve is None or series is None:
                    continue
                mark = (id(series), len(series))
                if self._drawn.get(key) == mark:
                    continue
                self._drawn[key] = mark
                # A lone point (a kernel model's one score) would be invisible as a line.
                lone = len(series) == 1
                if lone != (curve.opts.get("symbol") is not None):
                    curve.setSymbol("o" if lone else None)
                    if lone:
                        curve.setSymbolBrush(pg.mkBrush(self._pens.get(key, (spec.colour,))[0]))
                        curve.setSymbolPen(None)
                        curve.setSymbolSize(7)
                curve.setData(series.x, series.y)
                changed = True
        if text and (changed or not self.runs or self._value_stale):
            self._update_value()
        self._value_stale = changed and not text
        if changed or not self.runs:
            empty = bool(self.runs) and not any(
                len(run.series[spec.metric]) for run in self.runs for spec in self.specs if spec.metric in run.series
            )
            self.set_placeholder(self.empty_text if empty else "")
        if changed:
            self._follow_data()
        return changed

    def set_thin(self, thin: bool) -> None:
        """1 px lines while a run redraws them many times a second; the usual width otherwise."""
        for key, curve in self.curves.items():
            colour, style, width = self._pens.get(key, ("#000000", Qt.PenStyle.SolidLine, 2.0))
            curve.setPen(pg.mkPen(colour, width=1.0 if thin else width, style=style))

    def set_y_limits(self, limits: tuple[float, float] | None) -> None:
        """Fixed value limits (accuracy: 0 to 1), or None to follow the data."""
        if limits != self.y_range.limits:
            self.y_range.limits = limits
            self.y_range.reset()
            self._follow_data()

    def _follow_data(self) -> None:
        all_series = [run.series[spec.metric] for run in self.runs for spec in self.specs
                      if spec.metric in run.series and len(run.series[spec.metric])]
        if not all_series:
            return
        x = (min(s.x_min for s in all_series), max(s.x_max for s in all_series))
        y = (min(s.y_min for s in all_series), max(s.y_max for s in all_series))
        self.follow(x, y)

    def _update_value(self) -> None:
        if len(self.runs) != 1:
            self.value.setText("" if not self.runs else f"{len(self.runs)} runs")
            return
        last = self.runs[0].last(self.value_metric)
        self.value.setText(" · ".join(t for t in ("" if last is None else self.value_format.format(last), self.reference_text) if t))

    def set_reference(self, lines: Iterable[tuple[float, str, str]]) -> None:
        """Horizontal dotted reference lines (value, label, tooltip), e.g. the best classical
        baseline: the labels go in the header after the value, where they cover no curve."""
        for line in self.reference_lines:
            self.plot.removeItem(line)
        self.reference_lines, labels = [], []
        pen = pg.mkPen(BASELINE_COLOUR, width=1.2, style=Qt.PenStyle.DotLine)
        for value, label, tooltip in lines:
            line = pg.InfiniteLine(pos=value, angle=0, pen=pen)
            line.setToolTip(tooltip)
            self.plot.addItem(line, ignoreBounds=False)
            self.reference_lines.append(line)
            labels.append(label)
        self.reference_text = " · ".join(labels)
        self.value.setToolTip("\n".join(line.toolTip() for line in self.reference_lines))
        self._update_value()


class WeightsPanel(PlotPanel):
    """The trajectories of the trainable weights (the first :data:`MAX_WEIGHT_CURVES`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("weights", "Weights", "How each trainable parameter moves as the model trains", parent)
        self.plot.setLabel("bottom", "iteration")
        self.plot.setLabel("left", "θ (rad)")
        self.curves: list[pg.PlotDataItem] = []
        self.run: RunCurves | None = None
        self.thin = False
        self._drawn: tuple[int, int] | None = None
        self._cmap = pg.colormap.get("viridis")

    def set_thin(self, thin: bool) -> None:
        self.thin = thin
        for colour, curve in zip(getattr(self, "_colours", []), self.curves):
            curve.setPen(pg.mkPen(colour, width=1.0 if thin else 1.6))

    def show_run(self, run: RunCurves | None, growing: bool = False) -> None:
        self.thin = growing
        self.run = run
        self._drawn = None
        self.reset_view(tight=not growing)
        self.refresh()

    def _ensure_curves(self, count: int) -> None:
        count = min(count, MAX_WEIGHT_CURVES)
        while len(self.curves) > count:
            self.plot.removeItem(self.curves.pop())
        if len(self.curves) == count:
            return
        for curve in self.curves:
            self.plot.removeItem(curve)
        self.curves = []
        if count <= len(RUN_COLOURS):
            colours = [QColor(c) for c in RUN_COLOURS[:count]]
        else:
            table = self._cmap.getLookupTable(0.0, 0.85, count, alpha=False)
            colours = [QColor(int(r), int(g), int(b)) for r, g, b in table]
        self._colours = colours
        for colour in colours:
            curve = pg.PlotDataItem(pen=pg.mkPen(colour, width=1.0 if self.thin else 1.6), antialias=False)
            curve.setClipToView(True)
            curve.setDownsampling(auto=True, method="peak")
            self.plot.addItem(curve)
            self.curves.append(curve)

    def refresh_steps(self, per_step: int = WEIGHT_CURVES_PER_STEP) -> list[Callable[[], Any]]:
        """The work of :meth:`refresh` cut into parts of ``per_step`` curves, to be called in order
        (one per event-loop pass, so that a dozen ``setData`` never block the GUI at once)."""
        run = self.run
        if run is None or run.weight_rows == 0 or (id(run), run.weight_rows, run._weight_seen) == self._drawn:
            return [self.refresh]
        self._drawn = (id(run), run.weight_rows, run._weight_seen)
        weights = run.weights
        x = run.weight_x
        self.set_placeholder("")
        self._ensure_curves(weights.shape[1])
        curves = list(self.curves)
        steps: list[Callable[[], Any]] = []
        for start in range(0, len(curves), max(1, per_step)):
            def chunk(start: int = start) -> None:
                for i, curve in enumerate(curves[start : start + per_step], start):
                    if curve.scene() is not None:
                        curve.setData(x, weights[:, i])
            steps.append(chunk)
        steps.append(lambda: self._finish_refresh(x, weights))
        return steps

    def _finish_refresh(self, x: np.ndarray, weights: np.ndarray) -> None:
        shown = weights[:, : len(self.curves)]
        finite = shown[np.isfinite(shown)]
        if len(finite) and len(x):
            self.follow((float(x[0]), float(x[-1])), (float(finite.min()), float(finite.max())))
        shown_count = len(self.curves)
        total = weights.shape[1]
        self.value.setText(f"{total} weights" if shown_count == total else f"first {shown_count} of {total}")

    def refresh(self) -> bool:
        run = self.run
        if run is None or run.weight_rows == 0:
            self._ensure_curves(0)
            self.value.setText("")
            self.set_placeholder("" if run is None or run.rows == 0 else "No trainable weights in this model")
            return False
        self.set_placeholder("")
        mark = (id(run), run.weight_rows, run._weight_seen)
        if mark == self._drawn:
            return False
        self._drawn = mark
        weights = run.weights
        self._ensure_curves(weights.shape[1])
        x = run.weight_x
        for i, curve in enumerate(self.curves):
            curve.setData(x, weights[:, i])
        self._finish_refresh(x, weights)
        return True


# ------------------------------------------------------------ decision boundary
def _hex_rgb(colour: str) -> np.ndarray:
    c = QColor(colour)
    return np.array([c.red(), c.green(), c.blue()], dtype=float)


def probability_image(probs: np.ndarray, colours: Sequence[str] = CLASS_COLOURS, strength: float = 0.55) -> np.ndarray:
    """RGBA (uint8) of class probabilities ``(ny, nx, k)``: the likeliest class's colour, faded
    to white where the model is unsure (white exactly on the decision boundary)."""
    k = probs.shape[-1]
    palette = np.stack([_hex_rgb(colours[i % len(colours)]) for i in range(k)])
    top = np.argmax(probs, axis=-1)
    confidence = (np.max(probs, axis=-1) - 1.0 / k) / (1.0 - 1.0 / k)
    confidence = np.clip(confidence, 0.0, 1.0) ** 0.75 * strength
    rgb = 255.0 + (palette[top] - 255.0) * confidence[..., None]
    rgba = np.empty(probs.shape[:2] + (4,), dtype=np.ubyte)
    rgba[..., :3] = np.clip(rgb, 0, 255).astype(np.ubyte)
    rgba[..., 3] = 255
    return rgba


class BoundaryPanel(PlotPanel):
    """The model's prediction over the feature plane, with the train and test points on top.

    Class regions are coloured by the predicted probability (white on the boundary); for a
    binary classifier the 50 % line is drawn. Train points are filled circles, test points
    triangles; test points the model gets wrong are ringed. A regressor's predicted value
    is shown as a heat map with the points coloured by their target.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("boundary", "Decision boundary",
                         "The model's prediction over the plane of the two features, refreshed as it trains", parent)
        self.plot.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-10)
        self.plot.addItem(self.image)
        # The 50 % line, computed on the worker thread (see workers.contour_segments).
        self.isocurve = pg.PlotDataItem(pen=pg.mkPen("#111827", width=1.5), connect="pairs", antialias=True)
        self.isocurve.setZValue(-5)
        self.plot.addItem(self.isocurve, ignoreBounds=True)
        self.train_points = pg.ScatterPlotItem(size=7, pen=pg.mkPen("w", width=0.8), name="train")
        self.test_points = pg.ScatterPlotItem(size=9, symbol="t", pen=pg.mkPen("#111827", width=1.0), name="test")
        self.wrong_points = pg.ScatterPlotItem(size=15, symbol="o", pen=pg.mkPen("#111827", width=1.6),
                                               brush=pg.mkBrush(0, 0, 0, 0), name="misclassified")
        for item in (self.train_points, self.test_points, self.wrong_points):
            self.plot.addItem(item)
        _, text, _ = _palette_colours(self)
        self.legend = self.plot.addLegend(offset=(6, -6), labelTextSize="7pt", brush=pg.mkBrush(255, 255, 255, 170),
                                          labelTextColor=text, verSpacing=-6)
        self.legend.anchor((0, 1), (0, 1), offset=(6, -6))
        self.legend.setVisible(False)
        self.setup: Any = None
        self.frame: Any = None
        self._cmap = pg.colormap.get("viridis")
        self.set_placeholder("Train a model on 2-feature data\nto see its decision boundary")

    def set_data(self, setup: Any) -> None:
        """The points of a run (a :class:`~qmlstudio.gui.workers.RunSetup`), before any prediction."""
        self.setup = setup
        self.frame = None
        self.image.clear()
        self.isocurve.setData([], [])
        self.wrong_points.clear()
        regression = setup is not None and setup.task == "regression"
        self.title.setText("Prediction" if regression else "Decision boundary")
        self.legend.clear()
        if setup is not None and setup.extent is not None:
            self.legend.addItem(self.train_points, "train")
            self.legend.addItem(self.test_points, "test")
            if not regression:
                self.legend.addItem(self.wrong_points, "wrong")
        self.legend.setVisible(setup is not None and setup.extent is not None)
        if setup is None or setup.extent is None:
            self.train_points.clear()
            self.test_points.clear()
            self.plot.setLabel("bottom", "")
            self.plot.setLabel("left", "")
            why = "" if setup is None else f"{len(setup.feature_names)} features"
            self.set_placeholder("The decision boundary is drawn\nfor data with 2 features" + (f" (this has {why})" if why else ""))
            self.value.setText("")
            return
        self.set_placeholder("")
        names = setup.feature_names
        self.plot.setLabel("bottom", names[0] if names else "x₀")
        self.plot.setLabel("left", names[1] if len(names) > 1 else "x₁")
        self._draw_points(self.train_points, setup.x_train, setup.y_train, setup)
        self._draw_points(self.test_points, setup.x_test, setup.y_test, setup)
        x0, x1, y0, y1 = setup.extent
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)
        self.value.setText("" if setup.exact_view else "noise-free view")

    def _draw_points(self, item: pg.ScatterPlotItem, x: np.ndarray, y: np.ndarray, setup: Any) -> None:
        if not len(x):
            item.clear()
            return
        if setup.task == "classification":
            brushes = [pg.mkBrush(CLASS_COLOURS[int(c) % len(CLASS_COLOURS)]) for c in y]
        else:
            lo, hi = float(np.min(setup.y_train)), float(np.max(setup.y_train))
            scaled = (np.asarray(y, dtype=float) - lo) / (hi - lo if hi > lo else 1.0)
            brushes = [pg.mkBrush(self._cmap.map(float(np.clip(s, 0, 1)), mode="qcolor")) for s in scaled]
        item.setData(x=x[:, 0], y=x[:, 1], brush=brushes)

    def set_frame(self, frame: Any) -> None:
        """Shows a :class:`~qmlstudio.gui.workers.BoundaryFrame`."""
        self.frame = frame
        setup = self.setup
        if frame is None or setup is None or frame.image is None or frame.extent is None:
            return
        x0, x1, y0, y1 = frame.extent
        if frame.task == "classification":
            probs = frame.image
            self.image.setImage(probability_image(probs), autoLevels=False, levels=(0, 255))
            contour = getattr(frame, "contour", None)
            if contour is not None and len(contour[0]):
                self.isocurve.setData(contour[0], contour[1], connect="pairs")
            else:
                self.isocurve.setData([], [])
        else:
            values = frame.image
            lo, hi = float(np.min(setup.y_train)), float(np.max(setup.y_train))
            self.image.setImage(values, levels=(lo, hi), lut=self._cmap.getLookupTable(alpha=False))
            self.isocurve.setData([], [])
        self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        x_split, y_split = split_rows(setup, frame.split)
        if frame.task == "classification" and frame.split != "train" and len(x_split):
            wrong = np.asarray(frame.predictions) != np.asarray(y_split)
            self.wrong_points.setData(x=x_split[wrong, 0], y=x_split[wrong, 1])
        else:
            self.wrong_points.clear()
        suffix = "" if setup.exact_view else " · noise-free view"
        self.value.setText(f"iteration {frame.iteration:,}{suffix}")

    def image_data(self) -> np.ndarray | None:
        """The image shown now (RGBA or values), for tests and exports."""
        return None if self.image.image is None else np.array(self.image.image)


# -------------------------------------------------------------- confusion matrix
class ConfusionPanel(PlotPanel):
    """The confusion matrix on the test split (rows: true class, columns: predicted), live and at
    the end; for a regressor, predicted against true values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("confusion", "Confusion matrix", "Test samples by true class (rows) and predicted class "
                         "(columns); the colour is the share of each row", parent)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.plot.addItem(self.image)
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        self.plot.showGrid(x=False, y=False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.texts: list[pg.TextItem] = []
        self.scatter = pg.ScatterPlotItem(size=6, pen=None, brush=pg.mkBrush(TRAIN_COLOUR))
        self.diagonal = pg.PlotDataItem(pen=pg.mkPen(BASELINE_COLOUR, style=Qt.PenStyle.DashLine))
        self.matrix: np.ndarray | None = None
        self._lut = pg.ColorMap([0.0, 1.0], [(247, 251, 255), (8, 81, 156)]).getLookupTable(nPts=256, alpha=False)
        self.set_placeholder("Appears as the model trains")

    def clear_matrix(self, text: str = "Appears as the model trains") -> None:
        self.matrix = None
        self.image.clear()
        for item in self.texts:
            self.plot.removeItem(item)
        self.texts = []
        self.scatter.clear()
        self.diagonal.clear()
        self.value.setText("")
        self.value.setToolTip("")
        # Nothing of the last run's classes or axes stays (File ▸ New, another project).
        self.title.setText("Confusion matrix")
        self.plot.invertY(True)
        self.plot.setAspectLocked(True)
        for side in ("left", "bottom"):
            self.plot.getAxis(side).setTicks(None)
            self.plot.setLabel(side, "")
        self._class_names = []
        self.plot.getAxis("left").setWidth(None)
        self.plot.getAxis("bottom").setHeight(None)
        self.plot_widget.setToolTip("")
        self.set_placeholder(text)

    def set_frame(self, frame: Any, setup: Any) -> None:
        if frame is None or setup is None:
            return
        if frame.task != "classification" or frame.confusion is None:
            self._show_parity(frame, setup)
            return
        matrix = np.asarray(frame.confusion)
        if self.matrix is not None and self.matrix.shape == matrix.shape and np.array_equal(self.matrix, matrix):
            return  # unchanged: no text to redo
        self.set_placeholder("")
        for item in (self.scatter, self.diagonal):
            if item.scene() is not None:
                self.plot.removeItem(item)
        k = matrix.shape[0]
        rows = matrix.sum(axis=1, keepdims=True)
        share = np.divide(matrix, rows, out=np.zeros_like(matrix, dtype=float), where=rows > 0)
        self.image.setImage(share, levels=(0, 1), lut=self._lut)
        self.image.setRect(QRectF(-0.5, -0.5, k, k))
        if self.matrix is None or self.matrix.shape != matrix.shape:
            for item in self.texts:
                self.plot.removeItem(item)
            self.texts = []
            for i in range(k):
                for j in range(k):
                    text = pg.TextItem("", anchor=(0.5, 0.5))
                    text.setPos(j, i)
                    self.plot.addItem(text)
                    self.texts.append(text)
            self._class_names = [str(n) for n in setup.class_names]
            self.plot.setLabel("bottom", "predicted")
            self.plot.setLabel("left", "true")
            self.plot.setRange(xRange=(-0.5, k - 0.5), yRange=(-0.5, k - 0.5), padding=0.02)
            self._fit_class_names()
            if not getattr(self, "_names_follow", False):
                self._names_follow = True
                self.plot.getViewBox().sigResized.connect(self._fit_class_names)
        for i in range(k):
            for j in range(k):
                text = self.texts[i * k + j]
                text.setText(str(int(matrix[i, j])))
                text.setColor("w" if share[i, j] > 0.55 else "#111827")
        self.matrix = matrix
        total = int(matrix.sum())
        accuracy = float(np.trace(matrix)) / total if total else 0.0
        self.value.setText(f"{frame.split} {accuracy:.1%} · n={total}")
        self.value.setToolTip(f"Accuracy on the {frame.split} split: {accuracy:.1%} of {total} samples")

    def _fit_class_names(self, *_: Any) -> None:
        """The class names on the axes, fitted to the space they have.

        Left: whole names up to 14 characters (longer ones elided), the axis as wide as the
        longest. Below each column: the name broken into lines at spaces, and each line
        elided to the column's width, so that neighbours never overlap. The whole names are
        in the tooltip.
        """
        names = getattr(self, "_class_names", None)
        if not names or self.matrix is None and not self.texts:
            return
        left, bottom = self.plot.getAxis("left"), self.plot.getAxis("bottom")
        metrics = QFontMetrics(left.style.get("tickFont") or left.font())
        mode = Qt.TextElideMode.ElideRight
        short = [metrics.elidedText(n, mode, metrics.horizontalAdvance("M" * 9)) for n in names]
        left.setTicks([list(enumerate(short))])
        left.setWidth(max(metrics.horizontalAdvance(n) for n in short) + left.style["tickTextOffset"][0]
                      + metrics.height() + 12)  # + the rotated axis label
        view_box = self.plot.getViewBox()
        column = view_box.mapViewToScene(QPointF(1, 0)).x() - view_box.mapViewToScene(QPointF(0, 0)).x()
        column = max(12.0, column - 4)
        under = [
            "\n".join(metrics.elidedText(line, mode, int(column)) for line in wrap_text(n, metrics, column).split("\n")[:2])
            for n in names
        ]
        bottom.setTicks([list(enumerate(under))])
        lines = max(text.count("\n") + 1 for text in under)
        bottom.setHeight(lines * metrics.height() + bottom.style["tickTextOffset"][1] + metrics.height() + 10)
        self.plot_widget.setToolTip("Classes: " + ", ".join(f"{i}: {n}" for i, n in enumerate(names)))

    def _show_parity(self, frame: Any, setup: Any) -> None:
        self.image.clear()
        for item in self.texts:
            self.plot.removeItem(item)
        self.texts = []
        self.matrix = None
        self.set_placeholder("")
        self.title.setText("Predicted vs true")
        self.plot.invertY(False)
        self.plot.setAspectLocked(False)
        self.plot.getAxis("bottom").setTicks(None)
        self.plot.getAxis("left").setTicks(None)
        self._class_names = []
        self.plot.getAxis("left").setWidth(None)
        self.plot.getAxis("bottom").setHeight(None)
        self.plot.setLabel("bottom", "true")
        self.plot.setLabel("left", "predicted")
        true = split_rows(setup, frame.split)[1]
        for item in (self.scatter, self.diagonal):
            if item.scene() is None:
                self.plot.addItem(item)
        self.scatter.setData(x=np.asarray(true, dtype=float), y=np.asarray(frame.predictions, dtype=float))
        lo = float(min(np.min(true), np.min(frame.predictions)))
        hi = float(max(np.max(true), np.max(frame.predictions)))
        self.diagonal.setData([lo, hi], [lo, hi])
        self.value.setText(f"{frame.split} split · n={len(true)}")
