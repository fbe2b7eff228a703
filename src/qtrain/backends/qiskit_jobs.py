"""Sampler work for :class:`~qtrain.backends.qiskit.QiskitBackend`: PUBs, jobs, waiting.

A sampled task becomes *slots* — one per (observable, measurement group, distinct shot count)
with the rows that share it — and every slot becomes *pieces*, one PUB each: its rows in
blocks of at most ``max_circuits`` (a PUB of ``R`` parameter rows is ``R`` circuits to the
provider) and its shots in parts of at most ``max_shots`` (a count above the device's limit
is run as several PUBs whose counts add up). Pieces are packed into jobs of at most
``max_circuits`` circuits, in order, so one task is one job unless a limit says otherwise.

Waiting (:func:`wait_for`): an in-process job (Aer's primitives) is simply joined; a provider
job (qiskit-ibm-runtime, ``qtrain.testing.spool``) is polled with a growing interval until it
is final. A provider that cannot be asked (a network error polling or fetching) raises
``TransientExecutionError``: the job lives on, its journal entry stays, and the executor's
retry re-attaches to it. Queue and execution time come from the provider's
``metrics()["timestamps"]`` (``created``, ``running``, ``finished``: RuntimeJobV2's form) where
it gives them, else from when polling first saw the job running.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.backends.qiskit_compile import CLBITS, Compiled
from qtrain.backends.qiskit_counts import group_statistics, outcome_counts
from qtrain.errors import JobFailedError, TransientExecutionError
from qtrain.sim.measure import GroupPlan, measurement_plan
from qtrain.sim.term_values import mask_signs

__all__ = [
    "JobTimes",
    "Piece",
    "Slot",
    "Work",
    "aggregate",
    "fetch",
    "pack_jobs",
    "plan_pieces",
    "sampler_pub",
    "status_name",
    "wait_for",
]

Real = NDArray[np.float64]
FAILED = frozenset({"ERROR", "CANCELLED", "FAILED"})
FINAL = FAILED | {"DONE"}


@dataclass(frozen=True, eq=False)
class Slot:
    """Rows of one observable's measurement group sampled with one shot count.

    Attributes:
        observable: the observable's index in the task.
        group: its measurement group.
        circuit: the transpiled circuit with the group's rotations and measurements.
        rows: ``(R,)`` the task's rows, ascending.
    """

    observable: int
    group: GroupPlan
    circuit: Any
    rows: NDArray[np.intp]


@dataclass(frozen=True, eq=False)
class Piece:
    """One PUB: ``rows`` (a subset of its slot's) at ``shots`` shots each."""

    slot: int
    rows: NDArray[np.intp]
    shots: int


def _parts(total: int, limit: int) -> list[int]:
    """``total`` shots in ``ceil(total / limit)`` near-equal parts, none above ``limit``."""
    count = -(-total // limit)
    base, extra = divmod(total, count)
    return [base + (i < extra) for i in range(count)]


def plan_pieces(
    slots: Sequence[Slot], shots: Sequence[int], max_circuits: int, max_shots: int
) -> list[Piece]:
    """The PUBs of ``slots`` (slot ``i`` sampled at ``shots[i]`` per row) within the limits."""
    pieces = []
    for index, (slot, count) in enumerate(zip(slots, shots, strict=True)):
        for start in range(0, slot.rows.size, max_circuits):
            rows = slot.rows[start : start + max_circuits]
            pieces += [Piece(index, rows, part) for part in _parts(count, max_shots)]
    return pieces


def pack_jobs(pieces: Sequence[Piece], max_circuits: int) -> list[list[int]]:
    """Piece indices per job, in order, each job at most ``max_circuits`` circuits."""
    jobs: list[list[int]] = [[]]
    size = 0
    for index, piece in enumerate(pieces):
        if jobs[-1] and size + piece.rows.size > max_circuits:
            jobs.append([])
            size = 0
        jobs[-1].append(index)
        size += piece.rows.size
    return jobs if jobs[0] else []


def status_name(job: Any) -> str:
    """The job's status as an upper-case name (``JobStatus`` enums and strings alike)."""
    status = job.status()
    return str(getattr(status, "name", status)).upper()


@dataclass(frozen=True)
class JobTimes:
    """Seconds a job waited in the provider's queue and ran."""

    queue_s: float
    execution_s: float


def _stamp(value: object) -> float | None:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def provider_times(job: Any) -> JobTimes | None:
    """Queue and execution time from ``job.metrics()["timestamps"]``, if it has them."""
    metrics = getattr(job, "metrics", None)
    try:
        stamps = metrics()["timestamps"] if callable(metrics) else None
    except Exception:  # a provider's metrics call failing must not lose the result
        return None
    if not isinstance(stamps, dict):
        return None
    created, running, finished = (_stamp(stamps.get(k)) for k in ("created", "running", "finished"))
    if created is None or running is None or finished is None:
        return None
    return JobTimes(max(0.0, running - created), max(0.0, finished - running))


def _failure(job: Any, status: str) -> JobFailedError:
    message = getattr(job, "error_message", None)
    reason = message() if callable(message) else None
    job_id = str(job.job_id())
    text = f"job {job_id} ended {status}" + (f": {reason}" if reason else "")
    return JobFailedError(text, job_id=job_id, status=status)


def wait_for(
    job: Any, submitted: float, poll_s: float, max_wait_s: float | None = None
) -> JobTimes:
    """Wait until ``job`` is final; its queue and execution seconds.

    ``submitted`` is the ``time.time()`` of submission (or of re-attaching); polls start
    ``poll_s`` apart and grow ×1.5 up to 5 s.

    Raises:
        JobFailedError: the provider reports the job failed or cancelled.
        TransientExecutionError: still not final after ``max_wait_s`` (the job lives on), or
            the provider could not be asked.
    """
    if _in_process(job):
        job.result()  # joins the thread Aer runs it on; raises what the simulation raised
        return JobTimes(0.0, time.time() - submitted)
    running: float | None = None
    interval = poll_s
    began = time.monotonic()
    while (status := _polled(job)) not in FINAL:
        if status == "RUNNING" and running is None:
            running = time.time()
        if max_wait_s is not None and time.monotonic() - began > max_wait_s:
            message = f"job {job.job_id()} still {status} after {max_wait_s} s"
            raise TransientExecutionError(message + "; it is not cancelled: a retry re-attaches")
        time.sleep(interval)
        interval = min(5.0, interval * 1.5)
    if status in FAILED:
        raise _failure(job, status)
    finished = time.time()
    started = running if running is not None else finished
    observed = JobTimes(max(0.0, started - submitted), max(0.0, finished - started))
    return provider_times(job) or observed


def _polled(job: Any) -> str:
    """The status of a provider's job; a failure to ask is transient (the job lives on)."""
    try:
        return status_name(job)
    except Exception as error:  # a provider's network or API error
        message = f"cannot read the status of job {job.job_id()}: {error}"
        raise TransientExecutionError(message) from error


def fetch(job: Any) -> Any:
    """``job.result()``; a provider's failure to deliver it is transient (Aer's is not)."""
    try:
        return job.result()
    except Exception as error:
        if _in_process(job):
            raise
        message = f"cannot read the result of job {job.job_id()}: {error}"
        raise TransientExecutionError(message) from error


def _in_process(job: Any) -> bool:
    from qiskit.primitives import PrimitiveJob  # noqa: PLC0415 - the qiskit extra

    return isinstance(job, PrimitiveJob)


@dataclass(eq=False)
class Work:
    """One task in flight: its layout, its jobs (one per piece group) and when they went."""

    task: Task
    compiled: Compiled
    seed: int | None
    slots: list[Slot]
    pieces: list[Piece]
    packs: list[list[int]]  # piece indices of each job
    jobs: list[Any]
    submitted: float
    layout: Any = None  # an estimator's PUBs (``qiskit_estimator.EstimatorLayout``)


def aggregate(item: Work, results: Sequence[Any]) -> tuple[Real, Real, tuple[Real, ...] | None]:
    """``(values (B, O), variances (B, O), term values)`` of a sampled task from its jobs.

    Term values (``Task.term_values``, when the task asks): one ``(B, T_o)`` array per
    observable, each word's mean parity over the very counts behind ``values``.
    """
    task, n = item.task, item.compiled.n_qubits
    rows = task.params.shape[0]
    constants = [measurement_plan(obs, n).constant for obs in task.observables]
    values = np.tile(np.asarray(constants, dtype=np.float64), (rows, 1))
    variances = np.zeros((rows, len(task.observables)))
    counts = [np.zeros((slot.rows.size, 1 << n), dtype=np.int64) for slot in item.slots]
    for pack, result in zip(item.packs, results, strict=True):
        for index, pub in zip(pack, result, strict=True):
            piece = item.pieces[index]
            found = outcome_counts(pub.data[CLBITS], n, piece.rows.size)
            rows = item.slots[piece.slot].rows
            if piece.rows.size == rows.size:  # the common case: the piece is the whole slot
                counts[piece.slot] += found
            else:
                counts[piece.slot][np.searchsorted(rows, piece.rows)] += found
    for slot, slot_counts in zip(item.slots, counts, strict=True):
        means, spreads = group_statistics(slot_counts, slot.group)
        values[slot.rows, slot.observable] += means
        variances[slot.rows, slot.observable] += spreads
    terms = _term_values(item, counts) if task.term_values else None
    return values, variances, terms


def _term_values(item: Work, counts: Sequence[NDArray[np.int64]]) -> tuple[Real, ...]:
    """Each term's mean parity per row (``sim.term_values``); 1.0 for the identity term."""
    task, n = item.task, item.compiled.n_qubits
    rows = task.params.shape[0]
    out = [np.ones((rows, len(obs.terms))) for obs in task.observables]
    for slot, slot_counts in zip(item.slots, counts, strict=True):
        signs = np.stack([mask_signs(mask, n) for mask in slot.group.masks], axis=1)
        estimates = (slot_counts @ signs) / slot_counts.sum(axis=1, keepdims=True)
        columns = np.asarray(slot.group.term_indices, dtype=np.intp)
        out[slot.observable][np.ix_(slot.rows, columns)] = estimates
    return tuple(out)


def sampler_pub(
    circuit: Any, binds: NDArray[np.float64], shots: int
) -> tuple[Any, NDArray[np.float64] | None, int]:
    """A PUB for ``len(binds)`` rows of ``shots`` each.

    Aer samples only the first row of an empty ``(R, 0)`` parameter array (the rest come
    back all zeros), so a circuit without parameters runs ``R·shots`` shots in one row,
    split into ``R`` rows by :func:`outcome_counts`.
    """
    if binds.shape[1] == 0:
        return circuit, None, shots * binds.shape[0]
    return circuit, binds, shots
