"""D_stsp and PE(n)."""

import numpy as np
import pytest
import torch

from plrnn import metrics, torchrnn
from plrnn.models import ALRNN


def test_identical_samples_have_zero_divergence():
    x = np.random.default_rng(0).standard_normal((500, 3))
    assert metrics.state_space_divergence(x, x) == pytest.approx(0.0, abs=1e-15)
    y = np.random.default_rng(1).standard_normal((300, 12))
    assert metrics.state_space_divergence(y, y) == 0.0  # the Gaussian-mixture branch, N >= 11


def test_histogram_kl_hand_case():
    # data: 3 points in the left half, 1 in the right; generated: 1 left, 3 right (2 bins)
    data = np.array([[0.0], [0.1], [0.2], [1.0]])
    gen = np.array([[0.0], [0.9], [0.95], [1.0]])
    a = 1e-5
    p = np.array([3 + a, 1 + a]) / (4 + 2 * a)
    q = np.array([1 + a, 3 + a]) / (4 + 2 * a)
    assert metrics.histogram_kl(data, gen, bins=2, alpha=a, margin=0.0) == pytest.approx(np.sum(p * np.log(p / q)),
                                                                                         rel=1e-12)
    # a diverged model (all points outside or non-finite) is far from the data
    assert metrics.histogram_kl(data, np.full((4, 1), np.nan), bins=2) > 0.3


def test_prediction_error():
    model = ALRNN([0.9, 0.5, 0.3], 0.2 * np.ones((3, 3)), [0.1, -0.2, 0.0], 1)
    L = np.array([[0.4, -0.1]])
    z = model.iterate(np.concatenate([[1.0, -1.0], L @ [1.0, -1.0]]), 30)
    # data from the model itself, started consistently: PE = 0 only for the first start, so use one start
    assert metrics.prediction_error(model, L, z[:6, :2], 5) == pytest.approx(0.0, abs=1e-28)
    # the identity map predicts x_t for x_{t+n}
    ident = ALRNN([1.0, 1.0], np.zeros((2, 2)), [0.0, 0.0], 1)
    x = np.random.default_rng(0).standard_normal((20, 2))
    expected = np.mean((x[3:] - x[:-3]) ** 2)
    assert metrics.prediction_error(ident, np.zeros((0, 2)), x, 3) == pytest.approx(expected, rel=1e-12)
    ens = torchrnn.ALRNNEnsemble(2, 2, 1, seeds=[0, 1], dtype=torch.float64)
    arr = ens.arrays()
    arr["A"][:] = 1.0
    arr["W"][:] = 0.0
    ens.load_arrays(arr)
    np.testing.assert_allclose(metrics.ensemble_prediction_error(ens, x, 3), [expected, expected], rtol=1e-12)


def test_steps_to_threshold():
    vals = np.array([[1.0, 2.0], [0.4, 1.0], [0.3, 0.45]])
    out = metrics.steps_to_threshold([0, 50, 100], vals, 0.5)
    np.testing.assert_array_equal(out, [50, 100])
    assert np.isnan(metrics.steps_to_threshold([0, 50, 100], vals, 0.1)).all()


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        metrics.histogram_kl(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        metrics.state_space_divergence(np.full((3, 2), np.nan), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="alpha"):
        metrics.histogram_kl(np.zeros((3, 2)), np.zeros((3, 2)), alpha=0.0)
    with pytest.raises(ValueError, match="shorter"):
        metrics.prediction_error(ALRNN([1.0], np.zeros((1, 1)), [0.0], 1), np.zeros((0, 1)), np.zeros((3, 1)), 5)
    with pytest.raises(ValueError, match="one row per step"):
        metrics.steps_to_threshold([0, 1], np.zeros((3, 2)), 0.5)
