"""Tests of reprokit.hessian: flattening, gradient, dense Hessian, Hessian-vector products, Lanczos.

References: quadratic forms with a known matrix, the index layout of SPEC 1.7, finite
differences, ``torch.autograd.functional.hessian`` of an independently written F* (explicit
inverse), ``numpy.linalg.eigvalsh``, and the closed forms at the origin (SPEC 2.2, 2.3):
rows L0, T2-matrix, T2-spectrum, T2-count and T2-golden of Appendix A.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import dln
from reprokit import hessian
from reference import F64, fd_grad, moments, origin_hessian_by_index, random_data, random_net, torch_fstar, tt, zeros


def independent_hessian(fun, ws):
    """Hessian by torch.autograd.functional (reverse-over-reverse) on a vector split by hand."""
    sizes = [w.numel() for w in ws]

    def flat(v):
        parts, start = [], 0
        for w, n in zip(ws, sizes):
            parts.append(v[start : start + n].reshape(w.shape))
            start += n
        return fun(parts)

    theta = torch.cat([w.reshape(-1) for w in ws])
    return torch.autograd.functional.hessian(flat, theta).numpy()


# ------------------------------------------------------------------------------------------------
# flattening


def test_flatten_is_row_major_per_layer_in_layer_order():
    w1 = torch.arange(6, dtype=F64).reshape(2, 3)  # W1: (d_1=2, d_0=3)
    w2 = torch.arange(6, 14, dtype=F64).reshape(4, 2)  # W2: (d_2=4, d_1=2)
    flat = hessian.flatten([w1, w2])
    np.testing.assert_array_equal(flat.numpy(), np.arange(14))
    assert float(flat[1]) == float(w1[0, 1]) and float(flat[3]) == float(w1[1, 0])
    assert float(flat[6 + 1 * 2 + 0]) == float(w2[1, 0])
    assert hessian.shapes_of([w1, w2]) == [(2, 3), (4, 2)]


def test_flatten_unflatten_round_trip():
    ws = tt(random_net([5, 6, 6, 3]))
    back = hessian.unflatten(hessian.flatten(ws), hessian.shapes_of(ws))
    assert len(back) == 3
    for a, b in zip(ws, back):
        assert torch.equal(a, b)
    v = torch.arange(5 * 6 + 36 + 18, dtype=F64)
    assert torch.equal(hessian.flatten(hessian.unflatten(v, [(6, 5), (6, 6), (3, 6)])), v)


def test_unflatten_rejects_wrong_length():
    with pytest.raises(ValueError, match=r"expected a vector of 14 entries .*received \(13,\)"):
        hessian.unflatten(torch.zeros(13, dtype=F64), [(2, 3), (4, 2)])
    with pytest.raises(ValueError, match=r"expected a vector of 14 entries .*received \(2, 7\)"):
        hessian.unflatten(torch.zeros(2, 7, dtype=F64), [(2, 3), (4, 2)])


# ------------------------------------------------------------------------------------------------
# gradient, Hessian, Hessian-vector products


def quadratic(seed=0, widths=(3, 2, 4)):
    rng = np.random.default_rng(seed)
    p = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    m = rng.standard_normal((p, p))
    q = m + m.T
    c = rng.standard_normal(p)
    q_t, c_t = torch.tensor(q), torch.tensor(c)

    def fn(ws):  # theta = [W1 row by row, W2 row by row]
        theta = torch.cat([w.reshape(-1) for w in ws])
        return 0.5 * theta @ q_t @ theta + c_t @ theta

    return fn, q, c


def test_hessian_and_gradient_of_a_quadratic_form():
    fn, q, c = quadratic()
    ws = tt(random_net([3, 2, 4], seed=3))
    theta = np.concatenate([w.numpy().ravel() for w in ws])
    np.testing.assert_allclose(hessian.hessian(fn, ws).numpy(), q, rtol=0, atol=1e-12)
    np.testing.assert_allclose(hessian.gradient(fn, ws).numpy(), q @ theta + c, rtol=0, atol=1e-12)
    v = torch.tensor(np.random.default_rng(4).standard_normal(q.shape[0]))
    np.testing.assert_allclose(hessian.hvp(fn, ws, v).numpy(), q @ v.numpy(), rtol=0, atol=1e-12)


def test_hessian_index_layout():
    """fn = W1[0,2] W2[1,0] + W1[1,1]^2 with W1 (2,3), W2 (4,2): its Hessian has entries at the
    row-major positions 2 (W1[0,2]), 4 (W1[1,1]) and 6 + 1*2 + 0 = 8 (W2[1,0]) and nowhere else."""
    ws = tt(random_net([3, 2, 4], seed=5))
    h = hessian.hessian(lambda w: w[0][0, 2] * w[1][1, 0] + w[0][1, 1] ** 2, ws).numpy()
    expected = np.zeros((14, 14))
    expected[2, 8] = expected[8, 2] = 1.0
    expected[4, 4] = 2.0
    np.testing.assert_array_equal(h, expected)


def test_hessian_of_fstar_matches_independent_autograd():
    ws = tt(random_net([3, 4, 4, 2], std=0.6, seed=6))
    x, y = tt(random_data(3, 2, 15))
    h = hessian.hessian(lambda w: dln.equilibrated_energy(w, x, y), ws).numpy()
    ref = independent_hessian(lambda w: torch_fstar(w, x, y), ws)
    np.testing.assert_allclose(h, ref, rtol=0, atol=1e-10)
    np.testing.assert_array_equal(h, h.T)


def test_gradient_matches_finite_differences():
    ws = tt(random_net([3, 4, 2], seed=7))
    x, y = tt(random_data(3, 2, 10))
    g = hessian.gradient(lambda w: dln.equilibrated_energy(w, x, y), ws).numpy()
    fd = fd_grad(lambda v: float(torch_fstar(tt(v), x, y)), [w.numpy() for w in ws])
    np.testing.assert_allclose(g, np.concatenate([d.ravel() for d in fd]), rtol=0, atol=1e-8)


def test_hvp_equals_hessian_times_vector():
    ws = tt(random_net([4, 5, 5, 3], seed=8))
    x, y = tt(random_data(4, 3, 12))
    ref = independent_hessian(lambda w: torch_fstar(w, x, y), ws)
    v = torch.tensor(np.random.default_rng(9).standard_normal(ref.shape[0]))
    got = hessian.hvp(lambda w: dln.equilibrated_energy(w, x, y), ws, v).numpy()
    np.testing.assert_allclose(got, ref @ v.numpy(), rtol=0, atol=1e-10)
    with pytest.raises(ValueError, match=rf"vector must have shape \({ref.shape[0]},\); received \(3,\)"):
        hessian.hvp(lambda w: dln.equilibrated_energy(w, x, y), ws, torch.zeros(3, dtype=F64))


def test_non_scalar_function_is_rejected():
    with pytest.raises(ValueError, match="scalar"):
        hessian.hessian(lambda w: w[0].sum(dim=0), tt(random_net([3, 2])))


# ------------------------------------------------------------------------------------------------
# Lanczos


def known_matrix(eigenvalues, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    return q @ np.diag(eigenvalues) @ q.T


def test_lanczos_full_dimension_recovers_the_spectrum():
    eig = np.linspace(-3, 5, 40) + np.random.default_rng(1).uniform(0, 0.05, 40)
    a = torch.tensor(known_matrix(eig))
    vals, vecs = hessian.lanczos(lambda v: a @ v, 40, 40)
    np.testing.assert_allclose(vals.numpy(), np.linalg.eigvalsh(a.numpy()), rtol=0, atol=1e-10)
    assert vecs.shape == (40, 40)
    residual = a @ vecs - vecs * vals
    assert float(residual.abs().max()) < 1e-9


def test_lanczos_extreme_eigenvalues_converge_first():
    eig = np.concatenate([[-6.0], np.linspace(-1, 1, 78), [5.0]])  # isolated extremes
    a = torch.tensor(known_matrix(eig, seed=2))
    vals, vecs = hessian.lanczos(lambda v: a @ v, 80, 30, seed=3)
    assert vals.shape == (30,) and vecs.shape == (80, 30)
    ref = np.linalg.eigvalsh(a.numpy())
    assert abs(float(vals[0]) - ref[0]) < 1e-8
    assert abs(float(vals[-1]) - ref[-1]) < 1e-8
    for k in (0, -1):  # Ritz vectors of converged values are eigenvectors
        assert float((a @ vecs[:, k] - vals[k] * vecs[:, k]).norm()) < 1e-6
    assert np.all(np.diff(vals.numpy()) >= 0)  # ascending


def test_lanczos_stops_on_an_invariant_subspace():
    """A rank-3 operator: the Krylov space closes after at most 4 vectors; the Ritz values are its
    non-zero eigenvalues (and 0)."""
    rng = np.random.default_rng(4)
    u, _ = np.linalg.qr(rng.standard_normal((20, 3)))
    a = torch.tensor(u @ np.diag([-2.0, 1.0, 3.0]) @ u.T)
    vals, vecs = hessian.lanczos(lambda v: a @ v, 20, 20)
    assert vals.numel() <= 4 and vecs.shape[1] == vals.numel()
    assert abs(float(vals[0]) + 2.0) < 1e-10 and abs(float(vals[-1]) - 3.0) < 1e-10


def test_lanczos_rejects_bad_sizes():
    with pytest.raises(ValueError, match=r"dim >= 1 and n_iter >= 1; received dim=5, n_iter=0"):
        hessian.lanczos(lambda v: v, 5, 0)


def test_extreme_eigenvalues_match_dense_eigendecomposition():
    ws = tt(random_net([3, 4, 4, 2], std=0.6, seed=10))
    x, y = tt(random_data(3, 2, 15))
    ref = np.linalg.eigvalsh(independent_hessian(lambda w: torch_fstar(w, x, y), ws))
    lo, hi = hessian.extreme_eigenvalues(lambda w: dln.equilibrated_energy(w, x, y), ws, n_iter=ref.size)
    assert lo < 0 < hi  # a generic point of F* is not a minimum here; both signs present
    assert abs(lo - ref[0]) < 1e-8 and abs(hi - ref[-1]) < 1e-8


# ------------------------------------------------------------------------------------------------
# closed forms at the origin (SPEC 2.2, 2.3)


@pytest.mark.parametrize("hidden_layers", [2, 4])
def test_loss_hessian_at_origin_vanishes_for_deep_networks(hidden_layers):
    """L0, H >= 2: the loss Hessian at 0 is the zero matrix (|.| < 1e-12)."""
    widths = [5] + [6] * hidden_layers + [3]
    x, y = tt(random_data(5, 3, 40))
    h = hessian.hessian(lambda w: dln.mse_loss(w, x, y), zeros(widths)).numpy()
    assert h.shape == (sum(a * b for a, b in zip(widths[1:], widths[:-1])),) * 2
    assert np.abs(h).max() < 1e-12


def test_loss_hessian_at_origin_for_one_hidden_layer():
    """L0, H = 1: [[0, C], [C^T, 0]] with the index-formula cross block C; spectrum +-sigma(Sxy), each n_1 times."""
    widths = [5, 6, 3]
    x, y = tt(random_data(5, 3, 40))
    sxy, _ = moments(x, y)
    h = hessian.hessian(lambda w: dln.mse_loss(w, x, y), zeros(widths)).numpy()
    expected = origin_hessian_by_index(widths, sxy, np.zeros((3, 3)))  # the loss lacks the -Syy block
    np.testing.assert_allclose(h, expected, rtol=0, atol=1e-12)
    sigma = np.linalg.svd(sxy, compute_uv=False)  # 3 singular values
    p = h.shape[0]
    spectrum = np.sort(np.concatenate([np.repeat(sigma, 6), -np.repeat(sigma, 6), np.zeros(p - 2 * 3 * 6)]))
    np.testing.assert_allclose(np.linalg.eigvalsh(h), spectrum, rtol=0, atol=1e-8)


@pytest.mark.parametrize("hidden_layers", [1, 2, 4])
def test_energy_hessian_at_origin(hidden_layers):
    """T2-matrix, T2-spectrum, T2-count (d_x=5, d_y=3, widths 6, N=40)."""
    widths = [5] + [6] * hidden_layers + [3]
    x, y = tt(random_data(5, 3, 40, seed=hidden_layers))
    sxy, syy = moments(x, y)
    fn = lambda w: dln.equilibrated_energy(w, x, y)  # noqa: E731
    h = hessian.hessian(fn, zeros(widths)).numpy()
    np.testing.assert_allclose(h, origin_hessian_by_index(widths, sxy, syy), rtol=0, atol=1e-10)

    p = h.shape[0]
    eig = np.linalg.eigvalsh(h)
    lam_yy = np.linalg.eigvalsh(syy)
    if hidden_layers > 1:  # -lambda(Syy), each n_{L-1} times, and zeros
        spectrum = np.concatenate([-np.repeat(lam_yy, 6), np.zeros(p - 3 * 6)])
    else:  # n_1 copies of spec(M), M = -[[0, Sxy], [Syx, Syy]]
        m = -np.block([[np.zeros((5, 5)), sxy], [sxy.T, syy]])
        spectrum = np.concatenate([np.repeat(np.linalg.eigvalsh(m), 6), np.zeros(p - 8 * 6)])
    np.testing.assert_allclose(eig, np.sort(spectrum), rtol=0, atol=1e-8)
    # Syy > 0 (N = 40 > d_y): rank(Syy) n_{L-1} = 3 * 6 negative eigenvalues for every H
    assert np.linalg.matrix_rank(syy) == 3
    assert int((eig < -1e-8).sum()) == 3 * 6
    # Theorem 2, and Lanczos finds the same lambda_min
    lo, _ = hessian.extreme_eigenvalues(fn, zeros(widths), n_iter=p)
    expected_min = -lam_yy[-1] if hidden_layers > 1 else np.linalg.eigvalsh(m)[0]
    assert expected_min < 0 and abs(lo - expected_min) < 1e-8


def test_golden_ratio_chain():
    """T2-golden: H = 1 chain, y = -x: energy-Hessian eigenvalues Syy (-1 +- sqrt 5) / 2 (loss: +-Syy)."""
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.normal(1, 0.1, size=(64, 1)))
    y = -x
    syy = float((y * y).mean())
    ws = zeros([1, 1, 1])
    energy = np.linalg.eigvalsh(hessian.hessian(lambda w: dln.equilibrated_energy(w, x, y), ws).numpy())
    loss = np.linalg.eigvalsh(hessian.hessian(lambda w: dln.mse_loss(w, x, y), ws).numpy())
    np.testing.assert_allclose(energy, syy * np.array([-1 - 5**0.5, -1 + 5**0.5]) / 2, rtol=0, atol=1e-10)
    np.testing.assert_allclose(loss, [-syy, syy], rtol=0, atol=1e-10)
    assert np.all(energy < loss)  # A.3.5: both energy eigenvalues lie below the loss ones
