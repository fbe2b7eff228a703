"""The decay fits of a variance scan: one :class:`DecayFit` per (depth, cost, init) series.

Each series with two or more qubit counts is fitted over ``n`` by
:func:`~qtrain.diagnostics.stats.fit_decay` from the points' variances and their bootstrap
replicates (independent between points).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from qtrain.diagnostics.result import DecayFit, ScanPoint
from qtrain.diagnostics.stats import fit_decay

__all__ = ["fit_series"]

Array = NDArray[np.float64]


def fit_series(results: list[tuple[ScanPoint, Array]], level: float) -> tuple[DecayFit, ...]:
    """The fits of every series of ``(point, replicates)`` with two or more points."""
    series: dict[tuple[int, str, str], list[tuple[ScanPoint, Array]]] = {}
    for point, replicates in results:
        series.setdefault(point.series, []).append((point, replicates))
    fits = []
    for (depth, cost, init), members in series.items():
        if len(members) < 2:
            continue
        qubits = np.array([p.n_qubits for p, _ in members], dtype=np.float64)
        variance = np.array([p.variance for p, _ in members])
        replicates = np.column_stack([r for _, r in members])
        decay = fit_decay(qubits, variance, replicates, level=level)
        fits.append(
            DecayFit(
                depth,
                cost,
                init,
                tuple(int(n) for n in qubits),
                decay.rate,
                decay.rate_low,
                decay.rate_high,
                math.exp(decay.rate),
                decay.intercept,
                decay.power,
                decay.power_low,
                decay.power_high,
                decay.residual_exponential,
                decay.residual_power,
                decay.shape,
                decay.plateau,
                decay.power_intercept,
            )
        )
    return tuple(fits)
