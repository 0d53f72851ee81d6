"""Autosave and crash recovery: nothing the user made is lost to a crash or a kill.

While a project is open, an :class:`Autosaver` writes a copy of it to
``config_dir()/autosave/`` (atomically, see :mod:`qmlstudio.core.storage`): the project JSON
``<key>.qmls`` and a small sidecar ``<key>.autosave.json`` saying whose it is (the original
path, the process id and the time). The GUI writes one after every run and every minute
during one; a clean save or close removes both files (:meth:`Autosaver.discard`, and
automatically when the project announces ``"saved"``).

At the next start :func:`pending_recoveries` lists the autosaves whose process is gone
(killed, crashed, powered off): each is a :class:`Recovery` with the project's name, its
original path, when it was autosaved and a summary of its runs. :meth:`Recovery.restore`
loads the project (marked unsaved, with its original path) and hands the files over to
the current process, so that they are removed when the user saves, and offered again if
this process dies too. Autosaves of processes that are still running (another QML Studio
window) are never offered.

The key of an autosave names the project and the process (``<name>-<hash>-<pid>``), so two
processes never write over each other's autosave, and the same project in the same process
always autosaves to the same files. Everything here is Qt-free.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from qmlstudio.core.project import FILE_SUFFIX, Project, ProjectError, RunRecord, load_project, now_iso
from qmlstudio.core.settings import config_dir
from qmlstudio.core.storage import atomic_write_text

__all__ = [
    "AUTOSAVE_FOLDER",
    "SIDECAR_SUFFIX",
    "SIDECAR_VERSION",
    "Autosaver",
    "Recovery",
    "autosave_dir",
    "autosave_key",
    "partial_run",
    "pending_recoveries",
    "process_alive",
    "run_summary",
    "save_in_place",
]

AUTOSAVE_FOLDER = "autosave"
SIDECAR_SUFFIX = ".autosave.json"
#: Bumped when the sidecar's fields change; older sidecars stay readable (missing fields default).
SIDECAR_VERSION = 1


def autosave_dir() -> Path:
    """``config_dir()/autosave``: where autosaves live (not created here)."""
    return config_dir() / AUTOSAVE_FOLDER


# ------------------------------------------------------------------- processes
def _process_start(pid: int) -> str | None:
    """When process ``pid`` started, in clock ticks since boot (Linux), to notice a reused pid."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[19] if len(fields) > 19 else None


def _process_state(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rfind(")") + 2 :].split()
    return fields[0] if fields else None


def process_alive(pid: int, started: str | None = None) -> bool:
    """Whether process ``pid`` still runs (and, when ``started`` is given, is the same process).

    A zombie (killed but not yet reaped by its parent) counts as gone, and so does a process
    that reuses the pid but started at another time.
    """
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # someone else's process: it exists
    except OSError:
        return False
    if _process_state(pid) in ("Z", "X"):
        return False
    if started is not None:
        now = _process_start(pid)
        if now is not None and now != started:
            return False
    return True


# ------------------------------------------------------------------------ keys
def _slug(name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return (slug or "project")[:40]


def autosave_key(project: Project, pid: int | None = None) -> str:
    """The file stem of ``project``'s autosave in process ``pid`` (default: this one).

    It depends on the project's file (or, for a project never saved, on its creation time
    and name), so a project keeps its autosave across runs and a Save As moves it.
    """
    if project.path is not None:
        identity = "file:" + os.path.abspath(os.fspath(project.path))
    else:
        identity = f"untitled:{project.created}:{project.name}"
    digest = hashlib.sha256(identity.encode("utf-8")).hexdigest()[:10]
    return f"{_slug(project.name)}-{digest}-{os.getpid() if pid is None else pid}"


def run_summary(run: RunRecord) -> dict[str, Any]:
    """What a recovery offer says about one run: id, start, status, model, scores, seconds."""

    def last(name: str) -> Any:
        values = [v for v in run.metrics.get(name, []) if v is not None]
        return values[-1] if values else None

    config = run.config or {}
    model = (config.get("model") or {}).get("kind")
    ansatz = (config.get("ansatz") or {}).get("name")
    return {
        "id": run.id,
        "started": run.started,
        "finished": run.finished,
        "status": run.status,
        "message": run.message,
        "model": model,
        "ansatz": ansatz,
        "backend": (config.get("backend") or {}).get("name"),
        "iterations": int(last("iteration") or 0),
        "train_accuracy": last("train_accuracy"),
        "test_accuracy": last("test_accuracy"),
        "seconds": (run.timings or {}).get("seconds"),
    }


# ------------------------------------------------------------------- autosaver
class Autosaver:
    """Writes ``project``'s autosave on request and removes it when the project is saved.

    :meth:`save` snapshots the project on the calling thread (so a GUI thread gets a
    consistent copy) and, with ``wait=False``, writes it on a background thread, so that
    a slow disk never stalls the caller; writes and removals happen in the order asked.
    ``extra_runs`` are written as runs of the project too (the GUI passes the run still in
    progress, marked as interrupted), without being added to the project itself.
    """

    def __init__(self, project: Project, directory: str | os.PathLike[str] | None = None) -> None:
        self.project = project
        self._directory = None if directory is None else Path(directory)
        self._written: set[str] = set()  # keys this autosaver wrote, to remove them all
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self.last_error: str | None = None
        project.events.changed.connect(self._on_project_changed)

    # ---------------------------------------------------------------- where
    @property
    def directory(self) -> Path:
        return self._directory if self._directory is not None else autosave_dir()

    @property
    def key(self) -> str:
        return autosave_key(self.project)

    @property
    def path(self) -> Path:
        """The autosave's project file (it exists only after a save)."""
        return self.directory / (self.key + FILE_SUFFIX)

    @property
    def sidecar_path(self) -> Path:
        return self.directory / (self.key + SIDECAR_SUFFIX)

    # ------------------------------------------------------------------ use
    def save(self, extra_runs: Iterable[RunRecord] = (), *, wait: bool = True) -> Future:
        """Writes the autosave (atomically: project first, then the sidecar that names it).

        Returns a future that holds the project file's path, or raises the ``OSError`` /
        :class:`ProjectError` the write met (also kept in :attr:`last_error`).
        """
        project = self.project
        extra = list(extra_runs)
        data = project.to_dict()  # a snapshot: the lists in it are copies
        data["runs"].extend(run.to_dict() for run in extra)
        data["modified"] = now_iso()
        runs = list(project.runs) + extra
        key = self.key
        sidecar = {
            "schema_version": SIDECAR_VERSION,
            "app": "qmlstudio",
            "project_name": project.name,
            "original_path": None if project.path is None else os.path.abspath(os.fspath(project.path)),
            "pid": os.getpid(),
            "process_start": _process_start(os.getpid()),
            "host": socket.gethostname(),
            "saved": now_iso(),
            "saved_unix": time.time(),
            "file": key + FILE_SUFFIX,
            "num_runs": len(runs),
            "runs": [run_summary(run) for run in runs],
        }
        return self._submit(self._write, key, data, sidecar, wait=wait)

    def discard(self, *, wait: bool = True) -> Future:
        """Removes every autosave this autosaver wrote (after a clean save or close)."""
        with self._lock:
            keys = set(self._written) | {self.key}
        return self._submit(self._remove, keys, wait=wait)

    def close(self, *, discard: bool = True) -> None:
        """Stops following the project; removes the autosave first when ``discard``."""
        if discard:
            self.discard(wait=True)
        self.project.events.changed.disconnect(self._on_project_changed)
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None

    # ----------------------------------------------------------- internals
    def _on_project_changed(self, what: str = "", **_: Any) -> None:
        if what == "saved":
            self.discard(wait=False)

    def _submit(self, fn: Any, *args: Any, wait: bool) -> Future:
        if wait and self._executor is None:
            future: Future = Future()
            try:
                future.set_result(fn(*args))
            except (OSError, ProjectError) as exc:
                future.set_exception(exc)
            return future
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qmlstudio-autosave")
        # One writer thread: a removal asked after a write also happens after it.
        future = self._executor.submit(fn, *args)
        if wait:
            future.exception()  # waits; the caller reads the outcome from the future
        return future

    def _write(self, key: str, data: dict[str, Any], sidecar: dict[str, Any]) -> Path:
        directory = self.directory
        try:
            text = json.dumps(data, ensure_ascii=False, indent=1, allow_nan=False) + "\n"
        except (TypeError, ValueError) as exc:
            self.last_error = f"cannot autosave: {exc}"
            raise ProjectError(self.last_error) from None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            atomic_write_text(directory / (key + FILE_SUFFIX), text)
            atomic_write_text(directory / (key + SIDECAR_SUFFIX), json.dumps(sidecar, indent=1) + "\n")
        except OSError as exc:
            self.last_error = f"cannot autosave to '{directory}': {exc.strerror or exc}"
            raise
        self.last_error = None
        with self._lock:
            stale = self._written - {key}
            self._written = {key}
        self._remove(stale)  # the project moved (Save As): its old autosave is no longer needed
        return directory / (key + FILE_SUFFIX)

    def _remove(self, keys: Iterable[str]) -> None:
        for key in keys:
            # The sidecar goes first: without it a leftover project file is never offered.
            for name in (key + SIDECAR_SUFFIX, key + FILE_SUFFIX):
                try:
                    (self.directory / name).unlink()
                except FileNotFoundError:
                    pass
                except OSError:
                    pass  # a read-only folder: nothing to do but leave it
        with self._lock:
            self._written -= set(keys)


# -------------------------------------------------------------------- recovery
@dataclass
class Recovery:
    """An autosave left behind by a process that is gone: what the user may recover."""

    key: str
    directory: Path
    project_name: str
    original_path: str | None
    saved: str
    pid: int
    num_runs: int
    runs: list[dict[str, Any]] = field(default_factory=list)
    host: str = ""

    @property
    def project_file(self) -> Path:
        return self.directory / (self.key + FILE_SUFFIX)

    @property
    def sidecar_file(self) -> Path:
        return self.directory / (self.key + SIDECAR_SUFFIX)

    @property
    def completed_runs(self) -> list[dict[str, Any]]:
        return [run for run in self.runs if run.get("status") == "completed"]

    def original_is_newer(self) -> bool:
        """Whether the original file was written after this autosave (saved elsewhere since)."""
        if not self.original_path:
            return False
        try:
            modified = os.stat(self.original_path).st_mtime
            saved = os.stat(self.sidecar_file).st_mtime
        except OSError:
            return False
        return modified > saved + 1.0

    def load(self) -> Project:
        """The autosaved project (its path is the original one; marked unsaved).

        Raises :class:`ProjectError` when the autosave cannot be read.
        """
        project = load_project(self.project_file)
        project.path = None if not self.original_path else Path(self.original_path)
        project.mark_changed("recovered")
        return project

    def restore(self) -> Project:
        """Loads the project and hands the autosave to this process (see the module docstring).

        The files are renamed to this process's key for the project, so that saving the
        project removes them and they are offered again only if this process dies too.
        Every step leaves a complete, recoverable pair on disk.
        """
        project = self.load()
        mine = autosave_key(project)
        try:
            sidecar = json.loads(self.sidecar_file.read_text(encoding="utf-8"))
            if not isinstance(sidecar, dict):
                raise ValueError("not an object")
            sidecar.update(pid=os.getpid(), process_start=_process_start(os.getpid()), file=mine + FILE_SUFFIX)
            # The new sidecar first (it names a file that appears only with the rename), then
            # the project file, then the old sidecar: a crash at any point loses nothing.
            atomic_write_text(self.directory / (mine + SIDECAR_SUFFIX), json.dumps(sidecar, indent=1) + "\n")
            if mine != self.key:
                os.replace(self.project_file, self.directory / (mine + FILE_SUFFIX))
                self.sidecar_file.unlink()
        except (OSError, ValueError):
            pass  # the files stay as they were and are offered again next time: nothing lost
        else:
            self.key = mine
        return project

    def discard(self) -> None:
        """Removes the autosave (the user chose not to recover it)."""
        for path in (self.sidecar_file, self.project_file):
            try:
                path.unlink()
            except OSError:
                pass


def pending_recoveries(directory: str | os.PathLike[str] | None = None) -> list[Recovery]:
    """Autosaves whose process is gone, newest first (none for processes still running).

    A damaged sidecar or a sidecar without its project file is skipped, never an error.
    """
    folder = Path(directory) if directory is not None else autosave_dir()
    try:
        sidecars = sorted(folder.glob("*" + SIDECAR_SUFFIX))
    except OSError:
        return []
    found: list[tuple[float, Recovery]] = []
    host = socket.gethostname()
    for sidecar in sidecars:
        try:
            info = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(info, dict):
            continue
        key = sidecar.name[: -len(SIDECAR_SUFFIX)]
        pid = info.get("pid")
        if not isinstance(pid, int) or not (folder / (key + FILE_SUFFIX)).is_file():
            continue
        saved_host = info.get("host") or host
        started = info.get("process_start")
        if saved_host == host and process_alive(pid, started if isinstance(started, str) else None):
            continue  # its process is still working on it
        if saved_host != host:
            continue  # a process on another machine sharing this folder: not ours to take
        runs = info.get("runs") if isinstance(info.get("runs"), list) else []
        recovery = Recovery(
            key=key,
            directory=folder,
            project_name=str(info.get("project_name") or key),
            original_path=info.get("original_path") if isinstance(info.get("original_path"), str) else None,
            saved=str(info.get("saved") or ""),
            pid=pid,
            num_runs=int(info.get("num_runs") or len(runs)),
            runs=[r for r in runs if isinstance(r, dict)],
            host=str(saved_host),
        )
        stamp = info.get("saved_unix")
        found.append((float(stamp) if isinstance(stamp, (int, float)) else 0.0, recovery))
    found.sort(key=lambda item: item[0], reverse=True)
    return [recovery for _, recovery in found]


# ------------------------------------------------------------- in-place (CLI)
def partial_run(record: RunRecord, who: str = "qmlstudio train") -> RunRecord | None:
    """A copy of ``record`` (a run still in progress) as a stopped run, or None before its
    first iteration: what an autosave keeps of it if the process dies now."""
    if not record.metrics.get("iteration"):
        return None
    data = record.to_dict()
    iteration = int(record.metrics["iteration"][-1])
    data["status"] = "stopped"
    data["message"] = f"interrupted after iteration {iteration:,}: {who} ended before the run finished"
    return RunRecord.from_dict(data)


def save_in_place(project: Project, extra_runs: Iterable[RunRecord] = ()) -> Path:
    """Writes ``project`` with ``extra_runs`` appended into the project's own file, atomically.

    The command-line trainer's autosave: the user's file always holds either the previous
    content or the project with the run so far, never a partial write. The project itself is
    not changed (the runs are not added to it and it is not marked saved). Raises
    :class:`ProjectError` when it cannot be written.
    """
    from qmlstudio.core.project import MAX_FILE_BYTES
    from qmlstudio.core.storage import atomic_write_bytes

    if project.path is None:
        raise ProjectError("the project has never been saved; there is no file to autosave into")
    data = project.to_dict()
    data["runs"].extend(run.to_dict() for run in extra_runs)
    data["modified"] = now_iso()
    try:
        raw = (json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")
    except (TypeError, ValueError, UnicodeEncodeError) as exc:
        raise ProjectError(f"cannot autosave: {exc}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ProjectError("cannot autosave: the project would be larger than a project file may be")
    try:
        atomic_write_bytes(project.path, raw)
    except OSError as exc:
        raise ProjectError(f"cannot autosave into '{project.path}': {exc.strerror or exc}") from None
    return Path(project.path)
