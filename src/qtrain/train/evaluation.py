"""One evaluation of an objective: the loss, its gradient and their error bars.

:class:`EvaluationAssembly` combines the Jacobians of an objective's circuits (``(O_c, P_c)``
each, from ``qt.grad``'s planners) into the loss and its gradient by the chain rule through
the loss, ``∇L = Σ_i ∂L/∂v_i · ∇v_i``. The error bars are second-order delta-method
estimates (:func:`loss_gradient_variance`): the noise of the measured term values enters the
gradient through ``∂L/∂v̂``, which is what dominates for ``mse``/``bce`` near the targets.

Where a term's value row is also one of its gradient rows (forward differences), ``ŵ`` and
``ĝ`` share noise and ``E[ŵĝ] = wg + w'·Cov(v̂, ĝ)``; that known bias is subtracted, so the
``mse`` loss gradient is unbiased for every method.

Results from a mitigating backend (``qt.Mitigated``) carry their unmitigated values,
``metadata["mitigation"]["raw_values"]`` ``(B, O)``; the same assembly over them gives
:attr:`Evaluation.raw_loss`, the loss mitigation corrected (a step's mitigation effect).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.grad.result import Assemble, Gradient
from qtrain.grad.shots import ShotPolicy
from qtrain.optim.base import Observation
from qtrain.train.losses import Loss

__all__ = [
    "Evaluation",
    "EvaluationAssembly",
    "Piece",
    "loss_gradient_variance",
    "loss_variance",
    "raw_results",
]

Vector = NDArray[np.float64]


def loss_gradient_variance(
    w: Vector, curvature: Vector, g: Vector, *, var_v: Vector, var_g: Vector, cov: Vector
) -> Vector:
    """``(P,)`` the variance of ``∇L_k = Σ_i ŵ_i·ĝ_ik``, ``ŵ_i = ∂L/∂v(v̂_i)``.

    Write ``v̂ = v + e``, ``ĝ = g + f`` and ``ŵ ≈ w + w'e`` (``w' = ∂²L/∂v²``). Then
    ``ŵĝ − wg = wf + w'ge + w'ef`` and, for Gaussian noise (Isserlis),
    ``Var = w²σ_f² + w'²g²σ_e² + 2ww'g·c + w'²(σ_e²σ_f² + c²)``, ``c = Cov(e, f)``: exact for
    ``mse``, whose ``ŵ`` is linear in ``v̂``. Terms are measured independently, so the
    variances add over ``i``. The true ``w``, ``g`` are unknown; plugging in ``ŵ``, ``ĝ``
    would overstate ``w²`` by ``w'²σ_e²`` and ``g²`` by ``σ_f²`` (three times the last term
    where both vanish), so those squares are replaced by their unbiased estimates
    ``ŵ² − w'²σ_e²``, ``ĝ² − σ_f²`` and ``ŵĝ − w'c``; the part this makes uncertain is
    floored at zero, so the result never falls below the irreducible ``w'²(σ_e²σ_f² + c²)``.

    Args:
        w: ``(T,)`` ``∂L/∂v`` at the measured values.
        curvature: ``(T,)`` ``∂²L/∂v²`` there.
        g: ``(T, P)`` the terms' gradients.
        var_v: ``(T,)`` variances of the term values.
        var_g: ``(T, P)`` variances of the gradient components.
        cov: ``(T, P)`` covariances between a term's value and its gradient components.
    """
    w, c2, e2 = w[:, None], curvature[:, None], var_v[:, None]
    signal = w**2 * var_g + c2**2 * g**2 * e2 + 2 * c2 * w * g * cov
    signal -= 2 * c2**2 * (e2 * var_g + cov**2)  # the plug-in squares' own bias
    floor = c2**2 * (e2 * var_g + cov**2)
    variance: Vector = (np.maximum(signal, 0.0) + floor).sum(axis=0)
    return variance


def loss_variance(w: Vector, curvature: Vector, var_v: Vector) -> float:
    """The variance of ``L(v̂)``: ``Σ_i w_i²σ_i² + ½ w_i'²σ_i⁴`` (exact for ``mse``, Gaussian).

    As in :func:`loss_gradient_variance`, ``w²`` is estimated by ``ŵ² − w'²σ²``, floored
    at zero.
    """
    signal = np.maximum(w**2 * var_v - curvature**2 * var_v**2, 0.0)
    return float((signal + 0.5 * curvature**2 * var_v**2).sum())


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
        component_shots: ``(P,)`` the shots per row each gradient component was effectively
            measured with (rows shared by several components get the largest request), when
            the method's allocation is known; ``None`` otherwise.
        seed: the sampling entropy the evaluation used (drawn fresh when none was given;
            passing it back reproduces the evaluation), ``None`` when nothing was random.
        raw_loss: the loss over the unmitigated term values of the same rows, when the
            results came from a mitigating backend (``None`` otherwise; NaN when that backend
            could not say them, e.g. exact values or no per-term estimates).
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
    component_shots: Vector | None = None
    seed: int | None = None
    raw_loss: float | None = None

    def observation(self, policy: ShotPolicy | None) -> Observation:
        """What an optimizer sees; ``policy`` says how many shots each component asked for."""
        per_component = None
        if policy is not None and self.component_shots is not None:
            per_component = self.component_shots
        elif policy is not None and policy.per_component is not None:
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


def raw_results(results: Sequence[Result]) -> list[Result] | None:
    """``results`` with their unmitigated values in place of ``values`` (``(B, O)`` each).

    ``None`` when no result came from a mitigating backend. A result that names no raw
    values of the right shape among ones that do gets NaN values.
    """
    if not any(_raw_values(r) is not None for r in results):
        return None
    out = []
    for result in results:
        raw = _raw_values(result)
        if raw is None or raw.shape != np.shape(result.values):
            raw = np.full(np.shape(result.values), np.nan)
        out.append(replace(result, values=raw))
    return out


def _raw_values(result: Result) -> Vector | None:
    """``metadata["mitigation"]["raw_values"]`` as an array, if the result has it."""
    mitigation: Any = result.metadata.get("mitigation")
    if not isinstance(mitigation, Mapping) or mitigation.get("raw_values") is None:
        return None
    return np.asarray(mitigation["raw_values"], dtype=np.float64)


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
    seed: int | None = None

    def tasks(self) -> list[Task]:
        """Every piece's tasks, then its value task, in order."""
        out: list[Task] = []
        for piece in self.pieces:
            out += piece.tasks + ([piece.value_task] if piece.value_task is not None else [])
        return out

    def _collect(self, results: Sequence[Result]) -> _Terms:
        """Every term's value and gradient with their variances, from the pieces' results."""
        out = _Terms.empty(self.n_terms, self.n_params)
        cursor = 0
        for piece in self.pieces:
            count = len(piece.tasks)
            gradient: Gradient = piece.assemble(list(results[cursor : cursor + count]))
            cursor += count
            value_result = None
            if piece.value_task is not None:
                value_result, cursor = results[cursor], cursor + 1
            out.add(piece, gradient, value_result)
        return out

    def __call__(self, results: Sequence[Result]) -> Evaluation:
        """The evaluation from the results of :meth:`tasks`, in order."""
        t = self._collect(results)
        weights = self.loss.weights(t.values, self.targets)
        curvature = self.loss.second_derivatives(t.values, self.targets)
        loss_stderr = grad_stderr = None
        if t.sampled_values:
            loss_stderr = float(np.sqrt(loss_variance(weights, curvature, t.variances)))
        if t.sampled_grads:
            grad_var = loss_gradient_variance(
                weights, curvature, t.jac, var_v=t.variances, var_g=t.jac_var, cov=t.cov
            )
            grad_stderr = np.sqrt(grad_var)
        sampled = self.policy is not None
        return Evaluation(
            loss=self.loss.value(t.values, self.targets),
            loss_stderr=loss_stderr,
            gradient=weights @ t.jac - (curvature[:, None] * t.cov).sum(axis=0),
            gradient_stderr=grad_stderr,
            term_values=t.values,
            term_stderr=np.sqrt(t.variances) if t.sampled_values else None,
            n_circuits=t.rows,
            shots=sum(int(r.shots) for r in results) if sampled else 0,
            method=t.methods[0] if len(set(t.methods)) == 1 else ",".join(t.methods),
            metric=None if self.metric_fn is None else self.metric_fn(),
            calibration_ids=tuple(_calibration_ids(results)),
            component_shots=t.component_shots(weights),
            seed=self.seed,
            raw_loss=self.raw_loss(results),
        )

    def raw_loss(self, results: Sequence[Result]) -> float | None:
        """The loss over the results' unmitigated values (:func:`raw_results`).

        The same assembly as :meth:`__call__` reads the term values at θ from them (the value
        rows, or the rows a method reports as its value), then the same loss; NaN when a raw
        value is unknown, ``None`` when nothing was mitigated.
        """
        raw = raw_results(results)
        if raw is None:
            return None
        if not all(np.all(np.isfinite(r.values)) for r in raw):
            return float("nan")
        return float(self.loss.value(self._collect(raw).values, self.targets))


@dataclass
class _Terms:
    """What the pieces measured, term by term: ``(T,)`` values, ``(T, P)`` gradients."""

    values: Vector
    variances: Vector
    jac: Vector
    jac_var: Vector
    cov: Vector  # Cov(v̂_i, ĝ_ik), nonzero where the value row is also a gradient row
    squares: Vector  # Σ_r W_rk² per term (for the effective shots per component)
    squares_per_shot: Vector  # Σ_r W_rk²/N_r
    rows: int = 0
    methods: list[str] = field(default_factory=list)
    sampled_values: bool = False
    sampled_grads: bool = False
    shots_known: bool = True

    @staticmethod
    def empty(terms: int, width: int) -> _Terms:
        def grid() -> Vector:
            return np.zeros((terms, width))

        zeros = np.zeros(terms)
        return _Terms(zeros, zeros.copy(), grid(), grid(), grid(), grid(), grid())

    def add(self, piece: Piece, gradient: Gradient, value_result: Result | None) -> None:
        """Record one piece's gradient (and its separate value row, if it has one)."""
        index, width = list(piece.terms), piece.n_params
        self.jac[index, :width] = gradient.value
        self.rows += gradient.n_circuits + (value_result is not None)
        self.methods.append(gradient.method)
        if gradient.stderr is not None:
            self.sampled_grads = True
            self.jac_var[index, :width] = gradient.stderr**2
        fun, fun_err = gradient.fun, gradient.fun_stderr
        if value_result is not None:  # measured apart from the gradient rows: independent
            fun = value_result.values[0]
            var = value_result.variances
            fun_err = None if var is None else np.sqrt(var[0])
        elif gradient.fun_covariance is not None:
            self.cov[index, :width] = gradient.fun_covariance
        self.values[index] = fun
        if fun_err is not None:
            self.sampled_values = True
            self.variances[index] = np.asarray(fun_err) ** 2
        squares = gradient.metadata.get("weight_squares")
        per_shot = gradient.metadata.get("weight_squares_per_shot")
        if squares is None or per_shot is None:
            self.shots_known = False
        else:
            self.squares[index, :width] = squares
            self.squares_per_shot[index, :width] = per_shot

    def component_shots(self, weights: Vector) -> Vector | None:
        """``(P,)`` shots per row that would give each loss-gradient component its variance.

        ``Σ_i w_i² Σ_r W_rk² / Σ_i w_i² Σ_r W_rk²/N_r``, were every row equally noisy.
        """
        if not (self.shots_known and self.sampled_grads):
            return None
        scale = (weights**2)[:, None]
        numerator = (scale * self.squares).sum(axis=0)
        denominator = (scale * self.squares_per_shot).sum(axis=0)
        safe = np.where(denominator > 0, denominator, 1.0)
        shots: Vector = np.where(denominator > 0, numerator / safe, 0.0)
        return shots
