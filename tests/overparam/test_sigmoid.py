"""Section 4 (Eqs. 8-11, Prop. 8): SPEC tests 14-16.

Expectations: central differences of ``g = (1 - w_2 σ(w_1))²`` written here, the invariant
written from Prop. 8, the cubic ``a³ + 2a² - 2a - 2 = 0`` solved by numpy's polynomial roots,
and the ODE limit from scipy integrating the gradient of the reference ``g``.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.integrate import solve_ivp

import overparam as op


def g_ref(w1, w2):
    return (1 - w2 * w1 / np.sqrt(1 + w1 * w1)) ** 2


def neg_grad_fd(w1, w2, h=1e-6):
    return (-(g_ref(w1 + h, w2) - g_ref(w1 - h, w2)) / (2 * h), -(g_ref(w1, w2 + h) - g_ref(w1, w2 - h)) / (2 * h))


def rhs_ref(t, y):
    """``-∇g`` written out (Eq. 9), for scipy."""
    w1, w2 = y
    common = np.sqrt(1 + w1 * w1) - w2 * w1
    return [2 * w2 * common / (1 + w1 * w1) ** 2, 2 * w1 * common / (1 + w1 * w1)]


def test_sigmoid_rhs_is_minus_the_gradient():
    """SPEC test 14 (``sigmoid_rhs``): Eq. (9) as printed equals -∇g by central differences, 1e-7."""
    rng = np.random.default_rng(0)
    w1, w2 = rng.uniform(-3, 3, 50), rng.uniform(-3, 3, 50)
    e1, e2 = op.sigmoid.eq9_rhs(w1, w2)
    f1, f2 = neg_grad_fd(w1, w2)
    assert max(np.abs(e1 - f1).max(), np.abs(e2 - f2).max()) < 1e-7
    p1, p2 = op.sigmoid.field(w1, w2)
    assert max(np.abs(e1 - p1).max(), np.abs(e2 - p2).max()) < 1e-13


def test_sigmoid_invariant_definition_and_c00():
    """SPEC test 14 (``sigmoid_C00``): C(0, 0) = -0.5 exactly (erratum E1: the paper's text says -1)."""
    assert op.sigmoid_invariant(0.0, 0.0) == -0.5
    assert op.sigmoid_invariant(1.0, 2.0) == 4 - 2
    arr = op.sigmoid_invariant(np.array([0.0, 1.0]), np.array([1.0, 0.0]))
    np.testing.assert_array_equal(arr, [0.5, -2.0])
    t = op.sigmoid_invariant(torch.tensor([2.0], dtype=torch.float64), torch.tensor([3.0], dtype=torch.float64))
    assert isinstance(t, torch.Tensor) and float(t[0]) == 9 - 12.5


def test_sigmoid_invariant_is_conserved():
    """SPEC test 14 (``sigmoid_invariant``): drift <= 1e-9 relative along trajectories from [-10, 10]²."""
    rng = np.random.default_rng(1)
    for w1, w2 in rng.uniform(-10, 10, (6, 2)):
        run = op.sigmoid.sigmoid_flow(w1, w2, 50.0, t_eval=np.linspace(0, 50, 101))
        c = op.sigmoid_invariant(run.w1, run.w2)
        assert np.max(np.abs(c - c[0])) / (1 + abs(c[0])) < 1e-9
    # the general rule for tanh: w_2² - sinh²(w_1) is conserved
    run = op.sigmoid.sigmoid_flow(0.8, -1.5, 30.0, activation="tanh", t_eval=np.linspace(0, 30, 61))
    c = run.w2**2 - np.sinh(run.w1) ** 2
    assert np.max(np.abs(c - c[0])) < 1e-10


def test_eq11_on_level_set():
    """SPEC test 14 (``eq11_on_level_set``): both branches of Eq. (11) lie on C = -1/2, to 1e-12."""
    w1 = np.linspace(-3.63, 3.63, 201)
    for branch in ("stable", "unstable"):
        w2 = op.sigmoid.separatrix(w1, branch)
        assert np.max(np.abs(w2**2 - (1 + w1**2) ** 2 / 2 + 0.5)) < 1e-12 * (1 + np.max(w2**2))
        assert np.all(np.sign(w1 * w2)[w1 != 0] == (-1 if branch == "stable" else 1))
    w2 = np.linspace(1.01, 10, 100)
    assert np.max(np.abs(g_ref(op.sigmoid.target_w1(w2), w2))) < 1e-12


def test_sigmoid_intersection():
    """SPEC test 15: blue ∩ target at w_1 = 1.081705 ± 1e-6, w_2 = 1.361851 ± 1e-6."""
    w1, w2 = op.sigmoid.unstable_target_crossing()
    roots = np.roots([1, 2, -2, -2])
    a = max(r.real for r in roots if abs(r.imag) < 1e-12 and r.real > 0)
    assert w1 == pytest.approx(np.sqrt(a), abs=1e-12)
    assert w1 == pytest.approx(1.081705, abs=1e-6) and w2 == pytest.approx(1.361851, abs=1e-6)
    assert g_ref(w1, w2) < 1e-24
    assert w2 == pytest.approx(op.sigmoid.separatrix(w1, "unstable"), abs=1e-12)


@pytest.mark.parametrize("start", [(2.0, -3.0), (-0.3, 5.0), (-6.0, -1.0), (0.5, 0.2), (8.0, 9.0)])
def test_sigmoid_limit_map(start):
    """SPEC test 16: the limit predicted from C_0 vs the ODE limit, to 1e-9."""
    sol = solve_ivp(rhs_ref, (0, 400), list(start), method="DOP853", rtol=1e-12, atol=1e-13)
    got = op.sigmoid.limit_point(*start)
    assert abs(got[0] - sol.y[0, -1]) < 1e-9 and abs(got[1] - sol.y[1, -1]) < 1e-9


def test_linear_limit_map_closed_form():
    for w1, w2 in ((2.0, 0.5), (-0.5, 3.0), (0.3, -0.2)):
        c0 = w1 * w1 - w2 * w2
        a = (c0 + np.sqrt(c0 * c0 + 4)) / 2
        got = op.sigmoid.limit_point(w1, w2, "linear")
        assert abs(got[0]) == pytest.approx(np.sqrt(a), rel=1e-12) and got[0] * got[1] == pytest.approx(1, rel=1e-12)
    assert op.sigmoid.limit_point(1.0, -1.0, "linear") == (0.0, 0.0)


def test_sigmoid_inputs_are_checked():
    with pytest.raises(ValueError, match="activation"):
        op.sigmoid.field(1.0, 1.0, activation="relu")
    with pytest.raises(ValueError, match="branch"):
        op.sigmoid.separatrix(1.0, "red")
    with pytest.raises(TypeError, match="w1"):
        op.sigmoid_invariant("0", 1.0)


def test_hessian_and_event_times():
    """At the origin the Hessian is ``f'(0) σ'(0) [[0, 1], [1, 0]] = [[0, -2], [-2, 0]]``; at (0.7, -1.3)
    it is the closed form of ``g = r²``, ``r = 1 - w_2 σ(w_1)``: ``g_11 = 2 w_2² σ'² - 2 r w_2 σ''``,
    ``g_12 = 2 σ w_2 σ' - 2 r σ'``, ``g_22 = 2 σ²``. The marked time (|1 - z| < 1e-6) and the stopping
    time (|1 - z| < 1e-9) equal the event times of scipy integrating Eq. (9) written here (the stop
    to 1e-5 relative: locating it is ill-conditioned, ż → 0), and the run ends on the target."""
    np.testing.assert_allclose(op.sigmoid.hessian(0.0, 0.0), [[0, -2], [-2, 0]], atol=1e-8)
    w1, w2 = 0.7, -1.3
    s, ds, dds = w1 / np.sqrt(1 + w1 * w1), (1 + w1 * w1) ** -1.5, -3 * w1 * (1 + w1 * w1) ** -2.5
    r = 1 - w2 * s
    g12 = 2 * s * w2 * ds - 2 * r * ds
    np.testing.assert_allclose(op.sigmoid.hessian(w1, w2), [[2 * w2**2 * ds**2 - 2 * r * w2 * dds, g12], [g12, 2 * s * s]],
                               rtol=0, atol=1e-8)

    def below(tol):
        event = lambda t, y: abs(1 - y[1] * y[0] / np.sqrt(1 + y[0] ** 2)) - tol  # noqa: E731
        event.direction = -1
        return event

    ref = solve_ivp(rhs_ref, (0, 500), [3.0, -2.0], method="DOP853", rtol=1e-12, atol=1e-13, events=[below(1e-6), below(1e-9)])
    run = op.sigmoid.sigmoid_flow(3.0, -2.0, 500.0, stop_tol=1e-9, mark_tol=1e-6)
    assert run.t_mark == pytest.approx(ref.t_events[0][0], rel=1e-6)
    assert run.t_hit == pytest.approx(ref.t_events[1][0], rel=1e-5)
    assert run.t[-1] == run.t_hit
    assert g_ref(*run.final) ** 0.5 == pytest.approx(1e-9, rel=1e-3)
