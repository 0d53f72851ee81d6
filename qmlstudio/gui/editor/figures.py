"""Live figures under the canvas: qubits, gates, depth, weights, inputs, two-qubit gates, transpiled depth.

The counts come straight from the design. The depth after transpiling for the project's
backend is computed on a worker thread (``backend.pass_manager().run(circuit)``), at most
once per pause in editing (debounced), and shows "…" while it is being computed; results
are cached per design and backend, and an answer for an older design is dropped.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.gui.background import run_in_background

_backends: dict[str, Any] = {}
_backend_lock = threading.Lock()


def transpiled_depth(registry: Any, backend_name: str, options: dict[str, Any], num_qubits: int,
                     gates: tuple[Gate, ...]) -> int:
    """Depth of the design after the backend's pass manager (runs on a worker thread)."""
    return transpiled_figures(registry, backend_name, options, num_qubits, gates)[0]


def transpiled_figures(registry: Any, backend_name: str, options: dict[str, Any], num_qubits: int,
                       gates: tuple[Gate, ...]) -> tuple[int, int]:
    """Depth and two-qubit gate count after the backend's pass manager (on a worker thread).

    For a device backend (aer-noise, ibm) that is the count on the device's own gates and
    coupling map, SWAPs included.
    """
    if not gates:
        return 0, 0
    circuit = CircuitDesign(num_qubits, gates).to_circuit()
    key = backend_name + json.dumps(options, sort_keys=True, default=str)
    # One pass manager per backend, used by one thread at a time.
    with _backend_lock:
        entry = _backends.get(key)
        if entry is None:
            backend = registry.get("backends", backend_name).create(options)
            entry = _backends[key] = {"manager": backend.pass_manager(), "lock": threading.Lock()}
    with entry["lock"]:
        transpiled = entry["manager"].run(circuit)
    two_qubit = sum(1 for inst in transpiled.data if inst.operation.num_qubits == 2 and inst.operation.name != "barrier")
    return int(transpiled.depth()), int(two_qubit)


class CircuitFigures(QFrame):
    """A strip of figures about the circuit (object name ``circuitFigures``)."""

    DEBOUNCE_MS = 350
    FIGURES = (
        ("qubits", "qubits"),
        ("gates", "gates"),
        ("depth", "depth"),
        ("weights", "trainable weights"),
        ("inputs", "data inputs"),
        ("two_qubit", "two-qubit gates"),
        ("transpiled", "transpiled depth"),
        ("transpiled_two_qubit", "transpiled two-qubit"),
    )
    #: The transpiled depth was updated (a number, or None when it cannot be computed).
    transpiledDepthChanged = Signal(object)

    def __init__(self, registry: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("circuitFigures")
        self.registry = registry
        self.project: Any = None
        self.design: CircuitDesign | None = None
        self.values: dict[str, QLabel] = {}
        self.names: dict[str, QLabel] = {}
        self.transpiled_depth: int | None = None
        self.transpiled_two_qubit: int | None = None
        self._cache: OrderedDict[Any, int | str] = OrderedDict()
        self._generation = 0
        layout = QHBoxLayout(self)
        layout.setContentsMargins(16, 6, 16, 8)
        layout.setSpacing(26)
        for key, title in self.FIGURES:
            cell = QVBoxLayout()
            cell.setSpacing(0)
            value = QLabel("–")
            value.setObjectName(f"figure_{key}")
            value.setProperty("role", "figureValue")
            name = QLabel(title)
            name.setProperty("role", "figureName")
            cell.addWidget(value)
            cell.addWidget(name)
            layout.addLayout(cell)
            self.values[key] = value
            self.names[key] = name
        layout.addStretch(1)
        self.values["weights"].setToolTip("Trainable weights θ: one past the highest θ index in use")
        for key in ("gates", "depth", "inputs"):  # the encoding block is drawn, but it is not the user's circuit
            self.values[key].setToolTip("Of the circuit after the encoding block (the encoding adds its own gates "
                                        "and reads the dataset's features)")
        self.values["inputs"].setToolTip("Data inputs x[j] read by gates of the circuit itself (re-uploading); the "
                                         "encoding block reads the dataset's features on its own")
        self.values["transpiled"].setToolTip("Depth after the selected backend's transpiler")
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(self.DEBOUNCE_MS)
        self._timer.timeout.connect(self._start_transpile)

    # ---------------------------------------------------------------- model
    def set_project(self, project: Any) -> None:
        if self.project is not None:
            self.project.events.changed.disconnect(self._on_project_changed)
        self.project = project
        if project is not None:
            project.events.changed.connect(self._on_project_changed)
        self._set_design(project.circuit if project is not None else None)

    def _set_design(self, design: CircuitDesign | None) -> None:
        if self.design is not None:
            self.design.events.changed.disconnect(self._on_design_changed)
        self.design = design
        if design is not None:
            design.events.changed.connect(self._on_design_changed)
        self.refresh()

    def _on_project_changed(self, what: str = "", **_: Any) -> None:
        if what == "circuit" and self.project is not None and self.project.circuit is not self.design:
            self._set_design(self.project.circuit)
        elif what == "backend":
            self.refresh()

    def _on_design_changed(self, **_: Any) -> None:
        self.refresh()

    # ------------------------------------------------------------ updating
    def refresh(self) -> None:
        design = self.design
        if design is None:
            for label in self.values.values():
                label.setText("–")
            return
        self.values["qubits"].setText(str(design.num_qubits))
        self.values["gates"].setText(str(len(design.gates)))
        self.values["depth"].setText(str(design.depth))
        self.values["weights"].setText(str(design.num_weights))
        self.values["inputs"].setText(str(design.num_inputs))
        self.values["two_qubit"].setText(str(design.two_qubit_count))
        backend = getattr(self.project, "backend", None)
        self.names["transpiled"].setText(f"transpiled depth · {backend.name}" if backend else "transpiled depth")
        key = self._key()
        if key is not None and key in self._cache:
            self._show_transpiled(self._cache[key])
        else:
            self.values["transpiled"].setText("…")
            self.values["transpiled_two_qubit"].setText("…")
            self._timer.start()

    def _key(self) -> Any:
        backend = getattr(self.project, "backend", None)
        if self.design is None or backend is None:
            return None
        options = json.dumps(backend.options, sort_keys=True, default=str)
        return (backend.name, options, self.design.num_qubits, self.design.gates)

    def _start_transpile(self) -> None:
        key = self._key()
        if key is None or self.registry is None:
            self._show_transpiled("no backend")
            return
        if key in self._cache:
            self._show_transpiled(self._cache[key])
            return
        self._generation += 1
        generation = self._generation
        name, _, num_qubits, gates = key
        options = dict(self.project.backend.options)
        registry = self.registry
        run_in_background(
            lambda: transpiled_figures(registry, name, options, num_qubits, gates),
            lambda ok, value: self._finished(generation, key, ok, value),
            self,
        )

    def _finished(self, generation: int, key: Any, ok: bool, value: Any) -> None:
        result: tuple[int, int] | str = (int(value[0]), int(value[1])) if ok else str(value)
        self._cache[key] = result
        while len(self._cache) > 64:
            self._cache.popitem(last=False)
        if generation == self._generation and key == self._key():
            self._show_transpiled(result)

    def _show_transpiled(self, result: tuple[int, int] | str) -> None:
        label = self.values["transpiled"]
        two_qubit = self.values["transpiled_two_qubit"]
        if isinstance(result, tuple):
            self.transpiled_depth, self.transpiled_two_qubit = result
            label.setText(str(result[0]))
            label.setToolTip("Depth after the selected backend's transpiler")
            two_qubit.setText(str(result[1]))
            two_qubit.setToolTip("Two-qubit gates after the selected backend's transpiler (on a device: its own gates, SWAPs included)")
        else:
            self.transpiled_depth = self.transpiled_two_qubit = None
            label.setText("—")
            label.setToolTip(f"Cannot transpile for this backend: {result}")
            two_qubit.setText("—")
            two_qubit.setToolTip(label.toolTip())
        label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.transpiledDepthChanged.emit(self.transpiled_depth)
