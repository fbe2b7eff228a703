"""Is an inner result usable? The checks the executor cannot make through a mitigated backend.

A mitigated backend declares ``unbounded_values`` (an inverted or extrapolated value may leave
the spectrum), so the executor skips its range checks on the *mitigated* result. The inner
results are checked here instead, against the inner tasks: shape, finiteness, each rewritten
observable's range ``Σ|c|``, shots, variances, per-term values. A result that fails makes the
outer task's result missing (``None``), which the executor resubmits under its retry policy.
"""

from __future__ import annotations

import numpy as np

from qtrain.backends.protocol import Result, Task

__all__ = ["usable"]

_SLACK = 1e-9


def usable(task: Task, result: Result | None) -> bool:
    """Whether ``result`` is a possible answer to the inner ``task``."""
    if result is None:
        return False
    rows, count = task.params.shape[0], len(task.observables)
    values = np.asarray(result.values)
    if values.shape != (rows, count) or not np.all(np.isfinite(values)):
        return False
    reach = np.array([sum(abs(c) for _, c in obs.terms) for obs in task.observables])
    if not np.all(np.abs(values) <= reach * (1 + _SLACK) + _SLACK):
        return False
    shots = task.shot_matrix()
    if shots is None:
        return result.variances is None
    return _sampled_usable(result, int(shots.sum()), rows, count) and _terms_usable(
        task, result, rows
    )


def _sampled_usable(result: Result, shots: int, rows: int, count: int) -> bool:
    """Shots as asked, variances present, of the values' shape, non-negative."""
    if result.shots != shots or result.variances is None:
        return False
    variances = np.asarray(result.variances)
    return variances.shape == (rows, count) and bool(np.all(variances >= 0))


def _terms_usable(task: Task, result: Result, rows: int) -> bool:
    """Per-term values, when asked for and given: one ``(B, T_o)`` table per observable."""
    terms = result.metadata.get("term_values")
    if not task.term_values or terms is None:
        return True  # a backend without the capability gets the bound (mitigation.combine)
    if not isinstance(terms, tuple) or len(terms) != len(task.observables):
        return False
    for table, observable in zip(terms, task.observables, strict=True):
        array = np.asarray(table)
        if array.shape != (rows, len(observable.terms)):
            return False
        if not np.all(np.abs(array) <= 1 + _SLACK):
            return False
    return True
