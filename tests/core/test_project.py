"""The project file: round trips, one clear error per broken file, atomic saves, migrations."""

from __future__ import annotations

import copy
import errno
import hashlib
import json
import os
import pickle
import re
import stat
from dataclasses import replace
from pathlib import Path

import pytest

from qmlstudio import __version__
from qmlstudio.core import project as project_module
from qmlstudio.core import storage
from qmlstudio.core.circuit import CircuitDesign, Gate
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import (
    CURRENT_SCHEMA,
    MAX_SEED,
    DEFAULT_VALIDATION_SIZE,
    METRIC_NAMES,
    MIGRATIONS,
    ModelChoice,
    PluginChoice,
    Preprocessing,
    Project,
    ProjectError,
    RunRecord,
    Training,
    dataset_file_problem,
    file_sha256,
    load_project,
    save_project,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "project-format.md"


# ------------------------------------------------------------------- fixtures
def sample_circuit() -> CircuitDesign:
    return CircuitDesign(
        2,
        [
            Gate("ry", (0,), ("x[0]",), column=0, block="encoding"),
            Gate("ry", (1,), ("x[1]",), column=0, block="encoding"),
            Gate("ry", (0,), ("θ[0]",), column=1, block="real-amplitudes"),
            Gate("ry", (1,), ("θ[1]",), column=1, block="real-amplitudes"),
            Gate("cx", (0, 1), column=2, block="real-amplitudes"),
            Gate("rz", (1,), ("pi/2",), column=3),
            Gate("rzz", (0, 1), ("(pi - x[0])*(pi - x[1])",), column=4),
        ],
    )


def sample_run(run_id: str = "run-1", project: Project | None = None) -> RunRecord:
    config = (project or Project.new()).config_snapshot()
    run = RunRecord(id=run_id, started="2025-03-04T09:18:02Z", config=config)
    for i in range(3):
        run.append_metrics(
            iteration=i + 1,
            epoch=i + 1,
            loss=0.7 - 0.1 * i,
            test_loss=0.72 - 0.1 * i,
            train_accuracy=0.5 + 0.1 * i,
            test_accuracy=None if i == 1 else 0.5 + 0.05 * i,
            grad_norm=0.4 / (i + 1),
            elapsed_s=0.8 * (i + 1),
        )
    run.initial_weights = [0.1, -0.2]
    run.final_weights = [1.1, -0.7]
    run.baselines = {"logistic-regression": {"train_accuracy": 0.87, "test_accuracy": 0.86, "seconds": 0.004}}
    run.evaluations = [{"backend": "aer-noisy", "options": {"device": "fake_manila", "shots": 1024}, "accuracy": 0.8}]
    run.timings = {"seconds": 2.4, "seconds_per_epoch": 0.8}
    run.versions = {"qmlstudio": __version__, "qiskit": "2.1.0"}
    run.finish("completed", "30 epochs done")
    return run


def sample_project() -> Project:
    """A project with a value in every field, non-default where possible, non-ASCII text."""
    project = Project.new(
        "Moons — θ test",
        notes="Ünïcode notes\nsecond line",
        circuit=sample_circuit(),
        dataset=PluginChoice("csv", {"path": "data/moons.csv", "sha256": "0" * 64, "columns": [0, 1], "header": True}),
        preprocessing=Preprocessing(
            classes=(0, "b"), features=(1, 0), scaling="standardize", pca=2, test_size=0.3, stratify=False, padding=True
        ),
        encoding=PluginChoice("angle", {"rotation": "rx"}),
        ansatz=PluginChoice("real-amplitudes", {"reps": 1, "entanglement": "linear"}),
        model=ModelChoice("vqc", {"loss": "cross_entropy"}),
        optimizer=PluginChoice("spsa", {"learning_rate": 0.05, "perturbation": None}),
        backend=PluginChoice("aer-sampler", {"shots": 2048}),
        training=Training(epochs=12, batch_size=16, early_stopping=True, patience=3),
        seed=1234,
    )
    project.add_run(sample_run("run-1", project))
    failed = RunRecord(id="run-2", started="2025-03-04T10:00:00Z", config=project.config_snapshot())
    failed.finish("failed", "the loss diverged")
    project.add_run(failed)
    project.mark_saved()
    return project


def write(path: Path, data: dict) -> Path:
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def load_error(path: Path) -> ProjectError:
    with pytest.raises(ProjectError) as info:
        load_project(path)
    error = info.value
    assert isinstance(error, QMLStudioError)
    # One error for the user, with no chained traceback behind it.
    assert error.__cause__ is None and error.__suppress_context__
    assert str(path) in str(error)
    return error


# ------------------------------------------------------------------ defaults
def test_new_project_has_the_documented_defaults():
    project = Project.new("My project")
    assert project.name == "My project"
    assert project.dataset == PluginChoice("moons", {})
    assert project.encoding == PluginChoice("angle", {"rotation": "ry"})
    assert project.ansatz == PluginChoice("real-amplitudes", {"reps": 2})
    assert project.model == ModelChoice("vqc", {})
    assert project.optimizer == PluginChoice("adam", {"learning_rate": 0.1})
    assert project.backend == PluginChoice("statevector", {})
    assert project.training == Training(epochs=30, batch_size=None, early_stopping=False, patience=5)
    assert project.seed == 7
    assert project.circuit == CircuitDesign(2, [])
    assert project.runs == []
    assert project.modified == project.created
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", project.created)
    assert not project.dirty and project.path is None


def test_new_accepts_any_setting():
    project = Project.new("x", seed=3, ansatz=None, training=Training(epochs=2))
    assert project.seed == 3 and project.ansatz is None and project.training.epochs == 2


# ------------------------------------------------------------------ round trip
def test_save_then_load_gives_an_equal_project(tmp_path):
    project = sample_project()
    path = save_project(project, tmp_path / "demo.qmls")
    loaded = load_project(path)
    assert loaded == project
    assert loaded.to_dict() == project.to_dict()
    assert loaded.circuit.to_dict() == sample_circuit().to_dict()
    assert loaded.runs[0].metrics["test_accuracy"][1] is None
    assert loaded.path == tmp_path / "demo.qmls" and not loaded.dirty
    assert loaded.written_by == __version__


def test_from_dict_of_to_dict_is_identity():
    project = sample_project()
    data = project.to_dict()
    again = Project.from_dict(copy.deepcopy(data))
    assert again == project and again.to_dict() == data


def test_saved_file_is_readable_utf8_json(tmp_path):
    path = save_project(sample_project(), tmp_path / "demo.qmls")
    raw = path.read_bytes()
    text = raw.decode("utf-8")
    assert text.startswith('{\n  "schema_version": %d,\n  "app": {\n    "name": "qmlstudio",' % CURRENT_SCHEMA)
    assert text.endswith("}\n")
    assert "θ[0]" in text and "Ünïcode" in text  # not \u escapes
    data = json.loads(text)
    assert data["schema_version"] == CURRENT_SCHEMA
    assert data["app"] == {"name": "qmlstudio", "version": __version__}


def test_save_sets_modified_path_and_clears_dirty(tmp_path):
    project = sample_project()
    project.modified = "2000-01-01T00:00:00Z"
    assert project.dirty
    path = save_project(project, tmp_path / "a.qmls")
    assert not project.dirty and project.path == path
    assert project.modified != "2000-01-01T00:00:00Z"
    assert json.loads(path.read_text(encoding="utf-8"))["modified"] == project.modified
    project.notes = "changed"
    save_project(project)  # to the remembered path
    assert load_project(path).notes == "changed"


def test_save_without_a_path_asks_for_one():
    with pytest.raises(ProjectError, match="never been saved"):
        save_project(Project.new())


def test_save_never_uses_pickle(tmp_path, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("pickle must not be used")

    for name in ("dump", "dumps", "Pickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    path = save_project(sample_project(), tmp_path / "p.qmls")
    raw = path.read_bytes()
    assert raw[:1] == b"{" and not raw.startswith(b"\x80")
    json.loads(raw.decode("utf-8"))


def test_non_finite_metrics_and_weights_are_saved_as_null(tmp_path):
    project = Project.new()
    run = RunRecord(id="r")
    run.append_metrics(iteration=1, loss=float("nan"), grad_norm=float("inf"))
    run.final_weights = [0.5, float("nan")]
    project.add_run(run)
    path = save_project(project, tmp_path / "nan.qmls")

    def no_constants(name):
        raise AssertionError(f"{name} written to the file")

    data = json.loads(path.read_text(encoding="utf-8"), parse_constant=no_constants)
    assert data["runs"][0]["metrics"]["loss"] == [None]
    assert data["runs"][0]["metrics"]["grad_norm"] == [None]
    assert data["runs"][0]["final_weights"] == [0.5, None]
    assert load_project(path).runs[0].final_weights == [0.5, None]


# ----------------------------------------------------------------- atomic save
@pytest.mark.parametrize("failing", ["replace", "fsync"])
def test_failed_save_keeps_the_old_file_and_leaves_no_temp(tmp_path, monkeypatch, failing):
    path = tmp_path / "keep.qmls"
    project = sample_project()
    save_project(project, path)
    before = path.read_bytes()
    modified = project.modified
    project.notes = "a change that cannot be written"

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(storage.os, failing, broken)
    with pytest.raises(ProjectError) as info:
        save_project(project, path)
    monkeypatch.undo()
    message = str(info.value)
    assert f"cannot save project to '{path}'" in message and "No space left on device" in message
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.qmls"]
    assert project.dirty and project.modified == modified
    assert load_project(path).notes == sample_project().notes


def test_failure_after_part_of_the_file_was_written_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "keep.qmls"
    save_project(sample_project(), path)
    before = path.read_bytes()
    real_writer = storage.atomic_writer

    class HalfWritten:
        def __init__(self, file):
            self.file = file

        def write(self, data):
            self.file.write(data[: len(data) // 2])
            self.file.flush()
            raise OSError(errno.EIO, "Input/output error")

    from contextlib import contextmanager

    @contextmanager
    def failing_writer(target):
        with real_writer(target) as file:
            yield HalfWritten(file)

    monkeypatch.setattr(storage, "atomic_writer", failing_writer)
    with pytest.raises(ProjectError, match="Input/output error"):
        save_project(sample_project(), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.qmls"]


def test_value_json_cannot_store_fails_before_touching_the_file(tmp_path):
    path = tmp_path / "keep.qmls"
    project = sample_project()
    save_project(project, path)
    before = path.read_bytes()
    project.runs[0].config["oops"] = object()  # the engine put something odd in a run
    with pytest.raises(ProjectError, match="cannot save project to .*JSON cannot store"):
        save_project(project, path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["keep.qmls"]


def test_project_too_large_to_reopen_is_not_saved(tmp_path, monkeypatch):
    path = tmp_path / "keep.qmls"
    save_project(Project.new(), path)
    before = path.read_bytes()
    monkeypatch.setattr(project_module, "MAX_FILE_BYTES", 1000)
    with pytest.raises(ProjectError, match="delete some old runs"):
        save_project(sample_project(), path)
    assert path.read_bytes() == before


# ------------------------------------------------------------- broken files
def _set(path: str, value):
    """A mutation of the sample project's dict that sets the field at ``path``."""

    def mutate(data):
        target = data
        keys = re.findall(r"[^.\[\]]+", path)
        for key in keys[:-1]:
            target = target[int(key)] if isinstance(target, list) else target[key]
        last = keys[-1]
        if isinstance(target, list):
            target[int(last)] = value
        else:
            target[last] = value
        return data

    return mutate


def _delete(path: str):
    def mutate(data):
        target = data
        keys = path.split(".")
        for key in keys[:-1]:
            target = target[key]
        del target[keys[-1]]
        return data

    return mutate


def _three_runs(data):
    for i in (2, 3):
        run = copy.deepcopy(data["runs"][0])
        run["id"] = f"run-{i + 1}"
        data["runs"].append(run)
    data["runs"][2]["metrics"]["loss"] = "0.3"
    return data


def _unequal_metrics(data):
    data["runs"][0]["metrics"]["test_loss"].pop()
    return data


def _duplicate_run_id(data):
    data["runs"][1]["id"] = data["runs"][0]["id"]
    return data


def _newer_schema(data):
    data["schema_version"] = CURRENT_SCHEMA + 1
    data["app"]["version"] = "9.1.0"
    data["new_field_of_the_future"] = {"x": 1}
    return data


# Each case: an id, how to make the broken dict from a valid one, and what the message says.
BROKEN_FIELDS = [
    ("top-level-list", lambda d: [d], ["top level", "a list"]),
    ("top-level-number", lambda d: 3, ["top level", "the number 3"]),
    ("not-a-project-object", lambda d: {"width": 3, "height": 4}, ["not a QML Studio project"]),
    ("missing-schema", _delete("schema_version"), ["schema_version: missing", f"reads version {CURRENT_SCHEMA}"]),
    ("schema-as-text", _set("schema_version", "1"), ["schema_version: expected a whole number", 'text "1"']),
    ("schema-as-bool", _set("schema_version", True), ["schema_version: expected a whole number", "true"]),
    ("schema-zero", _set("schema_version", 0), ["schema_version: 0 is not a format version"]),
    ("schema-newer", _newer_schema, ["schema_version:", f"format version {CURRENT_SCHEMA + 1}", "QML Studio 9.1.0",
                                     f"reads format versions 1 to {CURRENT_SCHEMA}", "newer QML Studio"]),
    ("unknown-top-field", _set("colour", "red"), ["colour: unknown field"]),
    ("unknown-nested-field", _set("training.epoch", 3), ["training.epoch: unknown field", "epochs"]),
    ("missing-dataset-name", _delete("dataset.name"), ["dataset.name: missing"]),
    ("missing-model-kind", _delete("model.kind"), ["model.kind: missing"]),
    ("missing-run-id", lambda d: (d["runs"][0].pop("id"), d)[1], ["runs[0].id: missing"]),
    ("name-not-text", _set("name", 5), ["name: expected text", "the number 5"]),
    ("epochs-as-text", _set("training.epochs", "30"), ["training.epochs: expected a whole number", 'text "30"']),
    ("epochs-zero", _set("training.epochs", 0), ["training.epochs: must be at least 1"]),
    ("batch-float", _set("training.batch_size", 2.5), ["training.batch_size: expected a whole number"]),
    ("seed-negative", _set("seed", -1), ["seed: must be at least 0"]),
    ("seed-bool", _set("seed", False), ["seed: expected a whole number", "false"]),
    ("scaling-unknown", _set("preprocessing.scaling", "minmax"), ["preprocessing.scaling: expected one of", "'minmax-pi'"]),
    ("test-size-out-of-range", _set("preprocessing.test_size", 1.5), ["preprocessing.test_size: must lie strictly between 0 and 1"]),
    ("stratify-not-bool", _set("preprocessing.stratify", "yes"), ["preprocessing.stratify: expected true or false"]),
    ("features-negative", _set("preprocessing.features", [0, -1]), ["preprocessing.features[1]: must be at least 0"]),
    ("classes-repeated", _set("preprocessing.classes", [1, 1]), ["preprocessing.classes[1]: 1 is listed twice"]),
    ("pca-zero", _set("preprocessing.pca", 0), ["preprocessing.pca: must be at least 1"]),
    ("model-kind-unknown", _set("model.kind", "Support Vector!"), ["model.kind: expected one of 'vqc', 'regressor', 'kernel'"]),
    ("ansatz-as-text", _set("ansatz", "real-amplitudes"), ["ansatz: expected an object", 'text "real-amplitudes"']),
    ("encoding-name-empty", _set("encoding.name", " "), ["encoding.name: must not be empty"]),
    ("options-nested-object", _set("encoding.options.rotation", {"axis": "y"}), ["encoding.options.rotation:", "not objects"]),
    ("options-list-of-lists", _set("backend.options.coupling", [[0, 1]]), ["backend.options.coupling[0]:", "only text, numbers"]),
    ("options-not-object", _set("optimizer.options", [1]), ["optimizer.options: expected an object"]),
    ("created-not-iso", _set("created", "yesterday"), ["created: expected an ISO 8601 date", 'text "yesterday"']),
    ("app-name-other", _set("app.name", "othertool"), ["app.name: this file was written by 'othertool', not by QML Studio"]),
    ("runs-not-list", _set("runs", {"a": 1}), ["runs: expected a list", "an object"]),
    ("run-not-object", _set("runs.0", "run-1"), ["runs[0]: expected an object"]),
    ("run-metric-not-list", _three_runs, ["runs[2].metrics.loss: expected a list", 'text "0.3"']),
    ("run-metric-item", _set("runs.0.metrics.loss.1", "0,35"), ["runs[0].metrics.loss[1]: expected a number or null", 'text "0,35"']),
    ("run-metric-unknown", _set("runs.0.metrics.accuracy", [1, 2, 3]), ["runs[0].metrics.accuracy: unknown field"]),
    ("run-metrics-unequal", _unequal_metrics, ["runs[0].metrics.test_loss: has 2 entries but iteration has 3"]),
    ("run-status-unknown", _set("runs.0.status", "done"), ["runs[0].status: expected one of 'completed'"]),
    ("run-duplicate-id", _duplicate_run_id, ["runs[1].id:", "also the id of runs[0]", "unique"]),
    ("run-weight-text", _set("runs.0.final_weights.1", "x"), ["runs[0].final_weights[1]: expected a number or null"]),
    ("run-baseline-unknown", _set("runs.0.baselines.logistic-regression.f1", 0.5), ["runs[0].baselines.logistic-regression.f1: unknown field"]),
    ("run-evaluation-backend", lambda d: (d["runs"][0]["evaluations"][0].pop("backend"), d)[1], ["runs[0].evaluations[0].backend: missing"]),
    ("run-timings-text", _set("runs.0.timings.seconds", "2s"), ["runs[0].timings.seconds: expected a number or null"]),
    ("run-version-number", _set("runs.0.versions.qiskit", 2.1), ["runs[0].versions.qiskit: expected text"]),
    ("circuit-not-object", _set("circuit", [1, 2]), ["circuit: expected an object"]),
    ("circuit-qubits-text", _set("circuit.num_qubits", "2"), ["circuit.num_qubits: expected a whole number"]),
    ("circuit-unknown-gate", _set("circuit.gates.0.gate", "foo"), ["circuit.gates[0]: unknown gate 'foo'"]),
    ("circuit-qubit-range", _set("circuit.gates.0.qubits", [5]), ["circuit.gates[0]: ry: qubit 5 is out of range"]),
    ("circuit-code-in-angle", _set("circuit.gates.0.params", ["__import__('os').system('echo hi')"]), ["circuit.gates[0].params[0]:"]),
]


@pytest.mark.parametrize("mutate, expected", [c[1:] for c in BROKEN_FIELDS], ids=[c[0] for c in BROKEN_FIELDS])
def test_broken_field_gives_one_clear_error(tmp_path, mutate, expected):
    data = mutate(sample_project().to_dict())
    path = write(tmp_path / "broken.qmls", data)
    message = str(load_error(path))
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def _valid_text() -> str:
    return json.dumps(sample_project().to_dict(), ensure_ascii=False, indent=2)


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


BROKEN_BYTES = [
    ("empty", lambda: b"", ["the file is empty"]),
    ("only-whitespace", lambda: b"  \n\t\n", ["the file is empty"]),
    ("truncated", lambda: _valid_text().encode()[: len(_valid_text().encode()) // 2], ["ends in the middle", "cut short"]),
    ("truncated-in-string", lambda: b'{"schema_version": 1, "name": "Moo', ["ends in the middle", "line 1"]),
    ("invalid-json", lambda: b'{"schema_version": 1,\n "name": "x",,\n}', ["invalid JSON on line 2", "column"]),
    ("trailing-garbage", lambda: b'{"schema_version": 1}\n}', ["invalid JSON on line 2", "Extra data"]),
    ("plain-text", lambda: b"hello, this is a note\n", ["not a QML Studio project", "not JSON"]),
    ("not-utf8", lambda: '{"schema_version": 1, "name": "Müller"}'.encode("latin-1"), ["not UTF-8", "0xfc", "line 1"]),
    ("utf16", lambda: '{"schema_version": 1}'.encode("utf-16"), ["UTF-16"]),
    ("png", _png, ["not a QML Studio project", "PNG image"]),
    ("pickle", lambda: pickle.dumps({"schema_version": 1}), ["not a QML Studio project", "pickle"]),
    ("zip", lambda: b"PK\x03\x04\x14\x00\x00\x00", ["ZIP archive"]),
    ("binary", lambda: b"\x00\x01\x02\x03garbage", ["binary file"]),
    ("nan", lambda: b'{"schema_version": 1, "seed": NaN}', ["NaN is not a JSON value"]),
    ("duplicate-key", lambda: b'{"schema_version": 1, "seed": 1, "seed": 2}', ["'seed' appears twice"]),
    ("deeply-nested", lambda: b'{"schema_version": 1, "notes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", ["nested too deeply"]),
    ("huge-integer", lambda: b'{"schema_version": 1, "seed": ' + b"9" * 5000 + b"}", ["invalid JSON: a number has too many digits"]),
]


@pytest.mark.parametrize("make, expected", [c[1:] for c in BROKEN_BYTES], ids=[c[0] for c in BROKEN_BYTES])
def test_broken_file_gives_one_clear_error(tmp_path, make, expected):
    path = tmp_path / "broken.qmls"
    path.write_bytes(make())
    message = str(load_error(path))
    for fragment in expected:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def test_file_over_200_mb_is_refused_without_reading_it(tmp_path, monkeypatch):
    path = tmp_path / "huge.qmls"
    with open(path, "wb") as file:  # sparse: costs no disk space
        file.truncate(200 * 1024 * 1024 + 1)
    real_open = open

    def no_reading(*args, **kwargs):
        raise AssertionError("a file over the limit must not be read")

    monkeypatch.setattr("builtins.open", no_reading)
    try:
        message = str(load_error(path))
    finally:
        monkeypatch.setattr("builtins.open", real_open)
    assert "201 MB" in message or "200 MB" in message
    assert "over 200 MB" in message


def test_file_that_grows_past_the_limit_while_read_is_refused(tmp_path, monkeypatch):
    path = write(tmp_path / "p.qmls", sample_project().to_dict())
    monkeypatch.setattr(project_module, "MAX_FILE_BYTES", 100)
    real_stat = os.stat

    def stat_says_empty(target, *args, **kwargs):  # the file grows after it was measured
        if str(target) == str(path):
            return os.stat_result((stat.S_IFREG | 0o644,) + (0,) * 9)  # a regular file of size 0
        return real_stat(target, *args, **kwargs)

    monkeypatch.setattr(project_module.os, "stat", stat_says_empty)
    assert "not opened" in str(load_error(path))


def test_missing_file_and_folder(tmp_path):
    assert "No such file" in str(load_error(tmp_path / "absent.qmls"))
    (tmp_path / "folder.qmls").mkdir()
    assert "folder, not a project file" in str(load_error(tmp_path / "folder.qmls"))


# ---------------------------------------------------- liberal in what is absent
def test_minimal_hand_written_file_loads_with_defaults(tmp_path):
    path = tmp_path / "min.qmls"
    path.write_text('{"schema_version": 1}', encoding="utf-8")
    project = load_project(path)
    defaults = Project.new()
    for name in ("name", "notes", "dataset", "encoding", "ansatz", "circuit", "model",
                 "optimizer", "backend", "training", "seed", "runs"):
        assert getattr(project, name) == getattr(defaults, name), name
    # a file that says nothing of a validation split has none (File ▸ New holds a fifth out)
    assert project.preprocessing == Preprocessing() and project.preprocessing.validation_size == 0
    assert defaults.preprocessing == Preprocessing(validation_size=DEFAULT_VALIDATION_SIZE)
    assert project.written_by is None


def test_hand_edited_file_with_optional_fields_left_out_loads(tmp_path):
    text = """\ufeff{
      "schema_version": 1,
      "name": "by hand",
      "ansatz": null,
      "dataset": {"name": "iris"},
      "preprocessing": {"scaling": "minmax-sym", "classes": ["setosa", "virginica"]},
      "training": {"epochs": 5},
      "circuit": {"num_qubits": 1, "gates": [{"gate": "rx", "qubits": [0], "params": ["θ[0] + pi/4"]}]},
      "runs": [
        {"id": "a", "started": "2025-01-01T10:00:00+01:00", "status": "running",
         "metrics": {"iteration": [1, 2], "loss": [0.5, 0.4]}}
      ]
    }\r\n"""
    path = tmp_path / "hand.qmls"
    path.write_bytes(text.encode("utf-8"))
    project = load_project(path)
    assert project.ansatz is None
    assert project.dataset == PluginChoice("iris")
    assert project.preprocessing.classes == ("setosa", "virginica")
    assert project.preprocessing.test_size == 0.25
    assert project.training == Training(epochs=5)
    assert project.circuit.num_weights == 1
    run = project.runs[0]
    assert run.metrics["loss"] == [0.5, 0.4]
    assert run.metrics["test_accuracy"] == [None, None]
    assert set(run.metrics) == set(METRIC_NAMES)
    assert run.timings == {"seconds": None, "seconds_per_epoch": None}
    assert run.finished is None and run.final_weights == []


def test_documented_example_is_exactly_what_qmlstudio_writes():
    text = DOCS.read_text(encoding="utf-8")
    example = re.search(r"## Example\s+```json\n(.*?)\n```", text, re.S).group(1)
    data = json.loads(example)
    project = Project.from_dict(copy.deepcopy(data))
    written = project.to_dict()
    written["app"] = data["app"]  # the version that wrote the example
    assert written == data
    assert project.circuit.num_weights == len(project.runs[0].final_weights)


# ----------------------------------------------------------------- migrations
def _old_file(tmp_path: Path, version: int, **fields) -> Path:
    data = Project.new("old").to_dict()
    data.update(fields)
    data["schema_version"] = version
    return write(tmp_path / f"v{version}.qmls", data)


def test_migration_upgrades_an_older_file(tmp_path, monkeypatch):
    calls = []

    def rename_title(data):
        # Pretend version 1 called the project name "title".
        calls.append(data["schema_version"])
        data["name"] = data.pop("title")
        return data

    path = _old_file(tmp_path, 1, title="From version one")
    data = json.loads(path.read_text(encoding="utf-8"))
    del data["name"]
    write(path, data)
    monkeypatch.setattr(project_module, "CURRENT_SCHEMA", 2)
    monkeypatch.setitem(MIGRATIONS, 1, rename_title)
    project = load_project(path)
    assert project.name == "From version one"
    assert calls == [1]
    assert json.loads(path.read_text(encoding="utf-8"))["schema_version"] == 1  # untouched until saved
    save_project(project, path)
    assert json.loads(path.read_text(encoding="utf-8"))["schema_version"] == 2
    calls.clear()
    assert load_project(path) == project
    assert calls == []  # a current file is not migrated


def test_migrations_chain_in_order(tmp_path, monkeypatch):
    monkeypatch.setattr(project_module, "CURRENT_SCHEMA", 3)

    def step(n):
        def migrate(data):
            assert data["schema_version"] == n
            data["notes"] = data["notes"] + f"[{n}→{n + 1}]"
            return data

        return migrate

    monkeypatch.setitem(MIGRATIONS, 1, step(1))
    monkeypatch.setitem(MIGRATIONS, 2, step(2))
    assert load_project(_old_file(tmp_path, 1, notes="")).notes == "[1→2][2→3]"
    assert load_project(_old_file(tmp_path, 2, notes="")).notes == "[2→3]"


def test_migration_does_not_change_the_callers_dict(monkeypatch):
    monkeypatch.setattr(project_module, "CURRENT_SCHEMA", 2)
    monkeypatch.setitem(MIGRATIONS, 1, lambda d: {**d, "notes": "new"} if d.update(name="changed") is None else d)
    data = {"schema_version": 1, "name": "kept", "notes": "old"}
    project = Project.from_dict(data)
    assert project.notes == "new"
    assert data == {"schema_version": 1, "name": "kept", "notes": "old"}


def test_missing_migration_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(project_module, "CURRENT_SCHEMA", 2)
    monkeypatch.delitem(MIGRATIONS, 1, raising=False)
    message = str(load_error(_old_file(tmp_path, 1)))
    assert "schema_version: cannot upgrade format version 1 to 2" in message


def test_failing_migration_becomes_a_project_error(tmp_path, monkeypatch):
    monkeypatch.setattr(project_module, "CURRENT_SCHEMA", 2)
    monkeypatch.setitem(MIGRATIONS, 1, lambda data: data["no such field"])
    message = str(load_error(_old_file(tmp_path, 1)))
    assert "cannot upgrade format version 1 to 2" in message and "KeyError" in message


def test_file_of_newer_version_names_both_versions(tmp_path):
    path = _old_file(tmp_path, CURRENT_SCHEMA + 1)
    message = str(load_error(path))
    assert f"format version {CURRENT_SCHEMA + 1}" in message
    assert f"QML Studio {__version__}" in message
    assert f"reads format versions 1 to {CURRENT_SCHEMA}" in message


def test_no_migrations_are_registered_for_the_current_version():
    assert all(version < CURRENT_SCHEMA for version in MIGRATIONS)
    assert all(version in MIGRATIONS for version in range(1, CURRENT_SCHEMA))


# ------------------------------------------------------------ options checks
@pytest.mark.parametrize(
    "options, fragment",
    [
        ({"a": {"b": 1}}, "options.a: options hold text"),
        ({"a": [[1]]}, "options.a[0]: a list in the options"),
        ({"a": float("nan")}, "options.a: expected a finite number"),
        ({"a": object()}, "options.a: expected text, a number"),
        ({1: "x"}, "options: field names must be text"),
        ([("a", 1)], "options: expected an object"),
    ],
)
def test_plugin_options_must_be_flat_json(options, fragment):
    with pytest.raises(ProjectError) as info:
        PluginChoice("angle", options)
    assert fragment in str(info.value)


def test_options_are_normalised_to_plain_json():
    np = pytest.importorskip("numpy")
    choice = PluginChoice("x", {"reps": np.int64(2), "lr": np.float32(0.5), "qubits": (0, 1), "flag": True, "none": None})
    assert choice.options == {"reps": 2, "lr": 0.5, "qubits": [0, 1], "flag": True, "none": None}
    assert type(choice.options["reps"]) is int and type(choice.options["lr"]) is float
    json.dumps(choice.to_dict(), allow_nan=False)


# ----------------------------------------------------------- events and dirty
def test_assigning_a_field_validates_marks_dirty_and_announces():
    project = Project.new()
    seen = []
    project.events.changed.connect(lambda project, what: seen.append(what))
    project.training = replace(project.training, epochs=50)
    assert project.dirty and seen == ["training"]
    project.mark_saved()
    assert not project.dirty and seen == ["training", "saved"]
    with pytest.raises(ProjectError, match="seed: expected a whole number"):
        project.seed = "7"
    assert project.seed == 7 and not project.dirty
    with pytest.raises(ProjectError, match="training: expected a Training"):
        project.training = {"epochs": 3}


def test_settings_objects_are_frozen():
    project = Project.new()
    with pytest.raises(AttributeError):
        project.training.epochs = 3  # type: ignore[misc]


def test_circuit_edits_mark_the_project_dirty():
    project = Project.new()
    seen = []
    project.events.changed.connect(lambda project, what: seen.append(what))
    old = project.circuit
    old.add_gate(Gate("h", (0,)))
    assert project.dirty and seen == ["circuit"]
    project.circuit = CircuitDesign(3)
    project.mark_saved()
    seen.clear()
    old.add_gate(Gate("h", (1,)))  # no longer the project's circuit
    assert not project.dirty and seen == []
    project.circuit.add_gate(Gate("x", (2,)))
    assert project.dirty and seen == ["circuit"]


def test_runs_are_added_updated_and_removed_with_events():
    project = Project.new()
    seen = []
    project.events.runs_changed.connect(lambda project, run_id, what: seen.append((run_id, what)))
    run = RunRecord(id="r1")
    project.add_run(run)
    run.append_metrics(iteration=1, loss=0.3)
    project.run_updated(run)
    assert project.find_run("r1") is run and project.dirty
    with pytest.raises(ProjectError, match="run ids must be unique"):
        project.add_run(RunRecord(id="r1"))
    assert project.remove_run("r1") is run
    assert project.runs == []
    assert seen == [("r1", "added"), ("r1", "updated"), ("r1", "removed")]
    with pytest.raises(KeyError):
        project.find_run("r1")


def test_loaded_project_is_clean(tmp_path):
    path = save_project(sample_project(), tmp_path / "c.qmls")
    assert not load_project(path).dirty


# ------------------------------------------------------------------ run records
def test_append_metrics_keeps_lists_equal():
    run = RunRecord()
    run.append_metrics(iteration=1, loss=0.5)
    run.append_metrics(iteration=2, test_accuracy=0.75)
    assert run.num_points == 2
    assert {len(v) for v in run.metrics.values()} == {2}
    assert run.metrics["loss"] == [0.5, None]
    with pytest.raises(TypeError, match="unknown metric"):
        run.append_metrics(accuracy=1.0)


def test_finish_sets_status_and_time():
    run = RunRecord()
    assert run.status == "running" and run.finished is None
    run.finish("stopped", "stopped by the user")
    assert run.status == "stopped" and run.message == "stopped by the user" and run.finished
    with pytest.raises(ProjectError):
        run.finish("paused")


def test_run_ids_are_unique_enough():
    assert len({RunRecord().id for _ in range(200)}) == 200


# -------------------------------------------------------------- dataset files
def test_file_sha256_matches_hashlib(tmp_path):
    path = tmp_path / "d.csv"
    path.write_bytes(b"a,b\n1,2\n" * 100_000)
    assert file_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_changed_or_missing_csv_is_detected(tmp_path):
    (tmp_path / "data").mkdir()
    csv = tmp_path / "data" / "iris.csv"
    csv.write_text("a,b,label\n1,2,0\n")
    project = Project.new(dataset=PluginChoice("csv", {"path": "data/iris.csv", "sha256": file_sha256(csv)}))
    project_file = save_project(project, tmp_path / "p.qmls")
    loaded = load_project(project_file)
    assert dataset_file_problem(loaded) is None  # relative to the project file
    csv.write_text("a,b,label\n1,2,1\n")
    assert "has changed" in dataset_file_problem(loaded)
    csv.unlink()
    assert "cannot read the data file" in dataset_file_problem(loaded)
    assert dataset_file_problem(Project.new()) is None  # moons reads no file


# -------------------------------------------------------------------- the docs
FREE_FORM = {"options", "config", "versions", "baselines"}


def _keys(value, found: set[str]) -> set[str]:
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            if key not in FREE_FORM:
                _keys(item, found)
    elif isinstance(value, list):
        for item in value:
            _keys(item, found)
    return found


def test_docs_mention_every_field_the_file_holds():
    documented = set(re.findall(r"`([^`\n]+)`", DOCS.read_text(encoding="utf-8")))
    project = sample_project()
    keys = _keys(project.to_dict(), set()) | _keys(sample_run().to_dict(), set())
    keys |= {"train_accuracy", "test_accuracy", "seconds"}  # inside baselines
    assert {"schema_version", "final_weights", "grad_norm", "block", "padding"} <= keys  # the walk works
    missing = sorted(keys - documented)
    assert not missing, f"docs/project-format.md does not document {missing}"


def test_a_version_1_file_opens_without_a_validation_split(tmp_path):
    """Version 1 had no validation split: it keeps none, so its splits and runs reproduce."""
    data = Project.new("old").to_dict()
    data["schema_version"] = 1
    del data["preprocessing"]["validation_size"]
    data["preprocessing"]["test_size"] = 0.3
    data["training"]["early_stopping"] = True
    path = write(tmp_path / "v1.qmls", data)
    project = load_project(path)
    assert project.preprocessing.validation_size == 0.0 and project.preprocessing.test_size == 0.3
    save_project(project, path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["schema_version"] == CURRENT_SCHEMA == 3
    assert saved["preprocessing"]["validation_size"] == 0.0
    assert MIGRATIONS[1]({"schema_version": 1}) == {"schema_version": 1, "preprocessing": {"validation_size": 0.0}}


@pytest.mark.parametrize("test_size,validation_size,message", [
    (0.25, -0.1, "validation_size: must be at least 0"),
    (0.5, 0.5, "leave no training data"),
    (0.25, 1.0, "validation_size: must be at least 0 and less than 1"),
])
def test_split_fractions_are_checked(test_size, validation_size, message):
    with pytest.raises(ProjectError, match=message):
        Preprocessing(test_size=test_size, validation_size=validation_size)


def test_a_version_2_file_naming_aer_statevector_for_the_engine_loads_as_version_3(tmp_path):
    """Schema 3: the engine's exact simulator is 'statevector'; a v2 'aer-statevector' that the
    engine ran migrates (project, run configs, evaluations), a parameter-shift one stays Aer."""
    from qmlstudio.core.project import CURRENT_SCHEMA, load_project, save_project

    assert CURRENT_SCHEMA == 3
    text = re.search(r"## Example\s+```json\n(.*?)\n```", DOCS.read_text(encoding="utf-8"), re.S).group(1)
    data = json.loads(text)
    data["schema_version"] = 2
    aer = {"name": "aer-statevector", "options": {"precision": "single", "device": "CPU", "sampler_shots": 1024,
                                                  "seed": None, "threads": 2}}
    data["backend"] = copy.deepcopy(aer)
    run = data["runs"][0]
    run["config"]["backend"] = copy.deepcopy(aer)
    run["evaluations"] = [{"backend": "aer-statevector", "options": copy.deepcopy(aer["options"]), "accuracy": 0.9}]
    shifted = copy.deepcopy(run)
    shifted["id"] = "20250304-091802-3fa2c1d1"
    shifted["config"]["model"] = {"kind": "vqc", "options": {"gradient": "parameter-shift"}}
    shifted["evaluations"] = []
    shifted["backend_applied"] = {"evaluator": "backend sampler (parameter-shift gradients)"}
    data["runs"].append(shifted)
    path = tmp_path / "old.qmls"
    path.write_text(json.dumps(data), encoding="utf-8")
    project = load_project(path)
    engine = PluginChoice("statevector", {"threads": 2})
    assert project.backend == engine
    assert project.runs[0].config["backend"] == engine.to_dict()
    assert project.runs[0].evaluations[0]["backend"] == "statevector"
    assert project.runs[0].evaluations[0]["options"] == {"threads": 2}
    assert project.runs[1].config["backend"] == aer  # parameter shift ran Aer's sampler: still Aer
    save_project(project, path)
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert saved["schema_version"] == 3 and saved["backend"] == engine.to_dict()
    assert load_project(path).runs[1].config["backend"]["name"] == "aer-statevector"


def test_a_seed_numpy_cannot_take_is_refused_on_load(tmp_path):
    """NumPy and scikit-learn take seeds up to 2**32 - 1; a larger one used to load and fail deep in a run."""
    path = tmp_path / "seed.qmls"
    path.write_text(f'{{"schema_version": 3, "seed": {MAX_SEED}}}', encoding="utf-8")
    assert load_project(path).seed == MAX_SEED == 2**32 - 1
    path.write_text(f'{{"schema_version": 3, "seed": {2**32}}}', encoding="utf-8")
    assert "seed: must be at most 4,294,967,295, got 4,294,967,296" in str(load_error(path))


def test_a_path_with_a_nul_byte_is_refused_with_a_message(tmp_path):
    """No file name can hold a NUL byte; os.stat raises ValueError on one, which used to escape as a traceback."""
    assert "NUL byte" in str(load_error(tmp_path / "bad\x00name.qmls"))


def test_half_a_utf16_pair_in_a_string_is_refused_on_load(tmp_path):
    """A JSON escape like \\ud800 alone decodes to a string UTF-8 cannot hold: the project would open and
    then fail to save, losing the user's work. It is refused when the file is opened, saying where."""
    path = tmp_path / "half.qmls"
    path.write_text('{"schema_version": 3, "notes": "before \\ud800 after"}', encoding="utf-8")
    assert "half of a UTF-16 pair (\\ud800 without its other half)" in str(load_error(path))
    path.write_text('{"schema_version": 3, "notes": "a pair: \\ud83d\\ude00"}', encoding="utf-8")
    assert load_project(path).notes == "a pair: \U0001F600"
