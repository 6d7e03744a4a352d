"""The ODE systems behind the paper's trained examples (its Fig. 4): vector fields, Jacobians,
equilibria.

* Duffing oscillator (Fig. 4A): ``x'' + delta x' + alpha x + beta x^3 = 0`` with ``alpha = -1,
  beta = 0.1, delta = 0.5`` (bistable; saddle at the origin, stable foci at ``(+-sqrt(-alpha/beta), 0)``);
* Lorenz-63 (Fig. 4C): ``sigma = 10, rho = 28, beta = 8/3``;
* two-choice decision model (Fig. 4B, competition through shared inhibition): states
  ``(h_E1, h_E2, h_inh)``, ``tau_E h_E' = -h_E + w_EE g(h_E) + w_EI gamma h_inh + R I``,
  ``tau_inh h_inh' = -h_inh + w_IE (g(h_E1) + g(h_E2))``, ``g(h) = 1 / (1 + exp(-(h - theta)))``.

Vector fields take ``x (..., d)``; Jacobians one state ``(d,)``. :func:`equilibrium` refines a guess
with Newton's method on the analytic Jacobian.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["OdeSystem", "duffing", "lorenz63", "decision", "equilibrium"]


@dataclass
class OdeSystem:
    """``name``, ``dim``, ``f(x (..., d)) -> (..., d)``, ``jacobian(x (d,)) -> (d, d)``, ``params``."""

    name: str
    dim: int
    f: Callable[[np.ndarray], np.ndarray]
    jacobian: Callable[[np.ndarray], np.ndarray]
    params: dict = field(default_factory=dict)


def duffing(alpha: float = -1.0, beta: float = 0.1, delta: float = 0.5) -> OdeSystem:
    """``x' = v``, ``v' = -delta v - alpha x - beta x^3``."""

    def f(s):
        s = np.asarray(s, dtype=np.float64)
        x, v = s[..., 0], s[..., 1]
        return np.stack([v, -delta * v - alpha * x - beta * x ** 3], -1)

    def jac(s):
        x = float(np.asarray(s)[0])
        return np.array([[0.0, 1.0], [-alpha - 3 * beta * x * x, -delta]])

    return OdeSystem("duffing", 2, f, jac, dict(alpha=alpha, beta=beta, delta=delta))


def lorenz63(sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0) -> OdeSystem:
    """``x' = sigma (y - x)``, ``y' = x (rho - z) - y``, ``z' = x y - beta z``."""

    def f(s):
        s = np.asarray(s, dtype=np.float64)
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], -1)

    def jac(s):
        x, y, z = (float(v) for v in np.asarray(s))
        return np.array([[-sigma, sigma, 0.0], [rho - z, -1.0, -x], [y, x, -beta]])

    return OdeSystem("lorenz63", 3, f, jac, dict(sigma=sigma, rho=rho, beta=beta))


def decision(tau_e: float = 10.0, tau_inh: float = 5.0, w_ee: float = 16.0, w_ei: float = -15.0, w_ie: float = 12.0,
             R: float = 1.0, I1: float = 40.0, I2: float = 40.0, gamma: float = 1.0, theta: float = 5.0) -> OdeSystem:
    """The two-choice decision model (module docstring); states ``(h_E1, h_E2, h_inh)``."""

    def g(h):
        return 1.0 / (1.0 + np.exp(-(h - theta)))

    def f(s):
        s = np.asarray(s, dtype=np.float64)
        h1, h2, hi = s[..., 0], s[..., 1], s[..., 2]
        return np.stack([(-h1 + w_ee * g(h1) + w_ei * gamma * hi + R * I1) / tau_e,
                         (-h2 + w_ee * g(h2) + w_ei * gamma * hi + R * I2) / tau_e,
                         (-hi + w_ie * (g(h1) + g(h2))) / tau_inh], -1)

    def jac(s):
        h1, h2, _ = (float(v) for v in np.asarray(s))
        d1, d2 = g(h1) * (1 - g(h1)), g(h2) * (1 - g(h2))
        return np.array([[(-1 + w_ee * d1) / tau_e, 0.0, w_ei * gamma / tau_e],
                         [0.0, (-1 + w_ee * d2) / tau_e, w_ei * gamma / tau_e],
                         [w_ie * d1 / tau_inh, w_ie * d2 / tau_inh, -1 / tau_inh]])

    return OdeSystem("decision", 3, f, jac, dict(tau_e=tau_e, tau_inh=tau_inh, w_ee=w_ee, w_ei=w_ei, w_ie=w_ie, R=R,
                                                 I1=I1, I2=I2, gamma=gamma, theta=theta))


def equilibrium(system: OdeSystem, guess, n_newton: int = 100, tol: float = 1e-14) -> np.ndarray:
    """Newton's method on ``f(x) = 0`` from ``guess (d,)``; raises ValueError if it does not converge."""
    x = np.asarray(guess, dtype=np.float64).copy()
    if x.shape != (system.dim,):
        raise ValueError(f"guess must have shape ({system.dim},); received {x.shape}")
    for _ in range(n_newton):
        r = system.f(x)
        if np.max(np.abs(r)) <= tol:
            return x
        x = x - np.linalg.solve(system.jacobian(x), r)
    if np.max(np.abs(system.f(x))) <= 1e-10:
        return x
    raise ValueError(f"Newton's method did not converge from {guess} (|f| = {np.max(np.abs(system.f(x))):.3g})")
