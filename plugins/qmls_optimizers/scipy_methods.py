"""COBYLA, Nelder-Mead and L-BFGS-B from ``scipy.optimize.minimize``, reporting every iteration.

SciPy (≥ 1.16, where COBYLA is PRIMA's) calls ``callback(intermediate_result)`` once per
iteration for all three methods and ends the run when the callback raises
``StopIteration``. One call is one iteration here: a Nelder-Mead reflection, expansion,
contraction or shrink; an L-BFGS-B step with its line search; a COBYLA trust-region
iteration. The iteration limit is enforced by the same callback, because SciPy's
``maxiter`` counts function evaluations for COBYLA.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qmlstudio.plugins import Optimizer, OptimizerResult, OptimizerStep, Problem

from qmls_optimizers.counting import Callback, CountedProblem, finished, report, start_point


class _IterationLimit(StopIteration):
    """Raised by our callback at the iteration limit (as opposed to a stop asked by the caller)."""


class ScipyOptimizer(Optimizer):
    """One method of ``scipy.optimize.minimize``; subclasses say which and with what options."""

    method = ""
    loss_at = "after_step"  # SciPy's intermediate_result.fun is the loss at its x

    def _options(self, x0: np.ndarray, max_iterations: int) -> dict[str, Any]:
        """SciPy's ``options`` for a run from ``x0``."""
        raise NotImplementedError

    def minimize(
        self,
        problem: Problem,
        x0: np.ndarray,
        *,
        max_iterations: int,
        callback: Callback | None = None,
    ) -> OptimizerResult:
        from scipy.optimize import minimize

        x = start_point(x0, max_iterations)
        max_iterations = int(max_iterations)
        counted = CountedProblem(problem)
        state = {"iteration": 0, "stopped": False, "x": x.copy(), "loss": np.nan}
        last_gradient: dict[str, np.ndarray] = {}

        if self.uses_gradient:
            def objective(z: np.ndarray) -> tuple[float, np.ndarray]:
                loss, grad = counted.value_and_grad(z)
                last_gradient["x"], last_gradient["grad"] = np.array(z, dtype=float), grad
                return loss, grad
        else:
            objective = counted.value

        def on_iteration(intermediate_result: Any) -> None:
            state["iteration"] += 1
            point = np.array(intermediate_result.x, dtype=float)
            state["x"], state["loss"] = point, float(intermediate_result.fun)
            grad_norm = None
            if "x" in last_gradient and np.array_equal(last_gradient["x"], point):
                grad_norm = float(np.linalg.norm(last_gradient["grad"]))
            step = OptimizerStep(state["iteration"], point.copy(), state["loss"], grad_norm, counted.evaluations)
            if report(callback, step):
                state["stopped"] = True
                raise StopIteration
            if state["iteration"] >= max_iterations:
                raise _IterationLimit

        result = minimize(
            objective,
            x,
            method=self.method,
            jac=True if self.uses_gradient else None,
            callback=on_iteration,
            options=self._options(x, max_iterations),
        )
        if state["stopped"]:
            return finished(state["x"], state["loss"], state["iteration"], True)
        if state["iteration"] >= max_iterations:
            return finished(state["x"], state["loss"], state["iteration"], False, "reached the iteration limit")
        # SciPy converged (or gave up) on its own; its answer may be better than the last iterate.
        loss = float(result.fun)
        if state["iteration"] and not loss <= state["loss"]:
            return finished(state["x"], state["loss"], state["iteration"], False, str(result.message))
        return finished(result.x, loss, state["iteration"], False, str(result.message))


class COBYLA(ScipyOptimizer):
    """Powell's linear-approximation trust-region method (PRIMA's implementation in SciPy)."""

    method = "cobyla"
    uses_gradient = False

    def __init__(self, initial_step: float = 0.5, tolerance: float = 1e-4) -> None:
        self.initial_step = initial_step
        self.tolerance = tolerance

    def _options(self, x0: np.ndarray, max_iterations: int) -> dict[str, Any]:
        # maxiter counts evaluations here; the iteration limit is enforced by the callback,
        # and each iteration costs at most a couple of evaluations after the n + 1 start-up ones.
        return {
            "rhobeg": self.initial_step,
            "tol": min(self.tolerance, self.initial_step),
            "maxiter": 10 * (max_iterations + x0.size + 2),
        }


class NelderMead(ScipyOptimizer):
    """The downhill simplex method, from a simplex of side ``initial_step`` around the start point."""

    method = "nelder-mead"
    uses_gradient = False

    def __init__(
        self, initial_step: float = 0.5, x_tolerance: float = 1e-6, f_tolerance: float = 1e-8, adaptive: bool = False
    ) -> None:
        self.initial_step = initial_step
        self.x_tolerance = x_tolerance
        self.f_tolerance = f_tolerance
        self.adaptive = adaptive

    def _options(self, x0: np.ndarray, max_iterations: int) -> dict[str, Any]:
        # SciPy's default simplex steps 5 % of each coordinate (0.00025 where it is 0): useless
        # for angles that start at 0, so the simplex is built from an absolute step instead.
        simplex = np.vstack([x0, x0 + self.initial_step * np.eye(x0.size)])
        return {
            "maxiter": max_iterations,
            # a shrink costs n evaluations: never let the evaluation cap end the run first
            "maxfev": (max_iterations + 1) * (x0.size + 2),
            "xatol": self.x_tolerance,
            "fatol": self.f_tolerance,
            "adaptive": self.adaptive,
            "initial_simplex": simplex,
        }


class LBFGSB(ScipyOptimizer):
    """Limited-memory BFGS (without bounds), using the problem's exact gradients."""

    method = "l-bfgs-b"
    uses_gradient = True

    def __init__(self, memory: int = 10, f_tolerance: float = 1e-10, g_tolerance: float = 1e-6) -> None:
        self.memory = memory
        self.f_tolerance = f_tolerance
        self.g_tolerance = g_tolerance

    def _options(self, x0: np.ndarray, max_iterations: int) -> dict[str, Any]:
        return {
            "maxiter": max_iterations,
            "maxfun": 50 * (max_iterations + 1),  # a line search takes at most 20 evaluations
            "maxcor": self.memory,
            "ftol": self.f_tolerance,
            "gtol": self.g_tolerance,
        }
