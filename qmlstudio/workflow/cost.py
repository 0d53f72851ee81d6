"""What a run will cost: circuits, shots, the exact simulator's plan, in words."""

from __future__ import annotations

import math

from typing import Any

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.project import (
    PluginChoice,
    Project,
)
from qmlstudio.plugins.manager import PluginRegistry
from qmlstudio.workflow.backends import _resolve_choice, create_backend
from qmlstudio.workflow.projects import model_options
from qmlstudio.workflow.runs import _prepared_model, _training_options, backend_of

# ---------------------------------------------------------------------------
# Shots and cost
# ---------------------------------------------------------------------------
_FOUR_TERM_GATES = {"crx", "cry", "crz"}


def _circuit_evaluations(design: CircuitDesign) -> int:
    """Circuits per sample for one parameter-shift gradient: 1 + 2·(two-term angles) + 4·(four-term ones)."""
    count = 1
    for gate in design.ordered_gates:
        for angle in gate.params:
            if not angle.is_constant and angle.weights:
                count += 4 if gate.name in _FOUR_TERM_GATES else 2
    return count


def estimate_cost(
    project: Project,
    registry: PluginRegistry,
    backend_choice: PluginChoice | str | None = None,
    *,
    epochs: int | None = None,
) -> dict[str, Any]:
    """The circuits and shots a training run of the project will send to the backend.

    A gradient step with parameter shift runs (1 + 2·S₂ + 4·S₄) circuits per sample of the
    mini-batch (S₂ weight-dependent angles with the two-term rule, S₄ controlled rotations
    with the four-term rule); a gradient-free optimizer about two loss evaluations (one
    circuit per sample each). Evaluating the test and training splits adds one circuit per
    sample whenever the run evaluates (every ``eval_every`` iterations). Exact backends
    (with the adjoint gradient) run no circuits through primitives and cost no shots.

    Returns ``circuits_per_iteration`` and ``shots_per_iteration`` (an iteration that also
    evaluates: the most one costs), ``total_circuits``, ``total_shots``, and the parts:
    ``iterations``, ``shots_per_circuit``, ``gradient``, ``training_circuits_per_iteration``,
    ``evaluation_circuits`` (per evaluation), ``evaluations``, ``exact`` and ``backend``.
    Kernel models count one kernel matrix (train × train and test × train entries).
    Nothing is transpiled and no account is contacted; :func:`run_cost` gives the same for
    a run already built.
    """
    if isinstance(backend_choice, str):
        choice = _resolve_choice(registry, backend_choice, base=project.backend)
    else:
        choice = backend_choice or project.backend
    backend = create_backend(registry, choice)
    data, model = _prepared_model(project, registry)
    if project.model.kind == "kernel":
        return _count(choice.name, backend, data, model, None, adjoint=False, uses_gradient=False)
    options = model_options(project)
    training = _training_options(project, options, epochs)
    # QML Studio's own simulator (the statevector backend) computes adjoint gradients; every
    # other backend runs its primitives with parameter shift (TrainingRun refuses other pairs).
    # So does the exact noisy backend (density matrices, reverse mode through the channels).
    adjoint = ((bool(getattr(backend, "engine", False)) or callable(getattr(backend, "noisy_program", None)))
               and training.gradient in ("auto", "adjoint"))
    uses_gradient = bool(getattr(registry.get("optimizers", project.optimizer.name), "uses_gradient", True))
    return _count(choice.name, backend, data, model, training, adjoint=adjoint, uses_gradient=uses_gradient)


def evaluation_count(iterations: int, per_epoch: int, eval_every: int, early_stopping: bool) -> int:
    """How many of iterations 1..``iterations`` evaluate the splits, counted without walking
    them (a run of 10¹² epochs is priced at once): those ``eval_every`` divides (0: each
    epoch's last), each epoch's last when early stopping watches it, and the last one."""
    if iterations <= 0:
        return 0
    every = per_epoch if eval_every == 0 else max(1, int(eval_every))
    count = iterations // every
    if early_stopping and every != per_epoch:  # epoch ends that are not already counted
        count += iterations // per_epoch - iterations // math.lcm(every, per_epoch)
    last_counted = iterations % every == 0 or (early_stopping and iterations % per_epoch == 0)
    return count + (0 if last_counted else 1)


def run_cost(run: Any) -> dict[str, Any]:
    """:func:`estimate_cost` for a built ``TrainingRun`` (or ``KernelRun``), before it runs."""
    from qmlstudio.core.models import ExactEvaluator, NoisyExactEvaluator

    backend = backend_of(run)
    name = ((getattr(getattr(run, "record", None), "config", None) or {}).get("backend") or {}).get("name")
    name = name or type(backend).__name__
    if run.kind == "kernel":
        return _count(name, backend, run.data, run.model, None, adjoint=False, uses_gradient=False)
    if not hasattr(run, "options"):  # a plugin's model (hybrid): exact, on the engine, no circuits to a primitive
        epochs = getattr(run, "epochs", 0)
        return {"backend": name, "exact": True, "shots_per_circuit": None, "iterations": run.total_iterations,
                "gradient": "exact (adjoint)", "training_circuits_per_iteration": 0, "evaluation_circuits": 0,
                "evaluations": epochs, "circuits_per_iteration": 0, "shots_per_iteration": 0, "total_circuits": 0,
                "total_shots": 0}
    return _count(name, run.backend, run.data, run.model, run.options,
                  adjoint=isinstance(run.evaluator, (ExactEvaluator, NoisyExactEvaluator)),
                  uses_gradient=bool(getattr(run.optimizer, "uses_gradient", True)))


#: An exact run expected to take longer than this (seconds) is announced with a warning.
LONG_RUN_SECONDS = 120.0


def exact_plan(run: Any) -> dict[str, Any] | None:
    """What an exact training run (the engine's own simulator) will need, before it runs:
    ``qubits``, ``threads``, ``batch``, ``part_samples`` (samples simulated together),
    ``state_bytes`` (the most memory its states take, see
    :meth:`~qmlstudio.core.statevector.StatevectorProgram.state_bytes`), and, from one part
    of the first batch simulated and timed now, ``step_seconds``, ``evaluation_seconds``
    (a forward pass over the training and validation splits), ``iterations``, ``evaluations``,
    ``cadence`` (how often the run evaluates, in words),
    ``seconds_per_iteration`` (evaluations included) and ``total_seconds``; ``long`` when
    the run is expected to take more than :data:`LONG_RUN_SECONDS`. None for other runs.
    """
    from qmlstudio.core.models import ExactEvaluator

    evaluator = getattr(run, "evaluator", None)
    if not isinstance(evaluator, ExactEvaluator):
        return None
    program = evaluator.program
    options = run.options
    n_train, n_val = len(run.data.y_train), len(getattr(run.data, "y_val", ()))
    batch = min(options.batch_size or n_train, n_train)
    cost = _count("", run.backend, run.data, run.model, options, adjoint=True, uses_gradient=True)
    weights = run.initial_parameters()[: run.model.num_weights]
    timing = program.estimate_seconds(weights, run.train_inputs[:batch], batch, evaluated=n_train + n_val)
    iterations, evaluations = cost["iterations"], cost["evaluations"]
    total = iterations * timing["step_seconds"] + evaluations * timing["evaluation_seconds"]
    parts = program._parts(batch if program.uses_inputs else 1)
    return {
        "qubits": program.num_qubits,
        "threads": program.threads,
        "batch": batch,
        "part_samples": parts[0].stop - parts[0].start,
        "state_bytes": program.state_bytes(batch),
        "step_seconds": timing["step_seconds"],
        "evaluation_seconds": timing["evaluation_seconds"],
        "iterations": iterations,
        "evaluations": evaluations,
        "cadence": ("once per epoch" if options.eval_every == 0 else
                    "every iteration" if options.eval_every == 1 else f"every {options.eval_every} iterations"),
        "seconds_per_iteration": total / max(iterations, 1),
        "total_seconds": total,
        "long": total > LONG_RUN_SECONDS,
    }


def _duration(seconds: float) -> str:
    if seconds < 1:
        return f"{seconds:.2g} s"
    if seconds < 120:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _memory(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "bytes" else f"{size:.1f} {unit}"
        size /= 1024
    return ""  # pragma: no cover


def describe_exact_plan(plan: dict[str, Any]) -> str:
    """One line for people: ``exact simulation, 20 qubits on 2 threads: states take 192.0 MiB …``."""
    threads = f"{plan['threads']} thread{'s' * (plan['threads'] != 1)}"
    return (
        f"exact simulation, {plan['qubits']} qubits on {threads}: states take {_memory(plan['state_bytes'])} "
        f"(batch {plan['batch']} in parts of {plan['part_samples']}); expected {_duration(plan['step_seconds'])} "
        f"per training step, {_duration(plan['evaluation_seconds'])} per evaluation; {plan['iterations']:,} "
        f"iteration{'s' * (plan['iterations'] != 1)} (evaluated {plan.get('cadence', '')}: {plan['evaluations']:,}): about "
        f"{_duration(plan['seconds_per_iteration'])} per iteration, {_duration(plan['total_seconds'])} in all"
    )


def _count(name: str, backend: Any, data: Any, model: Any, options: Any, *, adjoint: bool, uses_gradient: bool) -> dict[str, Any]:
    shots = getattr(backend, "shots", None)
    exact = bool(getattr(backend, "exact", False))
    n_train, n_test, n_val = len(data.y_train), len(data.y_test), len(getattr(data, "y_val", ()))
    result: dict[str, Any] = {"backend": name, "exact": exact, "shots_per_circuit": shots}
    if options is None:  # a kernel model: one kernel matrix
        # off-diagonal pairs, as qiskit-ml computes, then the validation and test rows against the training rows
        circuits = n_train * (n_train - 1) // 2 + (n_val + n_test) * n_train
        # the engine computes exact states; any other backend samples fidelities (an exact
        # one such as aer-statevector with its sampler's shots)
        engine = bool(getattr(backend, "engine", False))
        per_shot = 0 if engine else int(shots or getattr(backend, "sampler_shots", 0) or 0)
        result["exact"] = engine
        if not engine and shots is None:
            result["shots_per_circuit"] = per_shot or None
        result.update(iterations=1, gradient=None, training_circuits_per_iteration=circuits, evaluation_circuits=0,
                      evaluations=0, circuits_per_iteration=circuits, shots_per_iteration=circuits * per_shot,
                      total_circuits=circuits, total_shots=circuits * per_shot)
        return result
    size = options.batch_size or n_train
    from qmlstudio.core.training import batches_per_epoch

    per_epoch = batches_per_epoch(n_train, size)
    batch_sizes = [size] * (per_epoch - 1) + [n_train - size * (per_epoch - 1)] if per_epoch > 1 else [n_train]
    total_iterations = options.epochs * per_epoch
    evaluations = evaluation_count(total_iterations, per_epoch, options.eval_every, options.early_stopping)
    if adjoint:
        result.update(exact=True, shots_per_circuit=None)  # no circuits reach a primitive, no shots
        result.update(iterations=total_iterations, gradient="exact (adjoint)", training_circuits_per_iteration=0,
                      evaluation_circuits=0, evaluations=evaluations, circuits_per_iteration=0,
                      shots_per_iteration=0, total_circuits=0, total_shots=0)
        return result
    per_sample = _circuit_evaluations(model.design) if uses_gradient else 2
    # each evaluation runs the training and validation rows; the test rows run once, at the end
    evaluation_circuits = n_val + n_train
    total = options.epochs * sum(batch_sizes) * per_sample + evaluations * evaluation_circuits + n_test
    training = max(batch_sizes) * per_sample
    per_iteration = training + (evaluation_circuits if evaluations else 0)
    # an exact backend's estimator (aer-statevector) gives exact values: circuits, no shots
    per_shot = 0 if exact else int(shots or 0)
    result.update(
        iterations=total_iterations,
        gradient="parameter-shift" if uses_gradient else "none (gradient-free optimizer)",
        training_circuits_per_iteration=training,
        evaluation_circuits=evaluation_circuits,
        evaluations=evaluations,
        circuits_per_iteration=per_iteration,
        shots_per_iteration=per_iteration * per_shot,
        total_circuits=total,
        total_shots=total * per_shot,
    )
    return result


def describe_cost(cost: dict[str, Any]) -> str:
    """One line for people: ``aer-noise: 616 circuits × 1024 shots per iteration, 25 iterations: …``."""
    if cost.get("exact") and not cost.get("total_circuits"):
        return f"{cost['backend']}: exact simulation, no shots"
    shots = cost.get("shots_per_circuit") or 0
    return (
        f"{cost['backend']}: {cost['circuits_per_iteration']:,} circuits × {shots:,} shots per iteration "
        f"({cost['shots_per_iteration']:,} shots); {cost['iterations']:,} "
        f"iteration{'s' if cost['iterations'] != 1 else ''}: "
        f"{cost['total_circuits']:,} circuits, {cost['total_shots']:,} shots in total"
    )
