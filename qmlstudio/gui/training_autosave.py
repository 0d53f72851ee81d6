"""The training dock's autosave glue: the project with every finished run, and every minute the run so far.

:class:`AutosaveGlue` is a mixin of :class:`~qmlstudio.gui.training_dock.TrainingDock`; the
autosaves are written by :class:`~qmlstudio.core.autosave.Autosaver` and offered back after a
crash by :mod:`qmlstudio.gui.recovery`.
"""

from __future__ import annotations

from typing import Any, Sequence

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.core.project import RunRecord


class AutosaveGlue:
    """Autosaves during and after runs (a mixin of TrainingDock)."""

    def _autosave(self, extra: Sequence[RunRecord] = ()) -> None:
        saver = self.autosaver
        if saver is None:
            return
        future = saver.save(extra, wait=False)

        def done(f: Any) -> None:
            # On the autosave thread: only a (queued) signal crosses back to the GUI.
            try:
                path = f.result()
            except Exception as exc:  # noqa: BLE001 - a full disk must not take the GUI down
                self.status_message.emit(f"Autosave failed: {exc}")
                return
            self.autosaved.emit(str(path))

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
