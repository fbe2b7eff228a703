"""A Lipschitz constant of a loss gradient, for shot-adaptive optimizers (Rosalin's ``L``).

Every term ``v_i = ⟨H_i⟩`` of an objective obeys, at every θ and along every direction ``v``,
``|∂_v v_i| ≤ g_i·|v|``, ``|∂²_v v_i| ≤ |v|ᵀA_i|v|`` and ``|v_i − c_i| ≤ r_i``
(:func:`~qtrain.passes.smoothness.derivative_bound`: Bernstein's inequality on the slots'
generator frequencies, the lowering matrix ``M`` and light cones, so a shared or scaled
parameter counts every gate it feeds). Through the loss,

    ``∂²_v L = Σ_i ∂²L/∂v_i² · (∂_v v_i)² + ∂L/∂v_i · ∂²_v v_i``,

and every matrix below has non-negative entries, so ``max_{‖v‖=1} |v|ᵀ(·)|v|`` is its largest
eigenvalue, a bound on ``sup_θ ‖∇²L(θ)‖₂``:

* ``expval``, ``sum``, ``mean`` (``∂L/∂v_i = w_i`` = 1 or ``1/T``, ``∂²L/∂v_i² = 0``):
  ``λ_max(Σ_i w_i A_i)``;
* ``mse`` (``∂²L/∂v_i² = 2/T``, ``|∂L/∂v_i| = 2|v_i − t_i|/T ≤ 2(r_i + |c_i − t_i|)/T``):
  ``λ_max(2/T · Σ_i [g_i g_iᵀ + (r_i + |c_i − t_i|) A_i])``;
* ``bce`` and custom losses: ``inf``. bce's ``∂²L/∂v²`` grows as ``1/p²`` up to
  ``~1/(4T·10⁻¹⁸)`` at its clip of ``p``, so no useful finite constant exists.

The bound is attained by one parameter fed to ``k`` gates about one axis (``⟨Z⟩ = cos kθ``:
``L = k²``). For ``mse`` the two terms peak at different θ: ``(cos θ − 1)²`` has
``sup |L''| = 4`` (at ``θ = π``) against the bound ``2·(1 + 2·1) = 6``.

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.observables import Z
>>> from qtrain.ir.params import P
>>> from qtrain.train.losses import LOSSES
>>> c = Circuit(1).ry(0, P(0))
>>> lipschitz_bound(LOSSES["mse"], np.array([1.0]), (c,), (Z(0),), 1)
6.0
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.smoothness import derivative_bound, largest_eigenvalue
from qtrain.train.losses import LOSSES, Loss

__all__ = ["lipschitz_bound"]


def lipschitz_bound(
    loss: Loss,
    targets: NDArray[np.float64] | None,
    circuits: Sequence[Circuit],
    observables: Sequence[Observable],
    n_params: int,
) -> float:
    """``L ≥ sup_θ ‖∇²loss(θ)‖₂`` for the terms ``(circuits[i], observables[i])`` (see above).

    Args:
        loss: the objective's loss; only the built-in ``LOSSES`` have a finite bound.
        targets: ``(T,)`` targets (``mse``).
        circuits: ``T`` circuits, each reading the first ``circuit.n_params`` of θ.
        observables: ``T`` observables.
        n_params: ``P``, the width of θ.
    """
    if loss is not LOSSES.get(loss.name) or loss.name not in ("expval", "sum", "mean", "mse"):
        return float("inf")
    total = np.zeros((n_params, n_params))
    count = len(circuits)
    for index, (circuit, observable) in enumerate(zip(circuits, observables, strict=True)):
        bound = derivative_bound(circuit, observable)
        width = circuit.n_params
        if loss.name == "mse":
            assert targets is not None  # mse needs targets (checked by Objective)
            reach = bound.radius + abs(bound.center - float(targets[index]))
            form = np.outer(bound.slope, bound.slope) + reach * bound.curvature
            total[:width, :width] += 2.0 / count * form
        else:
            weight = 1.0 / count if loss.name == "mean" else 1.0
            total[:width, :width] += weight * bound.curvature
    return largest_eigenvalue(total)
