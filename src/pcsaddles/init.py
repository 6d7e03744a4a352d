"""Weight initialisations, reproducible from an explicit seed.

All return ``[W1, ..., WL]`` with ``W_l`` of shape ``(widths[l], widths[l-1])``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def _check_widths(widths: Sequence[int]) -> list[int]:
    widths = list(widths)
    if len(widths) < 2 or not all(isinstance(w, int) and w > 0 for w in widths):
        raise ValueError(f"widths must be a list [d_0, d_1, ..., d_L] of at least two positive ints; received {widths}")
    return widths


def gaussian(widths: Sequence[int], std: float, seed: int = 0, dtype=torch.float64, device=None) -> list[torch.Tensor]:
    """Entries i.i.d. ``N(0, std^2)`` (the paper's small initialisations near the origin)."""
    widths = _check_widths(widths)
    gen = torch.Generator().manual_seed(seed)
    return [
        (std * torch.randn(d_out, d_in, generator=gen, dtype=torch.float64)).to(dtype=dtype, device=device)
        for d_in, d_out in zip(widths[:-1], widths[1:])
    ]


def default_uniform(widths: Sequence[int], seed: int = 0, dtype=torch.float64, device=None) -> list[torch.Tensor]:
    """Entries i.i.d. ``U(-1/sqrt(d_in), 1/sqrt(d_in))``: the default of PyTorch ``nn.Linear`` and of
    equinox ``nn.Linear`` (the authors' "default initialisation")."""
    widths = _check_widths(widths)
    gen = torch.Generator().manual_seed(seed)
    out = []
    for d_in, d_out in zip(widths[:-1], widths[1:]):
        bound = 1.0 / d_in**0.5
        w = (2 * torch.rand(d_out, d_in, generator=gen, dtype=torch.float64) - 1) * bound
        out.append(w.to(dtype=dtype, device=device))
    return out


def zeros(widths: Sequence[int], dtype=torch.float64, device=None) -> list[torch.Tensor]:
    """The origin ``theta = 0``."""
    widths = _check_widths(widths)
    return [torch.zeros(d_out, d_in, dtype=dtype, device=device) for d_in, d_out in zip(widths[:-1], widths[1:])]


def legacy_numpy_chain(n_hidden: int, seed: int, std: float, dtype=torch.float64) -> list[torch.Tensor]:
    """A scalar chain's weights as the authors' chain notebook drew them:
    ``numpy.random.RandomState(seed).normal(0, std, n_hidden + 1)``, each as a ``(1, 1)`` matrix.

    Uses numpy's legacy generator so the book starts from exactly the published initial weights.
    """
    import numpy as np

    if not (isinstance(n_hidden, int) and n_hidden >= 0):
        raise ValueError(f"n_hidden must be a non-negative int; received {n_hidden!r}")
    draws = np.random.RandomState(seed).normal(0.0, std, n_hidden + 1)
    return [torch.tensor([[w]], dtype=dtype) for w in draws]
