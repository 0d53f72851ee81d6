"""Built-in datasets of QML Studio, registered through the ``qmlstudio`` entry point like any plugin.

Toy problems (moons, circles, XOR, blobs), scikit-learn's bundled tables (iris, wine, breast
cancer, 8×8 digits), qiskit-machine-learning's ad-hoc data, and the user's own CSV files,
MNIST-format IDX files and folders of images (one sub-folder per class). Everything works offline and every generator is seeded.

Listing them is cheap: each factory is an import path, so scikit-learn and
qiskit-machine-learning are imported only when a dataset is loaded.
"""

from __future__ import annotations

import math

from qmlstudio.plugins import DatasetSpec, ImporterSpec, Option, hookimpl

__all__ = ["csv_import_options", "qmlstudio_datasets", "qmlstudio_importers"]

_SEED = Option(
    "seed",
    "int",
    0,
    title="Random seed",
    help="The same seed gives the same samples every time",
    minimum=0,
    maximum=2**32 - 1,
)


def _samples(default: int = 200) -> Option:
    return Option(
        "samples",
        "int",
        default,
        title="Samples",
        help="Number of points in total, split evenly between the classes",
        minimum=10,
        maximum=100_000,
    )


def _noise(default: float) -> Option:
    return Option(
        "noise",
        "float",
        default,
        title="Noise",
        help="Standard deviation of the Gaussian noise added to each coordinate",
        minimum=0.0,
        maximum=2.0,
    )


_CLASSES_TEXT_HELP = "Which classes to keep, as comma-separated values such as '0,1' or '3,5,8'; empty keeps all"


@hookimpl
def qmlstudio_datasets() -> list[DatasetSpec]:
    """The built-in datasets."""
    return [
        DatasetSpec(
            name="moons",
            title="Two moons",
            factory="qmls_datasets.toy:moons",
            description="Two interleaving half circles in 2-D: not linearly separable",
            options=(_samples(), _noise(0.1), _SEED),
        ),
        DatasetSpec(
            name="circles",
            title="Concentric circles",
            factory="qmls_datasets.toy:circles",
            description="A small circle inside a larger one in 2-D",
            options=(
                _samples(),
                _noise(0.05),
                Option(
                    "factor",
                    "float",
                    0.5,
                    title="Radius ratio",
                    help="Radius of the inner circle relative to the outer one",
                    minimum=0.05,
                    maximum=0.95,
                ),
                _SEED,
            ),
        ),
        DatasetSpec(
            name="xor",
            title="XOR",
            factory="qmls_datasets.toy:xor",
            description="Points in the square [-1, 1]²; the class is whether both coordinates have the same sign",
            options=(_samples(), _noise(0.1), _SEED),
        ),
        DatasetSpec(
            name="blobs",
            title="Gaussian blobs",
            factory="qmls_datasets.toy:blobs",
            description="Isotropic Gaussian clusters, one per class",
            options=(
                _samples(),
                Option("classes", "int", 3, title="Classes", help="Number of clusters", minimum=2, maximum=6),
                Option("features", "int", 2, title="Features", help="Dimension of the points", minimum=1, maximum=64),
                Option(
                    "spread",
                    "float",
                    1.0,
                    title="Spread",
                    help="Standard deviation of each cluster (the centres lie in a box of side 20)",
                    minimum=0.01,
                    maximum=20.0,
                ),
                _SEED,
            ),
        ),
        DatasetSpec(
            name="iris",
            title="Iris flowers",
            factory="qmls_datasets.tables:iris",
            description="Fisher's iris: 150 flowers, 4 measurements in cm, 3 species",
        ),
        DatasetSpec(
            name="wine",
            title="Wine",
            factory="qmls_datasets.tables:wine",
            description="178 Italian wines, 13 chemical measurements, 3 cultivars",
        ),
        DatasetSpec(
            name="breast-cancer",
            title="Breast cancer (Wisconsin)",
            factory="qmls_datasets.tables:breast_cancer",
            description="569 tumours, 30 features of cell nuclei, malignant or benign",
        ),
        DatasetSpec(
            name="digits",
            title="Handwritten digits (8×8)",
            factory="qmls_datasets.tables:digits",
            description="1797 handwritten digits as 8×8 images with grey levels 0..16",
            images=True,
            options=(
                Option("classes", "str", "0,1", title="Digits", help=_CLASSES_TEXT_HELP),
            ),
        ),
        DatasetSpec(
            name="ad-hoc",
            title="Ad-hoc (Havlíček et al.)",
            factory="qmls_datasets.adhoc:ad_hoc",
            description="Two classes separable by a ZZ feature map (Nature 567, 209 (2019)), "
            "with its own training and test split. The features are angles in [0, 2π]: use them "
            "unscaled (rescaling destroys the structure the classes are defined by)",
            natural_range=(0.0, 2 * math.pi),
            default_scaling="none",
            options=(
                Option(
                    "features",
                    "int",
                    2,
                    title="Features (qubits)",
                    help="Dimension of the data, which is also the number of qubits of its feature map",
                    minimum=2,
                    maximum=3,
                ),
                Option(
                    "training_size",
                    "int",
                    20,
                    title="Training samples per class",
                    minimum=1,
                    maximum=2000,
                ),
                Option("test_size", "int", 10, title="Test samples per class", minimum=0, maximum=2000),
                Option(
                    "gap",
                    "float",
                    0.3,
                    title="Gap",
                    help="Margin between the classes in the feature map's expectation value; larger is easier",
                    minimum=0.0,
                    maximum=0.9,
                ),
                _SEED,
            ),
        ),
        DatasetSpec(
            name="csv",
            title="CSV file",
            factory="qmls_datasets.csv_table:load_csv",
            description="A table of numbers from a CSV file: one row per sample, one column holds the label",
            options=(
                Option("path", "path", "", title="File", help="The CSV (or TSV) file to read"),
                Option(
                    "label_column",
                    "str",
                    "",
                    title="Label column",
                    help="Name of the column to predict, or its 0-based position (-1 is the last); "
                    "empty means the last column",
                ),
                Option(
                    "feature_columns",
                    "str",
                    "",
                    title="Feature columns",
                    help="Comma-separated names or 0-based positions (ranges such as 2-5 allowed); "
                    "empty means every column but the label",
                ),
                Option(
                    "delimiter",
                    "choice",
                    "auto",
                    title="Delimiter",
                    help="What separates the cells; auto detects comma, semicolon, tab, | and spaces",
                    choices=("auto", ",", ";", "tab", "|", "space"),
                ),
                Option(
                    "header",
                    "choice",
                    "auto",
                    title="Header row",
                    help="Whether the first row holds column names; auto assumes so when it has no number",
                    choices=("auto", "yes", "no"),
                ),
                Option(
                    "missing",
                    "choice",
                    "error",
                    title="Missing values",
                    help="What to do with empty cells (and NA, NaN, null, ?): stop with an error, drop "
                    "those rows, or replace a missing feature by its column's mean (rows missing the "
                    "label are dropped)",
                    choices=("error", "drop", "impute-mean"),
                ),
                Option(
                    "task",
                    "choice",
                    "classification",
                    title="Task",
                    help="Classification: the label column holds classes (numbers or text). "
                    "Regression: it holds numbers to predict",
                    choices=("classification", "regression"),
                ),
            ),
        ),
        DatasetSpec(
            name="idx",
            title="MNIST-format IDX files",
            factory="qmls_datasets.idx_files:load_idx",
            description="Images and labels in the IDX format of MNIST and Fashion-MNIST "
            "(plain or .gz), from files you already have",
            images=True,
            options=(
                Option("images_path", "path", "", title="Images file", help="e.g. train-images-idx3-ubyte.gz"),
                Option("labels_path", "path", "", title="Labels file", help="e.g. train-labels-idx1-ubyte.gz"),
                Option(
                    "limit",
                    "int",
                    2000,
                    title="At most",
                    help="Keep only the first N images of the chosen classes (0 keeps all)",
                    minimum=0,
                ),
                Option("classes", "str", "0,1", title="Classes", help=_CLASSES_TEXT_HELP),
            ),
        ),
        DatasetSpec(
            name="image-folder",
            title="Folder of images",
            factory="qmls_datasets.image_folder:load_image_folder",
            description="Your own PNG or JPEG images, one sub-folder per class (named after the class), "
            "read in grey scale and resized to a small square",
            images=True,
            options=(
                # Named "folder", not "path": a project's "path" option is a file whose SHA-256 is checked.
                Option(
                    "folder",
                    "path",
                    "",
                    title="Folder",
                    help="The folder that holds one sub-folder of PNG or JPEG images per class",
                ),
                Option(
                    "size",
                    "int",
                    8,
                    title="Size (pixels)",
                    help="Each image is resized to size × size grey pixels (8 gives 64 features)",
                    minimum=2,
                    maximum=64,
                ),
                Option(
                    "limit",
                    "int",
                    200,
                    title="At most per class",
                    help="Read only the first N images of each class, in file-name order (0 reads all)",
                    minimum=0,
                    maximum=1_000_000,
                ),
                Option(
                    "classes",
                    "str",
                    "",
                    title="Classes",
                    help="Which class folders to use, as comma-separated folder names; empty uses all",
                ),
            ),
        ),
    ]


def csv_import_options(path: str) -> dict:
    """The ``csv`` dataset's options for a file (its delimiter and header detected); raises for an unreadable file."""
    from qmls_datasets.csv_table import preview_csv

    preview = preview_csv(path, rows=1)
    return {"path": path, "delimiter": preview["delimiter"], "header": "yes" if preview["header"] else "no"}


@hookimpl
def qmlstudio_importers() -> list[ImporterSpec]:
    """The CSV import (the dataset panel's Import menu); images have their own dialog."""
    return [
        ImporterSpec(
            name="csv",
            title="CSV table…",
            factory=csv_import_options,
            description="Preview a CSV file, choose its label and feature columns and load it",
            dataset="csv",
            file_filter="CSV and text tables (*.csv *.tsv *.txt *.dat);;All files (*)",
            preview="qmls_datasets.csv_table:preview_csv",
        )
    ]
