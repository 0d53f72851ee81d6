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
import itertools
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


class _Desk(QObject):
    """Carries every job's messages from worker threads to the GUI thread (queued signals).

    One object for the life of the process, made on the GUI thread. Workers hold a job's ticket,
    its work function and its events, never the :class:`Job` (or a view's callback): so the last
    reference to a Qt object is never dropped on a worker thread, where Qt would destroy it
    (see :mod:`qmlstudio.gui.collector` for the deadlock that leads to).
    """

    message = Signal(int, str, object)
    answered = Signal(int, bool, object)

    def __init__(self) -> None:
        super().__init__()
        self.tickets = itertools.count(1)
        self.jobs: dict[int, Job] = {}
        self.waiting: dict[int, tuple[Callable[[bool, Any], None], QObject | None]] = {}
        self.message.connect(self._deliver)
        self.answered.connect(self._answer)

    @Slot(int, str, object)
    def _deliver(self, ticket: int, name: str, args: Any) -> None:
        job = self.jobs.pop(ticket, None) if name == "done" else self.jobs.get(ticket)
        if job is not None and shiboken6.isValid(job):
            getattr(job, name).emit(*args)

    @Slot(int, bool, object)
    def _answer(self, ticket: int, ok: bool, value: Any) -> None:
        callback, context = self.waiting.pop(ticket, (None, None))
        if callback is None or (context is not None and not shiboken6.isValid(context)):
            return
        callback(ok, value)


_desk: _Desk | None = None


def _the_desk() -> _Desk:
    global _desk
    if _desk is None:  # first asked for on the GUI thread (jobs are started there)
        _desk = _Desk()
    return _desk


class _Work:
    """What a worker thread holds of a job: plain Python, no Qt object but the desk's signal."""

    def __init__(self, ticket: int, work: Callable[[Report], Any], cancel_event: threading.Event,
                 finished_event: threading.Event) -> None:
        self.ticket = ticket
        self.work: Callable[[Report], Any] | None = work
        self.cancel_event = cancel_event
        self.finished_event = finished_event
        self.signal = _the_desk().message

    def emit(self, name: str, *args: Any) -> None:
        self.signal.emit(self.ticket, name, args)

    def run(self) -> None:
        work, self.work = self.work, None
        assert work is not None
        try:
            result = work(Report(self))
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
            self.emit("succeeded", result)
        else:
            self.emit("failed", message)
            self.emit("raised", exc)
        self.emit("done")


class Report:
    """What the work function is handed: progress, partial results and the cancel flag."""

    def __init__(self, work: _Work) -> None:
        self._work = work
        self._last: tuple[int, str] = (-1, "")

    @property
    def cancelled(self) -> bool:
        return self._work.cancel_event.is_set()

    def __call__(self, done: int, total: int, message: str = "") -> bool:
        """Shows progress (only changes are sent); returns True once the job was cancelled."""
        if (done, message) != self._last:
            self._last = (done, message)
            self._work.emit("progressed", int(done), int(max(total, 1)), str(message))
        return self.cancelled

    def partial(self, value: Any) -> None:
        """Hands a partial result to the GUI (a row of a table, a point of a curve)."""
        self._work.emit("partial", value)


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

    def __init__(self, work: Callable[[Report], Any], parent: QObject | None = None, *, controls: Any = None) -> None:
        super().__init__(parent)
        self._work: Callable[[Report], Any] | None = work
        self.cancel_event = threading.Event()
        self.finished_event = threading.Event()
        #: an object whose ``cancel()`` is called too (a run's controls, to stop it at once)
        self.controls = controls
        self.started = False

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
        """Queues the work on ``pool`` (the short-job pool by default).

        The desk keeps the job until its ``done`` has been delivered, on the GUI thread.
        """
        build_qiskit_tables()  # before any worker thread can touch qiskit
        work, self._work = self._work, None  # the worker holds the function, the job does not
        if work is None:
            raise RuntimeError("a job starts once")
        self.started = True
        desk = _the_desk()
        ticket = next(desk.tickets)
        desk.jobs[ticket] = self
        (pool or background_pool()).start(_Work(ticket, work, self.cancel_event, self.finished_event).run)
        return self


def run_in_background(fn: Callable[[], Any], callback: Callable[[bool, Any], None], context: QObject | None = None) -> None:
    """Runs ``fn`` on a worker thread and ``callback(ok, value)`` on the GUI thread when it is done.

    ``value`` is ``fn``'s result, or a one-line message (``"Type: message"``) when it raised.
    The lightest form of a job (no progress, no cancel): a bare runnable on the short-job
    pool. Built on :class:`Job`, the fast-quit test (test_rough_edges.py::
    test_the_gui_command_exits_at_once...) saw its start-up job start only after the quit;
    the cause is not yet found, so this stays a plain runnable for now.
    """
    desk = _the_desk()
    ticket = next(desk.tickets)
    desk.waiting[ticket] = (callback, context)
    answered = desk.answered

    def job() -> None:
        try:
            value: Any = fn()
            ok = True
        except Exception as exc:  # noqa: BLE001 - reported to the view, never raised on a worker
            ok, value = False, f"{type(exc).__name__}: {exc}".strip()
        answered.emit(ticket, ok, value)

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
        self._latest = [0]  # the ticket whose answer counts, as the worker reads it
        self._queued: set[Job] = set()  # jobs waiting for the window to be on screen
        self._pending = 0

    @property
    def busy(self) -> bool:
        """Whether some submitted work has not answered yet."""
        return self._pending > 0

    def submit(self, fn: Callable[[], Any]) -> int:
        """Queues ``fn``; returns its ticket (the latest ticket is the one whose answer counts)."""
        self._ticket += 1
        ticket = self._ticket
        latest = self._latest
        latest[0] = ticket

        def work(report: Report) -> Any:
            if ticket != latest[0]:  # read in the worker: an int read is atomic
                return None  # overtaken before it started: its answer is dropped
            return fn()

        job = Job(work)
        job.succeeded.connect(lambda result: self._on_answer(ticket, True, result))
        job.raised.connect(lambda exc: self._on_answer(ticket, False, exc))
        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        pool = self._pool
        self._queued.add(job)

        def start() -> None:
            self._queued.discard(job)
            if shiboken6.isValid(pool):
                job.start(pool)

        startup.when_shown(start)  # during start-up, once the window is on screen
        return ticket

    def cancel(self) -> None:
        """Forgets every request made so far: none of their answers will be delivered."""
        self._ticket += 1
        self._latest[0] = self._ticket

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
