"""Error mitigation that is applied (#18 point 3 and 4): readout mitigation with mthree on the
sampled counts and zero-noise extrapolation with mitiq, each checked against an independent
construction, and the evaluation that reports raw and mitigated figures from the same shots,
with intervals over shots and the shift of the class probabilities against the exact simulator."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")
pytest.importorskip("mthree")
pytest.importorskip("mitiq")

from qiskit import QuantumCircuit  # noqa: E402
from qiskit.quantum_info import Operator  # noqa: E402
from qiskit.transpiler import generate_preset_pass_manager  # noqa: E402

from qmls_aer.noisy_exact import noisy_program  # noqa: E402

from qmlstudio.plugins.manager import load_plugins  # noqa: E402
from qmlstudio.workflow.backends import create_backend, backend_choice  # noqa: E402


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


@pytest.fixture(scope="module")
def trained(registry, tmp_path_factory):
    """iris (4 qubits) trained exactly for a few epochs: the model every evaluation here uses."""
    from qmlstudio.core.project import save_project
    from qmlstudio.workflow import new_project
    from qmlstudio.workflow.runs import build_run

    project = new_project(registry, name="m", dataset="iris", epochs=6, seed=3, model_options={"baselines": False})
    project.add_run(build_run(project, registry).run())
    path = tmp_path_factory.mktemp("mitigation") / "iris.qmls"
    save_project(project, path)
    return project, path


# ------------------------------------------------------------------ zero-noise extrapolation
@pytest.mark.parametrize("method, degree", [("richardson", None), ("linear", 1)])
@pytest.mark.parametrize("scales", [(1.0, 3.0, 5.0), (1.0, 2.0, 3.0, 4.0)])
def test_extrapolation_equals_mitiq_and_a_polynomial_fit(registry, method, degree, scales):
    """The batched extrapolation equals mitiq's ``extrapolate`` called value by value, and an
    independent least-squares polynomial through the points evaluated at 0."""
    from mitiq.zne.inference import LinearFactory, RichardsonFactory
    from qmls_aer.mitigation import ZeroNoiseExtrapolation

    backend = create_backend(registry, backend_choice(registry, "noisy-exact:fake_manila"))
    zne = ZeroNoiseExtrapolation(backend.device_model, method, scales, "global", seed=1)
    values = [np.random.default_rng(int(s)).uniform(-1, 1, (7, 3)) for s in scales]
    got = zne.extrapolate(values)
    factory = RichardsonFactory if method == "richardson" else LinearFactory
    for r in range(7):
        for k in range(3):
            points = [float(v[r, k]) for v in values]
            assert got[r, k] == pytest.approx(factory.extrapolate(list(scales), points), abs=1e-12)
            fit = np.polyfit(scales, points, len(scales) - 1 if degree is None else degree)
            assert got[r, k] == pytest.approx(fit[-1], abs=1e-9)


def _isa(backend) -> QuantumCircuit:
    circuit = QuantumCircuit(3)
    circuit.ry(0.4, 0)
    circuit.cx(0, 1)
    circuit.rx(1.1, 2)
    circuit.cx(1, 2)
    circuit.rz(0.3, 1)
    circuit.measure_all()
    return generate_preset_pass_manager(optimization_level=1, backend=backend.device_model,
                                        seed_transpiler=0).run(circuit)


@pytest.mark.parametrize("folding", ["global", "gates"])
def test_a_folded_circuit_is_the_same_unitary_in_the_device_basis_with_more_noise(registry, folding):
    """mitiq's folding at 3 leaves the unitary as it was (qiskit ``Operator``), uses only the
    device's basis gates, holds about 3 times the gates, and under the noise model moves the
    probabilities further from the noiseless ones than the circuit itself."""
    from qmls_aer.mitigation import ZeroNoiseExtrapolation

    backend = create_backend(registry, backend_choice(registry, "noisy-exact:fake_manila"))
    zne = ZeroNoiseExtrapolation(backend.device_model, "richardson", (1.0, 3.0), folding, seed=5)
    isa = _isa(backend)
    folded = zne.fold(isa, 3.0, 0)
    assert set(folded.count_ops()) <= set(backend.device_model.operation_names) | {"measure", "barrier"}
    assert Operator(folded.remove_final_measurements(inplace=False)).equiv(Operator(isa.remove_final_measurements(inplace=False)))
    gates = lambda c: sum(n for name, n in c.count_ops().items() if name in ("sx", "x", "cx", "ecr"))  # noqa: E731
    assert 2.5 * gates(isa) <= gates(folded) <= 3.5 * gates(isa)

    def gate_noise(circuit, noise=True):  # readout errors left out: folding scales the gates' noise only
        program, angles, _, measured = noisy_program(circuit, backend.noise_model() if noise else None)
        program.readout.clear()
        return program.probabilities(np.array([[float(a) for a in angles]]), measured)[0]

    ideal = gate_noise(isa, noise=False)
    assert np.abs(gate_noise(folded) - ideal).sum() > 2 * np.abs(gate_noise(isa) - ideal).sum()


# ------------------------------------------------------------------ readout mitigation
def test_readout_correction_equals_the_inverse_of_the_calibrated_assignment_matrix(registry):
    """With every outcome present, M3's correction is the full assignment matrix (the Kronecker
    product of mthree's calibrated per-qubit matrices, qubit 0 the lowest bit) inverted: a
    distribution built as A·q comes back as q."""
    backend = create_backend(registry, backend_choice(registry, "aer-noise:fake_manila,seed=2,calibration_shots=4000"))
    isa = _isa(backend)
    readout = backend._readout_mitigation(isa)  # mthree calibrated on Aer with the noise model
    assert len(readout.qubits) == 3 and readout.circuits >= 2
    matrices = [np.asarray(m, dtype=float) for m in readout.mitigator.cals_to_matrices()]
    assignment = np.ones((1, 1))
    for q in reversed(readout.qubits):  # the highest bit first: kron(A_q2, A_q1, A_q0)
        assignment = np.kron(assignment, matrices[q])
    rng = np.random.default_rng(3)
    truth = rng.dirichlet(np.ones(8) * 3, size=4) * 0.7 + 0.3 / 8  # every outcome present
    measured = truth @ assignment.T
    shots = 10**7
    got = readout.correct(measured, shots)
    np.testing.assert_allclose(got, truth, atol=2e-5)
    np.testing.assert_allclose(got, np.linalg.solve(assignment, measured.T).T, atol=2e-5)


# ------------------------------------------------------------------ the evaluation
def test_mitigated_probabilities_are_closer_to_the_exact_ones_than_the_raw_ones(registry, trained):
    """On fake_manila, a model trained exactly: the mean |Δp| of the class probabilities against
    the exact simulator drops with readout mitigation (aer-noise, sampled counts) and with
    zero-noise extrapolation (noisy-exact: exact noisy probabilities, so the drop is ZNE's own)."""
    from qmlstudio.workflow.evaluation import evaluate_weights

    project, _ = trained
    counted = evaluate_weights(project, registry, "last", "aer-noise:fake_manila,shots=8192,seed=4,measure_mitigation=true",
                               bootstrap=30)
    raw, readout = counted.metrics["raw"], counted.metrics["readout"]
    assert readout["mean_abs_dp"] < 0.7 * raw["mean_abs_dp"], counted.metrics
    for figures in (raw, readout):  # intervals over shots: narrow at 8192 shots, around the figure measured
        low, high = figures["loss_ci95"]
        assert low < high < low + 0.05 and low - 0.01 <= figures["loss"] <= high + 0.01
        assert 0 <= figures["accuracy_ci95"][0] <= figures["accuracy_ci95"][1] <= 1
    assert counted.cost["calibration_circuits"] >= 2 and counted.cost["shots"] == 8192 * counted.cost["circuits"]
    assert counted.backend_applied["mitigation"]["readout"]["library"] == "mthree"

    exact = evaluate_weights(project, registry, "last", "noisy-exact:fake_manila,zne=richardson")
    raw, zne = exact.metrics["raw"], exact.metrics["zne"]
    assert zne["mean_abs_dp"] < 0.8 * raw["mean_abs_dp"], exact.metrics
    assert raw["accuracy_ci95"] is None  # exact probabilities: no shot noise to bound
    assert exact.cost == {"circuits": 3 * len(project_test_targets(project, registry)), "shots": 0,
                          "bootstrap_replicates": 0}
    assert exact.backend_applied["mitigation"]["zne"] == {"library": "mitiq", "extrapolation": "richardson",
                                                          "scales": [1.0, 3.0, 5.0], "folding": "fold_global"}


def project_test_targets(project, registry):
    from qmlstudio.workflow.runs import build_run, find_run, project_for_run

    return build_run(project_for_run(project, find_run(project, "last")), registry, evaluating=True).data.y_test


def test_the_cli_reports_raw_and_mitigated_figures_and_saves_them(trained, tmp_path, capsys):
    """``qmlstudio evaluate --json``: the figures by name with their intervals and the cost; the
    project file keeps them and opens again; the text form prints a line for each."""
    import shutil

    from qmlstudio.cli import main
    from qmlstudio.core.project import load_project

    _, source = trained
    path = tmp_path / "iris.qmls"
    shutil.copy(source, path)
    choice = "noisy-exact:fake_manila,shots=2000,seed=1,measure_mitigation=true,calibration_shots=2000"
    capsys.readouterr()
    assert main(["evaluate", str(path), "--json", "--bootstrap", "20", "--backend", choice]) == 0
    out, err = capsys.readouterr()
    line = json.loads(out.strip().splitlines()[-1])
    rows, calibration = line["cost"]["circuits"], line["cost"]["calibration_circuits"]
    assert (f"plan: {rows} test samples: {rows} circuits × 2,000 shots, + {calibration} calibration circuits × "
            f"2,000 shots (mthree): {rows + calibration} circuits, {2000 * (rows + calibration):,} shots") in err, err
    assert set(line["metrics"]) == {"raw", "readout"}
    for figures in line["metrics"].values():
        assert set(figures) == {"loss", "accuracy", "mean_abs_dp", "loss_ci95", "accuracy_ci95"}
    assert line["loss"] == line["metrics"]["raw"]["loss"]
    assert line["cost"]["shots"] == 2000 * line["cost"]["circuits"]
    assert line["cost"]["calibration_shots"] == 2000 * line["cost"]["calibration_circuits"]
    saved = load_project(path).runs[-1].evaluations[-1]
    assert saved["metrics"]["readout"]["mean_abs_dp"] == pytest.approx(line["metrics"]["readout"]["mean_abs_dp"])
    assert main(["evaluate", str(path), "--no-save", "--bootstrap", "10", "--backend", choice]) == 0
    out = capsys.readouterr().out
    assert "readout-mitigated (mthree)" in out and "mean |Δp| vs exact" in out
    assert "calibration" in out and "bootstrap of the measured counts" in out
    assert main(["evaluate", str(path), "--bootstrap", "5", "--backend", choice]) == 1
    assert "--bootstrap must be between 10 and 100000" in capsys.readouterr().err


def test_training_with_mitigation_is_refused_before_anything_runs(registry, trained, tmp_path):
    """Mitigation applies when a trained run is evaluated: a training run asking for it is
    refused with the reason (never recorded as if applied); so are shots on noisy-exact."""
    import shutil
    import subprocess
    import sys

    from qmlstudio.core.errors import QMLStudioError
    from qmlstudio.workflow.runs import build_run

    project, source = trained
    for choice, words in (("aer-noise:fake_manila,measure_mitigation=true", "applied when a trained run is evaluated"),
                          ("noisy-exact:fake_manila,zne=linear", "applied when a trained run is evaluated"),
                          ("noisy-exact:fake_manila,shots=100", "exact probabilities and exact gradients")):
        with pytest.raises(QMLStudioError, match=words):
            build_run(project, registry, backend=choice, epochs=1)
    path = tmp_path / "iris.qmls"
    shutil.copy(source, path)
    done = subprocess.run([sys.executable, "-m", "qmlstudio", "train", str(path), "--epochs", "1", "--backend",
                           "aer-noise:fake_manila,zne=richardson"], capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "applied when a trained run is evaluated" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


# ------------------------------------------------------------------ on the IBM backend
def test_the_ibm_backend_applies_the_same_mitigations_in_its_local_mode(registry, trained):
    """``ibm`` offers the same options: in the local testing mode mthree is calibrated on Aer with
    the fake device's noise model (seeded), the folded circuits go through the runtime's Sampler
    like the raw ones, and the figures come out as on aer-noise: readout mitigation brings the
    class probabilities closer to the exact ones."""
    from qmlstudio.workflow.evaluation import evaluate_weights

    project, _ = trained
    choice = ("ibm:fake_manila,channel=local,shots=8192,seed=6,measure_mitigation=true,calibration_shots=4000,"
              "zne=linear,zne_scales=1/3")
    plans: list[dict] = []
    first = evaluate_weights(project, registry, "last", choice, bootstrap=10, on_plan=plans.append)
    assert set(first.metrics) == {"raw", "readout", "zne", "readout+zne"}
    (plan,) = plans  # said before it ran, and what it ran
    assert plan["circuits"] + plan["zne_circuits"] == first.cost["circuits"]
    assert plan["calibration_circuits"] == first.cost["calibration_circuits"]
    assert plan["total_shots"] == first.cost["shots"] + first.cost["calibration_shots"]
    assert first.metrics["readout"]["mean_abs_dp"] < 0.7 * first.metrics["raw"]["mean_abs_dp"], first.metrics
    rows = len(project_test_targets(project, registry))
    assert first.cost["circuits"] == 2 * rows and first.cost["shots"] == 8192 * 2 * rows
    assert first.cost["calibration_shots"] == 4000 * first.cost["calibration_circuits"]
    applied = first.backend_applied["mitigation"]
    assert applied["readout"]["calibration_shots"] == 4000 and applied["zne"]["scales"] == [1.0, 3.0]
    assert first.seeds["backend_shots"] == 6  # the local simulator and the calibration, recorded


def test_on_hardware_mthree_calibrates_on_the_device_in_the_runs_batch(registry):
    """Off the local mode the calibration circuits run on the device itself, in the run's Batch
    (a fake device stands for the hardware behind a service object; the runtime's Batch and
    mthree are the real ones)."""
    from qiskit_ibm_runtime.fake_provider import FakeManilaV2

    from qmls_aer.mitigation import ReadoutMitigation
    from qmls_ibm.backend import IbmBackend

    device = FakeManilaV2()

    class Service:
        def backend(self, name):
            assert name == "ibm_manila"
            return device

    backend = IbmBackend("ibm_manila", service=Service(), measure_mitigation=True, calibration_shots=500)
    calls = []
    original = ReadoutMitigation.__init__

    def spy(self, system, isa, shots, runtime_mode=None):
        calls.append((system, shots, runtime_mode))
        original(self, system, isa, shots, runtime_mode)

    ReadoutMitigation.__init__ = spy
    try:
        isa = backend.pass_manager().run(_circuit())
        readout = backend._readout_mitigation(isa)
    finally:
        ReadoutMitigation.__init__ = original
        backend.close()
    (system, shots, mode), = calls
    assert system is device and shots == 500 and type(mode).__name__ == "Batch"
    assert readout.qubits == _measured_qubits_of(isa) and len(readout.mitigator.single_qubit_cals) == 5
    assert all(readout.mitigator.single_qubit_cals[q] is not None for q in readout.qubits)


def _circuit():
    circuit = QuantumCircuit(2)
    circuit.h(0)
    circuit.cx(0, 1)
    circuit.measure_all()
    return circuit


def _measured_qubits_of(isa):
    from qmls_aer.mitigation import _measured_qubits

    return _measured_qubits(isa)
