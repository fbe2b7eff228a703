"""The metric families of one scrape, built from a tracker's totals and its executor.

Each builder reads a :class:`~qtrain.observe.metrics_state.RunTotals` (under the tracker's
lock) and yields ``prometheus_client`` metric families labelled ``run_id`` and ``backend``
(``base``), with ``method`` for step metrics, ``decision`` for the monitor counter and
``action`` for drift detections. The
names, help texts and the record fields behind them are in :mod:`qtrain.observe.metrics_schema`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from qtrain.exec.executor import Executor
from qtrain.observe.metrics_schema import (
    DRIFT_ACTIONS,
    EXECUTOR_COUNTERS,
    LAST_SEEN_GAUGES,
    STEP_COUNTERS,
    STEP_GAUGES,
)
from qtrain.observe.metrics_state import LatencyHistogram, RunTotals
from qtrain.train.stopping import Budget
from qtrain.train.tracking import MONITOR_DECISIONS

if TYPE_CHECKING:
    from prometheus_client.metrics_core import Metric

__all__ = [
    "executor_families",
    "monitor_families",
    "operations_families",
    "run_families",
    "step_families",
]

Base = tuple[str, str]  # (run_id, backend)
_STEP_HISTOGRAMS = (
    ("qtrain_gradient_seconds", "gradient_s", "Time to a finished gradient (a step's run)."),
    ("qtrain_step_seconds", "step_s", "Wall time between finished steps."),
)


def _run_gauges(
    state: RunTotals, budget: Budget | None, exact_value: float | None
) -> dict[str, tuple[str, float | None]]:
    return {
        "qtrain_run_start_time_seconds": ("Unix time this session started.", state.started),
        "qtrain_last_progress_timestamp_seconds": (
            "Unix time of the session's start or its last finished step.",
            state.progress,
        ),
        "qtrain_run_finished": ("1 once the run has ended.", float(state.finished)),
        "qtrain_run_converged": ("1 if a stop rule, not a budget, ended it.", state.converged),
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
        "qtrain_budget_cost": (
            "The money budget (pricing table's currency).",
            getattr(budget, "max_cost", None),
        ),
        "qtrain_loss_exact": ("The problem's known minimum loss.", exact_value),
    }


def run_families(
    state: RunTotals, base: Base, budget: Budget | None, exact_value: float | None
) -> Iterator[Metric]:
    """The run's info, start time, end state, budgets, exact loss and calibration changes."""
    from prometheus_client.core import (  # noqa: PLC0415 - optional extra
        CounterMetricFamily,
        GaugeMetricFamily,
        InfoMetricFamily,
    )

    names = ["run_id", "backend"]
    info = InfoMetricFamily(
        "qtrain_run", "The run: qtrain version, seed, config hash.", labels=names
    )
    info.add_metric(list(base), state.info)
    yield info
    for name, (text, value) in _run_gauges(state, budget, exact_value).items():
        if value is not None:  # no budget, no exact value: no series
            gauge = GaugeMetricFamily(name, text, labels=names)
            gauge.add_metric(list(base), float(value))
            yield gauge
    changes = CounterMetricFamily(
        "qtrain_calibration_changes",
        "New backend calibration ids seen after the first step.",
        labels=names,
    )
    changes.add_metric(list(base), float(state.calibration_changes))
    yield changes


def executor_families(state: RunTotals, base: Base, executor: Executor | None) -> Iterator[Metric]:
    """The executor's counters, partial-failure ratio and call latencies (none without one)."""
    from prometheus_client.core import (  # noqa: PLC0415 - optional extra
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    if executor is None:
        return
    counters = executor.counters
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
    state.read_latencies(counters.latencies_s)  # appended to by executor threads
    histogram = HistogramMetricFamily(
        "qtrain_exec_call_seconds", "Latency of backend calls.", labels=["run_id", "backend"]
    )
    histogram.add_metric(list(base), state.latency.cumulative(), state.latency.sum)
    yield histogram


def step_families(state: RunTotals, base: Base) -> Iterator[Metric]:
    """Step counters and latency histograms per method, the last record's gauges."""
    from prometheus_client.core import (  # noqa: PLC0415 - optional extra
        CounterMetricFamily,
        GaugeMetricFamily,
        HistogramMetricFamily,
    )

    names = ["run_id", "backend", "method"]
    for name, attribute, text in STEP_COUNTERS:
        counter = CounterMetricFamily(name, text, labels=names)
        for method, totals in state.totals.items():
            counter.add_metric([*base, method], float(getattr(totals, attribute)))
        yield counter
    for name, attribute, text in _STEP_HISTOGRAMS:
        histogram = HistogramMetricFamily(name, text, labels=names)
        for method, totals in state.totals.items():
            data: LatencyHistogram = getattr(totals, attribute)
            histogram.add_metric([*base, method], data.cumulative(), data.sum)
        yield histogram
    last = state.last
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


def monitor_families(state: RunTotals, base: Base) -> Iterator[Metric]:
    """The plateau monitor's last decision (a state set) and its decisions by kind."""
    from prometheus_client.core import (  # noqa: PLC0415 - optional extra
        CounterMetricFamily,
        StateSetMetricFamily,
    )

    family = StateSetMetricFamily(
        "qtrain_monitor_state",
        "The plateau monitor's last decision (none: no monitor).",
        labels=["run_id", "backend"],
    )
    states = ("none", *MONITOR_DECISIONS, "other")
    family.add_metric(list(base), {s: s == state.monitor for s in states})
    yield family
    decisions = CounterMetricFamily(
        "qtrain_monitor_decisions",
        "Plateau-monitor decisions, by decision.",
        labels=["run_id", "backend", "decision"],
    )
    for decision, count in state.decisions.items():
        decisions.add_metric([*base, decision], float(count))
    yield decisions


def _number(value: object) -> float:
    """A dict entry as a sample value: NaN when missing or not a number."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")
    return float(value)


def operations_families(state: RunTotals, base: Base) -> Iterator[Metric]:
    """Drift canary, validation, mitigation effect, drift detections and backend switches."""
    from prometheus_client.core import (  # noqa: PLC0415 - optional extra
        CounterMetricFamily,
        GaugeMetricFamily,
        InfoMetricFamily,
    )

    names = ["run_id", "backend"]
    for name, source, key, text in LAST_SEEN_GAUGES:
        gauge = GaugeMetricFamily(name, text, labels=names)
        gauge.add_metric(list(base), _number(state.last_seen.get(source, {}).get(key)))
        yield gauge
    drift = GaugeMetricFamily(
        "qtrain_drift_detected",
        "1 if the last canary run detected drift (or a drift pause ended the run).",
        labels=names,
    )
    drift.add_metric(list(base), float(state.drift_detected))
    yield drift
    for name, count, text in (
        ("qtrain_canary_runs", state.canary_runs, "Drift canary runs."),
        ("qtrain_canary_shots", state.canary_shots, "Shots the drift canary spent."),
        ("qtrain_backend_switches", state.backend_switches, "Changes of the steps' backend."),
    ):
        counter = CounterMetricFamily(name, text, labels=names)
        counter.add_metric(list(base), float(count))
        yield counter
    detections = CounterMetricFamily(
        "qtrain_drift_detections",
        "Canary runs that detected drift, by the action taken.",
        labels=[*names, "action"],
    )
    for action in DRIFT_ACTIONS:
        detections.add_metric([*base, action], float(state.drifts[action]))
    yield detections
    in_use = InfoMetricFamily(
        "qtrain_backend_in_use", "The backend the last step ran on.", labels=names
    )
    in_use.add_metric(list(base), {"in_use": state.backend or base[1]})
    yield in_use
