"""Reference manifolds of ODEs by integration, and delta_ODE, on linear saddles with known answers."""

import numpy as np
import pytest
from scipy.linalg import expm
from scipy.stats import special_ortho_group

from plrnn import odemanifolds as om
from plrnn.dynsys import ODESystem


def linear(A):
    A = np.asarray(A, dtype=float)
    return ODESystem("linear", A.shape[0], {}, lambda x: x @ A.T, lambda x: np.broadcast_to(A, x.shape + (A.shape[0],)))


def test_rk4_matches_matrix_exponential():
    A = np.array([[0.0, 1.0], [-2.0, -0.3]])
    x0 = np.array([[1.0, 0.5], [-0.2, 0.3]])
    out = om.rk4(linear(A), x0, 0.001, 1000)
    np.testing.assert_allclose(out, x0 @ expm(A).T, atol=1e-10)


def test_planar_saddle_manifolds_are_the_eigenlines():
    R = special_ortho_group.rvs(2, random_state=3)
    A = R @ np.diag([0.7, -1.3]) @ R.T
    sysl = linear(A)
    for branch in om.stable_manifold_1d(sysl, [0.0, 0.0], bound=5.0):
        coef = branch @ R  # coordinates in the eigenbasis
        assert np.abs(coef[:, 0]).max() <= 1e-9 * np.abs(coef[:, 1]).max()
        assert np.abs(branch).max() > 4.9  # reached the box
    for branch in om.unstable_manifold_1d(sysl, [0.0, 0.0], t_max=10.0, bound=5.0):
        coef = branch @ R
        assert np.abs(coef[:, 1]).max() <= 1e-9 * np.abs(coef[:, 0]).max()


def test_stable_manifold_2d_is_the_stable_plane():
    Q = special_ortho_group.rvs(3, random_state=1)
    A = Q @ np.diag([1.5, -0.5, -2.0]) @ Q.T
    pts = om.stable_manifold_2d(linear(A), np.zeros(3), t_max=6.0, max_norm=20.0)
    off_plane = np.abs(pts @ Q[:, 0])
    assert off_plane.max() <= 1e-9 * np.linalg.norm(pts, axis=1).max()
    assert np.linalg.norm(pts, axis=1).max() > 5.0


def test_delta_ode_on_and_off_the_manifold():
    A = np.diag([1.0, -1.0])
    sysl = linear(A)
    on = np.array([[0.0, 1.0], [0.0, -2.0]])
    # on W^s: |x(t)|^2 / |x0|^2 = exp(-2 t), smallest at t_max
    np.testing.assert_allclose(om.delta_ode(sysl, on, [0, 0], "stable", t_max=1.0, dt=0.001), np.exp(-2.0), rtol=1e-9)
    # on W^u forward: the distance only grows, the minimum is the start (ratio 1)
    np.testing.assert_allclose(om.delta_ode(sysl, [[1.0, 0.0]], [0, 0], "stable", t_max=1.0), 1.0)
    np.testing.assert_allclose(om.delta_ode(sysl, [[1.0, 0.0]], [0, 0], "unstable", t_max=1.0, dt=0.001),
                               np.exp(-2.0), rtol=1e-9)


def test_polyline_distance():
    line = np.array([[0.0, 0.0], [2.0, 0.0], [2.0, 2.0]])
    d = om.polyline_distance(np.array([[1.0, 1.0], [3.0, 3.0], [-1.0, 0.0]]), [line])
    np.testing.assert_allclose(d, [1.0, np.sqrt(2.0), 1.0])


def test_bad_inputs():
    sysl = linear(np.diag([1.0, -1.0, -2.0]))
    with pytest.raises(ValueError, match="2-D"):
        om.stable_manifold_1d(sysl, np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        om.delta_ode(sysl, np.zeros((2, 2)), np.zeros(3), "stable")
    with pytest.raises(ValueError, match="kind"):
        om.delta_ode(sysl, np.ones((2, 3)), np.zeros(3), "sideways")
