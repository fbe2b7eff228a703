"""``qtrain plan``'s view of a step's circuits and time, and the summary's plan check.

A run's summary says how far off the plan's time estimate was (:func:`plan_rows`).

>>> circuits_cell({"circuits": 40, "adjoint_circuits": 40, "rows": 0, "distinct_rows": 0})
'40 (adjoint passes)'
>>> plan_rows({"plan": {"estimated_seconds": 1.0, "measured_seconds": 1.1, "ratio": 1.1,
...                     "steps": 44}})
[('plan estimate', 'plan said ~1 s for 44 steps, took 1.1 s (×1.1)')]
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from qtrain.exec.pricing import money_text

__all__ = [
    "circuits_cell",
    "cost_lines",
    "hook_lines",
    "plan_rows",
    "seconds_text",
    "time_lines",
]


def seconds_text(value: float | None) -> str:
    """``~1.23 s``, ``~45 ms`` or ``unknown``."""
    if value is None:
        return "unknown"
    return f"~{value * 1e3:.3g} ms" if value < 0.1 else f"~{value:.3g} s"


def circuits_cell(step: Mapping[str, Any]) -> str:
    """Circuits a step evaluates: the executor's rows, and the adjoint method's circuits.

    >>> circuits_cell({"circuits": 17, "adjoint_circuits": 0, "rows": 17, "distinct_rows": 17})
    '17 (17 distinct)'
    """
    rows = f"{step['rows']:,} ({step['distinct_rows']:,} distinct)"
    adjoint = int(step.get("adjoint_circuits") or 0)
    if not adjoint:
        return rows
    passes = f"{adjoint:,} (adjoint passes)"
    return passes if not step["rows"] else f"{rows} + {passes}"


def cost_lines(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``cost``: money per step and for the affordable run, and what ``max_cost`` affords.

    >>> cost_lines({"cost": {"currency": "USD", "table": "t.yaml", "per_step": 0.615,
    ...     "step_tasks": 1, "calibration": 0.0, "total": 19.68, "max_cost": 20.0,
    ...     "affordable_steps": 32}})[1][1]
    '19.68 USD for 32 steps; max_cost 20.00 USD affords 32 steps'
    """
    cost = report.get("cost")
    if not cost:
        return []
    currency = cost["currency"]
    step = f"{money_text(cost['per_step'], currency)} ({cost['step_tasks']:,} task(s); table "
    run = f"{money_text(cost['total'], currency)} for {cost['affordable_steps']:,} steps"
    if cost.get("calibration"):
        run += f" (readout calibration {money_text(cost['calibration'], currency)} once)"
    if cost.get("max_cost") is not None:
        limit = money_text(cost["max_cost"], currency)
        run += f"; max_cost {limit} affords {cost['affordable_steps']:,} steps"
    return [("money per step", f"{step}{cost['table']})"), ("money for the run", run)]


def hook_lines(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``hooks``: one line for the drift canary and one for validation, when configured.

    >>> hook_lines({"hooks": {"validation": {"every_steps": 5, "shots_per_run": 400,
    ...     "first_run_shots": 400, "runs": 3, "shots": 1200, "money": None}}})
    [('validation', '400 shots a run, every 5 steps: 3 runs, 1,200 shots')]
    """
    currency = (report.get("cost") or {}).get("currency", "")
    lines = []
    names = {"drift": "drift canary", "validation": "validation"}
    for name, hook in (report.get("hooks") or {}).items():
        text = f"{hook['shots_per_run']:,} shots a run"
        if hook["first_run_shots"] != hook["shots_per_run"]:
            text += f" (the first {hook['first_run_shots']:,}: its baseline)"
        every = hook.get("every_steps")
        text += f", every {every} steps" if every else ", by time"
        text += f": {hook['runs']:,} runs, {hook['shots']:,} shots"
        if hook.get("money") is not None:
            text += f", {money_text(hook['money'], currency)}"
        lines.append((names.get(name, name), text))
    return lines


def time_lines(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``time``: what the estimate rests on, the warm-up, and where a step's time goes.

    Then the plan's money, when it has a pricing table (:func:`cost_lines`), and what its
    operations hooks spend (:func:`hook_lines`).
    """
    return _time_only(report) + cost_lines(report) + hook_lines(report)


def _time_only(report: Mapping[str, Any]) -> list[tuple[str, str]]:
    time = report.get("time")
    if not time:
        return []
    if time["step_seconds"] is None:
        return [("time", time["basis"])]
    parts = sorted(time["parts"].items(), key=lambda item: -item[1])
    shares = ", ".join(f"{name} {seconds_text(value)[1:]}" for name, value in parts if value > 0)
    return [
        ("time model", f"{time['basis']}; coefficients {time['coefficients']}"),
        (
            "time per step",
            f"{seconds_text(time['step_seconds'])[1:]} ({shares}); once per process: "
            f"warm-up {seconds_text(time['warmup_seconds'])[1:]}",
        ),
    ]


def plan_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The summary table's line comparing the plan's estimate with the steps that ran."""
    plan = summary.get("plan")
    if not plan:
        return []
    if plan.get("estimated_seconds") is None or plan.get("measured_seconds") is None:
        return [("plan estimate", str(plan.get("basis") or "unknown"))]
    said, took = plan["estimated_seconds"], plan["measured_seconds"]
    text = f"plan said {seconds_text(said)} for {plan['steps']:,} steps, took {took:.3g} s"
    return [("plan estimate", f"{text} (×{plan['ratio']:.2g})")]
