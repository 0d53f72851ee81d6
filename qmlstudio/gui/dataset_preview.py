"""Pictures of a dataset: a scatter plot of the prepared data, image thumbnails, class balance.

:class:`ScatterPreview` plots the first two prepared features (or, for more features, the
first two principal components of the prepared data) coloured by class, training points
filled and test points hollow. :class:`ThumbnailGrid` shows a row of sample images per
class. :class:`ClassBalance` draws a bar per class. All three only draw what they are
given: they hold no data of the project.
"""

from __future__ import annotations

import colorsys
import html
from typing import Sequence

import numpy as np

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFontMetrics, QImage, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from qmlstudio.gui.plots import wheel_zooms_with_ctrl

#: Class colours (Tableau 10): distinct, and readable by most colour-blind people.
CLASS_COLORS = (
    "#4E79A7", "#F28E2B", "#E15759", "#76B7B2", "#59A14F",
    "#EDC948", "#B07AA1", "#FF9DA7", "#9C755F", "#BAB0AC",
)  # fmt: skip
MUTED = "#6F7782"
TEXT = "#1C2024"
GRID = "#E4E7EB"


def class_color(index: int) -> QColor:
    """The colour of class ``index``: Tableau 10, then evenly spaced hues."""
    if index < len(CLASS_COLORS):
        return QColor(CLASS_COLORS[index])
    hue = (index * 0.618034) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.55, 0.85)
    return QColor(int(r * 255), int(g * 255), int(b * 255))


def plane(x_train: np.ndarray, x_test: np.ndarray, names: Sequence[str], mode: str = "auto"):
    """The 2-D coordinates to plot, and the axis titles.

    ``mode`` ``"features"`` takes the first two columns; ``"pca"`` the first two principal
    components of the training rows (for display only); ``"auto"`` takes the features when
    there are at most two and the components otherwise. One feature is plotted against a
    small random jitter.
    """
    k = x_train.shape[1] if x_train.ndim == 2 else 0
    if mode == "auto":
        mode = "features" if k <= 2 else "pca"
    if k == 0:
        return np.zeros((len(x_train), 2)), np.zeros((len(x_test), 2)), ("", "")
    if mode == "pca" and k > 2 and len(x_train) >= 2:
        mean = x_train.mean(axis=0)
        _, _, vt = np.linalg.svd(x_train - mean, full_matrices=False)
        basis = vt[:2].T
        # Fix the signs so the picture does not flip between runs.
        signs = np.sign(basis[np.argmax(np.abs(basis), axis=0), range(basis.shape[1])])
        basis = basis * np.where(signs == 0, 1, signs)
        if basis.shape[1] == 1:
            basis = np.hstack([basis, np.zeros((k, 1))])
        return (x_train - mean) @ basis, (x_test - mean) @ basis, ("component 1 (display)", "component 2 (display)")
    if k == 1:
        rng = np.random.default_rng(0)
        jitter = lambda n: rng.uniform(-0.3, 0.3, n)  # noqa: E731
        return (
            np.column_stack([x_train[:, 0], jitter(len(x_train))]),
            np.column_stack([x_test[:, 0], jitter(len(x_test))]),
            (names[0] if names else "x0", "(jitter)"),
        )
    titles = (names[0], names[1]) if len(names) >= 2 else ("x0", "x1")
    return x_train[:, :2], x_test[:, :2], titles


class ScatterPreview(pg.PlotWidget):
    """The prepared data in a plane: a colour per class, training filled, validation a
    half-filled diamond, test hollow."""

    #: The legend's mark of each split.
    MARKS = {"train": "●", "validation": "◆", "test": "○"}

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("datasetScatter")
        self.setMinimumSize(180, 160)
        wheel_zooms_with_ctrl(self)
        item = self.getPlotItem()
        item.showGrid(x=True, y=True, alpha=0.15)
        item.setMenuEnabled(False)
        for side in ("left", "bottom"):
            axis = item.getAxis(side)
            axis.setPen(pg.mkPen(MUTED))
            axis.setTextPen(pg.mkPen(TEXT))
        #: (text, colour, mark) of each legend entry; drawn beside the plot by :func:`legend_html`.
        self.legend: list[tuple[str, QColor, str]] = []
        self.train_items: list[pg.ScatterPlotItem] = []
        self.validation_items: list[pg.ScatterPlotItem] = []
        self.test_items: list[pg.ScatterPlotItem] = []
        self.mode = "auto"

    def clear_data(self) -> None:
        self.getPlotItem().clear()
        self.legend = []
        self.train_items, self.validation_items, self.test_items = [], [], []

    def _points(self, points: np.ndarray, split: str, color: QColor | list[QColor]) -> pg.ScatterPlotItem:
        """One split's points in ``color`` (one colour, or one per point)."""
        many = isinstance(color, list)
        if split == "train":
            style = {"symbol": "o", "size": 7,
                     "pen": None if many else pg.mkPen(color.darker(130), width=0.8),
                     "brush": [pg.mkBrush(c) for c in color] if many else pg.mkBrush(color)}
        elif split == "validation":
            def half(c: QColor) -> QColor:
                light = QColor(c)
                light.setAlpha(110)
                return light

            style = {"symbol": "d", "size": 9,
                     "pen": [pg.mkPen(c, width=1.2) for c in color] if many else pg.mkPen(color, width=1.2),
                     "brush": [pg.mkBrush(half(c)) for c in color] if many else pg.mkBrush(half(color))}
        else:
            style = {"symbol": "o", "size": 8, "brush": pg.mkBrush(255, 255, 255, 230),
                     "pen": [pg.mkPen(c, width=1.6) for c in color] if many else pg.mkPen(color, width=1.6)}
        scatter = pg.ScatterPlotItem(points[:, 0], points[:, 1], antialias=True, **style)
        self.getPlotItem().addItem(scatter)
        {"train": self.train_items, "validation": self.validation_items, "test": self.test_items}[split].append(scatter)
        return scatter

    def show_data(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        x_test: np.ndarray,
        y_test: np.ndarray,
        feature_names: Sequence[str],
        class_names: Sequence[str],
        task: str = "classification",
        x_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> None:
        """Plots one prepared split (see :func:`plane` for the axes)."""
        self.clear_data()
        x_test = np.asarray(x_test)
        x_val = np.zeros((0,) + x_test.shape[1:]) if x_val is None else np.asarray(x_val)
        y_val = np.zeros(0) if y_val is None else np.asarray(y_val)
        others = np.concatenate([x_test, x_val])
        a, rest, (x_title, y_title) = plane(np.asarray(x_train), others, list(feature_names), self.mode)
        b, v = rest[: len(x_test)], rest[len(x_test):]
        item = self.getPlotItem()
        item.setLabel("bottom", x_title, color=MUTED)
        item.setLabel("left", y_title, color=MUTED)
        if task == "classification":
            for c, name in enumerate(class_names):
                color = class_color(c)
                self._points(a[np.asarray(y_train) == c], "train", color)
                if len(v):
                    self._points(v[y_val == c], "validation", color)
                self._points(b[np.asarray(y_test) == c], "test", color)
                self.legend.append((str(name), color, self.MARKS["train"]))
        else:
            cmap = pg.colormap.get("viridis")
            values = np.concatenate([np.asarray(y_train, float), np.asarray(y_test, float), y_val.astype(float)])
            lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
            span = hi - lo or 1.0
            colors = lambda y: [QColor(*cmap.map((v - lo) / span, mode="byte")) for v in y]  # noqa: E731
            self._points(a, "train", colors(y_train))
            if len(v):
                self._points(v, "validation", colors(y_val))
            self._points(b, "test", colors(y_test))
            self.legend.append((f"target {lo:.3g} … {hi:.3g}", QColor(cmap.map(0.5, mode="qcolor")), self.MARKS["train"]))
        grey = QColor(MUTED)
        self.legend.append((f"training ({len(a)})", grey, self.MARKS["train"]))
        if len(v):
            self.legend.append((f"validation ({len(v)})", grey, self.MARKS["validation"]))
        self.legend.append((f"test ({len(b)})", grey, self.MARKS["test"]))
        item.enableAutoRange()

    def legend_html(self) -> str:
        """The legend as rich text: a coloured dot per class, then the marks of the splits."""
        parts = []
        for text, color, mark in self.legend:
            parts.append(f'<span style="color:{color.name()}; font-size: 13pt;">{mark}</span>&nbsp;'
                         f"{html.escape(text).replace(' ', '&nbsp;')}")
        return "&nbsp;&nbsp; ".join(parts)

    def point_counts(self) -> tuple[int, int, int]:
        """How many training, validation and test points are drawn."""
        count = lambda items: sum(len(i.data) for i in items)  # noqa: E731
        return count(self.train_items), count(self.validation_items), count(self.test_items)


def gray_image(pixels: np.ndarray, shape: tuple[int, int], low: float, high: float) -> QImage:
    """A grey-scale QImage of one flattened image, ``low`` black and ``high`` white."""
    span = high - low or 1.0
    values = np.clip((np.asarray(pixels, float).reshape(shape) - low) / span * 255.0, 0, 255)
    data = np.ascontiguousarray(values.astype(np.uint8))
    height, width = shape
    image = QImage(data.data, width, height, width, QImage.Format.Format_Grayscale8)
    return image.copy()  # own the pixels: ``data`` goes away


class ThumbnailGrid(QWidget):
    """Sample images, one row per class, as many as the width allows (up to ``per_class``)."""

    TILE = 34
    GAP = 4

    def __init__(self, parent: QWidget | None = None, per_class: int = 24) -> None:
        super().__init__(parent)
        self.setObjectName("datasetThumbnails")
        self.per_class = per_class
        self.tile = self.TILE
        self._smooth = False
        self._rows: list[tuple[str, int, QColor, list[QImage]]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)

    def clear(self) -> None:
        self._rows = []
        self.updateGeometry()
        self.update()

    def show_images(
        self, features: np.ndarray, labels: np.ndarray, class_names: Sequence[str], shape: tuple[int, int],
        classes: Sequence[int] | None = None,
    ) -> None:
        """Shows the first images of each class (``classes``: which class indices, default all)."""
        features = np.asarray(features)
        labels = np.asarray(labels)
        # Whole pixels: an 8×8 image is drawn at 32×32, not 34×34 with uneven pixels.
        side = max(shape)
        self.tile = side * max(1, round(self.TILE / side)) if side <= self.TILE else self.TILE
        self._smooth = side > self.TILE
        low, high = (float(features.min()), float(features.max())) if features.size else (0.0, 1.0)
        rows = []
        for c in classes if classes is not None else range(len(class_names)):
            where = np.flatnonzero(labels == c)
            images = [gray_image(features[i], shape, low, high) for i in where[: self.per_class]]
            rows.append((str(class_names[c]), int(len(where)), class_color(len(rows)), images))
        self._rows = rows
        self.updateGeometry()
        self.update()

    def class_rows(self) -> list[tuple[str, int]]:
        """(class name, number of thumbnails) for each row shown."""
        return [(name, len(images)) for name, _, _, images in self._rows]

    def _columns(self, width: int) -> int:
        return max(1, (width - 8 + self.GAP) // (self.tile + self.GAP))

    def _row_height(self) -> int:
        return QFontMetrics(self.font()).height() + 4 + self.tile + 10

    def hasHeightForWidth(self) -> bool:  # noqa: N802
        return True

    def heightForWidth(self, width: int) -> int:  # noqa: N802
        return max(40, len(self._rows) * self._row_height() + 4)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(8 * (self.TILE + self.GAP), self.heightForWidth(8 * (self.TILE + self.GAP)))

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        return QSize(self.TILE * 3, self.heightForWidth(self.TILE * 3))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
        metrics = QFontMetrics(self.font())
        columns = self._columns(self.width())
        y = 2
        if not self._rows:
            painter.setPen(QColor(MUTED))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No images")
        for name, count, color, images in self._rows:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(color)
            painter.drawRoundedRect(QRectF(4, y + metrics.ascent() - 8, 8, 8), 2, 2)
            painter.setPen(QColor(TEXT))
            painter.drawText(18, y + metrics.ascent(), f"{name}")
            painter.setPen(QColor(MUTED))
            painter.drawText(22 + metrics.horizontalAdvance(name), y + metrics.ascent(), f"{count} images")
            top = y + metrics.height() + 4
            for i, image in enumerate(images[:columns]):
                target = QRect(4 + i * (self.tile + self.GAP), top, self.tile, self.tile)
                painter.drawImage(target, image)
                painter.setPen(QPen(QColor(GRID), 1))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(target.adjusted(0, 0, -1, -1))
            y += self._row_height()
        painter.end()


class ClassBalance(QWidget):
    """A horizontal bar per class, its length the class's share of the samples."""

    MAX_ROWS = 12

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("classBalance")
        self._counts: list[tuple[str, int]] = []
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_counts(self, counts: Sequence[tuple[str, int]]) -> None:
        self._counts = [(str(n), int(c)) for n, c in counts]
        self.setFixedHeight(self._height())
        self.update()

    def counts(self) -> list[tuple[str, int]]:
        return list(self._counts)

    def _line(self) -> int:
        return QFontMetrics(self.font()).height() + 3

    def _height(self) -> int:
        rows = min(len(self._counts), self.MAX_ROWS) + (len(self._counts) > self.MAX_ROWS)
        return rows * self._line() + 2 if rows else 0

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(200, self._height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        if not self._counts:
            return
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = QFontMetrics(self.font())
        total = sum(c for _, c in self._counts) or 1
        top = max(c for _, c in self._counts) or 1
        shown = self._counts[: self.MAX_ROWS]
        name_width = min(max(metrics.horizontalAdvance(n) for n, _ in shown) + 8, self.width() // 3)
        count_width = metrics.horizontalAdvance("00000 (100%)") + 6
        bar_width = max(20, self.width() - name_width - count_width - 8)
        line = self._line()
        for i, (name, count) in enumerate(shown):
            y = i * line + 1
            painter.setPen(QColor(TEXT))
            painter.drawText(QRect(0, y, name_width - 4, line), Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(name, Qt.TextElideMode.ElideRight, name_width - 6))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(GRID))
            bar = QRectF(name_width, y + 3, bar_width, line - 7)
            painter.drawRoundedRect(bar, 3, 3)
            painter.setBrush(class_color(i))
            painter.drawRoundedRect(QRectF(bar.x(), bar.y(), max(3.0, bar_width * count / top), bar.height()), 3, 3)
            painter.setPen(QColor(MUTED))
            painter.drawText(QRect(name_width + bar_width + 6, y, count_width, line), Qt.AlignmentFlag.AlignVCenter,
                             f"{count} ({100 * count / total:.0f}%)")
        if len(self._counts) > self.MAX_ROWS:
            painter.setPen(QColor(MUTED))
            painter.drawText(QRect(0, self.MAX_ROWS * line, self.width(), line), Qt.AlignmentFlag.AlignVCenter,
                             f"… and {len(self._counts) - self.MAX_ROWS} more classes")
        painter.end()
