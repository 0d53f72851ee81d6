"""The circuit design model: validation messages, dict and qiskit conversions.

Random valid designs come from :func:`random_design` (a seeded numpy generator, so a
failure names the seed and replays). Unitaries are compared with the global phase
included, after binding the same values to ``θ[i]`` and ``x[j]`` by name.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter
from qiskit.circuit.library import efficient_su2, get_standard_gate_name_mapping, real_amplitudes, zz_feature_map
from qiskit.quantum_info import Operator

from qmlstudio.core.circuit import GATES, MAX_QUBITS, CircuitDesign, Gate
from qmlstudio.core.errors import DesignError, ExpressionError

DESIGNS = 200
MAX_WEIGHT = 6  # weight indices 0..5, with gaps
MAX_INPUT = 4

#: Formulas that qiskit's OpenQASM 3 importer reads back: + - * / and parentheses only.
ARITHMETIC_FORMULAS = (
    "2*x[{j}]",
    "(pi - x[{j}])*(pi - x[{k}])",
    "θ[{i}] + 0.5",
    "-θ[{i}]",
    "x[{j}]/3 - θ[{i}]",
    "0.25*θ[{i}]*x[{j}] + pi/2",
    "w[{i}] - theta[{i}]*2",
)
#: Formulas with functions and powers, which QPY, dicts and Python scripts keep.
FUNCTION_FORMULAS = (
    "sin(x[{j}])",
    "cos(θ[{i}])*x[{j}]",
    "exp(-x[{j}]**2)",
    "sqrt(abs(θ[{i}]) + 1)",
    "log(x[{j}]**2 + 1)",
    "tan(x[{j}]/4)",
    "θ[{i}]**2",
    "2**x[{j}]",
    "abs(x[{j}] - θ[{i}])",
    "e*π - x[{j}]",
)


def random_angle(rng: np.random.Generator, functions: bool) -> str:
    """A weight, an input, a constant or a formula of them, as the user would type it."""
    i, j, k = int(rng.integers(MAX_WEIGHT)), int(rng.integers(MAX_INPUT)), int(rng.integers(MAX_INPUT))
    kind = rng.integers(4)
    if kind == 0:
        return f"θ[{i}]"
    if kind == 1:
        return f"x[{j}]"
    if kind == 2:
        return str(rng.choice(["pi/2", "-pi/4", "0", "1.25", repr(float(rng.uniform(-4, 4)))]))
    formulas = ARITHMETIC_FORMULAS + (FUNCTION_FORMULAS if functions else ())
    return formulas[int(rng.integers(len(formulas)))].format(i=i, j=j, k=k)


def random_design(rng: np.random.Generator, functions: bool = True, max_gates: int = 12) -> CircuitDesign:
    """A valid design of 1..5 qubits with random gates, qubits, angles and columns.

    Gates are appended in random column order (a later gate may sit in an earlier
    column), so list order and the order of operations differ.
    """
    num_qubits = int(rng.integers(1, 6))
    names = [name for name, gtype in GATES.items() if gtype.num_qubits <= num_qubits]
    design = CircuitDesign(num_qubits)
    for _ in range(int(rng.integers(0, max_gates + 1))):
        gtype = GATES[names[int(rng.integers(len(names)))]]
        qubits = tuple(int(q) for q in rng.permutation(num_qubits)[: gtype.num_qubits])
        params = tuple(random_angle(rng, functions) for _ in range(gtype.num_params))
        start = int(rng.integers(0, design.num_columns + 2))
        column = design.free_column(qubits, start=start)
        design.add_gate(Gate(gtype.name, qubits, params, column, block=None if rng.random() < 0.7 else "layer 1"))
    return design


def random_values(rng: np.random.Generator) -> dict[str, float]:
    """Values for every weight and input a random design may use, by parameter name."""
    values = {f"θ[{i}]": float(rng.uniform(-math.pi, math.pi)) for i in range(MAX_WEIGHT)}
    values.update({f"x[{j}]": float(rng.uniform(-math.pi, math.pi)) for j in range(MAX_INPUT)})
    return values


def bound_matrix(circuit: QuantumCircuit, values: dict[str, float]) -> np.ndarray:
    """The unitary of ``circuit`` with each parameter bound to ``values[its name]``."""
    bound = circuit.assign_parameters({p: values[p.name] for p in circuit.parameters})
    return Operator(bound).data


def assert_same_unitary(expected: QuantumCircuit, actual: QuantumCircuit, values: dict[str, float]) -> None:
    """Equal unitaries, global phase included."""
    assert actual.num_qubits == expected.num_qubits
    np.testing.assert_allclose(bound_matrix(actual, values), bound_matrix(expected, values), atol=1e-9)


def numeric_reference(design: CircuitDesign, values: dict[str, float]) -> QuantumCircuit:
    """The design built gate by gate with angles evaluated by :meth:`Angle.evaluate`."""
    weights = [values[f"θ[{i}]"] for i in range(MAX_WEIGHT)]
    inputs = [values[f"x[{j}]"] for j in range(MAX_INPUT)]
    library = get_standard_gate_name_mapping()
    circuit = QuantumCircuit(design.num_qubits)
    for gate in design.ordered_gates:
        angles = [float(a.evaluate(weights, inputs)) for a in gate.params]
        operation = library[gate.name].base_class(*angles) if angles else library[gate.name]
        circuit.append(operation, list(gate.qubits))
    return circuit


def gate_multiset(design: CircuitDesign) -> list[tuple[str, tuple[int, ...]]]:
    return sorted((g.name, g.qubits) for g in design.gates)


# ------------------------------------------------------------------ validation
INVALID = [
    pytest.param(2, [Gate("foo", (0,))], "gate 0: unknown gate 'foo' (known: h, x, y", id="unknown-gate"),
    pytest.param(2, [Gate("cx", (0,))], "gate 0: cx acts on 2 qubit(s), got 1", id="too-few-qubits"),
    pytest.param(3, [Gate("h", (0, 1))], "gate 0: h acts on 1 qubit(s), got 2", id="too-many-qubits"),
    pytest.param(2, [Gate("cx", (1, 1))], "gate 0: cx: qubit repeated in [1, 1]", id="repeated-qubit"),
    pytest.param(
        2,
        [Gate("h", (0,)), Gate("h", (2,), column=1)],
        "gate 1: h: qubit 2 is out of range (the design has 2 qubits, 0..1)",
        id="qubit-out-of-range",
    ),
    pytest.param(2, [Gate("h", (-1,))], "gate 0: h: qubit -1 is out of range", id="negative-qubit"),
    pytest.param(2, [Gate("h", ("0",))], "gate 0: h: qubit '0' is not a whole number", id="qubit-not-int"),
    pytest.param(1, [Gate("rx", (0,))], "gate 0: rx takes 1 angle(s), got 0", id="missing-angle"),
    pytest.param(1, [Gate("h", (0,), ("θ[0]",))], "gate 0: h takes 0 angle(s), got 1", id="extra-angle"),
    pytest.param(1, [Gate("u", (0,), ("θ[0]", "θ[1]"))], "gate 0: u takes 3 angle(s), got 2", id="u-two-angles"),
    pytest.param(
        3,
        [Gate("cx", (0, 2), column=0), Gate("h", (1,), column=0)],
        "gate 1: h overlaps gate 0 (cx) at column 0, qubit 1",
        id="overlap-in-span",
    ),
    pytest.param(
        2,
        [Gate("h", (0,), column=3), Gate("rx", (0,), ("x[0]",), column=3)],
        "gate 1: rx overlaps gate 0 (h) at column 3, qubit 0",
        id="overlap-same-qubit",
    ),
    pytest.param(1, [Gate("h", (0,), column=-1)], "gate 0: h: column must be a whole number ≥ 0, got -1", id="negative-column"),
    pytest.param(1, [Gate("h", (0,), column=1.5)], "gate 0: h: column must be a whole number ≥ 0, got 1.5", id="float-column"),
]


@pytest.mark.parametrize(("num_qubits", "gates", "message"), INVALID)
def test_invalid_design_is_refused_with_its_own_message(num_qubits, gates, message):
    with pytest.raises(DesignError) as caught:
        CircuitDesign(num_qubits, gates)
    text = str(caught.value)
    assert text.startswith("invalid circuit design: ")
    assert message in text
    assert "; " not in text, "only this one problem is reported"


@pytest.mark.parametrize("num_qubits", [0, -1, MAX_QUBITS + 1, 2.0, True])
def test_number_of_qubits_out_of_range_is_refused(num_qubits):
    with pytest.raises(DesignError, match=rf"the number of qubits must be between 1 and {MAX_QUBITS}, got {num_qubits!r}"):
        CircuitDesign(num_qubits)


@pytest.mark.parametrize(
    ("angle", "message"),
    [
        ("θ", "θ needs an index, as in θ[0]"),
        ("y[0]", "unknown name 'y'"),
        ("θ[0] +", "cannot read angle 'θ[0] +'"),
        ("θ[-1]", "the index of θ must be a whole number ≥ 0"),
        ("θ[1.5]", "the index of θ must be a whole number ≥ 0"),
        ("__import__('os').system('true')", "unknown function"),
        ("x[0].real", "Attribute is not allowed in an angle"),
        ("x[0] % 2", "operator Mod is not allowed"),
        ("'pi'", "'pi' is not a number"),
        ("", "an angle cannot be empty"),
        (float("nan"), "an angle must be finite"),
        (True, "an angle must be a number or an expression"),
    ],
)
def test_bad_angle_expression_is_refused_with_its_own_message(angle, message):
    with pytest.raises(ExpressionError) as caught:
        CircuitDesign(1, [Gate("rx", (0,), (angle,))])
    assert isinstance(caught.value, DesignError)
    assert message in str(caught.value)


def test_every_problem_is_reported_at_once():
    with pytest.raises(DesignError) as caught:
        CircuitDesign(2, [Gate("foo", (0,)), Gate("cx", (0, 0)), Gate("rx", (5,), column=2)])
    text = str(caught.value)
    assert "gate 0: unknown gate 'foo'" in text
    assert "gate 1: cx: qubit repeated" in text
    assert "gate 2: rx: qubit 5 is out of range" in text
    assert "gate 2: rx takes 1 angle(s), got 0" in text


def test_a_refused_edit_leaves_the_design_and_its_listeners_untouched():
    design = CircuitDesign(2, [Gate("h", (0,))])
    reasons = []
    design.events.changed.connect(lambda design, reason: reasons.append(reason))
    before = design.to_dict()
    with pytest.raises(DesignError, match="gate 1: cx overlaps gate 0"):
        design.add_gate(Gate("cx", (0, 1), column=0))
    with pytest.raises(DesignError, match="qubit 1 is out of range"):
        CircuitDesign(2, [Gate("cx", (0, 1))]).set_num_qubits(1)
    with pytest.raises(DesignError, match="between 1 and"):
        design.set_num_qubits(0)
    assert design.to_dict() == before
    assert reasons == []
    design.add_gate(Gate("cx", (0, 1), column=1))
    assert reasons == ["add"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "circuit: expected an object, got list"),
        ({"num_qubits": 2, "colour": "red"}, "circuit: unknown field(s) colour"),
        ({"num_qubits": "2"}, "circuit.num_qubits: expected a whole number, got '2'"),
        ({"num_qubits": 2, "gates": {}}, "circuit.gates: expected a list, got dict"),
        ({"num_qubits": 2, "gates": [{"gate": "h", "qubits": [0.0]}]}, "circuit.gates[0].qubits: expected a list of whole numbers"),
        ({"num_qubits": 2, "gates": [{"gate": 3, "qubits": [0]}]}, "circuit.gates[0].gate: expected a gate name, got 3"),
        ({"num_qubits": 2, "gates": [{"gate": "rx", "qubits": [0], "params": ["os.system"]}]}, "circuit.gates[0].params[0]: angle 'os.system'"),
        ({"num_qubits": 2, "gates": [{"gate": "h", "qubits": [0], "column": -2}]}, "circuit.gates[0].column: expected a whole number ≥ 0, got -2"),
        ({"num_qubits": 2, "gates": [{"gate": "h", "qubits": [0], "block": 7}]}, "circuit.gates[0].block: expected text or null, got 7"),
        ({"num_qubits": 2, "gates": [{"gate": "h", "qubits": [2]}]}, "circuit: gate 0: h: qubit 2 is out of range"),
        ({"num_qubits": 0}, "circuit: the number of qubits must be between 1 and 64, got 0"),
    ],
)
def test_from_dict_names_where_the_data_is_wrong(data, message):
    with pytest.raises(DesignError) as caught:
        CircuitDesign.from_dict(data)
    assert message in str(caught.value)


# ------------------------------------------------------------- round trips
def test_dict_round_trip_of_random_designs_is_exact():
    rng = np.random.default_rng(20240611)
    for seed in range(DESIGNS):
        design = random_design(np.random.default_rng([20240611, seed]))
        data = json.loads(json.dumps(design.to_dict(), ensure_ascii=False))
        again = CircuitDesign.from_dict(data)
        assert again == design, f"seed {seed}"
        assert [g.block for g in again.gates] == [g.block for g in design.gates]
        if seed % 10 == 0:  # the unitary too, on a sample: equality above already implies it
            values = random_values(rng)
            assert_same_unitary(design.to_circuit(), again.to_circuit(), values)


def test_to_circuit_matches_angles_evaluated_by_hand():
    """``to_circuit`` (symbolic angles, bound later) agrees with :meth:`Angle.evaluate`."""
    for seed in range(DESIGNS):
        rng = np.random.default_rng([7, seed])
        design = random_design(rng)
        values = random_values(rng)
        circuit = design.to_circuit()
        assert circuit.num_qubits == design.num_qubits
        assert len(circuit.data) == len(design.gates)
        assert {p.name for p in circuit.parameters} == {
            *(f"θ[{i}]" for i in design.weight_indices),
            *(f"x[{j}]" for j in design.input_indices),
        }
        expected = Operator(numeric_reference(design, values)).data
        np.testing.assert_allclose(bound_matrix(circuit, values), expected, atol=1e-9, err_msg=f"seed {seed}")


def test_from_circuit_of_to_circuit_keeps_gates_and_unitary():
    for seed in range(DESIGNS // 2):
        rng = np.random.default_rng([11, seed])
        design = random_design(rng)
        again = CircuitDesign.from_circuit(design.to_circuit())
        assert gate_multiset(again) == gate_multiset(design), f"seed {seed}"
        assert again.weight_indices == design.weight_indices
        assert again.input_indices == design.input_indices
        assert_same_unitary(design.to_circuit(), again.to_circuit(), random_values(rng))


# ------------------------------------------------------------ library circuits
@pytest.mark.parametrize(
    ("template", "weights", "inputs"),
    [
        pytest.param(lambda: real_amplitudes(3, reps=2), 9, 0, id="real_amplitudes"),
        pytest.param(lambda: efficient_su2(3, reps=1), 12, 0, id="efficient_su2"),
        pytest.param(lambda: efficient_su2(2, su2_gates=["rx", "y"], entanglement="full", reps=2), 6, 0, id="efficient_su2-rx-y"),
        pytest.param(lambda: zz_feature_map(2), 0, 2, id="zz_feature_map"),
        pytest.param(lambda: zz_feature_map(3, reps=1, entanglement="linear"), 0, 3, id="zz_feature_map-3"),
    ],
)
def test_from_circuit_of_library_templates_keeps_the_unitary(template, weights, inputs):
    original = template()
    design = CircuitDesign.from_circuit(original)
    assert design.num_qubits == original.num_qubits
    assert design.num_weights == weights
    assert design.num_inputs == inputs
    assert all(g.name in GATES for g in design.gates)
    rng = np.random.default_rng(5)
    for _ in range(3):
        values = {p.name: float(rng.uniform(-math.pi, math.pi)) for p in original.parameters}
        assert_same_unitary(original, design.to_circuit(), values)


def test_from_circuit_turns_other_parameters_into_fresh_weights():
    a, b, theta2 = Parameter("a"), Parameter("b"), Parameter("θ[0]")
    circuit = QuantumCircuit(2)
    circuit.ry(a, 0)
    circuit.rzz(2 * b + theta2, 0, 1)
    circuit.rx(Parameter("_x_1_"), 1)
    circuit.measure_all()
    design = CircuitDesign.from_circuit(circuit)
    ry, rzz, rx = (g.params[0] for g in design.gates)
    assert (ry.text, rx.text) == ("θ[1]", "x[1]")  # θ[0] is taken, so "a" gets θ[1]
    assert rzz.weights == {0, 2} and not rzz.inputs
    values = {"θ[0]": 0.3, "θ[1]": -1.1, "θ[2]": 0.7, "x[1]": 2.0}
    original = circuit.remove_final_measurements(inplace=False)
    by_original_name = {"a": -1.1, "b": 0.7, "θ[0]": 0.3, "_x_1_": 2.0}
    assert_same_unitary(
        original.assign_parameters({p: by_original_name[p.name] for p in original.parameters}),
        design.to_circuit(),
        values,
    )


def test_from_circuit_decomposes_gates_the_editor_lacks():
    circuit = QuantumCircuit(3)
    circuit.cswap(0, 1, 2)
    circuit.ch(1, 0)
    circuit.rccx(0, 1, 2)
    design = CircuitDesign.from_circuit(circuit)
    assert {g.name for g in design.gates} <= set(GATES)
    original = Operator(circuit)
    assert Operator(design.to_circuit()).equiv(original)


@pytest.mark.parametrize(
    "text, message",
    [
        ("2**10000", "is not a finite real number"),
        ("1/0", "is not a finite real number"),
        ("(-1)**0.5", "is not a finite real number"),
        ("log(0)", "is not a finite real number"),
        ("sqrt(-1)", "is not a finite real number"),
        ("x[0]/0", "division by zero"),
        ("θ[1]/(1-1)", "division by zero"),
        ("θ[1000000]", "must be at most 100000"),
    ],
)
def test_angle_refuses_non_finite_constants_and_huge_indices(text, message):
    from qmlstudio.core.errors import ExpressionError
    from qmlstudio.core.expressions import Angle

    with pytest.raises(ExpressionError, match=message):
        Angle(text)


def test_from_circuit_never_merges_two_parameters_into_one_symbol():
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(1)
    for name in ("θ[0]", "w[0]", "_x_0_", "x[0]", "a"):
        qc.rx(Parameter(name), 0)
    design = CircuitDesign.from_circuit(qc)
    symbols = [g.params[0].text for g in design.gates]
    assert len(set(symbols)) == 5
    assert symbols[0] == "θ[0]" and symbols[3] == "x[0]"


def test_append_places_each_gate_after_the_gates_on_its_rows_and_keeps_the_order():
    """Code-built circuits need no columns: the same unitary as qiskit building them in order."""
    gates = [Gate("h", (0,)), Gate("ry", (2,), ["θ[0]"]), Gate("cx", (0, 2)), Gate("rz", (1,), ["θ[1]"]),
             Gate("crx", (1, 0), ["x[0]"]), Gate("h", (2,), column=99)]
    design = CircuitDesign.from_sequence(3, gates)
    assert [g.column for g in design.gates] == [0, 0, 1, 2, 3, 2]  # rz on qubit 1 waits for the cx spanning it
    reference = QuantumCircuit(3)
    t0, t1, x0 = Parameter("t0"), Parameter("t1"), Parameter("x0")
    reference.h(0)
    reference.ry(t0, 2)
    reference.cx(0, 2)
    reference.rz(t1, 1)
    reference.crx(x0, 1, 0)
    reference.h(2)
    values = {"θ[0]": 0.4, "θ[1]": -1.1, "x[0]": 2.3}
    built = design.to_circuit()
    bound = built.assign_parameters({p: values[p.name] for p in built.parameters})
    expected = reference.assign_parameters({t0: 0.4, t1: -1.1, x0: 2.3})
    assert Operator(bound).equiv(Operator(expected))
    placed = design.append(Gate("x", (1,)))
    assert placed.column == 4 and design.gates[-1] == placed
    with pytest.raises(DesignError, match="out of range"):
        design.append(Gate("x", (5,)))


def test_an_overlap_error_says_how_to_place_gates_without_columns():
    with pytest.raises(DesignError, match=r"need different columns: CircuitDesign.append\(gate\)"):
        CircuitDesign(2, [Gate("h", (0,)), Gate("cx", (0, 1))])
