"""Fixed points and k-cycles of a piecewise-affine map: SCYFI and an exhaustive enumeration.

A k-cycle ``p_0, ..., p_{k-1}`` (``p_{j+1} = F(p_j)``, ``p_k = p_0``) visits a region sequence
``(d_0, ..., d_{k-1})``. Given the sequence, the cycle is the solution of the **cycle equation**
(the paper's Sec. 2 / SCYFI, Eisenmann et al. 2023)

    (I - J_{k-1} ... J_1 J_0) p_0 = sum_j J_{k-1} ... J_{j+1} c_j,      (J_j, c_j) = affine piece of d_j,

which is *valid* when the orbit of ``p_0`` really visits ``d_0, ..., d_{k-1}``.

* :func:`exhaustive_cycles` solves the equation for **every** region sequence up to rotation
  (necklaces over the switching units' regions; ``2**k`` sequences for the paper's 2-D maps) and
  keeps the valid ones: the ground truth whenever it is affordable.
* :func:`scyfi` is the paper's heuristic (SCYFI): random sequences, each re-solved with the
  sequence its candidate actually visits ("virtual cycles"), with the authors' default loop
  counts (:func:`scyfi_defaults`).
* :func:`cycles` picks the exhaustive search when it is cheap and SCYFI otherwise.

Cycles are returned as :class:`Cycle` objects, deduplicated up to cyclic shift (absolute/relative
tolerance 1e-8, where SCYFI rounds to 2 decimals) and of **minimal** period ``k`` (a solution whose
points repeat is a cycle of lower period and is dropped). Each starts at the rotation whose region
sequence is smallest (so 3B1's 3-cycle reads L, L, R).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reprokit.checks import check_choice, check_positive_int

from .models import PiecewiseAffineMap, check_states

__all__ = ["Cycle", "classify", "cycle_through", "cycles", "exhaustive_cycles", "scyfi", "scyfi_defaults",
           "solve_sequences", "ScyfiResult"]

_TOL = 1e-8  # deduplication / minimal-period tolerance (relative to 1 + |p|)
_BORDER = 1e-10  # a unit this close to its border may be counted on either side


def _check_model(model: Any) -> PiecewiseAffineMap:
    if not isinstance(model, PiecewiseAffineMap):
        raise TypeError("model must be a plrnn model (PLRNN, ALRNN, ShallowPLRNN or PiecewiseAffineMap); "
                        f"received {type(model).__name__}")
    return model


def classify(eigenvalues: np.ndarray, tol: float = 1e-10) -> str:
    """``"stable"`` (all ``|lambda| < 1``), ``"repeller"`` (all ``> 1``), ``"saddle"`` (both), or
    ``"non-hyperbolic"`` (some ``|lambda|`` within ``tol`` of 1)."""
    mod = np.abs(np.asarray(eigenvalues))
    if np.any(np.abs(mod - 1.0) <= tol):
        return "non-hyperbolic"
    if np.all(mod < 1):
        return "stable"
    if np.all(mod > 1):
        return "repeller"
    return "saddle"


@dataclass(eq=False)
class Cycle:
    """A k-cycle of a piecewise-affine map.

    ``points (k, M)``: the cycle, ``points[j+1] = F(points[j])``; ``codes (k,)``: region ids
    (:meth:`~plrnn.models.PiecewiseAffineMap.region_id`) of the points, as solved;
    ``jacobian (M, M)``: the k-step Jacobian ``J_{k-1} ... J_0`` at ``points[0]``;
    ``eigenvalues (M,)``: its eigenvalues (the multipliers, shared by every point's k-step
    Jacobian), largest modulus first (real dtype when all are real); ``eigenvectors (M, M)``:
    matching columns; ``stability``: see :func:`classify`.
    """

    points: np.ndarray
    codes: np.ndarray
    jacobian: np.ndarray
    eigenvalues: np.ndarray
    eigenvectors: np.ndarray
    stability: str
    method: str = "exhaustive"
    found_after: int | None = None  # SCYFI: linear solves done when this cycle was found
    meta: dict = field(default_factory=dict)

    @property
    def period(self) -> int:
        return int(self.points.shape[0])

    @property
    def n_unstable(self) -> int:
        """Number of multipliers with ``|lambda| > 1`` (the unstable manifold's dimension)."""
        return int(np.sum(np.abs(self.eigenvalues) > 1))

    @property
    def is_saddle(self) -> bool:
        return self.stability == "saddle"

    def point_jacobian(self, model: PiecewiseAffineMap, j: int) -> np.ndarray:
        """The k-step Jacobian ``J^{(j)} = J_{d_{j+k-1}} ... J_{d_{j+1}} J_{d_j}`` at ``points[j]``."""
        Js, _ = model.affine_of_code(self.codes)
        k = self.period
        out = np.eye(model.M)
        for i in range(k):
            out = Js[(j + i) % k] @ out
        return out

    def index_of(self, point: np.ndarray, tol: float = 1e-6) -> int | None:
        """Index of the cycle point within ``tol (1 + |p|)`` of ``point``, or None."""
        d = np.linalg.norm(self.points - point, axis=1)
        j = int(np.argmin(d))
        return j if d[j] <= tol * (1 + np.linalg.norm(point)) else None

    def __repr__(self) -> str:
        ev = ", ".join(f"{v:.6g}" for v in self.eigenvalues)
        return f"Cycle(period={self.period}, {self.stability}, p0={np.round(self.points[0], 8)}, eigenvalues=[{ev}])"


# ---- the cycle equation ------------------------------------------------------------------------
def solve_sequences(model: PiecewiseAffineMap, patterns: np.ndarray, singular_tol: float = 1e-12,
                    pieces: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve the cycle equation for region sequences ``patterns (N, k, n_units)``.

    Returns ``points (N, k, M)`` (the candidate orbit through the assumed pieces,
    ``p_{j+1} = J_j p_j + c_j``), ``product (N, M, M)`` (``J_{k-1} ... J_0``) and ``ok (N,)``
    (False where ``I - product`` is singular: ``|det| < singular_tol`` times the product of its row
    norms). ``pieces = (J (N, k, M, M), c (N, k, M))`` may be given instead of computing them from the patterns.
    """
    patterns = np.asarray(patterns, dtype=bool)
    N, k, _ = patterns.shape
    M = model.M
    Js, cs = model.affine(patterns) if pieces is None else pieces  # (N, k, M, M), (N, k, M)
    prod = np.broadcast_to(np.eye(M), (N, M, M)).copy()
    q = np.zeros((N, M))
    for j in range(k):
        prod = Js[:, j] @ prod
        q = np.einsum("nij,nj->ni", Js[:, j], q) + cs[:, j]
    lhs = np.eye(M) - prod
    # singular when |det| is negligible against Hadamard's bound (the product of the row norms)
    ok = np.abs(np.linalg.det(lhs)) > singular_tol * np.prod(np.maximum(np.linalg.norm(lhs, axis=2), 1e-300), axis=1)
    pts = np.full((N, k, M), np.nan)
    if np.any(ok):
        p0 = np.linalg.solve(lhs[ok], q[ok][..., None])[..., 0]
        orbit = np.empty((p0.shape[0], k, M))
        orbit[:, 0] = p0
        for j in range(k - 1):
            orbit[:, j + 1] = np.einsum("nij,nj->ni", Js[ok, j], orbit[:, j]) + cs[ok, j]
        pts[ok] = orbit
    return pts, prod, ok


def _consistent(model: PiecewiseAffineMap, pts: np.ndarray, patterns: np.ndarray) -> np.ndarray:
    """True where every point of the candidate orbit lies in its assumed region (switching units;
    a unit within ``_BORDER (1 + |p|)`` of its border counts for either side)."""
    units = model.switching_units
    pre = pts @ model.G[units].T + model.g[units]  # (N, k, s)
    scale = _BORDER * (1 + np.abs(pts).max(axis=-1, keepdims=True))
    want = patterns[..., units]
    ok = np.where(want, pre >= -scale, pre <= scale)
    return np.all(ok, axis=(1, 2)) & np.all(np.isfinite(pts), axis=(1, 2))


def _minimal(points: np.ndarray, tol: float = _TOL) -> bool:
    k = points.shape[0]
    if k == 1:
        return True
    d = np.linalg.norm(points[1:] - points[0], axis=1)
    return bool(np.all(d > tol * (1 + np.linalg.norm(points[0]))))


def _make_cycle(model: PiecewiseAffineMap, points: np.ndarray, codes: np.ndarray, method: str,
                found_after: int | None = None) -> Cycle:
    """Rotate to the canonical start (smallest code sequence, then smallest point) and compute
    the multipliers."""
    k = points.shape[0]
    rots = [tuple(np.roll(codes, -r)) for r in range(k)]
    best = min(range(k), key=lambda r: (rots[r], tuple(np.round(points[r], 12))))
    points, codes = np.roll(points, -best, axis=0), np.roll(codes, -best)
    Js, _ = model.affine_of_code(codes)
    jac = np.eye(model.M)
    for j in range(k):
        jac = Js[j] @ jac
    vals, vecs = np.linalg.eig(jac)
    order = np.lexsort((-np.real(vals), -np.abs(vals)))
    vals, vecs = vals[order], vecs[:, order]
    return Cycle(points=points.copy(), codes=codes.copy(), jacobian=jac, eigenvalues=vals, eigenvectors=vecs,
                 stability=classify(vals), method=method, found_after=found_after)


def _same_cycle(a: np.ndarray, b: np.ndarray, tol: float = _TOL) -> bool:
    """Equal up to cyclic shift (both ``(k, M)``)."""
    if a.shape != b.shape:
        return False
    scale = tol * (1 + np.abs(a).max())
    for r in range(a.shape[0]):
        if np.max(np.abs(np.roll(b, -r, axis=0) - a)) <= scale:
            return True
    return False


def _add_unique(found: list[Cycle], cyc: Cycle) -> bool:
    if any(_same_cycle(c.points, cyc.points) for c in found):
        return False
    found.append(cyc)
    return True


# ---- exhaustive enumeration --------------------------------------------------------------------
def _necklaces(R: int, k: int) -> np.ndarray:
    """Codes ``0..R^k-1`` (base-R digit strings of length k) that are the smallest of their
    rotations; returns digits ``(N, k)``."""
    total = R ** k
    x = np.arange(total, dtype=np.int64)
    best = x.copy()
    top = R ** (k - 1)
    y = x.copy()
    for _ in range(k - 1):
        y = y // R + (y % R) * top
        np.minimum(best, y, out=best)
    keep = x[best == x]
    digits = np.empty((keep.size, k), dtype=np.int64)
    for j in range(k):  # most significant digit first
        digits[:, j] = (keep // R ** (k - 1 - j)) % R
    return digits


def n_sequences(model: PiecewiseAffineMap, k: int) -> int:
    """Number of region sequences of length k over the switching units (before rotation)."""
    return int(model.n_regions) ** int(k)


def exhaustive_cycles(model: PiecewiseAffineMap, k: int, *, chunk: int = 1 << 15, max_sequences: int = 1 << 22
                      ) -> list[Cycle]:
    """Every cycle of minimal period ``k``: the cycle equation solved for every region sequence
    up to rotation (``R^k / k`` sequences, ``R = 2**(switching units)``), valid solutions kept.
    Cycles whose ``I - J`` product is singular (non-hyperbolic continua) are not returned; their
    number is in ``exhaustive_cycles.last_singular``."""
    model = _check_model(model)
    k = check_positive_int("k (the period)", k)
    R = model.n_regions
    if R ** k > max_sequences:
        raise ValueError(f"the exhaustive search needs {R}^{k} = {R ** k} region sequences, more than "
                         f"max_sequences = {max_sequences}; use method='scyfi' or raise max_sequences")
    digits = _necklaces(R, k)
    found: list[Cycle] = []
    singular = 0
    Jtab, ctab = model.affine_of_code(np.arange(R))  # every region's piece, once
    for start in range(0, digits.shape[0], chunk):
        d = digits[start:start + chunk]
        pats = model.pattern_of_code(d)  # (N, k, n)
        pts, _, ok = solve_sequences(model, pats, pieces=(Jtab[d], ctab[d]))
        singular += int(np.sum(~ok))
        good = ok & _consistent(model, pts, pats)
        for i in np.flatnonzero(good):
            if _minimal(pts[i]):
                _add_unique(found, _make_cycle(model, pts[i], d[i], "exhaustive"))
    exhaustive_cycles.last_singular = singular
    return _sorted(found)


exhaustive_cycles.last_singular = 0


def _sorted(found: list[Cycle]) -> list[Cycle]:
    return sorted(found, key=lambda c: (tuple(c.codes), tuple(np.round(c.points[0], 10))))


# ---- SCYFI ---------------------------------------------------------------------------------------
def scyfi_defaults(k: int) -> tuple[int, int]:
    """The authors' default loop counts ``(outer, inner)`` for order ``k`` (tuned on 2-D examples):
    outer 10 (k < 8), 40 (k < 30), 100 otherwise; inner 20 (k < 3), 60 (k < 6), 300 (k < 8),
    1080 (k < 20), 1115 otherwise."""
    outer = 10 if k < 8 else (40 if k < 30 else 100)
    if k < 3:
        inner = 20
    elif k < 6:
        inner = 60
    elif k < 8:
        inner = 300
    elif k < 20:
        inner = 1080
    else:
        inner = 1115
    return outer, inner


@dataclass
class ScyfiResult:
    """What one SCYFI run found and how much it solved: ``cycles``; ``solves`` (linear solves done);
    ``found_after`` (solves done when each cycle was found)."""

    cycles: list[Cycle]
    solves: int
    singular: int


def _pattern_pool(model: PiecewiseAffineMap, rng: np.random.Generator, n_points: int, box: float,
                  chunk: int = 100_000) -> np.ndarray:
    """Realisable patterns: those met at ``n_points`` uniform points of ``[-box, box]^M``."""
    seen = set()
    pools = []
    left = n_points
    while left > 0:
        m = min(chunk, left)
        left -= m
        pats = model.pattern(rng.uniform(-box, box, size=(m, model.M)))
        u = np.unique(np.packbits(pats, axis=-1), axis=0)
        for row in u:
            key = row.tobytes()
            if key not in seen:
                seen.add(key)
                pools.append(row)
    packed = np.array(pools)
    return np.unpackbits(packed, axis=-1)[:, :model.n_units].astype(bool)


def scyfi(model: PiecewiseAffineMap, k: int, *, outer: int | None = None, inner: int | None = None,
          seed: int = 0, exclude: list[Cycle] | tuple = (), pool_points: int | None = None,
          pool_box: float = 10.0) -> ScyfiResult:
    """SCYFI (the authors' heuristic; the paper's Sec. 2) for cycles of minimal period ``k``.

    Outer loop (counter ``i`` up to ``outer``): draw a random region sequence of ``k`` patterns
    (uniform over all ``2**n_units`` patterns; for a :class:`~plrnn.models.ShallowPLRNN` uniform over
    the patterns realised at ``pool_points`` uniform points of ``[-pool_box, pool_box]^M``, the
    authors' 10**7 by default). Inner loop (counter ``c`` up to ``inner``): solve the cycle
    equation (singular: draw a new sequence); simulate ``k`` steps with the true map and read the
    visited patterns. If they equal the assumed ones and the point is new (not within 1e-8 of a
    cycle in ``exclude`` or already found, and of minimal period), store it and reset both counters
    to 0. If they equal the assumed ones, draw a new sequence; otherwise re-solve with the visited
    sequence. ``outer``/``inner`` default to :func:`scyfi_defaults`.
    """
    from .models import ShallowPLRNN

    model = _check_model(model)
    k = check_positive_int("k (the period)", k)
    d_outer, d_inner = scyfi_defaults(k)
    outer = d_outer if outer is None else check_positive_int("outer", outer)
    inner = d_inner if inner is None else check_positive_int("inner", inner)
    rng = np.random.default_rng(seed)
    n = model.n_units
    if isinstance(model, ShallowPLRNN):
        pool = _pattern_pool(model, rng, 10 ** 7 if pool_points is None else pool_points, pool_box)
        draw = lambda: pool[rng.integers(pool.shape[0], size=k)]  # noqa: E731
    else:
        draw = lambda: rng.random((k, n)) < 0.5  # noqa: E731
    excluded = [c.points for c in exclude]
    found: list[Cycle] = []
    solves = singular = 0
    M, eye = model.M, np.eye(model.M)
    L, U, G, g, b = model.L, model.U, model.G, model.g, model.b
    pieces: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}  # pattern -> (J, c), computed once

    def piece(row: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = row.tobytes()
        if key not in pieces:
            pieces[key] = model.affine(row)
        return pieces[key]

    i = 0
    while i < outer:
        i += 1
        seq = draw()
        c = 0
        while c < inner:
            c += 1
            solves += 1
            prod, q = eye, np.zeros(M)
            for row in seq:  # J_{k-1} ... J_0 and the accumulated offset
                J, cj = piece(row)
                prod, q = J @ prod, J @ q + cj
            try:
                z = np.linalg.solve(eye - prod, q)
            except np.linalg.LinAlgError:
                z = None
            if z is None or not np.all(np.isfinite(z)):
                singular += 1
                seq = draw()
                continue
            traj = np.empty((k, M))
            traj[0] = z
            for j in range(k - 1):  # the true map, not the assumed pieces
                traj[j + 1] = L @ traj[j] + U @ np.maximum(G @ traj[j] + g, 0.0) + b
            visited = traj @ G.T + g > 0
            if np.array_equal(visited, seq):
                new = _minimal(traj) and not any(
                    any(np.max(np.abs(e - z), axis=-1) <= _TOL * (1 + np.abs(z).max())) for e in excluded)
                if new:
                    cyc = _make_cycle(model, traj, model.code(seq), "scyfi", found_after=solves)
                    if _add_unique(found, cyc):
                        i = 0
                        c = 0
                seq = draw()
            else:
                seq = visited
    return ScyfiResult(cycles=_sorted(found), solves=solves, singular=singular)


# ---- the public entry point -------------------------------------------------------------------------
def cycles(model: PiecewiseAffineMap, k: int, method: str = "auto", *, seed: int = 0,
           max_sequences: int = 1 << 20, **scyfi_kwargs: Any) -> list[Cycle]:
    """Every cycle of minimal period ``k`` (a list of :class:`Cycle`).

    ``method``: ``"exhaustive"`` (:func:`exhaustive_cycles`: all region sequences, complete),
    ``"scyfi"`` (:func:`scyfi`: the paper's heuristic, may miss cycles) or ``"auto"`` (exhaustive
    when ``R**k <= max_sequences``, ``R`` the number of regions of the switching units -- always for
    the paper's 2-D maps with ``k <= 8``, where ``R = 2`` -- otherwise SCYFI with ``seed``).
    """
    model = _check_model(model)
    k = check_positive_int("k (the period)", k)
    check_choice("method", method, ("auto", "exhaustive", "scyfi"))
    if method == "exhaustive" or (method == "auto" and n_sequences(model, k) <= max_sequences):
        return exhaustive_cycles(model, k, max_sequences=max(max_sequences, 1 << 22))
    return scyfi(model, k, seed=seed, **scyfi_kwargs).cycles


def cycle_through(model: PiecewiseAffineMap, point: Any, *, max_period: int = 64, tol: float = 1e-6) -> Cycle:
    """The cycle through ``point (M,)``: its orbit returns within ``tol (1 + |p|)`` after ``k <=
    max_period`` steps; the cycle equation is then re-solved exactly for the visited region sequence.
    Raises ValueError if ``point`` is not (within ``tol``) a point of a cycle."""
    model = _check_model(model)
    p = check_states(point, model.M, "point")
    if p.shape != (model.M,):
        raise ValueError(f"point must have shape ({model.M},); received shape {p.shape}")
    traj = model.iterate(p, max_period)
    dist = np.linalg.norm(traj[1:] - p, axis=1)
    hits = np.flatnonzero(dist <= tol * (1 + np.linalg.norm(p)))
    if hits.size == 0:
        raise ValueError(f"point {p} is not a point of a cycle of period <= {max_period} (its orbit does not return "
                         f"within {tol:g}; closest return {dist.min():.3g}); pass a cycle point, e.g. "
                         "plrnn.cycles(model, k)[i].points[j]")
    k = int(hits[0]) + 1
    pats = model.pattern(traj[:k])
    pts, _, ok = solve_sequences(model, pats[None])
    if not ok[0] or not _consistent(model, pts, pats[None])[0]:
        raise ValueError(f"point {p} returns after {k} steps but its region sequence has no exact cycle "
                         "(a non-hyperbolic or border case)")
    cyc = _make_cycle(model, pts[0], model.code(pats), "orbit")
    return cyc
