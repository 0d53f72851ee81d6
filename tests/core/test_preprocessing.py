"""Preparing data (qmlstudio.core.preprocessing): scaling, PCA and every other fitted step use
the training split only, and the fitted steps replay exactly on new rows and after JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.decomposition import PCA

from qmlstudio.core.dataset import Dataset, DatasetError
from qmlstudio.core.preprocessing import FittedPreprocessing, prepare
from qmlstudio.core.project import Preprocessing
from qmlstudio.plugins.manager import load_plugins


def split_dataset(samples: int = 40, features: int = 4, classes: int = 3, seed: int = 0) -> Dataset:
    """Classification data whose train/test split is fixed by ``extra["split"]`` (every
    fourth row is a test row), so that the raw training rows are known."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(samples, features)) * np.arange(1, features + 1) + np.arange(features) * 10
    labels = np.arange(samples) % classes
    split = ["test" if i % 4 == 3 else "train" for i in range(samples)]
    return Dataset(x, labels, class_names=[f"c{c}" for c in range(classes)], extra={"split": split})


def raw_split(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    is_test = np.array([s == "test" for s in dataset.extra["split"]])
    return dataset.features[~is_test], dataset.features[is_test]


@pytest.mark.parametrize("scaling,low,high", [("minmax-pi", 0.0, np.pi), ("minmax-sym", -1.0, 1.0)])
def test_minmax_scaling_maps_the_training_range(scaling, low, high):
    dataset = split_dataset()
    data = prepare(dataset, Preprocessing(scaling=scaling), seed=0)
    np.testing.assert_allclose(data.x_train.min(axis=0), low, atol=1e-12)
    np.testing.assert_allclose(data.x_train.max(axis=0), high, atol=1e-12)
    # the test rows get the training transformation (so they may leave the range)
    train, test = raw_split(dataset)
    lo, hi = train.min(axis=0), train.max(axis=0)
    np.testing.assert_allclose(data.x_test, low + (test - lo) / (hi - lo) * (high - low), atol=1e-12)


def test_standardize_and_none():
    dataset = split_dataset()
    train, test = raw_split(dataset)
    data = prepare(dataset, Preprocessing(scaling="standardize"), seed=0)
    np.testing.assert_allclose(data.x_train.mean(axis=0), 0.0, atol=1e-12)
    np.testing.assert_allclose(data.x_train.std(axis=0), 1.0, atol=1e-12)
    np.testing.assert_allclose(data.x_test, (test - train.mean(axis=0)) / train.std(axis=0), atol=1e-12)
    untouched = prepare(dataset, Preprocessing(scaling="none"), seed=0)
    np.testing.assert_array_equal(untouched.x_train, train)
    np.testing.assert_array_equal(untouched.x_test, test)


def test_a_feature_subset_takes_the_columns_in_the_order_given():
    dataset = split_dataset(features=5)
    train, test = raw_split(dataset)
    data = prepare(dataset, Preprocessing(features=(1, 0), scaling="none"), seed=0)
    np.testing.assert_array_equal(data.x_train, train[:, [1, 0]])
    np.testing.assert_array_equal(data.x_test, test[:, [1, 0]])
    assert data.feature_names == ["x1", "x0"]
    scaled = prepare(dataset, Preprocessing(features=(4, 2), scaling="standardize"), seed=0)
    chosen = train[:, [4, 2]]
    np.testing.assert_allclose(scaled.x_train, (chosen - chosen.mean(axis=0)) / chosen.std(axis=0), atol=1e-12)


def test_a_constant_feature_does_not_divide_by_zero():
    dataset = split_dataset()
    dataset.features[:, 1] = 5.0
    for scaling in ("minmax-pi", "minmax-sym", "standardize"):
        data = prepare(dataset, Preprocessing(scaling=scaling), seed=0)
        assert np.all(np.isfinite(data.x_train)) and np.all(np.isfinite(data.x_test))


def test_pca_is_fitted_on_the_training_rows_only():
    dataset = split_dataset(features=5)
    train, test = raw_split(dataset)
    data = prepare(dataset, Preprocessing(pca=2, scaling="none"), seed=0)
    mean, std = train.mean(axis=0), train.std(axis=0)
    reference = PCA(n_components=2).fit((train - mean) / std)
    signs = np.sign(np.sum(data.fitted.pca_components * reference.components_, axis=1))  # a component's sign is free
    np.testing.assert_allclose(data.x_train, reference.transform((train - mean) / std) * signs, atol=1e-9)
    np.testing.assert_allclose(data.x_test, reference.transform((test - mean) / std) * signs, atol=1e-9)
    assert data.feature_names == ["PC1", "PC2"]
    # the test rows have no say: wild test rows leave the fit alone
    wild = Dataset(dataset.features.copy(), dataset.labels, class_names=dataset.class_names, extra=dataset.extra)
    is_test = np.array([s == "test" for s in dataset.extra["split"]])
    wild.features[is_test] *= 1000
    again = prepare(wild, Preprocessing(pca=2, scaling="none"), seed=0)
    np.testing.assert_array_equal(again.x_train, data.x_train)
    assert again.fitted.to_dict() == data.fitted.to_dict()


def test_min_max_is_fitted_on_the_training_rows_only():
    dataset = split_dataset()
    reference = prepare(dataset, Preprocessing(), seed=0)
    wild = Dataset(dataset.features.copy(), dataset.labels, class_names=dataset.class_names, extra=dataset.extra)
    wild.features[np.array([s == "test" for s in dataset.extra["split"]])] = -1e6
    again = prepare(wild, Preprocessing(), seed=0)
    np.testing.assert_array_equal(again.x_train, reference.x_train)
    assert again.x_test.min() < -1e3


def test_class_subset_keeps_the_chosen_classes_and_relabels_them():
    dataset = split_dataset(samples=60)
    data = prepare(dataset, Preprocessing(classes=(2, "c0")), seed=0)
    assert data.class_names == ["c2", "c0"] and data.num_classes == 2
    assert set(data.y_train) | set(data.y_test) == {0, 1}
    train, test = raw_split(dataset)
    is_test = np.array([s == "test" for s in dataset.extra["split"]])
    train_labels = dataset.labels[~is_test]
    kept = train_labels != 1
    # the predefined split still holds on the kept rows, and class 2 is now 0, class 0 is 1
    assert len(data.y_train) == kept.sum() and len(data.y_test) == (dataset.labels[is_test] != 1).sum()
    np.testing.assert_array_equal(data.y_train, np.where(train_labels[kept] == 2, 0, 1))
    raw = prepare(dataset, Preprocessing(classes=(2, 0), scaling="none"), seed=0)
    np.testing.assert_array_equal(raw.x_train, train[kept])


def test_class_subset_with_a_random_split():
    dataset = Dataset(np.arange(90.0).reshape(45, 2), np.arange(45) % 3, class_names=["a", "b", "c"])
    data = prepare(dataset, Preprocessing(classes=("c", "a"), test_size=0.25), seed=3)
    assert data.class_names == ["c", "a"]
    assert len(data.y_train) + len(data.y_test) == 30
    assert np.bincount(data.y_test).tolist() == [4, 4]  # stratified
    again = prepare(dataset, Preprocessing(classes=("c", "a"), test_size=0.25), seed=3)
    np.testing.assert_array_equal(again.x_train, data.x_train)


def test_bad_class_subsets_are_explained():
    dataset = split_dataset()
    with pytest.raises(DatasetError, match="not in the dataset"):
        prepare(dataset, Preprocessing(classes=("nope", "c0")), seed=0)
    with pytest.raises(DatasetError, match="out of range"):
        prepare(dataset, Preprocessing(classes=(0, 7)), seed=0)
    with pytest.raises(DatasetError, match="two classes"):
        prepare(dataset, Preprocessing(classes=(1,)), seed=0)
    with pytest.raises(DatasetError, match="feature 9"):
        prepare(dataset, Preprocessing(features=(0, 9)), seed=0)
    with pytest.raises(DatasetError, match="PCA"):
        prepare(dataset, Preprocessing(pca=7), seed=0)


def test_ad_hoc_data_keeps_its_own_split():
    registry = load_plugins()
    dataset = registry.get("datasets", "ad-hoc").create({"training_size": 15, "test_size": 6, "seed": 4})
    data = prepare(dataset, Preprocessing(scaling="none"), seed=99)
    assert len(data.y_train) == 30 and len(data.y_test) == 12
    np.testing.assert_array_equal(data.x_train, dataset.features[:30])
    np.testing.assert_array_equal(data.x_test, dataset.features[30:])
    np.testing.assert_array_equal(data.y_test, dataset.labels[30:])
    # a class subset (here: both classes, swapped) keeps the split too
    swapped = prepare(dataset, Preprocessing(classes=("B", "A"), scaling="none"), seed=99)
    np.testing.assert_array_equal(swapped.x_test, dataset.features[30:])
    np.testing.assert_array_equal(swapped.y_test, 1 - dataset.labels[30:])


@pytest.mark.parametrize(
    "settings",
    [
        dict(),
        dict(scaling="standardize", features=(3, 0, 2)),
        dict(pca=3, scaling="minmax-sym"),
        dict(pca=2, padding=True),
    ],
)
def test_fitted_preprocessing_replays_on_new_rows_and_after_json(settings):
    dataset = split_dataset(features=5)
    train, test = raw_split(dataset)
    data = prepare(dataset, Preprocessing(**settings), seed=0, pad_to=4)
    fitted = data.fitted
    np.testing.assert_allclose(fitted.apply(train), data.x_train, atol=1e-12)
    np.testing.assert_allclose(fitted.apply(test), data.x_test, atol=1e-12)
    np.testing.assert_allclose(fitted.apply(test[0]), data.x_test[:1], atol=1e-12)  # one row
    if settings.get("padding"):
        assert data.x_train.shape[1] == 4 and np.all(data.x_train[:, 2:] == 0)
        assert data.feature_names == ["PC1", "PC2", "pad2", "pad3"]
    text = json.dumps(fitted.to_dict())
    restored = FittedPreprocessing.from_dict(json.loads(text))
    assert restored == fitted
    new_rows = np.random.default_rng(5).normal(size=(7, 5)) * 20
    np.testing.assert_array_equal(restored.apply(new_rows), fitted.apply(new_rows))


def test_regression_targets_are_mapped_to_plus_minus_one_on_the_training_split():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = 3 * x[:, 0] + 10
    data = prepare(Dataset(x, y, task="regression"), Preprocessing(), seed=1)
    assert data.y_train.min() == pytest.approx(-1) and data.y_train.max() == pytest.approx(1)
    assert data.task == "regression" and data.class_names == []
    back = (data.y_test + 1) / data.target_factor + data.target_offset
    assert np.all(np.isin(np.round(back, 9), np.round(y, 9)))


def test_a_validation_split_comes_from_the_non_test_rows_stratified_and_seeded():
    from qmlstudio.core.project import Preprocessing as Settings
    from qmlstudio.plugins.manager import load_plugins

    spec = load_plugins().get("datasets", "iris")
    dataset = spec.create(spec.resolve({}))
    # the test rows do not move when a validation split is added (compared unscaled: the
    # scaling follows the training rows, which do change)
    raw = [prepare(dataset, Settings(scaling="none", validation_size=v), seed=7) for v in (0.0, 0.2)]
    np.testing.assert_array_equal(raw[0].x_test, raw[1].x_test)
    without = prepare(dataset, Settings(validation_size=0.0), seed=7)
    with_val = prepare(dataset, Settings(validation_size=0.2), seed=7)
    assert len(with_val.y_val) == 30 and len(with_val.y_train) == len(without.y_train) - 30
    assert np.bincount(with_val.y_val).tolist() == [10, 10, 10]  # stratified
    again = prepare(dataset, Settings(validation_size=0.2), seed=7)
    np.testing.assert_array_equal(again.x_val, with_val.x_val)
    other = prepare(dataset, Settings(validation_size=0.2), seed=8)
    assert not np.array_equal(other.x_val, with_val.x_val)
    # scaling is fitted on the training rows only: they span exactly [0, π]
    assert with_val.x_train.min() == 0 and np.isclose(with_val.x_train.max(), np.pi)
    # none of the validation rows is a training row
    rows = {tuple(r) for r in with_val.x_train}
    assert not any(tuple(r) in rows for r in with_val.x_val)
