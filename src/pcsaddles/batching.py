"""Minibatches: one shuffled epoch, endless epochs, fresh samples, or the full batch.

Every function yields ``(x (B, d), y (B, d_out))`` pairs from a :class:`pcsaddles.dataset.Dataset`
(or, for :func:`full_batch`, from two tensors). Orders come from dedicated ``torch.Generator``
objects, never the global RNG, so runs with the same seed (e.g. BP and PC) see the same batches.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch

from .dataset import Dataset

Batch = tuple[torch.Tensor, torch.Tensor]

__all__ = ["Batch", "batches", "epoch_batches", "fresh_batches", "full_batch"]


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
        raise TypeError(f"dataset must be a pcsaddles.dataset.Dataset; received {type(dataset).__name__}")
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


def fresh_batches(dataset: Dataset, batch_size: int) -> Iterator[Batch]:
    """Consecutive disjoint batches ``dataset[k B:(k+1) B]``: a fresh sample every iteration, never
    reused (the chain experiments draw a new batch of the toy data each step). Pre-draw
    ``n_iter * batch_size`` samples, e.g. ``toy.toy_gaussian(n_iter * 64, dim=1, seed=s)``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; received {batch_size!r}")
    starts = range(0, len(dataset) - batch_size + 1, batch_size)
    return ((dataset.x[s:s + batch_size], dataset.y[s:s + batch_size]) for s in starts)


def epoch_batches(dataset: Dataset, batch_size: int, seed: int = 0) -> Iterator[Batch]:
    """Shuffled minibatches over an unlimited number of epochs (``drop_last``, as a PyTorch
    ``DataLoader(shuffle=True, drop_last=True)``). Epoch ``e`` uses
    ``batches(dataset, batch_size, seed=1000 * seed + e)``, so runs with the same ``seed``
    (e.g. BP and PC) see the same batches in the same order (streams of different seeds are
    distinct for the first 1000 epochs)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; received {batch_size!r}")
    return _epochs(dataset, batch_size, seed)


def _epochs(dataset, batch_size, seed):
    epoch = 0
    while True:
        yield from batches(dataset, batch_size, seed=1000 * seed + epoch)
        epoch += 1


def full_batch(x: torch.Tensor, y: torch.Tensor) -> Iterator[Batch]:
    """The same batch ``(x (N, d), y (N, d_out))`` forever: full-batch gradient descent (Figure 6)."""
    if not (isinstance(x, torch.Tensor) and isinstance(y, torch.Tensor)) or x.shape[0] != y.shape[0]:
        raise ValueError("full_batch needs two tensors x (N, d) and y (N, d_out) with the same N")
    return itertools.repeat((x, y))
