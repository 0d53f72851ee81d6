"""The built-in ansatz templates: well-formed specs, θ numbering, and unitaries equal to references."""

from __future__ import annotations

import os
import subprocess
import sys
from functools import reduce

import numpy as np
import pytest
from qiskit.circuit.library import efficient_su2, n_local, real_amplitudes
from qiskit.quantum_info import Operator

import qmls_ansatze
from qmlstudio.core.errors import OptionError
from qmlstudio.plugins import Ansatz, AnsatzSpec

EXPECTED = {"real-amplitudes", "efficient-su2", "strongly-entangling", "two-local"}


def spec(name: str) -> AnsatzSpec:
    return {s.name: s for s in qmls_ansatze.qmlstudio_ansatze()}[name]


def bind(circuit, weights: np.ndarray):
    return circuit.assign_parameters({p: weights[p.index] for p in circuit.parameters})


def assert_weights_numbered_in_order(design) -> None:
    """Every angle is a single weight θ[i], each used once, numbered 0..n-1 in the order of the gates."""
    used = []
    for gate in design.gates:
        for angle in gate.params:
            assert angle.kind == "weight", f"{gate.name}: {angle.text} is not a single weight"
            used.extend(angle.weights)
    assert used == list(range(design.num_weights))
    assert design.input_indices == []


# ---------------------------------------------------------------- the hook
def test_hook_qmlstudio_ansatze():
    specs = qmls_ansatze.qmlstudio_ansatze()
    names = [s.name for s in specs]
    assert len(names) == len(set(names))
    assert set(names) == EXPECTED
    for s in specs:
        assert isinstance(s, AnsatzSpec)
        assert s.problems() == [], s.name
        assert s.description, s.name
        ansatz = s.create()
        assert isinstance(ansatz, Ansatz), s.name
        for num_qubits in (1, 2, 3, 4):
            design = ansatz.build(num_qubits)
            assert design.problems() == []
            assert design.num_qubits == num_qubits
            assert design.num_weights > 0
            assert_weights_numbered_in_order(design)
            assert {g.block for g in design.gates} == {s.name}


def test_listing_the_ansatze_does_not_import_qiskit():
    code = "import sys, qmls_ansatze; qmls_ansatze.qmlstudio_ansatze(); print('qiskit' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert result.stdout.strip() == "False"


def test_a_template_needs_a_qubit():
    with pytest.raises(ValueError, match="at least one qubit"):
        spec("real-amplitudes").create().build(0)


# ------------------------------------------------ equal to qiskit's library
QISKIT_CASES = [
    ("real-amplitudes", {}, lambda n: real_amplitudes(n)),
    ("real-amplitudes", {"reps": 1, "entanglement": "full"}, lambda n: real_amplitudes(n, "full", reps=1)),
    ("real-amplitudes", {"reps": 2, "entanglement": "sca"}, lambda n: real_amplitudes(n, "sca", reps=2)),
    (
        "real-amplitudes",
        {"reps": 2, "entanglement": "circular", "final_rotation": False},
        lambda n: real_amplitudes(n, "circular", reps=2, skip_final_rotation_layer=True),
    ),
    ("efficient-su2", {}, lambda n: efficient_su2(n)),
    ("efficient-su2", {"reps": 2, "entanglement": "pairwise"}, lambda n: efficient_su2(n, entanglement="pairwise", reps=2)),
    (
        "efficient-su2",
        {"reps": 1, "entanglement": "linear", "final_rotation": False},
        lambda n: efficient_su2(n, entanglement="linear", reps=1, skip_final_rotation_layer=True),
    ),
    ("two-local", {}, lambda n: n_local(n, ["ry"], "cx", entanglement="linear", reps=3)),
]
for _rotation in ("ry", "rx", "rz", "ry,rz", "rx,rz"):
    for _entangler in ("cx", "cz", "crx", "rzz"):
        for _entanglement in ("linear", "circular", "full"):
            QISKIT_CASES.append(
                (
                    "two-local",
                    {"rotation": _rotation, "entangler": _entangler, "entanglement": _entanglement, "reps": 2},
                    lambda n, r=_rotation, e=_entangler, m=_entanglement: n_local(
                        n, r.split(","), e, entanglement=m, reps=2
                    ),
                )
            )
QISKIT_CASES.append(
    (
        "two-local",
        {"rotation": "rx", "entangler": "rzz", "reps": 1, "final_rotation": False},
        lambda n: n_local(n, ["rx"], "rzz", entanglement="linear", reps=1, skip_final_rotation_layer=True),
    )
)


@pytest.mark.parametrize("num_qubits", [3, 4])
@pytest.mark.parametrize(
    "name, options, reference", QISKIT_CASES, ids=[f"{c[0]}-{'-'.join(map(str, c[1].values()))}" for c in QISKIT_CASES]
)
def test_template_equals_qiskits_library_circuit(name, options, reference, num_qubits):
    design = spec(name).create(options).build(num_qubits)
    library = reference(num_qubits)
    assert design.num_weights == library.num_parameters
    assert_weights_numbered_in_order(design)
    weights = np.random.default_rng(num_qubits).uniform(-np.pi, np.pi, design.num_weights)
    ours = Operator(bind(design.to_circuit(), weights)).data
    theirs = Operator(bind(library, weights)).data
    np.testing.assert_allclose(ours, theirs, atol=1e-10)


# ---------------------------------------------- strongly entangling layers
def single_qubit_on(gate: np.ndarray, qubit: int, n: int) -> np.ndarray:
    factors = [gate if q == qubit else np.eye(2) for q in range(n)]
    return reduce(np.kron, reversed(factors))  # qubit 0 is the rightmost factor


def cnot(control: int, target: int, n: int) -> np.ndarray:
    matrix = np.zeros((2**n, 2**n))
    for b in range(2**n):
        matrix[b ^ (((b >> control) & 1) << target), b] = 1
    return matrix


def rot(phi: float, theta: float, omega: float) -> np.ndarray:
    """PennyLane's Rot(φ, θ, ω) = RZ(ω) RY(θ) RZ(φ), written out."""
    rz = lambda a: np.diag([np.exp(-0.5j * a), np.exp(0.5j * a)])  # noqa: E731
    c, s = np.cos(theta / 2), np.sin(theta / 2)
    return rz(omega) @ np.array([[c, -s], [s, c]]) @ rz(phi)


def strongly_entangling_reference(weights: np.ndarray, n: int) -> np.ndarray:
    """Schuld et al. 2020 as in PennyLane's StronglyEntanglingLayers, weights shaped (layers, n, 3)."""
    unitary = np.eye(2**n, dtype=complex)
    for layer, angles in enumerate(weights):
        for q in range(n):
            unitary = single_qubit_on(rot(*angles[q]), q, n) @ unitary
        if n > 1:
            r = layer % (n - 1) + 1
            for q in range(n):
                unitary = cnot(q, (q + r) % n, n) @ unitary
    return unitary


@pytest.mark.parametrize("reps", [1, 2, 3])
@pytest.mark.parametrize("num_qubits", [1, 2, 3, 4])
def test_strongly_entangling_layers_match_the_written_out_unitary(reps, num_qubits):
    design = spec("strongly-entangling").create({"reps": reps}).build(num_qubits)
    assert design.num_weights == 3 * num_qubits * reps
    assert_weights_numbered_in_order(design)
    weights = np.random.default_rng(reps * 10 + num_qubits).uniform(-np.pi, np.pi, design.num_weights)
    ours = Operator(bind(design.to_circuit(), weights)).data
    expected = strongly_entangling_reference(weights.reshape(reps, num_qubits, 3), num_qubits)
    np.testing.assert_allclose(ours, expected, atol=1e-10)


def test_weights_on_each_qubit_act_in_the_order_of_their_numbers():
    for s in qmls_ansatze.qmlstudio_ansatze():
        design = s.create().build(3)
        per_qubit: dict[int, list[int]] = {}
        for gate in design.ordered_gates:
            for angle in gate.params:
                per_qubit.setdefault(gate.qubits[-1], []).extend(angle.weights)
        assert all(seq == sorted(seq) for seq in per_qubit.values()), s.name


# --------------------------------------------------------------- options
@pytest.mark.parametrize(
    "name, options",
    [
        ("two-local", {"rotation": "ryy"}),
        ("two-local", {"rotation": "ry,ry,ry"}),
        ("two-local", {"entangler": "cnot"}),
        ("two-local", {"entanglement": "star"}),
        ("real-amplitudes", {"reps": 0}),
        ("efficient-su2", {"final_rotation": "maybe"}),
        ("strongly-entangling", {"entanglement": "full"}),
    ],
)
def test_bad_options_are_refused(name, options):
    with pytest.raises(OptionError):
        spec(name).create(options)
