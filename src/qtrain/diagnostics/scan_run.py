"""Running one point of a variance scan: its draws' gradients and their statistics.

The draws of a point are one batch of tasks (parameter shift, through the scan's executor) or
one adjoint pass per draw (exact, in this process); every cost of the point is measured on
the same draws. Each cost then gets its variance with BCa intervals
(:mod:`qtrain.diagnostics.stats`) and the shots for the target SNR
(:mod:`qtrain.diagnostics.scan_shots`).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.diagnostics.result import ScanPoint
from qtrain.diagnostics.sampling import (
    Draws,
    Gradients,
    adjoint_gradients,
    draw_samples,
    plan_gradients,
)
from qtrain.diagnostics.scan_plan import Point, Scan
from qtrain.diagnostics.scan_shots import shot_noise, shots_for
from qtrain.diagnostics.stats import estimate_variance

__all__ = ["gradients", "measure"]

Array = NDArray[np.float64]


def gradients(scan: Scan, point: Point) -> tuple[Gradients, float]:
    """The gradients of the point's draws (every cost) and the seconds they took."""
    started = time.perf_counter()
    rng = np.random.default_rng(point.seeds(0))
    draws: Draws = draw_samples(
        scan.family, point.init, point.n, point.depth, samples=scan.samples, rng=rng
    )
    if point.method == "adjoint":
        simulator = scan.runner.backend
        assert isinstance(simulator, LocalSimulator)  # checked by the plan
        result = adjoint_gradients(draws, point.observables, point.components, simulator)
    else:
        tasks, assemble = plan_gradients(
            draws,
            point.observables,
            point.components,
            shots=scan.shots,
            seed=scan.seed,
            random_structure=scan.family.random_structure,
        )
        result = assemble(scan.runner.run(tasks))
    return result, time.perf_counter() - started


def measure(scan: Scan, point: Point) -> list[tuple[ScanPoint, Array]]:
    """Every cost's :class:`ScanPoint` at ``point`` with its ``(B,)`` bootstrap replicates."""
    grads, seconds = gradients(scan, point)
    out = []
    for o, (label, _) in enumerate(scan.costs):
        draws = grads.values[o]
        noise = None if grads.stderr is None else grads.stderr[o] ** 2
        rng = np.random.default_rng(point.seeds(1, o))
        stats = estimate_variance(draws, noise, level=scan.level, resamples=scan.resamples, rng=rng)
        variance, low, high = stats.pooled
        per_shot = float(shot_noise(point.observables[o], point.n, grads.fun[o]).mean())
        needed = point.weight_sq * per_shot
        shots = shots_for(scan.target_snr, needed, variance)
        groups = len(point.observables[o].groups())
        scan_point = ScanPoint(
            n_qubits=point.n,
            depth=point.depth,
            cost=label,
            init=point.init.name,
            samples=scan.samples,
            n_params=point.n_params,
            params=tuple(int(k) for k in point.components),
            mean=float(draws.mean()),
            variance=variance,
            ci_low=low,
            ci_high=high,
            component_variance=tuple(float(v) for v in stats.variance),
            component_low=tuple(float(v) for v in stats.low),
            component_high=tuple(float(v) for v in stats.high),
            cost_mean=float(grads.fun[o].mean()),
            shots_per_row=shots,
            shots_low=shots_for(scan.target_snr, needed, high),
            shots_high=shots_for(scan.target_snr, needed, low),
            shots_per_component=None if shots is None else math.ceil(shots * point.rows * groups),
            method=grads.method,
            rows=grads.rows,
            shots=grads.shots,
            seconds=seconds,
        )
        out.append((scan_point, stats.replicates))
    return out
