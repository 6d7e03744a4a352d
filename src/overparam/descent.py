"""Gradient descent on ``g = f(W_N ⋯ W_1)`` and its exact imbalance law (derived for this book).

One step ``W_i⁺ = W_i - η G_i`` (``G_i = ∇_{W_i} g``, Eq. 4) changes the imbalance of Def. 1 by

    C_i⁺ - C_i = η² (G_i G_iᵀ - G_{i+1}ᵀ G_{i+1})

exactly: the first-order terms cancel by ``G_i W_iᵀ = W_{i+1}ᵀ G_{i+1}`` (App. A.1). In the
vector case this is ``C⁺ = (1 - η² f'(z)²) C``: descent shrinks the imbalance geometrically while
``0 < η |f'(z)| < √2``, the discrete counterpart of Prop. 2's conservation.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reprokit.checks import check_finite_number

from ._arrays import as_weights, like
from .costs import ScalarCost
from .products import CostFn, chain, cost_gradient, factor_gradients


def gd_step(cost: CostFn, weights: Sequence[Any], eta: float) -> list[np.ndarray] | list[torch.Tensor]:
    """One gradient-descent step ``W_i - η ∇_{W_i} g`` (Eq. 4's gradient), like ``W_1``'s kind."""
    ws, kind = as_weights(weights)
    eta = check_finite_number("eta", eta, minimum=0.0, strict=True)
    grads = factor_gradients(cost_gradient(cost, chain(ws)), ws)
    return [like(kind, w - eta * g) for w, g in zip(ws, grads)]


def gd_imbalance_change(grads: Sequence[Any], eta: float) -> list[np.ndarray]:
    """The exact one-step change ``η² (G_i G_iᵀ - G_{i+1}ᵀ G_{i+1})``, ``i = 1..N-1`` (numpy)."""
    gs, _ = as_weights(grads)
    eta = check_finite_number("eta", eta)
    return [eta**2 * (gs[i] @ gs[i].T - gs[i + 1].T @ gs[i + 1]) for i in range(len(gs) - 1)]


def gd_run(cost: CostFn, weights: Sequence[Any], eta: float, n_steps: int) -> list[np.ndarray]:
    """``n_steps`` descent steps; returns one array ``(n_steps + 1, d_l, d_{l-1})`` per layer (numpy)."""
    ws, _ = as_weights(weights)
    eta = check_finite_number("eta", eta, minimum=0.0, strict=True)
    out = [np.empty((n_steps + 1, *w.shape)) for w in ws]
    for step in range(n_steps + 1):
        for o, w in zip(out, ws):
            o[step] = w
        if step < n_steps:
            grads = factor_gradients(cost_gradient(cost, chain(ws)), ws)
            ws = [w - eta * g for w, g in zip(ws, grads)]
    return out


@dataclass(frozen=True)
class DescentOutcome:
    """``iterations`` until ``|z - z*| < eps`` (``None`` if not reached), ``diverged``, the final product."""

    iterations: int | None
    diverged: bool
    z_final: float


def iterations_to_target(cost: ScalarCost, weights: Sequence[Any], eta: float, eps: float, *,
                         max_iter: int = 100_000, blowup: float = 1e8) -> DescentOutcome:
    """Run descent on a scalar problem (``1 x 1`` product) until ``|z - z*| < eps``; it counts as
    diverged when the weights stop being finite or exceed ``blowup`` in size."""
    ws, _ = as_weights(weights)
    eta = check_finite_number("eta", eta, minimum=0.0, strict=True)
    eps = check_finite_number("eps", eps, minimum=0.0, strict=True)
    z_star = cost.z_star
    for it in range(max_iter + 1):
        z = float(chain(ws)[0, 0])
        if not np.isfinite(z) or max(np.abs(w).max() for w in ws) > blowup:
            return DescentOutcome(None, True, z)
        if abs(z - z_star) < eps:
            return DescentOutcome(it, False, z)
        fp = float(cost.d1(np.float64(z)))
        grads = factor_gradients(np.array([[fp]]), ws)
        ws = [w - eta * g for w, g in zip(ws, grads)]
    return DescentOutcome(None, False, z)


def vector_law_factor(fprime: float, eta: float) -> float:
    """``1 - η² f'(z)²``: the factor by which one vector-case step multiplies ``C`` (``c`` by its square)."""
    return 1.0 - eta**2 * fprime**2


DIVERGED = -1
NOT_REACHED = -2


def iterations_grid(cost: ScalarCost, w1: Any, w2: Any, eta: Any, eps: float, *, max_iter: int = 10_000,
                    blowup: float = 1e8) -> np.ndarray:
    """Vector case with ``k = 1``, run elementwise over broadcast arrays of starts ``(w1, w2)`` and
    steps ``eta``: the number of descent steps ``w_1 ← w_1 - η f'(z) w_2``, ``w_2 ← w_2 - η f'(z) w_1``
    until ``|z - z*| < eps``; :data:`DIVERGED` (-1) when a weight leaves ``[-blowup, blowup]`` or stops
    being finite, :data:`NOT_REACHED` (-2) after ``max_iter`` steps. Integer array of the broadcast shape."""
    eps = check_finite_number("eps", eps, minimum=0.0, strict=True)
    a, b, step = (np.array(x, dtype=np.float64) for x in np.broadcast_arrays(np.asarray(w1, dtype=np.float64),
                                                                           np.asarray(w2, dtype=np.float64),
                                                                           np.asarray(eta, dtype=np.float64)))
    if np.any(step <= 0):
        raise ValueError(f"every step size eta must be > 0; received min {step.min()}")
    result = np.full(a.shape, NOT_REACHED, dtype=np.int64)
    active = np.ones(a.shape, dtype=bool)
    with np.errstate(over="ignore", invalid="ignore"):
        for it in range(max_iter + 1):
            z = a * b
            bad = active & (~np.isfinite(z) | (np.maximum(np.abs(a), np.abs(b)) > blowup))
            result[bad] = DIVERGED
            active &= ~bad
            done = active & (np.abs(z - cost.z_star) < eps)
            result[done] = it
            active &= ~done
            if not active.any() or it == max_iter:
                break
            fp = cost.d1(z)
            a, b = np.where(active, a - step * fp * b, a), np.where(active, b - step * fp * a, b)
    return result
