"""How the time to leave the origin scales with the initial scale and the depth (beyond the paper).

Theorem 2 says the origin is a strict saddle of the equilibrated energy ``F*`` for every depth,
while for the loss it is a saddle of order ``H`` (Eq. 7: the Hessian vanishes for ``H >= 2``).
Standard saddle-escape arguments then predict, for gradient descent with step ``eta`` from
weights of scale ``sigma``:

* strict saddle (the loss for ``H = 1``; ``F*`` for every ``H``): the unstable mode grows like
  ``exp(eta lambda t)`` with ``lambda = -lambda_min`` of the Hessian at the origin, so the escape
  takes ``t ~ (ln(1/sigma) + const) / (eta lambda)`` iterations;
* order-``H`` saddle (the loss for ``H >= 2``): the end-to-end map grows like
  ``sigma^{H+1}``-homogeneous dynamics ``dw/dt ~ w^H``, so ``t ~ const / (eta sigma^{H-1})``.

This module runs the three rules of the book's BP-vs-PC chapters on a *batch* of small deep
linear networks at once (one run per initial scale and seed; every tensor carries a leading run
axis ``R``), full batch, and measures the iterations until the loss (and, for PC, ``F*``) first
falls below half its initial value (:func:`pcsaddles.curves.escape_iteration`'s definition).
It also integrates the gradient flow of the loss with an adaptive ODE solver, whose escape time
``t`` (in units of ``eta * iterations``) covers the grid points where discrete BP would need
millions of iterations.

Conventions as in :mod:`pcsaddles.dln`: ``W_l`` of shape ``(d_l, d_{l-1})`` -- batched
``(R, d_l, d_{l-1})`` --, ``x (N, d_0)``, ``y (N, d_L)``, the paper's normalisations
``L = 1/(2N) sum ||r||^2`` (Eq. 1) and ``F = 1/(2N) sum ||e||^2`` (Eq. 2). The rules' step sizes
follow :mod:`pcsaddles.train` with the authors' conventions (:func:`step_sizes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from . import init, origin
from ._checks import check_data, check_weights
from .normalisation import grad_scale, matched_lr_factor

RULES = ("bp", "bp_matched", "pc")


# --------------------------------------------------------------------------------------------
# step sizes and initial weights


def step_sizes(lr: float, n: int, d_out: int) -> dict[str, float]:
    """Effective steps ``eta`` on the paper-normalised objectives, for nominal learning rate ``lr``.

    With the authors' conventions (:func:`pcsaddles.normalisation.grad_scale`) BP descends ``nn.MSELoss =
    (2/d_L) L``, so ``eta_bp = 2 lr / d_L``; PC descends the batch-summed energy ``N F``, so
    ``eta_pc = N lr``; the normalisation-matched BP multiplies BP's rate by
    :func:`pcsaddles.normalisation.matched_lr_factor` ``= N d_L / 2``, giving ``eta_pc`` again.
    """
    if not lr > 0:
        raise ValueError(f"lr must be positive; received {lr}")
    bp = lr * grad_scale("bp", "authors", n, d_out)
    return {"bp": bp, "bp_matched": bp * matched_lr_factor(n, d_out), "pc": lr * grad_scale("pc", "authors", n, d_out)}


def scaled_inits(widths: Sequence[int], sigmas: Sequence[float], seeds: Sequence[int],
                 dtype: torch.dtype = torch.float64) -> list[torch.Tensor]:
    """Batched initial weights ``[W_1, ..., W_L]``, each ``(R, d_l, d_{l-1})`` with ``R = len(sigmas) * len(seeds)``.

    Run ``r = i * len(seeds) + j`` is ``sigmas[i] * init.gaussian(widths, 1.0, seed=seeds[j])``:
    for one seed the direction of the initial weights is the same at every scale, so a seed's
    escape times differ only through ``sigma``.
    """
    widths = list(widths)
    if not sigmas or not seeds or any(not s > 0 for s in sigmas):
        raise ValueError(f"need non-empty sigmas (all > 0) and seeds; received sigmas={list(sigmas)}, seeds={list(seeds)}")
    base = [init.gaussian(widths, 1.0, seed=int(s), dtype=torch.float64) for s in seeds]
    scale = torch.tensor([float(s) for s in sigmas], dtype=torch.float64)
    out = []
    for l in range(len(widths) - 1):
        stacked = torch.stack([b[l] for b in base])  # (n_seeds, d_l, d_{l-1})
        out.append((scale[:, None, None, None] * stacked[None]).reshape(-1, *stacked.shape[1:]).to(dtype))
    return out


def unbatch(weights: Sequence[torch.Tensor], r: int) -> list[torch.Tensor]:
    """Run ``r`` of a batch of weights, as an ordinary weight list."""
    return [w[r] for w in weights]


# --------------------------------------------------------------------------------------------
# batched objectives and gradients (full batch, through the data moments)


def _check_batched(weights) -> int:
    if isinstance(weights, torch.Tensor) or not weights or any(w.ndim != 3 for w in weights):
        raise ValueError("batched weights must be a list of 3-D tensors (R, d_l, d_{l-1})")
    check_weights([w[0] for w in weights])
    runs = {w.shape[0] for w in weights}
    if len(runs) != 1:
        raise ValueError(f"every batched weight needs the same number of runs R; received {sorted(runs)}")
    return runs.pop()


def _products(weights):
    """``heads[l] = W_{l:1}`` (``heads[0] = I``) and ``tails[l] = W_{L:l+1}`` (``tails[L] = I``), batched."""
    ref = weights[0]
    r = ref.shape[0]
    heads = [torch.eye(ref.shape[2], dtype=ref.dtype).expand(r, -1, -1)]
    for w in weights:
        heads.append(w @ heads[-1])  # W_{l:1}, (R, d_l, d_0)
    tails = [torch.eye(weights[-1].shape[1], dtype=ref.dtype).expand(r, -1, -1)]
    for w in reversed(weights):
        tails.append(tails[-1] @ w)  # W_{L:l}, (R, d_L, d_{l-1})
    tails = tails[::-1]  # tails[l] = W_{L:l+1} for l = 0..L (tails[0] = W_{L:1}, tails[L] = I)
    return heads, tails


def _residual_moment(p: torch.Tensor, m: origin.Moments) -> torch.Tensor:
    """``Psi = Syy - P Sxy - Syx P^T + P Sxx P^T`` for end-to-end maps ``p (R, d_L, d_0)``."""
    ps = p @ m.sxy  # (R, d_L, d_L)
    return m.syy - ps - ps.transpose(1, 2) + p @ m.sxx @ p.transpose(1, 2)


def batched_loss_grads(weights: Sequence[torch.Tensor], m: origin.Moments) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The loss (Eq. 1) of every run ``(R,)`` and its gradients ``dL/dW_l (R, d_l, d_{l-1})``.

    Full batch, from the moments ``m`` (:func:`pcsaddles.origin.data_moments`):
    ``L = 1/2 tr(Psi)`` and ``dL/dW_l = W_{L:l+1}^T (W_{L:1} Sxx - Syx) W_{l-1:1}^T``.
    """
    _check_batched(weights)
    heads, tails = _products(weights)
    p = heads[-1]  # W_{L:1}
    g = p @ m.sxx - m.sxy.T  # (R, d_L, d_0)
    loss = 0.5 * _residual_moment(p, m).diagonal(dim1=1, dim2=2).sum(-1)
    grads = [tails[l + 1].transpose(1, 2) @ g @ heads[l].transpose(1, 2) for l in range(len(weights))]
    return loss, grads


def batched_rescaling(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``S = I + sum_{l=2}^{L} W_{L:l} W_{L:l}^T`` of every run, ``(R, d_L, d_L)`` (Theorem 1)."""
    _check_batched(weights)
    _, tails = _products(weights)
    d = weights[-1].shape[1]
    s = torch.eye(d, dtype=weights[0].dtype).expand(weights[0].shape[0], -1, -1)
    for t in tails[1:-1]:  # W_{L:l} for l = 2..L
        s = s + t @ t.transpose(1, 2)
    return s


def batched_energy(weights: Sequence[torch.Tensor], m: origin.Moments) -> torch.Tensor:
    """The equilibrated energy (Eq. 5) of every run, ``F* = 1/2 tr(S^{-1} Psi)``, shape ``(R,)``."""
    p = _products(weights)[0][-1]
    return 0.5 * torch.linalg.solve(batched_rescaling(weights), _residual_moment(p, m)).diagonal(dim1=1, dim2=2).sum(-1)


def _activity_system(weights, x, y):
    """Batched activity Hessian ``K (R, D, D)`` (:func:`pcsaddles.dln.activity_hessian`) and the
    constant ``C (R, N, D)`` of the affine activity gradient ``g = Z K - C``."""
    r = weights[0].shape[0]
    hidden = [w.shape[2] for w in weights[1:]]  # d_1, ..., d_H
    off = np.concatenate([[0], np.cumsum(hidden)]).tolist()
    ref = weights[0]
    k = torch.zeros(r, off[-1], off[-1], dtype=ref.dtype)
    for i in range(len(hidden)):
        w_next = weights[i + 1]  # (R, d_{l+1}, d_l)
        a, b = off[i], off[i + 1]
        k[:, a:b, a:b] = torch.eye(hidden[i], dtype=ref.dtype) + w_next.transpose(1, 2) @ w_next
        if i + 1 < len(hidden):
            c = off[i + 2]
            k[:, b:c, a:b] = -w_next
            k[:, a:b, b:c] = -w_next.transpose(1, 2)
    c = torch.zeros(r, x.shape[0], off[-1], dtype=ref.dtype)
    c[:, :, : off[1]] += x @ weights[0].transpose(1, 2)  # W_1 x_i
    c[:, :, off[-2]:] += y @ weights[-1]  # W_L^T y_i
    return k, c, off


def batched_pc_grads(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, n_steps: int | None = 50,
                     dt: float = 0.1) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """PC's weight gradients after ``n_steps`` Euler inference steps from the feed-forward pass.

    ``n_steps=None`` takes them at the exact equilibrium ``Z*``, where they are the gradient of the
    equilibrated energy ``F*`` (the envelope identity of Theorem 1).

    Returns the loss of the feed-forward pass ``(R,)`` and ``dF/dW_l = -1/N e_l^T z_{l-1}``
    ``(R, d_l, d_{l-1})`` (Eq. 4) at the activities reached by ``z <- z - dt dF_i/dz`` (Eq. 3),
    i.e. :func:`pcsaddles.pc.infer` (euler) followed by :func:`pcsaddles.pc.weight_grads`, for
    every run at once. For a linear network the activity gradient is affine, ``g = Z K - C``, so
    ``T`` Euler steps are ``Z_T = Z* + (Z_0 - Z*) (I - dt K)^T`` with ``Z* = C K^{-1}`` (the form of
    :func:`pcsaddles.pc.unrolled_energy_linear`): one solve and a matrix power per iteration.
    """
    _check_batched(weights)
    check_data(unbatch(weights, 0), x, y)
    if n_steps is not None and (isinstance(n_steps, bool) or int(n_steps) != n_steps or n_steps < 0):
        raise ValueError(f"n_steps must be an integer >= 0 or None (exact equilibrium); received {n_steps!r}")
    k, c, off = _activity_system(weights, x, y)
    z, zs = x, []
    for w in weights:
        z = z @ w.transpose(-1, -2)  # feed-forward, (R, N, d_l)
        zs.append(z)
    out, z0 = zs[-1], torch.cat(zs[:-1], dim=-1)  # (R, N, D)
    z_star = torch.linalg.solve(k, c.transpose(1, 2)).transpose(1, 2)
    if n_steps is None:
        z_t = z_star
    else:
        step = torch.eye(k.shape[-1], dtype=k.dtype) - dt * k
        z_t = z_star + (z0 - z_star) @ torch.linalg.matrix_power(step, int(n_steps))
    layers = [x.expand(k.shape[0], -1, -1)] + [z_t[..., a:b] for a, b in zip(off[:-1], off[1:])] + [y.expand(k.shape[0], -1, -1)]
    n = x.shape[0]
    grads = []
    for l, w in enumerate(weights):
        e = layers[l + 1] - layers[l] @ w.transpose(1, 2)  # (R, N, d_l)
        grads.append(-(e.transpose(1, 2) @ layers[l]) / n)
    loss = 0.5 * (y - out).pow(2).sum((1, 2)) / n
    return loss, grads


# --------------------------------------------------------------------------------------------
# escape iterations of discrete gradient descent


@dataclass
class EscapeRuns:
    """Escape iterations of a batch of runs: ``loss[r]`` is the number of updates after which the
    loss of run ``r`` is first below ``fraction`` times its initial value, ``-1`` if not within
    ``max_iter`` (a censored run: its escape time is at least ``max_iter``). For PC, ``energy[r]``
    is the same for the equilibrated energy ``F*`` (``None`` for BP). ``weights`` are the batched
    weights at the end (after ``iterations_run`` updates); ``diverged[r]`` marks a run whose
    gradient became non-finite (it was frozen there and counts as censored unless it had escaped)."""

    rule: str
    eta: float
    max_iter: int
    loss: np.ndarray
    energy: np.ndarray | None
    iterations_run: int
    weights: list[torch.Tensor]
    diverged: np.ndarray

    @property
    def censored(self) -> np.ndarray:
        return self.loss < 0


def escape_iterations(rule: str, weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, eta: float,
                      max_iter: int, *, fraction: float = 0.5, n_steps: int = 50, dt: float = 0.1) -> EscapeRuns:
    """Full-batch gradient descent ``W <- W - eta g`` for every run of a batch, until every run has escaped.

    ``rule``: ``"bp"`` or ``"bp_matched"`` (``g = dL/dW``, :func:`batched_loss_grads`) or ``"pc"``
    (``g = dF/dW`` after ``n_steps`` Euler steps of size ``dt``, :func:`batched_pc_grads`); ``eta``
    the effective step (:func:`step_sizes`). Escape as in :func:`pcsaddles.curves.escape_iteration`:
    the first update count ``i`` whose loss (before update ``i``) is below ``fraction`` times the loss
    at initialisation. For PC the equilibrated energy ``F*`` (the objective PC descends when
    inference converges) is tracked the same way; PC runs until both have escaped or ``max_iter``.
    A run whose gradient becomes non-finite (e.g. Euler inference beyond its stability limit
    ``dt < 2 / lambda_max`` of the activity Hessian) is frozen and reported in ``diverged``.
    """
    if rule not in RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {list(RULES)}")
    runs = _check_batched(weights)
    check_data(unbatch(weights, 0), x, y)
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1 or not eta > 0:
        raise ValueError(f"need an int max_iter >= 1 and eta > 0; received max_iter={max_iter!r}, eta={eta}")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must lie in (0, 1); received {fraction}")
    m = origin.data_moments(x, y)
    pc_rule = rule == "pc"
    ws = [w.detach().clone() for w in weights]
    loss_at = torch.full((runs,), -1, dtype=torch.long)
    energy_at = torch.full((runs,), -1 if pc_rule else 0, dtype=torch.long)
    ref_loss = ref_energy = None
    diverged = torch.zeros(runs, dtype=torch.bool)
    done = 0
    with torch.no_grad():
        for it in range(max_iter + 1):
            if pc_rule:
                loss, grads = batched_pc_grads(ws, x, y, n_steps, dt)
                energy = batched_energy(ws, m)
                if it == 0:
                    ref_energy = energy.clone()
                energy_at[(energy < fraction * ref_energy) & (energy_at < 0)] = it
            else:
                loss, grads = batched_loss_grads(ws, m)
            if it == 0:
                ref_loss = loss.clone()
            loss_at[(loss < fraction * ref_loss) & (loss_at < 0)] = it
            done = it
            if bool(((loss_at >= 0) | diverged).all() and ((energy_at >= 0) | diverged).all()) or it == max_iter:
                break
            finite = torch.isfinite(loss)
            for g in grads:
                finite &= torch.isfinite(g).flatten(1).all(1)
            diverged |= ~finite
            for w, g in zip(ws, grads):
                w.sub_(eta * torch.where(diverged[:, None, None], 0.0, g))
    return EscapeRuns(rule, float(eta), max_iter, loss_at.numpy(), energy_at.numpy() if pc_rule else None, done, ws,
                      diverged.numpy())


def grid(iterations: np.ndarray, n_sigmas: int) -> np.ndarray:
    """Escape iterations of a batch built by :func:`scaled_inits` as a ``(n_sigmas, n_seeds)`` float
    array (row ``i``: ``sigmas[i]``, column ``j``: ``seeds[j]``), with censored runs (``-1``) as NaN."""
    it = np.asarray(iterations)
    if it.ndim != 1 or n_sigmas < 1 or it.size % n_sigmas:
        raise ValueError(f"need R = n_sigmas * n_seeds escape iterations; received {it.shape} for n_sigmas={n_sigmas}")
    return np.where(it < 0, np.nan, it).astype(float).reshape(n_sigmas, -1)


# --------------------------------------------------------------------------------------------
# the gradient flow of the loss, by an adaptive ODE solver


def _np_loss_grads(ws: list[np.ndarray], sxx: np.ndarray, sxy: np.ndarray) -> list[np.ndarray]:
    """:func:`batched_loss_grads` for one network in numpy (the flow's hot path: tiny matrices)."""
    heads = [np.eye(sxx.shape[0])]
    for w in ws:
        heads.append(w @ heads[-1])
    g = heads[-1] @ sxx - sxy.T
    grads, tail = [None] * len(ws), np.eye(ws[-1].shape[0])
    for l in range(len(ws) - 1, -1, -1):
        grads[l] = tail.T @ g @ heads[l].T
        tail = tail @ ws[l]
    return grads


def _np_energy_grads(ws: list[np.ndarray], x: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """``grad F*`` for one network in numpy: PC's weight gradient at the exact equilibrium
    (:func:`batched_pc_grads` with ``n_steps=None``)."""
    hidden = [w.shape[1] for w in ws[1:]]
    off = np.concatenate([[0], np.cumsum(hidden)])
    k = np.zeros((off[-1], off[-1]))
    for i, w_next in enumerate(ws[1:]):
        a, b = off[i], off[i + 1]
        k[a:b, a:b] = np.eye(hidden[i]) + w_next.T @ w_next
        if i + 1 < len(hidden):
            k[off[i + 1]:off[i + 2], a:b] = -w_next
            k[a:b, off[i + 1]:off[i + 2]] = -w_next.T
    c = np.zeros((x.shape[0], off[-1]))
    c[:, : off[1]] += x @ ws[0].T
    c[:, off[-2]:] += y @ ws[-1]
    z = np.linalg.solve(k, c.T).T  # the equilibrium, (N, D)
    layers = [x] + [z[:, a:b] for a, b in zip(off[:-1], off[1:])] + [y]
    return [-((layers[l + 1] - layers[l] @ w.T).T @ layers[l]) / x.shape[0] for l, w in enumerate(ws)]


def flow_escape_time(weights: Sequence[torch.Tensor], x: torch.Tensor, y: torch.Tensor, *, flow: str = "loss",
                     watch: str = "loss", fraction: float = 0.5, t_max: float = 1e9, rtol: float = 1e-6) -> float:
    """Time ``t`` at which the gradient flow ``dtheta/dt = -grad f`` first has ``watch < fraction * watch(0)``.

    ``flow`` is the objective that flows (``"loss"``, Eq. 1, or ``"energy"``, ``F*`` of Eq. 5, i.e.
    PC with exact inference) and ``watch`` the one whose halving counts as escape (the gradient of
    ``F*`` is PC's weight gradient at the exact equilibrium, as in :func:`batched_pc_grads` with
    ``n_steps=None``). Discrete gradient descent with a small step ``eta`` follows the flow, so it
    escapes after about ``t / eta`` iterations. Integrated by ``scipy.integrate.solve_ivp`` (RK45,
    ``rtol``, a terminal event) in numpy, whose steps grow on a plateau: escape times of ``10^6``
    and more cost a few hundred gradient evaluations. Returns ``inf`` if the event does not occur
    before ``t_max``.
    """
    from scipy.integrate import solve_ivp

    for name, value in (("flow", flow), ("watch", watch)):
        if value not in ("loss", "energy"):
            raise ValueError(f"{name} must be 'loss' or 'energy'; received {value!r}")
    widths = check_data(weights, x, y)
    xs, ys = x.detach().to(torch.float64).numpy(), y.detach().to(torch.float64).numpy()
    n = xs.shape[0]
    sxx, sxy, syy = xs.T @ xs / n, xs.T @ ys / n, ys.T @ ys / n
    shapes = [(b, a) for a, b in zip(widths[:-1], widths[1:])]
    cuts = np.cumsum([a * b for a, b in shapes])[:-1]

    def unpack(v: np.ndarray) -> list[np.ndarray]:
        return [p.reshape(s) for p, s in zip(np.split(v, cuts), shapes)]

    def value(ws, kind):
        p = ws[0]
        for w in ws[1:]:
            p = w @ p
        psi = syy - p @ sxy - sxy.T @ p.T + p @ sxx @ p.T
        if kind == "loss":
            return 0.5 * np.trace(psi)
        s = np.eye(p.shape[0])
        part = np.eye(p.shape[0])
        for w in ws[:0:-1]:  # W_L, ..., W_2
            part = part @ w
            s = s + part @ part.T
        return 0.5 * np.trace(np.linalg.solve(s, psi))

    def rhs(_t, v):
        ws = unpack(v)
        grads = _np_loss_grads(ws, sxx, sxy) if flow == "loss" else _np_energy_grads(ws, xs, ys)
        return -np.concatenate([g.ravel() for g in grads])

    v0 = torch.cat([w.detach().to(torch.float64).reshape(-1) for w in weights]).numpy()
    level = fraction * value(unpack(v0), watch)

    def event(_t, v):
        return value(unpack(v), watch) - level

    event.terminal, event.direction = True, -1
    sol = solve_ivp(rhs, (0.0, t_max), v0, method="RK45", rtol=rtol, atol=1e-12 * max(1.0, float(np.abs(v0).max())),
                    events=event)
    return float(sol.t_events[0][0]) if len(sol.t_events[0]) else math.inf


# --------------------------------------------------------------------------------------------
# predictions and fits


def unstable_rate(widths: Sequence[int], x: torch.Tensor, y: torch.Tensor, objective: str) -> float:
    """``lambda = -lambda_min`` of the Hessian at the origin (0 for the loss with ``H >= 2``).

    Closed forms of :mod:`pcsaddles.origin`: loss ``sigma_max(Sxy)`` (``H = 1``); energy
    ``lambda_max(Syy)`` (``H >= 2``) or ``-lambda_min`` of ``-[[0, Sxy], [Syx, Syy]]`` (``H = 1``).
    """
    if objective not in ("loss", "energy"):
        raise ValueError(f"objective must be 'loss' or 'energy'; received {objective!r}")
    spec = origin.loss_spectrum_origin if objective == "loss" else origin.energy_spectrum_origin
    return max(0.0, -float(spec(list(widths), x, y)[0]))


def log_law_slope(sigmas: Sequence[float], times: Sequence[float]) -> tuple[float, float]:
    """Least-squares fit ``t = a + b ln(1/sigma)``; returns ``(b, a)``: iterations per e-fold of ``1/sigma``.

    A strict saddle with unstable rate ``lambda`` and step ``eta`` predicts ``b = 1 / (eta lambda)``.
    """
    u, t = _fit_inputs(sigmas, times)
    b, a = np.polyfit(np.log(1.0 / u), t, 1)
    return float(b), float(a)


def power_law_exponent(sigmas: Sequence[float], times: Sequence[float]) -> tuple[float, float]:
    """Least-squares fit ``ln t = ln c + k ln(1/sigma)``; returns ``(k, c)``.

    An order-``H`` saddle of the loss predicts ``k = H - 1``.
    """
    u, t = _fit_inputs(sigmas, times)
    if np.any(t <= 0):
        raise ValueError("power-law fits need positive times")
    k, lc = np.polyfit(np.log(1.0 / u), np.log(t), 1)
    return float(k), float(np.exp(lc))


def fit_per_seed(fit, sigmas: Sequence[float], times: np.ndarray) -> np.ndarray:
    """The fitted slope of every seed: ``fit(sigmas, times[:, k])[0]`` for each column ``k`` of
    ``times (n_sigmas, n_seeds)``, with ``fit`` :func:`log_law_slope` or :func:`power_law_exponent`."""
    t = np.asarray(times, dtype=float)
    if t.ndim != 2 or t.shape[0] != len(sigmas):
        raise ValueError(f"times must have shape (len(sigmas), n_seeds) = ({len(sigmas)}, n_seeds); received {t.shape}")
    return np.array([fit(sigmas, t[:, k])[0] for k in range(t.shape[1])])


def _fit_inputs(sigmas, times):
    u, t = np.asarray(sigmas, dtype=float), np.asarray(times, dtype=float)
    if u.shape != t.shape or u.ndim != 1 or u.size < 2 or not np.all(np.isfinite(t)) or np.any(u <= 0):
        raise ValueError(f"need matching 1-D arrays of >= 2 positive sigmas and finite times; received {u}, {t}")
    return u, t


def mean_ci(values: Sequence[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of the Student-t confidence interval of the mean (``n >= 2`` values)."""
    from scipy import stats

    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size < 2 or not np.all(np.isfinite(v)):
        raise ValueError(f"need at least two finite values; received {v}")
    half = stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / math.sqrt(v.size)
    return float(v.mean()), float(half)


__all__ = [
    "RULES", "step_sizes", "scaled_inits", "unbatch", "batched_loss_grads", "batched_rescaling", "batched_energy",
    "batched_pc_grads", "EscapeRuns", "escape_iterations", "grid", "flow_escape_time", "unstable_rate", "log_law_slope",
    "power_law_exponent", "fit_per_seed", "mean_ci",
]
