"""overparam: Part II of the book, "On the Convergence of Overparameterized Problems: Inherent
Properties of the Compositional Structure of Neural Networks" (de Oliveira, Jatkar, Sontag;
L4DC 2026; arXiv 2511.09810).

Notation: depth ``N`` (unlike Part I, where ``N`` is the batch size and ``L`` the depth), weights
``[W_1, ..., W_N]`` with ``W_l`` of shape ``(d_l, d_{l-1})`` (``W_1 (k, n)``, ``W_N (n, k)``),
end-to-end matrix ``W̄ = W_N ⋯ W_1``, cost ``g = f(W̄)``. float64 throughout; public functions
take numpy arrays or torch tensors and return the kind of their first weight.

Modules, one idea each:

* :mod:`~overparam.products`: ``product``, ``gradient`` (Eq. 4), ``objective``, ``finite_difference_gradient``;
* :mod:`~overparam.imbalance`: ``imbalance`` (Def. 1), the first-order identity of Prop. 2,
  Lemmas 10 and 12, balanced points;
* :mod:`~overparam.flows`: ``flow`` and ``flow_path`` (the gradient flow Eq. 4, with stopping events);
* :mod:`~overparam.odeint`: a generic ``solve_ivp`` wrapper for states that are lists of matrices;
* :mod:`~overparam.costs`: base costs ``f`` (torch-callable, with numpy gradients);
* :mod:`~overparam.saddles`: Hessians of ``g``, origin and truncated-SVD spectra, Lemma 17's direction;
* :mod:`~overparam.vector`: the vector case (Eq. 7, Prop. 5, Cor. 6), limit points, the bad set;
* :mod:`~overparam.rates`: Prop. 7's speed-up, ``convergence_time``, balanced-chain escape times;
* :mod:`~overparam.descent`: gradient descent and its exact imbalance law;
* :mod:`~overparam.sigmoid`: Section 4 (Eqs. 8-11, Prop. 8) and its limit map;
* :mod:`~overparam.foliation`, :mod:`~overparam.schematics`: Figs. 1 and 2;
* :mod:`~overparam.pc_bridge`: Part I's equilibrated energy and its imbalance drift law;
* :mod:`~overparam.init`: architectures and seeded initial weights.
"""

from . import costs, descent, foliation, init, odeint, pc_bridge, rates, saddles, schematics, sigmoid, vector
from .costs import SCALAR_COSTS, Cost, ScalarCost, matrix_costs
from .descent import gd_imbalance_change, gd_step
from .flows import FlowPath, flow, flow_path, gradient_norm, imbalance_drift
from .imbalance import balance_residual, balanced_weights, imbalance, lemma12_residual, norm_differences
from .products import finite_difference_gradient, gradient, objective, product
from .rates import convergence_time
from .saddles import objective_hessian, origin_spectrum
from .sigmoid import sigmoid_invariant

__all__ = [
    "SCALAR_COSTS", "Cost", "FlowPath", "ScalarCost", "balance_residual", "balanced_weights", "convergence_time",
    "costs", "descent", "finite_difference_gradient", "flow", "flow_path", "foliation", "gd_imbalance_change", "gd_step",
    "gradient", "gradient_norm", "imbalance", "imbalance_drift", "init", "lemma12_residual", "matrix_costs",
    "norm_differences", "objective", "objective_hessian", "odeint", "origin_spectrum", "pc_bridge", "product", "rates",
    "saddles", "schematics", "sigmoid", "sigmoid_invariant", "vector",
]
