"""Hessians at critical points of ``g`` (SPEC tests 6-8, Lemma 17).

Expectations: the spectra written from the closed forms (``±σ_j(∇f(0))`` each ``k`` times, the
truncated-SVD negatives, chain eigenvalues), with ``∇f(0)`` from the cost's definition by
autograd, and the autodiff Hessian cross-checked by central differences of the reference gradient.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import overparam as op
from overparam_reference import TORCH_COSTS, autograd_gradient, fd_hessian_of_gradient, random_weights


def grad_f_at_zero(torch_cost, shape):
    w = torch.zeros(shape, dtype=torch.float64, requires_grad=True)
    (g,) = torch.autograd.grad(torch_cost(w), w)
    return g.numpy()


@pytest.mark.parametrize("name", ["quadratic", "log-cosh", "cosh"])
def test_origin_spectrum_n2(name):
    """SPEC test 6: at the origin with N = 2 (n = 3, k = 4, random A) the eigenvalues are
    ``±σ_j(∇f(0))``, each k times, to 1e-7."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((3, 3))
    cost = {"quadratic": op.costs.quadratic, "log-cosh": op.costs.log_cosh, "cosh": op.costs.cosh}[name](a)
    ref_cost = {"quadratic": lambda w: 0.5 * ((w - torch.from_numpy(a)) ** 2).sum(),
                "log-cosh": lambda w: torch.log(torch.cosh(w - torch.from_numpy(a))).sum(),
                "cosh": lambda w: torch.cosh(w - torch.from_numpy(a)).sum()}[name]
    k = 4
    sv = np.linalg.svd(grad_f_at_zero(ref_cost, (3, 3)), compute_uv=False)
    expected = np.sort(np.concatenate([np.repeat(sv, k), -np.repeat(sv, k)]))
    zeros = [np.zeros((k, 3)), np.zeros((3, k))]
    eig = np.linalg.eigvalsh(op.objective_hessian(cost, zeros))
    assert eig.size == 2 * k * 3
    np.testing.assert_allclose(eig, expected, rtol=0, atol=1e-7)
    np.testing.assert_allclose(op.origin_spectrum(grad_f_at_zero(ref_cost, (3, 3)), k, 2), expected, atol=1e-12)


def test_autodiff_hessian_agrees_with_finite_differences_of_the_reference_gradient():
    ws = random_weights([2, 3, 3, 2], seed=2, std=0.5)
    shapes = [w.shape for w in ws]
    sizes = [w.size for w in ws]

    def flat_grad(theta):
        parts = np.split(theta, np.cumsum(sizes)[:-1])
        return np.concatenate([g.ravel() for g in autograd_gradient(TORCH_COSTS["quartic"], [p.reshape(s) for p, s in zip(parts, shapes)])])

    fd = fd_hessian_of_gradient(flat_grad, np.concatenate([w.ravel() for w in ws]))
    np.testing.assert_allclose(op.objective_hessian(op.matrix_costs()["quartic"], ws), fd, rtol=0, atol=1e-7)


@pytest.mark.parametrize("depth", [3, 4])
def test_origin_hessian_is_zero_for_depth_3_and_more(depth):
    """SPEC test 6 (``origin_N3_zero``): |H| <= 1e-9 for every cost."""
    zeros = [np.zeros((b, a)) for a, b in zip([2] + [3] * (depth - 1), [3] * (depth - 1) + [2])]
    for cost in op.matrix_costs().values():
        assert np.max(np.abs(op.objective_hessian(cost, zeros))) <= 1e-9
    assert np.all(op.origin_spectrum(np.ones((2, 2)), 3, depth) == 0)


@pytest.mark.parametrize("rank", [0, 1, 2, 3])
def test_truncated_svd_saddles(rank):
    """SPEC test 7: A = U diag(3, 1, 0.5) Vᵀ, n = 3, k = 4; the negative eigenvalues are exactly
    ``{-s_j x (k - r), j > r}`` to 1e-6; the point is critical; r = 3 is a minimum."""
    rng = np.random.default_rng(1)
    u, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    v, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    s = np.array([3.0, 1.0, 0.5])
    a = u @ np.diag(s) @ v.T
    cost = op.costs.quadratic(a)
    point = op.saddles.truncated_svd_point(a, rank, 4)
    ref_cost = lambda w: 0.5 * ((w - torch.from_numpy(a)) ** 2).sum()  # noqa: E731
    assert max(np.abs(g).max() for g in autograd_gradient(ref_cost, point)) < 1e-12
    eig = np.linalg.eigvalsh(op.objective_hessian(cost, point))
    negatives = eig[eig < -1e-9]
    expected = np.sort(-np.repeat(s[rank:], 4 - rank))
    assert negatives.size == expected.size
    np.testing.assert_allclose(negatives, expected, rtol=0, atol=1e-6)
    np.testing.assert_allclose(op.saddles.truncated_svd_negative_eigenvalues(s, rank, 4), expected, atol=1e-15)
    if rank < 3:
        gf = point[1] @ point[0] - a  # ∇f_quad at the product
        m = op.saddles.lemma17_direction(point, gf)
        assert op.saddles.rayleigh_quotient(op.objective_hessian(cost, point), m) == pytest.approx(-s[rank], abs=1e-9)


@pytest.mark.parametrize("point, expected", [
    ((0.7, 0.0, 0.0), (-0.7, 0.0, 0.7)),
    ((0.0, 0.0, 0.5), (-0.5, 0.0, 0.5)),
    ((0.7, 0.5, 0.0, 0.0), (-0.35, 0.0, 0.0, 0.35)),
    ((0.0, 0.0), (-1.0, 1.0)),
    ((0.0, 0.0, 0.0), (0.0, 0.0, 0.0)),
])
def test_chain_two_zero_factors(point, expected):
    """SPEC test 8: f = ½(1 - z)², f'(0) = -1: two zero factors give ``±|f'(0) Π_others w_j|``, to 1e-9."""
    eig = np.linalg.eigvalsh(op.objective_hessian(op.SCALAR_COSTS["(1-z)^2/2"], op.init.chain(point)))
    np.testing.assert_allclose(eig, np.sort(expected), rtol=0, atol=1e-9)


def test_lemma17_refuses_points_where_it_does_not_apply():
    with pytest.raises(ValueError, match="one hidden layer"):
        op.saddles.lemma17_direction([np.zeros((3, 2)), np.zeros((3, 3)), np.zeros((2, 3))], np.ones((2, 2)))
    with pytest.raises(ValueError, match="critical for f"):
        op.saddles.lemma17_direction([np.zeros((3, 2)), np.zeros((2, 3))], np.zeros((2, 2)))
