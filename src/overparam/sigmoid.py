"""Section 4's sigmoidal proof of concept: ``g(w_1, w_2) = f(w_2 σ(w_1))``, ``k = 1``.

The paper's activation (Eq. 8) is ``σ(z) = z / √(1 + z²)``, ``σ'(z) = (1 + z²)^{-3/2}``, with
``f(w) = (1 - w)²``. Its flow, Eq. (9):

    ẇ_1 = 2 w_2 (√(1 + w_1²) - w_2 w_1) / (1 + w_1²)²,   ẇ_2 = 2 w_1 (√(1 + w_1²) - w_2 w_1) / (1 + w_1²),

conserves (Prop. 8) ``C = w_2² - ½ (1 + w_1²)²``. ``C(0, 0) = -½`` (the paper's text says -1:
erratum E1) and the level set ``C = -½`` is Eq. (11), ``w_2 = ±w_1 √((2 + w_1²)/2)``: the branch
with ``w_1 w_2 < 0`` is the centre-stable manifold of the origin, the other its unstable manifold.

For any ``f`` and any activation the leaves are the level sets of ``w_2² - P(w_1)`` with
``P(w_1) = 2 ∫_0^{w_1} σ(r)/σ'(r) dr`` (derived for this book): ``P = w_1² + w_1⁴/2`` here,
``sinh²(w_1)`` for tanh, ``w_1²`` for the linear case ``σ(z) = z``.

Coordinates: functions take ``(w1, w2)``; Fig. 3 draws ``w_2`` horizontally and ``w_1`` vertically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

from reprokit.checks import check_finite_number

from ._arrays import check_time, to_numpy
from .costs import SCALAR_COSTS, ScalarCost


@dataclass(frozen=True)
class Activation:
    """``σ``, ``σ'`` and the leaf potential ``P(w_1) = 2 ∫_0^{w_1} σ/σ'`` (numpy, entrywise)."""

    name: str
    sigma: Any
    dsigma: Any
    potential: Any


ACTIVATIONS = {
    "algebraic": Activation("algebraic", lambda z: z / np.sqrt(1 + z * z), lambda z: (1 + z * z) ** -1.5,
                            lambda z: z * z + z**4 / 2),
    "tanh": Activation("tanh", np.tanh, lambda z: 1 / np.cosh(z) ** 2, lambda z: np.sinh(z) ** 2),
    "linear": Activation("linear", lambda z: z, lambda z: np.ones_like(z), lambda z: z * z),
}
"""The paper's ``σ(z) = z/√(1+z²)`` (Eq. 8), ``tanh`` (the book's variant) and the linear case of Fig. 3 (left)."""

PAPER_COST = SCALAR_COSTS["(1-z)^2"]


def _act(activation: str) -> Activation:
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {list(ACTIVATIONS)}")
    return ACTIVATIONS[activation]


def sigma(z: Any) -> Any:
    """Eq. (8): ``σ(z) = z / √(1 + z²)`` (numpy or torch)."""
    xp = torch if isinstance(z, torch.Tensor) else np
    return z / xp.sqrt(1 + z * z)


def sigmoid_invariant(w1: Any, w2: Any) -> Any:
    """Prop. 8: ``C(w_1, w_2) = w_2² - (1 + w_1²)² / 2`` (entrywise; numpy arrays, floats or torch
    tensors; the result has the kind of ``w1``). ``C(0, 0) = -1/2`` (erratum E1)."""
    for name, v in (("w1", w1), ("w2", w2)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating, np.ndarray, torch.Tensor)):
            raise TypeError(f"{name} must be a real number, a numpy array or a torch tensor; received {type(v).__name__}")
    if isinstance(w1, torch.Tensor) or isinstance(w2, torch.Tensor):
        a = torch.as_tensor(w1, dtype=torch.float64)
        b = torch.as_tensor(w2, dtype=torch.float64)
        return b**2 - (1 + a**2) ** 2 / 2
    a, b = to_numpy(w1, "w1"), to_numpy(w2, "w2")
    out = b**2 - (1 + a**2) ** 2 / 2
    return float(out) if np.ndim(out) == 0 and not isinstance(w1, np.ndarray) else out


def leaf_value(w1: Any, w2: Any, activation: str = "algebraic") -> np.ndarray:
    """The conserved ``w_2² - P(w_1)`` for any cost (``= C + ½`` for the paper's σ, ``w_2² - w_1²`` linear)."""
    act = _act(activation)
    a, b = to_numpy(w1, "w1"), to_numpy(w2, "w2")
    return b * b - act.potential(a)


def eq9_rhs(w1: Any, w2: Any) -> tuple[np.ndarray, np.ndarray]:
    """Eq. (9) exactly as printed (``f = (1 - z)²``, the paper's σ): ``(ẇ_1, ẇ_2)``."""
    a, b = to_numpy(w1, "w1"), to_numpy(w2, "w2")
    common = np.sqrt(1 + a * a) - b * a
    return 2 * b * common / (1 + a * a) ** 2, 2 * a * common / (1 + a * a)


def field(w1: Any, w2: Any, activation: str = "algebraic", cost: ScalarCost = PAPER_COST) -> tuple[np.ndarray, np.ndarray]:
    """``-∇g`` for ``g = f(w_2 σ(w_1))``: ``ẇ_1 = -f'(z) w_2 σ'(w_1)``, ``ẇ_2 = -f'(z) σ(w_1)``
    (entrywise on arrays; ``z = w_2 σ(w_1)``)."""
    act = _act(activation)
    a, b = to_numpy(w1, "w1"), to_numpy(w2, "w2")
    s = act.sigma(a)
    fp = cost.d1(b * s)
    return -fp * b * act.dsigma(a), -fp * s


def objective(w1: Any, w2: Any, activation: str = "algebraic", cost: ScalarCost = PAPER_COST) -> np.ndarray:
    """``g(w_1, w_2) = f(w_2 σ(w_1))`` entrywise."""
    act = _act(activation)
    a, b = to_numpy(w1, "w1"), to_numpy(w2, "w2")
    return cost.f(b * act.sigma(a))


def separatrix(w1: Any, branch: str) -> np.ndarray:
    """Eq. (11): ``w_2 = ∓ w_1 √((2 + w_1²)/2)`` on the level set ``C = -½`` through the origin;
    ``branch="stable"`` (``w_1 w_2 < 0``, red in Fig. 3) or ``"unstable"`` (``w_1 w_2 > 0``, blue)."""
    sign = {"stable": -1.0, "unstable": 1.0}
    if branch not in sign:
        raise ValueError(f"branch must be 'stable' or 'unstable'; received {branch!r}")
    a = to_numpy(w1, "w1")
    return sign[branch] * a * np.sqrt((2 + a * a) / 2)


def target_w1(w2: Any, activation: str = "algebraic") -> np.ndarray:
    """The target ``{w_2 σ(w_1) = 1}`` as ``w_1(w_2)``: ``sign(w_2)/√(w_2² - 1)`` for ``|w_2| > 1``
    (algebraic σ), ``artanh(1/w_2)`` (tanh), ``1/w_2`` (linear); NaN where there is no point."""
    b = to_numpy(w2, "w2")
    with np.errstate(divide="ignore", invalid="ignore"):
        if activation == "algebraic":
            return np.where(np.abs(b) > 1, np.sign(b) / np.sqrt(b * b - 1), np.nan)
        if activation == "tanh":
            return np.where(np.abs(b) > 1, np.arctanh(1 / b), np.nan)
        if activation == "linear":
            return np.where(b != 0, 1 / b, np.nan)
    raise ValueError(f"unknown activation {activation!r}; expected one of {list(ACTIVATIONS)}")


def unstable_target_crossing() -> tuple[float, float]:
    """Where the unstable branch of Eq. (11) meets the target (positive one; the other is its
    negative): ``a = w_1²`` solves ``a³ + 2a² - 2a - 2 = 0``; returns ``(w_1, w_2) ≈ (1.081705, 1.361851)``."""
    a = brentq(lambda x: x**3 + 2 * x**2 - 2 * x - 2, 0.5, 2.0, xtol=1e-16, rtol=4 * np.finfo(float).eps)
    w1 = np.sqrt(a)
    return float(w1), float(np.sqrt(1 + a) / w1)


def limit_point(w1: float, w2: float, activation: str = "algebraic") -> tuple[float, float]:
    """The limit on the target ``{w_2 σ(w_1) = 1}`` of the flow from ``(w1, w2)``, fixed by the leaf
    (derived for this book): ``|w_1*|`` solves ``1/σ(w_1*)² - P(w_1*) = w_2² - P(w_1)`` (the left
    side decreases strictly in ``|w_1*|``); the sign is that of ``w_1`` below the separatrix level
    (``w_1`` cannot cross 0 there) and that of ``w_2`` above it (``w_2`` cannot). Points of the
    centre-stable branch return the origin ``(0, 0)``. For the linear case this is
    ``w_1*² = (c_0 + √(c_0² + 4))/2`` with ``c_0 = w_1² - w_2²``."""
    act = _act(activation)
    w1, w2 = check_finite_number("w1", w1), check_finite_number("w2", w2)
    level = float(w2 * w2 - act.potential(w1))
    if level == 0 and w1 * w2 <= 0:
        return 0.0, 0.0
    sign = np.sign(w1) if level < 0 or (level == 0 and w1 != 0) else np.sign(w2)
    h = lambda r: 1 / act.sigma(r) ** 2 - act.potential(r) - level  # noqa: E731
    lo, hi = 1e-3, 2.0
    while h(lo) < 0:
        lo /= 10
    while h(hi) > 0:
        hi *= 2
    r = brentq(h, lo, hi, xtol=1e-15, rtol=4 * np.finfo(float).eps)
    return float(sign * r), float(sign / act.sigma(r))


@dataclass(frozen=True)
class SigmoidRun:
    """One trajectory: ``t``, ``w1``, ``w2`` arrays ``(T,)``; ``t_hit`` when ``|z - z*|`` fell below
    ``stop_tol`` (the run's end; ``inf`` if not by ``t1``), ``t_mark`` when it fell below ``mark_tol``."""

    t: np.ndarray
    w1: np.ndarray
    w2: np.ndarray
    t_hit: float
    t_mark: float = float("inf")

    @property
    def final(self) -> tuple[float, float]:
        return float(self.w1[-1]), float(self.w2[-1])


def sigmoid_flow(w1: float, w2: float, t1: float, *, activation: str = "algebraic", cost: ScalarCost = PAPER_COST,
                 stop_tol: float | None = None, mark_tol: float | None = None, t_eval: np.ndarray | None = None,
                 rtol: float = 1e-12, atol: float = 1e-12) -> SigmoidRun:
    """Integrate ``-∇g`` (Eq. 9 for the defaults) from ``(w1, w2)`` over ``[0, t1]`` (DOP853); with
    ``stop_tol``, stop when ``|z - z*| < stop_tol`` (``z = w_2 σ(w_1)``, ``z* = cost.z_star``); with
    ``mark_tol``, record the first time ``|z - z*| < mark_tol`` without stopping."""
    act = _act(activation)
    w1, w2 = check_finite_number("w1", w1), check_finite_number("w2", w2)
    t1 = check_time("t1", t1)

    def rhs(t, y):
        s = act.sigma(y[0])
        fp = float(cost.d1(np.float64(y[1] * s)))
        return [-fp * y[1] * act.dsigma(y[0]), -fp * s]

    events = []
    for name, tol, terminal in (("stop_tol", stop_tol, True), ("mark_tol", mark_tol, False)):
        if tol is not None:
            tol = check_finite_number(name, tol, minimum=0.0, strict=True)
            hit = lambda t, y, tol=tol: abs(y[1] * act.sigma(y[0]) - cost.z_star) - tol  # noqa: E731
            hit.terminal, hit.direction = terminal, -1
            events.append((name, hit))
    sol = solve_ivp(rhs, (0.0, t1), [w1, w2], method="DOP853", rtol=rtol, atol=atol, t_eval=t_eval,
                    events=[e for _, e in events] or None)
    t, y = np.asarray(sol.t), np.asarray(sol.y).reshape(2, -1)
    times = {name: float(te[0]) if len(te) else float("inf") for (name, _), te in zip(events, sol.t_events or [])}
    t_hit = times.get("stop_tol", float("inf"))
    if np.isfinite(t_hit) and (t.size == 0 or t[-1] < t_hit):  # stop_tol's event, when set, is the first
        t = np.append(t, t_hit)
        y = np.concatenate([y, sol.y_events[0][0][:, None]], axis=1)
    return SigmoidRun(t=t, w1=y[0], w2=y[1], t_hit=t_hit, t_mark=times.get("mark_tol", float("inf")))


def hessian(w1: float, w2: float, activation: str = "algebraic", cost: ScalarCost = PAPER_COST, h: float = 1e-6) -> np.ndarray:
    """The ``2 x 2`` Hessian of ``g`` in ``(w_1, w_2)`` by central differences of :func:`field` (``-∇g``),
    symmetrised; at the origin it is ``f'(0) σ'(0) [[0, 1], [1, 0]]`` (``[[0, -2], [-2, 0]]`` for Eq. 9)."""
    w1, w2 = check_finite_number("w1", w1), check_finite_number("w2", w2)
    cols = []
    for d1, d2 in ((h, 0.0), (0.0, h)):
        plus, minus = field(w1 + d1, w2 + d2, activation, cost), field(w1 - d1, w2 - d2, activation, cost)
        cols.append(-(np.array(plus, dtype=np.float64) - np.array(minus, dtype=np.float64)) / (2 * h))
    hess = np.stack(cols, axis=1)
    return 0.5 * (hess + hess.T)


def with_product(z0: float, w1: float, activation: str = "algebraic") -> float:
    """The ``w_2`` with ``w_2 σ(w_1) = z0`` (the speed-asymmetry table: same product, varying ``w_1``)."""
    return float(z0 / _act(activation).sigma(check_finite_number("w1", w1)))

