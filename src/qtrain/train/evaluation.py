"""One evaluation of an objective: the loss, its gradient and their error bars.

:class:`EvaluationAssembly` combines the Jacobians of an objective's circuits (``(O_c, P_c)``
each, from ``qt.grad``'s planners) into the loss and its gradient by the chain rule through
the loss, ``∇L = Σ_i ∂L/∂v_i · ∇v_i``, with standard errors propagated to first order
(:mod:`qtrain.train.losses`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.grad.result import Assemble, Gradient
from qtrain.grad.shots import ShotPolicy
from qtrain.optim.base import Observation
from qtrain.train.losses import Loss

__all__ = ["Evaluation", "EvaluationAssembly", "Piece"]

Vector = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Evaluation:
    """The loss and its gradient at one θ, with error bars when sampled.

    Attributes:
        loss: ``L`` at θ.
        loss_stderr: its standard error (``None`` when exact).
        gradient: ``(P,)`` ``∇L``.
        gradient_stderr: ``(P,)`` standard errors (``None`` when exact or not estimable).
        term_values: ``(T,)`` expectation value of every term.
        term_stderr: ``(T,)`` their standard errors (``None`` when exact).
        n_circuits: parameter rows evaluated.
        shots: shots the backend calls spent (rows read from a store cost nothing).
        method: the gradient method used (what ``"best"`` chose).
        metric: ``(P, P)`` metric tensor when asked for.
        calibration_ids: backend calibrations the results came from.
    """

    loss: float
    loss_stderr: float | None
    gradient: Vector
    gradient_stderr: Vector | None
    term_values: Vector
    term_stderr: Vector | None
    n_circuits: int
    shots: int
    method: str
    metric: Vector | None = None
    calibration_ids: tuple[str, ...] = ()

    def observation(self, policy: ShotPolicy | None) -> Observation:
        """What an optimizer sees; ``policy`` says how many shots each component had."""
        per_component = None
        if policy is not None and policy.per_component is not None:
            per_component = np.array(policy.per_component, dtype=np.int64)
        elif policy is not None and policy.per_row is not None:
            per_component = np.full(self.gradient.size, policy.per_row, dtype=np.int64)
        return Observation(
            loss=self.loss,
            gradient=self.gradient,
            loss_stderr=self.loss_stderr,
            gradient_stderr=self.gradient_stderr,
            shots_per_component=per_component,
            metric=self.metric,
        )


@dataclass(frozen=True, eq=False)
class Piece:
    """The terms of one circuit and how to assemble their Jacobian."""

    terms: tuple[int, ...]
    n_params: int
    tasks: list[Task]
    assemble: Assemble
    value_task: Task | None  # methods that do not measure the loss (SPSA) get one row more


def _calibration_ids(results: Sequence[Result]) -> list[str]:
    """Every calibration id the results name (the executor records them per task)."""
    ids: set[str] = set()
    for result in results:
        named = result.metadata.get("calibration_ids", ())
        if isinstance(named, list | tuple):
            ids.update(str(c) for c in named if c)
    return sorted(ids)


@dataclass(frozen=True, eq=False)
class EvaluationAssembly:
    """Combines the Jacobians of every circuit into the loss and its gradient."""

    loss: Loss
    targets: Vector | None
    n_terms: int
    n_params: int
    pieces: tuple[Piece, ...]
    metric_fn: Callable[[], Vector] | None
    policy: ShotPolicy | None

    def tasks(self) -> list[Task]:
        """Every piece's tasks, then its value task, in order."""
        out: list[Task] = []
        for piece in self.pieces:
            out += piece.tasks + ([piece.value_task] if piece.value_task is not None else [])
        return out

    def __call__(self, results: Sequence[Result]) -> Evaluation:
        """The evaluation from the results of :meth:`tasks`, in order."""
        terms, width = self.n_terms, self.n_params
        values, variances = np.zeros(terms), np.zeros(terms)
        jac, jac_var = np.zeros((terms, width)), np.zeros((terms, width))
        exact_values = exact_grads = True
        rows, methods, cursor = 0, [], 0
        for piece in self.pieces:
            count = len(piece.tasks)
            gradient: Gradient = piece.assemble(list(results[cursor : cursor + count]))
            cursor += count
            index = list(piece.terms)
            jac[index, : piece.n_params] = gradient.value
            rows += gradient.n_circuits
            methods.append(gradient.method)
            exact_grads &= gradient.stderr is None
            if gradient.stderr is not None:
                jac_var[index, : piece.n_params] = gradient.stderr**2
            fun, fun_err = gradient.fun, gradient.fun_stderr
            if piece.value_task is not None:
                value_result = results[cursor]
                cursor, rows = cursor + 1, rows + 1
                fun = value_result.values[0]
                var = value_result.variances
                fun_err = None if var is None else np.sqrt(var[0])
            values[index] = fun
            exact_values &= fun_err is None
            if fun_err is not None:
                variances[index] = np.asarray(fun_err) ** 2
        weights = self.loss.weights(values, self.targets)
        sampled = self.policy is not None
        calibrations = _calibration_ids(results)
        return Evaluation(
            loss=self.loss.value(values, self.targets),
            loss_stderr=None if exact_values else float(np.sqrt(weights**2 @ variances)),
            gradient=weights @ jac,
            gradient_stderr=None if exact_grads else np.sqrt(weights**2 @ jac_var),
            term_values=values,
            term_stderr=None if exact_values else np.sqrt(variances),
            n_circuits=rows,
            shots=sum(int(r.shots) for r in results) if sampled else 0,
            method=methods[0] if len(set(methods)) == 1 else ",".join(methods),
            metric=None if self.metric_fn is None else self.metric_fn(),
            calibration_ids=tuple(calibrations),
        )
