"""Retry with exponential backoff and jitter (tenacity), honouring throttling hints.

Backoff doubles from ``initial_s`` up to ``max_s`` with up to ``jitter_s`` of random jitter, so
clients retrying against one backend do not stampede; when the backend throttles with a
``retry_after`` hint, the wait is at least that long. Only ``TransientExecutionError`` (and
its ``ThrottledError``) is retried: anything else is a bug to surface at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from qtrain.errors import ConfigError, ThrottledError, TransientExecutionError

__all__ = ["RetryPolicy"]


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try.

    Attributes:
        attempts: backend calls per batch before giving up.
        initial_s: first backoff; doubles per attempt up to ``max_s``, plus up to
            ``jitter_s`` of random jitter (decorrelates clients hitting one backend).
        max_s: backoff cap.
        jitter_s: jitter bound.
        timeout_s: per-call timeout (``None``: wait as long as the call takes).
    """

    attempts: int = 8
    initial_s: float = 0.05
    max_s: float = 5.0
    jitter_s: float = 0.05
    timeout_s: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.attempts, int) or self.attempts < 1:
            raise ConfigError(f"attempts must be a positive int, got {self.attempts!r}")
        for name in ("initial_s", "max_s", "jitter_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive or None, got {self.timeout_s!r}")

    def wait(self, state: RetryCallState) -> float:
        """Backoff with jitter, or the backend's retry-after hint if that is longer."""
        backoff = wait_exponential(multiplier=self.initial_s, max=self.max_s) + wait_random(
            0, self.jitter_s
        )
        error = state.outcome.exception() if state.outcome is not None else None
        hint = error.retry_after if isinstance(error, ThrottledError) else 0.0
        return max(float(backoff(state)), hint)

    def retrying(self) -> Retrying:
        """A tenacity ``Retrying`` for transient errors under this policy."""
        return Retrying(
            stop=stop_after_attempt(self.attempts),
            wait=self.wait,
            retry=retry_if_exception_type(TransientExecutionError),
            reraise=True,
        )
