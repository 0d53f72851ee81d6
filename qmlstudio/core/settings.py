"""User settings shared by the GUI and the CLI (which plugins are disabled, recent files...).

Stored as JSON in the user's config folder: ``$QMLSTUDIO_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/qmlstudio``, else ``~/.config/qmlstudio``. What belongs to one Python
environment rather than to the user (the plugin install history, cached plugin wheels)
lives in a folder of its own per environment, :func:`environment_dir`. Secrets never go here: IBM
tokens live in the operating system's keyring. Window geometry is the GUI's business
(QSettings) and is not kept in this file.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

SETTINGS_VERSION = 1


def config_dir() -> Path:
    """The folder holding QML Studio's settings, autosaves and logs."""
    explicit = os.environ.get("QMLSTUDIO_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "qmlstudio"


def environment_dir(prefix: str | os.PathLike[str] | None = None) -> Path:
    """The folder for state that belongs to the Python environment at ``prefix`` (default: this one).

    ``config_dir()/environments/<name>-<hash>``: the environment folder's name for people and
    a hash of its real path (``sys.prefix``), so two virtual environments never share an
    install history or a rollback.
    """
    real = os.path.normcase(os.path.realpath(os.fspath(prefix) if prefix is not None else sys.prefix))
    digest = hashlib.sha256(real.encode("utf-8")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(real).name).strip("._")[:40] or "env"
    return config_dir() / "environments" / f"{name}-{digest}"


@dataclass
class Settings:
    """What QML Studio remembers between sessions."""

    disabled_plugins: list[str] = field(default_factory=list)
    recent_files: list[str] = field(default_factory=list)
    settings_version: int = SETTINGS_VERSION

    @classmethod
    def path(cls) -> Path:
        return config_dir() / "settings.json"

    @classmethod
    def load(cls) -> "Settings":
        """The saved settings; a missing or unreadable file gives the defaults (never an error)."""
        try:
            data = json.loads(cls.path().read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        if not isinstance(data, dict):
            return cls()
        known = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        for key in ("disabled_plugins", "recent_files"):
            raw = data.get(key)
            if isinstance(raw, list) and all(isinstance(v, str) for v in raw):
                values[key] = raw
        return cls(**{k: v for k, v in values.items() if k in known})

    def save(self) -> None:
        from qmlstudio.core.storage import atomic_write_text

        path = self.path()
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(asdict(self), indent=2, ensure_ascii=False) + "\n")

    def add_recent(self, path: str, limit: int = 10) -> None:
        path = str(Path(path).resolve())
        self.recent_files = [path] + [p for p in self.recent_files if p != path][: limit - 1]
