"""Turning a user's choices of plugins into a ready-to-train project, and running it.

This sits between the plugin registry and the Qt-free project model: it resolves names to
descriptors, checks every option, asks the encoding how many qubits the data needs and has
the ansatz template build the circuit on them. The CLI's ``new`` and the GUI's New Project
both use it.

It also holds what the CLI and the GUI share about backends: parsing a backend choice
(``aer-noise:fake_manila,shots=2000``), the circuits and shots a run will cost
(:func:`estimate_cost`), the figures of a circuit transpiled for a device
(:func:`transpiled_figures`), and evaluating a trained run on another backend
(:func:`evaluate_run`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import ModelChoice, PluginChoice, Preprocessing, Project, Training, file_sha256
from qmlstudio.plugins.manager import PluginRegistry


def new_project(
    registry: PluginRegistry,
    *,
    name: str,
    dataset: str,
    dataset_options: Mapping[str, Any] | None = None,
    features: int | None = None,
    encoding: str = "angle",
    encoding_options: Mapping[str, Any] | None = None,
    ansatz: str | None = "real-amplitudes",
    ansatz_options: Mapping[str, Any] | None = None,
    model: str | None = None,
    optimizer: str = "adam",
    optimizer_options: Mapping[str, Any] | None = None,
    backend: str = "aer-statevector",
    backend_options: Mapping[str, Any] | None = None,
    epochs: int = 30,
    batch_size: int | None = 32,
    seed: int = 7,
    test_size: float = 0.25,
    validation_size: float = 0.2,
    scaling: str | None = None,
    model_options: Mapping[str, Any] | None = None,
) -> Project:
    """A project whose every choice is checked against the installed plugins.

    Options are stored resolved (defaults filled in), so the project trains the same
    way even if a plugin's defaults change later. ``features`` reduces the data to that
    many principal components; ``batch_size`` None (or 0) trains on the full batch. The model defaults to ``vqc`` for classification data and
    ``regressor`` for regression data. ``test_size`` and ``validation_size`` are the
    fractions of all the samples held out for the final test and for validation.
    ``scaling`` None takes the dataset's default
    (``DatasetSpec.default_scaling``: none for data with a natural range, such as ad-hoc);
    :func:`scaling_warning` says when a choice destroys the data's structure.
    ``model_options`` (``readout``, ``init_scale``, ``C``...) are checked against
    :data:`MODEL_OPTIONS`.
    """
    dataset_spec = registry.get("datasets", dataset)
    from qmlstudio.core.project import SCALINGS

    scaling = dataset_spec.default_scaling if scaling is None else scaling
    if scaling not in SCALINGS:
        raise QMLStudioError(f"scaling {scaling!r} is not one of {', '.join(SCALINGS)}")
    data_options = dataset_spec.resolve(_seeded(dataset_spec, dataset_options, seed))
    data_path = data_options.get("path")
    if isinstance(data_path, str) and data_path:
        path = Path(data_path).expanduser()
        try:
            data_options["path"] = str(path.resolve())
            data_options["sha256"] = file_sha256(path)
        except OSError as exc:
            raise QMLStudioError(f"dataset file {data_path}: {exc.strerror or exc}") from None
    data = dataset_spec.create({k: v for k, v in data_options.items() if k != "sha256"})

    num_features = data.num_features
    pca = None
    if features is not None:
        if features > num_features:
            raise QMLStudioError(f"{features} features asked for, but dataset {dataset!r} has only {num_features}")
        if features < num_features:
            pca, num_features = features, features

    encoding_spec = registry.get("encodings", encoding)
    encoding_resolved = encoding_spec.resolve(encoding_options)
    encoder = encoding_spec.create(encoding_resolved)
    problem = encoder.check(num_features)
    if problem:
        raise QMLStudioError(f"encoding {encoding!r}: {problem}")
    num_qubits = encoder.num_qubits(num_features)

    if model is None:
        model = "regressor" if data.task == "regression" else "vqc"
    if model == "regressor" and data.task != "regression":
        raise QMLStudioError(f"dataset {dataset!r} is for classification; use --model vqc or kernel")
    if model in ("vqc", "kernel") and data.task == "regression":
        raise QMLStudioError(f"dataset {dataset!r} is for regression; use --model regressor")
    model_choice = ModelChoice(model, dict(model_options or {}))
    _check_model_options(model_choice)

    ansatz_choice = None
    design = CircuitDesign(num_qubits)
    if model != "kernel" and ansatz:
        ansatz_spec = registry.get("ansatze", ansatz)
        ansatz_resolved = ansatz_spec.resolve(ansatz_options)
        design = ansatz_spec.create(ansatz_resolved).build(num_qubits)
        ansatz_choice = PluginChoice(ansatz, ansatz_resolved)

    optimizer_spec = registry.get("optimizers", optimizer)
    backend_spec = registry.get("backends", backend)
    reason = backend_spec.unavailable_reason()
    if reason:
        raise QMLStudioError(f"backend {backend!r} cannot be used here: {reason}")

    return Project.new(
        name,
        circuit=design,
        dataset=PluginChoice(dataset, data_options),
        preprocessing=_split(pca, test_size, validation_size, scaling),
        encoding=PluginChoice(encoding, encoding_resolved),
        ansatz=ansatz_choice,
        model=model_choice,
        optimizer=PluginChoice(optimizer, optimizer_spec.resolve(optimizer_options)),
        backend=PluginChoice(backend, backend_spec.resolve(backend_options)),
        training=Training(epochs=epochs, batch_size=batch_size or None),
        seed=seed,
    )


def _seeded(spec: Any, options: Mapping[str, Any] | None, seed: int) -> dict[str, Any]:
    """The dataset's options with its ``seed`` option set to the project's seed, unless given."""
    chosen = dict(options or {})
    declared = {o.name: o for o in spec.options}
    if "seed" in declared and declared["seed"].type == "int" and "seed" not in chosen:
        try:
            chosen["seed"] = declared["seed"].coerce(seed)
        except QMLStudioError as exc:
            raise QMLStudioError(f"the project seed {seed} cannot seed dataset {spec.name!r} ({exc}); "
                                 "give its seed as a dataset option") from None
    return chosen


def _split(pca: int | None, test_size: float, validation_size: float, scaling: str) -> Preprocessing:
    from qmlstudio.core.project import ProjectError

    try:
        return Preprocessing(pca=pca, test_size=test_size, validation_size=validation_size, scaling=scaling)
    except ProjectError as exc:
        raise QMLStudioError(f"{exc.field}: {exc.problem}") from None


# ---------------------------------------------------------------------------
# From a project to a training run
# ---------------------------------------------------------------------------
MODEL_OPTIONS = {
    "readout": ("modulo", str),
    "trainable_output": (False, bool),
    "gradient": ("auto", str),
    # 0: the train and validation splits are evaluated once per epoch (the loss curve still
    # moves every iteration, from the step's own mini-batch)
    "eval_every": (0, int),
    "init_scale": (1.0, float),
    "C": (1.0, float),
    "bandwidth": (1.0, float),
    "baselines": (True, bool),
}


#: Model options that only one kind of model uses (the others would ignore them).
_MODEL_OPTION_KINDS = {"readout": ("vqc",), "trainable_output": ("vqc", "regressor"), "gradient": ("vqc", "regressor"),
                       "eval_every": ("vqc", "regressor"), "init_scale": ("vqc", "regressor"), "C": ("kernel",)}


def _check_model_options(choice: ModelChoice) -> None:
    """Types, ranges and kinds of a new project's model options: one that the model would
    ignore (``C`` for a VQC) is refused rather than stored as if it applied."""
    from qmlstudio.core.models import READOUTS
    from qmlstudio.core.training import GRADIENT_METHODS

    probe = Project.new("check", model=choice)
    options = model_options(probe)
    for name in choice.options:
        kinds = _MODEL_OPTION_KINDS.get(name)
        if kinds and choice.kind not in kinds:
            raise QMLStudioError(f"model option {name!r} applies to {' and '.join(kinds)} models, not {choice.kind}")
    if options["readout"] not in READOUTS:
        raise QMLStudioError(f"readout must be one of {', '.join(READOUTS)}, got {options['readout']!r}")
    if options["gradient"] not in GRADIENT_METHODS:
        raise QMLStudioError(f"gradient must be one of {', '.join(GRADIENT_METHODS)}, got {options['gradient']!r}")
    if not options["init_scale"] > 0:
        raise QMLStudioError(f"init_scale must be greater than 0, got {options['init_scale']!r}")
    if not options["C"] > 0:
        raise QMLStudioError(f"C must be greater than 0, got {options['C']!r}")
    if options["eval_every"] < 0:
        raise QMLStudioError(f"eval_every must be 0 (once per epoch) or more, got {options['eval_every']!r}")


def scaling_warning(registry: PluginRegistry, project: Project) -> str | None:
    """Why the project's scaling destroys its dataset's structure, or None (also for an
    unknown dataset: that is reported where the data is loaded)."""
    try:
        spec = registry.get("datasets", project.dataset.name)
    except Exception:  # noqa: BLE001 - a missing plugin is reported elsewhere
        return None
    check = getattr(spec, "scaling_warning", None)
    return check(project.preprocessing.scaling) if callable(check) else None


def load_dataset(project: Project, registry: PluginRegistry) -> Any:
    """The project's dataset, loaded by its plugin (a changed CSV file is an error)."""
    from qmlstudio.core.project import dataset_file_problem

    problem = dataset_file_problem(project)
    if problem:
        raise QMLStudioError(problem)
    spec = registry.get("datasets", project.dataset.name)
    options = {k: v for k, v in project.dataset.options.items() if k != "sha256"}
    location = options.get("path")
    if isinstance(location, str) and location and project.path is not None and not Path(location).is_absolute():
        # A relative data path is relative to the project file, as dataset_file_problem reads it.
        options["path"] = str(Path(project.path).parent / location)
    return spec.create(options)


def model_options(project: Project) -> dict[str, Any]:
    """The model's options with defaults, type-checked."""
    result = {}
    given = dict(project.model.options)
    unknown = sorted(set(given) - set(MODEL_OPTIONS))
    if unknown:
        raise QMLStudioError(f"model: unknown option(s) {', '.join(unknown)} (known: {', '.join(MODEL_OPTIONS)})")
    for name, (default, kind) in MODEL_OPTIONS.items():
        value = given.get(name, default)
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise QMLStudioError(f"model option {name!r}: expected {kind.__name__}, got {value!r}")
        result[name] = value
    return result


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
) -> Any:
    """A :class:`~qmlstudio.core.training.TrainingRun` (or ``KernelRun``) for the project as it is.

    ``backend`` (a :class:`PluginChoice` or a choice text such as ``aer-noise:fake_manila``,
    see :func:`backend_choice`) overrides the project's backend for this run only; the
    run's config records the one used.

    When the encoding needs more qubits than the project's circuit has, this raises
    :class:`HiddenQubits`, or with ``widen`` adds the missing wires to ``project.circuit``
    first (:func:`widen_circuit`), so that a run never uses a qubit the design lacks. A
    model too wide to simulate on this machine raises
    :class:`~qmlstudio.core.memory.SimulationTooLarge` with the fixes
    (:func:`simulation_fixes`) in its message, before anything large is allocated.
    """
    from qmlstudio.core.memory import SimulationTooLarge

    from qmlstudio.core.kernels import KernelRun
    from qmlstudio.core.training import TrainingRun

    if isinstance(backend, str):
        backend = backend_choice(registry, backend, base=project.backend)
    chosen = backend or project.backend
    data, model = _prepared_model(project, registry)
    if project.model.kind != "kernel" and model.num_qubits > project.circuit.num_qubits:
        # Training never runs on a wire the circuit (and so the canvas) does not have.
        hidden = HiddenQubits(project.encoding.name, model.num_features, model.num_qubits, project.circuit.num_qubits)
        if not widen:
            raise hidden
        widen_circuit(project, model.num_qubits)
        data, model = _prepared_model(project, registry)
    backend_object = create_backend(registry, chosen)
    options = model_options(project)
    config = project.config_snapshot()
    config["backend"] = chosen.to_dict()
    try:
        if project.model.kind == "kernel":
            # What the project does not fix is chosen by cross-validation on the training rows.
            tune = tuple(name for name in ("C", "bandwidth") if name not in project.model.options)
            run: Any = KernelRun(data=data, model=model, backend=backend_object, C=options["C"],
                                 bandwidth=options["bandwidth"], tune=tune, seed=project.seed,
                                 baselines=options["baselines"], config=config, callback=callback)
        else:
            optimizer = registry.get("optimizers", project.optimizer.name).create(project.optimizer.options)
            run = TrainingRun(data=data, model=model, kind=project.model.kind, optimizer=optimizer,
                              backend=backend_object, options=_training_options(project, options, epochs),
                              record=resume, config=config, callback=callback, controls=controls)
    except SimulationTooLarge as exc:
        fixes = simulation_fixes(project, registry, data.num_features, max(len(data.y_train), len(data.y_test)))
        hint = " or ".join(fix.command_hint for fix in fixes)
        raise exc.with_hint(f"to fix it, {hint}" if hint else "reduce the features or the qubits") from None
    run.record.record_seeds(_project_seeds(project))
    return run


def prepared_data(project: Project, registry: PluginRegistry) -> Any:
    """The project's data split, scaled and padded exactly as a run of it trains on.

    Padding (when the preprocessing asks for it) adds zero features up to the count that
    fills the circuit's qubits under the project's encoding, so the views that show the
    data (the canvas's encoding block, the state view) must use this, not the unpadded data.
    """
    from qmlstudio.core.preprocessing import prepare

    dataset = load_dataset(project, registry)
    # Pad to what the encoding needs when asked: try the feature count after PCA first.
    data = prepare(dataset, project.preprocessing, project.seed)
    if project.preprocessing.padding:
        encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
        needed = features_needed(encoder, data.num_features, project.circuit.num_qubits)
        if needed > data.num_features:
            data = prepare(dataset, project.preprocessing, project.seed, pad_to=needed)
    return data


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
    return data, ModelCircuit(encoder, project.circuit, data.num_features)


def _training_options(project: Project, options: dict[str, Any], epochs: int | None) -> Any:
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
        baselines=options["baselines"],
    )


def features_needed(encoder: Any, have: int, qubits: int) -> int:
    """The feature count that fills the circuit's qubits with this encoding (padding up to it)."""
    best = have
    for k in range(have, 4 * max(qubits, 1) + 1):
        if encoder.num_qubits(k) > qubits:
            break
        best = k
    return best


# ---------------------------------------------------------------------------
# Qubits the encoding needs, and fixes for a model too wide to simulate
# ---------------------------------------------------------------------------
class HiddenQubits(QMLStudioError):
    """The encoding needs more qubits than the project's circuit has.

    ``needed`` and ``qubits`` are the two counts. Training refuses to add wires behind
    the user's back: the CLI widens the circuit with a note, the GUI as an undoable edit.
    """

    def __init__(self, encoding: str, features: int, needed: int, qubits: int) -> None:
        self.encoding, self.features, self.needed, self.qubits = encoding, int(features), int(needed), int(qubits)
        super().__init__(
            f"the {encoding} encoding needs {_plural(needed, 'qubit')} for {_plural(features, 'feature')}, but the "
            f"circuit has {qubits}: add {_plural(needed - qubits, 'qubit')} to the circuit (or reduce the features)"
        )

    @property
    def note(self) -> str:
        """What widening the circuit did, in words."""
        added = self.needed - self.qubits
        wires = ", ".join(f"q{q}" for q in range(self.qubits, self.needed))
        return (f"the {self.encoding} encoding needs {_plural(self.needed, 'qubit')} for "
                f"{_plural(self.features, 'feature')}: added {_plural(added, 'qubit')} ({wires}) to the "
                f"{self.qubits}-qubit circuit")


def _plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def encoding_qubits(project: Project, registry: PluginRegistry, num_features: int | None = None) -> tuple[int, int]:
    """``(features, qubits)``: the prepared data's feature count and the qubits the project's
    encoding puts them on (``num_features`` saves loading the data when it is known)."""
    from qmlstudio.core.preprocessing import prepare

    if num_features is None:
        num_features = prepare(load_dataset(project, registry), project.preprocessing, project.seed).num_features
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    problem = encoder.check(num_features)
    if problem:
        raise QMLStudioError(f"encoding {project.encoding.name!r}: {problem}")
    return num_features, int(encoder.num_qubits(num_features))


def hidden_qubits(project: Project, registry: PluginRegistry, num_features: int | None = None) -> HiddenQubits | None:
    """What :func:`build_run` would refuse: the encoding's qubits beyond the circuit's (None when it fits)."""
    if project.model.kind == "kernel":
        return None  # a kernel runs the encoding alone, on the qubits it needs
    features, needed = encoding_qubits(project, registry, num_features)
    if needed <= project.circuit.num_qubits:
        return None
    return HiddenQubits(project.encoding.name, features, needed, project.circuit.num_qubits)


def check_trainable(project: Project, registry: PluginRegistry, data: Any = None) -> None:
    """Raises what :func:`build_run` would refuse before training starts, without allocating
    the states: :class:`HiddenQubits` (the encoding needs wires the circuit lacks) or
    :class:`~qmlstudio.core.memory.SimulationTooLarge` with the fixes in its message.
    ``data`` is the project's prepared data when the caller has it (else it is loaded).
    Kernel models are checked for memory on the encoding's qubits only.
    """
    from qmlstudio.core.memory import SimulationTooLarge, check_simulation
    from qmlstudio.core.models import ModelCircuit
    from qmlstudio.core.training import check_memory

    if data is None:
        data, model = _prepared_model(project, registry)
    else:
        encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
        model = ModelCircuit(encoder, project.circuit, data.num_features)
    kind = project.model.kind
    if kind != "kernel" and model.num_qubits > project.circuit.num_qubits:
        raise HiddenQubits(project.encoding.name, model.num_features, model.num_qubits, project.circuit.num_qubits)
    try:
        if kind == "kernel":
            check_simulation(model.num_qubits, len(data.y_train) + len(data.y_test), num_gates=len(model.design.gates))
        else:
            check_memory(data, model, kind)
    except SimulationTooLarge as exc:
        fixes = simulation_fixes(project, registry, data.num_features, max(len(data.y_train), len(data.y_test)))
        hint = " or ".join(fix.command_hint for fix in fixes)
        raise exc.with_hint(f"to fix it, {hint}" if hint else "reduce the features or the qubits") from None


def widen_circuit(project: Project, num_qubits: int) -> None:
    """Adds empty wires at the bottom of ``project.circuit`` up to ``num_qubits`` (the gates stay)."""
    design = project.circuit
    if num_qubits > design.num_qubits:
        design.set_gates(design.gates, num_qubits, reason="qubits")


@dataclass(frozen=True)
class SimulationFix:
    """One change that makes a too-wide project small enough to simulate.

    ``kind`` is ``"pca"`` (reduce to ``features`` principal components) or ``"encoding"``
    (use the encoding ``encoding``); ``qubits`` is the circuit's width afterwards and
    ``title`` the words on the button. :func:`apply_fix` makes the change.
    """

    kind: str
    title: str
    qubits: int
    features: int | None = None
    encoding: str | None = None

    @property
    def command_hint(self) -> str:
        if self.kind == "pca":
            return f"reduce to {self.features} features with PCA (qmlstudio new ... --features {self.features})"
        return f"use {self.encoding} encoding on {_plural(self.qubits, 'qubit')} (qmlstudio new ... --encoding {self.encoding})"


#: The principal components the PCA fix keeps, at most (8 qubits under angle encoding).
PCA_FEATURES = 8


def simulation_fixes(
    project: Project, registry: PluginRegistry, num_features: int | None = None, batch: int = 2000
) -> list[SimulationFix]:
    """The one-click fixes for a project whose circuit is too wide to simulate: PCA to a
    few features (with the project's encoding) and amplitude encoding (⌈log₂ k⌉ qubits),
    each only when it helps and the circuit can be rebuilt on fewer qubits (an ansatz
    template, or a hand-drawn circuit whose gates fit)."""
    from qmlstudio.core.memory import available_memory
    from qmlstudio.core.statevector import StatevectorProgram

    features, needed = encoding_qubits(project, registry, num_features)
    available = available_memory()

    def fits(qubits: int) -> bool:
        if qubits >= max(needed, project.circuit.num_qubits):
            return False  # no narrower than the model is now
        if not _rebuildable(project, registry, qubits):
            return False
        return available is None or StatevectorProgram.memory_bytes(qubits, batch, 16) < available

    fixes = []
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    for k in range(min(PCA_FEATURES, features - 1), 0, -1):
        if encoder.check(k) is None and fits(int(encoder.num_qubits(k))):
            fixes.append(SimulationFix("pca", f"Reduce to {k} features with PCA", int(encoder.num_qubits(k)), features=k))
            break
    if project.encoding.name != "amplitude" and "amplitude" in getattr(registry, "encodings", {}):
        amplitude = registry.get("encodings", "amplitude").create({})
        if amplitude.check(features) is None:
            qubits = int(amplitude.num_qubits(features))
            if fits(qubits):
                fixes.append(SimulationFix("encoding", f"Use amplitude encoding ({_plural(qubits, 'qubit')})", qubits,
                                           encoding="amplitude"))
    return fixes


def _rebuildable(project: Project, registry: PluginRegistry, qubits: int) -> bool:
    if project.ansatz is not None and project.ansatz.name in getattr(registry, "ansatze", {}):
        return True
    return all(max(g.qubits) < qubits for g in project.circuit.gates)


def fixed_project_fields(project: Project, registry: PluginRegistry, fix: SimulationFix) -> dict[str, Any]:
    """The project fields a fix changes (``preprocessing`` or ``encoding``) and the circuit's
    new gates and width (``gates``, ``num_qubits``): what :func:`apply_fix` sets, given apart
    so that the GUI can make one undoable edit of it."""
    import dataclasses

    fields: dict[str, Any] = {}
    if fix.kind == "pca":
        fields["preprocessing"] = dataclasses.replace(project.preprocessing, pca=fix.features)
    elif fix.kind == "encoding" and fix.encoding:
        spec = registry.get("encodings", fix.encoding)
        fields["encoding"] = PluginChoice(fix.encoding, spec.resolve({}))
    else:
        raise QMLStudioError(f"unknown fix {fix.kind!r}")
    if project.ansatz is not None and project.ansatz.name in getattr(registry, "ansatze", {}):
        built = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options).build(fix.qubits)
        fields["gates"], fields["num_qubits"] = tuple(built.gates), built.num_qubits
    else:
        fields["gates"], fields["num_qubits"] = tuple(project.circuit.gates), fix.qubits
    return fields


def apply_fix(project: Project, registry: PluginRegistry, fix: SimulationFix) -> None:
    """Changes ``project`` as ``fix`` says: PCA or the encoding, and the circuit rebuilt on its qubits."""
    fields = fixed_project_fields(project, registry, fix)
    gates, qubits = fields.pop("gates"), fields.pop("num_qubits")
    for name, value in fields.items():
        setattr(project, name, value)
    project.circuit.set_gates(gates, qubits, reason="edit")


# ---------------------------------------------------------------------------
# Backend choices: NAME[:ARG][,key=value...]
# ---------------------------------------------------------------------------
def parse_backend_choice(text: str) -> tuple[str, str | None, dict[str, str]]:
    """``"aer-noise:fake_manila,shots=2000"`` → ``("aer-noise", "fake_manila", {"shots": "2000"})``.

    The syntax is ``NAME[:ARG][,key=value...]``: ``ARG`` sets the backend's positional
    option (its :attr:`~qmlstudio.plugins.BackendSpec.positional`, e.g. the device of
    ``aer-noise`` and ``ibm``, the shots of ``aer-shots``); every ``key=value`` sets an
    option by name. Values are text here; the backend's options check and convert them.
    """
    from qmlstudio.core.options import parse_option_text

    text = (text or "").strip()
    head, _, rest = text.partition(",")
    name, colon, arg = head.partition(":")
    name = name.strip()
    if not name:
        raise QMLStudioError(f"backend choice {text!r}: expected NAME[:ARG][,key=value...], e.g. aer-noise:fake_manila")
    arg = arg.strip()
    if colon and not arg:
        raise QMLStudioError(f"backend choice {text!r}: nothing after ':'")
    items = [item for item in (part.strip() for part in rest.split(",")) if item] if rest else []
    try:
        options = parse_option_text(items)
    except QMLStudioError as exc:
        raise QMLStudioError(f"backend choice {text!r}: {exc}") from None
    return name, (arg if colon else None), options


def backend_choice(
    registry: PluginRegistry,
    text: str,
    *,
    base: PluginChoice | None = None,
    shots: int | None = None,
) -> PluginChoice:
    """The checked :class:`PluginChoice` a choice text names (options resolved, defaults filled in).

    When ``base`` (the project's or the run's backend) is the same backend, its options are
    the starting point, so ``aer-noise:fake_lima`` keeps the project's shots and seed.
    ``shots`` sets the backend's ``shots`` option (an error for exact backends, which
    have none). A backend that cannot be used here is an error naming the reason.
    """
    name, arg, given = parse_backend_choice(text)
    spec = registry.get("backends", name)
    known = {o.name for o in spec.options}
    options: dict[str, Any] = {}
    if base is not None and base.name == name:
        options.update({k: v for k, v in base.options.items() if k in known})
    if arg is not None:
        if spec.positional is None:
            raise QMLStudioError(
                f"backend {name!r} takes no ':ARG'; set its options as {name},NAME=VALUE "
                f"(options: {', '.join(sorted(known)) or 'none'})"
            )
        if spec.positional in given:
            raise QMLStudioError(f"backend choice {text!r}: {spec.positional} is given twice (as ':ARG' and by name)")
        options[spec.positional] = arg
    options.update(given)
    _check_positional_choice(spec, options)
    if shots is not None:
        if "shots" not in known:
            raise QMLStudioError(f"backend {name!r} is exact and has no shots; choose aer-shots, aer-noise or ibm")
        options["shots"] = shots
    reason = spec.unavailable_reason()
    if reason:
        raise QMLStudioError(f"backend {name!r} cannot be used here: {reason}")
    return PluginChoice(name, spec.resolve(options))


_resolve_choice = backend_choice  # for functions whose parameter is called backend_choice


def _check_positional_choice(spec: Any, options: Mapping[str, Any]) -> None:
    """A short message, with near matches, for an unknown device name (instead of all 67 choices)."""
    import difflib

    if spec.positional is None or spec.positional not in options:
        return
    option = next(o for o in spec.options if o.name == spec.positional)
    value = options[spec.positional]
    if option.type != "choice" or value in option.choices or str(value) in map(str, option.choices):
        return
    near = difflib.get_close_matches(str(value), [str(c) for c in option.choices], n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(near)}?" if near else ""
    raise QMLStudioError(
        f"backend {spec.name!r} has no {option.label.lower()} {value!r}{hint} "
        f"({len(option.choices)} choices: 'qmlstudio plugins --json' lists them)"
    )


def format_backend_choice(choice: PluginChoice, registry: PluginRegistry | None = None) -> str:
    """The shortest choice text for ``choice``: ``aer-noise:fake_lima,shots=2000`` (defaults left out)."""
    spec = None
    if registry is not None:
        try:
            spec = registry.get("backends", choice.name)
        except QMLStudioError:
            spec = None
    defaults = {o.name: o.default for o in spec.options} if spec is not None else {}
    positional = spec.positional if spec is not None else None
    text = choice.name
    if positional and choice.options.get(positional) not in (None, ""):
        text += f":{choice.options[positional]}"
    for key, value in choice.options.items():
        if key == positional or (key in defaults and defaults[key] == value):
            continue
        shown = "none" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
        text += f",{key}={shown}"
    return text


def create_backend(registry: PluginRegistry, choice: PluginChoice | str) -> Any:
    """The :class:`~qmlstudio.plugins.Backend` for a choice (a text is parsed first)."""
    if isinstance(choice, str):
        choice = backend_choice(registry, choice)
    spec = registry.get("backends", choice.name)
    reason = spec.unavailable_reason()
    if reason:
        raise QMLStudioError(f"backend {choice.name!r} cannot be used here: {reason}")
    return spec.create(choice.options)


# ---------------------------------------------------------------------------
# What a circuit becomes on a device
# ---------------------------------------------------------------------------
def transpiled_figures(design: CircuitDesign, backend: Any) -> dict[str, Any]:
    """Figures of ``design`` after ``backend.pass_manager()``: what the device will run.

    Returns ``depth`` (gates only: barriers and delays not counted), ``two_qubit`` (gates
    on two qubits, SWAPs for routing included), ``gates``, ``qubits_used`` (physical qubits
    touched), ``device_qubits`` (the transpiled circuit's width: the device's qubits) and
    ``layout`` (the physical qubit of each of the design's qubits). Transpiling may take a
    while for large devices: call it off the GUI thread.
    """
    circuit = design.to_circuit()
    empty = {"depth": 0, "two_qubit": 0, "gates": 0, "qubits_used": 0,
             "device_qubits": design.num_qubits, "layout": list(range(design.num_qubits))}
    if not circuit.data:
        return empty
    try:
        runnable = backend.pass_manager().run(circuit)
    except QMLStudioError:
        raise
    except Exception as exc:  # a transpiler error names the gate or the coupling problem
        raise QMLStudioError(f"cannot transpile the circuit for {backend.describe()}: {exc}") from exc

    def counted(instruction: Any) -> bool:
        operation = instruction.operation
        return not getattr(operation, "_directive", False) and operation.name not in ("delay", "barrier", "measure")

    gates = [inst for inst in runnable.data if counted(inst)]
    used = {runnable.find_bit(q).index for inst in gates for q in inst.qubits}
    layout = list(range(design.num_qubits))
    if runnable.layout is not None:
        layout = [int(q) for q in runnable.layout.final_index_layout(filter_ancillas=True)][: design.num_qubits]
    return {
        "depth": int(runnable.depth(filter_function=counted)),
        "two_qubit": sum(1 for inst in gates if len(inst.qubits) == 2),
        "gates": len(gates),
        "qubits_used": len(used),
        "device_qubits": int(runnable.num_qubits),
        "layout": layout,
    }


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
    adjoint = training.gradient == "adjoint" or (training.gradient == "auto" and bool(getattr(backend, "exact", False)))
    uses_gradient = bool(getattr(registry.get("optimizers", project.optimizer.name), "uses_gradient", True))
    return _count(choice.name, backend, data, model, training, adjoint=adjoint, uses_gradient=uses_gradient)


def run_cost(run: Any) -> dict[str, Any]:
    """:func:`estimate_cost` for a built ``TrainingRun`` (or ``KernelRun``), before it runs."""
    from qmlstudio.core.models import ExactEvaluator

    backend = backend_of(run)
    name = ((getattr(getattr(run, "record", None), "config", None) or {}).get("backend") or {}).get("name")
    name = name or type(backend).__name__
    if not hasattr(run, "evaluator"):  # a kernel run
        return _count(name, backend, run.data, run.model, None, adjoint=False, uses_gradient=False)
    return _count(name, run.backend, run.data, run.model, run.options,
                  adjoint=isinstance(run.evaluator, ExactEvaluator),
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


def backend_of(run: Any) -> Any:
    """The backend object a built run uses (a ``TrainingRun``'s or a ``KernelRun``'s kernel's)."""
    backend = getattr(run, "backend", None)
    if backend is None:
        backend = getattr(getattr(run, "kernel", None), "backend", None)
    return backend


def _count(name: str, backend: Any, data: Any, model: Any, options: Any, *, adjoint: bool, uses_gradient: bool) -> dict[str, Any]:
    shots = getattr(backend, "shots", None)
    exact = bool(getattr(backend, "exact", False))
    n_train, n_test, n_val = len(data.y_train), len(data.y_test), len(getattr(data, "y_val", ()))
    result: dict[str, Any] = {"backend": name, "exact": exact, "shots_per_circuit": shots}
    if options is None:  # a kernel model: one kernel matrix
        # off-diagonal pairs, as qiskit-ml computes, then the validation and test rows against the training rows
        circuits = n_train * (n_train - 1) // 2 + (n_val + n_test) * n_train
        per_shot = 0 if exact else int(shots or 0)
        result.update(iterations=1, gradient=None, training_circuits_per_iteration=circuits, evaluation_circuits=0,
                      evaluations=0, circuits_per_iteration=circuits, shots_per_iteration=circuits * per_shot,
                      total_circuits=circuits, total_shots=circuits * per_shot)
        return result
    size = options.batch_size or n_train
    per_epoch = 1 if size >= n_train else math.ceil(n_train / size)
    batch_sizes = [size] * (per_epoch - 1) + [n_train - size * (per_epoch - 1)] if per_epoch > 1 else [n_train]
    total_iterations = options.epochs * per_epoch
    evaluations = 0
    for i in range(1, total_iterations + 1):
        end_of_epoch = i % per_epoch == 0
        due = end_of_epoch if options.eval_every == 0 else i % max(1, options.eval_every) == 0
        if due or i == total_iterations or (options.early_stopping and end_of_epoch):
            evaluations += 1
    if adjoint:
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
    if shots is None:  # an exact backend asked for parameter shift: its sampler's shots
        shots = getattr(backend, "sampler_shots", None)
        result["shots_per_circuit"] = shots
    per_shot = int(shots or 0)
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
    simulation for an exact backend, its V2 primitives otherwise. ``on_backend(backend)``
    is called before anything runs (to follow IBM jobs); ``controls.cancel()`` stops a
    remote job. See :func:`evaluate_run`, which also records the result.
    """
    import numpy as np

    from qmlstudio.core.models import ExactEvaluator, PrimitiveEvaluator

    run = find_run(project, run_id)
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
        if getattr(backend, "exact", False):
            if not isinstance(trained.evaluator, ExactEvaluator):
                trained.evaluator = ExactEvaluator(trained.model.design, observables)
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
    run = find_run(project, result.run_id)
    run.evaluations.append(
        {"backend": result.choice.name, "options": dict(result.choice.options), "accuracy": result.accuracy,
         "seeds": result.seeds or {}, "backend_applied": result.backend_applied or {}}
    )
    project.run_updated(run)
    return result.accuracy
