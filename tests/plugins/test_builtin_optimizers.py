"""The built-in optimizers (plugins/qmls_optimizers): convergence and the callback contract."""

from __future__ import annotations

import numpy as np
import pytest

from qmlstudio.plugins import Optimizer, OptimizerSpec, OptimizerStep, Problem

import qmls_optimizers

SPECS = {spec.name: spec for spec in qmls_optimizers.qmlstudio_optimizers()}
NAMES = sorted(SPECS)


class Quadratic(Problem):
    """½ (x − c)ᵀ A (x − c): minimum 0 at c."""

    A = np.diag([1.0, 3.0, 0.5])
    c = np.array([1.0, -2.0, 0.5])
    x0 = np.zeros(3)

    def __init__(self) -> None:
        self.evaluations = 0

    def value(self, x):
        self.evaluations += 1
        d = x - self.c
        return float(0.5 * d @ self.A @ d)

    def value_and_grad(self, x):
        self.evaluations += 1
        d = x - self.c
        return float(0.5 * d @ self.A @ d), self.A @ d


class Rosenbrock(Problem):
    """The banana valley; minimum 0 at (1, 1)."""

    c = np.array([1.0, 1.0])
    x0 = np.array([-1.2, 1.0])

    def __init__(self) -> None:
        self.evaluations = 0

    def value(self, x):
        self.evaluations += 1
        return float((1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2)

    def value_and_grad(self, x):
        loss = self.value(x)
        grad = np.array([-2 * (1 - x[0]) - 400 * x[0] * (x[1] - x[0] ** 2), 200 * (x[1] - x[0] ** 2)])
        return loss, grad


class Exploding(Quadratic):
    """Raises on its fifth evaluation, like an engine that is cancelled mid-run."""

    def __init__(self, error: type[BaseException]) -> None:
        super().__init__()
        self.error = error

    def value(self, x):
        if self.evaluations >= 4:
            raise self.error("cancelled")
        return super().value(x)

    def value_and_grad(self, x):
        if self.evaluations >= 4:
            raise self.error("cancelled")
        return super().value_and_grad(x)


# name: (problem, options, iterations, tolerance on |x - x*|)
CONVERGENCE = {
    "adam": (Rosenbrock, {"learning_rate": 0.05}, 3000, 1e-2),
    "sgd": (Quadratic, {"learning_rate": 0.3, "momentum": 0.5, "nesterov": True}, 200, 1e-6),
    "spsa": (Quadratic, {"learning_rate": 0.5, "perturbation": 0.2, "seed": 1}, 500, 5e-2),
    "cobyla": (Quadratic, {"tolerance": 1e-8}, 500, 1e-5),
    "nelder-mead": (Rosenbrock, {}, 500, 1e-4),
    "l-bfgs-b": (Rosenbrock, {}, 200, 1e-5),
}


def test_hook_qmlstudio_optimizers():
    specs = qmls_optimizers.qmlstudio_optimizers()
    assert all(isinstance(s, OptimizerSpec) for s in specs)
    assert [s.problems() for s in specs] == [[] for _ in specs]
    assert set(SPECS) == {"adam", "sgd", "spsa", "cobyla", "nelder-mead", "l-bfgs-b"} == set(CONVERGENCE)
    assert {s.name for s in specs if s.uses_gradient} == {"adam", "sgd", "l-bfgs-b"}
    for spec in specs:
        assert isinstance(spec.factory, str), "factories are import paths, so listing imports no SciPy"
        optimizer = spec.create()
        assert isinstance(optimizer, Optimizer)
        assert optimizer.uses_gradient == spec.uses_gradient


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_converges_and_reports_every_iteration(name):
    problem_type, options, iterations, tolerance = CONVERGENCE[name]
    problem = problem_type()
    steps: list[OptimizerStep] = []
    result = SPECS[name].create(options).minimize(
        problem, problem_type.x0, max_iterations=iterations, callback=steps.append
    )
    assert np.linalg.norm(result.x - problem_type.c) < tolerance, result
    assert not result.stopped
    assert result.iterations == len(steps) > 0
    assert [s.iteration for s in steps] == list(range(1, len(steps) + 1))
    evaluations = [s.evaluations for s in steps]
    assert evaluations == sorted(evaluations) and evaluations[-1] <= problem.evaluations
    previous = np.asarray(problem_type.x0, dtype=float)
    for step in steps:
        assert step.x.shape == problem_type.x0.shape and np.isfinite(step.loss)
        if name in ("adam", "sgd"):
            # Mini-batch convention: the loss is the one the step was taken from.
            assert step.loss == pytest.approx(problem_type().value(previous), rel=1e-9, abs=1e-12)
        elif name != "spsa":  # SPSA's loss is an estimate from perturbed points
            assert step.loss == pytest.approx(problem_type().value(step.x), rel=1e-9, abs=1e-12)
        previous = step.x
    assert steps[-1].loss < steps[0].loss


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_stops_when_the_callback_says_so(name):
    problem_type = CONVERGENCE[name][0]
    problem = problem_type()
    seen: list[OptimizerStep] = []

    def callback(step: OptimizerStep) -> bool:
        seen.append(step)
        return step.iteration == 3

    result = SPECS[name].create().minimize(problem, problem_type.x0, max_iterations=100, callback=callback)
    assert [s.iteration for s in seen] == [1, 2, 3]
    assert result.stopped and result.iterations == 3
    assert problem.evaluations == seen[-1].evaluations, "no evaluation after the callback asked to stop"
    assert problem.evaluations <= 3 * (problem_type.x0.size + 3)
    np.testing.assert_array_equal(result.x, seen[-1].x)


@pytest.mark.parametrize("name", NAMES)
def test_optimizer_respects_the_iteration_limit(name):
    problem_type = CONVERGENCE[name][0]
    steps: list[OptimizerStep] = []
    result = SPECS[name].create().minimize(problem_type(), problem_type.x0, max_iterations=4, callback=steps.append)
    assert len(steps) == result.iterations <= 4
    assert not result.stopped


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
@pytest.mark.parametrize("name", NAMES)
def test_an_evaluation_that_raises_propagates(name, error):
    problem = Exploding(error)
    with pytest.raises(error, match="cancelled"):
        SPECS[name].create().minimize(problem, Quadratic.x0, max_iterations=100)
    assert problem.evaluations == 4


class CancelledByCallback(Exception):
    pass


@pytest.mark.parametrize("name", NAMES)
def test_a_callback_that_raises_propagates(name):
    def callback(step: OptimizerStep) -> None:
        if step.iteration == 2:
            raise CancelledByCallback

    with pytest.raises(CancelledByCallback):
        SPECS[name].create().minimize(Quadratic(), Quadratic.x0, max_iterations=100, callback=callback)


def test_spsa_spends_two_evaluations_per_iteration():
    problem = Quadratic()
    steps: list[OptimizerStep] = []
    SPECS["spsa"].create().minimize(problem, Quadratic.x0, max_iterations=10, callback=steps.append)
    assert [s.evaluations for s in steps] == list(range(2, 21, 2))
    assert problem.evaluations == 20


def test_spsa_calibration_and_seed():
    runs = []
    for _ in range(2):
        problem = Quadratic()
        result = SPECS["spsa"].create({"calibrate": True, "seed": 7}).minimize(problem, Quadratic.x0, max_iterations=50)
        runs.append(result.x)
        assert problem.evaluations == 50 + 2 * 50, "25 calibration pairs, then two per iteration"
    np.testing.assert_array_equal(runs[0], runs[1])


def test_gradient_steppers_report_the_gradient_norm():
    for name in ("adam", "sgd", "l-bfgs-b"):
        steps: list[OptimizerStep] = []
        SPECS[name].create().minimize(Quadratic(), Quadratic.x0, max_iterations=5, callback=steps.append)
        previous = np.asarray(Quadratic.x0, dtype=float)
        for step in steps:
            # Adam and SGD report the gradient they stepped with (at the previous point).
            at = previous if name in ("adam", "sgd") else step.x
            expected = np.linalg.norm(Quadratic.A @ (at - Quadratic.c))
            assert step.grad_norm == pytest.approx(expected), name
            previous = step.x


def test_adam_variants_and_sgd_momentum_change_the_path():
    def path(name, **options):
        steps: list[OptimizerStep] = []
        SPECS[name].create(options).minimize(Rosenbrock(), Rosenbrock.x0, max_iterations=20, callback=steps.append)
        return np.array([s.x for s in steps])

    assert not np.allclose(path("adam"), path("adam", amsgrad=True))
    assert not np.allclose(path("sgd", learning_rate=1e-3), path("sgd", learning_rate=1e-3, momentum=0.9))
    assert not np.allclose(
        path("sgd", learning_rate=1e-3, momentum=0.9), path("sgd", learning_rate=1e-3, momentum=0.9, nesterov=True)
    )


def test_a_diverging_gradient_stepper_stops_with_a_message():
    steps: list[OptimizerStep] = []
    with np.errstate(over="ignore", invalid="ignore"):
        result = SPECS["sgd"].create({"learning_rate": 1.0}).minimize(
            Rosenbrock(), Rosenbrock.x0, max_iterations=500, callback=steps.append
        )
    assert result.iterations < 500 and not result.stopped
    assert "finite" in result.message


def test_max_iterations_must_be_positive():
    from qmlstudio.plugins import PluginError

    # created through its spec, the optimizer is guarded: its ValueError names the plugin
    with pytest.raises(PluginError, match=r"failed in minimize\(\): ValueError: max_iterations must be at least 1"):
        SPECS["adam"].create().minimize(Quadratic(), Quadratic.x0, max_iterations=0)
