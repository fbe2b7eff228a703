"""Losses over the expectation values of an objective's terms, with their derivatives.

A loss maps the ``(T,)`` term values ``v`` (and optional ``(T,)`` targets ``t``) to a number
``L(v)``. The training loop needs ``∂L/∂v`` to combine the terms' gradients by the chain rule,
``∇L = Σ_i ∂L/∂v_i · ∇v_i``, and the loss's curvature ``∂²L/∂v_i²`` (the losses here are
sums over terms, so their Hessian in ``v`` is diagonal) to carry the noise of the *measured*
``v̂`` into the error bar of ``∇L``: a sampled loss gradient ``ŵ·ĝ`` with ``ŵ = ∂L/∂v(v̂)``
has, to second order in the sampling noise (:mod:`qtrain.train.evaluation`),
``Var ∇L_k ≈ Σ_i w_i² Var ĝ_ik + w_i'² g_ik² Var v̂_i + 2 w_i w_i' g_ik Cov(v̂_i, ĝ_ik)
+ w_i'² (Var v̂_i Var ĝ_ik + Cov²)`` — exact for ``mse`` when the noise is Gaussian. For
linear losses (``expval``, ``sum``, ``mean``) the curvature is zero and only the first term
remains. The sampled ``mse`` loss carries the bias ``E[(v̂ − t)²] − (v − t)² = Var v̂``.

>>> import numpy as np
>>> LOSSES["mse"].value(np.array([0.5, -1.0]), np.array([1.0, -1.0]))
0.125
>>> LOSSES["mse"].weights(np.array([0.5, -1.0]), np.array([1.0, -1.0])).tolist()
[-0.5, 0.0]
>>> LOSSES["mse"].curvature(np.array([0.5, -1.0]), np.array([1.0, -1.0])).tolist()
[1.0, 1.0]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["LOSSES", "Loss"]

Vector = NDArray[np.float64]

_BCE_CLIP = 1e-9  # keeps log(p) finite when a term value hits ±1 exactly


@dataclass(frozen=True)
class Loss:
    """A named loss with its value and its derivative with respect to the term values.

    Attributes:
        name: registry and config name.
        value: ``(v (T,), t (T,) | None) -> L``.
        weights: ``(v, t) -> ∂L/∂v (T,)``.
        needs_targets: whether targets are required.
        single_term: whether the loss is defined for one term only.
        curvature: ``(v, t) -> ∂²L/∂v_i² (T,)``, the diagonal of the loss's Hessian in
            ``v`` (``None``: the loss is linear in ``v``). A loss whose Hessian in ``v`` is not
            diagonal is outside this model.
    """

    name: str
    value: Callable[[Vector, Vector | None], float]
    weights: Callable[[Vector, Vector | None], Vector]
    needs_targets: bool = False
    single_term: bool = False
    curvature: Callable[[Vector, Vector | None], Vector] | None = None

    def second_derivatives(self, v: Vector, t: Vector | None) -> Vector:
        """``(T,)`` ``∂²L/∂v_i²`` at ``v`` (zeros for a linear loss)."""
        if self.curvature is None:
            return np.zeros_like(v)
        return np.asarray(self.curvature(v, t), dtype=np.float64)


def _targets(t: Vector | None) -> Vector:
    assert t is not None  # Objective checks needs_targets before any evaluation
    return t


def _bce_p(v: Vector) -> Vector:
    """``p = P(+1) = (1 + ⟨Z⟩)/2``, clipped away from 0 and 1."""
    return np.clip((1.0 + v) / 2.0, _BCE_CLIP, 1.0 - _BCE_CLIP)


def _bce_value(v: Vector, t: Vector | None) -> float:
    p, y = _bce_p(v), (1.0 + _targets(t)) / 2.0  # targets ±1 → labels 1/0
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def _bce_weights(v: Vector, t: Vector | None) -> Vector:
    p, y = _bce_p(v), (1.0 + _targets(t)) / 2.0
    weights: Vector = -(y / p - (1 - y) / (1 - p)) / (2.0 * v.size)
    return weights


def _bce_curvature(v: Vector, t: Vector | None) -> Vector:
    """``∂²L/∂v² = (y/p² + (1−y)/(1−p)²)/(4T)`` (``dp/dv = 1/2``)."""
    p, y = _bce_p(v), (1.0 + _targets(t)) / 2.0
    curvature: Vector = (y / p**2 + (1 - y) / (1 - p) ** 2) / (4.0 * v.size)
    return curvature


LOSSES: dict[str, Loss] = {
    loss.name: loss
    for loss in (
        Loss("expval", lambda v, t: float(v[0]), lambda v, t: np.ones_like(v), single_term=True),
        Loss("sum", lambda v, t: float(v.sum()), lambda v, t: np.ones_like(v)),
        Loss("mean", lambda v, t: float(v.mean()), lambda v, t: np.full_like(v, 1.0 / v.size)),
        Loss(
            "mse",
            lambda v, t: float(np.mean((v - _targets(t)) ** 2)),
            lambda v, t: 2.0 * (v - _targets(t)) / v.size,
            needs_targets=True,
            curvature=lambda v, t: np.full_like(v, 2.0 / v.size),
        ),
        Loss("bce", _bce_value, _bce_weights, needs_targets=True, curvature=_bce_curvature),
    )
}
"""Built-in losses by name: ``expval`` (one term), ``sum``, ``mean``, ``mse`` and ``bce``
(binary cross-entropy of ``p = (1 + v)/2`` against targets ±1)."""
