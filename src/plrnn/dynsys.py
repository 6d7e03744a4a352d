"""The continuous-time systems the paper trains its RNNs on, their equilibria and their data.

Each system is an :class:`ODESystem`: a right-hand side ``f(x)`` (``x (..., d)``, vectorised), its
Jacobian ``jac(x)`` (``(..., d, d)``) and its parameters. Parameters are the paper's (Appendix H.3;
Figs. 2 and 4):

* :func:`duffing` -- unforced Duffing oscillator ``x'' + delta x' + alpha x + beta x^3 = 0`` with
  ``alpha = -1, beta = 0.1, delta = 0.5`` (Fig. 4A): saddle at the origin, stable foci at
  ``(+-sqrt(-alpha/beta), 0)``.
* :func:`decision` -- two excitatory populations competing through shared inhibition (Fig. 4B,
  after Gerstner et al.)::

      tau_E h_k' = -h_k + w_EE g(h_k) + w_EI gamma h_inh + R I_k    (k = 1, 2)
      tau_inh h_inh' = -h_inh + w_IE (g(h_1) + g(h_2)),   g(h) = 1 / (1 + exp(-(h - theta)))

  with state ``(h_1, h_2, h_inh)``; for ``I_1 = I_2`` the plane ``h_1 = h_2`` is invariant and is the
  exact boundary between the two choices.
* :func:`lorenz` -- Lorenz-63 with ``sigma = 10, rho = 28, beta = 8/3`` (Figs. 2 and 4C).
* :func:`oscillators` -- ten uncoupled damped nonlinear oscillators ``x_i'' = -alpha_i x_i - beta_i
  x_i^3 - gamma_i x_i'`` (Fig. 2's "10-D damped nonlinear oscillator"), state ``(x_1..x_10, y_1..y_10)``
  with ``y = x'``.
* :func:`hodgkin_huxley` -- the standard squid-axon Hodgkin--Huxley neuron (state ``(V, m, h, n)``,
  mV and ms) at a constant current where rest and repetitive spiking coexist: the book's simulated
  stand-in for the paper's cortical-neuron recording (Fig. 4D).

Data: :func:`simulate` integrates with :func:`scipy.integrate.solve_ivp` and samples every ``dt``;
:class:`Standardiser` z-scores per coordinate (and maps back); :func:`delay_embed` builds delay
vectors. :func:`ode_provenance` is the record of a data set (system, parameters, integrator,
tolerances, dt, number of trajectories, standardisation) for
:meth:`reprokit.records.Reproduction.add_data`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from scipy.integrate import solve_ivp
from scipy.optimize import fsolve

from reprokit.checks import check_positive_int
from reprokit.data import provenance

__all__ = ["ODESystem", "duffing", "decision", "lorenz", "oscillators", "hodgkin_huxley", "simulate",
           "Standardiser", "delay_embed", "ode_provenance", "equilibrium", "classify_equilibrium",
           "duffing_equilibria", "lorenz_equilibria", "decision_equilibria", "OSCILLATOR_PARAMS"]


@dataclass
class ODESystem:
    """An autonomous ODE ``x' = f(x)``: ``rhs(x)`` and ``jac(x)`` work on ``x (..., dim)``."""

    name: str
    dim: int
    params: dict[str, Any]
    rhs: Callable[[np.ndarray], np.ndarray]
    jac: Callable[[np.ndarray], np.ndarray]
    labels: tuple[str, ...] = field(default=())

    def __call__(self, x: Any) -> np.ndarray:
        return self.rhs(_states(x, self.dim))

    def jacobian(self, x: Any) -> np.ndarray:
        """``df/dx`` at ``x (..., dim)`` -> ``(..., dim, dim)``."""
        return self.jac(_states(x, self.dim))

    def time_reversed(self) -> "ODESystem":
        """``x' = -f(x)``: integrating it forward integrates this system backward in time."""
        return ODESystem(f"{self.name} (reversed time)", self.dim, self.params, lambda x: -self.rhs(x),
                         lambda x: -self.jac(x), self.labels)


def _states(x: Any, dim: int) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0 or arr.shape[-1] != dim:
        raise ValueError(f"states must have shape (..., {dim}); received shape {arr.shape}")
    return arr


# ---- the systems ---------------------------------------------------------------------------------
def duffing(alpha: float = -1.0, beta: float = 0.1, delta: float = 0.5) -> ODESystem:
    """Unforced Duffing oscillator as ``(x, y)' = (y, -delta y - alpha x - beta x^3)`` (paper Fig. 4A)."""
    def rhs(s):
        x, y = s[..., 0], s[..., 1]
        return np.stack([y, -delta * y - alpha * x - beta * x ** 3], -1)

    def jac(s):
        x = s[..., 0]
        out = np.zeros(s.shape + (2,))
        out[..., 0, 1] = 1.0
        out[..., 1, 0] = -alpha - 3 * beta * x ** 2
        out[..., 1, 1] = -delta
        return out

    return ODESystem("Duffing", 2, dict(alpha=alpha, beta=beta, delta=delta), rhs, jac, ("x", "y"))


def duffing_equilibria(alpha: float = -1.0, beta: float = 0.1) -> np.ndarray:
    """``(0, 0)`` and, for ``alpha / beta < 0``, ``(+-sqrt(-alpha / beta), 0)``: ``(n, 2)``."""
    pts = [[0.0, 0.0]]
    if alpha * beta < 0:
        r = np.sqrt(-alpha / beta)
        pts += [[r, 0.0], [-r, 0.0]]
    return np.array(pts)


def decision(tau_E: float = 10.0, tau_inh: float = 5.0, w_EE: float = 16.0, w_EI: float = -15.0, w_IE: float = 12.0,
             R: float = 1.0, I1: float = 40.0, I2: float = 40.0, gamma: float = 1.0, theta: float = 5.0) -> ODESystem:
    """Two-choice decision model with shared inhibition (paper Fig. 4B); state ``(h_E1, h_E2, h_inh)``."""
    I = np.array([I1, I2])

    def g(h):
        return 1.0 / (1.0 + np.exp(-(h - theta)))

    def rhs(s):
        hE, hi = s[..., :2], s[..., 2:3]
        dE = (-hE + w_EE * g(hE) + w_EI * gamma * hi + R * I) / tau_E
        di = (-hi[..., 0] + w_IE * g(hE).sum(-1)) / tau_inh
        return np.concatenate([dE, di[..., None]], -1)

    def jac(s):
        gp = g(s[..., :2]) * (1 - g(s[..., :2]))
        out = np.zeros(s.shape + (3,))
        for k in range(2):
            out[..., k, k] = (-1 + w_EE * gp[..., k]) / tau_E
            out[..., k, 2] = w_EI * gamma / tau_E
            out[..., 2, k] = w_IE * gp[..., k] / tau_inh
        out[..., 2, 2] = -1 / tau_inh
        return out

    params = dict(tau_E=tau_E, tau_inh=tau_inh, w_EE=w_EE, w_EI=w_EI, w_IE=w_IE, R=R, I1=I1, I2=I2, gamma=gamma,
                  theta=theta)
    return ODESystem("decision", 3, params, rhs, jac, ("h_E1", "h_E2", "h_inh"))


def lorenz(sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0) -> ODESystem:
    """Lorenz-63: ``(sigma (y - x), x (rho - z) - y, x y - beta z)``."""
    def rhs(s):
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        return np.stack([sigma * (y - x), x * (rho - z) - y, x * y - beta * z], -1)

    def jac(s):
        x, y, z = s[..., 0], s[..., 1], s[..., 2]
        out = np.zeros(s.shape + (3,))
        out[..., 0, 0], out[..., 0, 1] = -sigma, sigma
        out[..., 1, 0], out[..., 1, 1], out[..., 1, 2] = rho - z, -1.0, -x
        out[..., 2, 0], out[..., 2, 1], out[..., 2, 2] = y, x, -beta
        return out

    return ODESystem("Lorenz-63", 3, dict(sigma=sigma, rho=rho, beta=beta), rhs, jac, ("x", "y", "z"))


def lorenz_equilibria(sigma: float = 10.0, rho: float = 28.0, beta: float = 8.0 / 3.0) -> np.ndarray:
    """The origin and, for ``rho > 1``, ``C+- = (+-sqrt(beta (rho - 1)), +-sqrt(beta (rho - 1)), rho - 1)``."""
    pts = [[0.0, 0.0, 0.0]]
    if rho > 1:
        r = np.sqrt(beta * (rho - 1))
        pts += [[r, r, rho - 1], [-r, -r, rho - 1]]
    return np.array(pts)


#: Fig. 2's ten oscillators (paper Appendix H.3): ``alpha_i``, ``beta_i``, ``gamma_i``.
OSCILLATOR_PARAMS = dict(
    alpha=(1.0, 0.8, 0.9, 0.3, 0.3, 0.25, 0.5, 0.89, 0.73, 0.21),
    beta=(-0.02, -0.1, 0.01, -0.01, -0.01, 0.01, -0.06, -0.052, 0.03, -0.012),
    gamma=(0.1, 0.05, 0.12, 0.07, 0.0, 0.03, 0.09, 0.04, 0.06, 0.008),
)


def oscillators(alpha=OSCILLATOR_PARAMS["alpha"], beta=OSCILLATOR_PARAMS["beta"],
                gamma=OSCILLATOR_PARAMS["gamma"]) -> ODESystem:
    """Uncoupled damped nonlinear oscillators ``x_i' = y_i, y_i' = -alpha_i x_i - beta_i x_i^3 - gamma_i y_i``;
    state ``(x_1..x_n, y_1..y_n)``, ``n = len(alpha)``."""
    a, b, c = (np.asarray(v, dtype=np.float64) for v in (alpha, beta, gamma))
    if not (a.ndim == 1 and a.shape == b.shape == c.shape and a.size > 0):
        raise ValueError(f"alpha, beta, gamma must be vectors of one length; received shapes {a.shape}, {b.shape}, "
                         f"{c.shape}")
    n = a.size

    def rhs(s):
        x, y = s[..., :n], s[..., n:]
        return np.concatenate([y, -a * x - b * x ** 3 - c * y], -1)

    def jac(s):
        x = s[..., :n]
        out = np.zeros(s.shape + (2 * n,))
        idx = np.arange(n)
        out[..., idx, n + idx] = 1.0
        out[..., n + idx, idx] = -a - 3 * b * x ** 2
        out[..., n + idx, n + idx] = -c
        return out

    labels = tuple(f"x{i + 1}" for i in range(n)) + tuple(f"y{i + 1}" for i in range(n))
    return ODESystem(f"{n} damped nonlinear oscillators", 2 * n, dict(alpha=a.tolist(), beta=b.tolist(),
                                                                        gamma=c.tolist()), rhs, jac, labels)


#: Standard squid-axon parameters (mS/cm^2, mV, uF/cm^2), resting potential near -65 mV.
HH_PARAMS = dict(g_Na=120.0, g_K=36.0, g_L=0.3, E_Na=50.0, E_K=-77.0, E_L=-54.387, C=1.0)


def _hh_rates(V):
    """``(alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n)`` in 1/ms at ``V`` (mV)."""
    def vtrap(x, y):  # x / (1 - exp(-x / y)), finite at x = 0
        xs = np.where(np.abs(x) < 1e-7, 1e-7, x)
        return xs / -np.expm1(-xs / y)

    am = 0.1 * vtrap(V + 40.0, 10.0)
    bm = 4.0 * np.exp(-(V + 65.0) / 18.0)
    ah = 0.07 * np.exp(-(V + 65.0) / 20.0)
    bh = 1.0 / (1.0 + np.exp(-(V + 35.0) / 10.0))
    an = 0.01 * vtrap(V + 55.0, 10.0)
    bn = 0.125 * np.exp(-(V + 65.0) / 80.0)
    return am, bm, ah, bh, an, bn


def hodgkin_huxley(I: float = 8.0, **params: float) -> ODESystem:
    """Hodgkin--Huxley neuron ``C V' = I - g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K) - g_L (V - E_L)`` with the
    standard gating kinetics (``x' = alpha_x (1 - x) - beta_x x``); state ``(V, m, h, n)``, time in ms.

    At ``I = 8 uA/cm^2`` rest (V near -60.4 mV) coexists with repetitive spiking (period near 16 ms).
    The Jacobian is by central differences (the data generator never needs it; equilibria do)."""
    p = dict(HH_PARAMS)
    unknown = set(params) - set(p)
    if unknown:
        raise ValueError(f"unknown Hodgkin-Huxley parameters {sorted(unknown)}; expected some of {sorted(p)}")
    p.update({k: float(v) for k, v in params.items()})

    def rhs(s):
        V, m, h, n = s[..., 0], s[..., 1], s[..., 2], s[..., 3]
        am, bm, ah, bh, an, bn = _hh_rates(V)
        dV = (I - p["g_Na"] * m ** 3 * h * (V - p["E_Na"]) - p["g_K"] * n ** 4 * (V - p["E_K"])
              - p["g_L"] * (V - p["E_L"])) / p["C"]
        return np.stack([dV, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n], -1)

    def jac(s):
        eps = 1e-6 * np.maximum(1.0, np.abs(s))
        cols = []
        for k in range(4):
            e = np.zeros(4)
            e[k] = 1.0
            d = eps[..., k:k + 1]
            cols.append((rhs(s + d * e) - rhs(s - d * e)) / (2 * d))
        return np.stack(cols, -1)

    return ODESystem("Hodgkin-Huxley", 4, dict(I=I, **p), rhs, jac, ("V", "m", "h", "n"))


# ---- equilibria ------------------------------------------------------------------------------------
def equilibrium(system: ODESystem, guess: Any, tol: float = 1e-13) -> np.ndarray:
    """An equilibrium ``f(x*) = 0`` near ``guess`` (``scipy.optimize.fsolve`` with the analytic Jacobian);
    raises if the residual ``|f(x*)|_inf`` exceeds ``1e-9``."""
    guess = _states(guess, system.dim).astype(np.float64)
    x, info, ier, msg = fsolve(lambda v: system.rhs(v), guess, fprime=lambda v: system.jac(v), xtol=tol,
                               full_output=True)
    res = np.max(np.abs(system.rhs(x)))
    if not res <= 1e-9:
        raise ValueError(f"no equilibrium of {system.name} found near {guess.tolist()} (residual {res:.2e}: {msg})")
    return x


def classify_equilibrium(system: ODESystem, x: Any) -> dict[str, Any]:
    """Eigenvalues of ``df/dx`` at ``x`` and the type: ``"stable"`` (all Re < 0), ``"unstable"``
    (all Re > 0) or ``"saddle"``, with the number of unstable directions."""
    lam = np.linalg.eigvals(system.jacobian(x))
    n_u = int(np.sum(lam.real > 0))
    kind = "stable" if n_u == 0 else ("unstable" if n_u == lam.size else "saddle")
    return dict(point=np.asarray(x, dtype=np.float64), eigenvalues=lam[np.argsort(-lam.real)], kind=kind,
                n_unstable=n_u)


def decision_equilibria(system: ODESystem | None = None) -> dict[str, np.ndarray]:
    """The decision model's saddle (on ``h_1 = h_2``) and its two stable foci (mirror images):
    ``{"saddle": (3,), "focus_1": (3,), "focus_2": (3,)}`` (``focus_1`` has ``h_1 > h_2``)."""
    system = system if system is not None else decision()
    saddle = equilibrium(system, [2.9, 2.9, 2.6])
    a = equilibrium(system, [3.7, 0.5, 2.6])
    b = equilibrium(system, [0.5, 3.7, 2.6])
    return dict(saddle=saddle, focus_1=a, focus_2=b)


# ---- data --------------------------------------------------------------------------------------------
def simulate(system: ODESystem, x0: Any, dt: float, n_samples: int, *, transient: float = 0.0,
             method: str = "DOP853", rtol: float = 1e-10, atol: float = 1e-10, joint: bool = True) -> np.ndarray:
    """Integrate ``system`` from each initial state and sample every ``dt``.

    ``x0 (n_traj, dim)`` (or ``(dim,)``); returns ``(n_traj, n_samples, dim)`` (``(n_samples, dim)`` for a
    single start), the first sample at ``t = transient``. ``joint=True`` integrates all trajectories as
    one system of ``n_traj * dim`` equations (one solver call: much faster for many starts; the step
    size is shared, the error control stays per component), ``joint=False`` one call per start."""
    x0 = _states(x0, system.dim)
    single = x0.ndim == 1
    x0 = np.atleast_2d(x0)
    if x0.ndim != 2:
        raise ValueError(f"initial states must have shape (n_traj, {system.dim}); received shape {x0.shape}")
    n_samples = check_positive_int("n_samples", n_samples)
    if not dt > 0 or not transient >= 0:
        raise ValueError(f"dt must be > 0 and transient >= 0; received dt={dt}, transient={transient}")
    t_eval = transient + dt * np.arange(n_samples)
    d = system.dim
    groups = [np.arange(x0.shape[0])] if joint else [np.array([i]) for i in range(x0.shape[0])]
    out = np.empty((x0.shape[0], n_samples, d))
    for idx in groups:
        k = idx.size

        def f(t, v, k=k):
            return system.rhs(v.reshape(k, d)).ravel()

        options = {}
        if method in ("Radau", "BDF", "LSODA"):
            options["jac"] = lambda t, v, k=k: _block_diag(system.jac(v.reshape(k, d)))

        span = (0.0, float(t_eval[-1])) if t_eval[-1] > 0 else (0.0, float(dt))
        sol = solve_ivp(f, span, x0[idx].ravel(), method=method, t_eval=t_eval, rtol=rtol, atol=atol, **options)
        if not sol.success or sol.y.shape[1] != n_samples:
            raise RuntimeError(f"integration of {system.name} failed: {sol.message}")
        out[idx] = sol.y.T.reshape(n_samples, k, d).transpose(1, 0, 2)
    return out[0] if single else out


def _block_diag(blocks: np.ndarray) -> np.ndarray:
    """``(k, d, d)`` -> the ``(k d, k d)`` block-diagonal matrix."""
    k, d, _ = blocks.shape
    out = np.zeros((k * d, k * d))
    for i in range(k):
        out[i * d:(i + 1) * d, i * d:(i + 1) * d] = blocks[i]
    return out


@dataclass
class Standardiser:
    """Per-coordinate z-scoring ``u = (x - mean) / std``; ``mean, std (d,)``."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, x: Any) -> "Standardiser":
        """Mean and standard deviation over all axes but the last of ``x (..., d)``."""
        x = np.asarray(x, dtype=np.float64)
        flat = x.reshape(-1, x.shape[-1])
        std = flat.std(0)
        if np.any(std == 0):
            raise ValueError("a coordinate of the data is constant; it cannot be standardised")
        return cls(flat.mean(0), std)

    def __call__(self, x: Any) -> np.ndarray:
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std

    def inverse(self, u: Any) -> np.ndarray:
        """Back to the system's units: ``x = mean + std * u``."""
        return self.mean + self.std * np.asarray(u, dtype=np.float64)

    def as_dict(self) -> dict[str, list[float]]:
        return dict(mean=self.mean.tolist(), std=self.std.tolist())


def delay_embed(x: Any, dim: int, lag: int) -> np.ndarray:
    """Delay vectors ``(x_t, x_{t+lag}, ..., x_{t+(dim-1) lag})`` of a scalar series.

    ``x (..., T)`` -> ``(..., T - (dim - 1) lag, dim)`` (each series along the last axis separately)."""
    dim = check_positive_int("dim", dim)
    lag = check_positive_int("lag", lag)
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1] - (dim - 1) * lag
    if x.ndim == 0 or n < 1:
        raise ValueError(f"series of length {x.shape[-1] if x.ndim else 0} is too short for dim={dim}, lag={lag}")
    return np.stack([x[..., k * lag:k * lag + n] for k in range(dim)], -1)


def ode_provenance(system: ODESystem, *, n_trajectories: int, n_samples: int, dt: float, integrator: str,
                   rtol: float, atol: float, initial_states: str, standardiser: Standardiser | None = None,
                   note: str = "", **extra: Any) -> dict[str, Any]:
    """The provenance record of simulated data (:func:`reprokit.data.provenance`)."""
    std = standardiser.as_dict() if standardiser is not None else None
    return provenance(f"simulated {system.name}", f"scipy.integrate.solve_ivp ({integrator})",
                      n_samples=int(n_trajectories * n_samples), note=note, system=system.name,
                      parameters=system.params, integrator=integrator, rtol=rtol, atol=atol, dt=dt,
                      n_trajectories=int(n_trajectories), samples_per_trajectory=int(n_samples),
                      initial_states=initial_states, standardisation=std, **extra)
