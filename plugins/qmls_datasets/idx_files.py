"""Images and labels in the IDX format of MNIST, read from files the user already has.

An IDX file is two zero bytes, a type code, the number of dimensions ``d``, ``d`` big-endian
32-bit sizes and then the values, big-endian, in C order. Files may be gzip-compressed
(``.gz``, recognised by content, not by name).
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from qmlstudio.core.dataset import DatasetError
from qmlstudio.plugins import Dataset

from qmls_datasets.classes import parse_class_selection, select_classes

IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | Path) -> np.ndarray:
    """The array stored in an IDX file (plain or gzip-compressed), read-only."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise DatasetError(f"there is no file {str(file)!r}")
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise DatasetError(f"cannot read {file.name}: {exc.strerror or exc}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise DatasetError(f"{file.name} is a damaged gzip file: {exc}") from None
    if len(raw) < 4:
        raise DatasetError(f"{file.name} is too short to be an IDX file ({len(raw)} bytes)")
    if raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES or raw[3] == 0:
        raise DatasetError(
            f"{file.name} is not an IDX file: it starts with bytes {raw[:4].hex(' ')}, where an IDX file "
            "starts with 00 00, a type code (08 for bytes) and the number of dimensions"
        )
    dtype, ndim = IDX_TYPES[raw[2]], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{file.name} ends inside its header (it declares {ndim} dimensions)")
    shape = tuple(int(s) for s in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    found = len(raw) - header
    if found != expected:
        state = "truncated" if found < expected else "longer than its header says"
        raise DatasetError(
            f"{file.name} is {state}: its header declares {' × '.join(map(str, shape))} values "
            f"({expected} bytes of data) but it holds {found} bytes"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)


def load_idx(images_path: str = "", labels_path: str = "", limit: int = 2000, classes: str = "0,1") -> Dataset:
    """An image dataset from an IDX image file and the matching IDX label file."""
    if not images_path.strip():
        raise DatasetError("choose the IDX file of images (such as train-images-idx3-ubyte.gz)")
    if not labels_path.strip():
        raise DatasetError("choose the IDX file of labels (such as train-labels-idx1-ubyte.gz)")
    images = read_idx(images_path)
    labels = read_idx(labels_path)
    images_name, labels_name = Path(images_path).name, Path(labels_path).name
    if images.ndim not in (2, 3):
        raise DatasetError(
            f"{images_name} holds a {images.ndim}-D array; images must be 3-D (count × rows × columns) "
            "or 2-D (count × values)"
        )
    if labels.ndim != 1:
        raise DatasetError(f"{labels_name} holds a {labels.ndim}-D array; labels must be 1-D (one per image)")
    if not np.issubdtype(labels.dtype, np.integer):
        raise DatasetError(f"{labels_name} holds {labels.dtype.name} values; labels must be whole numbers")
    if len(images) != len(labels):
        raise DatasetError(f"{images_name} has {len(images)} images but {labels_name} has {len(labels)} labels")
    if len(images) == 0:
        raise DatasetError(f"{images_name} holds no images")

    chosen = parse_class_selection(classes, np.unique(labels))
    mask, renumbered = select_classes(labels, chosen)
    rows = np.flatnonzero(mask)
    if limit:
        rows, renumbered = rows[:limit], renumbered[:limit]
    features = images[rows].reshape(len(rows), -1).astype(float)

    if images.ndim == 3:
        height, width = images.shape[1:]
        image_shape: tuple[int, int] | None = (height, width)
        feature_names = [f"pixel_{r}_{c}" for r in range(height) for c in range(width)]
        size = f"{height}×{width} images"
    else:
        image_shape = None
        feature_names = [f"x{j}" for j in range(images.shape[1])]
        size = f"rows of {images.shape[1]} values"
    return Dataset(
        features,
        renumbered,
        feature_names=feature_names,
        class_names=[str(c) for c in chosen],
        image_shape=image_shape,
        description=f"{images_name}: {len(rows)} {size} of classes {', '.join(map(str, chosen))}",
        extra={"source": str(Path(images_path).expanduser())},
    )
