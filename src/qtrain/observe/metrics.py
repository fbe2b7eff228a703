"""Prometheus metrics of a training run, fed by its step records and its executor's counters.

:class:`MetricsTracker` is a :class:`~qtrain.train.tracking.Tracker` and a Prometheus
collector: every scrape reads the executor's live counters and the tracker's totals of the
step records under one lock, so a scrape never sees half a step. Labels: ``run_id``,
``backend``, ``method`` (step metrics), ``decision`` (a fixed set, monitor counter) — never a
parameter or a task. ``docs/operations.md`` lists every metric (``metrics_schema.py``).

One call serves them for a library run (``prometheus-client``, the ``metrics`` extra)::

    with qt.serve_metrics(9464, executor=executor) as metrics:   # http://127.0.0.1:9464/
        qt.fit(objective, theta0, optimizer, executor=executor, trackers=[metrics])

``qtrain train CONFIG --metrics-port 9464`` does the same for the length of a CLI run.
"""

from __future__ import annotations

import bisect
import importlib.metadata
import math
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from qtrain.errors import ConfigError
from qtrain.exec.executor import Executor
from qtrain.extras import require
from qtrain.observe.metrics_schema import (
    BUDGET_STOPS,
    EXECUTOR_COUNTERS,
    LATENCY_BUCKETS_S,
    STEP_COUNTERS,
    STEP_GAUGES,
)
from qtrain.train.records import StepRecord
from qtrain.train.stopping import Budget
from qtrain.train.tracking import MONITOR_DECISIONS, RunContext, monitor_decision

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["MetricsTracker", "serve_metrics"]


class _Histogram:
    """Bucket counts and sum of observations (Prometheus ``le`` semantics: ``v <= bound``)."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, float]]:
        total, out = 0, []
        for bound, count in zip((*self.bounds, math.inf), self.counts, strict=True):
            total += count
            out.append(("+Inf" if math.isinf(bound) else repr(bound), float(total)))
        return out


@dataclass
class _StepTotals:
    """Sums over the step records of one method."""

    steps: int = 0
    shots: int = 0
    circuits: int = 0
    retries: int = 0
    failures: int = 0
    cached: int = 0
    gradient_s: _Histogram = field(default_factory=lambda: _Histogram(LATENCY_BUCKETS_S))
    step_s: _Histogram = field(default_factory=lambda: _Histogram(LATENCY_BUCKETS_S))


class MetricsTracker:
    """A tracker whose state is exported as Prometheus metrics (see the module docstring).

    Args:
        run_id: the ``run_id`` label (default: what the runner binds, else the config hash
            prefix).
        executor: the run's executor, whose counters and call latencies are exported.
        budget: the run's budget (exported as ``qtrain_budget_*``).
        exact_value: the known minimum (``qtrain_loss_exact``).
    """

    def __init__(
        self,
        *,
        run_id: str | None = None,
        executor: Executor | None = None,
        budget: Budget | None = None,
        exact_value: float | None = None,
    ) -> None:
        require("prometheus_client", extra="metrics", purpose="Prometheus metrics")
        self.run_id, self.executor, self.budget = run_id, executor, budget
        self.exact_value = exact_value
        self._lock = threading.Lock()
        self._totals: dict[str, _StepTotals] = {}
        self._last: StepRecord | None = None
        self._info: dict[str, str] = {}
        self._latency = _Histogram(LATENCY_BUCKETS_S)
        self._latencies_seen = 0
        self._calibrations: set[str] | None = None
        self._calibration_changes = 0
        self._decisions = dict.fromkeys((*MONITOR_DECISIONS, "other"), 0)
        self._monitor = "none"
        self._started = time.time()
        self._last_tick: float | None = None
        self._finished = self._converged = False
        self._registry: CollectorRegistry | None = None
        self._server: tuple[WSGIServer, threading.Thread] | None = None
        self._host = "127.0.0.1"

    def bind(self, context: RunContext) -> None:  # noqa: D102 - see RunContext
        self.run_id = self.run_id or context.run_id
        self.executor = self.executor or context.executor
        self.budget = self.budget or context.budget
        self.exact_value = context.exact_value if self.exact_value is None else self.exact_value

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        settings = info.get("settings", {})
        with self._lock:
            self.run_id = self.run_id or str(info.get("config_hash", "run"))[:12]
            self._info = {
                "version": importlib.metadata.version("qtrain"),
                "seed": str(settings.get("seed", "")),
                "config_hash": str(info.get("config_hash", "")),
                "method": str(settings.get("method", "")),
            }
            self._started, self._last_tick = time.time(), time.perf_counter()

    def log(self, record: StepRecord) -> None:  # noqa: D102 - see Tracker
        now = time.perf_counter()
        with self._lock:
            totals = self._totals.setdefault(record.method, _StepTotals())
            totals.steps += 1
            for _, name, _ in STEP_COUNTERS[1:]:  # the record fields of the same names
                setattr(totals, name, getattr(totals, name) + getattr(record, name))
            totals.gradient_s.observe(record.seconds)
            totals.step_s.observe(now - (self._last_tick or now))
            self._last_tick, self._last = now, record
            ids = set(record.calibration_ids)
            if self._calibrations is not None:
                self._calibration_changes += len(ids - self._calibrations)
            self._calibrations = ids
            self._monitor = monitor_decision(record.monitor)
            if self._monitor != "none":
                self._decisions[self._monitor] += 1

    def finish(self, summary: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        with self._lock:
            self._finished = True
            self._converged = str(summary.get("stopped_by")) not in BUDGET_STOPS

    @property
    def registry(self) -> CollectorRegistry:
        """A registry of its own holding only this run's metrics."""
        if self._registry is None:
            from prometheus_client import CollectorRegistry  # noqa: PLC0415 - optional extra

            self._registry = CollectorRegistry()
            self._registry.register(cast("Collector", self))  # a collector is what has collect()
        return self._registry

    def render(self) -> str:
        """The metrics in the Prometheus text format (what a scrape returns)."""
        from prometheus_client import generate_latest  # noqa: PLC0415 - optional extra

        return generate_latest(self.registry).decode("utf-8")

    def collect(self) -> Iterator[Metric]:
        """Every metric family, from one consistent snapshot (called by each scrape)."""
        with self._lock:
            base = (
                self.run_id or "run",
                "unknown" if self.executor is None else self.executor.name,
            )
            families = [
                *self._run_families(base),
                *self._executor_families(base),
                *self._step_families(base),
                *self._monitor_families(base),
            ]
        yield from families

    def _run_gauges(self) -> dict[str, tuple[str, float | None]]:
        budget = self.budget
        return {
            "qtrain_run_start_time_seconds": ("Unix time this session started.", self._started),
            "qtrain_run_finished": ("1 once the run has ended.", float(self._finished)),
            "qtrain_run_converged": ("1 if a stop rule, not a budget, ended it.", self._converged),
            "qtrain_budget_steps": (
                "The step budget.",
                None if budget is None else budget.max_steps,
            ),
            "qtrain_budget_shots": (
                "The shot budget.",
                None if budget is None else budget.max_shots,
            ),
            "qtrain_budget_seconds": (
                "The wall-time budget.",
                None if budget is None else budget.max_seconds,
            ),
            "qtrain_loss_exact": ("The problem's known minimum loss.", self.exact_value),
        }

    def _run_families(self, base: tuple[str, str]) -> Iterator[Metric]:
        from prometheus_client.core import (  # noqa: PLC0415 - optional extra
            CounterMetricFamily,
            GaugeMetricFamily,
            InfoMetricFamily,
        )

        names = ["run_id", "backend"]
        info = InfoMetricFamily(
            "qtrain_run", "The run: qtrain version, seed, config hash.", labels=names
        )
        info.add_metric(list(base), self._info)
        yield info
        for name, (text, value) in self._run_gauges().items():
            if value is not None:  # no budget, no exact value: no series
                gauge = GaugeMetricFamily(name, text, labels=names)
                gauge.add_metric(list(base), float(value))
                yield gauge
        changes = CounterMetricFamily(
            "qtrain_calibration_changes",
            "New backend calibration ids seen after the first step.",
            labels=names,
        )
        changes.add_metric(list(base), float(self._calibration_changes))
        yield changes

    def _executor_families(self, base: tuple[str, str]) -> Iterator[Metric]:
        from prometheus_client.core import (  # noqa: PLC0415 - optional extra
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        if self.executor is None:
            return
        counters = self.executor.counters
        for name, attribute, text in EXECUTOR_COUNTERS:
            family = CounterMetricFamily(name, text, labels=["run_id", "backend"])
            family.add_metric(list(base), float(getattr(counters, attribute)))
            yield family
        ratio = GaugeMetricFamily(
            "qtrain_exec_partial_failure_ratio",
            "Share of backend calls that returned some missing or invalid results.",
            labels=["run_id", "backend"],
        )
        ratio.add_metric(list(base), counters.partial / counters.calls if counters.calls else 0.0)
        yield ratio
        latencies = counters.latencies_s  # appended to by executor threads; read what is there
        seen, self._latencies_seen = self._latencies_seen, len(latencies)
        for value in latencies[seen : self._latencies_seen]:
            self._latency.observe(value)
        histogram = HistogramMetricFamily(
            "qtrain_exec_call_seconds", "Latency of backend calls.", labels=["run_id", "backend"]
        )
        histogram.add_metric(list(base), self._latency.cumulative(), self._latency.sum)
        yield histogram

    def _step_families(self, base: tuple[str, str]) -> Iterator[Metric]:
        from prometheus_client.core import (  # noqa: PLC0415 - optional extra
            CounterMetricFamily,
            GaugeMetricFamily,
            HistogramMetricFamily,
        )

        names = ["run_id", "backend", "method"]
        for name, attribute, text in STEP_COUNTERS:
            counter = CounterMetricFamily(name, text, labels=names)
            for method, totals in self._totals.items():
                counter.add_metric([*base, method], float(getattr(totals, attribute)))
            yield counter
        histograms = (
            (
                "qtrain_gradient_seconds",
                "gradient_s",
                "Time to a finished gradient (a step's run).",
            ),
            ("qtrain_step_seconds", "step_s", "Wall time between finished steps."),
        )
        for name, attribute, text in histograms:
            histogram = HistogramMetricFamily(name, text, labels=names)
            for method, totals in self._totals.items():
                data: _Histogram = getattr(totals, attribute)
                histogram.add_metric([*base, method], data.cumulative(), data.sum)
            yield histogram
        last = self._last
        for name, attribute, text in STEP_GAUGES:
            gauge = GaugeMetricFamily(name, text, labels=names)
            if last is not None:
                value = getattr(last, attribute)
                gauge.add_metric([*base, last.method], float("nan") if value is None else value)
            yield gauge
        steps = GaugeMetricFamily("qtrain_run_steps", "Steps the run has finished.", labels=names)
        if last is not None:
            steps.add_metric([*base, last.method], float(last.step + 1))
        yield steps

    def _monitor_families(self, base: tuple[str, str]) -> Iterator[Metric]:
        from prometheus_client.core import (  # noqa: PLC0415 - optional extra
            CounterMetricFamily,
            StateSetMetricFamily,
        )

        state = StateSetMetricFamily(
            "qtrain_monitor_state",
            "The plateau monitor's last decision (none: no monitor).",
            labels=["run_id", "backend"],
        )
        states = ("none", *MONITOR_DECISIONS, "other")
        state.add_metric(list(base), {s: s == self._monitor for s in states})
        yield state
        decisions = CounterMetricFamily(
            "qtrain_monitor_decisions",
            "Plateau-monitor decisions, by decision.",
            labels=["run_id", "backend", "decision"],
        )
        for decision, count in self._decisions.items():
            decisions.add_metric([*base, decision], float(count))
        yield decisions

    def serve(self, port: int = 9464, *, host: str = "127.0.0.1") -> MetricsTracker:
        """Serve ``/metrics`` (any path) on ``host:port`` in a daemon thread; returns self.

        Raises:
            ConfigError: a bad port, or the address is taken.
        """
        from prometheus_client import start_http_server  # noqa: PLC0415 - optional extra

        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigError(f"metrics port must be an int in 0..65535, got {port!r}")
        if self._server is not None:
            raise ConfigError(f"already serving metrics on port {self.port}")
        try:
            self._server = start_http_server(port, addr=host, registry=self.registry)
            self._host = host
        except OSError as error:
            raise ConfigError(f"cannot serve metrics on {host}:{port}: {error.strerror}") from None
        return self

    @property
    def port(self) -> int | None:
        """The port being served (``serve(0)`` picks a free one), or ``None``."""
        return None if self._server is None else int(self._server[0].server_port)

    @property
    def url(self) -> str | None:
        """``http://host:port/metrics`` while serving."""
        if self._server is None:
            return None
        return f"http://{self._host}:{self.port}/metrics"

    def close(self) -> None:
        """Stop serving (the tracker keeps its numbers)."""
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
            self._server = None

    def __enter__(self) -> MetricsTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def serve_metrics(
    port: int = 9464,
    *,
    host: str = "127.0.0.1",
    run_id: str | None = None,
    executor: Executor | None = None,
    budget: Budget | None = None,
    exact_value: float | None = None,
) -> MetricsTracker:
    """A :class:`MetricsTracker` already serving on ``host:port``: pass it to ``fit``.

    Raises:
        ConfigError: a bad port, or the address is taken.
    """
    tracker = MetricsTracker(
        run_id=run_id, executor=executor, budget=budget, exact_value=exact_value
    )
    return tracker.serve(port, host=host)
