"""The toy networks of Figures 2 and 7, trained by BP and PC as in the authors' notebooks.

* **Chains** with one or two hidden units (``w_2 w_1 x``, ``w_3 w_2 w_1 x``): the authors' initial
  weights ``N(0, 0.05^2)`` for a seed (:func:`pcsaddles.init.legacy_numpy_chain`), SGD with learning
  rate 0.4 on a fresh batch of 64 toy samples every iteration (drawn from the book's generator,
  seed ``100 + seed``; BP and PC see the same batches), PC with ``T = 20`` Euler steps; BP for 15
  (one unit) or 100 (two units) iterations, PC for up to 50, the one-unit chain's PC stopping once
  the test loss on ``x = 1, y = -1`` is below ``1e-3``. Losses with the paper's ``1/(2N)``.
* **The wide network** (``H = 3``, width 4, 3-D input and output): ``N(0, 0.1^2)`` weights (the
  paper's sigma), a fixed training set of 60 000 toy samples, shuffled batches of 64, SGD with
  learning rate ``1e-3``, PC with ``T = 50`` Euler steps; the authors' normalisations
  (:mod:`pcsaddles.normalisation`: BP on ``nn.MSELoss``, PC on the batch sum) and the
  normalisation-matched BP (learning rate x96). Losses recorded with the paper's ``1/(2N)`` (the
  same curves as ``nn.MSELoss`` scaled by ``d / 2 = 1.5``); test loss on ``x = (1, 1, 1)``, ``y = -x``.

Every run is a :class:`pcsaddles.train.History`.
"""

from __future__ import annotations

import torch

from . import init
from ._checks import check_choice
from .batching import epoch_batches, fresh_batches
from .dataset import Dataset
from .normalisation import matched_lr_factor
from .stopping import stop_on_plateau, stop_when_test_below
from .toy import toy_gaussian
from .train import History, train

F64 = torch.float64
WIDE_WIDTHS = [3, 4, 4, 4, 3]

__all__ = ["WIDE_WIDTHS", "chain_runs", "chain_stream", "settings", "wide_data", "wide_runs"]


def settings(profile: str) -> dict:
    """The settings of both chapters. Chains at the paper's scale in both profiles. The wide network:
    ``quick`` runs BP 15 000 iterations, PC 300, matched BP 1 000, over 3 seeds (Figure 7); ``paper``
    runs BP 35 epochs (32 795 iterations), PC until the epoch-average loss improves by less than
    ``1e-3`` (at most 35 epochs), matched BP 35 epochs, over 5 seeds."""
    check_choice("profile", profile, ("quick", "paper"))
    cfg = dict(lr_chain=0.4, std_chain=0.05, T_chain=20, bp_iters={1: 15, 2: 100}, pc_iters=50, chain_stop=1e-3,
               std_wide=0.1, T_wide=50, lr_wide=1e-3, batch=64, epoch=60_000 // 64)
    if profile == "quick":
        cfg.update(bp_wide=15_000, pc_wide=300, matched_wide=1_000, pc_wide_stop=False, seeds_wide=3)
    else:
        cfg.update(bp_wide=35 * cfg["epoch"], pc_wide=35 * cfg["epoch"], matched_wide=35 * cfg["epoch"],
                   pc_wide_stop=True, seeds_wide=5)
    return cfg


def chain_stream(n_hidden: int, seed: int, cfg: dict) -> Dataset:
    """The toy samples the chain runs of ``seed`` draw their fresh batches from (seed ``100 + seed``)."""
    n_batches = max(cfg["bp_iters"][n_hidden], cfg["pc_iters"])
    return toy_gaussian(cfg["batch"] * n_batches, dim=1, seed=100 + seed)


def chain_runs(n_hidden: int, seed: int, cfg: dict, *, record_trajectory: bool = False) -> dict[str, History]:
    """``{"bp": History, "pc": History}`` of the chain with ``n_hidden`` hidden units (1 or 2) from the
    authors' initial weights for ``seed``; test loss on ``x = 1, y = -1`` after every update."""
    if n_hidden not in (1, 2) or isinstance(n_hidden, bool):
        raise ValueError(f"n_hidden must be 1 or 2 (the chains of Figures 2 and 7); received {n_hidden!r}")
    w0 = init.legacy_numpy_chain(n_hidden, seed, cfg["std_chain"])
    stream = chain_stream(n_hidden, seed, cfg)
    test = (torch.ones(1, 1, dtype=F64), -torch.ones(1, 1, dtype=F64))
    return {
        "bp": train("bp", w0, fresh_batches(stream, cfg["batch"]), cfg["bp_iters"][n_hidden], cfg["lr_chain"], test=test,
                    record_trajectory=record_trajectory),
        "pc": train("pc", w0, fresh_batches(stream, cfg["batch"]), cfg["pc_iters"], cfg["lr_chain"], n_steps=cfg["T_chain"],
                    test=test, record_trajectory=record_trajectory,
                    stop=stop_when_test_below(cfg["chain_stop"]) if n_hidden == 1 else None),
    }


def wide_data(seed: int) -> Dataset:
    """The wide network's fixed training set: 60 000 toy samples in 3-D (seed ``seed``)."""
    return toy_gaussian(60_000, dim=3, seed=seed)


def wide_runs(seed: int, cfg: dict) -> dict[str, History]:
    """``{"bp", "pc", "bp_matched": History}`` of the wide network from ``N(0, std_wide^2)`` weights of
    ``seed``, all three on the same batches (:func:`pcsaddles.batching.epoch_batches` of
    :func:`wide_data`), with the authors' normalisations and losses reported with ``1/(2N)``."""
    ds = wide_data(seed)
    w0 = init.gaussian(WIDE_WIDTHS, cfg["std_wide"], seed=seed)
    test = (torch.ones(1, 3, dtype=F64), -torch.ones(1, 3, dtype=F64))
    common = dict(convention="authors", report="paper", test=test)
    factor = matched_lr_factor(cfg["batch"], WIDE_WIDTHS[-1])
    return {
        "bp": train("bp", w0, epoch_batches(ds, cfg["batch"], seed), cfg["bp_wide"], cfg["lr_wide"], **common),
        "pc": train("pc", w0, epoch_batches(ds, cfg["batch"], seed), cfg["pc_wide"], cfg["lr_wide"], n_steps=cfg["T_wide"],
                    stop=stop_on_plateau(cfg["epoch"], 1e-3) if cfg["pc_wide_stop"] else None, **common),
        "bp_matched": train("bp", w0, epoch_batches(ds, cfg["batch"], seed), cfg["matched_wide"], cfg["lr_wide"],
                            lr_factor=factor, **common),
    }
