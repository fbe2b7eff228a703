"""Sequential change detection on a canary's standardised residuals: two-sided CUSUM.

A canary's reading ``x_n`` with standard error ``σ_n`` becomes ``z_n = (x_n − r) / σ_n``
against its reference ``r``; in control ``z_n ~ N(0, 1)``. The tabular CUSUM of Page (1954),
as Montgomery (*Introduction to Statistical Quality Control*, §9.1) writes it, keeps

    S⁺_n = max(0, S⁺_{n−1} + z_n − k),    S⁻_n = max(0, S⁻_{n−1} − z_n − k),

and decides drift when ``max(S⁺_n, S⁻_n) > h``. ``k`` (half the shift to detect, in sd) and
``h`` (the decision threshold, in sd) fix its run lengths:

* **ARL** (mean canary runs to an alarm) under a mean shift ``δ`` sd, from Siegmund's
  approximation (Siegmund 1985, *Sequential Analysis* §X.2) for each side,
  ``ARL(Δ) ≈ (e^{−2Δb} + 2Δb − 1) / (2Δ²)`` with ``Δ = δ − k`` and ``b = h + 1.166``,
  combined as ``1/ARL = 1/ARL⁺ + 1/ARL⁻``. ``δ = 0`` gives ARL₀, the mean run length to a
  false alarm (k = 0.5, h = 5: ≈ 470 runs).
* **Run-length distribution** from the Markov chain of Brook & Evans (1972, *Biometrika*
  59, 539): ``S⁺`` on ``m`` cells of ``[0, h]``, ``P(RL > n) = e₀ᵀ Qⁿ 1``. The documented
  false-alarm rate within ``n`` runs is ``P⁺(RL ≤ n | δ) + P⁺(RL ≤ n | −δ)`` (a union bound
  over the two sides: an upper bound), and the documented detection delay is the ``q``
  quantile of the upper side's run length alone (the two-sided alarm comes no later).
* A **baselined reference** (the mean of ``baseline`` readings, each of the canary's
  standard error) is off by ``ε ~ N(0, 1/baseline)`` sd, shared by every later residual:
  the rates above are then averaged over ``ε`` (Gauss–Hermite quadrature), which lowers the
  ARL₀ (a baseline of 16 runs with k = 0.5, h = 5: ≈ 245).

>>> design = CusumDesign(k=0.5, h=5.0)
>>> round(design.arl(0.0)), round(design.arl(2.0), 1)
(469, 3.9)
>>> detector = Cusum(design)
>>> [detector.update(z) for z in (0.1, 3.0, 3.0, 3.0)]
[False, False, False, True]
>>> Cusum.from_dict(detector.to_dict()).to_dict() == detector.to_dict()
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from numpy.polynomial.hermite_e import hermegauss
from numpy.typing import NDArray

from qtrain.errors import ConfigError

__all__ = ["Cusum", "CusumDesign", "siegmund_arl"]

_CELLS = 100  # Brook–Evans cells on [0, h]
_NODES = 24  # Gauss–Hermite nodes over a baselined reference's error
_MAX_RUNS = 100_000


def siegmund_arl(delta: float, k: float, h: float) -> float:
    """Mean run length of the two-sided CUSUM ``(k, h)`` under a shift of ``delta`` sd.

    Siegmund's approximation per side, ``1/ARL = 1/ARL⁺ + 1/ARL⁻`` (module docstring).

    >>> round(siegmund_arl(0.0, 0.5, 4.0))
    169
    """

    def one_side(shift: float) -> float:
        b = h + 1.166
        drift = shift - k
        if abs(drift) < 1e-9:
            return b * b
        return (math.exp(-2.0 * drift * b) + 2.0 * drift * b - 1.0) / (2.0 * drift * drift)

    return 1.0 / (1.0 / one_side(delta) + 1.0 / one_side(-delta))


def _normal_cdf(x: NDArray[np.float64]) -> NDArray[np.float64]:
    erf = np.vectorize(math.erf, otypes=[np.float64])
    return np.asarray(0.5 * (1.0 + erf(x / math.sqrt(2.0))), dtype=np.float64)


@cache
def _transitions(mean: float, k: float, h: float) -> NDArray[np.float64]:
    """``(m, m)`` Brook–Evans transitions of ``S⁺`` among the in-control cells.

    Cell ``i`` stands for ``S = i·w`` (``w = 2h/(2m − 1)``, so the last cell ends at ``h``);
    cell 0 also holds the atom at 0. ``z ~ N(mean, 1)``; the missing row mass is the alarm.
    """
    width = 2.0 * h / (2 * _CELLS - 1)
    centres = np.arange(_CELLS) * width
    edges = np.concatenate([[-np.inf], centres + width / 2.0])  # (m + 1,) upper cell edges
    # P(centre_i + z − k ≤ edge_j) for every i, j; differences give the cells
    below = _normal_cdf(edges[None, :] - centres[:, None] + k - mean)
    return np.diff(below, axis=1)


def _survival(mean: float, k: float, h: float, runs: int) -> NDArray[np.float64]:
    """``(runs + 1,)`` ``P(RL⁺ > n)`` for ``n = 0..runs`` from ``S⁺ = 0`` (Brook–Evans)."""
    q = _transitions(mean, k, h)
    out = np.empty(runs + 1)
    state = np.zeros(_CELLS)
    state[0] = 1.0
    for n in range(runs + 1):
        out[n] = state.sum()
        state = state @ q
    return out


@dataclass(frozen=True)
class CusumDesign:
    """A two-sided tabular CUSUM and the run lengths it gives (module docstring).

    Attributes:
        k: reference value, in sd of the residual (half the shift to detect fastest).
        h: decision threshold, in sd.
        baseline: readings behind a baselined reference (0: an exact reference); the
            documented rates average over the baseline's error.
    """

    k: float = 0.5
    h: float = 5.0
    baseline: int = 0

    def __post_init__(self) -> None:
        for name in ("k", "h"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"CUSUM {name} must be a positive number of sd, got {value!r}")
        if not isinstance(self.baseline, int) or self.baseline < 0:
            raise ConfigError(f"baseline must be an integer >= 0, got {self.baseline!r}")

    @staticmethod
    def for_arl(arl: float, *, k: float = 0.5, baseline: int = 0) -> CusumDesign:
        """The threshold ``h`` whose in-control ARL (Siegmund) is ``arl`` canary runs.

        Raises:
            ConfigError: ``arl`` not above 1.
        """
        if not isinstance(arl, int | float) or not math.isfinite(arl) or arl <= 1:
            raise ConfigError(f"arl must be a number of canary runs above 1, got {arl!r}")
        low, high = 1e-3, 1.0
        while CusumDesign(k, high, baseline).arl(0.0) < arl:
            high *= 2.0
        for _ in range(60):
            mid = 0.5 * (low + high)
            low, high = (mid, high) if CusumDesign(k, mid, baseline).arl(0.0) < arl else (low, mid)
        return CusumDesign(k, high, baseline)

    def _offsets(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Baseline errors ``ε`` (sd) and their weights: one point at 0 for an exact one."""
        if not self.baseline:
            return np.zeros(1), np.ones(1)
        nodes, weights = hermegauss(_NODES)
        return nodes / math.sqrt(self.baseline), weights / weights.sum()

    def arl(self, delta: float = 0.0) -> float:
        """Mean canary runs to an alarm under a shift of ``delta`` sd (Siegmund, averaged)."""
        offsets, weights = self._offsets()
        return float(
            sum(
                w * siegmund_arl(delta - e, self.k, self.h)
                for e, w in zip(offsets, weights, strict=True)
            )
        )

    def false_alarm_probability(self, runs: int) -> float:
        """An upper bound on ``P(alarm within runs canary runs)`` without drift."""
        runs = _checked_runs(runs)
        offsets, weights = self._offsets()
        total = 0.0
        for e, w in zip(offsets, weights, strict=True):
            up = 1.0 - _survival(round(float(e), 12), self.k, self.h, runs)[runs]
            down = 1.0 - _survival(round(float(-e), 12), self.k, self.h, runs)[runs]
            total += w * min(1.0, up + down)
        return float(total)

    def detection_delay(self, delta: float, q: float = 0.99, *, horizon: int = 10_000) -> int:
        """Canary runs after a ``delta`` sd shift's onset to decide drift with probability ``q``.

        An upper bound: the shifted side alone, starting from zero.

        Raises:
            ConfigError: ``delta`` not above 0, ``q`` outside (0, 1), or no detection within
                ``horizon`` runs.
        """
        if not isinstance(delta, int | float) or not delta > 0:
            raise ConfigError(f"delta must be a shift above 0 sd, got {delta!r}")
        if not 0.0 < q < 1.0:
            raise ConfigError(f"q must be in (0, 1), got {q!r}")
        horizon = _checked_runs(horizon)
        offsets, weights = self._offsets()
        detected = np.zeros(horizon + 1)
        for e, w in zip(offsets, weights, strict=True):
            detected += w * (1.0 - _survival(round(float(delta - e), 12), self.k, self.h, horizon))
        reached = np.flatnonzero(detected >= q)
        if not reached.size:
            raise ConfigError(f"a {delta} sd shift is not detected within {horizon} runs")
        return int(reached[0])

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"k": self.k, "h": self.h, "baseline": self.baseline}


def _checked_runs(runs: int) -> int:
    if not isinstance(runs, int) or not 1 <= runs <= _MAX_RUNS:
        raise ConfigError(f"runs must be an integer in [1, {_MAX_RUNS}], got {runs!r}")
    return runs


class Cusum:
    """A running two-sided CUSUM on standardised residuals; its state is JSON.

    Attributes:
        design: ``k``, ``h`` (and the baseline the rates assume).
        upper: ``S⁺``; ``lower``: ``S⁻`` (both ≥ 0).
        runs: residuals seen since the last reset.
    """

    def __init__(self, design: CusumDesign) -> None:
        self.design = design
        self.upper = 0.0
        self.lower = 0.0
        self.runs = 0

    @property
    def statistic(self) -> float:
        """``max(S⁺, S⁻)``, compared with ``design.h``."""
        return max(self.upper, self.lower)

    @property
    def drift(self) -> bool:
        """The statistic is past the threshold."""
        return self.statistic > self.design.h

    def update(self, z: float) -> bool:
        """Add one standardised residual; ``True`` when drift is decided.

        Raises:
            ConfigError: ``z`` not a finite number.
        """
        if not isinstance(z, int | float) or not math.isfinite(z):
            raise ConfigError(f"a residual must be a finite number, got {z!r}")
        k = self.design.k
        self.upper = max(0.0, self.upper + z - k)
        self.lower = max(0.0, self.lower - z - k)
        self.runs += 1
        return self.drift

    def reset(self) -> None:
        """Both sums to 0 (after a decision has been acted on)."""
        self.upper = self.lower = 0.0
        self.runs = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready state (checkpointed with the run)."""
        return {
            **self.design.to_dict(),
            "upper": self.upper,
            "lower": self.lower,
            "runs": self.runs,
        }

    @staticmethod
    def from_dict(data: dict[str, Any]) -> Cusum:
        """Inverse of :meth:`to_dict`.

        Raises:
            ConfigError: a missing or malformed field.
        """
        try:
            detector = Cusum(CusumDesign(float(data["k"]), float(data["h"]), int(data["baseline"])))
            detector.upper, detector.lower = float(data["upper"]), float(data["lower"])
            detector.runs = int(data["runs"])
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError(f"not a CUSUM state: {data!r} ({error})") from None
        return detector
