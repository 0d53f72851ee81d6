"""Starting the desktop application: ``run_gui`` is what ``qmlstudio gui`` calls."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 before anything imports it)
from PySide6.QtCore import QCoreApplication, QEvent, QTimer
from PySide6.QtWidgets import QApplication

import qmlstudio
from qmlstudio.gui.main_window import APP_NAME, MainWindow, ProjectOpenError, new_project, open_project_file
from qmlstudio.gui.theme import apply_theme

#: Milliseconds after which the application quits by itself (tests, `make run` without display).
QUIT_AFTER_ENV = "QMLSTUDIO_QUIT_AFTER_MS"


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
    from qmlstudio.plugins.manager import load_plugins

    registry = load_plugins()  # once; every view gets this registry

    from qmlstudio.gui.recovery import offer_recovery

    project, error = offer_recovery(), None  # after a crash: the unsaved project and its runs
    if project is None and project_path is not None:
        try:
            project = open_project_file(project_path)
        except ProjectOpenError as exc:
            error = str(exc)
    window = MainWindow(project if project is not None else new_project(), registry=registry)
    window.show()
    from qmlstudio.gui.debug_geometry import report_geometry_if_asked

    window.geometry_report = report_geometry_if_asked(window)  # scripts/gui-smoke.sh
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
    return code
