"""The shared pieces of the escape chapters (Figures 5, 11, 12) on hand-made runs whose answers are
known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from pcsaddles import escape


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
