"""What the command line shows: a live progress bar, summary tables and clean errors.

The bar is :class:`qtrain.train.progress.ProgressTracker` (``qt.fit(progress=True)`` draws
the same one); ``compact`` and ``value_with_error`` come from :mod:`qtrain.display`.
"""

from __future__ import annotations

import functools
import logging
import math
import sys
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qtrain.cli.outcome import execution_rows
from qtrain.cli.plan_view import plan_rows
from qtrain.display import compact, value_with_error
from qtrain.errors import (
    CorruptFileError,
    DiskFullError,
    NotReadableError,
    NotWritableError,
    QtrainError,
    StorageError,
)
from qtrain.logs import json_line
from qtrain.train.progress import ProgressTracker

__all__ = [
    "EXIT_STATUS",
    "ProgressTracker",
    "compact",
    "exit_status",
    "friendly_errors",
    "noise_verdict",
    "summary_table",
    "value_with_error",
]

Params = ParamSpec("Params")
Returned = TypeVar("Returned")


EXIT_STATUS: tuple[tuple[type[QtrainError], int], ...] = (
    (CorruptFileError, 65),  # EX_DATAERR: a run file is damaged beyond automatic repair
    (NotReadableError, 66),  # EX_NOINPUT: a file exists but may not be read
    (NotWritableError, 73),  # EX_CANTCREAT: read-only folder or file system, no permission
    (DiskFullError, 74),  # EX_IOERR: no space left (or quota spent)
    (StorageError, 74),  # EX_IOERR: another I/O failure
    (QtrainError, 2),  # bad input: a config, an option, a checkpoint of another run
)
"""Exit status of each error a command reports as one line (sysexits.h codes; first match)."""


def exit_status(error: QtrainError) -> int:
    """The documented exit status of ``error`` (:data:`EXIT_STATUS`).

    >>> from qtrain.errors import ConfigError, DiskFullError
    >>> exit_status(ConfigError("x")), exit_status(DiskFullError("y"))
    (2, 74)
    """
    return next(status for kind, status in EXIT_STATUS if isinstance(error, kind))


def friendly_errors(command: Callable[Params, Returned]) -> Callable[Params, Returned]:
    """Print a ``QtrainError`` as one red line (no traceback) and exit with its status.

    Bad input exits 2; a failure of the environment (a full disk, a folder that cannot be
    written, a file that cannot be read or is damaged) its own status (:data:`EXIT_STATUS`).
    A command run with ``--log-format json`` says it as a JSON line (event ``cli.error``,
    with the ``exit_status``): its stderr carries nothing else.
    """

    @functools.wraps(command)
    def wrapper(*args: Params.args, **kwargs: Params.kwargs) -> Returned:
        try:
            return command(*args, **kwargs)
        except QtrainError as error:
            status = exit_status(error)
            if str(kwargs.get("log_format")) == "json":  # stderr carries JSON lines only
                line = json_line(
                    "qtrain.cli",
                    logging.ERROR,
                    "cli.error",
                    str(error),
                    error=type(error).__name__,
                    exit_status=status,
                )
                print(line, file=sys.stderr, flush=True)
                raise typer.Exit(status) from None
            # escape: messages name extras like qtrain[plot], which rich would eat as markup;
            # soft_wrap: one line, however long (the terminal wraps it, a log keeps it whole)
            Console(stderr=True).print(
                f"[bold red]error:[/] {escape(str(error))}", highlight=False, soft_wrap=True
            )
            raise typer.Exit(status) from None

    return wrapper


def _problem_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The problem's own numbers, minus those the generic rows already show."""
    problem = summary.get("problem") or {}
    shown = {summary.get("final_loss_exact"), summary.get("error")}
    rows = []
    for key, value in problem.get("report", {}).items():
        if key == "loss" or any(v is not None and math.isclose(value, v) for v in shown):
            continue
        text = ("yes" if value else "no") if key == "chemical_accuracy" else f"{value:.6g}"
        rows.append((f"{problem['name']}: {key.replace('_', ' ')}", text))
    return rows


def _noise_rows(summary: Mapping[str, Any]) -> list[tuple[str, str]]:
    """How a noisy run was simulated: methods, noise model and its source, the ideal loss."""
    noise = summary.get("noise")
    if not noise:
        return []
    ran = ", ".join(noise.get("methods") or []) or "-"
    rows = [("simulation", f"{ran} (method {noise['method']})")]
    if noise.get("model"):
        rows += [("noise model", noise["model"][:12]), ("noise from", str(noise["source"]))]
    if noise.get("ideal_loss") is not None:
        rows.append(("ideal loss at final θ (no noise)", f"{noise['ideal_loss']:.8f}"))
    return rows


def noise_verdict(summary: Mapping[str, Any]) -> str | None:
    """``noisy minimum −1.046 Ha lies 0.091 Ha above FCI −1.137 Ha …`` for a noisy run.

    >>> summary = {"noise": {"noisy_loss": -1.05, "model": "ab"}, "exact_value": -1.137,
    ...            "problem": {"report": {"error_vs_fci": 0.087}}}
    >>> noise_verdict(summary)
    'noisy minimum -1.050000 Ha lies 0.087000 Ha above FCI -1.137000 Ha'
    """
    noise, exact = summary.get("noise") or {}, summary.get("exact_value")
    noisy = noise.get("noisy_loss")
    mitigated = (summary.get("mitigation") or {}).get("mitigated_loss")
    if not noise.get("model") or noisy is None or exact is None:
        return None
    fci = "error_vs_fci" in ((summary.get("problem") or {}).get("report") or {})
    ref, unit = ("FCI", " Ha") if fci else ("the exact minimum", "")
    gap = noisy - exact
    side = "above" if gap >= 0 else "below"
    text = (
        f"noisy minimum {noisy:.6f}{unit} lies {abs(gap):.6f}{unit} {side} {ref} {exact:.6f}{unit}"
    )
    ideal = noise.get("ideal_loss")
    if ideal is not None:
        text += (
            f"; the noise accounts for {noisy - ideal:.6f}{unit} of it "
            f"(ideal energy at the same θ: {ideal:.6f}{unit})"
        )
    if gap < 0:
        text += "; below the exact minimum: readout error biases the estimate"
    if mitigated is not None:
        text += (
            f"; mitigated: {mitigated:.6f}{unit}, {abs(mitigated - exact):.6f}{unit} "
            f"{'above' if mitigated >= exact else 'below'} {ref} (an estimate, not a bound)"
        )
    return text


def summary_table(summary: Mapping[str, Any], *, title: str) -> Table:
    """The end-of-run table; a noisy run's verdict against the exact minimum is its caption."""
    table = Table(title=title, caption=noise_verdict(summary), caption_justify="left")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    noisy = bool((summary.get("noise") or {}).get("model"))
    mitigation = summary.get("mitigation") or {}
    final = "final loss (exact, noisy, at final θ)" if noisy else None
    if mitigation:
        final = "final loss (exact, mitigated, at final θ)"
    rows: list[tuple[str, str]] = [
        ("stopped by", str(summary["stopped_by"])),
        ("steps", f"{summary['steps']:,}"),
        ("last measured loss", value_with_error(summary["last_loss"], summary["last_loss_stderr"])),
        (
            final or "final loss (exact, at final θ)",
            value_with_error(summary["final_loss_exact"], None, 8),
        ),
    ]
    device = (summary.get("backend") or {}).get("device")
    if device is not None:  # a Qiskit run: no exact loss on the device; the ideal one instead
        ideal = value_with_error(summary["backend"].get("ideal_loss"), None, 8)
        rows[3] = ("ideal loss at final θ (local simulator)", ideal)
        rows.insert(0, ("backend", f"qiskit {device}"))
    rows += _noise_rows(summary)
    if mitigation.get("unmitigated_loss") is not None:
        rows.append(("unmitigated loss at final θ", f"{mitigation['unmitigated_loss']:.8f}"))
    if summary.get("exact_value") is not None:
        rows.append(("exact minimum", f"{summary['exact_value']:.8f}"))
    if summary.get("error") is not None:
        rows.append(("error", f"{summary['error']:.3e}"))
    rows += _problem_rows(summary)
    rows += execution_rows(summary)  # retries, failed rows, rejected results: when any
    rows += [
        ("shots spent", f"{summary['shots']:,}"),
        ("wall time", f"{summary['seconds']:.2f} s"),
        ("seed", str(summary["seed"])),
    ]
    rows += plan_rows(summary)  # how far off the plan's time estimate was
    for name, value in rows:
        table.add_row(name, value)
    return table
