"""Evaluate on…: a trained run's weights on another backend, without retraining. The exact
backend reproduces the run's own test accuracy, a device noise model shrinks the model's
outputs reproducibly with a seed, and every result is recorded in the run, side by side."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

from qmlstudio.cli import main  # noqa: E402
from qmlstudio.core.errors import QMLStudioError  # noqa: E402
from qmlstudio.core.project import ModelChoice, PluginChoice, Training, load_project, save_project  # noqa: E402
from qmlstudio.plugins.manager import load_plugins  # noqa: E402
from qmlstudio.workflow import build_run, evaluate_run, evaluate_weights, new_project  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
NOISY = "aer-noise:fake_manila,seed=3,shots=2000"


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


@pytest.fixture(scope="module")
def trained(registry, tmp_path_factory):
    """The demo project trained 6 epochs on the exact simulator, saved with its run."""
    project = load_project(ROOT / "resources" / "demo.qmls")
    project.model = ModelChoice("vqc", {"baselines": False, "eval_every": 0})
    project.training = Training(epochs=6, batch_size=32)
    record = build_run(project, registry).run()
    assert record.status == "completed"
    project.add_run(record)
    path = tmp_path_factory.mktemp("evaluate") / "demo.qmls"
    save_project(project, path)
    return path


def polarization(values: np.ndarray) -> float:
    """Mean |P(class 0) − P(class 1)|: the mean |⟨Z⟩| of the readout."""
    return float(np.mean(np.abs(values[:, 0] - values[:, 1])))


def test_exact_backend_reproduces_the_runs_own_test_accuracy(trained, registry):
    project = load_project(trained)
    run = project.runs[-1]
    # the project changed since the run: the evaluation follows the run's config, not the project
    project.dataset = PluginChoice("moons", {"samples": 90, "noise": 0.3, "seed": 5})
    project.training = Training(epochs=1, batch_size=8)
    accuracy = evaluate_run(project, registry, "last", "statevector")
    assert accuracy == pytest.approx(run.metrics["test_accuracy"][-1], abs=1e-12)
    # the run's options, with the defaults of options added since (threads) filled in
    used = registry.get("backends", "statevector").resolve(run.config["backend"]["options"])
    assert used == {**run.config["backend"]["options"], "threads": None}
    entry = run.evaluations[0]
    assert len(run.evaluations) == 1 and {k: entry[k] for k in ("backend", "options", "accuracy")} == {
        "backend": "statevector", "options": used, "accuracy": accuracy}
    assert entry["backend_applied"]["evaluator"].startswith("exact statevector")  # what actually ran
    assert entry["seeds"]["split"] == run.config["seed"]


def test_noisy_evaluation_differs_as_expected_and_repeats_with_its_seed(trained, registry):
    project = load_project(trained)
    run_id = project.runs[-1].id
    exact = evaluate_weights(project, registry, run_id, "statevector")
    noisy = evaluate_weights(project, registry, run_id, NOISY)
    again = evaluate_weights(project, registry, run_id, NOISY)
    other = evaluate_weights(project, registry, run_id, "aer-noise:fake_manila,seed=4,shots=2000")
    assert np.array_equal(noisy.values, again.values) and noisy.accuracy == again.accuracy
    assert not np.array_equal(noisy.values, other.values)
    assert polarization(noisy.values) < 0.95 * polarization(exact.values)  # noise pulls ⟨Z⟩ towards 0
    assert noisy.loss != exact.loss and np.max(np.abs(noisy.values - exact.values)) > 0.02
    assert abs(noisy.accuracy - exact.accuracy) <= 0.15  # a mild device: the classifier mostly survives
    assert noisy.choice.options["fake_backend"] == "fake_manila" and noisy.choice.options["seed"] == 3


def test_evaluations_stand_side_by_side_in_the_saved_run(trained, registry, capsys):
    project = load_project(trained)
    run = project.runs[-1]
    ideal = evaluate_run(project, registry, run.id, "statevector")
    noisy = evaluate_run(project, registry, run.id, NOISY)
    save_project(project)
    saved = load_project(trained).runs[-1]
    assert [(e["backend"], e["accuracy"]) for e in saved.evaluations] == [("statevector", ideal), ("aer-noise", noisy)]
    assert saved.evaluations[1]["options"]["shots"] == 2000

    code = main(["evaluate", str(trained), "--run", run.id, "--backend", NOISY, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    row = json.loads(out.strip().splitlines()[-1])
    assert row["event"] == "evaluation" and row["accuracy"] == noisy and row["trained_backend"] == "statevector"
    assert len(load_project(trained).runs[-1].evaluations) == 3

    code = main(["evaluate", str(trained), "--backend", "aer-shots:500,seed=1", "--no-save"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "test accuracy" in out and "on aer-shots:500,seed=1" in out and "earlier: aer-noise" in out
    assert len(load_project(trained).runs[-1].evaluations) == 3


def test_bad_requests_get_clear_errors(trained, registry, capsys):
    project = load_project(trained)
    with pytest.raises(QMLStudioError, match="no run 'nope'"):
        evaluate_run(project, registry, "nope", "statevector")
    with pytest.raises(QMLStudioError, match="did you mean fake_manila"):
        evaluate_run(project, registry, "last", "aer-noise:fake_manilla")
    empty = new_project(registry, name="e", dataset="moons", dataset_options={"samples": 30})
    with pytest.raises(QMLStudioError, match="no runs yet"):
        evaluate_run(empty, registry, "last", "statevector")
    code = main(["evaluate", str(trained), "--backend", "statevector:x"])
    _, err = capsys.readouterr()
    assert code == 1 and "takes no ':ARG'" in err and "Traceback" not in err
