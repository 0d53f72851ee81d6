"""Working around qiskit-aer's binding of parameterized controlled gates (Qiskit/qiskit-aer#2323).

The workaround lives in the engine (:mod:`qmlstudio.core.binding`), which applies it to
every backend's circuits and sampler; the Aer primitives of this plugin apply it too, so
that they are correct when used directly (scripts, the IBM plugin's local runs).
"""

from __future__ import annotations

from qmlstudio.core.binding import bindable_circuit, unbindable_gates

__all__ = ["bindable_circuit", "unbindable_gates"]
