"""The report's tables: the summary, the plan against the run, execution and tracking.

Numbers are rounded for people: durations to 3 significant digits with their unit, ratios to
2, losses and energies to 6 (enough to read chemical accuracy, 1.6 mHa), counts in full with
thousands separators. Each value of ``summary.json`` is shown once, under one name: the
problem's own report repeats the final loss as ``energy`` and ``loss`` and the error as
``error_vs_fci``; entries equal to a value already shown are left out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from qtrain.exec.pricing import money_text
from qtrain.train.records import StepRecord

__all__ = [
    "cost_rows",
    "execution_rows",
    "plan_rows",
    "rounded",
    "rows",
    "seconds",
    "summary_rows",
    "tracking_rows",
]

_EXECUTION_NAMES = {
    "retries": "backend retries",
    "failed_rows": "failed or invalid rows",
    "rejected_results": "results rejected by validation",
    "throttled_calls": "calls throttled by the backend",
    "abandoned_calls": "calls abandoned",
    "cached_rows": "rows read from the store",
    "wasted_shots": "shots wasted on failed rows",
}


def rounded(value: float, digits: int = 6) -> str:
    """``value`` to ``digits`` significant digits, positional unless tiny or huge."""
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    magnitude = math.floor(math.log10(abs(value)))
    if magnitude < -4 or magnitude >= 9:
        return f"{value:.{digits - 1}e}"
    decimals = max(0, digits - 1 - magnitude)
    text = f"{round(value, decimals):,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def seconds(value: float) -> str:
    """A duration for people: 3 significant digits and a unit."""
    if value < 1:
        return f"{rounded(value * 1e3, 3)} ms"
    if value >= 120:
        return f"{rounded(value / 60, 3)} min"
    return f"{rounded(value, 3)} s"


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return rounded(value)
    return html.escape(str(value))


def rows(pairs: Sequence[tuple[str, Any]]) -> str:
    """Table rows ``<tr><th>name</th><td>value</td></tr>``; strings are shown as they are."""
    return "".join(
        f"<tr><th>{html.escape(k)}</th><td class=n>{_cell(v)}</td></tr>" for k, v in pairs
    )


def _same(a: Any, b: Any) -> bool:
    numbers = (int, float)
    if isinstance(a, bool) or isinstance(b, bool):
        return False
    if isinstance(a, numbers) and isinstance(b, numbers):
        return math.isclose(float(a), float(b), rel_tol=1e-12, abs_tol=1e-15)
    return False


def summary_rows(records: Sequence[StepRecord], summary: Mapping[str, Any]) -> str:
    """The summary: how the run ended, its loss, error, shots, time, seed, problem report."""
    last = records[-1] if records else None
    wall = summary.get("seconds", None if last is None else last.elapsed)
    pairs: list[tuple[str, Any]] = [
        ("stopped by", summary.get("stopped_by", "still running or crashed (no summary.json)")),
        ("steps", summary.get("steps", len(records))),
        ("last measured loss", None if last is None else last.loss),
        ("its standard error", None if last is None else last.loss_stderr),
        ("final loss (exact, at final θ)", summary.get("final_loss_exact")),
        ("exact minimum", summary.get("exact_value")),
        ("error (final − exact minimum)", summary.get("error")),
        ("shots spent", summary.get("shots", None if last is None else last.shots_total)),
        ("wall time", None if wall is None else seconds(float(wall))),
        ("seed", summary.get("seed")),
    ]
    pairs += cost_rows(records, summary)
    shown = [v for _, v in pairs]
    problem = summary.get("problem") or {}
    for key, value in (problem.get("report") or {}).items():
        if key != "chemical_accuracy" and any(_same(value, v) for v in shown):
            continue  # already shown under its generic name
        entry = bool(value) if key == "chemical_accuracy" else value  # a number meant as yes/no
        pairs.append((f"{problem.get('name', 'problem')}: {key.replace('_', ' ')}", entry))
        shown.append(entry)
    return rows(pairs)


def cost_rows(records: Sequence[StepRecord], summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Money per run and per step, from the summary's ``cost`` (else the steps' records).

    Rounded to the cent for display; the records keep micro-units (``exec.pricing``).
    """
    cost = summary.get("cost") or {}
    priced = [r.cost for r in records if r.cost is not None]
    if not cost and not priced:
        return []
    currency = str(cost.get("currency", ""))
    total = cost.get("total", records[-1].cost_total if records else None)
    mean = cost.get("per_step_mean", sum(priced) / len(priced) if priced else None)
    pairs = [("money spent", money_text(total, currency).strip())]
    pairs.append(("money per step (mean)", money_text(mean, currency).strip()))
    if priced:
        low, high = min(priced), max(priced)
        pairs.append(
            (
                "money per step (range)",
                f"{money_text(low, currency)} – {money_text(high, currency)}",
            )
        )
    if cost.get("table"):
        pairs.append(("pricing table", str(cost["table"])))
    return pairs


def plan_rows(plan: Mapping[str, Any]) -> str:
    """``qtrain plan``'s estimate against the measured run."""
    pairs: list[tuple[str, Any]] = [("basis", plan.get("basis"))]
    for key, name in (
        ("estimated_seconds", "estimated time for the steps run"),
        ("measured_seconds", "measured time"),
        ("estimated_seconds_budget", "estimated time for the whole budget"),
        ("step_seconds", "estimated time per step"),
        ("warmup_seconds", "estimated warm-up"),
    ):
        if isinstance(plan.get(key), int | float):
            pairs.append((name, seconds(float(plan[key]))))
    ratio = plan.get("ratio")
    if isinstance(ratio, int | float):
        pairs.append(("measured ÷ estimated", f"×{rounded(float(ratio), 2)}"))
    return rows(pairs)


def execution_rows(records: Sequence[StepRecord], execution: Mapping[str, Any] | None) -> str:
    """Reliability totals: the executor's counters when the summary has them, else the steps'."""
    calibrations = sorted({c for r in records for c in r.calibration_ids})
    pairs: list[tuple[str, Any]] = [("circuits (rows) evaluated", sum(r.circuits for r in records))]
    if execution:
        pairs += [(_EXECUTION_NAMES.get(k, k.replace("_", " ")), v) for k, v in execution.items()]
    else:
        pairs += [
            ("backend retries", sum(r.retries for r in records)),
            ("failed or invalid rows", sum(r.failures for r in records)),
            ("rows read from the store", sum(r.cached for r in records)),
        ]
    pairs.append(("calibration ids seen", ", ".join(calibrations) or "-"))
    return rows(pairs)


def tracking_rows(tracking: Mapping[str, Any]) -> str:
    """Where trackers logged the run (``tracking.mlflow``: URI, experiment, run id)."""
    pairs: list[tuple[str, Any]] = []
    for kind, where in tracking.items():
        if isinstance(where, Mapping):
            pairs += [(f"{kind} {k.replace('_', ' ')}", str(v)) for k, v in where.items()]
        else:
            pairs.append((kind, str(where)))
    return rows(pairs)
