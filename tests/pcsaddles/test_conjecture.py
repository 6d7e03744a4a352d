"""Tests of pcsaddles.conjecture: zero-rank points with W_L = 0, the masked equilibrated energy,
the critical-point search and degenerate data.

References: autodiff of the loss and of Eq. 5 with an explicit inverse (``reference.torch_fstar``),
masked PC inference run to convergence (:mod:`pcsaddles.pc` with a mask) and its energy, a 2x2
eigenvalue in closed form, and a two-parameter function with a known saddle.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pcsaddles import completion, conjecture as cj, pc
from reference import torch_fstar
from reprokit import hessian

F64 = torch.float64


def loss(ws, x, y):
    out = x
    for w in ws:
        out = out @ w.T
    return 0.5 * (y - out).pow(2).sum() / x.shape[0]


def data(n=20, d_x=4, d_y=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, d_x, generator=gen, dtype=F64)
    return x, x[:, :d_y] @ torch.randn(d_y, d_y, generator=gen, dtype=F64) + 0.3 * torch.randn(n, d_y, generator=gen,
                                                                                                  dtype=F64)


@pytest.mark.parametrize("widths", [[4, 3, 2], [4, 3, 3, 2], [5, 3, 2, 3, 2]])
def test_zero_rank_points_are_critical_with_the_closed_form_hessians(widths):
    x, y = data(d_x=widths[0], d_y=widths[-1])
    ws = cj.zero_rank_point(widths, x, y, scale=1.3, seed=1)
    p = ws[-2]
    for w in ws[-3::-1]:
        p = p @ w
    assert float((p @ (x.T @ y / 20)).abs().max()) < 1e-12 and float(p.abs().max()) > 0.1
    assert float(ws[-1].abs().max()) == 0
    for fn in (lambda w: loss(w, x, y), lambda w: torch_fstar(w, x, y)):
        assert float(hessian.gradient(fn, ws).abs().max()) < 1e-12
    hs = cj.zero_rank_hessians(ws, x, y)
    torch.testing.assert_close(hs.loss, hessian.hessian(lambda w: loss(w, x, y), ws), rtol=0, atol=1e-10)
    torch.testing.assert_close(hs.energy, hessian.hessian(lambda w: torch_fstar(w, x, y), ws), rtol=0, atol=1e-10)
    eig_f = np.linalg.eigvalsh(hs.energy.numpy())
    eig_l = np.linalg.eigvalsh(hs.loss.numpy())
    k = ws[-1].numel()
    assert eig_f[0] < 0 and eig_l[0] < 0  # Sxy != 0 and P != 0: strict for both
    assert eig_f[0] <= eig_l[0] + 1e-12
    assert eig_f[0] <= cj.compression_bound(hs.energy, k) + 1e-12


def test_zero_rank_point_needs_a_rank_deficient_sxy():
    x, y = data(d_x=2, d_y=2)
    with pytest.raises(ValueError):
        cj.zero_rank_point([2, 3, 2], x, y)
    x, y = data()
    ws = cj.zero_rank_point([4, 3, 2], x, y)
    ws[-1] = ws[-1] + 1e-3
    with pytest.raises(ValueError):
        cj.zero_rank_hessians(ws, x, y)


def test_compression_bound_is_exact_for_a_2x2_matrix():
    s, b = 0.7, 1.9
    h = torch.tensor([[0.0, s], [s, b]], dtype=F64)
    assert cj.compression_bound(h, 1) == pytest.approx(float(np.linalg.eigvalsh(h.numpy())[0]), rel=1e-14)
    assert cj.compression_bound(h, 1) == pytest.approx((b - math.sqrt(b * b + 4 * s * s)) / 2, rel=1e-14)


def test_masked_energy_equals_eq5_with_every_entry_observed():
    x, y = data(n=10, d_x=4, d_y=3, seed=2)
    gen = torch.Generator().manual_seed(3)
    ws = [0.6 * torch.randn(b, a, generator=gen, dtype=F64) for a, b in zip([4, 3, 3], [3, 3, 3])]
    ones = torch.ones_like(y)
    assert float(cj.masked_equilibrated_energy(ws, x, y, ones)) == pytest.approx(float(torch_fstar(ws, x, y)), rel=1e-12)
    assert float(cj.masked_loss(ws, x, y, ones)) == pytest.approx(float(loss(ws, x, y)), rel=1e-12)


def test_masked_energy_is_the_masked_pc_energy_at_equilibrium():
    task = completion.make_task(n=6, rank=2, seed=4)
    x, y, m = task.x, task.target, task.mask
    gen = torch.Generator().manual_seed(5)
    ws = [0.4 * torch.randn(6, 6, generator=gen, dtype=F64) for _ in range(3)]
    z = pc.infer(ws, x, y, method="euler", dt=0.1, n_steps=200_000, tol=1e-13, mask=m)
    ref = completion.masked_energy(ws, z, x, y, m)
    assert float(cj.masked_equilibrated_energy(ws, x, y, m)) == pytest.approx(float(ref), rel=1e-10)
    assert float(cj.masked_loss(ws, x, y, m)) == pytest.approx(
        float(completion.masked_mse(x @ torch.linalg.multi_dot(ws[::-1]).T, y, m)) * 6 / 2, rel=1e-12)


def test_critical_point_finds_the_saddle_of_a_known_function():
    # f(w1, w2) = (w1 w2 - 1)^2: a saddle at the origin (Hessian eigenvalues -2, +2) and minima on w1 w2 = 1
    fn = lambda ws: (ws[0][0, 0] * ws[1][0, 0] - 1) ** 2  # noqa: E731
    start = [torch.tensor([[0.05]], dtype=F64), torch.tensor([[0.03]], dtype=F64)]
    cp = cj.critical_point(fn, start, max_iter=50, tol=1e-12)
    assert cp.grad_norm < 1e-12
    assert max(abs(float(w)) for w in cp.weights) < 1e-10
    np.testing.assert_allclose(cp.eigenvalues.numpy(), [-2.0, 2.0], atol=1e-9)
    assert cp.distance == pytest.approx(math.hypot(0.05, 0.03), rel=1e-8)


def test_degenerate_data_and_the_strictness_threshold():
    x, y = cj.degenerate_data(40, 3, 2, seed=0)
    assert float((x.T @ y).abs().max()) < 1e-12
    gen = torch.Generator().manual_seed(1)
    w1 = torch.randn(2, 3, generator=gen, dtype=F64)
    c_star = cj.threshold_scale([w1, torch.zeros(2, 2, dtype=F64)], x, y)
    for c, strict in ((0.8 * c_star, True), (1.2 * c_star, False)):
        ws = [c * w1, torch.zeros(2, 2, dtype=F64)]
        assert float(hessian.gradient(lambda w: torch_fstar(w, x, y), ws).abs().max()) < 1e-12
        lam = np.linalg.eigvalsh(hessian.hessian(lambda w: torch_fstar(w, x, y), ws).numpy())[0]
        assert (lam < -1e-6) if strict else (lam > -1e-10)
    # at the threshold the Hessian is positive semi-definite but F* decreases along a cubic path
    ws = [c_star * w1, torch.zeros(2, 2, dtype=F64)]
    eig = np.linalg.eigvalsh(hessian.hessian(lambda w: torch_fstar(w, x, y), ws).numpy())
    assert eig[0] > -1e-10
    m = (x.T @ x / 40)
    q = ws[0] @ m @ ws[0].T
    v = torch.linalg.eigh(q).eigenvectors[:, 0]
    u = torch.linalg.eigh(y.T @ y / 40).eigenvectors[:, -1]
    dirs = [[sign * 0.1 * torch.outer(v, v) @ ws[0], torch.outer(u, v)] for sign in (1.0, -1.0)]
    lo, hi = cj.sign_change(lambda w: torch_fstar(w, x, y), ws, dirs, 1e-2)
    assert lo < 0 < hi


def test_nearly_degenerate_data_makes_the_points_strict_again():
    x, y = cj.degenerate_data(40, 3, 2, seed=0)
    lams = []
    for eps in (1e-2, 2e-2):
        y_eps = cj.nearly_degenerate(x, y, eps, seed=0)
        assert 0 < float((x.T @ y_eps / 40).abs().max()) < 20 * eps
        # one hidden unit, P far above the threshold: B > 0, and C != 0 only through Sxy = O(eps)
        ws = cj.zero_rank_point([3, 1, 2], x, y_eps, scale=10.0, seed=3)
        assert float(hessian.gradient(lambda w: torch_fstar(w, x, y_eps), ws).abs().max()) < 1e-12
        lams.append(np.linalg.eigvalsh(hessian.hessian(lambda w: torch_fstar(w, x, y_eps), ws).numpy())[0])
    assert lams[0] < 0 and lams[1] < 0
    assert lams[1] / lams[0] == pytest.approx(4.0, rel=0.1)  # lambda_min ~ -||C||^2 / lambda(B) = O(eps^2)
    with pytest.raises(ValueError):
        cj.degenerate_data(4, 3, 2)
