"""Fixtures for GUI tests: a fresh settings folder per test, a sample project, a main window."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 before anything else imports it)
from qmlstudio.core.project import Project
from qmlstudio.gui.main_window import MainWindow
from qmlstudio.gui.screenshot import sample_project
from qmlstudio.plugins.manager import PluginRegistry, load_plugins


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
