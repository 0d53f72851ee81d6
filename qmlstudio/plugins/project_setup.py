"""Turning a user's choices of plugins into a ready-to-train project.

This sits between the plugin registry and the Qt-free project model: it resolves names to
descriptors, checks every option, asks the encoding how many qubits the data needs and has
the ansatz template build the circuit on them. The CLI's ``new`` and the GUI's New Project
both use it.
"""

from __future__ import annotations

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
) -> Project:
    """A project whose every choice is checked against the installed plugins.

    Options are stored resolved (defaults filled in), so the project trains the same
    way even if a plugin's defaults change later. ``features`` reduces the data to that
    many principal components; ``batch_size`` None (or 0) trains on the full batch. The model defaults to ``vqc`` for classification data and
    ``regressor`` for regression data.
    """
    dataset_spec = registry.get("datasets", dataset)
    data_options = dataset_spec.resolve(dataset_options)
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
        preprocessing=Preprocessing(pca=pca),
        encoding=PluginChoice(encoding, encoding_resolved),
        ansatz=ansatz_choice,
        model=ModelChoice(model),
        optimizer=PluginChoice(optimizer, optimizer_spec.resolve(optimizer_options)),
        backend=PluginChoice(backend, backend_spec.resolve(backend_options)),
        training=Training(epochs=epochs, batch_size=batch_size or None),
        seed=seed,
    )


# ---------------------------------------------------------------------------
# From a project to a training run
# ---------------------------------------------------------------------------
MODEL_OPTIONS = {
    "readout": ("modulo", str),
    "trainable_output": (False, bool),
    "gradient": ("auto", str),
    "eval_every": (1, int),
    "init_scale": (1.0, float),
    "C": (1.0, float),
    "baselines": (True, bool),
}


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
) -> Any:
    """A :class:`~qmlstudio.core.training.TrainingRun` (or ``KernelRun``) for the project as it is."""
    from qmlstudio.core.kernels import KernelRun
    from qmlstudio.core.models import ModelCircuit
    from qmlstudio.core.preprocessing import prepare
    from qmlstudio.core.training import TrainingOptions, TrainingRun

    dataset = load_dataset(project, registry)
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    backend_spec = registry.get("backends", project.backend.name)
    reason = backend_spec.unavailable_reason()
    if reason:
        raise QMLStudioError(f"backend {project.backend.name!r} cannot be used here: {reason}")
    backend = backend_spec.create(project.backend.options)
    options = model_options(project)

    # Pad to what the encoding needs when asked: try the feature count after PCA first.
    data = prepare(dataset, project.preprocessing, project.seed)
    if project.preprocessing.padding:
        needed = features_needed(encoder, data.num_features, project.circuit.num_qubits)
        if needed > data.num_features:
            data = prepare(dataset, project.preprocessing, project.seed, pad_to=needed)
    model = ModelCircuit(encoder, project.circuit, data.num_features)
    config = project.config_snapshot()
    if project.model.kind == "kernel":
        return KernelRun(data=data, model=model, backend=backend, C=options["C"], seed=project.seed,
                         baselines=options["baselines"], config=config, callback=callback)
    optimizer = registry.get("optimizers", project.optimizer.name).create(project.optimizer.options)
    training = TrainingOptions(
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
    return TrainingRun(data=data, model=model, kind=project.model.kind, optimizer=optimizer, backend=backend,
                       options=training, record=resume, config=config, callback=callback, controls=controls)


def features_needed(encoder: Any, have: int, qubits: int) -> int:
    """The feature count that fills the circuit's qubits with this encoding (padding up to it)."""
    best = have
    for k in range(have, 4 * max(qubits, 1) + 1):
        if encoder.num_qubits(k) > qubits:
            break
        best = k
    return best
