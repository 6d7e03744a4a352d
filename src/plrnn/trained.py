"""Analysis of trained RNNs: skeletons, manifold clouds of codimension one, basin boundaries, probes.

Every model uses the package's manifold constructions (Algorithm 1, :mod:`plrnn.manifolds`, whose
pieces are polytopes in any dimension). Alongside them, the **14-dimensional** stable manifolds of the
15-D ALRNNs of the decision and neuron experiments get exact points from backward orbits (with normals,
for probes across the manifold), and the data-space boundary is located by bisection:

* :func:`skeleton` -- fixed points of a trained model (:func:`plrnn.scyfi.cycles`, exhaustive when
  affordable), split into stable ones and saddles;
* :func:`stable_cloud` -- points of ``W^s`` of a saddle fixed point or saddle cycle: seeds on the exact
  local piece at every cycle point (:func:`plrnn.manifolds.local_seeds`) iterated backward with the
  inverse step (Algorithm 2), each with its **normal** when ``W^s`` has codimension one (the left
  eigenvector ``w`` of the unstable multiplier of the k-step Jacobian at the cycle point, carried back
  by ``n <- J^T n`` with the Jacobian of the preimage's region, since ``F`` maps tangent spaces of
  ``W^s`` onto each other);
* :func:`unstable_orbits` -- points of a 1-D ``W^u``: forward orbits of seeds spread (geometrically)
  over a fundamental domain ``[eps, lambda_u eps]`` of the exact local chord on both sides of ``p``;
* :func:`label_states` -- which attractor (a stable fixed point, or "the rest") a state ends in;
* :func:`bisect_boundary` -- where the label flips along segments ``a + t (b - a)``, ``t in [0, 1]``;
* :func:`probe_sides` -- labels of ``x +- eps n`` for points ``x`` with normals ``n``;
* :func:`mean_return_time` -- period of an oscillating orbit from the upward crossings of the level
  mean + one standard deviation (once per spike, even where the waveform wiggles about its mean);
* :func:`points_in_box` -- the rows of a point set inside an axis-parallel box (or a random subset of them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from reprokit.checks import check_positive_int

from .inverse import InverseStep
from .local import chord, local_space
from .manifolds import local_seeds
from .models import PiecewiseAffineMap, check_states
from .scyfi import Cycle, cycles

__all__ = ["skeleton", "Skeleton", "StableCloud", "stable_cloud", "unstable_orbits", "label_states", "bisect_boundary", "probe_sides",
           "mean_return_time", "points_in_box"]


@dataclass
class Skeleton:
    """Fixed points of a model: ``stable``, ``saddles`` and ``other`` (repellers, non-hyperbolic) lists of
    :class:`~plrnn.scyfi.Cycle`."""

    stable: list[Cycle]
    saddles: list[Cycle]
    other: list[Cycle]

    @property
    def all(self) -> list[Cycle]:
        return self.stable + self.saddles + self.other


def skeleton(model: PiecewiseAffineMap, method: str = "auto", seed: int = 0) -> Skeleton:
    """All fixed points of ``model`` (:func:`plrnn.scyfi.cycles` with ``k = 1``), split by stability."""
    fps = cycles(model, 1, method=method, seed=seed)
    return Skeleton([c for c in fps if c.stability == "stable"], [c for c in fps if c.is_saddle],
                    [c for c in fps if c.stability not in ("stable", "saddle")])


@dataclass
class StableCloud:
    """Points on ``W^s`` of a saddle: ``points (n, M)``, ``depth (n,)`` (backward steps from the local
    piece), ``normals (n, M)`` (unit; None unless ``W^s`` has codimension one), ``stages``: inverse-step stage
    counts (:meth:`plrnn.inverse.InverseStep.stages`)."""

    points: np.ndarray
    depth: np.ndarray
    normals: np.ndarray | None
    stages: dict


def stable_cloud(model: PiecewiseAffineMap, saddle: Cycle, *, n_seeds: int = 200, depth: int = 30, seed: int = 0,
                 scales: tuple[float, ...] = (0.01, 0.1, 0.5), bound: float = 50.0) -> StableCloud:
    """Points of the stable manifold of the saddle fixed point or saddle cycle ``saddle`` (module
    docstring): ``n_seeds`` Gaussian seeds per scale on the exact local piece at every cycle point, each
    iterated backward ``depth`` times (failed inverse steps and points beyond ``|z|_inf > bound`` stop)."""
    if not isinstance(saddle, Cycle) or not saddle.is_saddle:
        raise ValueError("saddle must be a saddle fixed point or cycle (a plrnn.scyfi.Cycle with stability "
                         f"'saddle'); received {saddle!r}")
    depth = check_positive_int("depth", depth, minimum=0)
    rng = np.random.default_rng(seed)
    xs, ns = [], []
    codim1 = False
    for j in range(saddle.period):
        space = local_space(model, saddle, j, "stable")
        a = local_seeds(model, space, check_positive_int("n_seeds", n_seeds), rng, scales)
        xs.append(space.point + a @ space.basis.T)
        codim1 = space.dim == model.M - 1
        if codim1:
            lam, W = np.linalg.eig(saddle.point_jacobian(model, j).T)
            w = np.real(W[:, np.argmax(np.abs(lam))])
            ns.append(np.tile(w / np.linalg.norm(w), (xs[-1].shape[0], 1)))
    x = np.concatenate(xs)
    normals = np.concatenate(ns) if codim1 else None
    inv = InverseStep(model)
    pts, dep, nrm = [x], [np.zeros(x.shape[0], dtype=int)], [normals] if codim1 else []
    cur, cur_n = x, normals
    for k in range(1, depth + 1):
        if cur.shape[0] == 0:
            break
        res = inv(cur)
        ok = res.ok & np.all(np.abs(np.nan_to_num(res.x, nan=np.inf)) <= bound, axis=1)
        cur = res.x[ok]
        if codim1:
            J = model.jacobian(cur)
            cur_n = np.einsum("nji,nj->ni", J, cur_n[ok])  # n <- J^T n
            cur_n /= np.linalg.norm(cur_n, axis=1, keepdims=True)
            nrm.append(cur_n)
        pts.append(cur)
        dep.append(np.full(cur.shape[0], k))
    return StableCloud(np.concatenate(pts), np.concatenate(dep), np.concatenate(nrm) if codim1 else None,
                       inv.stages())


def unstable_orbits(model: PiecewiseAffineMap, saddle: Cycle, n_steps: int, *, n_seeds: int = 50,
                    eps: float = 1e-4) -> np.ndarray:
    """Points of the 1-D unstable manifold of the saddle fixed point ``saddle``: ``n_seeds`` seeds
    ``p +- eps lambda_u^s v_u`` (``s`` evenly in ``[0, 1)``, a fundamental domain on each side; ``eps`` must
    lie inside the local chord) iterated forward ``n_steps`` times. Returns ``(n_steps + 1, 2 n_seeds, M)``:
    axis 1 holds the ``+v_u`` branch first, then the ``-v_u`` branch."""
    if not isinstance(saddle, Cycle) or not saddle.is_saddle or saddle.period != 1:
        raise ValueError(f"saddle must be a saddle fixed point (period 1); received {saddle!r}")
    space = local_space(model, saddle, 0, "unstable")
    if space.dim != 1:
        raise ValueError(f"the unstable manifold is {space.dim}-D; unstable_orbits traces 1-D ones")
    v, lam = space.basis[:, 0], float(abs(np.real(space.eigenvalues[0])))
    lo, hi = chord(model, space)
    if not (-lo > eps * lam and hi > eps * lam):
        raise ValueError(f"eps = {eps} times lambda_u = {lam:.4f} leaves the local chord [{lo:.3g}, {hi:.3g}]")
    a = eps * lam ** (np.arange(check_positive_int("n_seeds", n_seeds)) / n_seeds)
    seeds = np.concatenate([saddle.points[0] + a[:, None] * v, saddle.points[0] - a[:, None] * v])
    out = np.empty((check_positive_int("n_steps", n_steps) + 1,) + seeds.shape)
    out[0] = seeds
    for t in range(n_steps):
        out[t + 1] = model.step(out[t])
    return out


def label_states(model: PiecewiseAffineMap, z: Any, attractors: list[Cycle], *, max_iter: int = 3000,
                 tol: float = 1e-3) -> np.ndarray:
    """Index of the stable fixed point (``attractors``) each state ``z (n, M)`` reaches within ``tol`` in
    at most ``max_iter`` steps; ``len(attractors)`` for states that reach none of them (another
    attractor, e.g. a limit cycle); -1 for states that diverge (``|z|_inf > 1e6``)."""
    z = check_states(z, model.M, "z").copy()
    if z.ndim != 2:
        raise ValueError(f"z must have shape (n, {model.M}); received shape {z.shape}")
    pts = np.stack([c.points[0] for c in attractors]) if attractors else np.zeros((0, model.M))
    labels = np.full(z.shape[0], len(attractors), dtype=np.int64)
    active = np.arange(z.shape[0])
    for _ in range(max_iter):
        z = model.step(z)
        if pts.shape[0]:
            d = np.linalg.norm(z[:, None, :] - pts[None], axis=2)
            near = d.min(1) <= tol
            labels[active[near]] = d.argmin(1)[near]
        else:
            near = np.zeros(z.shape[0], dtype=bool)
        far = ~np.all(np.abs(z) <= 1e6, axis=1)
        labels[active[far & ~near]] = -1
        keep = ~(near | far)
        active, z = active[keep], z[keep]
        if active.size == 0:
            break
    return labels


def bisect_boundary(label_fn: Callable[[np.ndarray], np.ndarray], a: Any, b: Any, n_bisect: int = 30
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Boundary crossings on segments ``a + t (b - a)``: for rows whose end points get different labels
    from ``label_fn(points (n, d)) -> (n,)``, ``n_bisect`` bisection steps locate the flip. Returns
    ``t (n,)`` (NaN where the labels agree) and the crossing points ``(n, d)``."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"a and b must be (n, d) arrays of one shape; received {a.shape} and {b.shape}")
    la, lb = label_fn(a), label_fn(b)
    ok = la != lb
    lo, hi = np.zeros(a.shape[0]), np.ones(a.shape[0])
    idx = np.flatnonzero(ok)
    for _ in range(check_positive_int("n_bisect", n_bisect)):
        if idx.size == 0:
            break
        mid = 0.5 * (lo[idx] + hi[idx])
        lm = label_fn(a[idx] + mid[:, None] * (b[idx] - a[idx]))
        same = lm == la[idx]
        lo[idx[same]] = mid[same]
        hi[idx[~same]] = mid[~same]
    t = np.where(ok, 0.5 * (lo + hi), np.nan)
    return t, a + np.nan_to_num(t)[:, None] * (b - a)


def probe_sides(label_fn: Callable[[np.ndarray], np.ndarray], points: Any, normals: Any, eps: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """Labels of ``points + eps normals`` and ``points - eps normals`` (each ``(n,)``)."""
    x, nrm = np.asarray(points, dtype=np.float64), np.asarray(normals, dtype=np.float64)
    if x.shape != nrm.shape:
        raise ValueError(f"points and normals must have one shape; received {x.shape} and {nrm.shape}")
    return label_fn(x + eps * nrm), label_fn(x - eps * nrm)


def mean_return_time(signal: Any) -> float:
    """Mean number of steps between upward crossings of the level ``mean + std`` by ``signal (T,)``
    (linearly interpolated); NaN with fewer than three crossings (no sustained oscillation)."""
    v = np.asarray(signal, dtype=np.float64)
    if v.ndim != 1:
        raise ValueError(f"signal must be 1-D; received shape {v.shape}")
    c = v - v.mean() - v.std()
    up = np.flatnonzero((c[:-1] < 0) & (c[1:] >= 0))
    if up.size < 3:
        return float("nan")
    frac = -c[up] / (c[up + 1] - c[up])
    return float(np.mean(np.diff(up + frac)))


def points_in_box(points: Any, center: Any, r: float, exclude: float = 0.0, n: int | None = None, seed: int = 0
                  ) -> np.ndarray:
    """The rows of ``points (n_points, M)`` with ``|x - center|_inf <= r`` and ``|x - center|_2 > exclude``;
    with ``n``, at most ``n`` of them, drawn at random (a permutation from
    ``numpy.random.default_rng(seed)``, cut after ``n``)."""
    x = np.asarray(points, dtype=np.float64)
    c = np.asarray(center, dtype=np.float64)
    keep = np.all(np.abs(x - c) <= r, axis=1) & (np.linalg.norm(x - c, axis=1) > exclude)
    x = x[keep]
    if n is None:
        return x
    return x[np.random.default_rng(seed).permutation(x.shape[0])[:check_positive_int("n", n)]]
