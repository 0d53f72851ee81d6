"""The data a model trains on, as a dataset plugin hands it over."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from qmlstudio.core.errors import QMLStudioError


class DatasetError(QMLStudioError, ValueError):
    """Data that cannot be used: wrong shapes, NaNs, one class only..."""


@dataclass
class Dataset:
    """Features, labels and their names.

    ``features`` is a float array (samples × features). ``labels`` holds class indices
    ``0..len(class_names)-1`` for classification, or float targets for regression (then
    ``class_names`` is empty). ``image_shape`` is set for image data, whose rows are the
    flattened pixels.
    """

    features: np.ndarray
    labels: np.ndarray
    feature_names: Sequence[str] = ()
    class_names: Sequence[str] = ()
    image_shape: tuple[int, int] | None = None
    task: str = "classification"
    description: str = ""
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.features = np.asarray(self.features, dtype=float)
        if self.features.ndim == 1:
            self.features = self.features[:, None]
        if self.features.ndim != 2:
            raise DatasetError(f"features must be a table (samples × features), got shape {self.features.shape}")
        n, k = self.features.shape
        if n == 0 or k == 0:
            raise DatasetError("the dataset is empty")
        if not np.all(np.isfinite(self.features)):
            rows, cols = np.nonzero(~np.isfinite(self.features))
            raise DatasetError(f"feature {cols[0]} of sample {rows[0]} is not a finite number")
        if self.task not in ("classification", "regression"):
            raise DatasetError(f"task must be 'classification' or 'regression', got {self.task!r}")
        labels = np.asarray(self.labels)
        if labels.shape != (n,):
            raise DatasetError(f"expected {n} labels, one per sample, got shape {labels.shape}")
        if self.task == "classification":
            if not np.issubdtype(labels.dtype, np.integer):
                if not np.all(np.equal(np.mod(labels, 1), 0)):
                    raise DatasetError("class labels must be whole numbers 0..C-1")
                labels = labels.astype(int)
            if not self.class_names:
                self.class_names = [str(c) for c in range(int(labels.max()) + 1)]
            if labels.min() < 0 or labels.max() >= len(self.class_names):
                raise DatasetError(f"class labels must lie in 0..{len(self.class_names) - 1}")
        else:
            labels = labels.astype(float)
        self.labels = labels
        if not self.feature_names:
            self.feature_names = [f"x{j}" for j in range(k)]
        if len(self.feature_names) != k:
            raise DatasetError(f"{k} features but {len(self.feature_names)} feature names")
        self.feature_names = list(self.feature_names)
        self.class_names = list(self.class_names)

    @property
    def num_samples(self) -> int:
        return int(self.features.shape[0])

    @property
    def num_features(self) -> int:
        return int(self.features.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def class_counts(self) -> dict[str, int]:
        """Samples per class, by class name (empty for regression)."""
        if self.task != "classification":
            return {}
        counts = np.bincount(self.labels, minlength=self.num_classes)
        return {name: int(c) for name, c in zip(self.class_names, counts)}
