"""The ``torch`` plugin's hooks: the ``hybrid`` model kind.

Loading this module never imports torch (it only looks for it), so that every start of QML
Studio stays fast; without torch the kind is listed as unavailable with how to install it.
"""

from __future__ import annotations

import importlib.util

from qmlstudio.core.options import Option
from qmlstudio.plugins import ModelSpec, hookimpl

INSTALL = "PyTorch is not installed: pip install 'qmlstudio[torch]' (or Plugins ▸ Install… torch)"


def torch_missing() -> str:
    """Why the hybrid kind cannot run here ("" when torch is importable)."""
    try:
        found = importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        found = False
    return "" if found else INSTALL


@hookimpl
def qmlstudio_models() -> list[ModelSpec]:
    return [
        ModelSpec(
            name="hybrid",
            title="Hybrid network (PyTorch)",
            factory="qmls_torch.kind:HybridKind",
            description="a classical front (linear layers, or convolutions for images) producing the encoding's inputs, the circuit with its "
            "readout (⟨Z_q⟩ of every qubit, the parity, or the basis-state probabilities), and a classical head, trained end to end with PyTorch (the project's optimizer, adam or sgd, as torch's); exact "
            "gradients by the adjoint method, one pass per batch. Its baselines include the ablation: the same "
            "front and head with the circuit replaced by a classical layer of its parameter count",
            unavailable=torch_missing(),
            options=(
                Option("front_hidden", "str", "", title="Front hidden sizes",
                       help="hidden layer widths of the front, e.g. '16' or '32,16' (empty: one linear layer)"),
                Option("front", "choice", "dense", choices=("dense", "conv"), title="Front",
                       help="dense: linear layers; conv: 3×3 convolutions with 2×2 max-pooling for image datasets "
                       "whose features are the pixels (digits, IDX files, image folders), then the hidden sizes"),
                Option("conv_channels", "str", "8,16", title="Convolution channels",
                       help="with the conv front: each convolution's output channels, e.g. '8,16'"),
                Option("readout", "choice", "z", choices=("z", "parity", "probabilities"), title="Readout",
                       help="what the head reads from the circuit: z, ⟨Z⟩ of each qubit; parity, ⟨Z⊗…⊗Z⟩ of all "
                       "qubits; probabilities, the probability of each of the 2**n basis states"),
                Option("head_hidden", "str", "", title="Head hidden sizes",
                       help="hidden layer widths of the head (empty: one linear layer)"),
                Option("activation", "choice", "tanh", choices=("tanh", "relu", "sigmoid"), title="Activation"),
                Option("baselines", "bool", True, title="Classical baselines",
                       help="fit the tuned classical baselines on the same split after training"),
                Option("ablation", "bool", True, title="Ablation baseline",
                       help="train the same front and head with a classical stand-in of the circuit's parameter count"),
            ),
        )
    ]
