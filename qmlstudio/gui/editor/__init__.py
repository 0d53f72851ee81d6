"""The drag-and-drop ansatz editor: palette, canvas (scene, items, view), drops and edits.

``CircuitEditor`` is the central widget (canvas + live figures) and performs every edit as
an undo command; ``GatePalette`` is the palette dock's content. The scene mirrors the
project's :class:`~qmlstudio.core.circuit.CircuitDesign` and follows its events.
"""

from qmlstudio.gui.editor.editor import CircuitEditor
from qmlstudio.gui.editor.mime import GATES_MIME, PALETTE_MIME, PaletteEntry, palette_mime, read_palette_mime
from qmlstudio.gui.editor.palette import GatePalette
from qmlstudio.gui.editor.scene import CanvasLayout, CircuitScene, GateItem
from qmlstudio.gui.editor.view import CircuitCanvas

__all__ = [
    "GATES_MIME",
    "PALETTE_MIME",
    "CanvasLayout",
    "CircuitCanvas",
    "CircuitEditor",
    "CircuitScene",
    "GateItem",
    "GatePalette",
    "PaletteEntry",
    "palette_mime",
    "read_palette_mime",
]
