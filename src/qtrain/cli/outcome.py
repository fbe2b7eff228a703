"""What the terminal says about a finished run beside its numbers.

:func:`execution_rows`: what the backend put the run through (retries, failed rows, rejected
results — the summary's ``execution``), shown only when something happened.
:func:`run_notes`: the lines after the summary — where MLflow logged the run, and why a
resume that had nothing left to do ran nothing (with the option that continues it).
:func:`stop_exit`: the exit status and one-line message of a run that stopped to be resumed
later (``drift`` and ``calibration_stale``: exit status :data:`EXIT_PAUSED`, 75,
``EX_TEMPFAIL`` of ``sysexits.h``: try again later, with ``qtrain resume``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["EXIT_PAUSED", "execution_rows", "run_notes", "stop_exit"]

EXIT_PAUSED = 75
"""``qtrain train|resume`` exit status of a run paused to be resumed: by the drift policy
``pause``, or by a calibration older than ``calibration.max_age`` (policy ``refuse``)."""

_EXECUTION_ROWS = (
    ("retries", "backend retries"),
    ("failed_rows", "failed or invalid rows (retried)"),
    ("rejected_results", "calls with rejected results"),
    ("throttled_calls", "throttled calls"),
    ("abandoned_calls", "calls abandoned after their timeout"),
    ("wasted_shots", "shots of rejected or late results"),
    ("cached_rows", "rows read from the result store"),
)

_BUDGETS = {
    "max_steps": ("step budget", "--max-steps"),
    "max_shots": ("shot budget", "--max-shots"),
    "max_seconds": ("time budget", "--max-seconds"),
}


def execution_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(label, value)`` for each non-zero count of the summary's ``execution``.

    >>> execution_rows({"execution": {"retries": 45, "failed_rows": 322, "cached_rows": 0}})
    [('backend retries', '45'), ('failed or invalid rows (retried)', '322')]
    """
    execution = summary.get("execution") or {}
    return [(label, f"{execution[key]:,}") for key, label in _EXECUTION_ROWS if execution.get(key)]


def _budget_hint(summary: Mapping[str, Any], run_dir: Path | None) -> tuple[str, str] | None:
    """A resume that ran no step because the budget was spent: which option continues it."""
    reason = str(summary.get("stopped_by"))
    if reason not in _BUDGETS:
        return None
    what, option = _BUDGETS[reason]
    if reason == "max_steps":
        spent, more = f"{summary['steps']:,} steps", str(2 * int(summary["steps"]))
    elif reason == "max_shots":
        spent, more = f"{summary['shots']:,} shots", str(2 * int(summary["shots"]))
    else:
        seconds = float(summary["seconds"])
        spent, more = f"{seconds:.3g} s", f"{2 * seconds:.3g}"
    folder = "RUN_DIR" if run_dir is None else str(run_dir)
    return (
        "resume.nothing_to_do",
        f"nothing ran: the run had already spent its {what} ({spent}). Continue it with a "
        f"larger one: qtrain resume {folder} {option} {more}",
    )


def run_notes(
    summary: Mapping[str, Any], run_dir: Path | None, *, first_step: int | None
) -> list[tuple[str, str]]:
    """``(event, text)`` lines to say after the summary.

    ``first_step``: the step the run started from; a resume that ends there ran nothing.

    >>> notes = run_notes({"stopped_by": "max_steps", "steps": 20, "shots": 850000},
    ...                   Path("runs/chaos"), first_step=20)
    >>> notes[0][1]
    'nothing ran: the run had already spent its step budget (20 steps). Continue it with a \
larger one: qtrain resume runs/chaos --max-steps 40'
    """
    notes = []
    mlflow = (summary.get("tracking") or {}).get("mlflow")
    if mlflow:
        uri = mlflow["tracking_uri"]
        notes.append(
            (
                "mlflow.run",
                f"MLflow: run {mlflow['run_id']} in experiment {mlflow['experiment']!r} at "
                f"{uri} (see it with: mlflow ui --backend-store-uri {uri})",
            )
        )
    steps = summary.get("steps")
    if first_step and steps == first_step:  # a resume that ran no step
        hint = _budget_hint(summary, run_dir)
        if hint is not None:
            notes.append(hint)
    return notes


def stop_exit(summary: Mapping[str, Any], run_dir: Path | None) -> tuple[int, str, str] | None:
    """``(exit status, event, message)`` of a run paused to be resumed; ``None`` otherwise.

    >>> stop_exit({"stopped_by": "drift", "steps": 12}, Path("runs/h2"))[0]
    75
    >>> stop_exit({"stopped_by": "calibration_stale", "steps": 3}, Path("runs/h2"))[1]
    'run.paused'
    >>> stop_exit({"stopped_by": "max_steps", "steps": 12}, Path("runs/h2")) is None
    True
    """
    reason = summary.get("stopped_by")
    folder = "RUN_DIR" if run_dir is None else str(run_dir)
    steps = summary.get("steps", 0)
    if reason == "drift":
        return (
            EXIT_PAUSED,
            "run.paused",
            f"paused by drift after step {steps}: the canary left its reference "
            f"(checkpoint saved). Check the backend, then continue with: qtrain resume {folder} "
            "(the canary is re-baselined on resume)",
        )
    if reason == "calibration_stale":
        return (
            EXIT_PAUSED,
            "run.paused",
            f"paused after step {steps}: the backend's calibration is older than "
            "calibration.max_age (checkpoint saved). Once the device has recalibrated, "
            f"continue with: qtrain resume {folder}",
        )
    return None
