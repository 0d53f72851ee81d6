"""Training runs (qmlstudio.core.training): reproducible, stoppable, pausable, resumable,
failing cleanly on divergence, stopping early, reporting every iteration, and training with
gradient-free optimizers, regressors and classical baselines."""

from __future__ import annotations

import math
import threading
import time

import numpy as np
import pytest

from qmlstudio.core.dataset import Dataset
from qmlstudio.core.models import ExactEvaluator, ModelCircuit, PrimitiveEvaluator
from qmlstudio.core.preprocessing import prepare
from qmlstudio.core.project import ModelChoice, Preprocessing, Training
from qmlstudio.core.training import Controls, IterationReport, TrainingError, TrainingOptions, TrainingRun
from qmlstudio.plugins.manager import load_plugins
from qmlstudio.workflow import build_run, new_project

REPORT_KEYS = {"iteration", "epoch", "loss", "test_loss", "train_accuracy", "test_accuracy", "grad_norm", "elapsed_s",
               "val_loss", "val_accuracy", "grad_norm_classical", "grad_norm_quantum"}


@pytest.fixture(scope="module")
def registry():
    return load_plugins()


def make_project(registry, baselines: bool = False, **settings):
    """A small moons classifier (80 samples, 2 qubits, RealAmplitudes ×2, Adam, mini-batches of
    16), without classical baselines unless asked, and without a validation split unless asked
    (60 training samples: 4 batches per epoch)."""
    options = dict(
        name="t", dataset="moons", dataset_options={"samples": 80}, encoding="angle", ansatz="real-amplitudes",
        ansatz_options={"reps": 2}, optimizer="adam", epochs=4, batch_size=16, seed=7, validation_size=0.0,
    )
    options.update(settings)
    project = new_project(registry, **options)
    project.model = ModelChoice(project.model.kind, {"baselines": baselines})
    return project


def regression_data(samples: int = 60, seed: int = 1) -> Dataset:
    """y = sin(2·x0) + x1/2 with a little noise: smooth, learnable by two qubits."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (samples, 2))
    y = np.sin(2 * x[:, 0]) + 0.5 * x[:, 1] + rng.normal(0, 0.02, samples)
    return Dataset(x, y, task="regression", feature_names=["a", "b"])


def regressor_run(registry, optimizer, **options) -> TrainingRun:
    data = prepare(regression_data(), Preprocessing(), seed=7)
    model = ModelCircuit(
        registry.get("encodings", "angle").create({}),
        registry.get("ansatze", "real-amplitudes").create({"reps": 2}).build(2), 2,
    )
    callback = options.pop("callback", None)
    options.setdefault("baselines", False)
    return TrainingRun(data=data, model=model, kind="regressor", optimizer=optimizer,
                       options=TrainingOptions(**options), callback=callback)


class Collector:
    """A callback that keeps every report and can signal after the first ones."""

    def __init__(self, after: int = 1) -> None:
        self.reports: list[IterationReport] = []
        self.started = threading.Event()
        self.after = after

    def __call__(self, report: IterationReport) -> None:
        self.reports.append(report)
        if len(self.reports) >= self.after:
            self.started.set()


def in_thread(run: TrainingRun) -> tuple[threading.Thread, dict]:
    result: dict = {}
    thread = threading.Thread(target=lambda: result.setdefault("record", run.run()), daemon=True)
    thread.start()
    return thread, result


def long_run(registry, collector: Collector, controls: Controls) -> TrainingRun:
    """Eight qubits, 600 samples, full batch: ~0.15 s per iteration, 10 000 of them."""
    project = make_project(
        registry, dataset="blobs", dataset_options={"samples": 600, "features": 8, "classes": 2},
        ansatz_options={"reps": 6}, epochs=10_000, batch_size=0,
    )
    return build_run(project, registry, callback=collector, controls=controls)


# ---------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_history(registry):
    project = make_project(registry)
    first, second = build_run(project, registry).run(), build_run(project, registry).run()
    assert first.status == second.status == "completed"
    assert len(first.metrics["loss"]) == 4 * 4  # 60 training samples in batches of 16
    assert first.metrics["loss"] == second.metrics["loss"]
    assert first.metrics["test_accuracy"] == second.metrics["test_accuracy"]
    assert first.final_weights == second.final_weights
    project.seed = 8
    assert build_run(project, registry).run().metrics["loss"] != first.metrics["loss"]


def test_cancel_from_another_thread_stops_within_a_second(registry):
    collector, controls = Collector(after=2), Controls()
    run = long_run(registry, collector, controls)
    thread, result = in_thread(run)
    try:
        assert collector.started.wait(30)
        asked = time.perf_counter()
        controls.cancel()
        thread.join(5)
        waited = time.perf_counter() - asked
    finally:
        controls.cancel()
        thread.join(10)
    assert not thread.is_alive()
    assert waited < 1.0
    record = result["record"]
    assert record.status == "stopped" and "stopped by the user" in record.message
    assert record.num_points == len(collector.reports) < 100
    assert record.final_weights == collector.reports[-1].weights.tolist()
    assert record.baselines == {}  # a stopped run does not spend time on baselines
    # an exact simulation still scores the test split, once, at the weights the run stopped at
    assert 0 <= record.test["accuracy"] <= 1 and record.metrics["test_accuracy"][-1] == record.test["accuracy"]


def test_pause_and_stop_reach_inside_a_long_simulation(registry, monkeypatch):
    """A step on a big circuit takes seconds: Pause and Stop act between the parts of its
    batch, not only between iterations."""
    from qmlstudio.core import statevector
    from qmlstudio.core.training import Cancelled

    monkeypatch.setattr(statevector, "_PART_BYTES", 1)  # one sample per part
    controls = Controls()
    run = build_run(make_project(registry), registry, controls=controls)
    weights = run.initial_parameters()[: run.model.num_weights]
    expected = run.evaluator.values(weights, run.train_inputs)
    outcome: dict = {}

    def evaluate() -> None:
        try:
            outcome["values"] = run.evaluator.values(weights, run.train_inputs)
        except Cancelled:
            outcome["cancelled"] = True

    controls.pause()
    thread = threading.Thread(target=evaluate, daemon=True)
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and not outcome  # held at a checkpoint, mid-call
    controls.resume()
    thread.join(5)
    assert not thread.is_alive()
    np.testing.assert_allclose(outcome["values"], expected)

    outcome.clear()
    controls.pause()
    thread = threading.Thread(target=evaluate, daemon=True)
    thread.start()
    thread.join(0.3)
    controls.cancel()
    thread.join(5)
    assert not thread.is_alive() and outcome == {"cancelled": True}


def settled(collector: Collector, quiet: float = 0.4, limit: float = 10.0) -> int:
    """The number of reports once none has come for ``quiet`` seconds."""
    deadline = time.monotonic() + limit
    count, since = len(collector.reports), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        if len(collector.reports) != count:
            count, since = len(collector.reports), time.monotonic()
        elif time.monotonic() - since >= quiet:
            break
    return count


def test_pause_holds_new_iterations_until_resume(registry):
    collector, controls = Collector(after=2), Controls()
    run = long_run(registry, collector, controls)
    thread, result = in_thread(run)
    try:
        assert collector.started.wait(30)
        controls.pause()
        at_pause = len(collector.reports)
        held = settled(collector)  # the iteration under way may still report, no other
        assert held <= at_pause + 1
        time.sleep(1.0)
        assert len(collector.reports) == held
        assert thread.is_alive()
        controls.resume()
        deadline = time.monotonic() + 10
        while len(collector.reports) <= held + 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(collector.reports) > held + 1
        controls.pause()
        controls.cancel()  # cancelling a paused run ends it too
        thread.join(5)
        assert not thread.is_alive()
    finally:
        controls.cancel()
        thread.join(10)
    assert result["record"].status == "stopped"
    iterations = [r.iteration for r in collector.reports]
    assert iterations == list(range(1, len(iterations) + 1))


def test_elapsed_time_does_not_run_while_paused(registry):
    """issue 14 (6d): a run paused for 1.5 s reports and records training time, not wall time."""
    collector, controls = Collector(after=2), Controls()
    run = long_run(registry, collector, controls)
    thread, result = in_thread(run)
    try:
        assert collector.started.wait(30)
        controls.pause()
        held = settled(collector)
        before = collector.reports[held - 1]
        time.sleep(1.5)
        controls.resume()
        deadline = time.monotonic() + 10
        while len(collector.reports) <= held + 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        after = collector.reports[held]
        controls.cancel()
        thread.join(10)
    finally:
        controls.cancel()
        thread.join(10)
    assert controls.paused_s >= 1.5
    # An iteration takes ~0.15 s; the pause (1.5 s and more) is not in the time between the two reports.
    assert after.elapsed_s - before.elapsed_s < 1.0, (before.elapsed_s, after.elapsed_s)
    record = result["record"]
    assert record.timings["seconds"] < record.metrics["elapsed_s"][-1] + 1.0


def test_resume_continues_the_numbering_from_the_final_weights(registry):
    project = make_project(registry, batch_size=0)
    first = build_run(project, registry, epochs=5).run()
    assert first.metrics["iteration"] == [1, 2, 3, 4, 5]
    stopped_at = list(first.final_weights)
    initial = list(first.initial_weights)

    collector = Collector()
    resumed = build_run(project, registry, epochs=3, callback=collector, resume=first)
    starts = []
    optimizer = resumed.optimizer

    class Spy:
        uses_gradient = optimizer.uses_gradient

        def minimize(self, problem, x0, **kwargs):
            starts.append(np.array(x0))
            return optimizer.minimize(problem, x0, **kwargs)

    resumed.optimizer = Spy()
    record = resumed.run()
    assert record is first and record.status == "completed"
    np.testing.assert_array_equal(starts[0], stopped_at)
    assert record.initial_weights == initial  # the run's start is still the original one
    assert [r.iteration for r in collector.reports] == [6, 7, 8]
    assert [r.epoch for r in collector.reports] == [6, 7, 8]
    assert record.metrics["iteration"] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert collector.reports[0].total_iterations == 8
    assert collector.reports[0].elapsed_s >= first.metrics["elapsed_s"][4]
    # a continuation of the same training: its first loss follows on from where it stopped
    assert record.metrics["loss"][5] < record.metrics["loss"][0]


def test_a_run_stopped_by_the_user_resumes_where_it_stopped(registry):
    project = make_project(registry)
    controls = Controls()

    def stop_after_three(report):
        if report.iteration == 3:
            controls.cancel()

    stopped = build_run(project, registry, callback=stop_after_three, controls=controls).run()
    assert stopped.status == "stopped" and stopped.metrics["iteration"] == [1, 2, 3]
    collector = Collector()
    record = build_run(project, registry, epochs=1, callback=collector, resume=stopped).run()
    assert record.status == "completed" and record.message == ""
    assert [r.iteration for r in collector.reports] == [4, 5, 6, 7]
    assert record.metrics["iteration"] == list(range(1, 8))


def test_resume_refuses_weights_of_another_model(registry):
    record = build_run(make_project(registry, batch_size=0), registry, epochs=1).run()
    other = make_project(registry, ansatz_options={"reps": 3})
    with pytest.raises(TrainingError, match="weights"):
        build_run(other, registry, resume=record).initial_parameters()


def test_a_diverging_run_fails_and_keeps_the_best_finite_weights(registry):
    from qmls_optimizers.gradient import SGD

    collector = Collector()
    # The output scale and bias of a trainable regressor are unbounded: a learning rate of
    # 1e6 multiplies them by ~1e6 per step until the squared error overflows.
    run = regressor_run(registry, SGD(learning_rate=1e6), epochs=200, trainable_output=True, callback=collector)
    with np.errstate(over="ignore", invalid="ignore"):
        record = run.run()
    assert record.status == "failed"
    assert "diverged" in record.message and "learning rate" in record.message
    assert 1 < len(collector.reports) < 200
    final = np.array(record.final_weights, dtype=float)
    assert np.all(np.isfinite(final))
    best = min(collector.reports, key=lambda r: r.loss)
    np.testing.assert_array_equal(final, best.weights)
    assert all(math.isfinite(v) for v in record.metrics["loss"])


def test_a_nan_gradient_that_the_optimizer_gives_up_on_is_a_failure(registry):
    """Adam stops without reporting when the gradient is not finite; the run must not say
    'completed' then."""
    from qmls_optimizers.gradient import Adam

    collector = Collector()
    run = regressor_run(registry, Adam(learning_rate=0.05), epochs=50, callback=collector)
    real = run.evaluator.values_and_pullback
    calls = {"n": 0}

    def poisoned(weights, inputs):
        values, pullback = real(weights, inputs)
        calls["n"] += 1
        if calls["n"] < 4:
            return values, pullback
        return values, lambda upstream: np.full(weights.shape, np.nan)

    run.evaluator.values_and_pullback = poisoned
    record = run.run()
    assert record.status == "failed" and "diverged" in record.message
    assert len(collector.reports) == 3
    best = min(collector.reports, key=lambda r: r.loss)
    np.testing.assert_array_equal(record.final_weights, best.weights)


@pytest.mark.parametrize("eval_every", [1, 1000])
def test_early_stopping_ends_before_the_epoch_limit(registry, eval_every):
    # 100 samples: 25 test, 20 validation, 55 training rows in 4 batches of 16
    project = make_project(registry, epochs=300, dataset_options={"samples": 100}, validation_size=0.2)
    project.training = Training(epochs=300, batch_size=16, early_stopping=True, patience=2)
    project.model = ModelChoice("vqc", {"eval_every": eval_every, "baselines": False})
    record = build_run(project, registry).run()
    assert record.status == "completed"
    assert "stopped early" in record.message and "validation loss" in record.message and "2 epochs" in record.message
    assert record.metrics["epoch"][-1] < 300
    val_losses = [v for v, end in zip(record.metrics["val_loss"], record.metrics["iteration"]) if end % 4 == 0]
    assert len(val_losses) == record.metrics["epoch"][-1]  # measured at the end of every epoch
    assert min(val_losses[-2:]) >= min(val_losses[:-2]) - 1e-9
    # the test split was scored once, at the end, at the final weights
    assert record.metrics["test_loss"][:-1] == [None] * (record.num_points - 1)
    assert record.metrics["test_loss"][-1] == record.test["loss"] is not None


def test_every_iteration_reports_every_metric(registry):
    collector = Collector()
    project = make_project(registry, epochs=3, dataset_options={"samples": 100}, validation_size=0.2)
    record = build_run(project, registry, callback=collector).run()
    assert len(collector.reports) == 12
    for number, report in enumerate(collector.reports, start=1):
        assert set(report.metrics()) == REPORT_KEYS
        assert report.iteration == number and report.epoch == (number - 1) // 4 + 1
        assert report.total_iterations == 12
        # the test split is not looked at while training
        assert report.test_loss is None and report.test_accuracy is None
        # by default the train and validation splits are evaluated once per epoch (4 batches);
        # the loss and gradient norm, the step's own, come every iteration
        evaluated = number % 4 == 0
        for key in REPORT_KEYS - {"test_loss", "test_accuracy"}:
            value = report.metrics()[key]
            if key in ("grad_norm_classical", "grad_norm_quantum"):
                assert value is None, key  # a hybrid network's parts: a VQC has none
            elif key in ("train_accuracy", "val_loss", "val_accuracy"):
                assert (value is not None) == evaluated, (number, key)
            else:
                assert value is not None, key
        assert math.isfinite(report.loss) and report.grad_norm >= 0
        assert not evaluated or 0 <= report.val_accuracy <= 1
        assert report.weights.shape == (project.circuit.num_weights,)
    elapsed = [r.elapsed_s for r in collector.reports]
    assert elapsed == sorted(elapsed)
    assert set(REPORT_KEYS) <= set(record.metrics)
    assert all(len(record.metrics[k]) == 12 for k in REPORT_KEYS)
    assert record.metrics["loss"] == [r.loss for r in collector.reports]
    assert record.timings["seconds"] > 0 and record.versions["qiskit"]


@pytest.mark.parametrize("optimizer", ["cobyla", "spsa", "nelder-mead"])
def test_gradient_free_optimizers_train_whatever_the_evaluator(registry, optimizer):
    """Exact values (the statevector backend), then values sampled (aer-shots) with
    parameter-shift's evaluator: both lower the exact training loss."""
    for gradient, evaluator_type in (("auto", ExactEvaluator), ("parameter-shift", PrimitiveEvaluator)):
        sampled = gradient == "parameter-shift"
        project = make_project(
            registry, optimizer=optimizer, dataset_options={"samples": 40 if sampled else 80},
            backend="aer-shots" if sampled else "statevector",
            backend_options={"shots": 128, "seed": 3} if sampled else {}, batch_size=0, epochs=6 if sampled else 30,
        )
        project.model = ModelChoice("vqc", {"gradient": gradient, "eval_every": 1000, "baselines": False})
        collector = Collector()
        run = build_run(project, registry, callback=collector)
        assert type(run.evaluator) is evaluator_type
        record = run.run()
        assert record.status == "completed", record.message
        assert len(collector.reports) == record.num_points >= 1
        assert all(r.grad_norm is None or optimizer == "spsa" for r in collector.reports)
        if sampled:
            assert collector.reports[-1].shots > 0
        exact = ExactEvaluator(run.model.design, run.head.observables(run.model.num_qubits))

        def train_loss(weights):
            values = exact.values(np.asarray(weights, dtype=float), run.train_inputs)
            return run.head.loss(values, np.zeros(0), run.data.y_train)[0]

        assert train_loss(record.final_weights) < train_loss(record.initial_weights)


def test_adam_with_parameter_shift_counts_its_shots(registry):
    project = make_project(registry, dataset_options={"samples": 24}, batch_size=0, epochs=2,
                           backend="aer-shots", backend_options={"shots": 64, "seed": 3})
    project.model = ModelChoice("vqc", {"gradient": "parameter-shift", "baselines": False})
    collector = Collector()
    run = build_run(project, registry, callback=collector)
    record = run.run()
    assert record.status == "completed" and isinstance(run.evaluator, PrimitiveEvaluator)
    shots = [r.shots for r in collector.reports]
    assert shots[0] > 0 and shots[1] > shots[0]
    assert all(r.grad_norm is not None and r.grad_norm > 0 for r in collector.reports)


def test_a_regressor_learns_a_smooth_function(registry):
    from qmls_optimizers.gradient import Adam

    run = regressor_run(registry, Adam(learning_rate=0.1), epochs=60, trainable_output=True, baselines=True)
    record = run.run()
    assert record.status == "completed"
    assert record.metrics["train_accuracy"][-1] > 0.5  # R²
    assert record.metrics["test_accuracy"][-1] > 0.5
    assert set(record.baselines) == {"ridge regression", "RBF SVR", "MLP", "MLP (parameter-matched)"}
    # predictions for new rows follow the targets (both in the scaled target units)
    x, y = run.data.x_test, run.data.y_test
    assert np.corrcoef(run.predict(np.array(record.final_weights), x), y)[0, 1] > 0.7


def test_classical_baselines_are_in_the_record(registry):
    record = build_run(make_project(registry, baselines=True, epochs=1), registry).run()
    assert set(record.baselines) == {"logistic regression", "MLP", "RBF SVM", "MLP (parameter-matched)"}
    for scores in record.baselines.values():
        assert 0.5 <= scores["test_accuracy"] <= 1 and 0 <= scores["train_accuracy"] <= 1
        assert scores["seconds"] >= 0 and scores["parameters"] >= 1
        assert scores["tuned"]["chosen"] and scores["tuned"]["cv"] in ("5-fold stratified", "3-fold stratified")
    assert record.parameters == 6  # RealAmplitudes ×2 on 2 qubits
    # 2 inputs, h hidden units, 1 output: 4h + 1 parameters; h = 1 gives 5, the closest to 6
    assert record.baselines["MLP (parameter-matched)"]["parameters"] == 5


def test_bad_choices_are_refused(registry):
    data = prepare(regression_data(), Preprocessing(), seed=7)
    model = ModelCircuit(registry.get("encodings", "angle").create({}),
                         registry.get("ansatze", "real-amplitudes").create({"reps": 1}).build(2), 2)
    adam = registry.get("optimizers", "adam").create({})
    with pytest.raises(TrainingError, match="classification"):
        TrainingRun(data=data, model=model, kind="vqc", optimizer=adam)
    with pytest.raises(TrainingError, match="gradient"):
        TrainingRun(data=data, model=model, kind="regressor", optimizer=adam, options=TrainingOptions(gradient="fd"))
    with pytest.raises(TrainingError, match="backend"):
        TrainingRun(data=data, model=model, kind="regressor", optimizer=adam,
                    options=TrainingOptions(gradient="parameter-shift"))


def test_weights_stepping_to_infinity_fail_as_divergence():
    """An optimizer that jumps to infinite weights ends the run as diverged, never with a traceback."""
    from qmlstudio.plugins import Optimizer, OptimizerResult, OptimizerStep

    class Explodes(Optimizer):
        def minimize(self, problem, x0, *, max_iterations, callback=None):
            x = np.asarray(x0, dtype=float)
            for iteration in range(1, max_iterations + 1):
                loss, _ = problem.value_and_grad(x)
                if callback(OptimizerStep(iteration, x.copy(), loss, 1.0)):
                    return OptimizerResult(x, loss, iteration, stopped=True)
                x = x * 0 + (np.inf if iteration >= 2 else 0.1)
            return OptimizerResult(x, loss, max_iterations)

    from qmlstudio.core.project import load_project
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run
    from pathlib import Path

    project = load_project(Path(__file__).resolve().parents[2] / "resources" / "demo.qmls")
    run = build_run(project, load_plugins(), epochs=2)
    run.optimizer = Explodes()
    record = run.run()
    assert record.status == "failed" and "diverged" in record.message
    assert all(np.isfinite(w) for w in record.final_weights)


# --------------------------------------------------- qubits, memory, final predictions
def iris_on(registry, qubits: int):
    """Iris (4 features, angle encoding: 4 qubits) with its ansatz rebuilt on ``qubits`` wires."""
    project = make_project(registry, dataset="iris", dataset_options={}, epochs=2, batch_size=32)
    built = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options).build(qubits)
    project.circuit.set_gates(built.gates, qubits)
    return project


def test_a_run_never_uses_a_qubit_the_circuit_lacks(registry):
    from qmlstudio.workflow import HiddenQubits, hidden_qubits

    project = iris_on(registry, 3)
    with pytest.raises(HiddenQubits) as caught:
        build_run(project, registry)
    assert (caught.value.needed, caught.value.qubits) == (4, 3)
    assert "needs 4 qubits for 4 features, but the circuit has 3" in str(caught.value)
    assert hidden_qubits(project, registry).note.endswith("added 1 qubit (q3) to the 3-qubit circuit")
    run = build_run(project, registry, widen=True)  # what `qmlstudio train` does, with a note
    assert project.circuit.num_qubits == run.model.num_qubits == 4
    assert hidden_qubits(project, registry) is None
    assert build_run(iris_on(registry, 5), registry).model.num_qubits == 5  # spare wires are shown, not hidden


def test_a_model_too_wide_for_the_memory_is_refused_before_anything_is_allocated(registry):
    from qmlstudio.core.memory import SimulationTooLarge
    from qmlstudio.workflow import apply_fix, check_trainable, simulation_fixes

    project = new_project(registry, name="digits", dataset="digits", epochs=1)
    project.model = ModelChoice("vqc", {"baselines": False})
    for attempt in (lambda: build_run(project, registry), lambda: check_trainable(project, registry)):
        with pytest.raises(SimulationTooLarge) as caught:
            attempt()
        assert caught.value.num_qubits == 64
        assert "--features 8" in str(caught.value) and "--encoding amplitude" in str(caught.value)
    fixes = simulation_fixes(project, registry)
    assert [(f.kind, f.qubits, f.features, f.encoding) for f in fixes] == [("pca", 8, 8, None),
                                                                          ("encoding", 6, None, "amplitude")]
    apply_fix(project, registry, fixes[1])
    run = build_run(project, registry)
    assert run.model.num_qubits == project.circuit.num_qubits == 6 and project.encoding.name == "amplitude"


@pytest.mark.parametrize("eval_every", [1, 3])
def test_a_stopped_runs_last_row_and_final_predictions_are_the_final_weights(registry, eval_every):
    """Stop lands inside a simulation: the final predictions are still computed, in full, from
    the final weights, and the record's last row says the same accuracy."""
    from qmlstudio.core import statevector

    project = make_project(registry, dataset="iris", dataset_options={}, epochs=1000, batch_size=16)
    project.model = ModelChoice("vqc", {"baselines": False, "eval_every": eval_every})
    controls = Controls()
    collector = Collector(after=5)
    run = build_run(project, registry, callback=collector, controls=controls)
    original = statevector._PART_BYTES
    statevector._PART_BYTES = 1  # one sample per part: many checkpoints inside each call
    try:
        thread, result = in_thread(run)
        assert collector.started.wait(30)
        controls.cancel()
        thread.join(10)
    finally:
        statevector._PART_BYTES = original
    record = result["record"]
    assert record.status == "stopped" and run.final is not None
    final = run.final
    np.testing.assert_array_equal(final.weights, record.final_weights)
    assert final.split == "test" and final.confusion.sum() == len(run.data.y_test) == 38
    accuracy = np.trace(final.confusion) / final.confusion.sum()
    assert accuracy == pytest.approx(final.accuracy) == pytest.approx(record.metrics["test_accuracy"][-1])
    assert record.metrics["train_accuracy"][-1] is not None
    # Independently: the final weights through qiskit's Statevector give the same predictions.
    from qiskit.quantum_info import Statevector

    weights = np.array(record.final_weights)
    circuit = run.model.design.to_circuit()
    probabilities = []
    for row in run.test_inputs:
        values = {p: (weights[p.index] if p.vector.name == "θ" else row[p.index]) for p in circuit.parameters}
        probabilities.append(Statevector(circuit.assign_parameters(values)).probabilities())
    observables = run.head.observables(run.model.num_qubits)
    predicted = np.argmax(np.array(probabilities) @ observables.T, axis=1)
    np.testing.assert_array_equal(predicted, final.predictions)


# ------------------------------------------------------- splits: the test set decides nothing
def test_the_test_split_cannot_influence_training(registry):
    """Early stopping on: training with the test rows shuffled and altered gives bit-identical
    weights and curves; only the test score, taken once at the end, differs."""
    import dataclasses

    project = make_project(registry, epochs=300, dataset_options={"samples": 100}, validation_size=0.2)
    project.training = Training(epochs=300, batch_size=16, early_stopping=True, patience=2)
    project.model = ModelChoice("vqc", {"baselines": False})
    first = build_run(project, registry)
    record = first.run()
    assert "stopped early" in record.message  # the decision that could have leaked was taken

    rng = np.random.default_rng(1)
    data = first.data
    altered = dataclasses.replace(
        data,
        x_test=rng.permutation(data.x_test[::-1] * 0.5 + 1.0),  # other rows altogether
        y_test=rng.permutation(1 - data.y_test),
    )
    optimizer = registry.get("optimizers", project.optimizer.name).create(project.optimizer.options)
    second = TrainingRun(data=altered, model=first.model, kind="vqc", optimizer=optimizer, options=first.options)
    again = second.run()
    assert again.final_weights == record.final_weights
    for name in ("loss", "grad_norm", "val_loss", "val_accuracy", "train_accuracy"):
        assert again.metrics[name] == record.metrics[name], name
    assert again.test["accuracy"] != record.test["accuracy"]  # the altered test rows were scored


def test_early_stopping_without_a_validation_split_is_refused(registry):
    project = make_project(registry, validation_size=0.0)
    project.training = Training(epochs=10, early_stopping=True)
    with pytest.raises(TrainingError, match="early stopping needs a validation split"):
        build_run(project, registry)


@pytest.mark.parametrize("optimizer,loss_at", [("adam", "before_step"), ("l-bfgs-b", "after_step"),
                                               ("spsa", "around_before_step")])
def test_each_row_names_the_weights_its_figures_were_measured_at(registry, optimizer, loss_at):
    """Adam's loss of row k is the loss at row k-1's weights (the initial ones for row 1);
    L-BFGS-B's is at row k's own weights; the evaluation figures are at row k's weights."""
    collector = Collector()
    project = make_project(registry, epochs=3, batch_size=0, optimizer=optimizer)
    run = build_run(project, registry, callback=collector)
    record = run.run()
    assert record.measured_at["loss"] == record.measured_at["grad_norm"] == loss_at
    assert record.measured_at["train_accuracy"] == record.measured_at["val_accuracy"] == "after_step"
    assert record.measured_at["test_accuracy"] == "final_weights"
    weights = [np.array(record.initial_weights)] + [r.weights for r in collector.reports]
    for k, report in enumerate(collector.reports, start=1):
        n = run.model.num_weights
        train_at_row = run.head.score(run.head.predict(run.evaluator.values(weights[k][:n], run.train_inputs),
                                                       weights[k][n:]), run.data.y_train)
        assert report.train_accuracy == pytest.approx(train_at_row, abs=1e-12)
        if loss_at == "around_before_step":
            continue  # SPSA's loss is the mean of two perturbed losses, at no single weights
        at = weights[k - 1] if loss_at == "before_step" else weights[k]
        loss = run.head.loss(run.evaluator.values(at[:n], run.train_inputs), at[n:], run.data.y_train)[0]
        assert report.loss == pytest.approx(loss, rel=1e-9, abs=1e-12)


def test_gradients_are_refused_where_the_backend_cannot_compute_them(registry):
    """adjoint is the engine's (statevector backend); parameter shift needs primitives."""
    project = make_project(registry, backend="aer-shots", backend_options={"shots": 64, "seed": 3})
    project.model = ModelChoice("vqc", {"gradient": "adjoint", "baselines": False})
    with pytest.raises(TrainingError, match="adjoint gradients are computed by QML Studio's own simulator"):
        build_run(project, registry)
    project = make_project(registry, backend="statevector")
    project.model = ModelChoice("vqc", {"gradient": "parameter-shift", "baselines": False})
    with pytest.raises(TrainingError, match="statevector backend .* has none"):
        build_run(project, registry)
