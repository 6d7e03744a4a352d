"""Benchmark of one training step of the paper's RNNs (Part III, Table 1).

Run from the repository root::

    .venv/bin/python benchmarks/bench_training.py [--steps K] [--threads T] [--device cpu|cuda|auto]

It prints a table and writes ``_build/benchmarks/training.json``. For every row of the paper's Table 1
(model, latent size M, hidden / rectified units, sequence length, batch, teacher-forcing interval,
noise, regulariser) it times optimiser steps of :func:`plrnn.training.train` on random data of the
right dimension: one model alone (``R = 1``) and four models side by side (``R = 4``, how the
chapters train). The unit is the **optimiser step** (this book's "epoch" count: the paper's Table 1
gives epochs, the lab's code runs 50 steps per epoch, so one lab epoch = 50 steps; both columns are
printed). Timings are medians over ``--repeats`` blocks of ``--steps`` steps after one warm-up
block. On a machine where torch sees a GPU, ``--device auto`` (the default) times on it as well.
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
import torch

from plrnn import torchrnn, training

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "benchmarks" / "training.json"

#: The paper's Table 1 (the neuron row: M and P from the paper, the rest the book's choices).
ROWS = [
    dict(name="Duffing (4A)", kind="shPLRNN", M=2, N=2, units=10, seq_len=100, batch=32, tau=15, noise=0.0, lam=0.0),
    dict(name="decision (4B)", kind="ALRNN", M=15, N=3, units=6, seq_len=100, batch=16, tau=15, noise=0.01, lam=0.2),
    dict(name="Lorenz (4C)", kind="shPLRNN", M=3, N=3, units=20, seq_len=100, batch=16, tau=15, noise=0.05, lam=0.0),
    dict(name="Lorenz (Fig. 2)", kind="ALRNN", M=30, N=3, units=8, seq_len=100, batch=16, tau=15, noise=0.0, lam=0.0),
    dict(name="Lorenz (Fig. 2, reg.)", kind="ALRNN", M=30, N=3, units=8, seq_len=100, batch=16, tau=15, noise=0.0,
         lam=1.0),
    dict(name="oscillators (Fig. 2)", kind="ALRNN", M=40, N=20, units=15, seq_len=25, batch=16, tau=10, noise=0.0,
         lam=0.0),
    dict(name="neuron (4D)", kind="ALRNN", M=25, N=6, units=6, seq_len=100, batch=16, tau=10, noise=0.0, lam=0.0),
]


def time_row(row: dict, R: int, device: str, steps: int, repeats: int) -> dict:
    """Median seconds per optimiser step of ``row`` with ``R`` members on ``device``."""
    data = np.random.default_rng(0).standard_normal((4, 400, row["N"]))
    model = torchrnn.build(row["kind"], row["M"], row["N"], row["units"], seeds=list(range(R))).to(device)
    cfg = training.TrainConfig(steps=steps, batch=row["batch"], seq_len=row["seq_len"], tau=row["tau"], lr=1e-3,
                               noise=row["noise"], reg_lambda=row["lam"], reg_fraction=0.01)
    windows = training.Windows(data, row["seq_len"])
    times = []
    for rep in range(repeats + 1):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        training.train(model, windows, cfg)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        if rep:  # the first block warms up
            times.append((time.perf_counter() - t0) / steps)
    return dict(median=statistics.median(times), min=min(times))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30, help="optimiser steps per timed block (default 30)")
    ap.add_argument("--repeats", type=int, default=3, help="timed blocks per configuration (default 3)")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1: the chapters' setting)")
    ap.add_argument("--device", default="auto", help="cpu, cuda or auto (CPU, and CUDA when torch sees a GPU)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else []) if args.device == "auto" else [args.device]
    env = dict(torch=torch.__version__, threads=torch.get_num_threads(), cpu_count=os.cpu_count(),
               machine=platform.processor() or platform.machine(), loadavg_before=os.getloadavg(),
               cuda=torch.cuda.get_device_name(0) if torch.cuda.is_available() else None)
    print(f"torch {env['torch']}, {env['threads']} thread(s), load average {env['loadavg_before'][0]:.2f} on "
          f"{env['cpu_count']} CPUs; devices {devices}; unit: one optimiser step (a lab epoch = 50 steps)")
    results = []
    header = f"{'configuration':24s} {'device':6s} {'ms/step R=1':>12s} {'ms/step R=4':>12s} {'s/epoch R=1':>12s}"
    print(header)
    for row in ROWS:
        for device in devices:
            one = time_row(row, 1, device, args.steps, args.repeats)
            four = time_row(row, 4, device, args.steps, args.repeats)
            results.append(dict(row, device=device, step_R1=one, step_R4=four, epoch_R1=50 * one["median"]))
            print(f"{row['name']:24s} {device:6s} {1e3 * one['median']:12.1f} {1e3 * four['median']:12.1f} "
                  f"{50 * one['median']:12.2f}")
    env["loadavg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(dict(env=env, unit="seconds per optimiser step", results=results), indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
