"""The built-in ``image-folder`` dataset: one sub-folder of PNG/JPEG images per class."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qmlstudio.core.dataset import DatasetError
from qmlstudio.plugins import DatasetSpec

import qmls_datasets

Image = pytest.importorskip("PIL.Image")

SPEC = next(s for s in qmls_datasets.qmlstudio_datasets() if s.name == "image-folder")


def make_folder(root: Path, classes: dict[str, int], size: int = 16, fmt: str = "PNG") -> Path:
    """``classes`` maps a class name to how many images to write; class k is drawn at grey level 40·(k+1)."""
    for k, (name, count) in enumerate(classes.items()):
        sub = root / name
        sub.mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = np.full((size, size), 40 * (k + 1), dtype=np.uint8)
            pixels[i % size, :] = 255  # a bright row that moves, so images differ
            suffix = ".png" if fmt == "PNG" else ".jpg"
            Image.fromarray(pixels, "L").save(sub / f"img{i + 1}{suffix}", fmt)
    return root


def test_hook_qmlstudio_datasets_declares_image_folder():
    assert isinstance(SPEC, DatasetSpec)
    assert SPEC.problems() == []
    assert SPEC.images is True
    assert isinstance(SPEC.factory, str), "the factory must be lazy (an import path)"
    assert [o.name for o in SPEC.options] == ["folder", "size", "limit", "classes"]
    for option in SPEC.options:
        if option.type == "int":
            assert option.minimum is not None and option.maximum is not None


def test_reads_one_class_per_sub_folder(tmp_path):
    root = make_folder(tmp_path / "shapes", {"circle": 3, "square": 2})
    (root / "square" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    data = SPEC.create({"folder": str(root), "size": 4})
    assert data.class_names == ["circle", "square"]
    assert data.features.shape == (5, 16)
    assert data.image_shape == (4, 4)
    assert list(data.labels) == [0, 0, 0, 1, 1]
    assert data.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert 0 <= data.features.min() and data.features.max() <= 255
    # the grey level of each class survives the resize (a 16×16 block of 40 or 80 with one bright row)
    assert data.features[0].min() == pytest.approx(40, abs=1)
    assert data.features[3].min() == pytest.approx(80, abs=1)
    assert "5 images" in data.description


def test_jpeg_colour_and_transparency_become_grey(tmp_path):
    root = tmp_path / "mixed"
    make_folder(root, {"a": 2}, fmt="JPEG")
    (root / "b").mkdir()
    Image.new("RGB", (10, 6), (255, 0, 0)).save(root / "b" / "red.png")
    Image.new("RGBA", (5, 5), (0, 0, 0, 0)).save(root / "b" / "clear.png")
    data = SPEC.create({"folder": str(root), "size": 3})
    assert data.features.shape == (4, 9)
    clear, red = data.features[2], data.features[3]  # file-name order: clear.png, red.png
    assert np.allclose(red, red[0]) and 60 < red[0] < 90  # red's luma is 76
    assert np.allclose(clear, 255)  # fully transparent counts as white


def test_limit_and_classes_and_natural_order(tmp_path):
    root = make_folder(tmp_path / "digits", {"2": 12, "10": 3, "7": 2})
    data = SPEC.create({"folder": str(root), "size": 2, "limit": 10})
    assert data.class_names == ["2", "7", "10"]  # natural order of folder names
    assert np.bincount(data.labels).tolist() == [10, 2, 3]
    data = SPEC.create({"folder": str(root), "size": 2, "classes": "10, 2"})
    assert data.class_names == ["10", "2"]
    assert np.bincount(data.labels).tolist() == [3, 12]


@pytest.mark.parametrize(
    "setup, options, message",
    [
        (lambda root: None, {"folder": ""}, "choose a folder"),
        (lambda root: None, {"folder": "{root}/missing"}, "there is no folder"),
        (lambda root: (root / "f.txt").write_text("x"), {"folder": "{root}/f.txt"}, "is a file"),
        (lambda root: None, {"folder": "{root}"}, "has no sub-folders"),
        (lambda root: make_folder(root, {"only": 2}), {"folder": "{root}"}, "at least two classes"),
        (lambda root: make_folder(root, {"a": 1, "b": 1}), {"folder": "{root}", "classes": "a,c"}, "no class folder 'c'"),
        (lambda root: make_folder(root, {"a": 1, "b": 1}), {"folder": "{root}", "classes": "a"}, "at least two classes"),
        (
            lambda root: (make_folder(root, {"a": 1}), (root / "b").mkdir()),
            {"folder": "{root}", "classes": "a,b"},
            "'b' holds no PNG or JPEG images",
        ),
        (
            lambda root: (make_folder(root, {"a": 1, "b": 1}), (root / "b" / "bad.png").write_bytes(b"not a png")),
            {"folder": "{root}"},
            "b/bad.png cannot be read as an image",
        ),
        (lambda root: make_folder(root, {"a": 3, "b": 3}), {"folder": "{root}", "size": 64, "limit": 0}, None),
    ],
)
def test_problems_are_clear_messages(tmp_path, setup, options, message):
    root = tmp_path / "data"
    root.mkdir()
    setup(root)
    options = {k: v.format(root=root) if isinstance(v, str) else v for k, v in options.items()}
    if message is None:
        assert SPEC.create(options).features.shape == (6, 64 * 64)
        return
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(".", r"\.")):
        SPEC.create(options)


def test_too_many_pixels_is_refused(tmp_path, monkeypatch):
    import qmls_datasets.image_folder as image_folder

    root = make_folder(tmp_path / "big", {"a": 3, "b": 3})
    monkeypatch.setattr(image_folder, "MAX_VALUES", 100)
    with pytest.raises(DatasetError, match="too many to hold"):
        SPEC.create({"folder": str(root), "size": 8})


def test_empty_class_folder_is_skipped_when_all_classes_are_used(tmp_path):
    root = make_folder(tmp_path / "s", {"a": 2, "b": 2})
    (root / "c").mkdir()
    data = SPEC.create({"folder": str(root), "size": 2})
    assert data.class_names == ["a", "b"]
    assert "skipped: c" in data.description
