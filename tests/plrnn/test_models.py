"""Affine pieces equal the map and finite-difference Jacobians and the models' input checks."""

import sys
from pathlib import Path

import numpy as np
import pytest

import plrnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plrnn_reference import alrnn_step, fd_jacobian  # noqa: E402


def _random_models(rng):
    M = 4
    yield plrnn.PLRNN(rng.normal(size=(M, M)) * 0.5, rng.normal(size=(M, M)), rng.normal(size=M))
    yield plrnn.PLRNN(rng.uniform(0.2, 0.9, size=M), rng.normal(size=(M, M)), rng.normal(size=M))
    yield plrnn.ALRNN(rng.uniform(0.2, 0.9, size=M), rng.normal(size=(M, M)), rng.normal(size=M), 2)
    yield plrnn.ShallowPLRNN(rng.uniform(0.2, 0.9, size=M), rng.normal(size=(M, 7)), rng.normal(size=(7, M)),
                             rng.normal(size=M), rng.normal(size=7))


def _independent_step(model, z):
    """Each model's own equation, written out (not the general form)."""
    if isinstance(model, plrnn.ShallowPLRNN):
        return model.A * z + model.W1 @ np.maximum(model.W2 @ z + model.h2, 0) + model.h1
    if isinstance(model, plrnn.ALRNN):
        return alrnn_step(model.A, model.W, model.h, model.P, z)
    return model.A @ z + model.W @ np.maximum(z, 0) + model.h


def test_affine_pieces_equal_the_map_and_finite_differences():
    rng = np.random.default_rng(0)
    for model in _random_models(rng):
        z = rng.normal(size=(50, model.M)) * 2
        pre = model.preactivation(z)
        z = z[np.all(np.abs(pre) > 1e-3, axis=1)]  # off the borders
        J, c = model.affine(model.pattern(z))
        step = model.step(z)
        assert np.max(np.abs(np.einsum("nij,nj->ni", J, z) + c - step)) < 1e-12
        for zi, Ji, si in zip(z[:10], J, step):
            assert np.max(np.abs(_independent_step(model, zi) - si)) < 1e-12
            assert np.max(np.abs(fd_jacobian(lambda v: _independent_step(model, v), zi) - Ji)) < 1e-7
        assert np.allclose(model.jacobian(z), J, atol=0, rtol=0)


def test_region_ids_use_switching_units_only():
    m = plrnn.paper_map("3A2")
    assert list(m.switching_units) == [0]  # the second unit's ReLU column of W is zero
    z = np.array([[-1.0, -2.0], [-1.0, 3.0], [2.0, -2.0], [2.0, 3.0]])
    assert list(m.region_id(z)) == [0, 0, 1, 1]
    J, c = m.affine_of_code(np.array([0, 1]))
    tr, dr, tl, dl, cc, d, h2, h1 = plrnn.PARAMETER_SETS["3A2"]
    assert np.allclose(J[0], [[tl, cc], [-dl, d]], atol=1e-15) and np.allclose(J[1], [[tr, cc], [-dr, d]], atol=1e-15)
    assert np.allclose(c, [[h1, h2]] * 2, atol=0)


def test_step_is_vectorised_over_leading_axes():
    m = plrnn.paper_map("5")
    z = np.random.default_rng(1).normal(size=(3, 4, 2))
    out = m.step(z)
    assert out.shape == (3, 4, 2)
    assert np.allclose(out[1, 2], m.step(z[1, 2]), atol=0)


@pytest.mark.parametrize("build, match", [
    (lambda: plrnn.PLRNN(np.eye(2), np.eye(3), np.zeros(2)), r"W must have shape \(2, 2\)"),
    (lambda: plrnn.PLRNN(np.eye(2), np.eye(2), np.zeros(3)), r"h must have shape \(2,\)"),
    (lambda: plrnn.PLRNN(np.ones((2, 3)), np.eye(2), np.zeros(2)), "square matrix"),
    (lambda: plrnn.ALRNN(np.ones(3), np.eye(3), np.zeros(3), 4), "P"),
    (lambda: plrnn.ALRNN(np.ones((3, 3)), np.eye(3), np.zeros(3), 1), "diagonal"),
    (lambda: plrnn.ShallowPLRNN(np.ones(2), np.ones((2, 5)), np.ones((4, 2)), np.zeros(2), np.zeros(5)), r"W2"),
    (lambda: plrnn.PLRNN(np.eye(2), np.eye(2), [np.nan, 0]), "finite"),
])
def test_bad_shapes_are_named(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_types_and_state_shapes():
    with pytest.raises(TypeError, match="numeric array"):
        plrnn.PLRNN("eye", np.eye(2), np.zeros(2))
    m = plrnn.paper_map("3A1")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\).*received shape \(5, 3\)"):
        m.step(np.zeros((5, 3)))
    with pytest.raises(ValueError, match="unknown parameter set"):
        plrnn.paper_map("3C")
