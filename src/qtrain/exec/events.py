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
from qtrain.exec.validation import Chunk
from qtrain.logs import emit

__all__ = ["call_failed", "gave_up", "result_rejected", "retrying", "task_key"]

_LOG = logging.getLogger("qtrain.exec")


def task_key(chunk: Chunk) -> str:
    """The task's name in the logs: its first row's content key, shortened."""
    return chunk.keys[0][:16] if chunk.keys else ""


def _tasks(chunks: Sequence[Chunk]) -> dict[str, Any]:
    keys = [task_key(c) for c in chunks]
    return {
        "task_key": keys[0] if keys else "",
        "task_keys": keys,
        "tasks": len(chunks),
        "rows": sum(len(c.keys) for c in chunks),
    }


def call_failed(backend: str, group: Sequence[Chunk], error: Exception) -> None:
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
        **_tasks(group),
    )


def result_rejected(backend: str, chunk: Chunk, reason: str) -> None:
    """One task's result was missing or invalid (its rows will be resubmitted)."""
    event = "exec.result_missing" if reason == "missing" else "exec.result_invalid"
    emit(
        _LOG,
        logging.INFO,
        event,
        reason,
        backend=backend,
        task_key=task_key(chunk),
        rows=len(chunk.keys),
    )


def retrying(backend: str, attempt: int, outstanding: Sequence[Chunk]) -> None:
    """Attempt ``attempt`` resubmits what is still outstanding."""
    if _LOG.isEnabledFor(logging.INFO):
        emit(
            _LOG,
            logging.INFO,
            "exec.retry",
            backend=backend,
            attempt=attempt,
            **_tasks(outstanding),
        )


def gave_up(backend: str, attempts: int, outstanding: Sequence[Chunk], error: Exception) -> None:
    """The retry budget ran out: these tasks have no valid result."""
    emit(
        _LOG,
        logging.ERROR,
        "exec.incomplete",
        f"no valid result after {attempts} attempts: {error}",
        backend=backend,
        attempts=attempts,
        **_tasks(outstanding),
    )
