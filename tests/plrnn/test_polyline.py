"""The local eigenspace of a saddle; exact polylines and segment clipping."""

import sys
from pathlib import Path

import numpy as np
import pytest

import plrnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plrnn import local, polyline
from plrnn_reference import SETS, bc_map, seg_distance  # noqa: E402


def _alrnn_saddle():
    for seed in range(200):
        rng = np.random.default_rng(seed)
        M, P = 5, 2
        model = plrnn.ALRNN(rng.uniform(0.5, 0.95, size=M), rng.normal(0, 0.6, size=(M, M)), rng.normal(0, 0.5, size=M), P)
        saddles = [c for c in plrnn.cycles(model, 1) if c.is_saddle and 0 < c.n_unstable < M - 1]
        if saddles:
            return model, saddles[0]
    pytest.fail("no random ALRNN with a saddle having a multi-dimensional stable space")


def test_stable_space_is_invariant_and_dynamics_are_linear_there():
    model, cyc = _alrnn_saddle()
    sp = local.local_space(model, cyc, 0, "stable")
    E, J, p = sp.basis, cyc.jacobian, cyc.points[0]
    assert np.allclose(E.T @ E, np.eye(sp.dim), atol=1e-12)
    proj = E @ E.T
    assert np.linalg.norm((np.eye(model.M) - proj) @ J @ E) < 1e-10
    # a point of p + E^s inside p's region: F^n(x) - p = J^n (x - p) while the orbit stays in the region
    units = model.switching_units
    margin = np.min(np.abs(model.G[units] @ p + model.g[units]))
    vals, vecs = np.linalg.eig(J)
    stable = np.abs(vals) < 1
    x0 = p + 0.01 * margin * (E @ np.ones(sp.dim)) / np.linalg.norm(E @ np.ones(sp.dim))
    x, Jn = x0.copy(), np.eye(model.M)
    for n in range(1, 30):
        x = model.step(x)
        Jn = J @ Jn
        assert model.region_id(x) == cyc.codes[0]
        assert np.linalg.norm(x - p - Jn @ (x0 - p)) <= 1e-10 * np.linalg.norm(x0 - p)
        c_n = np.linalg.solve(vecs, x - p)
        c_0 = np.linalg.solve(vecs, x0 - p)
        assert np.max(np.abs(c_n[stable] - vals[stable] ** n * c_0[stable])) <= 1e-10 * np.abs(c_0).max()
        assert np.max(np.abs(c_n[~stable])) <= 1e-10 * np.abs(c_0).max()


@pytest.mark.parametrize("name, k", [("3A2", 1), ("3B1", 3), ("5", 1)])
def test_backward_levels_map_forward_onto_previous_level(name, k):
    model = plrnn.paper_map(name)
    cyc = [c for c in plrnn.cycles(model, k) if c.is_saddle][0]
    man = polyline.exact_manifold(model, cyc, 0, "stable", depth=8, box=50)
    assert man.levels.max() >= 3
    for lev in range(2, man.levels.max() + 1):
        verts = man.segments[man.levels == lev].reshape(-1, 2)
        img = bc_map(SETS[name], verts)
        inside = np.all(np.abs(img) < 49, axis=1)  # images of vertices clipped away at the box are not kept
        prev = man.segments[man.levels == lev - 1]
        assert seg_distance(img[inside][:60], prev).max() < 1e-9
    un = polyline.exact_manifold(model, cyc, 0, "unstable", depth=6, box=50)
    for lev in range(1, un.levels.max()):
        verts = un.segments[un.levels == lev].reshape(-1, 2)[:60]
        img = bc_map(SETS[name], verts)
        inside = np.all(np.abs(img) < 49, axis=1)
        assert seg_distance(img[inside], un.segments[un.levels == lev + 1]).max() < 1e-9


def test_chord_is_exact_local_piece():
    model = plrnn.paper_map("5")
    cyc = plrnn.cycles(model, 1)[0]
    for kind in ("stable", "unstable"):
        sp = local.local_space(model, cyc, 0, kind)
        lo, hi = local.chord(model, sp)
        lam = float(np.real(sp.eigenvalues[0]))
        for a in np.linspace(lo, hi, 11):
            # stable: one step from a chord point is multiplication by lambda; unstable: every chord point is
            # the image of the chord point a / lambda (it may itself lie outside p's region)
            src = a if kind == "stable" else a / lam
            x = sp.point + src * sp.basis[:, 0]
            assert np.allclose(model.step(x), sp.point + lam * src * sp.basis[:, 0], atol=1e-12)
            if kind == "unstable":
                assert lo <= src <= hi


def test_clipping_keeps_the_inside_part_of_a_crossing_segment():
    seg = np.array([[[-2.0, 0.5], [2.0, 0.5]], [[-3.0, -3.0], [3.0, 3.0]], [[2.0, 2.0], [3.0, 3.0]]])
    out = polyline.clip_segments(seg, [-1, -1], [1, 1])
    assert out.shape == (2, 2, 2)  # both endpoints outside, yet the segments cross the box
    assert np.allclose(out[0], [[-1, 0.5], [1, 0.5]], atol=1e-15)
    assert np.allclose(out[1], [[-1, -1], [1, 1]], atol=1e-15)
    assert np.all(np.abs(out) <= 1 + 1e-15)


def test_split_at_borders_puts_vertices_on_the_border():
    model = plrnn.paper_map("3A2")
    seg = np.array([[[-1.0, 0.3], [2.0, -0.4]]])
    out = polyline.split_at_borders(model, seg)
    assert out.shape == (2, 2, 2) and abs(out[0, 1, 0]) < 1e-15 and np.allclose(out[0, 1], out[1, 0])
