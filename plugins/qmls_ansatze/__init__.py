"""Built-in ansatz templates of QML Studio, registered through the ``qmlstudio`` entry point like any plugin.

Each template's ``build(num_qubits)`` gives a design with weights ``θ[0..n-1]``, numbered
as in qiskit's library circuit of the same name, and gates in a block named after it.
Listing them is cheap: qiskit is imported only when a template is built.
"""

from __future__ import annotations

from qmlstudio.plugins import AnsatzSpec, Option, hookimpl

from qmls_ansatze.templates import (
    ENTANGLEMENTS,
    ENTANGLERS,
    ROTATION_LAYERS,
    EfficientSU2,
    RealAmplitudes,
    StronglyEntangling,
    TwoLocal,
)

__all__ = ["EfficientSU2", "RealAmplitudes", "StronglyEntangling", "TwoLocal", "qmlstudio_ansatze"]


def _reps(default: int) -> Option:
    return Option(
        "reps",
        "int",
        default,
        title="Layers",
        help="How many times the rotation and entangling layers repeat; more layers are more expressive "
        "but have more weights and are harder to train",
        minimum=1,
        maximum=50,
    )


def _entanglement(default: str) -> Option:
    return Option(
        "entanglement",
        "choice",
        default,
        title="Entanglement",
        help="Which qubit pairs get an entangler: neighbours (linear, reverse_linear), neighbours and "
        "last–first (circular), every pair (full), alternating neighbour pairs (pairwise) or a "
        "circular pattern shifted every layer (sca)",
        choices=ENTANGLEMENTS,
    )


_FINAL_ROTATION = Option(
    "final_rotation",
    "bool",
    True,
    title="Final rotation layer",
    help="End with one more layer of rotations after the last entanglers",
)

SPECS = [
    AnsatzSpec(
        name="real-amplitudes",
        title="Real amplitudes",
        factory=RealAmplitudes,
        description="qiskit's RealAmplitudes: layers of RY rotations, one weight per qubit, separated "
        "by CNOT entanglers. Its states always have real amplitudes, which suits classification.",
        options=(_reps(3), _entanglement("reverse_linear"), _FINAL_ROTATION),
    ),
    AnsatzSpec(
        name="efficient-su2",
        title="Efficient SU(2)",
        factory=EfficientSU2,
        description="qiskit's EfficientSU2: layers of RY then RZ on every qubit (two weights per qubit) "
        "separated by CNOT entanglers; hardware-efficient and able to reach complex amplitudes.",
        options=(_reps(3), _entanglement("reverse_linear"), _FINAL_ROTATION),
    ),
    AnsatzSpec(
        name="strongly-entangling",
        title="Strongly entangling layers",
        factory=StronglyEntangling,
        description="Schuld et al. 2020: each layer rotates every qubit by RZ·RY·RZ (three weights) "
        "and then applies a ring of CNOTs from qubit i to qubit (i + r) mod n, with the range r "
        "growing from layer to layer (r = layer mod (n−1) + 1), so distant qubits are entangled quickly.",
        options=(_reps(2),),
    ),
    AnsatzSpec(
        name="two-local",
        title="Two-local",
        factory=TwoLocal,
        description="qiskit's TwoLocal (n_local): choose the single-qubit rotations and the two-qubit "
        "entangler; each layer rotates every qubit and then entangles the chosen pairs. Parametrized "
        "entanglers (CRX, RZZ) carry weights too.",
        options=(
            Option(
                "rotation",
                "choice",
                "ry",
                title="Rotations",
                help="The trainable rotations applied to every qubit in each layer",
                choices=ROTATION_LAYERS,
            ),
            Option(
                "entangler",
                "choice",
                "cx",
                title="Entangler",
                help="The two-qubit gate: CNOT (cx), controlled-Z (cz), or the trainable CRX and RZZ",
                choices=ENTANGLERS,
            ),
            _entanglement("linear"),
            _reps(3),
            _FINAL_ROTATION,
        ),
    ),
]


@hookimpl
def qmlstudio_ansatze() -> list[AnsatzSpec]:
    """The built-in ansatz templates."""
    return list(SPECS)
