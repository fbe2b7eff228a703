"""The plan of a variance scan: its checked settings and its points, before anything runs.

:class:`Scan` holds the resolved settings of one
:func:`~qtrain.diagnostics.scan.variance_scan` call (family, costs, inits, samples, shots,
method, runner, level, resamples, target SNR); :class:`Point` one (init, depth, n) with its
components, observables, shift-rule cost and gradient method, probed on one draw so a bad
setting is refused before any draw runs. Seeds: stream 0 draws the point's samples, stream 1
the bootstrap of each cost (``SeedSequence(seed, spawn_key=(stream, init, L, n, ...))``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from qtrain.backends.local import LocalSimulator
from qtrain.diagnostics.costs import CostSpec, cost_label, resolve_cost
from qtrain.diagnostics.families import FamilySpec, resolve_family
from qtrain.diagnostics.inits import Init, resolve_init
from qtrain.diagnostics.sampling import components_of, draw_samples, shift_cost
from qtrain.errors import ConfigError
from qtrain.exec.distributed import DaskExecutor
from qtrain.exec.executor import Executor
from qtrain.ir.observables import Observable
from qtrain.ir.validate import check_observable_fits

__all__ = ["ADJOINT_ABOVE_ROWS", "METHODS", "Point", "Scan", "check_settings", "ints"]

METHODS = ("auto", "param-shift", "adjoint")
# "auto" takes the adjoint method once the shift rule needs more rows per draw than this.
# Shifted rows of all draws run as one batch, the adjoint runs draw by draw: for 100 draws at
# (6, 10) HEA / (8, 20) McClean, 16 components (33 rows) took 0.15 / 1.15 s by shifts and
# 0.52 / 1.34 s by adjoint; every component (241 / 321 rows) 1.10 / 10.4 s against 0.48 / 0.93 s.
ADJOINT_ABOVE_ROWS = 32


def ints(values: Sequence[int] | int, name: str, minimum: int) -> list[int]:
    """``values`` (one int or several) as sorted distinct ints ``>= minimum``.

    Raises:
        ConfigError: a value that is not such an int, or none at all.
    """
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


def check_settings(samples: int, level: float, resamples: int, snr: float, shots: object) -> None:
    """Refuse a bad number of draws, level, resample count, target SNR or shot count.

    Raises:
        ConfigError: naming the bad setting.
    """
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
    local = (
        isinstance(runner.backend, LocalSimulator)
        and runner.backend.is_ideal
        and not isinstance(runner, DaskExecutor)
    )
    if method == "adjoint" and (shots is not None or not local):
        raise ConfigError(
            "method='adjoint' is exact and runs in this process on the ideal local simulator; "
            "use 'param-shift' for shots, noise, another backend or Dask"
        )
    if method == "auto":
        return "adjoint" if shots is None and local and rows > ADJOINT_ABOVE_ROWS else "param-shift"
    return method


class Scan:
    """The resolved settings of one :func:`~qtrain.diagnostics.scan.variance_scan` call."""

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


class Point:
    """One (init, depth, n): the draws' setting, checked before anything runs."""

    def __init__(self, scan: Scan, init_index: int, depth: int, n_qubits: int) -> None:
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
