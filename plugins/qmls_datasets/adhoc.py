"""qiskit-machine-learning's ad-hoc dataset, with its training/test split kept."""

from __future__ import annotations

import threading

import numpy as np

from qmlstudio.plugins import Dataset

# ad_hoc_data draws from qiskit-machine-learning's global generator; seeding it is a global
# side effect, so it is done under a lock and the previous seed is put back afterwards.
_GLOBAL_SEED_LOCK = threading.Lock()


def ad_hoc(features: int = 2, training_size: int = 20, test_size: int = 10, gap: float = 0.3, seed: int = 0) -> Dataset:
    """Two classes separable by a ZZ feature map (Havlíček et al., Nature 567, 209 (2019)).

    The rows are the training samples followed by the test samples;
    ``extra["split"]`` says which is which ("train" or "test") so that the engine can
    honour the intended split instead of drawing its own.
    """
    from qiskit_machine_learning.datasets import ad_hoc_data
    from qiskit_machine_learning.utils import algorithm_globals

    with _GLOBAL_SEED_LOCK:
        previous = algorithm_globals.random_seed
        algorithm_globals.random_seed = seed
        try:
            x_train, y_train, x_test, y_test = ad_hoc_data(
                training_size=training_size, test_size=test_size, n=features, gap=gap, one_hot=True
            )
        finally:
            algorithm_globals.random_seed = previous
    x_test = np.asarray(x_test, dtype=float).reshape(-1, features)
    y_test = np.asarray(y_test).reshape(-1, 2)
    features_all = np.concatenate([np.asarray(x_train, dtype=float), x_test])
    labels = np.concatenate([np.argmax(y_train, axis=1), np.argmax(y_test, axis=1)]).astype(int)
    split = ["train"] * len(x_train) + ["test"] * len(x_test)
    return Dataset(
        features_all,
        labels,
        feature_names=[f"x{j}" for j in range(features)],
        class_names=("A", "B"),
        description=f"Ad-hoc data in {features}-D (features in [0, 2π)), gap {gap:g}: "
        f"{len(x_train)} training and {len(x_test)} test samples, seed {seed}",
        extra={"split": split},
    )
