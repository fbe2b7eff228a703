"""Prometheus metrics of a training run, fed by its step records and its executor's counters.

:class:`MetricsTracker` is a :class:`~qtrain.train.tracking.Tracker` and a Prometheus
collector: every scrape reads the executor's live counters and the tracker's totals of the
step records under one lock, so a scrape never sees half a step. Labels: ``run_id``,
``backend``, ``method`` (step metrics), ``decision`` (a fixed set, monitor counter) — never a
parameter or a task. ``docs/operations.md`` lists every metric (``metrics_schema.py``).

One call serves them for a library run (``prometheus-client``, the ``metrics`` extra)::

    with qt.serve_metrics(9464, executor=executor) as metrics:   # http://127.0.0.1:9464/
        qt.fit(objective, theta0, optimizer, executor=executor, trackers=[metrics])

``qtrain train CONFIG --metrics-port 9464`` does the same for the length of a CLI run, and
serves the final state for ``--metrics-grace`` seconds after it (``grace=`` here; 0 by
default) so that ``qtrain_run_finished = 1`` can be scraped. ``push=URL`` (``--metrics-push``)
also pushes the metrics to a Prometheus Pushgateway, at most every ``push_interval`` seconds
and at the end (:mod:`~qtrain.observe.metrics_push`). The ``run_id`` label is the run
folder's name wherever a runner binds it (``qtrain train``, ``train_from_config``).

The rooms: :mod:`~qtrain.observe.metrics_state` (what the tracker counts between scrapes),
:mod:`~qtrain.observe.metrics_families` (the families of one scrape),
:mod:`~qtrain.observe.metrics_server` (the HTTP endpoint), :mod:`~qtrain.observe.metrics_schema`
(names and help texts), :mod:`~qtrain.observe.metrics_push` (the Pushgateway).
"""

from __future__ import annotations

import importlib.metadata
import math
import threading
import time
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, cast

from qtrain.errors import ConfigError
from qtrain.exec.executor import Executor
from qtrain.extras import require
from qtrain.observe.metrics_families import (
    executor_families,
    monitor_families,
    operations_families,
    run_families,
    step_families,
)
from qtrain.observe.metrics_push import MetricsPusher
from qtrain.observe.metrics_schema import NOT_CONVERGED_STOPS
from qtrain.observe.metrics_server import MetricsServer
from qtrain.observe.metrics_state import RunTotals
from qtrain.train.records import StepRecord
from qtrain.train.stopping import Budget
from qtrain.train.tracking import RunContext, run_id_of

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric
    from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["MetricsTracker", "serve_metrics"]


class MetricsTracker:
    """A tracker whose state is exported as Prometheus metrics (see the module docstring).

    Args:
        run_id: the ``run_id`` label (default: the run folder's name the runner binds, else
            the run folder's name ``qt.fit`` reports, else the config hash prefix).
        executor: the run's executor, whose counters and call latencies are exported.
        budget: the run's budget (exported as ``qtrain_budget_*``).
        exact_value: the known minimum (``qtrain_loss_exact``).
        grace: seconds :meth:`linger` (and leaving a ``with`` block) keeps serving the final
            state of a finished run before the server stops.
        push: a Prometheus Pushgateway URL to push to (job ``qtrain``, grouping key
            ``run_id``), at most every ``push_interval`` seconds and at the end.

    Raises:
        ConfigError: a negative or non-finite ``grace``, a bad push URL or interval.
    """

    def __init__(
        self,
        *,
        run_id: str | None = None,
        executor: Executor | None = None,
        budget: Budget | None = None,
        exact_value: float | None = None,
        grace: float = 0.0,
        push: str | None = None,
        push_interval: float = 10.0,
    ) -> None:
        require("prometheus_client", extra="metrics", purpose="Prometheus metrics")
        bad = isinstance(grace, bool) or not isinstance(grace, int | float)
        if bad or not math.isfinite(grace) or grace < 0:
            raise ConfigError(f"metrics grace must be >= 0 seconds, got {grace!r}")
        self.run_id, self.executor, self.budget = run_id, executor, budget
        self.exact_value, self.grace = exact_value, float(grace)
        self.pusher = None if push is None else MetricsPusher(push, interval=push_interval)
        self._lock = threading.Lock()
        self._state = RunTotals()
        self._registry: CollectorRegistry | None = None
        self._server = MetricsServer()
        self._closed = threading.Event()

    def bind(self, context: RunContext) -> None:  # noqa: D102 - see RunContext
        self.run_id = self.run_id or context.run_id
        self.executor = self.executor or context.executor
        self.budget = self.budget or context.budget
        self.exact_value = context.exact_value if self.exact_value is None else self.exact_value

    def start(self, info: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        settings = info.get("settings", {})
        with self._lock:
            self.run_id = self.run_id or run_id_of(info)
            self._state.info = {
                "version": importlib.metadata.version("qtrain"),
                "seed": str(settings.get("seed", "")),
                "config_hash": str(info.get("config_hash", "")),
                "method": str(settings.get("method", "")),
            }
            self._state.begin()
        self._push(force=False)  # the gateway knows the run from its start

    def log(self, record: StepRecord) -> None:  # noqa: D102 - see Tracker
        now = time.perf_counter()
        with self._lock:
            self._state.record(record, now)
        self._push(force=False)

    def finish(self, summary: Mapping[str, Any]) -> None:  # noqa: D102 - see Tracker
        stopped_by = str(summary.get("stopped_by"))
        with self._lock:
            self._state.finished = True
            self._state.converged = stopped_by not in NOT_CONVERGED_STOPS
            if stopped_by == "drift":  # paused before the step: no record says so
                self._state.paused_by_drift()
        self._push(force=True)

    def abort(self, error: BaseException) -> None:
        """The run died: push the state it reached (it stays unfinished)."""
        self._push(force=True)

    def _push(self, *, force: bool) -> None:
        if self.pusher is not None:  # outside the lock: the push scrapes the registry
            self.pusher.push(self.registry, self.run_id or "run", force=force)

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
            state = self._state
            base = (
                self.run_id or "run",
                "unknown" if self.executor is None else self.executor.name,
            )
            families = [
                *run_families(state, base, self.budget, self.exact_value),
                *executor_families(state, base, self.executor),
                *step_families(state, base),
                *monitor_families(state, base),
                *operations_families(state, base),
            ]
        yield from families

    def serve(self, port: int = 9464, *, host: str = "127.0.0.1") -> MetricsTracker:
        """Serve ``/metrics`` (any path) on ``host:port`` in a daemon thread; returns self.

        Raises:
            ConfigError: a bad port, or the address is taken.
        """
        self._server.start(self.registry, port, host)
        self._closed.clear()
        return self

    @property
    def port(self) -> int | None:
        """The port being served (``serve(0)`` picks a free one), or ``None``."""
        return self._server.port

    @property
    def url(self) -> str | None:
        """``http://host:port/metrics`` while serving."""
        return self._server.url

    @property
    def finished(self) -> bool:
        """Whether the run has ended (its final state is what a scrape returns)."""
        with self._lock:
            return self._state.finished

    def linger(self) -> None:
        """Keep serving a finished run's final state for ``grace`` seconds (Ctrl-C ends it).

        Returns at once when not serving, with no grace, or before the run has finished.
        """
        if self.url is None or self.grace <= 0 or not self.finished:
            return
        try:
            self._closed.wait(self.grace)  # close() from another thread ends it early
        except KeyboardInterrupt:
            pass  # the wait was only for scrapers: ending it early is no failure

    def close(self) -> None:
        """Stop serving (the tracker keeps its numbers; a :meth:`linger` returns)."""
        self._closed.set()
        self._server.close()

    def __enter__(self) -> MetricsTracker:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            if exc[0] is None:
                self.linger()
        finally:
            self.close()


def serve_metrics(
    port: int = 9464,
    *,
    host: str = "127.0.0.1",
    run_id: str | None = None,
    executor: Executor | None = None,
    budget: Budget | None = None,
    exact_value: float | None = None,
    grace: float = 0.0,
    push: str | None = None,
    push_interval: float = 10.0,
) -> MetricsTracker:
    """A :class:`MetricsTracker` already serving on ``host:port``: pass it to ``fit``.

    Leaving its ``with`` block keeps serving a finished run for ``grace`` seconds; ``push``
    also pushes to a Pushgateway (see :class:`MetricsTracker`).

    Raises:
        ConfigError: a bad port, grace or push URL, or the address is taken.
    """
    tracker = MetricsTracker(
        run_id=run_id,
        executor=executor,
        budget=budget,
        exact_value=exact_value,
        grace=grace,
        push=push,
        push_interval=push_interval,
    )
    return tracker.serve(port, host=host)
