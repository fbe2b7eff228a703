"""``qtrain report`` and the observability options of ``train`` / ``resume``.

``--metrics-port PORT`` serves the run's Prometheus metrics on ``127.0.0.1:PORT`` while the
run lasts; ``--log-format json`` turns qtrain's structured events into JSON lines on stderr
(``human`` lines by default, warnings and errors only unless ``--log-level`` says more).

A machine format is pure: with JSON logs nothing but JSON lines reaches stderr — no progress
bar (the ``step`` events are the progress), Python warnings and other libraries' warnings
(MLflow's) as JSON lines, and what the command says after the run (:func:`tell`) as JSON
lines too when it would go to stderr.
"""

from __future__ import annotations

import contextlib
import enum
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from qtrain.cli.views import friendly_errors
from qtrain.logs import configure_logging, json_line, remove_logging
from qtrain.observe.metrics import MetricsTracker
from qtrain.observe.report import write_report
from qtrain.train.progress import ProgressTracker
from qtrain.train.records import StepRecord
from qtrain.train.tracking import Tracker

__all__ = [
    "LogFormat",
    "LogFormatOption",
    "LogLevel",
    "LogLevelOption",
    "MetricsPort",
    "Observe",
    "Observed",
    "observing",
    "report",
    "tell",
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


def tell(
    console: Console, options: Observe, event: str, text: str, *, style: str = "", **fields: Any
) -> None:
    """Say ``text`` on ``console``; a JSON log line instead where JSON logs own that stream.

    (With ``--json --log-format json`` the console is stderr, which only JSON lines may reach.)
    """
    if options.log_format == LogFormat.json and console.stderr:
        level = logging.WARNING if style else logging.INFO
        sys.stderr.write(json_line("qtrain.cli", level, event, text, **fields) + "\n")
        sys.stderr.flush()
        return
    console.print(f"[{style}]{escape(text)}[/]" if style else text, highlight=False, soft_wrap=True)


class _Watch:
    """A tracker that remembers the step a run started from (a resume's checkpoint)."""

    def __init__(self) -> None:
        self.first_step: int | None = None

    def start(self, info: Mapping[str, Any]) -> None:
        self.first_step = int(info.get("step", 0))

    def log(self, record: StepRecord) -> None:
        pass

    def finish(self, summary: Mapping[str, Any]) -> None:
        pass


@dataclass
class Observed:
    """What :func:`observing` hands the run: its extra trackers, and where it started."""

    trackers: list[Tracker] = field(default_factory=list)
    watch: _Watch = field(default_factory=_Watch)

    @property
    def first_step(self) -> int | None:
        """The step the run started from (``None`` if it never started)."""
        return self.watch.first_step


@contextlib.contextmanager
def _python_warnings_as_json(handler: logging.Handler) -> Iterator[None]:
    """Python warnings during the block become JSON lines (``py.warnings``) on ``handler``."""
    logger = logging.getLogger("py.warnings")
    logging.captureWarnings(True)
    logger.addHandler(handler)
    propagate, logger.propagate = logger.propagate, False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate
        logging.captureWarnings(False)


@contextlib.contextmanager
def observing(
    console: Console, options: Observe, *, progress: ProgressTracker | None = None
) -> Iterator[Observed]:
    """Logs configured and, with a port, metrics served, for the length of the block.

    ``progress`` is drawn with human logs only: with JSON logs stderr carries JSON lines and
    nothing else (a live bar would also reroute them through the console).

    Yields:
        The extra trackers to hand the run (the progress display, the metrics tracker if
        serving) and where the run started.
    """
    level = None if options.log_level is None else LogLevel(options.log_level).value
    json_logs = options.log_format == LogFormat.json
    handler = configure_logging(LogFormat(options.log_format).value, level=level)
    if not json_logs:
        handler.addFilter(_not_the_run_error)
    observed = Observed()
    if progress is not None and not json_logs:
        observed.trackers.append(progress)
    observed.trackers.append(observed.watch)
    metrics = None
    try:
        with _python_warnings_as_json(handler) if json_logs else contextlib.nullcontext():
            if options.metrics_port is not None:
                metrics = MetricsTracker().serve(options.metrics_port)
                observed.trackers.append(metrics)
                tell(console, options, "metrics.serving", f"serving metrics on {metrics.url}")
            yield observed
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
