"""The local manifold of a saddle cycle (the start of the paper's Algorithm 1).

At the cycle point ``p_j`` the k-step Jacobian ``J^{(j)}`` is the derivative of ``F^k``. Its
eigenvectors with ``|lambda| < 1`` (``kind="stable"``, the paper's ``sigma = +1``) or
``|lambda| > 1`` (``kind="unstable"``, ``sigma = -1``) span ``E^sigma``; a complex pair contributes
its real and imaginary parts (a plane). Orthonormalised (QR) they give the basis ``E (M, d)``.
Because ``E`` is ``J^{(j)}``-invariant, ``J^{(j)} E = E B`` with ``B = E^T J^{(j)} E (d, d)``: in
coefficients ``x = p_j + E a`` one period of the map is exactly ``a -> B a`` as long as the orbit
keeps the cycle's region sequence (the map is affine there). The **local piece** is the set of such
points whose forward (stable) or backward (unstable) orbit keeps that itinerary; for a 1-D piece
it is an interval, the *chord* (:func:`chord`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from reprokit.checks import check_choice

from .models import PiecewiseAffineMap
from .scyfi import Cycle

__all__ = ["LocalSpace", "local_space", "chord", "itinerary_interval", "KINDS", "sigma_of"]

KINDS = ("stable", "unstable")


def sigma_of(kind: str) -> int:
    """The paper's ``sigma``: ``+1`` for the stable, ``-1`` for the unstable manifold."""
    return {"stable": 1, "unstable": -1}[check_choice("kind", kind, KINDS)]


@dataclass
class LocalSpace:
    """``E^sigma`` at cycle point ``j``: ``basis (M, d)`` orthonormal, ``B (d, d)`` the k-step map in
    its coefficients, ``eigenvalues (d,)`` the multipliers it carries, ``point (M,)``, ``kind``."""

    cycle: Cycle
    j: int
    kind: str
    point: np.ndarray
    basis: np.ndarray
    B: np.ndarray
    eigenvalues: np.ndarray

    @property
    def dim(self) -> int:
        return int(self.basis.shape[1])


def local_space(model: PiecewiseAffineMap, cycle: Cycle, j: int, kind: str) -> LocalSpace:
    """The eigenspace ``E^sigma`` of the k-step Jacobian at ``cycle.points[j]`` (module docstring).
    Raises ValueError unless the cycle is a hyperbolic saddle."""
    check_choice("kind", kind, KINDS)
    if cycle.stability != "saddle":
        raise ValueError(f"stable and unstable manifolds are built for saddle cycles; this cycle is "
                         f"{cycle.stability!r} (multipliers {np.round(cycle.eigenvalues, 6)})")
    jac = cycle.point_jacobian(model, j)
    vals, vecs = np.linalg.eig(jac)
    sel = np.abs(vals) < 1 if kind == "stable" else np.abs(vals) > 1
    cols = []
    done = np.zeros(vals.size, dtype=bool)
    for i in np.flatnonzero(sel):
        if done[i]:
            continue
        v = vecs[:, i]
        if abs(vals[i].imag) > 1e-12:
            cols += [v.real, v.imag]
            partner = np.flatnonzero(sel & ~done & (np.abs(vals - np.conj(vals[i])) < 1e-9))
            done[partner] = True
        else:
            cols.append(v.real)
        done[i] = True
    basis, _ = np.linalg.qr(np.stack(cols, axis=1))
    # a canonical sign: the first non-negligible entry of every column positive
    for c in range(basis.shape[1]):
        lead = np.flatnonzero(np.abs(basis[:, c]) > 1e-12)[0]
        if basis[lead, c] < 0:
            basis[:, c] *= -1
    B = basis.T @ jac @ basis
    return LocalSpace(cycle=cycle, j=j, kind=kind, point=cycle.points[j].copy(), basis=basis, B=B,
                      eigenvalues=vals[sel])


def itinerary_interval(model: PiecewiseAffineMap, cycle: Cycle, j: int, v: np.ndarray) -> tuple[float, float]:
    """The interval ``I = [lo, hi]`` of coefficients ``a`` for which ``p_j + a v`` keeps the cycle's
    region sequence for one period (``k`` forward steps along ``w_0 = v``, ``w_{i+1} = J_i w_i``).
    Each step and switching unit gives one linear inequality in ``a``."""
    k = cycle.period
    Js, _ = model.affine_of_code(cycle.codes)
    units = model.switching_units
    lo, hi = -np.inf, np.inf
    w = np.asarray(v, dtype=np.float64)
    for i in range(k):
        idx = (j + i) % k
        p = cycle.points[idx]
        bits = model.pattern_of_code(cycle.codes[idx])[units]
        alpha = model.G[units] @ p + model.g[units]
        beta = model.G[units] @ w
        for a_u, b_u, on in zip(alpha, beta, bits):
            sgn = 1.0 if on else -1.0  # need sgn * (a_u + b_u a) >= 0
            a_s, b_s = sgn * a_u, sgn * b_u
            if abs(b_s) < 1e-300:
                if a_s < 0:
                    return 0.0, 0.0
                continue
            t = -a_s / b_s
            if b_s > 0:
                lo = max(lo, t)
            else:
                hi = min(hi, t)
        w = Js[idx] @ w
    return float(min(lo, 0.0)), float(max(hi, 0.0))


def chord(model: PiecewiseAffineMap, space: LocalSpace, half_length: float = np.inf, *, in_region: bool = False
          ) -> tuple[float, float]:
    """The exact local piece of a 1-D manifold as an interval ``[lo, hi]`` of coefficients along
    the unit vector ``space.basis[:, 0]`` (which contains 0). With ``I`` from
    :func:`itinerary_interval` (one period keeps the itinerary) and ``lambda`` the multiplier:

    * stable: ``C = I cap I / lambda`` -- every forward period keeps the itinerary (by convexity the
      later iterates ``lambda^n a`` then stay in ``I``);
    * unstable: ``C = lambda I cap lambda^2 I`` -- the whole backward orbit ``a / lambda^n``, ``n >= 1``,
      stays in ``I``. The point itself need not lie in ``p``'s region: it is the image of one that
      does. ``in_region=True`` returns ``C cap I``, the part inside the region (where one affine
      branch maps it; Algorithm 1 starts from that flat piece).

    Capped at ``|a| <= half_length``."""
    if space.dim != 1:
        raise ValueError(f"a chord is defined for a 1-D manifold; this one is {space.dim}-dimensional")
    lam = float(np.real(space.eigenvalues[0]))
    lo, hi = itinerary_interval(model, space.cycle, space.j, space.basis[:, 0])
    if space.kind == "stable":
        a, b = sorted((lo / lam, hi / lam))
        lo, hi = max(lo, a), min(hi, b)
    else:
        a, b = sorted((lo * lam, hi * lam))
        c, d = sorted((lo * lam * lam, hi * lam * lam))
        if in_region:
            a, b = max(a, lo), min(b, hi)
        lo, hi = max(a, c), min(b, d)
    lo, hi = max(lo, -half_length), min(hi, half_length)
    return float(lo), float(hi)
