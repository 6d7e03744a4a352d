"""Critical points of ``g = f(W_N ⋯ W_1)`` and their Hessians (Lemma 17, Theorem 4, Def. 16).

* Hessians of ``g`` by automatic differentiation (:mod:`reprokit.hessian`, row-major blocks
  ``W_1..W_N``).
* Closed forms derived for this book: at the origin with ``N = 2`` the quadratic form is
  ``2⟨∇f(0), M_2 M_1⟩`` with eigenvalues ``±σ_j(∇f(0))``, each ``k`` times; for ``N >= 3`` the
  Hessian at the origin is zero. For ``f_quad = ½||W - A||²`` the rank-``r`` truncated-SVD
  critical points have negative eigenvalues exactly ``-s_j`` (``j > r``), each ``k - r`` times.
* Lemma 17's negative-curvature direction at a spurious critical point (``N = 2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from reprokit import hessian as rk_hessian
from reprokit.checks import check_finite_number

from ._arrays import as_weights, to_numpy
from .products import CostFn, chain, composed, cost_gradient


def objective_hessian(cost: CostFn, weights: Sequence[Any]) -> np.ndarray:
    """The ``(p, p)`` Hessian of ``g(W_1..W_N) = cost(W_N ⋯ W_1)`` (``p = Σ d_l d_{l-1}``; row-major
    blocks in layer order), by forward-over-reverse autodiff (:func:`reprokit.hessian.hessian`)."""
    ws, _ = as_weights(weights)
    return rk_hessian.hessian(composed(cost), [torch.from_numpy(w) for w in ws]).numpy()


def origin_spectrum(grad_f0: Any, width: int, depth: int = 2) -> np.ndarray:
    """Closed-form Hessian spectrum of ``g`` at the origin (ascending), for any ``f``.

    ``N = 2``: the second-order term is ``2⟨∇f(0), M_2 M_1⟩``, so the eigenvalues are
    ``±σ_j(∇f(0))`` each ``k = width`` times, plus ``k |d_0 - d_2|`` zeros when ``∇f(0)`` is not
    square (``2 k n`` in all for ``n x n``). ``N >= 3``: every second-order term vanishes, all
    ``p`` eigenvalues are zero. ``grad_f0``: ``∇f(0)`` of shape ``(d_N, d_0)``.
    """
    g = to_numpy(grad_f0, "grad_f0")
    if g.ndim != 2:
        raise ValueError(f"grad_f0 must be the matrix ∇f(0) of shape (d_N, d_0); received shape {g.shape}")
    if isinstance(width, bool) or not isinstance(width, (int, np.integer)) or width < 1:
        raise ValueError(f"width must be a positive int; received {width!r}")
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an int >= 2; received {depth!r}")
    n_out, n_in = g.shape
    p = width * (n_in + n_out) + (depth - 2) * width * width
    if depth >= 3:
        return np.zeros(p)
    sv = np.linalg.svd(g, compute_uv=False)
    values = np.concatenate([np.repeat(sv, width), np.repeat(-sv, width), np.zeros(p - 2 * width * sv.size)])
    return np.sort(values)


def truncated_svd_point(a: Any, rank: int, width: int) -> list[np.ndarray]:
    """The rank-``r`` critical point of ``½||W_2 W_1 - A||²`` built from the SVD ``A = U diag(s) Vᵀ``:
    ``W_1 = Σ_{j<=r} √s_j e_j v_jᵀ`` (``(k, n)``), ``W_2 = Σ_{j<=r} √s_j u_j e_jᵀ`` (``(n, k)``),
    so ``W_2 W_1`` is the truncated SVD of ``A``. ``r = n`` is a global minimum."""
    a = to_numpy(a, "A")
    if a.ndim != 2:
        raise ValueError(f"A must be a matrix; received shape {a.shape}")
    n_out, n_in = a.shape
    if not 0 <= rank <= min(a.shape):
        raise ValueError(f"rank must be in 0..{min(a.shape)}; received {rank}")
    if width < rank:
        raise ValueError(f"width k must be >= rank r = {rank}; received {width}")
    u, s, vt = np.linalg.svd(a)
    w1 = np.zeros((width, n_in))
    w2 = np.zeros((n_out, width))
    for j in range(rank):
        w1[j] = np.sqrt(s[j]) * vt[j]
        w2[:, j] = np.sqrt(s[j]) * u[:, j]
    return [w1, w2]


def truncated_svd_negative_eigenvalues(singular_values: Sequence[float], rank: int, width: int) -> np.ndarray:
    """Closed form: the negative Hessian eigenvalues of ``½||W_2 W_1 - A||²`` at the rank-``r``
    truncated-SVD point are ``-s_j`` for ``j > r``, each ``k - r`` times (ascending)."""
    s = np.asarray(singular_values, dtype=np.float64)
    return np.sort(-np.repeat(s[rank:], width - rank))


def lemma17_direction(weights: Sequence[Any], grad_f: Any, p: float = 1.0, q: float = 1.0) -> list[np.ndarray]:
    """Lemma 17's direction at a critical point ``(W_1, W_2)`` of ``g`` with ``∇f(W_2 W_1) ≠ 0``:
    ``M_1 = -p γ φᵀ``, ``M_2 = q ψ γᵀ`` with ``γ`` a unit vector with ``γᵀ W_1 = 0`` (it exists as
    ``k > n``) and ``(ψ, φ)`` the top singular pair of ``∇f`` (``∇f φ = σ ψ``). The second
    variation is ``-σ p q + b p²`` (``b`` from ``f''``), negative for ``p = q²``, ``q`` small; with
    ``W_2 γ = 0`` and ``p = q`` the Rayleigh quotient of the Hessian is ``-σ``. Returns ``[M_1, M_2]``."""
    ws, _ = as_weights(weights)
    if len(ws) != 2:
        raise ValueError(f"Lemma 17 is about one hidden layer: weights must be [W_1, W_2]; received {len(ws)} factors")
    w1 = ws[0]
    gf = to_numpy(grad_f, "grad_f")
    if gf.shape != (ws[1].shape[0], w1.shape[1]):
        raise ValueError(f"grad_f must have the product's shape {(ws[1].shape[0], w1.shape[1])}; received {gf.shape}")
    p, q = check_finite_number("p", p), check_finite_number("q", q)
    u_left, sv, _ = np.linalg.svd(w1)  # left singular vectors of W_1 (k x k)
    rank = int(np.sum(sv > 1e-12 * max(1.0, sv.max(initial=0.0))))
    if rank >= w1.shape[0]:
        raise ValueError("W_1 has full row rank, so no γ with γᵀ W_1 = 0 exists (Lemma 17 needs k > n)")
    gamma = u_left[:, -1]
    u, s, vt = np.linalg.svd(gf)
    if s[0] == 0:
        raise ValueError("∇f(W_2 W_1) = 0: the point is critical for f, Lemma 17 does not apply")
    psi, phi = u[:, 0], vt[0]
    return [-p * np.outer(gamma, phi), q * np.outer(psi, gamma)]


def rayleigh_quotient(matrix: np.ndarray, direction: Sequence[np.ndarray]) -> float:
    """``vᵀ H v / vᵀ v`` for a direction given as matrices (flattened row-major, in layer order)."""
    v = np.concatenate([np.asarray(m).reshape(-1) for m in direction])
    return float(v @ matrix @ v / (v @ v))


def spurious_gap(cost: CostFn, weights: Sequence[Any]) -> float:
    """``||∇f(W̄)||_F`` at the limit of a run: zero at points of ``G_f``, positive at critical points
    of ``g`` that are not critical for ``f`` (spurious points)."""
    ws, _ = as_weights(weights)
    return float(np.linalg.norm(cost_gradient(cost, chain(ws))))
