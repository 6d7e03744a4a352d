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
* :mod:`~plrnn.polytope`: flat pieces as polytopes (sampling by hit-and-run, projections, distances);
* :mod:`~plrnn.manifolds`: the paper's Algorithm 1 and the entry point :func:`manifold`;
* :mod:`~plrnn.quality`: the paper's score ``delta_sigma`` / ``Delta_sigma`` and the boundary distance;
* :mod:`~plrnn.basins`: brute-force basins of attraction;
* :mod:`~plrnn.homoclinic`: certified transverse homoclinic points (Algorithm 4);
* :mod:`~plrnn.chaos`: Lyapunov spectra and bifurcation scans;
* :mod:`~plrnn.gdmap`: gradient descent as a map (the bridge to Parts I and II).

The trained RNNs of Figs. 2 and 4 and Table 2:

* :mod:`~plrnn.dynsys`: the ODE systems the paper trains on (Duffing, decision model, Lorenz-63, ten
  damped oscillators, Hodgkin--Huxley), their equilibria, simulation, standardisation, delay embedding;
* :mod:`~plrnn.datasets`: the simulated training and held-out data sets of every experiment;
* :mod:`~plrnn.torchrnn`: trainable ALRNN and shallow-PLRNN ensembles in PyTorch (members side by
  side), converted to :mod:`~plrnn.models` maps for the analysis;
* :mod:`~plrnn.regularizer`: the invertibility regulariser (Eq. 5) and the share of positive determinants;
* :mod:`~plrnn.training`: sparse teacher forcing with Adam, stored and resumable runs;
* :mod:`~plrnn.metrics`: ``D_stsp``, prediction errors, free runs;
* :mod:`~plrnn.odemanifolds`: reference manifolds of the ODEs by integration and ``delta_ODE``;
* :mod:`~plrnn.trained`: skeletons, exact stable-manifold points with normals, choices and basin
  boundaries of trained models.

A trained model enters as numpy arrays through the model constructors (or ``to_numpy`` of a trained ensemble)
and then uses the same functions.
"""

from . import (basins, chaos, datasets, dynsys, gdmap, homoclinic, inverse, local, manifolds, metrics, models,
               odemanifolds, polyline, polytope, quality, regions, regularizer, scyfi, systems, torchrnn, trained, training)
from .basins import basins as basin_labels
from .chaos import lyapunov_spectrum
from .homoclinic import homoclinic_points
from .inverse import InverseStep, inverse_step
from .manifolds import PieceManifold, manifold
from .models import ALRNN, PLRNN, PiecewiseAffineMap, ShallowPLRNN
from .polyline import PolylineManifold
from .quality import delta_score, delta_scores, delta_sigma
from .scyfi import Cycle, cycles, exhaustive_cycles, scyfi as scyfi_search
from .systems import PARAMETER_SETS, border_collision, paper_map
from .torchrnn import ALRNNEnsemble, ShPLRNNEnsemble
from .trained import skeleton, stable_cloud
from .training import TrainConfig, train, train_stored

__all__ = [
    "ALRNN", "PLRNN", "PiecewiseAffineMap", "ShallowPLRNN", "Cycle", "cycles", "exhaustive_cycles", "scyfi_search",
    "manifold", "PieceManifold", "PolylineManifold", "delta_sigma", "delta_score", "delta_scores", "InverseStep", "inverse_step",
    "homoclinic_points", "lyapunov_spectrum", "basin_labels", "PARAMETER_SETS", "border_collision", "paper_map",
    "ALRNNEnsemble", "ShPLRNNEnsemble", "TrainConfig", "train", "train_stored", "skeleton", "stable_cloud",
    "basins", "chaos", "datasets", "dynsys", "gdmap", "homoclinic", "inverse", "local", "manifolds", "metrics", "models",
    "odemanifolds", "polyline", "polytope", "quality", "regions", "regularizer", "scyfi", "systems", "torchrnn",
    "trained", "training",
]
