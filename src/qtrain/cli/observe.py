"""``qtrain report`` and the observability options of ``train`` / ``resume``.

``--metrics-port PORT`` serves the run's Prometheus metrics on ``127.0.0.1:PORT``
(``--metrics-host``) while the run lasts and its final state for ``--metrics-grace`` seconds
after it (30 by default); ``--metrics-push URL`` pushes them to a Pushgateway;
``--log-format json`` turns qtrain's structured events into JSON lines on stderr
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
    "METRICS_GRACE_S",
    "LogFormat",
    "LogFormatOption",
    "LogLevel",
    "LogLevelOption",
    "MetricsGrace",
    "MetricsHost",
    "MetricsPort",
    "MetricsPush",
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
MetricsHost = Annotated[
    str,
    typer.Option("--metrics-host", help="Address the metrics server listens on (0.0.0.0: all)."),
]
MetricsGrace = Annotated[
    float,
    typer.Option(
        "--metrics-grace",
        min=0.0,
        help="Seconds to keep serving the final metrics after the run (Ctrl-C ends it).",
    ),
]
MetricsPush = Annotated[
    str | None,
    typer.Option(
        "--metrics-push",
        metavar="URL",
        help="Push metrics to this Prometheus Pushgateway (every 10 s and at the end).",
    ),
]
METRICS_GRACE_S = 30.0  # two default scrape intervals: the final state is scraped once
LogFormatOption = Annotated[
    LogFormat, typer.Option("--log-format", help="Structured log lines on stderr: human or json.")
]
LogLevelOption = Annotated[
    LogLevel | None,
    typer.Option("--log-level", help="Default: warning for human lines, info for JSON."),
]


@dataclass(frozen=True)
class Observe:
    """The observability options of a command: metrics port, logs, host, grace, push."""

    metrics_port: int | None = None
    log_format: LogFormat = LogFormat.human
    log_level: LogLevel | None = None
    metrics_host: str = "127.0.0.1"
    metrics_grace: float = METRICS_GRACE_S
    metrics_push: str | None = None


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
    metrics: MetricsTracker | None = None

    def linger(self, console: Console, options: Observe, *, wait: bool = True) -> None:
        """Serve the final metrics for the grace period (``wait``), then stop serving."""
        metrics, self.metrics = self.metrics, None
        if metrics is None:
            return
        try:
            if wait and metrics.url is not None and metrics.grace > 0 and metrics.finished:
                text = f"serving the final metrics on {metrics.url} for {metrics.grace:g} s"
                tell(console, options, "metrics.grace", text + " (Ctrl-C ends it)")
                sys.stdout.flush()  # the summary reaches a pipe now, not after the grace
                metrics.linger()
        finally:
            metrics.close()

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

    The metrics server outlives the block when the run succeeds: the caller reports the
    run, then calls :meth:`Observed.linger` (which serves the final state for the grace
    period and stops the server).

    Yields:
        The extra trackers to hand the run (the progress display, the metrics tracker if
        serving or pushing) and where the run started.
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
    try:
        with _python_warnings_as_json(handler) if json_logs else contextlib.nullcontext():
            if options.metrics_port is not None or options.metrics_push is not None:
                metrics = observed.metrics = MetricsTracker(
                    grace=options.metrics_grace, push=options.metrics_push
                )
                observed.trackers.append(metrics)
                if options.metrics_port is not None:
                    metrics.serve(options.metrics_port, host=options.metrics_host)
                    text = f"serving metrics on {metrics.url}"
                    tell(console, options, "metrics.serving", text)
            yield observed
    except BaseException:
        observed.linger(console, options, wait=False)  # the run failed: stop serving now
        raise
    finally:
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
