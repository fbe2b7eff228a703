"""The executor's running totals: what the training loop's metrics and step records read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from qtrain.errors import TransientExecutionError

if TYPE_CHECKING:
    from qtrain.backends.protocol import Task

__all__ = ["ExecutorCounters", "overhead_shots", "prepare_backend", "spent_shots"]


@dataclass
class ExecutorCounters:
    """Running totals, in rows unless named otherwise.

    Shots spent but never used are ``rejected_shots`` (results that came back invalid) plus
    ``abandoned_shots`` (results of timed-out calls, counted when they come back: valid ones
    are stored, so a later run reads them for free). ``overhead_shots`` are what a backend
    spent beside the tasks' own shots (a mitigated backend's readout calibration, reported as
    ``Result.metadata["overhead_shots"]``). A budget that must hold the backend's real spend
    adds all three to the shots of the results it used.
    """

    submitted: int = 0
    succeeded: int = 0
    succeeded_shots: int = 0  # shots of the valid results (their rows are stored)
    failed: int = 0
    retried: int = 0
    deduplicated: int = 0
    cached: int = 0
    throttled: int = 0
    calls: int = 0
    partial: int = 0  # calls that returned with some task results missing or invalid
    abandoned: int = 0  # calls given up on after the timeout (their rows were retried)
    abandoned_shots: int = 0  # shots of results that abandoned calls returned later
    recovered: int = 0  # rows of those results that were valid (stored, if there is a store)
    rejected_shots: int = 0  # shots of results that came back invalid
    overhead_shots: int = 0  # shots spent beside the tasks' own (readout calibration)
    queue_s: float = 0.0  # seconds provider jobs waited in a queue (``metadata["queue_s"]``)
    execution_s: float = 0.0  # seconds they ran (``metadata["execution_s"]``)
    jobs: int = 0  # distinct provider jobs whose times are in queue_s and execution_s
    latencies_s: list[float] = field(default_factory=list)
    job_ids: set[str] = field(default_factory=set, repr=False)  # the jobs counted so far

    def record(self, results: Sequence[object]) -> None:
        """Add what a call's results report beside their rows: overhead shots, job times.

        A result's ``queue_s`` and ``execution_s`` are the sums over its provider jobs
        (``metadata["job_ids"]``); each job is counted once, however many results name it
        (tasks sharing a job, a call's results read again). A result naming some jobs already
        counted adds the share of its times that its new jobs make up (exact when tasks share
        all or none of their jobs). A result with times but no job ids is one job.
        """
        self.overhead_shots += overhead_shots(results)
        for result in results:
            metadata = getattr(result, "metadata", None)
            if isinstance(metadata, dict):
                self._job_times(metadata)

    def _job_times(self, metadata: dict[str, Any]) -> None:
        queue = _seconds(metadata.get("queue_s"))
        execution = _seconds(metadata.get("execution_s"))
        ids = metadata.get("job_ids")
        if not isinstance(ids, list | tuple) or not ids:
            if queue or execution:  # timed, unnamed: one job of its own
                self.jobs += 1
                self.queue_s, self.execution_s = self.queue_s + queue, self.execution_s + execution
            return
        named = list(dict.fromkeys(str(job) for job in ids))
        new = [job for job in named if job not in self.job_ids]
        share = len(new) / len(named)
        self.job_ids.update(new)
        self.jobs += len(new)
        self.queue_s += queue * share
        self.execution_s += execution * share

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy (without the set of job ids)."""
        copy = asdict(self)
        del copy["job_ids"]
        return copy


def spent_shots(counters: ExecutorCounters, *, used: bool = False) -> int:
    """Shots spent beside the results a caller uses: rejected, returned late, overhead.

    With ``used``, the valid results' shots too (``succeeded_shots``): all the backend spent
    on what it ran. What one call spent is the difference of two readings; a call that
    returned its results is charged its tasks' nominal shots plus the difference without
    ``used`` (rows read from a store are paid for too), a call that failed the difference
    with it (its valid rows serve nobody once the step is given up or moved elsewhere).
    """
    spent = counters.rejected_shots + counters.abandoned_shots + counters.overhead_shots
    return spent + (counters.succeeded_shots if used else 0)


def _seconds(value: object) -> float:
    return float(value) if isinstance(value, int | float) and value > 0 else 0.0


def overhead_shots(results: Iterable[object]) -> int:
    """The ``metadata["overhead_shots"]`` of a call's results, summed (``None``s skipped)."""
    total = 0
    for result in results:
        metadata = getattr(result, "metadata", None)
        value = metadata.get("overhead_shots", 0) if isinstance(metadata, dict) else 0
        total += value if isinstance(value, int) and value > 0 else 0
    return total


def prepare_backend(backend: object, tasks: Sequence[Task]) -> int:
    """``backend.prepare(tasks)`` if it has one (``Backend`` protocol): the shots it spent.

    A backend with set-up to do before a call (``Mitigated``: its readout calibrations) does
    it here, in the executor's process, before the call is spread over threads or Dask
    workers — which then receive the backend with the set-up done. A transient failure here
    is left to the call itself, which does the set-up again under the retry policy.
    """
    prepare = getattr(backend, "prepare", None)
    if not callable(prepare):
        return 0
    try:
        spent = prepare(tasks)
    except TransientExecutionError:
        return 0
    return spent if isinstance(spent, int) and spent > 0 else 0
