"""Renders the main window to a PNG without a display, for the README and bug reports.

    python -m qmlstudio.gui.screenshot OUT.png [PROJECT]

Without a project the window shows a small sample classifier circuit. ``make screenshot``
regenerates ``docs/images/main-window.png`` this way.
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

    project = new_project("demo")
    project.circuit.set_gates(sample_gates(), num_qubits=4)
    project.mark_saved()  # a sample, not an unsaved edit: no "*" in the title
    return project


def _settle(app: Any, seconds: float) -> None:
    """Processes events for a while, so that layouts and deferred redraws have happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)


def save_screenshot(out: str | Path, project_path: str | Path | None = None) -> Path:
    """Renders the main window at 1400×900 offscreen and writes it to ``out`` (PNG)."""
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from qmlstudio.gui.app import application
    from qmlstudio.gui.main_window import MainWindow, ProjectOpenError, open_project_file

    with tempfile.TemporaryDirectory(prefix="qmlstudio-shot-") as config:
        # A fresh settings folder: the picture never depends on a saved window layout.
        previous = os.environ.get("QMLSTUDIO_CONFIG_DIR")
        os.environ["QMLSTUDIO_CONFIG_DIR"] = config
        try:
            app = application()
            if project_path is not None:
                try:
                    project = open_project_file(project_path)
                except ProjectOpenError as exc:
                    raise SystemExit(f"qmlstudio.gui.screenshot: {exc}") from None
            else:
                project = sample_project()
            window = MainWindow(project)
            window.resize(*SIZE)
            window.show()
            _settle(app, 0.4)
            window.statusBar().clearMessage()
            app.processEvents()
            out = Path(out)
            out.parent.mkdir(parents=True, exist_ok=True)
            if not window.grab().save(str(out), "PNG"):
                raise SystemExit(f"qmlstudio.gui.screenshot: cannot write {out}")
            window.close_without_asking = True
            window.close()
        finally:
            if previous is None:
                os.environ.pop("QMLSTUDIO_CONFIG_DIR", None)
            else:
                os.environ["QMLSTUDIO_CONFIG_DIR"] = previous
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not 1 <= len(args) <= 2 or args[0] in ("-h", "--help"):
        print("usage: python -m qmlstudio.gui.screenshot OUT.png [PROJECT]", file=sys.stderr)
        return 2
    out = save_screenshot(args[0], args[1] if len(args) == 2 else None)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
