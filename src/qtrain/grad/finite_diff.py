"""Finite-difference gradients: central (error O(h²)) or forward (O(h)), one batched task.

Rows are ``θ`` and ``θ ± h·e_k`` of the user's circuit; the weights ``±1/2h`` (or ``±1/h``)
make it a linear plan, so shot noise propagates into honest standard errors — which grow as
``1/h``: with shots, choose ``h`` of order 0.1, not the exact-mode default.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.errors import GradientError
from qtrain.grad.result import Assemble, linear_plan
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["DEFAULT_STEP", "plan"]

DEFAULT_STEP = 1e-5  # balances O(h²) truncation against O(ε/h) round-off in float64


def plan(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    *,
    step: float = DEFAULT_STEP,
    scheme: str = "central",
    policy: ShotPolicy | None = None,
    seed: int | None = None,
    covariance: bool = False,
) -> tuple[list[Task], Assemble]:
    """Tasks and assembly for the finite-difference Jacobian ``(O, P)`` at ``theta (P,)``."""
    if not np.isfinite(step) or step <= 0:
        raise GradientError(f"finite-difference step must be a positive number, got {step!r}")
    if scheme not in ("central", "forward"):
        raise GradientError(f"scheme must be 'central' or 'forward', got {scheme!r}")
    n = theta.size
    eye = np.eye(n)
    if scheme == "central":
        rows = np.vstack([theta[None], theta + step * eye, theta - step * eye])
        weights = np.vstack([np.zeros((1, n)), eye / (2 * step), -eye / (2 * step)])
    else:
        rows = np.vstack([theta[None], theta + step * eye])
        weights = np.vstack([-np.ones((1, n)) / step, eye / step])
    tasks, assemble = linear_plan(
        circuit,
        observables,
        rows,
        weights,
        method=f"finite-diff ({scheme}, h={step:g})",
        policy=policy,
        seed=seed,
        covariance=covariance,
    )
    return tasks, assemble
