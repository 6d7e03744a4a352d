"""Initial weights for the experiments: the paper's architecture and seeded Gaussian draws."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def widths(n: int, k: int, depth: int) -> list[int]:
    """``[n, k, ..., k, n]`` (``depth + 1`` entries): ``N - 1`` hidden layers of width ``k`` (Fig. 1)."""
    for name, v, lo in (("n", n, 1), ("k", k, 1), ("depth", depth, 2)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
            raise ValueError(f"{name} must be an int >= {lo}; received {v!r}")
    return [n] + [k] * (depth - 1) + [n]


def gaussian(widths: Sequence[int], scale: float, rng: np.random.Generator) -> list[np.ndarray]:
    """``W_l`` with i.i.d. ``N(0, scale²)`` entries, shapes ``(d_l, d_{l-1})``, drawn in layer order from ``rng``."""
    return [scale * rng.standard_normal((d_out, d_in)) for d_in, d_out in zip(widths[:-1], widths[1:])]


def chain(values: Sequence[float]) -> list[np.ndarray]:
    """A scalar chain ``[w_1, ..., w_N]`` as ``1 x 1`` matrices."""
    return [np.array([[float(v)]]) for v in values]
