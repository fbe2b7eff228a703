"""The executor's running totals: what the training loop's metrics and step records read."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from qtrain.errors import TransientExecutionError

if TYPE_CHECKING:
    from qtrain.backends.protocol import Task

__all__ = ["ExecutorCounters", "overhead_shots", "prepare_backend"]


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
    latencies_s: list[float] = field(default_factory=list)

    def record(self, results: Sequence[object]) -> None:
        """Add what a call's results report beside their rows: overhead shots, job times."""
        self.overhead_shots += overhead_shots(results)
        for result in results:
            metadata = getattr(result, "metadata", None)
            if isinstance(metadata, dict):
                self.queue_s += _seconds(metadata.get("queue_s"))
                self.execution_s += _seconds(metadata.get("execution_s"))

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


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
