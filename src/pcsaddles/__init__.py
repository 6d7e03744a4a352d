"""pcsaddles: Part I of the book, "Only Strict Saddles in the Energy Landscape of Predictive Coding
Networks?" (Innocenti, Achour, Singh, Buckley; NeurIPS 2024): deep-linear-network and
predictive-coding primitives and the experiments built on them.

Modules, one idea each:

* the model: :mod:`~pcsaddles.dln` (loss, rescaling, equilibrated energy), :mod:`~pcsaddles.pc`
  (energy, inference, weight gradients), :mod:`~pcsaddles.ode` (the adaptive Heun solver),
  :mod:`~pcsaddles.activations`, :mod:`~pcsaddles.init` (weight initialisations),
  :mod:`~pcsaddles.layered` (PC and BP for block networks such as the paper's CIFAR-10 conv net);
* data: :mod:`~pcsaddles.data` (``load`` by name), :mod:`~pcsaddles.dataset` (the type),
  :mod:`~pcsaddles.toy`, :mod:`~pcsaddles.packaged`, :mod:`~pcsaddles.idx`, :mod:`~pcsaddles.cifar`
  (the loaders), :mod:`~pcsaddles.datafiles` (where files are found), :mod:`~pcsaddles.batching`;
* training: :mod:`~pcsaddles.train` (the loop), :mod:`~pcsaddles.normalisation` (the paper's and the
  authors' objectives), :mod:`~pcsaddles.stopping` (stopping rules), :mod:`~pcsaddles.curves`
  (escape times, bands over seeds), :mod:`~pcsaddles.landscape` (loss and energy landscapes);
* one module per group of chapters: :mod:`~pcsaddles.origin` (Theorem 2), :mod:`~pcsaddles.zero_rank`
  (Theorem 3), :mod:`~pcsaddles.escape` (Figures 5, 11, 12), :mod:`~pcsaddles.completion`
  (Figure 6), :mod:`~pcsaddles.minima` (Appendix A.3.7 and the caveats);
* :mod:`~pcsaddles.plotting` (the figure panels several chapters draw);
* beyond the paper: :mod:`~pcsaddles.escape_scaling`, :mod:`~pcsaddles.finite_inference`,
  :mod:`~pcsaddles.inference_cost`, :mod:`~pcsaddles.conjecture`.

What every part of the book shares (records, profiles, Hessians, the run cache, checksummed
downloads, the plotting style) is :mod:`reprokit`.
"""

from . import (activations, batching, completion, curves, data, dln, escape, init, landscape, layered, minima,
               normalisation, ode, origin, pc, plotting, stopping, train, zero_rank)
from . import conjecture, escape_scaling, finite_inference, inference_cost

__all__ = ["activations", "batching", "completion", "curves", "data", "dln", "escape", "init", "landscape", "layered",
           "minima", "normalisation", "ode", "origin", "pc", "plotting", "stopping", "train", "zero_rank",
           "conjecture", "escape_scaling", "finite_inference", "inference_cost"]
__version__ = "0.3.0"
