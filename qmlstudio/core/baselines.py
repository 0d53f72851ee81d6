"""Classical baselines trained on the identical split, so every quantum result has company.

Logistic regression, a small multi-layer perceptron and an RBF support-vector machine from
scikit-learn (their regression counterparts for regression data), on exactly the prepared
features the quantum model sees.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from qmlstudio.core.preprocessing import PreparedData


def baseline_models(task: str, seed: int) -> dict[str, Any]:
    """The scikit-learn estimators compared with every quantum model, by display name."""
    from sklearn.linear_model import LinearRegression, LogisticRegression
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.svm import SVC, SVR

    if task == "regression":
        return {
            "linear regression": LinearRegression(),
            "MLP": MLPRegressor(hidden_layer_sizes=(16,), max_iter=2000, random_state=seed),
            "RBF SVR": SVR(kernel="rbf"),
        }
    return {
        "logistic regression": LogisticRegression(max_iter=1000),
        "MLP": MLPClassifier(hidden_layer_sizes=(16,), max_iter=2000, random_state=seed),
        "RBF SVM": SVC(kernel="rbf"),
    }


def run_baselines(data: PreparedData, seed: int) -> dict[str, dict[str, float | None]]:
    """Train and test score (accuracy, or R² for regression) and seconds of each baseline."""
    results: dict[str, dict[str, float | None]] = {}
    for name, model in baseline_models(data.task, seed).items():
        start = time.perf_counter()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(data.x_train, data.y_train)
                train = float(model.score(data.x_train, data.y_train))
                test = float(model.score(data.x_test, data.y_test)) if len(data.y_test) else None
        except ValueError:
            train = test = None  # e.g. too few samples of a class for this model
        results[name] = {"train_accuracy": train, "test_accuracy": test, "seconds": time.perf_counter() - start}
    return results
