"""Matrix completion with BP and PC: the higher-rank saddles of Figure 6 (Jacot et al. 2021).

**Task** (SPEC §3, Figure 6). A rank-``r`` target ``T = A B`` (``A (n, r)``, ``B (r, n)`` i.i.d.
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
held-out entries (SPEC §4 item 13).

**Normalisations** follow :mod:`pcsaddles.train` with ``convention="authors"``: BP descends
``L_mse`` (``c_BP = 2/d`` times the paper's ``1/(2N)`` loss), PC descends ``1/2 sum_batch ||e||^2``
(``c_PC = N``); at equal learning rate PC's step is ``N d / 2 = 50`` times BP's for ``n = d = 10``
(:func:`pcsaddles.normalisation.matched_lr_factor`). Gradient norms are of these scaled gradients.

**Saddles by numerical rank** (SPEC §5): the numerical rank of the network map is the number of
singular values of the output matrix ``f_theta(X) (N, d)`` above ``rank_tol = 0.1``. For every rank
``r`` seen along a BP run, :func:`run_bp` keeps the iterate of smallest gradient norm among those
of rank ``r`` (the middle of the rank-``r`` plateau) as the checkpoint for PC.

Weights are ``[W1, ..., WL]`` with ``W_l (d_l, d_{l-1})``, no biases, activations on hidden layers
only, as in :mod:`pcsaddles.dln`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from . import dln, pc, train
from .activations import get_activation


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
    random stream (SPEC §4 item 14: the authors drew them from the global RNG after the weights)."""
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
# gradients


def bp_grads(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor | None,
             activation: str = "linear") -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Output ``f (N, d)`` and ``dL_mse/dW_l`` by backpropagation, ``L_mse = mean((mask * (f - y))^2)``.

    The output delta is ``2 mask * (f - y) / (N d)`` (``mask^2 = mask``); ``mask=None`` means all
    entries observed.
    """
    out, grads = train.loss_grads(weights, x, y, activation, mask=mask)  # of 1/(2N) sum ||mask (f - y)||^2
    scale = train.grad_scale("bp", "authors", x.shape[0], y.shape[1])  # L_mse = (2 / d) L
    return out, [scale * g for g in grads]


def masked_energy(weights, activities, x, y, mask, activation: str = "linear") -> torch.Tensor:
    """``F = 1/(2N) sum_l ||e_l||^2`` with the output error ``mask * (y - W_L z_H)`` (paper normalisation)."""
    pc._check_mask(mask, y)
    errors, _ = pc._errors(weights, [x, *activities, y], get_activation(activation), mask=mask)
    return 0.5 * sum(e.pow(2).sum() for e in errors) / x.shape[0]


def masked_infer(weights, x, y, mask, activation: str = "linear", dt: float = 0.1, n_steps: int = 50,
                 init: Sequence[torch.Tensor] | None = None) -> list[torch.Tensor]:
    """``n_steps`` explicit Euler steps of :func:`pcsaddles.pc.infer` (its in-place loop), from the
    feed-forward pass unless ``init`` is given, with the masked output error. ``mask=None``: plain PC
    (full clamp). Raises FloatingPointError if the activities become non-finite."""
    try:
        return pc.infer(weights, x, y, activation, method="euler", dt=dt, n_steps=n_steps, init=init, mask=mask)
    except FloatingPointError:
        raise FloatingPointError(f"masked PC inference diverged; lower dt={dt}") from None


def masked_weight_grads(weights, activities, x, y, mask, activation: str = "linear") -> list[torch.Tensor]:
    """``dF/dW_l = -1/N (f'(a_l) * e_l)^T z_{l-1}`` of :func:`masked_energy` at the given activities
    (:func:`pcsaddles.pc.weight_grads` with the mask)."""
    return pc.weight_grads(weights, activities, x, y, activation, mask=mask)


# --------------------------------------------------------------------------------------------
# training runs


@dataclass
class Checkpoint:
    """A BP iterate: ``weights`` before update ``iteration``, with its loss, gradient norm and rank."""

    iteration: int
    weights: list[torch.Tensor]
    loss: float
    grad_norm: float
    rank: int


@dataclass
class Run:
    """A full-batch GD run. ``loss[i]``, ``grad_norm[i]`` belong to the weights before update ``i``
    (``L_mse`` and the norm of the descended, convention-scaled gradient). ``rank_iter``/``rank``:
    numerical rank of the output at those iterations. ``converged``: first ``i`` with
    ``loss[i] <= stop_loss`` (``None`` if never, within ``max_iter``). ``checkpoints[r]``: the
    rank-``r`` iterate of smallest gradient norm (BP runs with ``checkpoints=True``). ``diverged``:
    the loss became non-finite or exceeded 1e6 (the run stops there)."""

    rule: str
    activation: str
    lr: float
    loss: np.ndarray
    grad_norm: np.ndarray
    rank_iter: np.ndarray
    rank: np.ndarray
    converged: int | None
    weights: list[torch.Tensor]
    checkpoints: dict[int, Checkpoint] = field(default_factory=dict)
    seconds: float = 0.0
    masked: bool = True
    diverged: bool = False

    @property
    def n_iter(self) -> int:
        return len(self.loss)


def _run(rule, weights, task, lr, activation, max_iter, stop_loss, n_steps, dt, masked, rank_every, rank_tol,
         checkpoints):
    if rule not in ("bp", "pc"):
        raise ValueError(f"rule must be 'bp' or 'pc'; received {rule!r}")
    if not (isinstance(max_iter, int) and max_iter >= 1 and lr > 0 and rank_every >= 1):
        raise ValueError(f"need max_iter >= 1, lr > 0, rank_every >= 1; received {max_iter}, {lr}, {rank_every}")
    ws = [w.detach().clone() for w in weights]
    x = task.x.to(ws[0])
    y, m = task.target.to(ws[0]), task.mask.to(ws[0])
    n = x.shape[0]
    pc_mask = m if masked else None
    loss = np.empty(max_iter)
    gnorm = np.empty(max_iter)
    r_iter, r_val = [], []
    best: dict[int, Checkpoint] = {}
    converged, diverged = None, False
    start = time.perf_counter()
    done = 0
    with torch.no_grad():
        for it in range(max_iter):
            if rule == "bp":
                out, grads = bp_grads(ws, x, y, m, activation)  # already the nn.MSELoss gradient
            else:
                layers = dln.forward(ws, x, activation)
                out = layers[-1]
                try:
                    z = masked_infer(ws, x, y, pc_mask, activation, dt, n_steps, init=layers[:-1])
                except FloatingPointError:
                    diverged = True  # inference blew up at these weights: report, keep the finished iterations
                    break
                grads = [n * g for g in masked_weight_grads(ws, z, x, y, pc_mask, activation)]  # 1/2 batch sum
            loss[it] = float(masked_mse(out, y, m))
            gnorm[it] = float(torch.sqrt(sum(g.pow(2).sum() for g in grads)))
            if it % rank_every == 0:
                r = numerical_rank(out, rank_tol)
                r_iter.append(it)
                r_val.append(r)
                if checkpoints and (r not in best or gnorm[it] < best[r].grad_norm):
                    best[r] = Checkpoint(it, [w.clone() for w in ws], loss[it], gnorm[it], r)
            done = it + 1
            if not (np.isfinite(loss[it]) and loss[it] < 1e6):
                diverged = True  # the step is too large for the curvature: report, do not raise
                break
            if loss[it] <= stop_loss:
                converged = it
                break
            for w, g in zip(ws, grads):
                w.sub_(g, alpha=lr)
    return Run(rule, activation, lr, loss[:done].copy(), gnorm[:done].copy(), np.asarray(r_iter), np.asarray(r_val),
               converged, ws, best, time.perf_counter() - start, masked, diverged)


def run_bp(weights, task: CompletionTask, lr: float = 1e-2, *, activation: str = "linear", max_iter: int = 250_000,
           stop_loss: float = 1e-2, lr_factor: float = 1.0, rank_every: int = 10, rank_tol: float = 0.1,
           checkpoints: bool = True) -> Run:
    """Full-batch GD on ``L_mse`` with learning rate ``lr * lr_factor`` until ``L_mse <= stop_loss``
    (or ``max_iter`` updates). Records the numerical rank every ``rank_every`` iterations and, with
    ``checkpoints``, the rank-``r`` iterate of least gradient norm for every rank ``r`` seen."""
    return _run("bp", weights, task, lr * lr_factor, activation, max_iter, stop_loss, 0, 0.0, True, rank_every,
                rank_tol, checkpoints)


def run_pc(weights, task: CompletionTask, lr: float = 1e-2, *, activation: str = "linear", max_iter: int = 5_000,
           stop_loss: float = 1e-2, n_steps: int = 50, dt: float = 0.1, masked: bool = True, rank_every: int = 10,
           rank_tol: float = 0.1) -> Run:
    """Full-batch PC: per iteration ``n_steps`` Euler steps (``dt``) from the feed-forward pass with
    the output clamped to the observed target (``masked=True``; ``False`` = the authors' clamp to the
    full target), then ``W <- W - lr * N dF/dW``. Reports ``L_mse`` of the feed-forward pass."""
    return _run("pc", weights, task, lr, activation, max_iter, stop_loss, n_steps, dt, masked, rank_every, rank_tol,
                False)


def iterations_to(loss: np.ndarray, start: int, level: float) -> int | None:
    """Iterations from index ``start`` until ``loss <= level`` first (``j - start`` for the first
    ``j >= start``), or ``None`` if the run never gets there."""
    below = np.flatnonzero(np.asarray(loss)[start:] <= level)
    return int(below[0]) if below.size else None


__all__ = ["iterations_to", "CompletionTask", "make_task", "masked_mse", "numerical_rank", "bp_grads", "masked_energy", "masked_infer",
           "masked_weight_grads", "Checkpoint", "Run", "run_bp", "run_pc"]
