"""Convergence speed (Prop. 7, Eqs. 19-20) and the escape times of balanced chains.

Vector case: ``ż = -f'(z) S`` with ``S = ||w_1||² + ||w_2||² = √(c + 4z²)`` (Eq. 19), so
``df/dt = -f'(z)² √(c + 4z²)`` (Eq. 20) and, in the time ``τ`` with ``dτ/dt = √(c + 4z²)``, ``z``
follows the plain flow ``dz/dτ = -f'(z)`` whatever ``c`` is. For ``f = (1 - z)²`` the time from
``z0`` to ``1 - ε`` has the closed form (derived for this book)

    T(c) = F(1 - ε) - F(z0),  F(z) = ln[(c + 4z + √(c+4) √(c + 4z²)) / (1 - z)] / (2 √(c + 4)),

``T(0) = ¼ ln[(1-ε)(1-z0)/(ε z0)]`` and ``√c T(c) → ½ ln((1 - z0)/ε)`` as ``c → ∞``.
"""

from __future__ import annotations

import numpy as np
from scipy.integrate import quad, solve_ivp

from reprokit.checks import check_finite_number

from ._arrays import check_time
from .costs import ScalarCost


def _check_rate_inputs(c, z0, eps) -> tuple[float, float, float]:
    c = check_finite_number("c (the imbalance metric)", c)
    if c < 0:
        raise ValueError(f"the imbalance metric c = 2 tr(C²) - (tr C)² is >= 0; received c = {c}")
    eps = check_finite_number("eps", eps)
    if not 0 < eps < 1:
        raise ValueError(f"eps must be in (0, 1) (the target is z = 1 - eps); received {eps}")
    z0 = check_finite_number("z0", z0)
    if z0 >= 1 - eps:
        raise ValueError(f"the start z0 must lie before the target 1 - eps = {1 - eps}; received z0 = {z0}")
    if c == 0 and z0 <= 0:
        raise ValueError(f"with c = 0 (balanced) the flow from z0 <= 0 never reaches 1 - eps (it stops at the origin); "
                         f"received z0 = {z0}")
    return c, z0, eps


def convergence_time(c: float, z0: float, eps: float) -> float:
    """Closed-form time ``T(c)`` for the flow ``ż = 2(1 - z) √(c + 4z²)`` (Prop. 7's setting with
    ``f = (1 - z)²``) to go from ``z0`` to ``1 - eps``; see the module docstring.

    ``c >= 0``: the imbalance metric; ``z0 < 1 - eps`` (and ``z0 > 0`` when ``c = 0``); ``0 < eps < 1``.
    """
    c, z0, eps = _check_rate_inputs(c, z0, eps)
    r = np.sqrt(c + 4.0)

    def big_f(z: float, one_minus_z: float) -> float:  # 1 - z passed separately: no cancellation at z = 1 - eps
        return np.log((c + 4 * z + r * np.sqrt(c + 4 * z * z)) / one_minus_z) / (2 * r)

    return float(big_f(1 - eps, eps) - big_f(z0, 1 - z0))


def convergence_time_quad(cost: ScalarCost, c: float, z0: float, z1: float) -> float:
    """``∫_{z0}^{z1} dz / (|f'(z)| √(c + 4z²))`` by adaptive quadrature (scipy ``quad``): the time
    the vector-case flow needs from product ``z0`` to ``z1`` on a leaf with metric ``c``."""
    c = check_finite_number("c", c, minimum=0.0)
    z0, z1 = check_finite_number("z0", z0), check_finite_number("z1", z1)
    integrand = lambda z: 1.0 / (abs(float(cost.d1(np.float64(z)))) * np.sqrt(c + 4 * z * z))  # noqa: E731
    lo, hi = min(z0, z1), max(z0, z1)
    value, _ = quad(integrand, lo, hi, epsabs=0, epsrel=1e-13, limit=200)
    return float(value)


def product_flow(cost: ScalarCost, c: float, z0: float, t1: float, *, t_eval: np.ndarray | None = None,
                 eps: float | None = None, rtol: float = 1e-12, atol: float = 1e-14):
    """Integrate ``ż = -f'(z) √(c + 4z²)`` with the clock ``τ̇ = √(c + 4z²)`` as a second state,
    from ``(z0, 0)`` over ``[0, t1]`` (DOP853). With ``eps``, stop when ``|z - z*| = eps``
    (``z* = cost.z_star``). Returns the ``solve_ivp`` solution (``y[0] = z``, ``y[1] = τ``;
    ``t_events[0]`` holds the stopping time)."""
    c = check_finite_number("c", c, minimum=0.0)
    z0 = check_finite_number("z0", z0)
    t1 = check_time("t1", t1)

    def rhs(t, y):
        speed = np.sqrt(c + 4 * y[0] ** 2)
        return [-float(cost.d1(np.float64(y[0]))) * speed, speed]

    events = None
    if eps is not None:
        target = cost.z_star
        hit = lambda t, y: abs(y[0] - target) - eps  # noqa: E731
        hit.terminal, hit.direction = True, -1
        events = [hit]
    return solve_ivp(rhs, (0.0, t1), [z0, 0.0], method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval, events=events)


def time_to_target(cost: ScalarCost, c: float, z0: float, eps: float, t_max: float = 1e4) -> float:
    """The event time of :func:`product_flow` (``inf`` if ``|z - z*| = eps`` is not reached by ``t_max``)."""
    sol = product_flow(cost, c, z0, t_max, eps=eps)
    return float(sol.t_events[0][0]) if len(sol.t_events[0]) else float("inf")


def collapsed_product(tau: np.ndarray, z0: float) -> np.ndarray:
    """For ``f = (1 - z)²``: ``z(τ) = 1 - (1 - z0) e^{-2τ}``, the solution of ``dz/dτ = -f'(z)`` that
    every leaf follows in its own clock ``τ`` (Prop. 7's mechanism)."""
    return 1 - (1 - z0) * np.exp(-2 * np.asarray(tau, dtype=np.float64))


def balanced_chain_time(cost: ScalarCost, depth: int, a: float, z1: float) -> float:
    """Time for a balanced scalar chain ``w_i = a > 0`` (``z = a^N``) to reach ``z1`` under Eq. (4):
    on the balanced leaf ``ż = N z^{2 - 2/N} (-f'(z))``, so ``T = ∫_{a^N}^{z1} dz / (N z^{2-2/N} |f'(z)|)``,
    computed by ``quad`` after the substitution ``z = e^σ`` (the integrand is steep near ``a^N``)."""
    if isinstance(depth, bool) or not isinstance(depth, (int, np.integer)) or depth < 2:
        raise ValueError(f"depth must be an int >= 2; received {depth!r}")
    a = check_finite_number("a", a, minimum=0.0, strict=True)
    z1 = check_finite_number("z1", z1, minimum=0.0, strict=True)
    z0 = a**depth
    if not z0 < z1:
        raise ValueError(f"need a^N = {z0} < z1 = {z1}")
    integrand = lambda sig: np.exp(sig * (2.0 / depth - 1.0)) / (depth * abs(float(cost.d1(np.float64(np.exp(sig))))))  # noqa: E731
    value, _ = quad(integrand, np.log(z0), np.log(z1), epsabs=0, epsrel=1e-13, limit=400)
    return float(value)
