"""The inverse-step cascade against the exact inverse and against enumeration;
invertibility by counting preimages."""

import sys
from pathlib import Path

import numpy as np
import pytest

import plrnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plrnn_reference import SETS, alrnn_preimages, bc_inverse, bc_map, random_alrnn_arrays  # noqa: E402


@pytest.mark.parametrize("name", ["3A2", "3B1", "5"])
def test_inverse_step_equals_closed_form_inverse(name):
    model = plrnn.paper_map(name)
    y = np.random.default_rng(0).uniform(-3, 3, size=(10_000, 2))
    inv = plrnn.InverseStep(model)
    res = inv(y)
    assert np.all(res.ok)
    assert np.max(np.abs(bc_map(SETS[name], res.x) - y)) < 1e-10 * (1 + np.abs(y).max())
    assert np.max(np.abs(res.x - bc_inverse(SETS[name], y))) < 1e-10 * (1 + np.abs(res.x).max())
    stages = inv.stages()
    assert stages[1] + stages[2] == y.shape[0] and stages[3] == stages[4] == stages[5] == 0


def test_cascade_reaches_later_stages_and_fails_cleanly():
    rng = np.random.default_rng(3)
    A, W, h, P = random_alrnn_arrays(rng, M=5, P=4, scale=0.3)
    model = plrnn.ALRNN(A, W, h, P)
    y = rng.normal(size=(500, 5)) * 3
    inv = plrnn.InverseStep(model)
    res = inv(y)
    for i in np.flatnonzero(res.ok):
        assert np.max(np.abs(model.step(res.x[i]) - y[i])) < 1e-9 * (1 + np.abs(y[i]).max())
    assert np.all(np.isnan(res.x[~res.ok]))
    assert sum(inv.stages().values()) == y.shape[0]


def test_cascade_equals_unique_preimage_by_enumeration():
    rng = np.random.default_rng(5)
    for _ in range(50):  # a random ALRNN whose region Jacobians all have det > 0
        A, W, h, P = random_alrnn_arrays(rng, M=5, P=3, scale=0.25)
        model = plrnn.ALRNN(A, W, h, P)
        if np.all(plrnn.regions.determinants(model) > 0):
            break
    else:
        pytest.fail("no coherently oriented random ALRNN found")
    y = rng.normal(size=(300, 5)) * 2
    res = plrnn.inverse_step(model, y)
    assert np.all(res.ok)
    for i in range(y.shape[0]):
        sols = alrnn_preimages(A, W, h, P, y[i])
        assert len(sols) == 1
        assert np.max(np.abs(sols[0] - res.x[i])) < 1e-9 * (1 + np.abs(sols[0]).max())


def test_invertibility_by_enumeration():
    y = np.random.default_rng(1).uniform(-3, 3, size=(1000, 2))
    for name in ("3A1", "3A2", "3B1", "5"):  # equal-sign determinants: exactly one preimage
        model = plrnn.paper_map(name)
        assert plrnn.regions.coherently_oriented(model)
        assert np.all(plrnn.regions.preimages(model, y).count == 1)
    tr, dr, tl, dl, c, d, h2, h1 = SETS["3A1"]
    flipped = plrnn.border_collision(tr, -dr, tl, dl, c, d, h2, h1)  # det A_l = -1.65, det A_r = +3.9
    det = plrnn.regions.determinants(flipped)
    assert np.allclose(sorted(det), [-1.65, 3.9], atol=1e-12)
    assert not plrnn.regions.coherently_oriented(flipped)
    counts = plrnn.regions.preimages(flipped, y).count
    assert np.any(counts == 0) and np.any(counts == 2) and set(np.unique(counts)) <= {0, 1, 2}


def test_stage4_over_all_regions_matches_the_flip_by_flip_cascade():
    """For few switching units stage 4 tries every region at once; it must pick the same preimage as
    the flip-by-flip order, and every accepted point is one of the preimages found by enumeration
    (none accepted where enumeration finds none)."""
    rng = np.random.default_rng(7)
    A, W, h, P = random_alrnn_arrays(rng, M=6, P=5, scale=0.6)
    model = plrnn.ALRNN(A, W, h, P)
    y = rng.normal(size=(400, 6)) * 2
    fast = plrnn.InverseStep(model)
    slow = plrnn.InverseStep(model)
    slow.VECTOR_UNITS = 0  # the flip-by-flip loop
    a, b = fast(y), slow(y)
    assert fast.stages()[4] > 0  # the case is exercised
    assert np.array_equal(a.stage, b.stage) and np.array_equal(a.code, b.code)
    assert np.allclose(a.x[a.ok], b.x[b.ok], rtol=0, atol=1e-12)
    for i in range(y.shape[0]):
        ref = alrnn_preimages(A, W, h, P, y[i], tol=1e-9)
        if a.ok[i]:
            assert min(np.max(np.abs(a.x[i] - s)) for s in ref) < 1e-8
        else:
            assert not ref
