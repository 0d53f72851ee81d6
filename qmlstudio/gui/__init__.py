"""The PySide6 desktop application: main window, editors, docks and Qt workers.

This is the only package that imports Qt or pyqtgraph. pyqtgraph picks its Qt binding at
import time and tries PyQt6 before PySide6, so this package binds PySide6 first: import
anything pyqtgraph-based through ``qmlstudio.gui``, never before it.
"""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import PySide6.QtCore  # noqa: E402,F401  (must be imported before pyqtgraph)



def build_qiskit_tables() -> None:
    """Builds qiskit's lazily made tables (the standard gates and their Parameters) on the GUI thread.

    Doing that first on a worker thread while the GUI thread runs crashed the interpreter
    (segmentation fault, qiskit 2.6). Importing qiskit costs about half a second, so the
    window does not wait for it: the application calls this right after its window is first
    on screen, and every place that starts a worker thread calls it first (it returns at
    once after the first call). Must be called on the main (GUI) thread.
    """
    from qmlstudio.core.circuit import standard_gate_classes

    standard_gate_classes()
