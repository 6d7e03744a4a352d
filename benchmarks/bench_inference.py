"""Benchmark of PC inference and one PC training step against a matrix-product floor.

Run from the repository root::

    .venv/bin/python benchmarks/bench_inference.py [--repeats K] [--device cpu|cuda] [--threads T]

It prints a table and writes ``_build/benchmarks/inference.json``. What is measured:

a. One PC training step of the fully connected net 784-500-500-500-500-10 (batch 64, 50 Euler
   steps, dt = 0.1): ``pc.infer(...)`` then ``pc.weight_grads(...)`` at the returned activities,
   for tanh / linear / relu in float32 and tanh in float64. The *floor* is the time of exactly the
   bare matrix products that step needs, with the same shapes, timed in the same run with
   ``torch.matmul(..., out=buffer)`` into preallocated buffers:

   * per Euler step: the predictions of layers 2..L (``z_{l-1} W_l^T``, H products) and the
     feedback through W_2..W_L (``eps_{l+1} W_{l+1}``, H products), i.e. 2H products;
   * once: layer 1's prediction ``x W_1^T`` (it does not change during inference);
   * weight_grads: the L forward products ``z_{l-1} W_l^T`` and the L gradient products
     ``eps_l^T z_{l-1}``.

   (Not in the floor: the feed-forward pass ``infer`` uses to initialise the activities, L more
   products, about 1% of the step; and all the elementwise work.) The ratio step / floor is the
   overhead of everything that is not a matrix product; the target is <= 1.3.

b. A linear net of width 300 with H = 10 hidden layers (784 in, 10 out, batch 64, float64,
   ``default_uniform`` weights): ``infer(method="exact")`` vs ``infer(method="euler", tol=1e-8)``
   (Euler steps taken, speed-up) and the relative energy difference of the two equilibria.

c. The same net with ``method="heun"`` (rtol = atol = 1e-3): time, accepted / rejected steps, and
   the relative energy difference to the exact equilibrium.

Timings are medians over ``--repeats`` runs after warm-up (the minimum is reported too); the step
and its floor are timed alternately so that load from other processes affects both alike.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

from pcsaddles import pc
from pcsaddles.dln import forward
from pcsaddles.init import default_uniform

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "_build" / "benchmarks" / "inference.json"

FC_WIDTHS = [784, 500, 500, 500, 500, 10]
BATCH = 64
DT = 0.1
N_STEPS = 50


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}
_clock = time.perf_counter


def _timer(fn, device):
    def timed() -> float:
        _sync(device)
        t0 = _clock()
        fn()
        _sync(device)
        return _clock() - t0

    return timed


def _time_alternating(fns: dict, device, repeats: int, warmup: int = 2) -> dict[str, dict]:
    """Time several callables in alternation; return ``{name: {"median": s, "min": s, "all": [...]}}``."""
    timers = {k: _timer(f, device) for k, f in fns.items()}
    for _ in range(warmup):
        for t in timers.values():
            t()
    runs: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, t in timers.items():
            runs[k].append(t())
    return {k: {"median": statistics.median(v), "min": min(v), "all": v} for k, v in runs.items()}


def _data(widths, dtype, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(BATCH, widths[0], generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)
    y = torch.randn(BATCH, widths[-1], generator=gen, dtype=torch.float64).to(dtype=dtype, device=device)
    return x, y


def _floor(weights, x, n_steps):
    """The bare matrix products of one training step (see module docstring), into preallocated buffers.

    Returns ``(infer_floor, grads_floor)`` closures.
    """
    n_layers = len(weights)
    dev, dtype = x.device, x.dtype
    widths = [x.shape[1]] + [w.shape[0] for w in weights]
    gen = torch.Generator().manual_seed(1)

    def rand(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).to(dtype=dtype, device=dev)

    zs = [x] + [rand(BATCH, d) for d in widths[1:]]  # z_0 = x, z_1..z_H, z_L = y
    eps = [rand(BATCH, d) for d in widths[1:]]  # slopes eps_1..eps_L
    pre = [torch.empty(BATCH, d, dtype=dtype, device=dev) for d in widths[1:]]
    fb = [torch.empty(BATCH, d, dtype=dtype, device=dev) for d in widths[1:-1]]
    gw = [torch.empty_like(w) for w in weights]
    wt = [w.T for w in weights]

    def infer_floor():
        torch.matmul(x, wt[0], out=pre[0])  # layer 1's prediction, once
        for _ in range(n_steps):
            for i in range(1, n_layers):  # predictions of layers 2..L
                torch.matmul(zs[i], wt[i], out=pre[i])
            for i in range(n_layers - 1):  # feedback through W_2..W_L
                torch.matmul(eps[i + 1], weights[i + 1], out=fb[i])

    def grads_floor():
        for i in range(n_layers):  # forward products
            torch.matmul(zs[i], wt[i], out=pre[i])
        for i in range(n_layers):  # gradient products eps_l^T z_{l-1}
            torch.matmul(eps[i].T, zs[i], out=gw[i])

    return infer_floor, grads_floor


def bench_step(activation: str, dtype, device, repeats: int) -> dict:
    weights = default_uniform(FC_WIDTHS, seed=0, dtype=dtype, device=device)
    x, y = _data(FC_WIDTHS, dtype, device)
    z_eq = pc.infer(weights, x, y, activation, dt=DT, n_steps=N_STEPS)
    infer_floor, grads_floor = _floor(weights, x, N_STEPS)

    def step():
        z = pc.infer(weights, x, y, activation, dt=DT, n_steps=N_STEPS)
        pc.weight_grads(weights, z, x, y, activation)

    def infer_only():
        pc.infer(weights, x, y, activation, dt=DT, n_steps=N_STEPS)

    def grads_only():
        pc.weight_grads(weights, z_eq, x, y, activation)

    def floor():
        infer_floor()
        grads_floor()

    t = _time_alternating(
        {"step": step, "floor": floor, "infer": infer_only, "infer_floor": infer_floor,
         "weight_grads": grads_only, "weight_grads_floor": grads_floor},
        device, repeats,
    )
    n_layers = len(weights)
    return {
        "activation": activation,
        "dtype": str(dtype).removeprefix("torch."),
        "widths": FC_WIDTHS,
        "batch": BATCH,
        "n_steps": N_STEPS,
        "dt": DT,
        "n_matmuls_floor": 1 + N_STEPS * 2 * (n_layers - 1) + 2 * n_layers,
        "step_s": t["step"]["median"],
        "step_min_s": t["step"]["min"],
        "floor_s": t["floor"]["median"],
        "floor_min_s": t["floor"]["min"],
        "ratio": t["step"]["median"] / t["floor"]["median"],
        "ratio_min": t["step"]["min"] / t["floor"]["min"],
        # median of the per-repeat ratios: each step is timed right next to its floor, so this is
        # the most robust to load from other processes
        "ratio_paired": statistics.median([a / b for a, b in zip(t["step"]["all"], t["floor"]["all"])]),
        "infer_s": t["infer"]["median"],
        "infer_floor_s": t["infer_floor"]["median"],
        "infer_ratio": t["infer"]["median"] / t["infer_floor"]["median"],
        "weight_grads_s": t["weight_grads"]["median"],
        "weight_grads_floor_s": t["weight_grads_floor"]["median"],
        "weight_grads_ratio": t["weight_grads"]["median"] / t["weight_grads_floor"]["median"],
    }


def _rel_energy_diff(weights, za, zb, x, y) -> float:
    ea = float(pc.energy(weights, za, x, y))
    eb = float(pc.energy(weights, zb, x, y))
    return abs(ea - eb) / abs(ea)


def bench_linear_deep(device, repeats: int, slow_repeats: int, tol: float, max_euler: int, heun: bool) -> dict:
    widths = [784] + [300] * 10 + [10]
    dtype = torch.float64
    weights = default_uniform(widths, seed=0, dtype=dtype, device=device)
    x, y = _data(widths, dtype, device)

    z_exact = pc.infer(weights, x, y, method="exact")
    z_euler, info = pc.infer(weights, x, y, method="euler", dt=DT, n_steps=max_euler, tol=tol, return_info=True)
    out = {
        "widths": widths,
        "batch": BATCH,
        "dtype": "float64",
        "euler": {"dt": DT, "tol": tol, "max_steps": max_euler, "steps": info.n_steps,
                  "converged": info.converged, "max_grad": info.max_grad,
                  "rel_energy_diff_vs_exact": _rel_energy_diff(weights, z_euler, z_exact, x, y)},
        "energy_exact": float(pc.energy(weights, z_exact, x, y)),
        "energy_feedforward": float(pc.energy(weights, forward(weights, x)[:-1], x, y)),
    }
    # exact is cheap: many repeats; euler and heun take seconds: a few repeats, the runs above
    # (which fetched the step counts) served as warm-up
    t = _time_alternating({"exact": lambda: pc.infer(weights, x, y, method="exact")}, device, repeats)
    slow = {"euler": lambda: pc.infer(weights, x, y, method="euler", dt=DT, n_steps=max_euler, tol=tol)}
    if heun:
        z_heun, hinfo = pc.infer(weights, x, y, method="heun", rtol=1e-3, atol=1e-3, return_info=True)
        out["heun"] = {"rtol": 1e-3, "atol": 1e-3, "t1": hinfo.t, "accepted": hinfo.n_steps,
                       "rejected": hinfo.n_rejected, "max_grad": hinfo.max_grad,
                       "rel_energy_diff_vs_exact": _rel_energy_diff(weights, z_heun, z_exact, x, y)}
        slow["heun"] = lambda: pc.infer(weights, x, y, method="heun", rtol=1e-3, atol=1e-3)
    t.update(_time_alternating(slow, device, slow_repeats, warmup=0))
    for k in ("exact", *slow):
        out.setdefault(k, {})
        out[k]["time_s"] = t[k]["median"]
        out[k]["time_min_s"] = t[k]["min"]
        out[k]["repeats"] = len(t[k]["all"])
    out["euler"]["speedup_exact"] = t["euler"]["median"] / t["exact"]["median"]
    if heun:
        out["heun"]["speedup_exact"] = t["heun"]["median"] / t["exact"]["median"]
    return out


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _ms(s: float) -> str:
    return f"{1e3 * s:9.2f}"


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=20, help="timed repeats per measurement (after warm-up)")
    p.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    p.add_argument("--threads", type=int, default=None,
                   help="torch intra-op threads (default: the CPUs this process may use)")
    p.add_argument("--slow-repeats", type=int, default=3,
                   help="timed repeats of the (slow) euler and heun runs of parts b, c")
    p.add_argument("--tol", type=float, default=1e-8, help="Euler tolerance for part b")
    p.add_argument("--max-euler", type=int, default=200_000, help="Euler step limit for part b")
    p.add_argument("--parts", default="abc",
                   help="which parts to run (a: training step, b: exact vs euler, c: heun, d: the paper's CIFAR-10 "
                   "conv net, one BP and one PC training step; slow on a CPU, about a minute per repeat)")
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                   help="wall: elapsed time (default); cpu: this process's CPU time (time.process_time), which "
                   "on a shared machine leaves out the time other processes hold the CPU -- use it with "
                   "--threads 1 on CPU only (with more threads it adds up the threads' times)")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    global _clock
    _clock = CLOCKS[args.clock]
    if args.clock == "cpu" and args.device == "cuda":
        p.error("--clock cpu measures CPU time; use --clock wall with --device cuda")

    if args.device == "cuda" and not torch.cuda.is_available():
        p.error("--device cuda requested but torch.cuda.is_available() is False")
    device = torch.device(args.device)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)

    env = {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "device": args.device,
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else _cpu_name(),
        "num_threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "repeats": args.repeats,
        "clock": args.clock,
        "loadavg_before": os.getloadavg(),
    }
    print(f"torch {env['torch']}  device={args.device}  torch.get_num_threads()={env['num_threads']}  "
          f"repeats={args.repeats}  clock={args.clock}  "
          f"load average {env['loadavg_before'][0]:.2f} on {env['cpu_count']} CPUs")
    if env["loadavg_before"][0] > env["cpu_count"]:
        print("warning: the machine is busy (load average above the CPU count); wall-clock timings will be noisy "
              "(consider --threads 1 --clock cpu)")

    steps, worst, deep = [], None, None
    # a. one training step vs the matmul floor
    if "a" in args.parts:
        steps = _run_steps(device, args.repeats)
        worst = max(r["ratio"] for r in steps)
        print(f"worst step/floor ratio {worst:.3f} (target <= 1.3: {'met' if worst <= 1.3 else 'NOT met'})")

    # b./c. exact vs euler (vs heun) on a deep linear net
    if "b" in args.parts:
        deep = bench_linear_deep(device, args.repeats, args.slow_repeats, args.tol, args.max_euler, "c" in args.parts)
        _print_deep(deep)

    conv = None
    if "d" in args.parts:
        conv = bench_conv(device, args.slow_repeats)

    env["loadavg_after"] = os.getloadavg()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"env": env, "step": steps, "worst_ratio": worst, "linear_deep": deep, "conv": conv},
                                   indent=2))
    print(f"\nwrote {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0


def _run_steps(device, repeats):
    variants = [("tanh", torch.float32), ("linear", torch.float32), ("relu", torch.float32), ("tanh", torch.float64)]
    print(f"\na. one PC training step, {'-'.join(map(str, FC_WIDTHS))}, batch {BATCH}, {N_STEPS} Euler steps "
          f"(dt {DT}) + weight_grads; times: medians in ms; ratio: of the medians, [min]: of the minima, "
          "[pair]: median of the per-repeat ratios")
    hdr = (f"{'activation':>10} {'dtype':>8} | {'step':>9} {'floor':>9} {'ratio':>6} {'[min]':>6} {'[pair]':>6} | "
           f"{'infer':>9} {'floor':>9} {'ratio':>6} | {'w_grads':>9} {'floor':>9} {'ratio':>6}")
    print(hdr)
    print("-" * len(hdr))
    steps = []
    for activation, dtype in variants:
        r = bench_step(activation, dtype, device, repeats)
        steps.append(r)
        print(f"{activation:>10} {r['dtype']:>8} | {_ms(r['step_s'])} {_ms(r['floor_s'])} {r['ratio']:6.3f} "
              f"{r['ratio_min']:6.3f} {r['ratio_paired']:6.3f} | "
              f"{_ms(r['infer_s'])} {_ms(r['infer_floor_s'])} {r['infer_ratio']:6.3f} | "
              f"{_ms(r['weight_grads_s'])} {_ms(r['weight_grads_floor_s'])} {r['weight_grads_ratio']:6.3f}",
              flush=True)
    return steps


def bench_conv(device, repeats: int) -> dict:
    """d. The paper's CIFAR-10 conv net (pcsaddles.layered.conv_net, ReLU, float32), batch 64:
    one BP step (loss gradient) and one PC training step (50 Euler steps + weight gradient)."""
    from pcsaddles import layered

    net = layered.conv_net((3, 32, 32), activation="relu", std=5e-3, dtype=torch.float32, device=device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, 3072, generator=gen).to(device)
    y = torch.nn.functional.one_hot(torch.arange(BATCH) % 10, 10).to(torch.float32).to(device)
    fns = {"bp_step": lambda: layered.loss_grads(net, x, y), "pc_step": lambda: layered.pc_grads(net, x, y, N_STEPS, DT)}
    times = _time_alternating(fns, device, repeats, warmup=1)
    out = {"params": net.n_params, "batch": BATCH, "n_steps": N_STEPS,
           **{f"{k}_s": v["median"] for k, v in times.items()}}
    print(f"\nd. CIFAR-10 conv net ({net.n_params:,} parameters), batch {BATCH}, float32: BP step "
          f"{_ms(out['bp_step_s'])} ms, PC step ({N_STEPS} Euler steps + weight gradient) {_ms(out['pc_step_s'])} ms "
          f"(x{out['pc_step_s'] / out['bp_step_s']:.0f})")
    return out


def _print_deep(deep):
    print(f"\nb. linear net {deep['widths'][0]}-300x10-{deep['widths'][-1]}, batch {BATCH}, float64")
    e = deep["euler"]
    print(f"   exact          : {_ms(deep['exact']['time_s'])} ms")
    print(f"   euler tol={e['tol']:.0e}: {_ms(e['time_s'])} ms, {e['steps']} steps (dt {e['dt']}, "
          f"converged={e['converged']}), exact is {e['speedup_exact']:.0f}x faster; "
          f"|F_euler - F_exact| / F_exact = {e['rel_energy_diff_vs_exact']:.2e}")
    if "heun" in deep:
        h = deep["heun"]
        print(f"c. heun rtol=atol=1e-3: {_ms(h['time_s'])} ms, {h['accepted']} accepted + {h['rejected']} rejected "
              f"steps to t={h['t1']:g}, exact is {h['speedup_exact']:.0f}x faster; "
              f"|F_heun - F_exact| / F_exact = {h['rel_energy_diff_vs_exact']:.2e}")


if __name__ == "__main__":
    sys.exit(main())
