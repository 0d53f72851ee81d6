"""From a project to a run (variational or kernel), and back from a saved run to its project."""

from __future__ import annotations

from typing import Any

from qmlstudio.core.control import Run
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import (
    MODEL_KINDS,
    PluginChoice,
    Project,
)
from qmlstudio.plugins.manager import PluginRegistry
from qmlstudio.workflow.backends import backend_choice, create_backend
from qmlstudio.workflow.data import prepared_data
from qmlstudio.workflow.projects import (
    HiddenQubits,
    check_initialisation,
    model_options,
    simulation_fixes,
    widen_circuit,
)


def build_run(
    project: Project,
    registry: PluginRegistry,
    *,
    epochs: int | None = None,
    callback: Any = None,
    controls: Any = None,
    resume: Any = None,
    backend: PluginChoice | str | None = None,
    widen: bool = False,
    evaluating: bool = False,
) -> Run:
    """A :class:`~qmlstudio.core.training.TrainingRun` (or ``KernelRun``) for the project as it is:
    both answer the :class:`~qmlstudio.core.control.Run` protocol.

    ``backend`` (a :class:`PluginChoice` or a choice text such as ``aer-noise:fake_manila``,
    see :func:`backend_choice`) overrides the project's backend for this run only; the
    run's config records the one used.

    When the encoding needs more qubits than the project's circuit has, this raises
    :class:`HiddenQubits`, or with ``widen`` adds the missing wires to ``project.circuit``
    first (:func:`widen_circuit`), so that a run never uses a qubit the design lacks. A
    model too wide to simulate on this machine raises
    :class:`~qmlstudio.core.memory.SimulationTooLarge` with the fixes
    (:func:`simulation_fixes`) in its message, before anything large is allocated.

    A backend whose options apply only when a trained run is evaluated (error mitigation,
    shots on ``noisy-exact``) is refused for training with its reason; ``evaluating`` (for
    :func:`~qmlstudio.workflow.evaluate_weights`) builds the run to evaluate, not to train.
    """
    from qmlstudio.core.kernels import KernelRun
    from qmlstudio.core.memory import SimulationTooLarge
    from qmlstudio.core.training import TrainingRun

    if isinstance(backend, str):
        backend = backend_choice(registry, backend, base=project.backend)
    chosen = backend or project.backend
    if project.model.kind not in MODEL_KINDS:
        return _plugin_model_run(project, registry, chosen, epochs, callback, controls)
    data, model = _prepared_model(project, registry)
    if project.model.kind != "kernel" and model.num_qubits > project.circuit.num_qubits:
        # Training never runs on a wire the circuit (and so the canvas) does not have.
        hidden = HiddenQubits(project.encoding.name, model.num_features, model.num_qubits, project.circuit.num_qubits)
        if not widen:
            raise hidden
        widen_circuit(project, model.num_qubits)
        data, model = _prepared_model(project, registry)
    backend_object = create_backend(registry, chosen)
    size = getattr(backend_object, "num_device_qubits", None)
    if isinstance(size, int) and size < model.num_qubits:
        raise QMLStudioError(f"backend {chosen.name!r}: its device has {size} qubit{'s' if size != 1 else ''} and the "
                             f"circuit needs {model.num_qubits}: choose a larger device")
    if not evaluating:
        problem = backend_object.training_problem() if callable(getattr(backend_object, "training_problem", None)) else None
        if problem:
            raise QMLStudioError(f"backend {chosen.name!r}: {problem}")
    options = model_options(project)
    config = project.config_snapshot()
    config["backend"] = chosen.to_dict()
    start = None
    check_initialisation(options)
    if options["init"] == "identity-blocks" and project.model.kind != "kernel" and not options.get("init_from"):
        identity_blocks_problem(project)
    if options.get("init_from") and project.model.kind != "kernel":
        source = warm_start_run(project, str(options["init_from"]))
        start = tuple(float(w) for w in source.final_weights)
        config["model"]["options"] = {**config["model"].get("options", {}), "init_from": source.id}  # "last" resolved
    try:
        if project.model.kind == "kernel":
            # What the project does not fix is chosen by cross-validation on the training rows.
            tune = tuple(name for name in ("C", "bandwidth") if name not in project.model.options)
            run: Any = KernelRun(data=data, model=model, backend=backend_object, C=options["C"],
                                 bandwidth=options["bandwidth"], tune=tune, seed=project.seed,
                                 baselines=options["baselines"], config=config, callback=callback,
                                 controls=controls)
        else:
            optimizer = registry.get("optimizers", project.optimizer.name).create(project.optimizer.options)
            run = TrainingRun(data=data, model=model, kind=project.model.kind, optimizer=optimizer,
                              backend=backend_object, options=_training_options(project, options, epochs, start),
                              record=resume, config=config, callback=callback, controls=controls)
    except SimulationTooLarge as exc:
        fixes = simulation_fixes(project, registry, data.num_features, max(len(data.y_train), len(data.y_test)))
        hint = " or ".join(fix.command_hint for fix in fixes)
        raise exc.with_hint(f"to fix it, {hint}" if hint else "reduce the features or the qubits") from None
    run.record.record_seeds(_project_seeds(project))
    return run


def model_kind_spec(registry: PluginRegistry, kind: str) -> Any:
    """The :class:`~qmlstudio.plugins.descriptors.ModelSpec` of a plugin's model kind, or a
    clear error: no plugin provides it, or it is unavailable here (with why and how to fix it)."""
    specs = registry.specs("models")
    if kind not in specs:
        known = ", ".join([*MODEL_KINDS, *sorted(specs)])
        raise QMLStudioError(f"model kind {kind!r}: no installed plugin provides it (known: {known})")
    spec = specs[kind]
    if spec.unavailable:
        raise QMLStudioError(f"model kind {kind!r} is not available here: {spec.unavailable}")
    return spec


def model_parts(project: Project, registry: PluginRegistry, data: Any = None) -> dict[str, dict[str, Any]]:
    """The classical parts around the circuit of a plugin's model kind (a hybrid's front and
    head), for the canvas: :meth:`~qmlstudio.plugins.descriptors.ModelKind.parts` for the
    project's circuit and, when known, its prepared ``data`` (features, classes, image shape).
    ``{}`` for the built-in kinds, and when the kind or its options cannot be made (the
    settings panel says why)."""
    from qmlstudio.workflow.data import features_needed

    kind = getattr(getattr(project, "model", None), "kind", None)
    if kind in MODEL_KINDS or kind is None or project.encoding is None:
        return {}
    spec = registry.specs("models").get(kind)
    if spec is None:
        return {}
    try:
        encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
        qubits = project.circuit.num_qubits
        inputs = features_needed(encoder, 1, qubits)
        features = int(data.num_features) if data is not None else inputs
        classes = len(data.class_names) if data is not None and getattr(data, "class_names", None) else None
        shape = getattr(data, "image_shape", None) if data is not None else None
        parts = spec.create(project.model.options).parts(features, inputs, qubits, classes, shape)
    except Exception:  # noqa: BLE001 - a plugin's or an option's fault: no blocks, the panel explains
        return {}
    return dict(parts or {})


def _plugin_model_run(project: Project, registry: PluginRegistry, chosen: PluginChoice, epochs: int | None,
                      callback: Any, controls: Any) -> Run:
    """The run of a model kind a plugin provides (``qmlstudio_models``). Its ``model`` is the
    encoding and the circuit for as many inputs as fill the circuit's qubits (the plugin's
    model maps the data's features to them)."""
    from qmlstudio.core.control import Controls
    from qmlstudio.core.models import ModelCircuit
    from qmlstudio.workflow.data import features_needed

    spec = model_kind_spec(registry, project.model.kind)
    data = prepared_data(project, registry)
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    model = ModelCircuit(encoder, project.circuit, features_needed(encoder, 1, project.circuit.num_qubits))
    if model.num_qubits > project.circuit.num_qubits:
        raise QMLStudioError(f"the {project.encoding.name} encoding needs {model.num_qubits} qubits for one input, "
                             f"the circuit has {project.circuit.num_qubits}")
    backend = create_backend(registry, chosen)
    kind = spec.create(project.model.options)
    problem = kind.problem(data, model, backend, project.optimizer)
    if problem:
        raise QMLStudioError(f"model kind {project.model.kind!r}: {problem}")
    config = project.config_snapshot()
    config["backend"] = chosen.to_dict()
    run = kind.build_run(data=data, model=model, backend=backend, config=config,
                         epochs=epochs or project.training.epochs, batch_size=project.training.batch_size,
                         seed=project.seed, training=project.training, optimizer=project.optimizer,
                         callback=callback, controls=controls or Controls())
    run.record.record_seeds(_project_seeds(project))
    return run


def identity_blocks_problem(project: Project) -> None:
    """Refuses the ``identity-blocks`` initialisation for a circuit whose second half does not
    mirror its first: its weights could not make it start as the identity."""
    from qmlstudio.core.analysis import mirror_half

    if mirror_half(project.circuit) is None:
        raise QMLStudioError(
            "the identity-blocks initialisation needs a circuit whose second half mirrors its first (each gate's "
            "inverse, in reverse order, on weights of their own): build it from a template with this initialisation "
            "(qmlstudio new --init identity-blocks, or choose it in Model settings and rebuild the template)")


def _project_seeds(project: Project) -> dict[str, int | None]:
    """The seeds the project's own choices give: the split (and PCA), a generated dataset's
    samples and a random optimizer's draws (SPSA's perturbations)."""
    seeds: dict[str, int | None] = {"split": project.seed}
    for source, choice in (("dataset", project.dataset), ("optimizer", project.optimizer)):
        value = choice.options.get("seed")
        if isinstance(value, int) and not isinstance(value, bool):
            seeds[source] = value
    return seeds


def _prepared_model(project: Project, registry: PluginRegistry) -> tuple[Any, Any]:
    """The prepared data and the model circuit, as a run of the project uses them."""
    from qmlstudio.core.models import ModelCircuit

    data = prepared_data(project, registry)
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    model = ModelCircuit(encoder, project.circuit, data.num_features)
    if project.model.kind != "kernel" and len(data.x_train):
        model.inputs(data.x_train[:1])  # a gate reading an input the encoding lacks is named before training
    return data, model


def warm_start_run(project: Project, which: str) -> Any:
    """The run a warm start begins from: ``which`` is a run id of the project or ``last`` (its
    latest run with final weights); refused when there is none or its weights are not finite."""
    import math

    if which == "last":
        runs = [r for r in project.runs if r.final_weights]
        if not runs:
            raise QMLStudioError("a warm start from the last run needs a trained run in the project: train it first")
        run = runs[-1]
    else:
        run = find_run(project, which)
    if not run.final_weights or not all(w is not None and math.isfinite(w) for w in run.final_weights):
        raise QMLStudioError(f"run {run.id} has no finite final weights to start from")
    return run


def _training_options(project: Project, options: dict[str, Any], epochs: int | None,
                      start_weights: tuple[float, ...] | None = None) -> Any:
    from qmlstudio.core.training import TrainingOptions

    return TrainingOptions(
        epochs=epochs or project.training.epochs,
        batch_size=project.training.batch_size,
        early_stopping=project.training.early_stopping,
        patience=project.training.patience,
        seed=project.seed,
        readout=options["readout"],
        trainable_output=options["trainable_output"],
        gradient=options["gradient"],
        eval_every=options["eval_every"],
        init_scale=options["init_scale"],
        init=options["init"],
        baselines=options["baselines"],
        start_weights=start_weights,
    )


def backend_of(run: Any) -> Any:
    """The backend object a built run uses (every :class:`~qmlstudio.core.control.Run` has one)."""
    return run.backend


# ---------------------------------------------------------------------------
# Evaluate on...
# ---------------------------------------------------------------------------
def find_run(project: Project, run_id: str) -> Any:
    """The run called ``run_id`` (``last``: the latest), or a clear error."""
    if not project.runs:
        raise QMLStudioError("the project has no runs yet: train it first")
    if run_id in ("last", "latest", ""):
        return project.runs[-1]
    try:
        return project.find_run(run_id)
    except KeyError:
        known = ", ".join(r.id for r in project.runs[-5:])
        raise QMLStudioError(f"no run {run_id!r} in the project (latest: {known})") from None


def project_for_run(project: Project, run: Any) -> Project:
    """A copy of ``project`` set up exactly as ``run``'s config says (no runs of its own)."""
    data = project.to_dict()
    data.update(run.config)
    data["runs"] = []
    try:
        snapshot = Project.from_dict(data)
    except QMLStudioError as exc:
        raise QMLStudioError(f"run {run.id}: its saved configuration cannot be rebuilt: {exc}") from None
    object.__setattr__(snapshot, "path", project.path)
    return snapshot
