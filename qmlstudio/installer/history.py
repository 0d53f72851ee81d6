"""The installer's history: each change to the target environment, for rollbacks.

One JSON file per target environment (:func:`history_path`), written atomically; wheels
installed from files are kept next to it for offline rollbacks. Split from
:mod:`qmlstudio.installer`, which re-exports every name.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

from qmlstudio.core.settings import config_dir, environment_dir
from qmlstudio.core.storage import atomic_write_text
from qmlstudio.installer.environment import HISTORY_FILE, HISTORY_VERSION
from qmlstudio.installer.plans import Change

__all__ = ["History", "history_path"]


def history_path(prefix: str | os.PathLike[str] | None = None) -> Path:
    """Where the install history of the environment at ``prefix`` (default: this one) is kept."""
    return environment_dir(prefix) / HISTORY_FILE


def _inside(python: str, prefix: str) -> bool:
    try:
        return os.path.commonpath([os.path.abspath(python), os.path.abspath(prefix)]) == os.path.abspath(prefix)
    except ValueError:  # different drives
        return False


class History:
    """The changes made through QML Studio to one environment, newest last.

    By default the history of the environment at ``prefix`` (this one when ``None``), in
    ``environment_dir(prefix)/plugin-history.json``. Until that file exists, the history
    shared by every environment that QML Studio before version 1 of per-environment state
    kept in ``config_dir()/plugin-history.json`` is read for the changes made to this
    environment's interpreters (the file itself is left alone for the other environments).

    A file that cannot be read is set aside (``.bad``) rather than overwritten, and the
    history starts again empty; so is one written by a newer QML Studio (``.v<N>``), which
    that version can still read.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, prefix: str | os.PathLike[str] | None = None) -> None:
        self._path = Path(path) if path is not None else None
        self.prefix = os.fspath(prefix) if prefix is not None else sys.prefix

    @property
    def path(self) -> Path:
        return self._path if self._path is not None else history_path(self.prefix)

    def changes(self) -> list[Change]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return self._legacy_changes() if self._path is None else []
        except OSError:
            return []
        return self._parse(text, self.path)

    def _legacy_changes(self) -> list[Change]:
        legacy = config_dir() / HISTORY_FILE
        try:
            text = legacy.read_text(encoding="utf-8")
        except OSError:
            return []
        try:
            changes = [Change.from_dict(item) for item in json.loads(text)["changes"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            return []  # a broken shared file is another environment's business: never moved from here
        return [c for c in changes if _inside(c.python, self.prefix)]

    def _parse(self, text: str, path: Path) -> list[Change]:
        suffix = ".bad"
        try:
            data = json.loads(text)
            version = data.get("version")
            if isinstance(version, int) and version > HISTORY_VERSION:
                suffix = f".v{version}"
                raise ValueError(f"written by a newer QML Studio (version {version})")
            if version != HISTORY_VERSION:
                raise ValueError(f"unknown history version {version!r}")
            return [Change.from_dict(item) for item in data["changes"]]
        except (ValueError, KeyError, TypeError, AttributeError):
            try:
                os.replace(path, path.with_name(path.name + suffix))
            except OSError:
                pass
            return []

    def _save(self, changes: list[Change]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {"version": HISTORY_VERSION, "prefix": os.path.abspath(self.prefix),
                "changes": [asdict(c) for c in changes]}
        atomic_write_text(self.path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")

    def record(self, change: Change) -> Change:
        """Appends ``change`` (its ``id`` is assigned here) and, for a rollback, marks what it undid."""
        changes = self.changes()
        change.id = max((c.id for c in changes), default=0) + 1
        if change.undoes is not None and change.returncode == 0:
            for old in changes:
                if old.id == change.undoes:
                    old.rolled_back = True
        changes.append(change)
        self._save(changes)
        return change

    def last_undoable(self, python: str) -> Change | None:
        """The newest change to ``python``'s environment that is not a rollback and was not rolled back."""
        for change in reversed(self.changes()):
            if change.python != python or change.action == "rollback" or change.rolled_back:
                continue
            return change
        return None
