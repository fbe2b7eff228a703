"""The result of a gradient computation, and the linear plan most methods share.

Parameter shift, finite differences and SPSA all estimate the Jacobian as a fixed linear map
of row values: ``J[o, k] = Σ_r W[r, k] · v[r, o]`` for rows ``r`` of one batched task. Rows
are measured independently, so with shots the variance propagates exactly the same way,
``Var J[o, k] = Σ_r W[r, k]² · Var v[r, o]`` and ``Cov J[o] = Wᵀ diag(Var v[:, o]) W``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.grad.shots import ShotPolicy, allocate, group_spreads
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["Assemble", "Gradient", "linear_plan"]


@dataclass(frozen=True, eq=False)
class Gradient:
    """A gradient (or Jacobian) with its error bars and what it cost.

    Attributes:
        value: ``(P,)`` for ``qt.grad``; ``(O, P)`` for ``qt.jacobian``.
        stderr: same shape, the standard error of each component; ``None`` when exact.
        n_circuits: distinct parameter settings (rows) evaluated.
        shots: total shots spent, exactly.
        method: the method that produced it (``"best"`` records what it chose).
        fun: the expectation value(s) at θ when the method measured them (``(O,)`` for a
            Jacobian), else ``None``.
        fun_stderr: standard error of ``fun`` (``None`` when exact or not measured).
        covariance: ``(P, P)`` (or ``(O, P, P)``) covariance of the components, when asked.
        metadata: anything else worth recording (step sizes, directions, seeds, shot matrix).
    """

    value: Any
    stderr: Any
    n_circuits: int
    shots: int
    method: str
    fun: Any = None
    fun_stderr: Any = None
    covariance: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)


Assemble = Callable[[list[Result]], Gradient]


def linear_plan(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    rows: NDArray[np.float64],
    weights: NDArray[np.float64],
    *,
    method: str,
    policy: ShotPolicy | None,
    seed: int | None,
    value_row: int | None = 0,
    covariance: bool = False,
) -> tuple[list[Task], Assemble]:
    """One task of ``rows`` and the assembly ``J = Wᵀ v`` with propagated variances.

    Args:
        circuit: the circuit the rows parameterise.
        observables: ``O`` observables.
        rows: ``(R, Q)`` parameter rows of ``circuit``.
        weights: ``(R, P)`` gradient weights ``W``.
        method: recorded in the result.
        policy: shots per (row, group), or ``None`` for exact values.
        seed: sampling entropy.
        value_row: the row holding the unshifted point (reported as ``fun``), if any.
        covariance: also return the ``(O, P, P)`` covariance.
    """
    shots = None
    if policy is not None:
        row_weight = np.linalg.norm(weights, axis=1)
        if value_row is not None:
            # The loss itself matters as much as a typical gradient row (it is what a
            # training loop reports and stops on), so it gets the mean row weight.
            others = np.delete(row_weight, value_row)
            row_weight[value_row] = others.mean() if others.size else 1.0
        shots = allocate(policy, row_weight, group_spreads(observables), gradient_weights=weights)
    task = Task(circuit, observables, rows, shots, seed)

    def assemble(results: list[Result]) -> Gradient:
        (result,) = results
        jac = (weights.T @ result.values).T  # (O, P)
        stderr = cov = fun_err = None
        if result.variances is not None:
            var = result.variances
            stderr = np.sqrt(((weights**2).T @ var).T)
            if covariance:
                cov = np.einsum("rp,ro,rq->opq", weights, var, weights)
            fun_err = None if value_row is None else np.sqrt(var[value_row])
        fun = None if value_row is None else result.values[value_row]
        meta = {"rows": rows.shape[0], "shot_matrix": shots}
        return Gradient(jac, stderr, rows.shape[0], result.shots, method, fun, fun_err, cov, meta)

    return [task], assemble
