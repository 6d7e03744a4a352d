"""Integrating an ODE whose state is a list of matrices with scipy's ``solve_ivp``.

Generic (it names no paper): the state ``[M_1, ..., M_N]`` is packed into one vector (row-major
blocks in order), ``rhs(t, mats) -> list of matrices`` and event functions ``event(t, mats) ->
float`` see matrices. Used by every flow of this part (Eq. 4, the PC energy's flow).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.integrate import solve_ivp

MatrixRhs = Callable[[float, list[np.ndarray]], Sequence[np.ndarray]]
MatrixEvent = Callable[[float, list[np.ndarray]], float]


def pack(mats: Sequence[np.ndarray]) -> np.ndarray:
    """Concatenate the row-major flattened matrices into one vector."""
    return np.concatenate([np.asarray(m, dtype=np.float64).reshape(-1) for m in mats])


def unpack(vector: np.ndarray, shapes: Sequence[tuple[int, int]]) -> list[np.ndarray]:
    """Split a vector (or, with a trailing time axis ``(p, T)``, a trajectory) into matrices; a
    trajectory gives arrays ``(T, a, b)``."""
    out, start = [], 0
    for a, b in shapes:
        stop = start + a * b
        block = vector[start:stop]
        out.append(block.reshape(a, b) if block.ndim == 1 else np.moveaxis(block, -1, 0).reshape(-1, a, b))
        start = stop
    return out


def event(fn: MatrixEvent, *, terminal: bool = True, direction: float = 0.0) -> MatrixEvent:
    """Mark ``fn(t, mats)`` as a ``solve_ivp`` event (``terminal``: stop at its first zero;
    ``direction``: only crossings from below (+1), above (-1) or both (0))."""
    fn.terminal = terminal  # type: ignore[attr-defined]
    fn.direction = direction  # type: ignore[attr-defined]
    return fn


@dataclass
class MatrixSolution:
    """A solved matrix ODE: ``t (T,)``; ``mats``: one array ``(T, a, b)`` per matrix; ``t_events``:
    the times of each event's zeros; ``status`` (0: reached ``t1``, 1: a terminal event); ``nfev``."""

    t: np.ndarray
    mats: list[np.ndarray]
    t_events: list[np.ndarray] = field(default_factory=list)
    status: int = 0
    message: str = ""
    nfev: int = 0

    def at(self, index: int) -> list[np.ndarray]:
        """The matrices at time index ``index`` (``-1``: the last)."""
        return [m[index].copy() for m in self.mats]

    @property
    def stopped(self) -> bool:
        """True if a terminal event ended the integration before ``t1``."""
        return self.status == 1


def solve_matrices(rhs: MatrixRhs, mats: Sequence[np.ndarray], t1: float, *, t0: float = 0.0,
                   t_eval: np.ndarray | None = None, events: Sequence[MatrixEvent] = (), method: str = "DOP853",
                   rtol: float = 1e-12, atol: float = 1e-12, max_step: float = np.inf,
                   first_step: float | None = None) -> MatrixSolution:
    """Integrate ``d/dt [M_1..M_N] = rhs(t, [M_1..M_N])`` from ``t0`` to ``t1`` with ``solve_ivp``.

    ``t_eval`` (``None``: the solver's own steps) selects output times; the last state is always
    included (the event time when a terminal event stopped the run). Raises RuntimeError if the
    solver fails (e.g. step size underflow), naming its message.
    """
    shapes = [tuple(np.shape(m)) for m in mats]
    y0 = pack(mats)

    def fun(t, y):
        return pack(rhs(t, unpack(y, shapes)))

    wrapped = []
    for ev in events:
        def w(t, y, ev=ev):
            return float(ev(t, unpack(y, shapes)))
        w.terminal = getattr(ev, "terminal", False)
        w.direction = getattr(ev, "direction", 0.0)
        wrapped.append(w)
    kwargs = dict(method=method, rtol=rtol, atol=atol, max_step=max_step, events=wrapped or None)
    if first_step is not None:
        kwargs["first_step"] = first_step
    if t_eval is not None:
        t_eval = np.asarray(t_eval, dtype=np.float64).reshape(-1)
        t_eval = t_eval[(t_eval >= t0) & (t_eval <= t1)]
        if t_eval.size == 0 or t_eval[-1] < t1:
            t_eval = np.append(t_eval, t1)  # the final state is always part of the output
        kwargs["t_eval"] = t_eval
    sol = solve_ivp(fun, (t0, t1), y0, **kwargs)
    if sol.status == -1:
        raise RuntimeError(f"solve_ivp ({method}) failed: {sol.message}")
    t, y = np.asarray(sol.t, dtype=np.float64), np.asarray(sol.y, dtype=np.float64).reshape(y0.size, -1)
    if sol.status == 1:  # stopped by a terminal event: the event state ends the output
        hits = [(te[-1], ye[-1]) for te, ye, w in zip(sol.t_events, sol.y_events, wrapped) if len(te) and w.terminal]
        t_stop, y_stop = min(hits, key=lambda h: h[0])
        if t.size == 0 or t[-1] < t_stop:
            t = np.append(t, t_stop)
            y = np.concatenate([y, np.asarray(y_stop)[:, None]], axis=1)
    return MatrixSolution(t=t, mats=unpack(y, shapes), t_events=list(sol.t_events or []), status=int(sol.status),
                          message=sol.message, nfev=int(sol.nfev))
