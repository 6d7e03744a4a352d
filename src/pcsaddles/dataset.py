"""The dataset type of Part I: plain tensors with their provenance.

A :class:`Dataset` holds ``x (N, d)`` float inputs, ``y (N, d_out)`` float targets (one-hot
``(N, 10)`` for the classification sets), ``labels (N,)`` int64 class indices (or ``None``) and a
``provenance`` dict saying where the numbers came from (``name``, ``source``, ``n_samples``,
``split``, ``note``), which a chapter registers with
:meth:`reprokit.records.Reproduction.add_data`. The loaders live in :mod:`pcsaddles.toy`,
:mod:`pcsaddles.packaged`, :mod:`pcsaddles.idx` and :mod:`pcsaddles.cifar`; :func:`pcsaddles.data.load`
dispatches to them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from ._checks import FLOAT_DTYPES

SPLITS = ("train", "test")
N_CLASSES = 10

__all__ = ["Dataset", "N_CLASSES", "SPLITS", "check_dtype", "one_hot"]


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
            check_dtype(dtype)
        labels = None if self.labels is None else self.labels.to(device=device)
        return Dataset(self.x.to(dtype=dtype, device=device), self.y.to(dtype=dtype, device=device), labels, dict(self.provenance))


def check_dtype(dtype: Any) -> None:
    """Raise TypeError unless ``dtype`` is float32 or float64."""
    if dtype not in FLOAT_DTYPES:
        raise TypeError(f"dtype must be torch.float32 or torch.float64; received {dtype!r}")


def one_hot(labels: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """One-hot targets ``(N, 10)`` of int64 ``labels (N,)``."""
    return torch.nn.functional.one_hot(labels, N_CLASSES).to(dtype)
