"""The vector case (Section 3): ``N = 2``, ``n = 1``, ``w_1 ∈ R^{k x 1}``, ``w_2 ∈ R^{1 x k}``,
``z = w_2 w_1``, ``g = f(z)`` for a scalar cost ``f`` (a :class:`overparam.costs.ScalarCost`).

Eq. (7): ``ẇ_1 = -f'(z) w_2ᵀ``, ``ẇ_2ᵀ = -f'(z) w_1``. With ``s = sign f'(0)`` and (App. A.4)

    S = ||w_1||² + ||w_2||²,  D = S² - 4z²,  u = w_1 - s w_2ᵀ,  v = w_1 + s w_2ᵀ,  d = ||u||,

the flow reduces to ``ż = -S f'(z)``, ``Ṡ = -4 z f'(z)``, ``u̇ = s f'(z) u``, ``v̇ = -s f'(z) v``:
``u`` and ``v`` keep their directions, ``D = ||u||² ||v||²`` is conserved and equals Prop. 7's
imbalance metric ``c = 2 tr(C²) - (tr C)²`` with ``C = w_1 w_1ᵀ - w_2ᵀ w_2``. The bad set (the
points that converge to the origin) is ``{u = 0} = {w_1 = s w_2ᵀ}`` (Prop. 5), which depends on
``f`` only through ``s``.

Vectors may be given as ``(k, 1)``/``(1, k)`` matrices or as 1-D ``(k,)`` arrays; results use
``w_1 (k, 1)``, ``w_2 (1, k)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from reprokit.checks import check_finite_number

from ._arrays import check_time, to_numpy
from .costs import ScalarCost


def as_vectors(w1: Any, w2: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(w_1, w_2ᵀ)`` as 1-D float64 arrays ``(k,)``; ``w_1`` must be ``(k,)`` or ``(k, 1)``,
    ``w_2`` ``(k,)`` or ``(1, k)``."""
    a, b = to_numpy(w1, "w1"), to_numpy(w2, "w2")
    if not (a.ndim == 1 or (a.ndim == 2 and a.shape[1] == 1)):
        raise ValueError(f"w1 must be a column (k, 1) or a vector (k,); received shape {a.shape}")
    if not (b.ndim == 1 or (b.ndim == 2 and b.shape[0] == 1)):
        raise ValueError(f"w2 must be a row (1, k) or a vector (k,); received shape {b.shape}")
    a, b = a.reshape(-1).copy(), b.reshape(-1).copy()
    if a.size != b.size:
        raise ValueError(f"w1 and w2 must have the same width k; received {a.size} and {b.size}")
    return a, b


def as_weights(w1: Any, w2: Any) -> list[np.ndarray]:
    """``[w_1 (k, 1), w_2 (1, k)]`` for the generic flows of :mod:`overparam.flows`."""
    a, b = as_vectors(w1, w2)
    return [a[:, None], b[None, :]]


@dataclass(frozen=True)
class Reduced:
    """The reduced coordinates of a vector-case point (App. A.4); ``u``, ``v`` are ``(k,)``."""

    z: float
    S: float
    D: float
    u: np.ndarray
    v: np.ndarray
    s: int

    @property
    def d(self) -> float:
        """``d = ||w_1 - s w_2ᵀ||``, the distance to the bad set (Prop. 5)."""
        return float(np.linalg.norm(self.u))


def reduced(w1: Any, w2: Any, s: int) -> Reduced:
    """``z, S, D, u, v`` of a point for the sign ``s = sign f'(0) ∈ {-1, +1}``."""
    if s not in (-1, 1):
        raise ValueError(f"s must be sign f'(0), -1 or +1; received {s!r}")
    a, b = as_vectors(w1, w2)
    z = float(b @ a)
    big_s = float(a @ a + b @ b)
    return Reduced(z=z, S=big_s, D=big_s**2 - 4 * z**2, u=a - s * b, v=a + s * b, s=s)


def imbalance_metric(w1: Any, w2: Any) -> float:
    """Prop. 7's ``c = 2 tr(C²) - (tr C)²`` with ``C = w_1 w_1ᵀ - w_2ᵀ w_2`` (``k x k``).
    Equals ``S² - 4z² = ||u||² ||v||² >= 0``; for ``k = 1`` it is ``(w_1² - w_2²)²`` (E4)."""
    a, b = as_vectors(w1, w2)
    c = np.outer(a, a) - np.outer(b, b)
    return float(2 * np.trace(c @ c) - np.trace(c) ** 2)


def bad_set_distance(w1: Any, w2: Any, s: int) -> float:
    """``d(w_1, w_2) = ||w_1 - s w_2ᵀ||`` (Prop. 5: ``d > 0`` ⇒ convergence to ``G_f``)."""
    return reduced(w1, w2, s).d


def limit_product(cost: ScalarCost, z0: float, c: float, *, first_step: float = 1e-3, reach: float = 1e6) -> float:
    """``z* = lim z(t)`` from ``z0`` on a leaf with imbalance metric ``c >= 0``: the first zero of
    ``√(c + 4z²) f'(z)`` met when moving from ``z0`` in the direction ``-sign f'(z0)`` (``z`` is
    monotone, App. A.4). With ``c = 0`` that zero may be ``z = 0`` (the origin). Found by marching
    with growing steps from ``first_step`` and ``brentq``; assumes zeros of ``f'`` further apart
    than the local step."""
    z0 = check_finite_number("z0", z0)
    c = check_finite_number("c", c, minimum=0.0)
    speed = lambda z: np.sqrt(c + 4 * z * z) * float(cost.d1(np.float64(z)))  # noqa: E731
    v0 = speed(z0)
    if v0 == 0:
        return z0
    direction = -np.sign(v0)
    z, step = z0, first_step * max(1.0, abs(z0))
    while abs(z - z0) < reach:
        z_next = z + direction * step
        if c == 0 and z * z_next <= 0:  # balanced leaf: S = 2|z| vanishes at z = 0 (the origin)
            return 0.0
        v_next = speed(z_next)
        if v_next == 0:
            return float(z_next)
        if np.sign(v_next) != np.sign(v0):
            return float(brentq(speed, min(z, z_next), max(z, z_next), xtol=1e-15, rtol=4 * np.finfo(float).eps))
        z, step = z_next, min(step * 1.25, 0.05 * max(1.0, abs(z_next)))
    raise ValueError(f"no zero of f' within {reach} of z0 = {z0} in the direction of motion (is f proper?)")


def predicted_limit(cost: ScalarCost, w1: Any, w2: Any) -> tuple[np.ndarray, np.ndarray]:
    """The limit point of Eq. (7) in closed form (derived for this book, App. A.4's reduction):
    with ``z* = ``:func:`limit_product` and ``c = D``, ``||u*||² = (-4 s z* + √(16 z*² + 4c)) / 2``,
    ``||v*||² = ||u*||² + 4 s z*``, ``u* ∥ u_0``, ``v* ∥ v_0``, ``w_1* = (u* + v*)/2``,
    ``w_2*ᵀ = s (v* - u*)/2``. Returns ``(w_1* (k, 1), w_2* (1, k))``."""
    s = cost.sign0
    if s == 0:
        raise ValueError("f'(0) = 0: the bad set of Prop. 5 is not defined (s = sign f'(0) must be ±1)")
    r = reduced(w1, w2, s)
    c = max(r.D, 0.0)
    z_star = limit_product(cost, r.z, c)
    nu2 = (-4 * s * z_star + np.sqrt(16 * z_star**2 + 4 * c)) / 2
    nv2 = nu2 + 4 * s * z_star
    nu, nv = np.linalg.norm(r.u), np.linalg.norm(r.v)
    u_star = r.u / nu * np.sqrt(max(nu2, 0.0)) if nu > 0 else np.zeros_like(r.u)
    v_star = r.v / nv * np.sqrt(max(nv2, 0.0)) if nv > 0 else np.zeros_like(r.v)
    return ((u_star + v_star) / 2)[:, None], (s * (v_star - u_star) / 2)[None, :]


def origin_hessian(fprime0: float, k: int) -> np.ndarray:
    """The Hessian of ``g`` at the origin, ``f'(0) [[0, I_k], [I_k, 0]]`` (coordinates ``w_1`` then
    ``w_2``); eigenvalues ``±|f'(0)|``, each ``k`` times."""
    eye = np.eye(k)
    zero = np.zeros((k, k))
    return float(fprime0) * np.block([[zero, eye], [eye, zero]])


def stable_subspace(hess: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Orthonormal basis ``(2k, m)`` of the stable eigenspace of the flow ``ẋ = -H x`` at a critical
    point: the eigenvectors of ``H`` with eigenvalues ``> tol``."""
    vals, vecs = np.linalg.eigh(hess)
    return vecs[:, vals > tol]


def point_with(z0: float, c: float, k: int = 1, s: int = -1, seed: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A point ``(w_1 (k, 1), w_2 (1, k))`` with product ``z0`` and imbalance metric ``c``:
    ``||u||² = (-4 s z0 + √(16 z0² + 4c))/2``, ``||v||² = ||u||² + 4 s z0`` (directions ``+1`` for
    ``k = 1``, seeded random unit vectors otherwise)."""
    z0, c = check_finite_number("z0", z0), check_finite_number("c", c, minimum=0.0)
    if s not in (-1, 1):
        raise ValueError(f"s must be -1 or +1; received {s!r}")
    nu2 = (-4 * s * z0 + np.sqrt(16 * z0**2 + 4 * c)) / 2
    nv2 = nu2 + 4 * s * z0
    if k == 1 or seed is None:
        du, dv = np.eye(k)[0], np.eye(k)[0]
    else:
        rng = np.random.default_rng(seed)
        du, dv = rng.standard_normal(k), rng.standard_normal(k)
        du, dv = du / np.linalg.norm(du), dv / np.linalg.norm(dv)
    u, v = np.sqrt(max(nu2, 0.0)) * du, np.sqrt(max(nv2, 0.0)) * dv
    return ((u + v) / 2)[:, None], (s * (v - u) / 2)[None, :]


def stable_set_flow(cost: ScalarCost, v_norm0: float, t1: float, t_eval: np.ndarray | None = None,
                    rtol: float = 1e-12, atol: float = 1e-14) -> tuple[np.ndarray, np.ndarray]:
    """The reduced flow on the bad set ``{u = 0}``: ``v̇ = -s f'(s ||v||²/4) v``, integrated for
    ``log ||v||`` (so that ``||v||`` can fall to ``1e-35`` without round-off). Returns ``(t, ||v(t)||)``."""
    s = cost.sign0
    v_norm0 = check_finite_number("v_norm0", v_norm0, minimum=0.0, strict=True)
    t1 = check_time("t1", t1)
    rhs = lambda t, y: [-s * float(cost.d1(np.float64(s * np.exp(2 * y[0]) / 4)))]  # noqa: E731
    sol = solve_ivp(rhs, (0.0, t1), [np.log(v_norm0)], method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval)
    return sol.t, np.exp(sol.y[0])
