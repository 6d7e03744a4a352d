"""Analysis helpers for trained models, on the paper's 2-D map 3A2 (exact manifolds known) and toy cases."""

import numpy as np
import pytest

from plrnn import trained
from plrnn.polyline import exact_manifold
from plrnn.systems import paper_map


@pytest.fixture(scope="module")
def map3a2():
    m = paper_map("3A2")
    return m, trained.skeleton(m)


def test_skeleton_of_3a2(map3a2):
    m, sk = map3a2
    assert len(sk.stable) == 1 and len(sk.saddles) == 1 and not sk.other
    np.testing.assert_allclose(sk.stable[0].points[0], [-0.39130435, 0.59980237], atol=1e-8)
    np.testing.assert_allclose(sk.saddles[0].points[0], [0.92783505, -0.08809747], atol=1e-8)


def test_stable_cloud_lies_on_the_exact_manifold_with_normals(map3a2):
    m, sk = map3a2
    sad = sk.saddles[0]
    cloud = trained.stable_cloud(m, sad, n_seeds=30, depth=6, seed=0)
    exact = exact_manifold(m, sad, 0, "stable", depth=12, box=100.0)
    assert cloud.depth.max() >= 3
    assert exact.distance(cloud.points).max() <= 1e-9
    # the normal is perpendicular to the manifold: the direction of the exact segment holding the point
    seg = exact.segments[np.linalg.norm(exact.segments[:, 1] - exact.segments[:, 0], axis=1) > 1e-9]
    a, ab = seg[:, 0], seg[:, 1] - seg[:, 0]
    for x, nrm in zip(cloud.points[::5], cloud.normals[::5]):
        t = np.clip(((x - a) * ab).sum(1) / (ab ** 2).sum(1), 0.0, 1.0)
        k = np.argmin(np.linalg.norm(a + t[:, None] * ab - x, axis=1))
        assert abs(nrm @ ab[k]) / np.linalg.norm(ab[k]) <= 1e-6


def test_unstable_orbits_lie_on_the_exact_manifold(map3a2):
    m, sk = map3a2
    orb = trained.unstable_orbits(m, sk.saddles[0], 15, n_seeds=10)
    exact = exact_manifold(m, sk.saddles[0], 0, "unstable", depth=30, box=100.0)
    assert orb.shape == (16, 20, 2)
    assert exact.distance(orb.reshape(-1, 2)).max() <= 1e-9


def test_labels_bisection_probes():
    from plrnn.models import PLRNN

    # z -> 0.5 z: everything converges to the one stable fixed point 0
    m = PLRNN([0.5, 0.5], np.zeros((2, 2)), [0.0, 0.0])
    sk = trained.skeleton(m)
    assert trained.label_states(m, np.array([[3.0, -1.0], [0.1, 0.2]]), sk.stable).tolist() == [0, 0]
    flip = lambda x: (x[:, 0] > 0.3).astype(int)
    t, x = trained.bisect_boundary(flip, np.zeros((2, 2)), np.array([[1.0, 0.0], [0.2, 0.0]]), n_bisect=40)
    assert abs(t[0] - 0.3) <= 1e-9 and np.isnan(t[1])
    plus, minus = trained.probe_sides(flip, np.array([[0.3, 0.0]]), np.array([[1.0, 0.0]]), 0.05)
    assert plus.tolist() == [1] and minus.tolist() == [0]


def test_mean_return_time_and_box():
    t = np.arange(2000)
    assert trained.mean_return_time(np.sin(2 * np.pi * t / 40.0)) == pytest.approx(40.0, rel=1e-3)
    assert np.isnan(trained.mean_return_time(np.ones(100)))
    pts = np.array([[0.0, 0.0], [0.5, 0.5], [2.0, 0.0]])
    np.testing.assert_array_equal(trained.points_in_box(pts, [0, 0], 1.0, exclude=0.1), [[0.5, 0.5]])
    # a random subset of at most n of the rows inside: distinct rows, all inside, reproducible by seed
    grid = np.stack(np.meshgrid(np.arange(-3.0, 4.0), np.arange(-3.0, 4.0)), -1).reshape(-1, 2)  # 49 points
    inside = {tuple(v) for v in grid if np.abs(v).max() <= 2 and np.hypot(*v) > 0.5}  # 25 - 1 (the centre) = 24
    sub = trained.points_in_box(grid, [0, 0], 2.0, exclude=0.5, n=10, seed=3)
    assert sub.shape == (10, 2) and len({tuple(v) for v in sub}) == 10 and {tuple(v) for v in sub} <= inside
    np.testing.assert_array_equal(sub, trained.points_in_box(grid, [0, 0], 2.0, exclude=0.5, n=10, seed=3))
    every = trained.points_in_box(grid, [0, 0], 2.0, exclude=0.5, n=100)  # fewer inside than n: all of them
    assert every.shape == (24, 2) and {tuple(v) for v in every} == inside


def test_bad_inputs(map3a2):
    m, sk = map3a2
    with pytest.raises(ValueError, match="saddle"):
        trained.stable_cloud(m, sk.stable[0])
    with pytest.raises(ValueError, match="one shape"):
        trained.bisect_boundary(lambda x: x[:, 0] > 0, np.zeros((2, 2)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="1-D"):
        trained.mean_return_time(np.zeros((3, 3)))


def test_stable_cloud_of_a_saddle_cycle():
    # the period-3 saddle of set 3B1: cloud points on the exact stable manifold of the whole orbit
    m = paper_map("3B1")
    from plrnn.scyfi import cycles

    cyc = [c for c in cycles(m, 3) if c.is_saddle][0]
    cloud = trained.stable_cloud(m, cyc, n_seeds=20, depth=4, seed=0)
    exact = exact_manifold(m, cyc, 0, "stable", depth=12, box=100.0)
    assert cloud.normals is not None and cloud.points.shape[0] > 3 * 20
    assert exact.distance(cloud.points).max() <= 1e-9
