"""The example backend: what ``qmlstudio_backends`` factories return.

Imported only when the backend is used (the spec names it by import path), so listing
plugins never imports qiskit-aer. It hands over Aer's primitives as they come: QML Studio
itself unrolls the parameterized controlled rotations that Aer binds wrongly
(Qiskit/qiskit-aer#2323), so a backend need not know about that bug.
"""

from __future__ import annotations

from qiskit_aer.noise import NoiseModel, depolarizing_error
from qiskit_aer.primitives import EstimatorV2, SamplerV2

from qmlstudio.plugins import Backend

ONE_QUBIT = ["rx", "ry", "rz", "h", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "u", "u1", "u2", "u3", "p"]
TWO_QUBIT = ["cx", "cz", "cy", "swap", "rzz", "rxx", "ryy", "cp", "crx", "cry", "crz", "ecr"]


class NoisyAerBackend(Backend):
    """Aer with a depolarizing error of probability ``error`` after every gate, sampled with ``shots``."""

    exact = False

    def __init__(self, error: float = 0.01, shots: int = 4000, seed: int | None = None) -> None:
        self.error = error
        self.shots = shots
        self.seed = seed
        self.noise = NoiseModel()
        if error > 0:
            self.noise.add_all_qubit_quantum_error(depolarizing_error(error, 1), ONE_QUBIT)
            self.noise.add_all_qubit_quantum_error(depolarizing_error(error, 2), TWO_QUBIT)

    def _backend_options(self) -> dict:
        options = {"noise_model": self.noise} if self.error > 0 else {}
        if self.seed is not None:
            options["seed_simulator"] = self.seed
        return options

    def estimator(self) -> EstimatorV2:
        return EstimatorV2(options={"backend_options": self._backend_options(),
                                    "default_precision": 1 / self.shots**0.5})

    def sampler(self) -> SamplerV2:
        return SamplerV2(default_shots=self.shots, seed=self.seed, options={"backend_options": self._backend_options()})

    def describe(self) -> str:
        return f"Aer, depolarizing p={self.error:g}, {self.shots} shots"
