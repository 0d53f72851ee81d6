"""The ``hybrid`` model kind's settings and checks, without torch: the window describes a
hybrid's parts (the canvas blocks) and checks a project against it where torch is not even
installed; :mod:`qmls_torch.run` (torch) trains it."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from qmlstudio.plugins import ModelKind

#: the activations a front or head may use (the modules are in :mod:`qmls_torch.hybrid`)
ACTIVATION_NAMES = ("tanh", "relu", "sigmoid", "none")
#: the project's optimizers the hybrid applies, as torch's
TORCH_OPTIMIZERS = ("adam", "sgd")
#: the fronts a hybrid may have: linear layers, or convolutions for image rows
FRONTS = ("dense", "conv")
#: what the head reads from the circuit: ⟨Z_q⟩ of each qubit, the parity ⟨Z⊗…⊗Z⟩, or the
#: probability of each basis state
READOUTS = ("z", "parity", "probabilities")
#: the most qubits whose 2**n basis probabilities the head may read
MAX_PROBABILITY_QUBITS = 10


def readout_observables(readout: str, num_qubits: int) -> np.ndarray:
    """The ``(k, 2**n)`` diagonals the quantum layer measures for a readout."""
    from qmlstudio.core.gate_matrices import z_diagonal

    if readout == "parity":
        return z_diagonal(num_qubits, tuple(range(num_qubits)))[None, :]
    if readout == "probabilities":
        return np.eye(2**num_qubits)
    return np.stack([z_diagonal(num_qubits, (q,)) for q in range(num_qubits)])


def measured_values(readout: str, num_qubits: int) -> int:
    return {"parity": 1, "probabilities": 2**num_qubits}.get(readout, num_qubits)


def _sizes(text: Any, what: str) -> tuple[int, ...]:
    text = str(text or "").strip()
    if not text:
        return ()
    try:
        sizes = tuple(int(part) for part in text.replace(" ", "").split(","))
    except ValueError:
        raise ValueError(f"{what}: give layer widths as whole numbers separated by commas, e.g. '16,8'") from None
    if any(s < 1 or s > 4096 for s in sizes):
        raise ValueError(f"{what}: each width must be between 1 and 4096")
    return sizes


class HybridKind(ModelKind):
    """The ``hybrid`` model kind (:class:`~qmlstudio.plugins.descriptors.ModelKind`)."""

    def __init__(self, front_hidden: str = "", head_hidden: str = "", activation: str = "tanh",
                 baselines: bool = True, ablation: bool = True, front: str = "dense", conv_channels: str = "8,16",
                 readout: str = "z") -> None:
        if readout not in READOUTS:
            raise ValueError(f"readout must be one of {', '.join(READOUTS)}")
        self.readout = readout
        self.front_hidden = _sizes(front_hidden, "front_hidden")
        self.head_hidden = _sizes(head_hidden, "head_hidden")
        if front not in FRONTS:
            raise ValueError(f"front must be one of {', '.join(FRONTS)}")
        self.front = front
        self.conv_channels = _sizes(conv_channels, "conv_channels") if front == "conv" else ()
        if front == "conv" and not self.conv_channels:
            raise ValueError("conv_channels: give at least one convolution's channel count, e.g. '8,16'")
        if activation not in ACTIVATION_NAMES:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATION_NAMES)}")
        self.activation = activation
        self.baselines = bool(baselines)
        self.ablation = bool(ablation)

    def problem(self, data: Any, model: Any, backend: Any, optimizer: Any = None) -> str | None:
        if self.readout == "probabilities" and model.num_qubits > MAX_PROBABILITY_QUBITS:
            return (f"the probabilities readout gives the head 2**{model.num_qubits} values: choose the z or parity "
                    f"readout, or at most {MAX_PROBABILITY_QUBITS} qubits")
        if optimizer is not None and optimizer.name not in TORCH_OPTIMIZERS:
            return (f"it trains with torch's Adam or SGD, with the options of the project's optimizer: choose adam or "
                    f"sgd (not {optimizer.name})")
        if data.task != "classification":
            return "the hybrid network classifies: choose a classification dataset"
        if self.front == "conv" and getattr(data, "image_shape", None) is None:
            return ("the convolutional front reads images: choose an image dataset (digits, an IDX file, an image "
                    "folder) and keep every pixel as a feature (no PCA, no feature choice)")
        probe = np.random.default_rng(0).uniform(-math.pi, math.pi, (4, model.num_features))
        if not np.array_equal(model.inputs(probe), probe):
            return (f"the {model.encoding_name} encoding transforms its features before the circuit, and the front's "
                    "outputs must reach the circuit as they are: choose the angle encoding or a feature map")
        return None

    def build_run(self, **context: Any) -> Any:
        from qmls_torch.run import HybridRun  # torch, imported when a hybrid trains

        return HybridRun(self, **context)

    def parts(self, num_features: int, num_inputs: int, num_qubits: int, num_classes: int | None = None,
              image_shape: tuple[int, int] | None = None) -> dict[str, dict[str, Any]]:
        """The front and head as :class:`~qmls_torch.hybrid.HybridNet` builds them (widths and
        parameter counts computed here, without torch; checked against the built network by
        the tests), for the canvas."""
        front_lines: list[str] = []
        parameters = 0
        width = num_features
        if self.front == "conv" and image_shape is not None and image_shape[0] * image_shape[1] == num_features:
            height, wide = (int(v) for v in image_shape)
            previous = 1
            for count in self.conv_channels:
                parameters += previous * count * 9 + count
                pooled = height >= 2 and wide >= 2
                front_lines.append(f"conv 3×3 → {count} × {height}×{wide}" + (" · pool 2×2" if pooled else ""))
                if pooled:
                    height, wide = height // 2, wide // 2
                previous = count
            width = previous * height * wide
            front_lines.insert(0, f"image {image_shape[0]}×{image_shape[1]}")
        elif self.front == "conv":
            front_lines.append(f"conv 3×3 → {','.join(map(str, self.conv_channels))} on the data's images")
        sizes = [width, *self.front_hidden, num_inputs]
        parameters += sum(a * b + b for a, b in zip(sizes, sizes[1:]))
        front_lines.append("linear " + " → ".join(str(v) for v in sizes))
        front_lines.append(f"{self.activation} between · π·tanh out")
        measured = measured_values(self.readout, num_qubits)
        read = {"z": "⟨Z⟩ of each qubit", "parity": "parity ⟨Z⊗…⊗Z⟩",
                "probabilities": f"{measured} basis-state probabilities"}[self.readout]
        head = [measured, *self.head_hidden, num_classes if num_classes else "classes"]
        head_parameters = (sum(a * b + b for a, b in zip(head, head[1:])) if num_classes else None)
        return {
            "front": {"title": "Classical front", "lines": front_lines, "parameters": parameters,
                      "options": ("front", "conv_channels", "front_hidden", "activation")},
            "head": {"title": "Classical head", "lines": [read, "linear " + " → ".join(map(str, head))],
                     "parameters": head_parameters, "options": ("readout", "head_hidden", "activation")},
        }

