"""Tests of pcsaddles.tracking (Figure 1's loop): the recorded energies against Eq. 5 and the loss
written out independently, the optimiser step against grad F* by autograd, the Heun cadence."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pcsaddles import data, init, tracking
from reference import torch_fstar


def _dataset(n=32, d_x=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=gen)
    x = torch.randn(n, d_x, generator=gen, dtype=torch.float64)
    return data.Dataset(x, torch.nn.functional.one_hot(labels, 10).double(), labels,
                        dict(name="t", source="randn", n_samples=n, split="train", note=""))


def test_track_records_eq5_and_steps_on_grad_fstar():
    ds = _dataset()
    rows = tracking.track(ds, depth=2, width=4, n_iter=3, optimizer="sgd", lr=0.5, batch=8, seed=1, heun_every=2)
    assert list(rows["iteration"]) == [1, 2, 3]
    assert rows["gap_exact"].max() < 1e-12  # Theorem 1 at the exact equilibrium
    assert not math.isnan(rows["heun"][0]) and math.isnan(rows["heun"][1]) and not math.isnan(rows["heun"][2])
    assert rows["heun_err"].max() < 1.0 and rows["gap_heun"].max() < 1e-2
    # the energy excess of the adaptive solution is the quadratic form of its activity error
    done = rows.dropna(subset=["heun"])
    np.testing.assert_allclose(done["heun"] - done["exact"], done["heun_quadratic"], rtol=1e-8, atol=1e-15)
    # replay: SGD on autograd's grad F* from the same initial weights and batches
    ws = [w.requires_grad_(True) for w in init.default_uniform([5, 4, 4, 10], seed=1, dtype=torch.float64)]
    from pcsaddles.batching import epoch_batches
    for (x, y), row in zip(epoch_batches(ds, 8, 1), rows.itertuples()):
        f = torch_fstar(ws, x, y)
        assert row.theory == pytest.approx(f.item(), rel=1e-12)
        r = (y - x @ torch.linalg.multi_dot([w.T for w in ws])).detach()
        assert row.loss == pytest.approx(0.5 * float((r ** 2).sum(1).mean()), rel=1e-12)
        grads = torch.autograd.grad(f, ws)
        with torch.no_grad():
            for w, g in zip(ws, grads):
                w -= 0.5 * g
    assert np.all(rows["theory"] < rows["loss"])


def test_track_input_errors():
    with pytest.raises(ValueError, match="optimizer"):
        tracking.track(_dataset(), 2, 4, 1, optimizer="rmsprop")
    with pytest.raises(ValueError, match="heun_every"):
        tracking.track(_dataset(), 2, 4, 1, heun_every=0)
