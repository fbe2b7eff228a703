"""``qt.diagnostics.variance_scan``: is this ansatz and cost trainable at the size I need?

**Definition.** At each point (qubit count ``n``, depth ``L``, initialisation) the scan draws
``N`` independent samples — for a random-structure family a new random circuit *and* new
parameters per sample, for a fixed one new parameters — and estimates ``Var[∂C/∂θ_k]``
over those draws. This is the quantity of McClean et al., Nat. Commun. 9, 4812 (2018): the
expectation is over the ensemble of random circuits, not over the parameters of one circuit
(averaging one fixed random circuit's parameters, as a widely copied demo once did, measures
a different and circuit-dependent quantity). Every cost at the same (n, L, init) is
measured on the same draws (one task, several observables), so costs are compared paired.

Draws come from ``SeedSequence(seed, spawn_key=(0, init, L, n))``, so each point's draws do
not depend on which other points are scanned; bootstrap resamples from ``(1, init, L, n,
cost)``. The statistics (BCa intervals, fits, the plateau flag) are in
:mod:`qtrain.diagnostics.stats`.

**Shots for a target SNR.** A component whose size is typical for the point, ``√Var``, has a
signal-to-noise ratio ``√Var / stderr``; with ``N_s`` shots per row and group its parameter
-shift standard error is ``√(Σ_r W_rk² · σ²_shot / N_s)``. The per-shot variance is bounded
from the exact cost values by the Bhatia–Davis inequality ``σ² ≤ (M − μ)(μ − m)`` for a
one-group observable with spectrum in ``[m, M]`` (exact for two-valued spectra such as the
global cost's), and by ``Σ_g (range_g)²/4`` otherwise, so the reported shots are enough.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend
from qtrain.diagnostics.costs import CostSpec, cost_label, resolve_cost
from qtrain.diagnostics.families import FamilySpec, resolve_family
from qtrain.diagnostics.inits import Init, InitSpec, resolve_init
from qtrain.diagnostics.result import DecayFit, ScanPoint, ScanResult
from qtrain.diagnostics.sampling import (
    Draws,
    Gradients,
    adjoint_gradients,
    components_of,
    draw_samples,
    plan_gradients,
    shift_cost,
)
from qtrain.diagnostics.stats import estimate_variance, fit_decay
from qtrain.errors import ConfigError
from qtrain.exec.distributed import DaskExecutor
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.expval import resolve_seed
from qtrain.ir.observables import Observable
from qtrain.ir.validate import check_observable_fits
from qtrain.sim.measure import measurement_plan

__all__ = ["METHODS", "variance_scan"]

METHODS = ("auto", "param-shift", "adjoint")
# "auto" takes the adjoint method once the shift rule needs more rows per draw than this.
# Shifted rows of all draws run as one batch, the adjoint runs draw by draw: for 100 draws at
# (6, 10) HEA / (8, 20) McClean, 16 components (33 rows) took 0.15 / 1.15 s by shifts and
# 0.52 / 1.34 s by adjoint; every component (241 / 321 rows) 1.10 / 10.4 s against 0.48 / 0.93 s.
ADJOINT_ABOVE_ROWS = 32
Array = NDArray[np.float64]


def _ints(values: Sequence[int] | int, name: str, minimum: int) -> list[int]:
    items: list[object] = [values] if isinstance(values, int | np.integer) else list(values)
    checked = []
    for v in items:
        if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < minimum:
            raise ConfigError(f"{name} must be ints >= {minimum}, got {values!r}")
        checked.append(int(v))
    if not checked:
        raise ConfigError(f"{name} must name at least one value")
    return sorted(set(checked))


def _costs(cost: Any) -> list[tuple[str, CostSpec]]:
    if isinstance(cost, Mapping):
        return [(str(label), spec) for label, spec in cost.items()]
    if isinstance(cost, str | Observable) or callable(cost):
        return [(cost_label(cost), cost)]
    return [(cost_label(c), c) for c in cost]


def _inits(init: Any) -> list[Init]:
    if isinstance(init, str | Mapping) or callable(init) or not isinstance(init, Sequence):
        return [resolve_init(init)]
    return [resolve_init(i) for i in init]


def _check_settings(samples: int, level: float, resamples: int, snr: float, shots: object) -> None:
    if isinstance(samples, bool) or not isinstance(samples, int) or samples < 4:
        raise ConfigError(f"samples must be an int >= 4 (200 or more is typical), got {samples!r}")
    if not isinstance(level, float | int) or not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level!r}")
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise ConfigError(f"resamples must be an int >= 100, got {resamples!r}")
    if not isinstance(snr, float | int) or not 0 < snr < math.inf:
        raise ConfigError(f"target_snr must be a positive number, got {snr!r}")
    if shots is not None and (isinstance(shots, bool) or not isinstance(shots, int) or shots < 2):
        raise ConfigError(f"shots must be None (exact) or an int >= 2, got {shots!r}")


def _method(method: str, shots: int | None, runner: Executor, rows: float) -> str:
    if method not in METHODS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    local = isinstance(runner.backend, LocalSimulator) and not isinstance(runner, DaskExecutor)
    if method == "adjoint" and (shots is not None or not local):
        raise ConfigError(
            "method='adjoint' is exact and runs in this process on the local simulator; use "
            "'param-shift' for shots, another backend or Dask"
        )
    if method == "auto":
        return "adjoint" if shots is None and local and rows > ADJOINT_ABOVE_ROWS else "param-shift"
    return method


def _shot_noise(observable: Observable, n_qubits: int, values: Array) -> Array:
    """``(S,)`` bounds on the per-shot variance at cost values ``values (S,)``."""
    plan = measurement_plan(observable, n_qubits)
    ranges = [(float(g.eigenvalues.min()), float(g.eigenvalues.max())) for g in plan.groups]
    if len(ranges) == 1:
        low, high = ranges[0][0] + plan.constant, ranges[0][1] + plan.constant
        return np.clip((high - values) * (values - low), 0.0, None)  # Bhatia–Davis
    return np.full(values.shape, sum((b - a) ** 2 / 4 for a, b in ranges))  # Popoviciu


def _shots_for(snr: float, per_shot: float, variance: float) -> int | None:
    if not variance > 0 or not math.isfinite(variance):
        return None
    return max(2, math.ceil(snr**2 * per_shot / variance))


class _Point:
    """One (init, depth, n): the draws' setting, checked before anything runs."""

    def __init__(self, scan: _Scan, init_index: int, depth: int, n_qubits: int) -> None:
        self.init_index, self.depth, self.n = init_index, depth, n_qubits
        self.init, self.seed = scan.inits[init_index], scan.seed
        probe = draw_samples(
            scan.family, self.init, n_qubits, depth, samples=1, rng=np.random.default_rng(0)
        ).circuits[0]
        self.n_params = probe.n_params
        self.components = components_of(scan.params, probe.n_params)
        self.observables = tuple(
            check_observable_fits(probe, resolve_cost(spec, n_qubits)) for _, spec in scan.costs
        )
        weight_sq, rows = shift_cost(probe, self.components)
        self.weight_sq, self.rows = float(weight_sq.mean()), float(rows.mean())
        self.method = _method(scan.method, scan.shots, scan.runner, 1 + rows.sum())

    def seeds(self, stream: int, *more: int) -> np.random.SeedSequence:
        """Stream 0: the draws; stream 1: the bootstrap of cost ``more[0]``."""
        key = (stream, self.init_index, self.depth, self.n, *more)
        return np.random.SeedSequence(self.seed, spawn_key=key)


class _Scan:
    """The resolved settings of one :func:`variance_scan` call."""

    def __init__(self, ansatz: FamilySpec, cost: Any, init: Any, **settings: Any) -> None:
        self.family = resolve_family(ansatz)
        self.costs, self.inits = _costs(cost), _inits(init)
        if not self.costs:
            raise ConfigError("cost must name at least one cost")
        self.samples: int = settings["samples"]
        self.params: str | Sequence[int] = settings["params"]
        self.seed: int = settings["seed"]
        self.shots: int | None = settings["shots"]
        self.method: str = settings["method"]
        self.runner: Executor = settings["runner"]
        self.level: float = settings["level"]
        self.resamples: int = settings["resamples"]
        self.target_snr: float = settings["target_snr"]

    def gradients(self, point: _Point) -> tuple[Gradients, float]:
        started = time.perf_counter()
        rng = np.random.default_rng(point.seeds(0))
        draws: Draws = draw_samples(
            self.family, point.init, point.n, point.depth, samples=self.samples, rng=rng
        )
        if point.method == "adjoint":
            simulator = self.runner.backend
            assert isinstance(simulator, LocalSimulator)  # checked by _method
            result = adjoint_gradients(draws, point.observables, point.components, simulator)
        else:
            tasks, assemble = plan_gradients(
                draws,
                point.observables,
                point.components,
                shots=self.shots,
                seed=self.seed,
                random_structure=self.family.random_structure,
            )
            result = assemble(self.runner.run(tasks))
        return result, time.perf_counter() - started

    def points(self, point: _Point) -> list[tuple[ScanPoint, Array]]:
        gradients, seconds = self.gradients(point)
        out = []
        for o, (label, _) in enumerate(self.costs):
            draws = gradients.values[o]
            noise = None if gradients.stderr is None else gradients.stderr[o] ** 2
            rng = np.random.default_rng(point.seeds(1, o))
            stats = estimate_variance(
                draws, noise, level=self.level, resamples=self.resamples, rng=rng
            )
            variance, low, high = stats.pooled
            per_shot = float(_shot_noise(point.observables[o], point.n, gradients.fun[o]).mean())
            needed = point.weight_sq * per_shot
            shots = _shots_for(self.target_snr, needed, variance)
            groups = len(point.observables[o].groups())
            scan_point = ScanPoint(
                n_qubits=point.n,
                depth=point.depth,
                cost=label,
                init=point.init.name,
                samples=self.samples,
                n_params=point.n_params,
                params=tuple(int(k) for k in point.components),
                mean=float(draws.mean()),
                variance=variance,
                ci_low=low,
                ci_high=high,
                component_variance=tuple(float(v) for v in stats.variance),
                component_low=tuple(float(v) for v in stats.low),
                component_high=tuple(float(v) for v in stats.high),
                cost_mean=float(gradients.fun[o].mean()),
                shots_per_row=shots,
                shots_low=_shots_for(self.target_snr, needed, high),
                shots_high=_shots_for(self.target_snr, needed, low),
                shots_per_component=None
                if shots is None
                else math.ceil(shots * point.rows * groups),
                method=gradients.method,
                rows=gradients.rows,
                shots=gradients.shots,
                seconds=seconds,
            )
            out.append((scan_point, stats.replicates))
        return out


def _fits(results: list[tuple[ScanPoint, Array]], level: float) -> tuple[DecayFit, ...]:
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
            )
        )
    return tuple(fits)


def variance_scan(
    ansatz: FamilySpec = "mcclean",
    *,
    qubits: Sequence[int],
    depths: Sequence[int] | int,
    cost: CostSpec | Sequence[CostSpec] | Mapping[str, CostSpec] = "global",
    init: InitSpec | Sequence[InitSpec] = "uniform",
    samples: int = 200,
    params: str | Sequence[int] = (0,),
    seed: int | None = None,
    shots: int | None = None,
    method: str = "auto",
    executor: Executor | None = None,
    backend: Backend | None = None,
    level: float = 0.95,
    resamples: int = 2000,
    target_snr: float = 1.0,
    on_point: Callable[[ScanPoint], None] | None = None,
) -> ScanResult:
    """Estimate ``Var[∂C/∂θ_k]`` over random draws for every (qubits, depth, cost, init).

    Args:
        ansatz: a family name (``"mcclean"``, ``"hardware_efficient"``,
            ``"strongly_entangling"``), a :class:`~qtrain.diagnostics.families.Family`, or a
            callable ``(n_qubits, depth, rng) -> Circuit`` (random structure) or
            ``(n_qubits, depth) -> Circuit``.
        qubits: qubit counts ``n`` (a sweep; three or more for the plateau flag).
        depths: layer counts.
        cost: ``"global"``, ``"local"``, an observable, ``n -> Observable``, a list of these
            or a ``{label: cost}`` mapping.
        init: ``"uniform"``, ``"normal"`` (``{"name": "normal", "width": w}``),
            ``"identity_blocks"`` (``{"name": ..., "blocks": b}``), a strategy, a callable
            ``(n_params, rng) -> θ``, or a list of these.
        samples: random draws per point.
        params: the components ``k`` (default the first parameter), or ``"all"``; the point's
            variance is the mean over them, each one is also reported.
        seed: the scan's seed (``None`` draws one, recorded in ``settings``).
        shots: ``None`` (exact) or shots per row and group (parameter shift with error
            bars; the mean squared standard error is subtracted from the variance).
        method: ``"auto"`` (adjoint when exact on the local, in-process simulator and the
            shift rule would need more than 32 rows per draw; else parameter shift),
            ``"param-shift"`` or ``"adjoint"``.
        executor: runs the parameter-shift tasks (a ``DaskExecutor`` spreads them).
        backend: where to run when no executor is given (default ``LocalSimulator()``).
        level: confidence level of every interval.
        resamples: bootstrap resamples per point.
        target_snr: the SNR the reported shots per gradient component reach.
        on_point: called with each finished point (progress).

    Returns:
        A :class:`~qtrain.diagnostics.result.ScanResult`.

    Raises:
        ConfigError: any bad setting (named), before anything runs.
    """
    _check_settings(samples, level, resamples, target_snr, shots)
    runner = resolve_executor(backend, executor, None)
    scan = _Scan(
        ansatz,
        cost,
        init,
        samples=samples,
        params=params,
        seed=resolve_seed(seed),
        shots=shots,
        method=method,
        runner=runner,
        level=float(level),
        resamples=resamples,
        target_snr=float(target_snr),
    )
    sizes, layers = _ints(qubits, "qubits", 1), _ints(depths, "depths", 1)
    plan = [
        _Point(scan, i, depth, n) for i in range(len(scan.inits)) for depth in layers for n in sizes
    ]
    results: list[tuple[ScanPoint, Array]] = []
    for point in plan:
        for finished in scan.points(point):
            results.append(finished)
            if on_point is not None:
                on_point(finished[0])
    settings = {
        "ansatz": scan.family.name,
        "random_structure": scan.family.random_structure,
        "costs": [label for label, _ in scan.costs],
        "inits": [i.name for i in scan.inits],
        "qubits": sizes,
        "depths": layers,
        "samples": samples,
        "params": params if isinstance(params, str) else [int(k) for k in params],
        "seed": scan.seed,
        "shots": shots,
        "method": method,
        "level": level,
        "resamples": resamples,
        "target_snr": target_snr,
        "interval": "BCa bootstrap over draws",
        "backend": runner.name,
    }
    return ScanResult(tuple(p for p, _ in results), _fits(results, float(level)), settings)
