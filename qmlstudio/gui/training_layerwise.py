"""Layerwise training in the training dock (Skolik et al. 2021): the circuit grows as it trains.

:class:`LayerwiseControl` is a mixin of :class:`~qmlstudio.gui.training_dock.TrainingDock`.
*Train Layerwise…* (the dock's button, Run ▸ Train Layerwise…, Ctrl+F5) asks for the epochs of
each phase (:class:`LayerwiseDialog`), takes the schedule from
:mod:`qmlstudio.workflow.layerwise` (which refuses, with the reason, what cannot grow) and
runs the phases one after another, each an ordinary run of the dock (thread or child
process) built by the phase's :class:`~qmlstudio.workflow.layerwise.PhaseStart`. While it
runs:

* :class:`LayerStrip` draws the circuit's layers over its wires: the layers trained before
  (kept), the one training now, and those still to come;
* the loss, accuracy and gradient plots show every phase so far one after another on one
  iteration axis, a colour per phase; the weights, the boundary and the cards follow the
  phase in progress;
* the progress bar says which phase runs.

Each phase is kept in the project's runs as it ends, exactly as ``qmlstudio train --layerwise``
keeps them. A stop, a failure or a crash ends the schedule with the phases done so far.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.gui import theme
from qmlstudio.workflow.layerwise import Phase, PhaseStart, first_start, phases

#: a layer's state on the strip
KEPT, TRAINING, WAITING, ALL = "kept", "training", "waiting", "all"


@dataclass
class LayerwisePlan:
    """A schedule in progress: its phases, where the next one starts, what ran so far."""

    schedule: list[Phase]
    start: PhaseStart
    index: int = 0
    curves: list[Any] = field(default_factory=list)  # the ended phases' RunCurves
    run_ids: list[str] = field(default_factory=list)
    offset: float = 0.0  # iterations of the phases before this one
    losses: dict[int, float] = field(default_factory=dict)  # phase index → its last loss

    @property
    def phase(self) -> Phase:
        return self.schedule[self.index]

    @property
    def layers(self) -> int:
        """The full circuit's layers (the template's repetitions)."""
        return max(p.layers for p in self.schedule)


class LayerStrip(QWidget):
    """The circuit's layers over its wires, as the schedule grows it.

    ``states`` holds one of ``kept`` (trained in an earlier phase, held still), ``training``,
    ``waiting`` (not in the circuit yet) or ``all`` (a last phase training every weight) per
    layer; :meth:`set_plan` sets them and the line above."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerStrip")
        self.states: list[str] = []
        self.qubits = 0
        self.caption = ""
        self.tips: list[str] = []
        self.setMinimumHeight(64)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)

    def set_plan(self, states: list[str], qubits: int, caption: str, tips: list[str]) -> None:
        self.states, self.qubits, self.caption, self.tips = list(states), qubits, caption, list(tips)
        self.setToolTip(caption)
        self.update()

    def _boxes(self) -> list[QRectF]:
        n = max(1, len(self.states))
        left, right, top = 46.0, 8.0, 22.0
        width = (self.width() - left - right) / n
        height = self.height() - top - 6.0
        return [QRectF(left + i * width + 4, top, width - 8, height) for i in range(len(self.states))]

    def mouseMoveEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """The tooltip follows the layer under the pointer (the caption elsewhere)."""
        point = event.position()
        tip = next((tip for box, tip in zip(self._boxes(), self.tips) if box.contains(point)), self.caption)
        if tip != self.toolTip():
            self.setToolTip(tip)
        super().mouseMoveEvent(event)

    def paintEvent(self, _: Any) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(QColor(theme.TEXT))
        bold = QFont(self.font())
        bold.setBold(True)
        painter.setFont(bold)
        painter.drawText(QRectF(6, 2, self.width() - 12, 18), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self.caption)
        boxes = self._boxes()
        if not boxes:
            return
        top, bottom = boxes[0].top(), boxes[0].bottom()
        wires = min(self.qubits, 8)
        spacing = (bottom - top) / max(1, wires)
        painter.setFont(self.font())
        for w in range(wires):
            y = top + (w + 0.5) * spacing
            painter.setPen(QPen(QColor(theme.WIRE), 1))
            painter.drawLine(40, int(y), self.width() - 6, int(y))
            if spacing >= 14:  # a label per wire where they fit, else one for all
                painter.setPen(QColor(theme.MUTED_TEXT))
                painter.drawText(QRectF(4, y - 7, 34, 14), Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"q{w}")
        if spacing < 14:
            painter.setPen(QColor(theme.MUTED_TEXT))
            painter.drawText(QRectF(2, top, 36, bottom - top), Qt.AlignmentFlag.AlignCenter,
                             f"{self.qubits}\nqubit{'s' if self.qubits != 1 else ''}")
        colours = {KEPT: ("#C9D7E8", "#5B7BA3"), TRAINING: (theme.SUCCESS, theme.SUCCESS), ALL: (theme.ACCENT, theme.ACCENT),
                   WAITING: (None, theme.DISABLED_TEXT)}
        for number, (box, state) in enumerate(zip(boxes, self.states), start=1):
            fill, edge = colours.get(state, colours[WAITING])
            pen = QPen(QColor(edge), 2 if state in (TRAINING, ALL) else 1)
            if state == WAITING:
                pen.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(pen)
            if fill is not None:
                painter.setBrush(QColor(fill))
            else:
                painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(box, 4, 4)
            painter.setPen(QColor("white") if state in (TRAINING, ALL) else QColor(theme.TEXT if state == KEPT
                                                                                  else theme.DISABLED_TEXT))
            painter.drawText(box, Qt.AlignmentFlag.AlignCenter, f"L{number}")
        painter.end()


class LayerwiseDialog(QDialog):
    """Asks for the epochs of each phase and of an optional last phase training every weight."""

    def __init__(self, project: Any, registry: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerwiseDialog")
        self.setWindowTitle("Train Layerwise")
        self.project, self.registry = project, registry
        self.per_layer = QSpinBox()
        self.per_layer.setObjectName("layerwiseEpochs")
        self.per_layer.setRange(1, 100_000)
        self.per_layer.setValue(max(1, min(5, project.training.epochs)))
        self.per_layer.setToolTip("Epochs of each phase: the circuit with one more layer, training only that layer")
        self.then_all = QSpinBox()
        self.then_all.setObjectName("layerwiseThenAll")
        self.then_all.setRange(0, 100_000)
        self.then_all.setSpecialValueText("none")
        self.then_all.setToolTip("Epochs of a last phase training every weight of the full circuit (none: no such phase)")
        self.summary = QLabel()
        self.summary.setObjectName("layerwiseSummary")
        self.summary.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Train")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Epochs per layer:", self.per_layer)
        form.addRow("Then every weight for:", self.then_all)
        layout = QVBoxLayout(self)
        intro = QLabel("The ansatz grows a layer at a time (Skolik et al. 2021). Each new layer starts at 0 "
                       "and only it is trained; the layers before keep their weights.")
        intro.setWordWrap(True)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.buttons)
        self.per_layer.valueChanged.connect(self._update)
        self.then_all.valueChanged.connect(self._update)
        try:  # whether the project can grow does not depend on the epochs: asked once, not per key press
            self.layers = len(phases(project, registry, 1))
            self.problem = ""
        except QMLStudioError as exc:
            self.layers, self.problem = 0, str(exc)
        self._update()
        self.setMinimumWidth(420)

    def _update(self) -> None:
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        ok.setEnabled(not self.problem)
        if self.problem:
            self.summary.setText(f"<span style='color:{theme.ERROR}'>Cannot train layerwise: {self.problem}</span>")
            return
        per_layer, then_all = self.per_layer.value(), self.then_all.value()
        extra = f", then every weight for {then_all}" if then_all else ""
        self.summary.setText(f"{self.layers} phases of {per_layer} epochs (1 → {self.layers} layers of "
                             f"{self.project.ansatz.name}){extra}: {self.layers * per_layer + then_all} epochs in all, "
                             "each phase kept as a run.")


def _trains_all(phase: Phase) -> bool:
    """Whether ``phase`` trains every weight: the optional last phase (the first phase trains
    only its one layer, though nothing before it is held still)."""
    return not phase.only_new and phase.index > 1


def _label(phase: Phase) -> str:
    return f"{phase.layers} layer{'s' if phase.layers > 1 else ''}" + (", all" if _trains_all(phase) else "")


class LayerwiseControl:
    """Layerwise schedules in the training dock (a mixin of TrainingDock)."""

    _layerwise: LayerwisePlan | None = None

    def layerwise_with_dialog(self) -> bool:
        """Train Layerwise…: asks for the epochs, then starts the schedule (False: cancelled or refused)."""
        if not self._may_start():  # type: ignore[attr-defined]
            return False
        dialog = LayerwiseDialog(self._project, self.registry, self)  # type: ignore[attr-defined]
        self.layerwise_dialog = dialog
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return False
            return self.train_layerwise(dialog.per_layer.value(), dialog.then_all.value())
        finally:
            self.layerwise_dialog = None
            dialog.deleteLater()

    def train_layerwise(self, epochs_per_layer: int, then_all: int = 0) -> bool:
        """Starts the layerwise schedule of the project; False when a run is going or it is refused."""
        if not self._may_start():  # type: ignore[attr-defined]
            return False
        preflight = self.preflight  # type: ignore[attr-defined]
        if preflight is not None and not preflight(lambda: self.train_layerwise(epochs_per_layer, then_all)):
            return False
        try:
            schedule = phases(self._project, self.registry, epochs_per_layer, then_all)  # type: ignore[attr-defined]
        except QMLStudioError as exc:
            self._show_failure("Cannot train layerwise", str(exc), "")  # type: ignore[attr-defined]
            self.status_message.emit(f"Cannot train layerwise: {exc}")  # type: ignore[attr-defined]
            return False
        self._layerwise = LayerwisePlan(schedule, first_start(schedule))
        self.layer_strip.show()  # type: ignore[attr-defined]
        self._draw_strip()
        return self._start_phase()

    def _start_phase(self) -> bool:
        plan = self._layerwise
        if plan is None or self._shut_down or not self._may_start():  # type: ignore[attr-defined]
            return False
        phase = plan.phase
        started = self._start_worker(phase.project, phase.epochs, plan.start)  # type: ignore[attr-defined]
        if started:
            self.progress.setFormat(f"Layerwise phase {phase.index} of {len(plan.schedule)}: preparing…")  # type: ignore[attr-defined]
            self.status_message.emit(f"Layerwise training: phase {phase.index} of {len(plan.schedule)}, "  # type: ignore[attr-defined]
                                     f"{phase.layers} layer{'s' if phase.layers > 1 else ''}")
            self._draw_strip()
        return started

    def _end_layerwise(self) -> None:
        """A plain run starts, or the schedule ended: the strip stays as it was, not live."""
        self._layerwise = None
        self._sync_actions()  # type: ignore[attr-defined]

    def _draw_strip(self, ended: str = "") -> None:
        plan = self._layerwise
        if plan is None:
            return
        phase = plan.phase
        states, tips = [], []
        for layer in range(1, plan.layers + 1):
            if _trains_all(phase) and not ended:
                state = ALL
            elif layer < phase.layers or (ended and layer <= phase.layers):
                state = KEPT
            elif layer == phase.layers and not ended:
                state = TRAINING
            else:
                state = WAITING
            states.append(state)
            trained = next((p.index for p in plan.schedule if p.layers == layer and p.index <= phase.index), None)
            loss = plan.losses.get(trained) if trained is not None else None
            tips.append({KEPT: f"Layer {layer}: trained in phase {trained}" + (f" (loss {loss:.4g})" if loss is not None else "")
                         + ", now held still",
                         TRAINING: f"Layer {layer}: training now (phase {phase.index}), its weights started at 0",
                         ALL: f"Layer {layer}: every weight trains in this last phase",
                         WAITING: f"Layer {layer}: added in a later phase"}[state])
        trains = "every weight" if _trains_all(phase) else "the new layer"
        caption = ended or (f"Layerwise · phase {phase.index} of {len(plan.schedule)} · {phase.layers} of "
                            f"{plan.layers} layers · training {trains}")
        self.layer_strip.set_plan(states, phase.project.circuit.num_qubits, caption, tips)  # type: ignore[attr-defined]

    def _layerwise_runs(self, live: Any) -> list[Any] | None:
        """When a phase's run is prepared: the curves to show (the phases so far, then this one)."""
        plan = self._layerwise
        if plan is None:
            return None
        live.x_offset = plan.offset
        live.label = _label(plan.phase)
        return [*plan.curves, live]

    def _layerwise_finished(self, record: Any, live: Any) -> None:
        """A phase's run ended (``record`` None: it failed to start or crashed): the next phase,
        or the end of the schedule."""
        plan = self._layerwise
        if plan is None:
            return
        phase = plan.phase
        if record is not None and live is not None:
            live.label = _label(phase)  # the runs list named it meanwhile
            plan.curves.append(live)
            plan.run_ids.append(record.id)
            loss = [v for v in record.metrics.get("loss", []) if v is not None]
            if loss:
                plan.losses[phase.index] = float(loss[-1])
            plan.offset += float(live.last("iteration") or 0)
        if record is None or record.status != "completed":
            why = "stopped" if record is not None and record.status == "stopped" else "failed"
            self._draw_strip(ended=f"Layerwise training {why} in phase {phase.index} of {len(plan.schedule)}; "
                                   f"{len(plan.run_ids)} phase{'s' if len(plan.run_ids) != 1 else ''} kept")
            self._show_phases()
            self._end_layerwise()
            return
        if plan.index + 1 == len(plan.schedule):
            self._draw_strip(ended=f"Layerwise training done: {len(plan.schedule)} phases, {plan.layers} layers")
            self.progress.setFormat(f"Layerwise training completed: {len(plan.schedule)} phases, "  # type: ignore[attr-defined]
                                    f"{int(plan.offset):,} iterations")
            self._show_phases()
            self.status_message.emit(f"Layerwise training done: {len(plan.schedule)} phases kept as runs")  # type: ignore[attr-defined]
            self._end_layerwise()
            return
        plan.start = plan.start.following(plan.schedule[plan.index + 1], record, plan.schedule)
        plan.index += 1
        self._show_phases()
        QTimer.singleShot(0, self._start_phase)

    def _show_phases(self) -> None:
        plan = self._layerwise
        if plan is not None and plan.curves:
            self._show(list(plan.curves), primary=plan.curves[-1])  # type: ignore[attr-defined]
