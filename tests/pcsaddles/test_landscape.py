"""Tests of pcsaddles.landscape: vectorised landscapes against plain loops over grid points,
closed-form chain losses, Theorem 1 with an explicit inverse, and a matrix with known eigenvectors."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import pytest  # noqa: E402
import torch  # noqa: E402

from pcsaddles import data, landscape, pc  # noqa: E402
from pcsaddles_training_reference import F64, batch, equilibrated_ref, net, objective_ref  # noqa: E402


def test_chain_landscapes_equal_pointwise_evaluation():
    toy = data.toy_gaussian(64, 1, seed=3)
    x, y = toy.x, toy.y
    center = [torch.zeros(1, 1, dtype=F64), torch.zeros(1, 1, dtype=F64)]
    coords = torch.linspace(-1, 1, 7, dtype=F64)
    dirs = landscape.axis_directions(center)
    loss = landscape.landscape(landscape.objective("loss", x, y), center, dirs, coords)
    energy = landscape.landscape(landscape.objective("energy", x, y, n_steps=20), center, dirs, coords)
    fstar = landscape.landscape(landscape.objective("equilibrated", x, y), center, dirs, coords)
    assert loss.shape == energy.shape == fstar.shape == (7, 7)
    for i, j in [(0, 0), (1, 5), (3, 3), (6, 2)]:
        w1, w2 = float(coords[i]), float(coords[j])
        closed = 0.5 * float(((y - w2 * w1 * x) ** 2).mean())  # chain loss in closed form
        assert float(loss[i, j]) == pytest.approx(closed, abs=1e-14)
        assert float(fstar[i, j]) == pytest.approx(closed / (1 + w2**2), abs=1e-14)  # F* = L / s
        # energy after 20 Euler steps, a plain loop written from Eq. 3 (dt 0.1, feed-forward init)
        z = w1 * x
        for _ in range(20):
            z = z - 0.1 * ((z - w1 * x) - w2 * (y - w2 * z))
        e_ref = 0.5 * float(((z - w1 * x) ** 2 + (y - w2 * z) ** 2).mean())
        assert float(energy[i, j]) == pytest.approx(e_ref, abs=1e-14)


def test_volume_and_projection_landscapes_equal_pointwise_evaluation():
    toy = data.toy_gaussian(32, 1, seed=0)
    center = [torch.zeros(1, 1, dtype=F64)] * 3
    coords = [torch.linspace(-2, 2, 5, dtype=F64), torch.linspace(-1, 1, 4, dtype=F64), torch.linspace(0, 1, 3, dtype=F64)]
    vol = landscape.landscape(landscape.objective("energy", toy.x, toy.y, n_steps=7), center, landscape.axis_directions(center),
                          coords, chunk_size=11)
    assert vol.shape == (5, 4, 3)
    for idx in [(0, 0, 0), (4, 3, 2), (2, 1, 1)]:
        ws = [coords[k][idx[k]].reshape(1, 1) for k in range(3)]
        assert float(vol[idx]) == pytest.approx(float(pc.unrolled_energy(ws, toy.x, toy.y, 7)), abs=1e-14)
    # a wide network along two arbitrary directions around a non-zero centre
    x, y = batch(3, 2, 16)
    theta = net([3, 4, 2], seed=1)
    v1, v2 = net([3, 4, 2], seed=2), net([3, 4, 2], seed=3)
    ab = torch.linspace(-0.5, 0.5, 3, dtype=F64)
    for name, ref in (("loss", lambda w: objective_ref("mse", w, x, y)), ("equilibrated", lambda w: equilibrated_ref(w, x, y))):
        surf = landscape.landscape(landscape.objective(name, x, y, report="mse"), theta, [v1, v2], ab)
        for i, j in [(0, 2), (1, 1), (2, 0)]:
            ws = [t + ab[i] * a + ab[j] * b for t, a, b in zip(theta, v1, v2)]
            assert float(surf[i, j]) == pytest.approx(float(ref(ws)), abs=1e-13)


def test_extreme_directions_of_a_known_matrix():
    q, _ = torch.linalg.qr(torch.randn(6, 6, generator=torch.Generator().manual_seed(0), dtype=F64))
    h = q @ torch.diag(torch.tensor([-3.0, -1, 0, 0.5, 1, 2], dtype=F64)) @ q.T
    vmin, vmax, lmin, lmax = landscape.extreme_directions(h, [(2, 1), (1, 2), (2, 1)])
    flat = [torch.cat([w.reshape(-1) for w in v]) for v in (vmin, vmax)]
    assert lmin == pytest.approx(-3.0, abs=1e-12) and lmax == pytest.approx(2.0, abs=1e-12)
    assert float((h @ flat[0] + 3.0 * flat[0]).abs().max()) < 1e-12 and float((h @ flat[1] - 2.0 * flat[1]).abs().max()) < 1e-12
    assert [tuple(w.shape) for w in vmin] == [(2, 1), (1, 2), (2, 1)]


def test_landscape_input_errors():
    center = net([2, 3, 1])
    with pytest.raises(ValueError, match="shapes"):
        landscape.landscape(lambda w: w[0].sum(), center, [net([2, 4, 1])], torch.zeros(2))
    with pytest.raises(ValueError, match="one coordinate vector per direction"):
        landscape.landscape(lambda w: w[0].sum(), center, [center, center], [torch.zeros(2)])
    with pytest.raises(ValueError, match="linear"):
        landscape.objective("equilibrated", *batch(2, 1, 4), activation="tanh")
