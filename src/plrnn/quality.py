"""Quality of a computed manifold: the paper's validation score and the boundary-distance measure.

**The paper's score** (its Eq. 6 and Table 2). For a saddle ``p`` and ``sigma`` (+1 stable, -1
unstable),

    delta_sigma(x0) = min over 0 <= k <= K of |F^{sigma k}(x0) - p|^2 / |x0 - p|^2   in [0, 1],

iterating forward for the stable manifold and backward (the inverse step, Algorithm 2) for the
unstable one; a failed inverse step keeps the running minimum. For a cycle, ``|. - p|`` is the
distance to the nearest cycle point. Points on ``W^sigma(p)`` approach ``p`` (``delta ~ 0``); generic
points do not. With ``delta_max`` the largest score of on-manifold points in a neighbourhood ``U``
of ``p``, and ``I_U(x0) = 1[delta_sigma(x0) > delta_max]`` for ``x0`` uniform in ``U``,

    Delta_sigma = <I_U> - median of delta_sigma over on-manifold points in U      (<= 1).

The paper fixes neither ``U``, ``K`` nor the central value; here ``U`` is the box of half-width
``r`` about ``p``, points closer than ``0.02 r`` to ``p`` are excluded, and the central value is the
median. ``Delta`` also comes with ``delta_max`` replaced by the on-manifold 95th percentile.

**Boundary distance** (a measure the book adds): between the boundary pixels of a brute-force basin
image and a manifold, in units of the grid spacing ``h``: every boundary pixel's distance to the
manifold (max, fraction within ``h``), and every manifold point's distance to the nearest boundary
pixel (percentiles).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from reprokit.checks import check_choice, check_positive_int

from .inverse import InverseStep
from .local import KINDS
from .models import PiecewiseAffineMap, check_states
from .scyfi import Cycle

__all__ = ["delta_sigma", "delta_score", "delta_scores", "DeltaScore", "boundary_pixels", "boundary_distances"]


def _cycle_points(model: PiecewiseAffineMap, cycle: Any) -> np.ndarray:
    from .manifolds import resolve_point

    cyc = cycle if isinstance(cycle, Cycle) else resolve_point(model, cycle)[0]
    if cyc.stability != "saddle":
        raise ValueError(f"delta_sigma scores points against a saddle; this cycle (period {cyc.period}) is "
                         f"{cyc.stability!r} with multipliers {np.round(cyc.eigenvalues, 6)}")
    return cyc.points


def delta_sigma(model: PiecewiseAffineMap, x: Any, cycle: Any, kind: str, *, K: int = 100,
                inverse: InverseStep | None = None) -> np.ndarray:
    """The paper's score ``delta_sigma`` (module docstring) of points ``x (n, M)``: ``(n,)`` in ``[0, 1]``
    (NaN for a point exactly on the cycle, where the ratio is 0/0). ``cycle``: a
    :class:`~plrnn.scyfi.Cycle` or a point of one; ``kind``: ``"stable"`` (forward) or ``"unstable"``
    (backward, inverse step)."""
    if not isinstance(model, PiecewiseAffineMap):
        raise TypeError(f"model must be a plrnn model; received {type(model).__name__}")
    check_choice("kind", kind, KINDS)
    K = check_positive_int("K", K, minimum=0)
    x = check_states(x, model.M, "x")
    if x.ndim != 2:
        raise ValueError(f"x must have shape (n, {model.M}); received shape {x.shape}")
    P = _cycle_points(model, cycle)

    def dist2(z):
        return ((z[:, None, :] - P[None]) ** 2).sum(-1).min(axis=1)

    d0 = dist2(x)
    with np.errstate(invalid="ignore", divide="ignore"):
        best = np.where(d0 > 0, 1.0, np.nan)
    inv = None
    if kind == "unstable":
        inv = InverseStep(model) if inverse is None else inverse
    cur = x.copy()
    alive = np.ones(x.shape[0], dtype=bool)
    for _ in range(K):
        if not np.any(alive):
            break
        if kind == "stable":
            with np.errstate(over="ignore", invalid="ignore"):
                cur[alive] = model.step(cur[alive]) if np.all(np.isfinite(cur[alive])) else _safe_step(model, cur[alive])
        else:
            res = inv(cur[alive])
            cur[alive] = res.x
        finite = np.all(np.isfinite(cur), axis=1) & (np.abs(cur).max(axis=1) < 1e150)
        alive &= finite
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            ratio = np.where(alive, dist2(np.where(alive[:, None], cur, 0.0)) / d0, np.inf)
        best = np.fmin(best, ratio)
    return best


def _safe_step(model: PiecewiseAffineMap, z: np.ndarray) -> np.ndarray:
    out = np.full_like(z, np.nan)
    ok = np.all(np.isfinite(z), axis=1)
    out[ok] = model.step(z[ok])
    return out


@dataclass
class DeltaScore:
    """``value``: the paper's ``Delta_sigma``; ``value_p95``: with the 95th percentile in place of
    ``delta_max``; ``delta_on (m,)`` / ``delta_uniform (n,)``: the scores of on-manifold and uniform
    points of ``U``; ``delta_max``; ``median_on``; ``fraction_above`` (``<I_U>``)."""

    value: float
    value_p95: float
    delta_on: np.ndarray
    delta_uniform: np.ndarray
    delta_max: float
    median_on: float
    fraction_above: float


def delta_score(model: PiecewiseAffineMap, cycle: Cycle, kind: str, on_points: Any, *, j: int = 0, r: float = 0.5,
                n_uniform: int = 1000, K: int = 100, seed: int = 0, exclude: float = 0.02) -> DeltaScore:
    """The paper's ``Delta_sigma`` (module docstring) for on-manifold points ``on_points (m, M)`` (e.g.
    ``manifold.sample(300, within=(p - r, p + r))``) and ``n_uniform`` uniform points of the box
    ``U = [p - r, p + r]`` around ``p = cycle.points[j]``. To score several point sets against one
    ``U``, :func:`delta_scores` scores the uniform points once."""
    return delta_scores(model, cycle, kind, [on_points], j=j, r=r, n_uniform=n_uniform, K=K, seed=seed,
                        exclude=exclude)[0]


def delta_scores(model: PiecewiseAffineMap, cycle: Cycle, kind: str, point_sets: Sequence[Any], *, j: int = 0,
                 r: float = 0.5, n_uniform: int = 1000, K: int = 100, seed: int = 0, exclude: float = 0.02
                 ) -> list[DeltaScore]:
    """:func:`delta_score` of each on-manifold point set in ``point_sets`` (e.g. points of a
    reconstruction and exact points) against one box ``U``: the ``n_uniform`` uniform points of ``U``
    and their ``delta_sigma`` (``K`` steps, the inverse step for an unstable manifold) are computed once
    and shared, so each result equals ``delta_score`` of its set with the same arguments."""
    if isinstance(point_sets, np.ndarray) or not isinstance(point_sets, (list, tuple)) or not point_sets:
        raise TypeError("point_sets must be a non-empty list of (m, M) arrays (for one array use delta_score); "
                        f"received {type(point_sets).__name__}")
    p = cycle.points[j]
    ons = []
    for on in point_sets:
        on = check_states(on, model.M, "on_points")
        on = on[np.all(np.abs(on - p) <= r, axis=1) & (np.linalg.norm(on - p, axis=1) > exclude * r)]
        if on.shape[0] == 0:
            raise ValueError(f"no on-manifold point lies in U = [p - {r}, p + {r}] outside the {exclude} r exclusion")
        ons.append(on)
    rng = np.random.default_rng(seed)
    uni = p + rng.uniform(-r, r, size=(4 * n_uniform, model.M))
    uni = uni[np.linalg.norm(uni - p, axis=1) > exclude * r][:n_uniform]
    d_uni = delta_sigma(model, uni, cycle, kind, K=K)
    out = []
    for on in ons:
        d_on = delta_sigma(model, on, cycle, kind, K=K)  # its own inverse step: independent of the other sets
        dmax, d95 = float(np.nanmax(d_on)), float(np.nanpercentile(d_on, 95))
        med = float(np.nanmedian(d_on))
        frac = float(np.mean(d_uni > dmax))
        out.append(DeltaScore(value=frac - med, value_p95=float(np.mean(d_uni > d95)) - med, delta_on=d_on,
                              delta_uniform=d_uni, delta_max=dmax, median_on=med, fraction_above=frac))
    return out


def boundary_pixels(labels: Any) -> np.ndarray:
    """Pixels of a label image ``(ny, nx)`` with a 4-neighbour of another label (both sides of every
    boundary), bool ``(ny, nx)``."""
    L = np.asarray(labels)
    if L.ndim != 2:
        raise ValueError(f"labels must be a 2-D image (ny, nx); received shape {L.shape}")
    b = np.zeros(L.shape, dtype=bool)
    dx = L[:, 1:] != L[:, :-1]
    dy = L[1:] != L[:-1]
    b[:, 1:] |= dx
    b[:, :-1] |= dx
    b[1:] |= dy
    b[:-1] |= dy
    return b


def boundary_distances(points: Any, labels: Any, h: float, manifold: Any, window: tuple[Any, Any], *,
                       n_manifold: int = 20_000, seed: int = 0) -> dict[str, float]:
    """Boundary pixels (``points (ny*nx, 2)`` of the grid, ``labels (ny, nx)``, spacing ``h``) against a
    manifold (anything with ``.distance(x)`` and ``.sample(n, seed, within)``) inside ``window = (lo, hi)``.
    Returns, in units of ``h``: ``b2m_max``, ``b2m_within_1h`` (fraction), ``b2m_within_1_5h``,
    ``m2b_p50``, ``m2b_p95``, ``m2b_p99``, ``m2b_max``; and ``n_boundary``."""
    from scipy.spatial import cKDTree

    pts = np.asarray(points, dtype=np.float64)
    b = boundary_pixels(labels).ravel()
    bp = pts[b]
    if bp.shape[0] == 0:
        raise ValueError("the label image has no boundary (a single label)")
    d_b = manifold.distance(bp) / h
    mpts = manifold.sample(n_manifold, seed=seed, within=window)
    d_m = cKDTree(bp).query(mpts)[0] / h
    return {"n_boundary": int(bp.shape[0]), "b2m_max": float(d_b.max()), "b2m_within_1h": float(np.mean(d_b <= 1.0)),
            "b2m_within_1_5h": float(np.mean(d_b <= 1.5)), "m2b_p50": float(np.percentile(d_m, 50)),
            "m2b_p95": float(np.percentile(d_m, 95)), "m2b_p99": float(np.percentile(d_m, 99)),
            "m2b_max": float(d_m.max())}
