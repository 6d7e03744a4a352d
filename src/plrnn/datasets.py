"""The training data of the paper's trained-RNN experiments (Figs. 2 and 4), simulated here.

The paper does not state how its data were generated (trajectory counts, sampling step, initial
states); the settings below are this book's choices, recorded in every data set's provenance:

=============  ==========================================================================================
Duffing        64 trajectories from ``U([-6, 6]^2)``, ``dt = 0.1``, 400 samples each
decision       100 trajectories from ``U([-5, 15]^2 x [0, 15])``, ``dt = 1``, 300 samples each
Lorenz-63      one trajectory from ``(1, 1, 1)`` after a transient of 10 time units, ``dt = 0.01``
oscillators    trajectories from ``x_i, y_i ~ U(-0.8, 0.8)`` (energies below every escape barrier), ``dt = 0.2``
neuron         Hodgkin--Huxley at ``I = 8``: segments of 400 ms sampled every 0.4 ms, half at rest with
               sub-threshold voltage kicks (``|dV| <= 1.5`` mV every 80 ms), half spiking from random phases
               of the limit cycle; the standardised voltage is delay-embedded (6-D, lag 2 samples)
=============  ==========================================================================================

Held-out data must be standardised like the training data: pass the training set's ``standardiser``.
Every function returns a :class:`TrajectoryData`: the raw trajectories in the system's units, the
per-coordinate :class:`~plrnn.dynsys.Standardiser`, the standardised training series and the
provenance record (:func:`plrnn.dynsys.ode_provenance`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reprokit.checks import check_positive_int

from . import dynsys as ds

__all__ = ["TrajectoryData", "duffing_data", "decision_data", "lorenz_data", "oscillator_data", "neuron_data",
           "hh_limit_cycle"]

RTOL = ATOL = 1e-10
HH_TOL = 1e-8  # Hodgkin-Huxley: spikes force small steps; 1e-8 changes the voltage by < 1e-3 mV


@dataclass
class TrajectoryData:
    """``raw (n_traj, T, d)``: trajectories in the system's units; ``standardiser``; ``series``: the
    standardised training data ``(n_traj, T, N)`` (for the neuron: delay vectors); ``provenance``;
    ``system``; ``key``: a string that pins the data (for stored-run keys); ``extra``: system-specific
    arrays (e.g. the neuron's segment labels)."""

    system: ds.ODESystem
    raw: np.ndarray
    standardiser: ds.Standardiser
    series: np.ndarray
    provenance: dict
    key: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def N(self) -> int:
        return int(self.series.shape[-1])

    def flat(self) -> np.ndarray:
        """All standardised samples ``(n, N)``."""
        return self.series.reshape(-1, self.N)


def _finish(system, raw, dt, seed, initial, n_traj, n_samples, note="", rtol=RTOL, atol=ATOL, series=None,
            standardiser=None, **extra_prov) -> TrajectoryData:
    st = standardiser if standardiser is not None else ds.Standardiser.fit(raw)
    series = st(raw) if series is None else series
    prov = ds.ode_provenance(system, n_trajectories=n_traj, n_samples=n_samples, dt=dt, integrator="DOP853",
                             rtol=rtol, atol=atol, initial_states=initial, standardiser=st, note=note, seed=seed,
                             **extra_prov)
    key = f"{system.name}|{system.params}|dt={dt}|n={n_traj}x{n_samples}|seed={seed}|{initial}|rtol={rtol}"
    if standardiser is not None:
        key += f"|standardiser={st.as_dict()}"
    return TrajectoryData(system, raw, st, series, prov, key)


def duffing_data(seed: int = 0, n_traj: int = 64, n_samples: int = 400, dt: float = 0.1, box: float = 6.0,
                 standardiser: ds.Standardiser | None = None) -> TrajectoryData:
    """Duffing trajectories (paper Fig. 4A) from uniform starts in ``[-box, box]^2`` (``standardiser``: reuse
    another data set's, for held-out data)."""
    system = ds.duffing()
    x0 = np.random.default_rng(seed).uniform(-box, box, (check_positive_int("n_traj", n_traj), 2))
    raw = ds.simulate(system, x0, dt, n_samples, rtol=RTOL, atol=ATOL)
    return _finish(system, raw, dt, seed, f"uniform in [-{box}, {box}]^2", n_traj, n_samples,
                   standardiser=standardiser)


def decision_data(seed: int = 0, n_traj: int = 100, n_samples: int = 300, dt: float = 1.0,
                  standardiser: ds.Standardiser | None = None) -> TrajectoryData:
    """Decision-model trajectories (paper Fig. 4B) from uniform starts in ``[-5, 15]^2 x [0, 15]``."""
    system = ds.decision()
    x0 = np.random.default_rng(seed).uniform([-5.0, -5.0, 0.0], [15.0, 15.0, 15.0], (n_traj, 3))
    raw = ds.simulate(system, x0, dt, n_samples, rtol=RTOL, atol=ATOL)
    return _finish(system, raw, dt, seed, "uniform in [-5, 15]^2 x [0, 15]", n_traj, n_samples,
                   standardiser=standardiser)


def lorenz_data(n_samples: int = 100_000, dt: float = 0.01, transient: float = 10.0, rtol: float = 1e-9,
                start: tuple[float, float, float] = (1.0, 1.0, 1.0), standardiser: ds.Standardiser | None = None
                ) -> TrajectoryData:
    """One Lorenz-63 trajectory (paper Figs. 2 and 4C) from ``start`` after ``transient`` time units
    (``standardiser``: reuse another data set's, e.g. for held-out data)."""
    system = ds.lorenz()
    raw = ds.simulate(system, np.asarray(start, dtype=np.float64), dt, n_samples, transient=transient, rtol=rtol,
                      atol=rtol)[None]
    return _finish(system, raw, dt, 0, f"{tuple(start)}, transient {transient} time units discarded", 1, n_samples,
                   rtol=rtol, atol=rtol, standardiser=standardiser)


def oscillator_data(seed: int = 0, n_traj: int = 20, n_samples: int = 500, dt: float = 0.2,
                    standardiser: ds.Standardiser | None = None) -> TrajectoryData:
    """The ten damped nonlinear oscillators (paper Fig. 2), starts ``x_i, y_i ~ U(-0.8, 0.8)``."""
    system = ds.oscillators()
    x0 = np.random.default_rng(seed).uniform(-0.8, 0.8, (n_traj, system.dim))
    raw = ds.simulate(system, x0, dt, n_samples, rtol=RTOL, atol=ATOL)
    return _finish(system, raw, dt, seed, "x_i, y_i uniform in [-0.8, 0.8]", n_traj, n_samples,
                   standardiser=standardiser)


def hh_limit_cycle(I: float = 8.0, dt: float = 0.02) -> dict[str, np.ndarray]:
    """The spiking limit cycle of :func:`plrnn.dynsys.hodgkin_huxley` at current ``I``: a +10 mV kick
    from rest, 150 ms of transient, then one period located by successive upward crossings of
    -20 mV. Returns ``rest (4,)``, ``cycle (n, 4)`` (one period sampled every ``dt``), ``period`` (ms)."""
    system = ds.hodgkin_huxley(I)
    rest = ds.equilibrium(system, [-60.0, 0.1, 0.45, 0.4])
    x = ds.simulate(system, rest + np.array([10.0, 0, 0, 0]), dt, int(50 / dt), transient=150.0, rtol=HH_TOL,
                    atol=HH_TOL)
    up = np.flatnonzero((x[:-1, 0] < -20) & (x[1:, 0] >= -20))
    if up.size < 3:
        raise RuntimeError(f"no repetitive spiking at I = {I}: the kick from rest did not start a spike train")
    # linear interpolation of the crossing times
    frac = (-20 - x[up, 0]) / (x[up + 1, 0] - x[up, 0])
    times = (up + frac) * dt
    period = float(np.mean(np.diff(times)))
    return dict(rest=rest, cycle=x[up[0]:up[1]], period=np.array(period))


def neuron_data(seed: int = 0, n_segments: int = 40, duration: float = 400.0, dt: float = 0.4, I: float = 8.0,
                kick: float = 1.5, kick_every: float = 80.0, embed_dim: int = 6, lag: int = 2,
                standardiser: ds.Standardiser | None = None) -> TrajectoryData:
    """Simulated Hodgkin--Huxley voltage (the book's stand-in for the paper's cortical-neuron recording,
    Fig. 4D): ``n_segments`` segments of ``duration`` ms sampled every ``dt`` ms, the first half at rest
    with voltage kicks ``U(-kick, kick)`` mV every ``kick_every`` ms (sub-threshold: each returns to
    rest), the second half spiking from random phases of the limit cycle. The voltage is standardised
    and delay-embedded (``embed_dim``, ``lag`` samples). ``extra["spiking"] (n_segments,)`` marks the
    spiking segments; ``raw`` is the voltage ``(n_segments, T, 1)``."""
    n_segments = check_positive_int("n_segments", n_segments, minimum=2)
    system = ds.hodgkin_huxley(I)
    lc = hh_limit_cycle(I)
    rng = np.random.default_rng(seed)
    n_rest = n_segments // 2
    n = int(round(duration / dt))
    per_kick = int(round(kick_every / dt))
    volts = np.empty((n_segments, n))
    # rest segments: kicks every kick_every ms, integrated jointly piece by piece
    state = np.tile(lc["rest"], (n_rest, 1))
    done = 0
    while done < n:
        state = state.copy()
        state[:, 0] += rng.uniform(-kick, kick, n_rest)
        m = min(per_kick, n - done)
        piece = ds.simulate(system, state, dt, m + 1, rtol=HH_TOL, atol=HH_TOL)
        volts[:n_rest, done:done + m] = piece[:, :m, 0]
        state = piece[:, m]
        done += m
    # spiking segments: random phases of the limit cycle
    starts = lc["cycle"][rng.integers(lc["cycle"].shape[0], size=n_segments - n_rest)]
    volts[n_rest:] = ds.simulate(system, starts, dt, n, rtol=HH_TOL, atol=HH_TOL)[..., 0]
    spiking = np.arange(n_segments) >= n_rest
    if np.any(volts[:n_rest].max(1) > -40) or np.any(volts[n_rest:].max(1) < 0):
        raise RuntimeError("a rest segment spiked or a spiking segment stopped: the kicks are not sub-threshold")
    st = standardiser if standardiser is not None else ds.Standardiser.fit(volts[..., None])
    series = ds.delay_embed(st(volts[..., None])[..., 0], embed_dim, lag)
    data = _finish(system, volts[..., None], dt, seed,
                   f"{n_rest} segments at rest with kicks U(-{kick}, {kick}) mV every {kick_every} ms, "
                   f"{n_segments - n_rest} spiking from random phases of the limit cycle", n_segments, n,
                   rtol=HH_TOL, atol=HH_TOL, note="voltage standardised, then delay-embedded", series=series, standardiser=st,
                   embedding=dict(dim=embed_dim, lag=lag), current=I, period_ms=float(lc["period"]))
    data.extra.update(spiking=spiking, rest=lc["rest"], cycle=lc["cycle"], period=float(lc["period"]))
    data.key += f"|kick={kick}/{kick_every}|embed={embed_dim},{lag}|dur={duration}"
    return data
