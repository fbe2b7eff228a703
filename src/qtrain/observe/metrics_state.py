"""What a :class:`~qtrain.observe.metrics.MetricsTracker` has counted between scrapes.

:class:`RunTotals` holds the run's totals of its step records (per method), the last record,
the last canary, validation and mitigation seen, drift detections by action (a drift pause
counted when the run finishes), the time of the last progress, backend switches,
the run's info (its ``method`` the one the steps used), calibration changes, monitor decisions
and the executor's call latencies read so far; the tracker updates it under its lock and
every scrape reads it under the same lock (:mod:`qtrain.observe.metrics_families`), which
exports latencies as the library's
:class:`~prometheus_client.core.HistogramMetricFamily` under the labels known at that moment.

The buckets are counted here, not by ``prometheus_client.Histogram``: that class keeps its
values in a process-wide store chosen by the environment, and under
``PROMETHEUS_MULTIPROC_DIR`` every histogram of one name and label set in a process shares one
slot in a file, so two methods' (or two trackers') latencies were merged and the scrape
changed (docs/decisions.md). Counting ``v <= le`` into a list is all that is needed.
"""

from __future__ import annotations

import bisect
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qtrain.observe.metrics_schema import DRIFT_ACTIONS, LATENCY_BUCKETS_S, STEP_COUNTERS
from qtrain.train.records import StepRecord
from qtrain.train.tracking import MONITOR_DECISIONS, monitor_decision

__all__ = ["LatencyHistogram", "RunTotals", "StepTotals"]


class LatencyHistogram:
    """Bucket counts and sum of observations (Prometheus ``le`` semantics: ``v <= bound``)."""

    def __init__(self, bounds: tuple[float, ...] = LATENCY_BUCKETS_S) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count ``value`` in the first bucket whose bound it does not exceed."""
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        """``(le, count of observations <= le)`` for every bound and ``+Inf``."""
        total, out = 0, []
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += count
            out.append(("+Inf" if math.isinf(bound) else repr(bound), float(total)))
        return out


@dataclass
class StepTotals:
    """Sums over the step records of one method."""

    steps: int = 0
    shots: int = 0
    circuits: int = 0
    retries: int = 0
    failures: int = 0
    cached: int = 0
    queue_s: float = 0.0
    execution_s: float = 0.0
    cost: float = 0.0
    gradient_s: LatencyHistogram = field(default_factory=LatencyHistogram)
    step_s: LatencyHistogram = field(default_factory=LatencyHistogram)


@dataclass
class RunTotals:
    """Everything a scrape exports that the tracker itself counts (see the module docstring)."""

    totals: dict[str, StepTotals] = field(default_factory=dict)
    last: StepRecord | None = None
    info: dict[str, str] = field(default_factory=dict)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    latencies_seen: int = 0
    calibrations: set[str] | None = None
    calibration_changes: int = 0
    decisions: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys((*MONITOR_DECISIONS, "other"), 0)
    )
    monitor: str = "none"
    started: float = field(default_factory=time.time)
    progress: float = field(default_factory=time.time)  # the start or the last step (Unix)
    last_tick: float | None = None
    finished: bool = False
    converged: bool = False
    last_seen: dict[str, dict[str, Any]] = field(default_factory=dict)
    canary_runs: int = 0
    canary_shots: int = 0
    drifts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(DRIFT_ACTIONS, 0))
    backend: str | None = None
    backend_switches: int = 0
    drift_paused: bool = False

    def begin(self) -> None:
        """A session starts: its start is its progress until a step finishes."""
        self.started = self.progress = time.time()
        self.last_tick = time.perf_counter()

    def record(self, record: StepRecord, now: float) -> None:
        """Count one step record that finished at ``now`` (``time.perf_counter``)."""
        self.progress = time.time()
        totals = self.totals.setdefault(record.method, StepTotals())
        totals.steps += 1
        for _, name, _ in STEP_COUNTERS[1:]:  # the record fields of the same names
            setattr(totals, name, getattr(totals, name) + (getattr(record, name) or 0))
        totals.gradient_s.observe(record.seconds)
        totals.step_s.observe(now - (self.last_tick or now))
        self.last_tick, self.last = now, record
        ids = set(record.calibration_ids)
        if self.calibrations is not None:
            self.calibration_changes += len(ids - self.calibrations)
        self.calibrations = ids
        self.monitor = monitor_decision(record.monitor)
        if self.monitor != "none":
            self.decisions[self.monitor] += 1
        self.info["method"] = record.method  # what the steps used ("best" resolves to one)
        self._operations(record)

    def _operations(self, record: StepRecord) -> None:
        """The canary, validation, mitigation and backend of one record."""
        for name in ("canary", "validation", "mitigation"):
            value = getattr(record, name)
            if value is not None:
                self.last_seen[name] = value
        canary = record.canary
        if canary is not None:
            self.canary_runs += 1
            self.canary_shots += int(canary.get("shots") or 0)
            if canary.get("drift"):
                action = str(canary.get("action", "none"))
                self.drifts[action if action in DRIFT_ACTIONS else "other"] += 1
        if record.backend:
            if self.backend is not None and record.backend != self.backend:
                self.backend_switches += 1
            self.backend = record.backend

    def paused_by_drift(self) -> None:
        """The drift policy stopped the run before a step (``stopped_by == "drift"``).

        ``pause`` (or ``fallback`` with no backend left) stops the run before the step's
        record exists, so no record carries that canary run: the detection is counted here,
        unless a record of this session already counted a pause.
        """
        self.drift_paused = True
        if self.drifts["pause"] == 0:
            self.drifts["pause"] += 1

    @property
    def drift_detected(self) -> bool:
        """Whether the last canary run detected drift, or a drift pause ended the session."""
        return self.drift_paused or bool(self.last_seen.get("canary", {}).get("drift"))

    def read_latencies(self, latencies: Sequence[float]) -> None:
        """Observe the call latencies appended to ``latencies`` since the last read."""
        seen, self.latencies_seen = self.latencies_seen, len(latencies)
        for value in latencies[seen : self.latencies_seen]:
            self.latency.observe(value)
