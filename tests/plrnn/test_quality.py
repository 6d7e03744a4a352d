"""The paper's delta_sigma and the boundary-distance measure."""

import numpy as np
import pytest

import plrnn
from plrnn import local, polyline, quality


def test_delta_sigma_on_and_off_the_local_chords():
    model = plrnn.paper_map("3A2")
    cyc = [c for c in plrnn.cycles(model, 1) if c.is_saddle][0]
    p = cyc.points[0]
    sp_s = local.local_space(model, cyc, 0, "stable")
    lo, hi = local.chord(model, sp_s)
    a = np.linspace(max(lo, -0.5), min(hi, 0.5), 21)
    a = a[np.abs(a) > 1e-3]
    on = p + a[:, None] * sp_s.basis[:, 0]
    d = plrnn.delta_sigma(model, on, cyc, "stable", K=100)
    assert np.all(d <= 1e-20)
    # a point on the unstable chord, sigma = +1, K small enough that the orbit stays in the region: ratio
    # lambda_u^{2k} > 1 for every k >= 1, so the minimum is the k = 0 term, 1
    sp_u = local.local_space(model, cyc, 0, "unstable")
    x = p + 1e-3 * sp_u.basis[:, 0]
    assert plrnn.delta_sigma(model, x[None], cyc, "stable", K=3)[0] == 1.0
    # always in [0, 1]
    rng = np.random.default_rng(0)
    pts = p + rng.uniform(-1, 1, size=(200, 2))
    for kind in ("stable", "unstable"):
        d = plrnn.delta_sigma(model, pts, cyc, kind, K=50)
        assert np.all((d >= 0) & (d <= 1))


def test_delta_score_separates_on_from_off():
    model = plrnn.paper_map("3A2")
    cyc = [c for c in plrnn.cycles(model, 1) if c.is_saddle][0]
    p = cyc.points[0]
    man = plrnn.manifold(model, cyc, "unstable", method="exact", depth=12)
    score = plrnn.delta_score(model, cyc, "unstable", man.sample(200, within=(p - 0.5, p + 0.5)), r=0.5, n_uniform=300)
    assert 0.95 <= score.value <= 1.0 and score.fraction_above > 0.95


def test_delta_scores_share_the_uniform_points_of_one_box():
    """Several point sets against one U: each result is delta_score of its set, and the uniform points'
    scores are computed once (one array shared by all results)."""
    model = plrnn.paper_map("3A2")
    cyc = [c for c in plrnn.cycles(model, 1) if c.is_saddle][0]
    p = cyc.points[0]
    U = (p - 0.5, p + 0.5)
    sets = [plrnn.manifold(model, cyc, "unstable", method="exact", depth=12).sample(100, seed=s, within=U)
            for s in (0, 1)] + [p + np.random.default_rng(2).uniform(-0.5, 0.5, (100, 2))]  # last: off the manifold
    both = plrnn.delta_scores(model, cyc, "unstable", sets, r=0.5, n_uniform=200, K=40)
    assert len(both) == 3 and both[0].delta_uniform is both[1].delta_uniform is both[2].delta_uniform
    for got, pts in zip(both, sets):
        one = plrnn.delta_score(model, cyc, "unstable", pts, r=0.5, n_uniform=200, K=40)
        np.testing.assert_array_equal(got.delta_on, one.delta_on)
        np.testing.assert_array_equal(got.delta_uniform, one.delta_uniform)
        assert (got.value, got.value_p95, got.delta_max) == (one.value, one.value_p95, one.delta_max)
    assert both[0].value > 0.9 and both[2].value < 0.5
    with pytest.raises(TypeError, match="list of"):
        plrnn.delta_scores(model, cyc, "unstable", sets[0])


def test_delta_sigma_bad_input():
    model = plrnn.paper_map("3A2")
    cyc = plrnn.cycles(model, 1)[1]
    with pytest.raises(ValueError, match="unknown kind"):
        plrnn.delta_sigma(model, np.zeros((3, 2)), cyc, "saddle")
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plrnn.delta_sigma(model, np.zeros(2), cyc, "stable")
    with pytest.raises(ValueError, match=r"\(\.\.\., 2\)"):
        plrnn.delta_sigma(model, np.zeros((3, 3)), cyc, "stable")
    focus = plrnn.cycles(model, 1)[0]
    assert focus.stability == "stable"
    with pytest.raises(ValueError, match="saddle.*'stable'"):
        plrnn.delta_sigma(model, np.ones((3, 2)), focus, "stable")
    with pytest.raises(ValueError, match="not a point of a cycle"):
        plrnn.delta_sigma(model, np.ones((3, 2)), np.array([5.0, 5.0]), "stable")


class _Line:
    """The manifold x = 0 as one long segment."""

    seg = np.array([[[0.0, -10.0], [0.0, 10.0]]])

    def distance(self, x):
        return polyline.point_segment_distance(np.asarray(x), self.seg)

    def sample(self, n, seed=0, within=None):
        return polyline.sample_segments(polyline.clip_segments(self.seg, *within), n, np.random.default_rng(seed))


def test_boundary_metric_half_plane():
    h = 0.1
    xs = (np.arange(20) - 10 + 0.5) * h  # offset by h/2: no grid point on x = 0
    X, Y = np.meshgrid(xs, xs)
    pts = np.stack([X.ravel(), Y.ravel()], 1)
    labels = (X > 0).astype(int)
    out = quality.boundary_distances(pts, labels, h, _Line(), ((-1, -1), (1, 1)), n_manifold=500)
    assert out["b2m_max"] == pytest.approx(0.5, abs=1e-12)  # boundary pixels at x = +-h/2
    assert out["b2m_within_1h"] == 1.0
    assert out["m2b_max"] <= np.sqrt(0.5 ** 2 + 0.5 ** 2) + 1e-12
    assert out["n_boundary"] == 40
    with pytest.raises(ValueError, match="no boundary"):
        quality.boundary_distances(pts, np.zeros_like(labels), h, _Line(), ((-1, -1), (1, 1)))
