"""The example dataset: what ``qmlstudio_datasets`` factories return."""

from __future__ import annotations

import numpy as np

from qmlstudio.plugins import Dataset


def two_spirals(samples: int = 200, turns: float = 1.5, noise: float = 0.05, seed: int = 0) -> Dataset:
    """Two interleaved spirals, half the samples each. Raw coordinates: the engine scales them."""
    rng = np.random.default_rng(seed)
    per_class = samples // 2
    t = np.sqrt(rng.uniform(0.05, 1.0, size=per_class)) * turns * 2 * np.pi
    arm = np.column_stack([t * np.cos(t), t * np.sin(t)]) / (turns * 2 * np.pi)
    features = np.vstack([arm, -arm]) + rng.normal(scale=noise, size=(2 * per_class, 2))
    labels = np.repeat([0, 1], per_class)
    return Dataset(features, labels, ["x", "y"], ["arm A", "arm B"], description="Two interleaved spirals")
