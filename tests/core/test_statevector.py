"""The engine's batched statevector simulator against independent references.

States and Z expectations are compared with qiskit's ``Statevector`` of the bound
``design.to_circuit()``, sample by sample; gradients with central finite differences.
Random designs come from a seeded generator (the seed is in the test id, so a failure
replays). The ``kernels`` fixture runs the main checks twice: as shipped (small batches in
one part) and with the batch cut into parts of one column each, so that the compiled
loops of :mod:`qmlstudio.core._loops` run with one and with many columns.
"""

from __future__ import annotations

import itertools
import math
import tracemalloc

import numpy as np
import pytest
from qiskit.circuit.library import get_standard_gate_name_mapping
from qiskit.quantum_info import Operator, SparsePauliOp, Statevector

from qmlstudio.core import statevector as sv
from qmlstudio.core.circuit import GATES, CircuitDesign, Gate
from qmlstudio.core.statevector import StatevectorProgram, gate_generators, gate_matrix, probabilities_diagonal, z_diagonal
from tests.core.fresh_interpreter import in_fresh_interpreter

FORMULAS = (
    "θ[{i}]",
    "θ[{i}]",
    "x[{j}]",
    "{c}",
    "2*x[{j}]",
    "θ[{i}]*x[{j}] + 0.3",
    "sin(θ[{i}])",
    "θ[{i}]**2 - x[{j}]/3",
    "cos(x[{j}])*θ[{i}]",
    "exp(-θ[{i}]**2) + θ[{k}]",
    "pi/2",
)
NUM_WEIGHTS = 5
NUM_INPUTS = 3


# ----------------------------------------------------------------------- helpers
def random_angle(rng: np.random.Generator) -> str:
    formula = FORMULAS[int(rng.integers(len(FORMULAS)))]
    return formula.format(
        i=int(rng.integers(NUM_WEIGHTS)),
        k=int(rng.integers(NUM_WEIGHTS)),
        j=int(rng.integers(NUM_INPUTS)),
        c=round(float(rng.uniform(-3, 3)), 3),
    )


def random_design(rng: np.random.Generator, num_qubits: int | None = None, num_gates: int | None = None) -> CircuitDesign:
    """Random gates of every kind on random qubits (controls and targets in any order)."""
    n = int(rng.integers(1, 6)) if num_qubits is None else num_qubits
    names = [name for name, gtype in GATES.items() if gtype.num_qubits <= n]
    gates = []
    for column in range(int(rng.integers(1, 16)) if num_gates is None else num_gates):
        gtype = GATES[names[int(rng.integers(len(names)))]]
        qubits = tuple(int(q) for q in rng.permutation(n)[: gtype.num_qubits])
        gates.append(Gate(gtype.name, qubits, tuple(random_angle(rng) for _ in range(gtype.num_params)), column))
    return CircuitDesign(n, gates)


def qiskit_state(design: CircuitDesign, weights: np.ndarray, inputs: np.ndarray) -> np.ndarray:
    circuit = design.to_circuit()
    values = {p: float(weights[p.index] if p.vector.name == "θ" else inputs[p.index]) for p in circuit.parameters}
    return Statevector(circuit.assign_parameters(values)).data


def values_for(rng: np.random.Generator, batch: int) -> tuple[np.ndarray, np.ndarray]:
    return rng.uniform(-np.pi, np.pi, NUM_WEIGHTS), rng.uniform(-np.pi, np.pi, (batch, NUM_INPUTS))


def some_observables(n: int, rng: np.random.Generator) -> np.ndarray:
    rows = [z_diagonal(n, [0]), z_diagonal(n, list(range(n))), z_diagonal(n, [n - 1])]
    rows.append(rng.normal(size=2**n))  # any real diagonal, not only Paulis
    return np.stack(rows)


def finite_difference(program: StatevectorProgram, weights: np.ndarray, inputs, observables, upstream, h: float = 1e-6) -> np.ndarray:
    grad = np.zeros(program.num_weights)
    for i in range(program.num_weights):
        up, down = weights.copy(), weights.copy()
        up[i] += h
        down[i] -= h
        difference = program.expectations(up, inputs, observables) - program.expectations(down, inputs, observables)
        grad[i] = np.sum(upstream * difference) / (2 * h)
    return grad


def checked_gradient(program: StatevectorProgram, rng: np.random.Generator, batch: int, inputs: int):
    """Weights and inputs in [-2, 2], four observables, an upstream: the gradient of ``vjp``,
    checked against central finite differences, with what it was computed for."""
    weights, x = rng.uniform(-2, 2, program.num_weights), rng.uniform(-2, 2, (batch, inputs))
    observables = some_observables(program.num_qubits, rng)
    upstream = rng.normal(size=(batch, len(observables)))
    _, grad = program.vjp(weights, x, observables, upstream)
    np.testing.assert_allclose(grad, finite_difference(program, weights, x, observables, upstream), atol=1e-6)
    return weights, x, observables, upstream, grad


@pytest.fixture(params=["shipped", "one-column-parts"])
def kernels(request, monkeypatch):
    """Runs a test with whole batches and with one part per sample."""
    if request.param == "one-column-parts":
        monkeypatch.setattr(sv, "_PART_BYTES", 1)
    return request.param


# ------------------------------------------------------------------ gate kinds
@pytest.mark.parametrize("name", list(GATES))
def test_gate_matrix_matches_qiskit(name):
    rng = np.random.default_rng(3)
    gtype = GATES[name]
    library = get_standard_gate_name_mapping()
    angles = list(rng.uniform(-np.pi, np.pi, (gtype.num_params, 4)))
    batch = gate_matrix(name, angles)
    for b in range(4 if gtype.num_params else 1):
        one = [a[b] for a in angles]
        expected = Operator(library[name].base_class(*one) if one else library[name]).data
        np.testing.assert_allclose(gate_matrix(name, one), expected, atol=1e-12)
        if gtype.num_params:
            np.testing.assert_allclose(batch[b], expected, atol=1e-12)


@pytest.mark.parametrize("name", [name for name, gtype in GATES.items() if gtype.num_params])
def test_gate_generators_are_derivatives(name):
    """∂U/∂a_p = E_p U, checked by central differences, for scalar and per-sample angles."""
    rng = np.random.default_rng(5)
    angles = list(rng.uniform(-np.pi, np.pi, (GATES[name].num_params, 3)))
    h = 1e-6
    generators = gate_generators(name, angles)
    assert len(generators) == GATES[name].num_params
    for p, generator in enumerate(generators):
        up = [a + h if q == p else a for q, a in enumerate(angles)]
        down = [a - h if q == p else a for q, a in enumerate(angles)]
        numeric = (gate_matrix(name, up) - gate_matrix(name, down)) / (2 * h)
        np.testing.assert_allclose(generator @ gate_matrix(name, angles), numeric, atol=1e-8)


@pytest.mark.parametrize("name", list(GATES))
def test_every_gate_on_every_qubit_order_matches_qiskit(name, kernels):
    """Each gate on each ordered choice of qubits of a 4-qubit register, on a random state
    prepared by a layer of U gates, with data-dependent angles."""
    rng = np.random.default_rng(sum(map(ord, name)))
    gtype = GATES[name]
    n = 4
    for qubits in itertools.permutations(range(n), gtype.num_qubits):
        prep = [Gate("u", (q,), (f"x[{q % 3}] + {q}", "θ[0]", f"{0.3 * q}"), 0) for q in range(n)]
        params = tuple(["2*x[0] - θ[1]", "θ[2]", "x[1]"][: gtype.num_params])
        design = CircuitDesign(n, [*prep, Gate(name, qubits, params, 1)])
        weights, inputs = values_for(rng, 3)
        states = StatevectorProgram(design).states(weights, inputs)
        for b in range(3):
            np.testing.assert_allclose(states[b], qiskit_state(design, weights, inputs[b]), atol=1e-10, err_msg=f"{name} on {qubits}")


# ---------------------------------------------------------------- random designs
@pytest.mark.parametrize("seed", range(40))
def test_states_match_qiskit(seed, kernels):
    rng = np.random.default_rng(seed)
    design = random_design(rng)
    weights, inputs = values_for(rng, 3)
    states = StatevectorProgram(design).states(weights, inputs)
    assert states.shape == (3, 2**design.num_qubits)
    for b in range(3):
        np.testing.assert_allclose(states[b], qiskit_state(design, weights, inputs[b]), atol=1e-10)


@pytest.mark.parametrize("seed", range(10))
def test_z_expectations_match_qiskit(seed):
    rng = np.random.default_rng(100 + seed)
    design = random_design(rng, num_qubits=int(rng.integers(2, 5)))
    n = design.num_qubits
    weights, inputs = values_for(rng, 2)
    subsets = [[0], [n - 1], [0, 1], list(range(n)), []]
    observables = np.stack([z_diagonal(n, s) for s in subsets])
    values = StatevectorProgram(design).expectations(weights, inputs, observables)
    for b in range(2):
        state = Statevector(qiskit_state(design, weights, inputs[b]))
        for k, subset in enumerate(subsets):
            label = "".join("Z" if q in subset else "I" for q in reversed(range(n)))
            expected = state.expectation_value(SparsePauliOp(label)).real
            assert values[b, k] == pytest.approx(expected, abs=1e-10), label


@pytest.mark.parametrize("seed", range(25))
def test_vjp_and_jacobian_match_finite_differences(seed, kernels):
    rng = np.random.default_rng(1000 + seed)
    design = random_design(rng)
    program = StatevectorProgram(design)
    weights, inputs = values_for(rng, 4)
    observables = some_observables(design.num_qubits, rng)
    upstream = rng.normal(size=(4, len(observables)))
    values, grad = program.vjp(weights, inputs, observables, upstream)
    np.testing.assert_allclose(values, program.expectations(weights, inputs, observables), atol=1e-12)
    assert grad.shape == (design.num_weights,)
    np.testing.assert_allclose(grad, finite_difference(program, weights, inputs, observables, upstream), atol=1e-6)
    jacobian = program.jacobian(weights, inputs, observables)
    assert jacobian.shape == (4, len(observables), design.num_weights)
    np.testing.assert_allclose(np.einsum("bk,bkw->w", upstream, jacobian), grad, atol=1e-10)
    # one sample, one observable at a time: each row of the jacobian is a derivative
    one = np.zeros_like(upstream)
    one[2, 1] = 1.0
    np.testing.assert_allclose(jacobian[2, 1], finite_difference(program, weights, inputs, observables, one), atol=1e-6)


def test_value_and_pullback_is_one_forward_pass_for_any_number_of_upstreams(monkeypatch):
    rng = np.random.default_rng(77)
    design = random_design(rng, num_qubits=3, num_gates=14)
    program = StatevectorProgram(design)
    weights, inputs = values_for(rng, 5)
    observables = some_observables(3, rng)
    forwards = []
    original = program._forward
    monkeypatch.setattr(program, "_forward", lambda *a: forwards.append(1) or original(*a))
    values, pullback = program.value_and_pullback(weights, inputs, observables)
    first, second = rng.normal(size=(5, 4)), rng.normal(size=(5, 4))
    grads = [pullback(first), pullback(second), pullback(first + second)]
    assert len(forwards) == 1
    monkeypatch.undo()
    np.testing.assert_allclose(values, program.expectations(weights, inputs, observables), atol=1e-14)
    np.testing.assert_allclose(grads[0], program.vjp(weights, inputs, observables, first)[1], atol=1e-12)
    np.testing.assert_allclose(grads[1], program.vjp(weights, inputs, observables, second)[1], atol=1e-12)
    np.testing.assert_allclose(grads[2], grads[0] + grads[1], atol=1e-12)
    with pytest.raises(ValueError, match="upstream must have shape"):
        pullback(first[:2])


# ------------------------------------------------------------------- edge cases
def test_shared_weight_sums_over_its_gates(kernels):
    design = CircuitDesign(
        2,
        [
            Gate("ry", (0,), ("θ[0]",), 0),
            Gate("rx", (1,), ("2*θ[0]",), 0),
            Gate("crz", (0, 1), ("θ[0]*x[0] + 0.3",), 1),
            Gate("rzz", (1, 0), ("sin(θ[0])",), 2),
            Gate("u", (0,), ("θ[0]", "θ[0]", "θ[1]"), 3),
            Gate("ryy", (0, 1), ("θ[1]",), 4),
        ],
    )
    _, _, _, _, grad = checked_gradient(StatevectorProgram(design), np.random.default_rng(9), batch=5, inputs=1)
    # θ[0] enters five angles: its gradient is the sum of what each of them contributes
    assert abs(grad[0]) > 1e-3


def test_gates_that_vary_by_sample_but_not_their_gradient_factors_sum_once_over_the_columns(kernels, monkeypatch):
    """A gate whose coefficients depend on the sample but whose generators and angle
    derivatives do not (an encoding fused with trainable rotations, RZZ(θ + x)) takes one
    sum over the columns in the adjoint pass, not one per column: the gradient is the same."""
    design = CircuitDesign(
        3,
        [
            Gate("ry", (0,), ("x[0]",), 0),  # folded into the product state with the two below
            Gate("rz", (0,), ("θ[0]",), 1),
            Gate("ry", (0,), ("θ[1]",), 2),
            Gate("ry", (1,), ("x[1]",), 0),
            Gate("rx", (2,), ("x[1]",), 0),
            Gate("cx", (0, 1), (), 3),
            Gate("cx", (1, 2), (), 4),
            Gate("rzz", (2, 1), ("θ[4] + x[1]",), 5),
            Gate("rx", (2,), ("x[0]",), 6),  # in the body (after the CX): fused with the trainable gates after it
            Gate("ry", (2,), ("θ[2]",), 7),
            Gate("rz", (2,), ("θ[3]",), 8),
            Gate("cx", (1, 2), (), 9),
            Gate("rx", (1,), ("x[0]",), 10),  # no weights: uncomputed without sums
        ],
    )
    program = StatevectorProgram(design)
    decisions = []
    per_column = sv._Step.per_column

    def spy(self, op, part, per_sample):
        decision = per_column(self, op, part, per_sample)
        decisions.append((self.per_sample and op.has_weights, decision))
        return decision

    monkeypatch.setattr(sv._Step, "per_column", spy)
    weights, inputs, observables, upstream, grad = checked_gradient(program, np.random.default_rng(4), batch=6, inputs=2)
    assert np.all(np.abs(grad) > 1e-2)  # every weight's gradient is checked, none is zero by symmetry
    assert (True, False) in decisions  # the one-sum path ran, for gates that vary by sample
    assert (True, True) not in decisions
    jacobian = program.jacobian(weights, inputs, observables)  # per sample: a sum per column
    np.testing.assert_allclose(np.einsum("bk,bkw->w", upstream, jacobian), grad, atol=1e-10)
    assert (True, True) in decisions


def test_design_without_weights():
    design = CircuitDesign(2, [Gate("h", (0,), (), 0), Gate("ry", (1,), ("x[0]",), 0), Gate("cx", (0, 1), (), 1)])
    program = StatevectorProgram(design)
    inputs = np.array([[0.1], [0.7]])
    values, grad = program.vjp([], inputs, z_diagonal(2, [1]), np.ones((2, 1)))
    assert grad.shape == (0,)
    assert program.jacobian([], inputs, z_diagonal(2, [1])).shape == (2, 1, 0)
    for b in range(2):
        expected = Statevector(qiskit_state(design, np.zeros(0), inputs[b])).expectation_value(SparsePauliOp("ZI")).real
        assert values[b, 0] == pytest.approx(expected, abs=1e-12)


def test_design_without_inputs_gives_every_sample_the_same_state():
    design = CircuitDesign(2, [Gate("rx", (0,), ("θ[0]",), 0), Gate("cry", (0, 1), ("θ[1]",), 1)])
    program = StatevectorProgram(design)
    weights = np.array([0.4, -1.1])
    single = program.states(weights)
    assert single.shape == (1, 4)
    np.testing.assert_allclose(single[0], qiskit_state(design, weights, np.zeros(0)), atol=1e-12)
    batch = program.states(weights, np.zeros((3, 0)))
    assert batch.shape == (3, 4)
    np.testing.assert_allclose(batch, np.repeat(single, 3, axis=0))
    upstream = np.array([[1.0], [2.0], [-0.5]])
    values, grad = program.vjp(weights, np.zeros((3, 0)), z_diagonal(2, [1]), upstream)
    assert values.shape == (3, 1)
    np.testing.assert_allclose(grad, finite_difference(program, weights, np.zeros((3, 0)), z_diagonal(2, [1]), upstream), atol=1e-6)
    jacobian = program.jacobian(weights, np.zeros((3, 0)), z_diagonal(2, [1]))
    np.testing.assert_allclose(np.einsum("bk,bkw->w", upstream, jacobian), grad, atol=1e-12)


def test_single_qubit_design():
    design = CircuitDesign(1, [Gate("ry", (0,), ("x[0]",), 0), Gate("rz", (0,), ("θ[0]",), 1), Gate("rx", (0,), ("θ[1]",), 2)])
    program = StatevectorProgram(design)
    weights, inputs = np.array([0.3, 1.2]), np.array([[0.5], [-1.0]])
    # ⟨Z⟩ after RX(b) RZ(a) RY(x): cos(x) cos(b) + sin(x) sin(a) sin(b)
    x, a, b = inputs[:, 0], weights[0], weights[1]
    expected = np.cos(x) * np.cos(b) + np.sin(x) * np.sin(a) * np.sin(b)
    values = program.expectations(weights, inputs, z_diagonal(1, [0]))
    np.testing.assert_allclose(values[:, 0], expected, atol=1e-12)
    jacobian = program.jacobian(weights, inputs, z_diagonal(1, [0]))
    np.testing.assert_allclose(jacobian[:, 0, 0], np.sin(x) * np.cos(a) * np.sin(b), atol=1e-12)
    np.testing.assert_allclose(jacobian[:, 0, 1], -np.cos(x) * np.sin(b) + np.sin(x) * np.sin(a) * np.cos(b), atol=1e-12)


def test_batch_of_one_and_one_dimensional_inputs():
    rng = np.random.default_rng(21)
    design = random_design(rng, num_qubits=3, num_gates=12)
    program = StatevectorProgram(design)
    weights, inputs = values_for(rng, 1)
    observables = some_observables(3, rng)
    states = program.states(weights, inputs)
    assert states.shape == (1, 8)
    np.testing.assert_allclose(program.states(weights, inputs[0]), states)
    np.testing.assert_allclose(states[0], qiskit_state(design, weights, inputs[0]), atol=1e-10)
    upstream = rng.normal(size=(1, 4))
    _, grad = program.vjp(weights, inputs, observables, upstream)
    np.testing.assert_allclose(grad, finite_difference(program, weights, inputs, observables, upstream), atol=1e-6)


def test_empty_design_is_the_zero_state():
    program = StatevectorProgram(CircuitDesign(3, []))
    states = program.states([], np.zeros((2, 0)))
    expected = np.zeros((2, 8))
    expected[:, 0] = 1
    np.testing.assert_allclose(states, expected)
    values, grad = program.vjp([], np.zeros((2, 0)), z_diagonal(3, [2]), np.ones((2, 1)))
    np.testing.assert_allclose(values, 1.0)
    assert grad.shape == (0,)


def test_probabilities_and_bitstring_observables():
    rng = np.random.default_rng(33)
    design = random_design(rng, num_qubits=3, num_gates=14)
    program = StatevectorProgram(design)
    weights, inputs = values_for(rng, 3)
    probs = program.probabilities(weights, inputs)
    np.testing.assert_allclose(probs, np.abs(program.states(weights, inputs)) ** 2, atol=1e-14)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-12)
    np.testing.assert_allclose(program.expectations(weights, inputs, None), probs, atol=1e-14)
    np.testing.assert_allclose(program.expectations(weights, inputs, probabilities_diagonal(3, [5, 0])), probs[:, [5, 0]], atol=1e-14)
    # a loss on all the probabilities (observables=None): one adjoint pass, checked by differences
    upstream = rng.normal(size=(3, 8))
    _, grad = program.vjp(weights, inputs, None, upstream)
    np.testing.assert_allclose(grad, finite_difference(program, weights, inputs, None, upstream), atol=1e-6)


def test_z_diagonal_order_is_little_endian():
    np.testing.assert_array_equal(z_diagonal(2, [0]), [1, -1, 1, -1])
    np.testing.assert_array_equal(z_diagonal(2, [1]), [1, 1, -1, -1])
    np.testing.assert_array_equal(z_diagonal(2, [0, 1]), [1, -1, -1, 1])
    np.testing.assert_array_equal(z_diagonal(2, []), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="out of range"):
        z_diagonal(2, [2])


# --------------------------------------------------------- speed-ups, same answers
def hardware_efficient(n: int, layers: int, reupload: bool = False) -> CircuitDesign:
    gates = [Gate("ry", (q,), (f"x[{q}]",), 0) for q in range(n)]
    column, weight = 1, 0
    for _ in range(layers):
        for q in range(n):
            angle = f"θ[{weight}] + x[{q}]" if reupload else f"θ[{weight}]"
            gates += [Gate("ry", (q,), (angle,), column), Gate("rz", (q,), (f"θ[{weight + 1}]",), column + 1)]
            weight += 2
        column += 2
        for q in range(n - 1):
            gates.append(Gate("cx", (q, q + 1), (), column))
            column += 1
    return CircuitDesign(n, gates)


def zz_encoded(n: int, layers: int) -> CircuitDesign:
    """A ZZ-feature-map-like encoding (entangling, weight-free), then RY/RZ layers and CX."""
    gates = [Gate("h", (q,), (), 0) for q in range(n)]
    gates += [Gate("p", (q,), (f"2*x[{q}]",), 1) for q in range(n)]
    column = 2
    for q in range(n - 1):
        gates += [Gate("cx", (q, q + 1), (), column), Gate("p", (q + 1,), (f"(pi - x[{q}])*(pi - x[{q + 1}])",), column + 1)]
        gates.append(Gate("cx", (q, q + 1), (), column + 2))
        column += 3
    body = hardware_efficient(n, layers)
    gates += [Gate(g.name, g.qubits, g.params, g.column + column) for g in body.gates if g.params and g.params[0].weights or g.name == "cx"]
    return CircuitDesign(n, gates)


def test_prefix_is_the_encoding_and_its_cache_gives_the_same_answers():
    design = zz_encoded(3, 2)
    design.add_gate(Gate("h", (0,), (), design.num_columns))  # weight-free but after weights: not prefix
    plain = StatevectorProgram(design)
    cached = StatevectorProgram(design, cache_bytes=1 << 20)
    assert [g.name for g in plain.prefix_gates] == ["h"] * 3 + ["p"] * 3 + ["cx", "p", "cx"] * 2
    assert len(plain.product_prefix) == 6
    rng = np.random.default_rng(2)
    weights, inputs = rng.uniform(-2, 2, design.num_weights), rng.uniform(-2, 2, (4, 3))
    observables, upstream = z_diagonal(3, [0]), rng.normal(size=(4, 1))
    for _ in range(3):
        expected = plain.vjp(weights, inputs, observables, upstream)
        got = cached.vjp(weights, inputs, observables, upstream)
        np.testing.assert_allclose(got[0], expected[0], atol=1e-14)
        np.testing.assert_allclose(got[1], expected[1], atol=1e-12)
        weights = weights + 0.1
    assert cached.cache_hits == 2
    other = inputs + 0.5
    np.testing.assert_allclose(cached.states(weights, other), plain.states(weights, other), atol=1e-14)
    assert cached.cache_hits == 2
    for b in range(2):
        np.testing.assert_allclose(cached.states(weights, inputs)[b], qiskit_state(design, weights, inputs[b]), atol=1e-10)
    assert cached.cache_hits == 4
    # at most cache_bytes: a second batch pushes the first one out
    small = StatevectorProgram(design, cache_bytes=4 * 8 * 16)
    small.states(weights, inputs)
    small.states(weights, other)
    small.states(weights, inputs)
    assert small.cache_hits == 0


def test_threads_and_cache_sized_parts_give_the_same_answers(monkeypatch):
    """Large enough states to be split across threads and cut into cache-sized parts."""
    design = hardware_efficient(10, 1, reupload=True)
    design.add_gates([Gate("ccx", (9, 0, 4), (), design.num_columns), Gate("rxx", (0, 9), ("θ[0]*x[1]",), design.num_columns + 1)])
    rng = np.random.default_rng(4)
    weights, inputs = rng.uniform(-2, 2, design.num_weights), rng.uniform(-2, 2, (64, 10))
    observables, upstream = some_observables(10, rng), rng.normal(size=(64, 4))
    one = StatevectorProgram(design)
    values, grad = one.vjp(weights, inputs, observables, upstream)
    two = StatevectorProgram(design, threads=2)
    assert len(two._parts(64)) == 2
    got = two.vjp(weights, inputs, observables, upstream)
    np.testing.assert_allclose(got[0], values, atol=1e-12)
    np.testing.assert_allclose(got[1], grad, atol=1e-9)
    got_values, pullback = two.value_and_pullback(weights, inputs, observables)
    np.testing.assert_allclose(got_values, values, atol=1e-12)
    np.testing.assert_allclose(pullback(upstream), grad, atol=1e-9)
    np.testing.assert_allclose(two.states(weights, inputs), one.states(weights, inputs), atol=1e-12)
    np.testing.assert_allclose(two.jacobian(weights, inputs, observables[:1]), one.jacobian(weights, inputs, observables[:1]), atol=1e-9)
    monkeypatch.setattr(sv, "_PART_BYTES", 32 * 2**10 * 12)  # parts of 12 columns: 5 of 12, one of 4
    assert [p.stop - p.start for p in one._parts(64)] == [12] * 5 + [4]
    got = one.vjp(weights, inputs, observables, upstream)
    np.testing.assert_allclose(got[0], values, atol=1e-12)
    np.testing.assert_allclose(got[1], grad, atol=1e-9)
    np.testing.assert_allclose(one.states(weights, inputs[:2])[1], qiskit_state(design, weights, inputs[1]), atol=1e-10)


def test_gradient_memory_does_not_grow_with_depth():
    """The adjoint pass keeps a fixed number of states, not one per gate (measured in a process
    of its own: tracemalloc counts every thread's allocations)."""
    n, batch = 11, 32
    state_bytes = batch * 2**n * 16
    peaks = in_fresh_interpreter(f"""
        import json, tracemalloc
        import numpy as np
        from qmlstudio.core.statevector import StatevectorProgram, z_diagonal
        from tests.core.test_statevector import hardware_efficient

        rng = np.random.default_rng(8)
        n, batch = {n}, {batch}
        inputs = rng.uniform(-1, 1, (batch, n))
        peaks = []
        for layers in (2, 8):  # 66 and 242 gates, data re-uploaded in every layer
            design = hardware_efficient(n, layers, reupload=True)
            program = StatevectorProgram(design)
            weights = rng.uniform(-1, 1, design.num_weights)
            # once first, so that compiled code, caches and the thread pool are in place
            program.vjp(weights, inputs, z_diagonal(n, [0]), np.ones((batch, 1)))
            tracemalloc.start()
            program.vjp(weights, inputs, z_diagonal(n, [0]), np.ones((batch, 1)))
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
        print(json.dumps(peaks))
    """)
    assert peaks[1] < 7 * state_bytes
    # 176 more gates: one state kept per gate would add 176 states. What may grow is each gate's
    # small per-sample matrices (2x2 complex x batch: 176 gates x 32 x 64 B = 0.35 states of
    # bookkeeping, measured up to 0.53); under one state of growth is "a fixed number of states".
    assert peaks[1] < peaks[0] + 1.0 * state_bytes


# ------------------------------------------------------------------------ errors
@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda p: p.states([0.1], np.zeros((2, 1))), "uses 2 weight"),
        (lambda p: p.states([0.1, 0.2], None), "uses 1 input"),
        (lambda p: p.states([0.1, 0.2], np.zeros((2, 0))), "uses 1 input"),
        (lambda p: p.states([0.1, 0.2], np.zeros((0, 1))), "empty"),
        (lambda p: p.states([0.1, 0.2], np.zeros((2, 1, 1))), "samples × features"),
        (lambda p: p.expectations([0.1, 0.2], np.zeros((2, 1)), np.ones((1, 8))), r"shape \(k, 4\)"),
        (lambda p: p.expectations([0.1, 0.2], np.zeros((2, 1)), np.full((1, 4), 1j)), "real"),
        (lambda p: p.vjp([0.1, 0.2], np.zeros((2, 1)), np.ones((1, 4)), np.ones((3, 1))), r"upstream must have shape \(batch, k\) = \(2, 1\)"),
    ],
)
def test_bad_arguments_say_what_is_wrong(call, message):
    design = CircuitDesign(2, [Gate("ry", (0,), ("x[0]",), 0), Gate("crx", (0, 1), ("θ[1]",), 1)])
    with pytest.raises(ValueError, match=message):
        call(StatevectorProgram(design))


def test_no_qiskit_or_qt_at_import():
    """The simulator imports NumPy only (checked in a fresh interpreter)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    import qmlstudio

    root = str(Path(qmlstudio.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    code = "import sys, qmlstudio.core.statevector; bad = [m for m in ('qiskit', 'PySide6', 'scipy') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_angles_close_to_pi_and_large_values_stay_exact():
    design = CircuitDesign(2, [Gate("ry", (0,), ("θ[0]",), 0), Gate("crx", (0, 1), ("θ[1]",), 1)])
    program = StatevectorProgram(design)
    weights = np.array([math.pi, 1e6])
    np.testing.assert_allclose(program.states(weights)[0], qiskit_state(design, weights, np.zeros(0)), atol=1e-9)


def test_the_checkpoint_runs_before_every_part_and_can_abandon_a_call(monkeypatch):
    """Long calls can be paused or stopped between the parts of the batch."""
    monkeypatch.setattr(sv, "_PART_BYTES", 32 * 2**6 * 8)  # parts of 8 samples at 6 qubits
    design = hardware_efficient(6, 2)
    rng = np.random.default_rng(12)
    weights, inputs = rng.uniform(-1, 1, design.num_weights), rng.uniform(-1, 1, (64, 6))
    observables, upstream = z_diagonal(6, [0]), rng.normal(size=(64, 1))
    calls = []

    class Stop(Exception):
        pass

    def checkpoint() -> None:
        calls.append(len(calls))
        if stop_at is not None and len(calls) == stop_at:
            raise Stop

    stop_at = None
    program = StatevectorProgram(design, checkpoint=checkpoint)
    expected = StatevectorProgram(design).vjp(weights, inputs, observables, upstream)
    got = program.vjp(weights, inputs, observables, upstream)
    assert len(calls) == 16  # 8 parts forward, 8 backward
    np.testing.assert_allclose(got[1], expected[1], atol=1e-12)
    calls.clear()
    stop_at = 3
    with pytest.raises(Stop):
        program.vjp(weights, inputs, observables, upstream)
    assert len(calls) == 3  # nothing simulated after the checkpoint said stop
    stop_at = None
    got = program.vjp(weights, inputs, observables, upstream)  # an abandoned call leaves nothing behind
    np.testing.assert_allclose(got[1], expected[1], atol=1e-12)
