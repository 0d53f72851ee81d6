"""Seeded 2-D toy problems and Gaussian blobs, generated on the spot."""

from __future__ import annotations

import numpy as np

from qmlstudio.plugins import Dataset

_XY = ("x0", "x1")


def moons(samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Two interleaving half circles (scikit-learn's ``make_moons``)."""
    from sklearn.datasets import make_moons

    features, labels = make_moons(n_samples=samples, noise=noise, random_state=seed)
    return Dataset(
        features,
        labels,
        feature_names=_XY,
        class_names=("upper moon", "lower moon"),
        description=f"Two moons: {samples} points, noise {noise:g}, seed {seed}",
    )


def circles(samples: int = 200, noise: float = 0.05, factor: float = 0.5, seed: int = 0) -> Dataset:
    """A circle inside another (scikit-learn's ``make_circles``)."""
    from sklearn.datasets import make_circles

    features, labels = make_circles(n_samples=samples, noise=noise, factor=factor, random_state=seed)
    return Dataset(
        features,
        labels,
        feature_names=_XY,
        class_names=("outer circle", "inner circle"),
        description=f"Concentric circles: {samples} points, radius ratio {factor:g}, noise {noise:g}, seed {seed}",
    )


def xor(samples: int = 200, noise: float = 0.1, seed: int = 0) -> Dataset:
    """Points in [-1, 1]², class 1 where the two coordinates have opposite signs."""
    rng = np.random.default_rng(seed)
    # Equal class sizes: draw magnitudes, then give each half the sign pattern of its class.
    magnitudes = rng.uniform(0.0, 1.0, size=(samples, 2))
    labels = np.arange(samples) % 2
    first_sign = rng.choice((-1.0, 1.0), size=samples)
    second_sign = np.where(labels == 0, first_sign, -first_sign)
    features = magnitudes * np.column_stack([first_sign, second_sign])
    features += rng.normal(0.0, noise, size=features.shape)
    order = rng.permutation(samples)
    return Dataset(
        features[order],
        labels[order],
        feature_names=_XY,
        class_names=("same sign", "opposite signs"),
        description=f"XOR: {samples} points, noise {noise:g}, seed {seed}",
    )


def blobs(samples: int = 200, classes: int = 3, features: int = 2, spread: float = 1.0, seed: int = 0) -> Dataset:
    """Isotropic Gaussian clusters (scikit-learn's ``make_blobs``)."""
    from sklearn.datasets import make_blobs

    points, labels = make_blobs(
        n_samples=samples, centers=classes, n_features=features, cluster_std=spread, random_state=seed
    )
    return Dataset(
        points,
        labels,
        feature_names=[f"x{j}" for j in range(features)],
        class_names=[f"blob {c + 1}" for c in range(classes)],
        description=f"Gaussian blobs: {samples} points in {features}-D, {classes} clusters of spread {spread:g}, "
        f"seed {seed}",
    )
