"""Exact 1-D manifolds of piecewise-affine maps as polylines.

On each region the map is affine, so the image of a straight segment that stays in one region is
a straight segment, and so is its preimage under an invertible map. A 1-D stable or unstable
manifold is therefore an exact polyline, computed by:

* **forward images** (:func:`forward_image`): split every segment where it crosses a border
  hyperplane ``G_u z + g_u = 0`` of a switching unit, then map the endpoints;
* **backward images** (:func:`backward_image`): along a target segment ``y(t) = a + t (b - a)`` the
  preimage in region ``d`` is ``x_d(t) = J_d^{-1}(y(t) - c_d)``, affine in ``t``; follow it until
  it leaves ``d`` through a border, continue in the neighbouring region (for a coherently oriented,
  hence invertible, map the preimage path crosses into exactly that region);
* **clipping segments, not vertices** (:func:`clip_segments`, Liang-Barsky) to a bounding box: a
  segment whose endpoints both lie outside may still cross the box.

:func:`exact_manifold` starts from the exact local chord (:func:`plrnn.local.chord`) and
propagates its *fundamental domain* ``C minus lambda C`` (stable) or ``C minus C / lambda``
(unstable): every point of the manifold other than the chord lies on exactly one image of it, so
the levels do not repeat each other. Segments are arrays ``(n, 2, M)``. Works in any dimension
for 1-D manifolds; the public :func:`plrnn.manifold` offers it for 2-D maps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .inverse import InverseStep
from .local import LocalSpace, chord, local_space
from .models import PiecewiseAffineMap
from .scyfi import Cycle

__all__ = ["PolylineManifold", "split_at_borders", "forward_image", "backward_image", "clip_segments",
           "exact_manifold", "point_segment_distance", "segment_intersections", "sample_segments"]


def split_at_borders(model: PiecewiseAffineMap, seg: np.ndarray, eps: float = 1e-13, *, return_source: bool = False
                     ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Split segments ``(n, 2, M)`` where they cross a switching unit's border hyperplane (each
    crossing strictly inside the segment gives one more piece). Returns ``(n', 2, M)``; with
    ``return_source=True`` also the index ``(n',)`` of the input segment each piece comes from."""
    src = np.arange(seg.shape[0])
    for u in model.switching_units:
        Gu, gu = model.G[u], model.g[u]
        sa, sb = seg[:, 0] @ Gu + gu, seg[:, 1] @ Gu + gu
        denom = sa - sb
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(denom != 0, sa / denom, -1.0)
        cross = (sa * sb < 0) & (t > eps) & (t < 1 - eps)
        if not np.any(cross):
            continue
        c = seg[cross]
        mid = c[:, 0] + t[cross, None] * (c[:, 1] - c[:, 0])
        mid = mid - np.outer(mid @ Gu + gu, Gu) / (Gu @ Gu)  # onto the border exactly (to rounding)
        first = np.stack([c[:, 0], mid], 1)
        second = np.stack([mid, c[:, 1]], 1)
        seg = np.concatenate([seg[~cross], first, second])
        src = np.concatenate([src[~cross], src[cross], src[cross]])
    return (seg, src) if return_source else seg


def forward_image(model: PiecewiseAffineMap, seg: np.ndarray) -> np.ndarray:
    """``F`` of a polyline: split at borders, then map both endpoints of each piece (exact: the
    piece lies in one region, where ``F`` is affine). ``(n, 2, M) -> (n', 2, M)``."""
    seg = split_at_borders(model, seg)
    return model.step(seg)


def _start_codes(model: PiecewiseAffineMap, a: np.ndarray, d: np.ndarray, guess: np.ndarray, piece, tol: float
                 ) -> np.ndarray:
    """For targets ``y(t) = a + t d``: the region whose preimage branch is valid on ``[0, 0+)``,
    among ``guess`` and its neighbours across borders on which ``x_guess(0)`` lies."""
    units = model.switching_units
    Gs, gs = model.G[units], model.g[units]
    out = guess.copy()
    # vectorised test of the guess; only targets whose preimage starts on a border need more
    x0s = np.empty_like(a)
    for code in np.unique(guess):
        Jinv, c = piece(int(code))
        sel = guess == code
        x0s[sel] = (a[sel] - c) @ Jinv.T
    border = np.abs(x0s @ Gs.T + gs) <= tol * (1 + np.abs(x0s).max(axis=1, keepdims=True))
    for i in np.flatnonzero(border.any(axis=1)):
        near = np.flatnonzero(border[i])
        cands = [int(guess[i])]
        for r in range(1, len(near) + 1):
            for combo in _combinations(near, r):
                cands.append(int(guess[i]) ^ int(sum(1 << int(u) for u in combo)))
        for code in cands:
            Jinv, c = piece(code)
            x0, dx = Jinv @ (a[i] - c), Jinv @ d[i]
            alpha, beta = Gs @ x0 + gs, Gs @ dx
            bits = (code >> np.arange(units.size)) & 1
            sgn = np.where(bits == 1, 1.0, -1.0)
            sa, sb = sgn * alpha, sgn * beta
            scale = tol * (1 + np.abs(x0).max())
            if np.all((sa > scale) | ((sa >= -scale) & (sb >= -1e-12 * (1 + np.abs(sb).max())))):
                out[i] = code
                break
    return out


def _combinations(items: np.ndarray, r: int):
    import itertools

    return itertools.combinations(list(items), r)


def backward_image(model: PiecewiseAffineMap, seg: np.ndarray, inverse: InverseStep | None = None,
                   tol: float = 1e-9, max_pieces: int = 64, *, strict: bool = True, return_source: bool = False
                   ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """``F^{-1}`` of a polyline ``(n, 2, M)`` (module docstring); needs an invertible (coherently
    oriented) map. Raises ValueError if a preimage cannot be followed; with ``strict=False`` target
    segments whose start has no preimage are left out instead. ``return_source=True`` also returns
    the index ``(n',)`` of the target segment each preimage piece belongs to."""
    n = seg.shape[0]
    if n == 0:
        return (seg.copy(), np.zeros(0, dtype=np.int64)) if return_source else seg.copy()
    inverse = InverseStep(model) if inverse is None else inverse
    units = model.switching_units
    Gs, gs = model.G[units], model.g[units]
    a, b = seg[:, 0], seg[:, 1]
    d = b - a
    # a first region: the cascade's preimage of a point just inside each segment
    probe = inverse(a + 1e-7 * d)
    rows = np.flatnonzero(probe.ok)  # the target segments followed (all of them when strict)
    if rows.size < n:
        if strict:
            raise ValueError(f"{n - rows.size} of {n} targets have no preimage: the map is not invertible there")
        a, d, n = a[rows], d[rows], rows.size
        probe.code = probe.code[rows]
    inv: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def piece(code: int):
        if code not in inv:
            J, c = model.affine_of_code(np.int64(code))
            if abs(np.linalg.det(J)) < 1e-14:
                raise ValueError(f"region {code} has a singular Jacobian: the map is not invertible")
            inv[code] = (np.linalg.inv(J), c)
        return inv[code]

    code = _start_codes(model, a, d, probe.code.copy(), piece, tol)
    t0 = np.zeros(n)
    out, sources = [], []
    active = np.arange(n)
    for _ in range(max_pieces):
        if active.size == 0:
            break
        x0 = np.empty((active.size, model.M))
        dx = np.empty((active.size, model.M))
        for c_ in np.unique(code[active]):
            Jinv, c = piece(int(c_))
            sel = code[active] == c_
            x0[sel] = (a[active[sel]] - c) @ Jinv.T
            dx[sel] = d[active[sel]] @ Jinv.T
        alpha, beta = x0 @ Gs.T + gs, dx @ Gs.T  # s_u(t) = alpha + beta t
        bits = ((code[active, None] >> np.arange(units.size)) & 1).astype(bool)
        leaving = np.where(bits, beta < 0, beta > 0)
        with np.errstate(divide="ignore", invalid="ignore"):
            t_exit = np.where(leaving, -alpha / beta, np.inf)
        t_exit = np.maximum(t_exit, t0[active, None])
        t_end = np.minimum(t_exit.min(axis=1), 1.0)
        xs = x0 + t0[active, None] * dx
        xe = x0 + t_end[:, None] * dx
        keep = t_end > t0[active]
        out.append(np.stack([xs[keep], xe[keep]], 1))
        sources.append(active[keep])
        more = t_end < 1.0
        flip = (t_exit <= t_end[:, None] + 1e-12) & more[:, None]
        mask = (flip.astype(np.int64) << np.arange(units.size)).sum(1)
        code[active] = code[active] ^ mask
        for c_ in np.unique(code[active][more]):
            piece(int(c_))
        t0[active] = t_end
        active = active[more]
    else:
        raise ValueError("a preimage crossed more borders than max_pieces allows")
    res = np.concatenate(out) if out else np.zeros((0, 2, model.M))
    if return_source:
        return res, (rows[np.concatenate(sources)] if sources else np.zeros(0, dtype=np.int64))
    return res


def clip_segments(seg: np.ndarray, lo: Any, hi: Any, min_length: float = 0.0) -> np.ndarray:
    """Liang-Barsky clipping of segments ``(n, 2, M)`` to the box ``[lo, hi]`` (``(M,)`` or
    scalars): keeps the part of each segment inside the box (also when both endpoints are outside)."""
    if seg.shape[0] == 0:
        return seg
    M = seg.shape[2]
    lo = np.broadcast_to(np.asarray(lo, dtype=np.float64), (M,))
    hi = np.broadcast_to(np.asarray(hi, dtype=np.float64), (M,))
    a, d = seg[:, 0], seg[:, 1] - seg[:, 0]
    t0, t1 = np.zeros(seg.shape[0]), np.ones(seg.shape[0])
    inside = np.ones(seg.shape[0], dtype=bool)
    for m in range(M):
        dm = d[:, m]
        flat = dm == 0
        inside &= ~flat | ((a[:, m] >= lo[m]) & (a[:, m] <= hi[m]))
        with np.errstate(divide="ignore", invalid="ignore"):
            ta, tb = (lo[m] - a[:, m]) / dm, (hi[m] - a[:, m]) / dm
        enter = np.where(flat, -np.inf, np.minimum(ta, tb))
        leave = np.where(flat, np.inf, np.maximum(ta, tb))
        t0, t1 = np.maximum(t0, enter), np.minimum(t1, leave)
    keep = inside & (t1 > t0)
    a, d, t0, t1 = a[keep], d[keep], t0[keep], t1[keep]
    out = np.stack([a + t0[:, None] * d, a + t1[:, None] * d], 1)
    if min_length > 0:
        out = out[np.linalg.norm(out[:, 1] - out[:, 0], axis=1) > min_length]
    return out


def point_segment_distance(x: np.ndarray, seg: np.ndarray, chunk: int = 2_000_000) -> np.ndarray:
    """Distance from each point ``x (n, M)`` to the nearest of the segments ``(m, 2, M)``."""
    x = np.asarray(x, dtype=np.float64)
    if seg.shape[0] == 0:
        return np.full(x.shape[0], np.inf)
    a, d = seg[:, 0], seg[:, 1] - seg[:, 0]
    dd = np.einsum("ij,ij->i", d, d)
    dd = np.where(dd > 0, dd, 1.0)
    out = np.empty(x.shape[0])
    step = max(1, chunk // max(1, seg.shape[0]))
    for s in range(0, x.shape[0], step):
        xs = x[s:s + step]
        rel = xs[:, None, :] - a[None]  # (b, m, M)
        t = np.clip(np.einsum("bmk,mk->bm", rel, d) / dd, 0.0, 1.0)
        diff = rel - t[..., None] * d[None]
        out[s:s + step] = np.sqrt(np.einsum("bmk,bmk->bm", diff, diff).min(axis=1))
    return out


def sample_segments(seg: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points uniformly by arc length on the segments ``(m, 2, M)``."""
    length = np.linalg.norm(seg[:, 1] - seg[:, 0], axis=1)
    if seg.shape[0] == 0 or length.sum() <= 0:
        raise ValueError("no segment of positive length to sample from (is the window empty?)")
    which = rng.choice(seg.shape[0], size=n, p=length / length.sum())
    t = rng.random(n)[:, None]
    return seg[which, 0] + t * (seg[which, 1] - seg[which, 0])


@dataclass(eq=False)
class PolylineManifold:
    """An exact 1-D manifold: ``segments (n, 2, M)`` with ``levels (n,)`` (0: the local chord and,
    for a k-cycle, its images at the other cycle points; ``m >= 1``: ``F^{-m sigma}`` of the
    fundamental domain). ``chord``: the local interval along ``space.basis[:, 0]``; ``box``: the
    clipping box ``(lo, hi)``; ``depth``: number of single map steps propagated."""

    model: PiecewiseAffineMap
    space: LocalSpace
    segments: np.ndarray
    levels: np.ndarray
    chord: tuple[float, float]
    box: tuple[np.ndarray, np.ndarray]
    depth: int
    method: str = "exact"
    stats: dict = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.space.kind

    @property
    def cycle(self) -> Cycle:
        return self.space.cycle

    @property
    def dim(self) -> int:
        return 1

    def upto(self, depth: int) -> np.ndarray:
        """Segments of levels ``<= depth``."""
        return self.segments[self.levels <= depth]

    def window(self, lo: Any, hi: Any, depth: int | None = None) -> np.ndarray:
        """Segments (of levels ``<= depth``) clipped to the box ``[lo, hi]``."""
        seg = self.segments if depth is None else self.upto(depth)
        return clip_segments(seg, lo, hi)

    def length(self) -> float:
        return float(np.linalg.norm(self.segments[:, 1] - self.segments[:, 0], axis=1).sum())

    def sample(self, n: int, seed: int = 0, within: tuple[Any, Any] | None = None) -> np.ndarray:
        """``n`` points uniformly by arc length over the manifold (or its part in the box
        ``within = (lo, hi)``), ``(n, M)``."""
        seg = self.segments if within is None else clip_segments(self.segments, *within)
        return sample_segments(seg, int(n), np.random.default_rng(seed))

    def distance(self, x: Any, within: tuple[Any, Any] | None = None) -> np.ndarray:
        """Distance from points ``x (n, M)`` to the polyline (exact point-to-segment distance)."""
        seg = self.segments if within is None else clip_segments(self.segments, *within)
        return point_segment_distance(np.asarray(x, dtype=np.float64), seg)


def exact_manifold(model: PiecewiseAffineMap, cycle: Cycle, j: int, kind: str, *, depth: int = 40,
                   box: tuple[Any, Any] | float = 50.0, half_length: float = np.inf,
                   max_segments: int = 2_000_000) -> PolylineManifold:
    """The exact 1-D stable or unstable manifold of the saddle ``cycle`` through its point ``j``
    (module docstring), propagated ``depth`` single map steps and clipped to ``box`` (a half-width
    about the origin, or ``(lo, hi)``). For a k-cycle the result is the manifold of the whole orbit."""
    space = local_space(model, cycle, j, kind)
    if space.dim != 1:
        raise ValueError(f"the exact polyline construction needs a 1-D {kind} manifold; this one is "
                         f"{space.dim}-dimensional (multipliers {np.round(cycle.eigenvalues, 6)})")
    if np.isscalar(box):
        lo, hi = -float(box) * np.ones(model.M), float(box) * np.ones(model.M)
    else:
        lo, hi = (np.broadcast_to(np.asarray(v, dtype=np.float64), (model.M,)).copy() for v in box)
    c_lo, c_hi = chord(model, space, half_length)
    v, p = space.basis[:, 0], space.point
    with np.errstate(divide="ignore", invalid="ignore"):  # an unbounded chord ends at the box
        ta, tb = (lo - p) / v, (hi - p) / v
    inside = v != 0
    c_lo = max(c_lo, float(np.max(np.minimum(ta, tb)[inside])))
    c_hi = min(c_hi, float(np.min(np.maximum(ta, tb)[inside])))
    if not c_lo <= 0 <= c_hi:
        raise ValueError(f"the cycle point {p} lies outside the box [{lo}, {hi}]")
    lam = float(np.real(space.eigenvalues[0]))
    mu = lam if kind == "stable" else 1.0 / lam  # C contains mu C
    inner = sorted((mu * c_lo, mu * c_hi))
    pieces = [(c_lo, inner[0]), (inner[1], c_hi)]
    dom = np.array([[p + s * v, p + e * v] for s, e in pieces if e - s > 0])
    loc = np.array([[p + c_lo * v, p + c_hi * v]])
    inverse = InverseStep(model) if kind == "stable" else None
    step = (lambda s: forward_image(model, s)) if kind == "unstable" else (lambda s: backward_image(model, s, inverse))
    k = cycle.period
    segs, levels = [loc], [np.zeros(1, dtype=np.int64)]
    cur = loc
    for _ in range(k - 1):  # the local chords of the other cycle points
        cur = step(cur)
        segs.append(cur)
        levels.append(np.zeros(cur.shape[0], dtype=np.int64))
    cur = dom
    for m in range(1, depth + 1):
        cur = clip_segments(step(cur), lo, hi, min_length=0.0)
        if cur.shape[0] == 0:
            break
        if cur.shape[0] > max_segments:
            raise ValueError(f"level {m} has {cur.shape[0]} segments (> max_segments = {max_segments}); "
                             "lower depth or shrink the box")
        segs.append(cur)
        levels.append(np.full(cur.shape[0], m, dtype=np.int64))
    seg = np.concatenate(segs)
    lev = np.concatenate(levels)
    stats = {"segments": int(seg.shape[0])}
    if inverse is not None:
        stats["inverse_stages"] = inverse.stages()
    return PolylineManifold(model=model, space=space, segments=seg, levels=lev, chord=(c_lo, c_hi), box=(lo, hi),
                            depth=depth, stats=stats)


def segment_intersections(s1: np.ndarray, s2: np.ndarray, *, transverse: float = 1e-8, chunk: int = 4_000_000
                          ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Crossings of 2-D segment sets ``s1 (n, 2, 2)``, ``s2 (m, 2, 2)``: returns points ``(q, 2)``,
    the indices ``(q,)`` into ``s1`` and ``s2``, and ``|sin|`` of the crossing angle ``(q,)``. Only
    crossings with ``|sin| > transverse`` are kept (parallel segments never cross transversally)."""
    if s1.shape[-1] != 2 or s2.shape[-1] != 2:
        raise ValueError("segment_intersections is for 2-D segments (n, 2, 2)")
    a, r = s1[:, 0], s1[:, 1] - s1[:, 0]
    b, s = s2[:, 0], s2[:, 1] - s2[:, 0]
    lr, ls = np.linalg.norm(r, axis=1), np.linalg.norm(s, axis=1)
    # bounding-box prefilter per chunk of s1
    pts, ii, jj, sines = [], [], [], []
    lo1, hi1 = np.minimum(s1[:, 0], s1[:, 1]), np.maximum(s1[:, 0], s1[:, 1])
    lo2, hi2 = np.minimum(s2[:, 0], s2[:, 1]), np.maximum(s2[:, 0], s2[:, 1])
    step = max(1, chunk // max(1, s2.shape[0]))
    for st in range(0, s1.shape[0], step):
        sl = slice(st, st + step)
        over = np.all((lo1[sl, None] <= hi2[None]) & (lo2[None] <= hi1[sl, None]), axis=-1)
        i, j = np.nonzero(over)
        i = i + st
        cross = r[i, 0] * s[j, 1] - r[i, 1] * s[j, 0]
        sin = np.abs(cross) / np.maximum(lr[i] * ls[j], 1e-300)
        ok = sin > transverse
        i, j, cross, sin = i[ok], j[ok], cross[ok], sin[ok]
        qp = b[j] - a[i]
        t = (qp[:, 0] * s[j, 1] - qp[:, 1] * s[j, 0]) / cross
        u = (qp[:, 0] * r[i, 1] - qp[:, 1] * r[i, 0]) / cross
        hit = (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
        pts.append(a[i[hit]] + t[hit, None] * r[i[hit]])
        ii.append(i[hit]), jj.append(j[hit]), sines.append(sin[hit])
    if not pts:
        return np.zeros((0, 2)), np.zeros(0, int), np.zeros(0, int), np.zeros(0)
    return np.concatenate(pts), np.concatenate(ii), np.concatenate(jj), np.concatenate(sines)
