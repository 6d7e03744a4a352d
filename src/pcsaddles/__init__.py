"""pcsaddles: deep-linear-network and predictive-coding primitives for the book reproducing
"Only Strict Saddles in the Energy Landscape of Predictive Coding Networks?" (Innocenti et al.,
NeurIPS 2024).

Modules: :mod:`~pcsaddles.dln` (loss, rescaling, equilibrated energy), :mod:`~pcsaddles.pc`
(energy, inference, weight gradients), :mod:`~pcsaddles.hessian` (dense Hessians, Lanczos),
:mod:`~pcsaddles.data` (datasets with provenance), :mod:`~pcsaddles.records` (reproduction checks),
:mod:`~pcsaddles.init` (weight initialisations),
:mod:`~pcsaddles.layered` (PC and BP for block networks such as the paper's CIFAR-10 conv net), :mod:`~pcsaddles.plotting` (the book's style).
"""

from . import activations, completion, data, dln, escape, hessian, init, layered, minima, ode, origin, pc, plotting, profiles, records, train, zero_rank

__all__ = ["activations", "completion", "data", "dln", "escape", "hessian", "init", "layered", "minima", "ode", "origin", "pc", "plotting", "profiles", "records", "train", "zero_rank"]
__version__ = "0.1.0"
