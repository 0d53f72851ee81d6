"""What the views show of a model without training it: the state view's circuit, the
starting weights, and the exact pictures (decision boundary, confusion matrix) of a run.

Written once here, for the GUI and any other caller: the views never build the engine's
evaluators themselves.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qmlstudio.core.project import Project

__all__ = ["ExactView", "ModelPreview", "data_units", "exact_view", "initial_weights"]

#: The statevectors of one picture may take this many bytes (so wide circuits get coarser grids).
VIEW_BYTES = 64 << 20
#: Grid points per side of a decision-boundary image (fewer for wide circuits).
GRID_SIZE = 64


def initial_weights(project: Project, count: int) -> np.ndarray:
    """The first ``count`` circuit weights a run of ``project`` starts from (the same draw as
    :meth:`TrainingRun.initial_parameters <qmlstudio.core.training.TrainingRun.initial_parameters>`:
    the project's seed and its ``init_scale`` and ``init`` model options)."""
    from qmlstudio.core.training import initial_weights as draw

    options = project.model.options or {}
    scale = options.get("init_scale", 1.0)
    try:
        scale = float(scale)
    except (TypeError, ValueError):
        scale = 1.0
    init = options.get("init", "uniform")
    return draw(count, int(project.seed), scale, init if isinstance(init, str) else "uniform")


class ModelPreview:
    """A project's model circuit (encoding + ansatz) on prepared features, simulated exactly:
    what the state view shows. Raises the model's own error when the encoding does not fit."""

    def __init__(self, encoder: Any, design: Any, num_features: int) -> None:
        from qmlstudio.core.models import ModelCircuit

        self.model = ModelCircuit(encoder, design, num_features)

    @property
    def num_qubits(self) -> int:
        return int(self.model.num_qubits)

    @property
    def num_weights(self) -> int:
        return int(self.model.num_weights)

    def probabilities(self, weights: np.ndarray, features: np.ndarray) -> np.ndarray:
        """The basis-state probabilities (2ⁿ) of one prepared sample at ``weights``."""
        from qmlstudio.core.statevector import StatevectorProgram

        inputs = self.model.inputs(np.asarray(features, dtype=float)[None, :])
        return np.asarray(StatevectorProgram(self.model.design).probabilities(weights, inputs)[0], dtype=float)


class ExactView:
    """A variational run's model evaluated exactly (statevector), for pictures of its predictions.

    Uses the run's own evaluator when it is exact; otherwise an exact evaluator of the same
    circuit and readout, so that pictures of a shot-based run never spend shots
    (``same_as_run`` says which). ``grid_size`` is the side of the boundary grid that fits
    :data:`VIEW_BYTES` (0: no grid).
    """

    def __init__(self, run: Any, evaluator: Any, same_as_run: bool, grid_size: int) -> None:
        self.run = run
        self.evaluator = evaluator
        self.same_as_run = same_as_run
        self.grid_size = grid_size

    def evaluate(self, parameters: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Class probabilities (classifier) or predicted values in the data's units (regressor)."""
        run = self.run
        if self.evaluator is None:  # a plugin's model (hybrid): its own predictions, exact
            return np.asarray(run.predict_proba(features, parameters), dtype=float)
        n = run.model.num_weights
        values = self.evaluator.values(parameters[:n], run.model.inputs(features))
        extra = parameters[n:]
        if run.data.task == "classification":
            return np.asarray(run.head.probabilities(values, extra), dtype=float)
        return data_units(run.data, run.head.predict(values, extra))


def exact_view(run: Any, eval_points: int) -> ExactView | None:
    """The :class:`ExactView` of a variational run for ``eval_points`` rows plus a grid, or
    None: for a kernel run (its pictures come from the fitted SVM, ``run.predict_proba``) or a
    circuit too wide to simulate for a picture."""
    if run.kind == "kernel":
        return None
    if run.kind not in ("vqc", "regressor"):  # a plugin's model: it predicts exactly itself,
        if not getattr(run, "exact", True):  # unless its backend samples: no pictures at a sampler's cost
            return None
        return ExactView(run, None, True, GRID_SIZE if run.data.num_features == 2 else 0)
    from qmlstudio.core.models import ExactEvaluator

    qubits = int(run.model.num_qubits)
    per_point = 16 * 2**qubits
    if per_point * max(eval_points, 1) > 4 * VIEW_BYTES:
        return None
    room = VIEW_BYTES // per_point - eval_points
    size = min(GRID_SIZE, int(math.sqrt(max(room, 0))))
    if run.data.num_features != 2 or size < 12:
        size = 0
    if isinstance(run.evaluator, ExactEvaluator):
        return ExactView(run, run.evaluator, True, size)
    try:
        evaluator = ExactEvaluator(run.model.design, run.head.observables(qubits))
    except Exception:  # noqa: BLE001 - no picture rather than no run
        return None
    return ExactView(run, evaluator, False, size)


def data_units(data: Any, values: np.ndarray) -> np.ndarray:
    """Regression targets and predictions in the data's own units (the engine trains on [-1, 1])."""
    values = np.asarray(values)
    if data.task != "regression":
        return values
    return (np.asarray(values, dtype=float) + 1.0) / data.target_factor + data.target_offset
