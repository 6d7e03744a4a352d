"""plrnn.polytope: pieces as polytopes (intervals, Chebyshev centres, hit-and-run, projections),
against closed forms and an independent solver (scipy's SLSQP)."""

import numpy as np
import pytest
from scipy.optimize import minimize

import plrnn
from plrnn import polytope


def _unit_box(P, d):
    eye = np.broadcast_to(np.eye(d), (P, d, d))
    return np.concatenate([eye, -eye], axis=1), np.concatenate([np.ones((P, d)), np.zeros((P, d))], axis=1)


def test_intervals_closed_form():
    # 2 c <= 3, -c <= 1, c <= 5  ->  [-1, 1.5];  c <= -1, -c <= -2 -> empty (l > u)
    A = np.array([[[2.0], [-1.0], [1.0]], [[1.0], [-1.0], [0.0]]])
    b = np.array([[3.0, 1.0, 5.0], [-1.0, -2.0, 1.0]])
    lo, hi = polytope.intervals(A, b)
    assert lo[0] == -1.0 and hi[0] == 1.5
    assert lo[1] > hi[1]


def test_chebyshev_centre_of_the_unit_triangle():
    # {c >= 0, c1 + c2 <= 1}: incircle radius (2 - sqrt 2) / 2, centre (r, r)
    A = np.array([[[-1.0, 0.0], [0.0, -1.0], [1.0, 1.0]]])
    b = np.array([[0.0, 0.0, 1.0]])
    c, r = polytope.chebyshev_points(A, b)
    r0 = (2 - np.sqrt(2)) / 2
    assert r[0] == pytest.approx(r0, abs=1e-9) and np.allclose(c[0], [r0, r0], atol=1e-9)
    # an empty polytope: c <= -1 and c >= 1
    _, r = polytope.chebyshev_points(np.array([[[1.0], [-1.0]]]), np.array([[-1.0, -1.0]]))
    assert r[0] == -np.inf or r[0] < 0


@pytest.mark.parametrize("d", [2, 5])
def test_hit_and_run_is_uniform_on_the_simplex(d):
    # the simplex {c >= 0, sum c <= 1}: a uniform point has mean 1/(d+1) per coordinate and
    # E[sum c] = d / (d + 1)
    n = 4000
    A = np.concatenate([-np.eye(d), np.ones((1, d))])[None]
    b = np.concatenate([np.zeros(d), [1.0]])[None]
    start = np.full((n, d), 1.0 / (2 * d))
    rng = np.random.default_rng(0)
    c = polytope.hit_and_run(A, b, start, 60, rng, piece=np.zeros(n, dtype=int))
    assert np.all(c >= -1e-12) and np.all(c.sum(1) <= 1 + 1e-12)
    assert np.allclose(c.mean(0), 1.0 / (d + 1), atol=0.02)
    assert c.sum(1).mean() == pytest.approx(d / (d + 1), abs=0.02)
    # per-chain polytopes give the same chains as per-piece ones (same random numbers)
    c2 = polytope.hit_and_run(np.repeat(A, n, 0), np.repeat(b, n, 0), start, 60, np.random.default_rng(0))
    assert np.allclose(c, c2, atol=1e-12)


def test_project_matches_an_independent_solver():
    rng = np.random.default_rng(1)
    d, k, n = 5, 4, 12
    H = rng.normal(size=(n, k, d))
    inner = rng.uniform(-0.3, 0.3, (n, d))  # a point strictly inside every polytope
    h = np.einsum("nkd,nd->nk", H, inner) + rng.uniform(0.05, 0.5, (n, k))
    lo, hi = -np.ones((n, d)), np.ones((n, d))
    q = rng.normal(0, 2.0, (n, d))
    got = polytope.project(H, h, lo, hi, q)
    for i in range(n):
        cons = [{"type": "ineq", "fun": lambda c, i=i: h[i] - H[i] @ c, "jac": lambda c, i=i: -H[i]}]
        res = minimize(lambda c: 0.5 * np.sum((c - q[i]) ** 2), inner[i], jac=lambda c: c - q[i],
                       constraints=cons, bounds=[(-1, 1)] * d, method="SLSQP", options=dict(ftol=1e-14, maxiter=500))
        assert res.success
        assert np.linalg.norm(got[i] - res.x) < 1e-6
        assert np.all(H[i] @ got[i] <= h[i] + 1e-9) and np.all(np.abs(got[i]) <= 1 + 1e-12)


def test_project_closed_form_and_points_inside_stay():
    # unit box in 2-D cut by c1 <= 0.5: (2, 0.3) -> (0.5, 0.3); (0.2, 0.7) is inside
    H = np.array([[[1.0, 0.0]], [[1.0, 0.0]]])
    h = np.array([[0.5], [0.5]])
    lo, hi = np.zeros((2, 2)), np.ones((2, 2))
    got = polytope.project(H, h, lo, hi, np.array([[2.0, 0.3], [0.2, 0.7]]))
    assert np.allclose(got, [[0.5, 0.3], [0.2, 0.7]], atol=1e-14)


def _half_region_piece():
    """A 2-D piece in 3-D: the plane z1 = 0 with basis (e2, e3), box [-1, 1]^2, in the region where
    the ALRNN's one rectified unit (z3) is off: the piece is c2 in [-1, 1], c3 in [-1, 0]."""
    model = plrnn.ALRNN(np.full(3, 0.5), 0.1 * np.eye(3), np.zeros(3), 1)
    code = int(model.region_id(np.array([0.0, 0.0, -1.0])))
    man = plrnn.PieceManifold(model=model, cycle=None, j=0, kind="stable", variant="provenance",
                              origins=np.zeros((1, 3)), bases=np.eye(3)[None, :, 1:], lo=-np.ones((1, 2)),
                              hi=np.ones((1, 2)), codes=np.array([code]), levels=np.zeros(1, int),
                              parents=np.full(1, -1), residuals=np.zeros(1))
    return model, man


def test_distance_is_measured_to_the_part_of_a_piece_inside_its_region():
    model, man = _half_region_piece()
    x = np.array([[0.3, 0.2, 0.5],    # above the region: nearest point (0, 0.2, 0)
                  [0.3, 0.2, -0.5],   # over the piece: distance 0.3
                  [0.0, 2.0, 0.5]])   # beyond box and region: nearest (0, 1, 0)
    expect = [np.hypot(0.3, 0.5), 0.3, np.hypot(1.0, 0.5)]
    assert np.allclose(man.distance(x), expect, atol=1e-12)
    assert np.allclose(man.piece_distance(x, np.zeros(3, dtype=int)), expect, atol=1e-12)


def test_sample_stays_inside_the_region_and_the_window():
    model, man = _half_region_piece()
    x, which = man.sample(500, seed=0, within=(np.full(3, -0.5), np.full(3, 2.0)), return_piece=True)
    assert x.shape == (500, 3) and np.all(which == 0)
    assert np.all(np.abs(x[:, 0]) < 1e-15)  # on the plane
    assert np.all(x[:, 2] <= 1e-12) and np.all(x[:, 2] >= -0.5 - 1e-12)  # region (z3 <= 0) and window
    assert np.all((x[:, 1] >= -0.5 - 1e-12) & (x[:, 1] <= 1 + 1e-12))
    # uniform on the rectangle [-0.5, 1] x [-0.5, 0]: means 0.25 and -0.25
    assert x[:, 1].mean() == pytest.approx(0.25, abs=0.05) and x[:, 2].mean() == pytest.approx(-0.25, abs=0.03)
    with pytest.raises(ValueError, match="could only draw 0 of 5"):
        man.sample(5, within=(np.array([-1.0, -1.0, 0.5]), np.full(3, 2.0)))  # the window misses the region's half


def test_pieces_are_drawn_in_proportion_to_their_area():
    # two pieces of the plane z1 = 0 in the region z3 <= 0: [0, 1] x [-1, 0] (area 1) and [0, 2] x [-2, 0] (area 4)
    model = plrnn.ALRNN(np.full(3, 0.5), 0.1 * np.eye(3), np.zeros(3), 1)
    code = int(model.region_id(np.array([0.0, 0.0, -1.0])))
    man = plrnn.PieceManifold(model=model, cycle=None, j=0, kind="stable", variant="provenance",
                              origins=np.zeros((2, 3)), bases=np.repeat(np.eye(3)[None, :, 1:], 2, 0),
                              lo=np.array([[0.0, -1.0], [0.0, -2.0]]), hi=np.array([[1.0, 0.0], [2.0, 0.0]]),
                              codes=np.array([code, code]), levels=np.zeros(2, int), parents=np.full(2, -1),
                              residuals=np.zeros(2))
    _, which = man.sample(4000, seed=1, return_piece=True)
    assert np.mean(which == 0) == pytest.approx(0.2, abs=0.03)
