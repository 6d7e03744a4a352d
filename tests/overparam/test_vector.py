"""The vector case (Eq. 7, Prop. 5, Cor. 6): SPEC tests 9-11.

Expectations: the long-time ODE limit of the full 2k-dimensional flow (integrated here with
scipy directly from Eq. 7, not through the package), the sign rule ``w_1 = s w_2`` from
``f'(0)`` of the cost's definition, and the tilted quartic's local minimum as a root of ``f'``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import solve_ivp
from scipy.optimize import brentq

import overparam as op
from overparam_reference import SCALAR


def eq7_limit(fprime, w1, w2, t1):
    k = w1.size

    def rhs(t, y):
        fp = fprime(y[k:] @ y[:k])
        return np.concatenate([-fp * y[k:], -fp * y[:k]])

    sol = solve_ivp(rhs, (0, t1), np.concatenate([w1, w2]), method="DOP853", rtol=1e-12, atol=1e-13)
    return sol.y[:k, -1], sol.y[k:, -1]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vector_limit_formula(seed):
    """SPEC test 9: predicted limit vs ODE limit (k = 3, f = (1 - z)²) to 1e-9."""
    rng = np.random.default_rng(seed)
    w1, w2 = rng.standard_normal(3), rng.standard_normal(3)
    got1, got2 = op.vector.predicted_limit(op.SCALAR_COSTS["(1-z)^2"], w1[:, None], w2[None, :])
    ode1, ode2 = eq7_limit(SCALAR["(1-z)^2"][1], w1, w2, 200.0)
    assert got1.shape == (3, 1) and got2.shape == (1, 3)
    assert np.max(np.abs(got1.ravel() - ode1)) < 1e-9
    assert np.max(np.abs(got2.ravel() - ode2)) < 1e-9
    assert float((got2 @ got1)[0, 0]) == pytest.approx(1.0, abs=1e-12)


def test_stable_set_universal():
    """SPEC test 10: for four costs, the stable eigenvectors of the origin (eigenvalue ``+|f'(0)|``
    of the autodiff Hessian) satisfy ``w_1 = s w_2``, ``s = sign f'(0)``, to 1e-12."""
    k = 3
    for name in ("(1-z)^2", "cosh(z-2)", "(z+2)^2/2", "tilted quartic"):
        cost = op.SCALAR_COSTS[name]
        s = int(np.sign(SCALAR[name][1](0.0)))
        hess = op.objective_hessian(cost, [np.zeros((k, 1)), np.zeros((1, k))])
        np.testing.assert_allclose(np.abs(np.linalg.eigvalsh(hess)), abs(SCALAR[name][1](0.0)), rtol=1e-12)
        basis = op.vector.stable_subspace(hess)
        assert basis.shape == (2 * k, k)
        assert np.max(np.abs(basis[:k] - s * basis[k:])) < 1e-12
        assert cost.sign0 == s
        np.testing.assert_allclose(op.vector.origin_hessian(SCALAR[name][1](0.0), k), hess, atol=1e-12)


def test_corollary6_counterexample():
    """SPEC test 11: tilted quartic, ``w_1 = w_2ᵀ = (0.6, 0.5, 0.4)`` (d = 0) converges to the local
    minimum z = 0.87889 (± 1e-5), neither to the origin nor to the global minimum."""
    fprime = SCALAR["tilted quartic"][1]
    w = np.array([0.6, 0.5, 0.4])
    ode1, ode2 = eq7_limit(fprime, w, w, 200.0)
    local_min = brentq(fprime, 0.5, 1.5)
    assert ode2 @ ode1 == pytest.approx(0.87889, abs=1e-5)
    assert ode2 @ ode1 == pytest.approx(local_min, abs=1e-9)
    cost = op.SCALAR_COSTS["tilted quartic"]
    p1, p2 = op.vector.predicted_limit(cost, w[:, None], w[None, :])
    assert float((p2 @ p1)[0, 0]) == pytest.approx(local_min, abs=1e-12)
    assert op.vector.bad_set_distance(w, w, cost.sign0) == 0.0
    # below the first zero of f' on the stable side (z1 = 0.2091) the same bad set leads to the origin
    z1 = brentq(fprime, 0.0, 0.5)
    assert op.vector.limit_product(cost, 0.5 * z1, 0.0) == 0.0
    assert op.vector.limit_product(cost, 0.77, 0.0) == pytest.approx(local_min, abs=1e-12)


def test_stable_set_reduced_flow_decays_like_the_linearisation():
    """On ``{u = 0}`` near the origin ``||v||`` decays at the rate ``|f'(0)|`` (here f = (1 - z)²: 2)."""
    t, vn = op.vector.stable_set_flow(op.SCALAR_COSTS["(1-z)^2"], 2 * np.sqrt(0.1), 40.0, t_eval=np.array([30.0, 40.0]))
    assert vn[-1] < 1e-30
    assert np.log(vn[0] / vn[1]) / 10 == pytest.approx(2.0, rel=1e-6)


def test_point_with_has_the_requested_product_and_metric():
    for k, s in ((1, -1), (3, 1), (3, -1)):
        w1, w2 = op.vector.point_with(0.01, 10.0, k=k, s=s, seed=4)
        assert float((w2 @ w1)[0, 0]) == pytest.approx(0.01, rel=1e-12)
        assert op.vector.imbalance_metric(w1, w2) == pytest.approx(10.0, rel=1e-12)


def test_vector_inputs_are_checked():
    with pytest.raises(ValueError, match="same width"):
        op.vector.reduced(np.ones(3), np.ones(2), 1)
    with pytest.raises(ValueError, match="column"):
        op.vector.reduced(np.ones((2, 3)), np.ones(3), 1)
    with pytest.raises(ValueError, match="sign"):
        op.vector.reduced(np.ones(3), np.ones(3), 0)
