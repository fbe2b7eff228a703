"""How many shots each (row, measurement group) of a gradient gets.

A gradient component is a weighted sum of row values, ``g_k = Σ_r W[r, k]·v_r``, and each row
value is a sum of independently measured group means, ``v_r = Σ_g m_rg`` with
``Var(m_rg) = σ_g² / N_rg``. So ``Σ_k Var(g_k) = Σ_r |W_r|² Σ_g σ_g² / N_rg``, and for a fixed
total ``Σ N_rg`` the minimum is at ``N_rg ∝ |W_r|·σ_g`` (Lagrange multipliers). Before any
shot is taken, ``σ_g`` is bounded by the group's spread ``Σ_{t∈g} |c_t|`` (each per-shot
value lies in ``[-spread, spread]``), so the budget is split ∝ |coefficient| × group spread.
Rows with zero weight still get the minimum, so every cell has a variance estimate.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import BudgetExceededError, ShotsError
from qtrain.ir.observables import Observable

__all__ = ["ShotPolicy", "allocate", "group_spreads"]

MIN_SHOTS_PER_CELL = 2  # one shot says nothing about its own variance


def _positive_int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ShotsError(f"{name} must be a positive int, got {value!r}")
    return int(value)


@dataclass(frozen=True)
class ShotPolicy:
    """Shots for one gradient: ``per_row`` fixed shots per (row, group), or a ``budget``.

    Attributes:
        per_row: every row measures every group this many times.
        budget: total shots for the whole gradient, split across rows and groups to minimise
            the summed variance of the gradient components; never exceeded.

    >>> ShotPolicy.fixed(100).per_row, ShotPolicy.total(5000).budget
    (100, 5000)
    """

    per_row: int | None = None
    budget: int | None = None

    def __post_init__(self) -> None:
        if (self.per_row is None) == (self.budget is None):
            raise ShotsError("ShotPolicy needs exactly one of per_row= or budget=")
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
    def total(budget: int) -> ShotPolicy:
        """A total of ``budget`` shots for the gradient, allocated to minimise its variance."""
        return ShotPolicy(budget=budget)


def group_spreads(observables: tuple[Observable, ...]) -> NDArray[np.float64]:
    """``(G,)`` the spread ``Σ_{t∈g} |c_t|`` of every group of every observable, in order."""
    spreads = []
    for obs in observables:
        coeffs = obs.real_coefficients()
        spreads += [float(np.abs(coeffs[list(g.term_indices)]).sum()) for g in obs.groups()]
    return np.array(spreads, dtype=np.float64)


def allocate(
    policy: ShotPolicy, row_weights: NDArray[np.float64], spreads: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Integer shots ``(R, G)`` per row and group under ``policy``.

    Args:
        policy: fixed per-row shots or a total budget.
        row_weights: ``(R,)`` importance of each row (``|W_r|``, the norm of its gradient
            weights; the sign is ignored).
        spreads: ``(G,)`` from :func:`group_spreads`.

    Raises:
        BudgetExceededError: the budget cannot give every cell ``MIN_SHOTS_PER_CELL`` shots.
        ShotsError: non-finite weights or spreads.
    """
    rows, groups = row_weights.size, spreads.size
    weights = np.abs(np.asarray(row_weights, dtype=np.float64))
    if not np.all(np.isfinite(weights)) or not np.all(np.isfinite(spreads)):
        raise ShotsError("row weights and group spreads must be finite to allocate shots")
    if groups == 0:
        return np.zeros((rows, 0), dtype=np.int64)  # a constant observable needs no shots
    if policy.per_row is not None:
        return np.full((rows, groups), policy.per_row, dtype=np.int64)
    assert policy.budget is not None  # exactly one is set (checked at construction)
    cells = rows * groups
    floor = MIN_SHOTS_PER_CELL * cells
    if policy.budget < floor:
        raise BudgetExceededError(
            f"a budget of {policy.budget} shots cannot give each of the {rows} rows × "
            f"{groups} groups {MIN_SHOTS_PER_CELL} shots (needs at least {floor})"
        )
    share = np.outer(weights, np.abs(spreads))
    total = share.sum()
    share = share / total if total > 0 else np.full((rows, groups), 1.0 / cells)
    ideal = share * (policy.budget - floor)
    shots = np.floor(ideal).astype(np.int64)
    leftover = policy.budget - floor - int(shots.sum())
    # Largest remainders first, so the total lands exactly on the budget.
    order = np.argsort(-(ideal - shots), axis=None, kind="stable")[:leftover]
    shots.flat[order] += 1
    allocated: NDArray[np.int64] = shots + MIN_SHOTS_PER_CELL
    return allocated
