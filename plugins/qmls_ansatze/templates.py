"""Trainable layer templates. Those qiskit has are built with ``qiskit.circuit.library`` and converted."""

from __future__ import annotations

import abc
from dataclasses import replace
from typing import TYPE_CHECKING, ClassVar

from qmlstudio.plugins import Ansatz, CircuitDesign, OptionError

if TYPE_CHECKING:  # pragma: no cover
    from qiskit import QuantumCircuit

ENTANGLEMENTS = ("reverse_linear", "linear", "circular", "full", "pairwise", "sca")
ROTATION_LAYERS = ("ry", "rx", "rz", "ry,rz", "rx,rz")
ENTANGLERS = ("cx", "cz", "crx", "rzz")


def _check_choice(what: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise OptionError(f"{what} must be one of {', '.join(choices)}, got {value!r}")


def _pairs(entanglement: str, num_qubits: int) -> str | list:
    # qiskit refuses two-qubit blocks on one qubit; with no pairs it builds the rotation layers alone
    return entanglement if num_qubits > 1 else []


def _check_reps(reps: int) -> int:
    if int(reps) < 1:
        raise OptionError(f"reps must be at least 1, got {reps!r}")
    return int(reps)


class Template(Ansatz):
    """A template whose gates are grouped in the editor as the block named after it."""

    name: ClassVar[str] = "template"

    def build(self, num_qubits: int) -> CircuitDesign:
        if type(num_qubits) is not int or num_qubits < 1:
            raise OptionError(f"the {self.name} template needs at least one qubit, got {num_qubits!r}")
        design = CircuitDesign.from_circuit(self.qiskit_circuit(num_qubits))
        return CircuitDesign(design.num_qubits, [replace(g, block=self.name) for g in design.gates])

    @abc.abstractmethod
    def qiskit_circuit(self, num_qubits: int) -> "QuantumCircuit":
        """The template as a qiskit circuit over ``ParameterVector("θ")``."""


class _LibraryTemplate(Template):
    """A qiskit library template with ``reps``, ``entanglement`` and a final rotation layer."""

    #: the ``qiskit.circuit.library`` function that builds it
    library_function = ""

    def __init__(self, reps: int = 3, entanglement: str = "reverse_linear", final_rotation: bool = True) -> None:
        _check_choice("entanglement", entanglement, ENTANGLEMENTS)
        self.reps = _check_reps(reps)
        self.entanglement = entanglement
        self.final_rotation = bool(final_rotation)

    def qiskit_circuit(self, num_qubits: int) -> "QuantumCircuit":
        from qiskit.circuit import library

        return getattr(library, self.library_function)(
            num_qubits,
            entanglement=_pairs(self.entanglement, num_qubits),
            reps=self.reps,
            skip_final_rotation_layer=not self.final_rotation,
        )


class RealAmplitudes(_LibraryTemplate):
    """qiskit's ``real_amplitudes``: RY layers and CX entanglers, so amplitudes stay real."""

    name = "real-amplitudes"
    library_function = "real_amplitudes"


class EfficientSU2(_LibraryTemplate):
    """qiskit's ``efficient_su2``: RY and RZ on every qubit, then CX entanglers."""

    name = "efficient-su2"
    library_function = "efficient_su2"


class TwoLocal(Template):
    """qiskit's ``n_local`` with one- and two-qubit blocks chosen by the user."""

    name = "two-local"

    def __init__(
        self,
        rotation: str = "ry",
        entangler: str = "cx",
        entanglement: str = "linear",
        reps: int = 3,
        final_rotation: bool = True,
    ) -> None:
        _check_choice("rotation", rotation, ROTATION_LAYERS)
        _check_choice("entangler", entangler, ENTANGLERS)
        _check_choice("entanglement", entanglement, ENTANGLEMENTS)
        self.rotation = rotation
        self.entangler = entangler
        self.entanglement = entanglement
        self.reps = _check_reps(reps)
        self.final_rotation = bool(final_rotation)

    def qiskit_circuit(self, num_qubits: int) -> "QuantumCircuit":
        from qiskit.circuit.library import n_local

        return n_local(
            num_qubits,
            self.rotation.split(","),
            self.entangler,
            entanglement=_pairs(self.entanglement, num_qubits),
            reps=self.reps,
            skip_final_rotation_layer=not self.final_rotation,
        )


class StronglyEntangling(Template):
    """Strongly entangling layers (Schuld, Bocharov, Svore and Wiebe, 2020).

    Layer ``l`` applies Rot = RZ(θ[3m]) · RY(θ[3m+1]) · RZ(θ[3m+2]) to each qubit ``i``
    (``m = l·n + i``; RZ(θ[3m]) acts first), then CX from qubit ``i`` to ``(i + r) mod n`` for
    ``i = 0..n−1`` with range ``r = (l mod (n−1)) + 1``.
    """

    name = "strongly-entangling"

    def __init__(self, reps: int = 2) -> None:
        self.reps = _check_reps(reps)

    def qiskit_circuit(self, num_qubits: int) -> "QuantumCircuit":
        from qiskit import QuantumCircuit
        from qiskit.circuit import ParameterVector

        n = num_qubits
        theta = ParameterVector("θ", 3 * n * self.reps)
        circuit = QuantumCircuit(n, name=self.name)
        for layer in range(self.reps):
            for i in range(n):
                m = 3 * (layer * n + i)
                circuit.rz(theta[m], i)
                circuit.ry(theta[m + 1], i)
                circuit.rz(theta[m + 2], i)
            if n > 1:
                r = layer % (n - 1) + 1
                for i in range(n):
                    circuit.cx(i, (i + r) % n)
        return circuit
