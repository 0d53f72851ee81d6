"""The user's own images: a folder with one sub-folder of PNG or JPEG files per class.

::

    shapes/
        circle/  001.png 002.png ...
        square/  a.jpg b.jpeg ...

Each sub-folder is a class, named after it. Every image is read with Pillow, turned to grey
scale (transparent parts count as white) and resized to ``size × size`` pixels (without
keeping the aspect ratio), so that all rows of the dataset have the same ``size²`` pixel
values 0..255. Files are taken in natural order of their names ("2.png" before
"10.png"), so the same folder always gives the same dataset.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np

from qmlstudio.core.dataset import DatasetError
from qmlstudio.plugins import Dataset

#: File name endings read as images (compared in lower case).
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: More pixel values than this (over all images) are refused rather than held in memory.
MAX_VALUES = 50_000_000
_NUMBER = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple:
    """Sort key that orders embedded numbers by value: "img2" before "img10"."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _NUMBER.split(name))


def class_folders(folder: Path) -> list[Path]:
    """The sub-folders of ``folder`` that name classes, in natural order (hidden ones skipped)."""
    return sorted(
        (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))),
        key=lambda p: natural_key(p.name),
    )


def image_files(folder: Path) -> list[Path]:
    """The PNG and JPEG files directly inside ``folder``, in natural order."""
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES),
        key=lambda p: natural_key(p.name),
    )


def load_image_folder(folder: str = "", size: int = 8, limit: int = 200, classes: str = "") -> Dataset:
    """An image dataset from a folder holding one sub-folder of images per class."""
    root = _check_folder(folder)
    available = class_folders(root)
    if not available:
        raise DatasetError(
            f"{root.name!r} has no sub-folders: put the images of each class in a sub-folder named after the class"
        )
    chosen = _choose(available, classes)
    explicit = bool((classes or "").strip())

    try:
        from PIL import Image
    except ImportError:  # Pillow comes with matplotlib; say what to do if it is missing
        raise DatasetError("reading images needs the Pillow package (pip install pillow)") from None

    per_class: list[tuple[str, list[Path]]] = []
    skipped: list[str] = []
    for sub in chosen:
        files = image_files(sub)
        if not files:
            if explicit:
                raise DatasetError(f"the class folder {sub.name!r} holds no PNG or JPEG images")
            skipped.append(sub.name)
            continue
        per_class.append((sub.name, files[:limit] if limit else files))
    if len(per_class) < 2:
        found = ", ".join(repr(name) for name, _ in per_class) or "none"
        raise DatasetError(
            f"a classifier needs images of at least two classes; the class folders with PNG or JPEG images "
            f"in {root.name!r} are: {found}"
        )
    total = sum(len(files) for _, files in per_class)
    if total * size * size > MAX_VALUES:
        raise DatasetError(
            f"{total} images of {size}×{size} pixels are too many to hold ({total * size * size:,} values, "
            f"at most {MAX_VALUES:,}); set a smaller limit per class or a smaller size"
        )

    features = np.empty((total, size * size), dtype=float)
    labels = np.empty(total, dtype=int)
    row = 0
    for index, (_, files) in enumerate(per_class):
        for file in files:
            features[row] = _pixels(Image, file, root, size)
            labels[row] = index
            row += 1

    names = [name for name, _ in per_class]
    counts = ", ".join(f"{name} {len(files)}" for name, files in per_class)
    note = f"; empty class folder(s) skipped: {', '.join(skipped)}" if skipped else ""
    return Dataset(
        features,
        labels,
        feature_names=[f"pixel_{r}_{c}" for r in range(size) for c in range(size)],
        class_names=names,
        image_shape=(size, size),
        description=f"{root.name}: {total} images resized to {size}×{size} grey pixels ({counts}){note}",
        extra={"source": str(root)},
    )


def _check_folder(folder: str) -> Path:
    if not str(folder).strip():
        raise DatasetError("choose a folder that holds one sub-folder of images per class")
    root = Path(folder).expanduser()
    if not root.exists():
        raise DatasetError(f"there is no folder {str(root)!r}")
    if not root.is_dir():
        raise DatasetError(f"{str(root)!r} is a file; choose the folder that holds one sub-folder per class")
    return root


def _choose(available: list[Path], classes: str) -> list[Path]:
    text = (classes or "").strip()
    if not text:
        return available
    by_name = {p.name: p for p in available}
    chosen: list[Path] = []
    for part in text.replace(";", ",").split(","):
        name = part.strip()
        if not name:
            continue
        if name not in by_name:
            known = ", ".join(repr(p.name) for p in available[:20]) + (", ..." if len(available) > 20 else "")
            raise DatasetError(f"classes: there is no class folder {name!r} (the class folders are {known})")
        if by_name[name] not in chosen:
            chosen.append(by_name[name])
    if len(chosen) < 2:
        raise DatasetError("classes: a classifier needs at least two classes; name two or more class folders")
    return chosen


def _pixels(image_module, file: Path, root: Path, size: int) -> np.ndarray:
    """The grey levels (0..255) of one image resized to ``size × size``, as a flat row."""
    where = file.relative_to(root).as_posix()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", image_module.DecompressionBombWarning)
            with image_module.open(file) as image:
                image.load()
                grey = _grey(image_module, image)
    except (image_module.DecompressionBombError, image_module.DecompressionBombWarning):
        raise DatasetError(f"{where} is too large an image to open safely") from None
    except (OSError, ValueError, SyntaxError) as exc:  # Pillow raises these for broken files
        raise DatasetError(f"{where} cannot be read as an image: {exc}") from None
    shrinking = grey.width > size or grey.height > size
    method = image_module.Resampling.BOX if shrinking else image_module.Resampling.BILINEAR
    resized = grey.resize((size, size), method)
    return np.asarray(resized, dtype=float).reshape(-1)


def _grey(image_module, image):
    """The image in grey scale ("L"), with transparent parts laid on white."""
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = image_module.new("RGBA", rgba.size, (255, 255, 255, 255))
        return image_module.alpha_composite(white, rgba).convert("L")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        values = np.asarray(image, dtype=float)
        top = values.max() or 1.0
        return image_module.fromarray(np.clip(values / top * 255.0, 0, 255).astype(np.uint8), "L")
    return image.convert("L")
