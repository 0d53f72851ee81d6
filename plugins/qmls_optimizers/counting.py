"""Counting a problem's evaluations, so that every reported step says how many have been spent."""

from __future__ import annotations

from typing import Callable

import numpy as np

from qmlstudio.plugins import OptimizerResult, OptimizerStep, Problem

Callback = Callable[[OptimizerStep], "bool | None"]


class CountedProblem:
    """Wraps a :class:`Problem`; ``evaluations`` counts calls of ``value`` and ``value_and_grad``.

    Each call gets its own copy of ``x``, so a problem that keeps or changes the array
    cannot disturb the optimizer. Exceptions raised by the problem pass through untouched.
    """

    def __init__(self, problem: Problem) -> None:
        self.problem = problem
        self.evaluations = 0

    def value(self, x: np.ndarray) -> float:
        self.evaluations += 1
        return float(self.problem.value(np.array(x, dtype=float)))

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        self.evaluations += 1
        loss, grad = self.problem.value_and_grad(np.array(x, dtype=float))
        grad = np.asarray(grad, dtype=float).reshape(np.shape(x))
        return float(loss), grad


def start_point(x0: np.ndarray, max_iterations: int) -> np.ndarray:
    """``x0`` as a fresh 1-D float array; checks ``max_iterations``."""
    if int(max_iterations) < 1:
        raise ValueError(f"max_iterations must be at least 1, got {max_iterations}")
    return np.array(x0, dtype=float).reshape(-1)


def report(callback: Callback | None, step: OptimizerStep) -> bool:
    """Calls the callback with ``step``; ``True`` when it asks to stop."""
    return bool(callback(step)) if callback is not None else False


def finished(x: np.ndarray, loss: float, iterations: int, stopped: bool, message: str = "") -> OptimizerResult:
    if stopped and not message:
        message = f"stopped by the caller after iteration {iterations}"
    return OptimizerResult(x=np.array(x, dtype=float), loss=float(loss), iterations=iterations, stopped=stopped,
                           message=message)
