"""SPSA (Spall 1992): a gradient-free stepper at two loss evaluations per iteration, whatever the dimension."""

from __future__ import annotations

import numpy as np

from qmlstudio.plugins import Optimizer, OptimizerResult, OptimizerStep, Problem

from qmls_optimizers.counting import Callback, CountedProblem, finished, report, start_point

#: calibration aims at a first step of this size per parameter (qiskit's choice: 2π/10)
CALIBRATION_TARGET = 2 * np.pi / 10
CALIBRATION_PAIRS = 25


class SPSA(Optimizer):
    """Simultaneous perturbation stochastic approximation.

    Iteration ``k`` (0-based) perturbs every parameter at once by ``±c_k`` along a random
    sign vector Δ, with ``c_k = c / (k + 1)^γ``; the difference of the two losses estimates
    the gradient, and ``x`` moves by ``a_k`` times it, ``a_k = a / (A + k + 1)^α``.

    SPSA never evaluates the loss at ``x`` itself: each reported loss is the mean of the two
    perturbed evaluations around the point the step started from, and the reported ``x`` is
    the point after the step. With ``calibrate``, ``a`` is chosen from 25 pairs of
    evaluations at the start so that the first step moves each parameter by about 2π/10.
    """

    uses_gradient = False
    loss_at = "around_before_step"  # the mean of the losses at x ± c_k·Δ, x the weights before the step

    def __init__(
        self,
        learning_rate: float = 0.2,
        perturbation: float = 0.1,
        alpha: float = 0.602,
        gamma: float = 0.101,
        stability: float = 0.0,
        calibrate: bool = False,
        seed: int = 0,
    ) -> None:
        self.learning_rate = learning_rate
        self.perturbation = perturbation
        self.alpha = alpha
        self.gamma = gamma
        self.stability = stability
        self.calibrate = calibrate
        self.seed = seed

    def minimize(
        self,
        problem: Problem,
        x0: np.ndarray,
        *,
        max_iterations: int,
        callback: Callback | None = None,
    ) -> OptimizerResult:
        x = start_point(x0, max_iterations)
        counted = CountedProblem(problem)
        rng = np.random.default_rng(self.seed)
        a = self._calibrated_a(counted, x, rng) if self.calibrate else self.learning_rate
        loss = np.nan
        for k in range(int(max_iterations)):
            c_k = self.perturbation / (k + 1) ** self.gamma
            a_k = a / (self.stability + k + 1) ** self.alpha
            delta = rng.choice((-1.0, 1.0), size=x.shape)
            plus = counted.value(x + c_k * delta)
            minus = counted.value(x - c_k * delta)
            gradient = (plus - minus) / (2 * c_k) * delta  # 1/Δ_i = Δ_i for signs ±1
            loss = 0.5 * (plus + minus)
            if not np.isfinite(loss):
                return finished(x, loss, k, False, "stopped: the loss is no longer a finite number")
            x = x - a_k * gradient
            step = OptimizerStep(k + 1, x.copy(), float(loss), float(np.linalg.norm(gradient)), counted.evaluations)
            if report(callback, step):
                return finished(x, loss, k + 1, True)
        return finished(x, loss, int(max_iterations), False, "reached the iteration limit")

    def _calibrated_a(self, counted: CountedProblem, x: np.ndarray, rng: np.random.Generator) -> float:
        c = self.perturbation
        magnitudes = []
        for _ in range(CALIBRATION_PAIRS):
            delta = rng.choice((-1.0, 1.0), size=x.shape)
            magnitudes.append(abs(counted.value(x + c * delta) - counted.value(x - c * delta)) / (2 * c))
        average = float(np.mean(magnitudes))
        if not np.isfinite(average) or average < 1e-10:
            return self.learning_rate  # a flat start: keep the given learning rate
        return CALIBRATION_TARGET * (self.stability + 1) ** self.alpha / average
