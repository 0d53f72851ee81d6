"""Working around qiskit-aer's binding of parameterized controlled gates.

qiskit-aer (0.16 to at least 0.18.2) ignores or misplaces the values bound through a pub to
parameterized controlled gates such as ``crx``, ``cry``, ``crz``, ``cu1`` and ``cu3``: its
``EstimatorV2`` and ``SamplerV2`` then return wrong results without any error
(Qiskit/qiskit-aer#2323, #2391, #2403). Gates bound before the run are fine, as are
parameterized gates without controls, so such gates are replaced by their definitions
(rotations and CNOTs) before Aer sees the circuit.
"""

from __future__ import annotations

from qiskit.circuit import ControlledGate, Instruction, ParameterExpression, QuantumCircuit

_MAX_DEPTH = 8  # a definition may itself hold controlled gates (cu3 → cu…): unroll a few levels


def _unbindable(operation: Instruction) -> bool:
    return isinstance(operation, ControlledGate) and any(
        isinstance(p, ParameterExpression) and p.parameters for p in operation.params
    )


def bindable_circuit(circuit: QuantumCircuit) -> QuantumCircuit:
    """``circuit`` itself when Aer binds it correctly, else a copy with the affected gates unrolled."""
    result = circuit
    for _ in range(_MAX_DEPTH):
        names = {inst.operation.name for inst in result.data if _unbindable(inst.operation)}
        if not names:
            break
        result = result.decompose(gates_to_decompose=sorted(names))
    if result is not circuit:
        result.metadata = dict(circuit.metadata or {})
    return result
