"""Tests of pcsaddles.escape_scaling: batched BP / PC gradients, escape iterations, the gradient
flow's escape time and the scaling fits.

Expectations come from elsewhere: autodiff of the loss and of Eq. 5 written with an explicit
inverse (``reference.torch_fstar``), PC inference and weight gradients of :mod:`pcsaddles.pc`
run per network, the training loop of :mod:`pcsaddles.train` (a different implementation of the
same gradient descent), the logistic closed form of a balanced one-hidden-unit chain's gradient
flow, and synthetic escape times with known slopes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from pcsaddles import data, escape_scaling as es, init, normalisation, pc, train
from reference import loss_ref, torch_fstar

F64 = torch.float64


def toy(n=16, dim=3, seed=0):
    d = data.toy_gaussian(n, dim=dim, seed=seed)
    return d.x, d.y


def random_batch(widths, runs=3, std=0.6, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [std * torch.randn(runs, b, a, generator=gen, dtype=F64) for a, b in zip(widths[:-1], widths[1:])]


def test_step_sizes_follow_the_conventions():
    s = es.step_sizes(1e-3, 64, 3)
    assert s["bp"] == pytest.approx(1e-3 * 2 / 3, rel=1e-15)
    assert s["bp_matched"] == pytest.approx(1e-3 * 64, rel=1e-15)
    assert s["pc"] == pytest.approx(1e-3 * 64, rel=1e-15)
    with pytest.raises(ValueError):
        es.step_sizes(0.0, 64, 3)


def test_scaled_inits_are_scaled_seed_draws():
    widths = [3, 4, 4, 3]
    ws = es.scaled_inits(widths, [0.1, 0.02], [5, 7])
    assert [tuple(w.shape) for w in ws] == [(4, 4, 3), (4, 4, 4), (4, 3, 4)]
    for i, s in enumerate([0.1, 0.02]):
        for j, seed in enumerate([5, 7]):
            ref = init.gaussian(widths, s, seed=seed)
            for w, r in zip(es.unbatch(ws, 2 * i + j), ref):
                torch.testing.assert_close(w, r, rtol=1e-15, atol=0)
    with pytest.raises(ValueError):
        es.scaled_inits(widths, [0.0], [1])


@pytest.mark.parametrize("widths", [[3, 4, 2], [2, 3, 3, 2], [3, 2, 4, 2, 3]])
def test_batched_loss_and_gradients_match_autodiff(widths):
    x, y = toy(12, widths[0], seed=1)
    y = y[:, :1].expand(-1, widths[-1]) + 0.1 * torch.arange(widths[-1], dtype=F64)
    ws = random_batch(widths, runs=3)
    m = es.origin.data_moments(x, y)
    loss, grads = es.batched_loss_grads(ws, m)
    for r in range(3):
        wr = [w[r].clone().requires_grad_(True) for w in ws]
        ref = 0.5 * (y - x @ torch.linalg.multi_dot(wr[::-1]).T if len(wr) > 1 else y - x @ wr[0].T).pow(2).sum() / x.shape[0]
        assert float(loss[r]) == pytest.approx(loss_ref([w.detach().numpy() for w in wr], x.numpy(), y.numpy()), rel=1e-12)
        for g, a in zip(grads, torch.autograd.grad(ref, wr)):
            torch.testing.assert_close(g[r], a, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("widths", [[3, 4, 2], [2, 3, 3, 2], [3, 2, 4, 2, 3]])
def test_batched_energy_matches_eq5_with_explicit_inverse(widths):
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(10, widths[0], generator=gen, dtype=F64)
    y = torch.randn(10, widths[-1], generator=gen, dtype=F64)
    ws = random_batch(widths, runs=4, seed=2)
    energy = es.batched_energy(ws, es.origin.data_moments(x, y))
    for r in range(4):
        assert float(energy[r]) == pytest.approx(float(torch_fstar(es.unbatch(ws, r), x, y)), rel=1e-12)


@pytest.mark.parametrize("widths,steps", [([3, 4, 2], 0), ([3, 4, 2], 7), ([2, 3, 3, 2], 20), ([3, 2, 4, 2, 3], 50)])
def test_batched_pc_grads_match_per_network_inference(widths, steps):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(9, widths[0], generator=gen, dtype=F64)
    y = torch.randn(9, widths[-1], generator=gen, dtype=F64)
    ws = random_batch(widths, runs=3, std=0.5, seed=5)
    loss, grads = es.batched_pc_grads(ws, x, y, steps, 0.1)
    for r in range(3):
        wr = es.unbatch(ws, r)
        z = pc.infer(wr, x, y, method="euler", dt=0.1, n_steps=steps)
        ref = pc.weight_grads(wr, z, x, y)
        for g, a in zip(grads, ref):
            torch.testing.assert_close(g[r], a, rtol=1e-9, atol=1e-12)
        out = x
        for w in wr:
            out = out @ w.T
        assert float(loss[r]) == pytest.approx(float(0.5 * (y - out).pow(2).sum() / 9), rel=1e-12)


@pytest.mark.parametrize("widths", [[3, 4, 2], [2, 3, 3, 2], [3, 2, 4, 2, 3]])
def test_exact_equilibrium_grads_are_the_gradient_of_eq5(widths):
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(9, widths[0], generator=gen, dtype=F64)
    y = torch.randn(9, widths[-1], generator=gen, dtype=F64)
    ws = random_batch(widths, runs=2, std=0.7, seed=7)
    _, grads = es.batched_pc_grads(ws, x, y, None)
    for r in range(2):
        wr = [w.clone().requires_grad_(True) for w in es.unbatch(ws, r)]
        for g, a in zip(grads, torch.autograd.grad(torch_fstar(wr, x, y), wr)):
            torch.testing.assert_close(g[r], a, rtol=1e-9, atol=1e-12)


def full_batch(x, y):
    return itertools.repeat((x, y))


@pytest.mark.parametrize("rule", ["bp_matched", "pc"])
def test_escape_iterations_match_the_training_loop(rule):
    x, y = toy(32, 2, seed=0)
    widths = [2, 3, 3, 2]
    ws = es.scaled_inits(widths, [0.2, 0.1], [0, 1])
    eta = es.step_sizes(1e-3, 32, 2)[rule]
    runs = es.escape_iterations(rule, ws, x, y, eta, 5000, n_steps=20)
    assert not runs.censored.any()
    for r in range(4):
        w0 = es.unbatch(ws, r)
        kw = dict(lr=1e-3, convention="authors", n_steps=20)
        if rule == "bp_matched":
            hist = train.train("bp", w0, full_batch(x, y), int(runs.loss[r]) + 3, lr_factor=normalisation.matched_lr_factor(32, 2), **kw)
        else:
            hist = train.train("pc", w0, full_batch(x, y), int(runs.loss[r]) + 3, **kw)
        assert hist.escape() == runs.loss[r]


def test_escape_iterations_censor_at_the_cap():
    x, y = toy(16, 2)
    ws = es.scaled_inits([2, 3, 3, 3, 2], [0.01], [0])
    runs = es.escape_iterations("bp", ws, x, y, 1e-3, 50)
    assert runs.censored.all() and runs.iterations_run == 50
    with pytest.raises(ValueError):
        es.escape_iterations("sgd", ws, x, y, 1e-3, 50)


def test_flow_escape_time_of_a_balanced_chain_is_logistic():
    # chain y = w2 w1 x on realizable data y = k x, balanced start w1 = w2 = w: the product u = w1 w2
    # follows du/dt = 2u (b - a u) (a = mean x^2, b = mean x y = k a), a logistic curve towards k, and
    # the loss is L(u) = a (k - u)^2 / 2, which halves at u = k - (k - u0) / sqrt(2)
    x = torch.tensor([[1.0], [2.0], [0.5]], dtype=F64)
    k, u0 = 1.3, 0.01
    y = k * x
    a = float((x * x).mean())
    b = k * a
    ws = [torch.tensor([[math.sqrt(u0)]], dtype=F64), torch.tensor([[math.sqrt(u0)]], dtype=F64)]
    u_esc = k - (k - u0) / math.sqrt(2)
    t_exact = math.log((k / u0 - 1) / (k / u_esc - 1)) / (2 * b)
    assert es.flow_escape_time(ws, x, y, flow="loss", watch="loss", rtol=1e-10) == pytest.approx(t_exact, rel=1e-6)


def test_discrete_descent_approaches_the_flow_for_small_steps():
    x, y = toy(16, 2, seed=2)
    ws = es.scaled_inits([2, 3, 3, 2], [0.05], [3])
    for flow, rule in (("loss", "bp_matched"), ("energy", "pc")):
        t = es.flow_escape_time(es.unbatch(ws, 0), x, y, flow=flow, watch="loss", rtol=1e-9)
        eta = 2e-3
        its = es.escape_iterations(rule, ws, x, y, eta, 200_000, n_steps=400, dt=0.1).loss[0]
        assert its * eta == pytest.approx(t, rel=2e-2)


def test_flow_escape_time_validates_and_reports_inf():
    x, y = toy(8, 2)
    ws = init.zeros([2, 3, 2])  # the origin is critical: nothing moves
    assert es.flow_escape_time(ws, x, y, t_max=10.0) == math.inf
    with pytest.raises(ValueError):
        es.flow_escape_time(ws, x, y, flow="energyy")


def test_unstable_rates_from_the_closed_forms():
    x, y = toy(20, 3, seed=1)
    syy = (y.T @ y / 20).numpy()
    sxy = (x.T @ y / 20).numpy()
    assert es.unstable_rate([3, 4, 4, 3], x, y, "energy") == pytest.approx(np.linalg.eigvalsh(syy)[-1], rel=1e-12)
    assert es.unstable_rate([3, 4, 4, 3], x, y, "loss") == 0.0
    assert es.unstable_rate([3, 4, 3], x, y, "loss") == pytest.approx(np.linalg.svd(sxy)[1][0], rel=1e-12)
    m = -np.block([[np.zeros((3, 3)), sxy], [sxy.T, syy]])
    assert es.unstable_rate([3, 4, 3], x, y, "energy") == pytest.approx(-np.linalg.eigvalsh(m)[0], rel=1e-12)


def test_fits_recover_known_laws():
    sig = np.array([0.2, 0.1, 0.05, 0.02, 0.01])
    b, a = es.log_law_slope(sig, 3.0 + 7.0 * np.log(1 / sig))
    assert (b, a) == (pytest.approx(7.0, rel=1e-12), pytest.approx(3.0, rel=1e-12))
    k, c = es.power_law_exponent(sig, 5.0 * sig ** -2.0)
    assert (k, c) == (pytest.approx(2.0, rel=1e-12), pytest.approx(5.0, rel=1e-12))
    mean, half = es.mean_ci([1.0, 2.0, 3.0])
    t_975 = 0.95 / math.sqrt(2 * 0.975 * 0.025)  # Student t quantile with 2 degrees of freedom, in closed form
    assert mean == 2.0 and half == pytest.approx(t_975 / math.sqrt(3), rel=1e-12)
    with pytest.raises(ValueError):
        es.power_law_exponent(sig, -sig)
    with pytest.raises(ValueError):
        es.mean_ci([1.0])


def test_grid_puts_sigmas_in_rows_and_censored_runs_as_nan():
    # run r = i * n_seeds + j of scaled_inits is (sigmas[i], seeds[j]); -1 marks a censored run
    g = es.grid(np.array([10, 11, 12, 20, -1, 22]), 2)
    np.testing.assert_array_equal(g, [[10.0, 11.0, 12.0], [20.0, np.nan, 22.0]])
    with pytest.raises(ValueError):
        es.grid(np.arange(5), 2)


def test_fit_per_seed_fits_every_column():
    sig = np.array([0.2, 0.1, 0.05, 0.02])
    times = np.stack([3.0 * sig ** -1.0, 2.0 * sig ** -2.5], axis=1)  # two seeds with exponents 1 and 2.5
    np.testing.assert_allclose(es.fit_per_seed(es.power_law_exponent, sig, times), [1.0, 2.5], rtol=1e-12)
    logs = np.stack([1.0 + 4.0 * np.log(1 / sig), 6.0 * np.log(1 / sig)], axis=1)
    np.testing.assert_allclose(es.fit_per_seed(es.log_law_slope, sig, logs), [4.0, 6.0], rtol=1e-12)
    with pytest.raises(ValueError):
        es.fit_per_seed(es.log_law_slope, sig, logs[:3])


def test_a_diverging_run_is_frozen_and_reported():
    x, y = toy(16, 2, seed=0)
    widths = [2, 3, 3, 2]
    ws = es.scaled_inits(widths, [0.1], [0, 1])
    ws[-1][1] *= 60.0  # run 1: lambda_max of the activity Hessian ~ 1 + |W_L|^2 >> 2 / dt, Euler blows up
    runs = es.escape_iterations("pc", ws, x, y, 0.064, 300, n_steps=50, dt=0.1)
    assert runs.diverged.tolist() == [False, True]
    assert runs.loss[1] == -1 and runs.loss[0] > 0
