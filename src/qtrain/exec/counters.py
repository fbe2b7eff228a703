"""The executor's running totals: what the training loop's metrics and step records read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ExecutorCounters"]


@dataclass
class ExecutorCounters:
    """Running totals, in rows unless named otherwise.

    Shots spent but never used are ``rejected_shots`` (results that came back invalid) plus
    ``abandoned_shots`` (results of timed-out calls, counted when they come back: valid ones
    are stored, so a later run reads them for free). A budget that must hold the backend's
    real spend adds both to the shots of the results it used.
    """

    submitted: int = 0
    succeeded: int = 0
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
    latencies_s: list[float] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)
