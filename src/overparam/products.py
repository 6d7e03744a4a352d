"""The compositional problem: the end-to-end matrix, the overparameterized cost ``g`` and its
gradient (Section 2, Eq. 4).

Weights are ``[W_1, ..., W_N]`` with ``W_l`` of shape ``(d_l, d_{l-1})`` (Part I's convention): in
the paper's setting ``W_1 (k, n)``, ``W_i (k, k)``, ``W_N (n, k)`` with width ``k > n``. The
end-to-end matrix is ``W̄ = W_N ⋯ W_1`` of shape ``(d_N, d_0)`` and ``g(W_1, ..., W_N) = f(W̄)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ._arrays import as_weights, like

CostFn = Callable[[torch.Tensor], torch.Tensor]


def chain(weights: Sequence[Any]) -> Any:
    """``W_N ⋯ W_1`` of already validated weights (internal hot path): float64 numpy arrays, torch
    tensors (differentiable, for Hessians of ``g``) or stacks ``(T, d_l, d_{l-1})`` along a path."""
    out = weights[0]
    for w in weights[1:]:
        out = w @ out
    return out


def product(weights: Sequence[Any]) -> np.ndarray | torch.Tensor:
    """The end-to-end matrix ``W̄ = W_N W_{N-1} ⋯ W_1`` (the paper's calligraphic W).

    ``weights = [W_1, ..., W_N]``, ``N >= 2``, ``W_l`` of shape ``(d_l, d_{l-1})`` (``W_1 (k, n)``,
    ``W_N (n, k)``); returns ``(d_N, d_0)``, a numpy array or a float64 torch tensor like ``W_1``.
    """
    ws, kind = as_weights(weights)
    return like(kind, chain(ws))


def partial_products(weights: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """``(below, above)``: ``below[i] = W_i ⋯ W_1`` (``below[0] = I_{d_0}``) and
    ``above[i] = W_N ⋯ W_{i+1}`` (``above[N] = I_{d_N}``), for ``i = 0..N`` (numpy)."""
    n_layers = len(weights)
    below = [np.eye(weights[0].shape[1])]
    for w in weights:
        below.append(w @ below[-1])
    above = [np.eye(weights[-1].shape[0])] * (n_layers + 1)
    for i in range(n_layers - 1, -1, -1):
        above[i] = above[i + 1] @ weights[i]
    return below, above


def factor_gradients(grad_f: np.ndarray, weights: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Eq. (4): ``∇_{W_i} g = (W_N ⋯ W_{i+1})ᵀ ∇f(W̄) (W_{i-1} ⋯ W_1)ᵀ`` for ``i = 1..N`` (empty
    products are identities), given ``∇f(W̄)`` of shape ``(d_N, d_0)``. Numpy, no validation."""
    below, above = partial_products(weights)
    return [above[i + 1].T @ grad_f @ below[i].T for i in range(len(weights))]


def cost_gradient(cost: CostFn, w: np.ndarray) -> np.ndarray:
    """``∇f(W)`` (numpy): the cost's analytic ``grad`` if it has one, otherwise torch autograd."""
    grad = getattr(cost, "grad", None)
    if callable(grad):
        return np.asarray(grad(w), dtype=np.float64)
    wt = torch.tensor(w, dtype=torch.float64, requires_grad=True)
    value = evaluate(cost, wt)
    (g,) = torch.autograd.grad(value, wt)
    return g.detach().numpy()


def cost_value(cost: CostFn, w: np.ndarray) -> float:
    """``f(W)`` as a float (numpy ``value`` if the cost has one, otherwise the torch call)."""
    value = getattr(cost, "value", None)
    if callable(value):
        return float(value(w))
    with torch.no_grad():
        return float(evaluate(cost, torch.as_tensor(w, dtype=torch.float64)))


def evaluate(cost: CostFn, w: torch.Tensor) -> torch.Tensor:
    """``cost(W)``, checked to be a scalar tensor (TypeError/ValueError otherwise)."""
    if not callable(cost):
        raise TypeError(f"cost must be a callable from a float64 torch tensor W̄ to a scalar tensor; received "
                        f"{type(cost).__name__}")
    out = cost(w)
    if not isinstance(out, torch.Tensor):
        raise TypeError(f"cost must return a scalar torch tensor; received {type(out).__name__}")
    if out.numel() != 1:
        raise ValueError(f"cost must return a scalar (one element); received a tensor of shape {tuple(out.shape)}")
    return out.reshape(())


def objective(cost: CostFn, weights: Sequence[Any]) -> float:
    """``g(W_1, ..., W_N) = f(W_N ⋯ W_1)`` as a float."""
    ws, _ = as_weights(weights)
    return cost_value(cost, chain(ws))


def gradient(cost: CostFn, weights: Sequence[Any]) -> list[np.ndarray] | list[torch.Tensor]:
    """``[∂g/∂W_1, ..., ∂g/∂W_N]`` for ``g = cost(product(weights))``, by Eq. (4):

    ``∂g/∂W_i = (W_N ⋯ W_{i+1})ᵀ ∇f(W̄) (W_{i-1} ⋯ W_1)ᵀ``, shape ``(d_i, d_{i-1})``.

    ``cost``: a callable from a float64 torch tensor ``(d_N, d_0)`` to a scalar tensor (``∇f`` by
    autograd), or a :class:`overparam.costs.Cost` (its analytic gradient). Results are numpy arrays
    or float64 torch tensors like ``W_1``.
    """
    ws, kind = as_weights(weights)
    w_bar = chain(ws)
    if not hasattr(cost, "grad"):
        evaluate(cost, torch.as_tensor(w_bar))  # validates the cost's output before autograd
    grads = factor_gradients(cost_gradient(cost, w_bar), ws)
    return [like(kind, g) for g in grads]


def composed(cost: CostFn) -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """``g`` as a function of a torch weight list: ``ws -> cost(W_N ⋯ W_1)`` (for :mod:`reprokit.hessian`)."""
    return lambda ws: evaluate(cost, chain(ws))


def finite_difference_gradient(cost: CostFn, weights: Sequence[Any], h: float = 1e-6) -> list[np.ndarray]:
    """Central differences ``(g(W + h E_ab) - g(W - h E_ab)) / 2h`` of ``g = f(W_N ⋯ W_1)`` in every
    entry of every factor (numpy; ``O(h²)`` truncation plus ``O(ε/h)`` round-off): the check of Eq. (4).
    Each entry is perturbed in place in the private copy :func:`as_weights` makes, then restored."""
    ws, _ = as_weights(weights)
    out = []
    for w in ws:
        grad = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            saved = w[idx]
            w[idx] = saved + h
            g_plus = cost_value(cost, chain(ws))
            w[idx] = saved - h
            g_minus = cost_value(cost, chain(ws))
            w[idx] = saved
            grad[idx] = (g_plus - g_minus) / (2 * h)
        out.append(grad)
    return out
