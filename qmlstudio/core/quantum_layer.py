"""The quantum layer of a hybrid model: inputs → expectation values, with the exact gradient
by the circuit's weights *and* by its inputs, from one adjoint pass over the whole batch.

A hybrid model (a classical front, this layer, a classical head; see the ``qmls_torch``
plugin) needs ``∂L/∂x`` to train the front through the circuit. The engine's adjoint pass
gives gradients by weights; this layer gets the one by inputs from it exactly: it simulates
the circuit with every input ``x[j]`` replaced by ``x[j] + s_j``
(:meth:`~qmlstudio.core.expressions.Angle.with_input_shifts`), where the shifts ``s`` are
extra weights held at zero. The values are unchanged, and each sample's gradient by ``s_j``
is its ``∂/∂x[j]``: the engine keeps the adjoint sums per sample
(:meth:`~qmlstudio.core.statevector.StatevectorProgram.value_and_pullback` with
``per_sample``), so one forward and one adjoint pass give both gradients for the batch.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

import numpy as np

from qmlstudio.core.circuit import CircuitDesign
from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.statevector import StatevectorProgram


def with_input_shifts(design: CircuitDesign) -> CircuitDesign:
    """The design with each input ``x[j]`` read as ``x[j] + θ[W + j]`` (``W``: the design's
    weights); at zero shifts it is the same circuit."""
    offset = design.num_weights
    gates = [replace(g, params=tuple(a.with_input_shifts(offset) for a in g.params)) for g in design.gates]
    return CircuitDesign(design.num_qubits, tuple(gates))


class QuantumLayer:
    """``values = ⟨O_k⟩`` of the circuit for a batch of inputs, ``(batch, k)``, and a pullback
    mapping ``∂L/∂values`` to ``(∂L/∂weights (num_weights,), ∂L/∂inputs (batch, num_inputs))``.

    ``observables``: ``(k, 2**n)`` diagonals (a readout's, e.g.
    :meth:`~qmlstudio.core.models.Head.observables`). ``num_inputs`` is the width of the
    input rows (at least the design's ``num_inputs``; inputs the circuit does not read get a
    zero gradient). ``threads`` as the simulator's (None: every core; same results).
    """

    def __init__(self, design: CircuitDesign, observables: np.ndarray, num_inputs: int | None = None,
                 threads: int | None = None, backend: Any = None) -> None:
        self.design = design
        self.num_weights = design.num_weights
        self.num_inputs = design.num_inputs if num_inputs is None else int(num_inputs)
        if self.num_inputs < design.num_inputs:
            raise QMLStudioError(f"the circuit reads x[{design.num_inputs - 1}], but the layer gets "
                                 f"{self.num_inputs} input(s) per sample")
        self.observables = np.asarray(observables, dtype=float)
        shifted = with_input_shifts(design)
        #: what computes the values and gradients: the engine's adjoint pass (``backend`` None
        #: or the engine's own), or, on any other backend, its V2 primitives with parameter
        #: shift (:class:`~qmlstudio.core.models.PrimitiveEvaluator`: every shifted binding of
        #: the batch in one PUB; the shifts s_j are weights, so their per-sample gradients are
        #: the inputs' by the same rules)
        self.evaluator: Any = None
        if backend is not None and not getattr(backend, "engine", False):
            from qmlstudio.core.models import PrimitiveEvaluator

            self.evaluator = PrimitiveEvaluator(shifted, self.observables, backend)
            self.program = None
        else:
            self.program = StatevectorProgram(shifted, threads=threads)
        self._used = design.num_inputs  # the shifts' count: one per input the circuit reads

    @property
    def exact(self) -> bool:
        """Whether values and gradients are exact (the engine, or an exact backend's estimator)."""
        return self.evaluator is None or bool(getattr(self.evaluator, "uses_estimator", False))

    def values(self, weights: Any, inputs: Any) -> np.ndarray:
        if self.evaluator is not None:
            return self.evaluator.values(self._weights(weights), self._inputs(inputs))
        return self.program.expectations(self._weights(weights), self._inputs(inputs), self.observables)

    def values_and_pullback(self, weights: Any, inputs: Any) -> tuple[np.ndarray, Callable[[Any], tuple[np.ndarray, np.ndarray]]]:
        x = self._inputs(inputs)
        if self.evaluator is not None:
            values, pullback = self.evaluator.values_and_pullback(self._weights(weights), x, per_sample=True)
        else:
            values, pullback = self.program.value_and_pullback(self._weights(weights), x, self.observables,
                                                               per_sample=True)

        def pull(upstream: Any) -> tuple[np.ndarray, np.ndarray]:
            per_sample = pullback(upstream)  # (batch, W + used)
            grad_x = np.zeros((len(x), self.num_inputs))
            grad_x[:, : self._used] = per_sample[:, self.num_weights :]
            return per_sample[:, : self.num_weights].sum(axis=0), grad_x

        return values, pull

    def _weights(self, weights: Any) -> np.ndarray:
        w = np.asarray(weights, dtype=float).reshape(-1)
        if len(w) != self.num_weights:
            raise QMLStudioError(f"the circuit has {self.num_weights} weights, got {len(w)}")
        return np.concatenate([w, np.zeros(self._used)])

    def _inputs(self, inputs: Any) -> np.ndarray:
        x = np.asarray(inputs, dtype=float)
        x = x[None, :] if x.ndim == 1 else x
        if x.ndim != 2 or x.shape[1] != self.num_inputs:
            raise QMLStudioError(f"expected inputs of shape (batch, {self.num_inputs}), got {x.shape}")
        return x
