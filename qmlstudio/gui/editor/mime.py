"""What travels in a drag from the palette, and on the clipboard between editors.

A palette drag carries :data:`PALETTE_MIME` with JSON ``{"kind": "gate" | "template" |
"encoding", "name": ...}``. Copied gates carry :data:`GATES_MIME` with JSON
``{"gates": [gate.to_dict(), ...]}`` (columns relative to the first copied column), and a
readable text version for other applications.
"""

from __future__ import annotations

import atexit
import json
from dataclasses import dataclass
from typing import Sequence

from PySide6.QtCore import QMimeData
from PySide6.QtWidgets import QApplication

from qmlstudio.core.circuit import Gate, gate_from_dict
from qmlstudio.core.errors import QMLStudioError

PALETTE_MIME = "application/x-qmlstudio-gate"
GATES_MIME = "application/x-qmlstudio-gates"
KINDS = ("gate", "template", "encoding")


@dataclass(frozen=True)
class PaletteEntry:
    """One palette item: a gate (by name in GATES), an ansatz template or an encoding (by plugin name)."""

    kind: str
    name: str

    def to_json(self) -> bytes:
        return json.dumps({"kind": self.kind, "name": self.name}).encode("utf-8")


def palette_mime(kind: str, name: str) -> QMimeData:
    """The mime data a palette drag carries for one entry."""
    entry = PaletteEntry(kind, name)
    mime = QMimeData()
    mime.setData(PALETTE_MIME, entry.to_json())
    mime.setText(name)
    return mime


def read_palette_mime(mime: QMimeData | None) -> PaletteEntry | None:
    """The entry in ``mime``, or None when it carries none (or garbage from elsewhere)."""
    if mime is None or not mime.hasFormat(PALETTE_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(PALETTE_MIME).data()).decode("utf-8"))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    kind, name = data.get("kind"), data.get("name")
    if kind not in KINDS or not isinstance(name, str) or not name:
        return None
    return PaletteEntry(kind, name)


def gates_mime(gates: Sequence[Gate]) -> QMimeData:
    """Clipboard data for copied gates."""
    payload = {"gates": [g.to_dict() for g in gates]}
    mime = QMimeData()
    mime.setData(GATES_MIME, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
    mime.setText(json.dumps(payload, ensure_ascii=False, indent=1))
    return mime


def read_gates_mime(mime: QMimeData | None) -> list[Gate] | None:
    """The gates on the clipboard, or None when it holds no (readable) gates."""
    if mime is None or not mime.hasFormat(GATES_MIME):
        return None
    try:
        data = json.loads(bytes(mime.data(GATES_MIME).data()).decode("utf-8"))
        raw = data["gates"]
        if not isinstance(raw, list):
            return None
        return [gate_from_dict(g, f"clipboard gate {i}") for i, g in enumerate(raw)]
    except (ValueError, UnicodeDecodeError, KeyError, TypeError, QMLStudioError):
        return None


_release_registered = False


def put_on_clipboard(mime: QMimeData) -> None:
    """Puts ``mime`` on the application clipboard, and takes it off again when Python exits.

    A clipboard still holding mime data made in Python when the interpreter shuts down
    crashes PySide6 (the data is deleted twice), so copied gates are cleared at exit.
    """
    global _release_registered
    clipboard = QApplication.clipboard()
    if clipboard is None:
        return
    clipboard.setMimeData(mime)
    if not _release_registered:
        atexit.register(_release_clipboard)
        _release_registered = True


def _release_clipboard() -> None:
    if QApplication.instance() is None:
        return
    clipboard = QApplication.clipboard()
    data = clipboard.mimeData() if clipboard is not None else None
    if data is not None and data.hasFormat(GATES_MIME):
        clipboard.clear()
