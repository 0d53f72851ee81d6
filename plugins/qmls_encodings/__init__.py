"""Built-in encodings of QML Studio, registered through the ``qmlstudio`` entry point like any plugin.

Each encoding turns a row of k features into a circuit template over inputs ``x[j]``; the
gates carry the block name ``encoding:<name>`` so the editor selects them as one unit.
Listing them is cheap: qiskit is imported only when a circuit that needs it is built.
"""

from __future__ import annotations

from qmlstudio.plugins import EncodingSpec, Option, hookimpl

from qmls_encodings.amplitude import AmplitudeEncoding
from qmls_encodings.angle import ROTATIONS, AngleEncoding, BasisEncoding, DenseAngleEncoding, ReuploadingEncoding
from qmls_encodings.feature_maps import ENTANGLEMENTS, IQPEncoding, ZZFeatureMap

__all__ = [
    "AmplitudeEncoding",
    "AngleEncoding",
    "BasisEncoding",
    "DenseAngleEncoding",
    "IQPEncoding",
    "ReuploadingEncoding",
    "ZZFeatureMap",
    "qmlstudio_encodings",
]

_ROTATION = Option(
    "rotation",
    "choice",
    "ry",
    title="Rotation",
    help="The gate whose angle is the feature: RY and RX move |0⟩ around the Bloch sphere; "
    "RZ alone only changes a phase of |0⟩, so use it with the Hadamard option",
    choices=ROTATIONS,
)
_HADAMARD = Option(
    "hadamard",
    "bool",
    False,
    title="Hadamard first",
    help="Put each qubit in |+⟩ before its rotation (needed for RZ to have a visible effect)",
)


def _reps(default: int) -> Option:
    return Option(
        "reps",
        "int",
        default,
        title="Repetitions",
        help="How many times the whole feature map is repeated; more makes the map harder to simulate classically",
        minimum=1,
        maximum=20,
    )


def _entanglement(default: str, what: str) -> Option:
    return Option(
        "entanglement",
        "choice",
        default,
        title="Entanglement",
        help=f"Which qubit pairs get {what}: neighbours (linear), neighbours and last–first (circular) "
        "or every pair (full)",
        choices=ENTANGLEMENTS,
    )


SPECS = [
    EncodingSpec(
        name="angle",
        title="Angle encoding",
        factory=AngleEncoding,
        description="One feature per qubit: feature i is the angle of a rotation on qubit i "
        "(RY by default), so k features need k qubits. Scale features to a range such as [0, π] first, "
        "since angles repeat every 2π.",
        options=(_ROTATION, _HADAMARD),
    ),
    EncodingSpec(
        name="dense-angle",
        title="Dense angle encoding",
        factory=DenseAngleEncoding,
        description="Two features per qubit: qubit i gets RY(x[2i]) and then RZ(x[2i+1]), "
        "so k features need ⌈k/2⌉ qubits. Half the qubits of angle encoding for the same data.",
    ),
    EncodingSpec(
        name="amplitude",
        title="Amplitude encoding",
        factory=AmplitudeEncoding,
        description="Stores the feature vector itself in the 2ⁿ amplitudes of n = ⌈log₂ k⌉ qubits "
        "(padded with zeros and divided by its length, so only its direction counts and an all-zero "
        "sample cannot be encoded). Exponentially few qubits, but a deep circuit: a Möttönen state "
        "preparation of 2ⁿ−1 RY rotations and 2ⁿ−2 CNOTs whose angles are computed from each sample.",
    ),
    EncodingSpec(
        name="zz-feature-map",
        title="ZZ feature map",
        factory=ZZFeatureMap,
        description="qiskit's ZZFeatureMap (Havlíček et al., Nature 2019), one qubit per feature. "
        "Each repetition applies H to every qubit, P(2·x_i) to qubit i, and for each entangled pair "
        "CNOT · P(2(π−x_i)(π−x_j)) · CNOT. A classic choice for quantum kernels.",
        options=(_reps(2), _entanglement("full", "a ZZ interaction")),
    ),
    EncodingSpec(
        name="iqp",
        title="IQP encoding",
        factory=IQPEncoding,
        description="Instantaneous quantum polynomial encoding (Havlíček et al. 2019), one qubit per "
        "feature. Each repetition applies H to every qubit, RZ(x_i) to qubit i, then "
        "RZZ(x_i·x_j) = exp(−i x_i x_j Z⊗Z / 2) to each entangled pair (i, j). Products of "
        "features make the state hard to simulate classically.",
        options=(_reps(2), _entanglement("full", "an RZZ(x_i·x_j) interaction")),
    ),
    EncodingSpec(
        name="basis",
        title="Basis encoding",
        factory=BasisEncoding,
        description="Binary features as a computational basis state |b₀b₁…⟩: feature i becomes bit 1 "
        "when it is at least the threshold, and qubit i is flipped by RX(π·bit). One qubit per feature; "
        "values between 0 and 1 lose everything but their side of the threshold.",
        options=(
            Option(
                "threshold",
                "float",
                0.5,
                title="Threshold",
                help="A feature at or above this value is read as 1, below it as 0",
            ),
        ),
    ),
    EncodingSpec(
        name="reuploading",
        title="Data re-uploading",
        factory=ReuploadingEncoding,
        description="Angle encoding repeated before every ansatz layer (Pérez-Salinas et al., Quantum 2020): "
        "loading the same features several times, with trainable gates in between, lets even one "
        "qubit learn non-linear decision boundaries.",
        options=(
            _ROTATION,
            Option(
                "repetitions",
                "int",
                3,
                title="Repetitions",
                help="How many times the features are loaded, each followed by one ansatz layer",
                minimum=1,
                maximum=50,
            ),
            _HADAMARD,
        ),
    ),
]


@hookimpl
def qmlstudio_encodings() -> list[EncodingSpec]:
    """The built-in encodings."""
    return list(SPECS)
