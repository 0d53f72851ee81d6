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
    seed: int = 7,
) -> Project:
    """A project whose every choice is checked against the installed plugins.

    Options are stored resolved (defaults filled in), so the project trains the same
    way even if a plugin's defaults change later. ``features`` reduces the data to that
    many principal components. The model defaults to ``vqc`` for classification data and
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
        training=Training(epochs=epochs),
        seed=seed,
    )
