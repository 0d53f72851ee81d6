"""Short background jobs for views (a transpile, loading a dataset) on a Qt thread pool.

``run_in_background(fn, callback, context)`` runs ``fn()`` on a worker thread of a small
pool of QML Studio's own and calls ``callback(ok, value)`` on the GUI thread afterwards:
``ok`` is True with ``fn``'s result, or False with a one-line message when it raised.
The callback is skipped when ``context`` (the widget that asked) no longer exists, so a
view that is closed while its job runs is never called back. Long work with progress and
cancellation (training) has its own workers; these jobs are for a second or less.
"""

from __future__ import annotations

import atexit
from typing import Any, Callable

import shiboken6
from PySide6.QtCore import QObject, QThreadPool, Signal, Slot

from qmlstudio.gui import build_qiskit_tables, startup

_pool: QThreadPool | None = None
_live: set["_Relay"] = set()


def background_pool() -> QThreadPool:
    """The pool the views' jobs run on (two threads: a slow transpile never blocks a data load)."""
    global _pool
    if _pool is None:
        _pool = QThreadPool()
        _pool.setMaxThreadCount(2)
        _pool.setExpiryTimeout(10_000)
        atexit.register(wait_for_background, 10_000)
    return _pool


def wait_for_background(msecs: int = 5000) -> bool:
    """Waits until every queued job has finished (at exit, and in tests); True when they have."""
    if _pool is None:
        return True
    return _pool.waitForDone(msecs)


class _Relay(QObject):
    """Carries one job's result from the worker thread to the GUI thread (a queued signal)."""

    done = Signal(bool, object)

    def __init__(self, callback: Callable[[bool, Any], None], context: QObject | None) -> None:
        super().__init__()
        self._callback = callback
        self._context = context
        self.done.connect(self._deliver)

    @Slot(bool, object)
    def _deliver(self, ok: bool, value: Any) -> None:
        _live.discard(self)
        self.deleteLater()
        if self._context is not None and not shiboken6.isValid(self._context):
            return
        self._callback(ok, value)


def run_in_background(fn: Callable[[], Any], callback: Callable[[bool, Any], None], context: QObject | None = None) -> None:
    """Runs ``fn`` on a worker thread and ``callback(ok, value)`` on the GUI thread when it is done."""
    relay = _Relay(callback, context)
    _live.add(relay)

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
