"""A trained run's weights evaluated on another backend."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import (
    PluginChoice,
    Project,
)
from qmlstudio.plugins.manager import PluginRegistry
from qmlstudio.workflow.backends import _resolve_choice
from qmlstudio.workflow.runs import _project_seeds, build_run, find_run, project_for_run


@dataclass
class Evaluation:
    """A trained run's weights evaluated on a backend: what :func:`evaluate_weights` returns.

    ``values`` are the model's outputs on the test split (samples × outputs: class
    probabilities, or ⟨Z⟩ for a regressor), ``loss`` the test loss and ``accuracy`` the test
    accuracy (R² for a regressor).
    """

    run_id: str
    choice: PluginChoice
    accuracy: float
    loss: float
    values: Any
    #: the seed each random source of the evaluation used (a drawn one where none was given)
    seeds: dict[str, Any] | None = None
    #: what the backend applied (as :attr:`RunRecord.backend_applied`)
    backend_applied: dict[str, Any] | None = None


def evaluate_weights(
    project: Project,
    registry: PluginRegistry,
    run_id: str,
    backend_choice: PluginChoice | str,
    *,
    controls: Any = None,
    on_backend: Any = None,
) -> Evaluation:
    """Evaluates a run's final weights on the test split of a backend, recording nothing.

    The data and model are rebuilt exactly as the run's config says (``run.config``), the
    final weights are bound, and the test split runs on the chosen backend: exact
    simulation for the statevector backend (QML Studio's own simulator), its V2 primitives
    otherwise (an exact backend's estimator, a shot-based one's sampler). ``on_backend(backend)``
    is called before anything runs (to follow IBM jobs); ``controls.cancel()`` stops a
    remote job. See :func:`evaluate_run`, which also records the result.
    """
    import numpy as np

    from qmlstudio.core.models import ExactEvaluator, PrimitiveEvaluator

    run = find_run(project, run_id)
    for part in ("model", "backend"):
        if not isinstance(run.config.get(part) or {}, dict):
            raise QMLStudioError(f"run {run.id}: its recorded configuration's {part} is not an object; "
                                 "the project file was edited or damaged")
    if (run.config.get("model") or {}).get("kind") == "kernel":
        raise QMLStudioError("evaluating on another backend works for variational models (vqc, regressor), not kernels")
    weights = [np.nan if w is None else w for w in run.final_weights]
    if not weights or not np.all(np.isfinite(weights)):
        raise QMLStudioError(f"run {run.id} has no finite final weights to evaluate")
    snapshot = project_for_run(project, run)
    base = PluginChoice.from_dict(run.config["backend"], "backend") if run.config.get("backend") else None
    if isinstance(backend_choice, str):
        choice = _resolve_choice(registry, backend_choice, base=base)
    else:
        choice = backend_choice
    # widen: a run saved before hidden qubits were refused may have used more wires than its circuit lists
    trained = build_run(snapshot, registry, backend=choice, controls=controls, widen=True)
    backend = trained.backend
    if on_backend is not None:
        on_backend(backend)
    parameters = np.asarray(weights, dtype=float)
    if parameters.shape != (trained.num_parameters,):
        raise QMLStudioError(
            f"run {run.id} has {len(parameters)} weights but its model needs {trained.num_parameters}"
        )
    if len(trained.data.y_test) == 0:
        raise QMLStudioError(f"run {run.id} has an empty test split: nothing to evaluate")
    observables = trained.head.observables(trained.model.num_qubits)
    detach = None
    try:
        # The evaluator follows the backend, whatever gradient the run trained with.
        if getattr(backend, "engine", False):
            if not isinstance(trained.evaluator, ExactEvaluator):
                trained.evaluator = ExactEvaluator(trained.model.design, observables,
                                                   threads=getattr(backend, "threads", None))
        elif not isinstance(trained.evaluator, PrimitiveEvaluator):
            trained.evaluator = PrimitiveEvaluator(trained.model.design, observables, backend)
        if controls is not None and hasattr(controls, "on_cancel"):
            detach = controls.on_cancel(backend.cancel)
        n = trained.model.num_weights
        values = trained.evaluator.values(parameters[:n], trained.test_inputs)
    finally:
        if detach is not None:
            detach()
        close = getattr(backend, "close", None)
        if callable(close):
            close()
    extra, targets = parameters[n:], trained.data.y_test
    loss = trained.head.loss(values, extra, targets)[0]
    accuracy = trained.head.score(trained.head.predict(values, extra), targets)
    from qmlstudio.core.project import RunRecord
    from qmlstudio.core.training import record_backend_use

    used = RunRecord()  # what the evaluation used, in the run record's terms
    used.record_seeds(_project_seeds(snapshot))
    record_backend_use(used, backend, trained.evaluator)
    return Evaluation(run.id, choice, float(accuracy), float(loss), values, seeds=dict(used.seeds),
                      backend_applied=dict(used.backend_applied))


def evaluate_run(
    project: Project,
    registry: PluginRegistry,
    run_id: str,
    backend_choice: PluginChoice | str,
    *,
    controls: Any = None,
    on_backend: Any = None,
) -> float:
    """Test accuracy (R² for regressors) of a trained run's final weights on another backend.

    Rebuilds the data and model exactly as the run's config says, binds the run's final
    weights and evaluates the test split on the chosen backend without retraining (see
    :func:`evaluate_weights`). Appends ``{backend, options, accuracy}`` to the run's
    ``evaluations`` (the project notices; saving is the caller's business) and returns the
    accuracy, so ideal, noisy and hardware accuracy stand side by side.
    """
    result = evaluate_weights(project, registry, run_id, backend_choice, controls=controls, on_backend=on_backend)
    record_evaluation(project, result)
    return result.accuracy


def record_evaluation(project: Project, result: Evaluation) -> Any:
    """Appends ``result`` (from :func:`evaluate_weights`) to its run's ``evaluations``
    (``{backend, options, accuracy, seeds, backend_applied}``) and tells the project; returns
    the run. The CLI (through :func:`evaluate_run`) and the GUI record evaluations this way."""
    run = find_run(project, result.run_id)
    run.evaluations.append(
        {"backend": result.choice.name, "options": dict(result.choice.options), "accuracy": result.accuracy,
         "seeds": result.seeds or {}, "backend_applied": result.backend_applied or {}}
    )
    project.run_updated(run)
    return run
