"""Tests of pcsaddles.batching: one epoch, endless epochs, fresh samples and the full batch
(orders checked against their definitions: permutations, no repeats, the same stream per seed)."""

from __future__ import annotations

import pytest
import torch

from pcsaddles import batching, data


def test_batches_cover_each_sample_once_in_a_seeded_order():
    ds = data.toy_gaussian(n=10, seed=1)
    got = list(batching.batches(ds, 3, seed=4))
    assert [b[0].shape for b in got] == [(3, 1)] * 3  # the last 10 % 3 = 1 sample is dropped
    assert all(torch.equal(y, -x) for x, y in got)
    seen = torch.cat([x for x, _ in got]).flatten()
    assert len(set(seen.tolist())) == 9 and set(seen.tolist()) <= set(ds.x.flatten().tolist())
    again = list(batching.batches(ds, 3, seed=4))
    assert all(torch.equal(a[0], b[0]) for a, b in zip(got, again))
    other = torch.cat([x for x, _ in batching.batches(ds, 3, seed=5)]).flatten()
    assert not torch.equal(seen, other)
    ordered = list(batching.batches(ds, 4, shuffle=False, drop_last=False))
    assert [len(x) for x, _ in ordered] == [4, 4, 2]
    assert torch.equal(torch.cat([x for x, _ in ordered]), ds.x)
    with pytest.raises(ValueError, match="drop_last=True would yield no batch"):
        list(batching.batches(ds, 11))


def test_batches_helpers():
    toy = data.toy_gaussian(64 * 3 + 5, 2, seed=0)
    for bad in (0, 2.5):
        with pytest.raises(ValueError, match="batch_size"):
            batching.fresh_batches(toy, bad)  # validated when called, not at the first batch
        with pytest.raises(ValueError, match="batch_size"):
            batching.epoch_batches(toy, bad)
    fresh = list(batching.fresh_batches(toy, 64))
    assert len(fresh) == 3 and torch.equal(torch.cat([b[0] for b in fresh]), toy.x[:192])
    ds = data.toy_gaussian(100, 2, seed=1)
    stream_a, stream_b = batching.epoch_batches(ds, 32, seed=3), batching.epoch_batches(ds, 32, seed=3)
    first = [next(stream_a) for _ in range(7)]  # 3 batches per epoch: crosses two epoch boundaries
    assert all(torch.equal(a[0], b[0]) for a, b in zip(first, (next(stream_b) for _ in range(7))))
    epoch0 = torch.cat([b[0] for b in first[:3]])
    assert len({tuple(r.tolist()) for r in epoch0}) == 96  # no repeats within an epoch


def test_full_batch_repeats_the_same_tensors():
    x, y = torch.zeros(3, 2), torch.ones(3, 1)
    stream = batching.full_batch(x, y)
    for _ in range(3):
        bx, by = next(stream)
        assert bx is x and by is y
    with pytest.raises(ValueError, match="same N"):
        batching.full_batch(x, torch.ones(2, 1))
