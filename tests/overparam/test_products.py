"""Products, Eq. (4) gradients and the public boundary's input checks.

Expectations: explicit ``multi_dot`` products, torch autograd through the explicit composition,
central differences of the cost's definition (SPEC test 1), and the App. A.1 identity checked
against the reference gradient (test 2).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import overparam as op
from overparam_reference import (
    TORCH_COSTS, autograd_gradient, explicit_product, fd_gradient, random_weights, torch_value,
)

DEPTHS = [2, 3, 4]


def widths(depth, n=2, k=3):
    return [n] + [k] * (depth - 1) + [n]


@pytest.mark.parametrize("depth", DEPTHS)
def test_product_is_the_explicit_product_and_keeps_the_input_kind(depth):
    ws = random_weights(widths(depth), seed=depth)
    expected = explicit_product(ws)
    got = op.product(ws)
    assert isinstance(got, np.ndarray) and got.shape == (2, 2)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)
    got_t = op.product([torch.from_numpy(w) for w in ws])
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float64
    np.testing.assert_allclose(got_t.numpy(), expected, rtol=0, atol=1e-14)


def test_float32_and_integer_inputs_are_computed_in_float64():
    got = op.product([torch.ones(3, 2, dtype=torch.float32), torch.ones(2, 3, dtype=torch.float32)])
    assert got.dtype == torch.float64
    np.testing.assert_array_equal(got.numpy(), 3 * np.ones((2, 2)))
    assert op.product([np.eye(2, dtype=int), 2 * np.eye(2, dtype=int)]).dtype == np.float64


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("name", list(TORCH_COSTS))
def test_grad_formula_matches_finite_differences_and_autograd(depth, name):
    """SPEC test 1: Eq. (4) against central differences (h = 1e-6) to 1e-6, and against autograd
    through the explicit product to 1e-12 (relative)."""
    ws = random_weights(widths(depth), seed=10 + depth)
    cost = op.matrix_costs()[name]
    got = op.gradient(cost, ws)
    fd = fd_gradient(lambda w: torch_value(TORCH_COSTS[name], w), ws, h=1e-6)
    auto = autograd_gradient(TORCH_COSTS[name], ws)
    for g, f, a in zip(got, fd, auto):
        assert np.max(np.abs(g - f)) < 1e-6
        assert np.max(np.abs(g - a)) < 1e-12 * (1 + np.max(np.abs(a)))


@pytest.mark.parametrize("depth", DEPTHS)
def test_finite_difference_gradient_matches_autograd_and_leaves_the_input_alone(depth):
    """``op.finite_difference_gradient`` (perturbs entries in place) against torch autograd through
    the explicit product to the central-difference error (1e-6), and against the reference's
    copy-per-entry differences to round-off over ``2h``; the caller's weights come back unchanged."""
    ws = random_weights(widths(depth), seed=20 + depth)
    before = [w.copy() for w in ws]
    got = op.finite_difference_gradient(op.matrix_costs()["quartic"], ws, h=1e-6)
    auto = autograd_gradient(TORCH_COSTS["quartic"], ws)
    fd = fd_gradient(lambda w: torch_value(TORCH_COSTS["quartic"], w), ws, h=1e-6)
    for g, a, f in zip(got, auto, fd):
        assert g.shape == a.shape
        assert np.max(np.abs(g - a)) < 1e-6
        assert np.max(np.abs(g - f)) < 1e-8
    for w, b in zip(ws, before):
        np.testing.assert_array_equal(w, b)


def test_gradient_of_a_plain_torch_callable_uses_autograd_and_returns_tensors():
    ws = [torch.from_numpy(w) for w in random_weights(widths(3), seed=3)]
    got = op.gradient(TORCH_COSTS["quartic"], ws)
    assert all(isinstance(g, torch.Tensor) and g.dtype == torch.float64 for g in got)
    auto = autograd_gradient(TORCH_COSTS["quartic"], [w.numpy() for w in ws])
    for g, a in zip(got, auto):
        np.testing.assert_allclose(g.numpy(), a, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("depth", DEPTHS)
def test_balance_identity_holds_at_random_points(depth):
    """SPEC test 2: ``G_i W_iᵀ = W_{i+1}ᵀ G_{i+1}`` for the reference gradient, to 1e-10 relative."""
    ws = random_weights(widths(depth), seed=20 + depth)
    for name in TORCH_COSTS:
        grads = autograd_gradient(TORCH_COSTS[name], ws)
        scale = max(np.abs(g).max() for g in grads) * max(np.abs(w).max() for w in ws)
        for r in op.balance_residual(ws, grads):
            assert np.max(np.abs(r)) < 1e-10 * scale


def test_objective_is_the_cost_of_the_product():
    ws = random_weights(widths(3), seed=5)
    for name, cost in op.matrix_costs().items():
        assert op.objective(cost, ws) == pytest.approx(torch_value(TORCH_COSTS[name], ws), rel=1e-13, abs=1e-14)


# ------------------------------------------------------------------------------------------------
# input checks at the public boundary


def test_single_factor_is_refused_with_the_expected_depth():
    with pytest.raises(ValueError, match="at least 2 factors"):
        op.product([np.eye(2)])
    with pytest.raises(ValueError, match="at least 2 factors"):
        op.imbalance([np.eye(2)])
    with pytest.raises(ValueError, match="at least 2 factors"):
        op.gradient(TORCH_COSTS["quadratic"], [np.eye(2)])


def test_incompatible_shapes_name_both_shapes():
    with pytest.raises(ValueError, match=r"incompatible shapes: W_2 has shape \(2, 4\).*\(3, 2\)"):
        op.product([np.ones((3, 2)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="incompatible shapes"):
        op.imbalance([np.ones((3, 2)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="2-D"):
        op.product([np.ones(3), np.ones((2, 3))])


def test_weights_must_be_a_list_of_numeric_arrays():
    with pytest.raises(TypeError, match="list"):
        op.product(np.ones((2, 2)))
    with pytest.raises(TypeError, match="real numbers"):
        op.product([np.array([["a", "b"]]), np.ones((2, 1))])
    with pytest.raises(ValueError, match="finite"):
        op.product([np.full((2, 2), np.nan), np.eye(2)])


def test_a_cost_that_is_not_scalar_is_refused():
    ws = random_weights(widths(2))
    with pytest.raises(ValueError, match="scalar"):
        op.gradient(lambda w: w, ws)
    with pytest.raises(TypeError, match="scalar torch tensor"):
        op.gradient(lambda w: 1.0, ws)
    with pytest.raises(TypeError, match="callable"):
        op.gradient("quadratic", ws)
    with pytest.raises(ValueError, match="scalar"):
        op.flow(lambda w: w.sum(dim=0), ws, 1.0)


def test_a_cost_on_the_wrong_shape_is_refused():
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        op.gradient(op.matrix_costs()["quadratic"], [np.ones((3, 1)), np.ones((1, 3))])
