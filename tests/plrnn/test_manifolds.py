"""Algorithm 1 against the exact polyline and the contract of plrnn.manifold."""

import sys
from pathlib import Path

import numpy as np
import pytest

import plrnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plrnn_reference import SETS, alrnn_step, bc_map, random_alrnn_arrays, seg_distance  # noqa: E402


def _saddle(name, k=1):
    model = plrnn.paper_map(name)
    return model, [c for c in plrnn.cycles(model, k) if c.is_saddle][0]


@pytest.mark.parametrize("kind", ["stable", "unstable"])
def test_algorithm1_on_3A2_is_flat_and_on_the_exact_manifold(kind):
    model, cyc = _saddle("3A2")
    alg = plrnn.manifold(model, cyc, kind, n_iter=12)
    exact = plrnn.manifold(model, cyc, kind, method="exact", depth=12)
    assert alg.residuals.max() < 1e-9  # every piece is straight (PCA residual ratio)
    p = cyc.points[0]
    window = (p - 2, p + 2)
    pts = alg.sample(300, seed=0, within=window)
    assert seg_distance(pts, exact.window(p - 2.5, p + 2.5)).max() < 1e-6  # point-to-segment, not a densified copy
    back = exact.sample(300, seed=1, within=window)
    assert alg.distance(back).max() < 1e-6  # and the algorithm covers the exact manifold


def test_sample_contract_and_points_lie_on_invariant_sets():
    model, cyc = _saddle("3A2")
    for kind in ("stable", "unstable"):
        for method in ("paper", "exact"):
            man = plrnn.manifold(model, cyc.points[0], kind, method=method)
            x = man.sample(50, seed=0)
            assert x.shape == (50, 2) and np.all(np.isfinite(x))
            assert np.array_equal(x, man.sample(50, seed=0))
            # invariance: images (unstable) or preimages (stable) of manifold points stay on the manifold
            img = bc_map(SETS["3A2"], x) if kind == "unstable" else plrnn.inverse_step(model, x).x
            img = img[np.all(np.abs(img) < 10, axis=1)]
            exact = plrnn.manifold(model, cyc, kind, method="exact", depth=14)
            assert exact.distance(img).max() < 1e-9


def test_cycle_manifold_covers_the_orbit_and_region_variant_runs():
    model, cyc = _saddle("3B1", 3)
    man = plrnn.manifold(model, (cyc, 1), "stable", n_iter=5)
    near = [man.distance(p[None])[0] for p in cyc.points]
    assert max(near) < 1e-12  # a local piece at every cycle point
    for curved in ("kpca", "cluster"):
        reg = plrnn.manifold(model, cyc, "stable", n_iter=4, variant="region", curved=curved)
        assert reg.n_pieces > 0 and reg.sample(20).shape == (20, 2)


def test_sample_in_a_window_skips_curved_pieces_that_miss_it():
    # a window around one curved piece's own points: every draw lies in the window and on a piece whose
    # points reach it, and a window that no piece reaches is reported, not filled
    model, cyc = _saddle("3B1", 3)
    reg = plrnn.manifold(model, cyc, "stable", n_iter=4, variant="region", curved="kpca")
    assert reg.curved, "the region variant with kernel PCA should make curved pieces here"
    c0 = reg.curved[0].points
    window = (c0.min(0) - 1e-3, c0.max(0) + 1e-3)
    pts, owner = reg.sample(200, seed=0, within=window, return_piece=True)
    assert np.all((pts >= window[0]) & (pts <= window[1]))
    P = reg.origins.shape[0]
    for ci in np.unique(owner[owner >= P]) - P:  # a curved piece drawn from must have points near the window
        cp = reg.curved[ci].points
        assert np.any(np.all((cp >= window[0] - 0.5) & (cp <= window[1] + 0.5), axis=1))
    far = (np.full(2, 1e6), np.full(2, 1e6 + 1))
    with pytest.raises(ValueError, match="could only draw 0 of 10 points"):
        reg.sample(10, within=far)


def test_manifold_bad_input():
    model, cyc = _saddle("3A2")
    focus = [c for c in plrnn.cycles(model, 1) if c.stability == "stable"][0]
    with pytest.raises(ValueError, match="unknown kind 'both'"):
        plrnn.manifold(model, cyc, "both")
    with pytest.raises(ValueError, match="unknown method 'newton'"):
        plrnn.manifold(model, cyc, "stable", method="newton")
    with pytest.raises(ValueError, match="stable cycle.*need a saddle"):
        plrnn.manifold(model, focus.points[0], "stable")
    with pytest.raises(ValueError, match="not a point of a cycle"):
        plrnn.manifold(model, np.array([0.3, 0.1]), "stable")
    with pytest.raises(ValueError, match=r"shape \(\.\.\., 2\).*received shape \(3,\)"):
        plrnn.manifold(model, np.zeros(3), "stable")
    with pytest.raises(TypeError, match="plrnn model"):
        plrnn.manifold("3A2", cyc, "stable")
    tr, dr, tl, dl, c, d, h2, h1 = SETS["3A1"]
    flipped = plrnn.border_collision(tr, -dr, tl, dl, c, d, h2, h1)
    sad = [cy for cy in plrnn.cycles(flipped, 1) if cy.is_saddle]
    if sad:
        with pytest.raises(ValueError, match="invertible"):
            plrnn.manifold(flipped, sad[0], "stable", method="exact")
    rng = np.random.default_rng(0)
    for seed in range(100):  # a 3-D model with a saddle: 'exact' does not apply
        rng = np.random.default_rng(seed)
        m3 = plrnn.PLRNN(rng.uniform(0.3, 0.9, 3), rng.normal(0, 1, (3, 3)), rng.normal(0, 1, 3))
        s3 = [cy for cy in plrnn.cycles(m3, 1) if cy.is_saddle]
        if s3:
            break
    with pytest.raises(ValueError, match="2-D maps"):
        plrnn.manifold(m3, s3[0], "unstable", method="exact")
    with pytest.raises(ValueError, match="n must be an int >= 1"):
        plrnn.manifold(model, cyc, "stable", n_iter=2).sample(0)


def _random_alrnn_saddle(seed, M, P, scale):
    """A random ALRNN (the reference's generator) and its saddle fixed point with one unstable direction."""
    A, W, h, P = random_alrnn_arrays(np.random.default_rng(seed), M=M, P=P, scale=scale)
    model = plrnn.ALRNN(A, W, h, P)
    sad = [c for c in plrnn.cycles(model, 1) if c.is_saddle and c.n_unstable == 1][0]
    return (A, W, h, P), model, sad


def _on_piece(man, x, k, tol=1e-9):
    """Plain numpy: is each x (n, M) on flat piece k (its plane, its coordinate box, its region)?"""
    o, E = man.origins[k], man.bases[k]
    rel = x - o
    c = rel @ E
    perp = np.linalg.norm(rel - c @ E.T, axis=1)
    box = np.all((c >= man.lo[k] - tol) & (c <= man.hi[k] + tol), axis=1)
    bits = (int(man.codes[k]) >> np.arange(man.model.n_units)) & 1  # ALRNN: unit i is state M - P + i
    z = x[:, man.model.M - man.model.n_units:]
    region = np.all(np.where(bits == 1, z >= -tol, z <= tol), axis=1)
    return (perp <= tol * (1 + np.abs(x).max(axis=1))) & box & region


def test_algorithm1_propagates_in_high_dimension():
    """An 11-D stable manifold of a random 12-D ALRNN: pieces beyond the local one, every piece's
    support points lie on it, and their images lie on the piece they came from (the local piece
    for the first iteration); points sampled on the pieces (anywhere, and near the saddle) approach
    the saddle under forward iteration: they lie on its stable manifold."""
    (A, W, h, P), model, sad = _random_alrnn_saddle(32, 12, 4, 0.2)
    man = plrnn.manifold(model, sad, "stable", n_iter=3, n_seeds=300)
    assert man.dim == 11
    per = man.stats["pieces_per_iteration"]
    assert len(per) == 4 and min(per) >= 1 and sum(per[1:]) >= 10 and man.regions().size >= 5
    for k in range(man.origins.shape[0]):
        sup = man.support[man.support_owner == k]
        assert sup.shape[0] >= man.dim + 1 and np.all(_on_piece(man, sup, k))
        if man.levels[k] >= 1:
            img = np.array([alrnn_step(A, W, h, P, z) for z in sup])  # forward: onto the parent piece
            assert np.all(_on_piece(man, img, man.parents[k]))
            assert man.levels[man.parents[k]] == man.levels[k] - 1
    p = sad.points[0]
    x, which = man.sample(200, seed=3, within=(p - 0.3, p + 0.3), return_piece=True)
    assert np.all(np.abs(x - p) <= 0.3 + 1e-12)
    assert all(_on_piece(man, x[which == k], k).all() for k in np.unique(which))
    x_all, which = man.sample(200, seed=4, return_piece=True)
    assert np.unique(man.levels[which]).size >= 2  # from pieces of several iterations
    x = np.concatenate([x, x_all])
    # delta_sigma by hand: the smallest ||F^k(x) - p||^2 / ||x - p||^2 over 300 forward steps
    cur, best = x.copy(), np.ones(x.shape[0])
    for _ in range(300):
        cur = np.array([alrnn_step(A, W, h, P, z) for z in cur])
        best = np.minimum(best, np.sum((cur - p) ** 2, 1) / np.sum((x - p) ** 2, 1))
    assert best.max() < 1e-6


def test_sample_and_distance_of_a_14_dimensional_piece():
    """The local piece of a 14-D stable manifold (15-D ALRNN): 300 points inside a window of
    half-width 0.5 around the saddle (a coordinate-box sampler finds none), each on the piece."""
    _, model, sad = _random_alrnn_saddle(5, 15, 6, 0.15)
    man = plrnn.manifold(model, sad, "stable", n_iter=0)
    p = sad.points[0]
    x = man.sample(300, seed=0, within=(p - 0.5, p + 0.5))
    assert x.shape == (300, 15) and np.all(np.abs(x - p) <= 0.5 + 1e-12)
    assert np.all(_on_piece(man, x, 0))
    assert np.all(man.distance(x) < 1e-12)
    # a point pushed off the plane by t along the normal is at distance t
    normal = np.linalg.svd(man.bases[0].T)[2][-1]
    assert np.allclose(man.distance(x[:20] + 0.01 * normal), 0.01, atol=1e-12)


@pytest.mark.parametrize("kind", ["stable", "unstable"])
def test_algorithm1_follows_images_across_several_borders_between_two_seeds(kind):
    """A 2-D shallow PLRNN with a saddle at the origin and ten close parallel borders across the
    manifold: between two consecutive seeds an image crosses several borders, so intermediate regions
    hold no seed. Algorithm 1 must still agree with the exact polyline both ways."""
    H = 10
    row = [0.1, 1.0] if kind == "stable" else [1.0, 0.1]  # borders across W^s (y-axis) or W^u (x-axis)
    W1 = np.random.default_rng(0).normal(0, 0.03, (2, H))
    model = plrnn.ShallowPLRNN(np.array([1.6, 0.5]), W1, np.tile([row], (H, 1)), np.zeros(2),
                               -(0.3 + 0.07 * np.arange(H)))
    sad = [c for c in plrnn.cycles(model, 1) if c.is_saddle][0]
    assert np.allclose(sad.points[0], 0.0)
    alg = plrnn.manifold(model, sad, kind, n_iter=6, bound=5.0)
    exact = plrnn.manifold(model, sad, kind, method="exact", depth=6, box=5.0)
    window = (-4 * np.ones(2), 4 * np.ones(2))
    assert seg_distance(alg.sample(400, seed=0, within=window), exact.segments).max() < 1e-12
    assert alg.distance(exact.sample(2000, seed=1, within=window)).max() < 1e-12
