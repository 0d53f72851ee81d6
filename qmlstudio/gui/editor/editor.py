"""The ansatz editor: the circuit canvas, its live figures, and every edit as an undo command.

:class:`CircuitEditor` is the main window's central widget. It shows the project's circuit
(:class:`~qmlstudio.gui.editor.scene.CircuitScene` in a
:class:`~qmlstudio.gui.editor.view.CircuitCanvas`), plans and performs palette drops, and
turns every user request (drop, move, handle drag, delete, paste...) into one named
:class:`~qmlstudio.gui.commands.DesignCommand` on the window's undo stack. Commands change
the model only; the scene and the figures follow the model's events.

The project's encoding is drawn as a locked block left of the wires: it is a project
setting (``project.encoding``), prepended to the circuit for every sample when training.
Dropping an encoding on that block changes the setting (undoable); dropping it on the
wires inserts its gates into the circuit as a data re-uploading block.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Callable, Sequence

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import QApplication, QMenu, QVBoxLayout, QWidget

from qmlstudio.core.circuit import GATES, MAX_QUBITS, CircuitDesign, Gate
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.expressions import Angle
from qmlstudio.core.project import PluginChoice
from qmlstudio.gui.commands import DesignCommand, ProjectEdit
from qmlstudio.gui.editor import edits
from qmlstudio.gui.editor.figures import CircuitFigures
from qmlstudio.gui.editor.mime import PaletteEntry, gates_mime, put_on_clipboard, read_gates_mime
from qmlstudio.gui.editor.scene import CanvasLayout, CircuitScene
from qmlstudio.gui.editor.view import CircuitCanvas, DropPlan


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


def gate_names(gates: Sequence[Gate]) -> str:
    """"RY", "2 gates", for command names."""
    if len(gates) == 1:
        return GATES[gates[0].name].label
    return _count(len(gates), "gate")


class CircuitEditor(QWidget):
    """The drag-and-drop ansatz editor over a project's circuit (object name ``circuitEditor``)."""

    #: The selection on the canvas changed (also after every rebuild).
    selectionChanged = Signal()
    #: A short message for the status bar (why an edit was refused, what was done).
    message = Signal(str)

    def __init__(self, undo_stack: QUndoStack, registry: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("circuitEditor")
        self.undo_stack = undo_stack
        self.registry = registry
        self.project: Any = None
        self._data: Any = None
        self.design: CircuitDesign | None = None
        self.num_features: int | None = None
        self._qubits_shown = -1

        self.scene = CircuitScene(self)
        self.canvas = CircuitCanvas(self.scene, self)
        self.canvas.drop_handler = self
        self.figures = CircuitFigures(registry, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.figures)

        queued = Qt.ConnectionType.QueuedConnection
        # Requests come from inside item mouse handlers; the edit rebuilds the scene, so it
        # runs after the handler has returned.
        self.scene.moveRequested.connect(self.move_gates, queued)
        self.scene.qubitsRequested.connect(self.set_gate_qubits, queued)
        self.scene.addQubitRequested.connect(self.add_qubit, queued)
        self.scene.contextMenuRequested.connect(self._context_menu)
        self.scene.selectionChanged.connect(self._on_selection_changed)

        self.actions: dict[str, QAction] = {}
        self._create_actions()
        clipboard = QApplication.clipboard()
        if clipboard is not None:
            clipboard.dataChanged.connect(self._update_actions)
        self._update_actions()

    # --------------------------------------------------------------- model
    def set_project(self, project: Any) -> None:
        """Edits ``project``'s circuit and shows its encoding; follows both from now on."""
        if self.project is not None:
            self.project.events.changed.disconnect(self._on_project_changed)
        self.project = project
        if project is not None:
            project.events.changed.connect(self._on_project_changed)
        self._set_design(project.circuit if project is not None else None)
        self.figures.set_project(project)

    def _set_design(self, design: CircuitDesign | None) -> None:
        if self.design is not None:
            self.design.events.changed.disconnect(self._on_design_changed)
        self.design = design
        if design is not None:
            design.events.changed.connect(self._on_design_changed)
        self._qubits_shown = design.num_qubits if design is not None else -1
        self.scene.set_design(design)
        self.refresh_encoding()
        self.refresh_parts()

    def _on_project_changed(self, what: str = "", **_: Any) -> None:
        if what == "circuit" and self.project is not None and self.project.circuit is not self.design:
            self._set_design(self.project.circuit)
        elif what == "encoding":
            self.refresh_encoding()
            self.refresh_parts()
        elif what in ("model", None, ""):
            self.refresh_parts()

    def _on_design_changed(self, **_: Any) -> None:
        if self.design is not None and self.design.num_qubits != self._qubits_shown:
            self._qubits_shown = self.design.num_qubits
            self.refresh_encoding()
            self.refresh_parts()

    def set_data(self, data: Any) -> None:
        """The project's prepared data (or None): a model's classical parts are drawn for its
        features, classes and image shape."""
        if data is not self._data:
            self._data = data
            self.refresh_parts()

    # ------------------------------------------------------ classical parts
    def refresh_parts(self) -> None:
        """Redraws a model's classical parts around the circuit (a hybrid's front and head;
        none for the built-in models)."""
        if self.project is None or self.registry is None or self.design is None:
            self.scene.set_parts(None)
            return
        from qmlstudio.workflow.runs import model_parts

        self.scene.set_parts(model_parts(self.project, self.registry, self._data))

    def part_options(self, key: str) -> tuple[list[Any], dict[str, Any]]:
        """The options (``Option`` descriptions) that shape the classical part ``key`` and the
        project's values of them, for the inspector."""
        part = self.scene.parts.get(key) or {}
        specs = self.registry.specs("models") if self.registry is not None else {}
        spec = specs.get(getattr(self.project.model, "kind", "")) if self.project is not None else None
        names = tuple(part.get("options", ()))
        options = [o for o in (spec.options if spec is not None else ()) if o.name in names]
        values = {o.name: self.project.model.options.get(o.name, o.default) for o in options}
        return options, values

    def set_model_option(self, name: str, value: Any) -> bool:
        """One undoable change of a model option (from the inspector of a classical part)."""
        from qmlstudio.core.project import ModelChoice

        project = self.project
        if project is None or project.model.options.get(name) == value:
            return False
        self.undo_stack.push(ProjectEdit(project, {"model": ModelChoice(project.model.kind, {**project.model.options,
                                                                                            name: value})},
                                         f"Change model {name.replace('_', ' ')}"))
        return True

    def set_num_features(self, count: int | None) -> None:
        """The number of features of the project's data (draws the encoding for that many)."""
        if count != self.num_features:
            self.num_features = count
            self.refresh_encoding()

    # ------------------------------------------------------------- encoding
    def _encoding_spec(self, name: str) -> Any:
        table = getattr(self.registry, "encodings", {}) if self.registry is not None else {}
        return table.get(name)

    def _options_for(self, kind: str, name: str) -> dict[str, Any]:
        """The project's options when it already uses ``name``, else the plugin's defaults."""
        choice = getattr(self.project, "encoding" if kind == "encoding" else "ansatz", None)
        if choice is not None and choice.name == name:
            return dict(choice.options)
        return {}

    def _features_for(self, encoder: Any, num_qubits: int) -> int:
        k = self.num_features
        if k is not None and encoder.check(k) is None and encoder.num_qubits(k) <= num_qubits:
            return k
        best = 1
        for count in range(1, 4 * num_qubits + 1):
            try:
                fits = encoder.check(count) is None and encoder.num_qubits(count) <= num_qubits
            except Exception:  # noqa: BLE001 - a plugin's arithmetic
                fits = False
            if fits:
                best = count
            elif count > 2 * num_qubits:
                break
        return best

    def encoding_design(self, name: str, num_qubits: int) -> tuple[CircuitDesign, Any]:
        """The encoding ``name``'s circuit for this design's qubits (and the data's features)."""
        spec = self._encoding_spec(name)
        if spec is None:
            raise QMLStudioError(f"no installed plugin provides the encoding {name!r}")
        encoder = spec.create(self._options_for("encoding", name))
        return encoder.circuit(self._features_for(encoder, num_qubits)), spec

    def refresh_encoding(self) -> None:
        """Redraws the project's encoding block (after the encoding, the qubits or the data changed)."""
        project, design = self.project, self.design
        if project is None or design is None or getattr(project, "encoding", None) is None:
            self.scene.set_encoding(None)
            return
        try:
            enc, spec = self.encoding_design(project.encoding.name, design.num_qubits)
        except Exception as exc:  # noqa: BLE001 - a plugin's fault must not break the canvas
            self.scene.set_encoding(None)
            self.message.emit(f"Cannot draw the encoding {project.encoding.name!r}: {exc}")
            return
        options = ", ".join(f"{k}={v}" for k, v in project.encoding.options.items())
        tooltip = (f"<b>{spec.title}</b> — the project's encoding{f' ({options})' if options else ''}.<br>"
                   f"{spec.description}<br><i>It runs before the circuit for every sample. Drop another "
                   "encoding here to change it.</i>")
        self.scene.set_encoding(enc, spec.title, tooltip)

    # ------------------------------------------------------------ commands
    def _push(self, text: str, gates: Sequence[Gate], num_qubits: int | None = None,
              select: Sequence[int] | None = None) -> bool:
        """Pushes one named edit; False (and a message) when it is invalid or changes nothing."""
        if self.design is None:
            return False
        try:
            command = DesignCommand(self.design, text, gates, num_qubits)
        except QMLStudioError as exc:
            self.message.emit(f"{text}: {exc}")
            return False
        if not command.changes_anything:
            return False
        self.scene.select_after_rebuild(select)
        try:
            self.undo_stack.push(command)
        finally:
            self.scene.select_after_rebuild(None)
        return True

    def _push_placement(self, text: str, placement: edits.Placement | None) -> bool:
        if placement is None:
            return False
        return self._push(text, placement.gates, select=placement.placed)

    # -------------------------------------------------------------- edits
    def add_gate(self, name: str, qubit: int, column: int) -> bool:
        """Places a new gate ``name`` with its first qubit on wire ``qubit`` at ``column``."""
        if self.design is None:
            return False
        placement = edits.add_gate(self.design, name, qubit, column)
        if placement is None:
            self.message.emit(f"{GATES[name].label} needs {GATES[name].num_qubits} qubits; add a qubit first")
            return False
        return self._push_placement(f"Add {GATES[name].label}", placement)

    def append_gate(self, name: str, qubit: int | None = None) -> bool:
        """Adds gate ``name`` at the end of wire ``qubit`` (the selected gate's wire, or q0)."""
        if self.design is None:
            return False
        if qubit is None:
            selected = self.selected_gates()
            qubit = min(selected[0].qubits) if selected else 0
        qubits = edits.default_qubits(name, qubit, self.design.num_qubits)
        if qubits is None:
            return self.add_gate(name, qubit, 0)
        rows = range(min(qubits), max(qubits) + 1)
        start = max((g.column + 1 for g in self.design.gates if set(g.span) & set(rows)), default=0)
        return self.add_gate(name, qubit, self.design.free_column(qubits, start))

    def move_gates(self, indices: Sequence[int], columns: int, rows: int) -> bool:
        if self.design is None:
            return False
        indices = [i for i in indices if 0 <= i < len(self.design.gates)]
        placement = edits.move_gates(self.design, indices, columns, rows)
        gates = [self.design.gates[i] for i in indices]
        return self._push_placement(f"Move {gate_names(gates)}", placement)

    def nudge(self, columns: int, rows: int) -> bool:
        """Moves the selected gates by a cell (the arrow keys)."""
        return self.move_gates(self.scene.selected_indices(), columns, rows)

    def set_gate_qubits(self, index: int, qubits: Sequence[int]) -> bool:
        if self.design is None or not 0 <= index < len(self.design.gates):
            return False
        placement = edits.set_qubits(self.design, index, qubits)
        label = GATES[self.design.gates[index].name].label
        if placement is None:
            self.scene.rebuild()  # drop any handle preview
            return False
        return self._push_placement(f"Change qubits of {label}", placement)

    def set_gate_column(self, index: int, column: int) -> bool:
        if self.design is None or not 0 <= index < len(self.design.gates):
            return False
        return self.move_gates([index], column - self.design.gates[index].column, 0)

    def set_gate_params(self, index: int, params: Sequence[Angle]) -> bool:
        if self.design is None or not 0 <= index < len(self.design.gates):
            return False
        gates = list(self.design.gates)
        old = gates[index]
        gates[index] = Gate(old.name, old.qubits, tuple(params), old.column, old.block)
        return self._push(f"Set angle of {GATES[old.name].label}", gates, select=[index])

    def delete_selected(self) -> bool:
        if self.design is None:
            return False
        indices = set(self.scene.selected_indices())
        if not indices:
            if self.scene.encoding_selected():
                self.message.emit("The encoding is a project setting: drop another encoding on it to change it")
            return False
        removed = [g for i, g in enumerate(self.design.gates) if i in indices]
        kept = [g for i, g in enumerate(self.design.gates) if i not in indices]
        return self._push(f"Delete {gate_names(removed)}", kept, select=[])

    def copy_selected(self) -> bool:
        gates = self.selected_gates()
        if not gates:
            return False
        put_on_clipboard(gates_mime(edits.relative(gates)))
        self.message.emit(f"Copied {_count(len(gates), 'gate')}")
        return True

    def cut_selected(self) -> bool:
        gates = self.selected_gates()
        if not gates or self.design is None:
            return False
        put_on_clipboard(gates_mime(edits.relative(gates)))
        indices = set(self.scene.selected_indices())
        kept = [g for i, g in enumerate(self.design.gates) if i not in indices]
        return self._push(f"Cut {gate_names(gates)}", kept, select=[])

    def paste(self) -> bool:
        if self.design is None:
            return False
        gates = read_gates_mime(QApplication.clipboard().mimeData())
        if not gates:
            self.message.emit("The clipboard holds no gates")
            return False
        selected = self.selected_gates()
        column = max(g.column for g in selected) + 1 if selected else self.design.num_columns
        placement = edits.paste(self.design, gates, column)
        if placement is None:
            self.message.emit("The copied gates need more qubits than the circuit has")
            return False
        return self._push_placement(f"Paste {gate_names(gates)}", placement)

    def duplicate_selected(self) -> bool:
        gates = self.selected_gates()
        if not gates or self.design is None:
            return False
        placement = edits.paste(self.design, gates, max(g.column for g in gates) + 1)
        return self._push_placement(f"Duplicate {gate_names(gates)}", placement)

    def select_all(self) -> None:
        if self.design is not None:
            self.scene.select_indices(range(len(self.design.gates)))

    def select_block(self) -> None:
        blocks = {g.block for g in self.selected_gates() if g.block}
        if self.design is not None and blocks:
            self.scene.select_indices([i for i, g in enumerate(self.design.gates) if g.block in blocks])

    def add_qubit(self) -> bool:
        if self.design is None:
            return False
        if self.design.num_qubits >= MAX_QUBITS:
            self.message.emit(f"A circuit has at most {MAX_QUBITS} qubits")
            return False
        n = self.design.num_qubits
        return self._push(f"Add qubit q{n}", self.design.gates, n + 1)

    def widen(self, num_qubits: int, text: str) -> bool:
        """Adds empty wires at the bottom up to ``num_qubits``, as one undoable edit named ``text``."""
        if self.design is None or num_qubits <= self.design.num_qubits:
            return False
        return self._push(text, self.design.gates, num_qubits)

    def remove_qubit(self, qubit: int | None = None) -> bool:
        """Removes wire ``qubit`` (the last one by default) with its gates; the wires below move up."""
        if self.design is None:
            return False
        if self.design.num_qubits <= 1:
            self.message.emit("A circuit needs at least one qubit")
            return False
        qubit = self.design.num_qubits - 1 if qubit is None else qubit
        num_qubits, gates = edits.remove_qubit(self.design, qubit)
        return self._push(f"Remove qubit q{qubit}", gates, num_qubits, select=[])

    def import_design(self, design: CircuitDesign, text: str = "Import circuit") -> bool:
        """Replaces the circuit with ``design`` (one undoable step)."""
        return self._push(text, design.gates, design.num_qubits, select=[])

    # ---------------------------------------------------- templates, encodings
    def template_gates(self, name: str) -> list[Gate]:
        """The template ``name`` built on this circuit's qubits (weights θ[0..])."""
        table = getattr(self.registry, "ansatze", {}) if self.registry is not None else {}
        spec = table.get(name)
        if spec is None or self.design is None:
            raise QMLStudioError(f"no installed plugin provides the ansatz template {name!r}")
        built = spec.create(self._options_for("template", name)).build(self.design.num_qubits)
        return list(built.gates)

    def _block_title(self, kind: str, name: str) -> str:
        table = getattr(self.registry, "ansatze" if kind == "template" else "encodings", {}) if self.registry else {}
        spec = table.get(name)
        return spec.title if spec is not None else name

    def insert_template(self, name: str, column: int | None = None) -> bool:
        """Inserts template ``name`` as editable gates in one block from ``column`` (the end by default)."""
        if self.design is None:
            return False
        try:
            gates = self.template_gates(name)
        except Exception as exc:  # noqa: BLE001 - a plugin's fault becomes a message
            self.message.emit(f"Cannot insert {name}: {exc}")
            return False
        if not gates:
            self.message.emit(f"{self._block_title('template', name)} has no gates on {self.design.num_qubits} qubit(s)")
            return False
        column = self.design.num_columns if column is None else column
        placement = edits.insert_block(self.design, gates, column, name)
        return self._push_placement(f"Insert {self._block_title('template', name)}", placement)

    def insert_encoding_layer(self, name: str, column: int | None = None) -> bool:
        """Inserts encoding ``name``'s data gates into the circuit as a block (data re-uploading)."""
        if self.design is None:
            return False
        try:
            enc, _ = self.encoding_design(name, self.design.num_qubits)
        except Exception as exc:  # noqa: BLE001
            self.message.emit(f"Cannot insert {name}: {exc}")
            return False
        if not enc.gates or max(max(g.qubits) for g in enc.gates) >= self.design.num_qubits:
            self.message.emit(f"The {name} encoding needs more qubits than the circuit has")
            return False
        column = self.design.num_columns if column is None else column
        placement = edits.insert_block(self.design, enc.gates, column, f"encoding:{name}")
        return self._push_placement(f"Insert {self._block_title('encoding', name)} layer", placement)

    def set_encoding(self, name: str) -> bool:
        """Makes ``name`` the project's encoding (one undoable step)."""
        if self.project is None:
            return False
        spec = self._encoding_spec(name)
        if spec is None:
            self.message.emit(f"No installed plugin provides the encoding {name!r}")
            return False
        if self.project.encoding is not None and self.project.encoding.name == name:
            return False
        try:
            choice = PluginChoice(name, spec.resolve(self._options_for("encoding", name)))
        except QMLStudioError as exc:
            self.message.emit(str(exc))
            return False
        self.undo_stack.push(ProjectEdit(self.project, {"encoding": choice}, f"Set encoding to {spec.title}"))
        return True

    def activate(self, entry: PaletteEntry) -> bool:
        """What double-clicking a palette entry does: append it, or make it the encoding.

        Then the canvas selects what was added (or the encoding block) and scrolls to it,
        so that a gate appended beyond the visible columns is not added out of sight.
        """
        if entry.kind == "gate":
            done = self.append_gate(entry.name)
        elif entry.kind == "template":
            done = self.insert_template(entry.name)
        else:
            done = self.set_encoding(entry.name)
            if done and self.scene.encoding_item is not None:
                self.scene.clearSelection()
                self.scene.encoding_item.setSelected(True)
        if done:
            self.reveal_selection()
        return done

    def reveal_selection(self) -> None:
        """Scrolls the canvas so that the selected gates (or encoding block) are in view."""
        rect = QRectF()
        for item in self.scene.selectedItems():
            rect = rect.united(item.sceneBoundingRect())
        if not rect.isNull():
            self.canvas.ensureVisible(rect, 24, 24)

    # --------------------------------------------------------------- drops
    def _where(self, pos: QPointF) -> tuple[int, int, bool]:
        layout = self.scene.layout
        return layout.nearest_qubit(pos.y()), max(0, layout.column_at(pos.x())), pos.x() < layout.x0

    def _block_plan(self, caption: str, column: int, width: int, inserts: bool) -> DropPlan:
        layout = self.scene.layout
        rect = layout.cell_rect(column, 0, layout.num_qubits - 1)
        rect.setWidth(layout.CELL_W * width - 6)
        return DropPlan([rect], caption, layout.x0 + layout.CELL_W * column if inserts else None,
                        (layout.TOP, layout.wires_bottom))

    def plan(self, entry: PaletteEntry, pos: QPointF) -> DropPlan | None:
        """What dropping ``entry`` at scene point ``pos`` would do (for the drop indicator)."""
        if self.design is None:
            return None
        layout: CanvasLayout = self.scene.layout
        qubit, column, left = self._where(pos)
        if entry.kind == "gate":
            if entry.name not in GATES:
                return None
            placement = edits.add_gate(self.design, entry.name, qubit, column)
            if placement is None:
                return None
            gate = placement.gates[placement.placed[0]]
            rect = layout.cell_rect(gate.column, min(gate.qubits), max(gate.qubits))
            where = ", ".join(f"q{q}" for q in gate.qubits)
            caption = f"{GATES[entry.name].label} → {where} · column {gate.column}"
            if placement.inserts:
                caption += " (insert)"
            return DropPlan([rect], caption, layout.x0 + layout.CELL_W * gate.column if placement.inserts else None,
                            (layout.TOP, layout.wires_bottom))
        if entry.kind == "encoding" and left:
            if self._encoding_spec(entry.name) is None:
                return None
            item = self.scene.encoding_item
            rect = item.rect if item is not None else QRectF(layout.encoding_left, layout.TOP, layout.x0 - layout.encoding_left,
                                                             layout.ROW_H * layout.num_qubits)
            return DropPlan([rect], f"Use {self._block_title('encoding', entry.name)} as the encoding")
        try:
            if entry.kind == "template":
                gates = self.template_gates(entry.name)
            else:
                gates = list(self.encoding_design(entry.name, self.design.num_qubits)[0].gates)
        except Exception:  # noqa: BLE001 - shown as "cannot drop here"
            return None
        if not gates:
            return None
        width = max(g.column for g in gates) - min(g.column for g in gates) + 1
        inserts = bool(edits.cells(edits.shifted(edits.relative(gates), columns=column)) & edits.cells(self.design.gates))
        title = self._block_title(entry.kind, entry.name)
        what = "layer" if entry.kind == "encoding" else _count(len(gates), "gate")
        return self._block_plan(f"Insert {title} ({what}) at column {column}", column, width, inserts)

    def drop(self, entry: PaletteEntry, pos: QPointF) -> bool:
        """Performs the drop of ``entry`` at scene point ``pos`` as one undo command."""
        if self.design is None:
            return False
        qubit, column, left = self._where(pos)
        if entry.kind == "gate":
            return entry.name in GATES and self.add_gate(entry.name, qubit, column)
        if entry.kind == "template":
            return self.insert_template(entry.name, column)
        if left:
            return self.set_encoding(entry.name)
        return self.insert_encoding_layer(entry.name, column)

    # ----------------------------------------------------------- selection
    def selected_indices(self) -> list[int]:
        return self.scene.selected_indices()

    def selected_gates(self) -> list[Gate]:
        if self.design is None:
            return []
        return [self.design.gates[i] for i in self.scene.selected_indices() if i < len(self.design.gates)]

    def _on_selection_changed(self) -> None:
        self._update_actions()
        self.selectionChanged.emit()

    # ------------------------------------------------------------- actions
    def _action(self, key: str, text: str, tip: str, slot: Callable[[], Any],
                shortcuts: Sequence[QKeySequence | QKeySequence.StandardKey | str] = ()) -> QAction:
        action = QAction(text, self)
        action.setObjectName(key.replace(".", "_") + "Action")
        if shortcuts:
            action.setShortcuts([QKeySequence(s) for s in shortcuts])
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({keys})" if keys else tip)
        action.setStatusTip(tip)
        action.triggered.connect(lambda _checked=False: slot())
        self.actions[key] = action
        return action

    def _create_actions(self) -> None:
        SK = QKeySequence.StandardKey
        self._action("edit.cut", "Cu&t", "Cut the selected gates to the clipboard", self.cut_selected, [SK.Cut])
        self._action("edit.copy", "&Copy", "Copy the selected gates", self.copy_selected, [SK.Copy])
        self._action("edit.paste", "&Paste", "Paste gates after the selection (or at the end)", self.paste, [SK.Paste])
        self._action("edit.delete", "&Delete", "Delete the selected gates", self.delete_selected,
                     [SK.Delete, "Backspace"])
        self._action("edit.duplicate", "D&uplicate", "Copy the selected gates right after themselves, with new weights",
                     self.duplicate_selected, ["Ctrl+D"])
        self._action("edit.selectAll", "Select &All", "Select every gate", self.select_all, [SK.SelectAll])
        self._action("edit.selectBlock", "Select &Block", "Select the whole template or encoding block of the "
                     "selected gates (or double-click a gate)", self.select_block, ["Ctrl+Shift+A"])
        self._action("edit.addQubit", "Add &Qubit", "Add a qubit wire at the bottom", self.add_qubit,
                     ["Ctrl+Shift+Down"])
        self._action("edit.removeQubit", "&Remove Last Qubit", "Remove the bottom qubit wire and its gates",
                     self.remove_qubit, ["Ctrl+Shift+Up"])
        self._action("view.zoomIn", "Zoom &In", "Zoom into the circuit", self.canvas.zoom_in, [SK.ZoomIn, "Ctrl+="])
        self._action("view.zoomOut", "Zoom &Out", "Zoom out of the circuit", self.canvas.zoom_out, [SK.ZoomOut])
        self._action("view.zoomReset", "&Actual Size", "Show the circuit at 100 %", self.canvas.reset_zoom, ["Ctrl+0"])
        self._action("view.zoomFit", "Zoom to &Fit", "Fit the whole circuit in the view", self.canvas.zoom_to_fit,
                     ["Ctrl+9"])

    def _update_actions(self) -> None:
        has_selection = bool(self.scene.selected_indices())
        for key in ("edit.cut", "edit.copy", "edit.delete", "edit.duplicate"):
            self.actions[key].setEnabled(has_selection)
        self.actions["edit.selectBlock"].setEnabled(any(g.block for g in self.selected_gates()))
        clipboard = QApplication.clipboard()
        self.actions["edit.paste"].setEnabled(clipboard is not None and read_gates_mime(clipboard.mimeData()) is not None)

    def _context_menu(self, screen_pos: Any, qubit: int | None) -> None:
        menu = QMenu(self)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        for key in ("edit.cut", "edit.copy", "edit.paste", "edit.duplicate", "edit.delete", None, "edit.selectBlock",
                    None, "edit.addQubit"):
            if key is None:
                menu.addSeparator()
            else:
                menu.addAction(self.actions[key])
        if qubit is not None and self.design is not None and self.design.num_qubits > 1:
            on_wire = sum(1 for g in self.design.gates if qubit in g.qubits)
            remove = menu.addAction(f"Remove Qubit q{qubit}" + (f" and its {_count(on_wire, 'gate')}" if on_wire else ""))
            remove.triggered.connect(lambda _checked=False, q=qubit: self.remove_qubit(q))
        menu.popup(screen_pos.toPoint() if hasattr(screen_pos, "toPoint") else screen_pos)

    def summary_of_selection(self) -> str:
        gates = self.selected_gates()
        counts = Counter(GATES[g.name].label for g in gates)
        return ", ".join(f"{n} × {label}" for label, n in counts.most_common())
