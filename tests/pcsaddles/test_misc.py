"""Tests of pcsaddles.init, reprokit.profiles and pcsaddles.activations."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import activations, init
from reprokit import profiles

# ------------------------------------------------------------------------------------------------
# init


@pytest.mark.parametrize("make", [lambda w, **k: init.gaussian(w, 0.3, **k), init.default_uniform, init.zeros])
def test_shapes_dtype_and_layout(make):
    ws = make([5, 7, 4, 3])
    assert [tuple(w.shape) for w in ws] == [(7, 5), (4, 7), (3, 4)]
    assert all(w.dtype == torch.float64 for w in ws)
    ws32 = make([5, 7, 3], dtype=torch.float32)
    assert all(w.dtype == torch.float32 for w in ws32)


def test_gaussian_is_seeded_and_has_the_requested_std():
    a = init.gaussian([50, 80, 60], 0.7, seed=3)
    b = init.gaussian([50, 80, 60], 0.7, seed=3)
    c = init.gaussian([50, 80, 60], 0.7, seed=4)
    assert all(torch.equal(u, v) for u, v in zip(a, b))
    assert not torch.equal(a[0], c[0])
    entries = torch.cat([w.reshape(-1) for w in a]).numpy()  # 8800 i.i.d. N(0, 0.49) draws
    # the sample std of n normals has relative standard error 1/sqrt(2n) ~ 0.75%: 5 sigma is < 4%
    assert abs(entries.std() / 0.7 - 1) < 0.04
    assert abs(entries.mean()) < 5 * 0.7 / np.sqrt(entries.size)
    # float32 draws are the float64 draws rounded: the seed picks the same weights in either precision
    a32 = init.gaussian([50, 80, 60], 0.7, seed=3, dtype=torch.float32)
    assert all(torch.equal(u.float(), v) for u, v in zip(a, a32))


def test_default_uniform_matches_pytorch_linear_bound():
    ws = init.default_uniform([40, 90, 10], seed=1)
    for w, d_in in zip(ws, (40, 90)):
        bound = 1 / np.sqrt(d_in)
        values = w.numpy()
        assert values.min() >= -bound and values.max() <= bound
        # U(-b, b) fills its range: with >= 900 draws the extremes are within 2% of the bound
        assert values.min() < -0.98 * bound and values.max() > 0.98 * bound
        assert abs(values.std() - bound / np.sqrt(3)) < 0.1 * bound / np.sqrt(3)
    again = init.default_uniform([40, 90, 10], seed=1)
    assert all(torch.equal(u, v) for u, v in zip(ws, again))


def test_zeros_is_the_origin():
    assert all(float(w.abs().max()) == 0.0 for w in init.zeros([3, 4, 2]))


@pytest.mark.parametrize("widths", [[3], [], [3, 0, 2], [3, -1], [3, 2.0]])
def test_bad_widths_raise(widths):
    with pytest.raises(ValueError, match=r"widths must be a list \[d_0, d_1, ..., d_L\].*received"):
        init.gaussian(widths, 0.1)
    with pytest.raises(ValueError, match=r"received"):
        init.zeros(widths)


# ------------------------------------------------------------------------------------------------
# profiles


def test_select_returns_a_copy_of_the_profile_settings():
    quick = {"n": 10}
    got = profiles.select("quick", quick=quick, paper={"n": 1000})
    assert got == {"n": 10} and got is not quick
    assert profiles.select("paper", quick={"n": 10}, paper={"n": 1000}) == {"n": 1000}


def test_select_refuses_unknown_or_missing_profiles():
    with pytest.raises(ValueError, match=r"unknown profile 'ci'; expected one of \['quick', 'paper'\]"):
        profiles.select("ci", quick={}, paper={})
    with pytest.raises(ValueError, match=r"settings for profiles \['paper'\] are missing"):
        profiles.select("quick", quick={})
    with pytest.raises(TypeError, match=r"profile must be a string.*received int"):
        profiles.select(1, quick={}, paper={})


# ------------------------------------------------------------------------------------------------
# activations


@pytest.mark.parametrize("name", ["linear", "tanh", "relu"])
def test_activation_values_and_derivatives(name):
    a = torch.tensor([-2.0, -0.3, 0.4, 1.7], dtype=torch.float64, requires_grad=True)
    act = activations.get_activation(name)
    expected = {"linear": a.detach(), "tanh": torch.tanh(a.detach()), "relu": a.detach().clamp(min=0)}[name]
    fa = act.f(a)
    np.testing.assert_allclose(fa.detach().numpy(), expected.numpy(), rtol=0, atol=1e-15)
    (auto,) = torch.autograd.grad(fa.sum(), a)
    assert act.is_linear == (name == "linear")
    derivative = torch.ones_like(a) if act.fprime is None else act.fprime(a.detach(), fa.detach())
    np.testing.assert_allclose(derivative.numpy(), auto.numpy(), rtol=0, atol=1e-15)


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match=r"unknown activation 'softplus'; expected one of \['linear', 'tanh', 'relu'\]"):
        activations.get_activation("softplus")
    with pytest.raises(TypeError, match=r"activation must be a string"):
        activations.get_activation(None)
