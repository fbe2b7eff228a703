"""Validation of backend results: a corrupted result is a failure, never used.

Besides shape, finiteness and shots, every number must be possible. An observable
``H = c₀ + Σ_t c_t P_t`` has its values in ``c₀ ± Σ_t |c_t|`` (a Pauli string's eigenvalues
are ±1), and its estimated variance is bounded too. ``sim.measure`` reports, per commuting
group ``g`` measured with ``N_g`` shots, a variance of the group's mean: for groups of three
or more levels the unbiased sample variance ``v_g = m₂ / (N_g − 1)`` (``m₂`` the biased
second central moment of the outcomes; ``δ²/N_g²`` when all shots agree), for two-level
groups the Agresti–Coull form ``Δ²p̃(1−p̃)/N_g ≤ S_g²/N_g``. The outcomes lie in
``[−S_g, S_g]`` with ``S_g = Σ_{t∈g} |c_t|``, so ``m₂ ≤ S_g²`` (half the range, squared) and
each form satisfies

    v_g ≤ S_g² / (N_g − 1),    Var(H) = Σ_g v_g ≤ Σ_g S_g² / (N_g − 1).

An estimator dividing by ``N_g`` instead (``m₂ / N_g``) satisfies the same bound; a group
of one shot is bounded by ``S_g²`` (``sim.measure`` reports ``NaN`` there, also accepted).
The checks allow a relative rounding slack of 1e-9 (plus 1e-12 absolute). A backend whose
values may legitimately leave the spectrum (mitigation) sets ``unbounded_values = True``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import BackendLimits, Result, Task
from qtrain.errors import ShotsError, StateTooLargeError
from qtrain.ir.observables import Observable

__all__ = ["Bounds", "Chunk", "bounds", "check_limits", "checks_for", "invalid_reason"]

_RELATIVE, _ABSOLUTE = 1e-9, 1e-12  # rounding slack of the range checks


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


@dataclass(frozen=True, eq=False)
class Bounds:
    """The possible numbers of a tuple of ``O`` observables with ``G`` groups in all.

    Attributes:
        center: ``(O,)`` identity coefficients ``c₀``.
        reach: ``(O,)`` the largest ``|value − c₀|``: ``Σ|c_t|`` over the other terms.
        limit: ``(O,)`` ``reach`` plus rounding slack.
        group_squares: ``(G,)`` ``S_g²`` of every group, observables in order.
        membership: ``(G, O)`` 1 where group ``g`` belongs to observable ``o``.
        one_each: every observable has exactly one group (``membership`` is the identity).
    """

    center: NDArray[np.float64]
    reach: NDArray[np.float64]
    limit: NDArray[np.float64]
    group_squares: NDArray[np.float64]
    membership: NDArray[np.float64]
    one_each: bool

    def max_variances(self, shots: NDArray[np.int64]) -> NDArray[np.float64]:
        """``(b, O)`` the largest possible variance of each value, for ``(b, G)`` shots."""
        per_group = self.group_squares / np.maximum(shots - 1, 1)
        bound = per_group if self.one_each else per_group @ self.membership
        return bound * (1.0 + _RELATIVE) + _ABSOLUTE


@lru_cache(maxsize=256)
def bounds(observables: tuple[Observable, ...]) -> Bounds:
    """The :class:`Bounds` of ``observables`` (cached: observables are immutable)."""
    center, reach, squares, owner = [], [], [], []
    for o, observable in enumerate(observables):
        magnitudes = np.abs(np.array(observable.coefficients, dtype=complex))
        groups = [float(magnitudes[list(g.term_indices)].sum()) for g in observable.groups()]
        center.append(float(observable.identity_coefficient.real))
        reach.append(sum(groups))
        squares += [s * s for s in groups]
        owner += [o] * len(groups)
    membership = np.zeros((len(owner), len(observables)))
    membership[np.arange(len(owner)), owner] = 1.0
    c, r = np.array(center), np.array(reach)
    return Bounds(
        c,
        r,
        r + _RELATIVE * (np.abs(c) + r) + _ABSOLUTE,
        np.array(squares),
        membership,
        owner == list(range(len(observables))),
    )


def _out_of_range(values: NDArray[np.float64], limits: Bounds) -> str:
    """Why ``values (b, O)`` are impossible ("" when every one is possible)."""
    if np.all(np.abs(values - limits.center) <= limits.limit):  # False for NaN and inf too
        return ""
    if not np.all(np.isfinite(values)):
        return "non-finite values"
    row, o = np.argwhere(np.abs(values - limits.center) > limits.limit)[0]
    low, high = limits.center[o] - limits.reach[o], limits.center[o] + limits.reach[o]
    return (
        f"value {float(values[row, o])!r} (row {row}, observable {o}) outside the "
        f"observable's range [{low:.12g}, {high:.12g}]"
    )


def _invalid_values(chunk: Chunk, result: Result, bounded: bool) -> str:
    rows, count = chunk.task.params.shape[0], len(chunk.task.observables)
    values = np.asarray(result.values)
    if values.shape != (rows, count):
        return f"values of shape {values.shape}, expected {(rows, count)}"
    if bounded:
        reason = _out_of_range(values, bounds(chunk.task.observables))
        if reason:
            return reason
    elif not np.all(np.isfinite(values)):
        return "non-finite values"
    expected_shots = 0 if chunk.shots is None else int(chunk.shots.sum())
    if result.shots != expected_shots:
        return f"{result.shots} shots reported, {expected_shots} asked"
    return ""


def _above(variances: NDArray[np.float64], maximum: NDArray[np.float64]) -> str:
    """The first variance above its maximum, named ("" when none is)."""
    over = variances > maximum
    if not np.any(over):
        return ""
    row, o = np.argwhere(over)[0]
    return (
        f"variance {float(variances[row, o])!r} (row {row}, observable {o}) above the "
        f"{maximum[row, o]:.12g} a mean of these shots can have"
    )


def _invalid_variances(chunk: Chunk, result: Result, bounded: bool, samples: int | None) -> str:
    if (result.variances is None) != (chunk.shots is None):
        return "variances present for exact rows, or missing for sampled rows"
    if result.variances is None or chunk.shots is None:
        return ""
    variances = np.asarray(result.variances)
    if variances.shape != np.shape(result.values):
        return "variances of the wrong shape"
    ok = variances >= 0  # False for NaN
    maximum = None
    if bounded:
        independent = chunk.shots if samples is None else np.minimum(chunk.shots, samples)
        maximum = bounds(chunk.task.observables).max_variances(independent)
        ok &= variances <= maximum
    if np.all(ok):
        return ""
    single_shot = chunk.shots.min(axis=1, initial=2)[:, None] < 2  # NaN is honest there
    if np.all(ok | (np.isnan(variances) & single_shot)):
        return ""
    return (maximum is not None and _above(variances, maximum)) or "bad variances"


def invalid_reason(
    chunk: Chunk, result: Result | None, *, bounded: bool = True, samples: int | None = None
) -> str:
    """Why ``result`` cannot be used for ``chunk`` ("" when it can).

    ``bounded=False`` (a backend with ``unbounded_values``) skips the range checks;
    ``samples`` (a backend's ``independent_samples``) caps the samples the variance bound
    assumes behind a group's shots.
    """
    if result is None:
        return "missing"
    return _invalid_values(chunk, result, bounded) or _invalid_variances(
        chunk, result, bounded, samples
    )


def checks_for(backend: object) -> dict[str, Any]:
    """:func:`invalid_reason`'s options for ``backend``.

    Its ``unbounded_values`` and ``independent_samples`` (``Backend`` protocol); the defaults
    where it declares neither.
    """
    samples = getattr(backend, "independent_samples", None)
    return {
        "bounded": not getattr(backend, "unbounded_values", False),
        "samples": samples if isinstance(samples, int) else None,
    }


def check_limits(
    name: str, limits: BackendLimits, task: Task, shots: NDArray[np.int64] | None
) -> None:
    """Refuse ``task`` (with its ``(B, G)`` shots) if backend ``name`` cannot take it.

    Raises:
        StateTooLargeError: more qubits than the backend runs.
        ShotsError: more shots per (row, group) than it takes.
    """
    if limits.max_qubits is not None and task.circuit.n_qubits > limits.max_qubits:
        raise StateTooLargeError(
            f"{name} runs at most {limits.max_qubits} qubits, got {task.circuit.n_qubits}"
        )
    if shots is not None and shots.size and int(shots.max()) > limits.max_shots:
        raise ShotsError(
            f"{int(shots.max())} shots per row and group exceed {name}'s limit of "
            f"{limits.max_shots}"
        )
