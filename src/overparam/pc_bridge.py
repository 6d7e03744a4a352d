"""The bridge to Part I: predictive coding's equilibrated energy is not a cost of the product.

In Part I's notation (depth ``L``, batch ``B``; Part I calls the batch size ``N``), data
``x (B, d_0)``, ``y (B, d_L)``, residuals ``r_b = y_b - W_{L:1} x_b``, ``Ψ = (1/B) Σ_b r_b r_bᵀ``
and ``S = I + Σ_{ℓ=2}^{L} W_{L:ℓ} W_{L:ℓ}ᵀ``, the equilibrated energy (Part I, Theorem 1) is

    F* = (1/(2B)) Σ_b r_bᵀ S⁻¹ r_b = ½ tr(S⁻¹ Ψ),

evaluated by Part I's :func:`pcsaddles.dln.equilibrated_energy`. ``F*`` depends on the
sub-products ``W_{L:ℓ}``, not on ``W_{L:1}`` alone, so Prop. 2 does not hold for its gradient
flow. Drift law (derived for this book): along ``Ẇ = -∇F*``, for ``i = 1..L-1``,

    dC_i/dt = -2 W_{L:i+1}ᵀ S⁻¹ Ψ S⁻¹ W_{L:i+1}  ⪯ 0,

because the ``Ψ``-part of ``∇F*`` is the gradient of a function of the product (no drift) and
the ``S``-part ``-½ tr(Q S)``, ``Q = S⁻¹ Ψ S⁻¹``, is a sum of functions of the ``W_{L:ℓ}``, each
of which moves only ``C_{ℓ-1}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from pcsaddles import dln
from reprokit import hessian as rk_hessian

from ._arrays import as_weights, to_numpy
from .costs import Cost
from .imbalance import imbalance_rate
from .odeint import MatrixSolution, solve_matrices


def _data(x: Any, y: Any, ws: Sequence[np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    xa, ya = to_numpy(x, "x"), to_numpy(y, "y")
    if xa.ndim != 2 or xa.shape[1] != ws[0].shape[1]:
        raise ValueError(f"x must have shape (B, {ws[0].shape[1]}) (examples in rows); received {xa.shape}")
    if ya.ndim != 2 or ya.shape != (xa.shape[0], ws[-1].shape[0]):
        raise ValueError(f"y must have shape ({xa.shape[0]}, {ws[-1].shape[0]}); received {ya.shape}")
    return torch.from_numpy(np.ascontiguousarray(xa)), torch.from_numpy(np.ascontiguousarray(ya))


def energy(weights: Sequence[Any], x: Any, y: Any) -> float:
    """``F*`` (Part I's Eq. 5, via :func:`pcsaddles.dln.equilibrated_energy`) as a float.
    ``weights = [W_1, ..., W_L]`` (``L >= 1``), ``x (B, d_0)``, ``y (B, d_L)``."""
    ws, _ = as_weights(weights, min_depth=1)
    xt, yt = _data(x, y, ws)
    with torch.no_grad():
        return float(dln.equilibrated_energy([torch.from_numpy(w) for w in ws], xt, yt))


def mse(weights: Sequence[Any], x: Any, y: Any) -> float:
    """The loss ``(1/(2B)) Σ_b ||r_b||²`` (Part I's Eq. 1, :func:`pcsaddles.dln.mse_loss`) as a float."""
    ws, _ = as_weights(weights, min_depth=1)
    xt, yt = _data(x, y, ws)
    with torch.no_grad():
        return float(dln.mse_loss([torch.from_numpy(w) for w in ws], xt, yt))


def energy_gradient(weights: Sequence[Any], x: Any, y: Any) -> list[np.ndarray]:
    """``[∂F*/∂W_1, ..., ∂F*/∂W_L]`` by autograd through Part I's ``F*`` (numpy)."""
    ws, _ = as_weights(weights, min_depth=1)
    xt, yt = _data(x, y, ws)
    return _grad(ws, xt, yt)


def _grad(ws: Sequence[np.ndarray], xt: torch.Tensor, yt: torch.Tensor) -> list[np.ndarray]:
    params = [torch.tensor(w, requires_grad=True) for w in ws]
    grads = torch.autograd.grad(dln.equilibrated_energy(params, xt, yt), params)
    return [g.numpy() for g in grads]


def energy_hessian(weights: Sequence[Any], x: Any, y: Any) -> np.ndarray:
    """The ``(p, p)`` Hessian of ``F*`` (row-major blocks, layer order) by :mod:`reprokit.hessian`."""
    ws, _ = as_weights(weights, min_depth=1)
    xt, yt = _data(x, y, ws)
    return rk_hessian.hessian(lambda w: dln.equilibrated_energy(w, xt, yt), [torch.from_numpy(w) for w in ws]).numpy()


def mse_hessian(weights: Sequence[Any], x: Any, y: Any) -> np.ndarray:
    """The ``(p, p)`` Hessian of the loss (for comparison with :func:`energy_hessian`)."""
    ws, _ = as_weights(weights, min_depth=1)
    xt, yt = _data(x, y, ws)
    return rk_hessian.hessian(lambda w: dln.mse_loss(w, xt, yt), [torch.from_numpy(w) for w in ws]).numpy()


def drift_law(weights: Sequence[Any], x: Any, y: Any) -> list[np.ndarray]:
    """The drift law: ``dC_i/dt = -2 W_{L:i+1}ᵀ S⁻¹ Ψ S⁻¹ W_{L:i+1}``, ``i = 1..L-1``, each
    ``(d_i, d_i)`` and negative semi-definite (numpy)."""
    ws, _ = as_weights(weights)
    xa, ya = (t.numpy() for t in _data(x, y, ws))
    above = [np.eye(ws[-1].shape[0])]  # above[j] = W_L ⋯ W_{L-j+1}
    for w in reversed(ws):
        above.append(above[-1] @ w)
    s = np.eye(ws[-1].shape[0]) + sum(a @ a.T for a in above[1:len(ws)])
    residual = ya - xa @ above[-1].T  # (B, d_L)
    psi = residual.T @ residual / xa.shape[0]
    s_inv = np.linalg.inv(s)
    q = s_inv @ psi @ s_inv
    n_layers = len(ws)
    return [-2 * above[n_layers - i - 1].T @ q @ above[n_layers - i - 1] for i in range(n_layers - 1)]


def drift_from_gradient(weights: Sequence[Any], x: Any, y: Any) -> list[np.ndarray]:
    """``dC_i/dt`` computed from the velocity ``-∇F*`` itself (what the drift law predicts)."""
    ws, _ = as_weights(weights)
    grads = energy_gradient(ws, x, y)
    return imbalance_rate(ws, [-g for g in grads])


def energy_flow(weights: Sequence[Any], x: Any, y: Any, t1: float, *, t_eval: np.ndarray | None = None,
                rtol: float = 1e-10, atol: float = 1e-12) -> MatrixSolution:
    """The gradient flow ``Ẇ_ℓ = -∂F*/∂W_ℓ`` (PC with exact inference in continuous time), DOP853;
    ``mats`` holds one array ``(T, d_ℓ, d_{ℓ-1})`` per layer."""
    ws, _ = as_weights(weights, min_depth=1)
    xt, yt = _data(x, y, ws)
    return solve_matrices(lambda t, w: [-g for g in _grad(w, xt, yt)], ws, t1, t_eval=t_eval, rtol=rtol, atol=atol)


def mse_cost(x: Any, y: Any) -> Cost:
    """The loss as a cost of the end-to-end matrix, ``f(W̄) = (1/(2B)) ||Y - X W̄ᵀ||_F²`` with
    ``∇f = -(1/B) (Y - X W̄ᵀ)ᵀ X`` (so that :func:`overparam.flow` runs the loss's flow)."""
    xa, ya = to_numpy(x, "x"), to_numpy(y, "y")
    if xa.ndim != 2 or ya.ndim != 2 or xa.shape[0] != ya.shape[0]:
        raise ValueError(f"x (B, d_0) and y (B, d_L) must be 2-D with equal B; received {xa.shape} and {ya.shape}")
    xt, yt = torch.from_numpy(xa.copy()), torch.from_numpy(ya.copy())
    b = xa.shape[0]

    def pick(xp):
        return (xt, yt) if xp is torch else (xa, ya)

    return Cost("mse", lambda w, xp: 0.5 * ((pick(xp)[1] - pick(xp)[0] @ w.T) ** 2).sum() / b,
                lambda w, xp: -(pick(xp)[1] - pick(xp)[0] @ w.T).T @ pick(xp)[0] / b,
                shape=(ya.shape[1], xa.shape[1]), f_star=None)
