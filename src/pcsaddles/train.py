"""Training with backprop (BP) and predictive coding (PC), escape times, and landscapes.

Used by the BP-vs-PC chapters (Figures 2, 5, 6, 7, 11, 12). Conventions as in
:mod:`pcsaddles.dln`: ``weights = [W1, ..., WL]`` with ``W_l (d_l, d_{l-1})``, no biases, a batch
``x (N, d_0)``, ``y (N, d_L)``, activations (``"linear"``, ``"tanh"``, ``"relu"``) on hidden layers
only. Everything runs in the dtype and on the device of the weights (float32/float64, CPU/CUDA).

**Steps.** Both rules are plain SGD, ``W_l <- W_l - lr * g_l``:

* BP: ``g = c_BP * grad L`` with ``L = 1/(2N) sum_i ||y_i - f_theta(x_i)||^2`` (Eq. 1), computed by
  backpropagation (:func:`loss_grads`).
* PC: ``g = c_PC * dF/dtheta`` at the activities reached by ``T`` explicit Euler steps
  (``dt = 0.1``) from the feed-forward pass (:func:`pcsaddles.pc.infer`), with
  ``F = 1/(2N) sum_i sum_l ||e_{l,i}||^2`` (Eq. 2) and the gradient from
  :func:`pcsaddles.pc.weight_grads` (Eq. 4). For ``T -> inf`` this is gradient descent on the
  equilibrated energy ``F*`` (envelope theorem, SPEC 1.8).

**Normalisation conventions** (SPEC 1.3), the factors ``c``:

============  ==========================================  ===========================================
convention    BP objective, ``c_BP``                      PC objective, ``c_PC``
============  ==========================================  ===========================================
``"paper"``   ``L = 1/(2N) sum ||r||^2``, ``c = 1``       ``F = 1/(2N) sum ||e||^2``, ``c = 1``
``"authors"`` ``nn.MSELoss`` = ``1/(N d_L) sum ||r||^2``  ``1/2 sum_batch ||e||^2`` (a batch *sum*),
              = ``(2/d_L) L``, ``c = 2/d_L``              ``= N F``, ``c = N``
============  ==========================================  ===========================================

So under the authors' conventions PC's step is ``c_PC / c_BP = N d_L / 2`` times BP's at the same
nominal learning rate (x96 for the 3-D toy net with N = 64, x320 for 10 classes). The
*normalisation-matched* BP control multiplies BP's learning rate by :func:`matched_lr_factor`
``= N d_L / 2``, which makes its step ``N * grad L``, the same scale as the authors' PC step.

**Reported losses** (``report``): ``"paper"`` is ``L`` (Eq. 1); ``"mse"`` is ``nn.MSELoss``
``= 1/(N d_L) sum ||r||^2 = (2/d_L) L``, what the paper's BP-vs-PC figures plot. For PC the
training loss is the loss of the feed-forward pass on the batch (as in the authors' code), not
the energy.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from . import data as _data
from reprokit import hessian

from . import dln, init, layered, pc
from ._checks import check_choice, check_data, check_weights
from .activations import get_activation

RULES = ("bp", "pc")
CONVENTIONS = ("paper", "authors")
REPORTS = ("paper", "mse")
OBJECTIVES = ("loss", "energy", "equilibrated")

Batch = tuple[torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------------------------
# normalisations


def grad_scale(rule: str, convention: str, n: int, d_out: int) -> float:
    """The factor ``c`` with ``step = lr * c * (paper-normalised gradient)`` (table in the module doc).

    ``"paper"``: 1 for both rules. ``"authors"``: ``2 / d_out`` for BP (``nn.MSELoss``), ``n`` for
    PC (gradient of ``1/2`` times the batch *sum* of squared errors).
    """
    check_choice("rule", rule, RULES)
    check_choice("convention", convention, CONVENTIONS)
    if convention == "paper":
        return 1.0
    return 2.0 / d_out if rule == "bp" else float(n)


def matched_lr_factor(n: int, d_out: int) -> float:
    """``N d_L / 2``: the ratio of the authors' PC step to their BP step at equal learning rate.

    BP run with ``lr * matched_lr_factor(N, d_L)`` under the ``"authors"`` convention takes steps
    ``lr * N * grad L``, the same normalisation as the authors' PC steps ``lr * N * dF/dtheta``
    (the normalisation-matched control of SPEC 6.3).
    """
    if n < 1 or d_out < 1:
        raise ValueError(f"need a batch size n >= 1 and d_out >= 1; received n={n}, d_out={d_out}")
    return n * d_out / 2.0


def reported_loss(out: torch.Tensor, y: torch.Tensor, report: str = "paper") -> torch.Tensor:
    """The loss of predictions ``out (N, d_L)``: ``"paper"`` ``1/(2N) sum ||y - out||^2`` (Eq. 1),
    ``"mse"`` ``1/(N d_L) sum ||y - out||^2`` (``nn.MSELoss``, what the paper's BP-vs-PC figures show)."""
    check_choice("report", report, REPORTS)
    sq = (y - out).pow(2)
    return sq.mean() if report == "mse" else 0.5 * sq.sum() / out.shape[0]


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


def _pc_grads(weights, x, y, activation, n_steps, dt):
    """Feed-forward output and ``dF/dW`` (paper normalisation) after ``n_steps`` Euler steps."""
    layers = dln.forward(weights, x, activation)  # [z_1, ..., z_L], the feed-forward pass
    z = pc.infer(weights, x, y, activation, method="euler", dt=dt, n_steps=n_steps, init=layers[:-1])
    return layers[-1], pc.weight_grads(weights, z, x, y, activation), z


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
# batches


def fresh_batches(dataset: _data.Dataset, batch_size: int) -> Iterator[Batch]:
    """Consecutive disjoint batches ``dataset[k B:(k+1) B]``: a fresh sample every iteration, never
    reused (the chain experiments draw a new batch of the toy data each step). Pre-draw
    ``n_iter * batch_size`` samples, e.g. ``data.toy_gaussian(n_iter * 64, dim=1, seed=s)``."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; received {batch_size!r}")
    starts = range(0, len(dataset) - batch_size + 1, batch_size)
    return ((dataset.x[s:s + batch_size], dataset.y[s:s + batch_size]) for s in starts)


def epoch_batches(dataset: _data.Dataset, batch_size: int, seed: int = 0) -> Iterator[Batch]:
    """Shuffled minibatches over an unlimited number of epochs (``drop_last``, as a PyTorch
    ``DataLoader(shuffle=True, drop_last=True)``). Epoch ``e`` uses
    ``data.batches(dataset, batch_size, seed=1000 * seed + e)``, so runs with the same ``seed``
    (e.g. BP and PC) see the same batches in the same order (streams of different seeds are
    distinct for the first 1000 epochs)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int; received {batch_size!r}")
    return _epochs(dataset, batch_size, seed)


def _epochs(dataset, batch_size, seed):
    epoch = 0
    while True:
        yield from _data.batches(dataset, batch_size, seed=1000 * seed + epoch)
        epoch += 1


# --------------------------------------------------------------------------------------------
# stopping rules


@dataclass
class Progress:
    """What a stopping rule sees after update ``iteration`` (0-based): tensors (on the weights'
    device) of the training losses so far and of the test losses measured so far."""

    iteration: int
    train_loss: torch.Tensor
    test_loss: torch.Tensor


StopRule = Callable[[Progress], bool]


def stop_when_test_below(threshold: float) -> StopRule:
    """Stop once the latest test loss is below ``threshold`` (the 1-unit chain's PC rule, 1e-3)."""

    def rule(p: Progress) -> bool:
        return p.test_loss.numel() > 0 and float(p.test_loss[-1]) < threshold

    return rule


def stop_on_plateau(epoch_length: int, tol: float) -> StopRule:
    """The authors' rule: at the end of each epoch (``epoch_length`` iterations) after the first,
    stop when the epoch-average training loss decreased by less than ``tol``."""
    if epoch_length < 1:
        raise ValueError(f"epoch_length must be >= 1; received {epoch_length}")

    def rule(p: Progress) -> bool:
        done = p.iteration + 1
        if done % epoch_length or done < 2 * epoch_length:
            return False
        last = p.train_loss[done - epoch_length:done].mean()
        prev = p.train_loss[done - 2 * epoch_length:done - epoch_length].mean()
        return float(prev - last) < tol

    return rule


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
    ``(n + 1, p)``. ``weights`` are the final weights.
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
    weights: list[torch.Tensor] | layered.Net
    trajectory: np.ndarray | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    settings: dict = field(default_factory=dict)

    @property
    def n_iter(self) -> int:
        return len(self.train_loss)

    def escape(self, fraction: float = 0.5) -> int | None:
        """:func:`escape_iteration` of the training loss."""
        return escape_iteration(self.train_loss, fraction)


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
    report: str = "paper",
    test: Batch | None = None,
    test_every: int = 1,
    stop: StopRule | None = None,
    record_trajectory: bool = False,
    progress: bool = False,
    resume: dict | None = None,
    checkpoint: Callable[[Callable[[], dict]], bool] | None = None,
) -> History:
    """Train with ``rule`` (``"bp"`` or ``"pc"``) by SGD for at most ``n_iter`` updates.

    Each iteration takes the next batch ``(x, y)`` from ``batches``, computes the gradient
    (BP: :func:`loss_grads`; PC: one :func:`pcsaddles.pc.infer` with ``n_steps`` Euler steps of
    size ``dt`` from the feed-forward pass, then one :func:`pcsaddles.pc.weight_grads`), scales it
    by :func:`grad_scale` for ``convention`` and updates ``W <- W - lr * lr_factor * g``.
    Recorded per iteration (see :class:`History`): the ``report`` loss before the update and
    ``||g||_2``; with ``test = (x_test, y_test)`` the test loss at initialisation and after every
    ``test_every`` updates. ``stop`` (see :func:`stop_when_test_below`, :func:`stop_on_plateau`)
    is called after every update and ends the run when it returns True.

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
    uninterrupted run (the batches are a deterministic stream and the loop has no other randomness).
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
                return loss_grads(ws, x, y, activation)
            return _pc_grads(ws, x, y, activation, n_steps, dt)[:2]
    ref = ws[0]
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
    start, done, stopped = time.perf_counter() - elapsed, first, False

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
        out, grads = gradients(x, y)
        scale = grad_scale(rule, convention, x.shape[0], y.shape[1])
        buf[it, 0] = reported_loss(out, y, report)
        buf[it, 1] = scale * torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads]))
        for w, g in zip(ws, grads):
            w.add_(g, alpha=-lr * lr_factor * scale)  # W <- W - lr * lr_factor * c * g
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
        settings=dict(activation=activation, n_steps=n_steps if rule == "pc" else None, dt=dt if rule == "pc" else None),
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


# --------------------------------------------------------------------------------------------
# escape times and statistics over seeds


def escape_iteration(losses, fraction: float = 0.5, reference: float | None = None) -> int | None:
    """The first index ``i`` with ``losses[i] < fraction * reference`` (default reference
    ``losses[0]``, the loss at initialisation), i.e. the number of updates after which the run has
    left the plateau of the initial saddle; ``None`` if it never does."""
    values = np.asarray(losses, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"losses must be a non-empty 1-D sequence; received shape {values.shape}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1); received {fraction}")
    ref = values[0] if reference is None else float(reference)
    below = np.flatnonzero(values < fraction * ref)
    return int(below[0]) if below.size else None


def seed_statistics(runs: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation (``ddof=0``) over runs of per-iteration values, truncated to the
    shortest run (the authors' procedure for Figure 7). Returns two arrays of that length."""
    if len(runs) == 0:
        raise ValueError("runs must contain at least one sequence")
    n = min(len(r) for r in runs)
    stacked = np.stack([np.asarray(r[:n], dtype=float) for r in runs])  # (n_runs, n)
    return stacked.mean(axis=0), stacked.std(axis=0)


# --------------------------------------------------------------------------------------------
# landscapes


def objective(name: str, x: torch.Tensor, y: torch.Tensor, *, n_steps: int = 50, dt: float = 0.1,
              activation: str = "linear", report: str = "paper") -> Callable[[list[torch.Tensor]], torch.Tensor]:
    """A scalar function of the weights for :func:`landscape` (written to be ``vmap``-able).

    * ``"loss"`` -- :func:`pcsaddles.dln.mse_loss` (times ``2/d_L`` for ``report="mse"``);
    * ``"energy"`` -- :func:`pcsaddles.pc.unrolled_energy`: the energy after ``n_steps`` Euler steps
      from the feed-forward pass (what the authors plot as the energy landscape);
    * ``"equilibrated"`` -- :func:`pcsaddles.dln.equilibrated_energy`, ``F*`` of Theorem 1 (linear
      networks only).
    """
    check_choice("objective", name, OBJECTIVES)
    check_choice("report", report, REPORTS)
    if name == "loss":
        scale = 2.0 / y.shape[1] if report == "mse" else 1.0
        return lambda ws: scale * dln.mse_loss(ws, x, y, activation)
    if name == "energy":
        return lambda ws: pc.unrolled_energy(ws, x, y, n_steps, dt, activation)
    if activation != "linear":
        raise ValueError(f"the equilibrated energy (Theorem 1) is for linear networks; received activation={activation!r}")
    return lambda ws: dln.equilibrated_energy(ws, x, y)


def landscape(fn: Callable[[list[torch.Tensor]], torch.Tensor], center: Sequence[torch.Tensor],
              directions: Sequence[Sequence[torch.Tensor]], coords: Sequence[torch.Tensor] | torch.Tensor,
              *, chunk_size: int | None = None) -> torch.Tensor:
    """``fn`` on a grid around ``center``: ``out[i, j, ...] = fn(center + a_i v_1 + b_j v_2 + ...)``.

    ``directions = [v_1, ..., v_k]`` (each a weight list shaped like ``center``; ``k = 2`` for a
    surface, ``3`` for a volume), ``coords`` one 1-D tensor per direction (or one tensor used for
    all). Returns a tensor of shape ``(len(coords[0]), ..., len(coords[k-1]))`` (``"ij"`` indexing).
    All grid points are evaluated at once with ``torch.func.vmap`` (``chunk_size`` bounds the
    memory), so ``fn`` must be vmappable -- e.g. one from :func:`objective`. Inference inside
    ``fn`` (``"energy"``) runs batched over the grid, without a Python loop over points.
    """
    shapes = hessian.shapes_of(center)
    theta = hessian.flatten(center).detach()  # (p,)
    if isinstance(directions, torch.Tensor) or len(directions) == 0:
        raise TypeError("directions must be a non-empty list of weight lists [v_1, ..., v_k]")
    vs = []
    for i, d in enumerate(directions):
        if hessian.shapes_of(d) != shapes:
            raise ValueError(f"direction {i} has shapes {hessian.shapes_of(d)}; expected {shapes} like the center")
        vs.append(hessian.flatten(d).detach().to(theta))
    basis = torch.stack(vs)  # (k, p)
    if isinstance(coords, torch.Tensor):
        coords = [coords] * len(vs)
    if len(coords) != len(vs):
        raise ValueError(f"need one coordinate vector per direction: {len(vs)} directions, {len(coords)} coords")
    coords = [torch.as_tensor(c).to(theta) for c in coords]
    if any(c.ndim != 1 or c.numel() == 0 for c in coords):
        raise ValueError("each coordinate vector must be a non-empty 1-D tensor")
    mesh = torch.meshgrid(*coords, indexing="ij")
    alphas = torch.stack([m.reshape(-1) for m in mesh], dim=1)  # (G, k)
    points = theta + alphas @ basis  # (G, p)

    def at(v: torch.Tensor) -> torch.Tensor:
        return fn(hessian.unflatten(v, shapes)).reshape(())

    with torch.no_grad():
        values = torch.func.vmap(at, chunk_size=chunk_size)(points)  # (G,)
    return values.reshape(*[len(c) for c in coords])


def axis_directions(weights: Sequence[torch.Tensor]) -> list[list[torch.Tensor]]:
    """One unit direction per scalar weight (row-major order of :func:`reprokit.hessian.flatten`):
    for a chain ``[w1, ..., wL]`` the coordinate axes, so :func:`landscape` with these directions
    and ``center`` 0 evaluates the function at ``(w1, w2, ...)`` directly."""
    shapes = hessian.shapes_of(weights)
    eye = torch.eye(sum(a * b for a, b in shapes), dtype=weights[0].dtype, device=weights[0].device)
    return [hessian.unflatten(row, shapes) for row in eye]


def extreme_directions(hess: torch.Tensor, shapes: Sequence[tuple[int, int]]
                       ) -> tuple[list[torch.Tensor], list[torch.Tensor], float, float]:
    """``(v_min, v_max, lambda_min, lambda_max)``: unit eigenvectors (as weight lists) of the
    smallest and largest eigenvalues of a symmetric Hessian ``(p, p)``, from
    ``torch.linalg.eigh`` (ascending eigenvalues, eigenvectors in the *columns*). When an extreme
    eigenvalue is degenerate the vector is one element of its eigenspace (the one ``eigh``
    returns); callers should say which."""
    if hess.ndim != 2 or hess.shape[0] != hess.shape[1]:
        raise ValueError(f"hess must be a square matrix; received shape {tuple(hess.shape)}")
    vals, vecs = torch.linalg.eigh(0.5 * (hess + hess.T))
    return (hessian.unflatten(vecs[:, 0], shapes), hessian.unflatten(vecs[:, -1], shapes),
            float(vals[0]), float(vals[-1]))


__all__ = [
    "RULES", "CONVENTIONS", "REPORTS", "OBJECTIVES", "grad_scale", "matched_lr_factor", "reported_loss",
    "loss_grads", "Step", "bp_step", "pc_step", "fresh_batches", "epoch_batches", "Progress",
    "stop_when_test_below", "stop_on_plateau", "History", "train", "escape_iteration", "seed_statistics",
    "objective", "landscape", "axis_directions", "extreme_directions",
]


# --------------------------------------------------------------------------------------------
# the escape experiments (Figures 5, 11, 12): initial networks and resumable runs


def escape_network(in_dim: int, activation: str, *, width: int = 500, depth: int = 4, std: float = 5e-3,
                   penultimate: str = "gaussian", conv: bool = False, conv_bias: str = "default", n_out: int = 10,
                   seed: int = 0, dtype: torch.dtype = torch.float32, device=None):
    """The initial network of a BP-vs-PC escape run near a zero-rank saddle.

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
