"""``python -m qmlstudio.gui.training_dock [--screenshot OUT.png] [PROJECT]``: the dock on its own.

With ``--screenshot`` it trains the demo project, pauses half-way and writes the dock to a PNG.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Callable, Sequence

from PySide6.QtWidgets import (
    QApplication,
)

import qmlstudio.gui  # noqa: F401  (binds pyqtgraph to PySide6 first)
from qmlstudio.gui.training_dock import TrainingDock
from qmlstudio.gui.training_runs import _last
from qmlstudio.gui.training_state import IDLE, PAUSED


def _settle(app: QApplication, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def _wait(app: QApplication, condition: Callable[[], bool], timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        app.processEvents()
        if condition():
            return True
        time.sleep(0.005)
    return False


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m qmlstudio.gui.training_dock [--screenshot OUT.png] [PROJECT]``."""
    import argparse
    import dataclasses
    import os
    import tempfile

    parser = argparse.ArgumentParser(prog="python -m qmlstudio.gui.training_dock",
                                     description="The training dock on its own, on a project (the demo by default).")
    parser.add_argument("project", nargs="?", help="a .qmls project (default: resources/demo.qmls)")
    parser.add_argument("--screenshot", metavar="PNG", help="train, pause half-way, write the dock to PNG and quit")
    parser.add_argument("--size", default="1440x900", help="window size for the screenshot (WIDTHxHEIGHT)")
    parser.add_argument("--epochs", type=int, help="epochs of the screenshot's run (default: the project's)")
    args = parser.parse_args(argv)
    if args.screenshot:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        # Nothing the screenshot does may touch the user's settings or autosaves.
        os.environ["QMLSTUDIO_CONFIG_DIR"] = tempfile.mkdtemp(prefix="qmlstudio-shot-")
    from qmlstudio.core.project import load_project
    from qmlstudio.plugins.manager import load_plugins

    project_path = Path(args.project) if args.project else Path(__file__).resolve().parents[2] / "resources" / "demo.qmls"
    try:
        project = load_project(project_path)
    except Exception as exc:  # noqa: BLE001
        print(f"training_dock: {exc}", file=sys.stderr)
        return 1
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setStyle("Fusion")
    dock = TrainingDock(project, load_plugins(), autosave=not args.screenshot)
    dock.setWindowTitle(f"Training — {project.name}")
    width, _, height = args.size.partition("x")
    dock.resize(int(width), int(height))
    dock.show()
    if not args.screenshot:
        code = app.exec()
        dock.shutdown(discard_autosave=False)
        return code

    # An earlier, shorter run with a higher learning rate, for the runs list and the comparison.
    original = project.optimizer
    project.optimizer = dataclasses.replace(original, options={**original.options, "learning_rate": 0.01})
    dock.train(epochs=10)
    if not _wait(app, lambda: dock.state == IDLE and len(project.runs) == 1, 120):
        print("training_dock: the first run did not finish", file=sys.stderr)
        return 1
    project.optimizer = original
    first = project.runs[0]
    per_epoch = max(1, int(_last(first.metrics["iteration"]) or 1) // max(1, int(_last(first.metrics["epoch"]) or 1)))
    epochs = args.epochs or project.training.epochs
    half = max(1, epochs * per_epoch // 2)
    # A breakpoint half-way makes the picture the same every time.
    dock.train(epochs=epochs, pause_at=half)
    if not _wait(app, lambda: dock.state == PAUSED and (dock.live_curves is not None)
                 and (dock.live_curves.last("iteration") or 0) >= half, 120):
        print("training_dock: the run did not reach half-way", file=sys.stderr)
        return 1
    _settle(app, 0.8)
    pixmap = dock.grab()
    Path(args.screenshot).parent.mkdir(parents=True, exist_ok=True)
    ok = pixmap.save(args.screenshot, "PNG")
    dock.shutdown(discard_autosave=True)
    if not ok:
        print(f"training_dock: could not write {args.screenshot}", file=sys.stderr)
        return 1
    print(f"wrote {args.screenshot} ({pixmap.width()}×{pixmap.height()})")
    return 0
