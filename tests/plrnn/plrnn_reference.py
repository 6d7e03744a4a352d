"""Independent references for the plrnn tests, written without the package.

The paper's 2-D maps are written directly as two matrices (``A_l`` for ``x <= 0``, ``A_r`` for
``x >= 0``) from the parameter tuple; cycles are enumerated over L/R words with itertools; the exact
inverse is the closed form of the book's Part III departures page; distances are plain loops.
"""

from __future__ import annotations

import itertools

import numpy as np

# (tau_r, delta_r, tau_l, delta_l, c, d, h2, h1), the paper's Appendix H.1 sets
SETS = {
    "3A1": (1.2, 1.8, -0.3, 0.9, -1.5, 1.0, -0.1, -0.13),
    "3A2": (1.26, 0.71, -0.39, -0.91, -0.44, 0.56, 0.62, -0.28),
    "3B1": (-1.85, 0.9, -0.3, 0.9, 1.0, 0.0, 0.0, -1.0),
    "3B2": (-1.85, 0.9, 0.9, 0.9, 1.0, 0.0, 0.0, -1.0),
    "5": (1.5, 0.75, -1.77, 0.9, 0.6, 0.15, -0.4, -0.7),
}


def pieces(params):
    tr, dr, tl, dl, c, d, h2, h1 = params
    return (np.array([[tl, c], [-dl, d]]), np.array([[tr, c], [-dr, d]]), np.array([h1, h2]))


def bc_map(params, z):
    """The piecewise map, applied point by point."""
    Al, Ar, B = pieces(params)
    z = np.atleast_2d(z)
    out = np.empty_like(z)
    for i, p in enumerate(z):
        out[i] = (Al if p[0] <= 0 else Ar) @ p + B
    return out


def bc_inverse(params, Y):
    """Exact inverse of an invertible 2-piece map: l(Y) = e1^T A_l^{-1} (Y - B) decides the side."""
    Al, Ar, B = pieces(params)
    Y = np.atleast_2d(Y)
    xl = np.linalg.solve(Al, (Y - B).T).T
    xr = np.linalg.solve(Ar, (Y - B).T).T
    return np.where((xl[:, 0] <= 0)[:, None], xl, xr)


def enumerate_cycles(params, k, tol=1e-9):
    """All cycles of minimal period k by brute force over the 2^k L/R words: list of (points (k,2),
    multipliers sorted by modulus descending, word)."""
    Al, Ar, B = pieces(params)
    found = []
    for word in itertools.product("LR", repeat=k):
        mats = [Al if s == "L" else Ar for s in word]
        prod, q = np.eye(2), np.zeros(2)
        for m in mats:
            prod, q = m @ prod, m @ q + B
        if abs(np.linalg.det(np.eye(2) - prod)) < 1e-12:
            continue
        z = np.linalg.solve(np.eye(2) - prod, q)
        pts = [z]
        for m in mats[:-1]:
            pts.append(m @ pts[-1] + B)
        pts = np.array(pts)
        ok = all((p[0] <= tol) if s == "L" else (p[0] >= -tol) for p, s in zip(pts, word))
        if not ok:
            continue
        if k > 1 and np.min(np.linalg.norm(pts[1:] - pts[0], axis=1)) < 1e-8:
            continue  # not minimal
        dup = False
        for other, _, _ in found:
            for r in range(k):
                if np.max(np.abs(np.roll(other, -r, axis=0) - pts)) < 1e-8:
                    dup = True
        if dup:
            continue
        mult = np.linalg.eigvals(prod)
        found.append((pts, mult[np.argsort(-np.abs(mult))], "".join(word)))
    return found


def fd_jacobian(f, z, h=1e-6):
    z = np.asarray(z, dtype=np.float64)
    M = z.size
    J = np.empty((M, M))
    for i in range(M):
        e = np.zeros(M)
        e[i] = h
        J[:, i] = (f(z + e) - f(z - e)) / (2 * h)
    return J


def seg_distance(x, seg):
    """Distance of each point to the nearest segment, by loops."""
    out = []
    for p in np.atleast_2d(x):
        best = np.inf
        for a, b in seg:
            d = b - a
            t = 0.0 if d @ d == 0 else min(1.0, max(0.0, (p - a) @ d / (d @ d)))
            best = min(best, float(np.linalg.norm(p - a - t * d)))
        out.append(best)
    return np.array(out)


def alrnn_step(A, W, h, P, z):
    M = len(A)
    phi = np.array([z[i] if i < M - P else max(z[i], 0.0) for i in range(M)])
    return A * z + W @ phi + h


def alrnn_preimages(A, W, h, P, y, tol=1e-10):
    """Every preimage of y by enumeration over the 2^P patterns of the rectified units."""
    M = len(A)
    sols = []
    for bits in itertools.product([0, 1], repeat=P):
        D = np.diag([1.0] * (M - P) + list(bits))
        J = np.diag(A) + W @ D
        if abs(np.linalg.det(J)) < 1e-14:
            continue
        x = np.linalg.solve(J, y - h)
        ok = all((x[M - P + i] >= -tol) if b else (x[M - P + i] <= tol) for i, b in enumerate(bits))
        if ok and not any(np.max(np.abs(x - s)) < 1e-8 for s in sols):
            sols.append(x)
    return sols


def random_alrnn_arrays(rng, M=6, P=3, scale=0.4):
    A = rng.uniform(0.3, 0.9, size=M)
    W = rng.normal(0, scale, size=(M, M))
    h = rng.normal(0, 0.5, size=M)
    return A, W, h, P
