"""Hybrid models: a classical front, the quantum layer, a classical head, in one
``torch.nn.Module`` trained end to end with autograd."""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from qmls_torch.layer import QuantumTorchLayer

#: the activations a front or head may use, by name
ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "sigmoid": nn.Sigmoid, "none": nn.Identity}


def dense(sizes: Sequence[int], activation: str, last_activation: bool) -> nn.Sequential:
    """Linear layers ``sizes[0] → sizes[1] → …`` with ``activation`` between them (and after
    the last with ``last_activation``)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: choose one of {', '.join(ACTIVATIONS)}")
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(a, b, dtype=torch.float64))
        if i < len(sizes) - 2 or last_activation:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


def conv_front(image_shape: Sequence[int], channels: Sequence[int], hidden: Sequence[int], outputs: int,
               activation: str) -> nn.Sequential:
    """A small convolutional front for images whose rows are their pixels (``image_shape`` =
    ``(height, width)``): for each of ``channels`` a 3×3 convolution (zero padding 1), the
    activation and a 2×2 max-pool (while the image is at least 2×2), then the flattened maps
    through linear layers ``hidden`` to ``outputs``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}: choose one of {', '.join(ACTIVATIONS)}")
    height, width = (int(v) for v in image_shape)
    layers: list[nn.Module] = [nn.Unflatten(1, (1, height, width))]
    previous = 1
    for count in channels:
        layers += [nn.Conv2d(previous, int(count), 3, padding=1, dtype=torch.float64), ACTIVATIONS[activation]()]
        if height >= 2 and width >= 2:
            layers.append(nn.MaxPool2d(2))
            height, width = height // 2, width // 2
        previous = int(count)
    layers.append(nn.Flatten())
    layers += list(dense([previous * height * width, *hidden, outputs], activation, last_activation=False))
    return nn.Sequential(*layers)


class HybridNet(nn.Module):
    """``features → front → quantum layer → head → outputs``.

    * ``front``: linear layers from the ``num_features`` inputs through ``front_hidden`` to
      the circuit's ``num_inputs``, with ``activation`` between them; the front's last
      activation (default ``tanh`` scaled by π) maps its outputs to angles. An empty
      ``front_hidden`` is one linear layer; ``front=False`` feeds the features directly.
      With ``conv_channels`` (and the rows' ``image_shape``) the front is convolutional
      (:func:`conv_front`), its linear layers after the convolutions.
    * the quantum layer: :class:`~qmls_torch.layer.QuantumTorchLayer` (or, for the ablation,
      any module with ``num_inputs`` and ``num_outputs``).
    * ``head``: linear layers from the ``k`` measured values through ``head_hidden`` to
      ``num_outputs`` (class logits, or one value for a regressor).
    """

    def __init__(self, quantum: nn.Module, num_features: int, num_outputs: int,
                 front_hidden: Sequence[int] = (), head_hidden: Sequence[int] = (), activation: str = "tanh",
                 front: bool = True, seed: int | None = None, conv_channels: Sequence[int] = (),
                 image_shape: Sequence[int] | None = None) -> None:
        super().__init__()
        if seed is not None:
            torch.manual_seed(seed)
        conv_channels = tuple(int(c) for c in conv_channels)
        if conv_channels and (image_shape is None or int(image_shape[0]) * int(image_shape[1]) != num_features):
            raise ValueError(f"a convolutional front reads images: the {num_features} features must be the pixels of "
                             f"an image of known shape (got {image_shape})")
        #: what :func:`ablation` rebuilds the classical parts from
        self.sizes = {"num_features": num_features, "num_outputs": num_outputs, "front_hidden": tuple(front_hidden),
                      "head_hidden": tuple(head_hidden), "activation": activation, "front": front,
                      "conv_channels": conv_channels,
                      "image_shape": None if image_shape is None else tuple(int(v) for v in image_shape)}
        self.quantum = quantum
        if front and conv_channels:
            self.front: nn.Module = conv_front(image_shape, conv_channels, front_hidden, quantum.num_inputs, activation)
        elif front:
            self.front = dense([num_features, *front_hidden, quantum.num_inputs], activation, last_activation=False)
        elif num_features != quantum.num_inputs:
            raise ValueError(f"without a front the {num_features} features feed the circuit's "
                             f"{quantum.num_inputs} inputs directly: they must be as many")
        else:
            self.front = nn.Identity()
        self.angles = front
        self.head = dense([quantum.num_outputs, *head_hidden, num_outputs], activation, last_activation=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.front(features)
        if self.angles:
            x = torch.pi * torch.tanh(x)
        return self.head(self.quantum(x))

    def parameter_groups(self) -> dict[str, list[nn.Parameter]]:
        """The classical and the quantum parameters (live training shows their gradient norms apart)."""
        quantum = [p for n, p in self.named_parameters() if n.startswith("quantum.")]
        return {"classical": [p for n, p in self.named_parameters() if not n.startswith("quantum.")], "quantum": quantum}

    def gradient_norms(self) -> dict[str, float]:
        """The L2 norms of the classical and the quantum gradients after a backward pass."""
        out = {}
        for name, params in self.parameter_groups().items():
            grads = [p.grad.reshape(-1) for p in params if p.grad is not None]
            out[name] = float(torch.linalg.vector_norm(torch.cat(grads))) if grads else 0.0
        return out


class ClassicalStandIn(nn.Module):
    """The quantum layer's classical stand-in for the ablation baseline, of about its parameter
    count (``parameters``):

    * ``elementwise`` (needs as many outputs as inputs): ``y_i = a_i tanh(b_i x_i + c_i)`` for
      each input, 3 parameters each (``parameters`` is not used: the count is 3 per input);
    * ``mlp``: ``num_inputs → h (tanh) → num_outputs`` with ``h`` chosen for the nearest count
      (at least 1: a narrow bottleneck when the quantum layer has few weights).
    """

    def __init__(self, num_inputs: int, num_outputs: int, parameters: int, kind: str = "elementwise") -> None:
        super().__init__()
        self.num_inputs, self.num_outputs, self.kind = num_inputs, num_outputs, kind
        if kind == "elementwise":
            if num_inputs != num_outputs:
                raise ValueError("an elementwise stand-in needs as many outputs as inputs: use kind='mlp'")
            self.scale = nn.Parameter(torch.ones(num_inputs, dtype=torch.float64))
            self.gain = nn.Parameter(torch.ones(num_inputs, dtype=torch.float64))
            self.bias = nn.Parameter(torch.zeros(num_inputs, dtype=torch.float64))
        elif kind == "mlp":
            hidden = max(1, round((parameters - num_outputs) / (num_inputs + 1 + num_outputs)))
            self.layers = nn.Sequential(nn.Linear(num_inputs, hidden, dtype=torch.float64), nn.Tanh(),
                                        nn.Linear(hidden, num_outputs, dtype=torch.float64))
        else:
            raise ValueError(f"unknown stand-in {kind!r}: elementwise or mlp")

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.kind == "elementwise":
            return self.scale * torch.tanh(self.gain * inputs + self.bias)
        return self.layers(inputs)


def ablation(net: "HybridNet", seed: int | None = None, kind: str | None = None) -> "HybridNet":
    """The same front and head as ``net`` (same sizes, freshly initialised from ``seed``) with
    the quantum layer replaced by a :class:`ClassicalStandIn` of about its parameter count
    (``kind``: ``elementwise`` when the layer has as many outputs as inputs, else ``mlp``):
    trained the same way on the same split, it says what the quantum layer adds."""
    quantum = net.quantum
    if kind is None:
        kind = "elementwise" if quantum.num_inputs == quantum.num_outputs else "mlp"
    if seed is not None:
        torch.manual_seed(seed)
    stand_in = ClassicalStandIn(quantum.num_inputs, quantum.num_outputs, parameter_count(quantum), kind=kind)
    return HybridNet(stand_in, seed=seed, **net.sizes)


def parameter_count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def describe(net: HybridNet) -> dict[str, Any]:
    """Sizes for the canvas and the inspector: the front's and head's layer widths and parameter counts."""
    def widths(seq: nn.Module) -> list[int]:
        linear = [m for m in seq.modules() if isinstance(m, nn.Linear)]
        return [linear[0].in_features, *(m.out_features for m in linear)] if linear else []

    conv = [m.out_channels for m in net.front.modules() if isinstance(m, nn.Conv2d)]
    return {"front": widths(net.front), "front_parameters": parameter_count(net.front),
            "quantum_weights": parameter_count(net.quantum), "head": widths(net.head),
            "head_parameters": parameter_count(net.head), "conv_channels": conv,
            "image_shape": list(net.sizes["image_shape"]) if conv else None}
