"""The exact noisy simulator (#18 point 2): batched density matrices under every shipped device's
noise model equal qiskit-aer's ``density_matrix`` method with the same noise model, on random
circuits transpiled to the device as ``aer-noise`` transpiles them; readout errors equal the
per-qubit assignment matrices composed independently (a Kronecker product), and Aer's sampled
counts agree within their statistical error."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit import ParameterVector  # noqa: E402
from qiskit.circuit.random import random_circuit  # noqa: E402
from qiskit.quantum_info import DensityMatrix, Operator, SuperOp  # noqa: E402
from qiskit.transpiler import generate_preset_pass_manager  # noqa: E402
from qiskit_aer import AerSimulator  # noqa: E402
from qiskit_aer.noise import NoiseModel  # noqa: E402
from qmls_aer import FAKE_DEVICES  # noqa: E402
from qmls_aer.devices import fake_backend  # noqa: E402
from qmls_aer.noisy_exact import noisy_program  # noqa: E402

from qmlstudio.core.density import NoisyProgram, kraus_tensor, unitary_tensor  # noqa: E402
from qmlstudio.core.errors import QMLStudioError  # noqa: E402

_NOISE_MODELS: dict[str, tuple[object, NoiseModel]] = {}


def _device(name: str) -> tuple[object, NoiseModel]:
    if name not in _NOISE_MODELS:
        backend = fake_backend(name)
        _NOISE_MODELS[name] = (backend, NoiseModel.from_backend(backend))
    return _NOISE_MODELS[name]


def _aer_density(isa: QuantumCircuit, noise_model: NoiseModel, active: list[int]) -> np.ndarray:
    """Aer's density matrix of the circuit's active qubits, with the device's errors on them.

    The circuit and the noise model are restricted to those qubits first (the same gates and
    the same ``QuantumError`` objects, renumbered): Aer serialises the whole noise model on
    every run, which for a 156-qubit device costs seconds. An untouched qubit stays in |0⟩."""
    place = {physical: i for i, physical in enumerate(active)}
    index = {q: i for i, q in enumerate(isa.qubits)}
    circuit = QuantumCircuit(len(active))
    for item in isa.data:
        if item.operation.name in ("barrier", "measure"):
            continue
        circuit.append(item.operation, [place[index[q]] for q in item.qubits])
    small = NoiseModel(basis_gates=noise_model.basis_gates)
    for name, table in noise_model._local_quantum_errors.items():
        for qubits, error in table.items():
            if set(qubits) <= set(place):
                small.add_quantum_error(error, name, [place[q] for q in qubits])
    circuit.save_density_matrix()
    result = AerSimulator(method="density_matrix", noise_model=small).run(circuit).result()
    return np.asarray(result.data(0)["density_matrix"])


def _qiskit_density(isa: QuantumCircuit, noise_model: NoiseModel, active: list[int]) -> np.ndarray:
    """The same noisy circuit through qiskit.quantum_info: ``DensityMatrix.evolve`` with each
    gate's ``Operator`` and then its error's ``SuperOp``, instruction by instruction (each
    error's ``SuperOp`` made once: qiskit takes about 10 ms to make one)."""
    index = {q: i for i, q in enumerate(isa.qubits)}
    place = {p: i for i, p in enumerate(active)}
    superops: dict[int, SuperOp] = {}
    state = DensityMatrix.from_label("0" * len(active))
    for item in isa.data:
        name = item.operation.name
        if name in ("barrier", "measure"):
            continue
        physical = tuple(index[q] for q in item.qubits)
        qargs = [place[p] for p in physical]
        state = state.evolve(Operator(item.operation), qargs=qargs)
        error = noise_model._local_quantum_errors.get(name, {}).get(physical)
        if error is not None:
            if id(error) not in superops:
                superops[id(error)] = SuperOp(error)
            state = state.evolve(superops[id(error)], qargs=qargs)
    return state.data


def _assert_equals_references(rho: np.ndarray, isa: QuantumCircuit, noise_model: NoiseModel, active: list[int]) -> None:
    """Equal to qiskit's ``DensityMatrix`` to 1e-12, and to Aer's ``density_matrix`` method to
    1e-10 beyond Aer's own loss of trace (Aer's noisy density matrices are not trace-preserving
    to 1e-10 for every device: on fake_berlin its trace is 1 − 4.6e-9, and there it differs
    from qiskit's by as much as from ours)."""
    np.testing.assert_allclose(rho, _qiskit_density(isa, noise_model, active), rtol=0, atol=1e-12)
    aer = _aer_density(isa, noise_model, active)
    assert np.abs(rho - aer).max() < 1e-10 + 2 * abs(1 - np.trace(aer).real)


def test_density_matrices_equal_qiskit_and_aer_for_every_device_noise_model():
    """Every shipped device, a random 4-qubit circuit transpiled to it: equal to qiskit's
    ``DensityMatrix`` to 1e-12, and to Aer beyond Aer's own trace defect (see
    :func:`_assert_equals_references`). Two child processes share the devices: building a
    large device's noise model takes seconds."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from tests.plugins.noisy_devices import compare

    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(compare, FAKE_DEVICES))
    assert [r["device"] for r in results] == list(FAKE_DEVICES)
    for r in results:
        assert r["qiskit"] < 1e-12, r
        assert r["aer"] < 1e-10 + 2 * r["aer_trace_defect"], r
        assert r["measured"] == r["width"] and r["channels"] > 0, r


@pytest.mark.parametrize("device", ["fake_manila", "fake_sherbrooke", "fake_fez"])
def test_the_active_qubits_noise_model_is_the_full_models_there(device):
    """noisy-exact builds the device's noise model on the qubits a circuit touches
    (``device_noise_model``): every gate error and readout error on those qubits equals the
    full ``NoiseModel.from_backend`` model's (as superoperators and assignment matrices), it has
    no others, and its basis gates are the device's. Devices of every generation: 5-qubit
    Falcon (cx), 127-qubit Eagle (ecr), 156-qubit Heron (cz)."""
    from qmls_aer.noisy_exact import device_noise_model

    backend, full = _device(device)
    rng = np.random.default_rng(sum(map(ord, device)))
    qubits = sorted(rng.choice(backend.num_qubits, size=min(6, backend.num_qubits), replace=False).tolist())
    if backend.num_qubits > 6:  # and a connected pair, so that two-qubit errors are compared too
        pair = next(iter(q for q in backend.target.build_coupling_map().get_edges()))
        qubits = sorted(set(qubits) | set(pair))
    part = device_noise_model(backend, qubits)
    assert sorted(part.basis_gates) == sorted(full.basis_gates)
    inside = lambda qargs: set(qargs) <= set(qubits)  # noqa: E731
    compared = 0
    for name, table in full._local_quantum_errors.items():
        expected = {qargs: e for qargs, e in table.items() if inside(qargs)}
        got = part._local_quantum_errors.get(name, {})
        assert set(got) == set(expected), name
        for qargs, error in expected.items():
            np.testing.assert_allclose(SuperOp(got[qargs]).data, SuperOp(error).data, rtol=0, atol=1e-15)
            compared += 1
    assert compared >= len(qubits)
    assert set(part._local_readout_errors) == {q for q in full._local_readout_errors if inside(q)}
    for qargs, error in part._local_readout_errors.items():
        np.testing.assert_array_equal(error.probabilities, full._local_readout_errors[qargs].probabilities)
    assert part._default_quantum_errors == {} and part._default_readout_error is None


def test_a_parameterised_circuit_runs_as_a_batch_of_angles_against_aer():
    """The RZ angles of a transpiled parameterised circuit are per-sample columns: one batched
    run equals Aer on each bound circuit."""
    backend, noise_model = _device("fake_manila")
    theta = ParameterVector("θ", 6)
    circuit = QuantumCircuit(3)
    for q in range(3):
        circuit.ry(theta[q], q)
    circuit.cx(0, 1)
    circuit.cx(1, 2)
    for q in range(3):
        circuit.rx(theta[3 + q] * 2 + 0.1, q)
    circuit.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(circuit)
    program, angles, active, measured = noisy_program(isa, noise_model)
    rng = np.random.default_rng(4)
    values = rng.uniform(-np.pi, np.pi, size=(5, 6))
    table = np.array([[float(a.bind({p: row[p.index] for p in a.parameters})) if hasattr(a, "parameters") else float(a)
                       for a in angles] for row in values])
    rho = program.states(table)
    for row, state in zip(values, rho):
        bound = isa.assign_parameters({p: row[p.index] for p in isa.parameters})
        _assert_equals_references(state, bound, noise_model, active)


def test_readout_errors_equal_the_kronecker_product_and_aer_s_counts():
    backend, noise_model = _device("fake_lima")
    circuit = QuantumCircuit(3)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.ry(0.8, 2)
    circuit.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(circuit)
    program, angles, active, measured = noisy_program(isa, noise_model)
    rho = program.states(np.array([[float(a) for a in angles]]))
    probabilities = program.measure(rho, measured)[0]
    # independent: the ideal distribution of the measured qubits, then the Kronecker product of the
    # assignment matrices (A[prepared, measured], qubit measured[0] the least significant bit)
    ideal = np.real(np.diag(rho[0])).reshape((2,) * program.num_qubits)
    axes = [program.num_qubits - 1 - q for q in reversed(measured)]
    ideal = np.transpose(ideal, axes + [a for a in range(program.num_qubits) if a not in axes])
    ideal = ideal.reshape(1 << len(measured), -1).sum(axis=1)
    matrix = np.ones((1, 1))
    for q in reversed(measured):
        matrix = np.kron(matrix, program.readout[q])
    np.testing.assert_allclose(probabilities, ideal @ matrix, atol=1e-12)
    assert not np.allclose(probabilities, ideal, atol=1e-3)  # the readout error is there
    shots = 200_000
    counts = AerSimulator(method="density_matrix", noise_model=noise_model).run(isa, shots=shots, seed_simulator=3)
    counts = counts.result().get_counts()
    sampled = np.zeros(1 << len(measured))
    for key, value in counts.items():
        sampled[int(key.replace(" ", ""), 2)] += value / shots
    sigma = np.sqrt(probabilities * (1 - probabilities) / shots) + 1e-9
    assert np.all(np.abs(sampled - probabilities) < 5 * sigma + 1e-4)


def test_channels_compose_and_keep_the_trace():
    program = NoisyProgram(2)
    h = np.array([[1, 1], [1, -1]]) / np.sqrt(2)
    damping = [np.array([[1, 0], [0, np.sqrt(0.7)]]), np.array([[0, np.sqrt(0.3)], [0, 0]])]
    rho = program.apply_tensor(program.initial(1), unitary_tensor(h), (1,))
    rho = program.apply_tensor(rho, kraus_tensor(damping), (1,))
    expected = np.array([[0.5 + 0.15, 0.5 * np.sqrt(0.7)], [0.5 * np.sqrt(0.7), 0.35]])
    np.testing.assert_allclose(rho[0].reshape(2, 2, 2, 2)[:, 0, :, 0], expected, atol=1e-14)
    assert np.trace(rho[0]).real == pytest.approx(1.0)
    with pytest.raises(QMLStudioError, match="1 to 12 qubits"):
        NoisyProgram(13)


def _iris_run():
    """A fresh run of iris (4 qubits) on noisy-exact:fake_manila, baselines off."""
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import new_project
    from qmlstudio.workflow.runs import build_run

    registry = load_plugins()
    project = new_project(registry, name="n", dataset="iris", backend="noisy-exact:fake_manila", epochs=1,
                          model_options={"baselines": False})
    return build_run(project, registry)


# ------------------------------------------------------------------ the backend in the engine
def test_the_noisy_exact_backend_s_values_equal_aer_and_its_gradient_equals_finite_differences():
    from qmlstudio.core.models import NoisyExactEvaluator
    run = _iris_run()
    evaluator = run.evaluator
    assert isinstance(evaluator, NoisyExactEvaluator)
    weights = run.initial_parameters()[: run.model.num_weights]
    inputs = run.train_inputs[:6]
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    upstream = np.random.default_rng(0).normal(size=values.shape)
    gradient = pullback(upstream)
    np.testing.assert_array_equal(pullback(upstream), gradient)  # the compiled steps work in place: not on the saved states
    step = 1e-6
    numeric = np.zeros_like(weights)
    for i in range(len(weights)):
        up, down = weights.copy(), weights.copy()
        up[i] += step
        down[i] -= step
        numeric[i] = np.sum(upstream * (evaluator.values(up, inputs) - evaluator.values(down, inputs))) / (2 * step)
    np.testing.assert_allclose(gradient, numeric, atol=1e-7)
    assert np.abs(gradient).max() > 1e-3
    # the values: Aer's density matrix of each bound transpiled circuit, then the readout errors
    backend, noise_model = _device("fake_manila")
    phi = evaluator._phi(weights, inputs)
    matrix = np.ones((1, 1))
    for q in reversed(evaluator.measured):
        matrix = np.kron(matrix, evaluator.program.readout[q])
    for row, value in zip(phi, values):
        bound = evaluator.circuit.assign_parameters(dict(zip(evaluator.circuit.parameters, row[evaluator.circuit_order])))
        rho = _aer_density(bound, noise_model, evaluator.active)
        ideal = np.real(np.diag(rho)).reshape((2,) * len(evaluator.active))
        n = len(evaluator.active)
        axes = [n - 1 - q for q in reversed(evaluator.measured)]
        ideal = np.transpose(ideal, axes + [a for a in range(n) if a not in axes]).reshape(1 << len(axes), -1).sum(axis=1)
        np.testing.assert_allclose(value, (ideal @ matrix) @ evaluator.observables.T, atol=1e-9)


def test_training_on_the_noisy_exact_backend_costs_no_shots_and_moves_the_loss(tmp_path, capsys):
    from qmlstudio.cli import main
    from qmlstudio.core.project import load_project

    path = tmp_path / "noisy.qmls"
    assert main(["new", str(path), "--dataset", "iris", "--backend", "noisy-exact:fake_manila", "--epochs", "3",
                 "--model-option", "baselines=false"]) == 0
    assert main(["train", str(path)]) == 0
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow.cost import describe_cost, estimate_cost

    project = load_project(path)
    cost = estimate_cost(project, load_plugins())
    assert cost["exact"] and cost["total_shots"] == 0 and cost["total_circuits"] == 0
    assert "exact simulation, no shots" in describe_cost(cost)
    run = project.runs[-1]
    assert run.status == "completed" and run.config["backend"]["name"] == "noisy-exact"
    losses = [v for v in run.metrics["loss"] if v is not None]
    assert losses[-1] < losses[0]


def test_fusing_constant_rotations_and_neighbouring_channels_changes_nothing_but_the_step_count():
    backend, noise_model = _device("fake_nairobi")
    theta = ParameterVector("θ", 4)
    circuit = QuantumCircuit(4)
    for q in range(4):
        circuit.h(q)
        circuit.ry(theta[q], q)
    for q in range(3):
        circuit.cx(q, q + 1)
    circuit.rzz(0.4, 0, 3)
    circuit.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(circuit)
    program, angles, active, measured = noisy_program(isa, noise_model)
    constants = {a: float(angle) for a, angle in enumerate(angles) if not getattr(angle, "parameters", None)}
    fused = program.fused(constants)
    assert len(fused.operations) < len(program.operations) - len(constants) // 2
    values = np.random.default_rng(5).uniform(-np.pi, np.pi, size=(3, 4))
    table = np.array([[float(a.bind({p: row[p.index] for p in a.parameters})) if getattr(a, "parameters", None)
                       else float(a) for a in angles] for row in values])
    np.testing.assert_allclose(fused.states(table), program.states(table), atol=1e-12)


def test_the_batch_split_across_threads_gives_the_same_numbers_bit_for_bit():
    run = _iris_run()
    evaluator = run.evaluator
    weights = run.initial_parameters()[: run.model.num_weights]
    inputs = run.train_inputs[:7]
    results = []
    for threads in (1, 2, 3):
        evaluator.threads = threads
        values, pullback = evaluator.values_and_pullback(weights, inputs)
        results.append((values, pullback(np.ones_like(values)), evaluator.values(weights, inputs)))
    for values, gradient, plain in results[1:]:
        np.testing.assert_array_equal(values, results[0][0])
        np.testing.assert_array_equal(gradient, results[0][1])
        np.testing.assert_array_equal(plain, results[0][2])


def test_a_small_memory_budget_splits_the_batch_and_recomputes_with_the_same_numbers():
    from qmlstudio.core.errors import QMLStudioError as Refused
    run = _iris_run()
    evaluator = run.evaluator
    weights = run.initial_parameters()[: run.model.num_weights]
    inputs = run.train_inputs[:9]
    values, pullback = evaluator.values_and_pullback(weights, inputs)
    gradient = pullback(np.ones_like(values))
    per_sample = evaluator._sample_bytes(True)
    evaluator.memory_budget = 2 * per_sample  # two samples at a time, nothing kept for the pullback
    assert len(evaluator._parts(9, gradient=True)) == 5
    small_values, small_pullback = evaluator.values_and_pullback(weights, inputs)
    np.testing.assert_array_equal(small_values, values)
    np.testing.assert_array_equal(small_pullback(np.ones_like(values)), gradient)
    evaluator.memory_budget = per_sample - 1
    with pytest.raises(Refused, match=r"one sample needs .* use fewer qubits"):
        evaluator.values_and_pullback(weights, inputs)


def test_a_noise_model_without_the_tables_it_reads_is_refused_not_run_noiseless():
    backend, _ = _device("fake_manila")
    circuit = QuantumCircuit(1)
    circuit.sx(0)
    circuit.measure_all()
    isa = generate_preset_pass_manager(optimization_level=1, backend=backend, seed_transpiler=0).run(circuit)

    class Renamed:  # a later qiskit-aer that keeps its errors elsewhere
        pass

    with pytest.raises(QMLStudioError, match="use aer-noise"):
        noisy_program(isa, Renamed())
