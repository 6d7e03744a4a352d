"""An adaptive Heun solver with a PID step-size controller, for PC inference dynamics.

Why written here rather than taken from an ODE library: the paper's Figure 1 used diffrax (JAX)
``Heun`` with ``PIDController(rtol=atol=1e-3)``. The PyTorch ODE libraries on PyPI do not offer that
pair with the same controller (torchdiffeq's ``adaptive_heun`` uses its own step rule), and the
whole solver is ~80 lines: an explicit Heun step with its embedded Euler error estimate, the
Hairer-Norsett-Wanner initial-step heuristic and the PID controller in diffrax's parametrisation
(whose defaults, ``pcoeff=0, icoeff=1, dcoeff=0``, are the classic integral controller). It works
on a list of tensors (one per hidden layer) so the batch is integrated as one state, like a single
diffrax solve.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

State = list[torch.Tensor]


@dataclass(frozen=True)
class PIDController:
    """Step-size controller ``h <- h * clip(safety * e_n^(-b1/k) e_{n-1}^(-b2/k) e_{n-2}^(-b3/k))``.

    ``e`` are the scaled error norms (RMS of ``err / (atol + rtol * max(|y0|, |y1|))``), ``k = 2``
    the order of the Heun-Euler error estimate, and ``b1 = p + i + d``, ``b2 = -(p + 2 d)``,
    ``b3 = d`` (the parametrisation of diffrax's ``PIDController``).
    """

    rtol: float = 1e-3
    atol: float = 1e-3
    pcoeff: float = 0.0
    icoeff: float = 1.0
    dcoeff: float = 0.0
    safety: float = 0.9
    factormin: float = 0.2
    factormax: float = 10.0

    def __post_init__(self) -> None:
        if not (self.rtol > 0 and self.atol >= 0):
            raise ValueError(f"need rtol > 0 and atol >= 0; received rtol={self.rtol}, atol={self.atol}")


@dataclass
class SolveInfo:
    t: float
    n_accepted: int
    n_rejected: int


def _scaled_norm(err: State, y0: State, y1: State, ctl: PIDController) -> float:
    total, count = 0.0, 0
    for e, a, b in zip(err, y0, y1):
        scale = ctl.atol + ctl.rtol * torch.maximum(a.detach().abs(), b.detach().abs())
        total += float((e.detach() / scale).pow(2).sum())
        count += e.numel()
    return math.sqrt(total / max(count, 1))


def _rms(state: State, scale: State) -> float:
    total = sum(float((s.detach() / c.detach()).pow(2).sum()) for s, c in zip(state, scale))
    return math.sqrt(total / max(sum(s.numel() for s in state), 1))


def _initial_step(rhs: Callable[[State], State], y0: State, f0: State, ctl: PIDController) -> float:
    """Hairer, Norsett & Wanner (1993), Sec. II.4: a first step that is neither tiny nor unstable."""
    scale = [ctl.atol + ctl.rtol * y.abs() for y in y0]
    d0, d1 = _rms(y0, scale), _rms(f0, scale)
    h0 = 1e-6 if d0 < 1e-5 or d1 < 1e-5 else 0.01 * d0 / d1
    f1 = rhs([y + h0 * f for y, f in zip(y0, f0)])
    d2 = _rms([a - b for a, b in zip(f1, f0)], scale) / h0
    h1 = max(1e-6, h0 * 1e-3) if max(d1, d2) <= 1e-15 else (0.01 / max(d1, d2)) ** 0.5
    return min(100 * h0, h1)


def heun_pid(
    rhs: Callable[[State], State],
    y0: State,
    t1: float,
    controller: PIDController = PIDController(),
    max_steps: int = 4096,
    dt0: float | None = None,
) -> tuple[State, SolveInfo]:
    """Integrate the autonomous ODE ``dy/dt = rhs(y)`` from ``t = 0`` to ``t1``.

    Heun's method (explicit trapezoid, order 2) with the embedded Euler step as error estimate.
    Raises RuntimeError if more than ``max_steps`` steps (accepted + rejected) are needed and
    FloatingPointError if the state stops being finite.
    """
    if not t1 > 0:
        raise ValueError(f"t1 must be positive; received {t1}")
    ctl = controller
    b1 = ctl.pcoeff + ctl.icoeff + ctl.dcoeff
    b2 = -(ctl.pcoeff + 2 * ctl.dcoeff)
    b3 = ctl.dcoeff
    k = 2.0
    y = list(y0)
    f = rhs(y)
    h = dt0 if dt0 is not None else _initial_step(rhs, y, f, ctl)
    t, accepted, rejected = 0.0, 0, 0
    prev_inv, prev_prev_inv = 1.0, 1.0
    while t < t1 * (1 - 1e-12):
        if accepted + rejected >= max_steps:
            raise RuntimeError(
                f"adaptive Heun needed more than max_steps={max_steps} steps to reach t1={t1} (stopped at "
                f"t={t:.4g}); raise max_steps or loosen rtol/atol"
            )
        h = min(h, t1 - t)
        y_euler = [a + h * b for a, b in zip(y, f)]
        f_euler = rhs(y_euler)
        y_new = [a + 0.5 * h * (b + c) for a, b, c in zip(y, f, f_euler)]
        err = [0.5 * h * (c - b) for b, c in zip(f, f_euler)]
        norm = _scaled_norm(err, y, y_new, ctl)
        if not math.isfinite(norm):
            if h < 1e-12:
                raise FloatingPointError("the PC inference state became non-finite; check the weights and data")
            h *= ctl.factormin
            rejected += 1
            continue
        inv = 1.0 / max(norm, 1e-10)
        factor = ctl.safety * inv ** (b1 / k) * prev_inv ** (b2 / k) * prev_prev_inv ** (b3 / k)
        if norm <= 1.0:
            t += h
            y, f = y_new, rhs(y_new)
            accepted += 1
            prev_prev_inv, prev_inv = prev_inv, inv
            factor = min(max(factor, ctl.factormin), ctl.factormax)
        else:
            rejected += 1
            factor = min(max(factor, ctl.factormin), ctl.safety)
        h *= factor
    return y, SolveInfo(t=t, n_accepted=accepted, n_rejected=rejected)
