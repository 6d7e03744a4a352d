"""Prop. 7's acceleration and escape times (SPEC tests 12-13, balanced chains).

Expectations: the SPEC's numbers (closed form derived independently), adaptive quadrature of
``dz / (|f'(z)| √(c + 4z²))`` written here, ODE event times from scipy directly, and the c = 0
closed form ``¼ ln[(1-ε)(1-z0)/(ε z0)]``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.integrate import quad, solve_ivp

import overparam as op

Z0, EPS = 0.01, 1e-6


@pytest.mark.parametrize("c, expected", [(0.0, 4.6026573520), (1.0, 3.3364960867), (100.0, 0.6782984740)])
def test_accel_closed_form(c, expected):
    """SPEC test 12: T(c) = 4.6026573520, 3.3364960867, 0.6782984740; quadrature to 1e-10 relative;
    the ODE event time within 1e-6 relative."""
    got = op.convergence_time(c, Z0, EPS)
    assert got == pytest.approx(expected, rel=1e-10)
    integral, _ = quad(lambda z: 1 / (2 * (1 - z) * np.sqrt(c + 4 * z * z)), Z0, 1 - EPS, epsabs=0, epsrel=1e-13, limit=200)
    assert got == pytest.approx(integral, rel=1e-10)

    def hit(t, y):
        return 1 - y[0] - EPS
    hit.terminal = True
    sol = solve_ivp(lambda t, y: [2 * (1 - y[0]) * np.sqrt(c + 4 * y[0] ** 2)], (0, 100), [Z0], method="DOP853",
                    rtol=1e-12, atol=1e-14, events=hit)
    assert sol.t_events[0][0] == pytest.approx(got, rel=1e-6)
    assert op.rates.time_to_target(op.SCALAR_COSTS["(1-z)^2"], c, Z0, EPS) == pytest.approx(got, rel=1e-6)


def test_balanced_closed_form_and_large_c_limit():
    assert op.convergence_time(0.0, Z0, EPS) == pytest.approx(0.25 * np.log((1 - EPS) * (1 - Z0) / (EPS * Z0)), rel=1e-12)
    assert np.sqrt(1e10) * op.convergence_time(1e10, Z0, EPS) == pytest.approx(0.5 * np.log((1 - Z0) / EPS), rel=1e-4)


def test_accel_ordering():
    """SPEC test 13: same product z0, larger c: g(t; c=10) < g(t; c=1) < g(t; c=0) on every grid
    point of (0, 6]."""
    grid = np.linspace(0.05, 6, 120)
    cost = op.SCALAR_COSTS["(1-z)^2"]
    values = {c: (1 - op.rates.product_flow(cost, c, Z0, 6.0, t_eval=grid).y[0]) ** 2 for c in (0.0, 1.0, 10.0)}
    assert np.all(values[10.0] < values[1.0]) and np.all(values[1.0] < values[0.0])


def test_time_collapse_in_the_clock_tau():
    sol = op.rates.product_flow(op.SCALAR_COSTS["(1-z)^2"], 10.0, Z0, 3.0, t_eval=np.linspace(0, 3, 31))
    np.testing.assert_allclose(sol.y[0], op.rates.collapsed_product(sol.y[1], Z0), rtol=0, atol=1e-9)


@pytest.mark.parametrize("depth, a, expected", [(2, 0.1, 2.297560), (3, 0.1, 9.144747), (4, 0.01, 4999.73353)])
def test_balanced_chain_escape_time(depth, a, expected):
    """Balanced chains ``w_i = a``, f = ½(1 - z)²: time for z to reach ½ (SPEC 2.2); against the
    time integral of one weight's own equation ``u̇ = (1 - u^N) u^{N-1}`` (the package integrates the
    product's), ``T = ∫_a^{2^{-1/N}} du / (u^{N-1} (1 - u^N))`` by quad; and the N = 2 closed form."""
    cost = op.SCALAR_COSTS["(1-z)^2/2"]
    got = op.rates.balanced_chain_time(cost, depth, a, 0.5)
    assert got == pytest.approx(expected, rel=2e-7)
    weight_time, _ = quad(lambda u: 1 / (u ** (depth - 1) * (1 - u**depth)), a, 0.5 ** (1 / depth), epsabs=0, epsrel=1e-13,
                          limit=200)
    assert got == pytest.approx(weight_time, rel=1e-10)
    if depth == 2:
        assert got == pytest.approx(0.5 * (np.log(1.0) - np.log(a**2 / (1 - a**2))), rel=1e-12)


def test_convergence_time_refuses_bad_input():
    with pytest.raises(ValueError, match="c = 2 tr.*>= 0; received c = -1.0"):
        op.convergence_time(-1.0, Z0, EPS)
    with pytest.raises(ValueError, match="before the target 1 - eps"):
        op.convergence_time(1.0, 0.9999995, EPS)
    with pytest.raises(ValueError, match="before the target"):
        op.convergence_time(1.0, 2.0, EPS)
    with pytest.raises(ValueError, match="eps must be in"):
        op.convergence_time(1.0, Z0, 0.0)
    with pytest.raises(ValueError, match="c = 0"):
        op.convergence_time(0.0, -0.5, EPS)
    with pytest.raises(TypeError, match="real number"):
        op.convergence_time("1", Z0, EPS)


def test_gradient_descent_iterations_match_the_spec_numbers_and_the_vectorised_grid():
    """SPEC 4.1: k = 1, f = (1 - z)², z0 = 0.01, stop at |1 - z| < 1e-6, η = α / (2 √(c + 4)):
    α = 0.5 -> 31, 24, 22, 21, 20 and α = 1 -> 10, 7, 6, 4, 2 iterations for c = 0, 1, 10, 100, 1e4;
    fixed η = 0.2: 16, 10, 13, 13 for c = 0, 1, 10, 30 and divergence for c = 100. The start is
    written from the constraints w1 w2 = z0, w1² - w2² = √c."""
    cost = op.SCALAR_COSTS["(1-z)^2"]

    def start(c):
        w1 = np.sqrt((np.sqrt(c) + np.sqrt(c + 4 * Z0**2)) / 2)
        return w1, Z0 / w1

    cs = [0.0, 1.0, 10.0, 100.0, 1e4]
    for alpha, expected in ((0.5, [31, 24, 22, 21, 20]), (1.0, [10, 7, 6, 4, 2])):
        got = [op.descent.iterations_to_target(cost, op.init.chain(start(c)), alpha / (2 * np.sqrt(c + 4)), EPS).iterations for c in cs]
        assert got == expected
        w1s, w2s = zip(*(start(c) for c in cs))
        grid = op.descent.iterations_grid(cost, np.array(w1s), np.array(w2s), alpha / (2 * np.sqrt(np.array(cs) + 4)), EPS)
        assert grid.tolist() == expected
    fixed = [op.descent.iterations_to_target(cost, op.init.chain(start(c)), 0.2, EPS) for c in (0.0, 1.0, 10.0, 30.0, 100.0)]
    assert [f.iterations for f in fixed[:4]] == [16, 10, 13, 13] and fixed[4].diverged
    assert op.descent.iterations_grid(cost, *start(100.0), 0.2, EPS) == op.descent.DIVERGED


def test_product_within_stops_the_flow_at_the_balanced_closed_form():
    """A balanced chain (w_1 = w_2 = √z0, c = 0) under f = (1 - z)²: ż = 4z(1 - z), so the time to
    |1 - z| < ε is T(0) = ¼ ln((1 - ε)(1 - z0) / (ε z0)) (separation of variables); the event stops
    the full flow of Eq. (4) there, with the product on the target's side."""
    cost = op.SCALAR_COSTS["(1-z)^2"]
    start = op.init.chain([np.sqrt(Z0), np.sqrt(Z0)])
    path = op.flow_path(cost, start, 100.0, events=[op.flows.product_within(1.0, EPS)], t_eval=np.array([]))
    assert path.stopped
    # locating the event is ill-conditioned (ż → 0 at the target): ~1e-8 relative, as in the chapter
    assert path.t_end == pytest.approx(0.25 * np.log((1 - EPS) * (1 - Z0) / (EPS * Z0)), rel=1e-6)
    assert abs(1 - op.product(path.final)[0, 0]) == pytest.approx(EPS, rel=1e-6)
    with pytest.raises(ValueError, match="eps"):
        op.flows.product_within(1.0, 0.0)
