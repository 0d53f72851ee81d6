"""Amplitude encoding: a normalized feature vector becomes the state of ⌈log₂ k⌉ qubits.

The circuit is a bindable template (Möttönen et al., "Transformation of quantum states
using uniformly controlled rotations", 2004, restricted to real amplitudes): qubit n−1 is
rotated first, then each lower qubit ``t`` by an RY uniformly controlled by the qubits above
it. A uniformly controlled RY with ``c`` controls is decomposed into 2^c RY gates and 2^c CX
gates whose controls follow the Gray code, so the whole circuit is made of RY and CX only,
with 2^n − 1 angles ``x[j]``. ``transform`` computes those angles for each sample.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from qmlstudio.plugins import CircuitDesign, DatasetError

from qmls_encodings._builder import DesignBuilder
from qmls_encodings.base import BuiltinEncoding, feature_rows


def _gray(i: int) -> int:
    return i ^ (i >> 1)


@lru_cache(maxsize=32)
def _gray_matrix(num_controls: int) -> np.ndarray:
    """``M[c, i] = (-1)^(c · gray(i))``: how the RY angles of the decomposition add up for control value ``c``."""
    size = 1 << num_controls
    c = np.arange(size)[:, None]
    g = np.array([_gray(i) for i in range(size)])[None, :]
    common = c & g
    parity = np.zeros_like(common)
    for bit in range(num_controls):
        parity ^= (common >> bit) & 1
    matrix = 1.0 - 2.0 * parity
    matrix.flags.writeable = False  # shared by every call through the cache
    return matrix


class AmplitudeEncoding(BuiltinEncoding):
    """Prepares Σᵢ aᵢ|i⟩ with a = (features padded with zeros to 2ⁿ) / ‖features‖."""

    name = "amplitude"

    def num_qubits(self, num_features: int) -> int:
        return max(1, math.ceil(math.log2(max(num_features, 1))))

    def num_inputs(self, num_features: int) -> int:
        return (1 << self.num_qubits(num_features)) - 1

    def circuit(self, num_features: int) -> CircuitDesign:
        n = self.num_qubits(num_features)
        builder = DesignBuilder(n, self.block)
        index = 0
        for level in range(n):
            target = n - 1 - level
            controls = list(range(target + 1, n))  # bit b of a control value is qubit target+1+b
            size = 1 << level
            for i in range(size):
                builder.add("ry", target, f"x[{index}]")
                index += 1
                if level:
                    # the control bit that changes from gray(i) to gray(i+1), cyclically
                    changed = _gray(i) ^ _gray((i + 1) % size)
                    builder.add("cx", (controls[changed.bit_length() - 1], target))
        return builder.design()

    def amplitudes(self, features: np.ndarray) -> np.ndarray:
        """The state each row is encoded as: padded to 2ⁿ entries and divided by its length."""
        rows = feature_rows(features)
        single = rows.ndim == 1
        rows = np.atleast_2d(rows)
        k = rows.shape[1]
        if k < 1:
            raise DatasetError("amplitude encoding needs at least one feature")
        norms = np.linalg.norm(rows, axis=1)
        zero = np.flatnonzero(norms == 0)
        if zero.size:
            raise DatasetError(
                f"sample {zero[0]} has all features 0; amplitude encoding divides each sample by its "
                "length, so an all-zero sample has no quantum state (shift or rescale the features)"
            )
        padded = np.zeros((rows.shape[0], 1 << self.num_qubits(k)))
        padded[:, :k] = rows / norms[:, None]
        return padded[0] if single else padded

    def transform(self, features: np.ndarray) -> np.ndarray:
        state = self.amplitudes(features)
        single = state.ndim == 1
        state = np.atleast_2d(state)
        samples, dim = state.shape
        n = dim.bit_length() - 1
        angles = []
        for level in range(n):
            target = n - 1 - level
            # blocks[:, c, b, :] are the amplitudes whose qubits above the target read c and whose target reads b
            blocks = state.reshape(samples, 1 << level, 2, 1 << target)
            if target == 0:
                # the last rotation also sets the signs: cos(β/2) = a₀/r and sin(β/2) = a₁/r
                beta = 2.0 * np.arctan2(blocks[:, :, 1, 0], blocks[:, :, 0, 0])
            else:
                weights = np.linalg.norm(blocks, axis=3)
                beta = 2.0 * np.arctan2(weights[:, :, 1], weights[:, :, 0])
            # β = M θ for the Gray-code decomposition, and M⁻¹ = Mᵀ / 2^level
            angles.append(beta @ _gray_matrix(level) / (1 << level))
        result = np.concatenate(angles, axis=1)
        return result[0] if single else result
