"""How many shots each (row, measurement group) of a gradient gets.

A gradient component is a weighted sum of row values, ``g_k = Σ_r W[r, k]·v_r``, and each row
value is a sum of independently measured group means, ``v_r = Σ_g m_rg`` with
``Var(m_rg) = σ_g² / N_rg``. So ``Σ_k Var(g_k) = Σ_r |W_r|² Σ_g σ_g² / N_rg``, and for a fixed
total ``Σ N_rg`` the minimum is at ``N_rg ∝ |W_r|·σ_g`` (Lagrange multipliers). Before any
shot is taken, ``σ_g`` is bounded by the group's spread ``Σ_{t∈g} |c_t|`` (each per-shot
value lies in ``[-spread, spread]``), so the budget is split ∝ |coefficient| × group spread.
Rows with zero weight still get the minimum, so every cell has a variance estimate.

A total is a total: :func:`split_budget` splits one budget over any set of cells (the rows
and groups of one gradient, or of every circuit of an objective) and spends it exactly.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import BudgetExceededError, ShotsError
from qtrain.ir.observables import Observable

__all__ = ["ShotPolicy", "allocate", "group_spreads", "split_budget"]

MIN_SHOTS_PER_CELL = 2  # one shot says nothing about its own variance


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ShotsError(f"{name} must be a positive int, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ShotPolicy:
    """Shots for one gradient: fixed ``per_row``, a total ``budget``, or a ``target_stderr``.

    Attributes:
        per_row: every row measures every group this many times.
        budget: total shots for the whole gradient, split across rows and groups to minimise
            the summed variance of the gradient components; never exceeded. With
            ``target_stderr`` it is a cap instead.
        per_component: shots per row and group for the rows of each gradient component
            (chosen by shot-adaptive optimizers).
        per_cell: the ``(R, G)`` shots of every row and group, given explicitly (how an
            objective hands each circuit its share of one total budget).
        target_stderr: the fewest shots (in the optimal proportions) that bound every
            component's standard error by this value, using the group spreads as the
            worst-case per-shot deviation — conservative: the realised error is usually
            smaller, and is reported.

    >>> ShotPolicy.fixed(100).per_row, ShotPolicy.total(5000).budget
    (100, 5000)
    >>> ShotPolicy.target(0.01, budget=10**6).target_stderr
    0.01
    >>> ShotPolicy.components([10, 40]).per_component
    (10, 40)
    """

    per_row: int | None = None
    budget: int | None = None
    target_stderr: float | None = None
    per_component: tuple[int, ...] | None = None
    per_cell: tuple[tuple[int, ...], ...] | None = None

    def __post_init__(self) -> None:
        sized = self.budget is not None or self.target_stderr is not None
        kinds = (self.per_row is not None) + sized + (self.per_component is not None)
        kinds += self.per_cell is not None
        if kinds != 1:
            raise ShotsError(
                "ShotPolicy needs exactly one kind: per_row=, per_component=, per_cell=, or "
                "budget= and/or target_stderr="
            )
        for line in self.per_cell or ():
            for count in line:
                if _positive_int(count, "per_cell shots") < MIN_SHOTS_PER_CELL:
                    raise ShotsError(
                        f"every (row, group) cell needs at least {MIN_SHOTS_PER_CELL} shots to "
                        f"estimate its error bar, got {count}"
                    )
        for count in self.per_component or ():
            if _positive_int(count, "per_component shots") < MIN_SHOTS_PER_CELL:
                raise ShotsError(
                    f"every component needs at least {MIN_SHOTS_PER_CELL} shots per row and "
                    f"group, got {count}"
                )
        if self.target_stderr is not None and not (
            isinstance(self.target_stderr, float | int) and 0 < self.target_stderr < float("inf")
        ):
            raise ShotsError(f"target_stderr must be a positive number, got {self.target_stderr!r}")
        if self.per_row is not None and _positive_int(self.per_row, "per_row") < MIN_SHOTS_PER_CELL:
            raise ShotsError(
                f"a gradient needs at least {MIN_SHOTS_PER_CELL} shots per row and group to "
                f"estimate its error bars, got per_row={self.per_row}"
            )
        if self.budget is not None:
            _positive_int(self.budget, "budget")

    @staticmethod
    def fixed(shots: int) -> ShotPolicy:
        """``shots`` per row and group."""
        return ShotPolicy(per_row=shots)

    @staticmethod
    def components(shots: Sequence[int] | NDArray[np.int64]) -> ShotPolicy:
        """``shots[k]`` per row and group for the rows of gradient component ``k``.

        Shot-adaptive optimizers (iCANS, Rosalin) choose these; a row shared by several
        components gets the largest of their counts, and rows that weigh on no component
        (the value row) the mean, rounded up.
        """
        return ShotPolicy(per_component=tuple(int(s) for s in np.asarray(shots).ravel()))

    @staticmethod
    def cells(shots: NDArray[np.int64]) -> ShotPolicy:
        """Exactly ``shots[r, g]`` for row ``r`` and group ``g`` (an ``(R, G)`` matrix)."""
        matrix = np.asarray(shots)
        if matrix.ndim != 2:
            raise ShotsError(f"per-cell shots must be an (R, G) matrix, got shape {matrix.shape}")
        return ShotPolicy(per_cell=tuple(tuple(int(c) for c in line) for line in matrix))

    @staticmethod
    def total(budget: int) -> ShotPolicy:
        """A total of ``budget`` shots, allocated to minimise the gradient's variance.

        The total covers everything the evaluation measures: every row and group of the
        gradient, the value row, and — inside an objective — every circuit. It is spent
        exactly and never exceeded.
        """
        return ShotPolicy(budget=budget)

    @staticmethod
    def target(stderr: float, *, budget: int | None = None) -> ShotPolicy:
        """Enough shots to bound every component's standard error by ``stderr``."""
        return ShotPolicy(budget=budget, target_stderr=stderr)


def group_spreads(observables: tuple[Observable, ...]) -> NDArray[np.float64]:
    """``(G,)`` the spread ``Σ_{t∈g} |c_t|`` of every group of every observable, in order."""
    spreads = []
    for obs in observables:
        coeffs = obs.real_coefficients()
        spreads += [float(np.abs(coeffs[list(g.term_indices)]).sum()) for g in obs.groups()]
    return np.array(spreads, dtype=np.float64)


def _for_target(
    policy: ShotPolicy,
    weights: NDArray[np.float64],
    spreads: NDArray[np.float64],
    gradient_weights: NDArray[np.float64],
) -> NDArray[np.int64]:
    """The shape ``N_rg = c·a_r·spread_g``, scaled so every component's bound meets the target.

    ``a_r = max(weights_r, |W_r|)`` is the row's allocation weight (never below the norm of
    its own gradient weights, so a value row that also carries gradient weight — forward
    differences, the Hessian's diagonal — is never starved). With that shape,
    ``Var g_k ≤ Σ_r W_rk² Σ_g spread_g² / N_rg ≤ (1/c)·Σ_r (W_rk²/a_r)·Σ_g spread_g``, so
    ``c = max_k Σ_r (W_rk²/a_r) · Σ_g spread_g / target²`` bounds every component, whatever
    the method; rounding up and the per-cell minimum only add shots.
    """
    assert policy.target_stderr is not None
    norms = np.linalg.norm(gradient_weights, axis=1)
    shape = np.maximum(weights, norms)
    safe = np.where(shape > 0, shape, 1.0)
    worst = float(np.max(((gradient_weights**2) / safe[:, None]).sum(axis=0), initial=0.0))
    scale = worst * float(spreads.sum()) / policy.target_stderr**2
    shots = np.ceil(scale * np.outer(shape, spreads)).astype(np.int64)
    shots = np.maximum(shots, MIN_SHOTS_PER_CELL)
    if policy.budget is not None and shots.sum() > policy.budget:
        raise BudgetExceededError(
            f"a standard error of {policy.target_stderr:g} needs up to {int(shots.sum())} shots "
            f"by the worst-case bound, above the budget of {policy.budget}"
        )
    return shots


def split_budget(budget: int, importance: NDArray[np.float64]) -> NDArray[np.int64]:
    """Integer shots ``(C,)`` for ``C`` cells, ``∝ importance``, summing exactly to ``budget``.

    Every cell first gets ``MIN_SHOTS_PER_CELL``; the rest is split in proportion to
    ``importance`` (evenly when it is all zero), largest remainders first.

    >>> split_budget(20, np.array([3.0, 1.0, 0.0])).tolist()
    [13, 5, 2]

    Raises:
        BudgetExceededError: the budget cannot give every cell its minimum.
    """
    cells = importance.size
    floor = MIN_SHOTS_PER_CELL * cells
    if budget < floor:
        raise BudgetExceededError(
            f"a budget of {budget} shots cannot give each of the {cells} measured "
            f"(row, group) cells {MIN_SHOTS_PER_CELL} shots (needs at least {floor})"
        )
    total = float(importance.sum())
    share = importance / total if total > 0 else np.full(cells, 1.0 / max(cells, 1))
    ideal = share * (budget - floor)
    shots = np.floor(ideal).astype(np.int64)
    leftover = budget - floor - int(shots.sum())
    order = np.argsort(-(ideal - shots), kind="stable")[:leftover]
    shots[order] += 1
    allocated: NDArray[np.int64] = shots + MIN_SHOTS_PER_CELL
    return allocated


def _within_budget(
    budget: int, weights: NDArray[np.float64], spreads: NDArray[np.float64]
) -> NDArray[np.int64]:
    """``N_rg ∝ |W_r|·spread_g`` in integers summing exactly to ``budget``."""
    share = np.outer(weights, spreads)
    return split_budget(budget, share.ravel()).reshape(share.shape)


def _per_cell(cells: tuple[tuple[int, ...], ...], rows: int, groups: int) -> NDArray[np.int64]:
    matrix = np.array(cells, dtype=np.int64).reshape(len(cells), -1)
    if matrix.shape != (rows, groups):
        raise ShotsError(
            f"per-cell shots must be a ({rows}, {groups}) matrix (rows × groups), got "
            f"{matrix.shape}"
        )
    return matrix


def _per_component(
    counts: tuple[int, ...], gradient_weights: NDArray[np.float64] | None, groups: int
) -> NDArray[np.int64]:
    """Row ``r`` gets ``max_k {counts[k] : W[r, k] ≠ 0}`` shots in every group."""
    if gradient_weights is None or gradient_weights.shape[1] != len(counts):
        width = None if gradient_weights is None else gradient_weights.shape[1]
        raise ShotsError(
            f"per-component shots need one count per gradient component: got {len(counts)} "
            f"counts for {width} components"
        )
    per = np.array(counts, dtype=np.int64)
    involved = gradient_weights != 0
    row_shots = np.where(involved, per[None, :], 0).max(axis=1, initial=0)
    row_shots[row_shots == 0] = int(np.ceil(per.mean())) if per.size else MIN_SHOTS_PER_CELL
    return np.repeat(row_shots[:, None], groups, axis=1)


def allocate(
    policy: ShotPolicy,
    row_weights: NDArray[np.float64],
    spreads: NDArray[np.float64],
    *,
    gradient_weights: NDArray[np.float64] | None = None,
) -> NDArray[np.int64]:
    """Integer shots ``(R, G)`` per row and group under ``policy``.

    Args:
        policy: fixed per-row shots, a total budget, or a target standard error.
        row_weights: ``(R,)`` importance of each row (``|W_r|``, the norm of its gradient
            weights; the sign is ignored).
        spreads: ``(G,)`` from :func:`group_spreads`.
        gradient_weights: ``(R, P)`` the weights ``W`` themselves; needed for a target
            standard error (the bound is per component).

    Raises:
        BudgetExceededError: the budget cannot give every cell ``MIN_SHOTS_PER_CELL`` shots,
            or the target needs more than the budget.
        ShotsError: non-finite weights or spreads, or a target without gradient weights.
    """
    rows, groups = row_weights.size, spreads.size
    weights = np.abs(np.asarray(row_weights, dtype=np.float64))
    if not np.all(np.isfinite(weights)) or not np.all(np.isfinite(spreads)):
        raise ShotsError("row weights and group spreads must be finite to allocate shots")
    if groups == 0:
        return np.zeros((rows, 0), dtype=np.int64)  # a constant observable needs no shots
    if policy.per_row is not None:
        return np.full((rows, groups), policy.per_row, dtype=np.int64)
    if policy.per_component is not None:
        return _per_component(policy.per_component, gradient_weights, groups)
    if policy.per_cell is not None:
        return _per_cell(policy.per_cell, rows, groups)
    if policy.target_stderr is not None:
        if gradient_weights is None:
            raise ShotsError("a target standard error needs the gradient weights")
        return _for_target(policy, weights, np.abs(spreads), gradient_weights)
    assert policy.budget is not None  # one mode is set (checked at construction)
    return _within_budget(policy.budget, weights, np.abs(spreads))
