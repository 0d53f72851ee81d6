"""The exact simulator as a PyTorch layer: forward one batched simulation, backward the
adjoint pullback by weights and inputs (:class:`~qmlstudio.core.quantum_layer.QuantumLayer`)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.quantum_layer import QuantumLayer


class QuantumFunction(torch.autograd.Function):
    """``values = f(inputs, weights)`` with ``values`` of shape ``(batch, k)``.

    The forward simulates the batch once and keeps the engine's pullback; the backward maps
    ``∂L/∂values`` through it to ``∂L/∂inputs`` and ``∂L/∂weights`` (one adjoint pass). The
    simulation runs in float64; the results come back in the inputs' dtype and device.
    """

    @staticmethod
    def forward(ctx: Any, inputs: torch.Tensor, weights: torch.Tensor, layer: QuantumLayer) -> torch.Tensor:
        x = inputs.detach().to("cpu", torch.float64).numpy()
        w = weights.detach().to("cpu", torch.float64).numpy()
        values, pullback = layer.values_and_pullback(w, x)
        ctx.pullback = pullback
        ctx.dtype, ctx.device = inputs.dtype, inputs.device
        ctx.weights_dtype = weights.dtype
        return torch.from_numpy(np.ascontiguousarray(values)).to(ctx.device, ctx.dtype)

    @staticmethod
    def backward(ctx: Any, grad_values: torch.Tensor) -> tuple[Any, ...]:
        grad_w, grad_x = ctx.pullback(grad_values.detach().to("cpu", torch.float64).numpy())
        grad_inputs = torch.from_numpy(grad_x).to(ctx.device, ctx.dtype) if ctx.needs_input_grad[0] else None
        grad_weights = torch.from_numpy(grad_w).to(ctx.device, ctx.weights_dtype) if ctx.needs_input_grad[1] else None
        return grad_inputs, grad_weights, None


class QuantumTorchLayer(nn.Module):
    """A circuit (``design``: its inputs ``x[j]`` read from the layer's input, its weights
    ``θ[i]`` the module's parameter) measured on ``observables`` (``(k, 2**n)`` diagonals):
    ``(batch, num_inputs) → (batch, k)``.

    ``initial_weights`` default to uniform in [0, 2π) from ``seed``. ``threads`` as the
    simulator's (None: every core; the results do not depend on it). ``backend``: a
    backend other than the engine's runs the circuits through its V2 primitives, with
    parameter-shift gradients by weights and inputs (None: the exact adjoint simulator).
    """

    def __init__(self, design: CircuitDesign, observables: Any, num_inputs: int | None = None,
                 initial_weights: Any = None, seed: int | None = None, threads: int | None = None,
                 backend: Any = None) -> None:
        super().__init__()
        self.engine = QuantumLayer(design, np.asarray(observables, dtype=float), num_inputs=num_inputs, threads=threads,
                                   backend=backend)
        if initial_weights is None:
            initial_weights = np.random.default_rng(seed).uniform(0, 2 * np.pi, self.engine.num_weights)
        weights = torch.as_tensor(np.asarray(initial_weights, dtype=float), dtype=torch.float64)
        if weights.shape != (self.engine.num_weights,):
            raise ValueError(f"the circuit has {self.engine.num_weights} weights, got initial weights of shape "
                             f"{tuple(weights.shape)}")
        self.weight = nn.Parameter(weights.clone())

    @property
    def num_inputs(self) -> int:
        return self.engine.num_inputs

    @property
    def num_outputs(self) -> int:
        return int(self.engine.observables.shape[0])

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return QuantumFunction.apply(inputs, self.weight, self.engine)

    def extra_repr(self) -> str:
        return (f"qubits={self.engine.design.num_qubits}, inputs={self.num_inputs}, weights={self.engine.num_weights}, "
                f"outputs={self.num_outputs}")
