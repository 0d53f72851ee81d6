"""The Plugins dialog's pip runner: one command line in a ``QProcess``, its output streamed.

:class:`PipProcess` runs the :class:`~qmlstudio.installer.Run` steps of an installer flow
without blocking the window: output lines arrive as signals, Cancel kills the process, and the
result goes back to the flow. Split from :mod:`qmlstudio.gui.plugin_manager_dialog`, which
re-exports it.
"""

from __future__ import annotations

import codecs
from typing import Any

from PySide6.QtCore import QObject, QProcess, QProcessEnvironment, Signal

from qmlstudio.installer import (
    Result,
    Run,
    process_environment,
)

__all__ = ["PipProcess"]


class PipProcess(QObject):
    """Runs one :class:`~qmlstudio.installer.Run` in a ``QProcess`` and reports its :class:`Result`.

    Output the flow does not parse is emitted as it arrives (``output``); stderr is always
    shown and also kept, for error messages.
    """

    output = Signal(str)
    finished = Signal(object)  # Result

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.process: QProcess | None = None
        self._run: Run | None = None
        self._stdout: list[str] = []
        self._stderr: list[str] = []
        self._decoders: dict[str, Any] = {}
        self._cancelled = False
        self._done = False

    @property
    def running(self) -> bool:
        return self.process is not None and not self._done

    def start(self, run: Run) -> None:
        self._run = run
        self._stdout, self._stderr = [], []
        self._decoders = {name: codecs.getincrementaldecoder("utf-8")("replace") for name in ("out", "err")}
        self._cancelled = self._done = False
        process = QProcess(self)
        environment = QProcessEnvironment()
        for key, value in process_environment().items():
            environment.insert(key, value)
        process.setProcessEnvironment(environment)
        process.setProgram(run.argv[0])
        process.setArguments(run.argv[1:])
        process.readyReadStandardOutput.connect(self._read_stdout)
        process.readyReadStandardError.connect(self._read_stderr)
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self.process = process
        process.start()

    def cancel(self) -> None:
        """Kills the process; the result says ``cancelled``."""
        if self.running and self.process is not None:
            self._cancelled = True
            self.process.kill()

    def _read_stdout(self) -> None:
        assert self.process is not None and self._run is not None
        text = self._decoders["out"].decode(bytes(self.process.readAllStandardOutput().data()))
        self._stdout.append(text)
        if not self._run.capture and text:
            self.output.emit(text)

    def _read_stderr(self) -> None:
        assert self.process is not None
        text = self._decoders["err"].decode(bytes(self.process.readAllStandardError().data()))
        self._stderr.append(text)
        if text:
            self.output.emit(text)

    def _finished(self, code: int, status: QProcess.ExitStatus) -> None:
        if self._done:
            return
        self._read_stdout()
        self._read_stderr()
        crashed = status == QProcess.ExitStatus.CrashExit
        self._report(Result(code if not crashed else -1, "".join(self._stdout), "".join(self._stderr), self._cancelled))

    def _error(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and not self._done:
            assert self.process is not None
            message = f"ERROR: could not start {self._run.argv[0] if self._run else 'pip'}: {self.process.errorString()}\n"
            self.output.emit(message)
            self._report(Result(127, "", message, self._cancelled))

    def _report(self, result: Result) -> None:
        self._done = True
        process, self.process = self.process, None
        if process is not None:
            process.deleteLater()
        self.finished.emit(result)
