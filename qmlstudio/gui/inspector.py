"""The inspector: the selected gate's qubits and angles, edited in place, with validation inline.

For one selected gate the inspector shows its qubits (control / target), its column and
block, and for each angle whether it is a trainable weight ``θ[i]`` (a new one gets the
next free number), a data input ``x[j]``, or a constant / expression such as ``pi/2`` or
``2*x[0] + θ[1]``. Text that is not a valid angle is marked and explained under the field
and never reaches the design. Every change is one undo command pushed by the editor. For
the encoding block it shows the project's encoding and lets another be chosen.

The widgets are made once and updated in place, because a change the inspector makes
rebuilds the canvas and refreshes the inspector while the change's own signal is running.
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.circuit import GATES, Gate
from qmlstudio.core.errors import ExpressionError
from qmlstudio.core.expressions import MAX_INDEX, Angle
from qmlstudio.gui.editor.edits import retarget
from qmlstudio.gui.editor.scene import qubit_roles

KINDS = (("weight", "Trainable weight θ"), ("input", "Data input x"), ("expression", "Constant / expression"))


def _set_invalid(widget: QWidget, invalid: bool) -> None:
    if widget.property("invalid") != invalid:
        widget.setProperty("invalid", invalid)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


class AngleEditor(QWidget):
    """One angle of the selected gate: its kind, its index, its text, and what is wrong with it."""

    #: (angle slot, new Angle): the user changed the angle.
    committed = Signal(int, object)

    def __init__(self, slot: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slot = slot
        self.angle: Angle | None = None
        self.next_weight = 0
        self.default_input = 0
        self.name = QLabel("θ")
        self.name.setProperty("role", "heading")
        self.name.setMinimumWidth(18)
        self.kind = QComboBox()
        self.kind.setObjectName(f"angleKind{slot}")
        for key, text in KINDS:
            self.kind.addItem(text, key)
        self.kind.setToolTip("A trainable weight is learnt by the optimizer; a data input takes a feature of each "
                             "sample; a constant or expression is fixed (it may combine θ and x)")
        self.index = QSpinBox()
        self.index.setObjectName(f"angleIndex{slot}")
        self.index.setRange(0, MAX_INDEX)
        self.index.setKeyboardTracking(False)
        self.index.setToolTip("Which weight θ[i] or input x[j]: gates sharing a weight are trained together")
        self.text = QLineEdit()
        self.text.setObjectName(f"angleText{slot}")
        self.text.setPlaceholderText("pi/2, 2*x[0], θ[1] + 0.5")
        self.text.setToolTip("The angle as text: θ[i], x[j], numbers, pi, + − * / **, sin cos exp log sqrt abs; "
                             "press Enter to apply")
        self.error = QLabel()
        self.error.setObjectName(f"angleError{slot}")
        self.error.setProperty("role", "error")
        self.error.setWordWrap(True)
        self.error.setVisible(False)

        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.setSpacing(6)
        top.addWidget(self.name)
        top.addWidget(self.kind, 1)
        top.addWidget(self.index)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 4)
        layout.setSpacing(4)
        layout.addLayout(top)
        layout.addWidget(self.text)
        layout.addWidget(self.error)

        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.index.valueChanged.connect(self._index_changed)
        self.text.textEdited.connect(self._validate)
        self.text.returnPressed.connect(self._text_committed)
        self.text.editingFinished.connect(self._text_committed)

    def show_angle(self, name: str, angle: Angle, next_weight: int, default_input: int) -> None:
        self.angle = angle
        self.next_weight = next_weight
        self.default_input = default_input
        self.name.setText(name)
        for widget in (self.kind, self.index, self.text):
            widget.blockSignals(True)
        kind = angle.kind if angle.kind in ("weight", "input") else "expression"
        self.kind.setCurrentIndex([k for k, _ in KINDS].index(kind))
        self.index.setVisible(kind != "expression")
        if kind == "weight":
            self.index.setPrefix("θ[")
            self.index.setValue(next(iter(angle.weights)))
        elif kind == "input":
            self.index.setPrefix("x[")
            self.index.setValue(next(iter(angle.inputs)))
        self.index.setSuffix("]")
        self.text.setText(angle.text)
        for widget in (self.kind, self.index, self.text):
            widget.blockSignals(False)
        self._show_error(None)

    def _show_error(self, message: str | None) -> None:
        self.error.setText(message or "")
        self.error.setVisible(bool(message))
        _set_invalid(self.text, bool(message))

    def _commit(self, angle: Angle) -> None:
        if self.angle is None or angle != self.angle:
            self.committed.emit(self.slot, angle)

    def _kind_changed(self) -> None:
        kind = self.kind.currentData()
        if kind == "weight":
            self._commit(Angle.weight(self.next_weight))
        elif kind == "input":
            self._commit(Angle.input(self.default_input))
        else:
            # A formula is typed, then applied with Enter.
            self.index.setVisible(False)
            self.text.setFocus()
            self.text.selectAll()

    def _index_changed(self, value: int) -> None:
        kind = self.kind.currentData()
        if kind == "weight":
            self._commit(Angle.weight(value))
        elif kind == "input":
            self._commit(Angle.input(value))

    def validate(self, text: str) -> Angle | None:
        try:
            angle = Angle(text)
        except ExpressionError as exc:
            self._show_error(str(exc))
            return None
        self._show_error(None)
        return angle

    def _validate(self, text: str) -> None:
        self.validate(text)

    def _text_committed(self) -> None:
        if self.angle is not None and self.text.text().strip() == self.angle.text:
            self._show_error(None)
            return
        angle = self.validate(self.text.text())
        if angle is not None:
            self._commit(angle)


class Inspector(QWidget):
    """Shows and edits what is selected on the canvas (object name ``inspector``)."""

    MAX_QUBITS_SHOWN = 3
    MAX_ANGLES = 3

    def __init__(self, editor: Any, registry: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("inspector")
        self.editor = editor
        self.registry = registry
        self.index: int | None = None

        self.title = QLabel()
        self.title.setObjectName("inspectorTitle")
        self.title.setProperty("role", "heading")
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        self.title.setFont(font)
        self.description = QLabel()
        self.description.setObjectName("inspectorDescription")
        self.description.setProperty("role", "muted")
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.RichText)

        # One gate
        self.gate_box = QWidget()
        form = QFormLayout(self.gate_box)
        form.setContentsMargins(0, 4, 0, 0)
        form.setHorizontalSpacing(10)
        form.setVerticalSpacing(6)
        qubit_row = QHBoxLayout()
        qubit_row.setSpacing(4)
        self.qubit_labels: list[QLabel] = []
        self.qubit_spins: list[QSpinBox] = []
        for slot in range(self.MAX_QUBITS_SHOWN):
            label = QLabel()
            label.setProperty("role", "muted")
            spin = QSpinBox()
            spin.setObjectName(f"qubitSpin{slot}")
            spin.setPrefix("q")
            spin.setKeyboardTracking(False)
            spin.valueChanged.connect(lambda value, s=slot: self._qubit_changed(s, value))
            qubit_row.addWidget(label)
            qubit_row.addWidget(spin)
            self.qubit_labels.append(label)
            self.qubit_spins.append(spin)
        qubit_row.addStretch(1)
        form.addRow("Qubits", qubit_row)
        self.column = QSpinBox()
        self.column.setObjectName("columnSpin")
        self.column.setRange(0, 9999)
        self.column.setKeyboardTracking(False)
        self.column.setToolTip("The column sets the order of operations; gates in one column act at the same time")
        self.column.valueChanged.connect(self._column_changed)
        form.addRow("Column", self.column)
        self.block = QLabel()
        self.block.setObjectName("inspectorBlock")
        form.addRow("Block", self.block)
        self.angles_heading = QLabel("ANGLES")
        self.angles_heading.setProperty("role", "section")
        form.addRow(self.angles_heading)
        self.angle_editors: list[AngleEditor] = []
        for slot in range(self.MAX_ANGLES):
            editor_row = AngleEditor(slot)
            editor_row.committed.connect(self._angle_committed)
            form.addRow(editor_row)
            self.angle_editors.append(editor_row)
        self.delete_button = QPushButton("Delete gate")
        self.delete_button.setObjectName("inspectorDelete")
        self.delete_button.clicked.connect(lambda: self.editor.delete_selected())
        form.addRow(self.delete_button)

        # The encoding
        self.encoding_box = QWidget()
        enc_layout = QFormLayout(self.encoding_box)
        enc_layout.setContentsMargins(0, 4, 0, 0)
        self.encoding_choice = QComboBox()
        self.encoding_choice.setObjectName("encodingChoice")
        self.encoding_choice.setToolTip("The encoding that loads each sample into the qubits")
        self.encoding_choice.activated.connect(self._encoding_chosen)
        enc_layout.addRow("Encoding", self.encoding_choice)
        self.encoding_options = QLabel()
        self.encoding_options.setProperty("role", "muted")
        self.encoding_options.setWordWrap(True)
        enc_layout.addRow("Options", self.encoding_options)

        # A model's classical part (a hybrid's front or head): the options that shape it
        from qmlstudio.gui.dataset_options import OptionForm

        self.part_key: str | None = None
        self.part_form = OptionForm()
        self.part_form.setObjectName("partOptions")
        self.part_form.option_changed.connect(self._part_option_changed)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.setSpacing(6)
        layout.addWidget(self.title)
        layout.addWidget(self.description)
        layout.addWidget(self.gate_box)
        layout.addWidget(self.encoding_box)
        layout.addWidget(self.part_form)
        layout.addStretch(1)

        editor.selectionChanged.connect(self.refresh)
        self.refresh()

    # -------------------------------------------------------------- showing
    def refresh(self) -> None:
        """Shows what is selected now (called after every selection change and rebuild)."""
        design = self.editor.design
        indices = self.editor.selected_indices()
        self.gate_box.setVisible(False)
        self.encoding_box.setVisible(False)
        self.part_form.setVisible(False)
        self.part_key = None
        self.index = None
        if design is None:
            self._show_text("No circuit", "")
            return
        if len(indices) == 1:
            self._show_gate(indices[0], design.gates[indices[0]], design)
            return
        if len(indices) > 1:
            gates = [design.gates[i] for i in indices]
            blocks = sorted({g.block for g in gates if g.block})
            weights = sorted({i for g in gates for p in g.params for i in p.weights})
            detail = [html.escape(self.editor.summary_of_selection())]
            if blocks:
                detail.append("Blocks: " + html.escape(", ".join(blocks)))
            if weights:
                detail.append(f"{len(weights)} trainable weights")
            detail.append("<i>Drag to move them together · Ctrl+D duplicates · Delete removes</i>")
            self._show_text(f"{len(indices)} gates selected", "<br>".join(detail))
            return
        if self.editor.scene.encoding_selected():
            self._show_encoding()
            return
        part = self.editor.scene.part_selected()
        if part is not None:
            self._show_part(part)
            return
        self._show_text(
            "Nothing selected",
            "Select a gate to see its qubits and angles.<br><br>"
            "<b>Drag</b> gates from the palette onto a wire · <b>drag</b> a gate to move it · "
            "drag the <b>handle</b> of a two-qubit gate to another wire · <b>double-click</b> a gate to "
            "select its block · <b>Ctrl + wheel</b> zooms.",
        )

    def _show_text(self, title: str, text: str) -> None:
        self.title.setText(title)
        self.description.setText(text)

    def _show_gate(self, index: int, gate: Gate, design: Any) -> None:
        self.index = index
        gtype = GATES[gate.name]
        self.title.setText(f"{gtype.label} gate")
        self.description.setText(html.escape(gtype.description))
        roles = qubit_roles(gate.name, len(gate.qubits))
        for slot, (label, spin) in enumerate(zip(self.qubit_labels, self.qubit_spins)):
            shown = slot < len(gate.qubits)
            label.setVisible(shown and len(gate.qubits) > 1)
            spin.setVisible(shown)
            if shown:
                spin.blockSignals(True)
                spin.setRange(0, design.num_qubits - 1)
                spin.setValue(gate.qubits[slot])
                spin.setToolTip(f"The {roles[slot]} qubit")
                spin.blockSignals(False)
                label.setText(roles[slot])
        self.column.blockSignals(True)
        self.column.setValue(gate.column)
        self.column.blockSignals(False)
        self.block.setText(gate.block or "—")
        self.angles_heading.setVisible(bool(gate.params))
        next_weight = design.next_weight()
        for slot, row in enumerate(self.angle_editors):
            shown = slot < len(gate.params)
            row.setVisible(shown)
            if shown:
                row.show_angle(gtype.param_names[slot], gate.params[slot], next_weight, min(gate.qubits))
        self.gate_box.setVisible(True)

    def _show_encoding(self) -> None:
        project = self.editor.project
        choice = getattr(project, "encoding", None)
        table = getattr(self.registry, "encodings", {}) if self.registry is not None else {}
        spec = table.get(choice.name) if choice is not None else None
        self.title.setText(f"Encoding · {spec.title if spec else choice.name if choice else '—'}")
        self.description.setText(html.escape(spec.description if spec else "No installed plugin provides it.")
                                 + "<br><i>It loads each sample before the circuit runs; its angles are the "
                                 "sample's features x[j].</i>")
        self.encoding_choice.blockSignals(True)
        self.encoding_choice.clear()
        for name, other in table.items():
            self.encoding_choice.addItem(other.title, name)
        if choice is not None:
            self.encoding_choice.setCurrentIndex(max(0, self.encoding_choice.findData(choice.name)))
        self.encoding_choice.blockSignals(False)
        options = ", ".join(f"{k} = {v}" for k, v in (choice.options.items() if choice else []))
        self.encoding_options.setText(options or "—")
        self.encoding_box.setVisible(True)

    def _show_part(self, key: str) -> None:
        part = self.editor.scene.parts.get(key) or {}
        count = part.get("parameters")
        self.title.setText(f"{part.get('title', key)}" + (f" · {count:,} parameters" if isinstance(count, int) else ""))
        self.description.setText("<br>".join(html.escape(str(line)) for line in part.get("lines", ()))
                                 + "<br><i>Trained with the circuit, end to end. Its layers are the model's "
                                 "options below.</i>")
        options, values = self.editor.part_options(key)
        self.part_key = key
        if [o.name for o in self.part_form.options] == [o.name for o in options]:
            self.part_form.set_values(values)  # in place: this may run inside one of its editors' signals
        else:
            self.part_form.set_options(options, values)
        self.part_form.setVisible(bool(options))

    # -------------------------------------------------------------- editing
    def _part_option_changed(self, name: str, value: Any) -> None:
        if self.part_key is not None and not self.editor.set_model_option(name, value):
            self.refresh()

    def _gate(self) -> Gate | None:
        design = self.editor.design
        if self.index is None or design is None or self.index >= len(design.gates):
            return None
        return design.gates[self.index]

    def _qubit_changed(self, slot: int, value: int) -> None:
        gate = self._gate()
        if gate is None:
            return
        qubits = retarget(gate.qubits, slot, value)
        if not self.editor.set_gate_qubits(self.index, qubits):
            self.refresh()

    def _column_changed(self, value: int) -> None:
        gate = self._gate()
        if gate is not None and not self.editor.set_gate_column(self.index, value):
            self.refresh()

    def _angle_committed(self, slot: int, angle: Angle) -> None:
        gate = self._gate()
        if gate is None:
            return
        params = list(gate.params)
        params[slot] = angle
        if not self.editor.set_gate_params(self.index, params):
            self.refresh()

    def _encoding_chosen(self, row: int) -> None:
        name = self.encoding_choice.itemData(row)
        if name:
            self.editor.set_encoding(name)
