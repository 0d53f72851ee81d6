"""The project's settings objects: the plugin choices, the model, preprocessing and training.

Frozen dataclasses (:class:`PluginChoice`, :class:`ModelChoice`, :class:`Preprocessing`,
:class:`Training`), each with its JSON form and its checked reader. Change one by assigning
a new one to the project, e.g. ``project.training = dataclasses.replace(project.training,
epochs=50)``. Split from :mod:`qmlstudio.core.project`, which re-exports every public name.
"""

from __future__ import annotations

import copy
import re
import numbers
from dataclasses import dataclass, field, fields
from typing import Any

from qmlstudio.core.project_fields import (
    _built,
    _describe,
    _fail,
    _flag,
    _list,
    _name,
    _object,
    _one_of,
    _options,
    _real,
    _require,
    _whole,
)

__all__ = ["DEFAULT_VALIDATION_SIZE", "MODEL_KINDS", "ModelChoice", "PluginChoice", "Preprocessing", "SCALINGS",
           "Training"]


SCALINGS = ("none", "minmax-pi", "minmax-sym", "standardize")


MODEL_KINDS = ("vqc", "regressor", "kernel")
#: a model kind a plugin provides (``qmlstudio_models``, e.g. ``hybrid``): a plugin name
_PLUGIN_KIND = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")


@dataclass(frozen=True)
class PluginChoice:
    """Which plugin provides a part of the model (dataset, encoding, ansatz, optimizer,
    backend), by its registered name, and the options the user set for it.

    ``options`` hold JSON scalars and flat lists of them; the plugin validates their
    meaning when it is used. Treat the dict as read-only and assign a new choice to change
    it, so that the project notices.
    """

    name: str
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _name(self.name, "name")
        object.__setattr__(self, "options", _options(self.options, "options"))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "options": copy.deepcopy(self.options)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "PluginChoice":
        _object(data, where, ("name", "options"))
        name = _require(data, "name", where)
        return _built(where, lambda: cls(name, data.get("options", {})))


@dataclass(frozen=True)
class ModelChoice:
    """What is trained: a variational classifier (``vqc``), a variational ``regressor``, a
    quantum-kernel SVM (``kernel``) or a kind a plugin provides (``hybrid``: a hybrid
    quantum-classical network, the ``qmls_torch`` plugin), and its options."""

    kind: str = "vqc"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not (isinstance(self.kind, str) and (self.kind in MODEL_KINDS or _PLUGIN_KIND.match(self.kind))):
            _one_of(self.kind, "kind", MODEL_KINDS)  # the message lists the built-in kinds
        object.__setattr__(self, "options", _options(self.options, "options"))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "options": copy.deepcopy(self.options)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ModelChoice":
        _object(data, where, ("kind", "options"))
        kind = _require(data, "kind", where)
        return _built(where, lambda: cls(kind, data.get("options", {})))


#: The validation fraction of a new project (File ▸ New, ``qmlstudio new``): early stopping
#: and the live curves need held-out rows that are not the test split. A project file without
#: the field means 0 (no validation split), as files written before the split existed.
DEFAULT_VALIDATION_SIZE = 0.2


@dataclass(frozen=True)
class Preprocessing:
    """How the dataset is prepared before encoding.

    ``classes`` keeps a subset of classes (by index or name; None keeps all), ``features``
    a subset of feature columns (None keeps all). ``scaling`` is ``"none"``,
    ``"minmax-pi"`` (each feature to [0, π]), ``"minmax-sym"`` (to [-1, 1]) or
    ``"standardize"`` (zero mean, unit variance), fitted on the training split. ``pca``
    reduces to that many components (None: no PCA). ``test_size`` is the fraction of
    the samples held out for the final test, ``validation_size`` the fraction (of all the
    samples, taken from the non-test rows) that early stopping and live curves use (0, the
    default here: no validation split; new projects take :data:`DEFAULT_VALIDATION_SIZE`).
    ``stratify`` keeps class proportions in all splits and ``padding`` pads the features
    with zeros up to what the encoding needs.
    """

    classes: tuple[int | str, ...] | None = None
    features: tuple[int, ...] | None = None
    scaling: str = "minmax-pi"
    pca: int | None = None
    test_size: float = 0.25
    stratify: bool = True
    padding: bool = False
    validation_size: float = 0.0

    def __post_init__(self) -> None:
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731
        if self.classes is not None:
            items = _list(self.classes, "classes")
            for i, item in enumerate(items):
                if isinstance(item, bool) or not isinstance(item, (str, numbers.Integral)):
                    _fail(f"classes[{i}]", f"expected a class index or name, got {_describe(item)}")
            classes = tuple(int(c) if isinstance(c, numbers.Integral) else c for c in items)
            _distinct(classes, "classes")
            set_("classes", classes)
        if self.features is not None:
            items = _list(self.features, "features")
            features = tuple(_whole(f, f"features[{i}]", minimum=0) for i, f in enumerate(items))
            _distinct(features, "features")
            set_("features", features)
        _one_of(self.scaling, "scaling", SCALINGS)
        if self.pca is not None:
            set_("pca", _whole(self.pca, "pca", minimum=1))
        test_size = _real(self.test_size, "test_size")
        if not 0 < test_size < 1:
            _fail("test_size", f"must lie strictly between 0 and 1, got {test_size!r}")
        set_("test_size", test_size)
        validation_size = _real(self.validation_size, "validation_size")
        if not 0 <= validation_size < 1:
            _fail("validation_size", f"must be at least 0 and less than 1, got {validation_size!r}")
        if test_size + validation_size >= 1:
            _fail(
                "validation_size",
                f"test ({test_size:g}) and validation ({validation_size:g}) fractions leave no training data",
            )
        set_("validation_size", validation_size)
        _flag(self.stratify, "stratify")
        _flag(self.padding, "padding")

    def to_dict(self) -> dict[str, Any]:
        return {
            "classes": None if self.classes is None else list(self.classes),
            "features": None if self.features is None else list(self.features),
            "scaling": self.scaling,
            "pca": self.pca,
            "test_size": self.test_size,
            "validation_size": self.validation_size,
            "stratify": self.stratify,
            "padding": self.padding,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "Preprocessing":
        names = [f.name for f in fields(cls)]
        _object(data, where, names)
        return _built(where, lambda: cls(**{k: data[k] for k in names if k in data}))


def _distinct(items: tuple[Any, ...], where: str) -> None:
    if not items:
        _fail(where, "must not be empty (use null for all)")
    seen = set()
    for i, item in enumerate(items):
        if item in seen:
            _fail(f"{where}[{i}]", f"{item!r} is listed twice")
        seen.add(item)


@dataclass(frozen=True)
class Training:
    """How long and how the model trains.

    ``batch_size`` None trains on the full batch. With ``early_stopping`` training stops
    after ``patience`` epochs without improvement of the validation loss (it needs a
    validation split; the test split never decides anything).
    """

    epochs: int = 30
    batch_size: int | None = None
    early_stopping: bool = False
    patience: int = 5

    def __post_init__(self) -> None:
        object.__setattr__(self, "epochs", _whole(self.epochs, "epochs", minimum=1))
        if self.batch_size is not None:
            object.__setattr__(self, "batch_size", _whole(self.batch_size, "batch_size", minimum=1))
        _flag(self.early_stopping, "early_stopping")
        object.__setattr__(self, "patience", _whole(self.patience, "patience", minimum=1))

    def to_dict(self) -> dict[str, Any]:
        return {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "early_stopping": self.early_stopping,
            "patience": self.patience,
        }

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "Training":
        names = [f.name for f in fields(cls)]
        _object(data, where, names)
        return _built(where, lambda: cls(**{k: data[k] for k in names if k in data}))
