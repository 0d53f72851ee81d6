"""Builds encoding circuits gate by gate, placing each in the first column after its qubits are free."""

from __future__ import annotations

from qmlstudio.plugins import CircuitDesign, Gate


class DesignBuilder:
    """Collects gates of one block in the order they act and lays them out in editor columns.

    A gate goes to the column after the last gate on any wire it spans (controls, target
    and the wires drawn between them), the same layout ``CircuitDesign.from_circuit``
    uses, so gates that share a column never overlap and the order of operations is kept.
    """

    def __init__(self, num_qubits: int, block: str) -> None:
        self.num_qubits = num_qubits
        self.block = block
        self.gates: list[Gate] = []
        self._level = [0] * num_qubits

    def add(self, name: str, qubits: tuple[int, ...] | list[int] | int, *params: str | float) -> None:
        qubits = (qubits,) if isinstance(qubits, int) else tuple(qubits)
        span = range(min(qubits), max(qubits) + 1)
        column = max(self._level[r] for r in span)
        for r in span:
            self._level[r] = column + 1
        self.gates.append(Gate(name, qubits, tuple(params), column, self.block))

    def design(self) -> CircuitDesign:
        return CircuitDesign(self.num_qubits, self.gates)
