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
from qtrain.display import html_table, vector
from qtrain.grad.shots import ShotPolicy, allocate, group_spreads
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = [
    "Assemble",
    "Gradient",
    "LinearAssembly",
    "component_shots",
    "linear_plan",
    "row_importance",
]


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
        fun_covariance: ``(P,)`` (or ``(O, P)``) covariance between ``fun`` and each
            component, when the value row is also a gradient row (forward differences);
            ``None`` when they are independent or exact.
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
    fun_covariance: Any = None

    def _fun(self) -> str:
        if self.fun_stderr is None:
            return vector(self.fun)
        return f"{vector(self.fun)} ± {vector(self.fun_stderr)}"

    def __repr__(self) -> str:
        """One line of plain numbers (4 significant digits; long vectors shortened)."""
        fun = "" if self.fun is None else f", fun={self._fun()}"
        stderr = "None" if self.stderr is None else vector(self.stderr)
        return (
            f"Gradient(value={vector(self.value)}, stderr={stderr}{fun}, "
            f"method={self.method!r}, n_circuits={self.n_circuits}, shots={self.shots})"
        )

    def _repr_html_(self) -> str:
        rows = [("value", vector(self.value)), ("stderr", vector(self.stderr))]
        if self.fun is not None:
            rows.append(("fun", self._fun()))
        rows += [("circuits", str(self.n_circuits)), ("shots", f"{self.shots:,}")]
        return html_table(f"Gradient ({self.method})", rows)


Assemble = Callable[[list[Result]], Gradient]


def row_importance(weights: NDArray[np.float64], value_row: int | None) -> NDArray[np.float64]:
    """``(R,)`` how much each row matters to the shot allocation: ``|W_r|``.

    The value row is what a training loop reports and stops on, so it matters at least as
    much as a typical gradient row — and never less than its own gradient weight (forward
    differences and the Hessian's diagonal put weight on it too).
    """
    importance: NDArray[np.float64] = np.linalg.norm(weights, axis=1)
    if value_row is not None:
        others = np.delete(importance, value_row)
        typical = float(others.mean()) if others.size else 1.0
        importance[value_row] = max(float(importance[value_row]), typical)
    return importance


def component_shots(
    weights: NDArray[np.float64], shots: NDArray[np.int64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(Σ_r W_rk², Σ_r W_rk²/N_r)`` per component, ``N_r`` a row's fewest shots per group.

    Their ratio is the number of shots per row that would give component ``k`` the variance
    it has (a row shared by several components gets the largest of their requests, so a
    component can be measured with more shots than it asked for).
    """
    squared = weights**2
    if shots.shape[1] == 0:  # a constant observable: nothing measured, nothing to weigh
        nothing = np.zeros(weights.shape[1])
        return nothing, nothing
    per_row = np.maximum(shots.min(axis=1), 1).astype(float)
    return squared.sum(axis=0), (squared / per_row[:, None]).sum(axis=0)


@dataclass(frozen=True, eq=False)
class LinearAssembly:
    """``J = Wᵀ v`` from one task's rows, with variances propagated exactly.

    Attributes:
        weights: ``(R, P)`` gradient weights ``W``.
        method: recorded in the result.
        value_row: the row holding the unshifted point (reported as ``fun``), if any.
        shots: ``(R, G)`` shots per row and group (``None`` when exact).
        covariance: also return the ``(O, P, P)`` covariance.
        metadata: extra entries for the result's metadata (``"chosen_by"``).
    """

    weights: NDArray[np.float64]
    method: str
    value_row: int | None
    shots: NDArray[np.int64] | None
    covariance: bool = False
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def importance(self) -> NDArray[np.float64]:
        """``(R,)`` the rows' allocation weights (:func:`row_importance`)."""
        return row_importance(self.weights, self.value_row)

    def __call__(self, results: list[Result]) -> Gradient:
        """The Jacobian ``(O, P)`` from the task's one result."""
        (result,) = results
        weights, value_row, rows = self.weights, self.value_row, self.weights.shape[0]
        jac = (weights.T @ result.values).T  # (O, P)
        stderr = cov = fun_err = fun_cov = None
        meta: dict[str, Any] = {"rows": rows, "shot_matrix": self.shots, **self.metadata}
        if result.variances is not None:
            var, shared = _independent(result)
            stderr = np.sqrt(((weights**2).T @ var).T + _shared_variance(weights, shared))
            if self.covariance:
                cov = np.einsum("rp,ro,rq->opq", weights, var, weights)
                if shared is not None:  # one error moving every row: Σ_k σ_k² g_k g_kᵀ
                    loadings, sigma2 = shared
                    g = np.einsum("rp,rok->okp", weights, loadings)
                    cov = cov + np.einsum("okp,k,okq->opq", g, sigma2, g)
            if value_row is not None:
                fun_err = np.sqrt(result.variances[value_row])
                # Cov(v̂, Ĵ[o, k]) = W[value_row, k]·Var v̂: the value row is also a gradient row.
                fun_cov = var[value_row][:, None] * weights[value_row][None, :]
                if shared is not None:  # and the shared error moves both
                    loadings, sigma2 = shared
                    g = np.einsum("rp,rok->okp", weights, loadings)
                    fun_cov = fun_cov + np.einsum("ok,k,okp->op", loadings[value_row], sigma2, g)
            if self.shots is not None:
                meta["weight_squares"], meta["weight_squares_per_shot"] = component_shots(
                    weights, self.shots
                )
        fun = None if value_row is None else result.values[value_row]
        return Gradient(
            jac, stderr, rows, result.shots, self.method, fun, fun_err, cov, meta, fun_cov
        )


def _independent(result: Result) -> tuple[NDArray[np.float64], Any]:
    """The rows' own variances ``(R, O)`` and their shared error, if the result carries one.

    ``Result.metadata["shared_errors"]`` (a mitigated backend's calibration: one error that
    moves every row): each row's variance holds ``Σ_k σ_k² D_rk²`` of it, taken out here and
    put back coherently, ``Σ_k σ_k² (Σ_r W_rp D_rok)²``, by :func:`_shared_variance`.
    """
    assert result.variances is not None  # the caller checked
    shared = result.metadata.get("shared_errors")
    if not isinstance(shared, Mapping):
        return result.variances, None
    loadings = np.asarray(shared["loadings"], dtype=np.float64)  # (R, O, K)
    sigma2 = np.asarray(shared["variances"], dtype=np.float64)  # (K,)
    own = np.maximum(result.variances - (loadings**2) @ sigma2, 0.0)
    return own, (loadings, sigma2)


def _shared_variance(weights: NDArray[np.float64], shared: Any) -> NDArray[np.float64] | float:
    """``(O, P)`` the shared error's variance in ``Wᵀ v`` (0 without one)."""
    if shared is None:
        return 0.0
    loadings, sigma2 = shared
    g = np.einsum("rp,rok->okp", weights, loadings)  # (O, K, P)
    return np.asarray(np.einsum("okp,k->op", g**2, sigma2), dtype=np.float64)


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
) -> tuple[list[Task], LinearAssembly]:
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
        importance = row_importance(weights, value_row)
        shots = allocate(policy, importance, group_spreads(observables), gradient_weights=weights)
    task = Task(circuit, observables, rows, shots, seed)
    return [task], LinearAssembly(weights, method, value_row, shots, covariance)
