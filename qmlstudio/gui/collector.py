"""Python's cyclic garbage collection runs on the GUI thread only, while a window is up.

Python collects reference cycles on whichever thread happens to allocate when its threshold is
crossed. A cycle holding a Qt wrapper (a closed window, a dialog, a view) collected on a worker
thread destroys the C++ object there: Qt's ``~QObject`` takes the signal-slot lock on that thread
and then waits for the GIL to ask the Python wrapper about overrides, while the GUI thread, holding
the GIL, waits for that lock in a ``disconnect``: a deadlock. It was seen in the test suite (a
report rendered on a worker imported matplotlib, whose allocations collected an earlier test's
window) and could freeze the application in the same way.

So while the GUI runs, automatic collection is off and a timer on the GUI thread collects instead:
pyqtgraph's :class:`~pyqtgraph.util.garbage_collector.GarbageCollector`, the recipe pyqtgraph
documents for this hazard (each generation is collected when its count passes Python's own
threshold, checked every second).
"""

from __future__ import annotations

import contextlib
import gc
from typing import Iterator

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from pyqtgraph.util.garbage_collector import GarbageCollector

__all__ = ["collect_on_gui_thread", "collection_paused", "restore_automatic_collection"]

_collector: GarbageCollector | None = None


def collect_on_gui_thread(interval_s: float = 1.0) -> GarbageCollector:
    """Turns automatic collection off and collects on a GUI-thread timer (once; call on the GUI thread)."""
    global _collector
    if _collector is None:
        _collector = GarbageCollector(interval=interval_s)
    return _collector


def restore_automatic_collection() -> None:
    """Stops the timer, collects once here (the GUI thread) and turns automatic collection back on."""
    global _collector
    if _collector is not None:
        _collector.timer.stop()
        _collector = None
    gc.collect()
    gc.enable()


@contextlib.contextmanager
def collection_paused() -> Iterator[None]:
    """Collects now, then no collection until the block ends (neither the timer's nor Python's):
    for a measurement of the event loop's answer times, which a full collection of a large heap
    would stall for tenths of a second."""
    timer = _collector.timer if _collector is not None else None
    automatic = gc.isenabled()
    gc.collect()
    gc.disable()
    if timer is not None:
        timer.stop()
    try:
        yield
    finally:
        if timer is not None and _collector is not None:
            timer.start()
        if automatic:
            gc.enable()
