"""Base costs ``f`` of the end-to-end matrix, usable both by torch (autograd, Hessians) and by the
numpy flows (fast right-hand sides).

A :class:`Cost` is a callable from a float64 torch tensor ``W (n_out, n_in)`` to a scalar tensor,
as :func:`overparam.gradient` expects of any cost, and also carries numpy ``value`` and ``grad``
(the analytic gradient ``∇f(W)``), which the flows use when present. A plain torch callable works
everywhere too (its gradient then comes from autograd, more slowly).

Matrix test costs on ``R^{2x2}`` (all proper and real analytic, minimum attained):

* ``f_quad(W)  = ½ ||W - A||_F²``               ``∇f = W - A``
* ``f_lc(W)    = Σ_ij log cosh (W - A)_ij``      ``∇f = tanh(W - A)``
* ``f_quart(W) = ¼ ||WᵀW - B||_F²``  (B sym.)    ``∇f = W (WᵀW - B)``
* ``f_cosh(W)  = Σ_ij cosh (W - A)_ij``          ``∇f = sinh(W - A)``

with ``A = [[1, 0.5], [-0.3, 2]]``, ``B = [[2, 0.3], [0.3, 1]]`` (:data:`TEST_A`, :data:`TEST_B`).

Scalar costs ``f(z)`` (:class:`ScalarCost`, applied entrywise and summed, so a ``1x1`` end-to-end
matrix is the scalar case of Sections 3-4): see :data:`SCALAR_COSTS`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

TEST_A = np.array([[1.0, 0.5], [-0.3, 2.0]])
TEST_B = np.array([[2.0, 0.3], [0.3, 1.0]])

Expr = Callable[[Any, Any], Any]  # expr(w, xp) with xp the numpy or torch module


def _xp(w: Any):
    return torch if isinstance(w, torch.Tensor) else np


@dataclass(frozen=True)
class Cost:
    """A base cost ``f`` on matrices of shape ``shape`` (``None``: any shape).

    ``expr(W, xp)`` and ``grad_expr(W, xp)`` are written once for both array modules (``xp`` is
    numpy or torch). ``f_star`` is ``inf f`` when known, ``minimisers`` a description for readers.
    """

    name: str
    expr: Expr
    grad_expr: Expr
    shape: tuple[int, int] | None = None
    f_star: float | None = None
    latex: str = ""

    def _check(self, w: Any) -> None:
        if self.shape is not None and tuple(w.shape) != self.shape:
            raise ValueError(f"cost {self.name} is defined on matrices of shape {self.shape}; received shape {tuple(w.shape)}")

    def __call__(self, w: torch.Tensor) -> torch.Tensor:
        """``f(W)`` for a torch tensor ``W`` (differentiable)."""
        if not isinstance(w, torch.Tensor):
            raise TypeError(f"a Cost is called on a torch tensor; received {type(w).__name__} (use .value for numpy)")
        self._check(w)
        return self.expr(w, torch)

    def value(self, w: np.ndarray) -> float:
        """``f(W)`` for a numpy array."""
        w = np.asarray(w, dtype=np.float64)
        self._check(w)
        return float(self.expr(w, np))

    def grad(self, w: np.ndarray) -> np.ndarray:
        """``∇f(W)``, same shape as ``W`` (numpy)."""
        w = np.asarray(w, dtype=np.float64)
        self._check(w)
        return np.asarray(self.grad_expr(w, np), dtype=np.float64)


@dataclass(frozen=True)
class ScalarCost(Cost):
    """A scalar cost ``f(z)``, applied to every entry of the end-to-end matrix and summed (so on a
    ``1x1`` end-to-end matrix it is ``f`` itself). ``entry_expr``, ``grad_expr``, ``d2_expr`` are
    ``f``, ``f'``, ``f''`` entrywise; ``z_star`` is the global minimiser."""

    entry_expr: Expr | None = None
    d2_expr: Expr | None = None
    z_star: float | None = None

    def f(self, z):
        """``f(z)`` entrywise (numpy or torch)."""
        return self.entry_expr(z, _xp(z))

    def d1(self, z):
        """``f'(z)`` entrywise."""
        return self.grad_expr(z, _xp(z))

    def d2(self, z):
        """``f''(z)`` entrywise."""
        return self.d2_expr(z, _xp(z))

    @property
    def sign0(self) -> int:
        """``s = sign f'(0)`` (0 if ``f'(0) = 0``): it fixes the bad set ``{w_1 = s w_2ᵀ}`` (Prop. 5)."""
        return int(np.sign(float(self.d1(np.float64(0.0)))))


def scalar_cost(name: str, f: Expr, d1: Expr, d2: Expr, *, z_star: float | None, f_star: float | None,
                latex: str = "") -> ScalarCost:
    """Build a :class:`ScalarCost` from entrywise expressions ``f``, ``f'``, ``f''`` (``expr(z, xp)``)."""
    return ScalarCost(name=name, expr=lambda w, xp: f(w, xp).sum(), grad_expr=d1, d2_expr=d2, entry_expr=f,
                      z_star=z_star, f_star=f_star, latex=latex)


def quadratic(a: np.ndarray = TEST_A) -> Cost:
    """``f_quad(W) = ½ ||W - A||_F²``; ``∇f = W - A``; minimum 0 at ``W = A``."""
    a_np, a_t = _pair(a)
    return Cost("quadratic", lambda w, xp: 0.5 * ((w - _pick(xp, a_np, a_t)) ** 2).sum(),
                lambda w, xp: w - _pick(xp, a_np, a_t), shape=a_np.shape, f_star=0.0,
                latex=r"\frac{1}{2}\|W-A\|_F^2")


def log_cosh(a: np.ndarray = TEST_A) -> Cost:
    """``f_lc(W) = Σ log cosh (W - A)_ij`` (evaluated as ``logaddexp(x, -x) - log 2``); ``∇f = tanh(W - A)``."""
    a_np, a_t = _pair(a)
    return Cost("log-cosh", lambda w, xp: (xp.logaddexp(w - _pick(xp, a_np, a_t), _pick(xp, a_np, a_t) - w)
                                          - math.log(2.0)).sum(),
                lambda w, xp: xp.tanh(w - _pick(xp, a_np, a_t)), shape=a_np.shape, f_star=0.0,
                latex=r"\sum_{ij}\log\cosh(W-A)_{ij}")


def quartic(b: np.ndarray = TEST_B) -> Cost:
    """``f_quart(W) = ¼ ||WᵀW - B||_F²`` with ``B`` symmetric positive definite; ``∇f = W (WᵀW - B)``;
    minimum 0 on ``{WᵀW = B}`` (critical points also at rank-deficient ``W``)."""
    b_np, b_t = _pair(b)
    if b_np.ndim != 2 or b_np.shape[0] != b_np.shape[1] or not np.allclose(b_np, b_np.T):
        raise ValueError(f"B must be a symmetric square matrix; received shape {b_np.shape}")
    return Cost("quartic", lambda w, xp: 0.25 * ((w.T @ w - _pick(xp, b_np, b_t)) ** 2).sum(),
                lambda w, xp: w @ (w.T @ w - _pick(xp, b_np, b_t)), shape=b_np.shape, f_star=0.0,
                latex=r"\frac{1}{4}\|W^\top W-B\|_F^2")


def cosh(a: np.ndarray = TEST_A) -> Cost:
    """``f_cosh(W) = Σ cosh (W - A)_ij``; ``∇f = sinh(W - A)``; minimum ``n_out n_in`` at ``W = A``."""
    a_np, a_t = _pair(a)
    return Cost("cosh", lambda w, xp: xp.cosh(w - _pick(xp, a_np, a_t)).sum(),
                lambda w, xp: xp.sinh(w - _pick(xp, a_np, a_t)), shape=a_np.shape, f_star=float(a_np.size),
                latex=r"\sum_{ij}\cosh(W-A)_{ij}")


def matrix_costs(a: np.ndarray = TEST_A, b: np.ndarray = TEST_B) -> dict[str, Cost]:
    """The four matrix test costs, ``{"quadratic", "log-cosh", "quartic", "cosh"}``."""
    return {c.name: c for c in (quadratic(a), log_cosh(a), quartic(b), cosh(a))}


def _pair(a: Any) -> tuple[np.ndarray, torch.Tensor]:
    a_np = np.array(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a, dtype=np.float64)
    if a_np.ndim != 2:
        raise ValueError(f"the cost's matrix must be 2-D; received shape {a_np.shape}")
    return a_np, torch.from_numpy(a_np.copy())


def _pick(xp, a_np, a_t):
    return a_t if xp is torch else a_np


def _lowest_root(coefficients: list[float]) -> float:
    """The smallest real root of a polynomial (the global minimiser of the quartic costs below)."""
    roots = np.roots(coefficients)
    return float(min(r.real for r in roots if abs(r.imag) < 1e-12))


SCALAR_COSTS: dict[str, ScalarCost] = {
    c.name: c
    for c in (
        scalar_cost("(1-z)^2", lambda z, xp: (1 - z) ** 2, lambda z, xp: -2 * (1 - z), lambda z, xp: 2 + 0 * z,
                    z_star=1.0, f_star=0.0, latex=r"(1-z)^2"),
        scalar_cost("(1-z)^2/2", lambda z, xp: 0.5 * (1 - z) ** 2, lambda z, xp: -(1 - z), lambda z, xp: 1 + 0 * z,
                    z_star=1.0, f_star=0.0, latex=r"\frac{1}{2}(1-z)^2"),
        scalar_cost("cosh(z-2)", lambda z, xp: xp.cosh(z - 2), lambda z, xp: xp.sinh(z - 2), lambda z, xp: xp.cosh(z - 2),
                    z_star=2.0, f_star=1.0, latex=r"\cosh(z-2)"),
        scalar_cost("(z+2)^2/2", lambda z, xp: 0.5 * (z + 2) ** 2, lambda z, xp: z + 2, lambda z, xp: 1 + 0 * z,
                    z_star=-2.0, f_star=0.0, latex=r"\frac{1}{2}(z+2)^2"),
        scalar_cost("tilted quartic", lambda z, xp: z**4 / 4 - z**2 / 2 + 0.2 * z, lambda z, xp: z**3 - z + 0.2,
                    lambda z, xp: 3 * z**2 - 1, z_star=_lowest_root([1.0, 0.0, -1.0, 0.2]), f_star=None,
                    latex=r"z^4/4 - z^2/2 + 0.2z"),
        scalar_cost("(z^2-1)^2+z", lambda z, xp: (z**2 - 1) ** 2 + z, lambda z, xp: 4 * z * (z**2 - 1) + 1,
                    lambda z, xp: 12 * z**2 - 4, z_star=_lowest_root([4.0, 0.0, -4.0, 1.0]), f_star=None, latex=r"(z^2-1)^2+z"),
        scalar_cost("cosh(z-0.5)", lambda z, xp: xp.cosh(z - 0.5), lambda z, xp: xp.sinh(z - 0.5),
                    lambda z, xp: xp.cosh(z - 0.5), z_star=0.5, f_star=1.0, latex=r"\cosh(z-\frac{1}{2})"),
        scalar_cost("z^4/4-z", lambda z, xp: z**4 / 4 - z, lambda z, xp: z**3 - 1, lambda z, xp: 3 * z**2,
                    z_star=1.0, f_star=-0.75, latex=r"z^4/4 - z"),
    )
}
"""Named scalar costs: the paper's ``(1-z)²`` and the test costs of the book (``z_star``: the
global minimiser)."""
