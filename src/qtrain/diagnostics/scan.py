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

**Shots for a target SNR.** Each point also reports the shots per row and group at which a
component of typical size ``√Var`` reaches ``target_snr`` (bounds and derivation in
:mod:`qtrain.diagnostics.scan_shots`).

The rooms: :mod:`~qtrain.diagnostics.scan_plan` (settings and points, checked before
anything runs), :mod:`~qtrain.diagnostics.scan_run` (a point's draws and statistics),
:mod:`~qtrain.diagnostics.scan_fit` (the decay fit of each series).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Backend
from qtrain.diagnostics.costs import CostSpec
from qtrain.diagnostics.families import FamilySpec
from qtrain.diagnostics.inits import InitSpec
from qtrain.diagnostics.result import ScanPoint, ScanResult
from qtrain.diagnostics.scan_fit import fit_series
from qtrain.diagnostics.scan_plan import (
    ADJOINT_ABOVE_ROWS,
    METHODS,
    Point,
    Scan,
    check_settings,
    ints,
)
from qtrain.diagnostics.scan_run import measure
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.expval import resolve_seed

__all__ = ["ADJOINT_ABOVE_ROWS", "METHODS", "variance_scan"]

Array = NDArray[np.float64]


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
    done: Sequence[tuple[ScanPoint, Array]] = (),
    on_measured: Callable[[ScanPoint, Array], None] | None = None,
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
        on_point: called with each finished point (progress), reused ones too.
        done: ``(point, bootstrap replicates (B,))`` of points measured before with the same
            settings (a scan that was interrupted): a (n, depth, init) whose every cost is
            there is not measured again. Draws are seeded per point, so the result is the
            same as an unbroken scan's.
        on_measured: called with each newly measured point and its replicates (to save it).

    Returns:
        A :class:`~qtrain.diagnostics.result.ScanResult`.

    Raises:
        ConfigError: any bad setting (named), before anything runs.
    """
    check_settings(samples, level, resamples, target_snr, shots)
    runner = resolve_executor(backend, executor, None)
    scan = Scan(
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
    sizes, layers = ints(qubits, "qubits", 1), ints(depths, "depths", 1)
    plan = [
        Point(scan, i, depth, n) for i in range(len(scan.inits)) for depth in layers for n in sizes
    ]
    saved = {(p.n_qubits, p.depth, p.init, p.cost): (p, r) for p, r in done}
    results: list[tuple[ScanPoint, Array]] = []
    for point in plan:
        keys = [(point.n, point.depth, point.init.name, label) for label, _ in scan.costs]
        reused = all(key in saved for key in keys)
        for finished in [saved[k] for k in keys] if reused else measure(scan, point):
            results.append(finished)
            if on_measured is not None and not reused:
                on_measured(*finished)
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
    return ScanResult(tuple(p for p, _ in results), fit_series(results, float(level)), settings)
