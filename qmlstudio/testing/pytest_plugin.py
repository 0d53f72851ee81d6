"""pytest fixtures for testing QML Studio plugins (see :mod:`qmlstudio.testing`).

Loaded automatically through QML Studio's ``pytest11`` entry point once QML Studio is
installed; from a source checkout, ``from qmlstudio.testing.pytest_plugin import *`` in a
``conftest.py`` gives the same fixtures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

__all__ = ["qmlstudio_config_dir", "qmlstudio_plugin", "qmlstudio_train"]


@pytest.fixture
def qmlstudio_config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private, empty ``QMLSTUDIO_CONFIG_DIR`` for the test: the user's settings are never touched."""
    folder = tmp_path / "qmlstudio-config"
    monkeypatch.setenv("QMLSTUDIO_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def qmlstudio_plugin(qmlstudio_config_dir: Path) -> Iterator[Callable[..., Any]]:
    """``qmlstudio_plugin(plugin, name, builtins=True)``: a registry holding the built-ins and ``plugin``.

    Each registry's plugin is unregistered after the test (see
    :func:`qmlstudio.testing.plugin_registry`).
    """
    from contextlib import ExitStack

    from qmlstudio.testing import plugin_registry

    with ExitStack() as stack:
        yield lambda plugin, name, builtins=True: stack.enter_context(plugin_registry(plugin, name, builtins=builtins))


@pytest.fixture
def qmlstudio_train(qmlstudio_config_dir: Path) -> Callable[..., Any]:
    """``qmlstudio_train(registry, **choices)``: :func:`qmlstudio.testing.train_tiny_project`."""
    from qmlstudio.testing import train_tiny_project

    return train_tiny_project
