"""Fixtures for GUI tests: a fresh settings folder per test, a sample project, a main window."""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Iterator

import pytest

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 before anything else imports it)
from qmlstudio.core.project import Project
from qmlstudio.gui.main_window import MainWindow
from qmlstudio.gui.screenshot import sample_project
from qmlstudio.plugins.manager import PluginRegistry, load_plugins


#: GUI tests wait on events and counts (qtbot.waitUntil / waitSignal); the timeouts written in
#: them are what an idle machine needs. A loaded CI machine (issue 23, defect 10: a 2-core
#: runner failed a run that needed 100 iterations in 15 s) may be many times slower, so every
#: such timeout is a generous upper bound: multiplied by this factor. A passing test never waits
#: longer for it: the wait ends as soon as the event or count is reached.
TIMEOUT_SCALE = float(os.environ.get("QMLSTUDIO_TEST_TIMEOUT_SCALE", "10"))


@pytest.fixture(scope="session", autouse=True)
def _themed(qapp: Any) -> None:
    """The application's theme, as ``qmlstudio gui`` applies it, before any test makes a widget:
    the tests see what the user sees, and a later ``run_gui`` need not re-polish every widget the
    session has made so far (seconds, by the end of the suite: gui/theme.py applies it once)."""
    from qmlstudio.gui.theme import apply_theme

    apply_theme(qapp)


@pytest.fixture(scope="session", autouse=True)
def _warm_training_process(_themed: None) -> Iterator[None]:
    """As the application does (gui/app.py): an idle training process waits for the next run,
    and each run's end starts the next one, so that Train does not wait for qiskit's import."""
    from qmlstudio.gui import training_process

    training_process.warm_up()
    yield
    training_process._keep_warm = False


@pytest.fixture(scope="module", autouse=True)
def _collect_on_the_gui_thread(qapp: Any) -> Iterator[None]:
    """As in the application: cycles are collected on the GUI thread only (see gui/collector.py).

    Without it, a test's old window collected on a background job's thread deadlocked the suite.
    Per module, so that the tests outside tests/gui keep Python's automatic collection.
    """
    from qmlstudio.gui.collector import collect_on_gui_thread, restore_automatic_collection

    collect_on_gui_thread()
    yield
    restore_automatic_collection()


@pytest.fixture
def qtbot(qtbot: Any) -> Any:
    """pytest-qt's qtbot whose waits on conditions and signals allow TIMEOUT_SCALE times longer.

    Waits made not to raise (``raising=False``: "did it happen within N ms?") keep their timeout,
    and so do plain ``qtbot.wait(ms)`` pauses, which wait for nothing in particular.
    """
    for name in ("waitUntil", "waitSignal", "waitSignals", "waitCallback"):
        original = getattr(qtbot, name)

        @functools.wraps(original)
        def scaled(*args: Any, _original: Any = original, timeout: int = 5000, **kwargs: Any) -> Any:
            if timeout and kwargs.get("raising") is not False:
                timeout = int(timeout * TIMEOUT_SCALE)
            return _original(*args, timeout=timeout, **kwargs)

        setattr(qtbot, name, scaled)
    return qtbot


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings folder of the test's own, so saved window layouts never leak between tests."""
    folder = tmp_path / "config"
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture(scope="session")
def registry() -> PluginRegistry:
    """The installed plugins (the built-in ones), loaded once for the whole run."""
    return load_plugins(disabled=[])


@pytest.fixture
def project() -> Project:
    """A saved-looking 4-qubit classifier project named "demo" (8 weights, 4 inputs)."""
    return sample_project()


@pytest.fixture
def window(qtbot, project: Project, registry: PluginRegistry) -> Iterator[MainWindow]:
    """The main window on :func:`project`, shown offscreen; closed without questions afterwards."""
    win = MainWindow(project, registry=registry)
    win.close_without_asking = True
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.close_without_asking = True


@pytest.fixture
def analysis_window(qtbot, registry: PluginRegistry) -> Iterator[tuple[MainWindow, Any]]:
    """A main window on a small moons project with the Analysis menu, and the menu's controller."""
    from qmlstudio.gui.analysis import install_analysis_menu
    from qmlstudio.workflow import new_project

    project = new_project(registry, name="moons", dataset="moons", dataset_options={"samples": 60}, epochs=2, seed=3)
    win = MainWindow(project, registry=registry)
    win.close_without_asking = True
    qtbot.addWidget(win)
    controller = install_analysis_menu(win)
    win.show()
    qtbot.waitExposed(win)
    yield win, controller
    controller.cancel()
    controller.wait()
