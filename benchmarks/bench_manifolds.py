"""Benchmark of Part III's manifold constructions and cycle searches (package ``plrnn``).

Run from the repository root::

    .venv/bin/python benchmarks/bench_manifolds.py [--repeats K] [--threads T] [--parts abc] [--max-units P]

It prints three tables and writes ``_build/benchmarks/manifolds.json``. What is measured:

a. **2-D maps** (the paper's sets 3A1, 3A2, 3B1, 3B2, 5): for each saddle's stable and unstable
   manifold, the paper's Algorithm 1 (``plrnn.manifold(..., method="paper")``, provenance grouping,
   30 seeds per piece) and the exact polyline construction (``method="exact"``), with the iteration
   counts the chapters use (12 for 3A1, 3A2 and set 5; stable / unstable 40 / 20 for 3B1, 80 / 20 for
   3B2). Reported: median time,
   pieces (segments for the exact construction), regions visited, and points propagated per second
   (Algorithm 1: seed points mapped or inverted over all iterations). Target: every 2-D manifold in
   under one second. Growth: set 5's unstable manifold (chaotic, length growing like e^{0.49 n})
   for 8 to 20 iterations.
b. **A 10-dimensional PLRNN** (random, seeded, with a saddle fixed point whose unstable manifold is
   1-D and stable manifold 9-D): Algorithm 1 for both, pieces and regions per iteration (the growth)
   and points per second; the inverse-step stage counts for the stable manifold.
c. **Cycle search against the number of rectified units**: random ALRNNs with ``M = 10`` units of
   which ``P = 2 .. max-units`` are rectified; fixed points and 2-cycles (and 3-cycles while the
   enumeration has at most 2^21 sequences): the exhaustive enumeration (``R^k`` sequences, ``R = 2^P``)
   against SCYFI with the authors' default loop counts, time and recall.

BLAS is limited to ``--threads`` threads (default 1; on a shared 2-core machine multi-threaded BLAS
makes the many tiny products here far slower). Timings are medians over ``--repeats`` runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

import plrnn

ROOT = Path(__file__).resolve().parents[1]
# set: (period of the saddle, iterations for the unstable and the stable manifold, box) as the chapters use them
SETUP_2D = {"3A1": (1, 12, 12, 50.0), "3A2": (1, 12, 12, 50.0), "3B1": (3, 20, 40, 50.0), "3B2": (4, 20, 80, 100.0),
            "5": (1, 12, 12, 10.0)}
GROWTH_ITER = (8, 12, 16, 20)  # set 5, unstable manifold: cost against the number of iterations


def timed(fn, repeats):
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def seed_points(man) -> int:
    """Seed points Algorithm 1 propagated: per iteration, ~ (n_seeds + the 2^d corners of the box for d <= 3) per
    piece of the previous one (``n_seeds`` as the run used it, from its stats)."""
    per_iter = man.stats["pieces_per_iteration"]
    return int(sum(per_iter[:-1]) * (man.stats["n_seeds"] + (2 ** man.dim if man.dim <= 3 else 0)))


def part_a(repeats):
    rows = []
    for name, (k, n_unstable, n_stable, box) in SETUP_2D.items():
        model = plrnn.paper_map(name)
        saddle = [c for c in plrnn.cycles(model, k) if c.is_saddle][0]
        for kind, n_iter in (("unstable", n_unstable), ("stable", n_stable)):
            t_alg, alg = timed(lambda: plrnn.manifold(model, saddle, kind, n_iter=n_iter, bound=box), repeats)
            t_ex, ex = timed(lambda: plrnn.manifold(model, saddle, kind, method="exact", depth=n_iter, box=box), repeats)
            n_pts = seed_points(alg)
            rows.append(dict(set=name, kind=kind, iterations=n_iter, alg_seconds=t_alg, alg_pieces=alg.n_pieces,
                             alg_regions=int(alg.regions().size), alg_points_per_s=n_pts / t_alg,
                             exact_seconds=t_ex, exact_segments=int(ex.segments.shape[0]),
                             under_1s=bool(t_alg < 1.0 and t_ex < 1.0),
                             inverse_stages=alg.stats.get("inverse_stages")))
    model = plrnn.paper_map("5")
    saddle = plrnn.cycles(model, 1)[0]
    growth = []
    for n_iter in GROWTH_ITER:
        t_alg, alg = timed(lambda: plrnn.manifold(model, saddle, "unstable", n_iter=n_iter, bound=10.0), repeats)
        t_ex, ex = timed(lambda: plrnn.manifold(model, saddle, "unstable", method="exact", depth=n_iter, box=10.0), repeats)
        growth.append(dict(iterations=n_iter, alg_seconds=t_alg, alg_pieces=alg.n_pieces, exact_seconds=t_ex,
                           exact_segments=int(ex.segments.shape[0])))
    return rows, growth


def find_10d(seed=0):
    for s in range(seed, seed + 500):
        rng = np.random.default_rng(s)
        M = 10
        W = rng.normal(0, 0.35, (M, M))
        np.fill_diagonal(W, 0.0)
        model = plrnn.PLRNN(rng.uniform(0.5, 0.95, M), W, rng.normal(0, 0.5, M))
        sad = [c for c in plrnn.cycles(model, 1) if c.is_saddle and c.n_unstable == 1
               and np.all(np.isreal(c.eigenvalues[:1]))]
        if sad:
            return s, model, sad[0]
    raise RuntimeError("no 10-D PLRNN with a saddle of one unstable direction found")


def part_b(repeats):
    s, model, saddle = find_10d()
    out = dict(model_seed=s, M=model.M, multipliers=[complex(v) for v in saddle.eigenvalues], runs=[])
    for kind, n_iter, n_seeds in (("unstable", 12, 30), ("stable", 4, 200)):
        t, man = timed(lambda: plrnn.manifold(model, saddle, kind, n_iter=n_iter, n_seeds=n_seeds, bound=50.0), repeats)
        per_iter = man.stats["pieces_per_iteration"]
        regions_per_iter = [int(np.unique(man.codes[man.levels == i]).size) for i in range(len(per_iter))]
        pts = seed_points(man)
        out["runs"].append(dict(kind=kind, dim=man.dim, iterations=n_iter, seeds_per_piece=n_seeds, seconds=t,
                                pieces=man.n_pieces, pieces_per_iteration=per_iter, regions_per_iteration=regions_per_iter,
                                regions=int(man.regions().size), points_per_s=pts / t,
                                max_residual=float(man.residuals.max()), inverse_stages=man.stats.get("inverse_stages")))
    return out


def part_c(repeats, max_units):
    rows = []
    for P in range(2, max_units + 1):
        rng = np.random.default_rng(100 + P)
        M = 10
        model = plrnn.ALRNN(rng.uniform(0.5, 0.95, M), rng.normal(0, 1.5 / np.sqrt(M), (M, M)), rng.normal(0, 0.5, M), P)
        for k in (1, 2, 3):
            if (2 ** P) ** k > 2 ** 21:
                continue
            t_ex, ex = timed(lambda: plrnn.exhaustive_cycles(model, k, max_sequences=2 ** 21), repeats)
            t_sc, sc = timed(lambda: plrnn.scyfi_search(model, k, seed=0), repeats)
            found = sum(any(c.points.shape == e.points.shape and any(
                np.max(np.abs(np.roll(c.points, -r, 0) - e.points)) < 1e-8 for r in range(k)) for c in sc.cycles) for e in ex)
            rows.append(dict(P=P, k=k, sequences=(2 ** P) ** k, exhaustive_seconds=t_ex, cycles=len(ex),
                             scyfi_seconds=t_sc, scyfi_solves=sc.solves, scyfi_found=int(found)))
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--parts", default="abc")
    ap.add_argument("--max-units", type=int, default=10)
    ap.add_argument("--out", default=str(ROOT / "_build" / "benchmarks" / "manifolds.json"))
    args = ap.parse_args()
    env = dict(python=platform.python_version(), numpy=np.__version__, cpu=platform.processor() or platform.machine(),
               cpus=os.cpu_count(), blas_threads=args.threads, load_before=os.getloadavg()[0])
    result = dict(environment=env)
    with threadpool_limits(limits=args.threads):
        if "a" in args.parts:
            rows, growth = part_a(args.repeats)
            result["a_2d_maps"], result["a_growth_set5_unstable"] = rows, growth
            print("\na. 2-D maps: Algorithm 1 (provenance) and the exact polylines, median seconds")
            print(f"{'set':<4} {'kind':<9} {'iter':>4} {'alg s':>7} {'pieces':>7} {'regions':>7} {'points/s':>10} "
                  f"{'exact s':>8} {'segments':>9}  <1 s")
            for r in rows:
                print(f"{r['set']:<4} {r['kind']:<9} {r['iterations']:>4} {r['alg_seconds']:>7.3f} {r['alg_pieces']:>7} "
                      f"{r['alg_regions']:>7} {r['alg_points_per_s']:>10.3g} {r['exact_seconds']:>8.4f} "
                      f"{r['exact_segments']:>9}  {'yes' if r['under_1s'] else 'NO'}")
            print("   growth, set 5 unstable manifold: iterations, Algorithm 1 s / pieces, exact s / segments")
            for g in growth:
                print(f"   {g['iterations']:>3}  {g['alg_seconds']:>7.3f} {g['alg_pieces']:>7}   {g['exact_seconds']:>7.4f} "
                      f"{g['exact_segments']:>7}")
        if "b" in args.parts:
            result["b_10d_plrnn"] = b = part_b(args.repeats)
            print(f"\nb. 10-D PLRNN (seed {b['model_seed']}), saddle multipliers "
                  f"{np.round(np.abs(b['multipliers'][:3]), 3)} ...")
            for r in b["runs"]:
                print(f"  {r['kind']:<8} dim {r['dim']}: {r['seconds']:.2f} s, {r['pieces']} pieces in {r['regions']} regions, "
                      f"{r['points_per_s']:.3g} points/s; pieces per iteration {r['pieces_per_iteration']}; "
                      f"regions per iteration {r['regions_per_iteration']}"
                      + (f"; inverse stages {r['inverse_stages']}" if r["inverse_stages"] else ""))
        if "c" in args.parts:
            result["c_cycle_search"] = rows = part_c(args.repeats, args.max_units)
            print("\nc. Cycle search, ALRNN M = 10 with P rectified units: exhaustive vs SCYFI (default budget)")
            print(f"{'P':>2} {'k':>2} {'sequences':>10} {'exh. s':>8} {'cycles':>6} {'SCYFI s':>8} {'solves':>7} {'found':>6}")
            for r in rows:
                print(f"{r['P']:>2} {r['k']:>2} {r['sequences']:>10} {r['exhaustive_seconds']:>8.3f} {r['cycles']:>6} "
                      f"{r['scyfi_seconds']:>8.3f} {r['scyfi_solves']:>7} {r['scyfi_found']:>6}")
    env["load_after"] = os.getloadavg()[0]
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwritten {out}")


if __name__ == "__main__":
    main()
