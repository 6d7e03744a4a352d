"""Theorem 1 along training (the paper's Figure 1): PC learning on a deep linear network, with the
numerical inference equilibrium compared with Eq. 5 at every iteration.

At each iteration, on the current batch and weights and before the update, :func:`track` records

* ``theory``: ``F*`` of Eq. 5 (:func:`pcsaddles.dln.equilibrated_energy`);
* ``exact``: the energy (Eq. 2) at the exact equilibrium (one linear solve,
  ``pc.infer(method="exact")``);
* ``heun`` and ``heun_err`` (every ``heun_every`` iterations, NaN otherwise): the energy at the
  equilibrium of the adaptive Heun solver with the paper's settings (rtol = atol = ``1e-3``,
  ``t1 = 300``, as the authors' diffrax solve), and its activity error in the solver's own norm,
  the RMS over all activities of ``(z_heun - z*) / (atol + rtol |z*|)``, and ``heun_quadratic``,
  the energy excess that this activity error implies: the energy is quadratic in the activities
  with its minimum at ``z*``, so ``F(z) - F* = 1/(2N) sum_i dz_i^T K dz_i`` exactly, with ``K`` the
  activity Hessian (:func:`pcsaddles.dln.activity_hessian`) and ``dz_i = z_i - z*_i``;
* ``loss``: the MSE loss (Eq. 1) of the batch;

then takes one optimiser step (SGD or Adam) on the PC weight gradient (Eq. 4) at the **exact**
equilibrium, which by the envelope theorem is exactly ``grad F*``. The training is the book's one
loop, :func:`pcsaddles.train.train` (``rule="pc"``, ``inference="exact"``); the records are those
of an :class:`EquilibriumMonitor` it calls at every iteration. Energies carry the paper's
``1/(2N)``. Weights are ``[W1, ..., WL]``, ``W_l (d_l, d_{l-1})``, float64.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import torch

from . import dln, init, pc
from ._checks import check_choice
from .batching import epoch_batches
from .dataset import Dataset
from .train import train

OPTIMIZERS = ("adam", "sgd")
SOLVER = dict(rtol=1e-3, atol=1e-3, t1=300.0)  # the paper's diffrax settings

__all__ = ["EquilibriumMonitor", "OPTIMIZERS", "SOLVER", "track"]


@dataclass
class EquilibriumMonitor:
    """A :func:`pcsaddles.train.train` monitor that compares the numerical inference equilibrium
    with Eq. 5 at every iteration (before the update) and runs the adaptive Heun solver (``solver``
    settings) every ``heun_every`` iterations; ``rows`` holds one dict per iteration (see
    :func:`track`) and ``last_batch`` the last batch seen."""

    heun_every: int = 1
    solver: dict = field(default_factory=lambda: dict(SOLVER))
    rows: list[dict] = field(default_factory=list)
    last_batch: tuple | None = None

    def __call__(self, it, weights, x, y, out, loss, grad_norm) -> None:
        z_exact = pc.infer(weights, x, y, method="exact")
        row = dict(iteration=it + 1, theory=dln.equilibrated_energy(weights, x, y).item(),
                   exact=pc.energy(weights, z_exact, x, y).item(), loss=float(loss), heun=float("nan"),
                   heun_err=float("nan"), heun_steps=float("nan"), heun_quadratic=float("nan"))
        if it % self.heun_every == 0:
            tol = self.solver
            z_heun, info = pc.infer(weights, x, y, method="heun", return_info=True, **tol)
            scaled = torch.cat([(a - b) / (tol["atol"] + tol["rtol"] * b.abs()) for a, b in zip(z_heun, z_exact)], 1)
            dz = torch.cat([a - b for a, b in zip(z_heun, z_exact)], 1)  # (B, sum_l d_l), layer order of K
            quad = 0.5 * torch.einsum("ni,ij,nj->", dz, dln.activity_hessian(weights), dz) / x.shape[0]
            row.update(heun=pc.energy(weights, z_heun, x, y).item(), heun_err=scaled.pow(2).mean().sqrt().item(),
                       heun_steps=info.n_steps, heun_quadratic=quad.item())
        self.rows.append(row)
        self.last_batch = (x, y)


def track(ds: Dataset, depth: int, width: int, n_iter: int, *, optimizer: str = "adam", lr: float = 1e-3,
          batch: int = 64, seed: int = 0, heun_every: int = 1, solver: dict | None = None) -> pd.DataFrame:
    """Train a linear network with ``depth`` hidden layers of ``width`` on ``ds`` for ``n_iter``
    iterations (shuffled batches of ``batch``, drop-last, a new permutation every epoch, seeded by
    ``seed``; default uniform initialisation from ``seed``) and return one row per iteration:
    ``iteration`` (1-based), ``theory``, ``exact``, ``heun``, ``heun_err``, ``heun_steps``,
    ``heun_quadratic``, ``loss``, ``gap_exact`` and ``gap_heun`` (relative to ``theory``),
    ``gap_quadratic`` (``heun_quadratic`` relative to ``theory``) and ``seconds`` (the run's).
    ``attrs["weights"]`` holds the trained weights and ``attrs["last_batch"]`` the last batch
    ``(x, y)``, for re-solving the last equilibrium at other solver settings.
    """
    check_choice("optimizer", optimizer, OPTIMIZERS)
    for name, value in (("depth", depth), ("width", width), ("n_iter", n_iter), ("heun_every", heun_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; received {value!r}")
    weights = init.default_uniform([ds.x.shape[1]] + [width] * depth + [ds.y.shape[1]], seed=seed, dtype=torch.float64)
    batches = ((x.double(), y.double()) for x, y in epoch_batches(ds, batch, seed))  # (B, d_0), (B, d_L), float64
    monitor = EquilibriumMonitor(heun_every, dict(SOLVER if solver is None else solver))
    hist = train("pc", weights, batches, n_iter, lr, inference="exact", optimizer=optimizer, monitor=monitor)
    out = pd.DataFrame(monitor.rows)
    out["seconds"] = hist.seconds
    out.attrs.update(weights=hist.weights, last_batch=monitor.last_batch)
    out["gap_exact"] = (out["exact"] - out["theory"]).abs() / out["theory"]
    out["gap_heun"] = (out["heun"] - out["theory"]).abs() / out["theory"]
    out["gap_quadratic"] = out["heun_quadratic"] / out["theory"]
    return out
