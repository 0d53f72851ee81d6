"""Offering back the work of a QML Studio that crashed or was killed.

At start-up the application calls :func:`offer_recovery`: when
:func:`~qmlstudio.core.autosave.pending_recoveries` finds autosaves left by processes that
are gone, a :class:`RecoveryDialog` lists them, with the runs each one holds, and the user
recovers one (the project opens, marked unsaved, at its original path), discards them, or
decides later (they are offered again next time). :func:`recovery_offers` describes what the
dialog offers as plain data, without showing anything (tests and scripts use it).
"""

from __future__ import annotations

import os
from typing import Any, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMessageBox,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from qmlstudio.core.autosave import Recovery, pending_recoveries
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import Project

__all__ = ["RecoveryDialog", "describe_run", "offer_recovery", "recovery_offers"]


def _when(stamp: str) -> str:
    from datetime import datetime

    try:
        moment = datetime.fromisoformat(stamp[:-1] + "+00:00" if stamp.endswith("Z") else stamp).astimezone()
    except (ValueError, TypeError):
        return stamp or "?"
    return moment.strftime("%Y-%m-%d %H:%M")


def describe_run(run: dict[str, Any]) -> str:
    """One line for a run in a recovery offer: start, model, status, test score."""
    parts = [_when(str(run.get("started", "")))]
    model = {"vqc": "VQC", "regressor": "Regressor", "kernel": "Kernel SVM"}.get(run.get("model"), run.get("model"))
    if model:
        parts.append(str(model) + (f" · {run['ansatz']}" if run.get("ansatz") else ""))
    parts.append(str(run.get("status", "?")))
    if run.get("iterations"):
        count = int(run["iterations"])
        parts.append(f"{count:,} iteration{'' if count == 1 else 's'}")
    if run.get("test_accuracy") is not None:
        parts.append(f"test {float(run['test_accuracy']):.3f}")
    return " · ".join(parts)


def recovery_offers(directory: str | os.PathLike[str] | None = None) -> list[dict[str, Any]]:
    """What :func:`offer_recovery` would offer, as plain data (no dialog, no QApplication needed).

    One dict per recoverable project, newest first: ``name``, ``original_path``, ``saved``,
    ``num_runs``, ``completed_runs``, ``runs`` (one summary each, see
    :func:`~qmlstudio.core.autosave.run_summary`), ``original_is_newer`` and the
    ``recovery`` itself (its :meth:`~qmlstudio.core.autosave.Recovery.restore` opens it).
    """
    offers = []
    for recovery in pending_recoveries(directory):
        offers.append({
            "name": recovery.project_name,
            "original_path": recovery.original_path,
            "saved": recovery.saved,
            "num_runs": recovery.num_runs,
            "completed_runs": len(recovery.completed_runs),
            "runs": list(recovery.runs),
            "original_is_newer": recovery.original_is_newer(),
            "recovery": recovery,
        })
    return offers


class RecoveryDialog(QDialog):
    """Lists unsaved projects of a QML Studio that ended badly, and their runs, to recover one.

    After ``exec()``, :attr:`project` is the recovered project (None when the user chose
    not to recover). *Recover* opens the selected project, *Discard* deletes every listed
    autosave (after asking), *Later* keeps them for the next start.
    """

    def __init__(self, recoveries: Sequence[Recovery], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recoveryDialog")
        self.setWindowTitle("Recover unsaved work")
        self.recoveries = list(recoveries)
        self.project: Project | None = None
        self.recovered: Recovery | None = None

        heading = QLabel("<b>QML Studio did not close properly.</b>")
        text = QLabel(
            "These projects had unsaved changes, autosaved with the training runs completed before "
            "QML Studio ended. Recover one to open it as it was; save it to keep it."
        )
        text.setWordWrap(True)

        self.tree = QTreeWidget()
        self.tree.setObjectName("recoveryTree")
        self.tree.setColumnCount(3)
        self.tree.setHeaderLabels(["Project / run", "Autosaved", "Runs"])
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.header().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        for recovery in self.recoveries:
            where = recovery.original_path or "never saved"
            top = QTreeWidgetItem([recovery.project_name, _when(recovery.saved), str(recovery.num_runs)])
            top.setToolTip(0, f"{where}\nautosave: {recovery.project_file}")
            top.setData(0, Qt.ItemDataRole.UserRole, recovery.key)
            if recovery.original_is_newer():
                top.setToolTip(0, top.toolTip(0) + "\nThe file on disk was saved after this autosave.")
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            for run in recovery.runs:
                child = QTreeWidgetItem([describe_run(run), "", ""])
                child.setToolTip(0, str(run.get("message") or run.get("id", "")))
                child.setFlags(child.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                top.addChild(child)
            if not recovery.runs:
                child = QTreeWidgetItem(["no runs yet", "", ""])
                child.setFlags(child.flags() & ~Qt.ItemFlag.ItemIsSelectable)
                top.addChild(child)
            self.tree.addTopLevelItem(top)
            top.setExpanded(True)
            for i in range(top.childCount()):
                top.child(i).setFirstColumnSpanned(True)  # a run's line may use the whole width
        if self.recoveries:
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self.path_label = QLabel()
        self.path_label.setWordWrap(True)
        self.path_label.setStyleSheet("color: palette(dark);")
        self.tree.currentItemChanged.connect(self._on_current)

        buttons = QDialogButtonBox()
        self.recover_button = QPushButton("Recover")
        self.recover_button.setObjectName("recoverButton")
        self.recover_button.setDefault(True)
        self.recover_button.setToolTip("Open the selected project as it was autosaved")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setObjectName("discardButton")
        self.discard_button.setToolTip("Delete these autosaves for good")
        self.later_button = QPushButton("Later")
        self.later_button.setObjectName("laterButton")
        self.later_button.setToolTip("Keep the autosaves and ask again at the next start")
        buttons.addButton(self.recover_button, QDialogButtonBox.ButtonRole.AcceptRole)
        buttons.addButton(self.discard_button, QDialogButtonBox.ButtonRole.DestructiveRole)
        buttons.addButton(self.later_button, QDialogButtonBox.ButtonRole.RejectRole)
        self.recover_button.clicked.connect(self.recover_selected)
        self.discard_button.clicked.connect(self.discard_all)
        self.later_button.clicked.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(text)
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.path_label)
        layout.addWidget(buttons)
        self.resize(720, 380)
        self._on_current(self.tree.currentItem())

    def selected(self) -> Recovery | None:
        item = self.tree.currentItem()
        while item is not None and item.parent() is not None:
            item = item.parent()
        if item is None:
            return None
        key = item.data(0, Qt.ItemDataRole.UserRole)
        return next((r for r in self.recoveries if r.key == key), None)

    def _on_current(self, *_: Any) -> None:
        recovery = self.selected()
        self.recover_button.setEnabled(recovery is not None)
        if recovery is None:
            self.path_label.setText("")
            return
        where = recovery.original_path or "a project that was never saved"
        note = " The file on disk is newer than this autosave." if recovery.original_is_newer() else ""
        self.path_label.setText(f"From {where}.{note}")

    def recover_selected(self) -> None:
        """Opens the selected autosave; on success the dialog is accepted."""
        recovery = self.selected()
        if recovery is None:
            return
        try:
            project = recovery.restore()
        except (QMLStudioError, OSError) as exc:
            QMessageBox.warning(self, "Cannot recover", f"The autosave of {recovery.project_name} cannot be read:\n{exc}")
            return
        self.project = project
        self.recovered = recovery
        self.accept()

    def discard_all(self, confirm: bool = True) -> None:
        """Deletes every listed autosave (after asking, unless ``confirm`` is False)."""
        if confirm:
            answer = QMessageBox.question(
                self, "Discard autosaves",
                f"Delete the autosaved work of {len(self.recoveries)} project(s)? This cannot be undone.",
                QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
                QMessageBox.StandardButton.Cancel,
            )
            if answer != QMessageBox.StandardButton.Discard:
                return
        for recovery in self.recoveries:
            recovery.discard()
        self.project = None
        self.reject()


def offer_recovery(parent: QWidget | None = None, directory: str | os.PathLike[str] | None = None) -> Project | None:
    """Shows the :class:`RecoveryDialog` when there is anything to recover; the chosen project or None.

    Call it at start-up, before opening the project given on the command line. Returns at
    once (None, no dialog) when there is nothing to recover.
    """
    recoveries = pending_recoveries(directory)
    if not recoveries:
        return None
    dialog = RecoveryDialog(recoveries, parent)
    dialog.exec()
    return dialog.project
