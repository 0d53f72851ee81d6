"""How long the window's in-process previews hold the GUI thread, against the 16 ms of one frame.

The state view simulates the model circuit for one sample on the GUI thread (up to its limit of
10 qubits); everything longer (training, analyses) runs in a child process, and the circuit's
transpiled figures and the dataset loading on the background pool. This script opens the real
main window (offscreen) on breast-cancer reduced to n principal components, angle encoding,
RealAmplitudes with 3 repetitions, for n = 2…10, and times ``StateView.recompute()``: what a
click on another sample or another weights choice costs. Prints the median and the worst of
30 calls per size next to the 16 ms budget.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/preview_latency.py [--repeats 30]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()

    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication([])
    from qmlstudio.gui import startup
    from qmlstudio.gui.main_window import MainWindow
    from qmlstudio.plugins.manager import load_plugins
    from qmlstudio.workflow import new_project

    registry = load_plugins()
    print(f"{'qubits':>6} {'weights':>8} {'median ms':>10} {'worst ms':>9}   budget 16 ms")
    for n in (2, 4, 6, 8, 10):
        project = new_project(registry, name=f"n{n}", dataset="breast-cancer", features=n,
                              ansatz_options={"reps": 3})
        window = MainWindow(project, registry=registry)
        window.show()
        deadline = time.monotonic() + 60
        # the data loads on the background pool and the simulator's loops on start-up: wait for both
        while time.monotonic() < deadline and (getattr(window.project_data, "data", None) is None
                                               or startup.when_simulator_ready(lambda: None)):
            app.processEvents()
            time.sleep(0.01)
        view = window.state_view
        view.recompute()  # once first: caches, compiled code
        times = []
        for i in range(args.repeats):
            view.sample.setValue(i % max(1, view.sample.maximum() + 1))
            started = time.perf_counter()
            view.recompute()
            times.append((time.perf_counter() - started) * 1000)
        assert view.probabilities is not None and len(view.probabilities) == 2**n
        print(f"{n:>6} {project.circuit.num_weights:>8} {statistics.median(times):>10.2f} {max(times):>9.2f}")
        window.close_without_asking = True
        window.close()
        app.processEvents()


if __name__ == "__main__":
    main()
