"""Work that the application's start-up puts off until its window is on screen.

Importing qiskit, asking qiskit-aer for its devices or loading a dataset costs tenths of
a second each on a small machine; none of it is needed to draw the first window. While the
application starts (:func:`begin`), views hand such work to :func:`when_shown`, which keeps
it until the main window has been exposed for the first time (:func:`window_shown`) and then
runs it on the GUI thread, one job per event-loop turn so that the window stays responsive.
Outside that start-up phase (tests, scripts, widgets made later) :func:`when_shown` runs the
job at once: nothing changes for them.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Callable

from PySide6.QtCore import QTimer

log = logging.getLogger(__name__)

#: When set, ``qmlstudio-ready <unix time>`` is printed on stderr once the deferred work is done.
TRACE_ENV = "QMLSTUDIO_TRACE_STARTUP"

_pending: list[Callable[[], None]] | None = None


def begin() -> None:
    """Enters the start-up phase: from now until :func:`window_shown`, :func:`when_shown` defers."""
    global _pending
    if _pending is None:
        _pending = []


def deferring() -> bool:
    """True while the start-up phase lasts."""
    return _pending is not None


def when_shown(job: Callable[[], None]) -> None:
    """Runs ``job`` now, or, during start-up, on the GUI thread once the window is on screen."""
    if _pending is None:
        job()
    else:
        _pending.append(job)


def window_shown() -> None:
    """The main window is on screen: runs the deferred jobs (queued, one per event-loop turn)."""
    global _pending
    if _pending is None:
        return
    jobs, _pending = _pending, None
    _run_next(jobs)


_simulator_waiters: list[Callable[[], None]] | None = None


def simulator_loading() -> None:
    """The simulator's compiled loops are being loaded on a worker (see :func:`when_simulator_ready`)."""
    global _simulator_waiters
    if _simulator_waiters is None:
        _simulator_waiters = []


def simulator_ready() -> None:
    """The loops are loaded: runs what waited for them (on the GUI thread)."""
    global _simulator_waiters
    waiters, _simulator_waiters = (_simulator_waiters or []), None
    for job in waiters:
        try:
            job()
        except Exception:  # noqa: BLE001
            log.exception("work waiting for the simulator failed")


def when_simulator_ready(job: Callable[[], None]) -> bool:
    """False when the simulator is ready now; else keeps ``job`` for when it is and returns True.

    A view's first simulation on the GUI thread would otherwise wait for the worker that
    loads the compiled loops (Numba's locks) and freeze the window for half a second.
    """
    if _simulator_waiters is None:
        return False
    if job not in _simulator_waiters:
        _simulator_waiters.append(job)
    return True


def cancel() -> None:
    """Leaves the start-up phase without running what was deferred (the window closed first)."""
    global _pending, _simulator_waiters
    _pending = None
    _simulator_waiters = None


def _run_next(jobs: list[Callable[[], None]]) -> None:
    if not jobs:
        if os.environ.get(TRACE_ENV):
            print(f"qmlstudio-ready {time.time():.6f}", file=sys.stderr, flush=True)
        return
    job = jobs.pop(0)
    try:
        job()
    except Exception:  # noqa: BLE001 - one view's deferred work must not stop the others'
        log.exception("deferred start-up work failed")
    QTimer.singleShot(0, lambda: _run_next(jobs))
