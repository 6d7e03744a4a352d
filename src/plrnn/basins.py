"""Basins of attraction by brute force: iterate a grid of initial states until each is within ``tol``
of an attractor (a stable cycle) or escapes (``|z|_inf > escape``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from reprokit.checks import check_positive_int

from .models import PiecewiseAffineMap, check_states
from .scyfi import Cycle

__all__ = ["grid", "basins", "Basins"]


def grid(lo: Sequence[float], hi: Sequence[float], n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """A square ``n x n`` grid over ``[lo_0, hi_0] x [lo_1, hi_1]``: points ``(n*n, 2)`` (row-major, y
    slowest), the axes ``xs (n,)``, ``ys (n,)`` and the spacing ``h`` along x."""
    n = check_positive_int("n", n, minimum=2)
    xs = np.linspace(lo[0], hi[0], n)
    ys = np.linspace(lo[1], hi[1], n)
    X, Y = np.meshgrid(xs, ys)
    return np.stack([X.ravel(), Y.ravel()], 1), xs, ys, float(xs[1] - xs[0])


@dataclass
class Basins:
    """``labels (n,)``: index of the attractor reached, -1 escaped, -2 undecided after ``max_iter``;
    ``steps (n,)``: iterations until decided."""

    labels: np.ndarray
    steps: np.ndarray

    def fraction(self, label: int) -> float:
        return float(np.mean(self.labels == label))


def basins(model: PiecewiseAffineMap, attractors: Sequence[Cycle], z0: Any, *, max_iter: int = 5000,
           tol: float = 1e-6, escape: float = 1e4) -> Basins:
    """Label the initial states ``z0 (n, M)`` by the attractor (stable cycle in ``attractors``) whose
    points they come within ``tol`` of, or -1 if ``|z|_inf`` exceeds ``escape`` first."""
    z = check_states(z0, model.M, "z0").copy()
    if z.ndim != 2:
        raise ValueError(f"z0 must have shape (n, {model.M}); received shape {z.shape}")
    pts = np.concatenate([c.points for c in attractors]) if len(attractors) else np.zeros((0, model.M))
    owner = np.concatenate([np.full(c.period, i) for i, c in enumerate(attractors)]) if len(attractors) else np.zeros(0, int)
    n = z.shape[0]
    labels = np.full(n, -2, dtype=np.int64)
    steps = np.full(n, max_iter, dtype=np.int64)
    active = np.arange(n)
    L, U, G, g, b = model.L, model.U, model.G, model.g, model.b
    tol2 = tol * tol
    for it in range(1, max_iter + 1):
        z = z @ L.T + np.maximum(z @ G.T + g, 0.0) @ U.T + b  # the map, without per-call input checks
        if pts.shape[0]:
            best = np.full(z.shape[0], np.inf)
            which = np.zeros(z.shape[0], dtype=np.int64)
            for q, o in zip(pts, owner):  # squared distance to each attractor point
                d2 = ((z - q) ** 2).sum(1)
                closer = d2 < best
                best[closer], which[closer] = d2[closer], o
            near = best <= tol2
        else:
            near = np.zeros(z.shape[0], dtype=bool)
            which = np.zeros(z.shape[0], dtype=np.int64)
        with np.errstate(invalid="ignore"):
            far = ~(np.abs(z).max(axis=1) <= escape)  # NaN or inf counts as escaped
        done = near | far
        if np.any(done):
            labels[active[near]] = which[near]
            labels[active[far & ~near]] = -1
            steps[active[done]] = it
            active, z = active[~done], z[~done]
        if active.size == 0:
            break
    return Basins(labels=labels, steps=steps)
