"""PyTorch for QML Studio (optional: ``pip install qmlstudio[torch]``).

:mod:`qmls_torch.layer` makes the exact simulator a PyTorch layer: a
``torch.autograd.Function`` whose forward is one batched simulation and whose backward is
the engine's adjoint pullback (:class:`qmlstudio.core.quantum_layer.QuantumLayer`: the
gradient by the circuit's weights and by its inputs from one adjoint pass over the whole
batch, never per sample). :mod:`qmls_torch.hybrid` builds hybrid models on it: a classical
front, the quantum layer, a classical head, trained end to end with autograd.

Importing this package needs torch; nothing else in QML Studio imports it.
"""

from __future__ import annotations

from qmls_torch.hybrid import ClassicalStandIn, HybridNet, ablation
from qmls_torch.layer import QuantumFunction, QuantumTorchLayer

__all__ = ["ClassicalStandIn", "HybridNet", "QuantumFunction", "QuantumTorchLayer", "ablation"]
