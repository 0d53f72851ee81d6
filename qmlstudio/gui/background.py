"""The one way the GUI runs work off its thread: :class:`Job`, with progress, partial results and cancel.

A :class:`Job` runs ``work(report)`` on a worker thread of a Qt thread pool. ``report`` is a
:class:`Report`: ``report(done, total, message)`` shows progress and returns True once the
user cancelled (the work should stop; core studies do when their progress callback says
so), ``report.partial(value)`` hands a partial result to the GUI, ``report.cancelled`` says
whether to stop. The job's signals arrive on the GUI thread: :attr:`Job.progressed`,
:attr:`Job.partial`, then :attr:`Job.succeeded` with the result or :attr:`Job.failed` with a
message (``"cancelled"`` after :meth:`Job.cancel`), then :attr:`Job.done`.

Three ways in:

- :func:`run_in_background` ``(fn, callback, context)``: a short view job (a transpile, a
  cost estimate) on the shared two-thread pool; ``callback(ok, value)`` on the GUI thread,
  skipped when ``context`` no longer exists (still a plain runnable, not a :class:`Job`:
  see its docstring).
- :class:`BackgroundRunner`: data loading, one request at a time, where only the latest
  answer counts (views ask again on every change and never show stale data).
- ``Job(work).start(long_pool())``: analyses that take minutes, with a progress bar and Cancel.

Qiskit's standard-gate table is built on the GUI thread before any job starts (see
DEVELOPERS.md). Training runs in its own process and does not use this module.
"""

from __future__ import annotations

import atexit
import logging
import threading
import traceback
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from qmlstudio.workflow import Cancelled
from qmlstudio.gui import build_qiskit_tables, startup

log = logging.getLogger(__name__)

__all__ = ["BackgroundRunner", "Job", "Report", "background_pool", "error_message", "long_pool",
           "run_in_background", "wait_for_background"]

_pools: dict[str, QThreadPool] = {}
_live: set["Job"] = set()


def _pool(name: str, threads: int) -> QThreadPool:
    if name not in _pools:
        pool = QThreadPool()
        pool.setMaxThreadCount(threads)
        pool.setExpiryTimeout(10_000)
        _pools[name] = pool
        if len(_pools) == 1:
            atexit.register(wait_for_background, 10_000)
    return _pools[name]


def background_pool() -> QThreadPool:
    """The pool of short view jobs (two threads: a slow transpile never blocks a data load)."""
    return _pool("short", 2)


def long_pool() -> QThreadPool:
    """The pool of long analyses (each study on a thread of its own, never queued behind view jobs)."""
    return _pool("long", 4)


def wait_for_background(msecs: int = 5000) -> bool:
    """Waits until every queued short job has finished (at exit, and in tests); True when they have."""
    pool = _pools.get("short")
    return True if pool is None else pool.waitForDone(msecs)


def error_message(exc: BaseException) -> str:
    """What to tell the user about ``exc``: our own errors as they are, others with their type."""
    from qmlstudio.core.errors import QMLStudioError

    if isinstance(exc, (QMLStudioError, MemoryError)):
        text = str(exc)
    elif isinstance(exc, OSError):
        text = exc.strerror or str(exc)
        if getattr(exc, "filename", None):
            text = f"{exc.filename}: {text}"
    else:  # a plugin raised something unexpected: say what, without a traceback
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text or "something went wrong"


class Report:
    """What the work function is handed: progress, partial results and the cancel flag."""

    def __init__(self, job: Job) -> None:
        self._job = job
        self._last: tuple[int, str] = (-1, "")

    @property
    def cancelled(self) -> bool:
        return self._job.cancel_event.is_set()

    def __call__(self, done: int, total: int, message: str = "") -> bool:
        """Shows progress (only changes are sent); returns True once the job was cancelled."""
        if (done, message) != self._last:
            self._last = (done, message)
            self._job._emit("progressed", int(done), int(max(total, 1)), str(message))
        return self.cancelled

    def partial(self, value: Any) -> None:
        """Hands a partial result to the GUI (a row of a table, a point of a curve)."""
        self._job._emit("partial", value)


class Job(QObject):
    """``work(report)`` on a worker thread; results, progress and failure as GUI-thread signals."""

    progressed = Signal(int, int, str)
    partial = Signal(object)
    succeeded = Signal(object)
    #: a message for people: ``"cancelled"``, a QML Studio error as it is, others with their type
    failed = Signal(str)
    #: with the exception itself (``None`` when cancelled), for callers that tell errors apart
    raised = Signal(object)
    done = Signal()
    #: worker thread → the job's own slot on the GUI thread (a queued connection: the job lives there)
    _from_worker = Signal(str, object)

    def __init__(self, work: Callable[[Report], Any], parent: QObject | None = None, *, controls: Any = None) -> None:
        super().__init__(parent)
        self._work = work
        self.cancel_event = threading.Event()
        self.finished_event = threading.Event()
        #: an object whose ``cancel()`` is called too (a run's controls, to stop it at once)
        self.controls = controls
        self.started = False
        self._from_worker.connect(self._relay)
        self.done.connect(self._release)

    @property
    def running(self) -> bool:
        return self.started and not self.finished_event.is_set()

    def cancel(self) -> None:
        """Asks the work to stop; :attr:`failed` then says ``"cancelled"``."""
        self.cancel_event.set()
        if self.controls is not None:
            self.controls.cancel()

    def wait(self, msecs: int = -1) -> bool:
        """Blocks until the work function has returned (tests, shutdown); True if it has."""
        return self.finished_event.wait(None if msecs < 0 else msecs / 1000)

    def start(self, pool: QThreadPool | None = None) -> Job:
        """Queues the work on ``pool`` (the short-job pool by default)."""
        build_qiskit_tables()  # before any worker thread can touch qiskit
        self.started = True
        _live.add(self)
        (pool or background_pool()).start(self._run)
        return self

    def _emit(self, name: str, *args: Any) -> None:
        """Called on the worker thread: the public signal is emitted on the GUI thread."""
        try:
            self._from_worker.emit(name, args)
        except RuntimeError:  # the job's owner was deleted meanwhile: nobody listens
            pass

    @Slot(str, object)
    def _relay(self, name: str, args: Any) -> None:
        getattr(self, name).emit(*args)

    def _run(self) -> None:
        try:
            result = self._work(Report(self))
        except Cancelled:
            self._finish(None, "cancelled", None)
        except MemoryError:
            self._finish(None, "not enough memory for this work", MemoryError("not enough memory for this work"))
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a crash
            log.debug("background work failed:\n%s", traceback.format_exc())
            self._finish(None, error_message(exc), exc)
        else:
            if self.cancel_event.is_set():
                self._finish(None, "cancelled", None)
            else:
                self._finish(result, None, None)

    def _finish(self, result: Any, message: str | None, exc: BaseException | None) -> None:
        self.finished_event.set()
        if message is None:
            self._emit("succeeded", result)
        else:
            self._emit("failed", message)
            self._emit("raised", exc)
        self._emit("done")

    @Slot()
    def _release(self) -> None:
        _live.discard(self)


class _Relay(QObject):
    """Carries one short job's answer from the worker thread to the GUI thread (a queued signal)."""

    done = Signal(bool, object)

    def __init__(self, callback: Callable[[bool, Any], None], context: QObject | None) -> None:
        super().__init__()
        self._callback = callback
        self._context = context
        self.done.connect(self._deliver)

    @Slot(bool, object)
    def _deliver(self, ok: bool, value: Any) -> None:
        _relays.discard(self)
        self.deleteLater()
        if self._context is not None and not shiboken6.isValid(self._context):
            return
        self._callback(ok, value)


_relays: set[_Relay] = set()


def run_in_background(fn: Callable[[], Any], callback: Callable[[bool, Any], None], context: QObject | None = None) -> None:
    """Runs ``fn`` on a worker thread and ``callback(ok, value)`` on the GUI thread when it is done.

    ``value`` is ``fn``'s result, or a one-line message (``"Type: message"``) when it raised.
    The lightest form of a job (no progress, no cancel): a bare runnable on the short-job
    pool. Built on :class:`Job`, the fast-quit test (test_rough_edges.py::
    test_the_gui_command_exits_at_once...) saw its start-up job start only after the quit;
    the cause is not yet found, so this stays a plain runnable for now.
    """
    relay = _Relay(callback, context)
    _relays.add(relay)

    def job() -> None:
        try:
            value: Any = fn()
            ok = True
        except Exception as exc:  # noqa: BLE001 - reported to the view, never raised on a worker
            ok, value = False, f"{type(exc).__name__}: {exc}".strip()
        relay.done.emit(ok, value)

    def start() -> None:
        build_qiskit_tables()  # before any worker thread can touch qiskit
        background_pool().start(job)

    startup.when_shown(start)  # during start-up, once the window is on screen


class BackgroundRunner(QObject):
    """Runs functions on a worker thread, one at a time; only the latest answer counts.

    ``submit(fn)`` queues ``fn`` (called with no arguments on the worker thread) as a
    :class:`Job`. When the latest submitted function returns, :attr:`finished` carries its
    result; when it raises, :attr:`failed` carries the exception. Functions queued before it
    are skipped if they have not started, and their answers are ignored if they have.
    :attr:`busy_changed` says when work starts and when all of it has ended.
    """

    finished = Signal(object)
    failed = Signal(object)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The pool is created first, so it is destroyed (and waits for its thread) first.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._ticket = 0
        self._pending = 0

    @property
    def busy(self) -> bool:
        """Whether some submitted work has not answered yet."""
        return self._pending > 0

    def submit(self, fn: Callable[[], Any]) -> int:
        """Queues ``fn``; returns its ticket (the latest ticket is the one whose answer counts)."""
        self._ticket += 1
        ticket = self._ticket
        current = lambda: self._ticket  # noqa: E731  (read in the worker: an int read is atomic)

        def work(report: Report) -> Any:
            if ticket != current():
                return None  # overtaken before it started: its answer is dropped
            return fn()

        job = Job(work)
        job.succeeded.connect(lambda result: self._on_answer(ticket, True, result))
        job.raised.connect(lambda exc: self._on_answer(ticket, False, exc))
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        pool = self._pool
        _live.add(job)

        def start() -> None:
            if shiboken6.isValid(pool):
                job.start(pool)
            else:
                _live.discard(job)

        startup.when_shown(start)  # during start-up, once the window is on screen
        return ticket

    def cancel(self) -> None:
        """Forgets every request made so far: none of their answers will be delivered."""
        self._ticket += 1

    def wait(self, msecs: int = -1) -> bool:
        """Blocks until the worker is idle (for tests and shutdown); True if it is."""
        return self._pool.waitForDone(msecs)

    def _on_answer(self, ticket: int, succeeded: bool, payload: Any) -> None:
        if not shiboken6.isValid(self):
            return
        self._pending = max(0, self._pending - 1)
        if ticket == self._ticket:
            if succeeded:
                self.finished.emit(payload)
            elif payload is not None:
                self.failed.emit(payload)
        if self._pending == 0:
            self.busy_changed.emit(False)
