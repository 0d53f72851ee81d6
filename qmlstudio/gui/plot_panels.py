"""The plot cards: :class:`PlotPanel` (a titled card with an export button), the metric curves and the weights.

Split from :mod:`qmlstudio.gui.plots` (which re-exports every name). Panels show a list of
:class:`~qmlstudio.gui.plot_data.RunCurves` and redraw only when asked, with one ``setData``
per curve; curves are clipped to the view and peak-downsampled, weight trajectories thinned.
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
    QFrame,
    QGraphicsItem,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.gui.plot_data import (
    BASELINE_COLOUR,
    MAX_WEIGHT_CURVES,
    RUN_COLOURS,
    WEIGHT_CURVES_PER_STEP,
    RunCurves,
)


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

    def show_runs(self, runs: Sequence[RunCurves], growing: bool = False, compact: bool = False) -> None:
        """Draws these runs from now on (one: full styling; several: one colour per run).

        ``growing``: a run in progress is among them (leave room on the iteration axis).
        ``compact``: runs that follow one another (a layerwise schedule's phases): the legend
        names each run once, and the metrics once, by the last run's lines.
        """
        keys: list[tuple[str, str]] = []
        single = len(runs) <= 1
        self.legend.clear()
        for index, run in enumerate(runs):
            for spec in self.specs:
                if spec.metric.startswith("val_") and run.has_validation is False:
                    continue  # no validation split: no curve, and no legend entry that says there is one
                if spec.metric.startswith("grad_norm_") and not getattr(run, "has_parts", False):
                    continue  # only a hybrid network reports its parts' gradient norms
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
                if compact and not single:
                    first = len(keys) < 2 or keys[-2][0] != run.run_id  # this run's first line
                    legend_name = run.label if first else (spec.name if index == len(runs) - 1 else "")
                if legend_name:
                    self.legend.addItem(curve, legend_name)
                self._drawn.pop(key, None)
        for key in list(self.curves):
            if key not in keys:
                self.plot.removeItem(self.curves.pop(key))
                self._drawn.pop(key, None)
        self.legend.setVisible(bool(keys) and (not single or len(keys) > 1))
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
