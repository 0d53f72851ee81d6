"""The PySide6 desktop application: main window, editors, docks and Qt workers.

This is the only package that imports Qt or pyqtgraph. pyqtgraph picks its Qt binding at
import time and tries PyQt6 before PySide6, so this package binds PySide6 first: import
anything pyqtgraph-based through ``qmlstudio.gui``, never before it.
"""

import os

os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import PySide6.QtCore  # noqa: E402,F401  (must be imported before pyqtgraph)

from qmlstudio.core.circuit import standard_gate_classes  # noqa: E402

# qiskit builds some tables (the standard gates and their Parameters) lazily on first use.
# Doing that first on a worker thread while the GUI thread runs crashed the interpreter
# (segmentation fault, qiskit 2.6), so the GUI builds them here, on the main thread.
standard_gate_classes()
