"""The dataset panel's import actions: the Import menu that any plugin's importer fills.

Each :class:`~qmlstudio.plugins.descriptors.ImporterSpec` of the registry (the built-in CSV
table, or a third-party plugin's format) becomes one entry of the menu. An importer with a
table ``preview`` opens the table dialog (:class:`~qmlstudio.gui.csv_import.CsvImportDialog`,
columns and missing values); any other opens a file dialog with the importer's filter and
hands the file to its Qt-free ``factory(path)``, which returns the dataset's options. The
chosen dataset becomes the project's through one undoable edit of the panel; a file the
importer refuses shows its message in the panel, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QFileDialog, QMenu, QToolButton, QWidget

from qmlstudio.core.project import PluginChoice


class ImportMenu(QToolButton):
    """"Import…" with one menu entry per importer plugin (object names ``importButton``, ``importMenu``)."""

    def __init__(self, panel: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panel = panel
        self.setObjectName("importButton")
        self.setText("Import…")
        self.setToolTip("Import a file as the dataset (formats come from the installed plugins)")
        self.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu_ = QMenu(self)
        self.menu_.setObjectName("importMenu")
        self.menu_.setToolTipsVisible(True)
        self.setMenu(self.menu_)
        self.refresh()

    def refresh(self) -> None:
        """Lists the registry's importers again (after plugins were enabled or disabled)."""
        self.menu_.clear()
        for name, spec in self.panel.registry.importers.items():
            action = self.menu_.addAction(spec.title)
            action.setObjectName(f"import-{name}")
            action.setData(name)
            action.setToolTip(spec.description or spec.title)
            action.triggered.connect(lambda _checked=False, n=name: run_importer(self.panel, n))
        self.setEnabled(bool(self.menu_.actions()))

    def action(self, name: str) -> Any:
        """The menu entry of importer ``name`` (None when no plugin provides it)."""
        return next((a for a in self.menu_.actions() if a.data() == name), None)


def run_importer(panel: Any, name: str) -> None:
    """Runs importer ``name``: its dialog, then its choice becomes the project's dataset."""
    spec = panel.registry.importers.get(name)
    if spec is None:
        panel._show_error(f"no plugin provides the importer {name!r}")
        return
    if spec.preview is not None:
        from qmlstudio.gui.csv_import import CsvImportDialog

        current = panel.project.dataset if panel.project.dataset.name == spec.dataset else None
        dialog = CsvImportDialog(panel.registry, panel, choice=current, importer=spec)
        if dialog.exec() and dialog.choice() is not None:
            panel.use_dataset(dialog.choice(), f"Import: {spec.title.rstrip('…')}")
        return
    start = str(panel.project.dataset.options.get("path") or Path.home())
    path, _ = QFileDialog.getOpenFileName(panel, spec.title.rstrip("…"), start, spec.file_filter)
    if not path:
        return
    try:
        options = spec.read(path)
        panel.registry.get("datasets", spec.dataset).resolve(options)
    except Exception as exc:  # noqa: BLE001 - a refused file is shown, never raised
        panel._show_error(f"{Path(path).name}: {exc}")
        return
    panel.use_dataset(PluginChoice(spec.dataset, options), f"Import: {spec.title.rstrip('…')}")
