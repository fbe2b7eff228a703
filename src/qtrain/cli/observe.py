"""``qtrain report`` and the observability options of ``train`` / ``resume``.

``--metrics-port PORT`` serves the run's Prometheus metrics on ``127.0.0.1:PORT`` while the
run lasts; ``--log-format json`` turns qtrain's structured events into JSON lines on stderr
(``human`` lines by default, warnings and errors only unless ``--log-level`` says more).
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from qtrain.cli.views import friendly_errors
from qtrain.logs import configure_logging, remove_logging
from qtrain.observe.metrics import MetricsTracker
from qtrain.observe.report import write_report
from qtrain.train.tracking import Tracker

__all__ = [
    "LogFormat",
    "LogFormatOption",
    "LogLevel",
    "LogLevelOption",
    "MetricsPort",
    "Observe",
    "observing",
    "report",
]


class LogFormat(enum.StrEnum):
    """How log lines look."""

    human = "human"
    json = "json"


class LogLevel(enum.StrEnum):
    """The least severe events shown."""

    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


MetricsPort = Annotated[
    int | None,
    typer.Option(
        "--metrics-port",
        min=0,
        max=65535,
        help="Serve Prometheus metrics on 127.0.0.1:PORT while the run lasts (e.g. 9464).",
    ),
]
LogFormatOption = Annotated[
    LogFormat, typer.Option("--log-format", help="Structured log lines on stderr: human or json.")
]
LogLevelOption = Annotated[
    LogLevel | None,
    typer.Option("--log-level", help="Default: warning for human lines, info for JSON."),
]


@dataclass(frozen=True)
class Observe:
    """The observability options of a command: metrics port, log format and level."""

    metrics_port: int | None = None
    log_format: LogFormat = LogFormat.human
    log_level: LogLevel | None = None


def _not_the_run_error(record: logging.LogRecord) -> bool:
    """Human lines leave out ``run.error``: the command prints the error itself, once.

    (A ``QtrainError`` as the one ``error:`` line, anything else as its traceback; JSON
    logs keep the event for log pipelines.)
    """
    return getattr(record, "event", None) != "run.error"


@contextlib.contextmanager
def observing(console: Console, options: Observe) -> Iterator[list[Tracker]]:
    """Logs configured and, with a port, metrics served, for the length of the block.

    Yields:
        The extra trackers to hand the run (the metrics tracker, if serving).
    """
    level = None if options.log_level is None else LogLevel(options.log_level).value
    handler = configure_logging(LogFormat(options.log_format).value, level=level)
    if options.log_format == LogFormat.human:
        handler.addFilter(_not_the_run_error)
    metrics = None
    try:
        if options.metrics_port is not None:
            metrics = MetricsTracker().serve(options.metrics_port)
            console.print(f"serving metrics on {metrics.url}", highlight=False)
        yield [] if metrics is None else [metrics]
    finally:
        if metrics is not None:
            metrics.close()
        remove_logging(handler)


@friendly_errors
def report(
    run_dir: Annotated[Path, typer.Argument(exists=True, file_okay=False, help="A run folder.")],
    out: Annotated[
        Path | None, typer.Option(help="HTML file (default: RUN_DIR/report/report.html).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of text.")] = False,
) -> None:
    """Write RUN_DIR's self-contained HTML report (summary, plots, monitor, config) and PNGs."""
    path = write_report(run_dir, out=out)
    plots = sorted(str(p) for p in path.parent.glob("*.png"))
    if as_json:
        typer.echo(json.dumps({"report": str(path), "plots": plots}, indent=2))
        return
    typer.echo(f"report: {path}")
    typer.echo(f"plots:  {len(plots)} PNG file(s) in {path.parent}")
