"""Trainable ALRNNs and shallow PLRNNs in PyTorch, as ensembles of independent members.

A training step of these small RNNs costs the same for one model as for a dozen (the time goes into
the per-operation overhead of the 100-step unroll, not into arithmetic), so every class here holds
``R`` independent **members** side by side: parameters carry a leading axis ``R`` and states have
shape ``(R, B, M)``. Members never interact: the loss is a sum of per-member losses, Adam works
elementwise, so each member follows exactly the trajectory it would follow alone. Member ``r`` is
initialised from its own seed ``seeds[r]`` (two members with one seed start identical: the paired
arms of an ablation).

Models (the paper's Eqs. 1-3; the lab's parametrisation):

* :class:`ALRNNEnsemble` -- ``z_t = A * z_{t-1} + W phi~(z_{t-1}) + h``, ``phi~`` rectifying only the
  last ``P`` of ``M`` units; ``A (R, M)``, ``W (R, M, M)``, ``h (R, M)``.
* :class:`ShPLRNNEnsemble` -- ``z_t = A * z_{t-1} + W1 relu(W2 z_{t-1} + h2) + h1``; ``W1 (R, M, H)``,
  ``W2 (R, H, M)``, ``h1 (R, M)``, ``h2 (R, H)``.

Observation model: the first ``N`` latent units are the observations. A data point ``x (N,)`` starts
the latent state ``z = (x, L x)`` with a learned ``L (R, M - N, N)`` (``hidden_init="learned"``,
the lab's choice) or ``z = (x, 0)`` (``"zeros"``).

Initialisation (the lab's code): ``A`` = the diagonal of a random symmetric positive definite matrix
``X^T X / M + I`` divided by its largest eigenvalue; ALRNN ``W ~ N(0, w_std^2)`` with ``w_std = 0.01`` (one value
or one per member; a wider initialisation is the book's way to start with orientation-reversing regions); shPLRNN
``W1, W2 ~ U(+-1/sqrt(fan_in))``; biases and ``L`` zero.

:meth:`~RNNEnsemble.to_numpy` converts member ``r`` to the float64 map of :mod:`plrnn.models`
(:class:`~plrnn.models.ALRNN` / :class:`~plrnn.models.ShallowPLRNN`) for every analysis.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from reprokit.checks import check_choice, check_positive_int

from .models import ALRNN, ShallowPLRNN

__all__ = ["RNNEnsemble", "ALRNNEnsemble", "ShPLRNNEnsemble", "build", "HIDDEN_INITS"]

HIDDEN_INITS = ("learned", "zeros")


def _check_seeds(seeds: Any) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        return [int(seeds)]
    if not isinstance(seeds, Sequence) or isinstance(seeds, str) or len(seeds) == 0:
        raise ValueError(f"seeds must be an int or a non-empty list of ints (one per member); received {seeds!r}")
    out = []
    for s in seeds:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"every seed must be a non-negative int; received {s!r} in {seeds!r}")
        out.append(int(s))
    return out


def _spd_diagonal(M: int, gen: torch.Generator) -> torch.Tensor:
    """Diagonal of ``K = X^T X / M + I`` (``X ~ N(0, 1)``, ``M x M``) divided by ``K``'s largest eigenvalue."""
    X = torch.randn(M, M, generator=gen, dtype=torch.float64)
    K = X.T @ X / M + torch.eye(M, dtype=torch.float64)
    return torch.diagonal(K) / torch.linalg.eigvalsh(K)[-1]


class RNNEnsemble(torch.nn.Module):
    """Base class: ``R`` members of one architecture with ``M`` latent and ``N`` observed units.

    Subclasses define :meth:`step`, :meth:`preactivation`, :meth:`region_jacobians` and
    :meth:`to_numpy`; ``n_units`` is the number of rectified units (the pattern length)."""

    kind = "RNN"

    def __init__(self, M: int, N: int, seeds: Any, hidden_init: str = "learned", dtype: torch.dtype = torch.float32):
        super().__init__()
        self.M = check_positive_int("M", M)
        self.N = check_positive_int("N", N)
        if self.N > self.M:
            raise ValueError(f"the number of observed units N must be <= M; received N={N}, M={M}")
        self.seeds = _check_seeds(seeds)
        self.R = len(self.seeds)
        self.hidden_init = check_choice("hidden_init", hidden_init, HIDDEN_INITS)
        if dtype not in (torch.float32, torch.float64):
            raise TypeError(f"dtype must be torch.float32 or torch.float64; received {dtype}")
        self.dtype = dtype
        self.L = torch.nn.Parameter(torch.zeros(self.R, self.M - self.N, self.N, dtype=dtype),
                                    requires_grad=hidden_init == "learned")

    # ---- to be defined by subclasses -----------------------------------------------------------
    n_units: int

    def step(self, z: torch.Tensor) -> torch.Tensor:
        """One step ``F(z)`` of every member, ``z (R, B, M)`` -> ``(R, B, M)``."""
        return self.stepper()(z)

    def stepper(self):  # pragma: no cover - abstract
        """A function ``z (R, B, M) -> F(z)`` with the parameters' views prepared once (a rollout calls
        it ``T`` times; fewer autograd nodes per step)."""
        raise NotImplementedError

    def preactivation(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def region_jacobians(self, r: int, patterns: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def to_numpy(self, r: int = 0):  # pragma: no cover - abstract
        raise NotImplementedError

    # ---- shared --------------------------------------------------------------------------------
    def check_member(self, r: int) -> int:
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not 0 <= r < self.R:
            raise ValueError(f"member index r must be an int in 0..{self.R - 1}; received {r!r}")
        return int(r)

    @property
    def device(self) -> torch.device:
        """Where the parameters live (CPU by default; ``model.to("cuda")`` moves them)."""
        return self.L.device

    def pattern(self, z: torch.Tensor) -> torch.Tensor:
        """Activation pattern ``preactivation(z) > 0`` (bool, ``(R, B, n_units)``)."""
        return self.preactivation(z) > 0

    def initial_state(self, x: torch.Tensor) -> torch.Tensor:
        """Latent state of observations ``x (R, B, N)`` (or ``(B, N)``, shared): ``(x, L x)``, ``(R, B, M)``."""
        x = torch.as_tensor(x, dtype=self.dtype, device=self.device)
        if x.ndim == 2:
            x = x.expand(self.R, *x.shape)
        if x.ndim != 3 or x.shape[0] != self.R or x.shape[-1] != self.N:
            raise ValueError(f"observations must have shape (R={self.R}, B, N={self.N}) or (B, {self.N}); "
                             f"received shape {tuple(x.shape)}")
        return torch.cat([x, x @ self.L.transpose(1, 2)], -1)

    def hidden_map(self, r: int = 0) -> np.ndarray:
        """``L`` of member ``r`` as float64 ``(M - N, N)``: a data point ``x`` starts at ``(x, L x)``."""
        return self.L[self.check_member(r)].detach().double().cpu().numpy()

    def embed(self, x: Any, r: int = 0) -> np.ndarray:
        """Float64 latent states ``(x, L x)`` of member ``r`` for observations ``x (..., N)``."""
        x = np.asarray(x, dtype=np.float64)
        if x.ndim == 0 or x.shape[-1] != self.N:
            raise ValueError(f"observations must have shape (..., {self.N}); received shape {x.shape}")
        return np.concatenate([x, x @ self.hidden_map(r).T], -1)

    def member_parameters(self, r: int) -> dict[str, np.ndarray]:
        """The float64 arrays of member ``r`` (parameter name -> array without the member axis)."""
        r = self.check_member(r)
        return {k: v[r].detach().double().cpu().numpy() for k, v in self.named_parameters()}

    def load_arrays(self, arrays: dict[str, Any]) -> None:
        """Set all parameters from arrays with the member axis (as :meth:`arrays` returns)."""
        with torch.no_grad():
            for k, p in self.named_parameters():
                if k not in arrays:
                    raise ValueError(f"arrays lack parameter {k!r}; received keys {sorted(arrays)}")
                v = torch.as_tensor(np.asarray(arrays[k]), dtype=p.dtype, device=p.device)
                if tuple(v.shape) != tuple(p.shape):
                    raise ValueError(f"parameter {k!r} must have shape {tuple(p.shape)}; received {tuple(v.shape)}")
                p.copy_(v)

    def arrays(self) -> dict[str, np.ndarray]:
        """All parameters (with the member axis) as numpy arrays."""
        return {k: v.detach().cpu().numpy().copy() for k, v in self.named_parameters()}

    def config(self) -> dict[str, Any]:
        """The architecture as JSON-able settings (for stored-run keys)."""
        return dict(kind=self.kind, M=self.M, N=self.N, n_units=self.n_units, seeds=list(self.seeds),
                    hidden_init=self.hidden_init, dtype=str(self.dtype))


class ALRNNEnsemble(RNNEnsemble):
    """``R`` ALRNNs ``z_t = A * z_{t-1} + W phi~(z_{t-1}) + h`` with the last ``P`` units rectified."""

    kind = "ALRNN"

    def __init__(self, M: int, N: int, P: int, seeds: Any = 0, hidden_init: str = "learned",
                 dtype: torch.dtype = torch.float32, w_std: Any = 0.01):
        super().__init__(M, N, seeds, hidden_init, dtype)
        if isinstance(P, bool) or not isinstance(P, (int, np.integer)) or not 0 < P <= M:
            raise ValueError(f"P (rectified units) must be an int in 1..{M}; received {P!r}")
        stds = np.broadcast_to(np.asarray(w_std, dtype=np.float64), (self.R,)) if np.ndim(w_std) <= 1 else None
        if stds is None or not np.all(stds > 0):
            raise ValueError(f"w_std must be > 0: one value or one per member ({self.R}); received {w_std!r}")
        self.P = self.n_units = int(P)
        self.w_std = [float(v) for v in stds]
        A, W = [], []
        for s, std in zip(self.seeds, self.w_std):
            gen = torch.Generator().manual_seed(s)
            A.append(_spd_diagonal(self.M, gen))
            W.append(std * torch.randn(self.M, self.M, generator=gen, dtype=torch.float64))
        self.A = torch.nn.Parameter(torch.stack(A).to(dtype))
        self.W = torch.nn.Parameter(torch.stack(W).to(dtype))
        self.h = torch.nn.Parameter(torch.zeros(self.R, self.M, dtype=dtype))
        mask = torch.zeros(self.M, dtype=dtype)
        mask[self.M - self.P:] = 1.0
        self.register_buffer("_rect", mask)

    def phi(self, z: torch.Tensor) -> torch.Tensor:
        """``phi~(z)``: identity on the first ``M - P`` units, ReLU on the last ``P``."""
        lin = self.M - self.P
        return torch.cat([z[..., :lin], torch.relu(z[..., lin:])], -1)

    def stepper(self):
        """``z (R, B, M)`` -> ``A * z + phi~(z) W^T + h``."""
        A, h, Wt, lin = self.A[:, None], self.h[:, None], self.W.transpose(1, 2), self.M - self.P
        Wl, Wr = Wt[:, :lin], Wt[:, lin:]
        return lambda z: torch.baddbmm(torch.baddbmm(torch.addcmul(h, A, z), z[..., :lin], Wl),
                                       torch.relu(z[..., lin:]), Wr)

    def preactivation(self, z: torch.Tensor) -> torch.Tensor:
        """The rectified units' inputs ``z_{M-P+1..M}``, ``(R, B, P)``."""
        return z[..., self.M - self.P:]

    def region_jacobians(self, r: int, patterns: torch.Tensor) -> torch.Tensor:
        """``J_d = diag(A) + W diag(1, .., 1, d)`` of member ``r`` for ``patterns (K, P)``: ``(K, M, M)``
        (differentiable in ``A`` and ``W``)."""
        r = self.check_member(r)
        d = torch.as_tensor(patterns).to(device=self.device, dtype=self.dtype)
        if d.ndim != 2 or d.shape[1] != self.P:
            raise ValueError(f"patterns must have shape (K, P={self.P}); received {tuple(d.shape)}")
        cols = torch.cat([torch.ones(d.shape[0], self.M - self.P, dtype=self.dtype, device=self.device), d], 1)
        return torch.diag(self.A[r]) + self.W[r][None] * cols[:, None, :]

    def to_numpy(self, r: int = 0) -> ALRNN:
        """Member ``r`` as a float64 :class:`plrnn.models.ALRNN`."""
        p = self.member_parameters(r)
        return ALRNN(p["A"], p["W"], p["h"], self.P)

    def config(self) -> dict[str, Any]:
        return dict(super().config(), P=self.P, w_std=self.w_std)


class ShPLRNNEnsemble(RNNEnsemble):
    """``R`` shallow PLRNNs ``z_t = A * z_{t-1} + W1 relu(W2 z_{t-1} + h2) + h1`` with ``H`` hidden units."""

    kind = "shPLRNN"

    def __init__(self, M: int, N: int, H: int, seeds: Any = 0, hidden_init: str = "learned",
                 dtype: torch.dtype = torch.float32):
        super().__init__(M, N, seeds, hidden_init, dtype)
        self.H = self.n_units = check_positive_int("H", H)
        A, W1, W2 = [], [], []
        for s in self.seeds:
            gen = torch.Generator().manual_seed(s)
            A.append(_spd_diagonal(self.M, gen))
            W1.append((2 * torch.rand(self.M, self.H, generator=gen, dtype=torch.float64) - 1) / self.H ** 0.5)
            W2.append((2 * torch.rand(self.H, self.M, generator=gen, dtype=torch.float64) - 1) / self.M ** 0.5)
        self.A = torch.nn.Parameter(torch.stack(A).to(dtype))
        self.W1 = torch.nn.Parameter(torch.stack(W1).to(dtype))
        self.W2 = torch.nn.Parameter(torch.stack(W2).to(dtype))
        self.h1 = torch.nn.Parameter(torch.zeros(self.R, self.M, dtype=dtype))
        self.h2 = torch.nn.Parameter(torch.zeros(self.R, self.H, dtype=dtype))

    def preactivation(self, z: torch.Tensor) -> torch.Tensor:
        """``W2 z + h2``, ``(R, B, H)``."""
        return z @ self.W2.transpose(1, 2) + self.h2[:, None]

    def stepper(self):
        """``z (R, B, M)`` -> ``A * z + relu(W2 z + h2) W1^T + h1``."""
        A, h1, h2 = self.A[:, None], self.h1[:, None], self.h2[:, None]
        W1t, W2t = self.W1.transpose(1, 2), self.W2.transpose(1, 2)
        return lambda z: torch.baddbmm(torch.addcmul(h1, A, z), torch.relu(torch.baddbmm(h2, z, W2t)), W1t)

    def region_jacobians(self, r: int, patterns: torch.Tensor) -> torch.Tensor:
        """``J_d = diag(A) + W1 diag(d) W2`` of member ``r`` for ``patterns (K, H)``: ``(K, M, M)``."""
        r = self.check_member(r)
        d = torch.as_tensor(patterns).to(device=self.device, dtype=self.dtype)
        if d.ndim != 2 or d.shape[1] != self.H:
            raise ValueError(f"patterns must have shape (K, H={self.H}); received {tuple(d.shape)}")
        return torch.diag(self.A[r]) + (self.W1[r][None] * d[:, None, :]) @ self.W2[r]

    def to_numpy(self, r: int = 0) -> ShallowPLRNN:
        """Member ``r`` as a float64 :class:`plrnn.models.ShallowPLRNN`."""
        p = self.member_parameters(r)
        return ShallowPLRNN(p["A"], p["W1"], p["W2"], p["h1"], p["h2"])

    def config(self) -> dict[str, Any]:
        return dict(super().config(), H=self.H)


def build(kind: str, M: int, N: int, n_units: int, seeds: Any = 0, hidden_init: str = "learned",
          dtype: torch.dtype = torch.float32) -> RNNEnsemble:
    """An ensemble by name: ``kind="ALRNN"`` (``n_units = P``) or ``"shPLRNN"`` (``n_units = H``)."""
    check_choice("kind", kind, ("ALRNN", "shPLRNN"))
    cls = ALRNNEnsemble if kind == "ALRNN" else ShPLRNNEnsemble
    return cls(M, N, n_units, seeds=seeds, hidden_init=hidden_init, dtype=dtype)
