"""Small classic tables bundled with scikit-learn (no download)."""

from __future__ import annotations

from qmlstudio.plugins import Dataset

from qmls_datasets.classes import parse_class_selection, select_classes


def iris() -> Dataset:
    """Fisher's iris flowers: 4 measurements, 3 species."""
    from sklearn.datasets import load_iris

    bunch = load_iris()
    return Dataset(
        bunch.data,
        bunch.target,
        feature_names=list(bunch.feature_names),
        class_names=[str(n) for n in bunch.target_names],
        description="Iris: 150 flowers (50 per species), sepal and petal length and width in cm",
    )


def wine() -> Dataset:
    """Wines from three cultivars of the same region of Italy, 13 chemical measurements."""
    from sklearn.datasets import load_wine

    bunch = load_wine()
    return Dataset(
        bunch.data,
        bunch.target,
        feature_names=[str(n).replace("_", " ") for n in bunch.feature_names],
        class_names=["cultivar 1", "cultivar 2", "cultivar 3"],
        description="Wine: 178 wines from three grape cultivars, 13 chemical measurements on very different scales",
    )


def breast_cancer() -> Dataset:
    """The Wisconsin diagnostic breast-cancer data: 30 features of cell nuclei."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer()
    return Dataset(
        bunch.data,
        bunch.target,
        feature_names=[str(n) for n in bunch.feature_names],
        class_names=[str(n) for n in bunch.target_names],
        description="Breast cancer (Wisconsin): 569 tumours (212 malignant, 357 benign), "
        "30 features of cell nuclei from images of fine-needle aspirates",
    )


def digits(classes: str = "0,1") -> Dataset:
    """Handwritten digits as 8×8 images with grey levels 0..16 (UCI, bundled with scikit-learn)."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    chosen = parse_class_selection(classes, range(10))
    mask, labels = select_classes(bunch.target, chosen)
    return Dataset(
        bunch.data[mask],
        labels,
        feature_names=[f"pixel_{r}_{c}" for r in range(8) for c in range(8)],
        class_names=[str(d) for d in chosen],
        image_shape=(8, 8),
        description=f"Digits {', '.join(map(str, chosen))}: {int(mask.sum())} images of 8×8 pixels, grey levels 0..16",
    )
