"""Tests of pcsaddles.finite_inference: the energy after T inference steps with the start following
the weights, its Hessian at the origin, and the deep zero-rank saddle.

References: an Euler loop written here on the energy of Eq. 2 (autograd through every step, the
start the feed-forward pass of the same weights), the loss and Eq. 5 with an explicit inverse
(``reference``), autodiff Hessians and numpy eigenvalues.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import finite_inference as fi
from reference import torch_fstar
from reprokit import hessian

F64 = torch.float64


def loop_energy(ws, x, y, steps, dt=0.1):
    """Eq. 2 after ``steps`` Euler steps of dF_i/dz, started at the feed-forward pass of ``ws`` (kept in the graph)."""
    zs = []
    z = x
    for w in ws[:-1]:
        z = z @ w.T
        zs.append(z)

    def energy(zs):
        layers = [x, *zs, y]
        return 0.5 * sum((layers[l + 1] - layers[l] @ w.T).pow(2).sum() for l, w in enumerate(ws)) / x.shape[0]

    activity_grad = torch.func.grad(lambda us: x.shape[0] * energy(us))  # the activities as independent inputs
    for _ in range(steps):
        zs = [z - dt * g for z, g in zip(zs, activity_grad(zs))]
    return energy(zs)


def loss(ws, x, y):
    out = x
    for w in ws:
        out = out @ w.T
    return 0.5 * (y - out).pow(2).sum() / x.shape[0]


def batch(d_x, d_y, n=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d_x, generator=gen, dtype=F64), torch.randn(n, d_y, generator=gen, dtype=F64)


def net(widths, std=0.4, seed=1):
    gen = torch.Generator().manual_seed(seed)
    return [std * torch.randn(b, a, generator=gen, dtype=F64) for a, b in zip(widths[:-1], widths[1:])]


def zeros(widths):
    return [torch.zeros(b, a, dtype=F64) for a, b in zip(widths[:-1], widths[1:])]


@pytest.mark.parametrize("widths", [[3, 4, 2], [2, 3, 3, 2], [3, 2, 3, 2, 2]])
@pytest.mark.parametrize("steps", [0, 1, 6])
def test_tracked_energy_equals_an_euler_loop_in_value_and_gradient(widths, steps):
    x, y = batch(widths[0], widths[-1])
    ws = [w.requires_grad_(True) for w in net(widths)]
    a = fi.tracked_unrolled_energy(ws, x, y, steps)
    b = loop_energy(ws, x, y, steps)
    assert float(a.detach()) == pytest.approx(float(b.detach()), rel=1e-12)
    for ga, gb in zip(torch.autograd.grad(a, ws), torch.autograd.grad(b, ws)):
        torch.testing.assert_close(ga, gb, rtol=1e-9, atol=1e-12)


def test_zero_steps_is_the_loss_and_many_steps_the_equilibrated_energy():
    widths = [3, 4, 3, 2]
    x, y = batch(3, 2, seed=2)
    ws = net(widths, std=0.5, seed=3)
    h0 = hessian.hessian(lambda w: fi.tracked_unrolled_energy(w, x, y, 0), ws)
    torch.testing.assert_close(h0, hessian.hessian(lambda w: loss(w, x, y), ws), rtol=0, atol=1e-11)
    h_inf = hessian.hessian(lambda w: fi.tracked_unrolled_energy(w, x, y, 3000), ws)
    torch.testing.assert_close(h_inf, hessian.hessian(lambda w: torch_fstar(w, x, y), ws), rtol=0, atol=1e-9)


@pytest.mark.parametrize("widths", [[3, 4, 2], [2, 3, 4], [3, 2, 2, 2], [2, 3, 2, 3, 2]])
@pytest.mark.parametrize("steps", [0, 2, 9])
def test_hessian_at_the_origin_is_the_convex_combination(widths, steps):
    x, y = batch(widths[0], widths[-1], seed=4)
    auto = hessian.hessian(lambda w: loop_energy(w, x, y, steps), zeros(widths))
    torch.testing.assert_close(fi.tracked_hessian_origin(widths, x, y, steps), auto, rtol=0, atol=1e-12)
    assert fi.lambda_min_origin(widths, x, y, steps) == pytest.approx(float(np.linalg.eigvalsh(auto.numpy())[0]),
                                                                      abs=1e-12)


def test_deep_lambda_min_at_the_origin_is_depth_independent():
    x, y = batch(3, 2, seed=5)
    syy_max = float(np.linalg.eigvalsh((y.T @ y / 12).numpy())[-1])
    for h in (2, 4, 6):
        assert fi.lambda_min_origin([3] + [2] * h + [2], x, y, 5) == pytest.approx(-(1 - 0.9**10) * syy_max, rel=1e-12)


def test_half_steps_and_fraction_search():
    assert fi.half_steps_origin(0.1) == 4 and 0.9**6 > 0.5 >= 0.9**8
    assert fi.half_steps_origin(0.5) == 1  # q_1 = 0.25
    assert fi.steps_to_fraction([0, 1, 2, 3], [0.0, -1.0, -2.5, -3.9], -4.0) == 2
    assert fi.steps_to_fraction([0, 1], [0.0, -0.1], -4.0) is None
    with pytest.raises(ValueError):
        fi.decay(-1)
    with pytest.raises(ValueError):
        fi.half_steps_origin(1.0)


@pytest.mark.parametrize("h,gain", [(3, 1.0), (4, 0.7), (5, 1.0)])
def test_chain_saddle_is_critical_and_strict_for_the_energy_only(h, gain):
    widths = [3] + [3] * h + [2]
    x, y = batch(3, 2, n=10, seed=6)
    ws = fi.chain_saddle(widths, gain)
    assert all(float(w.abs().max()) == 0 for w in (ws[0], ws[1], ws[-1]))
    for fn in (lambda w: loss(w, x, y), lambda w: torch_fstar(w, x, y)):
        assert float(hessian.gradient(fn, ws).abs().max()) < 1e-12
    assert float(hessian.hessian(lambda w: loss(w, x, y), ws).abs().max()) < 1e-12
    eig = np.linalg.eigvalsh(hessian.hessian(lambda w: torch_fstar(w, x, y), ws).numpy())
    syy_max = np.linalg.eigvalsh((y.T @ y / 10).numpy())[-1]
    expected = -syy_max * sum(gain ** (2 * j) for j in range(h - 1))
    assert eig[0] == pytest.approx(expected, rel=1e-10)
    assert fi.chain_saddle_lambda_min(widths, y, gain) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError):
        fi.chain_saddle([3, 3, 3, 2], gain)
    with pytest.raises(ValueError):
        fi.chain_saddle([3, 3, 3, 4, 2], gain)



def test_first_step_below_finds_the_crossing():
    calls = []
    values = lambda t: (calls.append(t), 0.9 ** (2 * t))[1]  # noqa: E731  q_T, crossing 1/2 at T = 4
    assert fi.first_step_below(values, 0.5) == 4
    assert len(calls) < 12
    assert fi.first_step_below(lambda t: 1.0 / (1 + t), 1.0 / 1001) == 1000
    assert fi.first_step_below(lambda t: -1.0, 0.0) == 0
    with pytest.raises(ValueError):
        fi.first_step_below(lambda t: 1.0, 0.0, t_max=64)


def test_tracked_lambda_min_at_the_origin_matches_the_closed_form():
    x, y = batch(3, 2, seed=8)
    for widths in ([3, 4, 2], [3, 2, 3, 2]):
        for steps in (0, 3):
            assert fi.tracked_lambda_min(zeros(widths), x, y, steps) == pytest.approx(
                fi.lambda_min_origin(widths, x, y, steps), abs=1e-12)
