"""Tests of pcsaddles.minima: flatter minima (A.3.7), the rescaling path (INF) and the
degenerate-data counterexample (CE).

Expectations are independent of the module's closed forms: torch autodiff of
``dln.equilibrated_energy`` / ``dln.mse_loss``, ``s`` written out from scalar products, central
finite differences, and the rescaling-path energy from a numpy eigen-decomposition. Checks of
the reproduction covered: A37, INF, CE.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import dln, minima
from reprokit import hessian
from reference import fd_hessian, rescaling_ref, torch_fstar

F64 = torch.float64


def hess(fn, ws):
    return hessian.hessian(fn, ws).numpy()


# ------------------------------------------------------------------------------------------------
# A.3.7


@pytest.mark.parametrize("n_hidden", [1, 2, 5, 10])
@pytest.mark.parametrize("slope", [0.7, -1.3])
def test_a37_chain_minimum_is_flatter_by_s(n_hidden, slope):
    """A37: at a perfect fit of a chain, H_F* = H_L / s with s = 1 + sum_{l>=2} w_{L:l}^2 (1e-8)."""
    gen = torch.Generator().manual_seed(n_hidden)
    x = 1 + 0.1 * torch.randn(64, 1, generator=gen, dtype=F64)
    y = slope * x
    ws = minima.chain_minimum(n_hidden, slope, seed=n_hidden)
    w = [float(v) for v in ws]
    assert np.prod(w) == pytest.approx(slope, rel=1e-14)
    s = 1 + sum(np.prod(w[l:]) ** 2 for l in range(1, len(w)))  # w_{L:l}, l = 2..L (0-based l = 1..L-1)
    assert float(minima.chain_rescaling(ws)) == pytest.approx(s, rel=1e-14)
    h_f = hess(lambda v: dln.equilibrated_energy(v, x, y), ws)
    h_l = hess(lambda v: dln.mse_loss(v, x, y), ws)
    assert np.abs(h_l).max() > 1e-3  # not trivially zero
    assert np.abs(h_f - h_l / s).max() < 1e-8


def test_a37_chain_by_finite_differences():
    """Same identity with central differences of the scalar formula L / s (h = 1e-4, 1e-6)."""
    x = np.array([0.9, 1.1, 1.05, 0.95])
    ws = [0.8, -1.2, 0.7 / (0.8 * -1.2)]

    def f_star(v):
        e2e = v[0] * v[1] * v[2]
        s = 1 + v[2] ** 2 + (v[2] * v[1]) ** 2
        return 0.5 * np.mean((0.7 * x - e2e * x) ** 2) / s

    def loss(v):
        return 0.5 * np.mean((0.7 * x - v[0] * v[1] * v[2] * x) ** 2)

    def fd(f, v):  # reference.fd_hessian on the three 1x1 weights
        return fd_hessian(lambda m: f([m[0][0, 0], m[1][0, 0], m[2][0, 0]]), [1, 1, 1, 1], at=np.array(v))

    s = 1 + ws[2] ** 2 + (ws[2] * ws[1]) ** 2
    assert np.abs(fd(f_star, ws) - fd(loss, ws) / s).max() < 1e-6
    xt = torch.tensor(x[:, None])
    h_f = hess(lambda v: dln.equilibrated_energy(v, xt, 0.7 * xt), minima.chain(*ws))
    assert np.abs(h_f - fd(f_star, ws)).max() < 1e-6


def test_random_gauge_keeps_the_end_to_end_map():
    gen = torch.Generator().manual_seed(4)
    ws = [torch.randn(b, a, generator=gen, dtype=F64) for a, b in zip([3, 4, 5, 2][:-1], [3, 4, 5, 2][1:])]
    moved = minima.random_gauge(ws, 0.5, seed=1)
    assert (dln.end_to_end(moved) - dln.end_to_end(ws)).abs().max() < 1e-12
    assert all((m - w).abs().max() > 1e-3 for m, w in zip(moved, ws))
    assert (dln.rescaling(moved) - dln.rescaling(ws)).abs().max() > 1e-3


def test_end_to_end_jacobian_matches_autodiff():
    gen = torch.Generator().manual_seed(0)
    ws = [torch.randn(b, a, generator=gen, dtype=F64) for a, b in zip([3, 4, 5, 2][:-1], [3, 4, 5, 2][1:])]
    jac = torch.func.jacrev(lambda *m: dln.end_to_end(list(m)).reshape(-1), argnums=tuple(range(3)))(*ws)
    expected = torch.cat([j.reshape(6, -1) for j in jac], dim=1)
    assert (minima.end_to_end_jacobian(ws) - expected).abs().max() < 1e-13


def test_wide_perfect_fit_hessians_and_loewner_order():
    """At an exact fit of a wide DLN: the Gauss-Newton closed forms equal autodiff (1e-10), and
    H_L / lambda_max(S) <= H_F* <= H_L / lambda_min(S) <= H_L in the Loewner order."""
    gen = torch.Generator().manual_seed(3)
    x = torch.randn(40, 3, generator=gen, dtype=F64)
    target = torch.randn(2, 3, generator=gen, dtype=F64)
    y = x @ target.T
    ws = minima.fit_end_to_end([3, 4, 5, 2], target, seed=1)
    assert (dln.end_to_end(ws) - target).abs().max() < 1e-12
    h_l, h_f = minima.perfect_fit_hessians(ws, x)
    assert np.abs(h_l.numpy() - hess(lambda v: dln.mse_loss(v, x, y), ws)).max() < 1e-10
    assert np.abs(h_f.numpy() - hess(lambda v: dln.equilibrated_energy(v, x, y), ws)).max() < 1e-10
    s_eig = np.linalg.eigvalsh(dln.rescaling(ws).numpy())
    hl, hf = h_l.numpy(), h_f.numpy()
    assert np.linalg.eigvalsh(hf - hl)[-1] < 1e-10
    assert np.linalg.eigvalsh(hf - hl / s_eig[0])[-1] < 1e-10
    assert np.linalg.eigvalsh(hl / s_eig[-1] - hf)[-1] < 1e-10


def test_fit_end_to_end_is_exact_and_balanced():
    gen = torch.Generator().manual_seed(1)
    target = torch.randn(2, 3, generator=gen, dtype=F64)
    ws = minima.fit_end_to_end([3, 5, 4, 6, 2], target, seed=3)
    assert (dln.end_to_end(ws) - target).abs().max() < 1e-12
    for w_next, w in zip(ws[1:], ws[:-1]):  # balancedness W_{l+1}^T W_{l+1} = W_l W_l^T
        assert (w_next.T @ w_next - w @ w.T).abs().max() < 1e-12
    with pytest.raises(ValueError, match="hidden width"):
        minima.fit_end_to_end([3, 1, 2], target)
    with pytest.raises(ValueError, match="shape"):
        minima.fit_end_to_end([3, 4, 2], target.T)


# ------------------------------------------------------------------------------------------------
# INF: non-realizable data


def test_inf_rescaling_path_drives_energy_to_zero():
    """INF: along (W_1/c, ..., c W_L) the loss is constant and F* decreases to 0 like tr(K^{-1} Psi)/(2c^2);
    F*(c) equals 1/2 sum_k (u_k^T Psi u_k) / (1 + c^2 kappa_k) from numpy's eigh of K = S - I (1e-12)."""
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(50, 3, generator=gen, dtype=F64)
    y = torch.randn(50, 2, generator=gen, dtype=F64)  # not a linear function of x: non-realizable
    w_ls = torch.linalg.lstsq(x, y).solution.T
    ws = minima.fit_end_to_end([3, 4, 4, 2], w_ls, seed=2)
    s = rescaling_ref([w.numpy() for w in ws])  # S summed term by term, independent of the package
    kappa, u = np.linalg.eigh(s - np.eye(2))
    r = (y - x @ w_ls.T).numpy()
    psi = r.T @ r / len(r)
    assert kappa[0] > 0
    loss0 = dln.mse_loss(ws, x, y).item()
    previous = np.inf
    for c in (0.5, 1, 2, 5, 20, 100, 1000):
        v = minima.rescale(ws, c)
        f = dln.equilibrated_energy(v, x, y).item()
        expected = 0.5 * sum((u[:, k] @ psi @ u[:, k]) / (1 + c**2 * kappa[k]) for k in range(2))
        assert abs(f - expected) < 1e-12
        assert abs(dln.mse_loss(v, x, y).item() - loss0) < 1e-12 * loss0
        assert f < previous
        previous = f
    limit = 0.5 * np.trace(np.linalg.solve(s - np.eye(2), psi))
    assert minima.rescaling_path_limit(ws, x, y) == pytest.approx(limit, rel=1e-12)
    assert 1e6 * dln.equilibrated_energy(minima.rescale(ws, 1e3), x, y).item() == pytest.approx(limit, rel=1e-5)


def test_rescaling_validation():
    ws = [torch.ones(2, 2, dtype=F64), torch.tensor([[1.0, 1.0]], dtype=F64)]
    with pytest.raises(ValueError, match="positive"):
        minima.rescale(ws, 0.0)
    narrow = [torch.ones(1, 2, dtype=F64), torch.ones(2, 1, dtype=F64)]  # W_L (2, 1): no full row rank
    x, y = torch.ones(3, 2, dtype=F64), torch.ones(3, 2, dtype=F64)
    with pytest.raises(ValueError, match="full row rank"):
        minima.rescaling_path_limit(narrow, x, y)


# ------------------------------------------------------------------------------------------------
# CE: degenerate data


def test_ce_formula_matches_equation_5():
    x, y = minima.counterexample_data()
    assert x.numpy().ravel().tolist() == [1.0, 1.0] and y.numpy().ravel().tolist() == [1.0, -1.0]
    for w1 in (-2.0, -0.3, 0.0, 1.0, 1.7):
        for w2 in (-1.5, 0.0, 0.2, 3.0):
            f = dln.equilibrated_energy(minima.chain(w1, w2), x, y).item()
            assert abs(f - (1 + w1**2 * w2**2) / (2 * (1 + w2**2))) < 1e-15
            assert abs(minima.counterexample_energy(w1, w2) - f) < 1e-15


def test_ce_non_strict_saddle():
    """CE: (1, 0) is critical with a zero Hessian (1e-12) and F*(1 +- a, b) - F*(1, 0) changes sign."""
    x, y = minima.counterexample_data()
    fn = lambda v: dln.equilibrated_energy(v, x, y)  # noqa: E731
    for w1 in (-1.5, 0.3, 1.0, 2.0):  # the whole line w_2 = 0 is critical
        assert hessian.gradient(fn, minima.chain(w1, 0.0)).abs().max() < 1e-12
    assert np.abs(hess(fn, minima.chain(1.0, 0.0))).max() < 1e-12
    f0 = fn(minima.chain(1.0, 0.0)).item()
    b = 0.01
    up = fn(minima.chain(1.01, b)).item() - f0
    down = fn(minima.chain(0.99, b)).item() - f0
    assert up > 0 > down
    for a, diff in ((0.01, up), (-0.01, down)):
        assert abs(diff - b**2 * ((1 + a) ** 2 - 1) / (2 * (1 + b**2))) < 1e-12
    # the loss is at a global minimum there (L = (1 + (w1 w2)^2) / 2 >= 1/2)
    assert dln.mse_loss(minima.chain(1.0, 0.0), x, y).item() == pytest.approx(0.5, abs=1e-15)
    # the origin is still a strict saddle (Theorem 2): H_F*(0) = [[0, 0], [0, -Syy]] with Syy = 1
    assert np.linalg.eigvalsh(hess(fn, minima.chain(0.0, 0.0)))[0] == pytest.approx(-1.0, abs=1e-12)


def test_energy_descent_matches_manual_steps_and_drifts_on_non_realizable_data():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(30, 3, generator=gen, dtype=F64)
    y = torch.randn(30, 2, generator=gen, dtype=F64)
    ws = minima.fit_end_to_end([3, 4, 2], torch.linalg.lstsq(x, y).solution.T, seed=0)
    hist = minima.energy_descent(ws, x, y, lr=0.1, n_steps=3, record=[0, 3])
    manual = [w.clone() for w in ws]
    for _ in range(3):  # plain gradient steps with autodiff of Eq. 5 written with an explicit inverse
        g = hessian.gradient(lambda v: torch_fstar(v, x, y), manual)
        flat = hessian.flatten(manual) - 0.1 * g
        manual = hessian.unflatten(flat, [tuple(w.shape) for w in ws])
    assert hist["step"] == [0, 3]
    assert hist["energy"][1] == pytest.approx(torch_fstar(manual, x, y).item(), rel=1e-12)
    assert hist["norms"][1][-1] == pytest.approx(manual[-1].norm().item(), rel=1e-12)
    long = minima.energy_descent(ws, x, y, lr=0.1, n_steps=400, record=[0, 400])
    assert long["energy"][1] < long["energy"][0]
    assert long["norms"][1][-1] > long["norms"][0][-1]  # W_L grows ...
    assert long["norms"][1][0] < long["norms"][0][0]  # ... while W_1 shrinks
    with pytest.raises(ValueError, match="record"):
        minima.energy_descent(ws, x, y, lr=0.1, n_steps=3, record=[5])
