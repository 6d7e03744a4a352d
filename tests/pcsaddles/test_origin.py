"""Tests of pcsaddles.origin: Hessians and spectra at the origin (Eqs. 7, 8; Theorem 2; A.3.5).

Every expectation comes from somewhere other than the module under test: autodiff
(``torch.func`` through ``reprokit.hessian``) of the loss and of Eq. 5 as written in
:mod:`pcsaddles.dln`, central finite differences of numpy implementations of Eq. 1 and Eq. 5
(with ``numpy.linalg.inv``), autodiff through ``T`` unrolled Euler steps (``pc.unrolled_energy``),
numpy ``eigvalsh`` / ``svd`` / ``matrix_rank``, and entry-by-entry loops over the index formulas
of the row-major vectorisation. Checks of the reproduction covered: L0, T2-matrix, T2-spectrum, T2-count, T2-unrolled,
T2-golden, and the A.3.5 inequality.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pcsaddles import dln, origin, pc
from reprokit import hessian
from reference import eq5_ref, eq8_by_index, fd_hessian, loss_ref, tt, zeros

# ------------------------------------------------------------------------------------------------
# data and autodiff helpers (the independent references live in reference.py)


def batch(d_x, d_y, n=24, seed=0, kind="gauss"):
    rng = np.random.default_rng(seed)
    if kind == "toy":  # the paper's toy data: x ~ N(1, 0.1^2), y = -x
        x = rng.normal(1.0, 0.1, size=(n, d_x))
        return x, -x[:, [k % d_x for k in range(d_y)]]  # repeats coordinates when d_y > d_x
    return rng.standard_normal((n, d_x)), rng.standard_normal((n, d_y))


def autodiff_energy_hessian(widths, x, y):
    return hessian.hessian(lambda w: dln.equilibrated_energy(w, tt(x), tt(y)), zeros(widths)).numpy()


def autodiff_loss_hessian(widths, x, y):
    return hessian.hessian(lambda w: dln.mse_loss(w, tt(x), tt(y)), zeros(widths)).numpy()


def autodiff_unrolled_hessian(widths, x, y, steps, dt=0.1):
    return hessian.hessian(lambda w: pc.unrolled_energy(w, tt(x), tt(y), steps, dt=dt), zeros(widths)).numpy()


WIDTHS = [
    [3, 4, 2],  # H = 1, d_x > d_y
    [2, 3, 4],  # H = 1, d_y > d_x
    [3, 2, 2, 2],  # H = 2
    [2, 3, 4, 3, 3],  # H = 3
    [3, 2, 2, 2, 2, 4],  # H = 4
]
IDS = ["H1-wide-in", "H1-wide-out", "H2", "H3", "H4"]


# ------------------------------------------------------------------------------------------------
# moments and bookkeeping


def test_data_moments_are_uncentred_sums_over_n():
    x, y = batch(3, 2, n=7, seed=3)
    m = origin.data_moments(tt(x), tt(y))
    sxx = sum(np.outer(xi, xi) for xi in x) / 7
    sxy = sum(np.outer(xi, yi) for xi, yi in zip(x, y)) / 7
    syy = sum(np.outer(yi, yi) for yi in y) / 7
    for got, ref in ((m.sxx, sxx), (m.sxy, sxy), (m.syy, syy)):
        np.testing.assert_allclose(got.numpy(), ref, rtol=0, atol=1e-14)
    assert m.n == 7
    joint = np.concatenate([x, y], 1)
    np.testing.assert_allclose(m.joint.numpy(), joint.T @ joint / 7, rtol=0, atol=1e-14)


def test_block_offsets_and_parameter_count():
    assert origin.block_offsets([3, 4, 2]) == [0, 12, 20]
    assert origin.parameter_count([784, 10, 10, 10]) == 7840 + 100 + 100


# ------------------------------------------------------------------------------------------------
# L0: the loss Hessian at the origin (Eq. 7)


def test_L0_loss_hessian_h1_entrywise_and_spectrum():
    widths = [3, 4, 2]
    x, y = batch(3, 2)
    closed = origin.loss_hessian_origin(widths, tt(x), tt(y)).numpy()
    np.testing.assert_allclose(closed, autodiff_loss_hessian(widths, x, y), rtol=0, atol=1e-12)
    np.testing.assert_allclose(closed, fd_hessian(lambda ws: loss_ref(ws, x, y), widths), rtol=0, atol=1e-6)
    # spectrum: +-sigma_k(Sxy), each n_1 = 4 times, and n_1 (d_x + d_y - 2 min) = 4 zeros
    sig = np.linalg.svd(x.T @ y / x.shape[0], compute_uv=False)
    expected = np.sort(np.concatenate([np.repeat(sig, 4), -np.repeat(sig, 4), np.zeros(4)]))
    np.testing.assert_allclose(origin.loss_spectrum_origin(widths, tt(x), tt(y)).numpy(), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.eigvalsh(autodiff_loss_hessian(widths, x, y)), expected, rtol=0, atol=1e-8)


@pytest.mark.parametrize("widths", WIDTHS[2:], ids=IDS[2:])
def test_L0_loss_hessian_vanishes_for_two_or_more_hidden_layers(widths):
    x, y = batch(widths[0], widths[-1])
    assert np.abs(autodiff_loss_hessian(widths, x, y)).max() < 1e-12
    assert np.abs(fd_hessian(lambda ws: loss_ref(ws, x, y), widths)).max() < 1e-6
    assert not origin.loss_hessian_origin(widths, tt(x), tt(y)).any()
    assert not origin.loss_spectrum_origin(widths, tt(x), tt(y)).any()


# ------------------------------------------------------------------------------------------------
# T2-matrix, T2-spectrum, T2-count: the energy Hessian at the origin (Eq. 8)


@pytest.mark.parametrize("widths", WIDTHS, ids=IDS)
def test_T2_matrix_matches_autodiff_and_the_index_formula(widths):
    x, y = batch(widths[0], widths[-1], seed=1)
    closed = origin.energy_hessian_origin(widths, tt(x), tt(y)).numpy()
    np.testing.assert_allclose(closed, autodiff_energy_hessian(widths, x, y), rtol=0, atol=1e-10)
    np.testing.assert_allclose(closed, eq8_by_index(widths, x, y), rtol=0, atol=1e-15)


@pytest.mark.parametrize("widths", [[2, 2, 2], [2, 2, 2, 2]], ids=["H1", "H2"])
def test_T2_matrix_matches_finite_differences_of_numpy_eq5(widths):
    x, y = batch(2, 2, n=10, seed=2)
    closed = origin.energy_hessian_origin(widths, tt(x), tt(y)).numpy()
    np.testing.assert_allclose(closed, fd_hessian(lambda ws: eq5_ref(ws, x, y), widths), rtol=0, atol=1e-6)


def test_paper_kronecker_cross_block_differs_entrywise_but_not_in_spectrum():
    """The paper's -Sxy (x) I_{n_1} is the true block only up to a permutation of W_1."""
    widths = [3, 4, 2]
    x, y = batch(3, 2, seed=4)
    n = x.shape[0]
    sxy, syy = x.T @ y / n, y.T @ y / n
    paper = np.zeros((20, 20))
    paper[:12, 12:] = -np.kron(sxy, np.eye(4))
    paper[12:, :12] = paper[:12, 12:].T
    paper[12:, 12:] = -np.kron(syy, np.eye(4))
    ours = origin.energy_hessian_origin(widths, tt(x), tt(y)).numpy()
    assert np.abs(paper - ours).max() > 0.1
    np.testing.assert_allclose(np.linalg.eigvalsh(paper), np.linalg.eigvalsh(ours), rtol=0, atol=1e-12)


@pytest.mark.parametrize("widths", WIDTHS, ids=IDS)
@pytest.mark.parametrize("kind", ["gauss", "toy"])
def test_T2_spectrum_matches_eigenvalues_of_the_autodiff_hessian(widths, kind):
    x, y = batch(widths[0], widths[-1], seed=5, kind=kind)
    got = origin.energy_spectrum_origin(widths, tt(x), tt(y)).numpy()
    ref = np.linalg.eigvalsh(autodiff_energy_hessian(widths, x, y))
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-8)


@pytest.mark.parametrize("widths", WIDTHS[2:], ids=IDS[2:])
def test_T2_spectrum_deep_is_minus_syy_times_last_width_plus_zeros(widths):
    x, y = batch(widths[0], widths[-1], seed=6)
    lam = np.linalg.eigvalsh(y.T @ y / y.shape[0])
    p = sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    expected = np.sort(np.concatenate([-np.repeat(lam, widths[-2]), np.zeros(p - lam.size * widths[-2])]))
    np.testing.assert_allclose(origin.energy_spectrum_origin(widths, tt(x), tt(y)).numpy(), expected, rtol=0, atol=1e-12)


def test_T2_spectrum_h1_is_n1_copies_of_the_unit_block():
    x, y = batch(3, 2, seed=7)
    n = x.shape[0]
    m = -np.block([[np.zeros((3, 3)), x.T @ y / n], [y.T @ x / n, y.T @ y / n]])
    expected = np.sort(np.repeat(np.linalg.eigvalsh(m), 5))
    np.testing.assert_allclose(origin.energy_spectrum_origin([3, 5, 2], tt(x), tt(y)).numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("widths", [[3, 4, 3], [2, 3, 3], [3, 2, 3, 3], [2, 2, 3, 2, 3]], ids=["H1", "H1-narrow", "H2", "H3"])
@pytest.mark.parametrize("target_rank", [1, 2, 3])
def test_T2_count_is_rank_of_syy_times_last_width(widths, target_rank):
    """Targets confined to a subspace of dimension r: exactly r n_{L-1} negative eigenvalues (< -1e-8)."""
    rng = np.random.default_rng(target_rank)
    x = rng.standard_normal((30, widths[0]))
    y = rng.standard_normal((30, target_rank)) @ rng.standard_normal((target_rank, widths[-1]))
    assert np.linalg.matrix_rank(y.T @ y) == target_rank
    eigs = np.linalg.eigvalsh(autodiff_energy_hessian(widths, x, y))
    n_neg = int((eigs < -1e-8).sum())
    assert n_neg == target_rank * widths[-2]
    assert origin.negative_count_origin(widths, tt(x), tt(y)) == n_neg
    if len(widths) == 3:  # and rank(Sxy) positive eigenvalues per hidden unit
        assert int((eigs > 1e-8).sum()) == np.linalg.matrix_rank(x.T @ y) * widths[1]


@pytest.mark.parametrize("hidden", [1, 2, 3, 4, 5, 6])
def test_theorem2_origin_is_strict_for_every_depth(hidden):
    widths = [3] + [2] * hidden + [2]
    x, y = batch(3, 2, seed=hidden, kind="toy")
    eigs_f = np.linalg.eigvalsh(autodiff_energy_hessian(widths, x, y))
    lam_max_syy = np.linalg.eigvalsh(y.T @ y / y.shape[0])[-1]
    assert eigs_f[0] < 0
    if hidden == 1:  # Cauchy interlacing with the -Syy block of the unit block M: even lower
        assert eigs_f[0] < -lam_max_syy - 1e-3
    else:
        np.testing.assert_allclose(eigs_f[0], -lam_max_syy, rtol=0, atol=1e-10)
    eigs_l = np.linalg.eigvalsh(autodiff_loss_hessian(widths, x, y))
    assert (eigs_l[0] < 0) == (hidden == 1)  # the loss origin is strict only for H = 1


def test_zero_targets_make_the_energy_hessian_vanish():
    """Theorem 2 needs some y_i != 0: with y = 0 the energy Hessian at the origin is zero."""
    x = batch(3, 2)[0]
    y = np.zeros((x.shape[0], 2))
    assert np.abs(autodiff_energy_hessian([3, 2, 2, 2], x, y)).max() < 1e-14
    assert origin.negative_count_origin([3, 2, 2, 2], tt(x), tt(y)) == 0
    assert not origin.energy_spectrum_origin([3, 2, 2, 2], tt(x), tt(y)).any()


# ------------------------------------------------------------------------------------------------
# T2-unrolled: the energy after T Euler steps (activities fixed at the feed-forward init = 0)


@pytest.mark.parametrize("widths", [[3, 2, 2], [3, 2, 2, 2]], ids=["H1", "H2"])
def test_T2_unrolled_converges_to_eq8_at_the_spec_tolerances(widths):
    x, y = batch(3, 2, n=64, seed=0, kind="toy")
    expected = eq8_by_index(widths, x, y)
    dev = {}
    for steps, bound in ((20, 5e-2), (50, 5e-4), (200, 1e-6)):
        dev[steps] = np.abs(autodiff_unrolled_hessian(widths, x, y, steps) - expected).max()
        assert dev[steps] < bound, (steps, dev[steps])
    assert dev[200] < dev[50] < dev[20]


@pytest.mark.parametrize("widths", WIDTHS, ids=IDS)
@pytest.mark.parametrize("steps", [0, 1, 5, 20])
def test_finite_T_hessian_formula_matches_autodiff_through_the_unrolled_steps(widths, steps):
    x, y = batch(widths[0], widths[-1], seed=8)
    ref = autodiff_unrolled_hessian(widths, x, y, steps)
    got = origin.unrolled_energy_hessian_origin(widths, tt(x), tt(y), steps).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        origin.unrolled_energy_spectrum_origin(widths, tt(x), tt(y), steps).numpy(), np.linalg.eigvalsh(ref), atol=1e-10
    )


def test_finite_T_formula_with_another_step_size_and_its_limits():
    widths = [2, 3, 2]
    x, y = batch(2, 2, seed=9)
    ref = autodiff_unrolled_hessian(widths, x, y, 7, dt=0.3)
    np.testing.assert_allclose(origin.unrolled_energy_hessian_origin(widths, tt(x), tt(y), 7, dt=0.3).numpy(), ref, atol=1e-12)
    # T = 0 is the energy with frozen feed-forward activities: Hessian blockdiag(I (x) Sxx, 0), not the loss's
    t0 = origin.unrolled_energy_hessian_origin(widths, tt(x), tt(y), 0).numpy()
    np.testing.assert_allclose(t0[:6, :6], np.kron(np.eye(3), x.T @ x / x.shape[0]), atol=1e-14)
    assert not t0[6:].any() and not t0[:, 6:].any()
    # large T: Eq. 8
    np.testing.assert_allclose(origin.unrolled_energy_hessian_origin(widths, tt(x), tt(y), 400).numpy(),
                               eq8_by_index(widths, x, y), rtol=0, atol=1e-15)


# ------------------------------------------------------------------------------------------------
# T2-golden and A.3.5: linear chains


def test_T2_golden_ratio_for_the_one_hidden_unit_chain_on_toy_data():
    x, y = batch(1, 1, n=64, seed=0, kind="toy")
    m = np.mean(x**2)
    expected = np.array([m * (-1 - math.sqrt(5)) / 2, m * (-1 + math.sqrt(5)) / 2])
    eigs = np.linalg.eigvalsh(autodiff_energy_hessian([1, 1, 1], x, y))
    np.testing.assert_allclose(eigs, expected, rtol=0, atol=1e-10)
    np.testing.assert_allclose(origin.chain_spectra_origin(1, tt(x), tt(y)).energy.numpy(), expected, rtol=0, atol=1e-12)
    phi = (1 + math.sqrt(5)) / 2
    assert origin.GOLDEN_RATIO == pytest.approx(phi, abs=1e-15)
    np.testing.assert_allclose(eigs, [-phi * m, m / phi], atol=1e-10)


@pytest.mark.parametrize("hidden", [1, 2, 5, 10])
def test_chain_spectra_match_autodiff(hidden):
    x, y = batch(1, 1, n=40, seed=hidden)
    widths = [1] * (hidden + 2)
    got = origin.chain_spectra_origin(hidden, tt(x), tt(y))
    np.testing.assert_allclose(got.energy.numpy(), np.linalg.eigvalsh(autodiff_energy_hessian(widths, x, y)), atol=1e-10)
    np.testing.assert_allclose(got.loss.numpy(), np.linalg.eigvalsh(autodiff_loss_hessian(widths, x, y)), atol=1e-10)
    if hidden > 1:
        np.testing.assert_allclose(got.energy.numpy()[0], -np.mean(y**2), atol=1e-14)
        assert not got.energy[1:].any()


@pytest.mark.parametrize("seed", range(5))
def test_A35_energy_eigenvalues_lie_below_the_loss_eigenvalues(seed):
    x, y = batch(1, 1, n=30, seed=seed)
    e = np.linalg.eigvalsh(autodiff_energy_hessian([1, 1, 1], x, y))
    l_ = np.linalg.eigvalsh(autodiff_loss_hessian([1, 1, 1], x, y))
    assert np.all(e < l_), (e, l_)


# ------------------------------------------------------------------------------------------------
# numerics for large networks


@pytest.mark.parametrize("chunk", [3, 1000])
def test_hessian_in_chunks_equals_the_dense_hessian(chunk):
    widths = [3, 4, 2, 2]
    x, y = batch(3, 2, seed=10)
    rng = np.random.default_rng(0)
    ws = [tt(0.5 * rng.standard_normal(w.shape)) for w in zeros(widths)]

    def fn(w):
        return pc.unrolled_energy(w, tt(x), tt(y), 5)

    np.testing.assert_allclose(hessian.hessian_in_chunks(fn, ws, chunk).numpy(), hessian.hessian(fn, ws).numpy(),
                               rtol=0, atol=1e-12)


def test_input_span_reduction_keeps_the_spectrum_exactly():
    """With N < d_x, the Hessian in the full parameters = reduced Hessian plus n_1 (d_x - r) zeros."""
    x, y = batch(12, 3, n=6, seed=11)
    q = hessian.input_span(tt(x))
    assert q.shape == (12, 6)
    np.testing.assert_allclose((q.T @ q).numpy(), np.eye(6), atol=1e-12)
    for widths in ([12, 2, 3], [12, 2, 2, 3]):
        full = np.linalg.eigvalsh(autodiff_unrolled_hessian(widths, x, y, 10))
        reduced_widths = [6] + widths[1:]
        xr = (tt(x) @ q).numpy()
        red = np.linalg.eigvalsh(autodiff_unrolled_hessian(reduced_widths, xr, y, 10))
        padded = np.sort(np.concatenate([red, np.zeros(full.size - red.size)]))
        np.testing.assert_allclose(padded, full, rtol=0, atol=1e-10)


# ------------------------------------------------------------------------------------------------
# dtype and bad input


def test_float32_keeps_dtype():
    x, y = batch(3, 2)
    h = origin.energy_hessian_origin([3, 2, 2], torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32))
    assert h.dtype == torch.float32


def test_bad_input_messages():
    x, y = tt(np.ones((5, 3))), tt(np.ones((5, 2)))
    with pytest.raises(ValueError, match=r"at least one hidden layer"):
        origin.energy_hessian_origin([3, 2], x, y)
    with pytest.raises(ValueError, match=r"need x of shape \(N, 4\)"):
        origin.loss_hessian_origin([4, 2, 2], x, y)
    with pytest.raises(ValueError, match=r"same positive number of examples"):
        origin.data_moments(x, y[:3])
    with pytest.raises(ValueError, match=r"n_steps must be a non-negative integer"):
        origin.unrolled_energy_hessian_origin([3, 2, 2], x, y, -1)
    with pytest.raises(ValueError, match=r"dt must lie in \(0, 2\)"):
        origin.unrolled_energy_spectrum_origin([3, 2, 2], x, y, 5, dt=2.5)
    with pytest.raises(ValueError, match=r"a chain needs x and y of shape \(N, 1\)"):
        origin.chain_spectra_origin(1, x, y)
    with pytest.raises(ValueError, match=r"n_hidden must be an int >= 1"):
        origin.chain_spectra_origin(0, x[:, :1], y[:, :1])
    with pytest.raises(ValueError, match=r"chunk_size must be a positive int"):
        hessian.hessian_in_chunks(lambda w: w[0].sum(), zeros([3, 2, 2]), 0)


def test_padded_spectrum_of_projected_inputs_equals_the_full_spectrum():
    """Inputs of rank 3 in 6 dimensions: the spectrum of a function of W_1 x in the full parameters
    equals that for the projected inputs plus n_1 (6 - 3) zeros (autodiff on the full problem)."""
    from reprokit import hessian as rh
    from pcsaddles import dln, origin, pc

    gen = torch.Generator().manual_seed(3)
    x = torch.randn(3, 6, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 2, generator=gen, dtype=torch.float64)
    ws_full = [0.4 * torch.randn(o, i, generator=gen, dtype=torch.float64) for i, o in ((6, 4), (4, 3), (3, 2))]
    q = rh.input_span(x)  # (6, 3)
    ws_red = [ws_full[0] @ q] + ws_full[1:]
    for fn in (lambda w, xs: dln.mse_loss(w, xs, y), lambda w, xs: pc.unrolled_energy(w, xs, y, 7)):
        full = torch.linalg.eigvalsh(rh.hessian(lambda w: fn(w, x), ws_full))
        mat, padded = origin.padded_spectrum(lambda w: fn(w, x @ q), ws_red, p_full=6 * 4 + 12 + 6, chunk_size=5)
        assert mat.shape == (3 * 4 + 12 + 6,) * 2
        torch.testing.assert_close(padded, full, rtol=0, atol=1e-12)
    with pytest.raises(ValueError, match="p_full"):
        origin.padded_spectrum(lambda w: dln.mse_loss(w, x @ q, y), ws_red, p_full=3)
