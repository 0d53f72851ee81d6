"""Nothing lost (issue 23, defect 4): `qmlstudio train` writes the run so far into the project
file at each epoch (and every --autosave seconds), atomically; SIGTERM and SIGHUP stop it like
Ctrl-C, saving what was done; a SIGKILL loses at most the iterations since the last autosave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from qmlstudio.cli import main
from qmlstudio.core.project import load_project

NEW = ["--dataset", "moons", "--encoding", "angle", "--ansatz", "real-amplitudes", "--reps", "1",
       "--optimizer", "adam", "--seed", "3", "--batch-size", "16"]


@pytest.fixture
def project_file(tmp_path, capsys) -> Path:
    path = tmp_path / "p.qmls"
    assert main(["new", str(path), *NEW]) == 0, capsys.readouterr().err
    capsys.readouterr()
    return path


def start_training(project_file: Path, *extra: str) -> subprocess.Popen:
    env = dict(os.environ)
    env.pop("QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD", None)
    return subprocess.Popen(
        [sys.executable, "-m", "qmlstudio", "train", str(project_file), "--epochs", "5000", "--json", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )


def read_until_autosaves(process: subprocess.Popen, count: int) -> tuple[list[dict], list[int]]:
    """Reads the JSON lines until ``count`` autosaves were announced (no clock involved)."""
    rows, saved = [], []
    while len(saved) < count:
        line = process.stdout.readline()
        assert line, f"train ended early: {process.stderr.read()}"
        row = json.loads(line)
        if row.get("event") == "autosave":
            saved.append(row["iteration"])
        else:
            rows.append(row)
    return rows, saved


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.communicate()


def test_sigkill_mid_run_keeps_the_iterations_before_the_last_autosave(project_file):
    before = load_project(project_file)
    assert before.runs == []
    process = start_training(project_file, "--autosave", "0")  # at each epoch only
    try:
        rows, saved = read_until_autosaves(process, 2)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        stop(process)
    assert process.returncode == -signal.SIGKILL
    # The file was written in place, atomically: it loads, and holds the run up to the last autosave.
    project = load_project(project_file)
    assert len(project.runs) == 1
    run = project.runs[0]
    assert run.status == "stopped" and "interrupted after iteration" in run.message
    last = saved[-1]
    assert run.metrics["iteration"][: last] == list(range(1, last + 1))
    assert run.metrics["iteration"][-1] >= last
    # the losses are those the process printed, iteration by iteration
    printed = {row["iteration"]: row["loss"] for row in rows}
    assert all(printed[i] == loss for i, loss in zip(run.metrics["iteration"], run.metrics["loss"]))
    # with --autosave 0 the autosaves come once per epoch, as the next one starts
    epoch = {row["iteration"]: row["epoch"] for row in rows}
    assert all(epoch[i] == epoch[i - 1] + 1 for i in saved) and epoch[saved[1]] == epoch[saved[0]] + 1
    assert len(run.final_weights) == run.parameters and all(w is not None for w in run.final_weights)
    # no temporary file is left beside the project
    assert sorted(p.name for p in project_file.parent.iterdir()) == ["p.qmls"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_stop_the_run_and_save_it(project_file, signum):
    process = start_training(project_file)
    try:
        rows = [json.loads(process.stdout.readline()) for _ in range(3)]  # training is under way
        assert all(row["iteration"] for row in rows)
        process.send_signal(signum)
        out, err = process.stdout.read(), process.stderr.read()
        process.wait(timeout=60)
    finally:
        stop(process)
    assert process.returncode == 0, err
    assert "Traceback" not in err
    assert f"{signal.Signals(signum).name}: stopped; the run so far is saved" in err
    lines = [json.loads(line) for line in out.splitlines() if line.strip()]
    done = lines[-1]
    assert done["event"] == "done" and done["status"] == "stopped"
    run = load_project(project_file).runs[-1]
    assert run.id == done["run_id"] and run.status == "stopped"
    iterations = [row["iteration"] for row in rows + lines[:-1] if "iteration" in row and "event" not in row]
    assert run.metrics["iteration"] == iterations
    assert 3 <= len(iterations) < 5000


def test_a_bad_autosave_interval_is_one_line(project_file, capsys):
    assert main(["train", str(project_file), "--autosave", "-1"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "qmlstudio: error: --autosave must be a number of seconds, 0 or more"


def test_autosave_every_few_seconds_writes_between_epochs_and_the_final_save_replaces_it(project_file, capsys):
    # --autosave 1e-9: due at every iteration (all but the last, which the final save covers)
    assert main(["train", str(project_file), "--epochs", "2", "--json", "--autosave", "1e-9"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    iterations = [row["iteration"] for row in lines if "iteration" in row and "event" not in row]
    saved = [row["iteration"] for row in lines if row.get("event") == "autosave"]
    assert saved == iterations[:-1] and len(saved) >= 2
    runs = load_project(project_file).runs
    assert len(runs) == 1 and runs[0].status == "completed"  # the partial run was replaced, not added
    assert runs[0].metrics["iteration"] == iterations


def test_no_save_writes_nothing_during_the_run(project_file, capsys):
    before = project_file.read_bytes()
    assert main(["train", str(project_file), "--epochs", "2", "--json", "--autosave", "1e-9", "--no-save"]) == 0
    assert '"autosave"' not in capsys.readouterr().out
    assert project_file.read_bytes() == before
