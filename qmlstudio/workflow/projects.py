"""Turning a user's choices of plugins into a checked project: options, qubits, fixes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import (
    DEFAULT_VALIDATION_SIZE,
    ModelChoice,
    PluginChoice,
    Preprocessing,
    Project,
    Training,
    file_sha256,
)
from qmlstudio.plugins.manager import PluginRegistry
from qmlstudio.workflow.backends import backend_choice
from qmlstudio.workflow.data import load_dataset


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
    backend: str = "statevector",
    backend_options: Mapping[str, Any] | None = None,
    epochs: int = 30,
    batch_size: int | None = 32,
    seed: int = 7,
    test_size: float = 0.25,
    validation_size: float = DEFAULT_VALIDATION_SIZE,
    scaling: str | None = None,
    model_options: Mapping[str, Any] | None = None,
    qubits: int | None = None,
) -> Project:
    """A project whose every choice is checked against the installed plugins.

    ``model`` may also be a kind a plugin provides (``hybrid``): its circuit then has
    ``qubits`` qubits (default 4) whatever the data's width (the model's classical front maps
    the features to the encoding's inputs), and its ``model_options`` are the plugin's.

    Options are stored resolved (defaults filled in), so the project trains the same
    way even if a plugin's defaults change later. ``features`` reduces the data to that
    many principal components; ``batch_size`` None (or 0) trains on the full batch. The model defaults to ``vqc`` for classification data and
    ``regressor`` for regression data. ``test_size`` and ``validation_size`` are the
    fractions of all the samples held out for the final test and for validation.
    ``scaling`` None takes the dataset's default
    (``DatasetSpec.default_scaling``: none for data with a natural range, such as ad-hoc);
    :func:`scaling_warning` says when a choice destroys the data's structure.
    ``model_options`` (``readout``, ``init_scale``, ``C``...) are checked against
    :data:`MODEL_OPTIONS`. ``backend`` is a choice text ``NAME[:ARG][,key=value...]``
    (:func:`~qmlstudio.workflow.backends.backend_choice`), ``backend_options`` more options by name.
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
        except RuntimeError:  # pathlib's resolve() on Python < 3.13
            raise QMLStudioError(f"dataset file {data_path}: a loop of symbolic links") from None
        except ValueError:
            raise QMLStudioError(f"dataset file {data_path!r}: the name contains a NUL byte") from None
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
    from qmlstudio.core.project import MODEL_KINDS

    plugin_kind = model is not None and model not in MODEL_KINDS
    if qubits is not None and not plugin_kind:
        raise QMLStudioError("qubits sets a hybrid model's circuit; the other models take their qubits from the encoding")
    if plugin_kind:
        from qmlstudio.workflow.data import features_needed

        qubits = 4 if qubits is None else int(qubits)
        if not 1 <= qubits <= 24:
            raise QMLStudioError(f"qubits must be between 1 and 24, got {qubits}")
        num_features = features_needed(encoder, 1, qubits)  # the encoding's inputs, from the model's front
    problem = encoder.check(num_features)
    if problem:
        raise QMLStudioError(f"encoding {encoding!r}: {problem}")
    num_qubits = qubits if plugin_kind else encoder.num_qubits(num_features)

    if plugin_kind:
        specs = registry.specs("models")
        if model not in specs:
            raise QMLStudioError(f"model kind {model!r}: no installed plugin provides it "
                                 f"(known: {', '.join([*MODEL_KINDS, *sorted(specs)])})")
        model_choice = ModelChoice(model, specs[model].resolve(model_options))
    elif model is None:
        model = "regressor" if data.task == "regression" else "vqc"
    if not plugin_kind:
        if model == "regressor" and data.task != "regression":
            raise QMLStudioError(f"dataset {dataset!r} is for classification; use --model vqc or kernel")
        if model in ("vqc", "kernel") and data.task == "regression":
            raise QMLStudioError(f"dataset {dataset!r} is for regression; use --model regressor")
        model_choice = ModelChoice(model, dict(model_options or {}))
        if model_choice.options.get("init") == "small-angle" and "init_scale" not in model_choice.options:
            model_choice = ModelChoice(model, {**model_choice.options, "init_scale": SMALL_ANGLE_SCALE})
        _check_model_options(model_choice)

    ansatz_choice = None
    design = CircuitDesign(num_qubits)
    if model != "kernel" and ansatz:
        ansatz_spec = registry.get("ansatze", ansatz)
        ansatz_resolved = ansatz_spec.resolve(ansatz_options)
        ansatz_choice = PluginChoice(ansatz, ansatz_resolved)
        design = template_circuit(registry, ansatz_choice, num_qubits, model_choice.options.get("init", "uniform"))

    optimizer_spec = registry.get("optimizers", optimizer)
    # the same NAME[:ARG][,key=value] text as train and evaluate --backend
    chosen_backend = backend_choice(registry, backend, options=backend_options)

    return Project.new(
        name,
        circuit=design,
        dataset=PluginChoice(dataset, data_options),
        preprocessing=_split(pca, test_size, validation_size, scaling),
        encoding=PluginChoice(encoding, encoding_resolved),
        ansatz=ansatz_choice,
        model=model_choice,
        optimizer=PluginChoice(optimizer, optimizer_spec.resolve(optimizer_options)),
        backend=chosen_backend,
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
    # how the weights start: uniform, small-angle (init_scale is ε) or identity-blocks
    "init": ("uniform", str),
    # a warm start: the id of a run of the project (or "last") whose final weights a run starts from
    "init_from": ("", str),
    "C": (1.0, float),
    "bandwidth": (1.0, float),
    "baselines": (True, bool),
}


#: Model options that only one kind of model uses (the others would ignore them).
_MODEL_OPTION_KINDS = {"readout": ("vqc",), "trainable_output": ("vqc", "regressor"), "gradient": ("vqc", "regressor"),
                       "eval_every": ("vqc", "regressor"), "init_scale": ("vqc", "regressor"), "init": ("vqc", "regressor"), "init_from": ("vqc", "regressor"),
                       "C": ("kernel",)}


#: The initialisations a project can choose (model option ``init``).
INITIALISATIONS = ("uniform", "small-angle", "identity-blocks")
#: ε of a small-angle initialisation when none is given: weights in ±0.05·π
SMALL_ANGLE_SCALE = 0.05


def check_initialisation(options: dict[str, Any]) -> None:
    """Refuses an ``init`` model option that the engine cannot apply as named."""
    init = options.get("init", "uniform")
    if init not in INITIALISATIONS:
        raise QMLStudioError(f"init must be one of {', '.join(INITIALISATIONS)}, got {init!r}")
    if init == "small-angle" and not options.get("init_scale", 1.0) < 1:
        raise QMLStudioError(f"a small-angle initialisation draws the weights in ±ε·π with ε (init_scale) below 1, "
                             f"got {options.get('init_scale', 1.0)!r}")


def template_circuit(registry: PluginRegistry, ansatz: PluginChoice, num_qubits: int, init: str = "uniform") -> CircuitDesign:
    """The circuit of the ansatz template ``ansatz`` on ``num_qubits`` wires. For the
    ``identity-blocks`` initialisation (Grant et al. 2019) it is the template with half its
    repetitions (rounded up) followed by their mirror image
    (:func:`~qmlstudio.core.analysis.identity_block`), which starts as the identity."""
    spec = registry.get("ansatze", ansatz.name)
    options = spec.resolve(ansatz.options)
    if init != "identity-blocks":
        return spec.create(options).build(num_qubits)
    from qmlstudio.core.analysis import identity_block

    reps = options.get("reps")
    if isinstance(reps, int) and not isinstance(reps, bool) and reps > 1:
        options = {**options, "reps": -(-reps // 2)}
    try:
        return identity_block(spec.create(options).build(num_qubits))
    except QMLStudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - a gate the mirror cannot invert
        raise QMLStudioError(f"the {ansatz.name} template cannot be mirrored into identity blocks: {exc}") from None


def initialisation_fields(project: Project, registry: PluginRegistry, init: str) -> tuple[ModelChoice, CircuitDesign | None]:
    """What choosing the initialisation ``init`` changes: the model choice (a small-angle one
    gets ε = 0.05 when its scale is not below 1) and, for a template circuit, the circuit
    rebuilt with or without the identity blocks' mirror (None: the circuit stays as it is, a
    hand-drawn one included, which ``train`` checks)."""
    before = model_options(project)["init"]
    options = {**project.model.options, "init": init}
    if init == "small-angle" and not options.get("init_scale", 1.0) < 1:
        options["init_scale"] = SMALL_ANGLE_SCALE
    elif before == "small-angle" != init and options.get("init_scale") == SMALL_ANGLE_SCALE:
        options.pop("init_scale")  # the default ε goes with the choice that set it
    choice = ModelChoice(project.model.kind, options)
    _check_model_options(choice)
    design = None
    if (project.ansatz is not None and project.model.kind != "kernel" and "identity-blocks" in (init, before)
            and init != before and project.ansatz.name in getattr(registry, "ansatze", {})):
        design = template_circuit(registry, project.ansatz, project.circuit.num_qubits, init)
    return choice, design


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
    check_initialisation(options)
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


def model_maps_features(project: Project) -> bool:
    """Whether the project's model maps the data's features to the circuit's inputs itself (a
    plugin's kind, such as a hybrid's front): the encoding's fit to the qubits is then not the
    data's concern."""
    from qmlstudio.core.project import MODEL_KINDS

    return getattr(getattr(project, "model", None), "kind", "vqc") not in MODEL_KINDS


def hidden_qubits(project: Project, registry: PluginRegistry, num_features: int | None = None) -> HiddenQubits | None:
    """What :func:`build_run` would refuse: the encoding's qubits beyond the circuit's (None when it fits)."""
    if project.model.kind == "kernel" or model_maps_features(project):
        return None  # a kernel runs the encoding alone; a plugin's model (hybrid) maps the features to the circuit
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
    from qmlstudio.core.project import MODEL_KINDS
    from qmlstudio.core.training import check_memory

    if project.model.kind not in MODEL_KINDS:  # a plugin's model: its run checks what it needs when built
        from qmlstudio.workflow.runs import model_kind_spec

        model_kind_spec(registry, project.model.kind)
        return
    if data is None:
        from qmlstudio.workflow.runs import _prepared_model

        data, model = _prepared_model(project, registry)
    else:
        encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
        model = ModelCircuit(encoder, project.circuit, data.num_features)
    kind = project.model.kind
    if kind != "kernel" and model.num_qubits > project.circuit.num_qubits:
        raise HiddenQubits(project.encoding.name, model.num_features, model.num_qubits, project.circuit.num_qubits)
    if kind == "vqc":
        from qmlstudio.core.models import ClassifierHead

        readout = str((project.model.options or {}).get("readout", "modulo"))
        problem = ClassifierHead(max(data.num_classes, 2), readout).problem(model.num_qubits)
        if problem:
            raise QMLStudioError(problem)
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
        built = template_circuit(registry, project.ansatz, fix.qubits, model_options(project)["init"])
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


