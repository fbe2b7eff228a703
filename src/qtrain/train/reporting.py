"""What a run reports: the :class:`StepRecord` of each step and the run's ``summary.json``."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.exec.counters import ExecutorCounters
from qtrain.exec.pricing import MICRO, PricingTable, to_decimal
from qtrain.train.evaluation import Evaluation
from qtrain.train.records import StepRecord, gradient_summary
from qtrain.train.state import RunState

__all__ = [
    "cost_summary",
    "execution_summary",
    "mitigation_effect",
    "run_summary",
    "step_record",
    "with_cost",
]


def step_record(
    state: RunState, evaluation: Evaluation, learning_rate: float, cost: int, seconds: float
) -> StepRecord:
    """The record of the step measured at ``state.theta`` (counters filled in by the loop)."""
    norm, norm_err, snr = gradient_summary(evaluation.gradient, evaluation.gradient_stderr)
    return StepRecord(
        step=state.step,
        loss=evaluation.loss,
        loss_stderr=evaluation.loss_stderr,
        grad_norm=norm,
        grad_norm_stderr=norm_err,
        grad_snr=None if snr is None or math.isinf(snr) else snr,
        learning_rate=float(learning_rate),
        shots=cost,
        shots_total=state.shots_total + cost,
        circuits=evaluation.n_circuits,
        retries=0,
        failures=0,
        cached=0,
        seconds=seconds,
        elapsed=0.0,
        method=evaluation.method,
        calibration_ids=evaluation.calibration_ids,
        gradient=tuple(float(g) for g in evaluation.gradient),
        gradient_stderr=()
        if evaluation.gradient_stderr is None
        else tuple(float(s) for s in evaluation.gradient_stderr),
        theta=tuple(float(x) for x in state.theta),
        mitigation=mitigation_effect(evaluation),
    )


def mitigation_effect(evaluation: Evaluation) -> dict[str, Any] | None:
    """``{"raw", "mitigated"}``: the step's loss before and after error mitigation.

    ``None`` when its results were not mitigated; ``raw`` is ``None`` when the mitigating
    backend could not say the unmitigated values (``Evaluation.raw_loss``).
    """
    raw = evaluation.raw_loss
    if raw is None:
        return None
    return {"raw": raw if math.isfinite(raw) else None, "mitigated": evaluation.loss}


def run_summary(
    state: RunState,
    reason: str,
    final: float | None,
    *,
    exact_value: float | None,
    config_hash: str,
    seed: int,
) -> dict[str, Any]:
    """``summary.json``: why and where the run ended, what it spent."""
    last = state.history[-1] if state.history else None
    return {
        "stopped_by": reason,
        "steps": state.step,
        "shots": state.shots_total,
        "seconds": state.elapsed,
        "final_loss_exact": final,
        "last_loss": None if last is None else last.loss,
        "last_loss_stderr": None if last is None else last.loss_stderr,
        "exact_value": exact_value,
        "error": None if final is None or exact_value is None else final - exact_value,
        "theta": [float(x) for x in state.theta],
        "config_hash": config_hash,
        "seed": seed,
    }


def execution_summary(history: Sequence[StepRecord], counters: ExecutorCounters) -> dict[str, Any]:
    """The summary's ``execution``: what the backend made the run go through.

    ``retries``, ``failed_rows`` and ``cached_rows`` are the whole run's (summed over the step
    records, so a resumed run counts its earlier sessions too); the rest are the executor
    counters of this session: ``rejected_results`` (calls that returned with results missing
    or invalid), ``throttled_calls``, ``abandoned_calls`` (timed out) and ``wasted_shots``
    (shots of rejected results and of calls that came back after their timeout).
    """
    return {
        "retries": sum(r.retries for r in history),
        "failed_rows": sum(r.failures for r in history),
        "cached_rows": sum(r.cached for r in history),
        "rejected_results": counters.partial,
        "throttled_calls": counters.throttled,
        "abandoned_calls": counters.abandoned,
        "wasted_shots": counters.rejected_shots + counters.abandoned_shots,
    }


def cost_summary(state: RunState, pricing: PricingTable) -> dict[str, Any]:
    """The summary's ``cost``: ``{currency, total, per_step_mean, table}``.

    ``total`` is the run's (``RunState.cost_total``: its steps' money and what refused steps
    spent); ``per_step_mean`` the mean of the steps' ``cost`` (``None`` before a step);
    ``table`` where the pricing table came from. Amounts in the table's currency.
    """
    costs = [to_decimal(r.cost) for r in state.history if r.cost is not None]
    mean = None
    if costs:
        mean = float((sum(costs, Decimal(0)) / len(costs)).quantize(MICRO, ROUND_HALF_EVEN))
    return {
        "currency": pricing.currency,
        "total": state.cost_total,
        "per_step_mean": mean,
        "table": pricing.source,
    }


def with_cost(
    report: Callable[[NDArray[np.float64]], Mapping[str, Any]] | None,
    pricing: PricingTable | None,
    state: RunState,
) -> Callable[[NDArray[np.float64]], Mapping[str, Any]] | None:
    """``report`` with the summary's ``cost`` added when the run has a pricing table."""
    if pricing is None:
        return report

    def priced(theta: NDArray[np.float64]) -> Mapping[str, Any]:
        extra = {} if report is None else dict(report(theta))
        return {**extra, "cost": cost_summary(state, pricing)}

    return priced
