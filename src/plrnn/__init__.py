"""plrnn: invariant manifolds of ReLU-based RNNs (Part III of the book).

Reproduces "Detecting Invariant Manifolds in ReLU-Based RNNs" (Eisenmann, Brändle, Monfared,
Durstewitz; ICLR 2026; arXiv 2510.03814). Modules:

* :mod:`~plrnn.models`: the PLRNN, ALRNN and shallow PLRNN as piecewise-affine maps.
"""

from .models import ALRNN, PLRNN, PiecewiseAffineMap, ShallowPLRNN

__all__ = ["ALRNN", "PLRNN", "PiecewiseAffineMap", "ShallowPLRNN"]
