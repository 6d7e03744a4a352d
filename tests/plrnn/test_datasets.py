"""The simulated data sets of the trained-RNN experiments."""

import numpy as np
import pytest

from plrnn import datasets


def test_decision_data_and_shared_standardisation():
    d = datasets.decision_data(n_traj=3, n_samples=20)
    assert d.raw.shape == (3, 20, 3) and d.series.shape == (3, 20, 3)
    np.testing.assert_allclose(d.flat().mean(0), 0.0, atol=1e-12)
    v = datasets.decision_data(seed=1, n_traj=2, n_samples=20, standardiser=d.standardiser)
    np.testing.assert_allclose(v.series, (v.raw - d.standardiser.mean) / d.standardiser.std, atol=1e-12)
    assert v.key != datasets.decision_data(seed=1, n_traj=2, n_samples=20).key
    prov = d.provenance
    for key in ("system", "parameters", "integrator", "rtol", "atol", "dt", "n_trajectories", "standardisation"):
        assert key in prov
    assert prov["parameters"]["w_EI"] == -15.0 and prov["n_trajectories"] == 3


def test_hh_limit_cycle_period():
    lc = datasets.hh_limit_cycle()
    assert abs(float(lc["period"]) - 16.008) < 0.01  # 40 samples of 0.4 ms
    assert lc["cycle"][:, 0].max() > 25 and lc["cycle"][:, 0].min() < -70


def test_neuron_data_small():
    d = datasets.neuron_data(n_segments=2, duration=80.0)
    assert d.series.shape == (2, 200 - 10, 6)
    assert d.extra["spiking"].tolist() == [False, True]
    assert d.raw[0, :, 0].max() < -55 and d.raw[1, :, 0].max() > 20
    np.testing.assert_allclose(d.series[1, 0, 1], d.standardiser(d.raw[1, 2, 0:1])[0], atol=1e-12)  # lag 2


def test_bad_inputs():
    with pytest.raises(ValueError, match="n_traj"):
        datasets.duffing_data(n_traj=0)
    with pytest.raises(ValueError, match="n_segments"):
        datasets.neuron_data(n_segments=1)
