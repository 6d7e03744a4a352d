"""Tests of pcsaddles.zero_rank: Theorem 3 (zero-rank saddles W_L = 0, W_{L-1:1} = 0).

Expectations come from elsewhere than the module's closed forms: torch autodiff of
``dln.equilibrated_energy`` and ``dln.mse_loss`` (Eq. 5 and Eq. 1 as written in dln), central
finite differences of a numpy implementation of Eq. 5 with ``numpy.linalg.inv``, the W_L block
built entry by entry from its index formula, and numpy ``eigvalsh``. The unrolled energy is
compared with the step-by-step loop of ``pc.unrolled_energy``. Checks of the reproduction covered:
T3-crit, T3-hess, T3-min (and the negative-eigenvalue count).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import dln, pc, zero_rank
from reprokit import hessian
from reference import eq5_ref, fd_hessian, rescaling_ref

F64 = torch.float64

def t3_hessian_by_index(ws, y):
    """The energy Hessian at the experiments' point (every weight zero but W_{L-1} = B, H >= 3), entry by
    entry: only the W_L block is non-zero, -Syy[i, j] (I + B B^T)[a, b] at (vec index of W_L[i, a],
    vec index of W_L[j, b]) in the row-major vectorisation."""
    yn, b = y.numpy(), ws[-2].numpy()
    d_y, n = yn.shape[1], b.shape[0]
    syy = yn.T @ yn / yn.shape[0]
    a = np.eye(n) + b @ b.T
    p = sum(w.numel() for w in ws)
    expected = np.zeros((p, p))
    k0 = p - d_y * n
    for i in range(d_y):
        for ai in range(n):
            for j in range(d_y):
                for bj in range(n):
                    expected[k0 + n * i + ai, k0 + n * j + bj] = -syy[i, j] * a[ai, bj]
    return expected


def rand(gen, *shape, scale=1.0):
    return scale * torch.randn(*shape, generator=gen, dtype=F64)


def data(d_x, d_y, n=24, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return rand(gen, n, d_x), rand(gen, n, d_y)


def energy_hess(ws, x, y):
    return hessian.hessian(lambda w: dln.equilibrated_energy(w, x, y), ws).numpy()


def loss_hess(ws, x, y):
    return hessian.hessian(lambda w: dln.mse_loss(w, x, y), ws).numpy()


def family_point(widths, kind, seed=0):
    """A random point with W_L = 0 and W_{L-1:1} = 0: one zero matrix (kind = its index) or, for
    kind = "projector", W_2 W_1 = 0 with both factors non-zero."""
    gen = torch.Generator().manual_seed(seed)
    ws = [rand(gen, b, a) for a, b in zip(widths[:-1], widths[1:])]
    if kind == "projector":
        q, _ = torch.linalg.qr(rand(gen, widths[1], widths[1]))
        u = q[:, :1]  # W_1 maps into span(u), W_2 annihilates it
        ws[0] = u @ rand(gen, 1, widths[0])
        ws[1] = ws[1] @ (torch.eye(widths[1], dtype=F64) - u @ u.T)
    else:
        ws[kind] = torch.zeros_like(ws[kind])
    ws[-1] = torch.zeros_like(ws[-1])
    return ws


# ------------------------------------------------------------------------------------------------
# the experiments' point


def test_other_saddle_structure():
    widths = [3, 4, 5, 6, 2]
    ws = zero_rank.other_saddle(widths, seed=3)
    assert [tuple(w.shape) for w in ws] == [(4, 3), (5, 4), (6, 5), (2, 6)]
    for i, w in enumerate(ws):
        if i == len(ws) - 2:
            assert w.abs().max() > 0 and w.abs().max() <= 1 / np.sqrt(5)  # U(+-1/sqrt(fan_in)), fan_in = 5
        else:
            assert (w == 0).all()
    assert zero_rank.in_family(ws)
    with pytest.raises(ValueError, match="H >= 2"):
        zero_rank.other_saddle([3, 4, 2])


def test_family_validation():
    x, y = data(3, 2)
    gen = torch.Generator().manual_seed(1)
    ws = [rand(gen, 4, 3), rand(gen, 4, 4), torch.zeros(2, 4, dtype=F64)]
    assert not zero_rank.in_family(ws)  # W_{L-1:1} != 0
    with pytest.raises(ValueError, match="W_L = 0, W_\\{L-1:1\\} = 0"):
        zero_rank.energy_hessian(ws, x, y)


@pytest.mark.parametrize("n_hidden", [2, 3, 4])
def test_t3_crit_gradients_vanish(n_hidden):
    """T3-crit: grad F* = grad L = 0 at the experiments' point (autodiff, < 1e-12)."""
    x, y = data(3, 3, seed=n_hidden)
    ws = zero_rank.other_saddle([3] + [4] * n_hidden + [3], seed=n_hidden)
    for fn in (dln.equilibrated_energy, dln.mse_loss):
        grad = hessian.gradient(lambda w: fn(w, x, y), ws)
        assert grad.abs().max() < 1e-12


@pytest.mark.parametrize("n_hidden", [3, 4, 5])
def test_t3_hess_blockdiag_for_deep_nets(n_hidden):
    """T3-hess: H_F* = blockdiag(0, ..., -Syy (x) (I + B B^T)) and H_L = 0 for H >= 3 (autodiff, 1e-10)."""
    x, y = data(3, 3, seed=10 + n_hidden)
    widths = [3] + [4] * n_hidden + [3]
    ws = zero_rank.other_saddle(widths, seed=n_hidden)
    h_auto = energy_hess(ws, x, y)
    expected = t3_hessian_by_index(ws, y)
    assert np.abs(h_auto - expected).max() < 1e-10
    assert np.abs(zero_rank.energy_hessian(ws, x, y).numpy() - expected).max() < 1e-10
    assert np.abs(loss_hess(ws, x, y)).max() < 1e-12
    assert np.abs(zero_rank.loss_hessian(ws, x, y).numpy()).max() == 0
    assert zero_rank.cross_blocks_vanish(ws, x, y)


def test_t3_hess_finite_differences_of_numpy_energy():
    """The explicit Hessian against central differences of Eq. 5 written in numpy (h = 1e-4, < 1e-6)."""
    x, y = data(3, 2, seed=5)
    widths = [3, 3, 4, 2]
    ws = family_point(widths, 0, seed=2)  # H = 2, W_1 = 0, W_2 random: cross blocks present
    theta = np.concatenate([w.numpy().ravel() for w in ws])
    fd = fd_hessian(lambda v: eq5_ref(v, x.numpy(), y.numpy()), widths, at=theta, h=1e-4)
    assert np.abs(zero_rank.energy_hessian(ws, x, y).numpy() - fd).max() < 1e-6


@pytest.mark.parametrize("widths,kind", [([5, 4, 4, 4, 3], 0), ([5, 4, 4, 4, 3], 1), ([5, 4, 4, 4, 3], 2),
                                         ([5, 4, 4, 3], 0), ([5, 4, 4, 3], 1), ([5, 6, 3], 0),
                                         ([5, 4, 4, 3], "projector"), ([6, 5, 4, 4, 2], "projector")])
def test_explicit_hessians_on_the_whole_family(widths, kind):
    """Explicit H_F* and H_L against autodiff at random family points, cross blocks included (1e-10)."""
    x, y = data(widths[0], widths[-1], seed=7)
    ws = family_point(widths, kind, seed=11)
    assert zero_rank.in_family(ws, atol=1e-12)
    h_auto = energy_hess(ws, x, y)
    scale = max(1.0, np.abs(h_auto).max())
    assert np.abs(zero_rank.energy_hessian(ws, x, y).numpy() - h_auto).max() < 1e-10 * scale
    assert np.abs(zero_rank.loss_hessian(ws, x, y).numpy() - loss_hess(ws, x, y)).max() < 1e-10 * scale


@pytest.mark.parametrize("widths,kind", [([5, 4, 4, 4, 3], 1), ([5, 4, 4, 3], 0), ([6, 5, 4, 4, 2], "projector")])
def test_t3_min_bound_holds_everywhere_on_the_family(widths, kind):
    """T3-min: lambda_min(H_F*) <= -lambda_max(Syy) lambda_max(A) < 0 (numpy eigvalsh of autodiff)."""
    x, y = data(widths[0], widths[-1], seed=8)
    ws = family_point(widths, kind, seed=12)
    lam_min = np.linalg.eigvalsh(energy_hess(ws, x, y))[0]
    yn = y.numpy()
    a = rescaling_ref([w.numpy() for w in ws[:-1]])
    bound = -np.linalg.eigvalsh(yn.T @ yn / len(yn))[-1] * np.linalg.eigvalsh(a)[-1]
    assert bound < 0
    assert lam_min <= bound + 1e-10
    assert zero_rank.lambda_min_bound(ws, y) == pytest.approx(bound, rel=1e-12)


@pytest.mark.parametrize("n_hidden", [3, 4])
def test_t3_min_equality_and_spectrum(n_hidden):
    """For H >= 3 at the experiments' point: spectrum = -lambda_i(Syy) mu_j(I + B B^T) and zeros,
    lambda_min equals the bound (1e-10)."""
    x, y = data(3, 3, seed=20 + n_hidden)
    ws = zero_rank.other_saddle([3] + [4] * n_hidden + [3], seed=1)
    eig = np.linalg.eigvalsh(energy_hess(ws, x, y))
    yn, b = y.numpy(), ws[-2].numpy()
    lam = np.linalg.eigvalsh(yn.T @ yn / len(yn))
    mu = np.linalg.eigvalsh(np.eye(4) + b @ b.T)
    expected = np.sort(np.concatenate([-np.outer(lam, mu).ravel(), np.zeros(eig.size - 12)]))
    assert np.abs(eig - expected).max() < 1e-10
    assert np.abs(zero_rank.energy_spectrum(ws, x, y).numpy() - expected).max() < 1e-10
    assert abs(eig[0] - zero_rank.lambda_min_bound(ws, y)) < 1e-10


def test_negative_count_with_rank_deficient_targets():
    """#negative eigenvalues = rank(Syy) n_{L-1}: one-hot targets using 3 of 5 classes give rank 3."""
    gen = torch.Generator().manual_seed(4)
    x = rand(gen, 30, 4)
    labels = torch.tensor([0, 2, 4] * 10)
    y = torch.nn.functional.one_hot(labels, 5).to(F64)
    ws = zero_rank.other_saddle([4, 3, 3, 6, 5], seed=2)
    eig = np.linalg.eigvalsh(energy_hess(ws, x, y))
    assert int((eig < -1e-8).sum()) == 3 * 6
    assert zero_rank.expected_negative_count(ws, y) == 18


def test_h2_loss_hessian_is_not_zero():
    """For H = 2 the cross term -tr(dW_3 B dW_1 Sxy) survives: H_L != 0, and the product formula is refused."""
    x, y = data(3, 3, seed=2)
    x = x + 1.0  # Sxy far from 0
    ws = zero_rank.other_saddle([3, 4, 4, 3], seed=0)
    h_loss = loss_hess(ws, x, y)
    assert np.abs(h_loss).max() > 1e-2
    assert np.linalg.eigvalsh(h_loss)[0] < -1e-2  # strict for the loss as well
    assert np.abs(zero_rank.loss_hessian(ws, x, y).numpy() - h_loss).max() < 1e-12
    assert not zero_rank.cross_blocks_vanish(ws, x, y)
    with pytest.raises(ValueError, match="cross blocks"):
        zero_rank.energy_spectrum(ws, x, y)


# ------------------------------------------------------------------------------------------------
# numerics


@pytest.mark.parametrize("n_steps", [0, 1, 5, 50])
def test_unrolled_energy_linear_equals_the_euler_loop(n_steps):
    x, y = data(3, 2, seed=3)
    gen = torch.Generator().manual_seed(9)
    ws = [rand(gen, 4, 3, scale=0.5), rand(gen, 5, 4, scale=0.5), rand(gen, 2, 5, scale=0.5)]
    closed = pc.unrolled_energy_linear(ws, x, y, n_steps)
    loop = pc.unrolled_energy(ws, x, y, n_steps)
    assert abs(closed.item() - loop.item()) < 1e-13 * max(1.0, loop.item())
    init = [rand(gen, 24, 4), rand(gen, 24, 5)]
    assert abs(pc.unrolled_energy_linear(ws, x, y, n_steps, init=init).item()
               - pc.unrolled_energy(ws, x, y, n_steps, init=init).item()) < 1e-12


def test_unrolled_hessian_equals_the_euler_loop_and_converges():
    """Hessian of the closed-form unrolled energy = Hessian of the T-step loop (1e-12) at the saddle,
    and it approaches the explicit H_F* as T grows (the rate is set by lambda_min of the activity Hessian)."""
    x, y = data(2, 2, n=16, seed=6)
    ws = zero_rank.other_saddle([2, 3, 3, 3, 2], seed=0)
    h_loop = hessian.hessian(lambda w: pc.unrolled_energy(w, x, y, 10), ws)
    h_closed = hessian.hessian(lambda w: pc.unrolled_energy_linear(w, x, y, 10), ws)
    assert (h_loop - h_closed).abs().max() < 1e-12
    explicit = zero_rank.energy_hessian(ws, x, y)
    errors = [(hessian.hessian(lambda w: pc.unrolled_energy_linear(w, x, y, t), ws) - explicit).abs().max().item()
              for t in (20, 100, 400)]
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 1e-8


@pytest.mark.parametrize("objective", ["energy", "unrolled", "loss"])
def test_hessian_through_the_batch_equals_the_direct_hessian(objective):
    """N < d_0: the Hessian from (W_1 x^T, W_2, ...) coordinates and its spectrum equal the direct
    dense Hessian and numpy eigvalsh (1e-10)."""
    gen = torch.Generator().manual_seed(2)
    x, y = rand(gen, 8, 30), rand(gen, 8, 3)
    ws = [w + 0.3 * rand(gen, *w.shape) for w in zero_rank.other_saddle([30, 4, 3, 4, 3], seed=1)]
    fn = {"energy": lambda w, xs: dln.equilibrated_energy(w, xs, y),
          "unrolled": lambda w, xs: pc.unrolled_energy_linear(w, xs, y, 7),
          "loss": lambda w, xs: dln.mse_loss(w, xs, y)}[objective]
    h, eig = zero_rank.hessian_and_spectrum(fn, ws, x)
    direct = hessian.hessian(lambda w: fn(w, x), ws).numpy()
    assert h.shape == direct.shape == (eig.numel(), eig.numel())
    assert np.abs(h.numpy() - direct).max() < 1e-10
    assert np.abs(eig.numpy() - np.linalg.eigvalsh(direct)).max() < 1e-10
    none, eig2 = zero_rank.hessian_and_spectrum(fn, ws, x, full=False)
    assert none is None and torch.equal(eig, eig2)


def test_hessian_and_spectrum_direct_when_batch_is_large():
    x, y = data(3, 2, n=10, seed=1)
    ws = zero_rank.other_saddle([3, 4, 4, 4, 2])
    h, eig = zero_rank.hessian_and_spectrum(lambda w, xs: dln.equilibrated_energy(w, xs, y), ws, x)
    expected = t3_hessian_by_index(ws, y)  # the closed form, not the same autodiff call
    assert np.abs(h.numpy() - expected).max() < 1e-10
    assert np.abs(eig.numpy() - np.linalg.eigvalsh(expected)).max() < 1e-10
