"""What every built-in encoding shares: its editor block, feature checks and row handling."""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from qmlstudio.plugins import MAX_QUBITS, DatasetError, Encoding


class BuiltinEncoding(Encoding):
    """An encoding whose gates are grouped in the editor as the block ``encoding:<name>``."""

    name: ClassVar[str] = "encoding"

    @property
    def block(self) -> str:
        return f"encoding:{self.name}"

    def check(self, num_features: int) -> str | None:
        if num_features < 1:
            return f"the {self.name} encoding needs at least one feature"
        qubits = self.num_qubits(num_features)
        if qubits > MAX_QUBITS:
            return (
                f"the {self.name} encoding needs {qubits} qubits for {num_features} features; "
                f"at most {MAX_QUBITS} are supported (reduce the features, e.g. with PCA)"
            )
        return None

    def transform(self, features: np.ndarray) -> np.ndarray:
        return feature_rows(features)


def feature_rows(features: np.ndarray) -> np.ndarray:
    """``features`` as a float array of rows (a single row stays 1-D), rejecting NaN and infinity."""
    rows = np.asarray(features, dtype=float)
    if rows.ndim not in (1, 2):
        raise DatasetError(f"expected a table of features (samples × features), got shape {rows.shape}")
    if not np.all(np.isfinite(rows)):
        raise DatasetError("the features contain NaN or infinite values; clean or impute them first")
    return rows
