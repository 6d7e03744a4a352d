"""SPEC test 13 (ODE equilibria in closed form) and the gradient-descent map of the bridge chapter."""

import numpy as np
import pytest
import torch

from plrnn import gdmap, odes


def test_ode_equilibria_closed_forms():
    duf = odes.duffing()
    ev = np.sort(np.linalg.eigvals(duf.jacobian(np.zeros(2))).real)
    assert np.max(np.abs(ev - np.sort([(-0.5 - np.sqrt(4.25)) / 2, (-0.5 + np.sqrt(4.25)) / 2]))) < 1e-12
    assert np.max(np.abs(duf.f(np.array([np.sqrt(10.0), 0.0])))) < 1e-12
    lor = odes.lorenz63()
    s, r, b = 10.0, 28.0, 8.0 / 3.0
    ev = np.sort(np.linalg.eigvals(lor.jacobian(np.zeros(3))).real)
    disc = np.sqrt((s + 1) ** 2 + 4 * s * (r - 1))
    assert np.max(np.abs(ev - np.sort([(-(s + 1) - disc) / 2, (-(s + 1) + disc) / 2, -b]))) < 1e-12
    dec = odes.decision()
    sad = odes.equilibrium(dec, [2.9, 2.9, 2.6])
    assert abs(sad[0] - sad[1]) < 1e-10
    vals, vecs = np.linalg.eig(dec.jacobian(sad))
    i = int(np.argmax(vals.real))
    assert vals[i].real > 0 and np.sum(vals.real > 0) == 1
    v = np.real(vecs[:, i]) / np.linalg.norm(np.real(vecs[:, i]))
    assert np.max(np.abs(np.abs(v) - [1 / np.sqrt(2), 1 / np.sqrt(2), 0.0])) < 1e-8 and v[0] * v[1] < 0


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
    for branch in gdmap.stable_curve(loss, [0.0, 0.0], n_fund=20, n_back=40):
        assert np.max(np.abs(branch[:, 0] + branch[:, 1])) < 1e-12  # the loss's stable set: the antidiagonal
    with pytest.raises(ValueError, match="unknown objective"):
        gdmap.GradientMap("mse", eta, x, y)
