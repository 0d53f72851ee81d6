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


#: what each entry of :attr:`Evaluation.metrics` is, in words (the CLI's and the window's)
FIGURE_NAMES = {"raw": "raw", "readout": "readout-mitigated (mthree)", "zne": "zero-noise extrapolated (mitiq)",
                "readout+zne": "readout-mitigated and extrapolated"}


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
    #: ``{"raw": {...}, "readout": {...}, "zne": {...}, "readout+zne": {...}}``, the raw
    #: figures and each mitigation the backend applied: ``loss``, ``accuracy``, their 95 %
    #: intervals over shots (``loss_ci95``, ``accuracy_ci95``: parametric bootstrap of the
    #: measured counts, ``None`` for exact probabilities) and ``mean_abs_dp``, the mean
    #: |Δp| of the class probabilities against the exact (noiseless) simulator
    metrics: dict[str, Any] | None = None
    #: circuits and shots the evaluation ran, calibration included
    cost: dict[str, Any] | None = None


def evaluate_weights(
    project: Project,
    registry: PluginRegistry,
    run_id: str,
    backend_choice: PluginChoice | str,
    *,
    controls: Any = None,
    on_backend: Any = None,
    bootstrap: int = 100,
    on_plan: Any = None,
) -> Evaluation:
    """Evaluates a run's final weights on the test split of a backend, recording nothing.

    The data and model are rebuilt exactly as the run's config says (``run.config``), the
    final weights are bound, and the test split runs on the chosen backend: exact
    simulation for the statevector backend (QML Studio's own simulator), its V2 primitives
    otherwise (an exact backend's estimator, a shot-based one's sampler). ``on_backend(backend)``
    is called before anything runs (to follow IBM jobs); ``controls.cancel()`` stops a
    remote job. See :func:`evaluate_run`, which also records the result.

    Beside the raw figures, ``metrics`` gives those of each error mitigation the backend
    applies (readout mitigation, zero-noise extrapolation: measured on the same shots), the
    95 % intervals over shots (``bootstrap`` multinomial replicates of the measured counts)
    and the mean |Δp| of the class probabilities against the exact, noiseless simulator;
    ``cost`` the circuits and shots it ran. ``on_plan(plan)`` is called before anything runs
    with what it will cost (:func:`evaluation_plan`).
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
    trained = build_run(snapshot, registry, backend=choice, controls=controls, widen=True, evaluating=True)
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
    sampled = not getattr(backend, "engine", False) and not getattr(backend, "exact", False)
    if on_plan is not None:
        on_plan(evaluation_plan(backend, len(trained.data.y_test), trained.model.num_qubits, sampled=sampled))
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
        extra, targets = parameters[n:], trained.data.y_test
        exact = ExactEvaluator(trained.model.design, observables).values(parameters[:n], trained.test_inputs)
        if isinstance(trained.evaluator, PrimitiveEvaluator) and not trained.evaluator.uses_estimator:
            metrics, cost, values = _measured_figures(trained, backend, parameters, exact, bootstrap=bootstrap)
        else:  # exact values: the engine's, or an exact backend's estimator
            values = trained.evaluator.values(parameters[:n], trained.test_inputs)
            metrics = {"raw": _figures(trained.head, values, extra, targets, exact)}
            cost = {"circuits": 0 if getattr(backend, "engine", False) else len(targets), "shots": 0}
    finally:
        if detach is not None:
            detach()
        close = getattr(backend, "close", None)
        if callable(close):
            close()
    loss, accuracy = metrics["raw"]["loss"], metrics["raw"]["accuracy"]
    from qmlstudio.core.project import RunRecord
    from qmlstudio.core.training import record_backend_use

    used = RunRecord()  # what the evaluation used, in the run record's terms
    used.record_seeds(_project_seeds(snapshot))
    record_backend_use(used, backend, trained.evaluator)
    return Evaluation(run.id, choice, float(accuracy), float(loss), values, seeds=dict(used.seeds),
                      backend_applied=dict(used.backend_applied), metrics=metrics, cost=cost)


def _figures(head: Any, values: Any, extra: Any, targets: Any, exact: Any) -> dict[str, Any]:
    """Loss, accuracy and the mean |Δp| of the class probabilities against ``exact`` values."""
    import numpy as np

    loss = float(head.loss(values, extra, targets)[0])
    accuracy = float(head.score(head.predict(values, extra), targets))
    if hasattr(head, "num_classes"):
        shift = float(np.mean(np.abs(head.probabilities(values, extra) - head.probabilities(exact, extra))))
    else:  # a regressor: the mean |Δ| of its outputs
        shift = float(np.mean(np.abs(head.predict(values, extra) - head.predict(exact, extra))))
    return {"loss": loss, "accuracy": accuracy, "mean_abs_dp": shift}


def _combine(observables: Any, mitigations: list[Any], dists: list[Any], shots: int | None) -> dict[str, Any]:
    """Values (samples × outputs) raw and with each mitigation, from the outcome distributions
    of the circuit (``dists[0]``) and of its folded copies (zero-noise extrapolation)."""
    readout = next((m for m in mitigations if m.name == "readout"), None)
    zne = next((m for m in mitigations if m.name == "zne"), None)
    out = {"raw": dists[0] @ observables.T}
    if readout is not None:
        corrected = [readout.correct(d, shots) for d in (dists if zne is not None else dists[:1])]
        out["readout"] = corrected[0] @ observables.T
    if zne is not None:
        out["zne"] = zne.extrapolate([d @ observables.T for d in dists])
        if readout is not None:
            out["readout+zne"] = zne.extrapolate([c @ observables.T for c in corrected])
    return out


def _measured_figures(trained: Any, backend: Any, parameters: Any, exact: Any, *, bootstrap: int) -> tuple[dict, dict, Any]:
    """The test split measured through the backend's sampler path (or exact noisy
    probabilities), raw and with the backend's mitigations, each with 95 % intervals over
    shots: the measured distributions are resampled (multinomial, ``bootstrap`` times) and
    every replicate goes through the same mitigation."""
    import numpy as np

    evaluator, head = trained.evaluator, trained.head
    n = trained.model.num_weights
    extra, targets = parameters[n:], trained.data.y_test
    phi = evaluator._phi(parameters[:n], trained.test_inputs)
    raw, shots = evaluator.sample(phi)
    mitigations = list(backend.mitigations(evaluator)) if callable(getattr(backend, "mitigations", None)) else []
    dists = [raw]
    zne = next((m for m in mitigations if m.name == "zne"), None)
    if zne is not None:
        dists += zne.collect(evaluator.sample_circuits, [evaluator.bound_circuit(row) for row in phi])
    observables = evaluator.observables
    values = _combine(observables, mitigations, dists, shots)
    metrics = {name: _figures(head, v, extra, targets, exact) for name, v in values.items()}
    if shots:
        rng = np.random.default_rng(int(getattr(backend, "seed_used", 0) or 0) + 1)
        samples: dict[str, list[dict[str, Any]]] = {name: [] for name in values}
        measured = [np.clip(d, 0, None) / np.clip(d, 0, None).sum(axis=1, keepdims=True) for d in dists]
        for _ in range(bootstrap):
            again = [rng.multinomial(shots, p) / shots for p in measured]
            for name, v in _combine(observables, mitigations, again, shots).items():
                samples[name].append(_figures(head, v, extra, targets, exact))
        for name, replicates in samples.items():
            for key in ("loss", "accuracy"):
                low, high = np.percentile([r[key] for r in replicates], [2.5, 97.5])
                metrics[name][f"{key}_ci95"] = [float(low), float(high)]
    else:
        for figures in metrics.values():
            figures["loss_ci95"] = figures["accuracy_ci95"] = None
    rows = len(targets)
    circuits = rows * len(dists)
    cost: dict[str, Any] = {"circuits": circuits, "shots": circuits * (shots or 0),
                            "bootstrap_replicates": bootstrap if shots else 0}
    readout = next((m for m in mitigations if m.name == "readout"), None)
    if readout is not None:
        cost["calibration_circuits"] = readout.circuits
        cost["calibration_shots"] = readout.circuits * readout.shots
    return metrics, cost, values["raw"]


def evaluation_plan(backend: Any, rows: int, measured_qubits: int, *, sampled: bool = True) -> dict[str, Any]:
    """What evaluating ``rows`` test samples on ``backend`` will cost, before it runs: one circuit
    per sample at the backend's shots (none for the engine's exact simulator), the folded
    circuits of zero-noise extrapolation at the same shots, and mthree's calibration
    (:meth:`~qmlstudio.plugins.Backend.mitigation_cost`); the totals are those the evaluation's
    ``cost`` reports when it ends (the bootstrap resamples counts: no circuits)."""
    shots = int(getattr(backend, "shots", 0) or 0) if sampled else 0
    extra = backend.mitigation_cost(rows, measured_qubits) if callable(getattr(backend, "mitigation_cost", None)) else {}
    circuits = 0 if getattr(backend, "engine", False) else int(rows)
    zne = int(extra.get("zne_circuits", 0))
    plan: dict[str, Any] = {"rows": int(rows), "shots_per_circuit": shots, "circuits": circuits, "zne_circuits": zne,
                            "calibration_circuits": int(extra.get("calibration_circuits", 0)),
                            "calibration_shots": int(extra.get("calibration_shots", 0))}
    plan["total_circuits"] = circuits + zne + plan["calibration_circuits"]
    plan["total_shots"] = (circuits + zne) * shots + plan["calibration_shots"]
    return plan


def describe_evaluation_plan(plan: dict[str, Any]) -> str:
    """One line for people: ``38 circuits × 8,192 shots, + 76 folded (ZNE), + 16 calibration
    circuits × 10,000 shots (mthree): 130 circuits, 1,093,632 shots``."""
    shots = plan["shots_per_circuit"]
    parts = [f"{plan['circuits']:,} circuit{'s' if plan['circuits'] != 1 else ''}"
             + (f" × {shots:,} shots" if shots else " (exact)")]
    if plan["zne_circuits"]:
        parts.append(f"{plan['zne_circuits']:,} folded (ZNE)")
    if plan["calibration_circuits"]:
        parts.append(f"{plan['calibration_circuits']:,} calibration circuits × "
                     f"{plan['calibration_shots'] // plan['calibration_circuits']:,} shots (mthree)")
    text = ", + ".join(parts)
    if len(parts) > 1:
        text += f": {plan['total_circuits']:,} circuits, {plan['total_shots']:,} shots"
    return f"{plan['rows']:,} test samples: {text}"


def evaluate_run(
    project: Project,
    registry: PluginRegistry,
    run_id: str,
    backend_choice: PluginChoice | str,
    *,
    controls: Any = None,
    on_backend: Any = None,
    bootstrap: int = 100,
    on_plan: Any = None,
) -> float:
    """Test accuracy (R² for regressors) of a trained run's final weights on another backend.

    Rebuilds the data and model exactly as the run's config says, binds the run's final
    weights and evaluates the test split on the chosen backend without retraining (see
    :func:`evaluate_weights`). Appends ``{backend, options, accuracy}`` to the run's
    ``evaluations`` (the project notices; saving is the caller's business) and returns the
    accuracy, so ideal, noisy and hardware accuracy stand side by side.
    """
    result = evaluate_weights(project, registry, run_id, backend_choice, controls=controls, on_backend=on_backend,
                              bootstrap=bootstrap, on_plan=on_plan)
    record_evaluation(project, result)
    return result.accuracy


def record_evaluation(project: Project, result: Evaluation) -> Any:
    """Appends ``result`` (from :func:`evaluate_weights`) to its run's ``evaluations``
    (``{backend, options, accuracy, seeds, backend_applied}``) and tells the project; returns
    the run. The CLI (through :func:`evaluate_run`) and the GUI record evaluations this way."""
    run = find_run(project, result.run_id)
    entry = {"backend": result.choice.name, "options": dict(result.choice.options), "accuracy": result.accuracy,
             "seeds": result.seeds or {}, "backend_applied": result.backend_applied or {}, "loss": result.loss}
    if result.metrics is not None:
        entry["metrics"] = result.metrics
    if result.cost is not None:
        entry["cost"] = result.cost
    run.evaluations.append(entry)
    project.run_updated(run)
    return run
