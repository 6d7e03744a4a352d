"""The paper's toy regression data (Figures 2, 3, 7, 8, 9): ``x ~ N(1, 0.1^2)``, ``y = -x``."""

from __future__ import annotations

import torch

from .dataset import Dataset, check_dtype

__all__ = ["authors_batch", "toy_gaussian"]


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


def authors_batch(dim: int, n: int = 64, seed: int = 0, y2: str | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The toy batch of the authors' Hessian notebook (Figures 3 and 9): ``x (n, dim)`` from NumPy's
    legacy stream ``np.random.seed(seed); np.random.normal(1, 0.1, size=(dim, n))`` (transposed),
    and ``y = -x``; float64.

    ``y2`` varies the second output coordinate as in the figures' right-most panel: ``"paper"``
    sets ``y_2 = x_2`` (the paper's caption); ``"code"`` replaces it by the next ``n`` numbers of
    the same stream, an independent ``N(1, 0.1^2)`` draw (the authors' code); ``None`` keeps
    ``y = -x``. A ``np.random.RandomState`` reproduces the stream without touching NumPy's global
    state.
    """
    import numpy as np

    if y2 not in (None, "paper", "code"):
        raise ValueError(f"y2 must be None, 'paper' or 'code'; received {y2!r}")
    if y2 is not None and dim < 2:
        raise ValueError(f"varying the second output needs dim >= 2; received dim={dim}")
    rs = np.random.RandomState(seed)
    x = rs.normal(1, 0.1, size=(dim, n)).T  # (n, dim), as np.random.normal(...).T
    y = -x.copy()
    if y2 == "paper":
        y[:, 1] = x[:, 1]
    elif y2 == "code":
        y[:, 1] = rs.normal(1, 0.1, n)
    return torch.tensor(x), torch.tensor(y)
