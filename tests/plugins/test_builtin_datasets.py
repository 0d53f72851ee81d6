"""The built-in datasets (plugins/qmls_datasets): defaults, CSV and IDX files, and their errors."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from qmlstudio.core.dataset import DatasetError
from qmlstudio.core.errors import OptionError
from qmlstudio.plugins import Dataset, DatasetSpec

import qmls_datasets

SPECS = {spec.name: spec for spec in qmls_datasets.qmlstudio_datasets()}
FILE_DATASETS = {"csv", "idx", "image-folder"}


def load(name: str, **options) -> Dataset:
    return SPECS[name].create(options)


def test_hook_qmlstudio_datasets():
    specs = qmls_datasets.qmlstudio_datasets()
    assert all(isinstance(s, DatasetSpec) for s in specs)
    assert [s.problems() for s in specs] == [[] for _ in specs]
    assert len(SPECS) == len(specs), "dataset names must be unique"
    assert set(SPECS) == {
        "moons", "circles", "xor", "blobs", "iris", "wine", "breast-cancer", "digits", "ad-hoc", "csv", "idx",
        "image-folder",
    }
    for spec in specs:
        assert isinstance(spec.factory, str), f"{spec.name}: the factory must be lazy (an import path)"
        for option in spec.options:
            if option.type in ("int", "float"):
                assert option.minimum is not None, f"{spec.name}.{option.name} needs a range"


EXPECTED = {
    # name: (samples, features, class names)
    "moons": (200, 2, ["upper moon", "lower moon"]),
    "circles": (200, 2, ["outer circle", "inner circle"]),
    "xor": (200, 2, ["same sign", "opposite signs"]),
    "blobs": (200, 2, ["blob 1", "blob 2", "blob 3"]),
    "iris": (150, 4, ["setosa", "versicolor", "virginica"]),
    "wine": (178, 13, ["cultivar 1", "cultivar 2", "cultivar 3"]),
    "breast-cancer": (569, 30, ["malignant", "benign"]),
    "digits": (360, 64, ["0", "1"]),
    "ad-hoc": (60, 2, ["A", "B"]),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dataset_loads_with_defaults(name):
    data = load(name)
    samples, features, classes = EXPECTED[name]
    assert data.features.shape == (samples, features)
    assert np.all(np.isfinite(data.features))
    assert data.class_names == classes
    assert data.task == "classification"
    assert sorted(set(data.labels.tolist())) == list(range(len(classes))), "every class has samples"
    assert len(data.feature_names) == features and len(set(data.feature_names)) == features
    assert data.description


def test_every_builtin_dataset_is_covered():
    assert set(EXPECTED) | FILE_DATASETS == set(SPECS)


@pytest.mark.parametrize("name", ["moons", "circles", "xor", "blobs", "ad-hoc"])
def test_generated_datasets_are_seeded(name):
    first, again, other = load(name, seed=3), load(name, seed=3), load(name, seed=4)
    assert np.array_equal(first.features, again.features) and np.array_equal(first.labels, again.labels)
    assert not np.array_equal(first.features, other.features)


def test_meaningful_feature_names():
    assert load("iris").feature_names[0] == "sepal length (cm)"
    assert load("breast-cancer").feature_names[0] == "mean radius"
    assert load("wine").feature_names[1] == "malic acid"


def test_toy_options_are_honoured():
    data = load("blobs", samples=120, classes=5, features=4, spread=0.5, seed=1)
    assert data.features.shape == (120, 4) and data.num_classes == 5
    assert list(data.class_counts().values()) == [24] * 5
    noisy, clean = load("xor", noise=0.5), load("xor", noise=0.0)
    # without noise the label is exactly the sign pattern
    assert np.array_equal(clean.labels, (clean.features[:, 0] * clean.features[:, 1] < 0).astype(int))
    assert not np.array_equal(noisy.labels, (noisy.features[:, 0] * noisy.features[:, 1] < 0).astype(int))
    with pytest.raises(OptionError):
        load("blobs", classes=7)


def test_digits_are_images_and_classes_select():
    data = load("digits", classes="3, 5,8")
    assert data.image_shape == (8, 8)
    assert data.class_names == ["3", "5", "8"]
    assert data.features.shape[1] == 64 and data.features.max() == 16
    assert load("digits", classes="").num_classes == 10
    for bad in ("1", "a,b", "0,12"):
        with pytest.raises(DatasetError):
            load("digits", classes=bad)


def test_ad_hoc_records_its_split():
    data = load("ad-hoc", features=3, training_size=7, test_size=4, gap=0.3, seed=2)
    split = data.extra["split"]
    assert data.features.shape == (22, 3)
    assert split == ["train"] * 14 + ["test"] * 8
    train = np.array(split) == "train"
    # each part is balanced between the two classes
    assert np.bincount(data.labels[train]).tolist() == [7, 7]
    assert np.bincount(data.labels[~train]).tolist() == [4, 4]
    assert data.features.min() >= 0 and data.features.max() <= 2 * np.pi


def test_ad_hoc_leaves_the_global_seed_as_it_was():
    from qiskit_machine_learning.utils import algorithm_globals

    algorithm_globals.random_seed = 1234
    try:
        load("ad-hoc", seed=5)
        assert algorithm_globals.random_seed == 1234
    finally:
        algorithm_globals.random_seed = None


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------
def write(tmp_path, text: str, name: str = "data.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


IRIS_LIKE = (
    "sepal length,sepal width,species\n"
    "5.1,3.5,setosa\n"
    "4.9,3.0,setosa\n"
    "7.0,3.2,versicolor\n"
    "6.4,3.2,versicolor\n"
    "6.3,3.3,virginica\n"
)


def test_csv_with_header_and_text_labels(tmp_path):
    data = load("csv", path=write(tmp_path, IRIS_LIKE))
    assert data.feature_names == ["sepal length", "sepal width"]
    assert data.class_names == ["setosa", "versicolor", "virginica"]
    assert data.labels.tolist() == [0, 0, 1, 1, 2]
    assert data.features[2].tolist() == [7.0, 3.2]


def test_csv_without_header_numeric_labels(tmp_path):
    path = write(tmp_path, "0.5;1.5;10\n0.25;2.5;2\n1.0;1.0;10\n")
    data = load("csv", path=path)
    assert data.feature_names == ["column 1", "column 2"]
    assert data.class_names == ["2", "10"], "numeric classes are ordered as numbers"
    assert data.labels.tolist() == [1, 0, 1]
    assert data.features[:, 0].tolist() == [0.5, 0.25, 1.0]
    same = load("csv", path=path, header="no", delimiter=";")
    assert np.array_equal(same.features, data.features)


def test_csv_label_and_feature_columns(tmp_path):
    path = write(tmp_path, "id,label,a,b,c\n1,x,0.1,0.2,0.3\n2,y,0.4,0.5,0.6\n3,x,0.7,0.8,0.9\n")
    data = load("csv", path=path, label_column="label", feature_columns="a, 4")
    assert data.feature_names == ["a", "c"]
    assert data.features[1].tolist() == [0.4, 0.6]
    assert data.class_names == ["x", "y"]
    by_position = load("csv", path=path, label_column="1", feature_columns="2-4")
    assert by_position.feature_names == ["a", "b", "c"]
    with pytest.raises(DatasetError, match="no column 'nope'"):
        load("csv", path=path, label_column="nope")
    with pytest.raises(DatasetError, match="label column"):
        load("csv", path=path, label_column="label", feature_columns="label,a")
    with pytest.raises(DatasetError, match="out of range"):
        load("csv", path=path, label_column="9")


def test_csv_tab_separated_and_decimal_comma(tmp_path):
    tsv = load("csv", path=write(tmp_path, "a\tb\ty\n1\t2\t0\n3\t4\t1\n", "data.tsv"))
    assert tsv.features.tolist() == [[1, 2], [3, 4]]
    european = load("csv", path=write(tmp_path, "a;b;y\n1,5;2,25;0\n3,0;4,5;1\n", "eu.csv"))
    assert european.features.tolist() == [[1.5, 2.25], [3.0, 4.5]]


def test_csv_regression(tmp_path):
    path = write(tmp_path, "x,y\n0,0.5\n1,1.5\n2,2.5\n")
    data = load("csv", path=path, task="regression")
    assert data.task == "regression" and data.class_names == []
    assert data.labels.tolist() == [0.5, 1.5, 2.5]
    with pytest.raises(DatasetError, match="line 3, column 'y'"):
        load("csv", path=write(tmp_path, "x,y\n0,0.5\n1,big\n", "bad.csv"), task="regression")


MISSING = "a,b,y\n1,2,0\n3,,1\n5,6,\n7,8,1\n9,NA,0\n"


def test_csv_missing_values_are_an_error_by_default(tmp_path):
    with pytest.raises(DatasetError, match=r"line 3, column 'b'.*missing.*drop.*impute-mean"):
        load("csv", path=write(tmp_path, MISSING))


def test_csv_missing_values_drop(tmp_path):
    data = load("csv", path=write(tmp_path, MISSING), missing="drop")
    assert data.features.tolist() == [[1, 2], [7, 8]]
    assert data.extra["dropped_rows"] == 3


def test_csv_missing_values_impute_mean(tmp_path):
    data = load("csv", path=write(tmp_path, MISSING), missing="impute-mean")
    # the row without a label is dropped; b's mean over the kept rows with a value is (2 + 8) / 2
    assert data.features.tolist() == [[1, 2], [3, 5], [7, 8], [9, 5]]
    assert data.labels.tolist() == [0, 1, 1, 0]


def test_csv_text_in_a_numeric_column_names_row_and_column(tmp_path):
    path = write(tmp_path, "a,b,y\n1,2,0\n3,4,1\n5,abc,1\n")
    with pytest.raises(DatasetError, match=r"line 4, column 'b': 'abc' is not a number"):
        load("csv", path=path)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("\n \n", "empty"),
        ("a,b,y\n", "no data rows"),
        ("a,b,y\n1,2,yes\n3,4,yes\n", "only one class"),
        ("a,b\n1,2\n3\n", "line 3 has 1 cells"),
        ("just one column\n1\n2\n", "single column"),
    ],
)
def test_csv_bad_files(tmp_path, text, message):
    with pytest.raises(DatasetError, match=message):
        load("csv", path=write(tmp_path, text))


def test_csv_binary_file_is_refused(tmp_path):
    path = tmp_path / "image.csv"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(DatasetError, match="not a text file"):
        load("csv", path=str(path))


def test_csv_too_many_classes(tmp_path):
    rows = "\n".join(f"{i},{i * 0.5},c{i}" for i in range(60))
    with pytest.raises(DatasetError, match="60 different values.*regression"):
        load("csv", path=write(tmp_path, "a,b,y\n" + rows))


def test_csv_missing_file_and_no_path(tmp_path):
    with pytest.raises(DatasetError, match="no file"):
        load("csv", path=str(tmp_path / "absent.csv"))
    with pytest.raises(DatasetError, match="choose a CSV file"):
        load("csv")
    with pytest.raises(DatasetError, match="not a file"):
        load("csv", path=str(tmp_path))


def test_csv_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    from qmls_datasets import csv_table

    monkeypatch.setattr(csv_table, "MAX_BYTES", 100)
    with pytest.raises(DatasetError, match="larger than"):
        load("csv", path=write(tmp_path, IRIS_LIKE * 2))


# ---------------------------------------------------------------------------
# IDX (MNIST format)
# ---------------------------------------------------------------------------
def idx_bytes(array: np.ndarray, type_code: int = 0x08) -> bytes:
    header = struct.pack(">BBBB", 0, 0, type_code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.fixture
def idx_pair(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(30, 4, 3), dtype=np.uint8)
    labels = (np.arange(30) % 3).astype(np.uint8)
    return images, labels


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_plain_and_gzip(tmp_path, idx_pair, compressed):
    images, labels = idx_pair
    pack = gzip.compress if compressed else (lambda b: b)
    images_path, labels_path = tmp_path / "images.idx", tmp_path / "labels.idx"
    images_path.write_bytes(pack(idx_bytes(images)))
    labels_path.write_bytes(pack(idx_bytes(labels)))

    data = load("idx", images_path=str(images_path), labels_path=str(labels_path), classes="", limit=0)
    assert data.image_shape == (4, 3)
    assert data.features.shape == (30, 12)
    assert np.array_equal(data.features, images.reshape(30, 12).astype(float))
    assert data.class_names == ["0", "1", "2"]
    assert np.array_equal(data.labels, labels)
    assert data.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]

    some = load("idx", images_path=str(images_path), labels_path=str(labels_path), classes="1,2", limit=5)
    assert some.class_names == ["1", "2"]
    assert some.labels.tolist() == [0, 1, 0, 1, 0]
    assert np.array_equal(some.features[0], images[1].reshape(-1))


def test_idx_corrupt_files(tmp_path, idx_pair):
    images, labels = idx_pair
    good_images, good_labels = tmp_path / "images.idx", tmp_path / "labels.idx"
    good_images.write_bytes(idx_bytes(images))
    good_labels.write_bytes(idx_bytes(labels))

    def attempt(images_file, labels_file=good_labels):
        return load("idx", images_path=str(images_file), labels_path=str(labels_file), classes="")

    bad_magic = tmp_path / "magic.idx"
    bad_magic.write_bytes(b"\x12\x34" + idx_bytes(images)[2:])
    with pytest.raises(DatasetError, match="not an IDX file"):
        attempt(bad_magic)

    truncated = tmp_path / "short.idx"
    truncated.write_bytes(idx_bytes(images)[:-7])
    with pytest.raises(DatasetError, match="truncated"):
        attempt(truncated)

    broken_gzip = tmp_path / "broken.gz"
    broken_gzip.write_bytes(gzip.compress(idx_bytes(images))[:40])
    with pytest.raises(DatasetError, match="gzip"):
        attempt(broken_gzip)

    fewer_labels = tmp_path / "fewer.idx"
    fewer_labels.write_bytes(idx_bytes(labels[:20]))
    with pytest.raises(DatasetError, match="30 images but .* 20 labels"):
        attempt(good_images, fewer_labels)

    with pytest.raises(DatasetError, match="no file"):
        attempt(tmp_path / "absent.idx")
    with pytest.raises(DatasetError, match="choose"):
        load("idx")


def test_idx_reads_other_value_types(tmp_path):
    from qmls_datasets.idx_files import read_idx

    values = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    path = tmp_path / "floats.idx"
    path.write_bytes(idx_bytes(values, 0x0D))
    assert np.array_equal(read_idx(path), values)
