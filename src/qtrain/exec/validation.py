"""Validation of backend results: a corrupted result is a failure, never used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task

__all__ = ["Chunk", "invalid_reason"]


@dataclass(eq=False)
class Chunk:
    """A task as sent to the backend, with the executor's unit of each row and its shots.

    Attributes:
        task: what the backend runs.
        units: ``(b,)`` the unit (``exec.keys.Units``) each row evaluates.
        shots: ``(b, G)`` its shot matrix (``None`` when exact).
    """

    task: Task
    units: NDArray[np.int64]
    shots: NDArray[np.int64] | None


def _invalid_values(chunk: Chunk, result: Result) -> str:
    rows, count = chunk.task.params.shape[0], len(chunk.task.observables)
    values = np.asarray(result.values)
    if values.shape != (rows, count):
        return f"values of shape {values.shape}, expected {(rows, count)}"
    if not np.all(np.isfinite(values)):
        return "non-finite values"
    expected_shots = 0 if chunk.shots is None else int(chunk.shots.sum())
    if result.shots != expected_shots:
        return f"{result.shots} shots reported, {expected_shots} asked"
    return ""


def _invalid_variances(chunk: Chunk, result: Result) -> str:
    if (result.variances is None) != (chunk.shots is None):
        return "variances present for exact rows, or missing for sampled rows"
    if result.variances is None or chunk.shots is None:
        return ""
    variances = np.asarray(result.variances)
    if variances.shape != np.shape(result.values):
        return "variances of the wrong shape"
    single_shot = chunk.shots.min(axis=1, initial=2)[:, None] < 2  # NaN is honest there
    return "" if np.all((variances >= 0) | (np.isnan(variances) & single_shot)) else "bad variances"


def invalid_reason(chunk: Chunk, result: Result | None) -> str:
    """Why ``result`` cannot be used for ``chunk`` ("" when it can)."""
    if result is None:
        return "missing"
    return _invalid_values(chunk, result) or _invalid_variances(chunk, result)
