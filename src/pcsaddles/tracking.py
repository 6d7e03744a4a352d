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
equilibrium, which by the envelope theorem is exactly ``grad F*``. Energies carry the paper's
``1/(2N)``. Weights are ``[W1, ..., WL]``, ``W_l (d_l, d_{l-1})``, float64.
"""

from __future__ import annotations

import itertools
import time

import pandas as pd
import torch

from . import dln, init, pc
from ._checks import check_choice
from .batching import epoch_batches
from .dataset import Dataset

OPTIMIZERS = ("adam", "sgd")
SOLVER = dict(rtol=1e-3, atol=1e-3, t1=300.0)  # the paper's diffrax settings

__all__ = ["OPTIMIZERS", "SOLVER", "track"]


def track(ds: Dataset, depth: int, width: int, n_iter: int, *, optimizer: str = "adam", lr: float = 1e-3,
          batch: int = 64, seed: int = 0, heun_every: int = 1, solver: dict | None = None) -> pd.DataFrame:
    """Train a linear network with ``depth`` hidden layers of ``width`` on ``ds`` for ``n_iter``
    iterations (shuffled batches of ``batch``, drop-last, a new permutation every epoch, seeded by
    ``seed``; default uniform initialisation from ``seed``) and return one row per iteration:
    ``iteration`` (1-based), ``theory``, ``exact``, ``heun``, ``heun_err``, ``heun_steps``,
    ``heun_quadratic``, ``loss``, ``gap_exact`` and ``gap_heun`` (relative to ``theory``),
    ``gap_quadratic`` (``heun_quadratic`` relative to ``theory``) and ``seconds`` (cumulative).
    ``attrs["weights"]`` holds the trained weights and ``attrs["last_batch"]`` the last batch
    ``(x, y)``, for re-solving the last equilibrium at other solver settings.
    """
    check_choice("optimizer", optimizer, OPTIMIZERS)
    for name, value in (("depth", depth), ("width", width), ("n_iter", n_iter), ("heun_every", heun_every)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int; received {value!r}")
    solver = dict(SOLVER if solver is None else solver)
    weights = init.default_uniform([ds.x.shape[1]] + [width] * depth + [ds.y.shape[1]], seed=seed, dtype=torch.float64)
    for w in weights:
        w.requires_grad_(False)
    opt = (torch.optim.Adam if optimizer == "adam" else torch.optim.SGD)(weights, lr=lr)
    rows, start = [], time.perf_counter()
    for it, (x, y) in enumerate(itertools.islice(epoch_batches(ds, batch, seed), n_iter)):
        x, y = x.double(), y.double()  # (B, d_0), (B, d_L)
        z_exact = pc.infer(weights, x, y, method="exact")
        theory = dln.equilibrated_energy(weights, x, y).item()
        row = dict(iteration=it + 1, theory=theory, exact=pc.energy(weights, z_exact, x, y).item(),
                   loss=dln.mse_loss(weights, x, y).item(), heun=float("nan"), heun_err=float("nan"),
                   heun_steps=float("nan"), heun_quadratic=float("nan"))
        if it % heun_every == 0:
            z_heun, info = pc.infer(weights, x, y, method="heun", return_info=True, **solver)
            scaled = torch.cat([(a - b) / (solver["atol"] + solver["rtol"] * b.abs()) for a, b in zip(z_heun, z_exact)], 1)
            dz = torch.cat([a - b for a, b in zip(z_heun, z_exact)], 1)  # (B, sum_l d_l), layer order of K
            quad = 0.5 * torch.einsum("ni,ij,nj->", dz, dln.activity_hessian(weights), dz) / x.shape[0]
            row.update(heun=pc.energy(weights, z_heun, x, y).item(), heun_err=scaled.pow(2).mean().sqrt().item(),
                       heun_steps=info.n_steps, heun_quadratic=quad.item())
        for w, g in zip(weights, pc.weight_grads(weights, z_exact, x, y)):  # = grad F* (envelope theorem)
            w.grad = g
        opt.step()
        row["seconds"] = time.perf_counter() - start
        rows.append(row)
    out = pd.DataFrame(rows)
    out.attrs.update(weights=weights, last_batch=(x, y))
    out["gap_exact"] = (out["exact"] - out["theory"]).abs() / out["theory"]
    out["gap_heun"] = (out["heun"] - out["theory"]).abs() / out["theory"]
    out["gap_quadratic"] = out["heun_quadratic"] / out["theory"]
    return out
