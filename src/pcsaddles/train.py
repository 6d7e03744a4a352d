"""The training loop of every BP-vs-PC chapter: backprop (BP) and predictive coding (PC).

Used by Figures 2, 5, 6, 7, 11 and 12. Conventions as in :mod:`pcsaddles.dln`: ``weights = [W1,
..., WL]`` with ``W_l (d_l, d_{l-1})``, no biases, a batch ``x (N, d_0)``, ``y (N, d_L)``,
activations (``"linear"``, ``"tanh"``, ``"relu"``) on hidden layers only. Everything runs in the
dtype and on the device of the weights (float32/float64, CPU/CUDA).

**Steps.** Both rules are plain SGD, ``W_l <- W_l - lr * g_l``:

* BP: ``g = c_BP * grad L`` with ``L = 1/(2N) sum_i ||y_i - f_theta(x_i)||^2`` (Eq. 1), computed by
  backpropagation (:func:`loss_grads`).
* PC: ``g = c_PC * dF/dtheta`` at the activities reached by ``T`` explicit Euler steps
  (``dt = 0.1``) from the feed-forward pass (:func:`pcsaddles.pc.infer`), with
  ``F = 1/(2N) sum_i sum_l ||e_{l,i}||^2`` (Eq. 2) and the gradient from
  :func:`pcsaddles.pc.weight_grads` (Eq. 4). For ``T -> inf`` this is gradient descent on the
  equilibrated energy ``F*`` (the envelope theorem; checked in the Theorem 1 chapter).

The factors ``c`` and the reported losses are :mod:`pcsaddles.normalisation`; the batches
:mod:`pcsaddles.batching`; the stopping rules :mod:`pcsaddles.stopping`; reading the resulting
curves (escape times, bands over seeds) :mod:`pcsaddles.curves`. A run's record is a
:class:`History`, the one result type of every training run in the book (mini-batch SGD, the
full-batch gradient descent of matrix completion, and the stored runs of Figures 5 and 12).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from reprokit import hessian

from . import dln, layered, pc
from ._checks import check_choice, check_data, check_weights
from .activations import get_activation
from .normalisation import CONVENTIONS, REPORTS, RULES, grad_scale, reported_loss
from .stopping import Progress, StopRule

Batch = tuple[torch.Tensor, torch.Tensor]
Monitor = Callable[[int, list[torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor], None]
INFERENCES = ("euler", "exact")
OPTIMIZERS = ("sgd", "adam")


# --------------------------------------------------------------------------------------------
# gradients and single steps


def loss_grads(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, activation: str = "linear",
               mask: torch.Tensor | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Backpropagation: the output ``f_theta(x) (N, d_L)`` and ``dL/dW_l`` of the paper's loss (Eq. 1).

    ``L = 1/(2N) sum_i ||y_i - f_theta(x_i)||^2``, so the output delta is ``(f - y)/N`` and
    ``dL/dW_l = delta_l^T z_{l-1}`` with ``delta_{l-1} = (delta_l W_l) * f'(a_{l-1})``. No autograd
    graph is built (one forward, one backward pass of matrix products). With a 0/1 ``mask`` of
    ``y``'s shape only the observed entries count: ``L = 1/(2N) sum ||mask * (y - f)||^2`` (the
    matrix-completion task of Figure 6).
    """
    check_data(weights, x, y)
    pc._check_mask(mask, y)
    act = get_activation(activation)
    last = len(weights) - 1
    zs, pre = [x], []
    for i, w in enumerate(weights):
        a = zs[-1] @ w.T  # (N, d_{i+1})
        pre.append(a)
        zs.append(a if i == last or act.is_linear else act.f(a))
    delta = (zs[-1] - y) / x.shape[0]  # dL/d(output), (N, d_L)
    if mask is not None:
        delta = delta * mask  # mask^2 = mask
    grads: list[torch.Tensor] = [delta] * len(weights)
    for i in range(last, -1, -1):
        grads[i] = delta.T @ zs[i]  # (d_{i+1}, d_i)
        if i > 0:
            delta = delta @ weights[i]  # dL/dz_i, (N, d_i)
            if not act.is_linear:
                delta = delta * act.fprime(pre[i - 1], zs[i])
    return zs[-1], grads


def _pc_grads(weights, x, y, activation, n_steps, dt, mask=None, inference="euler"):
    """Feed-forward output and ``dF/dW`` (paper normalisation) at the activities of ``inference``:
    ``n_steps`` Euler steps from the feed-forward pass, or the exact equilibrium (linear networks)."""
    layers = dln.forward(weights, x, activation)  # [z_1, ..., z_L], the feed-forward pass
    if inference == "exact":
        z = pc.infer(weights, x, y, activation, method="exact")
    else:
        z = pc.infer(weights, x, y, activation, method="euler", dt=dt, n_steps=n_steps, init=layers[:-1], mask=mask)
    return layers[-1], pc.weight_grads(weights, z, x, y, activation, mask=mask), z


@dataclass
class Step:
    """One SGD step: the new ``weights``, the gradient ``grads`` that was descended (already scaled
    by the convention, not by ``lr``), the reported ``loss`` before the step, and for PC the
    hidden ``activities`` at which the gradient was taken."""

    weights: list[torch.Tensor]
    grads: list[torch.Tensor]
    loss: torch.Tensor
    activities: list[torch.Tensor] | None = None


def bp_step(weights, x, y, lr: float, *, activation: str = "linear", convention: str = "paper",
            lr_factor: float = 1.0, report: str = "paper") -> Step:
    """One BP step ``W <- W - lr * lr_factor * c_BP * dL/dW`` (see the module doc for ``c_BP``).

    ``lr_factor = matched_lr_factor(N, d_L)`` with ``convention="authors"`` is the
    normalisation-matched control. Returns a :class:`Step`; the inputs are not modified.
    """
    out, grads = loss_grads(weights, x, y, activation)
    scale = grad_scale("bp", convention, x.shape[0], y.shape[1])
    grads = [scale * g for g in grads]
    new = [w.detach() - (lr * lr_factor) * g for w, g in zip(weights, grads)]
    return Step(new, grads, reported_loss(out, y, report))


def pc_step(weights, x, y, lr: float, *, n_steps: int = 50, dt: float = 0.1, activation: str = "linear",
            convention: str = "paper", lr_factor: float = 1.0, report: str = "paper") -> Step:
    """One PC step: ``n_steps`` Euler inference steps (``dt``) from the feed-forward pass, then
    ``W <- W - lr * lr_factor * c_PC * dF/dW`` at the resulting activities (Eqs. 3-4).

    ``c_PC`` is 1 (``"paper"``, ``F`` with ``1/(2N)``) or ``N`` (``"authors"``, batch sum). The
    reported loss is that of the feed-forward pass before the step. Inputs are not modified.
    """
    out, grads, z = _pc_grads(weights, x, y, activation, n_steps, dt)
    scale = grad_scale("pc", convention, x.shape[0], y.shape[1])
    grads = [scale * g for g in grads]
    new = [w.detach() - (lr * lr_factor) * g for w, g in zip(weights, grads)]
    return Step(new, grads, reported_loss(out, y, report), z)


# --------------------------------------------------------------------------------------------
# the training loop


@dataclass
class History:
    """Record of a training run.

    ``train_loss[i]`` and ``grad_norm[i]`` belong to update ``i`` (0-based): the reported loss of
    the weights ``theta_i`` on batch ``i`` before the update, and ``||g_i||_2`` of the gradient that
    was descended (scaled by the convention, not by the learning rate). ``test_loss[k]`` was
    measured after ``test_iter[k]`` updates (``test_iter = 0`` is the initialisation).
    ``trajectory`` (if recorded) holds the flattened weights ``theta_0 .. theta_n``, shape
    ``(n + 1, p)``. ``weights`` are the final weights (``None`` for a run loaded from a store that
    keeps only its curves). ``diverged``: the run stopped because its loss left the range given by
    ``diverge_above`` or PC inference produced non-finite activities. ``monitor``: the object
    passed to :func:`train` as ``monitor`` (what it observed, e.g. ranks and checkpoints).
    ``status``: ``"computed"``, or how a stored run was obtained (``"loaded"``, ``"resumed"``, ...).
    """

    rule: str
    convention: str
    report: str
    lr: float
    lr_factor: float
    train_loss: np.ndarray
    grad_norm: np.ndarray
    test_iter: np.ndarray
    test_loss: np.ndarray
    weights: list[torch.Tensor] | layered.Net | None
    trajectory: np.ndarray | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)
    diverged: bool = False
    monitor: object | None = None
    status: str = "computed"

    @property
    def n_iter(self) -> int:
        return len(self.train_loss)

    @property
    def finite(self) -> bool:
        """Whether every recorded loss and gradient norm is finite."""
        return bool(np.isfinite(self.train_loss).all() and np.isfinite(self.grad_norm).all())

    def escape(self, fraction: float = 0.5) -> int | None:
        """:func:`pcsaddles.curves.escape_iteration` of the training loss (from the start of the run)."""
        from .curves import escape_iteration

        return escape_iteration(self.train_loss, fraction)

    @classmethod
    def from_curves(cls, rule: str, loss, grad_norm, *, lr: float, lr_factor: float = 1.0, convention: str = "authors",
                    report: str = "mse", seconds: float = 0.0, status: str = "loaded", settings: dict | None = None
                    ) -> History:
        """A History holding only per-iteration curves (a stored run whose weights were not kept)."""
        loss, grad_norm = np.asarray(loss, dtype=float), np.asarray(grad_norm, dtype=float)
        if loss.ndim != 1 or loss.shape != grad_norm.shape:
            raise ValueError(f"loss and grad_norm must be 1-D of one length; received {loss.shape}, {grad_norm.shape}")
        return cls(rule=rule, convention=convention, report=report, lr=lr, lr_factor=lr_factor, train_loss=loss,
                   grad_norm=grad_norm, test_iter=np.zeros(0, dtype=np.int64), test_loss=np.zeros(0), weights=None,
                   seconds=float(seconds), settings=dict(settings or {}), status=status)


def train(
    rule: str,
    weights: Sequence[torch.Tensor],
    batches: Iterable[Batch],
    n_iter: int,
    lr: float,
    *,
    activation: str = "linear",
    convention: str = "paper",
    lr_factor: float = 1.0,
    n_steps: int = 50,
    dt: float = 0.1,
    inference: str = "euler",
    optimizer: str = "sgd",
    report: str = "paper",
    mask: torch.Tensor | None = None,
    report_mask: torch.Tensor | None = None,
    test: Batch | None = None,
    test_every: int = 1,
    stop: StopRule | None = None,
    monitor: Monitor | None = None,
    diverge_above: float | None = None,
    record_trajectory: bool = False,
    progress: bool = False,
    resume: dict | None = None,
    checkpoint: Callable[[Callable[[], dict]], bool] | None = None,
) -> History:
    """Train with ``rule`` (``"bp"`` or ``"pc"``) for at most ``n_iter`` updates.

    Each iteration takes the next batch ``(x, y)`` from ``batches``, computes the gradient
    (BP: :func:`loss_grads`; PC: one :func:`pcsaddles.pc.infer` with ``n_steps`` Euler steps of
    size ``dt`` from the feed-forward pass, or with ``inference="exact"`` the exact equilibrium of a
    linear network, then one :func:`pcsaddles.pc.weight_grads`), scales it by :func:`grad_scale`
    for ``convention`` and updates the weights: ``optimizer="sgd"``: ``W <- W - lr * lr_factor * g``;
    ``"adam"``: one step of ``torch.optim.Adam`` (default betas) with learning rate
    ``lr * lr_factor`` on ``g`` (Figure 1, as the authors' code).
    Recorded per iteration (see :class:`History`): the ``report`` loss before the update and
    ``||g||_2``; with ``test = (x_test, y_test)`` the test loss at initialisation and after every
    ``test_every`` updates. ``stop`` (:mod:`pcsaddles.stopping`) is called after every update and
    ends the run when it returns True.

    ``mask`` (0/1, the shape of every batch's ``y``; full-batch runs): only the observed target
    entries count, in BP's loss (:func:`loss_grads`), in PC's output error (the output is clamped to
    the observed entries, :func:`pcsaddles.pc.infer`) and in the reported loss (matrix completion,
    Figure 6); ``report_mask`` (default ``mask``) is the mask of the reported loss alone, for a run
    whose objective sees entries its reported loss must not (the authors' PC clamped to the full
    target, reported on the observed entries). ``monitor(iteration, weights, x, y, output, loss,
    grad_norm)`` is called at every iteration before the update, with the current weights (do not
    modify them; clone what you keep), the batch, the network's output on it and the recorded loss
    and gradient norm (tensors); it is returned as ``History.monitor``. ``diverge_above``: stop, with ``History.diverged``, once
    the reported loss is not finite or exceeds this value (checked every iteration); a PC run
    whose inference produces non-finite activities stops the same way (its last iteration is not
    recorded).

    ``weights`` may also be a :class:`pcsaddles.layered.Net` (e.g. the paper's CIFAR-10 conv net):
    then ``activation`` is ignored (the blocks carry theirs), the gradients come from
    :func:`pcsaddles.layered.loss_grads` / :func:`pcsaddles.layered.pc_grads`, and
    ``History.weights`` is the trained copy of the net.

    The input weights are not modified. Values are kept on the weights' device and copied to
    numpy once at the end (a stopping rule that reads them synchronises). ``progress=True`` shows a
    tqdm bar.

    Checkpoints: ``checkpoint`` (e.g. :meth:`reprokit.runcache.StoredRun.checkpointer`) is called
    after every update with a function that returns the run's state (weights, iteration, recorded
    values, elapsed seconds); it decides whether to save it. ``resume`` is such a state: the run
    continues from it, skipping the batches already used, and gives the same result as an
    uninterrupted run (the batches are a deterministic stream and the loop has no other randomness;
    checkpoints need ``optimizer="sgd"``, which has no state of its own).
    """
    check_choice("rule", rule, RULES)
    check_choice("convention", convention, CONVENTIONS)
    check_choice("report", report, REPORTS)
    is_net = isinstance(weights, layered.Net)
    if not is_net:
        check_weights(weights)
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise ValueError(f"n_iter must be a non-negative int; received {n_iter!r}")
    if not (lr > 0 and lr_factor > 0):
        raise ValueError(f"lr and lr_factor must be positive; received lr={lr}, lr_factor={lr_factor}")
    if test_every < 1:
        raise ValueError(f"test_every must be >= 1; received {test_every}")
    check_choice("inference", inference, INFERENCES)
    check_choice("optimizer", optimizer, OPTIMIZERS)
    if inference == "exact" and (rule != "pc" or is_net or activation != "linear" or mask is not None):
        raise ValueError("inference='exact' is PC on a linear, fully connected network without a mask")
    if optimizer != "sgd" and (resume is not None or checkpoint is not None):
        raise ValueError(f"checkpoints and resume need optimizer='sgd' (the state of {optimizer!r} is not saved)")
    if (mask is not None or report_mask is not None) and is_net:
        raise ValueError("mask applies to fully connected weight lists, not to a layered.Net")
    report_mask = mask if report_mask is None else report_mask
    if is_net:
        net = weights.clone()
        ws = net.params  # updated in place

        def predict(x):
            with torch.no_grad():
                return net(x)

        def gradients(x, y):
            if rule == "bp":
                return layered.loss_grads(net, x, y)
            return layered.pc_grads(net, x, y, n_steps, dt)[:2]
    else:
        get_activation(activation)
        ws = [w.detach().clone() for w in weights]

        def predict(x):
            return dln.forward(ws, x, activation)[-1]

        def gradients(x, y):
            if rule == "bp":
                return loss_grads(ws, x, y, activation, mask=mask)
            return _pc_grads(ws, x, y, activation, n_steps, dt, mask, inference)[:2]
    ref = ws[0]
    opt = torch.optim.Adam(ws, lr=lr * lr_factor) if optimizer == "adam" else None
    buf = torch.zeros(n_iter, 2, dtype=ref.dtype, device=ref.device)  # (loss, grad norm) per update
    n_tests = 1 + n_iter // test_every if test is not None else 0
    test_buf = torch.zeros(n_tests, dtype=ref.dtype, device=ref.device)
    test_iters: list[int] = []
    traj = [hessian.flatten(ws).clone()] if record_trajectory else None

    def measure_test(done: int) -> None:
        out = predict(test[0])
        test_buf[len(test_iters)] = reported_loss(out, test[1], report)
        test_iters.append(done)

    if test is not None:
        if is_net:
            net._check_x(test[0], test[1])
        else:
            check_data(ws, test[0], test[1])
        measure_test(0)
    it_batches = iter(batches)
    first, elapsed = 0, 0.0
    if resume is not None:
        first, elapsed = _restore(resume, ws, buf, test_buf, test_iters, traj, n_iter)
        for _ in range(first):  # the batches already used
            next(it_batches)
    steps = range(first, n_iter)
    if progress:
        from tqdm import tqdm

        steps = tqdm(steps, desc=rule, leave=False, initial=first, total=n_iter)
    start, done, stopped, diverged = time.perf_counter() - elapsed, first, False, False

    def state() -> dict:
        return dict(iteration=done, weights=[w.detach().cpu().clone() for w in ws], values=buf[:done].cpu().clone(),
                    test_values=test_buf[:len(test_iters)].cpu().clone(), test_iter=list(test_iters),
                    trajectory=None if traj is None else [t.cpu() for t in traj],
                    seconds=time.perf_counter() - start)

    for it in steps:
        try:
            x, y = next(it_batches)
        except StopIteration:
            raise ValueError(f"batches ran out after {it} of n_iter={n_iter} iterations; supply more batches") from None
        try:
            out, grads = gradients(x, y)
        except FloatingPointError:  # PC inference blew up at these weights: report, keep what is done
            diverged = True
            break
        scale = grad_scale(rule, convention, x.shape[0], y.shape[1])
        buf[it, 0] = reported_loss(out, y, report, report_mask)
        buf[it, 1] = scale * torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        if monitor is not None:
            monitor(it, ws, x, y, out, buf[it, 0], buf[it, 1])
        if diverge_above is not None:
            value = float(buf[it, 0])
            if not (np.isfinite(value) and value <= diverge_above):
                done, diverged = it + 1, True
                break
        if opt is None:
            for w, g in zip(ws, grads):
                w.add_(g, alpha=-lr * lr_factor * scale)  # W <- W - lr * lr_factor * c * g
        else:
            for w, g in zip(ws, grads):
                w.grad = scale * g
            opt.step()
        done = it + 1
        if record_trajectory:
            traj.append(hessian.flatten(ws).clone())
        if test is not None and done % test_every == 0:
            measure_test(done)
        if stop is not None and stop(Progress(it, buf[:done, 0], test_buf[:len(test_iters)])):
            stopped = True
            break
        if checkpoint is not None and done < n_iter:
            checkpoint(state)
    values = buf[:done].cpu().numpy()
    return History(
        rule=rule, convention=convention, report=report, lr=lr, lr_factor=lr_factor,
        train_loss=values[:, 0].copy(), grad_norm=values[:, 1].copy(),
        test_iter=np.asarray(test_iters, dtype=np.int64), test_loss=test_buf[:len(test_iters)].cpu().numpy(),
        weights=net if is_net else ws, trajectory=None if traj is None else torch.stack(traj).cpu().numpy(),
        stopped_early=stopped, seconds=time.perf_counter() - start,
        settings=dict(activation=activation, n_steps=n_steps if rule == "pc" else None, dt=dt if rule == "pc" else None,
                      masked=mask is not None, inference=inference if rule == "pc" else None, optimizer=optimizer),
        diverged=diverged, monitor=monitor,
    )


def _restore(state: dict, ws, buf, test_buf, test_iters: list, traj, n_iter: int) -> tuple[int, float]:
    """Load a checkpoint ``state`` (see :func:`train`) into the loop's buffers; return (iteration, seconds)."""
    try:
        done, weights, values = int(state["iteration"]), state["weights"], state["values"]
    except (KeyError, TypeError) as err:
        raise ValueError(f"resume must be a checkpoint state written by train(); missing {err}") from None
    if not 0 <= done <= n_iter or len(weights) != len(ws) or tuple(values.shape) != (done, 2):
        raise ValueError(f"the checkpoint (iteration {done}, {len(weights)} weights, values {tuple(values.shape)}) does "
                         f"not fit this run (n_iter={n_iter}, {len(ws)} weights)")
    for w, saved in zip(ws, weights):
        if tuple(saved.shape) != tuple(w.shape):
            raise ValueError(f"checkpoint weight of shape {tuple(saved.shape)} does not fit {tuple(w.shape)}")
        with torch.no_grad():
            w.copy_(saved.to(dtype=w.dtype, device=w.device))
    buf[:done] = values.to(dtype=buf.dtype, device=buf.device)
    tests = state.get("test_values")
    if tests is not None and len(tests):
        test_buf[:len(tests)] = tests.to(dtype=test_buf.dtype, device=test_buf.device)
    test_iters[:] = list(state.get("test_iter", []))
    if traj is not None and state.get("trajectory") is not None:
        traj[:] = [t.to(device=ws[0].device) for t in state["trajectory"]]
    return done, float(state.get("seconds", 0.0))


__all__ = ["Batch", "History", "INFERENCES", "Monitor", "OPTIMIZERS", "Step", "bp_step", "loss_grads", "pc_step", "train"]
