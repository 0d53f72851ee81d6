"""Training in a child process: the engine works in its own interpreter, the window only draws.

A :class:`ProcessTrainingWorker` has the signals and controls of the thread-based
:class:`~qmlstudio.gui.workers.TrainingWorker`, but the run trains in a child process
started as a fresh interpreter (``subprocess``, fork and exec at once: a process that has Qt
threads is never forked to go on running). The child gets the project as plain data (its settings as the JSON
dict of :meth:`~qmlstudio.core.project.Project.config_snapshot`, its path, the epochs, the
breakpoint, the names of the disabled plugins), loads the plugins itself and runs the very same
:class:`~qmlstudio.gui.workers.TrainingWorker` code on its main thread, which builds the run
through :func:`qmlstudio.workflow.build_run` exactly as ``qmlstudio train`` does. Qt's core
module is imported there only for that class's signals (no application object, no Qt thread).

Two one-way pipes join the processes:

* **events** (child → window): ``prepared`` (:class:`~qmlstudio.gui.workers.RunSetup`),
  ``baselines``, ``iteration`` (a batch of :class:`~qmlstudio.core.training.IterationReport`),
  ``boundary``, ``job``, ``finished`` (the :class:`~qmlstudio.core.project.RunRecord` as its
  JSON dict), ``failed`` and ``done``, plus ``ack`` when a command was applied. The window
  reads them on its event loop (a ``QSocketNotifier`` on the pipe: no reader thread, nothing
  that competes with the GUI thread for its interpreter's lock).
* **commands** (window → child): ``pause``, ``resume``, ``step``, ``stop``. A thread of the
  child waits on this pipe and sets the engine's :class:`~qmlstudio.core.training.Controls`,
  which the engine checks before each part of a batch, so a command takes effect within
  milliseconds whatever the engine is doing.

When the child dies without saying ``done`` (a segmentation fault in native code, a plugin
calling ``os._exit``, the kernel's out-of-memory killer) the events pipe reaches its end; the
worker emits ``crashed`` with what happened (the signal or the exit code) and then ``done``.
The dock keeps the run up to its last report, marked failed with that reason.

Spawning an interpreter and importing qiskit and the plugins takes seconds, so
:func:`warm_up` starts one idle child ahead of time (the application calls it once its window
is on screen, and again after each run); :class:`ProcessTrainingWorker` takes that child
when there is one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from operator import attrgetter
from typing import Any, Callable

import numpy as np
from PySide6.QtCore import QObject, QSocketNotifier, Qt, Signal

from qmlstudio.core.project import Project, RunRecord
from qmlstudio.gui.workers import MIN_EMIT_INTERVAL_S
from qmlstudio.workflow import IterationReport

__all__ = ["ProcessTrainingWorker", "TrainingChild", "describe_exit", "pack_reports", "rewarm", "unpack_reports",
           "warm_up"]

#: Messages handled per pass of the event loop (more wait for the next pass: the GUI stays live).
MAX_MESSAGES_PER_PASS = 200
#: The child sends reports still waiting in its batch at least this often (the engine's thread
#: sends them itself as it reports; this catches a batch left behind by a slow iteration).
FLUSH_INTERVAL_S = MIN_EMIT_INTERVAL_S


# ======================================================================= report batches
_INTS = ("iteration", "epoch", "shots", "total_iterations")
_FLOATS = ("loss", "elapsed_s")
_OPTIONAL = ("test_loss", "train_accuracy", "test_accuracy", "grad_norm", "val_loss", "val_accuracy",
             "grad_norm_classical", "grad_norm_quantum")
_get_ints, _get_floats, _get_optional = attrgetter(*_INTS), attrgetter(*_FLOATS), attrgetter(*_OPTIONAL)


def pack_reports(batch: list[IterationReport]) -> tuple[Any, ...] | list[IterationReport]:
    """A batch of reports as a few arrays, column by column: pickled in a fraction of the
    time a list of dataclasses takes (the child's engine pays for it). A batch that does not
    fit the columns (weights of different lengths) is sent as it is."""
    try:
        ints = np.array([_get_ints(r) for r in batch], dtype=np.int64).reshape(len(batch), len(_INTS))
        floats = np.array([_get_floats(r) for r in batch], dtype=float).reshape(len(batch), len(_FLOATS))
        optional = np.array([_get_optional(r) for r in batch], dtype=object).reshape(len(batch), len(_OPTIONAL))
        missing = optional == None  # noqa: E711 - elementwise, on an object array
        values = np.where(missing, np.nan, optional).astype(float)
        weights = np.stack([np.asarray(r.weights, dtype=float) for r in batch]) if batch else np.zeros((0, 0))
    except (TypeError, ValueError):
        return batch
    return ints, floats, values, missing, weights


def unpack_reports(packed: tuple[Any, ...] | list[IterationReport]) -> list[IterationReport]:
    """The reports of :func:`pack_reports`, as the engine made them (None where it gave none)."""
    if not isinstance(packed, tuple):
        return packed
    ints, floats, values, missing, weights = packed
    reports = []
    for row in range(len(ints)):
        fields: dict[str, Any] = dict(zip(_INTS, (int(v) for v in ints[row])))
        fields.update(zip(_FLOATS, (float(v) for v in floats[row])))
        fields.update((name, None if missing[row, col] else float(values[row, col])) for col, name in enumerate(_OPTIONAL))
        reports.append(IterationReport(weights=weights[row], **fields))
    return reports


# ============================================================================ child side
def _child_main(events: Any, commands: Any) -> None:
    """The child's whole life: warm up, wait for one job, train it, say ``done``, exit."""
    send_lock = threading.Lock()
    try:
        first = commands.recv()
    except (EOFError, OSError):
        return
    if first and first[0] == "path":
        sys.path[:] = [entry for entry in first[1] if isinstance(entry, str)]

    def send(*message: Any) -> None:
        with send_lock:
            events.send(message)

    try:
        registry = _warm_child()
        send("ready", os.getpid())
        try:
            message = commands.recv()
        except (EOFError, OSError):
            return  # the window went away before it needed us
        if not message or message[0] != "job":
            return
        _run_job(message[1], registry, send, commands)
    except BaseException as exc:  # noqa: BLE001 - anything left is the window's to show
        try:
            send("failed", f"The training process failed: {type(exc).__name__}: {exc}", traceback.format_exc())
            send("done", "")
        except Exception:  # noqa: BLE001 - the pipe is gone: nobody to tell
            pass
    finally:
        try:
            events.close()
        except Exception:  # noqa: BLE001
            pass


def _warm_child() -> Any:
    """Imports what every run needs (qiskit, the engine, the plugins, scikit-learn's datasets,
    preprocessing and baselines) and loads the simulator's compiled loops before any job
    comes: the job then starts at once (scikit-learn alone took 1.2 s of every run's start)."""
    from qmlstudio.core.circuit import standard_gate_classes
    from qmlstudio.plugins.manager import load_plugins

    standard_gate_classes()  # on the main thread, as qiskit wants
    import sklearn.datasets  # noqa: F401  (the built-in datasets)
    import sklearn.decomposition  # noqa: F401  (PCA of the features)
    import sklearn.linear_model  # noqa: F401  (the classical baselines)
    import sklearn.model_selection  # noqa: F401
    import sklearn.neural_network  # noqa: F401
    import sklearn.svm  # noqa: F401

    import qmlstudio.gui.workers
    import qmlstudio.workflow

    qmlstudio.workflow.warm_up()  # the simulator's compiled loops, from Numba's cache
    return load_plugins()


def _run_job(job: dict[str, Any], registry: Any, send: Callable[..., None], commands: Any) -> None:
    from qmlstudio.gui.workers import TrainingWorker
    from qmlstudio.plugins.manager import load_plugins

    disabled = set(job.get("disabled", ()))
    if registry is None or set(registry.disabled) != disabled:
        registry = load_plugins(disabled=disabled)
    project = Project.from_dict(job["project"])
    project.path = job.get("path")
    resume = RunRecord.from_dict(job["resume"]) if job.get("resume") else None
    worker = TrainingWorker(project, registry, epochs=job.get("epochs"), resume=resume,
                            run_factory=job.get("run_factory"), paused=bool(job.get("paused")),
                            step=bool(job.get("step")), pause_at=job.get("pause_at"))
    # Direct connections: the signals are emitted on the engine's thread, the command thread
    # (flushes) and a backend's threads (jobs); there is no event loop to queue them to.
    direct = Qt.ConnectionType.DirectConnection
    worker.prepared.connect(lambda setup: send("prepared", setup), direct)
    worker.baselines.connect(lambda scores: send("baselines", scores), direct)
    # with each batch: whether the run is paused now (a step or a breakpoint pauses it)
    worker.iteration.connect(lambda batch: send("iteration", pack_reports(batch), worker.paused), direct)
    worker.boundary.connect(lambda frame: send("boundary", frame), direct)
    worker.job.connect(lambda job_id, status, queue: send("job", job_id, status, queue), direct)
    worker.finished.connect(lambda record: send("finished", record.to_dict()), direct)
    worker.failed.connect(lambda message, details: send("failed", message, details), direct)

    actions = {"pause": worker.pause, "resume": worker.resume, "step": worker.step, "stop": worker.stop}

    def listen() -> None:
        while True:
            try:
                if not commands.poll(FLUSH_INTERVAL_S):
                    # Reports wait in the worker's batch until the next one comes; a slow
                    # iteration or a pause must not hold them back (the thread worker's
                    # batch is taken by the GUI's frame timer the same way).
                    worker.flush(wait=False, stale_after=FLUSH_INTERVAL_S)
                    continue
                command = commands.recv()
            except (EOFError, OSError):
                worker.stop()  # the window is gone: stop, nobody would see the rest
                return
            action = actions.get(command[0]) if command else None
            if action is not None:
                action()
                worker.flush()
                send("ack", command[0], worker.iterations_reported, worker.paused)

    threading.Thread(target=listen, name="qmlstudio-commands", daemon=True).start()
    worker.run()  # on this (main) thread; ends with worker.flush()
    send("done", worker.details)


# =========================================================================== window side
class _Process:
    """A ``subprocess.Popen`` with the few methods of ``multiprocessing.Process`` used here."""

    def __init__(self, popen: subprocess.Popen) -> None:
        self.popen = popen
        self.pid = popen.pid

    def is_alive(self) -> bool:
        return self.popen.poll() is None

    def join(self, timeout: float | None = None) -> None:
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pass

    def kill(self) -> None:
        if self.is_alive():
            self.popen.kill()

    @property
    def exitcode(self) -> int | None:
        return self.popen.poll()


class TrainingChild:
    """One child process and the window's ends of its two pipes.

    The child is a fresh interpreter (``python -m qmlstudio.gui.training_process FD FD``:
    fork and exec at once, so nothing of this process's Qt threads is inherited, and unlike
    multiprocessing's spawn it never re-imports the parent's main script). The pipes are
    multiprocessing ``Connection`` objects over plain file descriptors; the first command is this
    process's ``sys.path``, so that the child imports what the parent can (a test's module).
    """

    def __init__(self) -> None:
        events_in, events_out = os.pipe()
        commands_in, commands_out = os.pipe()
        try:
            popen = subprocess.Popen([sys.executable, "-m", "qmlstudio.gui.training_process",
                                      str(events_out), str(commands_in)],
                                     pass_fds=(events_out, commands_in), stdin=subprocess.DEVNULL,
                                     close_fds=True)
        finally:
            os.close(events_out)  # only the child writes events: its death ends the pipe
            os.close(commands_in)
        self.process = _Process(popen)
        self.events = Connection(events_in, writable=False)
        self.commands = Connection(commands_out, readable=False)
        self.used = False
        self.send("path", list(sys.path))
        _children.append(self)

    @property
    def pid(self) -> int | None:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.is_alive()

    def send(self, *message: Any) -> bool:
        try:
            self.commands.send(message)
            return True
        except (OSError, ValueError, BrokenPipeError):
            return False

    def release(self, timeout: float = 5.0) -> None:
        """Closes the pipes and reaps the process on a thread of its own: a child that said
        ``done`` exits by itself, but its interpreter's teardown (qiskit, numba) takes tenths of
        a second on a busy machine, which the window must not wait for (it froze the event loop
        at the end of every run, and made a Stop look slow)."""
        self._close_pipes()
        threading.Thread(target=self._reap, args=(timeout,), name="qmlstudio-reaper", daemon=True).start()

    def close(self, timeout: float = 5.0) -> None:
        """Closes the pipes (an idle or stopped child then exits) and reaps the process."""
        self._close_pipes()
        self._reap(timeout)

    def _close_pipes(self) -> None:
        for conn in (self.commands, self.events):
            try:
                conn.close()
            except Exception:  # noqa: BLE001
                pass

    def _reap(self, timeout: float) -> None:
        """Waits up to ``timeout`` seconds for the process to exit, then kills it."""
        self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join(1.0)
        with contextlib.suppress(ValueError):  # the reaper and the exit handler may both get here
            _children.remove(self)


_children: list[TrainingChild] = []
_idle: TrainingChild | None = None
_keep_warm = False


def warm_up() -> TrainingChild:
    """Starts an idle child ahead of the next run (once; returns the one already waiting).

    After the first call, :func:`rewarm` (called when a run ends) starts the next one.
    """
    global _idle, _keep_warm
    _keep_warm = True
    if _idle is None or not _idle.alive():
        _idle = TrainingChild()
    return _idle


def rewarm() -> None:
    """Starts the next idle child if :func:`warm_up` was ever called (the application did)."""
    if _keep_warm:
        warm_up()


def _take_child() -> TrainingChild:
    global _idle
    child = _idle if _idle is not None and _idle.alive() else TrainingChild()
    _idle = None
    child.used = True
    return child


@atexit.register
def _end_children() -> None:
    """At exit: an idle child is ended at once; one that trained gets two seconds to finish."""
    for child in list(_children):
        child.close(timeout=2.0 if child.used else 0.0)


def describe_exit(exitcode: int | None) -> str:
    """What a child's exit code says, for the user."""
    if exitcode is None:
        return "it stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        meaning = {"SIGSEGV": "a segmentation fault, a crash in native code", "SIGKILL": "killed, perhaps out of memory",
                   "SIGABRT": "aborted by native code", "SIGBUS": "a bus error in native code"}.get(name)
        return f"it was ended by {name}" + (f" ({meaning})" if meaning else "")
    return f"it exited with code {exitcode} without finishing the run"


class ProcessTrainingWorker(QObject):
    """Trains one run in a child process; the signals and controls of ``TrainingWorker``.

    Extra signals: ``crashed(message)`` — the child died mid-run (emitted before ``done``);
    ``acknowledged(command, iterations)`` — the child applied a command (``pause``,
    ``resume``, ``step``, ``stop``) when it had reported ``iterations`` iterations.
    :attr:`paused` is what the child said last, once it has acknowledged every command sent.
    ``run_factory`` must be picklable (a module-level function) or None.
    """

    prepared = Signal(object)
    baselines = Signal(object)
    iteration = Signal(object)
    boundary = Signal(object)
    finished = Signal(object)
    failed = Signal(str, str)
    done = Signal()
    job = Signal(str, str, object)
    crashed = Signal(str)
    acknowledged = Signal(str, int)

    def __init__(
        self,
        project: Project,
        registry: Any,
        *,
        epochs: int | None = None,
        resume: RunRecord | None = None,
        run_factory: Callable[..., Any] | None = None,
        paused: bool = False,
        step: bool = False,
        pause_at: int | None = None,
    ) -> None:
        super().__init__()
        self._job = {
            "project": {"schema_version": 1, "name": project.name, **project.config_snapshot()},
            "path": None if project.path is None else str(project.path),
            "epochs": epochs,
            "resume": None if resume is None else resume.to_dict(),
            "run_factory": run_factory,
            "paused": paused,
            "step": step,
            "pause_at": pause_at,
            "disabled": sorted(getattr(registry, "disabled", ()) or ()),
        }
        self.epochs = epochs
        self.pause_at = pause_at
        self._paused = paused
        self._unacknowledged = 0  # commands sent that the child has not applied yet
        self._child: TrainingChild | None = None
        self._notifier: QSocketNotifier | None = None
        self._ended = False
        self._ending = False
        self._said_done = False
        self._outcome = False  # a finished or failed message came
        self._backlog: list[tuple[Any, ...]] = []  # read by wait(), handled on the next pass
        self.details = ""
        self.iterations_reported = 0
        self.batches_emitted = 0
        self.setup: Any = None

    # ------------------------------------------------------------ lifetime
    @property
    def pid(self) -> int | None:
        """The child's process id (None before :meth:`start`)."""
        return None if self._child is None else self._child.pid

    def start(self) -> None:
        child = _take_child()
        self._child = child
        if not child.send("job", self._job):
            self._child_gone()
            return
        self._notifier = QSocketNotifier(child.events.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)

    def wait(self, timeout_ms: int = 10_000) -> bool:
        """Blocks until the child has ended (True) or ``timeout_ms`` passed (False).

        What the child says meanwhile is kept (so that a full pipe never keeps it from
        ending) and handled on the next pass of the event loop, as the thread worker's
        queued signals are.
        """
        child = self._child
        if child is None or self._ended:
            return True
        deadline = time.monotonic() + timeout_ms / 1000
        while child.process.is_alive() and time.monotonic() < deadline:
            try:
                if child.events.poll(0.05):
                    self._backlog.append(child.events.recv())
            except (EOFError, OSError):
                child.process.join(max(0.0, deadline - time.monotonic()))
                break
        return not child.process.is_alive()

    @property
    def running(self) -> bool:
        """Whether the child process is still at work."""
        return self._child is not None and not self._ended and self._child.process.is_alive()

    # ------------------------------------------------------------ control
    def _command(self, name: str) -> None:
        if self._child is not None and not self._ended and self._child.send(name):
            self._unacknowledged += 1

    def pause(self) -> None:
        self._paused = True
        self._command("pause")

    def resume(self) -> None:
        self._paused = False
        self._command("resume")

    def step(self) -> None:
        self._paused = False
        self._command("step")

    def stop(self) -> None:
        self._command("stop")

    @property
    def paused(self) -> bool:
        return self._paused

    def flush(self, wait: bool = True) -> None:
        """Handles the messages that have arrived from the child (at most one pass's worth)."""
        self._read()

    # ------------------------------------------------------------ events
    def _read(self, *_: Any, limit: int | None = MAX_MESSAGES_PER_PASS) -> None:
        child = self._child
        if child is None or self._ended or self._ending:
            return
        handled = 0
        while limit is None or handled < limit:
            try:
                if self._backlog:
                    message = self._backlog.pop(0)
                elif not child.events.poll():
                    return
                else:
                    message = child.events.recv()
            except (EOFError, OSError):
                self._child_gone()
                return
            except Exception as exc:  # noqa: BLE001 - a message that cannot be read: the child is not sane
                self.details = traceback.format_exc()
                child.process.kill()
                self._child_gone(f"a message from it could not be read ({type(exc).__name__}: {exc})")
                return
            handled += 1
            self._handle(message)
            if self._ended:
                return

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, args = message[0], message[1:]
        if kind == "iteration":
            batch = unpack_reports(args[0])
            self.iterations_reported += len(batch)
            self.batches_emitted += 1
            if len(args) > 1 and not self._unacknowledged:
                self._paused = bool(args[1])  # the child's word, unless a command is on its way
            self.iteration.emit(batch)
        elif kind == "boundary":
            self.boundary.emit(args[0])
        elif kind == "prepared":
            self.setup = args[0]
            self.prepared.emit(args[0])
        elif kind == "baselines":
            self.baselines.emit(args[0])
        elif kind == "job":
            self.job.emit(*args)
        elif kind == "ack":
            self._unacknowledged = max(0, self._unacknowledged - 1)
            if not self._unacknowledged and args[0] != "step":
                self._paused = bool(args[2])  # a step pauses with its iteration's batch
            self.acknowledged.emit(str(args[0]), int(args[1]))
        elif kind == "finished":
            self._outcome = True
            self.finished.emit(RunRecord.from_dict(args[0]))
        elif kind == "failed":
            self._outcome = True
            self.details = str(args[1])
            self.failed.emit(str(args[0]), str(args[1]))
        elif kind == "done":
            self.details = self.details or str(args[0])
            self._finish()

    def _child_gone(self, why: str | None = None) -> None:
        """The events pipe ended: a normal end after ``done``, otherwise a crash."""
        if self._ending:
            return
        self._ending = True  # the slots of ``crashed`` may flush: read nothing more
        child = self._child
        if child is not None:
            child.process.join(2.0)
        if not self._said_done and not self._outcome:
            reason = why or describe_exit(None if child is None else child.process.exitcode)
            self.crashed.emit(f"The training process ended unexpectedly: {reason}.")
        self._finish()

    def _finish(self) -> None:
        if self._ended:
            return
        self._ended = True
        self._said_done = True
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        if self._child is not None:
            self._child.release(timeout=5.0)
        self.done.emit()


if __name__ == "__main__":  # the child: python -m qmlstudio.gui.training_process EVENTS_FD COMMANDS_FD
    _child_main(Connection(int(sys.argv[1]), readable=False), Connection(int(sys.argv[2]), writable=False))
