"""Structured logs: one JSON object per line for machines, one readable line for people.

Every qtrain event is a stdlib ``logging`` record on a logger under ``qtrain`` with an
``event`` name (``run.start``, ``step``, ``exec.call_failed``, ...) and fields; :func:`emit`
adds the ``run_id`` and ``step`` of the run in progress (set by the run's log tracker through
:func:`set_context`), so a line from deep in the executor still says which run and step it
belongs to. Execution events carry the ``task_key`` of the task they are about: the content
key of its first row, a key of the result store.

:func:`configure_logging` attaches one handler to the ``qtrain`` logger: ``"human"`` lines
(``14:02:11 INFO step run=h2-... step=3 loss=-1.13``) or ``"json"`` lines. Library users
who have their own logging set up can put :class:`JsonFormatter` on their own handler.
:func:`warnings_as_json` makes Python warnings JSON lines too, from the moment the command
line knows it writes JSON (before it imports its dependencies or reads the config).

>>> import io, json, logging
>>> stream = io.StringIO()
>>> handler = configure_logging("json", level="info", stream=stream)
>>> set_context(run_id="demo", step=3)
>>> emit(logging.getLogger("qtrain.exec"), logging.INFO, "exec.retry", attempt=2)
>>> line = json.loads(stream.getvalue())
>>> line["event"], line["run_id"], line["step"], line["attempt"]
('exec.retry', 'demo', 3, 2)
>>> remove_logging(handler); clear_context()
"""

from __future__ import annotations

import json
import logging
import math
import sys
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

from qtrain.errors import ConfigError

__all__ = [
    "FORMATS",
    "HumanFormatter",
    "JsonFormatter",
    "clear_context",
    "configure_logging",
    "current_context",
    "emit",
    "json_line",
    "quiet_loggers",
    "remove_logging",
    "set_context",
    "warnings_as_json",
]

FORMATS = ("human", "json")
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_LEVELS |= {"error": logging.ERROR}

# One run at a time per process is the common case; a lock keeps executor threads consistent.
_context: dict[str, Any] = {}
_lock = threading.Lock()


def set_context(**fields: Any) -> None:
    """Fields every later event carries (``run_id``, ``step``); ``None`` removes one."""
    with _lock:
        for key, value in fields.items():
            if value is None:
                _context.pop(key, None)
            else:
                _context[key] = value


def clear_context() -> None:
    """Forget the run in progress."""
    with _lock:
        _context.clear()


def current_context() -> dict[str, Any]:
    """A copy of the fields :func:`emit` adds."""
    with _lock:
        return dict(_context)


def emit(logger: logging.Logger, level: int, event: str, message: str = "", **fields: Any) -> None:
    """Log ``event`` with ``fields`` and the current run context (cheap when disabled)."""
    if not logger.isEnabledFor(level):
        return
    logger.log(level, message or event, extra={"event": event, "fields": _jsonable(fields)})


def _jsonable(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Context first, then the event's own fields; non-finite floats become ``None``."""
    merged: dict[str, Any] = {**current_context(), **fields}
    for key, value in merged.items():
        if isinstance(value, float) and not math.isfinite(value):
            merged[key] = None
    return merged


def _payload(record: logging.LogRecord) -> dict[str, Any]:
    fields: dict[str, Any] = dict(getattr(record, "fields", None) or current_context())
    return {
        "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        + f".{int(record.msecs):03d}Z",
        "level": record.levelname.lower(),
        "logger": record.name,
        "event": getattr(record, "event", "log"),
        "message": record.getMessage(),
        **fields,
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, event, message, run_id, step, fields."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102 - see the class
        payload = _payload(record)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, sort_keys=False)


def json_line(name: str, level: int, event: str, message: str, **fields: Any) -> str:
    """One JSON log line, as :class:`JsonFormatter` writes it, without a logger set up.

    For what a command says after its run's logging is gone (its summary, its error).
    """
    record = logging.LogRecord(name, level, __file__, 0, message, None, None)
    record.event, record.fields = event, _jsonable(fields)
    return JsonFormatter().format(record)


class HumanFormatter(logging.Formatter):
    """``HH:MM:SS LEVEL event message key=value ...`` for a terminal."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: D102 - see the class
        payload = _payload(record)
        clock = time.strftime("%H:%M:%S", time.localtime(record.created))
        event, message = payload.pop("event"), payload.pop("message")
        for key in ("ts", "level", "logger"):
            payload.pop(key)
        names = {"run_id": "run"}
        # Nested payloads (a monitor's record) are for machines: JSON lines and metrics.jsonl.
        pairs = " ".join(
            f"{names.get(k, k)}={_short(v)}"
            for k, v in payload.items()
            if v is not None and not isinstance(v, Mapping)
        )
        text = f"{clock} {record.levelname:<7} {event}"
        if message != event:
            text += f" {message}"
        line = f"{text} {pairs}".rstrip()
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _short(value: Any) -> str:
    """A field as a person reads it: 6 digits, 4 list items, 16 characters of a long hash."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list | tuple):
        more = f",…+{len(value) - 4}" if len(value) > 4 else ""
        return "[" + ",".join(map(str, value[:4])) + more + "]"
    text = str(value)
    return text[:16] + "…" if len(text) > 32 and " " not in text else text


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time (a live progress display redirects it)."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write ``record`` to the current stderr."""
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    fmt: str = "human", *, level: str | int | None = None, stream: TextIO | None = None
) -> logging.Handler:
    """Send qtrain's events to ``stream`` (default: stderr) as ``fmt`` lines.

    Args:
        fmt: ``"human"`` or ``"json"``.
        level: ``debug`` / ``info`` / ``warning`` / ``error`` or a ``logging`` level; default
            ``warning`` for human lines (retried faults stay quiet) and ``info`` for JSON
            (every event, for a log pipeline).
        stream: where lines go.

    Returns:
        The handler, for :func:`remove_logging`.

    Raises:
        ConfigError: an unknown format or level.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    if level is None:
        level = "warning" if fmt == "human" else "info"
    if isinstance(level, str):
        if level.lower() not in _LEVELS:
            raise ConfigError(f"log level must be one of {', '.join(_LEVELS)}, got {level!r}")
        level = _LEVELS[level.lower()]
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == "json" else HumanFormatter())
    logger = logging.getLogger("qtrain")
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False  # the app chose where qtrain's lines go; no duplicates via root
    return handler


def remove_logging(handler: logging.Handler) -> None:
    """Undo :func:`configure_logging`."""
    logger = logging.getLogger("qtrain")
    logger.removeHandler(handler)
    handler.close()
    if not logger.handlers:
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def quiet_loggers(names: Sequence[str]) -> Callable[[], None]:
    """Another library's loggers (MLflow's) at warning and above, in qtrain's format.

    Their info lines ("Creating initial MLflow database tables...") are chatter in a training
    terminal; their warnings still show — through qtrain's handlers when
    :func:`configure_logging` set them up (so ``--log-format json`` stays JSON), else
    through their own.

    Returns:
        A function that puts the loggers back as they were.
    """
    ours = list(logging.getLogger("qtrain").handlers)
    saved = []
    for name in names:
        logger = logging.getLogger(name)
        saved.append((logger, logger.level, list(logger.handlers), logger.propagate))
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
        if ours:
            logger.handlers = list(ours)
            logger.propagate = False

    def restore() -> None:
        for logger, level, handlers, propagate in saved:
            logger.setLevel(level)
            logger.handlers = handlers
            logger.propagate = propagate

    return restore


def warnings_as_json() -> Callable[[], None]:
    """Python warnings become JSON lines on stderr (``py.warnings``, ``python.warning``).

    A ``warnings.showwarning`` hook, for a command whose stderr carries JSON lines only: a
    warning raised while it imports, reads its config or prints its summary is one line such
    as :func:`json_line` writes (``category``, ``file``, ``line`` fields). A warning shown to an
    explicit ``file`` goes there unchanged. While logging captures warnings
    (``logging.captureWarnings``), logging's handlers write them instead, and this hook
    is back when capture ends.

    Returns:
        A function that puts the previous hook back.
    """
    previous = warnings.showwarning

    def show(  # noqa: PLR0917 - warnings.showwarning's signature
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        if file is not None:
            previous(message, category, filename, lineno, file, line)
            return
        name = category.__name__
        text = json_line(
            "py.warnings",
            logging.WARNING,
            "python.warning",
            f"{name}: {message}",
            category=name,
            file=filename,
            line=lineno,
        )
        sys.stderr.write(text + "\n")
        sys.stderr.flush()

    warnings.showwarning = show

    def restore() -> None:
        if warnings.showwarning is show:
            warnings.showwarning = previous

    return restore
