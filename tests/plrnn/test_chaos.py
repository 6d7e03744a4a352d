"""The first homoclinic point of the Fig. 5 map and Lyapunov spectra."""

import sys
from pathlib import Path

import numpy as np

import plrnn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from plrnn_reference import SETS, bc_map, bc_inverse, pieces  # noqa: E402


def test_first_homoclinic_point_of_set5():
    model = plrnn.paper_map("5")
    cyc = plrnn.cycles(model, 1)[0]
    res = plrnn.homoclinic_points(model, cyc, 5, 5, half_length=0.05)
    assert res.points.shape == (1, 2)
    q = res.points[0]
    assert np.max(np.abs(q - [-0.0714335, -0.0413305])) < 1e-6
    assert res.certified[0] and res.sines[0] > 0.5
    # independent certification: 3 forward steps land on the stable eigen-line of A_l through p
    Al, _, _ = pieces(SETS["5"])
    vals, vecs = np.linalg.eig(Al)
    p = cyc.points[0]
    vs = np.real(vecs[:, np.argmin(np.abs(vals))])
    z = q.copy()
    for _ in range(3):
        z = bc_map(SETS["5"], z)[0]
    rel = z - p
    assert abs(rel[0] * vs[1] - rel[1] * vs[0]) / np.linalg.norm(vs) < 1e-8
    assert z[0] <= 0  # inside p's region (x <= 0), where the stable line is invariant
    assert res.steps_forward[0] == 3
    # and its backward orbit: q is within 1e-8 of the unstable eigen-line of A_l through p
    vu = np.real(vecs[:, np.argmax(np.abs(vals))])
    zb = q.copy()
    dist = []
    for _ in range(3):
        dist.append(abs((zb - p)[0] * vu[1] - (zb - p)[1] * vu[0]) / np.linalg.norm(vu))
        zb = bc_inverse(SETS["5"], zb)[0]
    assert min(dist) < 1e-8 and res.steps_backward[0] <= 1


def test_homoclinic_counts_grow_with_depth():
    model = plrnn.paper_map("5")
    cyc = plrnn.cycles(model, 1)[0]
    counts = [len(plrnn.homoclinic_points(model, cyc, n, n, half_length=0.5).points) for n in range(2, 6)]
    assert counts[0] >= 1 and all(b >= a for a, b in zip(counts, counts[1:]))


def test_lyapunov_of_a_linear_map_and_the_sum_rule():
    lam = np.array([1.3, -0.6, 0.2])
    model = plrnn.PLRNN(np.diag(lam), np.zeros((3, 3)), np.zeros(3))
    res = plrnn.lyapunov_spectrum(model, np.array([[0.1, 0.2, 0.3]]), 500, n_transient=0, escape=1e300)
    assert np.max(np.abs(res.exponents[0] - np.sort(np.log(np.abs(lam)))[::-1])) < 1e-10
    m5 = plrnn.paper_map("5")
    z0 = np.array([[0.1, -0.1], [-0.2, 0.3]])
    res = plrnn.lyapunov_spectrum(m5, z0, 5000, n_transient=500)
    # the orbit average of log|det J| on the same orbit (a chaotic orbit: only the package's own step
    # reproduces it bit for bit), with the determinants from the reference's two matrices
    Al, Ar, _ = pieces(SETS["5"])
    ld = {True: np.log(abs(np.linalg.det(Al))), False: np.log(abs(np.linalg.det(Ar)))}
    z = z0.copy()
    for _ in range(500):
        z = m5.step(z)
    acc = np.zeros(2)
    for _ in range(5000):
        acc += [ld[bool(v[0] <= 0)] for v in z]
        z = m5.step(z)
    assert np.max(np.abs(res.exponents.sum(1) - acc / 5000)) < 1e-6
    assert np.all(res.exponents[:, 0] > 0.4)
