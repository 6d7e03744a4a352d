"""Reference invariant manifolds of the ODEs and the flow cross-check ``delta_ODE``.

The paper compares the manifolds of trained RNNs with those of the true systems, computed by
numerical continuation. This book approximates them by integration (and says so on its pages):

* :func:`stable_manifold_1d` -- the 1-D stable manifold of a saddle of a planar system (the Duffing
  separatrix): integrate **backward** in time from ``p +- eps v_s`` until the orbit leaves a box;
* :func:`unstable_manifold_1d` -- a 1-D unstable manifold (Lorenz-63's ``W^u(0)``): integrate forward
  from ``p +- eps v_u``;
* :func:`stable_manifold_2d` -- a 2-D stable manifold (Lorenz-63's ``W^s(0)``): a small circle in the
  stable eigenplane integrated backward in time (vectorised RK4), inserting points where neighbours
  separate by more than ``max_gap``, dropping points beyond ``max_norm``; the result is the point
  cloud swept by the circle (backward time attracts onto ``W^s``, so errors shrink);
* :func:`delta_ode` -- the book's cross-check of a learned manifold against the true flow: map its
  points to the system's units, integrate the ODE forward (stable) or backward (unstable) and take
  the paper's ratio ``min_t |phi_t(x) - p|^2 / |x - p|^2`` with the ODE's saddle ``p``.

:func:`rk4` is the fixed-step integrator used for many points at once; :func:`polyline_distance`
the distance from points to a polyline.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.integrate import solve_ivp

from reprokit.checks import check_choice, check_positive_int

from .dynsys import ODESystem

__all__ = ["rk4", "eigendirections", "stable_manifold_1d", "unstable_manifold_1d", "stable_manifold_2d",
           "delta_ode", "polyline_distance"]


def rk4(system: ODESystem, x: np.ndarray, dt: float, n_steps: int) -> np.ndarray:
    """``n_steps`` classical Runge--Kutta steps of size ``dt`` (negative: backward) for states ``x (..., d)``;
    returns the final states."""
    f = system.rhs
    for _ in range(n_steps):
        k1 = f(x)
        k2 = f(x + 0.5 * dt * k1)
        k3 = f(x + 0.5 * dt * k2)
        k4 = f(x + dt * k3)
        x = x + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    return x


def eigendirections(system: ODESystem, p: Any) -> dict[str, np.ndarray]:
    """Real eigenvalues/eigenvectors of ``df/dx`` at a saddle ``p``: ``stable (d, k)`` unit vectors
    (columns, Re lambda < 0, real and imaginary parts of complex pairs) and ``unstable``, with their
    eigenvalues ``lam_s``, ``lam_u``."""
    lam, V = np.linalg.eig(system.jacobian(np.asarray(p, dtype=np.float64)))
    out = {}
    for name, sel in (("stable", lam.real < 0), ("unstable", lam.real > 0)):
        vecs = []
        for v, l in zip(V[:, sel].T, lam[sel]):
            if abs(l.imag) > 1e-12:
                if l.imag > 0:
                    vecs += [v.real, v.imag]
            else:
                vecs.append(v.real)
        B = np.array(vecs).T if vecs else np.zeros((lam.size, 0))
        out[name] = B / np.linalg.norm(B, axis=0, keepdims=True) if B.size else B
        out["lam_" + name[0]] = lam[sel]
    return out


def _integrate_branch(system: ODESystem, x0: np.ndarray, t_max: float, dt: float, bound: float) -> np.ndarray:
    """Orbit of ``x0`` sampled every ``|dt|`` (sign of ``dt`` = time direction) until ``|x|_inf > bound``."""
    sgn = np.sign(dt)

    def leave(t, v):
        return bound - np.max(np.abs(v))

    leave.terminal = True
    t_eval = np.arange(0.0, t_max, abs(dt))
    sol = solve_ivp(lambda t, v: sgn * system.rhs(v), (0.0, t_max), x0, method="DOP853", t_eval=t_eval, rtol=1e-10,
                    atol=1e-12, events=leave)
    return sol.y.T


def stable_manifold_1d(system: ODESystem, p: Any, *, eps: float = 1e-6, t_max: float = 60.0, dt: float = 0.01,
                       bound: float = 12.0) -> list[np.ndarray]:
    """The two branches ``[(n1, d), (n2, d)]`` of the 1-D stable manifold of the saddle ``p`` (backward
    integration from ``p +- eps v_s`` until ``|x|_inf > bound`` or ``t_max``)."""
    e = eigendirections(system, p)
    if e["stable"].shape[1] != 1:
        raise ValueError(f"the stable manifold at {p} is {e['stable'].shape[1]}-D; this function traces 1-D ones")
    v = e["stable"][:, 0]
    return [_integrate_branch(system, np.asarray(p) + s * eps * v, t_max, -dt, bound) for s in (1, -1)]


def unstable_manifold_1d(system: ODESystem, p: Any, *, eps: float = 1e-6, t_max: float = 20.0, dt: float = 0.01,
                         bound: float = 1e3) -> list[np.ndarray]:
    """The two branches of the 1-D unstable manifold of the saddle ``p`` (forward integration from
    ``p +- eps v_u``)."""
    e = eigendirections(system, p)
    if e["unstable"].shape[1] != 1:
        raise ValueError(f"the unstable manifold at {p} is {e['unstable'].shape[1]}-D; this function traces 1-D ones")
    v = e["unstable"][:, 0]
    return [_integrate_branch(system, np.asarray(p) + s * eps * v, t_max, dt, bound) for s in (1, -1)]


def stable_manifold_2d(system: ODESystem, p: Any, *, radius: float = 1e-3, n_ring: int = 200, dt: float = 0.002,
                       t_max: float = 5.0, max_gap: float = 0.5, max_norm: float = 60.0, max_points: int = 20000,
                       record_every: int = 10) -> np.ndarray:
    """Points ``(n, d)`` of the 2-D stable manifold of the saddle ``p``: a circle of ``radius`` in the stable
    eigenplane (``n_ring`` points) integrated backward in time by RK4 steps of ``dt`` up to ``t_max``;
    every ``record_every`` steps the ring is stored, a point is inserted between neighbours farther
    apart than ``max_gap`` (up to ``max_points`` ring points) and points beyond ``max_norm`` stop."""
    p = np.asarray(p, dtype=np.float64)
    E = eigendirections(system, p)["stable"]
    if E.shape[1] != 2:
        raise ValueError(f"the stable manifold at {p} is {E.shape[1]}-D; this function traces 2-D ones")
    n_ring = check_positive_int("n_ring", n_ring, minimum=8)
    th = np.linspace(0, 2 * np.pi, n_ring, endpoint=False)
    ring = p + radius * (np.cos(th)[:, None] * E[:, 0] + np.sin(th)[:, None] * E[:, 1])
    alive = np.ones(n_ring, dtype=bool)
    cloud = [ring.copy()]
    for step in range(int(round(t_max / dt / record_every))):
        ring[alive] = rk4(system, ring[alive], -dt, record_every)
        alive &= np.all(np.isfinite(ring), axis=1) & (np.linalg.norm(ring - p, axis=1) <= max_norm)
        cloud.append(ring[alive].copy())
        if not np.any(alive):
            break
        # refine: insert midpoints (of the previous states' neighbours) where live neighbours separate
        nxt = np.roll(ring, -1, axis=0)
        both = alive & np.roll(alive, -1)
        gap = np.linalg.norm(nxt - ring, axis=1)
        ins = np.flatnonzero(both & (gap > max_gap))
        if ins.size and ring.shape[0] + ins.size <= max_points:
            mid = 0.5 * (ring[ins] + nxt[ins])
            ring = np.insert(ring, ins + 1, mid, axis=0)
            alive = np.insert(alive, ins + 1, True)
    return np.concatenate(cloud)


def delta_ode(system: ODESystem, x: Any, p: Any, kind: str, *, t_max: float = 5.0, dt: float = 0.005) -> np.ndarray:
    """The paper's ratio evaluated with the true flow: ``min_{0 <= t <= t_max} |phi_{+-t}(x) - p|^2 / |x - p|^2``
    for ``x (n, d)`` in the system's units, forward for ``kind="stable"``, backward for ``"unstable"``
    (RK4 steps of ``dt``). Points on the ODE's manifold give values near 0."""
    check_choice("kind", kind, ("stable", "unstable"))
    x = np.asarray(x, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != system.dim:
        raise ValueError(f"x must have shape (n, {system.dim}); received shape {x.shape}")
    d0 = ((x - p) ** 2).sum(1)
    best = np.ones(x.shape[0])
    cur = x.copy()
    h = dt if kind == "stable" else -dt
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(int(round(t_max / dt))):
            cur = rk4(system, cur, h, 1)
            r = ((cur - p) ** 2).sum(1) / d0
            best = np.fmin(best, np.where(np.isfinite(r), r, np.inf))
    return best


def polyline_distance(x: Any, polylines: list[np.ndarray] | np.ndarray) -> np.ndarray:
    """Distance from points ``x (n, d)`` to the nearest segment of the polylines (each ``(m_i, d)``)."""
    x = np.asarray(x, dtype=np.float64)
    lines = [polylines] if isinstance(polylines, np.ndarray) else list(polylines)
    a = np.concatenate([l[:-1] for l in lines if len(l) > 1])
    b = np.concatenate([l[1:] for l in lines if len(l) > 1])
    best = np.full(x.shape[0], np.inf)
    ab = b - a
    L2 = np.maximum((ab ** 2).sum(1), 1e-300)
    step = max(1, 2_000_000 // max(1, a.shape[0]))
    for s in range(0, x.shape[0], step):
        rel = x[s:s + step, None, :] - a[None]
        t = np.clip((rel * ab[None]).sum(-1) / L2, 0.0, 1.0)
        d = rel - t[..., None] * ab[None]
        best[s:s + step] = np.sqrt((d ** 2).sum(-1).min(1))
    return best
