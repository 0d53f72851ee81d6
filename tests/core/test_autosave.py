"""Autosave and recovery (Qt-free): what is written, what is offered after a crash, and when it goes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from qmlstudio.core.autosave import (
    SIDECAR_SUFFIX,
    Autosaver,
    autosave_key,
    pending_recoveries,
    process_alive,
)
from qmlstudio.core.project import Project, RunRecord, load_project, save_project


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "autosave"


def finished_run(loss: float = 0.5, status: str = "completed") -> RunRecord:
    run = RunRecord(config={"model": {"kind": "vqc", "options": {}}, "ansatz": {"name": "real-amplitudes"}})
    for i in range(1, 4):
        run.append_metrics(iteration=i, epoch=1, loss=loss + 1 / i, train_accuracy=0.8, test_accuracy=0.75)
    run.finish(status, "")
    return run


def dead_pid() -> int:
    """The pid of a process that has ended (and been reaped)."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(done.stdout)


def pretend_crashed(saver: Autosaver, pid: int) -> None:
    """Rewrites the sidecar as if the process that wrote it had died."""
    sidecar = json.loads(saver.sidecar_path.read_text())
    sidecar["pid"] = pid
    sidecar["process_start"] = None
    saver.sidecar_path.write_text(json.dumps(sidecar))


def saved_project(tmp_path: Path, runs: int = 1) -> Project:
    project = Project.new("Moons study")
    for _ in range(runs):
        project.add_run(finished_run())
    save_project(project, tmp_path / "study.qmls")
    return project


def test_save_writes_the_project_and_a_sidecar(tmp_path: Path, folder: Path) -> None:
    project = saved_project(tmp_path, runs=2)
    saver = Autosaver(project, folder)
    path = saver.save().result()
    assert path == folder / f"{autosave_key(project)}.qmls" and path.exists()
    assert load_project(path).runs == project.runs
    sidecar = json.loads(saver.sidecar_path.read_text())
    assert sidecar["original_path"] == str(tmp_path / "study.qmls")
    assert sidecar["pid"] == os.getpid() and sidecar["num_runs"] == 2
    assert sidecar["project_name"] == "Moons study"
    assert [r["status"] for r in sidecar["runs"]] == ["completed", "completed"]
    assert not list(folder.glob(".*.tmp"))  # atomic writes leave no temporary files


def test_the_run_in_progress_is_written_but_not_added_to_the_project(tmp_path: Path, folder: Path) -> None:
    project = saved_project(tmp_path)
    partial = finished_run(status="stopped")
    path = Autosaver(project, folder).save([partial]).result()
    assert len(project.runs) == 1
    assert [r.status for r in load_project(path).runs] == ["completed", "stopped"]


def test_a_live_process_autosave_is_not_offered(tmp_path: Path, folder: Path) -> None:
    Autosaver(saved_project(tmp_path), folder).save()
    assert pending_recoveries(folder) == []


def test_the_autosave_of_a_dead_process_is_offered_with_its_runs(tmp_path: Path, folder: Path) -> None:
    project = saved_project(tmp_path, runs=3)
    saver = Autosaver(project, folder)
    saver.save()
    pretend_crashed(saver, dead_pid())
    (offer,) = pending_recoveries(folder)
    assert offer.project_name == "Moons study" and offer.num_runs == 3 and len(offer.completed_runs) == 3
    assert offer.original_path == str(tmp_path / "study.qmls")
    assert offer.runs[0]["test_accuracy"] == 0.75 and offer.runs[0]["iterations"] == 3
    assert not offer.original_is_newer()


def test_restore_opens_the_project_unsaved_at_its_path_and_takes_the_files_over(tmp_path: Path, folder: Path) -> None:
    project = saved_project(tmp_path, runs=2)
    saver = Autosaver(project, folder)
    saver.save()
    saver.close(discard=False)
    pretend_crashed(saver, dead_pid())
    (offer,) = pending_recoveries(folder)
    recovered = offer.restore()
    assert recovered.dirty and recovered.path == tmp_path / "study.qmls"
    assert [r.id for r in recovered.runs] == [r.id for r in project.runs]
    # The files now belong to this (live) process: not offered again, removed by a save.
    assert pending_recoveries(folder) == []
    assert offer.key == autosave_key(recovered)
    mine = Autosaver(recovered, folder)
    assert mine.path.exists()
    save_project(recovered)
    mine.close(discard=False)  # waits for the removal that the save started
    assert list(folder.iterdir()) == []


def test_a_pid_reused_by_another_process_counts_as_gone(tmp_path: Path, folder: Path) -> None:
    saver = Autosaver(saved_project(tmp_path), folder)
    saver.save()
    sidecar = json.loads(saver.sidecar_path.read_text())
    sidecar["process_start"] = "1"  # this pid, but a process that started at another time
    saver.sidecar_path.write_text(json.dumps(sidecar))
    if sys.platform.startswith("linux"):
        assert len(pending_recoveries(folder)) == 1


def test_a_save_removes_the_autosave(tmp_path: Path, folder: Path) -> None:
    project = saved_project(tmp_path)
    saver = Autosaver(project, folder)
    saver.save()
    assert saver.path.exists()
    save_project(project)  # the project announces "saved"
    saver.close(discard=False)
    assert list(folder.iterdir()) == []


def test_save_as_moves_the_autosave(tmp_path: Path, folder: Path) -> None:
    project = saved_project(tmp_path)
    saver = Autosaver(project, folder)
    old = saver.save().result()
    project.path = tmp_path / "elsewhere.qmls"
    new = saver.save().result()
    assert new != old and new.exists() and not old.exists()
    assert sorted(p.name for p in folder.iterdir()) == sorted([new.name, new.name.replace(".qmls", SIDECAR_SUFFIX)])


def test_background_writes_and_removals_keep_their_order(tmp_path: Path, folder: Path) -> None:
    project = saved_project(tmp_path)
    saver = Autosaver(project, folder)
    for _ in range(5):
        saver.save(wait=False)
    saver.discard(wait=True)
    assert not folder.exists() or list(folder.iterdir()) == []
    saver.close()


def test_an_unwritable_folder_is_an_error_in_the_future_not_a_crash(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    saver = Autosaver(saved_project(tmp_path), blocker / "autosave")
    future = saver.save()
    assert isinstance(future.exception(), OSError)
    assert saver.last_error and "cannot autosave" in saver.last_error


def test_damaged_autosaves_are_skipped(tmp_path: Path, folder: Path) -> None:
    folder.mkdir()
    (folder / f"broken{SIDECAR_SUFFIX}").write_text("{ not json")
    (folder / f"list{SIDECAR_SUFFIX}").write_text("[1, 2]")
    (folder / f"orphan{SIDECAR_SUFFIX}").write_text(json.dumps({"pid": dead_pid()}))  # no project file
    assert pending_recoveries(folder) == []
    assert pending_recoveries(tmp_path / "missing") == []


def test_process_alive() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(dead_pid())
    assert not process_alive(0)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="zombies are read from /proc")
def test_a_killed_process_not_yet_reaped_counts_as_gone() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert process_alive(child.pid)
        os.kill(child.pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while process_alive(child.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not process_alive(child.pid)  # a zombie until waited for
    finally:
        child.wait()
