"""Test-wide set-up: Qt draws offscreen and no test touches the user's real settings.

Every QML Studio setting lives under ``$QMLSTUDIO_CONFIG_DIR`` (see
``qmlstudio.core.settings.config_dir``); it and ``$XDG_CONFIG_HOME`` point to a fresh
temporary folder for the whole run, and Qt's own QSettings are redirected there too. This
happens when the module is imported, before any test module imports QML Studio or
creates a QApplication.

Plugin autoloading is *not* turned off here: tests that need an isolated plugin manager set
``QMLSTUDIO_DISABLE_PLUGIN_AUTOLOAD`` themselves (with ``monkeypatch``), so the rest of the
suite checks the real entry points.
"""

from __future__ import annotations

import os
import shutil
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

_CONFIG_ROOT = tempfile.mkdtemp(prefix="qmlstudio-tests-")
os.environ["QMLSTUDIO_CONFIG_DIR"] = os.path.join(_CONFIG_ROOT, "qmlstudio")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_CONFIG_ROOT, "xdg")


def _redirect_qsettings() -> None:
    """Makes every default-constructed QSettings an INI file under the temporary folder."""
    try:
        from PySide6.QtCore import QSettings
    except ImportError:  # a headless environment without Qt still runs the core tests
        return
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, os.path.join(_CONFIG_ROOT, "qsettings"))


_redirect_qsettings()


def pytest_unconfigure(config: object) -> None:
    shutil.rmtree(_CONFIG_ROOT, ignore_errors=True)
