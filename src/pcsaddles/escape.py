"""The BP-vs-PC escape experiments of Figures 5, 11 and 12, shared by both chapters.

Every (dataset, activation) pair is trained three ways from the same initial network and the
same batches: PC, BP with the authors' normalisation, and BP with the normalisation-matched
learning rate (:func:`pcsaddles.normalisation.matched_lr_factor`). PC runs first; both BP runs take as
many iterations as PC did. The chapters differ only in the initial network
(:func:`initial_network`), their text and their checks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import numpy as np
import pandas as pd
import torch

from reprokit.runcache import RunStore

from . import data, init, layered, train
from ._checks import check_choice
from .activations import get_activation
from .batching import epoch_batches
from .normalisation import matched_lr_factor
from .stopping import stop_on_plateau

RULES = ("pc", "bp", "bp_matched")
LABELS = {"fashion_mnist": "Fashion-MNIST", "mnist_subset": "MNIST (5 000-image subset)", "mnist": "MNIST",
          "cifar10": "CIFAR-10 (conv net)"}


def select_device(device: str, profile: str) -> torch.device:
    """``"auto"``: CUDA in the paper profile when torch sees a GPU, else CPU; ``"cpu"``; ``"cuda"``
    (an error when no GPU is visible)."""
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda'; received {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device='cuda' but no CUDA device is visible to torch; use device='auto' or 'cpu'")
    use_cuda = device == "cuda" or (device == "auto" and profile == "paper" and torch.cuda.is_available())
    return torch.device("cuda" if use_cuda else "cpu")


def initial_network(in_dim: int, activation: str, *, width: int = 500, depth: int = 4, std: float = 5e-3,
                   penultimate: str = "gaussian", conv: bool = False, conv_bias: str = "default", n_out: int = 10,
                   seed: int = 0, dtype: torch.dtype = torch.float32, device=None):
    """The initial network of a BP-vs-PC run near a zero-rank saddle (Figures 5 and 12).

    Fully connected (``conv=False``): ``[W1, ..., W_{depth+1}]`` with widths
    ``[in_dim, width x depth, n_out]``, all ``N(0, std^2)`` (Figure 5: the origin);
    ``penultimate="default"`` replaces ``W_{L-1}`` by PyTorch's default ``U(+-1/sqrt(fan_in))``
    (Figure 12: the other zero-rank saddle). ``activation`` is then applied by the training loop.

    ``conv=True``: the paper's CIFAR-10 network (:func:`pcsaddles.layered.conv_net`, which needs
    ``in_dim = 3072``), a :class:`pcsaddles.layered.Net` carrying its ``activation``; ``conv_bias``
    ``"default"`` (the authors: PyTorch's default conv biases) or ``"zero"``.
    """
    if conv:
        if in_dim != 3 * 32 * 32:
            raise ValueError(f"the paper's conv net reads 3x32x32 CIFAR-10 images (in_dim 3072); received in_dim={in_dim}")
        return layered.conv_net((3, 32, 32), activation=activation, std=std, bias=conv_bias, penultimate=penultimate,
                                n_out=n_out, seed=seed, dtype=dtype, device=device)
    check_choice("penultimate", penultimate, ("gaussian", "default"))
    get_activation(activation)
    widths = [in_dim] + [width] * depth + [n_out]
    ws = init.gaussian(widths, std, seed=seed, dtype=dtype, device=device)
    if penultimate == "default":
        ws[-2] = init.default_uniform(widths, seed=seed, dtype=dtype, device=device)[-2]
    return ws


def load_datasets(names, device) -> tuple[dict[str, data.Dataset], dict[str, str]]:
    """The datasets that can be had on this machine (moved to ``device``), and for the others the
    first line of the error that says how to get them."""
    sets, unavailable = {}, {}
    for name in names:
        try:
            sets[name] = data.load(name).to(device=device)
        except data.DataUnavailableError as err:
            unavailable[name] = str(err).splitlines()[0]
    return sets, unavailable


def tensor_digest(tensors) -> str:
    """SHA-256 of a list of tensors (shapes, dtypes and values): identifies initial weights or a
    dataset exactly, whatever produced them."""
    h = hashlib.sha256()
    for t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()


def run_rules(sets: dict[str, data.Dataset], initial: Callable, cfg: dict, *, seed: int, store: RunStore,
              max_iter: int = 0, progress: bool = False, checkpoint_every: float = 120.0, legacy_ok: bool = False,
              log: Callable[[str], None] = print) -> dict:
    """Train PC, BP and matched BP for every dataset in ``sets`` and activation in
    ``cfg["activations"]``; ``{(name, act): {rule: run}}`` with ``run = dict(loss, grad, seconds,
    status, finite)`` (per-iteration training loss and gradient norm).

    ``initial(name, in_dim, act)`` gives the initial network. ``cfg`` holds ``batch``, ``lr``,
    ``T``, ``dt``, ``tol`` and either ``n_iter`` (a fixed budget) or ``max_epochs`` (the authors'
    plateau rule, :func:`pcsaddles.stopping.stop_on_plateau`). ``max_iter > 0`` caps every run.

    Every run goes through ``store`` (:class:`reprokit.runcache.RunStore`), keyed by its full
    configuration: the dataset (a digest of its tensors), the initial weights (a digest: width,
    sigma, seed, initialisation and conv biases all show in it), the rule, learning rate and factor,
    batch size, inference steps, stopping rule, iteration budget and batch seed, and by the source of
    the code that trains it. A finished run with the same key is loaded (``status`` "loaded"); an
    unfinished one resumes from its last checkpoint (saved every ``checkpoint_every`` seconds of
    work; "resumed"); otherwise it is computed ("computed"). ``legacy_ok``: also adopt a finished
    run saved by earlier builds under the unkeyed name ``<dataset>-<activation>-<rule>.npz`` (only
    when the chapter runs its default settings, which is what those builds stored; "legacy").
    """
    factor = matched_lr_factor(cfg["batch"], 10)
    runs = {}
    for name, ds in sets.items():
        data_key = tensor_digest([ds.x, ds.y])
        epoch = len(ds) // cfg["batch"]
        budget = cfg["n_iter"] or cfg["max_epochs"] * epoch
        budget = min(budget, max_iter) if max_iter > 0 else budget
        for act in cfg["activations"]:
            w0 = initial(name, ds.x.shape[1], act)
            init_key = tensor_digest(w0.params if isinstance(w0, layered.Net) else w0)

            def run(rule: str, n_iter: int, plateau: bool) -> dict:
                lr_factor = factor if rule == "bp_matched" else 1.0
                config = dict(dataset=name, data=data_key, init=init_key, activation=act, rule=rule, n_iter=n_iter,
                              lr=cfg["lr"], lr_factor=lr_factor, batch=cfg["batch"], batch_seed=seed,
                              T=cfg["T"] if rule == "pc" else None, dt=cfg["dt"] if rule == "pc" else None,
                              stop=dict(epoch=epoch, tol=cfg["tol"]) if plateau else None,
                              convention="authors", report="mse")
                stored = store.run(f"{name}-{act}-{rule}", config)
                legacy = store.folder / f"{name}-{act}-{rule}.npz"
                if stored.finished:
                    arrays = stored.load()
                elif legacy_ok and store.enabled and legacy.is_file():
                    with np.load(legacy) as f:
                        arrays = dict(loss=f["loss"], grad=f["grad"], seconds=f["seconds"])
                    stored.save(arrays, seconds=float(arrays["seconds"]))
                    stored.status = "legacy"
                else:
                    hist = train.train("pc" if rule == "pc" else "bp", w0, epoch_batches(ds, cfg["batch"], seed),
                                       n_iter, cfg["lr"], activation=act, convention="authors", report="mse",
                                       n_steps=cfg["T"], dt=cfg["dt"], lr_factor=lr_factor,
                                       stop=stop_on_plateau(epoch, cfg["tol"]) if plateau else None,
                                       progress=progress, resume=stored.resume_state(),
                                       checkpoint=stored.checkpointer(checkpoint_every))
                    arrays = dict(loss=hist.train_loss, grad=hist.grad_norm, seconds=hist.seconds)
                    stored.save(arrays, seconds=hist.seconds)
                loss, grad = np.asarray(arrays["loss"]), np.asarray(arrays["grad"])
                return dict(loss=loss, grad=grad, seconds=float(arrays["seconds"]), status=stored.status,
                            cached=stored.status in ("loaded", "legacy"),
                            finite=bool(np.isfinite(loss).all() and np.isfinite(grad).all()))

            pc_run = run("pc", budget, bool(cfg["max_epochs"]))
            n = len(pc_run["loss"])  # BP runs as long as PC (paper: the same number of epochs)
            runs[name, act] = dict(pc=pc_run, bp=run("bp", n, False), bp_matched=run("bp_matched", n, False))
            log(f"{name:14s} {act:7s} " + "  ".join(
                f"{k} {len(r['loss'])} its {r['seconds']:.0f} s ({r['status']})"
                + ("" if r["finite"] else " NOT FINITE") for k, r in runs[name, act].items()))
    return runs


def first_below(loss, level: float) -> int | None:
    """The first iteration with ``loss < level``; ``None`` if there is none."""
    idx = np.flatnonzero(np.asarray(loss) < level)
    return int(idx[0]) if idx.size else None


def summary(runs: dict, factor: float, threshold: float) -> pd.DataFrame:
    """Per (dataset, activation): run length, PC's first iteration below ``threshold`` and final
    loss, BP's range, matched BP's first crossing and losses, and the largest gradient norms
    (matched BP's times ``factor``, on PC's scale) with their ratios."""
    rows = []
    for (name, act), r in runs.items():
        rows.append(dict(
            dataset=name, activation=act, iterations=len(r["pc"]["loss"]),
            pc_first_below=first_below(r["pc"]["loss"], threshold), pc_final=r["pc"]["loss"][-100:].mean(),
            bp_min=r["bp"]["loss"].min(), bp_max=r["bp"]["loss"].max(),
            matched_first_below=first_below(r["bp_matched"]["loss"], threshold),
            matched_min=r["bp_matched"]["loss"].min(), matched_final=r["bp_matched"]["loss"][-100:].mean(),
            grad_pc=r["pc"]["grad"].max(), grad_bp=r["bp"]["grad"].max(),
            grad_matched=factor * r["bp_matched"]["grad"].max(),
        ))
    table = pd.DataFrame(rows).set_index(["dataset", "activation"])
    table["grad_pc/bp"] = table["grad_pc"] / table["grad_bp"]
    table["grad_pc/(320 bp)"] = table["grad_pc"] / (factor * table["grad_bp"])
    table["grad_pc/matched"] = table["grad_pc"] / table["grad_matched"]
    return table


def matched_gap(runs: dict, levels=(0.095, 0.085)) -> pd.DataFrame:
    """For each level: the first iteration below it of PC and of matched BP, and their ratio
    ``matched / PC``; a matched run that never crosses counts as the run length (a lower bound)."""
    rows = []
    for (name, act), r in runs.items():
        n = len(r["pc"]["loss"])
        row = dict(dataset=name, activation=act)
        for level in levels:
            pc_i, m_i = first_below(r["pc"]["loss"], level), first_below(r["bp_matched"]["loss"], level)
            row[f"PC first < {level}"], row[f"matched first < {level}"] = pc_i, m_i
            row[f"matched/PC ({level})"] = (n if m_i is None else m_i) / pc_i if pc_i is not None else np.nan
        row.update({"matched min loss": r["bp_matched"]["loss"].min(), "PC final": r["pc"]["loss"][-100:].mean(),
                    "matched final": r["bp_matched"]["loss"][-100:].mean()})
        rows.append(row)
    return pd.DataFrame(rows).set_index(["dataset", "activation"])


def grid(runs: dict, values: Callable, ylabel: str, title: str, factor: float, log: bool = False):
    """One panel per (dataset, activation): ``values(run_dict, rule)`` of PC, BP and matched BP
    against the iteration."""
    import matplotlib.pyplot as plt

    from .plotting import COLORS

    names = list(dict.fromkeys(name for name, _ in runs))
    acts = list(dict.fromkeys(act for _, act in runs))
    labels = dict(pc="PC", bp="BP (authors' normalisation)", bp_matched=f"BP, lr x {factor:.0f} (matched)")
    style = dict(pc=dict(lw=0.9), bp=dict(lw=1.2), bp_matched=dict(lw=0.9, ls="--"))
    fig, axes = plt.subplots(len(names), len(acts), figsize=(12, 3.2 * len(names) + 0.6), sharey=not log,
                             squeeze=False, layout="constrained")
    for i, name in enumerate(names):
        for j, act in enumerate(acts):
            ax = axes[i, j]
            for key in ("bp_matched", "bp", "pc"):
                y = values(runs[name, act], key)
                ax.plot(np.arange(1, len(y) + 1), y, color=COLORS[key], label=labels[key], **style[key])
            ax.set_title(f"{LABELS.get(name, name)}, {act}")
            if log:
                ax.set_yscale("log")
            if i == len(names) - 1:
                ax.set_xlabel("training iteration")
            if j == 0:
                ax.set_ylabel(ylabel)
    handles, names_ = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles[::-1], names_[::-1], loc="outside lower center", ncol=3)
    fig.suptitle(title)
    return fig
