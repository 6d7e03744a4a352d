"""The gradient flow of ``g = f(W_N ⋯ W_1)`` (Eq. 4), integrated with scipy's ``solve_ivp``.

``Ẇ_i = -(W_N ⋯ W_{i+1})ᵀ ∇f(W̄) (W_{i-1} ⋯ W_1)ᵀ``, ``i = 1..N``.

Default numerics: DOP853 with ``rtol = atol = 1e-12``, at which the imbalance of Def. 1 is
conserved to about ``1e-12`` relative over ``t = 20`` (the book checks ``1e-10``). Slow phases
near rank-deficient products (plateaus, Theorem 3's chapter) call for a stopping event:
:func:`flow_path` with ``stop_grad`` ends the run when ``||∇g||_F`` falls below a tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from reprokit.checks import check_finite_number

from ._arrays import as_weights, check_time, like
from .odeint import MatrixEvent, MatrixSolution, event, solve_matrices
from .products import CostFn, chain, cost_gradient, cost_value, evaluate, factor_gradients

DEFAULT_METHOD = "DOP853"
DEFAULT_RTOL = 1e-12
DEFAULT_ATOL = 1e-12


def flow_rhs(cost: CostFn):
    """The right-hand side ``(t, [W_1..W_N]) -> [-∇_{W_1} g, ..., -∇_{W_N} g]`` of Eq. (4) (numpy)."""
    def rhs(t: float, ws: list[np.ndarray]) -> list[np.ndarray]:
        return [-g for g in factor_gradients(cost_gradient(cost, chain(ws)), ws)]
    return rhs


def gradient_norm(cost: CostFn, ws: Sequence[np.ndarray]) -> float:
    """``||∇g||_F = sqrt(Σ_i ||∇_{W_i} g||_F²)`` at validated numpy weights."""
    return float(np.sqrt(sum(np.sum(g * g) for g in factor_gradients(cost_gradient(cost, chain(ws)), ws))))


@dataclass
class FlowPath(MatrixSolution):
    """A gradient-flow trajectory: ``t (T,)``; ``weights``: one array ``(T, d_l, d_{l-1})`` per layer
    (numpy); ``stopped``: whether a terminal event (e.g. ``stop_grad``) ended it before ``t1``."""

    @property
    def weights(self) -> list[np.ndarray]:
        return self.mats

    @property
    def final(self) -> list[np.ndarray]:
        """The last weights ``[W_1(t_end), ..., W_N(t_end)]``."""
        return self.at(-1)

    @property
    def t_end(self) -> float:
        return float(self.t[-1])

    def products(self) -> np.ndarray:
        """``W̄(t)`` along the path, ``(T, d_N, d_0)``."""
        return chain(self.mats)

    def imbalances(self) -> list[np.ndarray]:
        """``C_i(t)``, one array ``(T, d_i, d_i)`` per ``i = 1..N-1``."""
        ws = self.mats
        return [ws[i] @ np.swapaxes(ws[i], 1, 2) - np.swapaxes(ws[i + 1], 1, 2) @ ws[i + 1] for i in range(len(ws) - 1)]


def _prepare(cost: CostFn, weights: Any, t1: Any) -> tuple[list[np.ndarray], str, float]:
    ws, kind = as_weights(weights)
    t1 = check_time("t1", t1)
    if not hasattr(cost, "grad"):
        evaluate(cost, torch.as_tensor(chain(ws)))  # a non-scalar or non-tensor cost fails here, not in the solver
    elif not callable(cost):
        raise TypeError(f"cost must be callable; received {type(cost).__name__}")
    return ws, kind, t1


def flow_path(cost: CostFn, weights: Sequence[Any], t1: float, *, t_eval: np.ndarray | None = None,
              stop_grad: float | None = None, events: Sequence[MatrixEvent] = (), method: str = DEFAULT_METHOD,
              rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL, max_step: float = np.inf) -> FlowPath:
    """The trajectory of Eq. (4) from ``weights`` over ``[0, t1]``.

    ``t_eval``: output times (``None``: the solver's steps; ``t1`` or the stopping time is always
    the last); ``stop_grad``: stop when ``||∇g||_F`` falls below it (terminal event); ``events``:
    further ``event(t, [W_1..W_N]) -> float`` functions (see :func:`overparam.odeint.event`; a
    terminal one ends the run at its first zero). ``method``/``rtol``/``atol``/``max_step`` go to
    ``solve_ivp`` (LSODA is several times faster on long stiff plateaus, DOP853 conserves the
    imbalance best).
    """
    ws, _, t1 = _prepare(cost, weights, t1)
    all_events = list(events)
    if stop_grad is not None:
        tol = check_finite_number("stop_grad", stop_grad, minimum=0.0, strict=True)
        all_events.append(event(lambda t, w: gradient_norm(cost, w) - tol, terminal=True, direction=-1))
    sol = solve_matrices(flow_rhs(cost), ws, t1, t_eval=t_eval, events=all_events, method=method, rtol=rtol,
                         atol=atol, max_step=max_step)
    return FlowPath(**sol.__dict__)


def flow(cost: CostFn, weights: Sequence[Any], t1: float, *, method: str = DEFAULT_METHOD,
         rtol: float = DEFAULT_RTOL, atol: float = DEFAULT_ATOL) -> list[np.ndarray] | list[torch.Tensor]:
    """The weights at time ``t1 >= 0`` of the gradient flow Eq. (4) started at ``weights``.

    ``cost``: a callable from a float64 torch tensor ``W̄ (d_N, d_0)`` to a scalar tensor, or a
    :class:`overparam.costs.Cost`. ``weights = [W_1, ..., W_N]``, ``W_l (d_l, d_{l-1})``. Integrated
    by ``solve_ivp`` (DOP853, ``rtol = atol = 1e-12`` by default: the imbalance of Def. 1 is then
    conserved to about 1e-12). Returns numpy arrays or float64 torch tensors like ``W_1``.
    """
    ws, kind, t1 = _prepare(cost, weights, t1)
    if t1 == 0:
        return [like(kind, w) for w in ws]
    sol = solve_matrices(flow_rhs(cost), ws, t1, t_eval=np.array([t1]), method=method, rtol=rtol, atol=atol)
    return [like(kind, w) for w in sol.at(-1)]


def product_within(z_star: float, eps: float) -> MatrixEvent:
    """A terminal event for scalar problems (``1 x 1`` product ``z = W_N ⋯ W_1``, e.g. chains):
    ``|z - z*| - eps``, which crosses zero from above when the flow comes within ``eps`` of ``z*``.
    Pass it to :func:`flow_path` as ``events=[product_within(z_star, eps)]``; ``t_end`` is then the
    time to the target."""
    z_star = check_finite_number("z_star", z_star)
    eps = check_finite_number("eps", eps, minimum=0.0, strict=True)
    return event(lambda t, ws: abs(float(chain(ws)[0, 0]) - z_star) - eps, terminal=True, direction=-1)


def imbalance_drift(path: FlowPath) -> float:
    """``max_t max_i ||C_i(t) - C_i(0)||_F / (1 + ||C_i(0)||_F)`` along a path (Prop. 2 says 0)."""
    cs = path.imbalances()
    return max(float(np.max(np.linalg.norm(c - c[0], axis=(1, 2)) / (1 + np.linalg.norm(c[0])))) for c in cs)


def value_along(cost: CostFn, path: FlowPath) -> np.ndarray:
    """``g(t) = f(W̄(t))`` along a path, ``(T,)``."""
    return np.array([cost_value(cost, w) for w in path.products()])


__all__ = ["FlowPath", "flow", "flow_path", "flow_rhs", "gradient_norm", "imbalance_drift", "product_within",
           "value_along"]
