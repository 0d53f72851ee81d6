"""The record of one training run in a project file: :class:`RunRecord` and its metrics.

A run's configuration, its metrics per iteration (:data:`METRIC_NAMES`), final weights,
baselines, evaluations and timings, read back from JSON with the checked readers of
:mod:`qmlstudio.core.project_fields`. Split from :mod:`qmlstudio.core.project`, which
re-exports every public name.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from typing import Any, Mapping

from qmlstudio.core.project_fields import (
    _built,
    _fail,
    _join,
    _list,
    _measure,
    _measure_json,
    _name,
    _object,
    _one_of,
    _options,
    _require,
    _text,
    _timestamp,
    _tree,
    _tree_json,
    _whole,
)

__all__ = [
    "BASELINE_FIELDS",
    "MEASURED_AT",
    "METRIC_NAMES",
    "RUN_STATUSES",
    "RunRecord",
    "TEST_FIELDS",
    "TIMING_FIELDS",
    "new_run_id",
    "now_iso",
]


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
    "grad_norm_classical",
    "grad_norm_quantum",
)
#: metrics only some models measure (a hybrid network's gradient norms of its classical and
#: quantum parameters): written to a file only when a run has a value of them
OPTIONAL_METRICS = ("grad_norm_classical", "grad_norm_quantum")


#: The numbers of a baseline's record; ``tuned`` (what was searched and chosen) and
#: ``untuned_test_accuracy`` are checked apart (see :func:`_baselines`).
BASELINE_FIELDS = ("train_accuracy", "test_accuracy", "seconds", "parameters", "untuned_test_accuracy")


_OPTIONAL_BASELINE_FIELDS = ("parameters", "untuned_test_accuracy")


#: Where the figures of each metrics row were measured (``RunRecord.measured_at``).
MEASURED_AT = ("before_step", "after_step", "around_before_step", "final_weights", "unknown")


TIMING_FIELDS = ("seconds", "seconds_per_epoch")


TEST_FIELDS = ("loss", "accuracy")


def now_iso() -> str:
    """The current time as an ISO 8601 UTC string, to the second: ``2025-01-31T12:00:00Z``."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def new_run_id() -> str:
    """A readable, practically unique run id: ``20250131-120000-3fa2c1d0``."""
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


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
            "metrics": {name: [_measure_json(v) for v in self.metrics.get(name, [])] for name in METRIC_NAMES
                        if name not in OPTIONAL_METRICS or any(v is not None for v in self.metrics.get(name, []))},
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
    _object(value, where, ("backend", "options", "accuracy", "seeds", "backend_applied", "loss", "metrics", "cost"))
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
    if "loss" in value:
        checked["loss"] = _measure(value["loss"], _join(where, "loss"))
    for key in ("metrics", "cost"):  # raw and mitigated figures with intervals; circuits and shots
        if key in value:
            path = _join(where, key)
            checked[key] = _tree(_object(value[key], path), path)
    return checked


def _evaluation_json(e: Mapping[str, Any]) -> dict[str, Any]:
    written = {"backend": e["backend"], "options": _tree_json(e["options"]), "accuracy": _measure_json(e["accuracy"])}
    if "seeds" in e:
        written["seeds"] = {k: (list(v) if isinstance(v, list) else v) for k, v in e["seeds"].items()}
    if "backend_applied" in e:
        written["backend_applied"] = _tree_json(e["backend_applied"])
    if "loss" in e:
        written["loss"] = _measure_json(e["loss"])
    for key in ("metrics", "cost"):
        if key in e:
            written[key] = _tree_json(e[key])
    return written
