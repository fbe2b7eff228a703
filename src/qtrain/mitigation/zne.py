"""``qt.ZNE``: zero-noise extrapolation options, folded circuits and the shot split over factors.

A mitigated task with ``S`` shots per (row, group) spends exactly ``S``: they are split over
the ``L`` scale factors in proportion to ``|w_λ|`` (the extrapolation's weights), which
minimises ``Σ_λ w_λ² σ²/s_λ`` under ``Σ_λ s_λ = S`` when every factor's per-shot variance is
``σ²`` (Lagrange: ``s_λ ∝ |w_λ|σ_λ``). Each factor gets at least two shots (one shot says
nothing about its spread), so ``S < 2L`` is an error.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import MitigationError, PassError
from qtrain.ir.circuit import Circuit
from qtrain.mitigation.extrapolation import Extrapolation, check_factors
from qtrain.passes.folding import FOLDING_METHODS, achieved_factor, fold

__all__ = ["ZNE", "split_shots"]


@dataclass(frozen=True)
class ZNE:
    """Zero-noise extrapolation by unitary folding.

    Args:
        factors: noise scale factors, each ≥ 1, strictly increasing (at least two).
        extrapolation: ``"richardson"`` (default, as Mitiq's), ``"linear"``,
            ``("polynomial", k)`` or ``"exponential"`` (``mitigation.extrapolation``).
        folding: ``"global"`` (``U (U†U)^k``, odd integer factors) or ``"local"`` (gate by
            gate; fractional factors fold a seeded subset of gates once more).
        seed: chooses the gates ``"local"`` folding folds for a fractional factor.
        shot_fractions: the share of each factor's shots; default ``|w_λ| / Σ|w|``.
        on_failure: ``"fallback"`` (default): a cell the exponential fit cannot answer
            (values on both sides of the asymptote) gets the linear fit, with a warning and a
            count in the result's metadata; ``"raise"``: ``ExtrapolationError``.

    Raises:
        MitigationError: bad factors, extrapolation, folding, seed or fractions.

    >>> ZNE(factors=(1, 3, 5)).fractions().round(3).tolist()
    [0.536, 0.357, 0.107]
    """

    factors: tuple[float, ...] = (1.0, 3.0, 5.0)
    extrapolation: str | tuple[str, int] | Extrapolation = "richardson"
    folding: str = "global"
    seed: int = 0
    shot_fractions: tuple[float, ...] | None = None
    on_failure: str = "fallback"
    fit: Extrapolation = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        factors = check_factors(self.factors)
        object.__setattr__(self, "factors", factors)
        object.__setattr__(self, "fit", Extrapolation.parse(self.extrapolation))
        if isinstance(self.extrapolation, list):  # hashable, as a frozen value must be
            object.__setattr__(self, "extrapolation", tuple(self.extrapolation))
        self.fit.check(factors)
        if self.folding not in FOLDING_METHODS:
            raise MitigationError(
                f"unknown folding {self.folding!r}: expected one of {', '.join(FOLDING_METHODS)}"
            )
        odd = all(f == int(f) and int(f) % 2 == 1 for f in factors)
        if self.folding == "global" and not odd:
            raise MitigationError(
                f"global folding reaches odd integer scale factors only, got {factors}: use "
                "folding='local' for fractional or even factors"
            )
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise MitigationError(f"ZNE seed must be a non-negative int, got {self.seed!r}")
        if self.shot_fractions is not None:
            object.__setattr__(self, "shot_fractions", _checked_fractions(self))
        if self.on_failure not in ("fallback", "raise"):
            raise MitigationError(
                f"ZNE on_failure must be 'fallback' or 'raise', got {self.on_failure!r}"
            )

    def describe(self) -> dict[str, object]:
        """JSON-ready options (part of the mitigated backend's identity)."""
        return {
            "factors": list(self.factors),
            "extrapolation": self.fit.describe(),
            "folding": self.folding,
            "seed": self.seed,
            "shot_fractions": None if self.shot_fractions is None else list(self.shot_fractions),
            "on_failure": self.on_failure,
        }

    def fractions(self) -> NDArray[np.float64]:
        """``(L,)`` each factor's share of a cell's shots (sums to 1)."""
        if self.shot_fractions is not None:
            shares = np.asarray(self.shot_fractions, dtype=np.float64)
        else:
            shares = np.abs(self.fit.weights(self.factors))
        return np.asarray(shares / shares.sum(), dtype=np.float64)

    def folded(self, circuit: Circuit) -> tuple[tuple[Circuit, ...], tuple[float, ...]]:
        """The circuit at every factor and the factors reached (the extrapolation's nodes).

        Local folding rounds to whole gates, so the reached factor ``len(folded)/len(U)`` is
        the node. An empty circuit reaches none (its nominal factors are kept: nothing scales).

        Raises:
            MitigationError: two factors reach the same gate count (too few gates to fold).
        """
        try:
            circuits = tuple(
                fold(circuit, f, method=self.folding, seed=self.seed) for f in self.factors
            )
        except PassError as error:
            raise MitigationError(str(error)) from None
        if not len(circuit):
            return circuits, self.factors
        reached = tuple(achieved_factor(circuit, c) for c in circuits)
        if not all(b > a for a, b in itertools.pairwise(reached)):
            raise MitigationError(
                f"local folding of a {len(circuit)}-gate circuit reaches scale factors "
                f"{[round(f, 4) for f in reached]} for {list(self.factors)}: two are the same "
                "circuit; use factors further apart (or global folding)"
            )
        return circuits, reached


def _checked_fractions(zne: ZNE) -> tuple[float, ...]:
    assert zne.shot_fractions is not None  # the caller checked
    try:
        shares = tuple(float(s) for s in zne.shot_fractions)
    except (TypeError, ValueError):
        raise MitigationError(
            f"shot_fractions must be numbers, got {zne.shot_fractions!r}"
        ) from None
    if len(shares) != len(zne.factors) or not all(math.isfinite(s) and s > 0 for s in shares):
        raise MitigationError(
            f"shot_fractions must be {len(zne.factors)} positive numbers (one per factor), "
            f"got {zne.shot_fractions!r}"
        )
    return shares


def split_shots(shots: NDArray[np.int64], fractions: NDArray[np.float64]) -> NDArray[np.int64]:
    """``(L, B, G)`` shots per factor whose sum over factors is ``shots (B, G)``, cell by cell.

    Each cell's ``S`` shots: two per factor, the rest by largest remainder on ``fractions``.

    Raises:
        MitigationError: a cell with fewer than two shots per factor.
    """
    count = fractions.size
    least = int(shots.min(initial=2 * count))
    if least < 2 * count:
        raise MitigationError(
            f"zero-noise extrapolation over {count} scale factors needs at least {2 * count} "
            f"shots per (row, group) (two per factor: one says nothing about its spread), "
            f"got {least}"
        )
    floor = np.full(shots.shape, 2)
    rest = shots - count * floor
    raw = rest[..., None] * fractions
    base = np.floor(raw).astype(np.int64)
    left = rest - base.sum(axis=-1)
    order = np.argsort(-(raw - base), axis=-1, kind="stable")
    rank = np.argsort(order, axis=-1, kind="stable")
    split = floor[..., None] + base + (rank < left[..., None])
    return np.moveaxis(split, -1, 0)
