"""The imbalance invariant (Def. 1, Prop. 2) and its consequences (Lemmas 10 and 12).

``C_i = W_i W_iᵀ - W_{i+1}ᵀ W_{i+1}`` (``d_i x d_i``, ``i = 1..N-1``) is constant along every
gradient flow of ``g = f(W_N ⋯ W_1)`` whatever ``f`` is, because the factor gradients of Eq. (4)
satisfy ``G_i W_iᵀ = W_{i+1}ᵀ G_{i+1}`` at every point (App. A.1). "Balanced" means all ``C_i = 0``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ._arrays import as_weights, like
from .products import chain


def imbalance(weights: Sequence[Any]) -> list[np.ndarray] | list[torch.Tensor]:
    """Def. 1: ``[C_1, ..., C_{N-1}]`` with ``C_i = W_i W_iᵀ - W_{i+1}ᵀ W_{i+1}`` of shape ``(d_i, d_i)``.

    ``weights = [W_1, ..., W_N]`` (``N >= 2``, ``W_l`` of shape ``(d_l, d_{l-1})``); numpy arrays
    or float64 torch tensors like ``W_1``.
    """
    ws, kind = as_weights(weights)
    return [like(kind, c) for c in imbalance_np(ws)]


def imbalance_np(ws: Sequence[np.ndarray]) -> list[np.ndarray]:
    """:func:`imbalance` on validated numpy weights (internal hot path)."""
    return [ws[i] @ ws[i].T - ws[i + 1].T @ ws[i + 1] for i in range(len(ws) - 1)]


def balance_residual(weights: Sequence[Any], grads: Sequence[Any]) -> list[np.ndarray]:
    """``G_i W_iᵀ - W_{i+1}ᵀ G_{i+1}`` for ``i = 1..N-1`` (App. A.1: zero whenever ``G`` is the
    gradient of a function of the product), numpy ``(d_i, d_i)``."""
    ws, _ = as_weights(weights)
    gs, _ = as_weights(grads)
    if [g.shape for g in gs] != [w.shape for w in ws]:
        raise ValueError(f"grads must have the shapes of the weights {[w.shape for w in ws]}; received {[g.shape for g in gs]}")
    return [gs[i] @ ws[i].T - ws[i + 1].T @ gs[i + 1] for i in range(len(ws) - 1)]


def imbalance_rate(ws: Sequence[np.ndarray], velocities: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``dC_i/dt`` along ``Ẇ_l = V_l``: ``V_i W_iᵀ + W_i V_iᵀ - V_{i+1}ᵀ W_{i+1} - W_{i+1}ᵀ V_{i+1}``
    (numpy; with ``V = -∇g`` it vanishes, Prop. 2; with another field it measures the drift)."""
    out = []
    for i in range(len(ws) - 1):
        a = velocities[i] @ ws[i].T
        b = velocities[i + 1].T @ ws[i + 1]
        out.append(a + a.T - b - b.T)
    return out


def norm_differences(weights: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Lemma 10: ``(D, T)`` with ``D[i, j] = ||W_i||_F² - ||W_j||_F²`` and
    ``T[i, j] = Σ_{m=i}^{j-1} tr C_m`` (for ``i < j``; antisymmetric), both ``(N, N)``; they are
    equal at every point, and both are constant along the flow."""
    ws, _ = as_weights(weights)
    sq = np.array([np.sum(w * w) for w in ws])
    traces = np.array([np.trace(c) for c in imbalance_np(ws)])
    cum = np.concatenate([[0.0], np.cumsum(traces)])  # cum[j] = Σ_{m<j} tr C_m (0-based m)
    return sq[:, None] - sq[None, :], cum[None, :] - cum[:, None]


def balanced_weights(singular_values: Sequence[float], widths: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """A balanced point (all ``C_i = 0``) with shared orthogonal frames:
    ``W_1 = U_1 Σ Vᵀ``, ``W_i = U_i Σ U_{i-1}ᵀ``, ``W_N = U_N Σ U_{N-1}ᵀ`` (``U_i`` with ``r``
    orthonormal columns from seeded random orthogonal matrices, ``Σ = diag(singular_values)``).
    ``widths = [d_0, ..., d_N]`` with ``r = len(singular_values) <= min(widths)``.
    Then ``W̄ W̄ᵀ = (W_N W_Nᵀ)^N`` (Lemma 12 with ``P_N = 0``)."""
    sv = np.asarray(singular_values, dtype=np.float64)
    widths = [int(d) for d in widths]
    if sv.ndim != 1 or sv.size == 0 or sv.size > min(widths):
        raise ValueError(f"need 1 <= len(singular_values) <= min(widths) = {min(widths)}; received {sv.size} values")
    if len(widths) < 3:
        raise ValueError(f"widths must be [d_0, ..., d_N] with N >= 2; received {widths}")
    rng = np.random.default_rng(seed)
    frames = [np.linalg.qr(rng.standard_normal((d, d)))[0][:, : sv.size] for d in widths]
    return [frames[i + 1] @ np.diag(sv) @ frames[i].T for i in range(len(widths) - 1)]


def lemma12_residual(weights: Sequence[Any]) -> float:
    """``||W̄ W̄ᵀ - (W_N W_Nᵀ)^N||_F``: Lemma 12's polynomial ``P_N``, which vanishes at balanced points."""
    ws, _ = as_weights(weights)
    w_bar = chain(ws)
    top = np.linalg.matrix_power(ws[-1] @ ws[-1].T, len(ws))
    return float(np.linalg.norm(w_bar @ w_bar.T - top))
