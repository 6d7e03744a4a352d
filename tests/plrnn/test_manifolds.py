"""SPEC test 9 (Algorithm 1 against the exact polyline) and the contract of plrnn.manifold."""

import sys
from pathlib import Path

import numpy as np
import pytest

import plrnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plrnn_reference import SETS, bc_map, seg_distance  # noqa: E402


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
