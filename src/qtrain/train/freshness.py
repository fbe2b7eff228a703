"""Calibration freshness: how old the device's calibration is, checked before each step.

:class:`CalibrationFreshness` is a step hook (``train/step_hooks.py``). Before each step it
finds the calibration snapshot of the run's backend (a ``QiskitBackend``'s ``calibration``:
its time is the device properties' ``last_update_date``; wrappers — ``FaultyBackend``,
``Mitigated`` — are looked through by ``.inner``) and records its age in
``StepRecord.calibration_age_s``. Past ``max_age_s`` the policy decides:

* ``warn``: a WARNING ``calibration.stale`` log line, once per calibration snapshot;
* ``refuse``: the step is not started and the run stops with
  ``stopped_by="calibration_stale"`` (checkpointed, resumable once the device has
  recalibrated). ``refuse`` on a backend that reports no calibration time is a
  ``ConfigError`` before any shot.

After each step it records ``StepRecord.readout_error``: the mean readout error rate
``(P(1|0) + P(0|1)) / 2`` of the measured qubits — from the readout calibration a
``Mitigated`` backend applies (tensored, or the per-wire marginals of a full confusion
matrix), else from the device calibration on the physical qubits the circuits were laid
out on. ``None`` when neither is known. Reading them never measures anything.

The clock (``time.time`` by default) can be injected, so tests need not wait for a device
to age.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from qtrain.backends.protocol import Task
from qtrain.errors import ConfigError, QtrainError
from qtrain.logs import emit
from qtrain.mitigation.correlated import ConfusionMatrix
from qtrain.mitigation.readout import ReadoutCalibration
from qtrain.noise.calibration import Calibration
from qtrain.train.objective import Objective
from qtrain.train.records import StepRecord
from qtrain.train.step_hooks import HookResult

if TYPE_CHECKING:
    from qtrain.train.session import Session

__all__ = [
    "POLICIES",
    "CalibrationFreshness",
    "calibration_age_s",
    "device_calibration",
    "readout_error",
]

POLICIES = ("warn", "refuse")
STALE = "calibration_stale"
_LOG = logging.getLogger("qtrain.calibration")


def _chain(backend: object) -> Iterator[object]:
    """``backend`` and what it wraps (``.inner``), outermost first."""
    seen: set[int] = set()
    while backend is not None and id(backend) not in seen:
        seen.add(id(backend))
        yield backend
        backend = getattr(backend, "inner", None)


def device_calibration(backend: object) -> Calibration | None:
    """The calibration snapshot ``backend`` (or a backend it wraps) reports; ``None``: none."""
    for layer in _chain(backend):
        found = getattr(layer, "calibration", None)
        if isinstance(found, Calibration):
            return found
    return None


def calibration_age_s(calibration: Calibration, now: float) -> float:
    """Seconds from the snapshot's timestamp (UTC when it names no zone) to ``now``."""
    stamp = datetime.fromisoformat(calibration.timestamp)
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return now - stamp.timestamp()


def _probes(objective: Objective, exact: bool) -> list[Task]:
    """One single-row task per circuit: what a layout or a calibration lookup needs."""
    return [
        Task(circuit, (observable,), np.zeros((1, circuit.n_params)), None if exact else 1)
        for circuit, observable in zip(objective.circuits, objective.observables, strict=True)
    ]


def _mitigation_error(layer: Any, probes: list[Task], exact: bool) -> float | None:
    """The mean readout error of a mitigated backend's calibrations, if already at hand."""
    readout = getattr(layer, "readout", None)
    lookup, price = getattr(layer, "calibration", None), getattr(layer, "overhead", None)
    if readout is None or not callable(lookup) or not callable(price):
        return None
    if int(getattr(price(probes), "calibration_shots", 0)) > 0:
        return None  # not measured yet (or too old): looking would spend shots
    rates: list[float] = []
    for n in sorted({task.circuit.n_qubits for task in probes}):
        found = lookup(n, exact=exact)
        if isinstance(found, ReadoutCalibration):
            rates.extend(((found.p01 + found.p10) / 2).tolist())
        elif isinstance(found, ConfusionMatrix):
            rates.extend(_marginal_errors(found))
    return float(np.mean(rates)) if rates else None


def _marginal_errors(matrix: ConfusionMatrix) -> list[float]:
    """Per wire: ``P(read bit ≠ prepared bit)``, averaged over the prepared basis states."""
    m = np.asarray(matrix.matrix)
    n = matrix.n_qubits
    states = np.arange(1 << n)
    flipped = ((states[:, None] ^ states[None, :])[..., None] >> np.arange(n)) & 1
    return (np.einsum("rs,rsw->w", m, flipped) / (1 << n)).tolist()  # type: ignore[no-any-return]


def _device_error(layer: Any, calibration: Calibration, probes: list[Task]) -> float:
    """The mean readout error of the physical qubits the circuits are laid out on."""
    compiled = getattr(layer, "compiled", None)
    qubits: set[int] = set()
    for task in probes:
        physical = getattr(compiled(task), "physical", None) if callable(compiled) else None
        qubits.update(physical if physical is not None else range(task.circuit.n_qubits))
    p01, p10 = calibration.readout_p01, calibration.readout_p10
    inside = sorted(q for q in qubits if q < calibration.n_qubits)
    return float(np.mean([(p01[q] + p10[q]) / 2 for q in inside])) if inside else math.nan


def readout_error(backend: object, objective: Objective, *, exact: bool) -> float | None:
    """Mean readout error rate of the qubits ``objective``'s circuits measure on ``backend``.

    From the readout calibration a mitigated backend applies, else from the device
    calibration on the circuits' physical qubits; ``None`` when neither is known.
    """
    probes = _probes(objective, exact)
    for layer in _chain(backend):
        mitigated = _mitigation_error(layer, probes, exact)
        if mitigated is not None:
            return mitigated
        found = getattr(layer, "calibration", None)
        if isinstance(found, Calibration):
            rate = _device_error(layer, found, probes)
            return None if math.isnan(rate) else rate
    return None


class CalibrationFreshness:
    """Record the calibration's age and readout error; act when it is older than allowed.

    Args:
        max_age_s: the oldest calibration allowed, in seconds (``None``: record only).
        policy: ``"warn"`` (log once per calibration, go on) or ``"refuse"`` (stop the run
            with ``stopped_by="calibration_stale"`` before the step).
        clock: seconds since the epoch (``time.time``); injectable for tests.

    Raises:
        ConfigError: a ``max_age_s`` that is not a positive number, an unknown policy, or
            ``refuse`` without a ``max_age_s``; ``refuse`` on a backend with no calibration
            time (at the first step, before any shot).
    """

    name = "calibration"

    def __init__(
        self,
        max_age_s: float | None = None,
        *,
        policy: str = "warn",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if max_age_s is not None and (
            isinstance(max_age_s, bool)
            or not isinstance(max_age_s, int | float)
            or not 0 < max_age_s < math.inf
        ):
            raise ConfigError(f"max_age_s must be a positive number of seconds, got {max_age_s!r}")
        if policy not in POLICIES:
            raise ConfigError(
                f"calibration policy must be one of {', '.join(POLICIES)}, got {policy!r}"
            )
        if policy == "refuse" and max_age_s is None:
            raise ConfigError("calibration policy 'refuse' needs max_age_s")
        self.max_age_s = None if max_age_s is None else float(max_age_s)
        self.policy = policy
        self.clock = clock

    def check(self, backend: object) -> None:
        """Refuse ``refuse`` on a backend that reports no calibration time.

        Raises:
            ConfigError: naming the backend.
        """
        if self.policy == "refuse" and device_calibration(backend) is None:
            name = getattr(backend, "name", type(backend).__name__)
            raise ConfigError(
                f"calibration policy 'refuse': backend {name} reports no calibration time; "
                "use policy 'warn', or a backend that reports its calibration"
            )

    def before_step(self, session: Session) -> HookResult:
        """The calibration's age; a stop (``refuse``) or a warning when it is too old."""
        backend = session.executor.backend
        self.check(backend)
        calibration = device_calibration(backend)
        if calibration is None:
            return HookResult()
        age = calibration_age_s(calibration, self.clock())
        fields = {"calibration_age_s": age}
        if self.max_age_s is None or age <= self.max_age_s:
            return HookResult(fields=fields)
        state = session.state.hook_states.setdefault(self.name, {"warned": []})
        message = (
            f"the calibration of {backend.name} ({calibration.id}) is {age:.0f} s old, "
            f"older than the {self.max_age_s:.0f} s allowed"
        )
        fields_log = {"backend": backend.name, "calibration_id": calibration.id, "age_s": age}
        if self.policy == "refuse":
            emit(
                _LOG, logging.WARNING, "calibration.stale", f"{message}: run stopped", **fields_log
            )
            return HookResult(stop=STALE, fields=fields)
        if calibration.id not in state["warned"]:
            state["warned"] = [*state["warned"], calibration.id]
            emit(_LOG, logging.WARNING, "calibration.stale", message, **fields_log)
        return HookResult(fields=fields)

    def after_step(self, session: Session, record: StepRecord) -> StepRecord:
        """The record with the readout error of the qubits the step measured."""
        rate = readout_error(
            session.executor.backend,
            session.settings.objective,
            exact=record.loss_stderr is None,
        )
        return record if rate is None else replace(record, readout_error=rate)

    def on_error(self, session: Session, error: QtrainError) -> bool:
        """Nothing to mend."""
        del session, error
        return False
