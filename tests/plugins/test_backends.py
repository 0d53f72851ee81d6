"""The Aer backends (plugins/qmls_aer): exact, shots and device noise models, GPU reasons,
backend choices, transpiled figures and the cost of a run, each checked against an
independent reference (the exact evaluator, the real fake_provider, the engine's own count)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

import qmls_aer  # noqa: E402
from qmls_aer import gpu  # noqa: E402

from qmlstudio.core.circuit import CircuitDesign, Gate  # noqa: E402
from qmlstudio.core.errors import OptionError, QMLStudioError  # noqa: E402
from qmlstudio.core.models import ExactEvaluator, PrimitiveEvaluator  # noqa: E402
from qmlstudio.core.project import ModelChoice, PluginChoice, Training, load_project, save_project  # noqa: E402
from qmlstudio.core.statevector import z_diagonal  # noqa: E402
from qmlstudio.core.training import Controls  # noqa: E402
from qmlstudio.plugins import Backend, BackendSpec  # noqa: E402
from qmlstudio.plugins.manager import load_plugins  # noqa: E402
from qmlstudio.workflow import (  # noqa: E402
    backend_choice,
    build_run,
    create_backend,
    estimate_cost,
    exact_plan,
    format_backend_choice,
    new_project,
    parse_backend_choice,
    run_cost,
    transpiled_figures,
)

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "resources" / "demo.qmls"
SPECS = {spec.name: spec for spec in qmls_aer.qmlstudio_backends()}


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def demo_for_shots(optimizer: str = "spsa"):
    """The demo project, trained one epoch (4 mini-batches of its 110 training rows; 40 are
    for validation, 50 for the test) with a gradient-free optimizer, evaluating once per
    epoch: what a shot-based backend is used with."""
    project = load_project(DEMO)
    project.optimizer = PluginChoice(optimizer, {"learning_rate": 0.3} if optimizer == "spsa" else {})
    project.model = ModelChoice("vqc", {"eval_every": 0, "baselines": False})
    project.training = Training(epochs=1, batch_size=32)
    return project


def small_project(registry, **settings):
    options = dict(name="s", dataset="moons", dataset_options={"samples": 40}, ansatz_options={"reps": 1},
                   optimizer="adam", epochs=1, batch_size=10, seed=7, validation_size=0.0)
    options.update(settings)
    project = new_project(registry, **options)
    project.model = ModelChoice("vqc", {"baselines": False})
    return project


# --------------------------------------------------------------- descriptors
def test_hook_qmlstudio_backends():
    specs = qmls_aer.qmlstudio_backends()
    assert [s.name for s in specs] == ["aer-statevector", "aer-shots", "aer-noise", "noisy-exact"]
    assert all(isinstance(s, BackendSpec) and s.problems() == [] for s in specs)
    assert [s.positional for s in specs] == [None, "shots", "fake_backend", "fake_backend"]
    # noisy-exact runs in QML Studio's own density-matrix simulator: Aer's precision and device do not apply
    assert not {"precision", "device"} & {o.name for o in specs[3].options}
    # its shots are optional (drawn from the exact probabilities when a run is evaluated): none by default
    shots = next(o for o in specs[3].options if o.name == "shots")
    assert shots.default is None and shots.nullable
    for spec in specs[:3]:
        assert spec.unavailable_reason() is None
        assert {"precision", "device", "seed"} <= {o.name for o in spec.options}
        device = next(o for o in spec.options if o.name == "device")
        assert device.choices == ("CPU", "GPU") and device.default == "CPU"
        assert spec.to_dict()["positional"] == spec.positional
    shots = SPECS["aer-shots"].create({"shots": 300, "seed": 1})
    assert isinstance(shots, Backend) and not shots.exact and shots.shots == 300
    noise = SPECS["aer-noise"].create({"fake_backend": "fake_lima"})
    assert not noise.exact and noise.shots == 1024 and noise.num_device_qubits == 5
    assert "fake_lima" in noise.describe()


def test_fake_device_list_matches_the_installed_fake_provider():
    from qiskit_ibm_runtime.fake_provider import FakeProviderForBackendV2

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # some snapshots note that they are not typical
        real = {b.name for b in FakeProviderForBackendV2().backends()} - {"fake_fractional"}
    assert set(qmls_aer.FAKE_DEVICES) == real
    rows = {row["name"]: row for row in qmls_aer.describe_devices()}
    assert set(rows) == real and not [r for r in rows.values() if r["problem"]]
    assert rows["fake_manila"]["qubits"] == 5 and rows["fake_manila"]["two_qubit_gates"] == ["cx"]
    assert rows["fake_brisbane"]["qubits"] == 127 and "ecr" in rows["fake_brisbane"]["basis_gates"]
    from qmls_aer.devices import fake_backend, two_qubit_gates

    for name in ("fake_manila", "fake_torino", "fake_yorktown"):
        device = fake_backend(name)
        assert device.name == name and rows[name]["qubits"] == device.num_qubits
        assert rows[name]["two_qubit_gates"] == two_qubit_gates(device)


def test_a_backend_whose_dependency_is_missing_is_listed_unavailable(monkeypatch, registry):
    real = importlib.util.find_spec

    def without(*missing):
        monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name in missing else real(name, *a))

    without("qiskit_ibm_runtime")
    assert "qiskit-ibm-runtime is not installed" in SPECS["aer-noise"].unavailable_reason()
    assert SPECS["aer-shots"].unavailable_reason() is None
    listed = {s.name: s.to_dict()["unavailable"] for s in registry.specs("backends").values()}
    assert "qiskit-ibm-runtime" in listed["aer-noise"] and "qiskit-ibm-runtime" in listed["ibm"]
    with pytest.raises(QMLStudioError, match="cannot be used here: qiskit-ibm-runtime is not installed"):
        backend_choice(registry, "aer-noise:fake_manila")
    without("qiskit_aer")
    for name in ("aer-statevector", "aer-shots", "aer-noise"):
        assert "qiskit-aer is not installed" in SPECS[name].unavailable_reason()


# ------------------------------------------------------------------- GPU
def test_gpu_is_offered_but_refused_with_the_reason_on_a_cpu_build():
    choices, reasons = qmls_aer.device_options()
    assert choices == ("CPU", "GPU") and reasons["CPU"] is None
    from qiskit_aer import AerSimulator

    if "GPU" in AerSimulator().available_devices():
        pytest.skip("this machine simulates on a GPU")
    assert "built without GPU support" in reasons["GPU"]
    for name in set(SPECS) - {"noisy-exact"}:  # which has no device option: it is not Aer's simulator
        with pytest.raises(OptionError, match="GPU cannot be used here: qiskit-aer was built without GPU support"):
            SPECS[name].create({"device": "GPU"})


def test_gpu_reasons_follow_what_aer_reports(monkeypatch):
    from qiskit_aer import AerSimulator

    gpu.gpu_unavailable_reason.cache_clear()
    monkeypatch.setattr(AerSimulator, "available_devices", lambda self: ("CPU", "GPU"))
    try:
        assert qmls_aer.device_options()[1]["GPU"] is None
        backend = SPECS["aer-shots"].create({"device": "GPU", "precision": "single"})
        assert backend.simulator_options()["device"] == "GPU"
        assert "max_parallel_experiments" not in backend.simulator_options()
        gpu.gpu_unavailable_reason.cache_clear()
        monkeypatch.setattr(AerSimulator, "available_devices", lambda self: ("CPU",))
        monkeypatch.setattr(gpu, "_gpu_build_installed", lambda: True)
        assert "no GPU found" in qmls_aer.device_options()[1]["GPU"]
    finally:
        gpu.gpu_unavailable_reason.cache_clear()


# ------------------------------------------------------- transpiling, noise
def star_design() -> CircuitDesign:
    """Qubit 0 talks to both others: on a line of qubits it cannot sit at the end, so the
    layout is never the trivial one."""
    gates = [Gate("ry", (q,), (f"x[{q}]",), column=0) for q in range(3)]
    gates += [Gate("ry", (q,), (f"θ[{q}]",), column=1) for q in range(3)]
    gates += [Gate("cx", (0, 1), column=2), Gate("cx", (0, 2), column=3), Gate("ry", (1,), ("θ[3]",), column=4),
              Gate("rz", (2,), ("θ[4]",), column=4), Gate("cx", (2, 0), column=5), Gate("ry", (0,), ("θ[5]",), column=6)]
    return CircuitDesign(3, gates)


def test_measurements_follow_the_virtual_qubits_through_a_non_trivial_layout():
    design = star_design()
    observables = np.stack([z_diagonal(3, [q]) for q in range(3)])
    backend = SPECS["aer-noise"].create({"fake_backend": "fake_manila", "noise": False, "shots": 20_000, "seed": 5})
    evaluator = PrimitiveEvaluator(design, observables, backend)
    layout = evaluator.circuit.layout.initial_index_layout()[:3]
    assert layout[0] not in (0, 4), layout  # the middle of manila's line
    assert evaluator.circuit.num_qubits == 5 and set(evaluator.circuit.count_ops()) <= {"rz", "sx", "x", "cx",
                                                                                        "measure", "barrier"}
    rng = np.random.default_rng(2)
    weights, inputs = rng.uniform(-np.pi, np.pi, 6), rng.uniform(-np.pi, np.pi, (6, 3))
    exact = ExactEvaluator(design, observables).values(weights, inputs)
    sampled = evaluator.values(weights, inputs)
    assert np.max(np.abs(sampled - exact)) < 0.05  # 5σ of 20 000 shots
    assert np.std(exact) > 0.2, "values that hardly vary would prove little"


def test_device_noise_pulls_expectation_values_towards_zero_reproducibly(registry):
    run = build_run(load_project(DEMO), registry, epochs=1)
    inputs = run.test_inputs
    weights = np.random.default_rng(4).uniform(-np.pi, np.pi, run.model.num_weights)
    observables = run.head.observables(run.model.num_qubits)
    exact = ExactEvaluator(run.model.design, observables).values(weights, inputs)

    def sampled(choice: str) -> np.ndarray:
        return PrimitiveEvaluator(run.model.design, observables, create_backend(registry, choice)).values(weights, inputs)

    noisy = sampled("aer-noise:fake_manila,seed=3,shots=2000")
    assert np.array_equal(noisy, sampled("aer-noise:fake_manila,seed=3,shots=2000"))
    assert not np.array_equal(noisy, sampled("aer-noise:fake_manila,seed=4,shots=2000"))
    shots_only = sampled("aer-shots:2000,seed=3")

    def polarization(values: np.ndarray) -> float:  # mean |P(class 0) − P(class 1)| = mean |⟨Z⟩|
        return float(np.mean(np.abs(values[:, 0] - values[:, 1])))

    assert abs(polarization(shots_only) - polarization(exact)) < 0.02  # shot noise alone does not shrink it
    assert polarization(noisy) < 0.95 * polarization(exact)  # depolarizing and readout errors do
    assert np.max(np.abs(shots_only - exact)) < 0.1  # 4.5σ of 2000 shots


def test_shot_estimator_drops_idle_qubits_of_a_wide_device():
    from qiskit import QuantumCircuit
    from qiskit.quantum_info import SparsePauliOp, Statevector

    backend = SPECS["aer-noise"].create({"fake_backend": "fake_brisbane", "noise": False, "shots": 10**6, "seed": 1})
    circuit = QuantumCircuit(2)
    circuit.ry(0.7, 0)
    circuit.cx(0, 1)
    circuit.ry(-0.4, 1)
    observable = SparsePauliOp.from_list([("ZZ", 1.0), ("IZ", 0.5)])
    isa = backend.pass_manager().run(circuit)
    assert isa.num_qubits == 127
    value = backend.estimator().run([(isa, observable.apply_layout(isa.layout))]).result()[0].data.evs
    assert float(value) == pytest.approx(Statevector(circuit).expectation_value(observable).real, abs=0.01)


def test_transpiled_figures_for_a_device(registry):
    design = star_design()
    ideal = transpiled_figures(design, create_backend(registry, "aer-statevector"))
    assert ideal["two_qubit"] == 3 and ideal["device_qubits"] == 3 and ideal["qubits_used"] == 3
    manila = transpiled_figures(design, create_backend(registry, "aer-noise:fake_manila"))
    assert manila["device_qubits"] == 5 and manila["qubits_used"] == 3
    assert manila["two_qubit"] >= 3 and manila["depth"] > ideal["depth"]
    assert len(manila["layout"]) == 3 and manila["layout"][0] not in (0, 4)
    assert transpiled_figures(CircuitDesign(2), create_backend(registry, "aer-noise:fake_manila"))["depth"] == 0


# ------------------------------------------------------------ backend choices
def test_backend_choice_syntax(registry):
    assert parse_backend_choice("aer-noise:fake_manila") == ("aer-noise", "fake_manila", {})
    assert parse_backend_choice(" aer-shots , shots=2000, seed=3 ") == ("aer-shots", None, {"shots": "2000", "seed": "3"})
    assert parse_backend_choice("ibm:ibm_brisbane,mode=batch") == ("ibm", "ibm_brisbane", {"mode": "batch"})
    noise = backend_choice(registry, "aer-noise:fake_lima,shots=2000,noise=false")
    assert noise.name == "aer-noise"
    assert noise.options == {**SPECS["aer-noise"].resolve({}), "fake_backend": "fake_lima", "shots": 2000, "noise": False}
    assert backend_choice(registry, "aer-shots:500").options["shots"] == 500
    base = PluginChoice("aer-noise", {**noise.options, "seed": 9})
    assert backend_choice(registry, "aer-noise:fake_quito", base=base).options["seed"] == 9
    assert backend_choice(registry, "aer-noise", base=base, shots=77).options["shots"] == 77
    assert format_backend_choice(noise, registry) == "aer-noise:fake_lima,shots=2000,noise=false"
    assert backend_choice(registry, format_backend_choice(noise, registry)) == noise
    for bad, message in [
        ("", "expected NAME"), ("aer-noise:", "nothing after ':'"), ("aer-statevector:x", "takes no ':ARG'"),
        ("statevector:x", "takes no ':ARG'"),
        ("aer-noise:fake_manilla", "did you mean fake_manila"), ("aer-shots,shots", "NAME=VALUE"),
        ("aer-noise:fake_lima,fake_backend=fake_lima", "given twice"), ("aer-shots,shots=0", "shots"),
        ("warp-drive", "unknown backend"),
    ]:
        with pytest.raises(QMLStudioError, match=message):
            backend_choice(registry, bad)
    with pytest.raises(QMLStudioError, match="exact and has no shots"):
        backend_choice(registry, "aer-statevector", shots=100)
    with pytest.raises(QMLStudioError, match="exact and has no shots"):
        backend_choice(registry, "statevector", shots=100)


def test_build_run_overrides_the_backend_for_one_run_only(registry):
    project = small_project(registry)
    run = build_run(project, registry, backend="aer-noise:fake_manila,seed=2")
    assert run.record.config["backend"]["name"] == "aer-noise"
    assert run.record.config["backend"]["options"]["seed"] == 2
    assert project.backend.name == "statevector"
    assert isinstance(run.evaluator, PrimitiveEvaluator) and run.backend.fake_backend == "fake_manila"


def test_threads_option_reaches_the_exact_engine(registry):
    assert backend_choice(registry, "statevector,threads=2").options["threads"] == 2
    default = backend_choice(registry, "statevector")
    assert default.options["threads"] is None and format_backend_choice(default, registry) == "statevector"
    project = small_project(registry)
    run = build_run(project, registry, backend="statevector,threads=1")
    assert run.evaluator.program.threads == 1
    assert run.record.config["backend"]["options"]["threads"] == 1
    assert build_run(project, registry).evaluator.program.threads == len(os.sched_getaffinity(0))
    # aer-statevector's threads are Aer's own, and Aer (not the engine) runs it
    aer = build_run(project, registry, backend="aer-statevector,threads=1")
    assert aer.backend.simulator_options()["max_parallel_threads"] == 1 and aer.evaluator.uses_estimator
    assert "max_parallel_threads" not in create_backend(registry, "aer-statevector").simulator_options()
    for bad in ("statevector,threads=0", "statevector,threads=two"):
        with pytest.raises(QMLStudioError, match="threads"):
            backend_choice(registry, bad)


def test_exact_plan_gives_memory_and_expected_seconds(registry):
    project = small_project(registry, epochs=3)
    run = build_run(project, registry, backend="statevector,threads=1")
    plan = exact_plan(run)
    cost = run_cost(run)
    assert plan["qubits"] == project.circuit.num_qubits and plan["threads"] == 1 and plan["batch"] == 10
    assert plan["state_bytes"] == run.evaluator.program.state_bytes(10) > 0
    assert plan["iterations"] == cost["iterations"] == 9 and plan["evaluations"] == cost["evaluations"]
    total = plan["iterations"] * plan["step_seconds"] + plan["evaluations"] * plan["evaluation_seconds"]
    assert plan["total_seconds"] == pytest.approx(total) and plan["step_seconds"] > 0
    assert plan["seconds_per_iteration"] == pytest.approx(total / 9) and plan["long"] is False
    assert exact_plan(build_run(project, registry, backend="aer-shots,shots=10")) is None


# ------------------------------------------------------------ training, cost
@pytest.mark.parametrize("choice", ["statevector", "aer-statevector", "aer-shots,shots=512,seed=1",
                                    "aer-noise:fake_manila,seed=1"])
def test_each_aer_backend_trains_the_demo_model(registry, choice):
    project = demo_for_shots()
    reports = []
    run = build_run(project, registry, backend=choice, callback=reports.append)
    record = run.run()
    assert record.status == "completed", record.message
    assert [r.iteration for r in reports] == [1, 2, 3, 4]
    assert all(np.isfinite(r.loss) for r in reports)
    assert 0.4 <= record.test["accuracy"] <= 1.0 and reports[-1].test_accuracy is None  # scored after the last
    assert record.config["backend"]["name"] == choice.split(",")[0].split(":")[0]
    if choice in ("statevector", "aer-statevector"):
        assert reports[-1].shots == 0 and run.evaluator.exact == (choice == "statevector")
    else:  # 2 SPSA evaluations of each of the 110 training samples, the training and validation splits, then the test split once
        assert run.evaluator.shots_used == run_cost(run)["total_shots"] == (2 * 110 + 110 + 40 + 50) * run.backend.shots
        assert reports[-1].shots == (2 * 110 + 110 + 40) * run.backend.shots  # the test split runs after the last report


def test_cost_estimate_matches_the_shots_the_engine_spends(registry):
    project = small_project(registry, backend="aer-shots", backend_options={"shots": 100, "seed": 4})
    cost = estimate_cost(project, registry)
    design = project.circuit
    shifted = sum(2 for g in design.ordered_gates for p in g.params if not p.is_constant and p.weights)
    assert cost["training_circuits_per_iteration"] == 10 * (1 + shifted)
    # each evaluation: the 30 training rows (no validation split); the 10 test rows once, at the end
    assert cost["circuits_per_iteration"] == 10 * (1 + shifted) + 30 and cost["iterations"] == 3
    reports = []
    run = build_run(project, registry, callback=reports.append)
    record = run.run()
    assert record.status == "completed"
    assert run.evaluator.shots_used == cost["total_shots"] == cost["total_circuits"] * 100
    assert reports[-1].shots == cost["total_shots"] - 10 * 100  # the 10 test rows run after the last report
    assert estimate_cost(project, registry, "statevector")["total_circuits"] == 0
    exact_aer = estimate_cost(project, registry, "aer-statevector")  # Aer's estimator: circuits, no shots
    assert exact_aer["total_shots"] == 0 and exact_aer["total_circuits"] == cost["total_circuits"]
    # twice the epochs: twice the training and evaluations, the test rows still once
    assert estimate_cost(project, registry, "aer-shots:7", epochs=2)["total_shots"] == (2 * cost["total_circuits"] - 10) * 7


def test_stop_reaches_the_backend(registry):
    calls = []

    class Recording(Backend):
        exact = True

        def estimator(self):  # pragma: no cover - not used
            raise NotImplementedError

        def sampler(self):  # pragma: no cover - not used
            raise NotImplementedError

        def cancel(self):
            calls.append("cancel")

        def close(self):
            calls.append("close")

    controls = Controls()
    run = build_run(small_project(registry), registry, controls=controls)
    run.backend = Recording()
    run.callback = lambda report: controls.cancel()
    record = run.run()
    assert record.status == "stopped" and calls == ["cancel", "close"]
    assert controls._cancel_hooks == []  # the run's hook is removed when it ends


# ---------------------------------------------------------------------- CLI
def test_cli_trains_on_a_device_noise_model(tmp_path, registry):
    path = tmp_path / "noisy.qmls"
    project = small_project(registry, batch_size=0, epochs=3, dataset_options={"samples": 24})
    save_project(project, path)
    env = {k: v for k, v in os.environ.items() if k != "QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD"}
    done = subprocess.run(
        [sys.executable, "-m", "qmlstudio", "train", str(path), "--backend", "aer-noise:fake_manila", "--epochs", "5",
         "--json"],
        capture_output=True, text=True, timeout=240, env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "plan: aer-noise:" in done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    plan, last = rows[0], rows[-1]
    iterations = [r for r in rows[1:-1] if "event" not in r]  # not the "autosave" events
    assert plan["event"] == "plan" and plan["iterations"] == 5 and plan["shots_per_circuit"] == 1024
    assert [r["iteration"] for r in iterations] == [1, 2, 3, 4, 5]
    assert last["event"] == "done" and last["status"] == "completed"
    assert last["shots"] == plan["total_shots"]
    assert iterations[-1]["shots"] == plan["total_shots"] - 6 * 1024  # the 6 test rows run once, after training
    saved = load_project(path)
    assert saved.backend.name == "statevector"  # the project's own choice is kept
    assert saved.runs[-1].config["backend"] == {"name": "aer-noise", "options": SPECS["aer-noise"].resolve({})}


def test_device_noise_picks_the_exact_noisy_simulator_up_to_ten_qubits(tmp_path, registry, capsys):
    """``--noise DEVICE`` (new and train): noisy-exact for a circuit of at most 10 qubits, said on
    stderr and recorded in the run; aer-noise above, with the reason; never with --backend."""
    from qmlstudio.cli import main
    from qmlstudio.workflow import NOISY_EXACT_QUBITS, noisy_training_choice

    path = tmp_path / "m.qmls"
    assert main(["new", str(path), "--dataset", "moons", "--noise", "fake_manila", "--epochs", "2"]) == 0
    assert "noise: noisy-exact: fake_manila's noise model simulated exactly" in capsys.readouterr().err
    project = load_project(path)
    assert project.backend.name == "noisy-exact" and project.backend.options["fake_backend"] == "fake_manila"
    assert main(["train", str(path), "--noise", "fake_lima", "--json"]) == 0
    assert "noise: noisy-exact: fake_lima" in capsys.readouterr().err
    run = load_project(path).runs[-1]
    assert run.status == "completed" and run.config["backend"]["name"] == "noisy-exact"
    assert run.config["backend"]["options"]["fake_backend"] == "fake_lima"
    assert main(["train", str(path), "--noise", "fake_lima", "--backend", "aer-noise:fake_lima"]) == 1
    assert "not both" in capsys.readouterr().err
    runs = len(load_project(path).runs)
    assert main(["train", str(path), "--backend", "aer-noise:fake_armonk"]) == 1  # a device too small, named
    assert "its device has 1 qubit and the circuit needs 2" in capsys.readouterr().err
    assert len(load_project(path).runs) == runs

    base = PluginChoice("noisy-exact", {"fake_backend": "fake_manila", "seed": 4, "optimization_level": 2})
    choice, why = noisy_training_choice(registry, "fake_brisbane", NOISY_EXACT_QUBITS + 1, base=base)
    assert choice.name == "aer-noise" and choice.options["fake_backend"] == "fake_brisbane"
    assert choice.options["seed"] == 4 and choice.options["optimization_level"] == 2
    assert f"{NOISY_EXACT_QUBITS + 1} qubits are more than the exact noisy simulator's {NOISY_EXACT_QUBITS}" in why
    choice, _ = noisy_training_choice(registry, "fake_guadalupe", NOISY_EXACT_QUBITS, base=base)
    assert choice.name == "noisy-exact" and choice.options["seed"] == 4
    with pytest.raises(QMLStudioError, match="fake_lima has 5 qubits and the circuit needs 10"):
        noisy_training_choice(registry, "fake_lima", NOISY_EXACT_QUBITS, base=base)
    assert main(["new", str(tmp_path / "w.qmls"), "--dataset", "iris", "--noise", "fake_armonk"]) == 1
    assert "fake_armonk has 1 qubit and the circuit needs 4" in capsys.readouterr().err
    assert not (tmp_path / "w.qmls").exists()
