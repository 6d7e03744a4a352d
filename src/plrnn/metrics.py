"""Reconstruction metrics the paper reports: the state-space divergence and the n-step prediction error.

* :func:`state_space_divergence` -- ``D_stsp``, the Kullback--Leibler divergence ``KL(p_data || p_gen)``
  between the state-space occupancies of the data and of a long free-running trajectory of the
  model. For ``N < 11`` observed dimensions (the lab's rule) both are histograms with 30 bins per
  dimension over the data's range widened by ``0.1`` standard deviations on each side, with Laplace
  smoothing ``alpha = 1e-5`` (:func:`histogram_kl`)::

      p_k = (n_k + alpha) / (n + alpha K),   D_stsp = sum_k p_k^data log(p_k^data / p_k^gen)

  where ``n`` counts all points of a set: generated points outside the range (or non-finite, a
  diverged model) fall in no bin but still count, so their mass is missing from ``p^gen``. For ``N >= 11`` histograms are too sparse and
  each set is a Gaussian mixture with one component of variance ``sigma^2 = 0.3`` per point; the KL is
  estimated by Monte Carlo with 1000 samples of the data mixture (:func:`gmm_kl`).
* :func:`prediction_error` -- ``PE(n)``: the mean squared error of ``n``-step-ahead free predictions
  started from data points (latent state ``(x_t, L x_t)``), against ``x_{t+n}``.
* :func:`free_run` -- a free-running trajectory of a float64 model (:mod:`plrnn.models`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from scipy.special import logsumexp

from reprokit.checks import check_positive_int

__all__ = ["histogram_kl", "gmm_kl", "state_space_divergence", "prediction_error", "ensemble_prediction_error",
           "free_run", "steps_to_threshold"]


def _points(name: str, x: Any, N: int | None = None) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or (N is not None and arr.shape[1] != N):
        want = f"(n, {N})" if N is not None else "(n, N)"
        raise ValueError(f"{name} must be a non-empty array of shape {want}; received shape {arr.shape}")
    if not np.all(np.isfinite(arr)) and name == "data":
        raise ValueError("data contain NaN or inf")
    return arr


def histogram_kl(data: Any, generated: Any, bins: int = 30, alpha: float = 1e-5, margin: float = 0.1) -> float:
    """``KL(p_data || p_gen)`` of binned occupancies (module docstring); ``data (n, N)``, ``generated (m, N)``.

    Generated points outside the range or non-finite (a diverged model) fall in no bin but count in
    the normalisation of ``p^gen``."""
    data = _points("data", data)
    gen = _points("generated", generated, data.shape[1])
    bins = check_positive_int("bins", bins)
    if not alpha > 0:
        raise ValueError(f"alpha must be > 0; received {alpha}")
    lo = data.min(0) - margin * data.std(0)
    hi = data.max(0) + margin * data.std(0)
    edges = [np.linspace(a, b, bins + 1) for a, b in zip(lo, hi)]
    m = gen.shape[0]
    gen = gen[np.all(np.isfinite(gen), axis=1)]
    p, _ = np.histogramdd(data, bins=edges)
    q, _ = np.histogramdd(gen, bins=edges) if gen.size else (np.zeros_like(p), None)
    K = p.size
    p = (p.ravel() + alpha) / (p.sum() + alpha * K)
    q = (q.ravel() + alpha) / (m + alpha * K)  # points outside the range are mass the data do not see
    return float(np.sum(p * np.log(p / q)))


def gmm_kl(data: Any, generated: Any, sigma2: float = 0.3, n_mc: int = 1000, n_components: int = 2000,
           seed: int = 0) -> float:
    """Monte-Carlo ``KL(p_data || p_gen)`` with each point set a Gaussian mixture (variance ``sigma2``
    per component; at most ``n_components`` points per set, evenly subsampled); ``n_mc`` samples of
    the data mixture."""
    data = _points("data", data)
    gen = _points("generated", generated, data.shape[1])
    gen = gen[np.all(np.isfinite(gen), axis=1)]
    if gen.shape[0] == 0:
        return float("inf")
    rng = np.random.default_rng(seed)
    sub = lambda a: a[np.linspace(0, a.shape[0] - 1, min(n_components, a.shape[0])).astype(int)]
    mu_p, mu_q = sub(data), sub(gen)
    samples = mu_p[rng.integers(mu_p.shape[0], size=n_mc)] + np.sqrt(sigma2) * rng.standard_normal((n_mc, data.shape[1]))

    def log_mix(mu):  # log of the mixture density at the samples, up to the shared Gaussian constant
        d2 = ((samples[:, None, :] - mu[None]) ** 2).sum(-1)
        return logsumexp(-d2 / (2 * sigma2), axis=1) - np.log(mu.shape[0])

    return float(np.mean(log_mix(mu_p) - log_mix(mu_q)))


def state_space_divergence(data: Any, generated: Any, **kwargs: Any) -> float:
    """``D_stsp``: :func:`histogram_kl` for ``N < 11``, else :func:`gmm_kl` (the lab's rule)."""
    data = _points("data", data)
    return histogram_kl(data, generated, **kwargs) if data.shape[1] < 11 else gmm_kl(data, generated, **kwargs)


def free_run(model: Any, z0: Any, n_steps: int) -> np.ndarray:
    """``n_steps + 1`` states ``z0, F(z0), ...`` of a float64 model; stops early (NaN-filled) if the orbit
    overflows. ``z0 (..., M)`` -> ``(n_steps + 1, ..., M)``."""
    n_steps = check_positive_int("n_steps", n_steps, minimum=0)
    z = np.asarray(z0, dtype=np.float64)
    out = np.full((n_steps + 1,) + z.shape, np.nan)
    out[0] = z
    with np.errstate(over="ignore", invalid="ignore"):
        for t in range(n_steps):
            z = model.step(z) if np.all(np.isfinite(z)) else z
            if not np.all(np.isfinite(z)) or np.abs(z).max() > 1e12:
                break
            out[t + 1] = z
    return out


def prediction_error(model: Any, hidden_map: Any, series: Any, n: int, max_starts: int | None = None) -> float:
    """``PE(n)`` of a float64 model: MSE of ``x_{t+n}`` predicted freely from ``(x_t, L x_t)`` against the
    data, over all starts ``t`` of ``series (T, N)`` (evenly subsampled to ``max_starts``). ``hidden_map``
    is ``L ((M - N), N)``."""
    x = _points("data", series)
    n = check_positive_int("n", n)
    N = x.shape[1]
    L = np.asarray(hidden_map, dtype=np.float64).reshape(model.M - N, N)
    starts = np.arange(x.shape[0] - n)
    if starts.size == 0:
        raise ValueError(f"the series ({x.shape[0]} samples) is shorter than n + 1 = {n + 1}")
    if max_starts is not None and starts.size > max_starts:
        starts = starts[np.linspace(0, starts.size - 1, max_starts).astype(int)]
    z = np.concatenate([x[starts], x[starts] @ L.T], -1)
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(n):
            z = model.step(np.clip(z, -1e6, 1e6))
    return float(np.mean((z[:, :N] - x[starts + n]) ** 2))


def ensemble_prediction_error(model: Any, series: Any, n: int, max_starts: int = 1000) -> np.ndarray:
    """``PE(n)`` of every member of a :class:`plrnn.torchrnn.RNNEnsemble` (torch, no gradient), ``(R,)``;
    ``series (T, N)`` or a list of such series (starts are pooled)."""
    n = check_positive_int("n", n)
    series = series if isinstance(series, (list, tuple)) else [series]
    starts, targets = [], []
    for s in series:
        s = _points("data", s, model.N)
        if s.shape[0] > n:
            starts.append(s[:-n])
            targets.append(s[n:])
    if not starts:
        raise ValueError(f"every series is shorter than n + 1 = {n + 1}")
    x0, xn = np.concatenate(starts), np.concatenate(targets)
    if x0.shape[0] > max_starts:
        idx = np.linspace(0, x0.shape[0] - 1, max_starts).astype(int)
        x0, xn = x0[idx], xn[idx]
    with torch.no_grad():
        z = model.initial_state(torch.as_tensor(x0, dtype=model.dtype))
        step = model.stepper()
        for _ in range(n):
            z = torch.clamp(step(z), -1e6, 1e6)
        err = ((z[..., :model.N].double().cpu() - torch.as_tensor(xn)) ** 2).mean(dim=(1, 2))
    return err.numpy()


def steps_to_threshold(steps: Any, values: Any, threshold: float) -> np.ndarray:
    """First step at which ``values (k, R)`` (evaluated at ``steps (k,)``) is ``<= threshold``, per member;
    NaN where never reached."""
    steps = np.asarray(steps)
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    if values.shape[0] != steps.shape[0]:
        raise ValueError(f"values must have one row per step ({steps.shape[0]}); received shape {values.shape}")
    hit = values <= threshold
    out = np.full(values.shape[1], np.nan)
    for r in range(values.shape[1]):
        idx = np.flatnonzero(hit[:, r])
        if idx.size:
            out[r] = steps[idx[0]]
    return out
