"""Flat pieces as polytopes: sampling, a feasible point and the Euclidean distance.

A flat piece of Algorithm 1 is the set ``x = o + E c`` (origin ``o (M,)``, orthonormal basis
``E (M, d)``) with coefficients in its coordinate box ``lo <= c <= hi`` and ``x`` inside its region
(every switching unit ``u`` on the side given by the region's pattern:
``s_u (G_u x + g_u) >= 0`` with ``s_u = +1`` for an active and ``-1`` for an inactive unit),
optionally also inside a window ``w_lo <= x <= w_hi``. In coefficients this is a bounded convex
polytope ``{c : A c <= b}`` (:func:`piece_constraints`), one row per switching unit, box side and
window side. For ``d = 1`` it is an interval, computed in closed form.

* :func:`hit_and_run` draws (approximately) uniform points of such polytopes in any dimension:
  from a feasible point, a random direction, the exact chord of the polytope along it, a uniform
  point of the chord (Smith's hit-and-run; vectorised over many chains and pieces).
* :func:`chebyshev_points`: the centre of the largest inscribed ball of each polytope (one linear
  program each, ``scipy.optimize.linprog``), the start of the chains; its radius tells whether the
  polytope is full-dimensional at all.
* :func:`project`: the nearest point of a polytope to given coefficients (Dykstra's alternating
  projections onto the box and the half-spaces), hence the distance of a state ``x`` to a piece,
  ``sqrt(|x_perp|^2 + |c_x - c*|^2)`` with ``c_x = E^T (x - o)`` (``E`` orthonormal).

Shapes: ``P`` pieces, ``m`` constraint rows, ``d`` coefficients, ``n`` chains or points.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .models import PiecewiseAffineMap

__all__ = ["piece_constraints", "intervals", "hit_and_run", "chebyshev_points", "project", "PolytopeSampler"]


def piece_constraints(model: PiecewiseAffineMap, origins: np.ndarray, bases: np.ndarray, lo: np.ndarray,
                      hi: np.ndarray, codes: np.ndarray, window: tuple[Any, Any] | None = None, tol: float = 1e-9,
                      extra: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The polytopes ``{c : A c <= b}`` of pieces ``origins (P, M)``, ``bases (P, M, d)``, boxes
    ``lo, hi (P, d)``, regions ``codes (P,)`` (module docstring), with further rows ``extra =
    (A_x (P, r, d), b_x (P, r))`` if given, optionally inside the state-space box ``window = (w_lo,
    w_hi)``. A point within ``tol (1 + |o|_inf)`` of a border counts as inside the region (as
    :func:`plrnn.regions.in_region`). Returns ``A (P, m, d)``, ``b (P, m)``; rows in this order:
    the ``s`` switching units, the box (``d`` upper, ``d`` lower), ``extra``, the window."""
    P, M, d = bases.shape
    units = model.switching_units
    Gs, gs = model.G[units], model.g[units]  # (s, M), (s,)
    sgn = np.where(model.pattern_of_code(codes)[:, units], 1.0, -1.0)  # (P, s)
    slack = tol * (1.0 + np.abs(origins).max(axis=1, keepdims=True))
    # s_u (G_u (o + E c) + g_u) >= 0  <=>  -s_u G_u E c <= s_u (G_u o + g_u)
    A_reg = -sgn[:, :, None] * np.einsum("sm,pmd->psd", Gs, bases)
    b_reg = sgn * (origins @ Gs.T + gs) + slack
    eye = np.broadcast_to(np.eye(d), (P, d, d))
    A = [A_reg, eye, -eye]
    b = [b_reg, hi, -lo]
    if extra is not None:
        A.append(extra[0])
        b.append(extra[1])
    if window is not None:
        w_lo = np.broadcast_to(np.asarray(window[0], dtype=np.float64), (M,))
        w_hi = np.broadcast_to(np.asarray(window[1], dtype=np.float64), (M,))
        A += [bases, -bases]
        b += [w_hi - origins, origins - w_lo]
    return np.concatenate(A, axis=1), np.concatenate(b, axis=1)


def intervals(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ``d = 1``: the interval ``[l, u]`` of each polytope ``A (P, m, 1)``, ``b (P, m)``
    (``l > u`` where it is empty)."""
    a = A[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = b / a
    upper = np.where(a > 0, t, np.inf).min(axis=1)
    lower = np.where(a < 0, t, -np.inf).max(axis=1)
    infeasible = np.any((a == 0) & (b < 0), axis=1)
    return np.where(infeasible, np.inf, lower), np.where(infeasible, -np.inf, upper)


def chebyshev_points(A: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The Chebyshev centre (centre of the largest inscribed ball) of each polytope ``A (P, m, d)``,
    ``b (P, m)`` and its radius: ``max r`` subject to ``A_i c + r |A_i| <= b_i``. Returns
    ``centres (P, d)`` and ``radii (P,)`` (``-inf`` where the polytope is empty)."""
    from scipy.optimize import linprog

    P, m, d = A.shape
    centres = np.full((P, d), np.nan)
    radii = np.full(P, -np.inf)
    norms = np.linalg.norm(A, axis=2)
    cost = np.zeros(d + 1)
    cost[-1] = -1.0
    for p in range(P):
        res = linprog(cost, A_ub=np.concatenate([A[p], norms[p][:, None]], axis=1), b_ub=b[p],
                      bounds=[(None, None)] * d + [(None, None)], method="highs")
        if res.status == 0:
            centres[p], radii[p] = res.x[:d], res.x[d]
    return centres, radii


def hit_and_run(A: np.ndarray, b: np.ndarray, start: np.ndarray, n_steps: int, rng: np.random.Generator,
                piece: np.ndarray | None = None) -> np.ndarray:
    """``n_steps`` hit-and-run moves of chains ``start (n, d)`` inside their polytopes (module
    docstring). Each move: a uniform random direction ``u``, the chord ``{c + t u}`` of the polytope
    (exact, from the rows with ``A_i u != 0``), a uniform ``t`` on it. The polytopes are ``A (n, m, d)``,
    ``b (n, m)`` per chain, or with ``piece (n,)`` ``A (P, m, d)``, ``b (P, m)`` per piece and
    the piece of each chain. The chains must start inside their (bounded) polytopes. Returns the end
    points ``(n, d)``."""
    c = np.array(start, dtype=np.float64, copy=True)
    n, d = c.shape
    if piece is None:
        piece = np.arange(n)
    piece = np.asarray(piece, dtype=np.int64)
    order = np.argsort(piece, kind="stable")
    groups, first = np.unique(piece[order], return_index=True)
    bounds = list(zip(groups, first, list(first[1:]) + [n]))
    c = c[order]
    for _ in range(int(n_steps)):
        u = rng.standard_normal((n, d))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
        if len(bounds) * 4 > n:  # many small groups: one gathered product
            Ap = A[piece[order]]
            Au = np.einsum("nmd,nd->nm", Ap, u)
            slack = b[piece[order]] - np.einsum("nmd,nd->nm", Ap, c)
        else:
            Au, slack = np.empty((n, A.shape[1])), np.empty((n, A.shape[1]))
            for g, s0, s1 in bounds:
                Au[s0:s1] = u[s0:s1] @ A[g].T
                slack[s0:s1] = b[g] - c[s0:s1] @ A[g].T
        slack = np.maximum(slack, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t = slack / Au
        t_hi = np.where(Au > 1e-300, t, np.inf).min(axis=1)
        t_lo = np.where(Au < -1e-300, t, -np.inf).max(axis=1)
        ok = np.isfinite(t_hi) & np.isfinite(t_lo) & (t_hi >= t_lo)
        step = np.where(ok, t_lo + (t_hi - t_lo) * rng.random(n), 0.0)
        c += step[:, None] * u
    out = np.empty_like(c)
    out[order] = c
    return out


def project(H: np.ndarray, h: np.ndarray, lo: np.ndarray, hi: np.ndarray, q: np.ndarray, *, max_iter: int = 5000,
            tol: float = 1e-14) -> np.ndarray:
    """The nearest point to ``q (n, d)`` of each polytope ``{c : H c <= h, lo <= c <= hi}``
    (``H (n, k, d)``, ``h (n, k)``, ``lo, hi (n, d)``), by Dykstra's alternating projections onto the
    ``k`` half-spaces and the box (a clip). Converges to the exact projection of a non-empty
    polytope; stops when no coordinate moves by more than ``tol (1 + |q|_inf)`` in a sweep."""
    H = np.asarray(H, dtype=np.float64)
    n, k, d = H.shape
    Hn = np.einsum("nkd,nkd->nk", H, H)
    Hn = np.where(Hn > 0, Hn, 1.0)
    x = np.array(q, dtype=np.float64, copy=True)
    corr = np.zeros((n, k + 1, d))  # Dykstra's correction terms: half-spaces, then the box
    scale = tol * (1.0 + np.abs(q).max(axis=1))
    live = np.arange(n)
    for _ in range(int(max_iter)):
        if live.size == 0:
            break
        xl, cl = x[live], corr[live]
        old = xl.copy()
        for j in range(k):
            y = xl + cl[:, j]
            viol = np.einsum("nd,nd->n", H[live, j], y) - h[live, j]
            z = y - (np.maximum(viol, 0.0) / Hn[live, j])[:, None] * H[live, j]
            cl[:, j] = y - z
            xl = z
        y = xl + cl[:, k]
        z = np.clip(y, lo[live], hi[live])
        cl[:, k] = y - z
        xl = z
        x[live], corr[live] = xl, cl
        live = live[np.abs(xl - old).max(axis=1) > scale[live]]
    return x


class PolytopeSampler:
    """Points of many polytopes ``{u : A u <= b}`` (``A (P, m, q)``, ``b (P, m)``), each in proportion
    to its size: for ``q = 1`` the exact intervals (:func:`intervals`) and their lengths; for
    ``q >= 2`` the Chebyshev centres (:func:`chebyshev_points`; polytopes without an inscribed ball
    of radius above ``flat (1 + scale)`` have measure zero and are left out), ``2 q + 2`` pilot
    hit-and-run chains per polytope (``burn`` moves, default ``5 q + 20``) and the size proxy
    ``sqrt(det Cov)`` of their end points (for a uniform distribution on a convex body this is its
    volume up to a shape factor). :meth:`draw` then moves chains started at pilot points ``2 q + 5``
    more times."""

    def __init__(self, A: np.ndarray, b: np.ndarray, rng: np.random.Generator, *, burn: int | None = None,
                 scale: np.ndarray | float = 0.0, flat: float = 1e-10):
        self.A, self.b, self.rng = A, b, rng
        P, _, q = A.shape
        self.q = q
        self.sizes = np.zeros(P)
        if q == 1:
            self.lo, self.hi = intervals(A, b)
            self.sizes = np.maximum(self.hi - self.lo, 0.0)
            return
        centres, radii = chebyshev_points(A, b) if P else (np.zeros((0, q)), np.zeros(0))
        self.full = np.flatnonzero(radii > flat * (1.0 + np.broadcast_to(scale, (P,))))
        burn = 5 * q + 20 if burn is None else int(burn)
        self.n_pilot = 2 * q + 2
        k = np.repeat(self.full, self.n_pilot)
        self.pilot = hit_and_run(A, b, centres[k], burn, rng, piece=k).reshape(self.full.size, self.n_pilot, q)
        if self.full.size:
            rel = self.pilot - self.pilot.mean(1, keepdims=True)
            sign, logdet = np.linalg.slogdet(np.einsum("pki,pkj->pij", rel, rel) / (self.n_pilot - 1))
            self.sizes[self.full] = np.where(sign > 0, np.exp(np.minimum(0.5 * logdet, 700.0)), 0.0)

    def draw(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``counts[p]`` points of polytope ``p`` (zero where its size is zero): ``u (n, q)`` and the
        polytope of each point ``(n,)``."""
        counts = np.where(self.sizes > 0, np.asarray(counts, dtype=np.int64), 0)
        which = np.repeat(np.arange(counts.size), counts)
        if self.q == 1:
            t = self.lo[which] + (self.hi[which] - self.lo[which]) * self.rng.random(which.size)
            return t[:, None], which
        slot = np.full(counts.size, -1)
        slot[self.full] = np.arange(self.full.size)
        start = self.pilot[slot[which], self.rng.integers(0, self.n_pilot, which.size)]
        return hit_and_run(self.A, self.b, start, 2 * self.q + 5, self.rng, piece=which), which
