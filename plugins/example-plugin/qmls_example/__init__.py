"""An example QML Studio plugin: one encoding and one dataset, through the public API only."""

from __future__ import annotations

import numpy as np

from qmlstudio.plugins import CircuitDesign, Dataset, DatasetSpec, Encoding, EncodingSpec, Gate, Option, hookimpl

__version__ = "0.1.0"


class ArctanEncoding(Encoding):
    """RY(2·arctan(s·x_j)) on qubit j: bounded angles whatever the features' scale."""

    def __init__(self, scale: float = 1.0) -> None:
        self.scale = scale

    def num_qubits(self, num_features: int) -> int:
        return num_features

    def circuit(self, num_features: int) -> CircuitDesign:
        gates = [Gate("ry", (q,), [f"x[{q}]"], block="example-arctan") for q in range(num_features)]
        return CircuitDesign(num_features, gates)

    def transform(self, features: np.ndarray) -> np.ndarray:
        return 2.0 * np.arctan(self.scale * np.asarray(features, dtype=float))


def two_spirals(samples: int = 200, turns: float = 1.5, noise: float = 0.05, seed: int = 0) -> Dataset:
    """Two interleaved spirals, half the samples each."""
    rng = np.random.default_rng(seed)
    per_class = samples // 2
    t = np.sqrt(rng.uniform(0.05, 1.0, size=per_class)) * turns * 2 * np.pi
    arm = np.column_stack([t * np.cos(t), t * np.sin(t)]) / (turns * 2 * np.pi)
    features = np.vstack([arm, -arm]) + rng.normal(scale=noise, size=(2 * per_class, 2))
    labels = np.repeat([0, 1], per_class)
    return Dataset(features, labels, ["x", "y"], ["arm A", "arm B"], description="Two interleaved spirals")


@hookimpl
def qmlstudio_encodings():
    return [
        EncodingSpec(
            name="example-arctan",
            title="Arctan angle encoding (example plugin)",
            description="One qubit per feature, RY(2·arctan(s·x)): bounded angles for unscaled data.",
            factory=ArctanEncoding,
            options=(Option("scale", "float", 1.0, minimum=0.01, maximum=100.0, help="s in 2·arctan(s·x)"),),
        )
    ]


@hookimpl
def qmlstudio_datasets():
    return [
        DatasetSpec(
            name="example-spirals",
            title="Two spirals (example plugin)",
            description="Two interleaved spirals: a classic hard 2-D classification problem.",
            factory=two_spirals,
            options=(
                Option("samples", "int", 200, minimum=10, maximum=100000),
                Option("turns", "float", 1.5, minimum=0.25, maximum=5.0),
                Option("noise", "float", 0.05, minimum=0.0, maximum=1.0),
                Option("seed", "int", 0),
            ),
        )
    ]
