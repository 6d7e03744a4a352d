"""Closed-form fixed points, cycle invariants, SCYFI against exhaustive enumeration
(and both against a brute-force enumeration written separately)."""

import sys
from pathlib import Path

import numpy as np
import pytest

import plrnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plrnn_reference import SETS, bc_map, enumerate_cycles, pieces  # noqa: E402


def test_fixed_points_in_closed_form():
    # border-collision normal form (c = 1, d = 0, h2 = 0, mu = h1): FP_L = (mu / (1 - tau_l + delta_l), -delta_l x)
    for name, expect in (("3B1", (-5 / 11, 9 / 22)), ("3B2", (-1.0, 0.9))):
        tr, dr, tl, dl, c, d, h2, mu = SETS[name]
        x = mu / (1 - tl + dl)
        assert np.allclose([x, -dl * x], expect, atol=1e-15)
        fps = [cy for cy in plrnn.cycles(plrnn.paper_map(name), 1) if cy.stability == "stable"]
        assert len(fps) == 1
        assert np.max(np.abs(fps[0].points[0] - expect)) < 1e-12
    # eigenvalues of A_l for 3B1: -0.15 +- i sqrt(3.51)/2, modulus sqrt(0.9)
    ev = plrnn.cycles(plrnn.paper_map("3B1"), 1)[0].eigenvalues
    assert np.max(np.abs(np.sort_complex(ev) - np.array([-0.15 - 1j * np.sqrt(3.51) / 2, -0.15 + 1j * np.sqrt(3.51) / 2]))) < 1e-12
    assert np.max(np.abs(np.abs(ev) - np.sqrt(0.9))) < 1e-12


@pytest.mark.parametrize("name, k", [("3B1", 3), ("3B2", 4)])
def test_cycle_invariants(name, k):
    cyc = [c for c in plrnn.cycles(plrnn.paper_map(name), k) if c.is_saddle]
    assert len(cyc) == 1
    c = cyc[0]
    # the reference's pieces along the orbit: the multipliers are the eigenvalues of their product
    Al, Ar, _ = pieces(SETS[name])
    z, prod = c.points[0], np.eye(2)
    for _ in range(k):
        prod = (Al if z[0] <= 0 else Ar) @ prod
        z = bc_map(SETS[name], z)[0]
    assert np.max(np.abs(z - c.points[0])) < 1e-10 * (1 + np.abs(z).max())
    assert abs(np.prod(c.eigenvalues) - 0.9 ** k) < 1e-10  # det A_l = det A_r = 0.9
    mult = np.linalg.eigvals(prod)
    assert np.all(np.isreal(mult))
    assert np.max(np.abs(np.sort(np.real(c.eigenvalues)) - np.sort(np.real(mult)))) < 1e-10
    assert c.period == k and c.stability == "saddle" and c.n_unstable == 1


def _same_sets(a, b):
    if len(a) != len(b):
        return False
    for pa in a:
        if not any(pa.shape == pb.shape and any(np.max(np.abs(np.roll(pb, -r, axis=0) - pa)) < 1e-8
                                                  for r in range(pa.shape[0])) for pb in b):
            return False
    return True


@pytest.mark.parametrize("name", list(SETS))
def test_paper_maps_exhaustive_scyfi_and_brute_force_agree(name):
    model = plrnn.paper_map(name)
    for k in range(1, 7):
        ref = enumerate_cycles(SETS[name], k)
        ex = plrnn.cycles(model, k)
        sc = plrnn.cycles(model, k, method="scyfi", seed=0)
        assert _same_sets([r[0] for r in ref], [c.points for c in ex]), (name, k)
        assert _same_sets([c.points for c in ex], [c.points for c in sc]), (name, k)
        for r in ref:  # same multipliers
            match = [c for c in ex if _same_sets([r[0]], [c.points])][0]
            assert np.max(np.abs(np.sort_complex(match.eigenvalues) - np.sort_complex(r[1]))) < 1e-9


def test_set5_cycle_counts_and_all_saddles():
    model = plrnn.paper_map("5")
    counts = [len(plrnn.cycles(model, k)) for k in range(1, 9)]
    assert counts == [len(enumerate_cycles(SETS["5"], k)) for k in range(1, 9)]
    assert counts[:3] == [1, 1, 2]
    assert all(c.stability == "saddle" for k in range(1, 9) for c in plrnn.cycles(model, k))


def _rich_alrnn(seed):
    rng = np.random.default_rng(seed)
    M, P = 6, 3
    A = rng.uniform(0.5, 0.95, size=M)
    W = rng.normal(0, 1.0 / np.sqrt(M), size=(M, M)) * 1.5
    h = rng.normal(0, 0.5, size=M)
    return plrnn.ALRNN(A, W, h, P)


@pytest.mark.parametrize("seed", [8, 17, 26, 34, 5])
def test_random_alrnn_scyfi_is_sound_and_complete_with_budget(seed):
    model = _rich_alrnn(seed)
    for k in range(1, 7):
        ex = plrnn.exhaustive_cycles(model, k)
        for c in ex:  # every cycle really is one, of minimal period k
            z = c.points[0]
            for j in range(k):
                assert np.max(np.abs(model.step(c.points[j]) - c.points[(j + 1) % k])) < 1e-9 * (1 + np.abs(z).max())
        default = plrnn.scyfi_search(model, k, seed=0).cycles
        assert all(any(_same_sets([c.points], [e.points]) for e in ex) for c in default)
        if not _same_sets([c.points for c in ex], [c.points for c in default]):  # missed some: a 5x outer budget finds all
            budget = plrnn.scyfi_search(model, k, seed=0, outer=50).cycles
            assert _same_sets([c.points for c in ex], [c.points for c in budget]), (seed, k)


def test_cycle_through_a_point_and_types():
    model = plrnn.paper_map("3B2")
    four = [c for c in plrnn.cycles(model, 4) if c.is_saddle][0]
    again = plrnn.scyfi.cycle_through(model, four.points[2])
    assert again.period == 4 and _same_sets([again.points], [four.points])
    assert plrnn.scyfi.classify([0.5, 2.0]) == "saddle" and plrnn.scyfi.classify([0.5, 0.2j]) == "stable"
    assert plrnn.scyfi.classify([1.5, 2.0]) == "repeller" and plrnn.scyfi.classify([1.0, 0.5]) == "non-hyperbolic"


def test_cycles_bad_input():
    model = plrnn.paper_map("3A2")
    with pytest.raises(ValueError, match="k .*>= 1.*received 0"):
        plrnn.cycles(model, 0)
    with pytest.raises(TypeError, match="k .*int"):
        plrnn.cycles(model, 1.5)
    with pytest.raises(ValueError, match="unknown method 'newton'"):
        plrnn.cycles(model, 1, method="newton")
    with pytest.raises(TypeError, match="plrnn model"):
        plrnn.cycles(np.eye(2), 1)
    with pytest.raises(ValueError, match="not a point of a cycle"):
        plrnn.scyfi.cycle_through(model, np.array([3.0, 3.0]))
