"""Run records say what happened: the package versions behind the numbers, the seed each
random source actually used (also one drawn for an unseeded shot backend), and what the
backend applied."""

from __future__ import annotations

import importlib.metadata
import json

import pytest

from qmlstudio.core.project import ModelChoice, Project, RunRecord
from qmlstudio.core.training import package_versions
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, new_project


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def small(registry, **settings) -> Project:
    """A 24-sample moons classifier on 2 qubits, 1 epoch of SPSA (cheap on shot backends)."""
    options = dict(name="r", dataset="moons", dataset_options={"samples": 24}, encoding="angle",
                   ansatz="real-amplitudes", ansatz_options={"reps": 1}, optimizer="spsa", epochs=1,
                   batch_size=0, seed=5)
    options.update(settings)
    project = new_project(registry, **options)
    project.model = ModelChoice(project.model.kind, {"baselines": False, "eval_every": 0})
    return project


def test_versions_name_numba_and_qiskit_ibm_runtime():
    versions = package_versions()
    for name in ("numba", "qiskit-ibm-runtime", "qiskit", "qiskit-aer", "numpy"):
        assert versions[name] == importlib.metadata.version(name)


def test_an_unseeded_shot_backend_records_the_seed_it_drew_and_that_seed_repeats_the_run(registry):
    project = small(registry, backend="aer-shots", backend_options={"shots": 64})
    assert project.backend.options["seed"] is None
    first = build_run(project, registry).run()
    drawn = first.seeds["backend_shots"]
    assert isinstance(drawn, int) and first.seeds["split"] == 5 and first.seeds["initial_weights"] == 5
    assert first.seeds["optimizer"] == project.optimizer.options["seed"]
    assert first.backend_applied["shots"] == 64 and first.backend_applied["mitigation"] is None
    assert first.backend_applied["evaluator"] == "backend sampler (parameter-shift gradients)"
    again = build_run(project, registry, backend=f"aer-shots,shots=64,seed={drawn}").run()
    assert again.seeds["backend_shots"] == drawn
    assert again.metrics["loss"] == first.metrics["loss"]  # the recorded seed is the one used
    assert again.final_weights == first.final_weights
    other = build_run(project, registry)  # another unseeded run draws another seed
    assert other.backend.random_seeds()["shots"] != drawn
    assert RunRecord.from_dict(first.to_dict()).seeds == first.seeds  # saved and read back


def test_the_statevector_backend_records_the_engine_and_its_threads(registry):
    project = small(registry, optimizer="adam", backend="statevector", backend_options={"threads": 1})
    record = build_run(project, registry).run()
    assert record.backend_applied["evaluator"].startswith("exact statevector")
    assert record.backend_applied["precision"] == "double" and record.backend_applied["threads"] == 1
    assert "backend_shots" not in record.seeds and record.seeds["shuffle"] == 5


def test_aer_statevector_runs_aers_estimator_and_records_it(registry):
    """aer-statevector is no longer a second name for the engine: Aer's estimator runs, with
    parameter-shift gradients, and the record says so with the options Aer applied."""
    project = small(registry, optimizer="adam", backend="aer-statevector", backend_options={"precision": "single"})
    run = build_run(project, registry)
    assert run.evaluator.uses_estimator and run.evaluator.gradient_method == "parameter-shift"
    record = run.run()
    assert record.backend_applied["evaluator"] == "backend estimator (parameter-shift gradients)"
    assert record.backend_applied["simulator"] == "aer" and record.backend_applied["precision"] == "single"
    assert record.backend_applied["expectation_values"] == "exact"


def test_kernel_runs_record_versions_seeds_and_the_noisy_backend(registry):
    project = new_project(registry, name="k", dataset="ad-hoc", dataset_options={"training_size": 4, "test_size": 2},
                          encoding="zz-feature-map", model="kernel", backend="aer-noise",
                          backend_options={"shots": 64, "seed": 9}, seed=3)
    project.model = ModelChoice("kernel", {"baselines": False})
    record = build_run(project, registry).run()
    assert record.status == "completed", record.message
    assert record.versions["numba"] == importlib.metadata.version("numba")
    assert record.seeds["backend_shots"] == 9 and record.seeds["backend_transpiler"] == 9
    assert record.seeds["dataset"] == project.dataset.options["seed"]
    applied = record.backend_applied
    assert applied["evaluator"] == "backend sampler (compute-uncompute fidelities)"
    assert applied["fake_backend"] == "fake_manila" and applied["noise_model"] is True and applied["shots"] == 64


def test_a_resumed_segment_with_another_seed_keeps_both():
    record = RunRecord()
    record.record_seeds({"backend_shots": 11, "split": 7})
    record.record_seeds({"backend_shots": 11, "split": 7})
    assert record.seeds == {"backend_shots": 11, "split": 7}
    record.record_seeds({"backend_shots": 12, "hardware": None})
    assert record.seeds == {"backend_shots": [11, 12], "split": 7, "hardware": None}
    assert RunRecord.from_dict(record.to_dict()).seeds == record.seeds
    with pytest.raises(Exception, match="seeds.split"):
        RunRecord.from_dict({**record.to_dict(), "seeds": {"split": -1}})


def test_an_evaluation_records_the_seed_it_drew_and_what_was_applied(registry, tmp_path, capsys):
    from qmlstudio.cli import main
    from qmlstudio.core.project import load_project, save_project
    from qmlstudio.workflow import evaluate_run

    project = small(registry, optimizer="adam")
    project.add_run(build_run(project, registry).run())
    path = save_project(project, tmp_path / "e.qmls")
    project = load_project(path)
    first = evaluate_run(project, registry, "last", "aer-shots:64")
    entry = project.runs[-1].evaluations[-1]
    drawn = entry["seeds"]["backend_shots"]
    assert entry["options"]["seed"] is None and isinstance(drawn, int)  # not a bare null any more
    assert entry["backend_applied"]["shots"] == 64 and entry["seeds"]["split"] == 5
    assert evaluate_run(project, registry, "last", f"aer-shots:64,seed={drawn}") == first  # it is the seed used
    save_project(project)
    assert load_project(path).runs[-1].evaluations[0]["seeds"] == entry["seeds"]
    assert main(["evaluate", str(path), "--backend", "aer-shots:64,seed=4", "--json", "--no-save"]) == 0
    row = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert row["seeds"]["backend_shots"] == 4 and row["backend_applied"]["shots"] == 64
