"""`qmlstudio train`: JSON progress, reproducible runs saved into the project, a clean stop on
Ctrl-C, and one line on stderr (exit 1, no traceback) for bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qmlstudio.cli import main
from qmlstudio.core.project import load_project

ITERATION_KEYS = {"iteration", "epoch", "loss", "train_accuracy", "test_accuracy", "grad_norm", "elapsed_s",
                  "val_loss", "val_accuracy", "measured_at"}
NEW = ["--dataset", "moons", "--encoding", "angle", "--ansatz", "real-amplitudes", "--reps", "2",
       "--optimizer", "adam", "--seed", "7"]


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def json_lines(text: str) -> tuple[list[dict], dict]:
    rows = [json.loads(line) for line in text.splitlines() if line.strip()]
    assert rows and rows[-1].get("event") == "done"
    # the other events ("plan", "autosave") are not iterations
    return [row for row in rows[:-1] if "event" not in row], rows[-1]


def subprocess_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD", None)
    return env


@pytest.fixture
def project_file(tmp_path, capsys) -> Path:
    path = tmp_path / "p.qmls"
    code, _, err = cli(capsys, "new", str(path), *NEW)
    assert code == 0, err
    return path


def test_train_prints_json_saves_the_run_and_repeats_exactly(project_file, capsys):
    code, out, err = cli(capsys, "train", str(project_file), "--epochs", "30", "--json")
    assert code == 0, err
    iterations, done = json_lines(out)
    assert done["status"] == "completed"
    assert done["test_accuracy"] >= 0.8
    assert set(done["baselines"]) == {"logistic regression", "MLP", "RBF SVM", "MLP (parameter-matched)"}
    # the quantum model's 6 weights beside the parameter-matched MLP's 5 (one hidden unit)
    assert done["parameters"] == 6 and done["baselines"]["MLP (parameter-matched)"]["parameters"] == 5
    assert all(b["tuned"]["chosen"] and b["untuned_test_accuracy"] is not None
               for name, b in done["baselines"].items() if name != "MLP (parameter-matched)")
    # 200 samples: 50 test, 40 validation (the default 0.2 of `new`), 110 training in batches of 32
    assert len(iterations) == 30 * 4
    for number, row in enumerate(iterations, start=1):
        assert ITERATION_KEYS <= set(row)
        assert row["iteration"] == number
        assert row["measured_at"] == {"loss": "before_step", "grad_norm": "before_step",
                                      "train_accuracy": "after_step", "val_loss": "after_step",
                                      "val_accuracy": "after_step", "test_loss": "final_weights",
                                      "test_accuracy": "final_weights"}
        assert row["test_accuracy"] is None  # test: once, at the end
        # evaluated once per epoch by default (4 batches an epoch); the loss every iteration
        assert (row["val_accuracy"] is not None) == (number % 4 == 0) and row["loss"] is not None
    assert iterations[-1]["epoch"] == 30
    losses = [row["loss"] for row in iterations]

    project = load_project(project_file)
    assert len(project.runs) == 1
    run = project.runs[0]
    assert run.id == done["run_id"] and run.status == "completed"
    assert run.metrics["loss"] == losses
    assert run.config["optimizer"]["name"] == "adam"

    # the same project in a fresh process: the same losses, and a second run in the file
    again = subprocess.run(
        [sys.executable, "-m", "qmlstudio", "train", str(project_file), "--epochs", "30", "--json"],
        capture_output=True, text=True, timeout=120, env=subprocess_env(),
    )
    assert again.returncode == 0, again.stderr
    repeated, done_again = json_lines(again.stdout)
    assert [row["loss"] for row in repeated] == losses
    assert done_again["run_id"] != done["run_id"]
    assert [r.id for r in load_project(project_file).runs] == [done["run_id"], done_again["run_id"]]


def test_an_exact_run_prints_its_plan_and_warns_before_a_long_one(project_file, capsys, monkeypatch):
    import re

    from qmlstudio.workflow import cost as project_setup

    args = ("train", str(project_file), "--epochs", "1", "--backend", "statevector,threads=1", "--no-save")
    code, _, err = cli(capsys, *args)
    assert code == 0, err
    line = next(line for line in err.splitlines() if "plan:" in line)
    assert re.search(r"plan: exact simulation, 2 qubits on 1 thread: states take [\d.]+ (bytes|KiB|MiB)", line), line
    assert re.search(r"expected [\d.e-]+ s per training step", line) and "4 iterations (evaluated once per epoch: 1)" in line, line  # 110 training rows in batches of 32
    assert "warning" not in err
    monkeypatch.setattr(project_setup, "LONG_RUN_SECONDS", 0.0)
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    assert re.search(r"warning: a long run, about [\d.e-]+ s per iteration", err), err
    iterations, _ = json_lines(out)  # stdout keeps one JSON object per iteration
    assert [row["iteration"] for row in iterations] == [1, 2, 3, 4]


def test_ctrl_c_stops_the_run_and_keeps_it(project_file):
    process = subprocess.Popen(
        [sys.executable, "-m", "qmlstudio", "train", str(project_file), "--epochs", "2000", "--json"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env(),
    )
    try:
        printed = [process.stdout.readline() for _ in range(5)]  # training is under way
        assert all(json.loads(line)["iteration"] for line in printed)
        process.send_signal(signal.SIGINT)
        started = time.monotonic()
        # read through the text buffers that readline filled (communicate() would skip them)
        out, err = process.stdout.read(), process.stderr.read()
        process.wait(timeout=30)
        assert time.monotonic() - started < 10
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, err
    assert "Traceback" not in err
    iterations, done = json_lines("".join(printed) + out)
    assert done["status"] == "stopped" and "stopped by the user" in done["message"]
    assert 5 <= len(iterations) < 2000 * 5
    run = load_project(project_file).runs[-1]
    assert run.status == "stopped" and run.id == done["run_id"]
    assert run.metrics["iteration"] == [row["iteration"] for row in iterations]
    assert len(run.final_weights) == 6 and all(w is not None for w in run.final_weights)


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("qmlstudio: error: ")
    return lines[0]


def test_a_missing_project_is_one_line_on_stderr(tmp_path, capsys):
    code, out, err = cli(capsys, "train", str(tmp_path / "nowhere.qmls"), "--json")
    assert code == 1 and out == ""
    assert "nowhere.qmls" in one_error_line(err)


def test_a_corrupt_project_is_one_line_on_stderr_and_left_alone(tmp_path, capsys):
    path = tmp_path / "broken.qmls"
    path.write_text('{"schema_version": 1, "name": ')
    code, out, err = cli(capsys, "train", str(path))
    assert code == 1 and out == ""
    assert "broken.qmls" in one_error_line(err)
    assert path.read_text() == '{"schema_version": 1, "name": '


def test_an_unknown_optimizer_in_the_file_is_one_line_on_stderr(project_file, capsys):
    data = json.loads(project_file.read_text())
    data["optimizer"]["name"] = "gradient-ascent"
    text = json.dumps(data)
    project_file.write_text(text)
    code, out, err = cli(capsys, "train", str(project_file), "--epochs", "2")
    assert code == 1 and out == ""
    assert "gradient-ascent" in one_error_line(err)
    assert project_file.read_text() == text  # nothing written


def test_bad_input_through_the_console_script_has_no_traceback(tmp_path):
    path = tmp_path / "broken.qmls"
    path.write_text("not json at all")
    result = subprocess.run(
        [sys.executable, "-m", "qmlstudio", "train", str(path)],
        capture_output=True, text=True, timeout=60, env=subprocess_env(),
    )
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    one_error_line(result.stderr)


def test_a_model_too_big_to_simulate_is_one_line_with_the_numbers_and_the_fixes(tmp_path, capsys):
    path = tmp_path / "digits.qmls"
    code, _, err = cli(capsys, "new", str(path), "--dataset", "digits", "--encoding", "angle")
    assert code == 0 and err.startswith("qmlstudio: warning: 'train' will refuse it: 64 qubits need 2^64")
    code, out, err = cli(capsys, "train", str(path), "--epochs", "1")
    assert code == 1 and out == ""
    assert err.startswith("qmlstudio: error: 64 qubits need 2^64 = 18,446,744,073,709,551,616 amplitudes per sample")
    assert "available" in err and "--features 8" in err and "--encoding amplitude" in err
    assert len(err.strip().splitlines()) == 1
    assert load_project(path).runs == []


def test_an_encoding_wider_than_the_circuit_widens_it_with_a_note(tmp_path, capsys):
    from qmlstudio.core.project import save_project
    from qmlstudio.plugins.manager import load_plugins

    path = tmp_path / "iris.qmls"
    assert cli(capsys, "new", str(path), "--dataset", "iris", "--epochs", "1")[0] == 0
    project = load_project(path)
    registry = load_plugins()
    built = registry.get("ansatze", project.ansatz.name).create(project.ansatz.options).build(3)
    project.circuit.set_gates(built.gates, 3)
    save_project(project)
    code, _, err = cli(capsys, "train", str(path))
    assert code == 0, err
    assert ("qmlstudio: note: the angle encoding needs 4 qubits for 4 features: added 1 qubit (q3) to the "
            "3-qubit circuit (saved with the run)") in err
    saved = load_project(path)
    assert saved.circuit.num_qubits == 4 == saved.runs[-1].config["circuit"]["num_qubits"]
    assert len(saved.circuit.gates) == len(built.gates)  # the gates stay; only a wire is added
    code, _, err = cli(capsys, "train", str(path))
    assert code == 0 and "note" not in err


def test_new_takes_the_split_sizes(tmp_path, capsys):
    path = tmp_path / "split.qmls"
    code, _, err = cli(capsys, "new", str(path), *NEW, "--test-size", "0.3", "--validation-size", "0")
    assert code == 0, err
    pre = load_project(path).preprocessing
    assert (pre.test_size, pre.validation_size) == (0.3, 0.0)
    code, _, err = cli(capsys, "new", str(path), *NEW, "--force", "--test-size", "0.5", "--validation-size", "0.5")
    assert code == 1 and "validation_size" in err and "leave no training data" in err


def test_early_stopping_without_validation_is_refused_with_a_message(tmp_path, capsys):
    path = tmp_path / "es.qmls"
    assert cli(capsys, "new", str(path), *NEW, "--validation-size", "0")[0] == 0
    data = json.loads(path.read_text())
    data["training"]["early_stopping"] = True
    path.write_text(json.dumps(data))
    code, out, err = cli(capsys, "train", str(path), "--json")
    assert code == 1 and "early stopping needs a validation split" in err and out == ""


def test_a_warm_start_begins_where_the_run_it_names_ended(tmp_path, capsys):
    """#19 point 1 (warm start): --init-from RUN (an id or 'last') starts from that run's final
    weights, for this run only; the run records which run it started from; a run whose weight
    count differs is refused with both counts."""
    path = str(tmp_path / "w.qmls")
    assert cli(capsys, "new", path, *NEW, "--epochs", "2")[0] == 0
    assert cli(capsys, "train", path)[0] == 0
    first = load_project(path).runs[0]
    code, out, err = cli(capsys, "train", path, "--init-from", "last", "--epochs", "1", "--json")
    assert code == 0, err
    project = load_project(path)
    second = project.runs[1]
    assert second.initial_weights == first.final_weights
    assert second.config["model"]["options"]["init_from"] == first.id
    assert "init_from" not in project.model.options  # for that run only
    # the first iteration's loss is measured at the first run's final weights
    loss = json.loads(out.splitlines()[0])["loss"]
    assert loss < first.metrics["loss"][0]
    code, _, err = cli(capsys, "train", path, "--init-from", first.id, "--seed", "3", "--epochs", "1")
    assert code == 0, err
    assert load_project(path).runs[2].initial_weights == first.final_weights
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    data["circuit"]["gates"].append({"gate": "ry", "qubits": [0], "params": ["θ[40]"], "column": 30})
    Path(path).write_text(json.dumps(data), encoding="utf-8")
    code, _, err = cli(capsys, "train", path, "--init-from", first.id)
    assert code != 0 and "a warm start needs 41 finite parameters" in err and f"got {len(first.final_weights)}" in err
    code, _, err = cli(capsys, "train", path, "--init-from", "nope")
    assert code != 0 and "no run 'nope'" in err
