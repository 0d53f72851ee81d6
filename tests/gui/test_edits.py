"""The editor's edits as pure functions: placement, inserting, moving, retargeting, pasting."""

from __future__ import annotations

from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.gui.editor import edits


def _design(*gates: Gate, qubits: int = 3) -> CircuitDesign:
    return CircuitDesign(qubits, gates)


def test_a_gate_dropped_on_a_wire_takes_that_qubit_and_the_next_ones() -> None:
    assert edits.default_qubits("h", 1, 3) == (1,)
    assert edits.default_qubits("cx", 0, 3) == (0, 1)
    assert edits.default_qubits("cx", 2, 3) == (2, 1)  # at the bottom the target goes up
    assert edits.default_qubits("ccx", 2, 3) == (2, 1, 0)
    assert edits.default_qubits("ccx", 0, 2) is None


def test_new_rotations_get_the_next_free_weight() -> None:
    design = _design(Gate("ry", (0,), ("θ[0]",), 0), Gate("ry", (1,), ("θ[4]",), 0))
    placement = edits.add_gate(design, "u", 2, 1)
    assert placement is not None
    gate = placement.gates[placement.placed[0]]
    assert [p.text for p in gate.params] == ["θ[5]", "θ[6]", "θ[7]"]


def test_a_drop_on_a_free_cell_lands_there_and_on_a_taken_cell_inserts_a_column() -> None:
    design = _design(Gate("h", (0,), (), 0), Gate("x", (1,), (), 1))
    free = edits.add_gate(design, "z", 1, 0)
    assert free is not None and not free.inserts
    assert free.gates == (Gate("h", (0,), (), 0), Gate("x", (1,), (), 1), Gate("z", (1,), (), 0))

    taken = edits.add_gate(design, "z", 0, 0)
    assert taken is not None and taken.inserts
    # Everything from column 0 on moves right, so the new gate acts first.
    assert taken.gates == (Gate("h", (0,), (), 1), Gate("x", (1,), (), 2), Gate("z", (0,), (), 0))
    CircuitDesign(3, taken.gates)  # valid


def test_moving_gates_keeps_their_place_in_the_list_and_stays_inside_the_wires() -> None:
    design = _design(Gate("h", (0,), (), 0), Gate("cx", (0, 1), (), 1), Gate("x", (2,), (), 1))
    moved = edits.move_gates(design, [0], 2, 5)
    assert moved is not None
    assert moved.gates[0] == Gate("h", (2,), (), 2)  # clamped to the last wire
    assert moved.placed == (0,)
    assert edits.move_gates(design, [0], -3, -1) is None  # already at the top-left corner


def test_a_move_onto_taken_cells_opens_a_gap() -> None:
    design = _design(Gate("h", (0,), (), 0), Gate("x", (0,), (), 1), Gate("y", (0,), (), 2))
    moved = edits.move_gates(design, [2], -1, 0)
    assert moved is not None and moved.inserts
    result = CircuitDesign(3, moved.gates)
    order = [g.name for g in result.ordered_gates]
    assert order == ["h", "y", "x"]


def test_retargeting_a_slot_onto_another_of_the_gates_qubits_swaps_them() -> None:
    assert edits.retarget((0, 1), 1, 2) == (0, 2)
    assert edits.retarget((0, 1), 1, 0) == (1, 0)
    assert edits.retarget((0, 1, 2), 2, 0) == (2, 1, 0)


def test_removing_a_qubit_drops_its_gates_and_moves_the_wires_below_up() -> None:
    design = _design(Gate("h", (0,), (), 0), Gate("x", (1,), (), 0), Gate("cx", (0, 2), (), 1))
    qubits, gates = edits.remove_qubit(design, 1)
    assert qubits == 2
    assert gates == (Gate("h", (0,), (), 0), Gate("cx", (0, 1), (), 1))


def test_pasted_gates_get_fresh_weights_and_a_block_of_their_own() -> None:
    design = _design(
        Gate("ry", (0,), ("θ[0]",), 0, "real-amplitudes"),
        Gate("rz", (1,), ("θ[0] + x[1]",), 0, "real-amplitudes"),
    )
    placement = edits.paste(design, list(design.gates), column=design.num_columns)
    assert placement is not None
    new = [placement.gates[i] for i in placement.placed]
    assert [p.text for g in new for p in g.params] == ["θ[1]", "θ[1] + x[1]"]
    assert {g.block for g in new} == {"real-amplitudes (2)"}
    assert {g.column for g in new} == {1}


def test_a_block_insert_renumbers_weights_after_those_in_use() -> None:
    design = _design(Gate("ry", (0,), ("θ[3]",), 0))
    template = [Gate("ry", (q,), (f"θ[{q}]",), 0) for q in range(3)] + [Gate("cx", (0, 1), (), 1)]
    placement = edits.insert_block(design, template, 0, "my-template")
    result = CircuitDesign(3, placement.gates)
    assert result.weight_indices == [3, 4, 5, 6]
    assert placement.inserts  # column 0 was taken on q0
    assert {placement.gates[i].block for i in placement.placed} == {"my-template"}
