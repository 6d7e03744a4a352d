"""Tests of pcsaddles.toynets: the runs equal the training loop driven by hand with the settings
the module documents (the authors' initial weights, the batches, the stopping rules)."""

from __future__ import annotations

import numpy as np
import torch

from pcsaddles import batching, init, toynets, train


def test_chain_runs_are_the_documented_runs():
    cfg = toynets.settings("quick")
    runs = toynets.chain_runs(1, 1, cfg)
    w0 = [torch.tensor([[w]], dtype=torch.float64) for w in np.random.RandomState(1).normal(0.0, 0.05, 2)]
    stream = toynets.chain_stream(1, 1, cfg)
    ref = train.train("bp", w0, batching.fresh_batches(stream, 64), 15, 0.4)
    np.testing.assert_array_equal(runs["bp"].train_loss, ref.train_loss)
    assert runs["pc"].stopped_early and runs["pc"].test_loss[-1] < 1e-3  # the one-unit chain's PC rule
    assert len(runs["bp"].test_loss) == 16  # at initialisation and after every update


def test_wide_runs_share_batches_and_start_and_differ_by_the_step():
    cfg = toynets.settings("quick") | dict(bp_wide=5, pc_wide=3, matched_wide=5)
    runs = toynets.wide_runs(0, cfg)
    assert {k: r.n_iter for k, r in runs.items()} == {"bp": 5, "pc": 3, "bp_matched": 5}
    assert runs["bp"].train_loss[0] == runs["pc"].train_loss[0] == runs["bp_matched"].train_loss[0]
    w0 = init.gaussian(toynets.WIDE_WIDTHS, 0.1, seed=0)
    stream = batching.epoch_batches(toynets.wide_data(0), 64, 0)
    x0, y0 = next(stream)
    x1, y1 = next(stream)
    step = train.bp_step(w0, x0, y0, 1e-3 * 96, convention="authors")  # matched: learning rate x N d / 2
    expected = train.bp_step(step.weights, x1, y1, 1e-3, report="paper").loss
    assert runs["bp_matched"].train_loss[1] == float(expected)
