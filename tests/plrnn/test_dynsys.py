"""The ODE systems behind the trained models: equilibria in closed form, Jacobians, integration."""

import numpy as np
import pytest
from scipy.linalg import expm

from plrnn import dynsys as ds


def fd_jacobian(f, x, h=1e-6):
    cols = []
    for k in range(x.size):
        e = np.zeros_like(x)
        e[k] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, -1)


def test_duffing_saddle_and_foci_closed_form():
    sysd = ds.duffing()
    lam = np.sort(np.linalg.eigvals(sysd.jacobian([0.0, 0.0])).real)
    expected = np.sort([(-0.5 + np.sqrt(4.25)) / 2, (-0.5 - np.sqrt(4.25)) / 2])
    np.testing.assert_allclose(lam, expected, atol=1e-12)
    eq = ds.duffing_equilibria()
    np.testing.assert_allclose(eq[1], [np.sqrt(10.0), 0.0], atol=1e-15)
    np.testing.assert_allclose(sysd(eq), 0.0, atol=1e-12)
    # foci: lambda = -delta/2 +- i sqrt(2 alpha' - delta^2/4) with alpha' = -2 alpha = 2 (linearisation -alpha - 3 beta x^2)
    mu = np.linalg.eigvals(sysd.jacobian(eq[1]))
    np.testing.assert_allclose(sorted(mu.imag), [-np.sqrt(2.0 - 0.0625), np.sqrt(2.0 - 0.0625)], atol=1e-12)
    np.testing.assert_allclose(mu.real, -0.25, atol=1e-12)


def test_lorenz_origin_closed_form():
    s, r, b = 10.0, 28.0, 8.0 / 3.0
    lam = np.sort(np.linalg.eigvals(ds.lorenz().jacobian(np.zeros(3))).real)
    disc = np.sqrt((s + 1) ** 2 + 4 * s * (r - 1))
    np.testing.assert_allclose(lam, np.sort([(-(s + 1) + disc) / 2, (-(s + 1) - disc) / 2, -b]), atol=1e-12)
    np.testing.assert_allclose(ds.lorenz()(ds.lorenz_equilibria()), 0.0, atol=1e-12)


def test_decision_saddle_on_symmetry_plane():
    sysd = ds.decision()
    eq = ds.decision_equilibria(sysd)
    sad = eq["saddle"]
    assert abs(sad[0] - sad[1]) <= 1e-10
    info = ds.classify_equilibrium(sysd, sad)
    assert info["kind"] == "saddle" and info["n_unstable"] == 1
    lam, vec = np.linalg.eig(sysd.jacobian(sad))
    v = np.real(vec[:, np.argmax(lam.real)])
    v = v / np.linalg.norm(v)
    np.testing.assert_allclose(np.abs(v), np.array([1, 1, 0]) / np.sqrt(2), atol=1e-8)
    assert v[0] * v[1] < 0
    # the foci are mirror images across h1 = h2 and stable
    np.testing.assert_allclose(eq["focus_1"][[1, 0, 2]], eq["focus_2"], atol=1e-9)
    assert ds.classify_equilibrium(sysd, eq["focus_1"])["kind"] == "stable"


@pytest.mark.parametrize("system", [ds.duffing(), ds.decision(), ds.lorenz(), ds.oscillators(), ds.hodgkin_huxley()])
def test_jacobians_match_finite_differences(system):
    rng = np.random.default_rng(1)
    x = rng.normal(size=system.dim)
    if system.name == "Hodgkin-Huxley":
        x = np.array([-58.0, 0.1, 0.4, 0.35])
    np.testing.assert_allclose(system.jacobian(x), fd_jacobian(system, x), rtol=1e-6, atol=1e-6)


def test_simulate_linear_case_against_matrix_exponential():
    # Duffing with beta = 0 is linear: x(t) = expm(A t) x0
    sysd = ds.duffing(alpha=1.0, beta=0.0, delta=0.3)
    A = np.array([[0.0, 1.0], [-1.0, -0.3]])
    x0 = np.array([[1.0, -0.5], [0.2, 0.7]])
    X = ds.simulate(sysd, x0, 0.25, 12, rtol=1e-12, atol=1e-12)
    expected = np.stack([[expm(A * 0.25 * k) @ s for k in range(12)] for s in x0])
    np.testing.assert_allclose(X, expected, atol=1e-9)
    Xs = ds.simulate(sysd, x0, 0.25, 12, rtol=1e-12, atol=1e-12, joint=False)
    np.testing.assert_allclose(Xs, expected, atol=1e-9)


def test_hodgkin_huxley_rest_state():
    hh = ds.hodgkin_huxley(8.0)
    rest = ds.equilibrium(hh, [-60.0, 0.1, 0.45, 0.4])
    assert abs(rest[0] - (-60.35)) < 0.01
    assert ds.classify_equilibrium(hh, rest)["kind"] == "stable"


def test_standardiser_and_delay_embedding():
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(4, 50, 3))
    st = ds.Standardiser.fit(x)
    u = st(x)
    np.testing.assert_allclose(u.reshape(-1, 3).mean(0), 0.0, atol=1e-12)
    np.testing.assert_allclose(u.reshape(-1, 3).std(0), 1.0, atol=1e-12)
    np.testing.assert_allclose(st.inverse(u), x, atol=1e-12)
    e = ds.delay_embed(np.arange(10.0), 3, 2)
    assert e.shape == (6, 3)
    np.testing.assert_array_equal(e[0], [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(e[-1], [5.0, 7.0, 9.0])


def test_bad_inputs():
    with pytest.raises(ValueError, match="shape"):
        ds.lorenz()(np.zeros(2))
    with pytest.raises(ValueError, match="dt"):
        ds.simulate(ds.lorenz(), np.ones(3), -0.1, 5)
    with pytest.raises(ValueError, match="n_samples"):
        ds.simulate(ds.lorenz(), np.ones(3), 0.1, 0)
    with pytest.raises(ValueError, match="too short"):
        ds.delay_embed(np.arange(4.0), 3, 2)
    with pytest.raises(ValueError, match="constant"):
        ds.Standardiser.fit(np.ones((5, 2)))
    with pytest.raises(ValueError, match="unknown Hodgkin"):
        ds.hodgkin_huxley(g_Ca=1.0)
    with pytest.raises(ValueError, match="no equilibrium"):
        ds.equilibrium(ds.ODESystem("drift", 1, {}, lambda x: x * 0 + 1.0, lambda x: np.zeros(x.shape + (1,))), [0.0])
