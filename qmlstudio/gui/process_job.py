"""A long analysis in a child process, with the signals and controls of a :class:`~qmlstudio.gui.background.Job`.

:class:`ProcessJob` starts ``python -m qmlstudio.workflow.analyses`` (a fresh interpreter: fork
and exec at once, nothing of this process's Qt threads is inherited), hands it the study as plain
data (:mod:`qmlstudio.workflow.analyses` describes the protocol) and reads what it says on the
window's event loop (a ``QSocketNotifier`` on the pipe: no reader thread). Progress, the result
and failures come as the same signals a thread ``Job`` emits, so the Analysis menu's docks do not
know where their study ran. When the child dies without a word (a segmentation fault in native
code, ``os._exit`` in a plugin, the out-of-memory killer), ``failed`` says how it ended and the
window goes on.

A study runs on a thread instead (:func:`runs_here`) when a plugin exists only in this process's
memory (registered by a script or a test), since a child could not load it.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection
from typing import Any

from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Signal

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.gui.training_process import describe_exit

__all__ = ["ProcessJob", "runs_here"]

_jobs: list[ProcessJob] = []
#: how long a cancelled child may take to stop by itself before it is ended
CANCEL_GRACE_MS = 1000


def runs_here(registry: Any) -> bool:
    """Whether work with this registry must stay in this process: a plugin registered in memory.

    A child process rebuilds its registry from the installed entry points, so such a plugin
    would be missing there. Studies and training runs both ask here.
    """
    plugins = getattr(registry, "plugins", {}) or {}
    return any(getattr(info, "source", "") == "registered" and getattr(info, "status", "") != "disabled"
               for info in plugins.values())


class ProcessJob(QObject):
    """One study in a child process; the public signals of ``Job`` (``partial`` is never emitted)."""

    progressed = Signal(int, int, str)
    partial = Signal(object)
    succeeded = Signal(object)
    #: a message for people (``"cancelled"`` when cancelled)
    failed = Signal(str)
    #: an exception standing for the failure (``None`` when cancelled)
    raised = Signal(object)
    done = Signal()

    def __init__(self, spec: dict[str, Any], parent: QObject | None = None, *, disabled: Any = ()) -> None:
        super().__init__(parent)
        self.spec = spec
        self.disabled = sorted(disabled or ())
        self.finished_event = threading.Event()
        self.started = False
        self.pid: int | None = None
        #: the child's traceback when it failed (for a details box and logs)
        self.details = ""
        self._popen: subprocess.Popen | None = None
        self._events: Connection | None = None
        self._commands: Connection | None = None
        self._notifier: QSocketNotifier | None = None
        self._outcome: tuple[Any, str | None] | None = None
        self._cancelled = False

    # --------------------------------------------------------------- Job's interface
    @property
    def running(self) -> bool:
        return self.started and not self.finished_event.is_set()

    def start(self, pool: Any = None) -> ProcessJob:  # noqa: ARG002 - Job's signature; no pool here
        events_in, events_out = os.pipe()
        commands_in, commands_out = os.pipe()
        try:
            self._popen = subprocess.Popen(
                [sys.executable, "-m", "qmlstudio.workflow.analyses", str(events_out), str(commands_in)],
                pass_fds=(events_out, commands_in), stdin=subprocess.DEVNULL, close_fds=True)
        except OSError as exc:
            os.close(events_in)
            os.close(commands_out)
            self.started = True
            self._end(None, f"the analysis process could not start: {exc}")
            return self
        finally:
            os.close(events_out)  # only the child writes events: its death ends the pipe
            os.close(commands_in)
        self.started = True
        self.pid = self._popen.pid
        self._events = Connection(events_in, writable=False)
        self._commands = Connection(commands_out, readable=False)
        self._send("path", list(sys.path))
        self._send("job", self.spec, self.disabled)
        self._notifier = QSocketNotifier(events_in, QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._read)
        _jobs.append(self)
        return self

    def cancel(self) -> None:
        """Asks the study to stop; ``failed`` then says ``"cancelled"``.

        The child stops at its next progress report; one still busy a second later (a long
        step of native numerics) is ended: a cancelled study's partial result is not kept.
        """
        if self._cancelled or self.finished_event.is_set():
            return
        self._cancelled = True
        self._send("cancel")
        QTimer.singleShot(CANCEL_GRACE_MS, self, self.kill)

    def kill(self) -> None:
        """Ends the child at once (the window closes)."""
        if self._popen is not None and self._popen.poll() is None:
            self._popen.kill()

    def wait(self, msecs: int = -1) -> bool:
        """Reads the child's messages until the study has ended (True) or ``msecs`` passed."""
        deadline = None if msecs < 0 else time.monotonic() + msecs / 1000
        while not self.finished_event.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            events = self._events
            if events is None:
                break
            try:
                ready = events.poll(0.05 if left is None else min(0.05, left))
            except (OSError, ValueError):
                ready = True
            if ready:
                self._read()
        return self.finished_event.is_set()

    # ------------------------------------------------------------------ the pipes
    def _send(self, *message: Any) -> None:
        if self._commands is None:
            return
        try:
            self._commands.send(message)
        except (OSError, ValueError):
            pass  # the child is gone: its end is read from the events pipe

    def _read(self, *_: Any) -> None:
        events = self._events
        while events is not None and not self.finished_event.is_set():
            try:
                if not events.poll():
                    return
                message = events.recv()
            except (EOFError, OSError):
                self._child_gone()
                return
            except Exception as exc:  # noqa: BLE001 - a message that cannot be read: the child is not sane
                self.details = traceback.format_exc()
                self.kill()
                self._child_gone(f"a message from it could not be read ({type(exc).__name__}: {exc})")
                return
            self._handle(message)

    def _handle(self, message: tuple[Any, ...]) -> None:
        kind, args = message[0], message[1:]
        if kind == "progress":
            self.progressed.emit(int(args[0]), int(args[1]), str(args[2]))
        elif kind == "ready":
            self.pid = int(args[0])
        elif kind == "ok":
            self._outcome = (args[0], None)
        elif kind == "failed":
            self.details = str(args[1]) if len(args) > 1 else ""
            self._outcome = (None, str(args[0]))

    def _child_gone(self, why: str | None = None) -> None:
        """The events pipe ended: after the child's answer, the normal end; otherwise a crash."""
        if self._popen is not None:
            try:
                self._popen.wait(5.0)
            except subprocess.TimeoutExpired:
                self._popen.kill()
                self._popen.wait(1.0)
        if self._outcome is not None:
            self._end(*self._outcome)
        elif self._cancelled and why is None:
            self._end(None, "cancelled")
        else:
            reason = why or describe_exit(None if self._popen is None else self._popen.returncode)
            self._end(None, f"the analysis process ended unexpectedly: {reason}")

    def _end(self, result: Any, message: str | None) -> None:
        if self.finished_event.is_set():
            return
        self.finished_event.set()
        if self._notifier is not None:
            self._notifier.setEnabled(False)
            self._notifier.deleteLater()
            self._notifier = None
        for conn in (self._events, self._commands):
            if conn is not None:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001
                    pass
        self._events = self._commands = None
        if self in _jobs:
            _jobs.remove(self)
        if message is None:
            self.succeeded.emit(result)
        else:
            self.failed.emit(message)
            self.raised.emit(None if message == "cancelled" else QMLStudioError(message))
        self.done.emit()


@atexit.register
def _end_jobs() -> None:
    """At exit no study child outlives the window."""
    for job in list(_jobs):
        job.kill()
