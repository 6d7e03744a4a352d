"""The shared pieces of the escape chapters (Figures 5, 11, 12) on hand-made runs whose answers are
known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pcsaddles import escape, layered


def _run(loss, grad):
    return dict(loss=np.asarray(loss, float), grad=np.asarray(grad, float), seconds=0.0, cached=False, finite=True)


RUNS = {("toy", "tanh"): dict(
    pc=_run([0.1, 0.099, 0.094, 0.088, 0.08], [1, 5, 20, 3, 2]),
    bp=_run([0.1, 0.1, 0.0999, 0.0999, 0.0999], [1e-3, 2e-3, 1e-3, 1e-3, 1e-3]),
    bp_matched=_run([0.1, 0.1, 0.1, 0.093, 0.0901], [0.01, 0.02, 0.03, 0.04, 0.01]),
)}


def test_first_below_is_strict():
    assert escape.first_below([0.1, 0.09, 0.089], 0.09) == 2
    assert escape.first_below([0.1, 0.1], 0.09) is None


def test_summary_and_matched_gap():
    table = escape.summary(RUNS, factor=320.0, threshold=0.09).loc[("toy", "tanh")]
    assert table["iterations"] == 5 and table["pc_first_below"] == 3 and pd.isna(table["matched_first_below"])
    assert table["bp_min"] == 0.0999 and table["grad_pc"] == 20 and table["grad_bp"] == 2e-3
    assert table["grad_pc/bp"] == pytest.approx(1e4) and table["grad_pc/(320 bp)"] == pytest.approx(1e4 / 320)
    assert table["grad_pc/matched"] == pytest.approx(20 / (320 * 0.04))
    gap = escape.matched_gap(RUNS, levels=(0.095, 0.085)).loc[("toy", "tanh")]
    assert gap["PC first < 0.095"] == 2 and gap["matched first < 0.095"] == 3
    assert gap["matched/PC (0.095)"] == pytest.approx(3 / 2)
    assert gap["PC first < 0.085"] == 4 and pd.isna(gap["matched first < 0.085"])
    assert gap["matched/PC (0.085)"] == pytest.approx(5 / 4)  # never crossed: the run length, a lower bound


def test_select_device():
    assert escape.select_device("cpu", "paper").type == "cpu"
    assert escape.select_device("auto", "quick").type == "cpu"
    with pytest.raises(ValueError, match="device must be"):
        escape.select_device("tpu", "quick")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="no CUDA device"):
            escape.select_device("cuda", "paper")


def _toy_sets():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(32, 6, generator=gen, dtype=torch.float64)
    y = torch.nn.functional.one_hot(torch.arange(32) % 10, 10).to(torch.float64)
    from pcsaddles import data

    return {"toy": data.Dataset(x, y, None, dict(name="toy", source="randn", n_samples=32, split="train", note=""))}


def _toy_initial(seed, std=0.05):
    return lambda name, d_in, act: escape.initial_network(d_in, act, width=4, depth=2, std=std, seed=seed,
                                                       dtype=torch.float64)


CFG = dict(batch=8, lr=1e-2, T=5, dt=0.1, tol=1e-3, n_iter=6, max_epochs=None, activations=("tanh",))


def test_run_rules_stores_runs_by_configuration_and_reloads_them(tmp_path):
    from reprokit.runcache import RunStore

    sets = _toy_sets()

    def go(seed, std=0.05, **kw):
        store = RunStore(tmp_path / "runs", code=["pcsaddles.escape"])
        runs = escape.run_rules(sets, _toy_initial(seed, std), CFG, seed=seed, store=store, log=lambda s: None, **kw)
        return runs, {r["status"] for r in store.report()}

    first, status = go(0)
    assert status == {"computed"} and set(first["toy", "tanh"]) == {"pc", "bp", "bp_matched"}
    again, status = go(0)
    assert status == {"loaded"}
    for rule in ("pc", "bp", "bp_matched"):
        np.testing.assert_array_equal(again["toy", "tanh"][rule]["loss"], first["toy", "tanh"][rule]["loss"])
    _, status = go(3)  # another seed: other batches and initial weights, so nothing is reused
    assert status == {"computed"}
    _, status = go(0, std=0.07)  # another sigma: other initial weights
    assert status == {"computed"}
    _, status = go(0, max_iter=4)  # a capped smoke test never mixes with complete runs
    assert status == {"computed"}


def test_legacy_unkeyed_runs_are_adopted_only_when_allowed(tmp_path):
    from reprokit.runcache import RunStore

    folder = tmp_path / "runs"
    folder.mkdir()
    legacy = dict(loss=np.full(6, 0.5), grad=np.ones(6), seconds=np.float64(2.0))
    for rule in ("pc", "bp", "bp_matched"):
        np.savez(folder / f"toy-tanh-{rule}.npz", **legacy)
    store = RunStore(folder, code=["pcsaddles.escape"])
    runs = escape.run_rules(_toy_sets(), _toy_initial(0), CFG, seed=0, store=store, log=lambda s: None)
    assert {r["status"] for r in store.report()} == {"computed"}  # not allowed: recomputed
    store = RunStore(folder / "other", code=["pcsaddles.escape"])
    store.folder.mkdir()
    for rule in ("pc", "bp", "bp_matched"):
        np.savez(store.folder / f"toy-tanh-{rule}.npz", **legacy)
    runs = escape.run_rules(_toy_sets(), _toy_initial(0), CFG, seed=0, store=store, legacy_ok=True, log=lambda s: None)
    assert {r["status"] for r in store.report()} == {"legacy"}
    np.testing.assert_array_equal(runs["toy", "tanh"]["pc"]["loss"], legacy["loss"])
    assert runs["toy", "tanh"]["pc"]["cached"]


def test_initial_network_near_the_origin_and_the_other_saddle():
    ws = escape.initial_network(784, "tanh", width=200, depth=4, std=5e-3, seed=3)
    assert [tuple(w.shape) for w in ws] == [(200, 784), (200, 200), (200, 200), (200, 200), (10, 200)]
    assert all(w.dtype == torch.float32 for w in ws)
    for w in ws:
        assert abs(w.std().item() / 5e-3 - 1) < 0.05
    other = escape.initial_network(784, "tanh", width=200, depth=4, std=5e-3, penultimate="default", seed=3)
    bound = 1 / 200 ** 0.5  # U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for W_{L-1}
    assert other[-2].abs().max().item() <= bound
    assert abs(other[-2].std().item() - bound / 3 ** 0.5) < 0.05 * bound
    for a, b in zip(ws[:-2] + ws[-1:], other[:-2] + other[-1:]):
        assert torch.equal(a, b)  # only W_{L-1} differs
    net = escape.initial_network(3072, "relu", conv=True, conv_bias="zero")
    assert isinstance(net, layered.Net) and net.in_dim == 3072 and net.out_dim == 10
    with pytest.raises(ValueError, match="3072"):
        escape.initial_network(784, "relu", conv=True)
    with pytest.raises(ValueError, match="penultimate"):
        escape.initial_network(784, "relu", penultimate="kaiming")
