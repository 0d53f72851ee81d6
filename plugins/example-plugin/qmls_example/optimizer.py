"""The example optimizer: what ``qmlstudio_optimizers`` factories return."""

from __future__ import annotations

import numpy as np

from qmlstudio.plugins import Optimizer, OptimizerResult, OptimizerStep


class MomentumDescent(Optimizer):
    """Heavy-ball gradient descent: v ← μ·v − η·∇L(x), x ← x + v."""

    uses_gradient = True

    def __init__(self, learning_rate: float = 0.1, momentum: float = 0.5) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum

    def minimize(self, problem, x0, *, max_iterations, callback=None) -> OptimizerResult:
        x = np.array(x0, dtype=float)
        velocity = np.zeros_like(x)
        best_x, best_loss = x.copy(), np.inf
        for iteration in range(1, max_iterations + 1):
            loss, grad = problem.value_and_grad(x)  # exceptions (a cancelled run) go through
            if loss < best_loss:
                best_x, best_loss = x.copy(), loss
            velocity = self.momentum * velocity - self.learning_rate * grad
            x = x + velocity
            step = OptimizerStep(iteration, x.copy(), float(loss), float(np.linalg.norm(grad)), evaluations=iteration)
            if callback is not None and callback(step):
                return self._result(problem, x, best_x, best_loss, iteration, stopped=True, message="stopped")
        return self._result(problem, x, best_x, best_loss, max_iterations, stopped=False, message="max iterations")

    @staticmethod
    def _result(problem, x, best_x, best_loss, iterations, *, stopped, message) -> OptimizerResult:
        final = problem.value(x)
        if final <= best_loss:
            best_x, best_loss = x, final
        return OptimizerResult(best_x, float(best_loss), iterations, stopped=stopped, message=message)
