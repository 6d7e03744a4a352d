"""Homoclinic points of a 2-D saddle (the paper's Algorithm 4 and Fig. 5).

A homoclinic point is a point of ``W^s(p) cap W^u(p)`` other than ``p``; a transverse one implies a
Smale horseshoe and hence chaos (Smale-Birkhoff). Here: propagate the exact local chords (the
polylines of :mod:`plrnn.polyline`), the unstable one ``n_u`` times forward and the stable one ``n_s``
times backward, intersect every pair of segments, drop the saddle (cycle points) itself and keep
crossings whose angle has ``|sin| > 1e-8``.

**Certification by itinerary**, not by long orbits (a computed orbit on ``W^s`` leaves ``p`` again
after some 20 steps because rounding errors grow along the unstable direction): a found point ``q``
is certified when within ``n_s`` forward steps it lands within ``tol = 1e-8`` of the maximal local
stable chord (the part of the stable eigen-line whose forward orbit keeps the saddle's itinerary,
hence converges) and within ``n_u`` backward steps (inverse step) within ``tol`` of the maximal local
unstable chord.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .inverse import InverseStep
from .local import chord, local_space
from .models import PiecewiseAffineMap
from .polyline import PolylineManifold, exact_manifold, point_segment_distance, segment_intersections
from .scyfi import Cycle

__all__ = ["HomoclinicPoints", "homoclinic_points", "certify", "local_chords"]


@dataclass
class HomoclinicPoints:
    """``points (q, 2)`` distinct transverse intersections, ``sines (q,)`` of the crossing angles,
    ``certified (q,)``, ``steps_forward (q,)`` / ``steps_backward (q,)`` to reach the local stable /
    unstable chord (-1 if not within the limit), and the two manifolds."""

    points: np.ndarray
    sines: np.ndarray
    certified: np.ndarray
    steps_forward: np.ndarray
    steps_backward: np.ndarray
    unstable: PolylineManifold
    stable: PolylineManifold


def local_chords(model: PiecewiseAffineMap, cycle: Cycle, kind: str, bound: float = 1e3) -> np.ndarray:
    """The maximal exact local chords (:func:`plrnn.local.chord`, uncapped) at every cycle point as
    segments ``(k, 2, M)``: the parts of the eigen-lines whose orbits keep the itinerary for ever
    (stable: forward; unstable: backward). An unbounded chord is cut at ``|a| <= bound``."""
    segs = []
    for j in range(cycle.period):
        sp = local_space(model, cycle, j, kind)
        lo, hi = chord(model, sp, bound)
        segs.append([sp.point + lo * sp.basis[:, 0], sp.point + hi * sp.basis[:, 0]])
    return np.array(segs)


def certify(model: PiecewiseAffineMap, cycle: Cycle, q: np.ndarray, n_forward: int, n_backward: int,
            tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Steps after which the forward orbit of each ``q (n, 2)`` is within ``tol`` of a maximal local
    stable chord (:func:`local_chords`) and the backward orbit within ``tol`` of a local unstable
    chord; -1 where not reached within ``n_forward`` / ``n_backward`` steps."""
    s_loc, u_loc = local_chords(model, cycle, "stable"), local_chords(model, cycle, "unstable")
    fwd = np.full(q.shape[0], -1)
    bwd = np.full(q.shape[0], -1)
    cur = q.copy()
    for m in range(n_forward + 1):
        hit = (fwd < 0) & (point_segment_distance(cur, s_loc) <= tol)
        fwd[hit] = m
        cur = model.step(cur)
    inv = InverseStep(model)
    cur = q.copy()
    for m in range(n_backward + 1):
        ok = np.all(np.isfinite(cur), axis=1)
        dist = np.full(q.shape[0], np.inf)
        dist[ok] = point_segment_distance(cur[ok], u_loc)
        hit = (bwd < 0) & (dist <= tol)
        bwd[hit] = m
        cur = inv(np.where(ok[:, None], cur, 0.0)).x
        cur[~ok] = np.nan
    return fwd, bwd


def homoclinic_points(model: PiecewiseAffineMap, cycle: Cycle, n_u: int, n_s: int, *, j: int = 0,
                      half_length: float = np.inf, box: Any = 50.0, transverse: float = 1e-8,
                      tol: float = 1e-8) -> HomoclinicPoints:
    """Transverse homoclinic points of the 2-D saddle ``cycle`` after ``n_u`` forward images of the
    unstable and ``n_s`` backward images of the stable local chord (module docstring)."""
    if model.M != 2:
        raise ValueError(f"homoclinic_points intersects polylines in the plane; this model has M = {model.M}")
    wu = exact_manifold(model, cycle, j, "unstable", depth=n_u, half_length=half_length, box=box)
    ws = exact_manifold(model, cycle, j, "stable", depth=n_s, half_length=half_length, box=box)
    pts, _, _, sines = segment_intersections(wu.segments, ws.segments, transverse=transverse)
    if pts.shape[0]:
        far = np.sqrt(((pts[:, None, :] - cycle.points[None]) ** 2).sum(-1)).min(axis=1) > 1e-9
        pts, sines = pts[far], sines[far]
    # distinct points (a crossing at a shared vertex is found twice)
    keep: list[int] = []
    for i in np.lexsort((pts[:, 1], pts[:, 0])) if pts.shape[0] else []:
        if not any(np.max(np.abs(pts[i] - pts[k])) <= 1e-9 for k in keep[-8:]):
            keep.append(int(i))
    pts, sines = pts[keep], sines[keep]
    fwd, bwd = certify(model, cycle, pts, n_s, n_u, tol) if pts.shape[0] else (np.zeros(0, int), np.zeros(0, int))
    return HomoclinicPoints(points=pts, sines=sines, certified=(fwd >= 0) & (bwd >= 0), steps_forward=fwd,
                            steps_backward=bwd, unstable=wu, stable=ws)
