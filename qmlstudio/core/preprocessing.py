"""Preparing a dataset for a quantum model: class subset, features, split, scaling, PCA.

Everything is fitted on the training split only and kept in a :class:`FittedPreprocessing`,
which applies the identical transformation to new rows at prediction time and can be
written to a project file as plain JSON (never pickle).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Sequence

import numpy as np

from qmlstudio.core.dataset import Dataset, DatasetError

SCALE_RANGES = {"minmax-pi": (0.0, np.pi), "minmax-sym": (-1.0, 1.0)}


@dataclass
class FittedPreprocessing:
    """The column choice, scalers and PCA fitted on a training split, as plain numbers."""

    features: list[int] | None = None
    pca_mean: list[float] | None = None
    pca_scale: list[float] | None = None
    pca_components: list[list[float]] | None = None
    scaling: str = "none"
    offset: list[float] = field(default_factory=list)
    factor: list[float] = field(default_factory=list)
    pad_to: int | None = None

    def apply(self, features: np.ndarray) -> np.ndarray:
        """The prepared rows for raw feature rows (samples × raw features)."""
        x = np.asarray(features, dtype=float)
        if x.ndim == 1:
            x = x[None, :]
        if self.features is not None:
            x = x[:, self.features]
        if self.pca_components is not None:
            x = ((x - np.asarray(self.pca_mean)) / np.asarray(self.pca_scale)) @ np.asarray(self.pca_components).T
        if self.scaling != "none":
            x = (x - np.asarray(self.offset)) * np.asarray(self.factor)
            if self.scaling in SCALE_RANGES:
                x = x + SCALE_RANGES[self.scaling][0]
        if self.pad_to is not None and x.shape[1] < self.pad_to:
            x = np.hstack([x, np.zeros((x.shape[0], self.pad_to - x.shape[1]))])
        return x

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "FittedPreprocessing":
        return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})


@dataclass
class PreparedData:
    """Train, validation and test splits ready for encoding, and how they were made.

    The validation split (``x_val``, ``y_val``; empty when the project asks for none) is
    what early stopping and live curves look at; the test split is scored once, at the
    end of a run.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    feature_names: list[str]
    class_names: list[str]
    task: str
    fitted: FittedPreprocessing
    #: for regression: targets were mapped to [-1, 1] by y' = (y - target_offset) * target_factor - 1
    target_offset: float = 0.0
    target_factor: float = 1.0
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    #: ``(height, width)`` when each row is still an image's pixels in their order (an image
    #: dataset with every feature kept, no PCA and no padding); else None
    image_shape: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.x_val is None:
            self.x_val = np.zeros((0, np.shape(self.x_train)[1]))
        if self.y_val is None:
            self.y_val = np.zeros(0, dtype=np.asarray(self.y_train).dtype)

    @property
    def num_features(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)


def _class_subset(
    dataset: Dataset, classes: Sequence[int | str] | None
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Features, relabelled labels and names of the chosen classes, and which rows were kept."""
    if not classes:
        return dataset.features, dataset.labels, list(dataset.class_names), np.ones(dataset.num_samples, dtype=bool)
    if dataset.task != "classification":
        raise DatasetError("a class subset needs classification data")
    names = list(dataset.class_names)
    chosen = []
    for c in classes:
        if isinstance(c, str):
            if c in names:
                chosen.append(names.index(c))
            elif c.strip().lstrip("-").isdigit() and 0 <= int(c) < len(names):
                chosen.append(int(c))
            else:
                raise DatasetError(f"class {c!r} is not in the dataset (classes: {', '.join(names)})")
        elif 0 <= int(c) < len(names):
            chosen.append(int(c))
        else:
            raise DatasetError(f"class {c} is out of range (the dataset has {len(names)} classes)")
    if len(chosen) < 2:
        raise DatasetError("keep at least two classes")
    mask = np.isin(dataset.labels, chosen)
    remap = {old: new for new, old in enumerate(chosen)}
    labels = np.array([remap[int(v)] for v in dataset.labels[mask]], dtype=int)
    return dataset.features[mask], labels, [names[c] for c in chosen], mask


def prepare(dataset: Dataset, preprocessing: Any, seed: int, pad_to: int | None = None) -> PreparedData:
    """Splits and scales ``dataset`` as ``preprocessing`` (a project's Preprocessing) says.

    ``pad_to`` pads the features with zeros up to that many when ``preprocessing.padding``
    is on (what an encoding needs). The split honours ``dataset.extra["split"]`` when the
    dataset defines one (the ad-hoc dataset does), else it is a seeded random split,
    stratified by class when asked.
    """
    from sklearn.decomposition import PCA
    from sklearn.model_selection import train_test_split

    x, y, class_names, kept = _class_subset(dataset, preprocessing.classes)
    feature_names = list(dataset.feature_names)
    keep = None
    if preprocessing.features is not None:
        keep = list(preprocessing.features)
        bad = [j for j in keep if j >= x.shape[1]]
        if bad:
            raise DatasetError(f"feature {bad[0]} does not exist (the data has {x.shape[1]} features)")
        feature_names = [feature_names[j] for j in keep]
        x = x[:, keep]

    split = dataset.extra.get("split")
    if split is not None and len(split) == len(kept):
        split = [s for s, keep_row in zip(split, kept) if keep_row]  # the rows of the chosen classes
    if split is not None and len(split) == len(y):
        is_test = np.array([s == "test" for s in split])
        x_train, x_test, y_train, y_test = x[~is_test], x[is_test], y[~is_test], y[is_test]
    else:
        if len(y) < 4:
            raise DatasetError(f"{len(y)} samples are too few to split into training and test data")
        x_train, x_test, y_train, y_test = train_test_split(
            x, y, test_size=preprocessing.test_size, random_state=seed, stratify=_strata(y, dataset, preprocessing)
        )
    x_val, y_val = x_train[:0], y_train[:0]
    if preprocessing.validation_size > 0:
        # From the non-test rows only, seeded and stratified: the test rows never move.
        n_val = int(round(preprocessing.validation_size * len(y)))  # a share of all the rows
        if n_val < 1 or len(y_train) - n_val < 2:
            raise DatasetError(
                f"a validation share of {preprocessing.validation_size:g} leaves {n_val} validation and "
                f"{len(y_train) - n_val} training samples; use more samples or another validation size"
            )
        x_train, x_val, y_train, y_val = train_test_split(
            x_train, y_train, test_size=n_val, random_state=(seed + 1) % 2**32,  # a seed of 2³²−1 stays in range
            stratify=_strata(y_train, dataset, preprocessing, n_val),
        )
    if dataset.task == "classification" and len(np.unique(y_train)) < 2:
        raise DatasetError("the training split holds only one class; use more samples or another split")

    fitted = FittedPreprocessing(features=keep, scaling=preprocessing.scaling)
    fit = x_train
    if preprocessing.pca is not None:
        components = preprocessing.pca
        if components > min(x_train.shape):
            raise DatasetError(
                f"PCA to {components} components needs at least that many features and training samples "
                f"(have {x_train.shape[1]} features, {x_train.shape[0]} samples)"
            )
        mean = x_train.mean(axis=0)
        scale = x_train.std(axis=0)
        scale[scale == 0] = 1.0
        pca = PCA(n_components=components, random_state=seed).fit((x_train - mean) / scale)
        fitted.pca_mean, fitted.pca_scale = mean.tolist(), scale.tolist()
        fitted.pca_components = pca.components_.tolist()
        fit = ((x_train - mean) / scale) @ pca.components_.T
        feature_names = [f"PC{i + 1}" for i in range(components)]

    if preprocessing.scaling in SCALE_RANGES:
        low, high = SCALE_RANGES[preprocessing.scaling]
        lo, hi = fit.min(axis=0), fit.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        fitted.offset, fitted.factor = lo.tolist(), ((high - low) / span).tolist()
    elif preprocessing.scaling == "standardize":
        mean, std = fit.mean(axis=0), fit.std(axis=0)
        fitted.offset, fitted.factor = mean.tolist(), (1.0 / np.where(std > 0, std, 1.0)).tolist()

    if preprocessing.padding and pad_to is not None and fit.shape[1] < pad_to:
        fitted.pad_to = pad_to
        feature_names = feature_names + [f"pad{j}" for j in range(fit.shape[1], pad_to)]

    # x_train and x_test hold the chosen columns already: apply the steps that follow the choice
    after_choice = replace(fitted, features=None)
    prepared = PreparedData(
        x_train=after_choice.apply(x_train),
        y_train=y_train,
        x_test=after_choice.apply(x_test),
        y_test=y_test,
        x_val=after_choice.apply(x_val),
        y_val=y_val,
        feature_names=feature_names,
        class_names=class_names,
        task=dataset.task,
        fitted=fitted,
    )
    shape = getattr(dataset, "image_shape", None)
    if (shape is not None and fitted.pca_components is None and fitted.pad_to is None
            and (keep is None or list(keep) == list(range(x.shape[1]))) and int(np.prod(shape)) == prepared.num_features):
        prepared.image_shape = (int(shape[0]), int(shape[1]))
    if dataset.task == "regression":
        lo, hi = float(y_train.min()), float(y_train.max())
        prepared.target_offset = lo
        prepared.target_factor = 2.0 / (hi - lo) if hi > lo else 1.0
        prepared.y_train = (y_train - lo) * prepared.target_factor - 1.0
        prepared.y_test = (y_test - lo) * prepared.target_factor - 1.0
        prepared.y_val = (y_val - lo) * prepared.target_factor - 1.0
    return prepared


def _strata(y: np.ndarray, dataset: Dataset, preprocessing: Any, n_held: int | None = None) -> np.ndarray | None:
    """The labels to stratify a split by, or None when it is off or a class is too small."""
    if not (preprocessing.stratify and dataset.task == "classification"):
        return None
    counts = np.bincount(y)
    present = counts[counts > 0]
    if present.min() < 2 or (n_held is not None and not len(present) <= n_held <= len(y) - len(present)):
        return None
    return y
