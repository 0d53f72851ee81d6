"""The editor's edits as pure functions from a gate list to a new gate list (no Qt).

The canvas decides *what* the user asked for (this gate on that wire at that column,
these gates two columns to the right); these functions work out the resulting design,
and the undo commands install it. Keeping them free of Qt makes them easy to test and
lets the drop indicator preview exactly what a drop will do.

Placement rule: a gate lands where it is dropped when its cells are free; when they are
taken, every gate from that column on moves right to make room (an insert), so the order
of operations the user sees is the order they get.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterable, Sequence

from qmlstudio.core.circuit import GATES, CircuitDesign, Gate
from qmlstudio.core.expressions import Angle

Cells = set[tuple[int, int]]


def cells(gates: Iterable[Gate]) -> Cells:
    """(column, qubit row) cells the gates cover in a drawing."""
    return {(g.column, r) for g in gates for r in g.span}


def default_qubits(name: str, qubit: int, num_qubits: int) -> tuple[int, ...] | None:
    """The qubits a gate gets when dropped on wire ``qubit``: that one, then the next ones down.

    Near the bottom the others go upwards instead. None when the design has too few qubits.
    """
    k = GATES[name].num_qubits
    if k > num_qubits:
        return None
    qubit = max(0, min(qubit, num_qubits - 1))
    if qubit + k <= num_qubits:
        return tuple(range(qubit, qubit + k))
    return tuple(range(qubit, qubit - k, -1))


def default_params(name: str, next_weight: int) -> tuple[Angle, ...]:
    """New angles of a gate: fresh trainable weights θ[next_weight], θ[next_weight + 1]..."""
    return tuple(Angle.weight(next_weight + i) for i in range(GATES[name].num_params))


@dataclass(frozen=True)
class Placement:
    """What placing some gates at a column does: the new gate list and whether it inserts."""

    gates: tuple[Gate, ...]
    placed: tuple[int, ...]  # indices of the placed gates in ``gates``
    inserts: bool
    column: int
    width: int


def place(existing: Sequence[Gate], new: Sequence[Gate], keep: dict[int, int] | None = None) -> Placement:
    """``existing`` plus ``new`` at their columns, opening a gap when their cells are taken.

    ``new`` must not overlap among themselves. With ``keep`` (index in the result → index in
    ``new``) the new gates replace those positions instead of being appended, so moved gates
    keep their place in the list.
    """
    new = list(new)
    first = min(g.column for g in new)
    width = max(g.column for g in new) - first + 1
    inserts = bool(cells(new) & cells(existing))
    shifted = [g.moved(column=g.column + width) if inserts and g.column >= first else g for g in existing]
    if keep is None:
        gates = tuple(shifted) + tuple(new)
        placed = tuple(range(len(shifted), len(gates)))
    else:
        result: list[Gate | None] = [None] * (len(shifted) + len(new))
        positions = sorted(keep)
        others = iter(shifted)
        for i in range(len(result)):
            if i in keep:
                result[i] = new[keep[i]]
            else:
                result[i] = next(others)
        gates = tuple(g for g in result if g is not None)
        placed = tuple(positions)
    return Placement(gates, placed, inserts, first, width)


def add_gate(design: CircuitDesign, name: str, qubit: int, column: int) -> Placement | None:
    """A new gate ``name`` dropped on wire ``qubit`` at ``column``; None when it cannot go there."""
    qubits = default_qubits(name, qubit, design.num_qubits)
    if qubits is None:
        return None
    gate = Gate(name, qubits, default_params(name, design.next_weight()), max(0, column))
    return place(design.gates, [gate])


def move_gates(design: CircuitDesign, indices: Sequence[int], columns: int, rows: int) -> Placement | None:
    """The gates at ``indices`` moved by ``columns`` and ``rows``, kept inside the wires; None if no move."""
    indices = sorted(set(indices))
    if not indices:
        return None
    moving = [design.gates[i] for i in indices]
    low = min(min(g.qubits) for g in moving)
    high = max(max(g.qubits) for g in moving)
    rows = max(-low, min(rows, design.num_qubits - 1 - high))
    columns = max(-min(g.column for g in moving), columns)
    if rows == 0 and columns == 0:
        return None
    moved = [g.moved(column=g.column + columns, qubits=[q + rows for q in g.qubits]) for g in moving]
    rest = [g for i, g in enumerate(design.gates) if i not in set(indices)]
    return place(rest, moved, keep={index: k for k, index in enumerate(indices)})


def set_qubits(design: CircuitDesign, index: int, qubits: Sequence[int]) -> Placement | None:
    """Gate ``index`` on new qubits (same column, or a column inserted for it); None if unchanged."""
    gate = design.gates[index]
    qubits = tuple(qubits)
    if qubits == gate.qubits or len(set(qubits)) != len(qubits):
        return None
    if any(not 0 <= q < design.num_qubits for q in qubits):
        return None
    rest = [g for i, g in enumerate(design.gates) if i != index]
    return place(rest, [gate.moved(qubits=qubits)], keep={index: 0})


def retarget(qubits: Sequence[int], slot: int, qubit: int) -> tuple[int, ...]:
    """``qubits`` with slot ``slot`` moved to ``qubit``; a slot already there swaps places with it."""
    result = list(qubits)
    if qubit in result:
        other = result.index(qubit)
        result[other] = result[slot]
    result[slot] = qubit
    return tuple(result)


def remove_qubit(design: CircuitDesign, qubit: int) -> tuple[int, tuple[Gate, ...]]:
    """The design without wire ``qubit``: its gates go, the wires below move up one."""
    kept = []
    for g in design.gates:
        if qubit in g.qubits:
            continue
        kept.append(g.moved(qubits=[q - 1 if q > qubit else q for q in g.qubits]))
    return design.num_qubits - 1, tuple(kept)


def renumber_weights(gates: Sequence[Gate], start: int) -> list[Gate]:
    """The gates with their weights renamed θ[start], θ[start + 1]... in the order they act.

    Pasted, duplicated and inserted gates get weights of their own this way instead of
    sharing the originals'; data inputs x[j] are kept.
    """
    table: dict[int, int] = {}
    for gate in sorted(gates, key=lambda g: g.column):
        for p in gate.params:
            for i in sorted(p.weights):
                table.setdefault(i, start + len(table))
    return [replace(g, params=tuple(p.renumbered(weights=table) for p in g.params)) for g in gates]


def shifted(gates: Sequence[Gate], columns: int = 0, rows: int = 0) -> list[Gate]:
    return [g.moved(column=g.column + columns, qubits=[q + rows for q in g.qubits]) for g in gates]


def relative(gates: Sequence[Gate]) -> list[Gate]:
    """The gates with their first column at 0 (what the clipboard keeps)."""
    if not gates:
        return []
    first = min(g.column for g in gates)
    return shifted(gates, columns=-first)


def unique_block(design: CircuitDesign, base: str) -> str:
    """``base``, or ``base (2)``, ``base (3)``... when a block of that name is already in the design."""
    taken = {g.block for g in design.gates}
    if base not in taken:
        return base
    n = 2
    while f"{base} ({n})" in taken:
        n += 1
    return f"{base} ({n})"


def with_block(gates: Sequence[Gate], block: str | None) -> list[Gate]:
    return [replace(g, block=block) for g in gates]


def insert_block(design: CircuitDesign, gates: Sequence[Gate], column: int, block: str) -> Placement:
    """A template's or encoding's gates inserted as one block from ``column`` on, with fresh weights."""
    body = relative(renumber_weights(gates, design.next_weight()))
    body = with_block(shifted(body, columns=max(0, column)), unique_block(design, block))
    return place(design.gates, body)


def paste(design: CircuitDesign, gates: Sequence[Gate], column: int, rows: int = 0) -> Placement | None:
    """Copied gates placed from ``column`` on (moved up when they would hang off the bottom)."""
    if not gates:
        return None
    body = relative(gates)
    high = max(max(g.qubits) for g in body)
    if high >= design.num_qubits:
        rows = min(rows, design.num_qubits - 1 - high)
        if min(min(g.qubits) for g in body) + rows < 0:
            return None
    body = shifted(renumber_weights(body, design.next_weight()), columns=max(0, column), rows=rows)
    # A pasted copy of a block is a block of its own ("real-amplitudes (2)").
    names = {g.block: unique_block(design, g.block) for g in body if g.block is not None}
    body = [replace(g, block=names.get(g.block)) for g in body]
    return place(design.gates, body)
