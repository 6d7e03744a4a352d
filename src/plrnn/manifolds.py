"""The paper's manifold construction (Algorithm 1) and the public entry point :func:`manifold`.

Algorithm 1 (paper, Sec. 3; seeding after the authors' implementation notes):

1. at every point ``p_j`` of the saddle cycle, the local eigenspace ``E^sigma`` (:mod:`plrnn.local`)
   and the *local piece* on it: for a 1-D manifold the exact chord (an interval in closed form,
   :func:`plrnn.local.chord`); otherwise seed points ``p_j + E a`` with Gaussian coefficients at
   scales 0.01, 0.1 and 0.5, keeping those inside ``p_j``'s region whose orbit keeps the cycle's
   itinerary (forward for the stable manifold, backward for the unstable one);
2. propagate the seeds one step: with ``F`` for the unstable manifold (``sigma = -1``), with the
   inverse step (Algorithm 2, :class:`plrnn.inverse.InverseStep`) for the stable one
   (``sigma = +1``);
3. group the images by their destination region and fit a piece to each group: PCA with ``d``
   components (origin, orthonormal basis, coordinate box); re-seed ``n_seeds`` points uniformly in
   the piece's coordinate box (plus its corners), keep those inside the region; drop points with
   ``|z|_inf > bound``;
4. repeat for ``n_iter`` iterations.

Two grouping variants (the paper's text does not fix one):

* ``variant="provenance"`` (default): group by (parent piece, destination region). One flat piece is
  mapped by one affine branch, so each group is exactly flat and PCA reproduces it (the residual
  ratio ``s_{d+1} / s_1`` is recorded per piece). For 1-D pieces the point where a parent's image
  crosses a border is computed exactly (one linear equation) and given to both neighbouring pieces,
  so that the pieces meet at the borders.
* ``variant="region"`` (paper-like): group by destination region only. A region that the manifold
  passes through several times (a fold) then holds a non-flat point set: PCA is used when the
  ``(d+1)``-th explained-variance ratio is below ``flat_tol = 1e-6``, otherwise the *fallback*
  ``curved="kpca"`` (scikit-learn ``KernelPCA(kernel="rbf", fit_inverse_transform=True)``) or
  ``curved="cluster"`` (DBSCAN clusters, one PCA piece each: the paper's Algorithm 3 in spirit).

:func:`manifold` is the public entry point: ``method="paper"`` runs Algorithm 1,
``method="exact"`` the exact polyline construction of :mod:`plrnn.polyline` (2-D maps).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reprokit.checks import check_choice, check_positive_int

from .inverse import InverseStep
from .local import KINDS, LocalSpace, chord, local_space
from .models import PiecewiseAffineMap, check_states
from .polyline import PolylineManifold, exact_manifold
from .regions import coherently_oriented, in_region
from .scyfi import Cycle, cycle_through

__all__ = ["PieceManifold", "CurvedPiece", "algorithm1", "local_seeds", "manifold", "resolve_point"]

SCALES = (0.01, 0.1, 0.5)


# ---- local seeds ----------------------------------------------------------------------------------
def _keeps_itinerary(model: PiecewiseAffineMap, cycle: Cycle, j: int, x: np.ndarray) -> np.ndarray:
    """True where the points ``x (n, M)`` follow the cycle's region sequence (from point ``j``) for one period."""
    k = cycle.period
    ok = np.ones(x.shape[0], dtype=bool)
    cur = x
    for i in range(k):
        ok &= in_region(model, cur, np.full(x.shape[0], cycle.codes[(j + i) % k]))
        cur = model.step(cur)
    return ok


def _inscribed(model: PiecewiseAffineMap, cycle: Cycle) -> float:
    """Smallest distance of a cycle point to a border of its region (switching units)."""
    units = model.switching_units
    G, g = model.G[units], model.g[units]
    norms = np.linalg.norm(G, axis=1)
    return float(np.min(np.abs(cycle.points @ G.T + g) / norms))


def local_seeds(model: PiecewiseAffineMap, space: LocalSpace, n: int, rng: np.random.Generator,
                scales: tuple[float, ...] = SCALES) -> np.ndarray:
    """Coefficients ``a (m, d)`` of seed points ``p_j + E a`` on the exact local piece: Gaussian at each
    of ``scales`` (``n`` per scale), kept if the point lies in ``p_j``'s region and its orbit keeps the
    itinerary: ``p_j + E B^i a`` for ``i = 0, 1, ...`` (stable) or ``i = -1, -2, ...`` (unstable) each
    follow the region sequence for one period, until ``|E B^i a|`` is below the cycle's inscribed
    radius (from then on the orbit cannot leave)."""
    d = space.dim
    a = np.concatenate([s * rng.standard_normal((n, d)) for s in scales])
    p, E = space.point, space.basis
    cyc, j = space.cycle, space.j
    keep = in_region(model, p + a @ E.T, np.full(a.shape[0], cyc.codes[j]))
    Bstep = space.B if space.kind == "stable" else np.linalg.inv(space.B)
    radius = _inscribed(model, cyc) / max(1.0, _max_gain(model, cyc))
    cur = a if space.kind == "stable" else a @ Bstep.T
    for _ in range(400):
        live = keep & (np.linalg.norm(cur, axis=1) > radius)
        if not np.any(live):
            break
        keep[live] &= _keeps_itinerary(model, cyc, j, p + cur[live] @ E.T)
        cur = cur @ Bstep.T
    return a[keep]


def _bounded_chord(model: PiecewiseAffineMap, space: LocalSpace, bound: float) -> tuple[float, float]:
    """The 1-D local chord (:func:`plrnn.local.chord`) cut where the line leaves ``|z|_inf <= bound``."""
    lo, hi = chord(model, space, in_region=True)
    v, p = space.basis[:, 0], space.point
    nz = v != 0
    ta, tb = (-bound - p[nz]) / v[nz], (bound - p[nz]) / v[nz]
    return max(lo, float(np.max(np.minimum(ta, tb)))), min(hi, float(np.min(np.maximum(ta, tb))))


def _max_gain(model: PiecewiseAffineMap, cycle: Cycle) -> float:
    """Largest norm of the partial products along one period (how far a small offset can grow)."""
    Js, _ = model.affine_of_code(cycle.codes)
    gain, prod = 1.0, np.eye(model.M)
    for J in Js:
        prod = J @ prod
        gain = max(gain, float(np.linalg.norm(prod, 2)))
    return gain


# ---- pieces ---------------------------------------------------------------------------------------
@dataclass(eq=False)
class CurvedPiece:
    """A piece fitted by kernel PCA (region-only variant): ``kpca`` (the fitted sklearn model),
    ``lo, hi (d,)`` latent box, ``code`` region, ``level``, ``points`` its training points."""

    kpca: Any
    lo: np.ndarray
    hi: np.ndarray
    code: int
    level: int
    points: np.ndarray

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        lat = self.lo + (self.hi - self.lo) * rng.random((n, self.lo.size))
        return self.kpca.inverse_transform(lat)


@dataclass(eq=False)
class PieceManifold:
    """The result of Algorithm 1: flat pieces as arrays over pieces ``P`` (``origins (P, M)``,
    ``bases (P, M, d)``, coordinate boxes ``lo, hi (P, d)``, region ids ``codes``, ``levels``
    (iteration that made the piece, 0 = local), ``parents`` (-1 for local pieces), PCA
    ``residuals`` ``s_{d+1}/s_1``) and ``curved`` pieces (kernel PCA). ``stats``: pieces per
    iteration, regions visited, inverse-step stage counts, seconds."""

    model: PiecewiseAffineMap
    cycle: Cycle
    j: int
    kind: str
    variant: str
    origins: np.ndarray
    bases: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    codes: np.ndarray
    levels: np.ndarray
    parents: np.ndarray
    residuals: np.ndarray
    curved: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)
    method: str = "paper"

    @property
    def dim(self) -> int:
        return int(self.bases.shape[2])

    @property
    def n_pieces(self) -> int:
        return int(self.origins.shape[0]) + len(self.curved)

    def regions(self) -> np.ndarray:
        """Distinct region ids holding a piece."""
        return np.unique(np.concatenate([self.codes, np.array([c.code for c in self.curved], dtype=np.int64)]))

    def sample(self, n: int, seed: int = 0, within: tuple[Any, Any] | None = None, max_rounds: int = 200) -> np.ndarray:
        """``n`` points spread over the pieces (chosen by extent, uniform in their coordinate box,
        inside their region; optionally only inside the box ``within = (lo, hi)``), ``(n, M)``."""
        n = check_positive_int("n", int(n))
        rng = np.random.default_rng(seed)
        size = np.prod(np.maximum(self.hi - self.lo, 0.0), axis=1)
        out, have = [], 0
        curved_w = np.array([max(len(c.points), 1) for c in self.curved], dtype=float)
        for _ in range(max_rounds):
            m = 4 * (n - have) + 64
            cand = []
            if size.sum() > 0:
                which = rng.choice(size.size, size=m, p=size / size.sum())
                coef = self.lo[which] + (self.hi[which] - self.lo[which]) * rng.random((m, self.dim))
                pts = self.origins[which] + np.einsum("pmd,pd->pm", self.bases[which], coef)
                cand.append(pts[in_region(self.model, pts, self.codes[which], 1e-9)])
            if self.curved:
                for ci in rng.choice(len(self.curved), size=min(m, 8 * len(self.curved)), p=curved_w / curved_w.sum()):
                    c = self.curved[ci]
                    pts = c.draw(8, rng)
                    cand.append(pts[in_region(self.model, pts, np.full(8, c.code), 1e-9)])
            pts = np.concatenate(cand) if cand else np.zeros((0, self.model.M))
            if within is not None:
                lo, hi = within
                pts = pts[np.all((pts >= lo) & (pts <= hi), axis=1)]
            out.append(pts)
            have += pts.shape[0]
            if have >= n:
                break
        pts = np.concatenate(out)
        if pts.shape[0] < n:
            raise ValueError(f"could only draw {pts.shape[0]} of {n} points on the manifold "
                             f"{'inside the window ' + str(within) if within is not None else ''}")
        return pts[rng.permutation(pts.shape[0])[:n]]

    def distance(self, x: Any, chunk: int = 4_000_000) -> np.ndarray:
        """Distance from ``x (n, M)`` to the nearest flat piece (exact distance to the coordinate box in
        the piece's plane; the region restriction is ignored) or curved piece (nearest training point)."""
        x = check_states(x, self.model.M, "x")
        best = np.full(x.shape[0], np.inf)
        P = self.origins.shape[0]
        if P:
            step = max(1, chunk // max(1, P * self.model.M))
            for s in range(0, x.shape[0], step):
                rel = x[s:s + step, None, :] - self.origins[None]  # (b, P, M)
                c = np.einsum("bpm,pmd->bpd", rel, self.bases)
                cc = np.clip(c, self.lo[None], self.hi[None])
                diff = rel - np.einsum("pmd,bpd->bpm", self.bases, cc)
                best[s:s + step] = np.sqrt(np.einsum("bpm,bpm->bp", diff, diff).min(axis=1))
        for cp in self.curved:
            dd = np.sqrt(((x[:, None, :] - cp.points[None]) ** 2).sum(-1)).min(axis=1)
            best = np.minimum(best, dd)
        return best


# ---- Algorithm 1 ------------------------------------------------------------------------------------
def _fit_groups(Y: np.ndarray, key: np.ndarray, d: int) -> dict[str, np.ndarray]:
    """PCA per group (vectorised): origin = mean, basis = top-d principal directions, coordinate box,
    residual ``sqrt(lambda_{d+1} / lambda_1)``, ``(d+1)``-th explained-variance ratio."""
    uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
    G, M = uniq.size, Y.shape[1]
    mean = np.zeros((G, M))
    np.add.at(mean, inv, Y)
    mean /= counts[:, None]
    rel = Y - mean[inv]
    cov = np.zeros((G, M, M))
    np.add.at(cov, inv, rel[:, :, None] * rel[:, None, :])
    w, V = np.linalg.eigh(cov)  # ascending
    basis = V[:, :, ::-1][:, :, :d]
    # canonical orientation of each basis vector
    lead = np.argmax(np.abs(basis), axis=1)  # (G, d)
    sgn = np.sign(np.take_along_axis(basis, lead[:, None, :], axis=1))[:, 0, :]
    basis = basis * np.where(sgn == 0, 1.0, sgn)[:, None, :]
    w = np.maximum(w[:, ::-1], 0.0)
    total = np.maximum(w.sum(1), 1e-300)
    evr = w[:, d] / total if M > d else np.zeros(G)
    coef = np.einsum("nm,nmd->nd", rel, basis[inv])
    # s_{d+1} / s_1 from the orthogonal residuals themselves (an eigenvalue ratio would bottom out at
    # sqrt(machine epsilon) = 1.5e-8 in float64)
    perp = rel - np.einsum("nmd,nd->nm", basis[inv], coef)
    ss_perp, ss_par = np.zeros(G), np.zeros(G)
    np.add.at(ss_perp, inv, np.einsum("nm,nm->n", perp, perp))
    np.add.at(ss_par, inv, coef[:, 0] ** 2)
    residual = np.sqrt(ss_perp / np.maximum(ss_par, 1e-300))
    lo = np.full((G, d), np.inf)
    hi = np.full((G, d), -np.inf)
    np.minimum.at(lo, inv, coef)
    np.maximum.at(hi, inv, coef)
    return dict(keys=uniq, inv=inv, counts=counts, origin=mean, basis=basis, lo=lo, hi=hi, residual=residual, evr=evr)


def _seed_pieces(origins, bases, lo, hi, codes, n_seeds, rng, model):
    """Uniform seeds in each piece's box plus its corners (for ``d <= 3``), kept inside the piece's region.
    Returns points, owner index, coordinates."""
    P, M, d = bases.shape
    if d <= 3:  # the box's corners carry its extent to the next generation
        corners = np.array(np.meshgrid(*[[0.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T  # (2^d, d)
        u = np.concatenate([np.broadcast_to(corners, (P,) + corners.shape), rng.random((P, n_seeds, d))], axis=1)
    else:  # 2^d corners would swamp the seeds
        u = rng.random((P, n_seeds, d))
    coef = lo[:, None, :] + (hi - lo)[:, None, :] * u  # (P, S, d)
    pts = origins[:, None, :] + np.einsum("pmd,psd->psm", bases, coef)
    owner = np.repeat(np.arange(P), coef.shape[1])
    pts, coef = pts.reshape(-1, M), coef.reshape(-1, d)
    keep = in_region(model, pts, codes[owner], 1e-9)
    return pts[keep], owner[keep], coef[keep]


def algorithm1(model: PiecewiseAffineMap, cycle: Cycle, j: int, kind: str, *, variant: str = "provenance",
               n_iter: int = 12, n_seeds: int = 30, n_local: int = 100, bound: float = 50.0, seed: int = 0,
               curved: str = "kpca", flat_tol: float = 1e-6, max_points: int = 2_000_000,
               inverse_tol: float = 1e-9) -> PieceManifold:
    """The paper's Algorithm 1 (module docstring) for the ``kind`` manifold of the saddle ``cycle``,
    started at every cycle point; ``j`` names the point the result is reported for."""
    check_choice("kind", kind, KINDS)
    check_choice("variant", variant, ("provenance", "region"))
    check_choice("curved", curved, ("kpca", "cluster"))
    n_iter = check_positive_int("n_iter", n_iter, minimum=0)
    t_start = time.perf_counter()
    rng = np.random.default_rng(seed)
    inverse = InverseStep(model, tol=inverse_tol) if kind == "stable" else None

    def propagate(x):
        if kind == "unstable":
            return model.step(x), np.ones(x.shape[0], dtype=bool)
        res = inverse(x)
        return res.x, res.ok

    # local pieces at every cycle point
    spaces = [local_space(model, cycle, i, kind) for i in range(cycle.period)]
    d = spaces[0].dim
    O, B, LO, HI, C, LEV, PAR, RES = [], [], [], [], [], [], [], []
    for sp in spaces:
        if d == 1:  # the exact local chord (an interval in closed form), capped at the bound box
            a = np.array(_bounded_chord(model, sp, bound))[:, None]
        else:
            a = local_seeds(model, sp, n_local, rng)
        if a.shape[0] < 2 or np.all(a.max(0) - a.min(0) <= 0):
            continue
        O.append(sp.point[None]), B.append(sp.basis[None]), LO.append(a.min(0)[None]), HI.append(a.max(0)[None])
        C.append([cycle.codes[sp.j]]), LEV.append([0]), PAR.append([-1]), RES.append([0.0])
    if not O:
        raise ValueError("no seed point satisfied the local itinerary condition; the saddle may sit on a border")
    gen = dict(origin=np.concatenate(O), basis=np.concatenate(B), lo=np.concatenate(LO), hi=np.concatenate(HI),
               code=np.concatenate(C).astype(np.int64), level=np.concatenate(LEV), parent=np.concatenate(PAR),
               residual=np.concatenate(RES).astype(float))
    stored = [gen]
    curved_pieces: list[CurvedPiece] = []
    offset = gen["origin"].shape[0]
    per_iter = [int(offset)]
    gen_curved: list[CurvedPiece] = []
    for it in range(1, n_iter + 1):
        X, owner, coef = _seed_pieces(gen["origin"], gen["basis"], gen["lo"], gen["hi"], gen["code"], n_seeds, rng, model)
        if gen_curved:  # region-only variant: curved pieces seed the next generation too
            m = 4 * n_seeds
            pts = np.concatenate([c.draw(m, rng) for c in gen_curved])
            cds = np.concatenate([np.full(m, c.code) for c in gen_curved])
            pts = pts[in_region(model, pts, cds, 1e-9)]
            X = np.concatenate([X, pts])
            owner = np.concatenate([owner, np.full(pts.shape[0], -1)])
            coef = np.concatenate([coef, np.zeros((pts.shape[0], d))])
        if X.shape[0] > max_points:
            raise ValueError(f"iteration {it} has {X.shape[0]} seed points (> max_points = {max_points}); lower n_iter")
        Y, ok = propagate(X)
        ok &= np.all(np.isfinite(Y), axis=1)
        ok &= np.abs(np.where(ok[:, None], Y, 0.0)).max(axis=1) <= bound
        X, owner, coef, Y = X[ok], owner[ok], coef[ok], Y[ok]
        if Y.shape[0] == 0:
            break
        reg = model.region_id(Y)
        if variant == "provenance" and d == 1:
            extra_Y, extra_owner, extra_reg = _border_points(model, kind, gen, owner, coef, reg)
            Y = np.concatenate([Y, extra_Y])
            owner = np.concatenate([owner, extra_owner])
            reg = np.concatenate([reg, extra_reg])
        key = owner * model.n_regions + reg if variant == "provenance" else reg
        fit = _fit_groups(Y, key, d)
        keep = (fit["counts"] >= d + 1) & np.all(fit["hi"] - fit["lo"] > 1e-12, axis=1)
        code = fit["keys"] % model.n_regions
        gen_curved = []
        extra: list[dict] = []
        if variant == "region":
            flat = fit["evr"] < flat_tol
            for g in np.flatnonzero(keep & ~flat):
                pts = Y[fit["inv"] == g]
                if curved == "kpca":
                    gen_curved.append(_kpca_piece(pts, d, int(code[g]), it, rng))
                else:
                    extra += [dict(f, code=int(code[g])) for f in _cluster_pieces(pts, d)]
            keep &= flat
            parent = np.full(int(keep.sum()), -1)
        else:
            parent = fit["keys"][keep] // model.n_regions + offset - gen["origin"].shape[0]
        new = dict(origin=fit["origin"][keep], basis=fit["basis"][keep], lo=fit["lo"][keep], hi=fit["hi"][keep],
                   code=code[keep].astype(np.int64), level=np.full(int(keep.sum()), it), parent=parent,
                   residual=fit["residual"][keep])
        if extra:
            for name, key_ in (("origin", "origin"), ("basis", "basis"), ("lo", "lo"), ("hi", "hi"),
                               ("residual", "residual")):
                new[name] = np.concatenate([new[name], np.stack([e[key_] for e in extra])])
            new["code"] = np.concatenate([new["code"], np.array([e["code"] for e in extra], dtype=np.int64)])
            new["level"] = np.concatenate([new["level"], np.full(len(extra), it)])
            new["parent"] = np.concatenate([new["parent"], np.full(len(extra), -1)])
        curved_pieces += gen_curved
        if new["origin"].shape[0] == 0 and not gen_curved:
            break
        offset += new["origin"].shape[0]
        stored.append(new)
        per_iter.append(int(new["origin"].shape[0]) + len(gen_curved))
        gen = new
    cat = {k: np.concatenate([s[k] for s in stored]) for k in stored[0]}
    stats = {"pieces_per_iteration": per_iter, "seconds": time.perf_counter() - t_start,
             "regions": int(np.unique(cat["code"]).size), "curved_pieces": len(curved_pieces)}
    if inverse is not None:
        stats["inverse_stages"] = inverse.stages()
    return PieceManifold(model=model, cycle=cycle, j=j, kind=kind, variant=variant, origins=cat["origin"],
                         bases=cat["basis"], lo=cat["lo"], hi=cat["hi"], codes=cat["code"], levels=cat["level"],
                         parents=cat["parent"], residuals=cat["residual"], curved=curved_pieces, stats=stats)


def _border_points(model, kind, gen, owner, coef, reg):
    """1-D provenance variant: between consecutive seeds of one parent whose images lie in different
    regions, the exact border crossing, given to both neighbouring groups. Along the parent piece
    ``o + c e`` (inside one region) the image ``J_P (o + c e) + c_P`` (unstable) or the preimage branch
    ``J_r^{-1}(o + c e - c_r)`` of the first region ``r`` (stable) is affine in ``c``, so the crossing
    of a border ``G_u x + g_u = 0`` is one linear equation."""
    order = np.lexsort((coef[:, 0], owner))
    o, c, r = owner[order], coef[order, 0], reg[order]
    pair = (o[1:] == o[:-1]) & (r[1:] != r[:-1])
    empty = (np.zeros((0, model.M)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    if not np.any(pair):
        return empty
    idx = np.flatnonzero(pair)
    po, c_lo, c_hi, r_lo, r_hi = o[idx], c[idx], c[idx + 1], r[idx], r[idx + 1]
    org, e = gen["origin"][po], gen["basis"][po, :, 0]
    if kind == "unstable":  # x(c) = a + c b: the image under the parent's affine piece
        J, cc = model.affine_of_code(gen["code"][po])
        a_ = np.einsum("nij,nj->ni", J, org) + cc
        b_ = np.einsum("nij,nj->ni", J, e)
    else:  # the preimage branch of the lower seed's region
        J, cc = model.affine_of_code(r_lo)
        a_ = np.linalg.solve(J, (org - cc)[..., None])[..., 0]
        b_ = np.linalg.solve(J, e[..., None])[..., 0]
    units = model.switching_units
    flips = ((r_lo ^ r_hi)[:, None] >> np.arange(units.size)) & 1  # (n, s): the units whose side changes
    num = -(a_ @ model.G[units].T + model.g[units])
    den = b_ @ model.G[units].T
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where((flips == 1) & (den != 0), num / den, np.nan)
    inside = (t >= np.minimum(c_lo, c_hi)[:, None]) & (t <= np.maximum(c_lo, c_hi)[:, None])
    t = np.where(inside, t, np.nan)
    ok = np.any(np.isfinite(t), axis=1)
    if not np.any(ok):
        return empty
    t_star = np.nanmin(np.where(np.isfinite(t[ok]), t[ok], np.inf), axis=1)
    y = a_[ok] + t_star[:, None] * b_[ok]
    po, r_lo, r_hi = po[ok], r_lo[ok], r_hi[ok]
    return np.concatenate([y, y]), np.concatenate([po, po]), np.concatenate([r_lo, r_hi])


def _kpca_piece(pts: np.ndarray, d: int, code: int, level: int, rng: np.random.Generator,
                max_train: int = 300) -> CurvedPiece:
    from sklearn.decomposition import KernelPCA

    if pts.shape[0] > max_train:
        pts = pts[rng.choice(pts.shape[0], size=max_train, replace=False)]
    scale = np.median(np.linalg.norm(pts - pts.mean(0), axis=1)) + 1e-12
    kp = KernelPCA(n_components=d, kernel="rbf", gamma=1.0 / (2 * scale ** 2), fit_inverse_transform=True,
                   alpha=1e-6, random_state=0)
    lat = kp.fit_transform(pts)
    return CurvedPiece(kpca=kp, lo=lat.min(0), hi=lat.max(0), code=code, level=level, points=pts)


def _cluster_pieces(pts: np.ndarray, d: int, radius: float = 0.02) -> list[dict]:
    """DBSCAN clusters of a non-flat group (neighbourhood ``radius`` times the group's diameter), one
    PCA piece per cluster (the paper's fallback, Algorithm 3, in spirit). Branches closer than the
    radius merge into one (non-flat) piece."""
    from sklearn.cluster import DBSCAN

    diameter = float(np.linalg.norm(pts.max(0) - pts.min(0)))
    labels = DBSCAN(eps=radius * diameter + 1e-12, min_samples=2).fit_predict(pts)
    out = []
    for lab in np.unique(labels[labels >= 0]):
        sub = pts[labels == lab]
        if sub.shape[0] < d + 1:
            continue
        fit = _fit_groups(sub, np.zeros(sub.shape[0], dtype=np.int64), d)
        out.append(dict(origin=fit["origin"][0], basis=fit["basis"][0], lo=fit["lo"][0], hi=fit["hi"][0],
                        residual=float(fit["residual"][0])))
    return out


# ---- the public entry point ---------------------------------------------------------------------------
def resolve_point(model: PiecewiseAffineMap, point: Any) -> tuple[Cycle, int]:
    """``(cycle, j)`` for a :class:`~plrnn.scyfi.Cycle` (``j = 0``), a pair ``(cycle, j)`` or a state
    ``(M,)`` on a cycle (found by :func:`plrnn.scyfi.cycle_through`)."""
    if isinstance(point, Cycle):
        return point, 0
    if isinstance(point, tuple) and len(point) == 2 and isinstance(point[0], Cycle):
        cyc, j = point
        if isinstance(j, bool) or not isinstance(j, (int, np.integer)) or not 0 <= j < cyc.period:
            raise ValueError(f"cycle point index must be an int in 0..{cyc.period - 1}; received {j!r}")
        return cyc, int(j)
    p = check_states(point, model.M, "point")
    if p.shape != (model.M,):
        raise ValueError(f"point must be one state of shape ({model.M},) (or a Cycle); received shape {p.shape}")
    cyc = cycle_through(model, p)
    j = cyc.index_of(p)
    return cyc, 0 if j is None else j


def manifold(model: PiecewiseAffineMap, point: Any, kind: str, method: str = "paper", **kwargs: Any
             ) -> PieceManifold | PolylineManifold:
    """The stable (``kind="stable"``, the paper's ``sigma = +1``) or unstable (``"unstable"``,
    ``sigma = -1``) manifold of a saddle fixed point or saddle cycle.

    ``point``: a state ``(M,)`` on the saddle cycle, a :class:`~plrnn.scyfi.Cycle`, or ``(cycle, j)``.
    ``method="paper"``: Algorithm 1 (:func:`algorithm1`; keyword arguments ``variant``, ``n_iter``,
    ``n_seeds``, ``bound``, ``seed``, ...). ``method="exact"``: the exact polyline
    (:func:`plrnn.polyline.exact_manifold`; ``depth``, ``box``, ``half_length``), for 2-D maps; the
    stable one needs an invertible (coherently oriented) map. Both results have
    ``.sample(n, seed=0)`` and ``.distance(x)``. For a cycle the result covers the whole orbit.
    """
    if not isinstance(model, PiecewiseAffineMap):
        raise TypeError(f"model must be a plrnn model (PLRNN, ALRNN, ShallowPLRNN); received {type(model).__name__}")
    check_choice("kind", kind, KINDS)
    check_choice("method", method, ("paper", "exact"))
    cyc, j = resolve_point(model, point)
    if cyc.stability != "saddle":
        raise ValueError(f"point {cyc.points[j]} lies on a {cyc.stability} cycle of period {cyc.period} "
                         f"(multipliers {np.round(cyc.eigenvalues, 6)}); stable/unstable manifolds need a saddle")
    if method == "exact":
        if model.M != 2:
            raise ValueError(f"method='exact' is the polyline construction for 2-D maps; this model has M = {model.M} "
                             "(use method='paper')")
        if kind == "stable" and not coherently_oriented(model):
            raise ValueError("method='exact' for a stable manifold needs an invertible map (all region Jacobian "
                             "determinants of one sign); this map's determinants differ in sign")
        return exact_manifold(model, cyc, j, kind, **kwargs)
    return algorithm1(model, cyc, j, kind, **kwargs)
