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

The file format lives in four modules: this one (the :class:`Project`, the schema versions
and migrations, reading and writing files), :mod:`~qmlstudio.core.project_settings` (the
settings objects), :mod:`~qmlstudio.core.run_record` (:class:`RunRecord`) and
:mod:`~qmlstudio.core.project_fields` (the checked readers every field goes through).
Every public name is importable from here.

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
import errno
import hashlib
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from qmlstudio import __version__
from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import DesignError
from qmlstudio.core.events import EventGroup
from qmlstudio.core.project_fields import (
    MAX_SEED,
    ProjectError,
    _describe,
    _fail,
    _join,
    _list,
    _object,
    _require,
    _text,
    _timestamp,
    _tree_json,
    _whole,
)
from qmlstudio.core.project_settings import (
    DEFAULT_VALIDATION_SIZE,
    MODEL_KINDS,
    SCALINGS,
    ModelChoice,
    PluginChoice,
    Preprocessing,
    Training,
)
from qmlstudio.core.run_record import (
    METRIC_NAMES,
    RUN_STATUSES,
    RunRecord,
    new_run_id,
    now_iso,
)
from qmlstudio.core.storage import atomic_write_bytes

__all__ = [
    "APP_NAME",
    "CURRENT_SCHEMA",
    "DEFAULT_VALIDATION_SIZE",
    "FILE_SUFFIX",
    "MAX_FILE_BYTES",
    "MAX_SEED",
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
    "regular_file",
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


# ====================================================================== small helpers
def regular_file(path: str | os.PathLike[str]) -> os.stat_result:
    """``os.stat(path)`` (links followed) of a regular file; anything else raises :class:`OSError`.

    A folder raises ``IsADirectoryError``; a device, a FIFO, a socket or a path with a NUL byte
    raises ``OSError(EINVAL)`` saying so. Checked before a user's file is opened: reading
    ``/dev/zero`` never ends and opening a FIFO blocks until something writes to it.
    """
    try:
        info = os.stat(path)
    except ValueError as exc:  # "embedded null byte": no file can have such a name
        raise OSError(errno.EINVAL, "the path holds a NUL byte, which no file name can", repr(os.fspath(path))) from exc
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(errno.EISDIR, "this is a folder, not a file", os.fspath(path))
    if not stat.S_ISREG(info.st_mode):
        kind = "a FIFO (named pipe)" if stat.S_ISFIFO(info.st_mode) else (
            "a socket" if stat.S_ISSOCK(info.st_mode) else "a device")
        raise OSError(errno.EINVAL, f"this is {kind}, not a regular file", os.fspath(path))
    return info


def file_sha256(path: str | os.PathLike[str]) -> str:
    """The SHA-256 of a file's bytes as 64 hex digits (stored with CSV data to notice edits).

    Raises :class:`OSError` when the file cannot be read, or is not a regular file: a device
    (``/dev/zero`` never ends) or a FIFO (opening it waits for a writer) is refused before it
    is opened.
    """
    regular_file(path)
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
    # NumPy and scikit-learn take seeds up to 2**32 - 1 and fail deep in a run on larger ones
    "seed": lambda v, where: _whole(v, where, minimum=0, maximum=MAX_SEED),
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
        a VQC trained by Adam on QML Studio's statevector simulator, 30 epochs, seed 7, a
        quarter of the samples for the test and a fifth for validation), any of which can be
        given as keyword arguments."""
        settings.setdefault("preprocessing", Preprocessing(validation_size=DEFAULT_VALIDATION_SIZE))
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
        size = regular_file(path).st_size
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
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        if _SURROGATE_ESCAPE.search(text):  # only a \uD800-\uDFFF escape can make one
            _no_lone_surrogates(data)
        return data
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


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_lone_surrogates(data: Any) -> None:
    """Refuses a string holding half of a UTF-16 pair (a JSON escape like ``\\ud800`` alone): it
    is not text, and the project could be opened but never saved again."""
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ProjectError(
            f"a string in the file holds half of a UTF-16 pair (\\u{ord(exc.object[exc.start]):04x} without its other "
            "half): it is not text, and the project could not be saved again"
        ) from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ProjectError(f"invalid JSON: the field {key!r} appears twice in one object")
        result[key] = value
    return result


def _no_constant(name: str) -> Any:
    raise ProjectError(f"invalid JSON: {name} is not a JSON value (write null for a missing number)")
