"""Circuits whose parameter values every V2 primitive binds correctly.

qiskit-aer (0.16 to at least 0.18.2) ignores or misplaces the values bound through a PUB
to parameterized controlled gates such as ``crx``, ``cry``, ``crz``, ``cp``, ``cu1`` and
``cu3``: its ``EstimatorV2`` and ``SamplerV2`` then return wrong results without any error
(Qiskit/qiskit-aer#2323, #2391, #2403; P(11) = 0.000 instead of 0.331 for
``h(0); cry(1.9, 0, 1)``). Gates bound before the run are fine, as are parameterized
gates without controls.

The engine therefore never hands a primitive such a gate: :func:`bindable_circuit`
replaces each by its definition (rotations and CNOTs, the same function of the
parameters), before the backend's pass manager runs and again after it, and every
sampler the engine receives from a backend is wrapped in :class:`BindableSampler`, which
does the same to the circuit of every PUB. A plugin backend built on Aer's primitives is
thus correct by construction; it need not know about the bug.
"""

from __future__ import annotations

from typing import Any, Iterable

_MAX_DEPTH = 8  # a definition may itself hold controlled gates (cu3 → cu…): unroll a few levels


def unbindable_gates(circuit: Any) -> set[str]:
    """Names of the parameterized controlled gates in ``circuit`` (those Aer binds wrongly)."""
    from qiskit.circuit import ControlledGate, ParameterExpression

    return {
        inst.operation.name
        for inst in circuit.data
        if isinstance(inst.operation, ControlledGate)
        and any(isinstance(p, ParameterExpression) and p.parameters for p in inst.operation.params)
    }


def bindable_circuit(circuit: Any) -> Any:
    """``circuit`` itself when it has no parameterized controlled gate, else a copy with them unrolled."""
    result = circuit
    for _ in range(_MAX_DEPTH):
        names = unbindable_gates(result)
        if not names:
            break
        result = result.decompose(gates_to_decompose=sorted(names))
    if result is not circuit:
        result.metadata = dict(circuit.metadata or {})
    return result


def _sampler_base() -> type:
    from qiskit.primitives import BaseSamplerV2

    return BaseSamplerV2


class BindableSampler(_sampler_base()):  # type: ignore[misc]
    """A backend's ``BaseSamplerV2`` whose PUBs never hold a parameterized controlled gate.

    Everything else (shots, options, the jobs it returns) is the wrapped sampler's own;
    attributes the wrapper does not define are read from it.
    """

    def __init__(self, sampler: Any) -> None:
        self.sampler = sampler

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> Any:
        return self.sampler.run([_bindable_pub(pub) for pub in pubs], shots=shots)

    def __getattr__(self, name: str) -> Any:
        if name == "sampler":  # not set yet (copying, unpickling)
            raise AttributeError(name)
        return getattr(self.sampler, name)


def _bindable_pub(pub: Any) -> Any:
    """``pub`` in the same form (a circuit, a tuple or a ``SamplerPub``) with its circuit made bindable.

    Unrolling keeps the circuit's parameters (and their order), so the values still fit.
    """
    from qiskit import QuantumCircuit
    from qiskit.primitives.containers.sampler_pub import SamplerPub

    if isinstance(pub, QuantumCircuit):
        return bindable_circuit(pub)
    if isinstance(pub, SamplerPub):
        circuit = bindable_circuit(pub.circuit)
        return pub if circuit is pub.circuit else SamplerPub(circuit, pub.parameter_values, pub.shots, validate=False)
    if isinstance(pub, (tuple, list)) and pub and isinstance(pub[0], QuantumCircuit):
        circuit = bindable_circuit(pub[0])
        return pub if circuit is pub[0] else type(pub)([circuit, *pub[1:]])
    return pub  # something the sampler itself must understand


def bindable_sampler(sampler: Any) -> Any:
    """``sampler`` wrapped in :class:`BindableSampler` (once)."""
    return sampler if isinstance(sampler, BindableSampler) else BindableSampler(sampler)
