"""The invariant of Def. 1 / Prop. 2 under the flow, gradient descent's exact one-step law,
Lemmas 10 and 12, and the vector-case identities of the imbalance metric (SPEC tests 3-5).

Expectations: ``C_i`` written out in the test, the reference gradient (torch autograd through
the explicit product), and closed forms (``(w_1² - w_2²)²``, ``||u||² ||v||²``).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import overparam as op
from overparam_reference import SCALAR, TORCH_COSTS, autograd_gradient, explicit_product, random_weights


def widths(depth, n=2, k=3):
    return [n] + [k] * (depth - 1) + [n]


def imbalance_by_hand(ws):
    return [ws[i] @ ws[i].T - ws[i + 1].T @ ws[i + 1] for i in range(len(ws) - 1)]


def test_imbalance_is_definition_1_and_keeps_the_input_kind():
    ws = random_weights(widths(4), seed=1)
    got = op.imbalance(ws)
    assert len(got) == 3
    for c, ref in zip(got, imbalance_by_hand(ws)):
        np.testing.assert_allclose(c, ref, rtol=0, atol=1e-14)
    got_t = op.imbalance([torch.from_numpy(w) for w in ws])
    assert isinstance(got_t[0], torch.Tensor)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_imbalance_is_conserved_by_the_gradient_flow(depth):
    """SPEC test 3: DOP853, rtol = atol = 1e-12, T = 20: relative drift <= 1e-10 (four costs)."""
    rng = np.random.default_rng(depth)
    for name, cost in op.matrix_costs().items():
        ws = [0.7 * rng.standard_normal((b, a)) for a, b in zip(widths(depth)[:-1], widths(depth)[1:])]
        c0 = imbalance_by_hand(ws)
        path = op.flow_path(cost, ws, 20.0, t_eval=np.linspace(0, 20, 41))
        assert path.t[-1] == 20.0
        for step in range(path.t.size):
            ct = imbalance_by_hand(path.at(step))
            for a, b in zip(ct, c0):
                assert np.linalg.norm(a - b) / (1 + np.linalg.norm(b)) < 1e-10, (name, path.t[step])
        assert op.imbalance_drift(path) < 1e-10
        # the flow decreases g (Lemma 9)
        g_path = [op.objective(cost, path.at(i)) for i in range(path.t.size)]
        assert np.all(np.diff(g_path) <= 1e-12)


def test_flow_final_state_equals_the_path_end_and_zero_time_is_the_start():
    ws = random_weights(widths(3), seed=4)
    cost = op.matrix_costs()["log-cosh"]
    end = op.flow(cost, [torch.from_numpy(w) for w in ws], 3.0)
    assert isinstance(end[0], torch.Tensor)
    path = op.flow_path(cost, ws, 3.0)
    for a, b in zip(end, path.final):
        np.testing.assert_allclose(a.numpy(), b, rtol=0, atol=1e-9)
    for a, b in zip(op.flow(cost, ws, 0), ws):
        np.testing.assert_array_equal(a, b)


def test_flow_refuses_a_negative_time():
    ws = random_weights(widths(2))
    with pytest.raises(ValueError, match="t1 must be a finite time >= 0; received -1.0"):
        op.flow(op.matrix_costs()["quadratic"], ws, -1.0)
    with pytest.raises(TypeError, match="t1"):
        op.flow(op.matrix_costs()["quadratic"], ws, "10")


def test_stop_grad_ends_the_run_at_the_tolerance():
    ws = random_weights(widths(2), seed=7, std=0.5)
    cost = op.matrix_costs()["quadratic"]
    path = op.flow_path(cost, ws, 2000.0, stop_grad=1e-6)
    assert path.stopped and path.t_end < 2000
    grads = autograd_gradient(TORCH_COSTS["quadratic"], path.final)
    assert np.sqrt(sum(np.sum(g * g) for g in grads)) == pytest.approx(1e-6, rel=1e-3)


@pytest.mark.parametrize("depth", [2, 3, 4])
def test_gd_step_changes_the_imbalance_by_the_exact_law(depth):
    """SPEC test 4: ``C_i⁺ - C_i = η² (G_i G_iᵀ - G_{i+1}ᵀ G_{i+1})`` to 1e-12 x scale."""
    ws = random_weights(widths(depth), seed=30 + depth)
    eta = 0.05
    for name, cost in op.matrix_costs().items():
        grads = autograd_gradient(TORCH_COSTS[name], ws)
        stepped = op.gd_step(cost, ws, eta)
        for w, g, s in zip(ws, grads, stepped):
            np.testing.assert_allclose(s, w - eta * g, rtol=0, atol=1e-13 * (1 + np.abs(g).max()))
        law = [eta**2 * (grads[i] @ grads[i].T - grads[i + 1].T @ grads[i + 1]) for i in range(depth - 1)]
        drift = [a - b for a, b in zip(imbalance_by_hand(stepped), imbalance_by_hand(ws))]
        scale = 1 + max(np.abs(w).max() for w in ws) ** 2
        for d, lw, pkg in zip(drift, law, op.gd_imbalance_change(grads, eta)):
            assert np.max(np.abs(d - lw)) < 1e-12 * scale
            np.testing.assert_allclose(pkg, lw, rtol=0, atol=1e-15)


def test_gd_vector_case_multiplies_c_by_one_minus_eta2_fprime2():
    """SPEC test 4 (vector case): ``C⁺ = (1 - η² f'(z)²) C`` for k = 3, and ``c⁺ = (1 - η² f'²)² c``."""
    rng = np.random.default_rng(5)
    w1, w2 = rng.standard_normal((3, 1)), rng.standard_normal((1, 3))
    for name in ("(1-z)^2", "cosh(z-2)", "tilted quartic"):
        cost = op.SCALAR_COSTS[name]
        fprime = SCALAR[name][1](float((w2 @ w1)[0, 0]))
        eta = 0.1
        new = op.gd_step(cost, [w1, w2], eta)
        factor = 1 - eta**2 * fprime**2
        (c_new,), (c_old,) = imbalance_by_hand(new), imbalance_by_hand([w1, w2])
        assert np.max(np.abs(c_new - factor * c_old)) < 1e-15 * 10 * (1 + np.abs(c_old).max())
        assert op.descent.vector_law_factor(fprime, eta) == pytest.approx(factor, rel=1e-15)
        c_metric_new = op.vector.imbalance_metric(*new)
        assert c_metric_new == pytest.approx(factor**2 * op.vector.imbalance_metric(w1, w2), rel=1e-12)


def test_c_identities():
    """SPEC test 5: ``2 tr(C²) - (tr C)² = S² - 4z² = ||w_1 - w_2ᵀ||² ||w_1 + w_2ᵀ||²`` (k = 3), and
    ``(w_1² - w_2²)²`` for k = 1."""
    rng = np.random.default_rng(6)
    for _ in range(5):
        w1, w2 = rng.standard_normal(3), rng.standard_normal(3)
        z, big_s = w1 @ w2, w1 @ w1 + w2 @ w2
        uv = np.sum((w1 - w2) ** 2) * np.sum((w1 + w2) ** 2)
        c = op.vector.imbalance_metric(w1[:, None], w2[None, :])
        assert c == pytest.approx(big_s**2 - 4 * z**2, rel=1e-12)
        assert c == pytest.approx(uv, rel=1e-12)
        for s in (-1, 1):
            r = op.vector.reduced(w1, w2, s)
            assert r.D == pytest.approx(c, rel=1e-12)
            assert r.z == pytest.approx(s * (np.sum(r.v**2) - np.sum(r.u**2)) / 4, rel=1e-12, abs=1e-15)
    a, b = 1.3, -0.4
    assert op.vector.imbalance_metric(np.array([[a]]), np.array([[b]])) == pytest.approx((a * a - b * b) ** 2, rel=1e-14)


def test_lemma_10_norm_differences_equal_trace_sums():
    ws = random_weights(widths(4), seed=8)
    diff, traces = op.norm_differences(ws)
    sq = [np.sum(w**2) for w in ws]
    for i in range(4):
        for j in range(4):
            assert diff[i, j] == pytest.approx(sq[i] - sq[j], abs=1e-13)
            assert traces[i, j] == pytest.approx(sq[i] - sq[j], abs=1e-13)


def test_balanced_point_has_zero_imbalance_and_lemma_12_power_identity():
    """Balanced point (singular values (1.3, 0.6), N = 4, n = 2, k = 3): all C_i = 0 and
    ``W̄ W̄ᵀ = (W_N W_Nᵀ)^N`` to 1e-12; the product's singular values are 1.3⁴ and 0.6⁴."""
    ws = op.balanced_weights([1.3, 0.6], [2, 3, 3, 3, 2], seed=0)
    for c in imbalance_by_hand(ws):
        assert np.max(np.abs(c)) < 1e-12
    assert op.lemma12_residual(ws) < 1e-12
    np.testing.assert_allclose(np.linalg.svd(explicit_product(ws), compute_uv=False), [1.3**4, 0.6**4], rtol=1e-12)
    unbalanced = random_weights([2, 3, 3, 3, 2], seed=1)
    assert op.lemma12_residual(unbalanced) > 1e-3
