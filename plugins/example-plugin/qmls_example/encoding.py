"""The example encoding: what ``qmlstudio_encodings`` factories return."""

from __future__ import annotations

import numpy as np

from qmlstudio.plugins import CircuitDesign, Encoding, Gate


class ArctanEncoding(Encoding):
    """RY(2·arctan(s·x_j)) on qubit j.

    The engine hands ``transform`` the features after the project's scaling (each feature
    to [0, π] by default); arctan keeps the angles bounded whatever that scaling is.
    """

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def num_qubits(self, num_features: int) -> int:
        return num_features

    def circuit(self, num_features: int) -> CircuitDesign:
        # x[j] is bound to transform(...)[:, j]: the circuit stays one template for every sample
        return CircuitDesign.from_sequence(
            num_features, [Gate("ry", (q,), [f"x[{q}]"], block="example-arctan") for q in range(num_features)]
        )

    def transform(self, features: np.ndarray) -> np.ndarray:
        return 2.0 * np.arctan(self.scale * np.asarray(features, dtype=float))
