"""Region bookkeeping: which regions exist and are visited, their Jacobian determinants, and
invertibility by enumeration.

A region is a cell on which the map is affine; its id is the activation pattern of the switching
units (:meth:`plrnn.models.PiecewiseAffineMap.region_id`). The paper's sufficient condition for
invertibility (its Sec. 3, "invertibility"): Jacobian determinants of neighbouring regions have the
same sign (for a continuous piecewise-affine map: *coherent orientation*). :func:`preimages`
tests it directly: for targets ``y`` it solves ``J_d x = y - c_d`` in **every** region ``d`` and
counts the solutions that lie in their own region (an invertible map has exactly one).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .models import PiecewiseAffineMap, check_states

__all__ = ["all_codes", "determinants", "preimages", "Preimages", "realised_codes", "visited_regions",
           "in_region", "coherently_oriented"]


def all_codes(model: PiecewiseAffineMap) -> np.ndarray:
    """Every region id ``0 .. 2**s - 1`` (``s`` switching units)."""
    return np.arange(model.n_regions, dtype=np.int64)


def determinants(model: PiecewiseAffineMap, codes: Any = None) -> np.ndarray:
    """``det J_d`` for region ids ``codes`` (default: all)."""
    codes = all_codes(model) if codes is None else np.asarray(codes, dtype=np.int64)
    J, _ = model.affine_of_code(codes)
    return np.linalg.det(J)


def in_region(model: PiecewiseAffineMap, x: np.ndarray, codes: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """True where ``x (..., M)`` lies in the (closed) region ``codes (...)``: every switching
    unit on its side, a unit within ``tol (1 + |x|_inf)`` of its border counting for both."""
    units = model.switching_units
    pre = x @ model.G[units].T + model.g[units]
    bits = model.pattern_of_code(codes)[..., units]
    scale = tol * (1 + np.abs(x).max(axis=-1, keepdims=True))
    ok = np.where(bits, pre >= -scale, pre <= scale)
    return np.all(ok, axis=-1) & np.all(np.isfinite(x), axis=-1)


def realised_codes(model: PiecewiseAffineMap, *, box: float = 10.0, n_points: int = 100_000, seed: int = 0) -> np.ndarray:
    """Region ids met at ``n_points`` uniform points of ``[-box, box]^M`` plus, for ``M = 2``, points
    around every vertex of the border arrangement (every bounded cell has one) and far out between
    consecutive asymptotic directions of the lines (every unbounded cell lies there), so that in 2-D
    every cell of the arrangement is found. Sorted."""
    rng = np.random.default_rng(seed)
    pts = [rng.uniform(-box, box, size=(n_points, model.M))]
    if model.M == 2:
        units = model.switching_units
        G, g = model.G[units], model.g[units]
        verts = []
        for i in range(len(units)):
            for j in range(i + 1, len(units)):
                mat = np.stack([G[i], G[j]])
                if abs(np.linalg.det(mat)) > 1e-12:
                    verts.append(np.linalg.solve(mat, -np.array([g[i], g[j]])))
        ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        ring = np.stack([np.cos(ang), np.sin(ang)], 1)
        verts = np.array(verts) if verts else np.zeros((0, 2))
        for k, v in enumerate(verts):  # every bounded cell has a vertex: probe around each one
            others = np.delete(verts, k, axis=0)
            gap = np.min(np.linalg.norm(others - v, axis=1)) if others.size else 1.0
            pts.append(v + min(1e-6 * (1 + np.abs(v).max()), 0.25 * gap) * ring)
        # every unbounded cell lies between two consecutive asymptotic directions of the lines
        dirs = np.arctan2(G[:, 0], -G[:, 1])
        dirs = np.sort(np.mod(np.concatenate([dirs, dirs + np.pi]), 2 * np.pi))
        mids = (dirs + np.diff(np.append(dirs, dirs[0] + 2 * np.pi)) / 2) if dirs.size else ang
        radius = 1e3 * (1 + (np.abs(verts).max() if verts.size else 0) + np.abs(g).max() / np.linalg.norm(G, axis=1).min())
        pts.append(radius * np.stack([np.cos(mids), np.sin(mids)], 1))
    return np.unique(model.region_id(np.concatenate(pts)))


def coherently_oriented(model: PiecewiseAffineMap, codes: Any = None) -> bool:
    """True if all regions ``codes`` (default: the realised ones) have Jacobian determinants of one
    strict sign: the paper's sufficient condition for invertibility (stronger than "neighbours
    agree", and equal to it for the 2-piece maps)."""
    codes = realised_codes(model) if codes is None else codes
    det = determinants(model, codes)
    return bool(np.all(det > 0) or np.all(det < 0))


def visited_regions(model: PiecewiseAffineMap, z: Any) -> tuple[np.ndarray, np.ndarray]:
    """Distinct region ids among states ``z (..., M)`` and how often each occurs."""
    z = check_states(z, model.M)
    return np.unique(model.region_id(z).ravel(), return_counts=True)


@dataclass
class Preimages:
    """Result of :func:`preimages`: ``count (n,)`` distinct consistent preimages per target,
    ``points (n, R, M)`` (NaN where region ``r`` has none), ``valid (n, R)``."""

    count: np.ndarray
    points: np.ndarray
    valid: np.ndarray


def preimages(model: PiecewiseAffineMap, y: Any, *, codes: Any = None, tol: float = 1e-10) -> Preimages:
    """All preimages of targets ``y (n, M)`` by enumeration over regions ``codes`` (default: all
    ``2**s``): ``x_d = J_d^{-1} (y - c_d)``, kept if ``x_d`` lies in region ``d``; solutions that
    coincide (a preimage on a border, found from both sides) are counted once."""
    y = check_states(y, model.M, "y")
    if y.ndim != 2:
        raise ValueError(f"y must have shape (n, {model.M}); received shape {y.shape}")
    codes = all_codes(model) if codes is None else np.asarray(codes, dtype=np.int64)
    J, c = model.affine_of_code(codes)  # (R, M, M), (R, M)
    n, R = y.shape[0], codes.size
    pts = np.full((n, R, model.M), np.nan)
    det = np.linalg.det(J)
    for r in range(R):
        if abs(det[r]) < 1e-14:
            continue
        pts[:, r] = np.linalg.solve(J[r], (y - c[r]).T).T
    valid = in_region(model, pts, np.broadcast_to(codes, (n, R)), tol)
    count = np.zeros(n, dtype=np.int64)
    for i in range(n):
        found: list[np.ndarray] = []
        for r in np.flatnonzero(valid[i]):
            p = pts[i, r]
            if not any(np.max(np.abs(p - q)) <= 1e-8 * (1 + np.abs(p).max()) for q in found):
                found.append(p)
        count[i] = len(found)
    pts[~valid] = np.nan
    return Preimages(count=count, points=pts, valid=valid)
