"""A backend that fails on purpose: seeded, reproducible chaos for tests and chaos runs.

``FaultyBackend`` wraps any backend and, per call (drawn from one seeded generator), can:
raise a transient failure, throttle with a retry-after hint, sleep (latency) or hang past a
timeout (optionally cancellable), drop some task results (partial results, returned as
``None``), corrupt a result (NaN, wrong shape or wrong shot count), return finite but
impossible numbers (a value outside the observable's spectrum, a variance above its maximum),
and fail chosen tasks permanently. It can also add calibration drift: a bias that grows with
every call, with a calibration id that changes every ``recalibrate_every`` calls — the kind
of slow change real devices show — and a sudden shift (``drift_step``); both may start at a
chosen call (``drift_start_call``), so a test can say where the drift begins.

Its :meth:`~FaultyBackend.identity` is its inner backend's when it has no drift (every other
fault is rejected by the executor, so valid numbers are the inner's); with drift it nests the
inner's under ``"inner"`` with the whole fault profile and the seed, so a drifting backend
never shares store rows with a clean one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Backend, BackendLimits, Result, Task, backend_identity
from qtrain.errors import ConfigError, ThrottledError, TransientExecutionError

__all__ = ["FaultProfile", "FaultyBackend"]


@dataclass(frozen=True)
class FaultProfile:
    """Rates are per call (failure, throttle, timeout) or per task (partial, corrupt, impossible).

    Attributes:
        failure_rate: a call raises ``TransientExecutionError``.
        throttle_rate: a call raises ``ThrottledError(retry_after=retry_after_s)``.
        timeout_rate: a call sleeps ``hang_s`` first (longer than the executor's timeout).
        partial_rate: a task's result is missing (``None``).
        corrupt_rate: a task's result is corrupted (NaN, wrong shape or wrong shots).
        impossible_rate: a task's result holds a finite but impossible number: a value
            beyond ``Σ|c|`` of its observable, or (sampled) a variance above its maximum.
        latency_s: every call sleeps this long.
        retry_after_s: the throttling hint.
        hang_s: how long a timed-out call hangs.
        cancellable: :meth:`FaultyBackend.cancel` ends a hang at once (the call then raises
            without running anything); otherwise a cancelled call hangs to the end and runs.
        drift_per_call: bias added to every value, times the number of calls so far (kept
            within the observable's range: a drifting device still measures eigenvalues).
        recalibrate_every: calls between calibration-id changes.
        drift_step: a constant bias added to every value of every call after the onset.
        drift_start_call: the onset: calls ``1..drift_start_call`` are not biased; call
            ``c`` after it has the bias ``drift_step + drift_per_call·(c − drift_start_call)``
            (``0``, the default, biases every call: ``drift_per_call·c``).
    """

    failure_rate: float = 0.0
    throttle_rate: float = 0.0
    timeout_rate: float = 0.0
    partial_rate: float = 0.0
    corrupt_rate: float = 0.0
    impossible_rate: float = 0.0
    latency_s: float = 0.0
    retry_after_s: float = 0.01
    hang_s: float = 1.0
    cancellable: bool = False
    drift_per_call: float = 0.0
    recalibrate_every: int = 10
    drift_step: float = 0.0
    drift_start_call: int = 0

    def __post_init__(self) -> None:
        for name in (
            "failure_rate",
            "throttle_rate",
            "timeout_rate",
            "partial_rate",
            "corrupt_rate",
            "impossible_rate",
        ):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {rate!r}")
        for name in ("latency_s", "retry_after_s", "hang_s"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)!r}")
        if not isinstance(self.drift_start_call, int) or self.drift_start_call < 0:
            raise ConfigError(
                f"drift_start_call must be an integer >= 0, got {self.drift_start_call!r}"
            )
        for name in ("drift_per_call", "drift_step"):
            if not np.isfinite(getattr(self, name)):
                raise ConfigError(f"{name} must be a finite number, got {getattr(self, name)!r}")
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


def _drifted(values: NDArray[np.float64], task: Task, bias: float) -> NDArray[np.float64]:
    """``values + bias``, kept inside each observable's range ``c₀ ± Σ|c_t|``.

    A drifting device still measures eigenvalues: its estimates never leave the spectrum
    (the executor rejects any that do as impossible).
    """
    if values.ndim != 2 or values.shape[1] != len(task.observables):
        return values + bias  # a malformed result: the executor rejects it anyway
    center = np.array([obs.identity_coefficient.real for obs in task.observables])
    reach = np.array([np.abs(obs.real_coefficients()).sum() for obs in task.observables])
    reach -= np.abs(center)
    return np.clip(values + bias, center - reach, center + reach)


def _impossible(result: Result, task: Task, variance: bool) -> Result:
    """A finite result no quantum state gives: past ``Σ|c|`` (or its variance bound)."""
    if not result.values.size:
        return result
    reach = float(np.abs(task.observables[0].real_coefficients()).sum())
    if variance and result.variances is not None:  # above Σ_g S_g²/(N_g − 1) ≤ (Σ|c|)²
        variances = result.variances.copy()
        variances.flat[0] = 4.0 * reach**2 + 1.0
        return replace(result, variances=variances)
    values = result.values.copy()
    values.flat[0] = 2.0 * reach + 1.0
    return replace(result, values=values)


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
        self.seed = seed
        self._rng = np.random.default_rng(seed)
        self._lock = threading.Lock()
        self._hangs: dict[int, threading.Event] = {}  # id(tasks) of a hanging call -> its end
        self.calls = 0

    @property
    def name(self) -> str:
        """``faulty(<inner name>)``."""
        return f"faulty({self.inner.name})"

    @property
    def independent_samples(self) -> int | None:
        """The wrapped backend's (``Backend`` protocol): trajectories behind shots."""
        samples = getattr(self.inner, "independent_samples", None)
        return samples if isinstance(samples, int) else None

    @property
    def limits(self) -> BackendLimits:
        """The inner backend's limits."""
        return self.inner.limits

    @property
    def unbounded_values(self) -> bool:
        """The wrapped backend's: a mitigated value may leave the observable's spectrum."""
        return bool(getattr(self.inner, "unbounded_values", False))

    def prepare(self, tasks: Sequence[Task]) -> int:
        """The wrapped backend's set-up before a call (``Mitigated``: readout calibrations)."""
        prepare = getattr(self.inner, "prepare", None)
        spent = prepare(tasks) if callable(prepare) else 0
        return spent if isinstance(spent, int) else 0

    def overhead(self, tasks: Sequence[Task]) -> object:
        """The wrapped backend's price beside the tasks (``Mitigated.overhead``), if any."""
        price = getattr(self.inner, "overhead", None)
        return price(tasks) if callable(price) else None

    @property
    def drifts(self) -> bool:
        """The profile biases values (``drift_per_call`` or ``drift_step``)."""
        return bool(self.profile.drift_per_call or self.profile.drift_step)

    def bias(self, call: int) -> float:
        """The bias of call ``call`` (1-based): 0 up to the onset, then step plus growth.

        >>> from qtrain.backends.local import LocalSimulator
        >>> FaultyBackend(LocalSimulator(), seed=0, drift_step=0.2, drift_start_call=3).bias(4)
        0.2
        """
        p = self.profile
        after = call - p.drift_start_call
        if after <= 0:
            return 0.0
        return p.drift_step + p.drift_per_call * after

    def identity(self) -> dict[str, object]:
        """Without drift, the inner backend's identity; with drift, the faults nest it.

        Every other fault (failure, throttling, hang, latency, a missing, corrupt or
        impossible result, ``permanent``) changes whether a result arrives, never the numbers
        of a valid one — the executor rejects every corruption — so a drift-free chaos run
        shares store rows with its clean backend. Drift biases values by the call number,
        which depends on the whole fault sequence: then the whole profile and the seed join.
        """
        if not self.drifts:
            return backend_identity(self.inner)
        return {
            "backend": "faulty",
            "faults": asdict(self.profile),
            "seed": self.seed,
            "inner": backend_identity(self.inner),
        }

    def cancel(self, tasks: Sequence[Task]) -> None:
        """End the hang of the call running ``tasks`` now, if the profile is cancellable."""
        with self._lock:
            hang = self._hangs.get(id(tasks))
        if hang is not None and self.profile.cancellable:
            hang.set()

    def _hang(self, tasks: Sequence[Task], call: int) -> None:
        hang = threading.Event()
        with self._lock:
            self._hangs[id(tasks)] = hang
        try:
            if hang.wait(self.profile.hang_s):
                raise TransientExecutionError(f"call {call} cancelled while hanging")
        finally:
            with self._lock:
                del self._hangs[id(tasks)]

    def _draw(
        self, tasks: Sequence[Task]
    ) -> tuple[int, NDArray[np.bool_], NDArray[np.bool_], NDArray[np.int64], NDArray[np.int64]]:
        p, count = self.profile, len(tasks)
        with self._lock:
            self.calls += 1
            call = self.calls
            event = self._rng.random(3)
            dropped = self._rng.random(count) < p.partial_rate
            corrupted = self._rng.random(count) < p.corrupt_rate
            kinds = self._rng.integers(0, 3, size=count)
            impossible = np.full(count, -1)  # -1: none, else 0 (value) or 1 (variance)
            if p.impossible_rate:  # drawn only when asked: older seeds replay unchanged
                chosen = self._rng.random(count) < p.impossible_rate
                impossible[chosen] = self._rng.integers(0, 2, size=count)[chosen]
        if event[0] < p.failure_rate:
            raise TransientExecutionError(f"injected transient failure (call {call})")
        if event[1] < p.throttle_rate:
            raise ThrottledError(f"injected throttling (call {call})", retry_after=p.retry_after_s)
        if event[2] < p.timeout_rate:
            self._hang(tasks, call)
        return call, dropped, corrupted, kinds, impossible

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        """Run through ``inner`` with faults; missing results are ``None``."""
        call, dropped, corrupted, kinds, impossible = self._draw(tasks)
        if self.profile.latency_s:
            time.sleep(self.profile.latency_s)
        results: list[Result | None] = list(self.inner.run(tasks))
        calibration = f"cal-{(call - 1) // self.profile.recalibrate_every}"
        bias = self.bias(call)
        for i, original in enumerate(results):
            if original is None:
                continue
            if dropped[i] or (self.permanent is not None and self.permanent(tasks[i])):
                results[i] = None
                continue
            meta = {**original.metadata, "calibration_id": calibration, "backend": self.name}
            values = _drifted(original.values, tasks[i], bias) if bias else original.values
            shifted = replace(original, values=values, metadata=meta)
            if impossible[i] >= 0:
                shifted = _impossible(shifted, tasks[i], variance=bool(impossible[i]))
            results[i] = _corrupt(shifted, int(kinds[i])) if corrupted[i] else shifted
        return results
