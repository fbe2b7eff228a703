"""Shots for a target SNR at a scan point.

A component whose size is typical for the point, ``√Var``, has a signal-to-noise ratio
``√Var / stderr``; with ``N_s`` shots per row and group its parameter-shift standard error is
``√(Σ_r W_rk² · σ²_shot / N_s)``. The per-shot variance is bounded from the exact cost values
by the Bhatia–Davis inequality ``σ² ≤ (M − μ)(μ − m)`` for a one-group observable with
spectrum in ``[m, M]`` (exact for two-valued spectra such as the global cost's), and by
``Σ_g (range_g)²/4`` (Popoviciu) otherwise, so the reported shots are enough.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.observables import Observable
from qtrain.sim.measure import measurement_plan

__all__ = ["shot_noise", "shots_for"]

Array = NDArray[np.float64]


def shot_noise(observable: Observable, n_qubits: int, values: Array) -> Array:
    """``(S,)`` bounds on the per-shot variance at cost values ``values (S,)``."""
    plan = measurement_plan(observable, n_qubits)
    ranges = [(float(g.eigenvalues.min()), float(g.eigenvalues.max())) for g in plan.groups]
    if len(ranges) == 1:
        low, high = ranges[0][0] + plan.constant, ranges[0][1] + plan.constant
        return np.clip((high - values) * (values - low), 0.0, None)  # Bhatia–Davis
    return np.full(values.shape, sum((b - a) ** 2 / 4 for a, b in ranges))  # Popoviciu


def shots_for(snr: float, per_shot: float, variance: float) -> int | None:
    """Shots per row and group for ``snr`` at ``variance``; ``None`` if it is not positive."""
    if not variance > 0 or not math.isfinite(variance):
        return None
    return max(2, math.ceil(snr**2 * per_shot / variance))
