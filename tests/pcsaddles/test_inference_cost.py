"""Tests of pcsaddles.inference_cost: the activity-Hessian spectrum of identity-like networks in
closed form, Euler rates and step bounds, and the three ways to solve inference.

References: numpy eigenvalues of the block-tridiagonal matrix assembled here entry by entry,
trigonometric identities, a one-unit network where Euler is an exact geometric sequence, and PC
inference of :mod:`pcsaddles.pc`.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pcsaddles import inference_cost as ic, pc

F64 = torch.float64


def tridiagonal(n_hidden, width, gain):
    """The activity Hessian of H + 1 layers g I_n, entry by entry: diagonal 1 + g^2, off-diagonal -g."""
    dim = n_hidden * width
    k = np.zeros((dim, dim))
    for i in range(dim):
        k[i, i] = 1 + gain**2
        if i + width < dim:
            k[i, i + width] = k[i + width, i] = -gain
    return k


@pytest.mark.parametrize("n_hidden", [1, 2, 5, 9])
@pytest.mark.parametrize("gain", [0.5, 1.0, 1.7])
def test_identity_spectrum_matches_the_assembled_matrix(n_hidden, gain):
    width = 3
    numeric = np.linalg.eigvalsh(tridiagonal(n_hidden, width, gain))
    closed = np.repeat(ic.identity_spectrum(n_hidden, gain), width)
    np.testing.assert_allclose(np.sort(closed), numeric, rtol=0, atol=1e-12)
    np.testing.assert_allclose(ic.spectrum(ic.identity_like(n_hidden, width, gain)), numeric, rtol=0, atol=1e-12)
    assert ic.identity_condition_number(n_hidden, gain) == pytest.approx(numeric[-1] / numeric[0], rel=1e-12)


@pytest.mark.parametrize("n_hidden", [1, 3, 10, 40])
def test_unit_gain_condition_number_is_a_squared_cotangent(n_hidden):
    x = math.pi / (2 * (n_hidden + 1))
    assert ic.identity_condition_number(n_hidden, 1.0) == pytest.approx(1 / math.tan(x) ** 2, rel=1e-12)
    assert ic.identity_spectrum(n_hidden, 1.0)[0] == pytest.approx(4 * math.sin(x) ** 2, rel=1e-12)


def test_off_unit_gains_have_bounded_condition_numbers():
    for gain in (0.5, 1.5):
        bound = ((1 + gain) / (1 - gain)) ** 2
        assert all(ic.identity_condition_number(h, gain) < bound for h in (1, 10, 100, 1000))
        assert ic.identity_condition_number(1000, gain) == pytest.approx(bound, rel=1e-4)


def test_euler_rate_and_best_step():
    assert ic.euler_rate([1.0, 3.0], 0.1) == pytest.approx(0.9, rel=1e-15)
    assert ic.best_step([1.0, 3.0]) == 0.5
    assert ic.euler_rate([1.0, 3.0], 0.5) == pytest.approx(0.5, rel=1e-15)
    assert ic.euler_rate([1.0, 30.0], 0.1) == pytest.approx(2.0, rel=1e-15)
    with pytest.raises(ValueError):
        ic.euler_step_bound([1.0, 30.0], 0.1, 1.0, 1e-6)
    with pytest.raises(ValueError):
        ic.euler_rate([0.0, 1.0], 0.1)


def test_euler_step_bound_is_exact_for_one_unit():
    # one hidden unit and one example: K = 1 + w_2^2 and the activity gradient shrinks by exactly
    # 1 - dt K per step, so the step count is the bound's
    x = torch.tensor([[1.0]], dtype=F64)
    y = torch.tensor([[2.0]], dtype=F64)
    ws = [torch.tensor([[0.5]], dtype=F64), torch.tensor([[0.3]], dtype=F64)]
    g0 = ic.initial_gradient_norm(ws, x, y)
    assert g0 == pytest.approx(abs(0.3 * (2.0 - 0.3 * 0.5)), rel=1e-14)  # |W_2 (y - out)| at the feed-forward pass
    lam = ic.spectrum(ws)
    assert lam[0] == pytest.approx(1 + 0.3**2, rel=1e-14)
    _, info = pc.infer(ws, x, y, method="euler", dt=0.1, n_steps=10_000, tol=1e-9, return_info=True)
    expected = math.ceil(math.log(1e-9 / g0) / math.log(1 - 0.1 * lam[0]))
    assert info.n_steps == expected == ic.euler_step_bound(lam, 0.1, g0, 1e-9)


@pytest.mark.parametrize("n_hidden,gain", [(2, 1.0), (4, 0.6), (3, 1.3)])
def test_solve_costs_converge_and_respect_the_bound(n_hidden, gain):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(7, 3, generator=gen, dtype=F64)
    y = torch.randn(7, 3, generator=gen, dtype=F64)
    ws = ic.identity_like(n_hidden, 3, gain)
    res = ic.solve_costs(ws, x, y, tol=1e-7)
    assert res["exact"]["max_grad"] < 1e-10
    assert res["euler"]["max_grad"] < 1e-7
    assert res["euler"]["steps"] <= ic.euler_step_bound(ic.spectrum(ws), 0.1, ic.initial_gradient_norm(ws, x, y), 1e-7)
    assert res["time"] == pytest.approx(0.1 * res["euler"]["steps"], rel=1e-12)
    assert res["heun"]["steps"] > 0 and res["heun"]["evaluations"] == 2 * (res["heun"]["steps"] + res["heun"]["rejected"])
    with pytest.raises(RuntimeError):
        ic.solve_costs(ws, x, y, tol=1e-7, max_steps=3)


def test_input_validation():
    with pytest.raises(ValueError):
        ic.identity_like(0, 3)
    with pytest.raises(ValueError):
        ic.identity_spectrum(2, -1.0)
    with pytest.raises(ValueError):
        ic.identity_like(2, 0)
