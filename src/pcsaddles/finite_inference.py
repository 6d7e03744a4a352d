"""How much strictness each inference step buys: the energy after ``T`` inference steps (beyond the paper).

Theorem 2 is a statement about the equilibrated energy ``F*``, i.e. infinitely many inference
steps; PC runs a finite number ``T``. The objective PC descends after ``T`` explicit Euler steps
``z <- z - dt dF_i/dz`` (Eq. 3) started at the feed-forward pass is

    F_T(theta) = F(theta, z_T(theta)),   z_0(theta) = feed-forward activities of theta,

which interpolates between the loss (``T = 0``: every hidden error is zero, ``F_0 = L``) and the
equilibrated energy (``T -> inf``: ``F_inf = F*``, Eq. 5). Here ``z_0`` follows ``theta`` (it is
the feed-forward pass of the *same* weights), unlike the authors' numerical procedure
(:func:`pcsaddles.pc.unrolled_energy`), which holds the initial activities fixed and so does not
give the loss Hessian at ``T = 0`` (:func:`pcsaddles.origin.unrolled_energy_hessian_origin`).

**At the origin** (derived here, tested against autodiff). To first order in ``theta`` the
activity gradient at the origin is ``z - c`` (the activity Hessian is the identity), so every mode
relaxes at the rate ``1 - dt`` and, with ``q_T = (1 - dt)^{2T}``,

    H_{F_T}(0) = q_T H_L(0) + (1 - q_T) H_{F*}(0),

a convex combination of Eq. 7 and Eq. 8. So for ``H >= 2``,
``lambda_min(T) = -(1 - q_T) lambda_max(Syy)``: the same for every depth, monotone in ``T``, and
half of the limit is reached after ``T_1/2 = ceil(ln 2 / (-2 ln(1 - dt)))`` steps (4 at
``dt = 0.1``).

**At a deep zero-rank saddle** the activity Hessian is not the identity and depth enters:
:func:`chain_saddle` builds a point of Theorem 3's family (``W_L = 0``, ``W_{L-1:1} = 0``) whose
middle layers ``W_3, ..., W_{L-1}`` are ``gain * I``. There the loss Hessian is zero while
``H_{F*}`` has ``lambda_min = -lambda_max(Syy) lambda_max(A)`` with
``A = (1 + gain^2 + ... + gain^{2(H-2)}) I`` (:mod:`pcsaddles.zero_rank`), and the response of the
hidden layers to a change of ``W_L`` has to travel down a chain of ``H - 1`` layers, one layer per
Euler step and at the rate of the chain's slowest mode.

Conventions as in :mod:`pcsaddles.dln` (``W_l (d_l, d_{l-1})``, ``x (N, d_0)``, ``y (N, d_L)``,
``1/(2N)`` normalisation).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch

from . import dln, origin, pc
from ._checks import check_data


def _check_steps(n_steps, dt) -> int:
    if isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0; received {n_steps!r}")
    if not 0 < dt < 2:
        raise ValueError(f"dt must lie in (0, 2); received {dt}")
    return int(n_steps)


def tracked_unrolled_energy(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, n_steps: int,
                            dt: float = 0.1) -> torch.Tensor:
    """``F_T``: the energy (Eq. 2) after ``n_steps`` Euler steps from the feed-forward pass of ``weights``.

    The initial activities stay in the autograd graph (they are a function of the weights), so
    ``n_steps = 0`` is exactly the loss (Eq. 1) with its derivatives, and ``n_steps -> inf`` the
    equilibrated energy (Eq. 5). Closed form for a linear network (as
    :func:`pcsaddles.pc.unrolled_energy_linear`, which detaches the start): with the activities of
    example ``i`` in a row, the activity gradient is ``Z K - C`` (``K`` the activity Hessian), so
    ``Z_T = Z* + (Z_0 - Z*) (I - dt K)^T`` with ``Z* = C K^{-1}``. Differentiable with autograd and
    ``torch.func``.
    """
    widths = check_data(weights, x, y)
    steps = _check_steps(n_steps, dt)
    hidden = widths[1:-1]
    if not hidden:
        return dln.mse_loss(weights, x, y)
    start = dln.forward(weights, x)[:-1]  # kept in the graph: z_0 follows theta
    return pc._linear_unrolled(weights, x, y, start, steps, dt)


def decay(n_steps: int, dt: float = 0.1) -> float:
    """``q_T = (1 - dt)^{2T}``: the weight of the loss Hessian left after ``T`` steps at the origin."""
    return (1.0 - dt) ** (2 * _check_steps(n_steps, dt))


def tracked_hessian_origin(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor, n_steps: int,
                           dt: float = 0.1) -> torch.Tensor:
    """Hessian of :func:`tracked_unrolled_energy` at the origin: ``q_T H_L(0) + (1 - q_T) H_F*(0)``
    (module docstring), from :func:`pcsaddles.origin.loss_hessian_origin` (Eq. 7) and
    :func:`pcsaddles.origin.energy_hessian_origin` (Eq. 8). Shape ``(p, p)``."""
    q = decay(n_steps, dt)
    return q * origin.loss_hessian_origin(widths, x, y) + (1 - q) * origin.energy_hessian_origin(widths, x, y)


def lambda_min_origin(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor, n_steps: int, dt: float = 0.1) -> float:
    """Smallest eigenvalue of :func:`tracked_hessian_origin` without forming it.

    ``H >= 2``: ``-(1 - q_T) lambda_max(Syy)``. ``H = 1``: the matrix splits into ``n_1`` copies of
    ``-[[0, Sxy], [Syx, (1 - q_T) Syy]]`` (one per hidden unit), whose smallest eigenvalue it is.
    """
    widths = list(widths)
    q = decay(n_steps, dt)
    m = origin.data_moments(x, y)
    if len(widths) < 3:
        raise ValueError(f"need at least one hidden layer; received widths {widths}")
    if len(widths) > 3:
        return -(1 - q) * float(torch.linalg.eigvalsh(m.syy)[-1])
    top = torch.cat([torch.zeros_like(m.sxx), -m.sxy], 1)
    bottom = torch.cat([-m.sxy.T, -(1 - q) * m.syy], 1)
    return float(torch.linalg.eigvalsh(torch.cat([top, bottom], 0))[0])


def half_steps_origin(dt: float = 0.1) -> int:
    """For ``H >= 2``: the fewest steps with ``lambda_min(T) <= lambda_min(inf) / 2``, i.e. ``q_T <= 1/2``:
    ``ceil(ln 2 / (-2 ln(1 - dt)))``."""
    if not 0 < dt < 1:
        raise ValueError(f"dt must lie in (0, 1); received {dt}")
    return math.ceil(math.log(2) / (-2 * math.log(1 - dt)) - 1e-12)


def steps_to_fraction(steps: Sequence[int], values: Sequence[float], limit: float, fraction: float = 0.5) -> int | None:
    """The first ``steps[k]`` with ``values[k] - values[0] <= fraction (limit - values[0])``: the
    number of inference steps that buys ``fraction`` of the way from ``T = 0`` to the limit
    (``values`` are ``lambda_min(T)``, decreasing towards ``limit``). ``None`` if never on the grid."""
    v = np.asarray(values, dtype=float)
    s = np.asarray(steps)
    if v.shape != s.shape or v.ndim != 1 or v.size == 0:
        raise ValueError(f"steps and values must be matching 1-D sequences; received {s.shape} and {v.shape}")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must lie in (0, 1]; received {fraction}")
    hit = np.flatnonzero(v - v[0] <= fraction * (limit - v[0]))
    return int(s[hit[0]]) if hit.size else None


def tracked_lambda_min(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, n_steps: int,
                       dt: float = 0.1) -> float:
    """``lambda_min`` of the Hessian of :func:`tracked_unrolled_energy` at ``weights`` (dense, autodiff)."""
    from reprokit import hessian

    h = hessian.hessian(lambda w: tracked_unrolled_energy(w, x, y, n_steps, dt), list(weights))
    return float(torch.linalg.eigvalsh(h)[0])


def first_step_below(values_of: Callable[[int], float], level: float, t_max: int = 1 << 16) -> int:
    """The smallest integer ``T >= 0`` with ``values_of(T) <= level``, for a non-increasing ``values_of``
    (e.g. ``lambda_min(T)``): doubling, then bisection (``O(log T)`` evaluations). Raises if
    ``values_of(t_max) > level``."""
    if values_of(0) <= level:
        return 0
    hi = 1
    while values_of(hi) > level:
        hi *= 2
        if hi > t_max:
            raise ValueError(f"values_of stays above {level} up to T = {t_max}")
    lo = hi // 2  # values_of(lo) > level (or lo = 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if values_of(mid) <= level:
            hi = mid
        else:
            lo = mid
    return hi


def chain_saddle(widths: Sequence[int], gain: float = 1.0, dtype=torch.float64) -> list[torch.Tensor]:
    """A deep point of Theorem 3's family: ``W_1 = W_2 = W_L = 0`` and ``W_l = gain * I`` for ``l = 3..L-1``.

    Needs ``H >= 3`` hidden layers and equal widths ``n_2 = ... = n_H``. ``W_{L-1:1} = 0`` and
    ``W_L = 0``, so it is critical for the loss and ``F*``; every cross block of the Hessian
    vanishes (``W_{L-1:2}`` contains ``W_2 = 0`` and ``W_{l-1:1}`` contains ``W_1 = 0``), so
    ``H_L = 0`` and ``H_F* = blockdiag(0, ..., -Syy (x) A)`` with
    ``A = (1 + gain^2 + ... + gain^{2(H-2)}) I`` (:func:`pcsaddles.zero_rank.energy_hessian`).
    """
    widths = list(widths)
    if len(widths) < 5:
        raise ValueError(f"chain_saddle needs H >= 3 hidden layers (widths with >= 5 entries); received {widths}")
    if len(set(widths[2:-1])) != 1:
        raise ValueError(f"the hidden widths n_2, ..., n_H must be equal (identity layers); received {widths}")
    ws = [torch.zeros(b, a, dtype=dtype) for a, b in zip(widths[:-1], widths[1:])]
    for l in range(2, len(ws) - 1):  # W_3 .. W_{L-1}
        ws[l] = gain * torch.eye(widths[l + 1], dtype=dtype)
    return ws


def chain_saddle_lambda_min(widths: Sequence[int], y: torch.Tensor, gain: float = 1.0) -> float:
    """``lambda_min(H_F*)`` at :func:`chain_saddle`: ``-lambda_max(Syy) (1 + gain^2 + ... + gain^{2(H-2)})``."""
    h = len(list(widths)) - 2
    syy = y.T @ y / y.shape[0]
    return -float(torch.linalg.eigvalsh(syy)[-1]) * sum(gain ** (2 * j) for j in range(h - 1))


__all__ = ["tracked_unrolled_energy", "decay", "tracked_hessian_origin", "lambda_min_origin", "half_steps_origin",
           "steps_to_fraction", "tracked_lambda_min", "first_step_below", "chain_saddle", "chain_saddle_lambda_min"]
