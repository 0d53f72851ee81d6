"""The training dock's autosave glue: the project with every finished run, and every minute the run so far.

:class:`AutosaveGlue` is a mixin of :class:`~qmlstudio.gui.training_dock.TrainingDock`; the
autosaves are written by :class:`~qmlstudio.core.autosave.Autosaver` and offered back after a
crash by :mod:`qmlstudio.gui.recovery`.
"""

from __future__ import annotations

from typing import Any, Sequence

from PySide6.QtCore import QObject, Signal, Slot

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.core.project import RunRecord


class _AutosaveRelay(QObject):
    """Carries an autosave's outcome from the autosave thread to the GUI thread.

    The dock's own signals, emitted on the autosave thread, could reach Python callables
    connected to them (the window's status bar) on that thread, and Qt's widgets and timers
    must never be touched there. This object lives on the GUI thread: its signal is queued
    to its own slot, which emits the dock's signals on the GUI thread.
    """

    outcome = Signal(bool, str)

    def __init__(self, dock: Any) -> None:
        super().__init__(dock)
        self._dock = dock
        self.outcome.connect(self._deliver)

    @Slot(bool, str)
    def _deliver(self, ok: bool, text: str) -> None:
        if ok:
            self._dock.autosaved.emit(text)
        else:
            self._dock.status_message.emit(f"Autosave failed: {text}")


class AutosaveGlue:
    """Autosaves during and after runs (a mixin of TrainingDock)."""

    def _autosave(self, extra: Sequence[RunRecord] = ()) -> None:
        saver = self.autosaver
        if saver is None:
            return
        relay = getattr(self, "_autosave_relay", None)
        if relay is None:
            relay = self._autosave_relay = _AutosaveRelay(self)
        future = saver.save(extra, wait=False)

        def done(f: Any) -> None:
            # On the autosave thread: only the relay's (queued) signal crosses back to the GUI.
            try:
                path = f.result()
                ok, text = True, str(path)
            except Exception as exc:  # noqa: BLE001 - a full disk must not take the GUI down
                ok, text = False, str(exc)
            try:
                relay.outcome.emit(ok, text)
            except RuntimeError:  # the dock (and its relay) went away meanwhile: nobody listens
                pass

        future.add_done_callback(done)

    def _autosave_during_run(self) -> None:
        """Every minute during a run: the project with the run so far, marked as interrupted."""
        partial = self._partial_record()
        self._autosave([partial] if partial is not None else [])

    def _partial_record(self) -> RunRecord | None:
        setup, live = self._setup, self._live
        if setup is None or live is None or live.rows == 0:
            return None
        iteration = live.last("iteration") or 0
        record = RunRecord(
            id=setup.run_id,
            status="stopped",
            message=f"interrupted after iteration {int(iteration):,}: QML Studio ended before the run finished",
            config=setup.config,
            metrics=live.metrics(),
            final_weights=[] if live.last_weights is None else [float(w) for w in live.last_weights],
            baselines=live.baselines,
        )
        return record

    def _on_about_to_quit(self) -> None:
        # The application quits with a run in progress: never leave a QThread running.
        self._halt(5_000)
