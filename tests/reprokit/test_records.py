"""Tests of reprokit.records: the reproduction record each chapter writes in its last cell."""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
import torch

from reprokit import records

CID = "pc-saddles/theorem-1-equilibrated-energy"


@pytest.fixture
def claims_dir(tmp_path, monkeypatch):
    out = tmp_path / "claims"
    monkeypatch.setenv("REPROKIT_CLAIMS_DIR", str(out))
    return out


def rep_of(cid=CID, profile="quick", covers=("theorem 1",)):
    return records.Reproduction(cid, "T", profile, covers=list(covers))


def test_claims_dir_follows_the_environment(claims_dir, monkeypatch, tmp_path):
    assert records.claims_dir() == claims_dir
    monkeypatch.delenv("REPROKIT_CLAIMS_DIR")
    monkeypatch.chdir(tmp_path)
    assert records.claims_dir() == tmp_path / "_build" / "claims"


def test_finish_writes_the_documented_json_under_the_chapter_id(claims_dir):
    rep = records.Reproduction(CID, "Theorem 1", "quick", covers=["theorem 1", "equation 5"])
    rep.add_data({"name": "toy", "source": "N(1, 0.1^2), y = -x", "n": 64})
    rep.add_data({"name": "toy", "source": "N(1, 0.1^2), y = -x", "n": 64})  # recorded once
    rep.note("widths 4-64 instead of the paper's 10-300")
    rep.coverage("theorem 1, widths 10-300", "reduced", "widths 4-64 on CPU")
    rep.coverage("equation 5", "run")
    assert rep.check_below("T1-exact", "F(z*) equals Eq. 5", torch.tensor(3e-16, dtype=torch.float64), 1e-10,
                           origin="derived") is True
    assert rep.check_above("T2-neg", "lambda_min < 0 has a magnitude", np.float64(2.5), 1.0, origin="paper") is True
    assert rep.check("T2-count", "negative eigenvalues", 18, "== 18", True, origin="book") is True
    assert rep.check_close("T2-val", "lambda_min", -1.6180339, -(1 + 5 ** 0.5) / 2, 1e-6) is True
    returned = rep.finish()

    path = claims_dir / "pc-saddles" / "theorem-1-equilibrated-energy.json"
    written = json.loads(path.read_text())
    assert written == returned
    assert set(written) == {"id", "part", "chapter", "covers", "profile", "seconds", "environment", "data", "notes",
                            "coverage", "claims"}
    assert written["id"] == CID and written["part"] == "pc-saddles"
    assert written["covers"] == ["theorem 1", "equation 5"]
    assert written["notes"] == ["widths 4-64 instead of the paper's 10-300"]
    assert written["coverage"] == [dict(item="theorem 1, widths 10-300", status="reduced", why="widths 4-64 on CPU"),
                                   dict(item="equation 5", status="run", why="")]
    assert written["environment"]["torch_threads"] == torch.get_num_threads()
    assert written["environment"]["cpu_count"] == os.cpu_count()
    assert written["chapter"] == "Theorem 1" and written["profile"] == "quick"
    assert isinstance(written["seconds"], float) and written["seconds"] >= 0
    assert written["data"] == [{"name": "toy", "source": "N(1, 0.1^2), y = -x", "n": 64}]
    assert written["claims"][:3] == [
        {"id": "T1-exact", "statement": "F(z*) equals Eq. 5", "value": 3e-16, "target": "< 1e-10", "passed": True,
         "origin": "derived", "relaxed": None},
        {"id": "T2-neg", "statement": "lambda_min < 0 has a magnitude", "value": 2.5, "target": "> 1", "passed": True,
         "origin": "paper", "relaxed": None},
        {"id": "T2-count", "statement": "negative eigenvalues", "value": 18, "target": "== 18", "passed": True,
         "origin": "book", "relaxed": None},
    ]
    assert written["claims"][3]["target"] == "-1.61803 ± 1e-06" and written["claims"][3]["origin"] is None
    assert [p.name for p in (claims_dir / "pc-saddles").iterdir()] == [path.name]  # no temporary file left


def test_finish_raises_naming_every_failed_claim(claims_dir):
    rep = rep_of("pc-saddles/figure-3", "paper")
    rep.check_below("ok", "passes", 0.5, 1.0)
    assert rep.check_below("too-big", "should be small", 2.0, 1.0) is False
    assert rep.check_above("too-small", "should be large", 0.1, 1.0) is False
    assert rep.check_close("off", "should be 1", 1.5, 1.0, 0.1) is False
    with pytest.raises(AssertionError, match=r"pc-saddles/figure-3: 3 of 4 claims failed") as err:
        rep.finish()
    message = str(err.value)
    assert "too-big: should be small -- measured 2.0, target < 1" in message
    assert "too-small: should be large -- measured 0.1, target > 1" in message
    assert "ok:" not in message
    written = json.loads((claims_dir / "pc-saddles" / "figure-3.json").read_text())  # written even when failing
    assert [c["passed"] for c in written["claims"]] == [True, False, False, False]


def test_finish_refuses_a_record_without_claims(claims_dir):
    with pytest.raises(AssertionError, match="pc-saddles/figure-1: no claim was checked"):
        rep_of("pc-saddles/figure-1").finish()


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_values_fail_every_bound(claims_dir, value):
    rep = rep_of("part/nan")
    assert rep.check_below("below", "nan is not below", value, 1e300) is False
    assert rep.check_above("above", "nan is not above", value, -1e300) is False
    with pytest.raises(AssertionError, match="2 of 2 claims failed"):
        rep.finish()
    written = json.loads((claims_dir / "part" / "nan.json").read_text())  # strict JSON: no bare NaN/Infinity
    assert [c["value"] for c in written["claims"]] == [str(value)] * 2
    assert math.isnan(float(written["claims"][0]["value"])) or math.isinf(float(written["claims"][0]["value"]))


def test_duplicate_claim_ids_and_unknown_origins_raise(claims_dir):
    rep = rep_of()
    rep.check_below("T1", "first", 0.0, 1.0)
    with pytest.raises(ValueError, match=r"claim id 'T1' is used twice in pc-saddles/theorem-1"):
        rep.check_above("T1", "second", 2.0, 1.0)
    with pytest.raises(ValueError, match=r"unknown claim origin 'spec'.*\['paper', 'derived', 'book'\]"):
        rep.check("T3", "x", 1, "1", True, origin="spec")


@pytest.mark.parametrize("cid", ["theorem-1", "Part/x", "pc-saddles/", "/x", "a/b c", 3])
def test_a_chapter_id_must_be_a_path_under_book(cid):
    with pytest.raises(ValueError, match="chapter_id must be the chapter's path under book/"):
        records.Reproduction(cid, "X", "quick", covers=["figure 1"])


@pytest.mark.parametrize("covers", [[], "figure 1", [""], None, [3]])
def test_covers_must_name_what_of_the_paper(covers):
    with pytest.raises(ValueError, match="covers must be a non-empty list"):
        records.Reproduction(CID, "X", "quick", covers=covers)


def test_unknown_profile_raises():
    with pytest.raises(ValueError, match=r"unknown profile 'full'; expected one of \['quick', 'paper'\]"):
        rep_of(profile="full")


@pytest.mark.parametrize("provenance", [{"name": "mnist"}, {"source": "url"}, "mnist"])
def test_add_data_requires_name_and_source(provenance):
    with pytest.raises(ValueError, match="provenance must be a dict with 'name' and 'source'"):
        rep_of().add_data(provenance)


def test_summary_lists_every_claim():
    rep = rep_of()
    rep.check_below("T1-exact", "s", 3e-16, 1e-10, origin="derived")
    rep.check_above("T2", "s", 0.5, 1.0)
    lines = rep.summary().splitlines()
    assert len(lines) == 3
    assert lines[1].split() == ["T1-exact", "3.00e-16", "<", "1e-10", "derived", "yes"]
    assert lines[2].split() == ["T2", "0.5", ">", "1", "-", "NO"]


@pytest.mark.parametrize("value, text", [
    (0.123456, "0.1235"), (3e-16, "3.00e-16"), (123456.0, "1.23e+05"), (12, "12"), (120000, "120 000"),
    (True, "yes"), (None, "-"), ([1.0, 0.5], "1, 0.5"), ({"a": 0.25}, "a: 0.25"),
    (list(range(10)), "0, 1, 2, 3, 4, 5, 6, 7, ... (10 values)"),
])
def test_format_value_prints_numbers_not_python_reprs(value, text):
    assert records.format_value(value) == text


def test_coverage_and_relaxed_targets_must_say_why():
    rep = rep_of()
    with pytest.raises(ValueError, match=r"unknown coverage status 'partial'.*\['run', 'reduced', 'projected', 'not run'\]"):
        rep.coverage("figure 5", "partial", "x")
    with pytest.raises(ValueError, match="'not run' of 'figure 5, CIFAR-10' needs a reason"):
        rep.coverage("figure 5, CIFAR-10", "not run")
    with pytest.raises(ValueError, match="must name a panel"):
        rep.coverage(" ", "run")
    with pytest.raises(ValueError, match="relaxed must say why"):
        rep.check_below("x", "s", 0.1, 1.0, relaxed="")
    rep.check_below("T3-unrolled", "T = 50 vs theory", 0.012, 5e-2, origin="derived",
                    relaxed="5e-4 does not hold at this saddle (activity Hessian min eigenvalue 0.34)")
    assert rep.claims[0]["relaxed"].startswith("5e-4 does not hold")
