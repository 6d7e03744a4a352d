"""Tests of pcsaddles.dln: products, loss, rescaling S and the equilibrated energy (Theorem 1).

Every expectation is computed independently in numpy: explicit matrix products, the loss from its
definition (Eq. 1, 1/(2N) convention), Eq. 5 with ``numpy.linalg.inv``, and the equilibrium of the
energy from a dense block-tridiagonal linear solve of dF/dz = 0, not from the package's
closed form. Checks of the reproduction covered here: T1-exact, T1-chain, T1-bound.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pcsaddles import dln
from reference import (
    dense_equilibrium, energy_ref, eq5_ref, fd_grad, loss_ref, prod, random_data, random_net, rescaling_ref, tt,
)


# ------------------------------------------------------------------------------------------------
# products, forward pass, loss


@pytest.mark.parametrize("widths", [[5, 3], [5, 6, 3], [5, 6, 4, 7, 3]])
def test_end_to_end_is_the_product_of_all_layers(widths):
    ws = random_net(widths)
    expected = np.linalg.multi_dot(ws[::-1]) if len(ws) > 1 else ws[0]
    got = dln.end_to_end(tt(ws))
    assert got.shape == (widths[-1], widths[0])
    np.testing.assert_allclose(got.numpy(), expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("activation", ["linear", "tanh", "relu"])
def test_forward_applies_activation_to_hidden_layers_only(activation):
    f = {"linear": lambda a: a, "tanh": np.tanh, "relu": lambda a: np.maximum(a, 0)}[activation]
    widths = [4, 5, 6, 3]
    ws = random_net(widths)
    x, _ = random_data(4, 3, 7)
    z, expected = x, []
    for i, w in enumerate(ws):
        a = z @ w.T
        z = a if i == len(ws) - 1 else f(a)
        expected.append(z)
    got = dln.forward(tt(ws), torch.tensor(x), activation)
    assert len(got) == len(ws)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g.numpy(), e, rtol=0, atol=1e-12)
    # the output layer is linear even for a non-linear network: negative outputs survive relu
    assert (expected[-1] < 0).any()


@pytest.mark.parametrize("widths", [[5, 3], [5, 6, 3], [5, 6, 6, 6, 6, 3]])
def test_mse_loss_is_the_paper_convention(widths):
    ws = random_net(widths)
    x, y = random_data(widths[0], widths[-1], 40)
    got = dln.mse_loss(tt(ws), torch.tensor(x), torch.tensor(y))
    # Eq. 1: 1/(2N) sum_i ||y_i - W_{L:1} x_i||^2, written as an explicit loop over examples
    w_end = prod(ws, len(ws), 1)
    expected = sum(0.5 * np.sum((y[i] - w_end @ x[i]) ** 2) for i in range(40)) / 40
    assert abs(float(got) - expected) < 1e-12 * max(1.0, expected)


def test_mse_loss_nonlinear_uses_the_nonlinear_output():
    ws = random_net([3, 4, 2])
    x, y = random_data(3, 2, 9)
    out = np.tanh(x @ ws[0].T) @ ws[1].T
    expected = 0.5 * np.sum((y - out) ** 2) / 9
    got = dln.mse_loss(tt(ws), torch.tensor(x), torch.tensor(y), activation="tanh")
    assert abs(float(got) - expected) < 1e-12


# ------------------------------------------------------------------------------------------------
# rescaling S and Theorem 1


@pytest.mark.parametrize("widths", [[5, 3], [5, 6, 3], [5, 6, 6, 3], [5, 6, 6, 6, 6, 3], [2, 7, 4]])
def test_rescaling_matches_explicit_products(widths):
    ws = random_net(widths)
    s = dln.rescaling(tt(ws)).numpy()
    np.testing.assert_allclose(s, rescaling_ref(ws), rtol=0, atol=1e-10)
    # S >= I: symmetric with every eigenvalue at least 1
    np.testing.assert_allclose(s, s.T, rtol=0, atol=1e-12)
    assert np.linalg.eigvalsh(s).min() >= 1 - 1e-12


def test_rescaling_of_one_layer_network_is_identity():
    np.testing.assert_array_equal(dln.rescaling(tt(random_net([4, 3]))).numpy(), np.eye(3))


def test_dense_equilibrium_reference_is_a_critical_point():
    """Sanity check of the test's own reference: the gradient of Eq. 2 vanishes at its solution."""
    ws = random_net([5, 6, 6, 3], seed=3)
    x, y = random_data(5, 3, 10)
    zs = dense_equilibrium(ws, x, y)
    layers = [x, *zs, y]
    errors = [layers[i + 1] - layers[i] @ w.T for i, w in enumerate(ws)]
    for l in range(len(zs)):
        grad = errors[l] - errors[l + 1] @ ws[l + 1]
        assert np.abs(grad).max() < 1e-12


@pytest.mark.parametrize("hidden_layers", [1, 2, 4])
def test_theorem1_exact(hidden_layers):
    """T1-exact: F at the linear-solve equilibrium equals Eq. 5 (abs 1e-10); so does dln's F*."""
    widths = [5] + [6] * hidden_layers + [3]
    ws = random_net(widths, std=0.7, seed=hidden_layers)
    x, y = random_data(5, 3, 40, seed=10 + hidden_layers)
    f_at_equilibrium = energy_ref(ws, dense_equilibrium(ws, x, y), x, y)
    eq5 = eq5_ref(ws, x, y)
    assert abs(f_at_equilibrium - eq5) < 1e-10  # Theorem 1 itself, in numpy
    got = float(dln.equilibrated_energy(tt(ws), torch.tensor(x), torch.tensor(y)))
    assert abs(got - eq5) < 1e-10
    assert abs(got - f_at_equilibrium) < 1e-10


def test_equilibrated_energy_of_one_layer_network_is_the_loss():
    ws = random_net([4, 3])
    x, y = random_data(4, 3, 11)
    got = float(dln.equilibrated_energy(tt(ws), torch.tensor(x), torch.tensor(y)))
    assert abs(got - loss_ref(ws, x, y)) < 1e-12


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_theorem1_chain_equals_loss_over_s(depth):
    """T1-chain: for a linear chain F* = L / s with s = 1 + sum_{l=2}^L w_{L:l}^2 (rel 1e-12)."""
    rng = np.random.default_rng(depth)
    w = rng.normal(0, 0.9, size=depth)
    x = rng.standard_normal((25, 1))
    y = rng.standard_normal((25, 1))
    s = 1 + sum(np.prod(w[l - 1 :]) ** 2 for l in range(2, depth + 1))
    loss = 0.5 * np.mean((y[:, 0] - np.prod(w) * x[:, 0]) ** 2)
    ws = [torch.tensor([[v]], dtype=torch.float64) for v in w]
    got_loss = float(dln.mse_loss(ws, torch.tensor(x), torch.tensor(y)))
    got_energy = float(dln.equilibrated_energy(ws, torch.tensor(x), torch.tensor(y)))
    assert abs(got_loss - loss) <= 1e-12 * loss
    assert abs(got_energy - loss / s) <= 1e-12 * (loss / s)


@pytest.mark.parametrize("seed", range(8))
def test_theorem1_bound_energy_below_loss(seed):
    """T1-bound: S >= I implies F* <= L for any weights; strict when some W_{L:l} r != 0."""
    rng = np.random.default_rng(100 + seed)
    hidden = int(rng.integers(1, 4))
    widths = [4] + list(rng.integers(1, 6, size=hidden)) + [3]
    ws = random_net([int(v) for v in widths], std=float(rng.uniform(0.1, 1.5)), seed=seed)
    x, y = random_data(4, 3, 20, seed=200 + seed)
    t_ws, tx, ty = tt(ws), torch.tensor(x), torch.tensor(y)
    energy = float(dln.equilibrated_energy(t_ws, tx, ty))
    loss = float(dln.mse_loss(t_ws, tx, ty))
    assert energy <= loss + 1e-14
    assert energy < loss  # random weights: S != I, so the bound is strict
    assert energy > 0


def test_float32_keeps_dtype_and_agrees_with_float64():
    ws = random_net([5, 6, 6, 3])
    x, y = random_data(5, 3, 40)
    w32, x32, y32 = tt(ws, torch.float32), torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    for fn, ref in ((dln.equilibrated_energy, eq5_ref(ws, x, y)), (dln.mse_loss, loss_ref(ws, x, y))):
        out = fn(w32, x32, y32)
        assert out.dtype == torch.float32
        assert abs(float(out) - ref) < 1e-5 * ref
    assert dln.rescaling(w32).dtype == torch.float32


def test_equilibrated_energy_is_differentiable():
    """Its autograd gradient agrees with central finite differences of numpy's Eq. 5."""
    ws = random_net([3, 4, 4, 2], seed=7)
    x, y = random_data(3, 2, 15)
    t_ws = [w.requires_grad_(True) for w in tt(ws)]
    dln.equilibrated_energy(t_ws, torch.tensor(x), torch.tensor(y)).backward()
    for w, fd in zip(t_ws, fd_grad(lambda v: eq5_ref(v, x, y), ws), strict=True):
        np.testing.assert_allclose(w.grad.numpy(), fd, rtol=0, atol=1e-8)


# ------------------------------------------------------------------------------------------------
# bad input


def test_bad_input_messages():
    ws = tt(random_net([5, 6, 3]))
    x = torch.zeros(4, 5, dtype=torch.float64)
    y = torch.zeros(4, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"W2 has shape \(3, 7\).*must have shape \(d_2, 6\)"):
        dln.end_to_end([ws[0], torch.zeros(3, 7, dtype=torch.float64)])
    with pytest.raises(ValueError, match=r"x must have shape \(N, 5\).*received shape \(4, 4\)"):
        dln.mse_loss(ws, torch.zeros(4, 4, dtype=torch.float64), y)
    with pytest.raises(ValueError, match=r"y must have shape \(N, 3\).*received shape \(4, 2\)"):
        dln.equilibrated_energy(ws, x, torch.zeros(4, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"same number of examples.*N=4 and N=5"):
        dln.mse_loss(ws, x, torch.zeros(5, 3, dtype=torch.float64))
    with pytest.raises(TypeError, match=r"x has dtype torch.float32 but the weights are torch.float64"):
        dln.mse_loss(ws, x.float(), y)
    with pytest.raises(TypeError, match=r"all weights must share one dtype"):
        dln.rescaling([ws[0], ws[1].float()])
    with pytest.raises(TypeError, match=r"W1 must be float32 or float64; received torch.int64"):
        dln.end_to_end([torch.zeros(6, 5, dtype=torch.int64), ws[1]])
    with pytest.raises(TypeError, match=r"W1 must be a torch.Tensor.*received ndarray"):
        dln.end_to_end([np.zeros((6, 5)), ws[1]])
    with pytest.raises(TypeError, match=r"weights must be a list.*received Tensor"):
        dln.end_to_end(ws[0])
    with pytest.raises(ValueError, match=r"W1 must be 2-D.*received shape \(6,\)"):
        dln.end_to_end([torch.zeros(6, dtype=torch.float64)])
    with pytest.raises(ValueError, match=r"empty list"):
        dln.rescaling([])
    with pytest.raises(ValueError, match=r"unknown activation 'sigmoid'; expected one of \['linear', 'tanh', 'relu'\]"):
        dln.forward(ws, x, "sigmoid")
    with pytest.raises(ValueError, match=r"batch is empty"):
        dln.mse_loss(ws, x[:0], y[:0])
