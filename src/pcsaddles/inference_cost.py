"""The cost of PC inference against depth and weight scale (beyond the paper; its §5.2 limitation).

For a linear network the energy is a quadratic in the hidden activities whose Hessian ``K``
(:func:`pcsaddles.dln.activity_hessian`, the same for every example) is block-tridiagonal with
diagonal blocks ``I + W_{l+1}^T W_{l+1}`` and off-diagonal blocks ``-W_{l+1}``. Inference is
gradient descent on that quadratic, so its cost is set by the spectrum of ``K``:

* explicit Euler with step ``dt`` contracts the activity gradient by
  ``rho(dt) = max_k |1 - dt lambda_k(K)|`` per step (stable iff ``dt < 2 / lambda_max``); the best
  fixed step ``2 / (lambda_min + lambda_max)`` gives ``rho = (kappa - 1) / (kappa + 1)`` with the
  condition number ``kappa = lambda_max / lambda_min``;
* in continuous time the slowest mode decays like ``exp(-lambda_min t)``: the time to a tolerance
  grows like ``1 / lambda_min`` whatever the integrator (an adaptive one can only lengthen its
  steps up to its own stability limit ``~ 2 / lambda_max``).

**Identity-like weights** (derived here). With every ``W_l = g I_n`` (square layers, gain ``g``)
``K`` is ``n`` copies of the ``H x H`` tridiagonal Toeplitz matrix with diagonal ``1 + g^2`` and
off-diagonal ``-g``, whose eigenvalues are

    lambda_k = 1 + g^2 - 2 g cos(k pi / (H + 1)),   k = 1..H,

so ``kappa = (1 + g^2 + 2 g c) / (1 + g^2 - 2 g c)`` with ``c = cos(pi / (H + 1))``. For ``g = 1``
(the discrete Laplacian) ``lambda_min = 4 sin^2(pi / (2 (H + 1)))`` and
``kappa = cot^2(pi / (2 (H + 1))) ~ (2 (H + 1) / pi)^2``: the condition number, and with it the
number of Euler steps and the inference time, grows like ``(H + 1)^2``. For ``g != 1`` the
spectrum stays in ``[(1 - g)^2, (1 + g)^2]`` and ``kappa`` is bounded in ``H``.

Conventions as in :mod:`pcsaddles.dln`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
import torch

from . import dln, pc
from ._checks import check_data


def _check_depth_gain(n_hidden: int, gain: float) -> None:
    if isinstance(n_hidden, bool) or not isinstance(n_hidden, int) or n_hidden < 1:
        raise ValueError(f"n_hidden must be an int >= 1; received {n_hidden!r}")
    if not (isinstance(gain, (int, float)) and math.isfinite(gain) and gain >= 0):
        raise ValueError(f"gain must be a finite number >= 0; received {gain!r}")


def identity_like(n_hidden: int, width: int, gain: float = 1.0, dtype=torch.float64) -> list[torch.Tensor]:
    """``[g I_n, ..., g I_n]``: ``H + 1`` square layers of width ``n`` (so ``d_x = d_y = n``)."""
    _check_depth_gain(n_hidden, gain)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be an int >= 1; received {width!r}")
    return [gain * torch.eye(width, dtype=dtype) for _ in range(n_hidden + 1)]


def identity_spectrum(n_hidden: int, gain: float = 1.0) -> np.ndarray:
    """The ``H`` distinct eigenvalues (ascending) of the activity Hessian of :func:`identity_like`:
    ``1 + g^2 - 2 g cos(k pi / (H + 1))``, ``k = 1..H`` (each ``n`` times in ``K``)."""
    _check_depth_gain(n_hidden, gain)
    k = np.arange(1, n_hidden + 1)
    return np.sort(1 + gain**2 - 2 * gain * np.cos(k * np.pi / (n_hidden + 1)))


def identity_condition_number(n_hidden: int, gain: float = 1.0) -> float:
    """``kappa = (1 + g^2 + 2 g c) / (1 + g^2 - 2 g c)``, ``c = cos(pi / (H + 1))``; ``cot^2(pi / (2 (H + 1)))`` at ``g = 1``."""
    _check_depth_gain(n_hidden, gain)
    c = math.cos(math.pi / (n_hidden + 1))
    return (1 + gain**2 + 2 * gain * c) / (1 + gain**2 - 2 * gain * c)


def spectrum(weights: Sequence[torch.Tensor]) -> np.ndarray:
    """Eigenvalues (ascending) of the activity Hessian of any linear network (numerically)."""
    return torch.linalg.eigvalsh(dln.activity_hessian(weights)).cpu().numpy()


def euler_rate(eigenvalues: Sequence[float], dt: float) -> float:
    """``rho(dt) = max_k |1 - dt lambda_k|``: the per-step contraction of Euler inference (``>= 1``: no convergence)."""
    lam = np.asarray(eigenvalues, dtype=float)
    if lam.ndim != 1 or lam.size == 0 or np.any(lam <= 0):
        raise ValueError("eigenvalues must be a non-empty 1-D array of positive numbers (an activity Hessian is >= I)")
    if not dt > 0:
        raise ValueError(f"dt must be positive; received {dt}")
    return float(np.max(np.abs(1 - dt * lam)))


def best_step(eigenvalues: Sequence[float]) -> float:
    """The fixed Euler step minimising :func:`euler_rate`: ``2 / (lambda_min + lambda_max)``."""
    lam = np.asarray(eigenvalues, dtype=float)
    return 2.0 / (lam.min() + lam.max())


def euler_step_bound(eigenvalues: Sequence[float], dt: float, initial: float, tol: float) -> int:
    """Steps after which Euler inference is guaranteed to have ``max |dF_i/dz| < tol``:
    ``ceil(ln(tol / initial) / ln rho)``, with ``initial`` the Frobenius norm of the initial
    activity gradient (all examples), since ``max |g_t| <= ||g_t||_F <= rho^t ||g_0||_F``."""
    rho = euler_rate(eigenvalues, dt)
    if rho >= 1:
        raise ValueError(f"Euler with dt={dt} does not converge for this spectrum (rho = {rho:.3g} >= 1)")
    if not (initial > 0 and tol > 0):
        raise ValueError(f"need initial > 0 and tol > 0; received {initial}, {tol}")
    if initial < tol:
        return 0
    return math.ceil(math.log(tol / initial) / math.log(rho))


def initial_gradient_norm(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """``||dF_i/dz||_F`` over all examples and hidden layers at the feed-forward pass (where only
    the last hidden layer feels the output error)."""
    z = dln.forward(weights, x)[:-1]
    return float(torch.sqrt(sum(g.pow(2).sum() for g in pc.activity_grads(weights, z, x, y))))


def solve_costs(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, tol: float = 1e-6, dt: float = 0.1,
                max_steps: int = 1_000_000, rtol: float = 1e-3, atol: float = 1e-3, repeats: int = 1) -> dict:
    """Inference to a tolerance three ways, with their costs (wall-clock seconds are the best of ``repeats``).

    * ``"exact"``: :func:`pcsaddles.pc.infer` ``method="exact"`` (one ``d_L x d_L`` solve and ``2H``
      matrix products);
    * ``"euler"``: Euler with step ``dt`` from the feed-forward pass until ``max |dF_i/dz| < tol``
      (``steps``, the continuous time ``t = steps * dt``);
    * ``"heun"``: adaptive Heun with the paper's PID controller (``rtol``, ``atol``; Figure 1)
      integrated over the same time ``t`` (``steps`` accepted, ``rejected``, the final
      ``max_grad``; two activity-gradient evaluations per attempted step).

    Returns a dict of dicts with ``seconds``, ``steps``, ``evaluations`` (activity-gradient
    evaluations) and ``max_grad`` for each method, and ``time`` (Euler's ``t``).
    """
    check_data(weights, x, y)
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1; received {repeats!r}")

    def timed(fn):
        best, out = math.inf, None
        for _ in range(repeats):
            start = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - start)
        return best, out

    sec, (_, info) = timed(lambda: pc.infer(weights, x, y, method="exact", return_info=True))
    res = {"exact": dict(seconds=sec, steps=0, evaluations=1, max_grad=info.max_grad)}
    sec, (_, info) = timed(lambda: pc.infer(weights, x, y, method="euler", dt=dt, n_steps=max_steps, tol=tol,
                                            return_info=True))
    if not info.converged:
        raise RuntimeError(f"Euler inference did not reach tol={tol} within {max_steps} steps (dt={dt})")
    res["euler"] = dict(seconds=sec, steps=info.n_steps, evaluations=info.n_steps + 1, max_grad=info.max_grad)
    t_needed = max(info.n_steps * dt, dt)
    sec, (_, info) = timed(lambda: pc.infer(weights, x, y, method="heun", rtol=rtol, atol=atol, t1=t_needed,
                                            max_steps=max_steps, return_info=True))
    res["heun"] = dict(seconds=sec, steps=info.n_steps, rejected=info.n_rejected,
                       evaluations=2 * (info.n_steps + info.n_rejected), max_grad=info.max_grad)
    res["time"] = t_needed
    return res


__all__ = ["identity_like", "identity_spectrum", "identity_condition_number", "spectrum", "euler_rate", "best_step",
           "euler_step_bound", "initial_gradient_norm", "solve_costs"]
