"""The example ansatz: what ``qmlstudio_ansatze`` factories return."""

from __future__ import annotations

from qmlstudio.plugins import Ansatz, CircuitDesign, Gate


class RyCzAnsatz(Ansatz):
    """``reps`` times (RY on every qubit, then CZ(q, q+1) down the register), then a last RY layer."""

    def __init__(self, reps: int = 2) -> None:
        self.reps = reps

    def build(self, num_qubits: int) -> CircuitDesign:
        design = CircuitDesign(num_qubits)
        weight = 0
        for layer in range(self.reps + 1):
            for q in range(num_qubits):
                # append() picks the column: no need to count them
                design.append(Gate("ry", (q,), [f"θ[{weight}]"], block="example-ry-cz"))
                weight += 1
            if layer < self.reps:
                for q in range(num_qubits - 1):
                    design.append(Gate("cz", (q, q + 1), block="example-ry-cz"))
        return design
