"""The circuit design model: what the ansatz editor edits and the engine trains.

A :class:`CircuitDesign` is a number of qubits and an ordered list of :class:`Gate`
placements. Each placement names a gate from :data:`GATES`, its qubits, the editor column
it sits in, and one :class:`~qmlstudio.core.expressions.Angle` per rotation angle: a
trainable weight ``θ[i]``, a data input ``x[j]``, or a constant / formula of them.

The order of operations is the order of columns (gates that share a column never share a
qubit span, so they commute). Designs convert to and from qiskit ``QuantumCircuit``s with
``ParameterVector("θ")`` for the weights and ``ParameterVector("x")`` for the inputs.

The design is Qt-free; views follow ``design.events.changed`` and never keep a copy.
"""

from __future__ import annotations

import functools
import re
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from qmlstudio.core.errors import DesignError, ExpressionError
from qmlstudio.core.events import EventGroup
from qmlstudio.core.expressions import WEIGHT, Angle

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit

MAX_QUBITS = 64


@dataclass(frozen=True)
class GateType:
    """What the editor and the converter know about one kind of gate."""

    name: str
    num_qubits: int
    num_params: int
    group: str
    label: str
    description: str
    param_names: tuple[str, ...] = ()

    @property
    def is_parametric(self) -> bool:
        return self.num_params > 0


def _gate_types() -> dict[str, GateType]:
    rows = [
        # name, qubits, params, group, label, description, param names
        ("h", 1, 0, "single-qubit", "H", "Hadamard: maps |0⟩ to |+⟩ and |1⟩ to |−⟩", ()),
        ("x", 1, 0, "single-qubit", "X", "Pauli-X (NOT): flips |0⟩ and |1⟩", ()),
        ("y", 1, 0, "single-qubit", "Y", "Pauli-Y", ()),
        ("z", 1, 0, "single-qubit", "Z", "Pauli-Z: phase flip of |1⟩", ()),
        ("s", 1, 0, "single-qubit", "S", "S = √Z: phase i on |1⟩", ()),
        ("sdg", 1, 0, "single-qubit", "S†", "S-dagger: phase −i on |1⟩", ()),
        ("t", 1, 0, "single-qubit", "T", "T = ⁴√Z: phase e^{iπ/4} on |1⟩", ()),
        ("tdg", 1, 0, "single-qubit", "T†", "T-dagger: phase e^{−iπ/4} on |1⟩", ()),
        ("sx", 1, 0, "single-qubit", "√X", "Square root of X", ()),
        ("rx", 1, 1, "rotations", "RX", "Rotation about X by angle θ: exp(−iθX/2)", ("θ",)),
        ("ry", 1, 1, "rotations", "RY", "Rotation about Y by angle θ: exp(−iθY/2)", ("θ",)),
        ("rz", 1, 1, "rotations", "RZ", "Rotation about Z by angle φ: exp(−iφZ/2)", ("φ",)),
        ("p", 1, 1, "rotations", "P", "Phase gate: phase e^{iλ} on |1⟩", ("λ",)),
        ("u", 1, 3, "rotations", "U", "Generic single-qubit rotation U(θ, φ, λ)", ("θ", "φ", "λ")),
        ("cx", 2, 0, "two-qubit", "CX", "Controlled-X (CNOT): control, then target", ()),
        ("cy", 2, 0, "two-qubit", "CY", "Controlled-Y: control, then target", ()),
        ("cz", 2, 0, "two-qubit", "CZ", "Controlled-Z (symmetric)", ()),
        ("swap", 2, 0, "two-qubit", "SWAP", "Swaps two qubits", ()),
        ("crx", 2, 1, "two-qubit", "CRX", "Controlled RX: control, then target", ("θ",)),
        ("cry", 2, 1, "two-qubit", "CRY", "Controlled RY: control, then target", ("θ",)),
        ("crz", 2, 1, "two-qubit", "CRZ", "Controlled RZ: control, then target", ("θ",)),
        ("rxx", 2, 1, "two-qubit", "RXX", "Ising XX interaction exp(−iθ X⊗X/2)", ("θ",)),
        ("ryy", 2, 1, "two-qubit", "RYY", "Ising YY interaction exp(−iθ Y⊗Y/2)", ("θ",)),
        ("rzz", 2, 1, "two-qubit", "RZZ", "Ising ZZ interaction exp(−iθ Z⊗Z/2)", ("θ",)),
        ("ccx", 3, 0, "three-qubit", "CCX", "Toffoli: two controls, then target", ()),
    ]
    return {r[0]: GateType(*r) for r in rows}


#: Every gate the editor offers, by name, in palette order.
GATES: dict[str, GateType] = _gate_types()
#: Palette groups in display order.
GATE_GROUPS: tuple[str, ...] = ("single-qubit", "rotations", "two-qubit", "three-qubit")
_ALIASES = {"cnot": "cx", "toffoli": "ccx", "phase": "p", "u3": "u", "id": None}


_LIBRARY_LOCK = threading.Lock()


@functools.lru_cache(maxsize=1)
def _standard_gates() -> dict[str, Any]:
    from qiskit.circuit.library import get_standard_gate_name_mapping

    return dict(get_standard_gate_name_mapping())


def standard_gate_classes() -> dict[str, Any]:
    """qiskit's standard gates by name, built once per process.

    ``get_standard_gate_name_mapping`` creates new ``Parameter`` objects on every call, and
    doing that on two threads at once crashed the interpreter (a segmentation fault seen
    with qiskit 2.6 while a worker thread transpiled and another compiled a circuit); one
    shared, lock-guarded table avoids it.
    """
    with _LIBRARY_LOCK:
        return _standard_gates()


@dataclass(frozen=True)
class Gate:
    """One gate placed in a design.

    ``qubits`` lists controls first, then the target, as qiskit does. ``column`` is where
    the editor draws it and sets the order of operations. ``block`` names the template or
    encoding block the gate came from, so the editor can select it as a unit.
    """

    name: str
    qubits: tuple[int, ...]
    params: tuple[Angle, ...] = ()
    column: int = 0
    block: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "qubits", tuple(self.qubits))
        object.__setattr__(self, "params", tuple(Angle(p) for p in self.params))

    @property
    def type(self) -> GateType:
        try:
            return GATES[self.name]
        except KeyError:
            raise DesignError(f"unknown gate {self.name!r}") from None

    @property
    def what(self) -> str:
        """The gate for messages: ``the RY gate on qubit 0``."""
        wires = f"qubit {self.qubits[0]}" if len(self.qubits) == 1 else "qubits " + ", ".join(map(str, self.qubits))
        return f"the {self.name.upper()} gate on {wires}"

    @property
    def where(self) -> str:
        """Where the gate is, for messages: ``the RY gate on qubit 0 in column 3`` (the design's
        columns counted from 1)."""
        return f"{self.what} in column {self.column + 1}"

    @property
    def span(self) -> range:
        """The qubit rows the gate covers in a drawing (from its lowest to highest qubit)."""
        return range(min(self.qubits), max(self.qubits) + 1)

    def moved(self, column: int | None = None, qubits: Sequence[int] | None = None) -> "Gate":
        return replace(
            self,
            column=self.column if column is None else column,
            qubits=self.qubits if qubits is None else tuple(qubits),
        )

    def problems(self, num_qubits: int) -> list[str]:
        """What is wrong with this gate in a design of ``num_qubits`` qubits."""
        name = self.name
        if name not in GATES:
            return [f"unknown gate {name!r} (known: {', '.join(GATES)})"]
        gtype = GATES[name]
        found = []
        if len(self.qubits) != gtype.num_qubits:
            found.append(f"{name} acts on {gtype.num_qubits} qubit(s), got {len(self.qubits)}")
        for q in self.qubits:
            if not isinstance(q, int) or isinstance(q, bool):
                found.append(f"{name}: qubit {q!r} is not a whole number")
            elif not 0 <= q < num_qubits:
                found.append(f"{name}: qubit {q} is out of range (the design has {num_qubits} qubits, 0..{num_qubits - 1})")
        if len(set(self.qubits)) != len(self.qubits):
            found.append(f"{name}: qubit repeated in {list(self.qubits)}")
        if len(self.params) != gtype.num_params:
            found.append(f"{name} takes {gtype.num_params} angle(s), got {len(self.params)}")
        if not isinstance(self.column, int) or self.column < 0:
            found.append(f"{name}: column must be a whole number ≥ 0, got {self.column!r}")
        return found

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"gate": self.name, "qubits": list(self.qubits)}
        if self.params:
            data["params"] = [p.text for p in self.params]
        data["column"] = self.column
        if self.block is not None:
            data["block"] = self.block
        return data


def gate_from_dict(data: Mapping[str, Any], where: str = "gate") -> Gate:
    """Reads one gate placement written by :meth:`Gate.to_dict`, with errors naming ``where``."""
    if not isinstance(data, Mapping):
        raise DesignError(f"{where}: expected an object, got {type(data).__name__}")
    unknown = set(data) - {"gate", "qubits", "params", "column", "block"}
    if unknown:
        raise DesignError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    name = data.get("gate")
    if not isinstance(name, str):
        raise DesignError(f"{where}.gate: expected a gate name, got {name!r}")
    qubits = data.get("qubits")
    if not isinstance(qubits, list) or not all(type(q) is int for q in qubits):
        raise DesignError(f"{where}.qubits: expected a list of whole numbers, got {qubits!r}")
    params = data.get("params", [])
    if not isinstance(params, list):
        raise DesignError(f"{where}.params: expected a list of angles, got {params!r}")
    angles = []
    for i, p in enumerate(params):
        try:
            angles.append(Angle(p))
        except ExpressionError as exc:
            raise DesignError(f"{where}.params[{i}]: {exc}") from None
    column = data.get("column", 0)
    if type(column) is not int or column < 0:
        raise DesignError(f"{where}.column: expected a whole number ≥ 0, got {column!r}")
    block = data.get("block")
    if block is not None and not isinstance(block, str):
        raise DesignError(f"{where}.block: expected text or null, got {block!r}")
    return Gate(name=name, qubits=tuple(qubits), params=tuple(angles), column=column, block=block)


@dataclass
class CircuitDesign:
    """A variational circuit as the user designs it: qubits and placed gates.

    Every change goes through a method (or a whole new gate list through
    :meth:`set_gates`), is validated first, and then announced on
    ``events.changed(design=self, reason=...)``.
    """

    num_qubits: int = 2
    gates: tuple[Gate, ...] = ()
    events: EventGroup = field(default_factory=lambda: EventGroup("changed"), repr=False, compare=False)

    def __post_init__(self) -> None:
        self.gates = tuple(self.gates)
        self.validate()

    # ------------------------------------------------------------- validation
    def problems(self) -> list[str]:
        """Every problem of the design, each naming the gate it is about."""
        found: list[str] = []
        if type(self.num_qubits) is not int or not 1 <= self.num_qubits <= MAX_QUBITS:
            return [f"the number of qubits must be between 1 and {MAX_QUBITS}, got {self.num_qubits!r}"]
        occupied: dict[tuple[int, int], int] = {}
        for index, gate in enumerate(self.gates):
            gate_problems = gate.problems(self.num_qubits)
            found.extend(f"gate {index}: {p}" for p in gate_problems)
            if gate_problems:
                continue
            for row in gate.span:
                other = occupied.setdefault((gate.column, row), index)
                if other != index:
                    found.append(
                        f"gate {index}: {gate.name} overlaps gate {other} ({self.gates[other].name}) "
                        f"at column {gate.column}, qubit {row}"
                    )
                    break
        return found

    def validate(self) -> None:
        """Raises :class:`DesignError` with every problem when the design is invalid."""
        found = self.problems()
        if found:
            hint = ""
            if any(" overlaps gate " in p for p in found):
                hint = (" (gates that share a qubit need different columns: CircuitDesign.append(gate) "
                        "places a gate after those already on its qubits)")
            raise DesignError("invalid circuit design: " + "; ".join(found) + hint)

    # -------------------------------------------------------------- inspection
    @property
    def ordered_gates(self) -> list[Gate]:
        """Gates in the order they act: by column, ties in list order."""
        return sorted(self.gates, key=lambda g: g.column)

    @property
    def weight_indices(self) -> list[int]:
        return sorted({i for g in self.gates for p in g.params for i in p.weights})

    @property
    def input_indices(self) -> list[int]:
        return sorted({i for g in self.gates for p in g.params for i in p.inputs})

    @property
    def num_weights(self) -> int:
        """Length of the weight vector: one past the highest ``θ`` index used."""
        used = self.weight_indices
        return used[-1] + 1 if used else 0

    @property
    def num_inputs(self) -> int:
        """Length of the input vector: one past the highest ``x`` index used."""
        used = self.input_indices
        return used[-1] + 1 if used else 0

    @property
    def num_columns(self) -> int:
        return max((g.column for g in self.gates), default=-1) + 1

    @property
    def depth(self) -> int:
        """Circuit depth counted as qiskit does: the longest chain of gates on any qubit."""
        level = [0] * self.num_qubits
        for gate in self.ordered_gates:
            top = max(level[q] for q in gate.qubits) + 1
            for q in gate.qubits:
                level[q] = top
        return max(level, default=0)

    @property
    def two_qubit_count(self) -> int:
        return sum(1 for g in self.gates if len(g.qubits) >= 2)

    def free_column(self, qubits: Iterable[int], start: int = 0) -> int:
        """The first column at or after ``start`` where a gate on ``qubits`` fits."""
        rows = list(qubits)
        span = range(min(rows), max(rows) + 1)
        taken = {(g.column, r) for g in self.gates for r in g.span}
        column = start
        while any((column, r) in taken for r in span):
            column += 1
        return column

    def next_weight(self) -> int:
        """The index a newly placed trainable angle should get."""
        return self.num_weights

    # --------------------------------------------------------------- editing
    def _commit(self, num_qubits: int, gates: Sequence[Gate], reason: str) -> None:
        probe = CircuitDesign.__new__(CircuitDesign)
        probe.num_qubits, probe.gates = num_qubits, tuple(gates)
        probe.validate()
        self.num_qubits, self.gates = num_qubits, tuple(gates)
        self.events.changed.emit(design=self, reason=reason)

    def set_gates(self, gates: Sequence[Gate], num_qubits: int | None = None, reason: str = "set") -> None:
        """Replaces the whole design (undo/redo use this to restore a snapshot)."""
        self._commit(self.num_qubits if num_qubits is None else num_qubits, gates, reason)

    def add_gate(self, gate: Gate) -> int:
        """Places a gate; returns its index."""
        self._commit(self.num_qubits, self.gates + (gate,), "add")
        return len(self.gates) - 1

    def append(self, gate: Gate) -> Gate:
        """Places ``gate`` after every gate already on the rows it spans; returns it as placed.

        The gate's own ``column`` is ignored: code that builds a circuit gate by gate (an
        encoding, an ansatz template) calls ``design.append(Gate("cx", (0, 1)))`` in the
        order the gates act and never counts columns.
        """
        span = set(gate.span) if gate.qubits else set()
        busy = [g.column for g in self.gates if span & set(g.span)]
        placed = replace(gate, column=max(busy) + 1 if busy else 0)
        self._commit(self.num_qubits, self.gates + (placed,), "add")
        return placed

    @classmethod
    def from_sequence(cls, num_qubits: int, gates: Iterable[Gate]) -> "CircuitDesign":
        """A design of ``gates`` in the order they act, each placed by :meth:`append` (columns ignored)."""
        design = cls(num_qubits)
        for gate in gates:
            design.append(gate)
        return design

    def add_gates(self, gates: Sequence[Gate]) -> list[int]:
        start = len(self.gates)
        self._commit(self.num_qubits, self.gates + tuple(gates), "add")
        return list(range(start, len(self.gates)))

    def remove_gates(self, indices: Iterable[int]) -> None:
        drop = set(indices)
        self._commit(self.num_qubits, [g for i, g in enumerate(self.gates) if i not in drop], "remove")

    def replace_gate(self, index: int, gate: Gate) -> None:
        gates = list(self.gates)
        gates[index] = gate
        self._commit(self.num_qubits, gates, "replace")

    def set_num_qubits(self, num_qubits: int) -> None:
        """Adds or removes wires at the bottom; removing a wire with gates on it is an error."""
        self._commit(num_qubits, self.gates, "qubits")

    def renumber_weights(self) -> None:
        """Numbers the trainable weights 0, 1, 2... in the order the gates act."""
        table: dict[int, int] = {}
        for gate in self.ordered_gates:
            for p in gate.params:
                for i in sorted(p.weights):
                    table.setdefault(i, len(table))
        gates = [replace(g, params=tuple(p.renumbered(weights=table) for p in g.params)) for g in self.gates]
        self._commit(self.num_qubits, gates, "renumber")

    def copy(self) -> "CircuitDesign":
        return CircuitDesign(self.num_qubits, self.gates)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, CircuitDesign):
            return NotImplemented
        return self.num_qubits == other.num_qubits and self.gates == other.gates

    # ------------------------------------------------------------ conversion
    def to_dict(self) -> dict[str, Any]:
        return {"num_qubits": self.num_qubits, "gates": [g.to_dict() for g in self.gates]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "circuit") -> "CircuitDesign":
        if not isinstance(data, Mapping):
            raise DesignError(f"{where}: expected an object, got {type(data).__name__}")
        unknown = set(data) - {"num_qubits", "gates"}
        if unknown:
            raise DesignError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
        num_qubits = data.get("num_qubits")
        if type(num_qubits) is not int:
            raise DesignError(f"{where}.num_qubits: expected a whole number, got {num_qubits!r}")
        raw = data.get("gates", [])
        if not isinstance(raw, list):
            raise DesignError(f"{where}.gates: expected a list, got {type(raw).__name__}")
        gates = [gate_from_dict(g, f"{where}.gates[{i}]") for i, g in enumerate(raw)]
        design = cls.__new__(cls)
        design.num_qubits, design.gates, design.events = num_qubits, tuple(gates), EventGroup("changed")
        found = design.problems()
        if found:
            raise DesignError(f"{where}: " + "; ".join(found))
        return design

    def to_circuit(self, name: str = "design") -> "QuantumCircuit":
        """The design as a qiskit circuit over ``ParameterVector("θ")`` and ``ParameterVector("x")``.

        The vectors are sized by :attr:`num_weights` and :attr:`num_inputs`; elements no
        gate uses (a gap left by a deleted gate) simply do not appear in the circuit.
        """
        from qiskit import QuantumCircuit
        from qiskit.circuit import ParameterVector
        library = standard_gate_classes()
        weights = ParameterVector(WEIGHT, self.num_weights)
        inputs = ParameterVector("x", self.num_inputs)
        circuit = QuantumCircuit(self.num_qubits, name=name)
        for gate in self.ordered_gates:
            try:
                params = [p.to_qiskit(weights, inputs) for p in gate.params]
            except ExpressionError as exc:
                raise ExpressionError(f"{gate.where} of the circuit: {exc}") from None
            operation = library[gate.name].base_class(*params) if params else library[gate.name]
            circuit.append(operation, list(gate.qubits))
        return circuit

    @classmethod
    def from_circuit(cls, circuit: "QuantumCircuit") -> "CircuitDesign":
        """An editable design from a qiskit circuit (a library template, an imported file...).

        Gates outside :data:`GATES` are decomposed into them; barriers, measurements and
        identities are dropped. Parameters named ``x[j]`` (or ``x_j`` after a QASM round
        trip) become data inputs, ``θ[i]`` keep their index, and any other parameter
        becomes a new trainable weight. The result equals the circuit up to its global
        phase, which a design does not keep (it changes no probability or expectation).
        """
        from qiskit import transpile

        skip = {"barrier", "measure", "id", "delay", "reset"}
        names = {inst.operation.name for inst in circuit.data}
        if not names <= set(GATES) | skip:
            circuit = transpile(circuit, basis_gates=[*GATES], optimization_level=0)
        if circuit.num_qubits > MAX_QUBITS:
            raise DesignError(f"the circuit has {circuit.num_qubits} qubits; at most {MAX_QUBITS} are supported")
        resolver = _ParameterNames(circuit.parameters)
        gates: list[Gate] = []
        level = [0] * circuit.num_qubits
        for inst in circuit.data:
            op = inst.operation
            gate_name = _ALIASES.get(op.name, op.name)
            if op.name in skip or gate_name is None:
                continue
            if gate_name not in GATES:
                raise DesignError(f"cannot turn {op.name!r} into an editor gate")
            if inst.clbits or getattr(op, "condition", None) is not None:
                raise DesignError(f"classically controlled {op.name!r} cannot be edited")
            qubits = tuple(circuit.find_bit(q).index for q in inst.qubits)
            params = tuple(resolver.angle(p) for p in op.params)
            span = range(min(qubits), max(qubits) + 1)
            column = max(level[r] for r in span)
            for r in span:
                level[r] = column + 1
            gates.append(Gate(gate_name, qubits, params, column))
        return cls(circuit.num_qubits, gates)


_VECTOR_ELEMENT = re.compile(r"^_?(?P<vec>[^\W\d]\w*?)(?:\[(?P<i>\d+)\]|_(?P<j>\d+)_?)$")


class _ParameterNames:
    """Maps qiskit parameters to ``θ[i]`` / ``x[j]`` symbols of a design."""

    def __init__(self, parameters: Iterable[Any]) -> None:
        self.table: dict[str, str] = {}
        used: set[str] = set()
        candidates = []
        for p in parameters:
            match = _VECTOR_ELEMENT.match(p.name)
            vec = match.group("vec") if match else None
            index = match and (match.group("i") or match.group("j"))
            kind = "x" if vec == "x" else "θ"
            # Exact qiskit names (θ[0], x[1]) keep their index first, then aliases and
            # QASM-mangled names, then anything else; two parameters never share a symbol.
            rank = 2
            if index is not None and vec in ("θ", "theta", "w", "x"):
                rank = 0 if "[" in p.name and vec in ("θ", "x") else 1
            candidates.append((rank, p.name, kind, None if index is None or rank == 2 else int(index)))
        candidates.sort(key=lambda c: (c[0], c[1]))
        loose = []
        for rank, name, kind, index in candidates:
            symbol = f"{kind}[{index}]" if index is not None else None
            if symbol is None or symbol in used:
                loose.append((name, kind))
                continue
            self.table[name] = symbol
            used.add(symbol)
        counters = {"θ": 0, "x": 0}
        for name, kind in loose:
            while f"{kind}[{counters[kind]}]" in used:
                counters[kind] += 1
            self.table[name] = f"{kind}[{counters[kind]}]"
            used.add(self.table[name])
        names = sorted(self.table, key=len, reverse=True)
        self._pattern = (
            re.compile("(?<![\\w\\[])(" + "|".join(re.escape(n) for n in names) + ")(?![\\w\\[])") if names else None
        )

    def angle(self, value: Any) -> Angle:
        if isinstance(value, (int, float)):
            return Angle(float(value))
        if hasattr(value, "parameters") and not value.parameters:
            return Angle(float(value))
        text = str(value)
        if self._pattern is not None:
            # One pass, so that a replacement is never replaced again.
            text = self._pattern.sub(lambda m: self.table[m.group(1)], text)
        return Angle(text.replace("π", "pi"))
