"""One way from a project to its data: loaded by its plugin, split, scaled and padded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.preprocessing import PreparedData, prepare
from qmlstudio.core.project import (
    Project,
)
from qmlstudio.plugins.manager import PluginRegistry


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


def prepared_data(project: Project, registry: PluginRegistry) -> PreparedData:
    """The project's data split, scaled and padded exactly as a run of it trains on.

    Padding (when the preprocessing asks for it) adds zero features up to the count that
    fills the circuit's qubits under the project's encoding, so the views that show the
    data (the canvas's encoding block, the state view, the dataset panel) use this (or
    :func:`prepare_for_encoding` on a dataset they loaded), never the unpadded data.
    """
    dataset = load_dataset(project, registry)
    encoder = registry.get("encodings", project.encoding.name).create(project.encoding.options)
    return prepare_for_encoding(dataset, project.preprocessing, project.seed, encoder,
                                project.circuit.num_qubits)[0]


def prepare_for_encoding(dataset: Any, preprocessing: Any, seed: int, encoder: Any,
                         qubits: int) -> tuple[PreparedData, int]:
    """A loaded dataset split and scaled by ``preprocessing``, then (when it asks for padding
    and ``encoder`` is given) padded with zero features up to the count that fills ``qubits``
    under the encoding; with the feature count before padding. The one place padding happens."""
    data = prepare(dataset, preprocessing, seed)
    unpadded = data.num_features
    if preprocessing.padding and encoder is not None:
        needed = features_needed(encoder, unpadded, qubits)
        if needed > unpadded:
            data = prepare(dataset, preprocessing, seed, pad_to=needed)
    return data, unpadded


def features_needed(encoder: Any, have: int, qubits: int) -> int:
    """The feature count that fills the circuit's qubits with this encoding (padding up to it)."""
    best = have
    for k in range(have, 4 * max(qubits, 1) + 1):
        if encoder.num_qubits(k) > qubits:
            break
        best = k
    return best
