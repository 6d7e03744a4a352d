"""pcsaddles: Part I of the book, "Only Strict Saddles in the Energy Landscape of Predictive Coding
Networks?" (Innocenti, Achour, Singh, Buckley; NeurIPS 2024): deep-linear-network and
predictive-coding primitives and the experiments built on them.

Modules: :mod:`~pcsaddles.dln` (loss, rescaling, equilibrated energy), :mod:`~pcsaddles.pc`
(energy, inference, weight gradients), :mod:`~pcsaddles.data` (datasets with provenance),
:mod:`~pcsaddles.init` (weight initialisations), :mod:`~pcsaddles.train` (BP and PC training),
:mod:`~pcsaddles.layered` (PC and BP for block networks such as the paper's CIFAR-10 conv net),
:mod:`~pcsaddles.plotting` (landscape panels), and one module per group of chapters
(:mod:`~pcsaddles.origin`, :mod:`~pcsaddles.zero_rank`, :mod:`~pcsaddles.completion`,
:mod:`~pcsaddles.minima`, :mod:`~pcsaddles.escape`). What every part of the book shares (records,
profiles, Hessians, the run cache, checksummed downloads, the plotting style) is :mod:`reprokit`.
"""

from . import activations, completion, data, dln, escape, init, layered, minima, ode, origin, pc, plotting, train, zero_rank

__all__ = ["activations", "completion", "data", "dln", "escape", "init", "layered", "minima", "ode", "origin", "pc",
           "plotting", "train", "zero_rank"]
__version__ = "0.2.0"
