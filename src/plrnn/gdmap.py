"""Gradient descent as a map: the bridge from this part to Parts I and II.

Gradient descent ``theta -> G(theta) = theta - eta grad f(theta)`` is a discrete-time dynamical
system like the RNNs of this part, with Jacobian ``DG = I - eta H_f``. At a critical point ``theta*``
(a fixed point of ``G``) the multipliers are ``1 - eta h_i`` for the Hessian eigenvalues ``h_i``:

* a **strict saddle** (some ``h_i < 0``) has a multiplier ``1 - eta h_i > 1``: an unstable direction;
  if no ``h_i`` is zero (and ``eta h_i < 2``) the fixed point is a **hyperbolic saddle** of ``G``, and
  the initialisations that converge to it form its **stable manifold**, of dimension
  ``#{h_i > 0} < dim theta``: a set of measure zero (Part II's Theorem 18, for gradient flow);
* a **non-strict saddle** (``h_i >= 0``, some zero) has multipliers equal to 1: not hyperbolic, and
  neither eigenspaces nor this part's manifold constructions apply.

Unlike the PLRNN, ``G`` is smooth, not piecewise linear: the stable manifold is computed from the
local linearisation (the stable eigenvector of ``DG``) and **backward iteration** of ``G`` (each step
inverted by Newton's method), and checked against a **direct** computation, bisection between
initialisations that end in different minima.

Objectives are the scalar chains of Parts I and II, ``f(x) = w_L ... w_1 x`` on data ``(x_i, y_i)``:
the loss ``L = 1/(2N) sum_i (y_i - p x_i)^2`` (``p = prod w``) and predictive coding's equilibrated
energy (Part I, Theorem 1) ``F* = 1/(2N) sum_i (y_i - p x_i)^2 / S`` with
``S = 1 + sum_{l=2}^{L} (w_L ... w_l)^2``. Gradients are in closed form, vectorised over
parameter points ``w (n, L)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from reprokit.checks import check_choice

__all__ = ["chain_value", "chain_grad", "GradientMap", "StableCurve", "stable_curve", "bisect_boundary", "OBJECTIVES"]

OBJECTIVES = ("loss", "energy")


def _check_w(w: Any) -> np.ndarray:
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 1:
        w = w[None]
    if w.ndim != 2 or w.shape[1] < 1:
        raise ValueError(f"w must have shape (n, L) (n parameter points of an L-weight chain); received {w.shape}")
    return w


def _moments(x: Any, y: Any) -> tuple[float, float, float]:
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape or x.size == 0:
        raise ValueError(f"x and y must be 1-D arrays of the same positive length; received {x.shape} and {y.shape}")
    return float(np.mean(x * x)), float(np.mean(x * y)), float(np.mean(y * y))


def _prod_except(w: np.ndarray) -> np.ndarray:
    """``prod_{j != l} w_j`` for every ``l``: ``(n, L)``."""
    L = w.shape[1]
    out = np.ones_like(w)
    for l in range(L):
        for j in range(L):
            if j != l:
                out[:, l] *= w[:, j]
    return out


def _suffix(w: np.ndarray) -> np.ndarray:
    """``s_l = w_L ... w_l`` (0-based ``l``): ``(n, L)``."""
    return np.cumprod(w[:, ::-1], axis=1)[:, ::-1]


def chain_value(objective: str, w: Any, x: Any, y: Any) -> np.ndarray:
    """The loss or the equilibrated energy of the scalar chain at ``w (n, L)``: ``(n,)``."""
    check_choice("objective", objective, OBJECTIVES)
    w = _check_w(w)
    sxx, sxy, syy = _moments(x, y)
    p = np.prod(w, axis=1)
    q = syy - 2 * p * sxy + p * p * sxx  # mean (y - p x)^2
    if objective == "loss":
        return 0.5 * q
    s = _suffix(w)
    S = 1.0 + (s[:, 1:] ** 2).sum(1)
    return 0.5 * q / S


def chain_grad(objective: str, w: Any, x: Any, y: Any) -> np.ndarray:
    """Gradient ``(n, L)`` of :func:`chain_value` (closed form)."""
    check_choice("objective", objective, OBJECTIVES)
    w = _check_w(w)
    sxx, sxy, syy = _moments(x, y)
    p = np.prod(w, axis=1)
    others = _prod_except(w)
    dq = (2 * p * sxx - 2 * sxy)[:, None] * others  # d mean(y - p x)^2 / dw_l
    if objective == "loss":
        return 0.5 * dq
    q = syy - 2 * p * sxy + p * p * sxx
    L = w.shape[1]
    s = _suffix(w)
    S = 1.0 + (s[:, 1:] ** 2).sum(1)
    dS = np.zeros_like(w)
    for l in range(L):  # dS/dw_l = sum_{m=1..l} 2 s_m ds_m/dw_l, ds_m/dw_l = s_m / w_l (product without w_l)
        for m in range(1, l + 1):
            part = np.ones(w.shape[0])
            for jj in range(m, L):
                if jj != l:
                    part = part * w[:, jj]
            dS[:, l] += 2 * s[:, m] * part
    return 0.5 * dq / S[:, None] - 0.5 * (q / S ** 2)[:, None] * dS


@dataclass
class GradientMap:
    """``G(w) = w - eta grad f(w)`` for ``objective`` in ``("loss", "energy")`` on data ``x, y``."""

    objective: str
    eta: float
    x: np.ndarray
    y: np.ndarray

    def __post_init__(self):
        check_choice("objective", self.objective, OBJECTIVES)
        self.x, self.y = np.asarray(self.x, dtype=np.float64).ravel(), np.asarray(self.y, dtype=np.float64).ravel()
        _moments(self.x, self.y)

    def grad(self, w: Any) -> np.ndarray:
        return chain_grad(self.objective, w, self.x, self.y)

    def value(self, w: Any) -> np.ndarray:
        return chain_value(self.objective, w, self.x, self.y)

    def step(self, w: Any) -> np.ndarray:
        w = _check_w(w)
        return w - self.eta * self.grad(w)

    def run(self, w: Any, n_steps: int) -> np.ndarray:
        """``G^n(w)`` for ``w (n, L)``: ``n_steps`` gradient-descent steps."""
        w = _check_w(w)
        for _ in range(int(n_steps)):
            w = w - self.eta * self.grad(w)
        return w

    def hessian(self, w: Any, h: float = 1e-5) -> np.ndarray:
        """Hessian at one point ``w (L,)`` by central differences of the closed-form gradient."""
        w = np.asarray(w, dtype=np.float64).ravel()
        L = w.size
        E = np.eye(L) * h
        g = self.grad(np.concatenate([w + E, w - E]))
        H = (g[:L] - g[L:]) / (2 * h)
        return 0.5 * (H + H.T)

    def jacobian(self, w: Any) -> np.ndarray:
        """``DG = I - eta H`` at one point ``w (L,)``."""
        w = np.asarray(w, dtype=np.float64).ravel()
        return np.eye(w.size) - self.eta * self.hessian(w)

    def jacobians(self, w: Any, h: float = 1e-6) -> np.ndarray:
        """``DG = I - eta H`` at many points ``w (n, L)`` -> ``(n, L, L)`` (central differences of the gradient)."""
        w = _check_w(w)
        L = w.shape[1]
        Jg = np.empty((w.shape[0], L, L))
        for l in range(L):
            e = np.zeros(L)
            e[l] = h
            Jg[:, :, l] = (self.grad(w + e) - self.grad(w - e)) / (2 * h)
        return np.eye(L) - self.eta * Jg

    def inverse(self, v: Any, n_newton: int = 60, tol: float = 1e-14) -> np.ndarray:
        """``G^{-1}(v)`` for ``v (n, L)`` by Newton's method from ``v + eta grad f(v)`` (rows that do not
        converge are NaN)."""
        v = _check_w(v)
        w = v + self.eta * self.grad(v)
        for _ in range(n_newton):
            r = w - self.eta * self.grad(w) - v
            if np.all(np.abs(r) <= tol * (1 + np.abs(v))):
                break
            w = w - np.linalg.solve(self.jacobians(w), r[..., None])[..., 0]
        r = w - self.eta * self.grad(w) - v
        bad = ~np.all(np.abs(r) <= 1e-10 * (1 + np.abs(v)), axis=1)
        w[bad] = np.nan
        return w


@dataclass
class StableCurve:
    """A stable manifold of a 2-D gradient map as polylines: ``branches`` (one ``(m, 2)`` array per
    side of the saddle, ordered outwards), the saddle ``point``, the stable eigenvector ``direction``
    and multiplier ``multiplier``. ``.distance(x)`` and ``.sample(n, seed, within)`` as for the
    manifolds of :mod:`plrnn.polyline` (so :func:`plrnn.quality.boundary_distances` applies)."""

    branches: list
    point: np.ndarray
    direction: np.ndarray
    multiplier: float

    @property
    def segments(self) -> np.ndarray:
        segs = [np.stack([b[:-1], b[1:]], 1) for b in self.branches if b.shape[0] > 1]
        return np.concatenate(segs) if segs else np.zeros((0, 2, 2))

    def distance(self, x: Any) -> np.ndarray:
        from .polyline import point_segment_distance

        return point_segment_distance(np.asarray(x, dtype=np.float64), self.segments)

    def sample(self, n: int, seed: int = 0, within: tuple[Any, Any] | None = None) -> np.ndarray:
        from .polyline import clip_segments, sample_segments

        seg = self.segments if within is None else clip_segments(self.segments, *within)
        return sample_segments(seg, int(n), np.random.default_rng(seed))


def stable_curve(gmap: GradientMap, p: Any, *, c0: float = 1e-4, n_fund: int = 200, n_back: int = 200,
                 bound: float = 5.0) -> StableCurve:
    """The stable manifold of the hyperbolic saddle ``p (2,)`` of a 2-parameter gradient map, one
    polyline per branch: the fundamental domain ``p +- c v_s``, ``c in [c0 mu_s, c0]`` (geometric
    spacing; ``v_s``, ``mu_s`` the stable eigenpair of ``DG(p)``; the local manifold deviates from this
    segment by ``O(c0^2)``), iterated backward ``n_back`` times (Newton-inverted steps) until it leaves
    ``|w|_inf <= bound``. A branch also ends where ``det DG`` stops being positive: beyond that fold of
    ``G`` a point has several preimages and Newton's method may jump to another branch."""
    p = np.asarray(p, dtype=np.float64).ravel()
    J = gmap.jacobian(p)
    mu, V = np.linalg.eig(J)
    if np.any(np.abs(mu.imag) > 0) or not (np.sum(np.abs(mu) < 1) == 1 and np.sum(np.abs(mu) > 1) == 1):
        raise ValueError(f"stable_curve needs a 2-D hyperbolic saddle of the gradient map; multipliers {mu}")
    mu = mu.real
    i = int(np.argmin(np.abs(mu)))
    v, mus = V[:, i].real / np.linalg.norm(V[:, i].real), float(mu[i])
    u = np.linspace(0.0, 1.0, n_fund, endpoint=False)
    branches = []
    for sign in (1.0, -1.0):
        fund = p + sign * (c0 * abs(mus) ** u)[:, None] * v  # from c0 down to c0 |mu_s|
        levels = [fund[::-1]]
        cur = fund
        for _ in range(n_back):
            cur = gmap.inverse(cur)
            ok = np.all(np.isfinite(cur), axis=1) & (np.abs(cur).max(axis=1) <= bound)
            ok[ok] &= np.linalg.det(gmap.jacobians(cur[ok])) > 0
            ok = np.cumprod(ok[::-1])[::-1].astype(bool)  # keep the part of the level before the first failure
            if not np.any(ok):
                break
            levels.append(cur[::-1][ok[::-1]])
            if not np.all(ok):
                break
        branches.append(np.concatenate([p[None], np.concatenate(levels)]))
    return StableCurve(branches=branches, point=p, direction=v, multiplier=mus)


def bisect_boundary(label: Callable[[np.ndarray], np.ndarray], w1: Any, lo: Any, hi: Any, n_bisect: int = 40
                    ) -> np.ndarray:
    """For each ``w1[i]``, the ``w2`` in ``[lo[i], hi[i]]`` where ``label(points (n, 2))`` changes, by
    bisection (the labels at ``lo`` and ``hi`` must differ): points ``(n, 2)``; NaN rows where they do not."""
    w1 = np.asarray(w1, dtype=np.float64).ravel()
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), w1.shape).copy()
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), w1.shape).copy()
    l_lo = label(np.stack([w1, lo], 1))
    l_hi = label(np.stack([w1, hi], 1))
    valid = l_lo != l_hi
    for _ in range(n_bisect):
        mid = 0.5 * (lo + hi)
        lm = label(np.stack([w1, mid], 1))
        left = lm == l_lo
        lo = np.where(left, mid, lo)
        hi = np.where(left, hi, mid)
    out = np.stack([w1, 0.5 * (lo + hi)], 1)
    out[~valid] = np.nan
    return out
