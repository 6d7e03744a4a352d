"""Tests of pcsaddles.records: the reproduction record each chapter writes in its last cell."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from pcsaddles import records


@pytest.fixture
def claims_dir(tmp_path, monkeypatch):
    out = tmp_path / "claims"
    monkeypatch.setenv("PCSADDLES_CLAIMS_DIR", str(out))
    return out


def test_claims_dir_follows_the_environment(claims_dir, monkeypatch, tmp_path):
    assert records.claims_dir() == claims_dir
    monkeypatch.delenv("PCSADDLES_CLAIMS_DIR")
    monkeypatch.chdir(tmp_path)
    assert records.claims_dir() == tmp_path / "_build" / "claims"


def test_finish_writes_the_documented_json(claims_dir):
    rep = records.Reproduction("theorem-1-equilibrated-energy", "Theorem 1", "quick")
    rep.add_data({"name": "toy", "source": "N(1, 0.1^2), y = -x", "n": 64})
    rep.add_data({"name": "toy", "source": "N(1, 0.1^2), y = -x", "n": 64})  # recorded once
    assert rep.check_below("T1-exact", "F(z*) equals Eq. 5", torch.tensor(3e-16, dtype=torch.float64), 1e-10) is True
    assert rep.check_above("T2-neg", "lambda_min < 0 has a magnitude", np.float64(2.5), 1.0) is True
    assert rep.check("T2-count", "negative eigenvalues", 18, "== 18", True) is True
    returned = rep.finish()

    path = claims_dir / "theorem-1-equilibrated-energy.json"
    written = json.loads(path.read_text())
    assert written == returned
    assert set(written) == {"chapter", "profile", "seconds", "environment", "data", "claims"}
    assert written["environment"]["torch_threads"] == torch.get_num_threads()
    assert written["environment"]["cpu_count"] == os.cpu_count()
    assert written["chapter"] == "Theorem 1" and written["profile"] == "quick"
    assert isinstance(written["seconds"], float) and written["seconds"] >= 0
    assert written["data"] == [{"name": "toy", "source": "N(1, 0.1^2), y = -x", "n": 64}]
    assert written["claims"] == [
        {"id": "T1-exact", "statement": "F(z*) equals Eq. 5", "value": 3e-16, "target": "< 1e-10", "passed": True},
        {"id": "T2-neg", "statement": "lambda_min < 0 has a magnitude", "value": 2.5, "target": "> 1", "passed": True},
        {"id": "T2-count", "statement": "negative eigenvalues", "value": 18, "target": "== 18", "passed": True},
    ]
    assert [p.name for p in claims_dir.iterdir()] == [path.name]  # no temporary file left behind


def test_finish_raises_naming_every_failed_claim(claims_dir):
    rep = records.Reproduction("figure-3", "Figure 3", "paper")
    rep.check_below("ok", "passes", 0.5, 1.0)
    assert rep.check_below("too-big", "should be small", 2.0, 1.0) is False
    assert rep.check_above("too-small", "should be large", 0.1, 1.0) is False
    with pytest.raises(AssertionError, match=r"figure-3: 2 of 3 claims failed") as err:
        rep.finish()
    message = str(err.value)
    assert "too-big: should be small -- measured 2.0, target < 1" in message
    assert "too-small: should be large -- measured 0.1, target > 1" in message
    assert "ok:" not in message
    written = json.loads((claims_dir / "figure-3.json").read_text())  # written even when failing
    assert [c["passed"] for c in written["claims"]] == [True, False, False]


def test_finish_refuses_a_record_without_claims(claims_dir):
    with pytest.raises(AssertionError, match="figure-1: no claim was checked"):
        records.Reproduction("figure-1", "Figure 1", "quick").finish()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_values_fail_both_bounds(claims_dir, value):
    rep = records.Reproduction("nan", "NaN", "quick")
    assert rep.check_below("below", "nan is not below", value, 1e300) is False
    assert rep.check_above("above", "nan is not above", value, -1e300) is False
    with pytest.raises(AssertionError, match="2 of 2 claims failed"):
        rep.finish()
    written = json.loads((claims_dir / "nan.json").read_text())  # strict JSON: no bare NaN/Infinity
    assert [c["value"] for c in written["claims"]] == [str(value)] * 2
    assert math.isnan(float(written["claims"][0]["value"])) or math.isinf(float(written["claims"][0]["value"]))


def test_duplicate_claim_ids_raise(claims_dir):
    rep = records.Reproduction("dup", "Dup", "quick")
    rep.check_below("T1", "first", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"claim id 'T1' is used twice in dup"):
        rep.check_above("T1", "second", 2.0, 1.0)


def test_unknown_profile_raises():
    with pytest.raises(ValueError, match=r"unknown profile 'full'; expected one of \['quick', 'paper'\]"):
        records.Reproduction("x", "X", "full")


@pytest.mark.parametrize("provenance", [{"name": "mnist"}, {"source": "url"}, "mnist"])
def test_add_data_requires_name_and_source(provenance):
    rep = records.Reproduction("x", "X", "quick")
    with pytest.raises(ValueError, match="provenance must be a dict with 'name' and 'source'"):
        rep.add_data(provenance)


def test_summary_lists_every_claim():
    rep = records.Reproduction("x", "X", "quick")
    rep.check_below("T1-exact", "s", 3e-16, 1e-10)
    rep.check_above("T2", "s", 0.5, 1.0)
    lines = rep.summary().splitlines()
    assert len(lines) == 3
    assert lines[1].split() == ["T1-exact", "3e-16", "<", "1e-10", "yes"]
    assert lines[2].split() == ["T2", "0.5", ">", "1", "NO"]
