"""The maps among the plots: the decision boundary over the data and the confusion matrix.

Split from :mod:`qmlstudio.gui.plots` (which re-exports every name).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFontMetrics
from PySide6.QtWidgets import (
    QWidget,
)

from qmlstudio.gui.plot_data import (
    BASELINE_COLOUR,
    CLASS_COLOURS,
    TRAIN_COLOUR,
    split_rows,
)
from qmlstudio.gui.plot_panels import PlotPanel, _palette_colours, wrap_text


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

