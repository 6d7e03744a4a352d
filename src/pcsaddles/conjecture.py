"""Probing the conjecture "all saddles of the equilibrated energy are strict" (beyond the paper).

Three families of critical points of ``F*`` (Eq. 5) beyond Theorems 2 and 3.

**(a) Zero-rank points with ``W_L = 0``** (derived here). Let ``P = W_{L-1:1}`` (``n_{L-1} x d_0``)
be any product with ``P Sxy = 0`` (possible with ``P != 0`` when ``rank(Sxy) < d_0``, e.g.
``d_0 > d_L``) and ``W_L = 0``. Then ``S = I``, the residual is ``y``, and both gradients vanish:
the only non-zero block is ``dF*/dW_L = dL/dW_L = -Syx P^T = 0``. Expanding to second order
(``dP = sum_l M_l dW_l N_l`` with ``M_l = W_{L-1:l+1}``, ``N_l = W_{l-1:1}``),

    L(theta + dW)  = L(theta)  - tr(dW_L dP Sxy) + 1/2 tr(dW_L Q dW_L^T)                      + O(3),
    F*(theta + dW) = F*(theta) - tr(dW_L dP Sxy) + 1/2 tr(dW_L Q dW_L^T) - 1/2 tr(dW_L A dW_L^T Syy) + O(3),

with ``Q = P Sxx P^T`` and ``A = I + sum_{l=2}^{L-1} W_{L-1:l} W_{L-1:l}^T``. In the row-major
flattening, the Hessians are ``[[0, C], [C^T, B]]`` with the cross block ``C`` of the
``-tr(dW_L dP Sxy)`` term and ``B_L = I (x) Q``, ``B_F* = I (x) Q - Syy (x) A``
(:func:`zero_rank_hessians`). The ``W_1``-``W_L`` part of ``C`` is ``-tr(dW_L M_1 dW_1 Sxy)`` with
``M_1 = W_{L-1:2}``; since ``P = M_1 W_1``, ``P != 0`` forces ``M_1 != 0``, so ``C != 0`` whenever
``Sxy != 0``, and a symmetric matrix ``[[0, C], [C^T, B]]`` with ``C != 0`` has a negative
eigenvalue (the 2x2 compression on the top singular pair of ``C``, :func:`compression_bound`).
With ``P = 0`` this is Theorem 3. Hence: **every critical point with ``W_L = 0`` is a strict saddle
of ``F*`` when ``Sxy != 0`` and ``Syy != 0``**, and ``H_F* = H_L - blockdiag(0, Syy (x) A)`` makes it
at least as strict for ``F*`` as for the loss.

**(b) Near the rank-``r`` saddles of matrix completion** (the linear network of Figure 6). PC's
output is clamped to the observed entries only, so its equilibrated energy is, per example ``i``
with observed coordinates ``O_i`` (derived here; the unobserved outputs are free activities),
``F*_i = 1/2 r_{O_i}^T (S_{O_i O_i})^{-1} r_{O_i}`` (:func:`masked_equilibrated_energy`).
Critical points are located by Levenberg-Marquardt on ``1/2 ||grad f||^2`` with exact Hessians
(:func:`critical_point`).

**(c) Degenerate data** (``Sxy = 0``): then ``C = 0`` at every point with ``W_L = 0``, all of them
are critical, and such a point is non-strict exactly when ``B_F* = I (x) Q - Syy (x) A`` is positive
semi-definite -- a whole region of the ``W_L = 0`` set, bounded by non-strict saddles
(``lambda_min(B_F*) = 0``; the minima-and-caveats chapter's counterexample is the chain case).
:func:`degenerate_data` builds such data; :func:`nearly_degenerate` restores a small ``Sxy``, with
which the same points are strict again with ``lambda_min ~ -||C||^2 / lambda(B)``, i.e. ``O(eps^2)``.

Conventions as in :mod:`pcsaddles.dln` (``W_l (d_l, d_{l-1})``, ``x (N, d_0)``, ``y (N, d_L)``,
``1/(2N)`` normalisation); parameter vectors row-major in layer order (as in :mod:`reprokit.hessian`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from reprokit import hessian

from . import completion, dln, origin, pc, train, zero_rank
from ._checks import check_data, check_weights
from .batching import full_batch
from .minima import _kron


# --------------------------------------------------------------------------------------------
# (a) zero-rank points with W_L = 0


def correlated_span(x: torch.Tensor, y: torch.Tensor, rtol: float = 1e-10) -> torch.Tensor:
    """Orthonormal basis ``U (d_0, r)`` of the column space of ``Sxy = x^T y / N`` (``r = rank(Sxy)``):
    the input directions correlated with the targets."""
    sxy = origin.data_moments(x, y).sxy
    u, s, _ = torch.linalg.svd(sxy, full_matrices=False)
    rank = int((s > rtol * s[0]).sum()) if s.numel() and s[0] > 0 else 0
    return u[:, :rank]


def zero_rank_point(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor, scale: float = 1.0, seed: int = 0,
                    dtype=torch.float64) -> list[torch.Tensor]:
    """A random critical point of family (a): ``W_L = 0`` and ``P = W_{L-1:1}`` with ``P Sxy = 0``.

    ``W_1`` is ``scale`` times a standard Gaussian matrix projected onto the orthogonal complement of
    :func:`correlated_span` (so ``W_1 Sxy = 0``), ``W_2..W_{L-1}`` are Gaussian with variance
    ``1 / fan_in`` (seeded). Needs ``rank(Sxy) < d_0``.
    """
    widths = list(widths)
    if len(widths) < 3:
        raise ValueError(f"need at least one hidden layer; received widths {widths}")
    origin._check_batch(x, y)
    u = correlated_span(x, y).to(torch.float64)
    if u.shape[1] >= widths[0]:
        raise ValueError(f"Sxy has full row rank {u.shape[1]} = d_0, so P Sxy = 0 forces P = 0 (Theorem 3's family)")
    gen = torch.Generator().manual_seed(seed)
    proj = torch.eye(widths[0], dtype=torch.float64) - u @ u.T
    ws = [scale * torch.randn(widths[1], widths[0], generator=gen, dtype=torch.float64) @ proj]
    for a, b in zip(widths[1:-2], widths[2:-1]):
        ws.append(torch.randn(b, a, generator=gen, dtype=torch.float64) / math.sqrt(a))
    ws.append(torch.zeros(widths[-1], widths[-2], dtype=torch.float64))
    return [w.to(dtype) for w in ws]


@dataclass
class ZeroRankHessians:
    """Closed-form Hessians at a point with ``W_L = 0`` and ``P Sxy = 0``: ``loss`` and ``energy``
    ``(p, p)``; ``cross`` the ``W_L``-rows of the off-diagonal part ``(d_L n_{L-1}, p - d_L n_{L-1})``;
    ``q = P Sxx P^T`` and ``a`` (``A``), both ``(n_{L-1}, n_{L-1})``."""

    loss: torch.Tensor
    energy: torch.Tensor
    cross: torch.Tensor
    q: torch.Tensor
    a: torch.Tensor


def zero_rank_hessians(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, atol: float = 1e-10
                       ) -> ZeroRankHessians:
    """The Hessians of the loss and of ``F*`` at a critical point of family (a) (module docstring).

    Cross blocks (``l < L``): entry ``[(i, a), (b, c)] = -M_l[a, b] (N_l Sxy)[c, i]`` at row ``(i, a)``
    of ``W_L`` and column ``(b, c)`` of ``W_l``, the same as on Theorem 3's family
    (:mod:`pcsaddles.zero_rank`). ``W_L`` block: ``I (x) Q`` (loss) and ``I (x) Q - Syy (x) A``
    (energy), with ``A`` :func:`pcsaddles.zero_rank.penultimate_rescaling`. Raises ValueError away from the family (``max |W_L| > atol``
    or ``max |P Sxy| > atol``).
    """
    widths = check_data(weights, x, y)
    if len(widths) < 3:
        raise ValueError(f"need at least one hidden layer; received widths {widths}")
    m = origin.data_moments(x, y)
    p_mat = zero_rank._products_to_first(weights)[-1]  # W_{L-1:1}
    bad_w, bad_p = float(weights[-1].abs().max()), float((p_mat @ m.sxy).abs().max())
    if bad_w > atol or bad_p > atol:
        raise ValueError(f"not a point of family (a): max|W_L| = {bad_w:.3g}, max|P Sxy| = {bad_p:.3g} (need <= {atol})")
    d_out, n_pen = weights[-1].shape
    cross = torch.cat(zero_rank._cross_blocks(weights, x, y), dim=1)
    q = p_mat @ m.sxx @ p_mat.T
    a = zero_rank.penultimate_rescaling(weights)
    eye = torch.eye(d_out, dtype=q.dtype)
    k = d_out * n_pen
    p = sum(w.numel() for w in weights)
    loss = torch.zeros(p, p, dtype=q.dtype)
    loss[-k:, : p - k] = cross
    loss[: p - k, -k:] = cross.T
    loss[-k:, -k:] = _kron(eye, q)
    energy = loss.clone()
    energy[-k:, -k:] -= _kron(m.syy, a)
    return ZeroRankHessians(loss, energy, cross, q, a)


def compression_bound(hess: torch.Tensor, n_last: int) -> float:
    """An upper bound on ``lambda_min`` of ``[[D, C^T], [C, B]]`` (the last ``n_last`` coordinates are ``W_L``)
    where ``D = 0``: with the top singular pair ``(u, v, sigma)`` of ``C`` and ``b = u^T B u``, the 2x2
    compression gives ``lambda_min <= (b - sqrt(b^2 + 4 sigma^2)) / 2 < 0`` as soon as ``sigma > 0``."""
    if hess.ndim != 2 or hess.shape[0] != hess.shape[1] or not 0 < n_last < hess.shape[0]:
        raise ValueError(f"need a square matrix and 0 < n_last < p; received {tuple(hess.shape)}, {n_last}")
    c = hess[-n_last:, :-n_last]
    u, s, _ = torch.linalg.svd(c, full_matrices=False)
    sigma, top = float(s[0]), u[:, 0]
    b = float(top @ hess[-n_last:, -n_last:] @ top)
    return (b - math.sqrt(b * b + 4 * sigma * sigma)) / 2


# --------------------------------------------------------------------------------------------
# (b) matrix completion: the masked equilibrated energy, and locating critical points


def masked_loss(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``1/(2N) sum_i ||mask_i * (y_i - W_{L:1} x_i)||^2``: Eq. 1 on the observed entries (``mask`` 0/1, ``y``'s shape)."""
    check_data(weights, x, y)
    _check_mask(mask, y)
    return 0.5 * (mask * (y - dln.forward(weights, x)[-1])).pow(2).sum() / x.shape[0]


def masked_equilibrated_energy(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor,
                               mask: torch.Tensor) -> torch.Tensor:
    """PC's energy at the exact inference equilibrium with the output clamped to the observed entries only.

    ``F* = 1/(2N) sum_i r_{O_i}^T (S_{O_i O_i})^{-1} r_{O_i}`` with ``r_i = y_i - W_{L:1} x_i``, ``O_i`` the
    observed coordinates of example ``i`` and ``S`` the rescaling matrix of Theorem 1: minimising
    ``1/2 sum_l ||e_l||^2`` subject to the observed outputs only is a minimum-norm problem whose
    constraint matrix ``J_O`` has ``J_O J_O^T = S_{OO}``. Computed as ``r_m^T S_m^{-1} r_m`` with
    ``r_m = mask * r`` and ``S_m = diag(m) S diag(m) + diag(1 - m)``. With every entry observed it is Eq. 5.
    """
    check_data(weights, x, y)
    _check_mask(mask, y)
    r = mask * (y - dln.forward(weights, x)[-1])  # (N, d_L)
    s = dln.rescaling(weights)  # (d_L, d_L)
    s_m = mask[:, :, None] * s[None] * mask[:, None, :] + torch.diag_embed(1 - mask)  # (N, d, d)
    sol = torch.linalg.solve(s_m, r[:, :, None])[:, :, 0]
    return 0.5 * (r * sol).sum() / x.shape[0]


def _check_mask(mask, y):
    pc._check_mask(mask, y)  # a tensor of y's shape
    if mask is None or mask.dtype != y.dtype:
        raise ValueError(f"mask must be a 0/1 tensor of y's shape {tuple(y.shape)} and dtype {y.dtype}; "
                         f"received {None if mask is None else mask.dtype}")


def plateau_saddles(weights: Sequence[torch.Tensor], task: completion.CompletionTask, lr: float = 1e-2, *,
                    max_rank: int = 2, max_iter: int = 250_000, rank_every: int = 10,
                    rank_tol: float = 0.1) -> train.History:
    """BP on the matrix-completion task (:func:`pcsaddles.completion.run_bp`'s settings: full batch, the
    authors' ``nn.MSELoss`` of the observed entries, learning rate ``lr``) until the network's output
    first has numerical rank ``max_rank + 1``. The returned history's ``monitor`` (a
    :class:`pcsaddles.completion.RankMonitor`) holds, for every rank ``r <= max_rank`` seen, the
    iterate of least gradient norm among those of rank ``r``: the middle of the rank-``r`` plateau."""
    if isinstance(max_rank, bool) or not isinstance(max_rank, int) or max_rank < 1:
        raise ValueError(f"max_rank must be an int >= 1; received {max_rank!r}")
    ws = [w.detach() for w in weights]
    x, y, m = task.x.to(ws[0]), task.target.to(ws[0]), task.mask.to(ws[0])
    monitor = completion.RankMonitor(rank_every, rank_tol, True)
    return train.train("bp", ws, full_batch(x, y), max_iter, lr, convention="authors", report="mse", mask=m,
                       report_mask=m, monitor=monitor, stop=lambda _p: bool(monitor.ranks) and monitor.ranks[-1] > max_rank,
                       diverge_above=completion.DIVERGED_ABOVE)


@dataclass
class CriticalPoint:
    """Result of :func:`critical_point`: the ``weights`` reached, the gradient norm per accepted
    iteration (``grad_norms[0]`` at the start), the Hessian eigenvalues there (ascending) and the
    Euclidean distance travelled from the start."""

    weights: list[torch.Tensor]
    grad_norms: list[float]
    eigenvalues: torch.Tensor
    distance: float

    @property
    def grad_norm(self) -> float:
        return self.grad_norms[-1]


def critical_point(fn: Callable[[list[torch.Tensor]], torch.Tensor], weights: Sequence[torch.Tensor], *,
                   max_iter: int = 100, tol: float = 1e-10, damping: float = 1e-3) -> CriticalPoint:
    """A critical point of ``fn`` near ``weights``: Levenberg-Marquardt on ``1/2 ||grad fn||^2``.

    Each iteration takes the step ``-(H^2 + mu I)^{-1} H g`` from the exact Hessian ``H`` and gradient
    ``g`` (dense, :func:`reprokit.hessian.hessian`: for ``p`` up to a few thousand), accepted if it
    lowers ``||g||`` (then ``mu`` is divided by 3) and otherwise retried with ``10 mu``. Newton's
    method on the gradient, so it converges to saddles as well as minima; the pseudo-inverse
    behaviour of the damping handles the flat directions of the symmetries of a deep linear
    network. Stops when ``||g|| < tol`` or after ``max_iter`` Hessians.
    """
    check_weights(weights)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 0 or not tol > 0:
        raise ValueError(f"need an int max_iter >= 0 and tol > 0; received {max_iter!r}, {tol!r}")
    shapes = hessian.shapes_of(weights)
    start = hessian.flatten(weights).detach()
    theta = start.clone()

    def flat(v):
        return fn(hessian.unflatten(v, shapes)).reshape(())

    grad_fn = torch.func.grad(flat)
    g = grad_fn(theta)
    h = hessian.hessian(fn, hessian.unflatten(theta, shapes))
    lam, vecs = torch.linalg.eigh(h)
    norms, mu = [float(g.norm())], damping
    for _ in range(max_iter):
        if norms[-1] < tol:
            break
        coef = vecs.T @ g
        trial = theta - vecs @ (lam * coef / (lam**2 + mu))
        g_trial = grad_fn(trial)
        if float(g_trial.norm()) < norms[-1]:
            theta, g = trial, g_trial
            h = hessian.hessian(fn, hessian.unflatten(theta, shapes))
            lam, vecs = torch.linalg.eigh(h)
            norms.append(float(g.norm()))
            mu = max(mu / 3, 1e-14)
        else:
            mu *= 10
            if mu > 1e12:
                break
    return CriticalPoint(hessian.unflatten(theta, shapes), norms, lam, float((theta - start).norm()))


# --------------------------------------------------------------------------------------------
# (c) degenerate data


def degenerate_data(n: int, d_x: int, d_y: int, seed: int = 0, dtype=torch.float64) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian ``x (n, d_x)`` and ``y (n, d_y)`` with ``Sxy = x^T y / n = 0`` exactly: ``x`` is projected
    onto the orthogonal complement (in ``R^n``) of the columns of ``y``. Needs ``n > d_x + d_y``."""
    if n <= d_x + d_y:
        raise ValueError(f"need n > d_x + d_y to make x orthogonal to y; received n={n}, d_x={d_x}, d_y={d_y}")
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_x, generator=gen, dtype=torch.float64)
    y = torch.randn(n, d_y, generator=gen, dtype=torch.float64)
    q, _ = torch.linalg.qr(y)  # (n, d_y)
    x = x - q @ (q.T @ x)
    return x.to(dtype), y.to(dtype)


def nearly_degenerate(x: torch.Tensor, y: torch.Tensor, eps: float, seed: int = 0) -> torch.Tensor:
    """Targets ``y + eps * x G`` (``G`` a seeded Gaussian ``(d_x, d_y)`` matrix): ``Sxy = eps Sxx G``
    for degenerate ``(x, y)``, so ``eps`` measures the departure from ``Sxy = 0``."""
    gen = torch.Generator().manual_seed(seed)
    g = torch.randn(x.shape[1], y.shape[1], generator=gen, dtype=torch.float64).to(x.dtype)
    return y + eps * x @ g


def threshold_scale(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor) -> float:
    """For ``H = 1`` (``A = I``, ``Q = c^2 W_1 Sxx W_1^T`` when ``W_1`` is scaled by ``c``): the scale
    ``c*`` at which ``lambda_min(B_F*) = c^2 lambda_min(Q_1) - lambda_max(Syy)`` crosses 0, i.e.
    ``c* = sqrt(lambda_max(Syy) / lambda_min(Q_1))`` with ``Q_1`` at ``c = 1``."""
    widths = check_weights(weights)
    if len(widths) != 3:
        raise ValueError(f"threshold_scale is for one hidden layer (A = I); received widths {widths}")
    m = origin.data_moments(x, y)
    q = weights[0] @ m.sxx @ weights[0].T
    return math.sqrt(float(torch.linalg.eigvalsh(m.syy)[-1]) / float(torch.linalg.eigvalsh(q)[0]))


def sign_change(fn: Callable[[list[torch.Tensor]], torch.Tensor], weights: Sequence[torch.Tensor],
                directions: Sequence[Sequence[torch.Tensor]], radius: float) -> tuple[float, float]:
    """``(min, max)`` of ``fn(theta + radius * v) - fn(theta)`` over the directions ``v`` (weight lists):
    a critical point with a positive semi-definite Hessian is a saddle if these take both signs."""
    base = float(fn(list(weights)))
    diffs = [float(fn([w + radius * d for w, d in zip(weights, v)])) - base for v in directions]
    return min(diffs), max(diffs)


__all__ = ["correlated_span", "zero_rank_point", "ZeroRankHessians", "zero_rank_hessians", "compression_bound",
           "plateau_saddles", "masked_loss", "masked_equilibrated_energy", "CriticalPoint", "critical_point", "degenerate_data",
           "nearly_degenerate", "threshold_scale", "sign_change"]
