"""First-order steppers (Adam, SGD with momentum) in numpy.

Each iteration evaluates the loss and gradient at the current point, then takes one step,
and reports the new point with the loss and gradient norm it was stepped from (PyTorch's
convention): one evaluation per iteration, and with mini-batches the engine's callback
switches the batch before the next evaluation, so every step uses its own batch.
"""

from __future__ import annotations

import numpy as np

from qmlstudio.plugins import Optimizer, OptimizerResult, OptimizerStep, Problem

from qmls_optimizers.counting import Callback, CountedProblem, finished, report, start_point

_NOT_FINITE = "stopped: the loss or its gradient is no longer a finite number"


class _GradientStepper(Optimizer):
    uses_gradient = True
    loss_at = "before_step"

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
        self._reset(x)
        loss = float("nan")
        for iteration in range(1, int(max_iterations) + 1):
            loss, grad = counted.value_and_grad(x)
            if not (np.isfinite(loss) and np.all(np.isfinite(grad))):
                return finished(x, loss, iteration - 1, False, _NOT_FINITE)
            x = x - self._step(grad, iteration)
            step = OptimizerStep(iteration, x.copy(), loss, float(np.linalg.norm(grad)), counted.evaluations)
            if report(callback, step):
                return finished(x, loss, iteration, True)
        return finished(x, loss, int(max_iterations), False, "reached the iteration limit")

    def _reset(self, x: np.ndarray) -> None:
        """Clears the state kept between steps (moments, velocity)."""

    def _step(self, grad: np.ndarray, iteration: int) -> np.ndarray:
        """The change subtracted from ``x`` at ``iteration`` (1-based)."""
        raise NotImplementedError


class Adam(_GradientStepper):
    """Adam (Kingma & Ba 2015), optionally AMSGrad (Reddi et al. 2018), with bias correction."""

    def __init__(
        self,
        learning_rate: float = 0.05,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        amsgrad: bool = False,
    ) -> None:
        self.learning_rate = learning_rate
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.amsgrad = amsgrad

    def _reset(self, x: np.ndarray) -> None:
        self._m = np.zeros_like(x)
        self._v = np.zeros_like(x)
        self._v_max = np.zeros_like(x)

    def _step(self, grad: np.ndarray, iteration: int) -> np.ndarray:
        self._m = self.beta1 * self._m + (1 - self.beta1) * grad
        self._v = self.beta2 * self._v + (1 - self.beta2) * grad**2
        if self.amsgrad:
            self._v_max = np.maximum(self._v_max, self._v)
            second = self._v_max
        else:
            second = self._v
        m_hat = self._m / (1 - self.beta1**iteration)
        v_hat = second / (1 - self.beta2**iteration)
        return self.learning_rate * m_hat / (np.sqrt(v_hat) + self.eps)


class SGD(_GradientStepper):
    """Gradient descent with optional (Nesterov) momentum, as in PyTorch's ``SGD``."""

    def __init__(self, learning_rate: float = 0.1, momentum: float = 0.0, nesterov: bool = False) -> None:
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.nesterov = nesterov

    def _reset(self, x: np.ndarray) -> None:
        self._velocity = np.zeros_like(x)

    def _step(self, grad: np.ndarray, iteration: int) -> np.ndarray:
        if self.momentum == 0:
            return self.learning_rate * grad
        self._velocity = grad if iteration == 1 else self.momentum * self._velocity + grad
        direction = grad + self.momentum * self._velocity if self.nesterov else self._velocity
        return self.learning_rate * direction
