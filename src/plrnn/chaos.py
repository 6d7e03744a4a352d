"""Lyapunov spectra (QR method) and bifurcation scans over the offset ``h`` (the paper's Fig. 5).

The Lyapunov exponents of a map are the growth rates ``lambda_i = lim (1/T) sum_t log |R_t[i, i]|`` of
the QR re-orthonormalisation ``J(z_t) Q_{t-1} = Q_t R_t``. Their sum equals the orbit average of
``log |det J(z_t)|`` (a check the book adds, since ``det`` is exact per region). Everything is
vectorised over initial states and over offsets ``b`` (the Jacobians do not depend on ``b``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reprokit.checks import check_positive_int

from .models import PiecewiseAffineMap, check_states

__all__ = ["lyapunov_spectrum", "LyapunovResult", "orbit_with_bias", "bias_grid"]


def _step_b(model: PiecewiseAffineMap, z: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``F`` with a per-state offset ``b (B, M)`` in place of ``model.b``."""
    return z @ model.L.T + np.maximum(z @ model.G.T + model.g, 0.0) @ model.U.T + b


@dataclass
class LyapunovResult:
    """``exponents (B, M)`` sorted descending per orbit; ``mean_log_det (B,)`` the orbit average of
    ``log|det J|`` (NaN for an orbit that escaped); ``final (B, M)`` last states; ``escaped (B,)``."""

    exponents: np.ndarray
    mean_log_det: np.ndarray
    final: np.ndarray
    escaped: np.ndarray


def bias_grid(model: PiecewiseAffineMap, unit: int, values: Any) -> np.ndarray:
    """Offsets ``(P, M)``: ``model.b`` with entry ``unit`` replaced by each of ``values``."""
    values = np.asarray(values, dtype=np.float64).ravel()
    b = np.broadcast_to(model.b, (values.size, model.M)).copy()
    b[:, unit] = values
    return b


def lyapunov_spectrum(model: PiecewiseAffineMap, z0: Any, n_steps: int, *, n_transient: int = 1000,
                      biases: Any = None, escape: float = 1e8) -> LyapunovResult:
    """Lyapunov exponents of orbits from ``z0 (B, M)`` over ``n_steps`` steps after ``n_transient``;
    ``biases (B, M)`` gives each orbit its own offset ``b`` (a bifurcation scan)."""
    z = check_states(z0, model.M, "z0").copy()
    if z.ndim != 2:
        raise ValueError(f"z0 must have shape (B, {model.M}); received shape {z.shape}")
    n_steps = check_positive_int("n_steps", n_steps)
    B = z.shape[0]
    b = np.broadcast_to(model.b, (B, model.M)) if biases is None else check_states(biases, model.M, "biases")
    if b.shape != (B, model.M):
        raise ValueError(f"biases must have shape ({B}, {model.M}) (one offset per orbit); received {b.shape}")
    escaped = np.zeros(B, dtype=bool)
    for _ in range(n_transient):
        z = _step_b(model, z, b)
        bad = ~np.all(np.isfinite(z), axis=1) | (np.abs(z).max(axis=1) > escape)
        escaped |= bad
        z[bad] = 0.0
    Q = np.broadcast_to(np.eye(model.M), (B, model.M, model.M)).copy()
    acc = np.zeros((B, model.M))
    logdet = np.zeros(B)
    table = model.n_regions <= 4096  # Jacobians and log|det| looked up per region id
    if table:
        Jtab, _ = model.affine_of_code(np.arange(model.n_regions))
        with np.errstate(divide="ignore"):
            ldtab = np.log(np.abs(np.linalg.det(Jtab)))
        units = model.switching_units
        Gs, gs = model.G[units], model.g[units]
        weights = 1 << np.arange(units.size)
    for _ in range(n_steps):
        if table:
            code = ((z @ Gs.T + gs > 0) * weights).sum(1)
            J, ld = Jtab[code], ldtab[code]
        else:
            J = model.jacobian(z)
            with np.errstate(divide="ignore"):
                ld = np.log(np.abs(np.linalg.det(J)))
        Q, R = np.linalg.qr(J @ Q)
        diag = np.abs(np.diagonal(R, axis1=1, axis2=2))
        with np.errstate(divide="ignore"):
            acc += np.log(diag)
        logdet += ld
        z = _step_b(model, z, b)
        bad = ~np.all(np.isfinite(z), axis=1) | (np.abs(z).max(axis=1) > escape)
        escaped |= bad
        z[bad] = 0.0
    exps = np.sort(acc / n_steps, axis=1)[:, ::-1]
    exps[escaped] = np.nan
    mld = logdet / n_steps
    mld[escaped] = np.nan
    return LyapunovResult(exponents=exps, mean_log_det=mld, final=z, escaped=escaped)


def orbit_with_bias(model: PiecewiseAffineMap, z0: Any, biases: Any, n_transient: int, n_keep: int,
                    escape: float = 1e8) -> np.ndarray:
    """Orbits for each offset ``biases (P, M)`` from the state(s) ``z0`` (``(M,)`` or ``(P, M)``): the
    ``n_keep`` states after ``n_transient``, ``(P, n_keep, M)`` (NaN once an orbit escapes). The
    bifurcation diagram plots one coordinate of these against the scanned offset."""
    b = np.asarray(biases, dtype=np.float64)
    if b.ndim != 2 or b.shape[1] != model.M:
        raise ValueError(f"biases must have shape (P, {model.M}); received shape {b.shape}")
    z = np.broadcast_to(check_states(z0, model.M, "z0"), b.shape).copy()
    out = np.empty((b.shape[0], n_keep, model.M))
    for t in range(n_transient + n_keep):
        z = _step_b(model, z, b)
        bad = ~np.all(np.isfinite(z), axis=1) | (np.abs(z).max(axis=1) > escape)
        z[bad] = np.nan
        if t >= n_transient:
            out[:, t - n_transient] = z
    return out
