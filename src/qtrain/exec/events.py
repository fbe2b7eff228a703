"""What the executor tells the logs: one structured event per fault, retry and give-up.

Events go to the ``qtrain.exec`` logger through :func:`qtrain.logs.emit` (so they carry the
run id and step of the run in progress). A task is named by its ``task_key``: the content key
of its first row (16 hex digits), which is also the key of that row in the result store and
stays the same over every retry of the task.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from qtrain.errors import ThrottledError
from qtrain.exec.keys import Units
from qtrain.exec.validation import Chunk
from qtrain.logs import emit

__all__ = [
    "abandoned_returned",
    "call_abandoned",
    "call_failed",
    "gave_up",
    "result_rejected",
    "retrying",
    "task_key",
]

_LOG = logging.getLogger("qtrain.exec")


def task_key(chunk: Chunk, units: Units) -> str:
    """The task's name in the logs: its first row's content key, shortened.

    Keys are hashed only here, when an event is logged (the executor keys rows lazily).
    """
    return units.keys()[int(chunk.units[0])][:16] if chunk.units.size else ""


def _tasks(chunks: Sequence[Chunk], units: Units) -> dict[str, Any]:
    keys = [task_key(c, units) for c in chunks]
    return {
        "task_key": keys[0] if keys else "",
        "task_keys": keys,
        "tasks": len(chunks),
        "rows": sum(c.units.size for c in chunks),
    }


def call_failed(backend: str, group: Sequence[Chunk], units: Units, error: Exception) -> None:
    """A whole backend call raised a transient error (it will be retried)."""
    if not _LOG.isEnabledFor(logging.INFO):
        return
    throttled = isinstance(error, ThrottledError)
    emit(
        _LOG,
        logging.INFO,
        "exec.throttled" if throttled else "exec.call_failed",
        str(error),
        backend=backend,
        retry_after_s=getattr(error, "retry_after", None) if throttled else None,
        **_tasks(group, units),
    )


def result_rejected(backend: str, chunk: Chunk, units: Units, reason: str) -> None:
    """One task's result was missing or invalid (its rows will be resubmitted)."""
    if not _LOG.isEnabledFor(logging.INFO):
        return
    event = "exec.result_missing" if reason == "missing" else "exec.result_invalid"
    emit(
        _LOG,
        logging.INFO,
        event,
        reason,
        backend=backend,
        task_key=task_key(chunk, units),
        rows=chunk.units.size,
    )


def retrying(backend: str, attempt: int, outstanding: Sequence[Chunk], units: Units) -> None:
    """Attempt ``attempt`` resubmits what is still outstanding."""
    if _LOG.isEnabledFor(logging.INFO):
        emit(
            _LOG,
            logging.INFO,
            "exec.retry",
            backend=backend,
            attempt=attempt,
            **_tasks(outstanding, units),
        )


def gave_up(
    backend: str, attempts: int, outstanding: Sequence[Chunk], units: Units, error: Exception
) -> None:
    """The retry budget ran out: these tasks have no valid result."""
    emit(
        _LOG,
        logging.ERROR,
        "exec.incomplete",
        f"no valid result after {attempts} attempts: {error}",
        backend=backend,
        attempts=attempts,
        **_tasks(outstanding, units),
    )


def call_abandoned(backend: str, group: Sequence[Chunk], units: Units, timeout_s: float) -> None:
    """A call did not answer in time: the executor stops waiting and retries its rows."""
    if _LOG.isEnabledFor(logging.INFO):
        emit(
            _LOG,
            logging.INFO,
            "exec.abandoned",
            f"no answer within {timeout_s} s",
            backend=backend,
            timeout_s=timeout_s,
            **_tasks(group, units),
        )


def abandoned_returned(
    backend: str,
    group: Sequence[Chunk],
    units: Units,
    shots: int,
    *,
    error: BaseException | None,
    lost: Exception | None,
) -> None:
    """An abandoned call came back: the shots its results spent are now counted.

    ``error`` is what the call raised (nothing spent); ``lost``, why its valid rows could
    not be stored (a warning: they were paid for).
    """
    level = logging.WARNING if lost is not None else logging.INFO
    if _LOG.isEnabledFor(level):
        emit(
            _LOG,
            level,
            "exec.abandoned_returned",
            f"its rows were not stored: {lost!r}" if lost is not None else repr(error or ""),
            backend=backend,
            shots=shots,
            error=None if error is None else repr(error),
            **_tasks(group, units),
        )
