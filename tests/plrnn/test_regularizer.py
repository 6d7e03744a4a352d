"""The invertibility regulariser: lambda * mean over sampled regions of max(0, -det J) (paper Eq. 5)."""

import numpy as np
import pytest
import torch

from plrnn import regularizer, torchrnn
from plrnn.models import ALRNN


def hand_model(A, W):
    """A 2-D ALRNN (P = 1: the second unit is rectified) with given A, W, float64."""
    model = torchrnn.ALRNNEnsemble(2, 2, 1, seeds=[0], dtype=torch.float64)
    arrays = model.arrays()
    arrays["A"], arrays["W"] = np.array([A], dtype=float), np.array([W], dtype=float)
    model.load_arrays(arrays)
    return model


BOTH = torch.tensor([[False], [True]])  # the two regions: unit 2 off, on


def test_zero_when_all_determinants_positive():
    model = hand_model([0.9, 0.8], [[0.0, 0.1], [0.2, 0.0]])  # dets 0.72 and 0.72 - 0.02
    pen = regularizer.invertibility_penalty(model, BOTH[None, None], [3.0], 1.0, [torch.Generator()])
    assert float(pen.detach()[0]) == 0.0
    grads = torch.autograd.grad(pen.sum(), [model.W], allow_unused=True)
    assert grads[0] is None or float(grads[0].abs().max()) == 0.0


def test_hand_built_value():
    # J_0 = [[0.5, 0], [3, -0.5]] (det -0.25), J_1 = [[0.5, 2], [3, -0.5]] (det -6.25)
    model = hand_model([0.5, -0.5], [[0.0, 2.0], [3.0, 0.0]])
    lam = 0.7
    pen = regularizer.invertibility_penalty(model, BOTH[None, None], [lam], 1.0, [torch.Generator()])
    assert abs(float(pen.detach()[0]) - lam * (0.25 + 6.25) / 2) <= 1e-14
    # one region positive: J_0 = [[0.5, 0], [3, 0.5]] (det 0.25), J_1 det 0.25 - 6 = -5.75
    model = hand_model([0.5, 0.5], [[0.0, 2.0], [3.0, 0.0]])
    pen = regularizer.invertibility_penalty(model, BOTH[None, None], [lam], 1.0, [torch.Generator()])
    assert abs(float(pen.detach()[0]) - lam * (0.0 + 5.75) / 2) <= 1e-14
    assert regularizer.positive_det_fraction(model.to_numpy(0), [[0.0, -1.0], [0.0, 1.0], [2.0, 3.0]]) == 0.5


def test_gradient_closed_form_and_finite_differences():
    M, P, lam = 4, 2, 1.3
    model = torchrnn.ALRNNEnsemble(M, 2, P, seeds=[5], dtype=torch.float64)
    rng = np.random.default_rng(7)
    arrays = model.arrays()
    arrays["W"] = rng.standard_normal((1, M, M))
    model.load_arrays(arrays)
    pats = torch.tensor([[a, b] for a in (False, True) for b in (False, True)])
    J = model.region_jacobians(0, pats).detach().numpy()
    det = np.linalg.det(J)
    assert np.any(det < 0) and np.any(det > 0), det  # a mixed case
    pen = regularizer.hinge_penalty(model.region_jacobians(0, pats), lam)
    g = torch.autograd.grad(pen, [model.W])[0][0].numpy()
    # Jacobi: d det(J)/dW = det(J) J^{-T} D  (J = diag(A) + W D)
    closed = np.zeros((M, M))
    for Ji, di, p in zip(J, det, pats.numpy()):
        if di < 0:
            D = np.diag(np.concatenate([np.ones(M - P), p.astype(float)]))
            closed += -lam / len(J) * di * np.linalg.inv(Ji).T @ D
    np.testing.assert_allclose(g, closed, atol=1e-12)
    W0 = arrays["W"][0]
    fd = np.zeros((M, M))
    h = 1e-6
    numpy_pen = lambda W: lam * np.mean(np.maximum(0.0, -np.linalg.det(
        np.diag(arrays["A"][0]) + W[None] * np.concatenate([np.ones((4, M - P)), pats.numpy()], 1)[:, None, :])))
    for a in range(M):
        for b in range(M):
            E = np.zeros((M, M))
            E[a, b] = h
            fd[a, b] = (numpy_pen(W0 + E) - numpy_pen(W0 - E)) / (2 * h)
    np.testing.assert_allclose(g, fd, atol=1e-6)


def test_sampling_rule_and_members():
    pats = torch.tensor([[i >> k & 1 for k in range(4)] for i in range(10)], dtype=torch.bool)
    gen = torch.Generator().manual_seed(0)
    assert regularizer.sample_regions(pats, 0.01, gen).shape == (1, 4)  # at least one region
    assert regularizer.sample_regions(pats.repeat(3, 1), 0.3, gen).shape == (3, 4)  # of the distinct ones
    model = torchrnn.ALRNNEnsemble(2, 2, 1, seeds=[0, 0], dtype=torch.float64)
    arrays = model.arrays()
    arrays["A"] = np.array([[0.5, -0.5]] * 2)
    arrays["W"] = np.array([[[0.0, 2.0], [3.0, 0.0]]] * 2)
    model.load_arrays(arrays)
    pen = regularizer.invertibility_penalty(model, BOTH[None, None].expand(2, 1, 2, 1), [0.0, 2.0], 1.0,
                                            [torch.Generator(), torch.Generator()]).detach().numpy()
    np.testing.assert_allclose(pen, [0.0, 2.0 * 3.25], atol=1e-14)


def test_bad_inputs():
    with pytest.raises(ValueError, match="fraction"):
        regularizer.sample_regions(BOTH, 0.0, torch.Generator())
    with pytest.raises(ValueError, match="K, M, M"):
        regularizer.hinge_penalty(torch.zeros(0, 2, 2), 1.0)
    model = hand_model([0.5, 0.5], [[0.0, 1.0], [1.0, 0.0]])
    with pytest.raises(ValueError, match="one generator"):
        regularizer.invertibility_penalty(model, BOTH[None, None], [1.0], 1.0, [])
    with pytest.raises(ValueError, match="patterns"):
        regularizer.invertibility_penalty(model, torch.zeros(1, 3, 2, dtype=torch.bool), [1.0], 1.0,
                                          [torch.Generator()])
    with pytest.raises(ValueError, match="shape"):
        regularizer.positive_det_fraction(ALRNN([0.5, 0.5], np.zeros((2, 2)), [0, 0], 1), np.zeros((3, 3)))
