"""The gate palette: gates by family, the plugins' ansatz templates and encodings, with a search field.

Every entry is dragged onto the canvas as :data:`~qmlstudio.gui.editor.mime.PALETTE_MIME`
data, or double-clicked (or Enter) to add it where the editor would put it. Gate tiles are
drawn by :mod:`~qmlstudio.gui.editor.painting`, coloured by family like on the canvas.
"""

from __future__ import annotations

import html
import math
from typing import Any, Iterable

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFrame,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.circuit import GATE_GROUPS, GATES
from qmlstudio.gui.editor.mime import PALETTE_MIME, PaletteEntry, palette_mime
from qmlstudio.gui.editor.painting import block_pixmap, gate_pixmap

ENTRY_ROLE = Qt.ItemDataRole.UserRole
SEARCH_ROLE = Qt.ItemDataRole.UserRole + 1

GROUP_TITLES = {
    "single-qubit": "Single-qubit",
    "rotations": "Rotations",
    "two-qubit": "Two-qubit",
    "three-qubit": "Three-qubit",
    "template": "Ansatz templates",
    "encoding": "Encodings",
}


def gate_tooltip(name: str) -> str:
    gtype = GATES[name]
    qubits = f"{gtype.num_qubits} qubit{'s' if gtype.num_qubits > 1 else ''}"
    angles = ""
    if gtype.num_params:
        angles = f" · {gtype.num_params} angle{'s' if gtype.num_params > 1 else ''} (new trainable weight{'s' if gtype.num_params > 1 else ''} θ)"
    how = "Drag onto a wire (the first qubit); drag its handle to choose the others" if gtype.num_qubits > 1 \
        else "Drag onto a wire"
    return (f"<b>{html.escape(gtype.label)}</b> ({name}) — {html.escape(gtype.description)}<br>"
            f"{qubits}{angles}<br><i>{how}, or double-click to append it.</i>")


def spec_tooltip(spec: Any, kind: str) -> str:
    options = ", ".join(f"{o.label}: {o.default}" for o in getattr(spec, "options", ()))
    what = ("Inserted as editable gates on every qubit, grouped as one block with fresh weights θ."
            if kind == "template" else
            "Drop on the encoding block to make it the project's encoding, or on the wires to insert "
            "it as a re-uploading layer of data gates.")
    text = f"<b>{html.escape(spec.title)}</b> ({html.escape(spec.name)})<br>{html.escape(spec.description)}"
    if options:
        text += f"<br>Defaults: {html.escape(options)}"
    return text + f"<br><i>{what}</i>"


class PaletteList(QListWidget):
    """One palette section; dragging an item carries its :class:`PaletteEntry`."""

    def __init__(self, tiles: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("paletteList")
        self.tiles = tiles
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDefaultDropAction(Qt.DropAction.CopyAction)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        if tiles:
            self.setViewMode(QListView.ViewMode.IconMode)
            self.setFlow(QListView.Flow.LeftToRight)
            self.setWrapping(True)
            self.setResizeMode(QListView.ResizeMode.Adjust)
            # Static keeps the tiles in place, but QListView.setMovement also switches
            # dragging off: it is switched on again below, after the view mode is set.
            self.setMovement(QListView.Movement.Static)
            self.setIconSize(QSize(44, 36))
            self.setGridSize(QSize(50, 42))
            self.setSpacing(0)
        else:
            self.setIconSize(QSize(34, 28))
            self.setSpacing(1)
            self.setUniformItemSizes(True)
        self.setDragEnabled(True)

    def mimeTypes(self) -> list[str]:
        return [PALETTE_MIME]

    def startDrag(self, supportedActions: Qt.DropAction) -> None:
        # Copy only: a "move" drop would make the list remove the item from the palette.
        super().startDrag(Qt.DropAction.CopyAction)

    def mimeData(self, items: Iterable[QListWidgetItem]) -> QMimeData:  # type: ignore[override]
        items = list(items)
        entry: PaletteEntry = items[0].data(ENTRY_ROLE)
        return palette_mime(entry.kind, entry.name)

    def visible_count(self) -> int:
        return sum(1 for i in range(self.count()) if not self.item(i).isHidden())

    def fit_height(self) -> None:
        """Grows to show every visible item, so that only the palette as a whole scrolls."""
        count = self.visible_count()
        if self.tiles:
            per_row = max(1, (self.viewport().width() or self.width()) // self.gridSize().width())
            rows = math.ceil(count / per_row)
            height = rows * self.gridSize().height() + 4
        else:
            row = self.sizeHintForRow(0) if self.count() else 30
            height = count * (row + 2 * self.spacing()) + 4
        self.setFixedHeight(max(height, 0))

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self.fit_height()


class GatePalette(QWidget):
    """Gates, templates and encodings to drag onto the circuit, filtered by a search field."""

    #: A palette entry was double-clicked (or Enter was pressed on it).
    activated = Signal(object)

    def __init__(self, registry: Any = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("gatePalette")
        self.search = QLineEdit()
        self.search.setObjectName("paletteSearch")
        self.search.setPlaceholderText("Search gates, templates, encodings…")
        self.search.setClearButtonEnabled(True)
        self.search.setToolTip("Filter the palette by name or description")
        self.search.textChanged.connect(self.filter)

        self._body = QWidget()
        self._body_layout = QVBoxLayout(self._body)
        self._body_layout.setContentsMargins(8, 0, 8, 8)
        self._body_layout.setSpacing(2)
        self.sections: dict[str, tuple[QLabel, PaletteList]] = {}
        self.empty_label = QLabel("Nothing matches.")
        self.empty_label.setProperty("role", "muted")
        self.empty_label.setVisible(False)

        scroll = QScrollArea()
        scroll.setObjectName("paletteScroll")
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(self._body)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 0, 0)
        layout.setSpacing(6)
        search_row = QVBoxLayout()
        search_row.setContentsMargins(0, 0, 8, 0)
        search_row.addWidget(self.search)
        layout.addLayout(search_row)
        layout.addWidget(scroll, 1)

        for group in GATE_GROUPS:
            section = self._section(group, tiles=True)
            for name, gtype in GATES.items():
                if gtype.group == group:
                    item = QListWidgetItem(QIcon(gate_pixmap(name)), "")
                    item.setData(ENTRY_ROLE, PaletteEntry("gate", name))
                    item.setData(SEARCH_ROLE, f"{name} {gtype.label} {gtype.description} {group}".lower())
                    item.setToolTip(gate_tooltip(name))
                    item.setSizeHint(QSize(50, 42))
                    section.addItem(item)
        self._section("template", tiles=False)
        self._section("encoding", tiles=False)
        self._body_layout.addWidget(self.empty_label)
        self._body_layout.addStretch(1)
        self.set_registry(registry)

    def _section(self, group: str, tiles: bool) -> PaletteList:
        label = QLabel(GROUP_TITLES[group].upper())
        label.setProperty("role", "section")
        items = PaletteList(tiles)
        items.setObjectName("paletteList")
        items.setAccessibleName(GROUP_TITLES[group])
        items.itemActivated.connect(lambda item: self.activated.emit(item.data(ENTRY_ROLE)))
        items.itemSelectionChanged.connect(lambda items=items: self._keep_one_selected(items))
        self._body_layout.addWidget(label)
        self._body_layout.addWidget(items)
        self.sections[group] = (label, items)
        return items

    def set_registry(self, registry: Any) -> None:
        """Lists the templates and encodings the plugins in ``registry`` provide."""
        for kind, table in (("template", getattr(registry, "ansatze", {}) if registry else {}),
                            ("encoding", getattr(registry, "encodings", {}) if registry else {})):
            items = self.sections[kind][1]
            items.clear()
            for name, spec in table.items():
                item = QListWidgetItem(QIcon(block_pixmap(kind)), spec.title)
                item.setData(ENTRY_ROLE, PaletteEntry(kind, name))
                item.setData(SEARCH_ROLE, f"{name} {spec.title} {spec.description} {kind}".lower())
                item.setToolTip(spec_tooltip(spec, kind))
                items.addItem(item)
        self.filter(self.search.text())

    def _keep_one_selected(self, chosen: PaletteList) -> None:
        """The palette is one list to the user: selecting in one section clears the others."""
        if not chosen.selectedItems():
            return
        for _, items in self.sections.values():
            if items is not chosen and (items.selectedItems() or items.currentItem() is not None):
                items.clearSelection()
                items.setCurrentItem(None)

    # --------------------------------------------------------------- queries
    def item_for(self, kind: str, name: str) -> QListWidgetItem | None:
        for _, items in self.sections.values():
            for i in range(items.count()):
                entry = items.item(i).data(ENTRY_ROLE)
                if entry == PaletteEntry(kind, name):
                    return items.item(i)
        return None

    def entries(self, visible_only: bool = False) -> list[PaletteEntry]:
        found = []
        for _, items in self.sections.values():
            for i in range(items.count()):
                if not visible_only or not items.item(i).isHidden():
                    found.append(items.item(i).data(ENTRY_ROLE))
        return found

    # ------------------------------------------------------------- filtering
    def filter(self, text: str) -> None:
        """Shows only entries whose name, label or description contains every word of ``text``."""
        words = text.lower().split()
        shown = 0
        for label, items in self.sections.values():
            for i in range(items.count()):
                item = items.item(i)
                haystack = item.data(SEARCH_ROLE) or ""
                item.setHidden(not all(w in haystack for w in words))
            count = items.visible_count()
            shown += count
            label.setVisible(count > 0)
            items.setVisible(count > 0)
            items.fit_height()
        self.empty_label.setVisible(shown == 0)
