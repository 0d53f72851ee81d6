"""The project file (``.qmls``): everything a user saves, as versioned JSON.

A :class:`Project` is the whole document: the circuit the editor edits, the dataset and
its preprocessing, the encoding, ansatz template, model, optimizer, backend and training
settings, and the record of every training run (:class:`RunRecord`). It is written as
UTF-8 JSON by :func:`save_project` (atomically, see :mod:`qmlstudio.core.storage`) and
read back by :func:`load_project`. Nothing in a project file is ever executed: there is
no pickle, angles are parsed by :mod:`qmlstudio.core.expressions`, and plugin names and
options are plain data that the plugins check when they are used.

Every file carries a ``schema_version``. Loading applies :data:`MIGRATIONS` one version at
a time up to :data:`CURRENT_SCHEMA`, so files written by older versions still open; a file
from a newer version is refused with a message saying which versions are involved.

Any problem with a file raises one :class:`ProjectError` whose message names the file,
the field path (``runs[2].metrics.loss``) and what is wrong. The format is documented
field by field in ``docs/project-format.md``.

The project is Qt-free. Views follow ``project.events.changed(project=..., what=...)``
(a field was replaced, ``what`` names it, or ``"saved"``) and
``project.events.runs_changed(project=..., run_id=..., what=...)`` (``"added"``,
``"removed"``, ``"updated"`` or ``"replaced"``), and read :attr:`Project.dirty` for the
unsaved-changes mark. The settings objects (:class:`PluginChoice`, :class:`Preprocessing`...)
are frozen: change one by assigning a new one, e.g.
``project.training = dataclasses.replace(project.training, epochs=50)``, so the project
sees every change.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import numbers
import os
import re
import secrets
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from qmlstudio import __version__
from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import DesignError, QMLStudioError
from qmlstudio.core.events import EventGroup
from qmlstudio.core.storage import atomic_write_bytes

__all__ = [
    "APP_NAME",
    "CURRENT_SCHEMA",
    "FILE_SUFFIX",
    "MAX_FILE_BYTES",
    "METRIC_NAMES",
    "MIGRATIONS",
    "MODEL_KINDS",
    "RUN_STATUSES",
    "SCALINGS",
    "ModelChoice",
    "PluginChoice",
    "Preprocessing",
    "Project",
    "ProjectError",
    "RunRecord",
    "Training",
    "dataset_file_problem",
    "file_sha256",
    "load_project",
    "new_run_id",
    "now_iso",
    "save_project",
]

#: The format version this QML Studio writes, and the newest it reads.
CURRENT_SCHEMA = 3
#: ``MIGRATIONS[n]`` turns the dict of a version-``n`` file into a version ``n + 1`` dict.
#: The loader sets ``schema_version`` itself after each step. See docs/project-format.md.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}


def _v1_to_v2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 2 adds a validation split; a version-1 project had none, so it keeps none:
    its training and test rows stay exactly what they were (its runs still reproduce).
    It also adds the run fields ``seeds`` and ``backend_applied``; a version-1 run has
    neither (what it used was not recorded), so nothing is made up for it."""
    preprocessing = data.get("preprocessing")
    if isinstance(preprocessing, dict):
        preprocessing.setdefault("validation_size", 0.0)
    elif preprocessing is None and "preprocessing" not in data:
        data["preprocessing"] = {"validation_size": 0.0}
    return data


MIGRATIONS[1] = _v1_to_v2


def _engine_ran(backend: Any, model: Any, applied: Any = None) -> bool:
    """Whether a version-2 ``aer-statevector`` choice was run by QML Studio's own simulator.

    Up to version 2 that backend's name covered the engine's exact simulator: kernels (exact
    states) and variational models with gradient ``auto`` or ``adjoint`` never ran Aer; only
    parameter-shift gradients ran Aer's sampler. A run's ``backend_applied`` says which it was.
    """
    if not (isinstance(backend, dict) and backend.get("name") == "aer-statevector"):
        return False
    if isinstance(applied, dict) and isinstance(applied.get("evaluator"), str):
        return applied["evaluator"].startswith("exact statevector")
    model = model if isinstance(model, dict) else {}
    options = model.get("options") if isinstance(model.get("options"), dict) else {}
    return model.get("kind") == "kernel" or options.get("gradient", "auto") in ("auto", "adjoint")


def _as_engine(backend: dict[str, Any]) -> dict[str, Any]:
    """The ``statevector`` choice that ran: only the threads of the engine carry over
    (precision, device, seed and sampler shots were never applied on the exact path)."""
    options = backend.get("options") if isinstance(backend.get("options"), dict) else {}
    return {"name": "statevector", "options": {"threads": options.get("threads")}}


def _v2_to_v3(data: dict[str, Any]) -> dict[str, Any]:
    """Version 3 names the engine's exact simulator ``statevector`` (before, ``aer-statevector``
    named it too, though Aer never ran). A stored ``aer-statevector`` that the engine ran (see
    :func:`_engine_ran`) becomes ``statevector``, in the project and in each run's config;
    evaluations on ``aer-statevector`` (always the engine's) too. Parameter-shift choices keep
    ``aer-statevector``, which now runs Aer's estimator (exact values) rather than its sampler."""
    if _engine_ran(data.get("backend"), data.get("model")):
        data["backend"] = _as_engine(data["backend"])
    for run in data.get("runs") or []:
        if not isinstance(run, dict):
            continue
        config = run.get("config")
        if isinstance(config, dict) and _engine_ran(config.get("backend"), config.get("model"), run.get("backend_applied")):
            config["backend"] = _as_engine(config["backend"])
        for evaluation in run.get("evaluations") or []:
            if isinstance(evaluation, dict) and evaluation.get("backend") == "aer-statevector":
                evaluation["backend"] = "statevector"
                evaluation["options"] = _as_engine(evaluation)["options"]
    return data


MIGRATIONS[2] = _v2_to_v3
APP_NAME = "qmlstudio"
FILE_SUFFIX = ".qmls"
#: Larger files are refused rather than read into memory.
MAX_FILE_BYTES = 200 * 1024 * 1024

SCALINGS = ("none", "minmax-pi", "minmax-sym", "standardize")
MODEL_KINDS = ("vqc", "regressor", "kernel")
RUN_STATUSES = ("completed", "stopped", "failed", "running")
METRIC_NAMES = (
    "iteration",
    "epoch",
    "loss",
    "test_loss",
    "train_accuracy",
    "test_accuracy",
    "grad_norm",
    "elapsed_s",
    "val_loss",
    "val_accuracy",
)
#: The numbers of a baseline's record; ``tuned`` (what was searched and chosen) and
#: ``untuned_test_accuracy`` are checked apart (see :func:`_baselines`).
BASELINE_FIELDS = ("train_accuracy", "test_accuracy", "seconds", "parameters", "untuned_test_accuracy")
_OPTIONAL_BASELINE_FIELDS = ("parameters", "untuned_test_accuracy")
#: Where the figures of each metrics row were measured (``RunRecord.measured_at``).
MEASURED_AT = ("before_step", "after_step", "around_before_step", "final_weights", "unknown")
TIMING_FIELDS = ("seconds", "seconds_per_epoch")
TEST_FIELDS = ("loss", "accuracy")
_MAX_DEPTH = 32


# ============================================================================ errors
class ProjectError(QMLStudioError, ValueError):
    """A project cannot be read or written.

    ``problem`` says what is wrong, ``field`` is the path of the field it is about
    (``"runs[2].metrics.loss"``, or None for the file as a whole) and ``file`` the project
    file (None for a dict that did not come from a file). ``str(error)`` joins them into
    one message for the user.
    """

    def __init__(
        self,
        problem: str,
        field: str | None = None,
        file: str | os.PathLike[str] | None = None,
        action: str = "open",
    ) -> None:
        self.problem = problem
        self.field = field
        self.file = None if file is None else os.fspath(file)
        self.action = action
        message = f"{field}: {problem}" if field else problem
        if self.file is not None:
            verb = "cannot save project to" if action == "save" else "cannot open project"
            message = f"{verb} '{self.file}': {message}"
        super().__init__(message)

    def inside(self, where: str) -> "ProjectError":
        """The same error with its field path put under ``where`` (``encoding`` + ``options.x``)."""
        if not self.field:
            inner = where
        elif self.field.startswith("["):
            inner = where + self.field
        else:
            inner = f"{where}.{self.field}"
        return ProjectError(self.problem, inner, self.file, self.action)

    def in_file(self, file: str | os.PathLike[str], action: str = "open") -> "ProjectError":
        """The same error naming the file it was found in."""
        return ProjectError(self.problem, self.field, file, action)


# ====================================================================== small helpers
def now_iso() -> str:
    """The current time as an ISO 8601 UTC string, to the second: ``2025-01-31T12:00:00Z``."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_run_id() -> str:
    """A readable, practically unique run id: ``20250131-120000-3fa2c1d0``."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes as 64 hex digits (stored with CSV data to notice edits).

    Raises :class:`OSError` when the file cannot be read.
    """
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _describe(value: Any) -> str:
    """A value in JSON words, for messages: ``text "abc"``, ``the number 3``, ``null``..."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return "text " + json.dumps(shown, ensure_ascii=False)
    if isinstance(value, numbers.Number):
        return f"the number {value!r}"
    if isinstance(value, (list, tuple)):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, Mapping):
        return "an object"
    return f"a {type(value).__name__}"


def _fail(where: str | None, problem: str) -> None:
    raise ProjectError(problem, where or None)


def _join(where: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{where}[{key}]"
    return f"{where}.{key}" if where else key


# Checkers take a value and the path of the field it came from, and return the value in
# normal form (ints as int, numbers as float...) or raise ProjectError naming the path.
def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        _fail(where, f"expected text, got {_describe(value)}")
    return value


def _name(value: Any, where: str) -> str:
    _text(value, where)
    if not value.strip():
        _fail(where, "must not be empty")
    return value


def _whole(value: Any, where: str, minimum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        _fail(where, f"expected a whole number, got {_describe(value)}")
    value = int(value)
    if minimum is not None and value < minimum:
        _fail(where, f"must be at least {minimum}, got {value}")
    return value


def _real(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(where, f"expected a number, got {_describe(value)}")
    if not math.isfinite(value):
        _fail(where, f"expected a finite number, got {value!r}")
    return float(value)


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        _fail(where, f"expected true or false, got {_describe(value)}")
    return value


def _one_of(value: Any, where: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed or not isinstance(value, str):
        _fail(where, f"expected one of {', '.join(repr(a) for a in allowed)}, got {_describe(value)}")
    return value


def _timestamp(value: Any, where: str) -> str:
    _text(value, where)
    try:
        datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        _fail(where, f"expected an ISO 8601 date and time such as '2025-01-31T12:00:00Z', got {_describe(value)}")
    return value


def _measure(value: Any, where: str) -> int | float | None:
    """A number that may be missing (null); non-finite floats stay in memory as they are."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        _fail(where, f"expected a number or null, got {_describe(value)}")
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _measure_json(value: Any) -> int | float | None:
    """A measure as JSON writes it: NaN and infinities (a diverged loss) become null."""
    if value is None:
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    value = float(value)
    return value if math.isfinite(value) else None


def _list(value: Any, where: str) -> list[Any]:
    if isinstance(value, tuple):
        value = list(value)
    if not isinstance(value, list):
        _fail(where, f"expected a list, got {_describe(value)}")
    return value


def _object(value: Any, where: str, known: Iterable[str] | None = None) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _fail(where, f"expected an object {{...}}, got {_describe(value)}")
    for key in value:
        if not isinstance(key, str):
            _fail(where, f"field names must be text, got {_describe(key)}")
    if known is not None:
        known = tuple(known)
        for key in value:
            if key not in known:
                _fail(_join(where, key), f"unknown field (expected: {', '.join(known)})")
    return value


def _require(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data:
        _fail(_join(where, key), "missing")
    return data[key]


def _scalar(value: Any, where: str) -> Any:
    """A JSON scalar in normal form: text, a finite number, true/false or null."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return _real(value, where)
    _fail(where, f"expected text, a number, true/false or null, got {_describe(value)}")


def _options(value: Any, where: str) -> dict[str, Any]:
    """Plugin options: names mapped to JSON scalars or flat lists of scalars, nothing deeper."""
    _object(value, where)
    result: dict[str, Any] = {}
    for key, item in value.items():
        path = _join(where, key)
        if isinstance(item, (list, tuple)):
            result[key] = [_options_item(x, _join(path, i)) for i, x in enumerate(item)]
        elif isinstance(item, Mapping):
            _fail(path, "options hold text, numbers, true/false, null or lists of those, not objects")
        else:
            result[key] = _scalar(item, path)
    return result


def _options_item(value: Any, where: str) -> Any:
    if isinstance(value, (list, tuple, Mapping)):
        _fail(where, "a list in the options may hold only text, numbers, true/false or null")
    return _scalar(value, where)


def _tree(value: Any, where: str, depth: int = 0) -> Any:
    """Any JSON value (objects with text keys, lists, scalars), copied, in normal form."""
    if depth > _MAX_DEPTH:
        _fail(where, f"nested more than {_MAX_DEPTH} levels deep")
    if isinstance(value, Mapping):
        _object(value, where)
        return {k: _tree(v, _join(where, k), depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tree(v, _join(where, i), depth + 1) for i, v in enumerate(value)]
    return _scalar(value, where)


def _tree_json(value: Any) -> Any:
    """A free-form tree as JSON writes it (non-finite numbers become null)."""
    if isinstance(value, Mapping):
        return {str(k): _tree_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_tree_json(v) for v in value]
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, numbers.Integral)):
        return _measure_json(value)
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def _built(where: str, build: Callable[[], Any]) -> Any:
    """Runs ``build`` and puts the field path of any ProjectError it raises under ``where``."""
    try:
        return build()
    except ProjectError as exc:
        raise exc.inside(where) from None


# ======================================================================= settings
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
    """What is trained: a variational classifier (``vqc``), a variational ``regressor`` or a
    quantum-kernel SVM (``kernel``), and its options."""

    kind: str = "vqc"
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _one_of(self.kind, "kind", MODEL_KINDS)
        object.__setattr__(self, "options", _options(self.options, "options"))

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "options": copy.deepcopy(self.options)}

    @classmethod
    def from_dict(cls, data: Any, where: str) -> "ModelChoice":
        _object(data, where, ("kind", "options"))
        kind = _require(data, "kind", where)
        return _built(where, lambda: cls(kind, data.get("options", {})))


@dataclass(frozen=True)
class Preprocessing:
    """How the dataset is prepared before encoding.

    ``classes`` keeps a subset of classes (by index or name; None keeps all), ``features``
    a subset of feature columns (None keeps all). ``scaling`` is ``"none"``,
    ``"minmax-pi"`` (each feature to [0, π]), ``"minmax-sym"`` (to [-1, 1]) or
    ``"standardize"`` (zero mean, unit variance), fitted on the training split. ``pca``
    reduces to that many components (None: no PCA). ``test_size`` is the fraction of
    the samples held out for the final test, ``validation_size`` the fraction (of all the
    samples, taken from the non-test rows) that early stopping and live curves use (0: no
    validation split). ``stratify`` keeps class proportions in all splits and ``padding``
    pads the features with zeros up to what the encoding needs.
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


# ========================================================================== runs
@dataclass
class RunRecord:
    """What one training run used and produced; the engine fills it as the run goes.

    ``config`` is a snapshot of the project's settings when the run started
    (:meth:`Project.config_snapshot`). ``metrics`` maps each name in
    :data:`METRIC_NAMES` to a list, all of the same length (one entry per recorded
    iteration; None where a value was not measured); add rows with :meth:`append_metrics`.
    ``measured_at`` says at which weights each metric was measured (values in
    :data:`MEASURED_AT`). The test split is scored once, at the end: ``test`` holds its
    ``loss`` and ``accuracy`` at the final weights (also written into the last metrics
    row when that row was measured at the final weights).
    ``baselines`` maps a classical model's name to its ``train_accuracy``,
    ``test_accuracy``, ``seconds``, trainable ``parameters``, the ``untuned_test_accuracy``
    of its default settings and ``tuned`` (the grid searched and the values chosen);
    ``parameters`` is the quantum model's trainable parameter count, ``tuning`` what was
    chosen by cross-validation for the quantum model itself (a kernel's C and bandwidth).
    ``evaluations`` lists the trained model's ``accuracy`` on other backends. Numbers
    that are not finite (a diverged loss) are saved as null.
    """

    id: str = field(default_factory=new_run_id)
    started: str = field(default_factory=now_iso)
    finished: str | None = None
    status: str = "running"
    message: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, list[int | float | None]] = field(default_factory=dict)
    initial_weights: list[float | None] = field(default_factory=list)
    final_weights: list[float | None] = field(default_factory=list)
    baselines: dict[str, dict[str, float | None]] = field(default_factory=dict)
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    timings: dict[str, float | None] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=dict)
    measured_at: dict[str, str] = field(default_factory=dict)
    test: dict[str, float | None] = field(default_factory=dict)
    parameters: int | None = None
    tuning: dict[str, Any] = field(default_factory=dict)
    #: the seed each random source used (a drawn one where none was given): source → a
    #: whole number, None (a source without a seed, such as hardware shots), or a list of
    #: them when a resumed run's segments used different seeds
    seeds: dict[str, Any] = field(default_factory=dict)
    #: what the backend actually applied to the circuits (as the backend reports it)
    backend_applied: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _name(self.id, "id")
        _timestamp(self.started, "started")
        if self.finished is not None:
            _timestamp(self.finished, "finished")
        _one_of(self.status, "status", RUN_STATUSES)
        _text(self.message, "message")
        self.config = _tree(_object(self.config, "config"), "config")
        self.metrics = _metrics(self.metrics, "metrics")
        self.initial_weights = _weights(self.initial_weights, "initial_weights")
        self.final_weights = _weights(self.final_weights, "final_weights")
        self.baselines = _baselines(self.baselines, "baselines")
        evaluations = _list(self.evaluations, "evaluations")
        self.evaluations = [_evaluation(e, f"evaluations[{i}]") for i, e in enumerate(evaluations)]
        self.timings = _measures(self.timings, "timings", TIMING_FIELDS)
        _object(self.versions, "versions")
        self.versions = {k: _text(v, _join("versions", k)) for k, v in self.versions.items()}
        _object(self.measured_at, "measured_at", METRIC_NAMES)
        self.measured_at = {
            k: _one_of(v, _join("measured_at", k), MEASURED_AT) for k, v in self.measured_at.items()
        }
        self.test = _measures(self.test, "test", TEST_FIELDS) if self.test else {}
        if self.parameters is not None:
            self.parameters = _whole(self.parameters, "parameters", minimum=0)
        self.tuning = _tree(_object(self.tuning, "tuning"), "tuning")
        _object(self.seeds, "seeds")
        self.seeds = {k: _seed_value(v, _join("seeds", k)) for k, v in self.seeds.items()}
        self.backend_applied = _tree(_object(self.backend_applied, "backend_applied"), "backend_applied")

    # ------------------------------------------------------------------ use
    @property
    def num_points(self) -> int:
        """How many rows of metrics were recorded."""
        return len(self.metrics["iteration"])

    def append_metrics(self, **values: float | int | None) -> None:
        """Adds one row of metrics; names not given get None, so all lists stay equal."""
        unknown = set(values) - set(METRIC_NAMES)
        if unknown:
            raise TypeError(f"unknown metric(s) {', '.join(sorted(unknown))}; known: {', '.join(METRIC_NAMES)}")
        for name in METRIC_NAMES:
            self.metrics[name].append(_measure(values.get(name), f"metrics.{name}"))

    def record_seeds(self, seeds: Mapping[str, int | None]) -> None:
        """Adds the seeds a run used; a source already recorded with another seed (a resumed
        run's new segment) keeps both, in order, as a list."""
        for name, value in seeds.items():
            value = _seed_value(value, _join("seeds", name))
            if name not in self.seeds:
                self.seeds[name] = value
                continue
            known = self.seeds[name] if isinstance(self.seeds[name], list) else [self.seeds[name]]
            if known[-1] != value:
                self.seeds[name] = [*known, value]

    def finish(self, status: str, message: str = "") -> None:
        """Marks the run as ended now with ``status`` (completed, stopped or failed)."""
        _one_of(status, "status", RUN_STATUSES)
        self.status, self.message, self.finished = status, message, now_iso()

    # ----------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started": self.started,
            "finished": self.finished,
            "status": self.status,
            "message": self.message,
            "config": _tree_json(self.config),
            "metrics": {name: [_measure_json(v) for v in self.metrics.get(name, [])] for name in METRIC_NAMES},
            "initial_weights": [_measure_json(w) for w in self.initial_weights],
            "final_weights": [_measure_json(w) for w in self.final_weights],
            "baselines": {name: _baseline_json(scores) for name, scores in self.baselines.items()},
            "evaluations": [_evaluation_json(e) for e in self.evaluations],
            "timings": {k: _measure_json(self.timings.get(k)) for k in TIMING_FIELDS},
            "versions": dict(self.versions),
            "measured_at": dict(self.measured_at),
            "test": {k: _measure_json(self.test.get(k)) for k in TEST_FIELDS} if self.test else {},
            "parameters": self.parameters,
            "tuning": _tree_json(self.tuning),
            "seeds": {k: (list(v) if isinstance(v, list) else v) for k, v in self.seeds.items()},
            "backend_applied": _tree_json(self.backend_applied),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "run") -> "RunRecord":
        names = [f.name for f in fields(cls)]
        _object(data, where, names)
        for key in ("id", "started", "status"):
            _require(data, key, where)
        return _built(where, lambda: cls(**{k: data[k] for k in names if k in data}))


def _seed_value(value: Any, where: str) -> int | None | list[int | None]:
    """A recorded seed: a whole number ≥ 0, null, or a list of them (one per resumed segment)."""
    if isinstance(value, list):
        return [None if v is None else _whole(v, f"{where}[{i}]", minimum=0) for i, v in enumerate(value)]
    return None if value is None else _whole(value, where, minimum=0)


def _metrics(value: Any, where: str) -> dict[str, list[int | float | None]]:
    _object(value, where, METRIC_NAMES)
    lists = {}
    for name in METRIC_NAMES:
        if name in value:
            path = _join(where, name)
            lists[name] = [_measure(v, f"{path}[{i}]") for i, v in enumerate(_list(value[name], path))]
    length = max((len(v) for v in lists.values()), default=0)
    longest = next((n for n, v in lists.items() if len(v) == length), None)
    for name, items in lists.items():
        if len(items) != length:
            _fail(
                _join(where, name),
                f"has {len(items)} entries but {longest} has {length}; all metrics need one entry per row",
            )
    return {name: lists.get(name, [None] * length) for name in METRIC_NAMES}


def _weights(value: Any, where: str) -> list[float | None]:
    items = _list(value, where)
    result: list[float | None] = []
    for i, w in enumerate(items):
        w = _measure(w, f"{where}[{i}]")
        result.append(None if w is None else float(w))
    return result


def _measures(value: Any, where: str, names: tuple[str, ...]) -> dict[str, float | None]:
    _object(value, where, names)
    return {name: _measure(value.get(name), _join(where, name)) for name in names}


def _baselines(value: Any, where: str) -> dict[str, dict[str, Any]]:
    _object(value, where)
    result: dict[str, dict[str, Any]] = {}
    for name, scores in value.items():
        path = _join(where, name)
        _object(scores, path, (*BASELINE_FIELDS, "tuned"))
        numbers_only = {k: v for k, v in scores.items() if k != "tuned"}
        checked: dict[str, Any] = _measures(numbers_only, path, BASELINE_FIELDS)
        for optional in _OPTIONAL_BASELINE_FIELDS:  # absent from records of untuned baselines
            if optional not in scores:
                del checked[optional]
        if checked.get("parameters") is not None:
            checked["parameters"] = _whole(checked["parameters"], _join(path, "parameters"), minimum=0)
        if scores.get("tuned") is not None:
            checked["tuned"] = _tree(_object(scores["tuned"], _join(path, "tuned")), _join(path, "tuned"))
        result[name] = checked
    return result


def _baseline_json(scores: Mapping[str, Any]) -> dict[str, Any]:
    written: dict[str, Any] = {
        k: _measure_json(scores.get(k))
        for k in BASELINE_FIELDS
        if k in scores or k not in _OPTIONAL_BASELINE_FIELDS
    }
    if scores.get("tuned") is not None:
        written["tuned"] = _tree_json(scores["tuned"])
    return written


def _evaluation(value: Any, where: str) -> dict[str, Any]:
    _object(value, where, ("backend", "options", "accuracy", "seeds", "backend_applied"))
    backend = _name(_require(value, "backend", where), _join(where, "backend"))
    checked = {
        "backend": backend,
        "options": _options(value.get("options", {}), _join(where, "options")),
        "accuracy": _measure(value.get("accuracy"), _join(where, "accuracy")),
    }
    if "seeds" in value:  # version 2: the seeds the evaluation used and what the backend applied
        seeds = _object(value["seeds"], _join(where, "seeds"))
        checked["seeds"] = {k: _seed_value(v, _join(_join(where, "seeds"), k)) for k, v in seeds.items()}
    if "backend_applied" in value:
        path = _join(where, "backend_applied")
        checked["backend_applied"] = _tree(_object(value["backend_applied"], path), path)
    return checked


def _evaluation_json(e: Mapping[str, Any]) -> dict[str, Any]:
    written = {"backend": e["backend"], "options": _tree_json(e["options"]), "accuracy": _measure_json(e["accuracy"])}
    if "seeds" in e:
        written["seeds"] = {k: (list(v) if isinstance(v, list) else v) for k, v in e["seeds"].items()}
    if "backend_applied" in e:
        written["backend_applied"] = _tree_json(e["backend_applied"])
    return written


# ======================================================================= project
def _default_encoding() -> PluginChoice:
    return PluginChoice("angle", {"rotation": "ry"})


def _default_ansatz() -> PluginChoice:
    return PluginChoice("real-amplitudes", {"reps": 2})


def _default_optimizer() -> PluginChoice:
    return PluginChoice("adam", {"learning_rate": 0.1})


def _instance(kind: type, optional: bool = False) -> Callable[[Any, str], Any]:
    def check(value: Any, where: str) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, kind):
            _fail(where, f"expected a {kind.__name__}{' or None' if optional else ''}, got {_describe(value)}")
        return value

    return check


def _studies(value: Any, where: str) -> list[dict[str, Any]]:
    """A list of study objects, each with a text ``id`` and a list of ``trials`` objects."""
    studies = []
    for i, item in enumerate(_list(value, where)):
        at = _join(where, i)
        study = dict(_object(item, at))
        _text(_require(study, "id", at), _join(at, "id"))
        for j, trial in enumerate(_list(study.get("trials", []), _join(at, "trials"))):
            _object(trial, _join(_join(at, "trials"), j))
        studies.append(study)
    return studies


def _runs(value: Any, where: str) -> list[RunRecord]:
    runs = _list(value, where)
    seen: dict[str, int] = {}
    for i, run in enumerate(runs):
        _instance(RunRecord)(run, f"{where}[{i}]")
        if run.id in seen:
            _fail(f"{where}[{i}].id", f"{run.id!r} is also the id of {where}[{seen[run.id]}]; run ids must be unique")
        seen[run.id] = i
    return runs


#: How each field of a Project is checked, whether set in the constructor or later.
_PROJECT_CHECKS: dict[str, Callable[[Any, str], Any]] = {
    "name": _text,
    "created": _timestamp,
    "modified": _timestamp,
    "notes": _text,
    "circuit": _instance(CircuitDesign),
    "dataset": _instance(PluginChoice),
    "preprocessing": _instance(Preprocessing),
    "encoding": _instance(PluginChoice),
    "ansatz": _instance(PluginChoice, optional=True),
    "model": _instance(ModelChoice),
    "optimizer": _instance(PluginChoice),
    "backend": _instance(PluginChoice),
    "training": _instance(Training),
    "seed": lambda v, where: _whole(v, where, minimum=0),
    "runs": _runs,
    "studies": lambda v, where: _studies(v, where),
}
#: Top-level fields of a project file, in the order they are written.
_FILE_FIELDS = (
    "schema_version", "app", "name", "created", "modified", "notes", "dataset", "preprocessing",
    "encoding", "ansatz", "circuit", "model", "optimizer", "backend", "training", "seed", "runs",
    "studies",
)  # fmt: skip


@dataclass(eq=True)
class Project:
    """The document a user opens and saves: a circuit, its data and settings, and its runs.

    Assigning any field validates the new value, sets :attr:`dirty` and emits
    ``events.changed(project=self, what=<field>)``; editing :attr:`circuit` in place does
    the same through the circuit's own events. Runs are added and removed with
    :meth:`add_run` and :meth:`remove_run`, and a run the engine has updated is announced
    with :meth:`run_updated`; these emit ``events.runs_changed``.

    Besides the saved fields, a project has ``path`` (the file it was loaded from or last
    saved to, or None), ``written_by`` (the QML Studio version that wrote that file) and
    ``dirty``.
    """

    name: str = "Untitled project"
    created: str = field(default_factory=now_iso)
    modified: str | None = None
    notes: str = ""
    circuit: CircuitDesign = field(default_factory=lambda: CircuitDesign(2))
    dataset: PluginChoice = field(default_factory=lambda: PluginChoice("moons"))
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    encoding: PluginChoice = field(default_factory=_default_encoding)
    ansatz: PluginChoice | None = field(default_factory=_default_ansatz)
    model: ModelChoice = field(default_factory=ModelChoice)
    optimizer: PluginChoice = field(default_factory=_default_optimizer)
    backend: PluginChoice = field(default_factory=lambda: PluginChoice("statevector"))
    training: Training = field(default_factory=Training)
    seed: int = 7
    runs: list[RunRecord] = field(default_factory=list)
    #: studies over seeds and configurations (plain JSON objects, see qmlstudio.workflow.study)
    studies: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.modified is None:
            self.modified = self.created
        for name, check in _PROJECT_CHECKS.items():
            object.__setattr__(self, name, check(getattr(self, name), name))
        object.__setattr__(self, "events", EventGroup("changed", "runs_changed"))
        object.__setattr__(self, "dirty", False)
        object.__setattr__(self, "path", None)
        object.__setattr__(self, "written_by", __version__)
        self.circuit.events.changed.connect(self._on_circuit_changed)
        object.__setattr__(self, "_ready", True)

    # ----------------------------------------------------------- construction
    @classmethod
    def new(cls, name: str = "Untitled project", **settings: Any) -> "Project":
        """A fresh project with the defaults (moons, angle encoding, RealAmplitudes,
        a VQC trained by Adam on QML Studio's statevector simulator, 30 epochs, seed 7),
        any of which can be given as keyword arguments."""
        return cls(name=name, **settings)

    # ------------------------------------------------------------- tracking
    def __setattr__(self, name: str, value: Any) -> None:
        if not getattr(self, "_ready", False) or name not in _PROJECT_CHECKS:
            object.__setattr__(self, name, value)
            return
        value = _PROJECT_CHECKS[name](value, name)
        if name == "circuit":
            self.circuit.events.changed.disconnect(self._on_circuit_changed)
            value.events.changed.connect(self._on_circuit_changed)
        object.__setattr__(self, name, value)
        self.mark_changed(name)
        if name == "runs":
            self.events.runs_changed.emit(project=self, run_id=None, what="replaced")

    def mark_changed(self, what: str) -> None:
        """Records an unsaved change to ``what`` and announces it."""
        object.__setattr__(self, "dirty", True)
        self.events.changed.emit(project=self, what=what)

    def mark_saved(self) -> None:
        """Clears the unsaved-changes mark (after a save) and announces it as ``"saved"``."""
        object.__setattr__(self, "dirty", False)
        self.events.changed.emit(project=self, what="saved")

    def _on_circuit_changed(self, **_: Any) -> None:
        self.mark_changed("circuit")

    # ----------------------------------------------------------------- runs
    def add_run(self, run: RunRecord) -> None:
        """Appends a run (its id must be new to the project)."""
        _runs([*self.runs, run], "runs")
        self.runs.append(run)
        self._runs_changed(run.id, "added")

    def remove_run(self, run_id: str) -> RunRecord:
        """Removes and returns the run with ``run_id`` (KeyError if there is none)."""
        run = self.find_run(run_id)
        self.runs.remove(run)
        self._runs_changed(run_id, "removed")
        return run

    def find_run(self, run_id: str) -> RunRecord:
        for run in self.runs:
            if run.id == run_id:
                return run
        raise KeyError(run_id)

    def run_updated(self, run: RunRecord) -> None:
        """Announces that ``run`` (already in the project) got new metrics or a status."""
        self._runs_changed(run.id, "updated")

    def _runs_changed(self, run_id: str, what: str) -> None:
        self.mark_changed("runs")
        self.events.runs_changed.emit(project=self, run_id=run_id, what=what)

    def config_snapshot(self) -> dict[str, Any]:
        """The settings a run uses, as plain data, for :attr:`RunRecord.config`."""
        return {
            "dataset": self.dataset.to_dict(),
            "preprocessing": self.preprocessing.to_dict(),
            "encoding": self.encoding.to_dict(),
            "ansatz": None if self.ansatz is None else self.ansatz.to_dict(),
            "circuit": self.circuit.to_dict(),
            "model": self.model.to_dict(),
            "optimizer": self.optimizer.to_dict(),
            "backend": self.backend.to_dict(),
            "training": self.training.to_dict(),
            "seed": self.seed,
        }

    # ----------------------------------------------------------- conversion
    def to_dict(self) -> dict[str, Any]:
        """The project as the JSON object a ``.qmls`` file holds."""
        return {
            "schema_version": CURRENT_SCHEMA,
            "app": {"name": APP_NAME, "version": __version__},
            "name": self.name,
            "created": self.created,
            "modified": self.modified,
            "notes": self.notes,
            **self.config_snapshot(),
            "runs": [run.to_dict() for run in self.runs],
            # optional: written only when the project has studies
            **({"studies": _tree_json(self.studies)} if self.studies else {}),
        }

    @classmethod
    def from_dict(cls, data: Any) -> "Project":
        """A project from the JSON object of a ``.qmls`` file of any supported version.

        Missing fields other than ``schema_version`` (and the names, kinds and ids inside)
        take their defaults; anything present must have the right type. Raises one
        :class:`ProjectError` naming the field path of the first problem.
        """
        if not isinstance(data, Mapping):
            raise ProjectError(
                f"a project file holds a JSON object {{...}} at the top level; this one holds {_describe(data)}"
            )
        data = _upgrade(data)
        _object(data, "", _FILE_FIELDS)
        written_by = _app_version(data)
        kwargs: dict[str, Any] = {}
        for key in ("name", "created", "modified", "notes", "seed"):
            if key in data:
                kwargs[key] = data[key]
        for key in ("dataset", "encoding", "optimizer", "backend"):
            if key in data:
                kwargs[key] = PluginChoice.from_dict(data[key], key)
        if "ansatz" in data:
            kwargs["ansatz"] = None if data["ansatz"] is None else PluginChoice.from_dict(data["ansatz"], "ansatz")
        if "preprocessing" in data:
            kwargs["preprocessing"] = Preprocessing.from_dict(data["preprocessing"], "preprocessing")
        if "model" in data:
            kwargs["model"] = ModelChoice.from_dict(data["model"], "model")
        if "training" in data:
            kwargs["training"] = Training.from_dict(data["training"], "training")
        if "circuit" in data:
            kwargs["circuit"] = _circuit(data["circuit"])
        if "runs" in data:
            raw = _list(data["runs"], "runs")
            kwargs["runs"] = [RunRecord.from_dict(r, f"runs[{i}]") for i, r in enumerate(raw)]
        if "studies" in data:
            kwargs["studies"] = data["studies"]
        project = cls(**kwargs)
        object.__setattr__(project, "written_by", written_by)
        return project


def _circuit(data: Any) -> CircuitDesign:
    try:
        return CircuitDesign.from_dict(data, where="circuit")
    except DesignError as exc:
        # CircuitDesign's messages start with the path they are about ("circuit.gates[0]: ...").
        # Problems of the design as a whole read "circuit: gate 3: ...": name the gate's path.
        message = str(exc)
        head, sep, rest = message.partition(": ")
        if not (sep and head.startswith("circuit") and " " not in head):
            raise ProjectError(message, "circuit") from None
        gate = re.match(r"gate (\d+): (.*)", rest, re.S)
        if head == "circuit" and gate and ";" not in rest:
            raise ProjectError(gate.group(2), f"circuit.gates[{gate.group(1)}]") from None
        raise ProjectError(rest, head) from None


def _app_version(data: Mapping[str, Any]) -> str | None:
    if "app" not in data:
        return None
    app = _object(data["app"], "app", ("name", "version"))
    name = app.get("name", APP_NAME)
    if name != APP_NAME:
        shown = repr(name) if isinstance(name, str) else _describe(name)
        _fail("app.name", f"this file was written by {shown}, not by QML Studio ({APP_NAME!r})")
    version = app.get("version")
    return None if version is None else _text(version, "app.version")


def _writer(data: Mapping[str, Any]) -> str:
    app = data.get("app")
    version = app.get("version") if isinstance(app, Mapping) else None
    return f"QML Studio {version}" if isinstance(version, str) else "a newer QML Studio"


def _readable_versions() -> str:
    return "format version 1" if CURRENT_SCHEMA == 1 else f"format versions 1 to {CURRENT_SCHEMA}"


def _upgrade(data: Mapping[str, Any]) -> dict[str, Any]:
    """Checks ``schema_version`` and applies the migrations up to :data:`CURRENT_SCHEMA`."""
    if "schema_version" not in data:
        if not set(data) & set(_FILE_FIELDS):
            raise ProjectError("this is not a QML Studio project: its JSON object has none of the project fields")
        _fail(
            "schema_version",
            "missing; a project file must say which format version it uses "
            f"(this QML Studio reads version {CURRENT_SCHEMA})",
        )
    version = data["schema_version"]
    if type(version) is not int:
        _fail("schema_version", f"expected a whole number such as {CURRENT_SCHEMA}, got {_describe(version)}")
    if version < 1:
        _fail("schema_version", f"{version} is not a format version (they start at 1)")
    if version > CURRENT_SCHEMA:
        _fail(
            "schema_version",
            f"this project uses format version {version} and was written by {_writer(data)}; "
            f"this QML Studio ({__version__}) reads {_readable_versions()}. "
            "Install a newer QML Studio to open it.",
        )
    if version == CURRENT_SCHEMA:
        return dict(data)
    upgraded: dict[str, Any] = copy.deepcopy(dict(data))
    for step in range(version, CURRENT_SCHEMA):
        migrate = MIGRATIONS.get(step)
        if migrate is None:
            _fail("schema_version", f"cannot upgrade format version {step} to {step + 1}: no migration is registered")
        try:
            upgraded = migrate(upgraded)
        except ProjectError:
            raise
        except Exception as exc:  # a migration meets whatever an old file holds
            _fail(None, f"cannot upgrade format version {step} to {step + 1}: {type(exc).__name__}: {exc}")
        if not isinstance(upgraded, dict):
            _fail(None, f"the migration from format version {step} returned {_describe(upgraded)}, not an object")
        upgraded["schema_version"] = step + 1
    return upgraded


# ================================================================== files on disk
# Magic numbers of files people open by mistake, to say what they are.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (or an Office document)"),
    (b"\x1f\x8b", "a gzip-compressed file"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x80\x02", "a Python pickle (QML Studio never loads pickles)"),
    (b"\x80\x03", "a Python pickle (QML Studio never loads pickles)"),
    (b"\x80\x04", "a Python pickle (QML Studio never loads pickles)"),
    (b"\x80\x05", "a Python pickle (QML Studio never loads pickles)"),
)


def load_project(path: str | os.PathLike[str]) -> Project:
    """Reads a ``.qmls`` file, upgrading an older format version.

    Raises :class:`ProjectError` (one, naming the file, the field path and the problem)
    for a file that cannot be read, is not a project, or is invalid in any way.
    """
    try:
        data = _read_json(path)
        project = Project.from_dict(data)
    except ProjectError as exc:
        raise exc.in_file(path) from None
    object.__setattr__(project, "path", Path(path))
    return project


def save_project(project: Project, path: str | os.PathLike[str] | None = None) -> Path:
    """Writes ``project`` as JSON to ``path`` (default: :attr:`Project.path`), atomically.

    ``modified`` is set to now, and on success the project remembers the path and is no
    longer dirty. On failure the file on disk is left as it was and a
    :class:`ProjectError` says why. Returns the path written.
    """
    if path is None:
        path = project.path
        if path is None:
            raise ProjectError("the project has never been saved; choose a file name")
    target = Path(path)
    modified = now_iso()
    try:
        data = project.to_dict()
        data["modified"] = modified
        text = json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    except (TypeError, ValueError, KeyError) as exc:  # something the engine put in a run
        raise ProjectError(f"the project holds a value JSON cannot store: {exc}", file=target, action="save") from None
    raw = text.encode("utf-8")
    if len(raw) > MAX_FILE_BYTES:
        raise ProjectError(
            f"the project would take {_megabytes(len(raw))}, more than the {_megabytes(MAX_FILE_BYTES)} "
            "a project file may hold; delete some old runs and save again",
            file=target,
            action="save",
        )
    try:
        atomic_write_bytes(target, raw)
    except OSError as exc:
        raise ProjectError(exc.strerror or str(exc), file=target, action="save") from None
    object.__setattr__(project, "modified", modified)
    object.__setattr__(project, "path", target)
    object.__setattr__(project, "written_by", __version__)
    project.mark_saved()
    return target


def dataset_file_problem(project: Project, project_file: str | os.PathLike[str] | None = None) -> str | None:
    """What is wrong with the data file a project's dataset options point to, or None.

    A relative ``path`` option is taken relative to the project file's folder. Returns a
    message when the file is missing or its SHA-256 differs from the ``sha256`` option
    saved with it (the CSV was edited since), and None when all is well or the dataset
    reads no file.
    """
    options = project.dataset.options
    location = options.get("path")
    if not isinstance(location, str) or not location:
        return None
    data_path = Path(location)
    base = project_file if project_file is not None else project.path
    if not data_path.is_absolute() and base is not None:
        data_path = Path(base).parent / data_path
    if data_path.is_dir():
        return None  # a folder of files (image data) has no single checksum
    try:
        digest = file_sha256(data_path)
    except OSError as exc:
        return f"cannot read the data file '{data_path}': {exc.strerror or exc}"
    expected = options.get("sha256")
    if isinstance(expected, str) and expected and expected.lower() != digest:
        return f"the data file '{data_path}' has changed since it was chosen for this project (its SHA-256 differs)"
    return None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.0f} MB"


def _read_json(path: str | os.PathLike[str]) -> Any:
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:
            _too_big(size)
        with open(path, "rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except IsADirectoryError:
        raise ProjectError("this is a folder, not a project file") from None
    except OSError as exc:
        raise ProjectError(exc.strerror or str(exc)) from None
    if len(raw) > MAX_FILE_BYTES:
        _too_big(len(raw))
    return _parse(raw)


def _too_big(size: int) -> None:
    raise ProjectError(
        f"the file is {_megabytes(size)}; project files over {_megabytes(MAX_FILE_BYTES)} are not opened "
        "(it is probably not a project)"
    )


def _parse(raw: bytes) -> Any:
    if not raw.strip():
        raise ProjectError("the file is empty")
    for signature, kind in _SIGNATURES:
        if raw.startswith(signature):
            raise ProjectError(f"this is not a QML Studio project: it looks like {kind}")
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ProjectError("the file is UTF-16 text; a project file must be UTF-8")
    if b"\x00" in raw[:8192]:
        raise ProjectError("this is not a QML Studio project: it is a binary file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ProjectError(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line {line} cannot be decoded); "
            "a project file is UTF-8 JSON"
        ) from None
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        if exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string"):
            raise ProjectError(
                f"the file ends in the middle of the JSON data (line {exc.lineno}, column {exc.colno}); "
                "it was probably cut short"
            ) from None
        if exc.pos == len(text) - len(text.lstrip()):
            raise ProjectError("this is not a QML Studio project: the file is not JSON") from None
        raise ProjectError(f"invalid JSON on line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:
        raise ProjectError("invalid JSON: lists or objects are nested too deeply") from None
    except ProjectError:
        raise
    except ValueError as exc:
        if "digits" in str(exc):  # Python refuses to convert integers of over 4300 digits
            raise ProjectError("invalid JSON: a number has too many digits") from None
        raise ProjectError(f"invalid JSON: {exc}") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ProjectError(f"invalid JSON: the field {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ProjectError(f"invalid JSON: {name} is not a JSON value (write null for a missing number)")
