"""The state view: measurement probabilities of the model circuit for one data sample (like Quirk's).

For circuits of up to :data:`MAX_QUBITS` qubits, :class:`StateView` runs the project's
encoding followed by the circuit (as training composes them) for a chosen sample and a
choice of weights, with the exact simulator (:class:`~qmlstudio.core.statevector.StatevectorProgram`),
and draws the probability of every basis state. It follows the design's and the project's
events and recomputes at once (debounced): a 10-qubit, few-hundred-gate circuit takes
milliseconds. For a classifier with bitstring ("modulo") readout each bar is coloured by
the class it votes for, and the class probabilities are shown.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.gui import startup, theme

MAX_QUBITS = 10
CLASS_COLORS = ("#0D74CE", "#EF5F00", "#218358", "#8E4EC6", "#CE2C31", "#12A594", "#AB6400", "#3E63DD")


class ProbabilityChart(QWidget):
    """Bars of the probabilities of the basis states |q_{n-1}…q_0⟩ (qiskit's bit order)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("probabilityChart")
        self.probabilities: np.ndarray | None = None
        self.num_qubits = 0
        self.num_classes = 0
        self.message = ""
        self.setMinimumHeight(120)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:
        return QSize(300, 180)

    def set_data(self, probabilities: np.ndarray | None, num_qubits: int, num_classes: int = 0, message: str = "") -> None:
        self.probabilities = probabilities
        self.num_qubits = num_qubits
        self.num_classes = num_classes
        self.message = message
        self.update()

    def _plot_rect(self) -> QRectF:
        labels = 0 < self.num_qubits <= 5
        bottom = 8 + (14 + 7 * self.num_qubits if labels else 18)
        return QRectF(36, 10, max(10.0, self.width() - 46), max(10.0, self.height() - 10 - bottom))

    def label(self, index: int) -> str:
        return "|" + format(index, f"0{self.num_qubits}b") + "⟩"

    def index_at(self, x: float) -> int | None:
        if self.probabilities is None:
            return None
        rect = self._plot_rect()
        count = len(self.probabilities)
        if not rect.left() <= x < rect.right():
            return None
        return min(count - 1, int((x - rect.left()) / rect.width() * count))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position().x())
        if index is not None and self.probabilities is not None:
            p = float(self.probabilities[index])
            extra = f" · class {index % self.num_classes}" if self.num_classes else ""
            QToolTip.showText(event.globalPosition().toPoint(), f"{self.label(index)}  P = {p:.4f}{extra}", self)
        super().mouseMoveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor("white"))
        if self.probabilities is None:
            painter.setPen(QColor(theme.MUTED_TEXT))
            painter.setFont(theme.ui_font(9.0))
            painter.drawText(self.rect().adjusted(12, 0, -12, 0),
                             Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap, self.message)
            return
        rect = self._plot_rect()
        probs = self.probabilities
        count = len(probs)
        top = max(1.0, float(probs.max()))
        top = 1.0 if top > 0.5 else math.ceil(top * 10) / 10 or 0.1
        font = theme.ui_font(7.5)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        # Grid at 0, ½ and 1 of the scale.
        for frac in (0.0, 0.5, 1.0):
            y = rect.bottom() - frac * rect.height()
            painter.setPen(QPen(QColor("#ECEEF0") if frac else QColor("#C1C8CD"), 1))
            painter.drawLine(QPointF(rect.left(), y), QPointF(rect.right(), y))
            painter.setPen(QColor(theme.MUTED_TEXT))
            painter.drawText(QRectF(0, y - 7, rect.left() - 6, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                             f"{frac * top:.2g}")
        width = rect.width() / count
        gap = min(3.0, width * 0.18) if width > 3 else 0.0
        for i, p in enumerate(probs):
            height = float(p) / top * rect.height()
            color = QColor(CLASS_COLORS[i % self.num_classes % len(CLASS_COLORS)]) if self.num_classes else QColor(theme.ACCENT)
            bar = QRectF(rect.left() + i * width + gap / 2, rect.bottom() - height, max(width - gap, 0.8), height)
            painter.fillRect(bar, color)
        if count <= 32:
            painter.setPen(QColor(theme.WIRE_LABEL))
            for i in range(count):
                x = rect.left() + (i + 0.5) * width
                text = format(i, f"0{self.num_qubits}b")
                painter.save()
                painter.translate(x, rect.bottom() + 4)
                painter.rotate(90 if count > 8 else 0)
                if count > 8:
                    painter.drawText(QRectF(0, -6, 60, 12), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, text)
                else:
                    painter.drawText(QRectF(-30, 0, 60, 14), Qt.AlignmentFlag.AlignCenter, text)
                painter.restore()
        else:
            painter.setPen(QColor(theme.MUTED_TEXT))
            for i in (0, count // 4, count // 2, 3 * count // 4, count - 1):
                x = rect.left() + (i + 0.5) * width
                text = str(i)
                painter.drawText(QRectF(x - 30, rect.bottom() + 3, 60, 14), Qt.AlignmentFlag.AlignCenter, text)
            painter.drawText(QRectF(rect.left(), rect.bottom() + 3, rect.width(), 14 + metrics.height()),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignBottom, "basis state (integer)")


class StateView(QWidget):
    """Probabilities of the project's model circuit for one sample and a choice of weights."""

    #: Emitted after every recomputation (tests wait on it).
    updated = Signal()
    DEBOUNCE_MS = 40

    WEIGHT_CHOICES = (("initial", "Initial weights (seed)"), ("trained", "Last run's weights"), ("zeros", "All weights 0"))

    def __init__(self, registry: Any = None, project_data: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("stateView")
        self.registry = registry
        self.project_data = project_data
        self.project: Any = None
        self.design: Any = None
        self.probabilities: np.ndarray | None = None
        self._stale = True

        self.sample = QSpinBox()
        self.sample.setObjectName("stateSample")
        self.sample.setToolTip("Which training sample is encoded")
        self.sample.setPrefix("sample ")
        self.sample.setKeyboardTracking(False)
        self.sample.valueChanged.connect(self.schedule)
        self.weights = QComboBox()
        self.weights.setObjectName("stateWeights")
        self.weights.setToolTip("Which values the trainable weights θ take")
        for key, text in self.WEIGHT_CHOICES:
            self.weights.addItem(text, key)
        self.weights.currentIndexChanged.connect(self.schedule)
        self.caption = QLabel()
        self.caption.setObjectName("stateCaption")
        self.caption.setProperty("role", "muted")
        self.caption.setWordWrap(True)
        self.caption.setTextFormat(Qt.TextFormat.RichText)
        self.chart = ProbabilityChart()

        controls = QHBoxLayout()
        controls.setSpacing(6)
        controls.addWidget(self.sample)
        controls.addWidget(self.weights, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        layout.setSpacing(6)
        layout.addLayout(controls)
        layout.addWidget(self.chart, 1)
        layout.addWidget(self.caption)

        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self.recompute)
        if project_data is not None:
            project_data.changed.connect(self.schedule)

    # ---------------------------------------------------------------- model
    def set_project(self, project: Any) -> None:
        if self.project is not None:
            self.project.events.changed.disconnect(self._on_project_changed)
            self.project.events.runs_changed.disconnect(self._on_runs_changed)
        self.project = project
        if project is not None:
            project.events.changed.connect(self._on_project_changed)
            project.events.runs_changed.connect(self._on_runs_changed)
        self._set_design(project.circuit if project is not None else None)

    def _set_design(self, design: Any) -> None:
        if self.design is not None:
            self.design.events.changed.disconnect(self._on_design_changed)
        self.design = design
        if design is not None:
            design.events.changed.connect(self._on_design_changed)
        self.schedule()

    def _on_project_changed(self, what: str = "", **_: Any) -> None:
        if what == "circuit" and self.project is not None and self.project.circuit is not self.design:
            self._set_design(self.project.circuit)
        elif what not in ("saved", "name", "notes", "modified"):
            self.schedule()

    def _on_runs_changed(self, **_: Any) -> None:
        self.schedule()

    def _on_design_changed(self, **_: Any) -> None:
        self.schedule()

    def schedule(self, *_: Any) -> None:
        # A hidden view (its dock closed) computes nothing until it is shown again.
        if not self.isVisible():
            self._stale = True
            return
        self._timer.start()

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if self._stale:
            self._stale = False
            self._timer.start()

    # ----------------------------------------------------------- computing
    def _trained_weights(self, count: int) -> np.ndarray | None:
        for run in reversed(getattr(self.project, "runs", []) or []):
            final = run.final_weights
            if final and len(final) >= count and all(w is not None for w in final[:count]):
                return np.asarray(final[:count], dtype=float)
        return None

    def _weights(self, count: int) -> tuple[np.ndarray, str]:
        key = self.weights.currentData()
        if key == "trained":
            trained = self._trained_weights(count)
            if trained is not None:
                return trained, "last run's weights"
            key = "initial"
            note = " (no finished run yet)"
        else:
            note = ""
        if key == "zeros":
            return np.zeros(count), "all weights 0"
        # The engine's starting point, as the workflow draws it for a run of this project.
        from qmlstudio.workflow import initial_weights

        return initial_weights(self.project, count), f"initial weights, seed {self.project.seed}{note}"

    def _show_message(self, text: str) -> None:
        self.probabilities = None
        self.chart.set_data(None, 0, message=text)
        self.caption.setText("")
        self.updated.emit()

    def recompute(self) -> None:
        """Simulates the model circuit for the chosen sample and weights and redraws the bars."""
        from qmlstudio.workflow import ModelPreview

        project, design = self.project, self.design
        if project is None or design is None:
            self._show_message("No project")
            return
        if startup.when_simulator_ready(self.schedule):
            self._show_message("Loading the simulator…")
            return
        data = getattr(self.project_data, "data", None)
        try:
            spec = self.registry.get("encodings", project.encoding.name) if self.registry is not None else None
            encoder = spec.create(project.encoding.options) if spec is not None else None
        except Exception as exc:  # noqa: BLE001 - a plugin's fault
            self._show_message(f"The encoding cannot be built: {exc}")
            return
        if encoder is None:
            self._show_message("No encoding plugin is installed")
            return
        if data is None:
            error = getattr(self.project_data, "error", None)
            self._show_message(f"The data cannot be loaded: {error}" if error else "Loading the data…")
            return
        kind = getattr(project.model, "kind", "vqc")
        if kind not in ("vqc", "regressor", "kernel"):  # a plugin's model (hybrid): its front feeds the circuit
            self._show_message(f"A {kind} model's circuit gets its inputs from its classical front, which trains with "
                               "it: the state view shows the states of the variational classifier and regressor.")
            return
        try:
            model = ModelPreview(encoder, design, data.num_features)
        except Exception as exc:  # noqa: BLE001 - e.g. too many features for the encoding
            self._show_message(f"The encoding does not fit this data: {exc}")
            return
        n = model.num_qubits
        if n > design.num_qubits and getattr(project.model, "kind", "vqc") != "kernel":
            # Never a chart of wires the canvas does not have: training adds them first.
            self._show_message(
                f"The {project.encoding.name} encoding needs {n} qubits for {data.num_features} features, but the "
                f"circuit has {design.num_qubits}. Train adds the missing wires (an edit you can undo), "
                "or add them with Edit ▸ Add Qubit.")
            return
        if n > MAX_QUBITS:
            self._show_message(f"The state view shows circuits of up to {MAX_QUBITS} qubits; this one has {n}.")
            return
        count = len(data.x_train)
        self.sample.blockSignals(True)
        self.sample.setRange(0, max(0, count - 1))
        self.sample.blockSignals(False)
        if count == 0:
            self._show_message("The training split is empty")
            return
        index = self.sample.value()
        features = data.x_train[index]
        weights, weights_text = self._weights(model.num_weights)
        try:
            probs = model.probabilities(weights, features)
        except Exception as exc:  # noqa: BLE001 - shown, never raised into the event loop
            self._show_message(f"Cannot simulate the circuit: {exc}")
            return
        self.probabilities = np.asarray(probs, dtype=float)
        classes = data.num_classes if data.task == "classification" else 0
        readout = dict(getattr(project.model, "options", {}) or {}).get("readout", "modulo")
        color_classes = classes if readout == "modulo" and 1 < classes <= 2**n else 0
        self.chart.set_data(self.probabilities, n, color_classes)
        values = ", ".join(f"{v:.2f}" for v in features[:6]) + (" …" if len(features) > 6 else "")
        label = ""
        if classes:
            truth = data.class_names[int(data.y_train[index])] if data.class_names else str(int(data.y_train[index]))
            label = f" · label <b>{html.escape(str(truth))}</b>"
        text = f"x = ({values}){label} · {weights_text}"
        if color_classes:
            per_class = [float(self.probabilities[c::color_classes].sum()) for c in range(color_classes)]
            parts = " ".join(
                f"<span style='color:{CLASS_COLORS[c % len(CLASS_COLORS)]}'>■</span> P({html.escape(str(data.class_names[c]))})"
                f" = {p:.2f}" for c, p in enumerate(per_class))
            text += f"<br>{parts}"
        self.caption.setText(text)
        self.updated.emit()
