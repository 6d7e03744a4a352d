"""The paper's toy regression data (Figures 2, 3, 7, 8, 9): ``x ~ N(1, 0.1^2)``, ``y = -x``."""

from __future__ import annotations

import torch

from .dataset import Dataset, check_dtype

__all__ = ["toy_gaussian"]


def toy_gaussian(n: int = 64, dim: int = 1, seed: int = 0, dtype: torch.dtype = torch.float64) -> Dataset:
    """The paper's toy regression data: ``x_i ~ N(1, 0.1^2)`` i.i.d. in ``R^dim`` and ``y_i = -x_i``.

    Shapes ``x (n, dim)``, ``y (n, dim)``, no labels. The draw comes from a dedicated
    ``torch.Generator`` seeded with ``seed`` (the global RNG is untouched), in float64, then cast to
    ``dtype``, so float32 and float64 runs see the same sample.
    """
    for name, value in (("n", n), ("dim", dim)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; received {value!r}")
    check_dtype(dtype)
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
