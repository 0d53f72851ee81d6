"""What the dataset panel computes off the GUI thread: the data, prepared as training will.

:func:`load_and_prepare` takes a :class:`DataRequest` (a snapshot of the project's dataset,
preprocessing, seed, encoding and qubit count, taken on the GUI thread) and returns a
:class:`DataView`: the loaded :class:`~qmlstudio.core.dataset.Dataset`, the
:class:`~qmlstudio.core.preprocessing.PreparedData` made exactly as
:func:`~qmlstudio.workflow.build_run` makes it (padding included), and a
:class:`QubitFit` that compares the features with what the encoding needs. Nothing here
touches Qt or the project itself, so it is safe in a worker thread.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qmlstudio.core.dataset import Dataset, DatasetError
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import PluginChoice, Preprocessing, file_sha256
from qmlstudio.workflow import PreparedData, features_needed, prepare_for_encoding

#: Options that are bookkeeping of the project, not options of the dataset plugin.
BOOKKEEPING_OPTIONS = ("sha256",)
#: The most features the qubit-fit search tries (amplitude encoding packs 2ⁿ per n qubits).
_MAX_FIT_FEATURES = 4096


def dataset_key(choice: PluginChoice) -> str:
    """Identifies the data a choice loads (its name and options, without the file hash)."""
    options = {k: v for k, v in choice.options.items() if k not in BOOKKEEPING_OPTIONS}
    return json.dumps([choice.name, options], sort_keys=True, default=str)


@dataclass(frozen=True)
class DataRequest:
    """A snapshot of what the preview depends on, taken from the project on the GUI thread."""

    dataset: PluginChoice
    preprocessing: Preprocessing
    seed: int
    encoding: PluginChoice
    num_qubits: int
    project_file: str | None = None
    #: the model maps the features to the circuit itself (a hybrid's front): no qubit fit to show
    maps_features: bool = False

    @property
    def key(self) -> str:
        return dataset_key(self.dataset)


class DataFileChanged(QMLStudioError):
    """The data file differs from the one chosen for the project (its SHA-256 changed)."""

    def __init__(self, message: str, sha256: str) -> None:
        super().__init__(message)
        self.sha256 = sha256


@dataclass
class QubitFit:
    """How the prepared features fit the circuit's qubits under the project's encoding.

    ``features`` is the number of prepared features before any padding and ``needed`` the
    qubits the encoding uses for them; ``qubits`` is the circuit's width. ``pca_to`` is the
    number of principal components that would fill the circuit (None when PCA cannot
    help) and ``can_pad`` says whether padding with zeros would use more qubits.
    ``padded_to`` is set when padding is on and was applied.
    """

    encoding: str
    features: int
    needed: int
    qubits: int
    raw_features: int
    pca_to: int | None = None
    can_pad: bool = False
    padded_to: int | None = None
    problem: str | None = None

    @property
    def fits(self) -> bool:
        """True when nothing needs the user's attention."""
        return self.problem is None and (self.needed == self.qubits or self.padded_to is not None)

    @property
    def message(self) -> str:
        """A sentence for the user (empty when the data fits exactly)."""
        if self.problem:
            return f"The {self.encoding} encoding cannot take this data: {self.problem}."
        feat = _count(self.features, "feature")
        if self.padded_to is not None:
            return (f"{feat.capitalize()} padded with zeros to {self.padded_to} to fill the "
                    f"{_count(self.qubits, 'qubit')} of the circuit.")
        if self.needed > self.qubits:
            return (f"The {self.encoding} encoding needs {_count(self.needed, 'qubit')} for {feat}, "
                    f"but the circuit has {self.qubits}.")
        if self.needed < self.qubits:
            return (f"The circuit has {_count(self.qubits, 'qubit')}, but the {self.encoding} encoding puts "
                    f"{feat} on only {self.needed} of them.")
        return ""


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


@dataclass
class DataView:
    """Everything the panel shows for one request.

    ``prepared`` is None when the data loaded but cannot be prepared as asked (too few
    classes left, PCA to more components than features...); ``problem`` then says why.
    ``fit`` is None when the encoding is unknown or the data could not be prepared.
    """

    request: DataRequest
    dataset: Dataset = field(repr=False)
    prepared: PreparedData | None = field(default=None, repr=False)
    problem: str | None = None
    fit: QubitFit | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def class_indices(self) -> list[int]:
        """Indices (into ``dataset.class_names``) of the classes the preprocessing keeps."""
        return chosen_classes(self.dataset, self.request.preprocessing.classes)


def chosen_classes(dataset: Dataset, classes: Any) -> list[int]:
    """Which class indices a preprocessing's ``classes`` keeps (all when None; unknown ones ignored)."""
    names = list(dataset.class_names)
    if not classes:
        return list(range(len(names)))
    result = []
    for c in classes:
        if isinstance(c, str):
            if c in names:
                result.append(names.index(c))
            elif c.strip().lstrip("-").isdigit() and 0 <= int(c) < len(names):
                result.append(int(c))
        elif 0 <= int(c) < len(names):
            result.append(int(c))
    return result


def check_data_file(choice: PluginChoice, project_file: str | None) -> None:
    """Raises :class:`DataFileChanged` when the choice's ``path`` file no longer has its saved SHA-256.

    Mirrors :func:`qmlstudio.core.project.dataset_file_problem`, and also hands back the
    file's current hash, so that the user can accept the file as it is now.
    """
    location = choice.options.get("path")
    expected = choice.options.get("sha256")
    if not isinstance(location, str) or not location or not isinstance(expected, str) or not expected:
        return
    path = Path(location)
    if not path.is_absolute() and project_file:
        path = Path(project_file).parent / path
    try:
        digest = file_sha256(path)
    except OSError:
        return  # a missing file is the plugin's to report, in its own words
    if digest != expected.lower():
        raise DataFileChanged(
            f"the data file '{path}' has changed since it was chosen for this project (its SHA-256 differs); "
            "training refuses it until you accept the file as it is now",
            digest,
        )


def load_dataset(request: DataRequest, registry: Any) -> Dataset:
    """The request's dataset, read by its plugin (the file hash is checked first)."""
    spec = registry.get("datasets", request.dataset.name)
    check_data_file(request.dataset, request.project_file)
    options = {k: v for k, v in request.dataset.options.items() if k not in BOOKKEEPING_OPTIONS}
    return spec.create(options)


def load_and_prepare(request: DataRequest, registry: Any, dataset: Dataset | None = None) -> DataView:
    """Loads the data (unless ``dataset`` is given) and prepares it as training will.

    Raises for data that cannot be loaded; preparation problems are returned in the view.
    """
    if dataset is None:
        dataset = load_dataset(request, registry)
    view = DataView(request=request, dataset=dataset)
    encoder = None
    try:
        encoder = registry.get("encodings", request.encoding.name).create(request.encoding.options)
    except Exception as exc:  # an unknown or broken encoding only costs the qubit hint
        view.notes.append(f"encoding {request.encoding.name!r}: {exc}")
    try:
        # Exactly as build_run prepares and pads: to the feature count that fills the circuit.
        prepared, unpadded = prepare_for_encoding(dataset, request.preprocessing, request.seed, encoder,
                                                  request.num_qubits)
    except DatasetError as exc:
        view.problem = str(exc)
        return view
    if encoder is not None and not request.maps_features:
        view.fit = _fit(encoder, request, dataset, unpadded, len(prepared.y_train))
        if prepared.num_features > unpadded:
            view.fit.padded_to = prepared.num_features
    view.prepared = prepared
    return view


def _fit(encoder: Any, request: DataRequest, dataset: Dataset, k: int, train_rows: int) -> QubitFit:
    """How ``k`` prepared features (before padding) fit the request's qubits."""
    name = request.encoding.name
    qubits = request.num_qubits
    pre = request.preprocessing
    raw = len(pre.features) if pre.features is not None else dataset.num_features
    fit = QubitFit(encoding=name, features=k, needed=_qubits(encoder, k), qubits=qubits, raw_features=raw)
    fit.problem = _check(encoder, k)
    if fit.problem is None and fit.needed == qubits:
        return fit
    # The most principal components (at most the raw features and the training samples) that fit.
    limit = min(raw, train_rows, _MAX_FIT_FEATURES)
    best = None
    for n in range(1, limit + 1):
        used = _qubits(encoder, n)
        if used > qubits:
            break
        if _check(encoder, n) is None:
            best = n
    if best is not None and best != k and (fit.needed > qubits or best > k or fit.problem):
        fit.pca_to = best
    if fit.needed < qubits and not pre.padding:
        fit.can_pad = features_needed(encoder, k, qubits) > k
    return fit


def _qubits(encoder: Any, k: int) -> int:
    try:
        return int(encoder.num_qubits(k))
    except Exception:
        return 10**9


def _check(encoder: Any, k: int) -> str | None:
    try:
        return encoder.check(k)
    except Exception as exc:
        return str(exc)
