"""plrnn: invariant manifolds of ReLU-based RNNs (Part III of the book).

Reproduces "Detecting Invariant Manifolds in ReLU-Based RNNs" (Eisenmann, Brändle, Monfared,
Durstewitz; ICLR 2026; arXiv 2510.03814) in numpy float64. Modules, one idea each:

* :mod:`~plrnn.models`: the PLRNN, ALRNN and shallow PLRNN as piecewise-affine maps
  ``F(z) = L z + U relu(G z + g) + b`` (step, Jacobian, activation pattern, affine piece per region);
* :mod:`~plrnn.systems`: the paper's 2-D border-collision maps (parameter sets of Figs. 1, 3, 5);
* :mod:`~plrnn.regions`: region ids, determinants, invertibility by enumeration of preimages;
* :mod:`~plrnn.scyfi`: fixed points and k-cycles, SCYFI and an exhaustive enumeration (:func:`cycles`);
* :mod:`~plrnn.inverse`: the inverse step, Algorithm 2;
* :mod:`~plrnn.local`: the local eigenspace and the exact local chord of a saddle;
* :mod:`~plrnn.polyline`: exact 1-D manifolds as polylines, clipping, segment intersections;
* :mod:`~plrnn.manifolds`: the paper's Algorithm 1 and the entry point :func:`manifold`;
* :mod:`~plrnn.quality`: the paper's score ``delta_sigma`` / ``Delta_sigma`` and the boundary distance;
* :mod:`~plrnn.basins`: brute-force basins of attraction;
* :mod:`~plrnn.homoclinic`: certified transverse homoclinic points (Algorithm 4);
* :mod:`~plrnn.chaos`: Lyapunov spectra and bifurcation scans;
* :mod:`~plrnn.gdmap`: gradient descent as a map (the bridge to Parts I and II).

A trained model enters as numpy arrays through the model constructors and then uses the same
functions.
"""

from . import basins, chaos, gdmap, homoclinic, inverse, local, manifolds, models, polyline, quality, regions, scyfi, systems
from .basins import basins as basin_labels
from .chaos import lyapunov_spectrum
from .homoclinic import homoclinic_points
from .inverse import InverseStep, inverse_step
from .manifolds import PieceManifold, manifold
from .models import ALRNN, PLRNN, PiecewiseAffineMap, ShallowPLRNN
from .polyline import PolylineManifold
from .quality import delta_score, delta_sigma
from .scyfi import Cycle, cycles, exhaustive_cycles, scyfi as scyfi_search
from .systems import PARAMETER_SETS, border_collision, paper_map

__all__ = [
    "ALRNN", "PLRNN", "PiecewiseAffineMap", "ShallowPLRNN", "Cycle", "cycles", "exhaustive_cycles", "scyfi_search",
    "manifold", "PieceManifold", "PolylineManifold", "delta_sigma", "delta_score", "InverseStep", "inverse_step",
    "homoclinic_points", "lyapunov_spectrum", "basin_labels", "PARAMETER_SETS", "border_collision", "paper_map",
    "basins", "chaos", "gdmap", "homoclinic", "inverse", "local", "manifolds", "models", "polyline", "quality", "regions",
    "scyfi", "systems",
]
