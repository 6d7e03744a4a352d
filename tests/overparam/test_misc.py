"""Costs, the matrix ODE helper, the foliation of Fig. 2 and the schematic of Fig. 1.

Expectations: the costs' definitions and central differences, an exponential solved in closed
form, the leaf/target crossing solved here from ``w_1² - 1/w_1² = c``.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

import overparam as op  # noqa: E402
from overparam_reference import A, B, SCALAR, TORCH_COSTS, fd_gradient  # noqa: E402


@pytest.mark.parametrize("name", list(TORCH_COSTS))
def test_matrix_costs_match_their_definitions(name):
    cost = op.matrix_costs()[name]
    w = np.array([[0.3, -1.2], [0.8, 2.5]])
    ref = float(TORCH_COSTS[name](torch.from_numpy(w)))
    assert cost.value(w) == pytest.approx(ref, rel=1e-13)
    assert float(cost(torch.from_numpy(w))) == pytest.approx(ref, rel=1e-13)
    fd = fd_gradient(lambda ws: float(TORCH_COSTS[name](torch.from_numpy(ws[0]))), [w])[0]
    np.testing.assert_allclose(cost.grad(w), fd, rtol=0, atol=1e-7)
    assert np.allclose(A, op.costs.TEST_A) and np.allclose(B, op.costs.TEST_B)


def test_log_cosh_is_stable_for_large_arguments():
    w = np.full((2, 2), 800.0)
    assert np.isfinite(op.matrix_costs()["log-cosh"].value(w))
    assert op.matrix_costs()["log-cosh"].value(w) == pytest.approx(np.sum(np.abs(w - A)) - 4 * np.log(2), rel=1e-14)


@pytest.mark.parametrize("name", list(SCALAR))
def test_scalar_costs_match_their_definitions(name):
    cost = op.SCALAR_COSTS[name]
    f, fp = SCALAR[name]
    z = np.linspace(-2, 2, 9)
    np.testing.assert_allclose(cost.f(z), f(z), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(cost.d1(z), fp(z), rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(cost.d2(z), (fp(z + 1e-5) - fp(z - 1e-5)) / 2e-5, rtol=0, atol=1e-6)
    assert abs(fp(cost.z_star)) < 1e-12


def test_solve_matrices_integrates_a_linear_matrix_ode():
    m0 = [np.array([[1.0, 2.0]]), np.array([[3.0], [-1.0]])]
    sol = op.odeint.solve_matrices(lambda t, ms: [-m for m in ms], m0, 2.0, t_eval=np.array([0.0, 1.0]))
    assert sol.t.tolist() == [0.0, 1.0, 2.0]
    np.testing.assert_allclose(sol.mats[0][-1], np.exp(-2) * m0[0], rtol=1e-11)
    ev = op.odeint.event(lambda t, ms: ms[0][0, 0] - 0.5, terminal=True)
    stopped = op.odeint.solve_matrices(lambda t, ms: [-m for m in ms], m0, 5.0, events=[ev])
    assert stopped.stopped and stopped.t[-1] == pytest.approx(np.log(2), rel=1e-10)


def test_leaf_target_points_and_chain_leaves():
    for c in (-4.0, -1.0, 0.0, 1.0, 4.0):
        pts = op.foliation.leaf_target_points(c)
        for w1, w2 in pts:
            assert w1 * w1 - w2 * w2 == pytest.approx(c, abs=1e-12) and w1 * w2 == pytest.approx(1, abs=1e-12)
        for branch in op.foliation.leaf_curves(c, 5.0):
            assert np.max(np.abs(branch[:, 0] ** 2 - branch[:, 1] ** 2 - c)) < 1e-12
    leaf = op.foliation.chain3_leaf(0.5, -0.3, np.linspace(-2, 2, 50))
    np.testing.assert_allclose(leaf[:, 0] ** 2 - leaf[:, 1] ** 2, 0.5, atol=1e-12)
    np.testing.assert_allclose(leaf[:, 1] ** 2 - leaf[:, 2] ** 2, -0.3, atol=1e-12)


def test_network_schematic_draws_n_plus_one_layers():
    fig, ax = plt.subplots()
    assert op.schematics.draw_network(ax, 2, 3, 4) == [2, 3, 3, 3, 2]
    assert len(ax.patches) == 2 + 3 * 3 + 2
    plt.close(fig)
    fig = plt.figure()
    crossings = op.schematics.draw_foliation_schematic(fig.add_subplot(projection="3d"))
    assert crossings.shape == (3, 3)
    plt.close(fig)


def test_init_helpers():
    assert op.init.widths(2, 3, 4) == [2, 3, 3, 3, 2]
    with pytest.raises(ValueError, match="depth"):
        op.init.widths(2, 3, 1)
    ws = op.init.gaussian([2, 3, 2], 0.5, np.random.default_rng(0))
    assert [w.shape for w in ws] == [(3, 2), (2, 3)]
