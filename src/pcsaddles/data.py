"""Datasets with provenance: :func:`load` by name, and every loader of Part I in one namespace.

``load(name, split)`` returns a :class:`~pcsaddles.dataset.Dataset` (``x (N, d)``, ``y (N, d_out)``,
``labels``, ``provenance``) for one of :data:`DATASETS`:

* ``toy_gaussian`` -- the paper's toy regression data (:mod:`pcsaddles.toy`);
* ``mnist1d``, ``mnist_subset`` -- shipped with PyPI packages, so available offline
  (:mod:`pcsaddles.packaged`);
* ``fashion_mnist``, ``mnist`` -- the standard IDX files (:mod:`pcsaddles.idx`);
* ``cifar10`` -- the python-pickle version (:mod:`pcsaddles.cifar`).

Normalisations are the paper's (each loader's docstring gives it). Nothing is silently
substituted: when a dataset's files are missing the loader raises :class:`DataUnavailableError`
naming the folders it searched and how to get the files (:mod:`pcsaddles.datafiles`).
Minibatches are :mod:`pcsaddles.batching` (:func:`batches` is re-exported here).
"""

from __future__ import annotations

import os

import torch

from reprokit.data import ChecksumError, DataUnavailableError, DownloadError

from ._checks import check_choice
from .batching import batches
from .cifar import CIFAR10_MEAN, CIFAR10_STD, cifar10
from .datafiles import ENV_DATA_DIR
from .dataset import N_CLASSES, SPLITS, Dataset, check_dtype
from .idx import FASHION_MNIST_MEAN, FASHION_MNIST_STD, MNIST_MEAN, MNIST_STD, fashion_mnist, mnist, read_idx
from .packaged import mnist1d, mnist_subset
from .toy import toy_gaussian

DATASETS = ("toy_gaussian", "mnist1d", "fashion_mnist", "mnist", "mnist_subset", "cifar10")

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "ChecksumError", "DATASETS", "DataUnavailableError", "Dataset", "DownloadError",
           "ENV_DATA_DIR", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "MNIST_MEAN", "MNIST_STD", "N_CLASSES", "SPLITS",
           "batches", "cifar10", "fashion_mnist", "load", "mnist", "mnist1d", "mnist_subset", "read_idx", "toy_gaussian"]


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
    check_dtype(dtype)
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
