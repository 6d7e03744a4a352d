"""The gradient-descent map of the bridge chapter: closed-form chain gradients against autograd,
multipliers at the saddle, the inverse step, and the loss's stable set (the antidiagonal)."""

import numpy as np
import pytest
import torch

from plrnn import gdmap


@pytest.mark.parametrize("objective", ["loss", "energy"])
@pytest.mark.parametrize("L", [2, 3])
def test_chain_gradients_match_autograd(objective, L):
    rng = np.random.default_rng(L)
    x, y = rng.normal(size=5), rng.normal(size=5)
    w = rng.normal(size=(6, L))
    wt = torch.tensor(w, requires_grad=True)
    p = wt.prod(1)
    xt, yt = torch.tensor(x), torch.tensor(y)
    q = ((yt[None] - p[:, None] * xt[None]) ** 2).mean(1)
    if objective == "loss":
        f = 0.5 * q
    else:
        suffix = torch.stack([wt[:, l:].prod(1) for l in range(1, L)], 1)
        f = 0.5 * q / (1 + (suffix ** 2).sum(1))
    (g,) = torch.autograd.grad(f.sum(), wt)
    assert np.max(np.abs(gdmap.chain_value(objective, w, x, y) - f.detach().numpy())) < 1e-13
    assert np.max(np.abs(gdmap.chain_grad(objective, w, x, y) - g.numpy())) < 1e-12


def test_gradient_map_saddle_multipliers_and_stable_curve():
    x = y = np.array([1.0])
    eta = 0.1
    loss, energy = gdmap.GradientMap("loss", eta, x, y), gdmap.GradientMap("energy", eta, x, y)
    assert np.allclose(np.sort(np.linalg.eigvals(loss.jacobian([0, 0])).real), [1 - eta, 1 + eta], atol=1e-9)
    phi = (1 + np.sqrt(5)) / 2
    assert np.allclose(np.sort(np.linalg.eigvals(energy.jacobian([0, 0])).real), [1 - eta / phi, 1 + eta * phi], atol=1e-9)
    w = np.array([[0.3, -0.7], [1.2, 0.4]])
    assert np.max(np.abs(loss.step(loss.inverse(w)) - w)) < 1e-12
    curve = gdmap.stable_curve(loss, [0.0, 0.0], n_fund=10, n_back=120)  # reaches |w| ~ 5
    for branch in curve.branches:
        assert np.max(np.abs(branch[:, 0] + branch[:, 1])) < 1e-12  # the loss's stable set: the antidiagonal
    assert curve.distance(np.array([[1.0, -1.0], [1.0, 1.0]]))[0] < 1e-12
    assert abs(curve.distance(np.array([[1.0, 1.0]]))[0] - np.sqrt(2)) < 1e-12
    with pytest.raises(ValueError, match="unknown objective"):
        gdmap.GradientMap("mse", eta, x, y)
