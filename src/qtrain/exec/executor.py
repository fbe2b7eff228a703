"""The executor: between a gradient plan and a backend, it makes execution boring.

For a list of tasks it (1) splits them into row units with content keys and deduplicates
them, (2) reads finished rows from the durable store, (3) chunks the rest to the backend's
limits, (4) submits them with retries — exponential backoff with jitter (tenacity), honouring
a throttling hint, with a per-call timeout — (5) validates every result (shape, finiteness,
variances, shots) so a corrupted result counts as a failure and is never used, resubmitting
only what failed or went missing, (6) commits each finished row to the store before
returning, and (7) reassembles one result per task. When the retry budget runs out it raises
``IncompleteResultError`` naming the missing rows: a gradient with missing components never
reaches the optimizer. Counters record everything for the training loop's metrics.
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential,
    wait_random,
)

from qtrain.backends.protocol import Backend, BackendLimits, Result, Task
from qtrain.errors import (
    ConfigError,
    IncompleteResultError,
    InvalidResultError,
    ShotsError,
    StateTooLargeError,
    ThrottledError,
    TransientExecutionError,
)
from qtrain.exec.keys import row_keys
from qtrain.exec.store import ResultStore, StoredRow

__all__ = ["Executor", "ExecutorCounters", "RetryPolicy", "resolve_executor"]


@dataclass
class ExecutorCounters:
    """Running totals, in rows unless named otherwise."""

    submitted: int = 0
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    deduplicated: int = 0
    cached: int = 0
    throttled: int = 0
    calls: int = 0
    latencies_s: list[float] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


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


@dataclass
class _Chunk:
    task: Task
    keys: list[str]
    shots: NDArray[np.int64] | None


def _invalid_values(chunk: _Chunk, result: Result) -> str:
    rows, count = chunk.task.params.shape[0], len(chunk.task.observables)
    values = np.asarray(result.values)
    if values.shape != (rows, count):
        return f"values of shape {values.shape}, expected {(rows, count)}"
    if not np.all(np.isfinite(values)):
        return "non-finite values"
    expected_shots = 0 if chunk.shots is None else int(chunk.shots.sum())
    if result.shots != expected_shots:
        return f"{result.shots} shots reported, {expected_shots} asked"
    return ""


def _invalid_variances(chunk: _Chunk, result: Result) -> str:
    if (result.variances is None) != (chunk.shots is None):
        return "variances present for exact rows, or missing for sampled rows"
    if result.variances is None or chunk.shots is None:
        return ""
    variances = np.asarray(result.variances)
    if variances.shape != np.shape(result.values):
        return "variances of the wrong shape"
    single_shot = chunk.shots.min(axis=1, initial=2)[:, None] < 2  # NaN is honest there
    return "" if np.all((variances >= 0) | (np.isnan(variances) & single_shot)) else "bad variances"


def _invalid(chunk: _Chunk, result: Result | None) -> str:
    """Why ``result`` cannot be used for ``chunk`` ("" when it can)."""
    if result is None:
        return "missing"
    return _invalid_values(chunk, result) or _invalid_variances(chunk, result)


class Executor:
    """Dedup, store, chunk, retry and validate around one backend.

    Args:
        backend: where tasks run.
        store: a :class:`ResultStore` for finished rows (``None``: nothing persists).
        retry: a :class:`RetryPolicy`.
    """

    def __init__(
        self,
        backend: Backend,
        *,
        store: ResultStore | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self.backend = backend
        self.store = store
        self.retry = retry if retry is not None else RetryPolicy()
        self.counters = ExecutorCounters()
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="qtrain"
        )
        self._backoff = wait_exponential(
            multiplier=self.retry.initial_s, max=self.retry.max_s
        ) + wait_random(0, self.retry.jitter_s)

    @property
    def name(self) -> str:
        """The backend's name."""
        return self.backend.name

    @property
    def limits(self) -> BackendLimits:
        """The backend's limits."""
        return self.backend.limits

    def _check_limits(self, task: Task, shots: NDArray[np.int64] | None) -> None:
        limits = self.backend.limits
        if limits.max_qubits is not None and task.circuit.n_qubits > limits.max_qubits:
            raise StateTooLargeError(
                f"{self.name} runs at most {limits.max_qubits} qubits, got {task.circuit.n_qubits}"
            )
        if shots is not None and shots.size and int(shots.max()) > limits.max_shots:
            raise ShotsError(
                f"{int(shots.max())} shots per row and group exceed {self.name}'s limit of "
                f"{limits.max_shots}"
            )

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        """One validated result per task, in order (see the module docstring)."""
        shots = [task.shot_matrix() for task in tasks]
        for task, matrix in zip(tasks, shots, strict=True):
            self._check_limits(task, matrix)
        keys = [row_keys(task, matrix) for task, matrix in zip(tasks, shots, strict=True)]
        first: dict[str, tuple[int, int]] = {}
        for t, task_keys in enumerate(keys):
            for r, key in enumerate(task_keys):
                first.setdefault(key, (t, r))
        self.counters.deduplicated += sum(map(len, keys)) - len(first)
        done = self.store.get_many(first) if self.store is not None else {}
        self.counters.cached += len(done)
        fresh = self._execute([k for k in first if k not in done], first, tasks, shots)
        return [
            self._assemble(t, task, task_keys, first=first, done=done, fresh=fresh)
            for t, (task, task_keys) in enumerate(zip(tasks, keys, strict=True))
        ]

    def _chunks(
        self,
        pending: list[str],
        first: dict[str, tuple[int, int]],
        tasks: Sequence[Task],
        shots: list[NDArray[np.int64] | None],
    ) -> list[_Chunk]:
        by_task: dict[int, list[tuple[int, str]]] = {}
        for key in pending:
            t, r = first[key]
            by_task.setdefault(t, []).append((r, key))
        size = max(1, self.backend.limits.max_rows)
        chunks = []
        for t, members in by_task.items():
            for start in range(0, len(members), size):
                part = members[start : start + size]
                rows = [r for r, _ in part]
                matrix = shots[t]
                sub = None if matrix is None else matrix[rows]
                task = tasks[t]
                chunks.append(
                    _Chunk(
                        Task(task.circuit, task.observables, task.params[rows], sub, task.seed),
                        [k for _, k in part],
                        sub,
                    )
                )
        return chunks

    def _wait(self, state: RetryCallState) -> float:
        """Exponential backoff with jitter, or the backend's retry-after hint if longer."""
        backoff = float(self._backoff(state))
        error = state.outcome.exception() if state.outcome is not None else None
        hint = error.retry_after if isinstance(error, ThrottledError) else 0.0
        return max(backoff, hint)

    def _execute(
        self,
        pending: list[str],
        first: dict[str, tuple[int, int]],
        tasks: Sequence[Task],
        shots: list[NDArray[np.int64] | None],
    ) -> dict[str, StoredRow]:
        if not pending:
            return {}
        outstanding = self._chunks(pending, first, tasks, shots)
        collected: dict[str, StoredRow] = {}
        retrying = Retrying(
            stop=stop_after_attempt(self.retry.attempts),
            wait=self._wait,
            retry=retry_if_exception_type(TransientExecutionError),
            reraise=True,
        )
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.counters.retried += 1
                    outstanding = self._submit(outstanding, collected)
        except TransientExecutionError as error:
            missing = tuple(k for chunk in outstanding for k in chunk.keys)
            raise IncompleteResultError(
                f"{len(missing)} row(s) in {len(outstanding)} task(s) had no valid result after "
                f"{self.retry.attempts} attempts (last error: {error}); no partial result is "
                f"returned. Missing row keys: {', '.join(k[:12] for k in missing[:10])}"
                + (" …" if len(missing) > 10 else ""),
                missing,
            ) from error
        return collected

    def _call(self, tasks: list[Task]) -> list[Result | None]:
        started = time.perf_counter()
        try:
            if self.retry.timeout_s is None:  # no thread hop when there is nothing to time out
                results: list[Result | None] = list(self.backend.run(tasks))
            else:
                future = self._pool.submit(self.backend.run, tasks)
                results = list(future.result(timeout=self.retry.timeout_s))
        except concurrent.futures.TimeoutError:
            raise TransientExecutionError(
                f"{self.name} did not answer within {self.retry.timeout_s} s"
            ) from None
        finally:
            self.counters.latencies_s.append(time.perf_counter() - started)
        if len(results) != len(tasks):
            raise InvalidResultError(
                f"{self.name} returned {len(results)} result(s) for {len(tasks)} task(s)"
            )
        return results

    def _submit(self, chunks: list[_Chunk], collected: dict[str, StoredRow]) -> list[_Chunk]:
        """Run ``chunks`` once; store what is valid; raise if anything is left."""
        rows = sum(len(c.keys) for c in chunks)
        self.counters.calls += 1
        self.counters.submitted += rows
        try:
            results = self._call([c.task for c in chunks])
        except TransientExecutionError as error:
            self.counters.failed += rows
            self.counters.throttled += isinstance(error, ThrottledError)
            raise
        left, finished = [], {}
        for chunk, result in zip(chunks, results, strict=True):
            if _invalid(chunk, result) or result is None:
                self.counters.failed += len(chunk.keys)
                left.append(chunk)
                continue
            self.counters.succeeded += len(chunk.keys)
            for r, key in enumerate(chunk.keys):
                spent = 0 if chunk.shots is None else int(chunk.shots[r].sum())
                variances = None if result.variances is None else result.variances[r]
                finished[key] = StoredRow(result.values[r], variances, spent, dict(result.metadata))
        if finished and self.store is not None:
            self.store.put_many(finished)  # committed before anyone uses the numbers
        collected.update(finished)
        if left:
            reasons = {_invalid(c, r) for c, r in zip(chunks, results, strict=True)} - {""}
            raise TransientExecutionError(
                f"{len(left)} task(s) missing or invalid: {sorted(reasons)}"
            )
        return left

    def _assemble(
        self,
        index: int,
        task: Task,
        keys: list[str],
        *,
        first: dict[str, tuple[int, int]],
        done: dict[str, StoredRow],
        fresh: dict[str, StoredRow],
    ) -> Result:
        rows = [fresh[k] if k in fresh else done[k] for k in keys]
        values = (
            np.stack([row.values for row in rows]) if rows else np.zeros((0, len(task.observables)))
        )
        variances = None
        if task.shots is not None:
            variances = np.stack([row.variances for row in rows]) if rows else values.copy()  # type: ignore[misc]
        # Shots spent now are charged once, to the first task that holds the row.
        spent = sum(
            fresh[k].shots for k in dict.fromkeys(keys) if k in fresh and first[k][0] == index
        )
        metadata = {
            "backend": self.name,
            "cached_rows": sum(k in done and k not in fresh for k in keys),
            "calibration_ids": sorted(
                {str(r.metadata.get("calibration_id", "")) for r in rows} - {""}
            ),
        }
        return Result(values, variances, spent, metadata)


def resolve_executor(
    backend: Backend | None, executor: Executor | None, store: ResultStore | None
) -> Executor:
    """The executor a front-door call uses: the given one, or one around ``backend``.

    Raises:
        ConfigError: both an executor and a backend or store were given (the executor
            already has its own).
    """
    if executor is not None:
        if backend is not None or store is not None:
            raise ConfigError("pass either executor= or backend=/store=, not both")
        return executor
    from qtrain.backends.local import LocalSimulator  # noqa: PLC0415 - default only

    return Executor(backend if backend is not None else LocalSimulator(), store=store)
