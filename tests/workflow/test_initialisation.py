"""Initialisation strategies as project choices (#19 point 1): uniform, small-angle (ε) and
identity blocks (Grant et al. 2019) for training, checked against qiskit's ``Operator`` and
``Statevector`` (an independent construction of the same circuit)."""

from __future__ import annotations

import numpy as np
import pytest
from qiskit.quantum_info import Operator, Statevector

from qmlstudio.cli import main
from qmlstudio.core.analysis import identity_block, mirror_half
from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import load_project
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import new_project
from qmlstudio.workflow.runs import build_run
from qmlstudio.workflow.study import trial_project


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def _bound(design: CircuitDesign, weights: np.ndarray):
    circuit = design.to_circuit()
    return circuit.assign_parameters({p: weights[p.index] for p in circuit.parameters})


@pytest.mark.parametrize("ansatz,reps", [("real-amplitudes", 4), ("efficient-su2", 3), ("real-amplitudes", 1)])
def test_an_identity_blocks_project_starts_as_the_identity_against_qiskit_operator(registry, ansatz, reps):
    project = new_project(registry, name="ib", dataset="iris", ansatz=ansatz, ansatz_options={"reps": reps},
                          model_options={"init": "identity-blocks"}, epochs=1, seed=3)
    circuit = project.circuit
    half = mirror_half(circuit)
    assert half is not None and 2 * half.num_weights == circuit.num_weights
    template = registry.get("ansatze", ansatz)
    # half the repetitions, rounded up, then their mirror
    expected_half = template.create(template.resolve({"reps": -(-reps // 2)})).build(circuit.num_qubits)
    assert half.num_weights == expected_half.num_weights
    run = build_run(project, registry)
    start = run.initial_parameters()[: circuit.num_weights]
    np.testing.assert_array_equal(start[: half.num_weights], start[half.num_weights:])
    assert np.ptp(start) > 1.0  # the first half is drawn, not zero
    operator = Operator(_bound(circuit, start))
    assert operator.equiv(Operator(np.eye(2 ** circuit.num_qubits)))
    # the data's encoded state goes through unchanged (qiskit Statevector of encoding + ansatz)
    before = Statevector.from_label("0" * circuit.num_qubits).evolve(_bound(half, start))
    assert not np.allclose(np.abs(before.data[0]), 1.0)  # the first half alone is not the identity
    # a different seed draws different weights, and the circuit is still the identity
    project.seed = 11
    other = build_run(project, registry).initial_parameters()[: circuit.num_weights]
    assert not np.allclose(other, start)
    assert Operator(_bound(circuit, other)).equiv(Operator(np.eye(2 ** circuit.num_qubits)))


def test_identity_blocks_are_refused_for_a_circuit_that_does_not_mirror_itself(registry):
    project = new_project(registry, name="ib", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 2},
                          model_options={"init": "identity-blocks"}, epochs=1)
    gates = list(project.circuit.gates)
    gates[-1] = Gate(gates[-1].name, gates[-1].qubits, ("θ[0]",) if gates[-1].params else (), gates[-1].column)
    project.circuit = CircuitDesign(project.circuit.num_qubits, gates)
    with pytest.raises(QMLStudioError, match="second half mirrors its first"):
        build_run(project, registry)
    plain = new_project(registry, name="u", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 2},
                        epochs=1)
    plain.model.options["init"] = "identity-blocks"
    with pytest.raises(QMLStudioError, match="second half mirrors its first"):
        build_run(plain, registry)


def test_mirror_half_finds_exactly_the_identity_block_designs():
    gates = [Gate("ry", (0,), ("θ[0]",), 0), Gate("rx", (1,), ("θ[1]",), 0), Gate("cx", (0, 1), (), 1),
             Gate("rzz", (0, 1), ("θ[0] + θ[2]",), 2), Gate("s", (1,), (), 3)]
    design = CircuitDesign(2, gates)
    block = identity_block(design)
    half = mirror_half(block)
    assert half is not None and [g.name for g in half.ordered_gates] == [g.name for g in design.ordered_gates]
    assert mirror_half(design) is None
    again = [Gate("ry", (0,), ("θ[3]",), 4), Gate("rx", (1,), ("θ[4]",), 4), Gate("cx", (0, 1), (), 5),
             Gate("rzz", (0, 1), ("θ[3] + θ[5]",), 6), Gate("s", (1,), (), 7)]
    assert mirror_half(CircuitDesign(2, gates + again)) is None  # repeated, not mirrored
    assert Operator(_bound(block, np.array([0.3, -1.2, 2.0] * 2))).equiv(Operator(np.eye(4)))
    swapped = list(block.gates)
    swapped[-1], swapped[-2] = swapped[-2], swapped[-1]
    assert mirror_half(CircuitDesign(2, [g if i < len(gates) else Gate(g.name, g.qubits, g.params, 10 + i)
                                         for i, g in enumerate(swapped)])) is None


def test_small_angle_draws_within_epsilon_and_is_refused_without_a_small_epsilon(registry):
    project = new_project(registry, name="sa", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 3},
                          model_options={"init": "small-angle"}, epochs=1)
    assert project.model.options["init_scale"] == 0.05  # stored, not implied
    start = build_run(project, registry).initial_parameters()[: project.circuit.num_weights]
    assert np.abs(start).max() <= 0.05 * np.pi and np.abs(start).max() > 0.01
    with pytest.raises(QMLStudioError, match="below 1"):
        new_project(registry, name="sa", dataset="moons", model_options={"init": "small-angle", "init_scale": 1.0})
    with pytest.raises(QMLStudioError, match="init must be one of"):
        new_project(registry, name="sa", dataset="moons", model_options={"init": "zeros"})
    project.model.options["init"] = "zeros"  # a hand-edited file
    with pytest.raises(QMLStudioError, match="init must be one of"):
        build_run(project, registry)


def test_a_study_varies_the_initialisation_and_rebuilds_the_circuit(registry):
    project = new_project(registry, name="st", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 4},
                          epochs=1)
    uniform = trial_project(project, registry, {"init": "uniform"}, 0)
    mirrored = trial_project(project, registry, {"init": "identity-blocks"}, 0)
    small = trial_project(project, registry, {"init": "small-angle"}, 0)
    assert mirror_half(uniform.circuit) is None and mirror_half(mirrored.circuit) is not None
    assert mirrored.model.options["init"] == "identity-blocks"
    assert small.model.options["init_scale"] == 0.05
    assert build_run(mirrored, registry).initial_parameters() is not None


def test_the_cli_makes_and_trains_an_identity_blocks_project(tmp_path, capsys):
    path = tmp_path / "ib.qmls"
    assert main(["new", str(path), "--dataset", "moons", "--reps", "4", "--init", "identity-blocks",
                 "--epochs", "1"]) == 0
    assert main(["train", str(path)]) == 0
    project = load_project(path)
    run = project.runs[-1]
    assert run.config["model"]["options"]["init"] == "identity-blocks"
    weights = np.array(run.initial_weights)
    half = len(weights) // 2
    np.testing.assert_array_equal(weights[:half], weights[half:])
    assert Operator(_bound(project.circuit, weights)).equiv(Operator(np.eye(2 ** project.circuit.num_qubits)))


@pytest.mark.parametrize("init", ["uniform", "small-angle", "identity-blocks"])
def test_the_state_view_previews_the_weights_training_starts_from(registry, init):
    from qmlstudio.workflow.previews import initial_weights

    project = new_project(registry, name="p", dataset="moons", ansatz="real-amplitudes", ansatz_options={"reps": 4},
                          model_options={"init": init}, epochs=1, seed=9)
    count = project.circuit.num_weights
    start = build_run(project, registry).initial_parameters()[:count]
    np.testing.assert_array_equal(initial_weights(project, count), start)
