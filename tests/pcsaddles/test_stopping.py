"""Tests of pcsaddles.stopping, on hand-made loss curves and on a chain trained by PC."""

from __future__ import annotations

import numpy as np
import torch

from pcsaddles import batching, data, stopping, train

F64 = torch.float64


def test_stopping_rules():
    ws = [torch.tensor([[0.05]], dtype=F64), torch.tensor([[0.05]], dtype=F64)]
    toy = data.toy_gaussian(64 * 50, 1, seed=0)
    xt, yt = torch.ones(1, 1, dtype=F64), -torch.ones(1, 1, dtype=F64)
    hist = train.train("pc", ws, batching.fresh_batches(toy, 64), 50, 0.4, n_steps=20, test=(xt, yt),
                       stop=stopping.stop_when_test_below(1e-3))
    assert hist.stopped_early and hist.test_loss[-1] < 1e-3 and np.all(hist.test_loss[:-1] >= 1e-3)
    assert hist.n_iter == hist.test_iter[-1] < 50

    rule = stopping.stop_on_plateau(epoch_length=4, tol=0.1)
    losses = torch.tensor([1.0, 1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.45, 0.45, 0.45, 0.45])
    fired = [rule(stopping.Progress(i, losses[: i + 1], torch.empty(0))) for i in range(12)]
    # epoch means 1.0, 0.5, 0.45: first decrease 0.5 (go on), second 0.05 < 0.1 (stop at the end of epoch 3)
    assert fired == [False] * 11 + [True]


def test_stop_when_train_below_reads_the_latest_training_loss():
    rule = stopping.stop_when_train_below(0.5)
    curve = torch.tensor([1.0, 0.6, 0.5, 0.4])
    assert [rule(stopping.Progress(i, curve[: i + 1], torch.empty(0))) for i in range(4)] == [False, False, False, True]
