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
3. group the images by their destination region and fit a piece to each group of at least
   ``d + 1`` points: PCA with ``d`` components (origin, orthonormal basis, coordinate box of the
   points); drop points with ``|z|_inf > bound``;
4. re-seed ``n_seeds`` points on each new piece, inside its region (:func:`_seed_pieces`: uniform in
   the coordinate box plus its corners for ``d <= 3``; hit-and-run in the piece's polytope from its
   own support points for ``d >= 4``, where a box is almost all outside the region) and repeat from
   2 for ``n_iter`` iterations.

A flat piece is the part of its plane inside its coordinate box and inside its region (a convex
polytope, :mod:`plrnn.polytope`); :meth:`PieceManifold.sample` and :meth:`PieceManifold.distance`
use exactly that set, in any dimension.

Two grouping variants (the paper's text does not fix one):

* ``variant="provenance"`` (default): group by (parent piece, destination region). One flat piece is
  mapped by one affine branch, so each group is exactly flat and PCA reproduces it (the residual
  ratio ``s_{d+1} / s_1`` is recorded per piece). For 1-D pieces the path of the images between
  two consecutive seeds is followed exactly across every border it crosses (:func:`_border_points`),
  and each crossing point is given to the pieces on both sides, so that the pieces meet at the
  borders and a region passed between two seeds gets its piece too.
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
from .polyline import PolylineManifold, backward_image, exact_manifold, split_at_borders
from .polytope import PolytopeSampler, hit_and_run, intervals, piece_constraints, project
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
    ``residuals`` ``s_{d+1}/s_1``, ``counts`` (points each piece was fitted to)) and ``curved``
    pieces (kernel PCA). ``support (S, M)``: the points each flat piece was fitted to (images of the
    previous iteration's seeds, for a local piece its seeds), ``support_owner (S,)`` their piece.
    ``stats``: pieces per iteration, regions visited, inverse-step stage counts, seconds.

    A flat piece is the part of its plane ``o + E c`` inside its coordinate box *and* inside its
    region, a convex polytope (:mod:`plrnn.polytope`): :meth:`sample` draws points of it and
    :meth:`distance` measures to it, in any dimension."""

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
    counts: np.ndarray | None = None
    support: np.ndarray | None = None
    support_owner: np.ndarray | None = None
    ancestry: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def dim(self) -> int:
        return int(self.bases.shape[2])

    @property
    def n_pieces(self) -> int:
        return int(self.origins.shape[0]) + len(self.curved)

    def regions(self) -> np.ndarray:
        """Distinct region ids holding a piece."""
        return np.unique(np.concatenate([self.codes, np.array([c.code for c in self.curved], dtype=np.int64)]))

    def constraints(self, window: tuple[Any, Any] | None = None, pieces: Any = None, ancestry: bool = True
                    ) -> tuple[np.ndarray, np.ndarray]:
        """The flat pieces (all, or the indices ``pieces``) as polytopes ``{c : A c <= b}`` in their
        coefficients: region, box, the ancestry rows (the parent's constraints pulled back through the
        affine branch that joins the two pieces, recursively: a point of the piece maps onto its
        parent piece, and so on to the local piece; left out with ``ancestry=False``, which leaves the
        fitted plane inside its box and region) and optionally the state-space box ``window``
        (:func:`plrnn.polytope.piece_constraints`)."""
        idx = np.arange(self.origins.shape[0]) if pieces is None else np.asarray(pieces, dtype=np.int64)
        extra = None if self.ancestry is None or not ancestry else (self.ancestry[0][idx], self.ancestry[1][idx])
        return piece_constraints(self.model, self.origins[idx], self.bases[idx], self.lo[idx], self.hi[idx],
                                 self.codes[idx], window, extra=extra)

    def _flat_sample(self, rng: np.random.Generator, within, burn: int | None, ancestry: bool = True):
        """Flat-piece points: ``(sizes (P,), draw(counts) -> points)``; sizes are lengths for ``d = 1``
        (exact intervals), else volume proxies ``sqrt(det Cov)`` of pilot hit-and-run chains."""
        P = self.origins.shape[0]
        if P == 0:
            return np.zeros(0), lambda counts: (np.zeros((0, self.model.M)), np.zeros(0, dtype=np.int64))
        cand = np.arange(P)
        if within is not None:  # pieces whose box image can meet the window
            w_lo = np.broadcast_to(np.asarray(within[0], dtype=np.float64), (self.model.M,))
            w_hi = np.broadcast_to(np.asarray(within[1], dtype=np.float64), (self.model.M,))
            lo_c, hi_c = self.bases * self.lo[:, None, :], self.bases * self.hi[:, None, :]  # (P, M, d)
            x_lo = self.origins + np.minimum(lo_c, hi_c).sum(-1)
            x_hi = self.origins + np.maximum(lo_c, hi_c).sum(-1)
            cand = np.flatnonzero(np.all((x_hi >= w_lo) & (x_lo <= w_hi), axis=1))
        A, b = self.constraints(within, cand, ancestry)
        sampler = PolytopeSampler(A, b, rng, burn=burn, scale=np.abs(self.origins[cand]).max(axis=1))
        sizes = np.zeros(P)
        sizes[cand] = sampler.sizes

        def draw(counts):
            c, k = sampler.draw(counts[cand])
            which = cand[k]
            return self.origins[which] + np.einsum("nmd,nd->nm", self.bases[which], c), which

        return sizes, draw

    def sample(self, n: int, seed: int = 0, within: tuple[Any, Any] | None = None, max_rounds: int = 200,
               burn: int | None = None, return_piece: bool = False, ancestry: bool = True
               ) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """``n`` points spread over the pieces inside their regions (optionally only inside the box
        ``within = (lo, hi)``), ``(n, M)``. A flat piece is chosen in proportion to its size (length,
        area, ... of its polytope; for ``d >= 2`` a volume proxy from pilot chains), and a point of it
        drawn uniformly: exactly for ``d = 1`` (an interval), by hit-and-run for ``d >= 2`` (``burn``
        moves of pilot chains from the polytope's Chebyshev centre, default ``5 d + 20``, then
        ``2 d + 5`` moves per point). Curved pieces (kernel PCA) are drawn in their latent box and
        kept inside their region and the window (at most ``max_rounds`` rounds). With
        ``return_piece=True`` also the piece of each point ``(n,)`` (flat pieces ``0 .. P-1``, curved
        piece ``i`` as ``P + i``). ``ancestry=False`` samples the fitted planes inside their box and
        region only (:meth:`constraints`), a looser set than the manifold's pieces."""
        n = check_positive_int("n", int(n))
        rng = np.random.default_rng(seed)
        sizes, draw = self._flat_sample(rng, within, burn, ancestry)
        curved_sizes = np.array([_extent(c.points, self.dim) * self._accepted(c, rng, within) for c in self.curved])
        total = sizes.sum() + curved_sizes.sum()
        if total <= 0:
            raise ValueError(f"could only draw 0 of {n} points on the manifold "
                             f"{'inside the window ' + str(within) if within is not None else ''}")
        counts = rng.multinomial(n, np.concatenate([sizes, curved_sizes]) / total)
        pts, which = draw(counts[:sizes.size])
        out, owner = [pts], [which]
        for ci, m_ in enumerate(counts[sizes.size:]):
            if m_ == 0:
                continue
            c, got, have = self.curved[ci], [], 0
            for _ in range(max_rounds):
                pts = self._keep(c, c.draw(4 * (m_ - have) + 16, rng), within)
                got.append(pts)
                have += pts.shape[0]
                if have >= m_:
                    break
            pts = np.concatenate(got)
            if pts.shape[0] < m_:
                raise ValueError(f"could only draw {pts.shape[0]} of {m_} points on a curved piece "
                                 f"{'inside the window ' + str(within) if within is not None else ''}")
            out.append(pts[:m_])
            owner.append(np.full(m_, sizes.size + ci))
        pts, owner = np.concatenate(out), np.concatenate(owner)
        perm = rng.permutation(pts.shape[0])
        return (pts[perm], owner[perm]) if return_piece else pts[perm]

    def _keep(self, c: "CurvedPiece", pts: np.ndarray, within) -> np.ndarray:
        """The points of a curved piece's draw that lie inside its region and the window."""
        pts = pts[in_region(self.model, pts, np.full(pts.shape[0], c.code), 1e-9)]
        if within is not None:
            pts = pts[np.all((pts >= within[0]) & (pts <= within[1]), axis=1)]
        return pts

    def _accepted(self, c: "CurvedPiece", rng: np.random.Generator, within, pilot: int = 256) -> float:
        """Share of a curved piece's latent-box draws that land inside its region and the window: its
        size there is its extent times this share, so a piece that misses the window gets no points
        (and the flat and curved pieces are weighted alike, by their size inside the window)."""
        return self._keep(c, c.draw(pilot, rng), within).shape[0] / pilot

    def piece_distance(self, x: Any, pieces: Any) -> np.ndarray:
        """Distance from each point ``x[i]`` to the flat piece ``pieces[i]`` (the part of its plane
        inside its box and its region): exact for ``d = 1``; for ``d >= 2`` the nearest point of the
        polytope by Dykstra's projections (:func:`plrnn.polytope.project`). ``(n,)``."""
        x = check_states(x, self.model.M, "x")
        idx = np.asarray(pieces, dtype=np.int64)
        if x.ndim != 2 or idx.shape != (x.shape[0],):
            raise ValueError(f"x must have shape (n, {self.model.M}) and pieces shape (n,); received {x.shape}, "
                             f"{idx.shape}")
        return self._piece_distance(x, idx, *self.constraints(None, idx))

    def _piece_distance(self, x: np.ndarray, idx: np.ndarray, A: np.ndarray, b: np.ndarray) -> np.ndarray:
        """:meth:`piece_distance` for checked ``x (n, M)``, ``idx (n,)`` and the pieces' polytopes
        ``A (n, m, d)``, ``b (n, m)`` (:meth:`constraints` of ``idx``)."""
        rel = x - self.origins[idx]
        E = self.bases[idx]
        c = np.einsum("nm,nmd->nd", rel, E)
        perp = rel - np.einsum("nmd,nd->nm", E, c)
        s, d = int(self.model.switching_units.size), self.dim  # rows: region, box, ancestry
        if self.dim == 1:
            lo_t, hi_t = intervals(A, b)
            cc = np.clip(c[:, 0], lo_t, hi_t)[:, None]
        else:
            H = np.concatenate([A[:, :s], A[:, s + 2 * d:]], axis=1)
            h = np.concatenate([b[:, :s], b[:, s + 2 * d:]], axis=1)
            cc = np.clip(c, self.lo[idx], self.hi[idx])
            bad = np.any(np.einsum("nkd,nd->nk", H, cc) > h, axis=1)
            if np.any(bad):
                cc[bad] = project(H[bad], h[bad], self.lo[idx[bad]], self.hi[idx[bad]], c[bad])
        return np.sqrt(np.einsum("nm,nm->n", perp, perp) + np.einsum("nd,nd->n", c - cc, c - cc))

    def distance(self, x: Any, chunk: int = 4_000_000) -> np.ndarray:
        """Distance from ``x (n, M)`` to the nearest flat piece (the part of its plane inside its box and
        its region, :meth:`piece_distance`) or curved piece (nearest training point). For ``d >= 2``
        the exact projection is computed only where the nearest point of the plane's box lies
        outside the region and could still be the nearest piece."""
        x = check_states(x, self.model.M, "x")
        best = np.full(x.shape[0], np.inf)
        P = self.origins.shape[0]
        if P:
            A, b = self.constraints()
            step = max(1, chunk // max(1, P * max(self.model.M, A.shape[1])))
            if self.dim == 1:
                lo_t, hi_t = intervals(A, b)
            for s0 in range(0, x.shape[0], step):
                rel = x[s0:s0 + step, None, :] - self.origins[None]  # (n, P, M)
                c = np.einsum("bpm,pmd->bpd", rel, self.bases)
                perp = rel - np.einsum("pmd,bpd->bpm", self.bases, c)  # explicit: |rel|^2 - |c|^2 would cancel
                perp2 = np.einsum("bpm,bpm->bp", perp, perp)
                if self.dim == 1:
                    cc = np.clip(c[..., 0], lo_t[None], hi_t[None])[..., None]
                    best[s0:s0 + step] = np.sqrt(perp2 + ((c - cc) ** 2).sum(-1)).min(axis=1)
                    continue
                cc = np.clip(c, self.lo[None], self.hi[None])
                lower = np.sqrt(perp2 + ((c - cc) ** 2).sum(-1))  # to the plane's box
                inside = np.all(np.einsum("pkd,bpd->bpk", A, cc) <= b[None], axis=2)
                upper = np.where(inside, lower, np.sqrt(np.einsum("bpm,bpm->bp", rel, rel)))  # the origin is inside
                cur = upper.min(axis=1)
                ii, pp = np.nonzero(~inside & (lower < cur[:, None]))
                if ii.size:
                    dd = self._piece_distance(x[s0 + ii], pp, A[pp], b[pp])
                    np.minimum.at(cur, ii, dd)
                best[s0:s0 + step] = cur
        for cp in self.curved:
            dd = np.sqrt(((x[:, None, :] - cp.points[None]) ** 2).sum(-1)).min(axis=1)
            best = np.minimum(best, dd)
        return best


def _extent(points: np.ndarray, d: int) -> float:
    """Size of a point set along its ``d`` principal directions (product of the ranges): the weight
    of a curved piece when sampling."""
    rel = points - points.mean(0)
    _, _, Vt = np.linalg.svd(rel, full_matrices=False)
    coef = rel @ Vt[:d].T
    return float(np.prod(np.ptp(coef, axis=0)))


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


def _seed_pieces(gen, n_seeds, rng, model):
    """Seeds of the next iteration on each piece of ``gen``, inside the piece's region. Returns
    points, owner index, coordinates.

    * ``d <= 3``: uniform in the coordinate box plus its ``2^d`` corners (for ``d = 1`` the two ends
      of the interval), which carry the piece's extent to the next generation, kept inside the
      region;
    * ``d >= 4``: the box is mostly outside the piece's region in high dimension (and ``2^d``
      corners would swamp the seeds), so the seeds are hit-and-run points of the piece's
      polytope (box and region, :mod:`plrnn.polytope`), each chain started at one of the piece's
      support points and moved ``2 d + 5`` times, plus the support points extreme in each
      coordinate (which carry the extent)."""
    origins, bases, lo, hi, codes = gen["origin"], gen["basis"], gen["lo"], gen["hi"], gen["code"]
    P, M, d = bases.shape
    if d <= 3:
        corners = np.array(np.meshgrid(*[[0.0, 1.0]] * d, indexing="ij")).reshape(d, -1).T  # (2^d, d)
        u = np.concatenate([np.broadcast_to(corners, (P,) + corners.shape), rng.random((P, n_seeds, d))], axis=1)
        coef = lo[:, None, :] + (hi - lo)[:, None, :] * u  # (P, S, d)
        owner = np.repeat(np.arange(P), coef.shape[1])
        coef = coef.reshape(-1, d)
    else:
        sup, own = gen["support"], gen["support_owner"]
        sc = np.einsum("nm,nmd->nd", sup - origins[own], bases[own])  # support coefficients
        # the support points extreme in each coordinate, per piece
        ext = []
        for fn in (np.minimum, np.maximum):
            best = np.full((P, d), np.inf if fn is np.minimum else -np.inf)
            fn.at(best, own, sc)
            hit = sc == best[own]
            ext.append(np.flatnonzero(hit.any(axis=1)))
        ext = np.unique(np.concatenate(ext))
        # n_seeds chains per piece from random support points of that piece
        order = np.argsort(own, kind="stable")
        first = np.searchsorted(own[order], np.arange(P))
        size = np.bincount(own, minlength=P)
        owner_h = np.repeat(np.arange(P), n_seeds)
        start = sc[order[first[owner_h] + rng.integers(0, np.maximum(size[owner_h], 1))]]
        walk = hit_and_run(gen["A"], gen["b"], start, 2 * d + 5, rng, piece=owner_h)
        coef = np.concatenate([sc[ext], walk])
        owner = np.concatenate([own[ext], owner_h])
    pts = origins[owner] + np.einsum("nmd,nd->nm", bases[owner], coef)
    keep = in_region(model, pts, codes[owner], 1e-9)
    first = 2 * d + int(model.switching_units.size)  # the ancestry rows, with the region's tolerance
    slack = 1e-9 * (1.0 + np.abs(pts).max(axis=1, keepdims=True))
    keep &= np.all(np.einsum("nkd,nd->nk", gen["A"][owner, first:], coef) <= gen["b"][owner, first:] + slack, axis=1)
    return pts[keep], owner[keep], coef[keep]


def algorithm1(model: PiecewiseAffineMap, cycle: Cycle, j: int, kind: str, *, variant: str = "provenance",
               n_iter: int = 12, n_seeds: int | None = None, n_local: int = 100, bound: float = 50.0, seed: int = 0,
               curved: str = "kpca", flat_tol: float = 1e-6, max_points: int = 2_000_000,
               inverse_tol: float = 1e-9) -> PieceManifold:
    """The paper's Algorithm 1 (module docstring) for the ``kind`` manifold of the saddle ``cycle``,
    started at every cycle point; ``j`` names the point the result is reported for. ``n_seeds``:
    seeds per piece and iteration; default the paper's rule ``N_s = k d`` (``k`` neighbouring
    regions, here the number of switching units; ``d`` the manifold's dimension), at least 30."""
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
    n_seeds = max(30, int(model.switching_units.size) * d) if n_seeds is None else check_positive_int("n_seeds", n_seeds)
    O, B, LO, HI, C, LEV, PAR, RES, CNT, SUP, SOWN = [], [], [], [], [], [], [], [], [], [], []
    kept_spaces = []
    for sp in spaces:
        if d == 1:  # the exact local chord (an interval in closed form), capped at the bound box
            a = np.array(_bounded_chord(model, sp, bound))[:, None]
        else:
            a = local_seeds(model, sp, n_local, rng)
        if a.shape[0] < 2 or np.all(a.max(0) - a.min(0) <= 0):
            continue
        O.append(sp.point[None]), B.append(sp.basis[None]), LO.append(a.min(0)[None]), HI.append(a.max(0)[None])
        C.append([cycle.codes[sp.j]]), LEV.append([0]), PAR.append([-1]), RES.append([0.0]), CNT.append([a.shape[0]])
        SUP.append(sp.point + a @ sp.basis.T), SOWN.append(np.full(a.shape[0], len(O) - 1))
        kept_spaces.append(sp)
    if not O:
        raise ValueError("no seed point satisfied the local itinerary condition; the saddle may sit on a border")
    gen = dict(origin=np.concatenate(O), basis=np.concatenate(B), lo=np.concatenate(LO), hi=np.concatenate(HI),
               code=np.concatenate(C).astype(np.int64), level=np.concatenate(LEV), parent=np.concatenate(PAR),
               residual=np.concatenate(RES).astype(float), count=np.concatenate(CNT).astype(np.int64),
               support=np.concatenate(SUP), support_owner=np.concatenate(SOWN).astype(np.int64))
    rows = [_local_rows(model, cycle, sp, lo[0], hi[0]) if d > 1 else (np.zeros((0, d)), np.zeros(0))
            for sp, lo, hi in zip(kept_spaces, LO, HI)]
    r_max = max(r[0].shape[0] for r in rows)
    gen["anc_A"] = np.stack([np.concatenate([A, np.zeros((r_max - A.shape[0], d))]) for A, _ in rows])
    gen["anc_b"] = np.stack([np.concatenate([b, np.ones(r_max - b.shape[0])]) for _, b in rows])
    gen["A"], gen["b"] = piece_constraints(model, gen["origin"], gen["basis"], gen["lo"], gen["hi"], gen["code"],
                                           extra=(gen["anc_A"], gen["anc_b"]))
    stored = [gen]
    curved_pieces: list[CurvedPiece] = []
    offset = gen["origin"].shape[0]
    per_iter = [int(offset)]
    gen_curved: list[CurvedPiece] = []
    for it in range(1, n_iter + 1):
        X, owner, coef = _seed_pieces(gen, n_seeds, rng, model)
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
            extra_Y, extra_owner, extra_reg = _border_points(model, kind, gen, owner, coef, reg, Y, inverse)
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
        n_new = int(keep.sum())
        in_kept = keep[fit["inv"]]
        new = dict(origin=fit["origin"][keep], basis=fit["basis"][keep], lo=fit["lo"][keep], hi=fit["hi"][keep],
                   code=code[keep].astype(np.int64), level=np.full(n_new, it), parent=parent,
                   residual=fit["residual"][keep], count=fit["counts"][keep].astype(np.int64),
                   support=Y[in_kept], support_owner=(np.cumsum(keep) - 1)[fit["inv"][in_kept]].astype(np.int64))
        if extra:
            for name, key_ in (("origin", "origin"), ("basis", "basis"), ("lo", "lo"), ("hi", "hi"),
                               ("residual", "residual")):
                new[name] = np.concatenate([new[name], np.stack([e[key_] for e in extra])])
            new["code"] = np.concatenate([new["code"], np.array([e["code"] for e in extra], dtype=np.int64)])
            new["level"] = np.concatenate([new["level"], np.full(len(extra), it)])
            new["parent"] = np.concatenate([new["parent"], np.full(len(extra), -1)])
            new["count"] = np.concatenate([new["count"], np.array([e["points"].shape[0] for e in extra])])
            new["support"] = np.concatenate([new["support"]] + [e["points"] for e in extra])
            new["support_owner"] = np.concatenate(
                [new["support_owner"]] + [np.full(e["points"].shape[0], n_new + i) for i, e in enumerate(extra)])
        # ancestry: the parent's constraints pulled back (provenance variant); zero rows (0 <= 1) otherwise
        m_par = gen["A"].shape[1]
        n_all = new["origin"].shape[0]
        new["anc_A"], new["anc_b"] = np.zeros((n_all, m_par, d)), np.ones((n_all, m_par))
        if variant == "provenance" and n_new:
            par = fit["keys"][keep] // model.n_regions  # index into gen
            new["anc_A"][:n_new], new["anc_b"][:n_new] = _pull_back(model, kind, gen, par, new["origin"][:n_new],
                                                                    new["basis"][:n_new], new["code"][:n_new])
            new["anc_A"], new["anc_b"] = _binding_rows(new["anc_A"], new["anc_b"], new["lo"], new["hi"])
        new["A"], new["b"] = piece_constraints(model, new["origin"], new["basis"], new["lo"], new["hi"], new["code"],
                                               extra=(new["anc_A"], new["anc_b"]))
        curved_pieces += gen_curved
        if new["origin"].shape[0] == 0 and not gen_curved:
            break
        new["support_owner_global"] = new["support_owner"] + offset
        offset += new["origin"].shape[0]
        stored.append(new)
        per_iter.append(int(new["origin"].shape[0]) + len(gen_curved))
        gen = new
    stored[0]["support_owner_global"] = stored[0]["support_owner"]
    rows = max(s_["anc_A"].shape[1] for s_ in stored)
    for s_ in stored:  # pad the ancestry rows to a common count with 0 <= 1
        r = rows - s_["anc_A"].shape[1]
        s_["anc_A"] = np.concatenate([s_["anc_A"], np.zeros((s_["anc_A"].shape[0], r, d))], axis=1)
        s_["anc_b"] = np.concatenate([s_["anc_b"], np.ones((s_["anc_b"].shape[0], r))], axis=1)
    skip = ("support_owner", "A", "b")
    cat = {k: np.concatenate([s_[k] for s_ in stored]) for k in stored[0] if k not in skip}
    stats = {"pieces_per_iteration": per_iter, "seconds": time.perf_counter() - t_start,
             "regions": int(np.unique(cat["code"]).size), "curved_pieces": len(curved_pieces), "n_seeds": n_seeds}
    if inverse is not None:
        stats["inverse_stages"] = inverse.stages()
    return PieceManifold(model=model, cycle=cycle, j=j, kind=kind, variant=variant, origins=cat["origin"],
                         bases=cat["basis"], lo=cat["lo"], hi=cat["hi"], codes=cat["code"], levels=cat["level"],
                         parents=cat["parent"], residuals=cat["residual"], curved=curved_pieces, stats=stats,
                         counts=cat["count"], support=cat["support"], support_owner=cat["support_owner_global"],
                         ancestry=(cat["anc_A"], cat["anc_b"]) if rows else None)


def _local_rows(model: PiecewiseAffineMap, cycle: Cycle, space: LocalSpace, lo: np.ndarray, hi: np.ndarray,
                max_steps: int = 2000, quiet: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """The itinerary condition of a local piece as rows ``A a <= b`` in its coefficients: the orbit of
    ``p_j + E a`` (forward for a stable, backward for an unstable manifold) follows the cycle's region
    sequence: ``x_i = p_{j+i} + Part_r E B^q a`` for ``i = q k + r`` (``Part_r`` the product of ``r``
    branch Jacobians along the cycle, ``B`` the period map on ``E``; inverses backward). Rows that hold on the whole coordinate box ``[lo, hi]`` are left out; the
    loop stops after ``quiet`` consecutive steps without a binding row (the orbit then contracts
    into the region). Returns ``A (r, d)``, ``b (r,)``."""
    k, j, E = cycle.period, space.j, space.basis
    Js, _ = model.affine_of_code(cycle.codes)
    units = model.switching_units
    Gs, gs = model.G[units], model.g[units]
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    # x_i = p_{j +- i} + Part_r E B^{+-q} a with i = q k + r: the partial products within one period
    # times whole periods in the coefficients (B is exact on E; powers of a numerical J on E would
    # let rounding errors grow along the other directions)
    forward = space.kind == "stable"
    parts, P_ = [np.eye(model.M)], np.eye(model.M)
    for r in range(1, k):
        P_ = Js[(j + r - 1) % k] @ P_ if forward else np.linalg.solve(Js[(j - r) % k], P_)
        parts.append(P_)
    Bstep = space.B if forward else np.linalg.inv(space.B)
    Bq = np.eye(E.shape[1])
    rows_A, rows_b, still = [], [], 0
    for i in range(1, max_steps + 1):
        q, r = divmod(i, k)
        if r == 0:
            Bq = Bstep @ Bq
        Pi = parts[r] @ E @ Bq
        idx = (j + i) % k if forward else (j - i) % k
        sgn = np.where(model.pattern_of_code(cycle.codes[idx])[units], 1.0, -1.0)
        A = -sgn[:, None] * (Gs @ Pi)
        b = sgn * (Gs @ cycle.points[idx] + gs) + 1e-9 * (1.0 + np.abs(cycle.points[idx]).max())
        binding = A @ centre + np.abs(A) @ half > b
        if np.any(binding):
            rows_A.append(A[binding]), rows_b.append(b[binding])
            still = 0
        else:
            still += 1
            if still >= quiet:
                break
    d = E.shape[1]
    return (np.concatenate(rows_A), np.concatenate(rows_b)) if rows_A else (np.zeros((0, d)), np.zeros(0))


def _binding_rows(A: np.ndarray, b: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop the rows of ``A (n, r, d) c <= b (n, r)`` that hold on the whole box ``[lo, hi] (n, d)``
    (they cannot cut the piece); the rest are packed to the front, padded with ``0 <= 1``."""
    centre, half = 0.5 * (lo + hi), 0.5 * (hi - lo)
    binding = np.einsum("nrd,nd->nr", A, centre) + np.einsum("nrd,nd->nr", np.abs(A), half) > b
    r = int(binding.sum(axis=1).max()) if binding.size else 0
    order = np.argsort(~binding, axis=1, kind="stable")[:, :r]
    A2, b2 = np.take_along_axis(A, order[:, :, None], axis=1), np.take_along_axis(b, order, axis=1)
    pad = ~np.take_along_axis(binding, order, axis=1)
    A2[pad], b2[pad] = 0.0, 1.0
    return A2, b2


def _pull_back(model, kind, gen, par, origin, basis, code):
    """The constraints ``A c <= b`` of the parent pieces ``gen[...][par]`` in the coefficients of their
    children (``origin (n, M)``, ``basis (n, M, d)``, regions ``code``): a child point ``x`` maps onto
    its parent's plane by one affine branch -- ``F`` on the child's region for a stable manifold
    (``F(x)`` is the point it came from), the inverse of the parent region's branch for an unstable
    one -- so the parent coefficients are ``T c + t`` and the rows become ``(A T) c <= b - A t``.
    Returns ``A (n, m, d)``, ``b (n, m)``."""
    if kind == "stable":
        J, cc = model.affine_of_code(code)
        img_o = np.einsum("nij,nj->ni", J, origin) + cc
        img_E = np.einsum("nij,njd->nid", J, basis)
    else:
        J, cc = model.affine_of_code(gen["code"][par])
        img_o = np.linalg.solve(J, (origin - cc)[..., None])[..., 0]
        img_E = np.linalg.solve(J, basis)
    Ep = gen["basis"][par]
    T = np.einsum("nmk,nmd->nkd", Ep, img_E)  # (n, d_parent, d)
    t = np.einsum("nmk,nm->nk", Ep, img_o - gen["origin"][par])
    A = gen["A"][par]
    return np.einsum("nrk,nkd->nrd", A, T), gen["b"][par] - np.einsum("nrk,nk->nr", A, t)


def _border_points(model, kind, gen, owner, coef, reg, Y, inverse):
    """1-D provenance variant: the exact path of the images between consecutive seeds of one parent
    whose images lie in different regions, and its border crossings. Along the parent segment between
    the two seeds (inside one region) the image is one straight segment (unstable), split where it
    crosses borders (:func:`plrnn.polyline.split_at_borders`); the preimage (stable) is a polyline
    followed region by region with the inverse branches (:func:`plrnn.polyline.backward_image`), and
    is used only if it runs from the inverse step's preimage of the one seed to that of the other.
    Every crossing joins the groups of the regions on both sides of it, so a region the path passes
    through between two seeds gets its piece too. Returns points, owners, regions."""
    empty = (np.zeros((0, model.M)), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    order = np.lexsort((coef[:, 0], owner))
    o, c, r, y = owner[order], coef[order, 0], reg[order], Y[order]
    idx = np.flatnonzero((o[1:] == o[:-1]) & (r[1:] != r[:-1]))
    if idx.size == 0:
        return empty
    po = o[idx]
    org, e = gen["origin"][po], gen["basis"][po, :, 0]
    seg = np.stack([org + c[idx, None] * e, org + c[idx + 1, None] * e], 1)  # (n, 2, M) in the parent piece
    ends = np.stack([y[idx], y[idx + 1]], 1)  # the seeds' own images
    if kind == "unstable":
        parts, src = split_at_borders(model, model.step(seg), return_source=True)
    else:
        parts, src = backward_image(model, seg, inverse, strict=False, return_source=True)
    if parts.shape[0] == 0:
        return empty
    scale = 1e-9 * (1.0 + np.abs(ends).max(axis=(1, 2)))  # (n,)
    at_end = np.linalg.norm(parts[:, :, None, :] - ends[src][:, None, :, :], axis=-1) <= scale[src, None, None]
    # a path is valid when it reaches both seeds' images (stable: the inverse step may have chosen another branch)
    reached = np.zeros((idx.size, 2), dtype=bool)
    np.logical_or.at(reached, src, at_end.any(axis=1))
    valid = reached.all(axis=1)[src]
    inner = valid[:, None] & ~at_end.any(axis=2)  # (pieces, 2): crossing points only
    region = model.region_id(parts.mean(axis=1))
    pts = parts[inner]
    own = np.broadcast_to(po[src][:, None], inner.shape)[inner]
    regs = np.broadcast_to(region[:, None], inner.shape)[inner]
    return pts, own.astype(np.int64), regs.astype(np.int64)


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
                        residual=float(fit["residual"][0]), points=sub))
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
