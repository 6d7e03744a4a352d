"""CIFAR-10 from its standard python-pickle version, read safely (arrays only).

``x (N, 3072)`` in the file's channel-major order, normalised per channel as in the paper; one-hot
``y (N, 10)``. No offline source exists: the loader raises with the places it looked and the fix.
"""

from __future__ import annotations

import io
import os
import pickle
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._checks import check_choice
from .datafiles import ENV_DATA_DIR, find_or_download, search_dirs
from .dataset import SPLITS, Dataset, check_dtype, one_hot
from .idx import check_images

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.247, 0.243, 0.261)
CIFAR10_MIRRORS = ["https://www.cs.toronto.edu/~kriz/"]
CIFAR10_TARBALL = "cifar-10-python.tar.gz"
CIFAR10_FOLDER = "cifar-10-batches-py"
CIFAR10_MD5 = "c58f30108f718f92721af3b95e74349a"
CIFAR10_BATCHES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}

__all__ = ["CIFAR10_BATCHES", "CIFAR10_FOLDER", "CIFAR10_MD5", "CIFAR10_MEAN", "CIFAR10_MIRRORS", "CIFAR10_STD",
           "CIFAR10_TARBALL", "cifar10"]


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
    check_dtype(dtype)
    search, target = search_dirs("cifar10", data_dir)
    found, how = find_or_download(
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
    return Dataset(x, one_hot(labels, dtype), labels, prov)


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
    check_images(data.reshape(-1, 3, 32, 32), labels, (3, 32, 32), (where, where))
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
