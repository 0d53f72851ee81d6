"""Encodings that put features directly into rotation angles, one gate per feature."""

from __future__ import annotations

import math

import numpy as np

from qmlstudio.plugins import CircuitDesign, OptionError

from qmls_encodings._builder import DesignBuilder
from qmls_encodings.base import BuiltinEncoding, feature_rows

ROTATIONS = ("rx", "ry", "rz")


class AngleEncoding(BuiltinEncoding):
    """Feature ``i`` is the angle of one rotation on qubit ``i`` (after an optional Hadamard)."""

    name = "angle"

    def __init__(self, rotation: str = "ry", hadamard: bool = False) -> None:
        if rotation not in ROTATIONS:
            raise OptionError(f"rotation must be one of {', '.join(ROTATIONS)}, got {rotation!r}")
        self.rotation = rotation
        self.hadamard = bool(hadamard)

    def num_qubits(self, num_features: int) -> int:
        return num_features

    def circuit(self, num_features: int) -> CircuitDesign:
        builder = DesignBuilder(self.num_qubits(num_features), self.block)
        for i in range(num_features):
            if self.hadamard:
                builder.add("h", i)
            builder.add(self.rotation, i, f"x[{i}]")
        return builder.design()


class ReuploadingEncoding(AngleEncoding):
    """Angle encoding that the model repeats before every ansatz layer (data re-uploading)."""

    name = "reuploading"

    def __init__(self, rotation: str = "ry", repetitions: int = 3, hadamard: bool = False) -> None:
        super().__init__(rotation=rotation, hadamard=hadamard)
        if int(repetitions) < 1:
            raise OptionError(f"repetitions must be at least 1, got {repetitions!r}")
        self.repetitions = int(repetitions)


class DenseAngleEncoding(BuiltinEncoding):
    """Two features per qubit: RY(x[2i]) then RZ(x[2i+1]) on qubit ``i``."""

    name = "dense-angle"

    def num_qubits(self, num_features: int) -> int:
        return math.ceil(num_features / 2)

    def circuit(self, num_features: int) -> CircuitDesign:
        builder = DesignBuilder(self.num_qubits(num_features), self.block)
        for j in range(num_features):
            builder.add("ry" if j % 2 == 0 else "rz", j // 2, f"x[{j}]")
        return builder.design()


class BasisEncoding(BuiltinEncoding):
    """Each feature becomes one bit: RX(π) flips qubit ``i`` when feature ``i`` ≥ threshold.

    The rotation keeps the circuit a template bound per sample: ``transform`` maps each
    feature to the angle 0 or π.
    """

    name = "basis"

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = float(threshold)

    def num_qubits(self, num_features: int) -> int:
        return num_features

    def circuit(self, num_features: int) -> CircuitDesign:
        builder = DesignBuilder(self.num_qubits(num_features), self.block)
        for i in range(num_features):
            builder.add("rx", i, f"x[{i}]")
        return builder.design()

    def bits(self, features: np.ndarray) -> np.ndarray:
        """The bits (0 or 1) that the rows of ``features`` are encoded as."""
        return (feature_rows(features) >= self.threshold).astype(int)

    def transform(self, features: np.ndarray) -> np.ndarray:
        return np.pi * self.bits(features)
