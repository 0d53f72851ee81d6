"""Renders the main window (or the circuit editor alone) to a PNG without a display.

    python -m qmlstudio.gui.screenshot OUT.png [PROJECT]
    python -m qmlstudio.gui.screenshot --editor OUT.png
    python -m qmlstudio.gui.screenshot --training OUT.png PROJECT

Without a project the window shows a small sample classifier circuit. ``--editor`` renders
the circuit editor on a richer design: 4 qubits of iris data, the angle encoding block and
two layers of the efficient-SU(2) template. ``--training`` presses Train on the project
and takes the picture half-way through the run, paused, with the training dock raised.
``make screenshot`` regenerates
``docs/images/main-window.png`` (with the demo project) this way.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from qmlstudio.core.circuit import Gate

SIZE = (1400, 900)
EDITOR_SIZE = (1180, 430)


def sample_gates(num_qubits: int = 4, reps: int = 2) -> list[Gate]:
    """An angle-encoded variational classifier: H + RZ(2·x) per qubit, then ``reps`` × (RY layer, CX ladder)."""
    gates: list[Gate] = []
    for q in range(num_qubits):
        gates.append(Gate("h", (q,), (), 0, "encoding"))
        gates.append(Gate("rz", (q,), (f"2*x[{q}]",), 1, "encoding"))
    weight, column = 0, 2
    for _ in range(reps):
        for q in range(num_qubits):
            gates.append(Gate("ry", (q,), (f"θ[{weight}]",), column, "ansatz"))
            weight += 1
        column += 1
        for q in range(num_qubits - 1):
            gates.append(Gate("cx", (q, q + 1), (), column + q, "ansatz"))
        column += num_qubits - 1
    return gates


def sample_project() -> Any:
    """A new project named "demo" holding :func:`sample_gates`."""
    from qmlstudio.gui.main_window import new_project

    from dataclasses import replace

    project = new_project("demo")
    project.circuit.set_gates(sample_gates(), num_qubits=4)
    # The gates read x[0]..x[3]: the two features of moons are padded with zeros to four, so
    # that the sample trains (without it a run is refused: x[2] has no value).
    project.preprocessing = replace(project.preprocessing, padding=True)
    project.mark_saved()  # a sample, not an unsaved edit: no "*" in the title
    return project


def editor_project(registry: Any) -> Any:
    """The richer design of ``docs/images/editor.png``: iris on 4 qubits, angle encoding, efficient SU(2) × 2."""
    from qmlstudio.workflow import new_project

    project = new_project(registry, name="Iris, efficient SU(2)", dataset="iris", encoding="angle",
                          ansatz="efficient-su2", ansatz_options={"reps": 2, "entanglement": "reverse_linear"})
    project.mark_saved()
    return project


def _settle(app: Any, seconds: float, window: Any = None, limit: float = 60.0) -> None:
    """Processes events for a while, so that layouts and deferred redraws have happened.

    With ``window``, goes on (up to ``limit`` seconds) until its background work is done:
    the data loaded for the state view and the transpiled depth computed.
    """
    from qmlstudio.gui.background import wait_for_background

    start = time.monotonic()

    def busy() -> bool:
        if window is None:
            return False
        return window.project_data.loading or window.editor.figures.values["transpiled"].text() == "…"

    while time.monotonic() - start < seconds or (busy() and time.monotonic() - start < limit):
        app.processEvents()
        wait_for_background(20)
        time.sleep(0.01)


class _FreshSettings:
    """A settings folder of its own, so that the picture never depends on a saved window layout."""

    def __enter__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="qmlstudio-shot-")
        self._previous = os.environ.get("QMLSTUDIO_CONFIG_DIR")
        os.environ["QMLSTUDIO_CONFIG_DIR"] = self._folder.name

    def __exit__(self, *exc: Any) -> None:
        if self._previous is None:
            os.environ.pop("QMLSTUDIO_CONFIG_DIR", None)
        else:
            os.environ["QMLSTUDIO_CONFIG_DIR"] = self._previous
        self._folder.cleanup()


def _window(project: Any, registry: Any) -> Any:
    from qmlstudio.gui.main_window import MainWindow

    window = MainWindow(project, registry=registry)
    window.close_without_asking = True
    return window


def _save(widget: Any, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if not widget.grab().save(str(out), "PNG"):
        raise SystemExit(f"qmlstudio.gui.screenshot: cannot write {out}")
    return out


def save_screenshot(out: str | Path, project_path: str | Path | None = None, training: bool = False) -> Path:
    """Renders the main window at 1400×900 offscreen and writes it to ``out`` (PNG).

    With ``training`` the project is trained first and the picture taken half-way, paused.
    """
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from qmlstudio.gui.app import application
    from qmlstudio.gui.main_window import ProjectOpenError, open_project_file
    from qmlstudio.plugins.manager import load_plugins

    with _FreshSettings():
        app = application()
        registry = load_plugins()
        if project_path is not None:
            try:
                project = open_project_file(project_path)
            except ProjectOpenError as exc:
                raise SystemExit(f"qmlstudio.gui.screenshot: {exc}") from None
        else:
            project = sample_project()
        window = _window(project, registry)
        window.resize(*SIZE)
        window.show()
        _settle(app, 0.5)
        # Show the inspector on a trainable rotation, as a user exploring the circuit would.
        design = project.circuit
        rotations = [i for i, g in enumerate(design.gates) if g.params and g.params[0].kind == "weight"]
        if rotations:
            window.editor.scene.select_indices([rotations[min(2, len(rotations) - 1)]])
        # A small circuit a little larger, but never wider than the canvas.
        room = window.canvas.viewport().width() / max(1.0, window.editor.scene.sceneRect().width())
        window.canvas.set_zoom(max(0.6, min(1.25 if design.num_qubits <= 3 else 1.0, room)))
        window.canvas.horizontalScrollBar().setValue(0)
        window.canvas.verticalScrollBar().setValue(0)
        _settle(app, 1.0, window)
        if training:
            _train_half_way(app, window)
        window.statusBar().clearMessage()
        app.processEvents()
        written = _save(window, out)
        if training:
            window.training_dock.stop_and_wait()
        window.close()
    return written


def _train_half_way(app: Any, window: Any, limit: float = 120.0) -> None:
    """Presses Train and waits until the run pauses half-way (and its plots have caught up)."""
    from PySide6.QtCore import Qt

    dock = window.training_dock
    project = window.project
    batches = 1
    if project.training.batch_size:
        # a rough count of iterations per epoch, for the breakpoint in the middle
        samples = project.dataset.options.get("samples", 200)
        batches = max(1, -(-int(samples * (1 - project.preprocessing.test_size)) // project.training.batch_size))
    window.resizeDocks([window.docks["trainingDock"]], [520], Qt.Orientation.Vertical)
    dock.train(pause_at=max(1, project.training.epochs * batches // 2))
    start = time.monotonic()
    while window.run_state != "paused" and time.monotonic() - start < limit:
        app.processEvents()
        time.sleep(0.01)
    _settle(app, 1.5)


def save_editor_screenshot(out: str | Path) -> Path:
    """Renders the circuit editor (canvas and figures) on :func:`editor_project`."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from qmlstudio.gui.app import application
    from qmlstudio.plugins.manager import load_plugins

    with _FreshSettings():
        app = application()
        registry = load_plugins()
        window = _window(editor_project(registry), registry)
        window.resize(*SIZE)
        window.show()
        _settle(app, 0.5)
        editor = window.editor
        editor.setParent(None)  # render the editor on its own, at the size of the picture
        editor.resize(*EDITOR_SIZE)
        editor.show()
        scene = editor.scene
        cx = [i for i, g in enumerate(window.project.circuit.gates) if g.name == "cx"]
        if cx:
            scene.select_indices([cx[0]])
        _settle(app, 1.0, window)
        written = _save(editor, out)
        editor.close()
        editor.deleteLater()
        window.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    editor = bool(args) and args[0] == "--editor"
    training = bool(args) and args[0] == "--training"
    if editor or training:
        args = args[1:]
    if not 1 <= len(args) <= (1 if editor else 2) or args[0] in ("-h", "--help"):
        print("usage: python -m qmlstudio.gui.screenshot OUT.png [PROJECT]\n"
              "       python -m qmlstudio.gui.screenshot --editor OUT.png\n"
              "       python -m qmlstudio.gui.screenshot --training OUT.png PROJECT", file=sys.stderr)
        return 2
    if editor:
        out = save_editor_screenshot(args[0])
    else:
        out = save_screenshot(args[0], args[1] if len(args) == 2 else None, training=training)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
