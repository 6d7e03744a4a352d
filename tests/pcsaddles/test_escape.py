"""The shared pieces of the chapters on Figures 5, 11 and 12, on hand-made runs whose answers are
known by construction, tiny real runs, and the homogeneity of the loss gradient near the saddles."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pcsaddles import escape, layered, train
from reprokit.records import Reproduction


def _run(loss, grad, rule="pc"):
    return train.History.from_curves(rule, loss, grad, lr=1e-3, status="computed")


RUNS = {("toy", "tanh"): dict(
    pc=_run([0.1, 0.099, 0.094, 0.088, 0.08], [1, 5, 20, 3, 2]),
    bp=_run([0.1, 0.1, 0.0999, 0.0999, 0.0999], [1e-3, 2e-3, 1e-3, 1e-3, 1e-3], "bp"),
    bp_matched=_run([0.1, 0.1, 0.1, 0.093, 0.0901], [0.01, 0.02, 0.03, 0.04, 0.01], "bp"),
)}


def test_summary():
    table = escape.summary(RUNS, factor=320.0, levels=(0.095, 0.085)).loc[("toy", "tanh")]
    assert table["iterations"] == 5
    assert table["BP min"] == 0.0999 and table["grad PC"] == 20 and table["grad BP"] == 2e-3
    assert table["grad PC/BP"] == pytest.approx(1e4) and table["grad PC/(320 BP)"] == pytest.approx(1e4 / 320)
    assert table["grad PC/matched"] == pytest.approx(20 / (320 * 0.04))
    assert table["PC first < 0.095"] == 2 and table["matched first < 0.095"] == 3
    assert table["matched/PC (0.095)"] == pytest.approx(3 / 2)
    assert table["PC first < 0.085"] == 4 and pd.isna(table["matched first < 0.085"])
    assert table["matched/PC (0.085)"] == pytest.approx(5 / 4)  # never crossed: the run length, a lower bound
    assert table["PC final"] == pytest.approx(np.mean([0.1, 0.099, 0.094, 0.088, 0.08]))


def test_check_claims_record_one_set_of_claims_per_run(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROKIT_CLAIMS_DIR", str(tmp_path))
    rep = Reproduction("pc-saddles/test-escape", "t", "quick", covers=["figure 5"])
    table = escape.summary(RUNS, 320.0)
    slopes = pd.DataFrame([dict(dataset="toy", activation="tanh", slope=4.05)]).set_index(["dataset", "activation"])
    escape.check_claims(rep, RUNS, table, slopes, figure=5, depth=4)
    by_id = {c["id"]: c for c in rep.claims}
    assert by_id["F5-pc-leaves-toy-tanh"]["passed"] and by_id["F5-pc-leaves-toy-tanh"]["value"] == 4
    assert by_id["F5-pc-leaves-toy-tanh"]["relaxed"]
    assert by_id["F5-bp-plateau-toy-tanh"]["passed"] and by_id["F11-grad-toy-tanh"]["passed"]
    assert by_id["F5-matched-toy-tanh"]["passed"]  # 1.5 > 1.2
    assert by_id["F5-grad-scaling-toy-tanh"]["passed"] and by_id["F5-grad-scaling-toy-tanh"]["origin"] == "derived"
    rep12 = Reproduction("pc-saddles/test-escape", "t", "quick", covers=["figure 12"])
    escape.check_claims(rep12, RUNS, table, slopes, figure=12, depth=4)
    by_id = {c["id"]: c for c in rep12.claims}
    assert not by_id["F12-grad-scaling-toy-tanh"]["passed"]  # 4.05 is the origin's slope, not H - 1 = 3
    assert by_id["F12-matched-const-toy-tanh"]["passed"]  # 5 / 4 > 1.2
    assert by_id["F12-matched-final-toy-tanh"]["passed"] == (RUNS["toy", "tanh"]["bp_matched"].train_loss.mean()
                                                              > RUNS["toy", "tanh"]["pc"].train_loss.mean())


def test_published_comparison_names_the_papers_numbers():
    runs = {("fashion_mnist", "relu"): RUNS["toy", "tanh"], ("mnist_subset", "linear"): RUNS["toy", "tanh"]}
    table = escape.published_comparison(runs)
    assert table.loc[("fashion_mnist", "relu"), "published iterations"] == 12182
    assert table.loc[("mnist_subset", "linear"), "published iterations"] == 4686  # the MNIST row
    assert table.loc[("fashion_mnist", "relu"), "iterations here"] == 5


@pytest.mark.parametrize("saddle, expected", [("origin", 4), ("penultimate", 3)])
def test_bp_gradient_scales_like_sigma_to_the_degeneracy_of_the_saddle(saddle, expected):
    """Near the origin every layer is O(sigma), so a layer's loss gradient (a product of the other H
    layers) is O(sigma^H); with W_{L-1} at its default size it is O(sigma^(H-1))."""
    sets = _toy_sets()
    cfg = dict(width=6, depth=4, sigma=4e-3, batch=8, activations=("linear", "tanh"))
    slopes = escape.bp_gradient_slope(sets, cfg, saddle, seed=0)
    assert set(slopes.index) == {("toy", "linear"), ("toy", "tanh")}
    np.testing.assert_allclose(slopes["slope"], expected, atol=1e-3)


def test_settings_and_factory():
    quick, paper = escape.settings("quick"), escape.settings("paper")
    assert quick["width"] * quick["sigma"] ** 2 == pytest.approx(paper["width"] * paper["sigma"] ** 2)  # sigma sqrt(n)
    assert paper["n_iter"] is None and paper["max_epochs"] == 35 and "cifar10" in paper["datasets"]
    make = escape.network_factory(dict(width=5, depth=3, sigma=0.1), "penultimate", seed=2)
    ws = make("toy", 7, "tanh")
    assert [tuple(w.shape) for w in ws] == [(5, 7), (5, 5), (5, 5), (10, 5)]
    assert torch.equal(ws[0], escape.initial_network(7, "tanh", width=5, depth=3, std=0.1, seed=2)[0])
    with pytest.raises(ValueError, match="saddle"):
        escape.network_factory(quick, "rank-1")


def test_coverage_rows_follow_the_profile(tmp_path, monkeypatch):
    monkeypatch.setenv("REPROKIT_CLAIMS_DIR", str(tmp_path))
    for profile, max_iter, status in (("quick", 0, "reduced"), ("paper", 0, "run"), ("paper", 100, "reduced")):
        rep = Reproduction("pc-saddles/test-escape", "t", profile, covers=["figure 5"])
        escape.declare_coverage(rep, 5, profile, escape.settings(profile), {"fashion_mnist": None, "mnist_subset": None},
                                {"cifar10": "absent"}, max_iter)
        rows = {r["item"]: r for r in rep.coverage_rows}
        assert rows["figure 5, Fashion-MNIST row"]["status"] == status
        assert rows["figure 11, MNIST row"]["status"] == "reduced"  # the 5 000-image subset in every profile
        assert rows["figure 5, CIFAR-10 row"]["status"] == "not run"


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
        np.testing.assert_array_equal(again["toy", "tanh"][rule].train_loss, first["toy", "tanh"][rule].train_loss)
        assert again["toy", "tanh"][rule].status == "loaded"
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
    np.testing.assert_array_equal(runs["toy", "tanh"]["pc"].train_loss, legacy["loss"])
    assert runs["toy", "tanh"]["pc"].status == "legacy"


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
