"""Issue 17: one Run protocol for variational and kernel runs, with one cancel token."""

from __future__ import annotations

import numpy as np
import pytest

from qmlstudio.core import analysis, control, training
from qmlstudio.core.project import ModelChoice, Preprocessing
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import Cancelled, Controls, Run, build_run, new_project


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def vqc_project(registry, baselines: bool = False, batch_size: int | None = 7):
    project = new_project(registry, name="vqc", dataset="moons", dataset_options={"samples": 40, "seed": 1},
                          epochs=3, batch_size=batch_size)
    project.model = ModelChoice("vqc", {"baselines": baselines})
    return project


def kernel_project(registry):
    project = new_project(registry, name="kernel", dataset="ad-hoc", model="kernel",
                          dataset_options={"features": 2, "training_size": 10, "test_size": 5, "gap": 0.1, "seed": 3},
                          encoding="zz-feature-map")
    project.preprocessing = Preprocessing(scaling="none")
    project.model = ModelChoice("kernel", {"baselines": False, "C": 1.0, "bandwidth": 1.0})
    return project


def test_there_is_one_cancelled_exception_and_one_token() -> None:
    assert training.Cancelled is analysis.Cancelled is control.Cancelled is Cancelled
    assert training.Controls is Controls
    controls = Controls()
    controls.check()  # not cancelled: returns
    controls.cancel()
    with pytest.raises(Cancelled):
        controls.check()


def test_both_kinds_of_run_answer_the_protocol(registry) -> None:
    variational, kernel = build_run(vqc_project(registry), registry), build_run(kernel_project(registry), registry)
    assert isinstance(variational, Run) and isinstance(kernel, Run)
    assert (variational.kind, kernel.kind) == ("vqc", "kernel")
    assert isinstance(variational.controls, Controls) and isinstance(kernel.controls, Controls)
    assert variational.exact and kernel.exact  # the statevector backend


def test_total_iterations_is_what_the_run_reports(registry) -> None:
    reports = []
    run = build_run(vqc_project(registry), registry, callback=reports.append)
    n = len(run.data.y_train)
    assert run.total_iterations == 3 * -(-n // 7)  # three epochs of ⌈n / 7⌉ batches, counted independently
    record = run.run()
    assert record.status == "completed"
    assert [r.iteration for r in reports][-1] == run.total_iterations == reports[-1].total_iterations
    kernel_reports = []
    kernel = build_run(kernel_project(registry), registry, callback=kernel_reports.append)
    kernel.run()
    assert len(kernel_reports) == kernel.total_iterations == 1


def test_predict_proba_of_both_kinds_agrees_with_their_own_predictions(registry) -> None:
    run = build_run(vqc_project(registry), registry)
    run.run()
    x = run.data.x_test
    probabilities = run.predict_proba(x)  # at the final weights
    assert probabilities.shape == (len(x), 2) and np.allclose(probabilities.sum(axis=1), 1.0)
    final = np.asarray(run.record.final_weights, dtype=float)
    np.testing.assert_array_equal(np.argmax(probabilities, axis=1), run.predict(final, x))
    np.testing.assert_allclose(run.predict_proba(x, final), probabilities)

    kernel = build_run(kernel_project(registry), registry)
    with pytest.raises(training.TrainingError, match="not fitted"):
        kernel.predict_proba(kernel.data.x_test)
    kernel.run()
    scores = kernel.predict_proba(kernel.data.x_test)
    assert np.allclose(scores.sum(axis=1), 1.0)
    # A binary SVM: the larger score is the SVM's own prediction.
    expected = kernel.svc.predict(kernel.kernel.matrix(kernel.data.x_test, kernel.data.x_train))
    np.testing.assert_array_equal(np.argmax(scores, axis=1), expected)


def test_a_cancelled_kernel_run_stops_before_the_fit(registry) -> None:
    controls = Controls()
    run = build_run(kernel_project(registry), registry, controls=controls)
    assert run.controls is controls
    controls.cancel()
    record = run.run()
    assert record.status == "stopped" and run.svc is None


def test_baselines_fitted_before_the_run_are_not_fitted_again(registry, monkeypatch) -> None:
    from qmlstudio.core import baselines

    calls = []
    real = baselines.run_baselines

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(baselines, "run_baselines", counted)
    run = build_run(vqc_project(registry, baselines=True, batch_size=None), registry)
    fitted = run.fit_baselines()
    assert fitted and calls == [1] and run.record.baselines == fitted
    assert run.record.seeds.get("baselines") == run.options.seed
    record = run.run()
    assert calls == [1] and record.baselines == fitted
    assert build_run(kernel_project(registry), registry).fit_baselines() == {}  # a kernel fits them in run()
