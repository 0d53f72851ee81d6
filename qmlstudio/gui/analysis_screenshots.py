"""Renders the screenshots of the analysis tools' results (``make screenshot`` runs it).

    python -m qmlstudio.gui.analysis_screenshots [FOLDER]

Writes ``analysis-barren-plateau.png``, ``analysis-encodings.png``, ``analysis-report.png``
and ``analysis-kernel.png`` into FOLDER (default ``docs/images``), offscreen.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence


def _wait_and_grab(app: Any, controller: Any, study: str, start: Callable[..., Any], out: Path, **kwargs: Any) -> None:
    done: list[str] = []
    controller.finished.connect(lambda name, _result: done.append(name))
    controller.failed.connect(lambda name, message: (print(f"{name} failed: {message}", file=sys.stderr), done.append(name)))
    start(**kwargs)
    began = time.monotonic()
    while not done and time.monotonic() - began < 300:
        app.processEvents()
        time.sleep(0.02)
    dock = controller.docks[study]
    dock.setFloating(True)
    dock.resize(1250, 600)
    for _ in range(30):
        app.processEvents()
        time.sleep(0.02)
    dock.grab().save(str(out / f"analysis-{study}.png"))
    print(f"wrote {out / f'analysis-{study}.png'}")


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    out = Path(args[0] if args else "docs/images")
    out.mkdir(parents=True, exist_ok=True)
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    os.environ.setdefault("QMLSTUDIO_CONFIG_DIR", tempfile.mkdtemp(prefix="qmlstudio-shot-"))
    from qmlstudio.core.project import Preprocessing
    from qmlstudio.gui.app import application
    from qmlstudio.gui.main_window import MainWindow
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import build_run, new_project

    app = application()
    registry = load_plugins()
    project = new_project(registry, name="Iris, efficient SU(2)", dataset="iris", encoding="angle",
                          ansatz="efficient-su2", ansatz_options={"reps": 2}, epochs=15, seed=7)
    window = MainWindow(project, registry=registry)
    window.close_without_asking = True
    window.resize(1400, 900)
    window.show()
    studies = window.analysis
    _wait_and_grab(app, studies, "barren-plateau", studies.barren_plateau, out, qubits="2-8", layers="2,20",
                   samples=200, template="hardware-efficient", heatmap=True)
    _wait_and_grab(app, studies, "encodings", studies.encodings, out,
                   encodings=["angle", "dense-angle", "zz-feature-map", "iqp", "amplitude"], epochs=15, keep_runs=True)
    project.add_run(build_run(project, registry).run())
    report = Path(tempfile.mkdtemp(prefix="qmlstudio-report-")) / "report.html"
    _wait_and_grab(app, studies, "report", studies.report, out, path=str(report))

    adhoc = new_project(registry, name="ad hoc", dataset="ad-hoc",
                        dataset_options={"training_size": 20, "test_size": 10, "seed": 0},
                        encoding="zz-feature-map", model="kernel", seed=0)
    adhoc.preprocessing = Preprocessing(scaling="none")
    second = MainWindow(adhoc, registry=registry)
    second.close_without_asking = True
    second.show()
    _wait_and_grab(app, second.analysis, "kernel", second.analysis.kernel, out)
    second.close()
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
