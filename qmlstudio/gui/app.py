"""Starting the desktop application: ``run_gui`` is what ``qmlstudio gui`` calls."""

from __future__ import annotations

import atexit
import os
import sys
import time
from pathlib import Path

from qmlstudio.gui import build_qiskit_tables, startup  # (binds pyqtgraph to PySide6 before anything imports it)
from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer
from PySide6.QtGui import QWindow
from PySide6.QtWidgets import QApplication, QWidget

import qmlstudio
from qmlstudio.gui.background import run_in_background
from qmlstudio.gui.main_window import APP_NAME, MainWindow, ProjectOpenError, new_project, open_project_file
from qmlstudio.gui.theme import apply_theme

#: Milliseconds after which the application quits by itself (tests, `make run` without display).
QUIT_AFTER_ENV = "QMLSTUDIO_QUIT_AFTER_MS"
#: When set, the app prints ``qmlstudio-shown <unix time> <window id>`` on stderr when its window is
#: first exposed on screen, and ``qmlstudio-quit <unix time>`` when it has saved and is about to exit
#: (bench/startup_bench.py reads them).
TRACE_ENV = "QMLSTUDIO_TRACE_STARTUP"
#: The idle training process starts this long after the window is first on screen.
WARM_TRAINING_PROCESS_MS = 1500


class _FirstExposure(QObject):
    """Ends the start-up phase when the main window is first exposed (mapped and drawable).

    The deferred start-up work (:mod:`qmlstudio.gui.startup`) then runs; with
    ``$QMLSTUDIO_TRACE_STARTUP`` the moment is printed for bench/startup_bench.py.
    """

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        handle = window.windowHandle()
        assert handle is not None
        handle.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Expose and isinstance(watched, QWindow) and watched.isExposed():
            watched.removeEventFilter(self)
            if os.environ.get(TRACE_ENV):
                print(f"qmlstudio-shown {time.time():.6f} {int(self._window.winId())}", file=sys.stderr, flush=True)
            # After this exposure has been painted: the first frame is not held up by the deferred work.
            QTimer.singleShot(0, startup.window_shown)
        return False


def _simulator_loaded() -> None:
    """The simulator is loaded (on the GUI thread). What was made up to here (qiskit, numba's
    loops, the plugins: about 350,000 objects) stays for the session: frozen out of the cyclic
    collector, whose full pass over them stalls the GUI thread (gui/collector.py) for 0.2 s."""
    import gc

    gc.freeze()
    startup.simulator_ready()


def _load_simulator() -> None:
    from qmlstudio.workflow import warm_up

    warm_up()


def application() -> QApplication:
    """The QApplication, created with QML Studio's names if there is none yet."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_NAME)
    app.setApplicationVersion(qmlstudio.__version__)
    apply_theme(app)
    return app  # type: ignore[return-value]


def _quit_after_from_env() -> int | None:
    raw = os.environ.get(QUIT_AFTER_ENV, "").strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        print(f"qmlstudio: ignoring {QUIT_AFTER_ENV}={raw!r}: not a whole number of milliseconds", file=sys.stderr)
        return None
    return value if value >= 0 else None


def run_gui(project_path: str | os.PathLike[str] | None = None, quit_after_ms: int | None = None) -> int:
    """Opens the main window (on the project at ``project_path``, or a new one) and runs the app.

    A project that cannot be opened is reported in a message box and the window opens on
    a new project. With ``quit_after_ms`` (or ``$QMLSTUDIO_QUIT_AFTER_MS``) the app closes
    itself after that many milliseconds, which is how tests check that the window opens.
    Returns the application's exit code.
    """
    if quit_after_ms is None:
        quit_after_ms = _quit_after_from_env()
    app = application()
    from qmlstudio.gui.collector import collect_on_gui_thread

    collect_on_gui_thread()  # reference cycles holding widgets are never freed on a worker thread
    from qmlstudio.plugins.manager import load_plugins

    registry = load_plugins()  # once; every view gets this registry

    from qmlstudio.gui.recovery import offer_recovery

    project, error = offer_recovery(), None  # after a crash: the unsaved project and its runs
    if project is None and project_path is not None:
        try:
            project = open_project_file(project_path)
        except ProjectOpenError as exc:
            error = str(exc)
    startup.begin()  # what the first frame does not need waits until the window is on screen
    startup.when_shown(build_qiskit_tables)
    # The simulator's compiled loops take half a second to load: on a worker (once the window is on
    # screen); the state view waits for them rather than block the GUI thread in its first redraw.
    startup.simulator_loading()
    window = MainWindow(project if project is not None else new_project(), registry=registry)
    window.winId()  # creates the native window, so that its first exposure can be watched
    _FirstExposure(window)
    window.show()
    from qmlstudio.gui.debug_geometry import report_geometry_if_asked

    window.geometry_report = report_geometry_if_asked(window)  # scripts/gui-smoke.sh
    startup.when_shown(lambda: run_in_background(_load_simulator, lambda _ok, _value: _simulator_loaded()))
    if quit_after_ms is None:
        # One idle training process, started a moment after the window is up (once the
        # simulator's loops are loading), so that Train need not wait for qiskit's import.
        from qmlstudio.gui import training_process

        startup.when_shown(lambda: QTimer.singleShot(WARM_TRAINING_PROCESS_MS, training_process.warm_up))
    # Should the window never be exposed (minimised, a platform without expose events): go on anyway.
    QTimer.singleShot(3000, startup.window_shown)
    if error is not None:
        window.show_error("Cannot open project", error)
        window.statusBar().showMessage(f"Could not open {Path(project_path).name}; started a new project", 8000)

    if quit_after_ms is not None:
        def quit_now() -> None:
            window.close_without_asking = True
            window.close()
            app.quit()

        QTimer.singleShot(quit_after_ms, quit_now)
    code = app.exec()
    # Closing the last window posts a Quit event that may still be queued when exec() returns;
    # delivered later it would end the next event loop at once (a second window, a test's wait).
    QCoreApplication.removePostedEvents(app, QEvent.Type.Quit)
    startup.cancel()
    if os.environ.get(TRACE_ENV):
        print(f"qmlstudio-quit {time.time():.6f}", file=sys.stderr, flush=True)
    return code


def exit_now(code: int) -> None:
    """Ends the process right after the window has closed, without tearing everything down.

    By the time ``run_gui`` returns, everything the user made is settled: the window's
    ``closeEvent`` stopped a run and waited for it, asked about unsaved changes, removed or
    kept the autosave, and saved (and synced) the layout. What is left are the views' short
    background jobs (a transpile for the figures bar, a cost estimate, a data preview) whose
    results nobody will read, and the teardown of thousands of Qt objects and modules. An
    ordinary exit waits for both: PySide6's exit handler destroys the thread pools, which
    waits for their jobs, and ours waits for them too (0.5-3 s after Ctrl+Q, measured with
    bench/startup_bench.py). So the other exit handlers run (log files, the clipboard,
    temporary folders), those two do not, and the process ends with ``os._exit``. Only the
    ``qmlstudio gui`` command calls this; tests and scripts that call :func:`run_gui` get an
    ordinary return.
    """
    from PySide6 import QtCore

    from qmlstudio.gui.background import wait_for_background

    atexit.unregister(wait_for_background)
    qt_shutdown = getattr(QtCore, "__moduleShutdown", None)
    if qt_shutdown is not None:
        atexit.unregister(qt_shutdown)
    try:
        atexit._run_exitfuncs()  # noqa: SLF001 - the handlers an ordinary exit would run
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed stream must not keep the process alive
                pass
        os._exit(code)
