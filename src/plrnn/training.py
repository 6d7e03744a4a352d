"""Training by backpropagation through time with sparse teacher forcing (the paper's Sect. 2.2 / Appendix).

One optimiser step (the unit this book counts; the lab's "epoch" is 50 of them):

1. every member ``r`` draws ``batch`` windows of ``seq_len + 1`` consecutive observations from the
   (standardised) training trajectories with its own generator (members with one seed draw the same
   windows: paired ablation arms), optionally adds Gaussian noise of s.d. ``noise``;
2. the latent state starts at ``(x_0, L x_0)`` (:meth:`plrnn.torchrnn.RNNEnsemble.initial_state`) and
   the model runs freely, except that after every ``tau``-th step the first ``N`` (observed) units are
   **replaced** by the observations (sparse teacher forcing; the replaced values carry no gradient
   back to the model's prediction)::

       z_t = F(z_{t-1}),   loss += |z_t[:N] - x_t|^2,   if t % tau == 0:  z_t[:N] <- x_t

3. loss of member ``r`` = mean squared error over ``t = 1..seq_len`` and the ``N`` observed units,
   plus the invertibility regulariser (:func:`plrnn.regularizer.invertibility_penalty`) over the
   regions visited by the batch's latent trajectories; the summed loss of all members is
   back-propagated (members are independent, so each gets its own gradient);
4. optional per-member gradient clipping (global norm over the member's parameters), then Adam with
   an exponentially decaying learning rate ``lr_t = lr (lr_end / lr)^(t / steps)`` (constant when
   ``lr_end == lr``).

:func:`train` runs this loop (resumable from a checkpoint, with an optional tqdm bar and a periodic
evaluation hook); :func:`train_stored` wraps it in a :class:`reprokit.runcache.StoredRun`, so a finished
run is loaded instead of retrained.
"""

from __future__ import annotations

import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from reprokit.checks import check_positive_int

from .regularizer import invertibility_penalty
from .torchrnn import RNNEnsemble

__all__ = ["TrainConfig", "Windows", "forced_rollout", "teacher_forced_loss", "heldout_loss", "train", "train_stored",
           "History"]


@dataclass
class TrainConfig:
    """Settings of :func:`train` (the paper's Table 1 columns; ``steps`` are optimiser steps).

    ``reg_lambda`` is one value or one per member; ``reg_fraction`` the share of visited regions
    regularised per step; ``clip`` the per-member gradient-norm cap (None: no clipping);
    ``eval_every`` the evaluation period in steps (0: never)."""

    steps: int
    batch: int
    seq_len: int
    tau: int
    lr: float
    lr_end: float | None = None
    noise: float = 0.0
    reg_lambda: float | list[float] = 0.0
    reg_fraction: float = 0.01
    clip: float | None = None
    eval_every: int = 0

    def __post_init__(self):
        for name in ("steps", "batch", "seq_len", "tau"):
            check_positive_int(name, getattr(self, name))
        if not self.lr > 0 or (self.lr_end is not None and not self.lr_end > 0):
            raise ValueError(f"lr and lr_end must be > 0; received lr={self.lr}, lr_end={self.lr_end}")
        if not self.noise >= 0:
            raise ValueError(f"noise must be >= 0; received {self.noise}")
        lam = np.atleast_1d(np.asarray(self.reg_lambda, dtype=np.float64))
        if lam.ndim != 1 or np.any(~np.isfinite(lam)) or np.any(lam < 0):
            raise ValueError(f"reg_lambda must be >= 0 (one value or one per member); received {self.reg_lambda!r}")
        if not 0 < self.reg_fraction <= 1:
            raise ValueError(f"reg_fraction must be in (0, 1]; received {self.reg_fraction}")
        if self.clip is not None and not self.clip > 0:
            raise ValueError(f"clip must be > 0 or None; received {self.clip}")
        if isinstance(self.eval_every, bool) or not isinstance(self.eval_every, int) or self.eval_every < 0:
            raise ValueError(f"eval_every must be an int >= 0; received {self.eval_every!r}")

    def lambdas(self, R: int) -> np.ndarray:
        """``reg_lambda`` as one value per member ``(R,)``."""
        lam = np.atleast_1d(np.asarray(self.reg_lambda, dtype=np.float64))
        if lam.size == 1:
            return np.full(R, lam[0])
        if lam.size != R:
            raise ValueError(f"reg_lambda has {lam.size} values for {R} members; give one value or one per member")
        return lam

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class Windows:
    """Draws training windows of ``seq_len + 1`` consecutive samples from trajectories.

    ``data``: an array ``(n_traj, T, N)`` or ``(T, N)``, or a list of ``(T_i, N)`` arrays. Every start
    ``t`` with ``t + seq_len < T_i`` of every trajectory is equally likely."""

    def __init__(self, data: Any, seq_len: int):
        seq_len = check_positive_int("seq_len", seq_len)
        if isinstance(data, np.ndarray) and data.ndim == 2:
            data = [data]
        elif isinstance(data, np.ndarray) and data.ndim == 3:
            data = list(data)
        elif not isinstance(data, (list, tuple)) or len(data) == 0:
            raise ValueError("data must be an array (n_traj, T, N) or (T, N) or a list of (T_i, N) arrays; "
                             f"received {type(data).__name__}")
        arrays = [np.asarray(d, dtype=np.float64) for d in data]
        N = arrays[0].shape[-1]
        for a in arrays:
            if a.ndim != 2 or a.shape[1] != N:
                raise ValueError(f"every trajectory must have shape (T_i, {N}); received {a.shape}")
            if not np.all(np.isfinite(a)):
                raise ValueError("data contain NaN or inf")
        starts = [(i, t) for i, a in enumerate(arrays) for t in range(a.shape[0] - seq_len)]
        if not starts:
            raise ValueError(f"no trajectory is longer than seq_len + 1 = {seq_len + 1} samples")
        self.N, self.seq_len = N, seq_len
        self.series = [torch.as_tensor(a) for a in arrays]
        self.starts = torch.as_tensor(starts, dtype=torch.long)  # (n_windows, 2)
        offsets = np.cumsum([0] + [a.shape[0] for a in arrays])
        self._flat = torch.as_tensor(np.concatenate(arrays))
        self._first = torch.as_tensor(offsets[self.starts[:, 0].numpy()] + self.starts[:, 1].numpy())

    def __len__(self) -> int:
        return int(self.starts.shape[0])

    def sample(self, batch: int, generator: torch.Generator, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """``batch`` random windows ``(batch, seq_len + 1, N)``."""
        idx = torch.randint(len(self), (batch,), generator=generator)
        rows = self._first[idx][:, None] + torch.arange(self.seq_len + 1)
        return self._flat[rows].to(dtype)


def forced_rollout(model: RNNEnsemble, x: torch.Tensor, tau: int, patterns: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Run ``model`` along windows ``x (R, B, T + 1, N)`` with forcing every ``tau`` steps.

    Returns the predictions of the observed units ``(R, B, T, N)`` (made before forcing) and, with
    ``patterns=True``, the activation patterns of the latent states ``z_0..z_{T-1}`` that were mapped
    (``(R, B, T, n_units)``, bool), i.e. the regions whose Jacobians the step used."""
    N = model.N
    z = model.initial_state(x[:, :, 0])  # (R, B, M)
    step = model.stepper()
    preds, pats = [], []
    for t in range(1, x.shape[2]):
        if patterns:
            pats.append(model.pattern(z).detach())
        z = step(z)
        preds.append(z[..., :N])
        if t % tau == 0:
            z = torch.cat([x[:, :, t], z[..., N:]], -1)  # forced: the data replace the observed units
    return torch.stack(preds, 2), (torch.stack(pats, 2) if patterns else None)


def teacher_forced_loss(model: RNNEnsemble, x: torch.Tensor, tau: int) -> torch.Tensor:
    """Per-member MSE ``(R,)`` of the forced rollout against ``x[:, :, 1:]`` (``x (R, B, T + 1, N)``)."""
    pred, _ = forced_rollout(model, x, tau)
    return ((pred - x[:, :, 1:]) ** 2).mean(dim=(1, 2, 3))


def heldout_loss(model: RNNEnsemble, data: Any, seq_len: int, tau: int, n_windows: int = 2000, seed: int = 0
                 ) -> np.ndarray:
    """The training objective on held-out data: per-member teacher-forced MSE ``(R,)`` over ``n_windows``
    random windows of ``data`` (see :class:`Windows`), every member seeing the same windows."""
    windows = Windows(data, seq_len)
    x = windows.sample(check_positive_int("n_windows", n_windows), torch.Generator().manual_seed(seed), model.dtype)
    with torch.no_grad():
        loss = teacher_forced_loss(model, x.to(model.device).expand(model.R, *x.shape), tau)
    return loss.cpu().numpy().astype(np.float64)


@dataclass
class History:
    """What :func:`train` recorded: ``loss (steps, R)`` (MSE), ``reg (steps, R)`` (regulariser),
    ``eval_steps (k,)`` and ``evals`` (name -> ``(k, R)``), ``seconds`` (training time)."""

    loss: np.ndarray
    reg: np.ndarray
    eval_steps: np.ndarray
    evals: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: float = 0.0

    def arrays(self) -> dict[str, np.ndarray]:
        out = dict(loss=self.loss, reg=self.reg, eval_steps=self.eval_steps, seconds=np.array(self.seconds))
        out.update({f"eval_{k}": v for k, v in self.evals.items()})
        return out

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "History":
        evals = {k[5:]: np.asarray(v) for k, v in arrays.items() if k.startswith("eval_") and k != "eval_steps"}
        return cls(np.asarray(arrays["loss"]), np.asarray(arrays["reg"]), np.asarray(arrays["eval_steps"]), evals,
                   float(arrays["seconds"]))


def _member_clip(model: RNNEnsemble, clip: float) -> None:
    """Scale each member's gradient (all parameters' slices ``[r]``) to global norm ``<= clip``."""
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    norms = torch.sqrt(sum((g.reshape(model.R, -1) ** 2).sum(1) for g in grads))  # (R,)
    scale = torch.clamp(clip / (norms + 1e-12), max=1.0)
    for g in grads:
        g.mul_(scale.reshape((model.R,) + (1,) * (g.ndim - 1)))


def train(model: RNNEnsemble, data: Any, cfg: TrainConfig, *,
          evaluate: Callable[[RNNEnsemble], dict[str, Any]] | None = None, progress: bool = False,
          checkpoint: Callable | None = None, resume: dict | None = None, desc: str = "train") -> History:
    """Train ``model`` in place on ``data`` (see :class:`Windows`) with ``cfg``; returns the :class:`History`.

    ``evaluate(model)`` (called without gradients after every ``cfg.eval_every`` steps and at step 0)
    returns name -> per-member values ``(R,)``. ``checkpoint`` (e.g.
    :meth:`reprokit.runcache.StoredRun.checkpointer`) is called after every step with a function
    returning the run's state; ``resume`` is such a state, from which the run continues exactly as an
    uninterrupted run would (all randomness comes from per-member generators that are saved).

    The run uses the model's device (``model.to("cuda")`` before the call trains on a GPU); windows and
    noise are drawn on the CPU with the members' generators and moved, so a run draws the same batches
    on every device."""
    if not isinstance(model, RNNEnsemble):
        raise TypeError(f"model must be a plrnn.torchrnn.RNNEnsemble; received {type(model).__name__}")
    if not isinstance(cfg, TrainConfig):
        raise TypeError(f"cfg must be a TrainConfig; received {type(cfg).__name__}")
    windows = data if isinstance(data, Windows) else Windows(data, cfg.seq_len)
    if windows.seq_len != cfg.seq_len or windows.N != model.N:
        raise ValueError(f"windows of length {windows.seq_len} with N={windows.N} do not match seq_len={cfg.seq_len}, "
                         f"N={model.N}")
    R = model.R
    lam = cfg.lambdas(R)
    use_reg = bool(np.any(lam > 0))
    gens = [torch.Generator().manual_seed(1000 + s) for s in model.seeds]  # windows and noise
    reg_gens = [torch.Generator().manual_seed(2000 + s) for s in model.seeds]  # regulariser's regions
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    lr_end = cfg.lr if cfg.lr_end is None else cfg.lr_end
    loss_buf = np.zeros((cfg.steps, R), dtype=np.float32)
    reg_buf = np.zeros((cfg.steps, R), dtype=np.float32)
    eval_steps: list[int] = []
    evals: dict[str, list] = {}
    first, elapsed = 0, 0.0

    def run_eval(step: int) -> None:
        if evaluate is None or cfg.eval_every == 0:
            return
        with torch.no_grad():
            values = evaluate(model)
        eval_steps.append(step)
        for k, v in values.items():
            evals.setdefault(k, []).append(np.asarray(v, dtype=np.float64).reshape(R))

    if resume is not None:
        model.load_arrays(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        for g, s in zip(gens, resume["gens"]):
            g.set_state(s)
        for g, s in zip(reg_gens, resume["reg_gens"]):
            g.set_state(s)
        first, elapsed = int(resume["iteration"]), float(resume["seconds"])
        loss_buf[:first], reg_buf[:first] = resume["loss"][:first], resume["reg"][:first]
        eval_steps = list(resume["eval_steps"])
        evals = {k: list(v) for k, v in resume["evals"].items()}
    else:
        run_eval(0)
    start = time.perf_counter() - elapsed
    done = first

    def state() -> dict:
        return dict(iteration=done, model=model.arrays(), optimizer=copy.deepcopy(opt.state_dict()),
                    gens=[g.get_state() for g in gens], reg_gens=[g.get_state() for g in reg_gens],
                    loss=loss_buf[:done].copy(), reg=reg_buf[:done].copy(), eval_steps=list(eval_steps),
                    evals={k: [np.array(a) for a in v] for k, v in evals.items()},
                    seconds=time.perf_counter() - start)

    steps = range(first, cfg.steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc=desc, initial=first, total=cfg.steps, leave=False, mininterval=2.0)
    dev = model.device
    lam_t = torch.as_tensor(lam, dtype=model.dtype, device=dev)
    for it in steps:
        for group in opt.param_groups:
            group["lr"] = cfg.lr * (lr_end / cfg.lr) ** (it / cfg.steps)
        x = torch.stack([windows.sample(cfg.batch, g, model.dtype) for g in gens])  # (R, B, T + 1, N)
        if cfg.noise > 0:
            x = x + cfg.noise * torch.stack([torch.randn(x.shape[1:], generator=g, dtype=model.dtype) for g in gens])
        x = x.to(dev)
        pred, pats = forced_rollout(model, x, cfg.tau, patterns=use_reg)
        mse = ((pred - x[:, :, 1:]) ** 2).mean(dim=(1, 2, 3))  # (R,)
        reg = (invertibility_penalty(model, pats, lam_t, cfg.reg_fraction, reg_gens) if use_reg
               else torch.zeros(R, device=dev))
        opt.zero_grad(set_to_none=True)
        (mse.sum() + reg.sum()).backward()
        if cfg.clip is not None:
            _member_clip(model, cfg.clip)
        opt.step()
        loss_buf[it], reg_buf[it] = mse.detach().cpu().numpy(), reg.detach().cpu().numpy()
        done = it + 1
        if cfg.eval_every and done % cfg.eval_every == 0:
            run_eval(done)
        if checkpoint is not None and done < cfg.steps:
            checkpoint(state)
    seconds = time.perf_counter() - start
    return History(loss_buf, reg_buf, np.asarray(eval_steps, dtype=np.int64),
                   {k: np.stack(v) for k, v in evals.items()}, seconds)


def train_stored(store: Any, name: str, model: RNNEnsemble, data: Any, cfg: TrainConfig, *,
                 data_key: str, evaluate: Callable | None = None, progress: bool = False,
                 extra_config: dict | None = None, checkpoint_every: float = 120.0) -> tuple[History, str]:
    """:func:`train` through a :class:`reprokit.runcache.RunStore`: load the finished run if the store
    has it (same name, model configuration, training settings, ``data_key`` -- a string that pins the
    data, e.g. the generator's settings -- and code), else train (resuming from a checkpoint) and
    store. The model's parameters are set either way. Returns the history and the run's status
    (``"loaded"``, ``"resumed"`` or ``"computed"``)."""
    config = dict(model=model.config(), train=cfg.as_dict(), data=data_key, **(extra_config or {}))
    run = store.run(name, config)
    if run.finished:
        arrays = run.load()
        model.load_arrays({k[6:]: v for k, v in arrays.items() if k.startswith("param_")})
        return History.from_arrays({k[5:]: v for k, v in arrays.items() if k.startswith("hist_")}), run.status
    hist = train(model, data, cfg, evaluate=evaluate, progress=progress, checkpoint=run.checkpointer(checkpoint_every),
                 resume=run.resume_state(), desc=name)
    arrays = {f"param_{k}": v for k, v in model.arrays().items()}
    arrays.update({f"hist_{k}": v for k, v in hist.arrays().items()})
    run.save(arrays, seconds=hist.seconds)
    return hist, run.status
