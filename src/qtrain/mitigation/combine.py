"""From a mitigated task's inner results (one per scale factor) to its mitigated result.

Per factor ``λ``: each observable's value is its identity coefficient plus its rewritten
groups' values (variances add: groups are measured independently). Then the extrapolation
(``mitigation.extrapolation``) gives the value and its weights ``w_λ``; the variance is
``Σ_λ w_λ² Var y_λ`` plus the calibration's delta-method term ``Σ_w (Σ_λ w_λ ∂y_λ/∂p_w)²
Var p̂_w`` (``mitigation.readout``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result
from qtrain.errors import MitigationError
from qtrain.ir.observables import Observable
from qtrain.mitigation.correlated import (
    ConfusionMatrix,
    correlated_variance,
    read_distribution,
)
from qtrain.mitigation.extrapolation import MitigationWarning
from qtrain.mitigation.readout import (
    ReadoutCalibration,
    calibration_gradients,
    calibration_variance,
)

if TYPE_CHECKING:
    from qtrain.mitigation.mitigated import TaskPlan
    from qtrain.mitigation.zne import ZNE

__all__ = ["Combined", "combine"]

Real = NDArray[np.float64]


@dataclass(frozen=True)
class Combined:
    """A task's mitigated numbers and what to record about them."""

    values: Real
    variances: Real | None
    shots: int
    metadata: dict[str, object]
    calibration_id: str
    shared: tuple[Real, Real] | None = None  # (loadings (B, O, K), variances (K,))


@dataclass
class _PerFactor:
    """Readout-mitigated values ``(L, B, O)``, variances, and calibration derivatives."""

    values: Real
    variances: Real | None
    raw: Real
    d01: Real | None  # (L, B, O, n)
    d10: Real | None
    missing: int = 0
    bounded: bool = False  # derivatives are bounds: the backend gave no term values
    pieces: list[list[tuple[int, Real, Real]]] | None = None  # correlated: (factor, u, p̂)


def combine(plan: TaskPlan, results: Sequence[Result], zne: ZNE | None) -> Combined:
    """The mitigated result of ``plan``'s task from its inner ``results`` (one per factor)."""
    task = plan.task
    per = _per_factor(plan, results)
    rows, count = task.params.shape[0], len(task.observables)
    fallback = 0
    if zne is None:
        values = per.values[0]
        weights = np.ones((rows, count, 1))
    else:
        asymptote = np.tile([obs.identity_coefficient.real for obs in task.observables], rows)
        cells = np.moveaxis(per.values, 0, -1).reshape(rows * count, -1)
        fitted = zne.fit.apply(
            plan.factors, cells, asymptote=asymptote, fallback=zne.on_failure == "fallback"
        )
        values = fitted.values.reshape(rows, count)
        weights = fitted.weights.reshape(rows, count, -1)
        fallback = int(fitted.fallback.sum())
    variances = None
    shared = None
    if per.variances is not None:
        variances = np.sum(np.moveaxis(weights, -1, 0) ** 2 * per.variances, axis=0)
        cal = plan.calibration
        if isinstance(cal, ReadoutCalibration) and per.d01 is not None and per.d10 is not None:
            w = np.moveaxis(weights, -1, 0)[..., None]
            if per.bounded:  # bounds of magnitudes add up, whatever the weights' signs
                w = np.abs(w)
            d01, d10 = np.sum(w * per.d01, axis=0), np.sum(w * per.d10, axis=0)
            variances = variances + calibration_variance(cal, d01, d10)
            if not per.bounded:  # derivatives, not bounds: the rows' shared error
                loadings = np.concatenate([d01, d10], axis=-1)
                shared = (loadings, np.concatenate([cal.var01, cal.var10]))
        if isinstance(cal, ConfusionMatrix) and per.pieces is not None:
            for o, pieces in enumerate(per.pieces):
                weighted = [(weights[:, o, f], u, dist) for f, u, dist in pieces]
                variances[:, o] += correlated_variance(cal, weighted)
    metadata: dict[str, object] = {
        "raw_values": per.raw,
        "values_by_factor": per.values,
        "factors": list(plan.factors),
        "fallback_cells": fallback,
    }
    if plan.calibration is not None:
        metadata["readout"] = _describe(plan.calibration, per)
    ids = [str(r.metadata.get("calibration_id", "")) for r in results]
    return Combined(values, variances, sum(r.shots for r in results), metadata, ids[0], shared)


def _describe(cal: ReadoutCalibration | ConfusionMatrix, per: _PerFactor) -> dict[str, object]:
    if isinstance(cal, ConfusionMatrix):
        return {
            "model": "correlated",
            "matrix": cal.matrix.tolist(),
            "column_shots": cal.column_shots.tolist(),
            "calibration_id": cal.calibration_id,
        }
    return {
        "model": "tensored",
        "p01": cal.p01.tolist(),
        "p10": cal.p10.tolist(),
        "stderr01": np.sqrt(cal.var01).tolist(),
        "stderr10": np.sqrt(cal.var10).tolist(),
        "calibration_id": cal.calibration_id,
        "missing_subwords": per.missing,
        "calibration_variance": "bound" if per.bounded else "delta",
    }


def _per_factor(plan: TaskPlan, results: Sequence[Result]) -> _PerFactor:
    task = plan.task
    rows, count, factors = task.params.shape[0], len(task.observables), len(results)
    sampled = task.shots is not None
    values = np.empty((factors, rows, count))
    variances = np.zeros((factors, rows, count)) if sampled else None
    if plan.calibration is None:
        for index, result in enumerate(results):
            values[index] = result.values
            if variances is not None and result.variances is not None:
                variances[index] = result.variances
        return _PerFactor(values, variances, values[0].copy(), None, None)
    cal = plan.calibration
    wants = sampled and cal.has_variance
    tensored = wants and isinstance(cal, ReadoutCalibration)
    d01 = np.zeros((factors, rows, count, cal.n_qubits)) if tensored else None
    d10 = np.zeros_like(d01) if d01 is not None else None
    per = _PerFactor(values, variances, np.full((rows, count), np.nan), d01, d10)
    if wants and isinstance(cal, ConfusionMatrix):
        per.pieces = [[] for _ in range(count)]
    for index, result in enumerate(results):
        _read_factor(plan, index, result, per)
    return per


def _read_factor(plan: TaskPlan, index: int, result: Result, per: _PerFactor) -> None:
    """Fill factor ``index`` of ``per`` from its inner result (rewritten groups as columns)."""
    cal = plan.calibration
    assert cal is not None  # the caller checked
    terms = result.metadata.get("term_values")
    column = 0
    for o, observable in enumerate(plan.task.observables):
        groups = plan.rewritten[o]
        width = len(groups)
        block = slice(column, column + width)
        constant = observable.identity_coefficient.real
        per.values[index, :, o] = constant + result.values[:, block].sum(axis=1)
        if per.variances is not None and result.variances is not None:
            per.variances[index, :, o] = result.variances[:, block].sum(axis=1)
        if index == 0:
            per.raw[:, o] = _raw(observable, groups, terms, column, result)
        if per.pieces is not None and isinstance(cal, ConfusionMatrix):
            per.pieces[o] += _correlated_pieces(
                groups, plan.estimates[o], cal, index=index, terms=terms, column=column
            )
        if per.d01 is not None and per.d10 is not None and isinstance(cal, ReadoutCalibration):
            for g, group in enumerate(observable.groups()):
                rewritten = groups[g]
                if isinstance(terms, tuple):
                    d01, d10, missing = calibration_gradients(
                        observable, group, cal, rewritten, np.asarray(terms[column + g])
                    )
                    per.missing += missing
                else:
                    d01, d10 = _bounds(observable, group.term_indices, cal, result.values.shape[0])
                    per.bounded = True
                per.d01[index, :, o] += d01
                per.d10[index, :, o] += d10
        column += width
    if per.bounded and index == 0:
        warnings.warn(
            f"backend {result.metadata.get('backend', '?')!r} gave no per-term values: the "
            "readout calibration's share of the error bar is an upper bound",
            MitigationWarning,
            stacklevel=4,
        )


def _correlated_pieces(
    groups: tuple[Observable, ...],
    estimates: tuple[Real, ...],
    cal: ConfusionMatrix,
    *,
    index: int,
    terms: object,
    column: int,
) -> list[tuple[int, Real, Real]]:
    """``(factor, u, p̂)`` of every rewritten group (``u``: its estimate table, from the plan)."""
    if not isinstance(terms, tuple):
        raise MitigationError(
            "the correlated readout model needs per-term values (Task.term_values) from the "
            "backend to carry its calibration's error: use the tensored model"
        )
    return [
        (index, estimate, read_distribution(group, np.asarray(terms[column + g]), cal.n_qubits))
        for g, (group, estimate) in enumerate(zip(groups, estimates, strict=True))
    ]


def _raw(
    observable: Observable,
    groups: tuple[Observable, ...],
    terms: object,
    column: int,
    result: Result,
) -> Real:
    """The unmitigated value at the first factor, from the raw term estimates (NaN without)."""
    rows = result.values.shape[0]
    if not isinstance(terms, tuple):
        return np.full(rows, np.nan)
    raw = np.full(rows, observable.identity_coefficient.real)
    for g, group in enumerate(observable.groups()):
        rewritten = groups[g]
        index = {term.factors: t for t, (term, _) in enumerate(rewritten.terms)}
        table = np.asarray(terms[column + g])
        for t in group.term_indices:
            term, coefficient = observable.terms[t]
            found = index.get(term.factors)  # None: its coefficient cancelled in the rewrite
            raw += np.nan if found is None else coefficient.real * table[:, found]
    return raw


def _bounds(
    observable: Observable, indices: tuple[int, ...], cal: ReadoutCalibration, rows: int
) -> tuple[Real, Real]:
    """Upper bounds of ``|∂v/∂p01_w|``, ``|∂v/∂p10_w|`` when no term values came back.

    A mitigated word's magnitude is at most ``Π (1 + |b_w|)/a_w`` over its wires.
    """
    a, b = cal.scale, np.abs(cal.p10 - cal.p01)
    bound = np.zeros(cal.n_qubits)
    for t in indices:
        term, coefficient = observable.terms[t]
        wires = list(term.wires)
        whole = float(np.prod((1.0 + b[wires]) / a[wires]))
        for w in wires:
            bound[w] += abs(coefficient.real) * (whole + whole * a[w] / (1.0 + b[w])) / a[w]
    tiled = np.tile(bound, (rows, 1))
    return tiled, tiled.copy()
