"""The plan's time estimate for a config, and the check of it a run writes in its summary.

:func:`estimate_time` prices a planned step (``app.plan_model``) with this machine's
coefficients (``app.calibration``: measured once, cached). A run (``train``, ``resume``)
carries a :class:`PlanCheck`: it makes the same estimate before the first step, follows the
steps as a tracker, and adds to the summary what the plan said for the steps that ran, what
they took and the ratio (``plan: {estimated_seconds, measured_seconds, ratio, ...}``).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.app.build import Prepared
from qtrain.app.calibration import Calibration, load_calibration
from qtrain.app.config import RunConfig, StoreConfig
from qtrain.app.plan_model import PriceFn, TimeEstimate, estimate_step, planning_seconds
from qtrain.app.qiskit_config import QiskitBackendConfig
from qtrain.errors import QtrainError
from qtrain.exec.executor import Executor
from qtrain.train.evaluation import EvaluationAssembly
from qtrain.train.records import StepRecord

__all__ = ["PlanCheck", "estimate_time", "kernels_loaded", "store_durability"]

_LOG = logging.getLogger("qtrain.plan")


def store_durability(config: RunConfig) -> str | None:
    """The durability of the run's result store (``None``: the run keeps no store)."""
    spec = config.store
    if isinstance(spec, StoreConfig):
        return spec.durability
    return None if spec is False else "full"


def kernels_loaded() -> bool:
    """Whether compiled kernels already ran in this process (then a run pays no warm-up).

    numba imports its array maths on the first kernel call (loading the cached machine
    code), not before: its module in ``sys.modules`` says the warm-up is paid.
    """
    return "numba.np.arraymath" in sys.modules


def _kernels(executor: Executor) -> str | None:
    """The kernel set of the local simulator the run uses (``None``: the default)."""
    backend: object = executor.backend
    for _ in range(8):
        name = getattr(backend, "kernel_name", None)
        if isinstance(name, str):
            return name
        backend = getattr(backend, "inner", None)
        if backend is None:
            break
    return None


def _other(config: RunConfig, *, probe: bool) -> PriceFn | None:
    """How a Qiskit target is priced (imported only for a Qiskit run: it needs the extra)."""
    if not isinstance(config.backend, QiskitBackendConfig):
        return None
    from qtrain.app.qiskit_timing import qiskit_price  # noqa: PLC0415 - the qiskit extra

    return lambda backend, tasks: qiskit_price(backend, tasks, probe=probe)


def estimate_time(
    prepared: Prepared,
    executor: Executor,
    assembly: EvaluationAssembly,
    *,
    replan: Callable[[], object],
    rows: int,
    metric: str | None,
    probe: bool,
    fresh: bool = True,
) -> tuple[TimeEstimate, Calibration]:
    """The time of a step like ``assembly``'s and of the warm-up, with the calibration used.

    ``replan`` plans the step again (timed); ``rows`` the rows the executor will send;
    ``probe``: a Qiskit target not measured yet is measured now (``qtrain plan`` only);
    ``fresh``: the run starts in a fresh process, which pays the warm-up (``qtrain plan``
    assumes so; a run in this process pays it only if no kernel has run here yet).
    """
    calibration = load_calibration(_kernels(executor))
    estimate = estimate_step(
        prepared.objective,
        assembly,
        executor,
        calibration.coefficients,
        durability=store_durability(prepared.config),
        rows=rows,
        planning=planning_seconds(replan),
        metric=metric,
        other=_other(prepared.config, probe=probe),
        loaded=not fresh and kernels_loaded(),
    )
    if type(executor) is not Executor and estimate.step_seconds is not None:
        note = "; a distributed executor's scheduling and transfers are not included"
        estimate = replace(estimate, basis=estimate.basis + note)
    return estimate, calibration


class PlanCheck:
    """A tracker that compares the plan's estimate with the steps that ran.

    ``report(θ)`` gives the summary's ``plan`` entry: the estimate for the budget's steps,
    the estimate for the steps this session ran (warm-up included), the seconds they took
    (from the session's start to its last step), and ``ratio`` = measured / estimated.
    """

    def __init__(self, estimate: TimeEstimate | None, planned_steps: int, note: str = "") -> None:
        self.estimate, self.planned_steps, self.note = estimate, planned_steps, note
        self.steps = 0
        self._started: float | None = None
        self._last: float | None = None

    def start(self, info: Mapping[str, Any]) -> None:
        """The session begins: its clock starts."""
        self._started = time.perf_counter()

    def log(self, record: StepRecord) -> None:
        """One more step ran."""
        self.steps += 1
        self._last = time.perf_counter()

    def finish(self, summary: Mapping[str, Any]) -> None:
        """Nothing: :meth:`report` already wrote the entry."""

    def report(self, theta: NDArray[np.float64]) -> dict[str, Any]:
        """The summary's ``plan`` entry."""
        estimate = self.estimate
        entry: dict[str, Any] = {"steps": self.steps}
        if estimate is None:
            return {"plan": {**entry, "estimated_seconds": None, "basis": f"unknown: {self.note}"}}
        predicted = estimate.run_seconds(self.steps) if self.steps else None
        measured = None
        if self._started is not None and self._last is not None:
            measured = self._last - self._started
        ratio = None
        if predicted and measured is not None:
            ratio = measured / predicted
        entry.update(
            {
                "estimated_seconds": predicted,
                "measured_seconds": measured,
                "ratio": ratio,
                "estimated_seconds_budget": estimate.run_seconds(self.planned_steps),
                "step_seconds": estimate.step_seconds,
                "warmup_seconds": estimate.warmup_seconds,
                "basis": estimate.basis,
            }
        )
        return {"plan": entry}


def unknown_check(error: Exception, planned_steps: int) -> PlanCheck:
    """A check whose estimate failed: the summary says why, the run goes on."""
    _LOG.debug("no time estimate: %s", error)
    reason = str(error) if isinstance(error, QtrainError | OSError) else type(error).__name__
    return PlanCheck(None, planned_steps, reason)


def cache_note(calibration: Calibration) -> str:
    """Where the coefficients came from, in words."""
    where = "not cached" if calibration.path is None else str(Path(calibration.path))
    return f"{'measured now' if calibration.measured_now else 'cached'} ({where})"
