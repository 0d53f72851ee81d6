"""Never lose a run: a training process killed mid-run is recovered at the next start.

The SIGKILL test runs the training dock offscreen in a child process on a copy of the demo
project: it completes a run (autosaved), starts a long one and is killed while it trains.
The test process, with the same settings folder, then finds the autosave offered with the
run completed before the kill, and the recovered project loads.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from qmlstudio.core.autosave import Autosaver, pending_recoveries
from qmlstudio.core.project import Project, RunRecord, load_project, save_project
from qmlstudio.gui.recovery import RecoveryDialog, describe_run, offer_recovery, recovery_offers

DEMO = Path(__file__).resolve().parents[2] / "resources" / "demo.qmls"

DRIVER = textwrap.dedent(
    """
    import sys
    import qmlstudio.gui
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    from qmlstudio.core.project import load_project
    from qmlstudio.gui.training_dock import TrainingDock

    app = QApplication(sys.argv[:1])
    project = load_project(sys.argv[1])
    dock = TrainingDock(project)
    dock.show()
    seen = {"autosaved": False, "long": False}

    def start_long_run():
        if seen["autosaved"] and dock.state == "idle" and not seen["long"]:
            seen["long"] = True
            dock.train(epochs=100_000)

    def on_autosaved(path):
        if not seen["long"]:
            seen["autosaved"] = True
            print("AUTOSAVED", path, flush=True)
            QTimer.singleShot(0, start_long_run)

    def watch():
        live = dock.live_curves
        if seen["long"] and dock.worker is not None and live is not None and live.rows > 20:
            print("TRAINING", live.rows, flush=True)
            timer.stop()

    dock.autosaved.connect(on_autosaved)
    dock.state_changed.connect(lambda state: start_long_run())
    timer = QTimer()
    timer.timeout.connect(watch)
    timer.start(20)
    dock.train()
    app.exec()
    """
)


def read_line(process: subprocess.Popen, prefix: str, deadline: float) -> str:
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line.strip()
    raise AssertionError(f"the training process never printed {prefix!r}; stderr:\n{process.stderr.read()}")


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_run_completed_before_a_kill_is_offered_for_recovery(tmp_path: Path, config_dir: Path) -> None:
    project_file = tmp_path / "demo.qmls"
    shutil.copy(DEMO, project_file)
    original = project_file.read_bytes()
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "QMLSTUDIO_CONFIG_DIR": str(config_dir)}
    process = subprocess.Popen([sys.executable, str(script), str(project_file)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        read_line(process, "AUTOSAVED", deadline)
        read_line(process, "TRAINING", deadline)
        assert process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == -signal.SIGKILL

    # What the next start offers (the Qt-free view of the dialog).
    (offer,) = recovery_offers(config_dir / "autosave")
    assert offer["name"] == "Demo: moons classifier"
    assert offer["original_path"] == str(project_file)
    assert offer["num_runs"] == 1 and offer["completed_runs"] == 1
    (run,) = offer["runs"]
    assert run["status"] == "completed" and run["iterations"] == 120 and run["model"] == "vqc"  # 30 epochs of 4 batches
    assert run["test_accuracy"] is not None and run["test_accuracy"] > 0.6

    # Recovering opens the project as it was: unsaved, at its path, with the completed run.
    recovered = offer["recovery"].restore()
    assert recovered.path == project_file and recovered.dirty
    (record,) = recovered.runs
    assert record.status == "completed" and record.num_points == 120 and record.baselines
    assert project_file.read_bytes() == original  # the project file itself was never touched
    save_project(recovered)
    assert load_project(project_file).runs[0].id == record.id
    # Saving the recovered project leaves nothing to offer next time.
    deadline = time.monotonic() + 5
    while list((config_dir / "autosave").glob("*.autosave.json")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pending_recoveries(config_dir / "autosave") == []


# ------------------------------------------------------------------ the dialog
def crashed_autosave(tmp_path: Path, name: str, runs: int) -> Project:
    """A project saved at tmp_path/<name>.qmls whose autosave looks left by a dead process."""
    project = Project.new(name)
    for i in range(runs):
        run = RunRecord(config={"model": {"kind": "vqc", "options": {}}})
        run.append_metrics(iteration=1, epoch=1, loss=0.5, test_accuracy=0.8 + i / 100)
        run.finish("completed")
        project.add_run(run)
    project.path = tmp_path / f"{name}.qmls"
    saver = Autosaver(project)
    saver.save()
    saver.close(discard=False)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    sidecar = json.loads(saver.sidecar_path.read_text())
    sidecar.update(pid=int(dead.stdout), process_start=None)
    saver.sidecar_path.write_text(json.dumps(sidecar))
    return project


def test_nothing_to_recover_shows_no_dialog(qtbot) -> None:
    assert offer_recovery() is None


def test_the_dialog_lists_the_projects_and_their_runs_and_recovers_one(qtbot, tmp_path: Path) -> None:
    crashed_autosave(tmp_path, "first", runs=2)
    second = crashed_autosave(tmp_path, "second", runs=1)
    dialog = RecoveryDialog(pending_recoveries())
    qtbot.addWidget(dialog)
    dialog.show()
    tree = dialog.tree
    assert tree.topLevelItemCount() == 2
    names = {tree.topLevelItem(i).text(0): tree.topLevelItem(i) for i in range(2)}
    assert set(names) == {"first", "second"}
    assert names["first"].childCount() == 2 and "completed" in names["first"].child(0).text(0)
    assert names["first"].text(2) == "2"
    tree.setCurrentItem(names["second"])
    qtbot.mouseClick(dialog.recover_button, Qt.MouseButton.LeftButton)
    assert dialog.result() == RecoveryDialog.DialogCode.Accepted
    assert dialog.project is not None and dialog.project.name == "second"
    assert [r.id for r in dialog.project.runs] == [r.id for r in second.runs]
    assert dialog.project.path == tmp_path / "second.qmls"
    # The other project is still offered; the recovered one now belongs to this process.
    assert [offer["name"] for offer in recovery_offers()] == ["first"]


def test_later_keeps_the_autosaves_and_discard_removes_them(qtbot, tmp_path: Path) -> None:
    crashed_autosave(tmp_path, "kept", runs=1)
    dialog = RecoveryDialog(pending_recoveries())
    qtbot.addWidget(dialog)
    qtbot.mouseClick(dialog.later_button, Qt.MouseButton.LeftButton)
    assert dialog.project is None and len(pending_recoveries()) == 1
    dialog = RecoveryDialog(pending_recoveries())
    qtbot.addWidget(dialog)
    dialog.discard_all(confirm=False)
    assert dialog.project is None and pending_recoveries() == []


def test_describe_run_reads_like_a_sentence() -> None:
    text = describe_run({"started": "2025-01-31T12:00:00Z", "model": "vqc", "ansatz": "real-amplitudes",
                         "status": "completed", "iterations": 150, "test_accuracy": 0.86})
    assert "VQC · real-amplitudes" in text and "completed" in text and "150 iterations" in text
    assert "test 0.860" in text
