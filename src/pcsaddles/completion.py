"""Matrix completion with BP and PC: the higher-rank saddles of Figure 6 (Jacot et al. 2021).

**Task** (the paper's Figure 6, after Jacot et al. 2021). A rank-``r`` target ``T = A B`` (``A (n, r)``, ``B (r, n)`` i.i.d.
``N(0, 1)``) and a mask ``M = (U(0, 1) > 0.2)`` of observed entries. The network reads the masked
matrix ``X = M * T``: its ``n`` rows are ``n`` samples with ``n`` features, the output is ``n``-d.
The training objective sees only observed entries:

    L_mse(theta) = 1/(N d) sum_{i,j} M_ij (f_theta(X)_ij - T_ij)^2        (nn.MSELoss of M*f vs M*T)

a mean over **all** ``N d`` entries (masked-out ones contribute 0), as the authors' code reports it.

**Masked PC.** The output layer is clamped to the *observed* target only: the output error is
``e_L = M * (T - W_L z_H)`` (equivalently, the unobserved output entries are free activities,
which at equilibrium sit on their prediction and contribute no error; see the tests). The energy
is ``F = 1/(2N) sum_i sum_l ||e_{l,i}||^2`` (Eq. 2) with that masked ``e_L``. The authors' code
clamped the output to the *full* target ``T`` (``mask=None`` here), so its energy saw the 20 %
held-out entries (see the book's page on departures from the paper).

**Normalisations** follow :mod:`pcsaddles.normalisation` with ``convention="authors"``: BP descends
``L_mse`` (``c_BP = 2/d`` times the paper's ``1/(2N)`` loss), PC descends ``1/2 sum_batch ||e||^2``
(``c_PC = N``); at equal learning rate PC's step is ``N d / 2 = 50`` times BP's for ``n = d = 10``
(:func:`pcsaddles.normalisation.matched_lr_factor`). Gradient norms are of these scaled gradients.

**Saddles by numerical rank** (the paper: "by computing the rank of the network map"): the numerical rank of the network map is the number of
singular values of the output matrix ``f_theta(X) (N, d)`` above ``rank_tol = 0.1``. For every rank
``r`` seen along a BP run, :func:`run_bp` keeps the iterate of smallest gradient norm among those
of rank ``r`` (the middle of the rank-``r`` plateau) as the checkpoint for PC (:class:`RankMonitor`).

**Runs** are the book's one training loop, :func:`pcsaddles.train.train`, in full batch with the
target mask (:func:`run_bp`, :func:`run_pc`); they return its :class:`~pcsaddles.train.History`.

Weights are ``[W1, ..., WL]`` with ``W_l (d_l, d_{l-1})``, no biases, activations on hidden layers
only, as in :mod:`pcsaddles.dln`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from reprokit import hessian

from . import pc
from .activations import get_activation
from .batching import full_batch
from .dln import forward
from .normalisation import grad_scale
from .stopping import stop_when_train_below
from .train import History, loss_grads, train

__all__ = ["DIVERGED_ABOVE", "Checkpoint", "CompletionTask", "RankMonitor", "follow_bp", "make_task", "masked_energy",
           "masked_mse", "numerical_rank", "plateau_gradients", "run_bp", "run_pc", "runs_from", "sharpness", "starts_of"]


# --------------------------------------------------------------------------------------------
# the task


@dataclass
class CompletionTask:
    """A matrix-completion problem: ``target (n, n)`` of rank ``rank``, ``mask (n, n)`` (1.0 =
    observed, 0.0 = held out, in the target's dtype) and the network input ``x = mask * target``."""

    target: torch.Tensor
    mask: torch.Tensor
    rank: int
    seed: int
    observed_threshold: float

    @property
    def x(self) -> torch.Tensor:
        return self.mask * self.target

    @property
    def provenance(self) -> dict:
        n = self.target.shape[0]
        return {
            "name": f"synthetic rank-{self.rank} matrix completion ({n}x{n})",
            "source": f"pcsaddles.completion.make_task(seed={self.seed}): T = A B, A, B i.i.d. N(0,1); "
                      f"mask U(0,1) > {self.observed_threshold}",
            "n_samples": n,
            "split": "train (the whole matrix)",
            "note": f"{int(self.mask.sum())} of {self.mask.numel()} entries observed; drawn from a dedicated "
                    "torch.Generator before any network is built",
        }


def make_task(n: int = 10, rank: int = 3, seed: int = 0, observed_threshold: float = 0.2,
              dtype: torch.dtype = torch.float64) -> CompletionTask:
    """Draw ``A (n, rank)``, ``B (rank, n)`` and the mask ``U(0,1) > observed_threshold`` (in that
    order) from a dedicated ``torch.Generator`` seeded with ``seed``, independent of every other
    random stream (the authors drew them from the global RNG after the weights, so on CPU their PC
    runs from checkpoints would have seen another target)."""
    if not (isinstance(n, int) and isinstance(rank, int) and 1 <= rank <= n):
        raise ValueError(f"need integers 1 <= rank <= n; received n={n!r}, rank={rank!r}")
    if not 0.0 <= observed_threshold < 1.0:
        raise ValueError(f"observed_threshold must lie in [0, 1); received {observed_threshold}")
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(n, rank, generator=gen, dtype=torch.float64)
    b = torch.randn(rank, n, generator=gen, dtype=torch.float64)
    mask = (torch.rand(n, n, generator=gen, dtype=torch.float64) > observed_threshold).to(torch.float64)
    return CompletionTask((a @ b).to(dtype), mask.to(dtype), rank, seed, observed_threshold)


def masked_mse(out: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``nn.MSELoss(mask * out, mask * target)``: ``mean_{ij} (mask_ij (out_ij - target_ij))^2`` over all entries."""
    return (mask * (out - target)).pow(2).mean()


def numerical_rank(out: torch.Tensor, tol: float = 0.1) -> int:
    """Number of singular values of the output matrix ``out (N, d)`` above ``tol``."""
    return int((torch.linalg.svdvals(out) > tol).sum())


# --------------------------------------------------------------------------------------------
# the masked energy


def masked_energy(weights, activities, x, y, mask, activation: str = "linear") -> torch.Tensor:
    """``F = 1/(2N) sum_l ||e_l||^2`` with the output error ``mask * (y - W_L z_H)`` (paper normalisation).

    Inference and the weight gradient of this energy are :func:`pcsaddles.pc.infer` and
    :func:`pcsaddles.pc.weight_grads` with ``mask=``; this function states the objective they descend.
    """
    pc._check_mask(mask, y)
    errors, _ = pc._errors(weights, [x, *activities, y], get_activation(activation), mask=mask)
    return 0.5 * sum(e.pow(2).sum() for e in errors) / x.shape[0]


# --------------------------------------------------------------------------------------------
# saddles by rank, and the runs


@dataclass
class Checkpoint:
    """A BP iterate: ``weights`` before update ``iteration``, with its loss, gradient norm and rank."""

    iteration: int
    weights: list[torch.Tensor]
    loss: float
    grad_norm: float
    rank: int


@dataclass
class RankMonitor:
    """A :func:`pcsaddles.train.train` monitor: every ``every`` iterations the numerical rank of the
    network's output (:func:`numerical_rank` with ``tol``) and, with ``keep_checkpoints``, for every
    rank seen the iterate of least gradient norm (a :class:`Checkpoint`: the middle of that rank's
    plateau, where the run is closest to the saddle)."""

    every: int = 10
    tol: float = 0.1
    keep_checkpoints: bool = True
    iterations: list[int] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    checkpoints: dict[int, Checkpoint] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1 or not self.tol > 0:
            raise ValueError(f"need an int every >= 1 and tol > 0; received every={self.every!r}, tol={self.tol!r}")

    def __call__(self, it: int, weights, x: torch.Tensor, y: torch.Tensor, out: torch.Tensor, loss: torch.Tensor,
                 grad_norm: torch.Tensor) -> None:
        if it % self.every:
            return
        r = numerical_rank(out, self.tol)
        self.iterations.append(it)
        self.ranks.append(r)
        g = float(grad_norm)
        if self.keep_checkpoints and (r not in self.checkpoints or g < self.checkpoints[r].grad_norm):
            self.checkpoints[r] = Checkpoint(it, [w.clone() for w in weights], float(loss), g, r)

    @property
    def rank_iter(self) -> np.ndarray:
        return np.asarray(self.iterations, dtype=np.int64)

    @property
    def rank(self) -> np.ndarray:
        return np.asarray(self.ranks, dtype=np.int64)


def _run(rule, weights, task, lr, lr_factor, activation, max_iter, stop_loss, n_steps, dt, masked, monitor):
    if not (isinstance(max_iter, int) and max_iter >= 1):
        raise ValueError(f"max_iter must be an int >= 1; received {max_iter!r}")
    ws = [w.detach() for w in weights]
    x, y, m = task.x.to(ws[0]), task.target.to(ws[0]), task.mask.to(ws[0])
    return train(rule, ws, full_batch(x, y), max_iter, lr, activation=activation, convention="authors", report="mse",
                 lr_factor=lr_factor, n_steps=n_steps, dt=dt, mask=m if masked else None, report_mask=m,
                 stop=stop_when_train_below(stop_loss), monitor=monitor, diverge_above=DIVERGED_ABOVE)


DIVERGED_ABOVE = 1e6  # a loss above this (or not finite) ends a run as diverged


def run_bp(weights, task: CompletionTask, lr: float = 1e-2, *, activation: str = "linear", max_iter: int = 250_000,
           stop_loss: float = 1e-2, lr_factor: float = 1.0, rank_every: int = 10, rank_tol: float = 0.1,
           checkpoints: bool = True) -> History:
    """Full-batch GD on ``L_mse`` with learning rate ``lr * lr_factor`` until ``L_mse < stop_loss``
    (or ``max_iter`` updates, or divergence: a loss above :data:`DIVERGED_ABOVE`). The run's
    ``monitor`` is a :class:`RankMonitor` (rank every ``rank_every`` iterations; with ``checkpoints``
    the rank-``r`` iterate of least gradient norm for every rank ``r`` seen)."""
    return _run("bp", weights, task, lr, lr_factor, activation, max_iter, stop_loss, 50, 0.1, True,
                RankMonitor(rank_every, rank_tol, checkpoints))


def run_pc(weights, task: CompletionTask, lr: float = 1e-2, *, activation: str = "linear", max_iter: int = 5_000,
           stop_loss: float = 1e-2, n_steps: int = 50, dt: float = 0.1, masked: bool = True, rank_every: int = 10,
           rank_tol: float = 0.1) -> History:
    """Full-batch PC: per iteration ``n_steps`` Euler steps (``dt``) from the feed-forward pass with
    the output clamped to the observed target (``masked=True``; ``False`` = the authors' clamp to the
    full target), then ``W <- W - lr * N dF/dW``; stops below ``stop_loss``, after ``max_iter``
    updates, or when inference or the loss diverges. Reports ``L_mse`` of the feed-forward pass; the
    monitor records the rank (no checkpoints)."""
    return _run("pc", weights, task, lr, 1.0, activation, max_iter, stop_loss, n_steps, dt, masked,
                RankMonitor(rank_every, rank_tol, False))


# --------------------------------------------------------------------------------------------
# reading the runs of Figure 6


def starts_of(weights, bp: History) -> dict[int, Checkpoint]:
    """The start points of Figure 6's PC runs: rank 0 is the initialisation ``weights`` (iteration 0
    of ``bp``), ranks 1 and 2 the checkpoints ``bp``'s :class:`RankMonitor` kept (when the run
    visited them)."""
    starts = {0: Checkpoint(0, [w.detach() for w in weights], float(bp.train_loss[0]), float(bp.grad_norm[0]), 0)}
    starts.update({r: bp.monitor.checkpoints[r] for r in (1, 2) if r in bp.monitor.checkpoints})
    return starts


def runs_from(start: Checkpoint, task: CompletionTask, lr: float, *, activation: str, pc_max: int, control_max: int,
              control_factors=(50.0, 10.0), unmasked: bool = True, stop_loss: float = 1e-2, n_steps: int = 50,
              dt: float = 0.1) -> dict[str, History]:
    """From one start point: masked PC (``"pc"``), the authors' unmasked PC (``"pc_unmasked"``, if
    ``unmasked``) and BP with the learning rate multiplied by each of ``control_factors``
    (``"bp x50"``, ``"bp x10"``)."""
    common = dict(activation=activation, stop_loss=stop_loss)
    runs = {"pc": run_pc(start.weights, task, lr, max_iter=pc_max, n_steps=n_steps, dt=dt, **common)}
    if unmasked:
        runs["pc_unmasked"] = run_pc(start.weights, task, lr, max_iter=pc_max, n_steps=n_steps, dt=dt, masked=False,
                                     **common)
    for f in control_factors:
        runs[f"bp x{f:g}"] = run_bp(start.weights, task, lr, lr_factor=f, max_iter=control_max, checkpoints=False, **common)
    return runs


def plateau_gradients(bp: History) -> list[dict]:
    """Per stretch of constant numerical rank along a BP run (its :class:`RankMonitor`): the
    iterations it spans, the loss at both ends and the median, 10th and 90th percentile of the
    gradient norm at the monitored iterations."""
    mon = bp.monitor
    change = np.flatnonzero(np.diff(mon.rank)) + 1
    rows = []
    for seg in np.split(np.arange(len(mon.rank)), change):
        its = mon.rank_iter[seg]
        g = bp.grad_norm[its]
        rows.append(dict(rank=int(mon.rank[seg[0]]), first=int(its[0]), last=int(its[-1]),
                         loss_first=float(bp.train_loss[its[0]]), loss_last=float(bp.train_loss[its[-1]]),
                         grad_median=float(np.median(g)), grad_p10=float(np.percentile(g, 10)),
                         grad_p90=float(np.percentile(g, 90))))
    return rows


def sharpness(weights, task: CompletionTask, activation: str = "linear", n_iter: int = 60, seed: int = 0) -> float:
    """The largest eigenvalue of the Hessian of ``L_mse`` (the loss BP descends) at ``weights``, by
    Lanczos on Hessian-vector products (:func:`reprokit.hessian.extreme_eigenvalues`). Gradient
    descent with learning rate ``lr`` is stable along a direction of curvature ``lambda`` only if
    ``lambda < 2 / lr``."""
    ws = [w.detach() for w in weights]
    x, y, m = task.x.to(ws[0]), task.target.to(ws[0]), task.mask.to(ws[0])
    _, lam_max = hessian.extreme_eigenvalues(lambda w: masked_mse(forward(w, x, activation)[-1], y, m), ws,
                                             n_iter=n_iter, seed=seed)
    return lam_max


def follow_bp(weights, task: CompletionTask, lr: float, n_iter: int, activation: str = "linear") -> dict[str, np.ndarray]:
    """``n_iter`` plain BP steps on ``L_mse`` from ``weights``, recording per step the gradient norm
    (``grad_norm``) and how many hidden pre-activations changed sign since the previous step
    (``flips``: for ReLU, units switching on or off, where the loss is not differentiable; the
    count is reported for every activation). Used to see what BP's gradient does on a plateau."""
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 1 or not lr > 0:
        raise ValueError(f"need an int n_iter >= 1 and lr > 0; received n_iter={n_iter!r}, lr={lr!r}")
    ws = [w.detach().clone() for w in weights]
    x, y, m = task.x.to(ws[0]), task.target.to(ws[0]), task.mask.to(ws[0])
    scale = grad_scale("bp", "authors", *y.shape)
    act = get_activation(activation)
    norms, flips, prev = np.empty(n_iter), np.zeros(n_iter, dtype=np.int64), None
    for it in range(n_iter):
        z, pre = x, []
        for w in ws[:-1]:  # the hidden layers' pre-activations a_l = z_{l-1} W_l^T, (N, d_l)
            pre.append(z @ w.T)
            z = act.f(pre[-1])
        signs = torch.cat(pre, dim=1) > 0  # (N, sum_l d_l)
        if prev is not None:
            flips[it] = int((signs != prev).sum())
        prev = signs
        _, grads = loss_grads(ws, x, y, activation, mask=m)
        norms[it] = scale * float(torch.sqrt(sum(g.pow(2).sum() for g in grads)))
        ws = [w - lr * scale * g for w, g in zip(ws, grads)]
    return {"grad_norm": norms, "flips": flips}
