"""Small pieces of the training dock: metric cards, the failure banner, the rate meter, baseline notes."""

from __future__ import annotations

from collections import deque
from typing import Any

from PySide6.QtCore import (
    Qt,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSizePolicy,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)


# ========================================================================= pieces
class MetricCard(QFrame):
    """A number to watch: a caption and a large value."""

    def __init__(self, name: str, caption: str, tooltip: str, accent: str = "#374151") -> None:
        super().__init__()
        self.setObjectName(f"card_{name}")
        self.setStyleSheet(
            f"#card_{name} {{ background: palette(base); border: 1px solid palette(midlight); "
            f"border-left: 3px solid {accent}; border-radius: 5px; }}"
        )
        self.setToolTip(tooltip)
        self.caption = QLabel(caption)
        self.caption.setStyleSheet("color: palette(dark); border: none;")
        small = self.caption.font()
        small.setPointSizeF(max(7.0, small.pointSizeF() * 0.85))
        self.caption.setFont(small)
        self.value = QLabel("—")
        self.value.setObjectName(f"cardValue_{name}")
        big = self.value.font()
        big.setPointSizeF(big.pointSizeF() * 1.45)
        big.setBold(True)
        self.value.setFont(big)
        self.value.setStyleSheet("border: none;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 5)
        layout.setSpacing(0)
        layout.addWidget(self.caption)
        layout.addWidget(self.value)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_value(self, text: str) -> None:
        self.value.setText(text or "—")


class FailureBanner(QFrame):
    """A message that a run failed, with its details one click away."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("failureBanner")
        self.setStyleSheet(
            "#failureBanner { background: #fef2f2; border: 1px solid #fecaca; border-left: 4px solid #dc2626; "
            "border-radius: 5px; } #failureBanner QLabel { color: #7f1d1d; border: none; }"
        )
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(20, 20))
        self.message = QLabel()
        self.message.setObjectName("failureMessage")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.details_button = QPushButton("Details…")
        self.details_button.setObjectName("failureDetails")
        self.details_button.setToolTip("Show the full message, the traceback and the run's settings")
        self.details_button.clicked.connect(self.show_details)
        close = QToolButton()
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Hide this message")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 6, 6, 6)
        layout.addWidget(icon, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.details_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.title = ""
        self.details = ""
        self.box: QMessageBox | None = None
        self.hide()

    def show_failure(self, title: str, message: str, details: str) -> None:
        self.title, self.details = title, details
        self.message.setText(f"<b>{_escape(title)}</b><br>{_escape(message)}")
        self.details_button.setVisible(bool(details))
        self.show()

    def show_details(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Warning, self.title or "Training failed",
                          self.message.text(), QMessageBox.StandardButton.Close, self)
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setDetailedText(self.details)
        box.setObjectName("failureDetailsBox")
        self.box = box
        box.open()


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


class _RateMeter:
    """Iterations per second over the recent reports (reset after a pause)."""

    def __init__(self) -> None:
        self.points: deque[tuple[float, float]] = deque(maxlen=600)

    def reset(self) -> None:
        self.points.clear()

    def add(self, iteration: float, elapsed: float) -> None:
        self.points.append((iteration, elapsed))
        while len(self.points) > 2 and self.points[-1][1] - self.points[0][1] > 5.0:
            self.points.popleft()

    def rate(self) -> float | None:
        if len(self.points) < 2:
            return None
        (i0, t0), (i1, t1) = self.points[0], self.points[-1]
        return (i1 - i0) / (t1 - t0) if t1 > t0 and i1 > i0 else None



def _tuned_note(scores: dict[str, Any]) -> str:
    """A baseline's tooltip: what was tuned, how, and its untuned test score."""
    tuned = scores.get("tuned") or {}
    chosen = tuned.get("chosen")
    parts = []
    if chosen:
        parts.append("Tuned by " + str(tuned.get("cv", "cross-validation")) + " cross-validation on the training rows: "
                     + ", ".join(f"{k} = {v}" for k, v in chosen.items()))
        if tuned.get("selection"):
            parts.append("kept: " + str(tuned["selection"]))
    elif tuned.get("note"):
        parts.append(str(tuned["note"]))
    if scores.get("untuned_test_accuracy") is not None:
        parts.append(f"untuned (defaults, the quantum model's inputs): test {scores['untuned_test_accuracy']:.3f}")
    return "; ".join(parts)
