"""Running slow data work (reading a CSV, IDX files, a folder of images) off the GUI thread.

A :class:`BackgroundRunner` runs one function at a time on a thread of its own pool and
hands back, on the GUI thread, the answer to the latest request only: a request made while
another is still waiting replaces it, and an answer that is no longer wanted is dropped.
So views can ask again on every change and never show stale data.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, Signal

from qmlstudio.gui import build_qiskit_tables, startup

log = logging.getLogger(__name__)


class _Relay(QObject):
    """Carries a job's answer from the worker thread to the GUI thread (a queued signal)."""

    answered = Signal(int, bool, object)  # ticket, succeeded, result or exception


class BackgroundRunner(QObject):
    """Runs functions in a worker thread, one at a time; only the latest answer counts.

    ``submit(fn)`` queues ``fn`` (called with no arguments in the worker thread). When the
    latest submitted function returns, :attr:`finished` carries its result; when it raises,
    :attr:`failed` carries the exception. Functions queued before it are skipped if they
    have not started, and their answers are ignored if they have. :attr:`busy_changed`
    says when work starts and when all of it has ended.
    """

    finished = Signal(object)
    failed = Signal(object)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # The pool is created first, so it is destroyed (and waits for its thread) first.
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(1)
        self._relay = _Relay(self)
        self._relay.answered.connect(self._on_answer)
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
        relay = self._relay
        current = lambda: self._ticket  # noqa: E731  (read in the worker: an int read is atomic)

        def job() -> None:
            if ticket != current():
                relay.answered.emit(ticket, False, None)  # overtaken before it started
                return
            try:
                result = fn()
            except MemoryError:
                relay.answered.emit(ticket, False, MemoryError("not enough memory for this data"))
            except Exception as exc:  # every failure becomes a message, never a crash
                log.debug("background work failed:\n%s", traceback.format_exc())
                relay.answered.emit(ticket, False, exc)
            else:
                relay.answered.emit(ticket, True, result)

        self._pending += 1
        if self._pending == 1:
            self.busy_changed.emit(True)
        pool = self._pool

        def start() -> None:
            if shiboken6.isValid(pool):
                build_qiskit_tables()  # before any worker thread can touch qiskit
                pool.start(job)

        startup.when_shown(start)  # during start-up, once the window is on screen
        return ticket

    def cancel(self) -> None:
        """Forgets every request made so far: none of their answers will be delivered."""
        self._ticket += 1

    def wait(self, msecs: int = -1) -> bool:
        """Blocks until the worker is idle (for tests and shutdown); True if it is."""
        return self._pool.waitForDone(msecs)

    def _on_answer(self, ticket: int, succeeded: bool, payload: Any) -> None:
        self._pending = max(0, self._pending - 1)
        if ticket == self._ticket:
            if succeeded:
                self.finished.emit(payload)
            elif payload is not None:
                self.failed.emit(payload)
        if self._pending == 0:
            self.busy_changed.emit(False)


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
