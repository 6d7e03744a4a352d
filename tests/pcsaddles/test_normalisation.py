"""Tests of pcsaddles.normalisation: the factors between the paper's and the authors' objectives,
and the reported losses, against objectives written out independently (``nn.MSELoss`` as
``torch.nn.functional.mse_loss``, the paper's ``1/(2N)`` sum)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402
import torch  # noqa: E402

from pcsaddles import normalisation  # noqa: E402
from pcsaddles_training_reference import batch  # noqa: E402


def test_grad_scale_table():
    assert normalisation.grad_scale("bp", "paper", 64, 10) == 1.0
    assert normalisation.grad_scale("pc", "paper", 64, 10) == 1.0
    assert normalisation.grad_scale("bp", "authors", 64, 10) == pytest.approx(0.2)
    assert normalisation.grad_scale("pc", "authors", 64, 10) == 64.0
    assert normalisation.grad_scale("pc", "authors", 64, 10) / normalisation.grad_scale("bp", "authors", 64, 10) == pytest.approx(
        normalisation.matched_lr_factor(64, 10))  # x320 for 10 classes
    with pytest.raises(ValueError, match="convention"):
        normalisation.grad_scale("bp", "torch", 64, 10)
    with pytest.raises(ValueError, match="rule"):
        normalisation.grad_scale("sgd", "paper", 64, 10)


def test_reported_loss_conventions():
    out, y = batch(4, 4, 10)
    assert float(normalisation.reported_loss(out, y, "mse")) == pytest.approx(float(torch.nn.functional.mse_loss(out, y)), abs=1e-15)
    assert float(normalisation.reported_loss(out, y, "paper")) == pytest.approx(float(0.5 * ((y - out) ** 2).sum(1).mean()), abs=1e-15)
    with pytest.raises(ValueError, match="report"):
        normalisation.reported_loss(out, y, "sum")


def test_reported_loss_with_a_mask_counts_observed_entries_over_all_entries():
    out, y = batch(4, 4, 10)
    mask = (torch.arange(40).reshape(10, 4) % 3 != 0).to(out.dtype)
    expected = float(torch.nn.functional.mse_loss(mask * out, mask * y))  # nn.MSELoss of the masked tensors
    assert float(normalisation.reported_loss(out, y, "mse", mask)) == pytest.approx(expected, abs=1e-15)
    half = 0.5 * float(((mask * (y - out)) ** 2).sum()) / 10
    assert float(normalisation.reported_loss(out, y, "paper", mask)) == pytest.approx(half, abs=1e-15)


def test_matched_factor_input_errors():
    assert normalisation.matched_lr_factor(10, 10) == 50.0  # matrix completion
    with pytest.raises(ValueError, match="batch size"):
        normalisation.matched_lr_factor(0, 10)
