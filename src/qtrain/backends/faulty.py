"""A backend that fails on purpose: seeded, reproducible chaos for tests and chaos runs.

``FaultyBackend`` wraps any backend and, per call (drawn from one seeded generator), can:
raise a transient failure, throttle with a retry-after hint, sleep (latency) or hang past a
timeout, drop some task results (partial results, returned as ``None``), corrupt a result
(NaN, wrong shape or wrong shot count), and fail chosen tasks permanently. It can also add
calibration drift: a bias that grows with every call, with a calibration id that changes
every ``recalibrate_every`` calls — the kind of slow change real devices show.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Backend, BackendLimits, Result, Task
from qtrain.errors import ConfigError, ThrottledError, TransientExecutionError

__all__ = ["FaultProfile", "FaultyBackend"]


@dataclass(frozen=True)
class FaultProfile:
    """Rates are per call (failure, throttle, timeout) or per task (partial, corrupt).

    Attributes:
        failure_rate: a call raises ``TransientExecutionError``.
        throttle_rate: a call raises ``ThrottledError(retry_after=retry_after_s)``.
        timeout_rate: a call sleeps ``hang_s`` first (longer than the executor's timeout).
        partial_rate: a task's result is missing (``None``).
        corrupt_rate: a task's result is corrupted (NaN, wrong shape or wrong shots).
        latency_s: every call sleeps this long.
        retry_after_s: the throttling hint.
        hang_s: how long a timed-out call hangs.
        drift_per_call: bias added to every value, times the number of calls so far.
        recalibrate_every: calls between calibration-id changes.
    """

    failure_rate: float = 0.0
    throttle_rate: float = 0.0
    timeout_rate: float = 0.0
    partial_rate: float = 0.0
    corrupt_rate: float = 0.0
    latency_s: float = 0.0
    retry_after_s: float = 0.01
    hang_s: float = 1.0
    drift_per_call: float = 0.0
    recalibrate_every: int = 10

    def __post_init__(self) -> None:
        for name in (
            "failure_rate",
            "throttle_rate",
            "timeout_rate",
            "partial_rate",
            "corrupt_rate",
        ):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {rate!r}")
        for name in ("latency_s", "retry_after_s", "hang_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if self.recalibrate_every < 1:
            raise ConfigError(f"recalibrate_every must be >= 1, got {self.recalibrate_every}")


def _corrupt(result: Result, kind: int) -> Result:
    if kind == 0:
        values = result.values.copy()
        values.flat[0] = np.nan
        return replace(result, values=values)
    if kind == 1:
        return replace(
            result, values=result.values[:-1] if len(result.values) > 1 else result.values[:, :0]
        )
    return replace(result, shots=result.shots + 1)


class FaultyBackend:
    """Wrap ``inner`` and inject the faults of ``profile`` (or of the keyword rates).

    Args:
        inner: the backend doing the real work.
        seed: makes the sequence of faults reproducible.
        profile: a :class:`FaultProfile`; keyword arguments build one instead.
        permanent: tasks for which this returns true always fail (their result is ``None``).
        **rates: fields of :class:`FaultProfile`.

    >>> import qtrain as qt
    >>> flaky = qt.FaultyBackend(qt.LocalSimulator(), seed=1, failure_rate=0.3)
    >>> flaky.profile.failure_rate
    0.3
    """

    def __init__(
        self,
        inner: Backend,
        *,
        seed: int,
        profile: FaultProfile | None = None,
        permanent: Callable[[Task], bool] | None = None,
        **rates: Any,
    ) -> None:
        self.inner = inner
        self.profile = profile if profile is not None else FaultProfile(**rates)
        self.permanent = permanent
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self.calls = 0

    @property
    def name(self) -> str:
        """``faulty(<inner name>)``."""
        return f"faulty({self.inner.name})"

    @property
    def limits(self) -> BackendLimits:
        """The inner backend's limits."""
        return self.inner.limits

    def _draw(
        self, tasks: int
    ) -> tuple[int, NDArray[np.bool_], NDArray[np.bool_], NDArray[np.int64]]:
        with self._lock:
            self.calls += 1
            call = self.calls
            event = self._rng.random(3)
            dropped = self._rng.random(tasks) < self.profile.partial_rate
            corrupted = self._rng.random(tasks) < self.profile.corrupt_rate
            kinds = self._rng.integers(0, 3, size=tasks)
        p = self.profile
        if event[0] < p.failure_rate:
            raise TransientExecutionError(f"injected transient failure (call {call})")
        if event[1] < p.throttle_rate:
            raise ThrottledError(f"injected throttling (call {call})", retry_after=p.retry_after_s)
        if event[2] < p.timeout_rate:
            time.sleep(p.hang_s)
        return call, dropped, corrupted, kinds

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        """Run through ``inner`` with faults; missing results are ``None``."""
        call, dropped, corrupted, kinds = self._draw(len(tasks))
        if self.profile.latency_s:
            time.sleep(self.profile.latency_s)
        results: list[Result | None] = list(self.inner.run(tasks))
        calibration = f"cal-{(call - 1) // self.profile.recalibrate_every}"
        bias = self.profile.drift_per_call * call
        for i, original in enumerate(results):
            if original is None:
                continue
            if dropped[i] or (self.permanent is not None and self.permanent(tasks[i])):
                results[i] = None
                continue
            meta = {**original.metadata, "calibration_id": calibration, "backend": self.name}
            shifted = replace(original, values=original.values + bias, metadata=meta)
            results[i] = _corrupt(shifted, int(kinds[i])) if corrupted[i] else shifted
        return results
