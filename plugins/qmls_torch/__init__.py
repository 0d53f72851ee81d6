"""PyTorch for QML Studio (optional: ``pip install qmlstudio[torch]``).

:mod:`qmls_torch.layer` makes the exact simulator a PyTorch layer: a
``torch.autograd.Function`` whose forward is one batched simulation and whose backward is
the engine's adjoint pullback (:class:`qmlstudio.core.quantum_layer.QuantumLayer`: the
gradient by the circuit's weights and by its inputs from one adjoint pass over the whole
batch, never per sample). :mod:`qmls_torch.hybrid` builds hybrid models on it: a classical
front, the quantum layer, a classical head, trained end to end with autograd.

Its plugin module (:mod:`qmls_torch.plugin`, the ``hybrid`` model kind) loads without torch;
the names below import torch when first used. Nothing else in QML Studio imports it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ClassicalStandIn", "HybridNet", "QuantumFunction", "QuantumTorchLayer", "ablation"]
_WHERE = {"ClassicalStandIn": "hybrid", "HybridNet": "hybrid", "ablation": "hybrid", "QuantumFunction": "layer",
          "QuantumTorchLayer": "layer"}


def __getattr__(name: str) -> Any:  # the names import torch only when used
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f"qmls_torch.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'qmls_torch' has no attribute {name!r}")
