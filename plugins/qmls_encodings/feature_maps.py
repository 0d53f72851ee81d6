"""Feature maps with entangling data terms: qiskit's ZZ feature map and the IQP encoding."""

from __future__ import annotations

import re
from dataclasses import replace

from qmlstudio.plugins import CircuitDesign, OptionError

from qmls_encodings._builder import DesignBuilder
from qmls_encodings.base import BuiltinEncoding

ENTANGLEMENTS = ("linear", "circular", "full")
_PI_LITERAL = re.compile(r"(?<![\d.])3\.141592653589793(?!\d)")


def _pairs(num_qubits: int, entanglement: str) -> list[tuple[int, int]]:
    if entanglement == "full":
        return [(i, j) for i in range(num_qubits) for j in range(i + 1, num_qubits)]
    pairs = [(i, i + 1) for i in range(num_qubits - 1)]
    if entanglement == "circular" and num_qubits > 2:
        pairs.append((num_qubits - 1, 0))
    return pairs


class _PairwiseFeatureMap(BuiltinEncoding):
    """One qubit per feature, ``reps`` repetitions, data terms on qubit pairs of an entanglement pattern."""

    def __init__(self, reps: int = 2, entanglement: str = "full") -> None:
        if entanglement not in ENTANGLEMENTS:
            raise OptionError(f"entanglement must be one of {', '.join(ENTANGLEMENTS)}, got {entanglement!r}")
        if int(reps) < 1:
            raise OptionError(f"reps must be at least 1, got {reps!r}")
        self.reps = int(reps)
        self.entanglement = entanglement

    def num_qubits(self, num_features: int) -> int:
        return num_features


class ZZFeatureMap(_PairwiseFeatureMap):
    """qiskit's ``zz_feature_map`` (Havlíček et al. 2019), gate for gate."""

    name = "zz-feature-map"

    def check(self, num_features: int) -> str | None:
        if num_features == 1:
            return "the ZZ feature map needs at least two features (its ZZ terms couple pairs of features)"
        return super().check(num_features)

    def circuit(self, num_features: int) -> CircuitDesign:
        from qiskit.circuit.library import zz_feature_map

        problem = self.check(num_features)
        if problem:
            raise OptionError(problem)

        template = zz_feature_map(num_features, reps=self.reps, entanglement=self.entanglement)
        design = CircuitDesign.from_circuit(template)
        gates = [
            replace(g, params=tuple(_PI_LITERAL.sub("pi", p.text) for p in g.params), block=self.block)
            for g in design.gates
        ]
        return CircuitDesign(design.num_qubits, gates)


class IQPEncoding(_PairwiseFeatureMap):
    """Instantaneous-quantum-polynomial encoding, repeated ``reps`` times.

    One repetition is a Hadamard on every qubit, RZ(x[i]) on qubit ``i``, then
    RZZ(x[i]·x[j]) on each pair (i, j) of the entanglement pattern; RZZ(φ) = exp(−iφ Z⊗Z/2).
    """

    name = "iqp"

    def pairs(self, num_qubits: int) -> list[tuple[int, int]]:
        """The qubit pairs that get an RZZ(x[i]·x[j]) in every repetition."""
        return _pairs(num_qubits, self.entanglement)

    def circuit(self, num_features: int) -> CircuitDesign:
        n = self.num_qubits(num_features)
        builder = DesignBuilder(n, self.block)
        for _ in range(self.reps):
            for i in range(n):
                builder.add("h", i)
            for i in range(n):
                builder.add("rz", i, f"x[{i}]")
            for i, j in self.pairs(n):
                builder.add("rzz", (i, j), f"x[{i}] * x[{j}]")
        return builder.design()
