"""The bridge to Part I (SPEC tests 17-19).

Expectations: ``F*`` and its gradient from the complex-arithmetic reference of Part I's Eq. 5
(complex-step derivatives, exact to round-off), hand-computed chain values, the closed-form
eigenvalues ``(-(1+√5)/2, (√5-1)/2)``, and ``dC_i/dt`` assembled here from the reference gradient.
"""

from __future__ import annotations

import numpy as np
import pytest

import overparam as op
from overparam_reference import complex_energy, complex_step_gradient, random_weights


def test_pc_not_product():
    """SPEC test 17: x = 1, y = 2, product 0.5: F*(1, 0.5) = 0.9, F*(0.5, 1) = 0.5625 (1e-12);
    the loss is 1.125 at both."""
    x, y = np.array([[1.0]]), np.array([[2.0]])
    assert op.pc_bridge.energy(op.init.chain([1.0, 0.5]), x, y) == pytest.approx(0.9, abs=1e-12)
    assert op.pc_bridge.energy(op.init.chain([0.5, 1.0]), x, y) == pytest.approx(0.5625, abs=1e-12)
    for w in ((1.0, 0.5), (0.5, 1.0)):
        assert op.pc_bridge.mse(op.init.chain(w), x, y) == pytest.approx(1.125, abs=1e-12)


def test_pc_origin_spectrum():
    """SPEC test 18: x = y = 1; L = 2: eigenvalues (-(1+√5)/2, (√5-1)/2) to 1e-6; L = 3: min -1."""
    x = y = np.array([[1.0]])
    eig2 = np.linalg.eigvalsh(op.pc_bridge.energy_hessian(op.init.chain([0, 0]), x, y))
    np.testing.assert_allclose(eig2, [-(1 + np.sqrt(5)) / 2, (np.sqrt(5) - 1) / 2], atol=1e-6)
    eig3 = np.linalg.eigvalsh(op.pc_bridge.energy_hessian(op.init.chain([0, 0, 0]), x, y))
    assert eig3.min() == pytest.approx(-1.0, abs=1e-6)
    np.testing.assert_allclose(np.linalg.eigvalsh(op.pc_bridge.mse_hessian(op.init.chain([0, 0, 0]), x, y)), 0, atol=1e-12)


def test_pc_drift_law():
    """SPEC test 19: matrix network (3 -> 4 -> 3 -> 2, B = 5), complex-step gradient of the
    reference ``F*``: ``dC_i/dt = -2 W_{L:i+1}ᵀ S⁻¹ Ψ S⁻¹ W_{L:i+1}`` to 1e-12."""
    rng = np.random.default_rng(3)
    ws = random_weights([3, 4, 3, 2], std=0.6, seed=3)
    x, y = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    grads = complex_step_gradient(lambda w: complex_energy(w, x, y), ws)
    assert op.pc_bridge.energy(ws, x, y) == pytest.approx(complex_energy(ws, x, y).real, rel=1e-13)
    for g, pkg in zip(grads, op.pc_bridge.energy_gradient(ws, x, y)):
        np.testing.assert_allclose(pkg, g, rtol=0, atol=1e-13)
    drift_ref = []
    for i in range(len(ws) - 1):  # dC_i/dt = -(G_i W_iᵀ + W_i G_iᵀ) + (G_{i+1}ᵀ W_{i+1} + W_{i+1}ᵀ G_{i+1})
        a, b = grads[i] @ ws[i].T, grads[i + 1].T @ ws[i + 1]
        drift_ref.append(-(a + a.T) + (b + b.T))
    law = op.pc_bridge.drift_law(ws, x, y)
    for d, lw in zip(drift_ref, law):
        assert np.max(np.abs(d - lw)) < 1e-12
        assert np.linalg.eigvalsh(lw).max() < 1e-14  # negative semi-definite
    for d, lw in zip(op.pc_bridge.drift_from_gradient(ws, x, y), law):
        assert np.max(np.abs(d - lw)) < 1e-12


def test_pc_drift_number_l2():
    """SPEC test 19: GF on F* for L = 2 from (1, 0.1), x = y = 1, T = 200: c = w_1² - w_2² goes
    0.99 -> 0.925120 (± 1e-5) while the product goes to 1; the MSE flow keeps c."""
    x = y = np.array([[1.0]])
    sol = op.pc_bridge.energy_flow(op.init.chain([1.0, 0.1]), x, y, 200.0, t_eval=np.array([200.0]))
    w1, w2 = sol.mats[0][-1, 0, 0], sol.mats[1][-1, 0, 0]
    assert w1**2 - w2**2 == pytest.approx(0.925120, abs=1e-5)
    assert w1 * w2 == pytest.approx(1.0, abs=1e-6)
    mse_end = op.flow(op.pc_bridge.mse_cost(x, y), op.init.chain([1.0, 0.1]), 200.0)
    assert mse_end[0][0, 0] ** 2 - mse_end[1][0, 0] ** 2 == pytest.approx(0.99, abs=1e-12)


def test_pc_inputs_are_checked():
    with pytest.raises(ValueError, match=r"x must have shape \(B, 1\)"):
        op.pc_bridge.energy(op.init.chain([1.0, 1.0]), np.ones((2, 3)), np.ones((2, 1)))
    with pytest.raises(ValueError, match="y must have shape"):
        op.pc_bridge.energy(op.init.chain([1.0, 1.0]), np.ones((2, 1)), np.ones((3, 1)))
