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
from qtrain.exec import events
from qtrain.exec.keys import row_keys
from qtrain.exec.retry import RetryPolicy
from qtrain.exec.store import ResultStore, StoredRow
from qtrain.exec.validation import Chunk, invalid_reason

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
    partial: int = 0  # calls that returned with some task results missing or invalid
    latencies_s: list[float] = field(default_factory=list)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)


class Executor:
    """Dedup, store, chunk, retry and validate around one backend.

    Args:
        backend: where tasks run.
        store: a :class:`ResultStore` for finished rows (``None``: nothing persists).
        retry: a :class:`RetryPolicy`.
        max_rows: rows per task sent to the backend (at most the backend's own limit); smaller
            chunks are committed to the store sooner.
        tasks_per_call: tasks per backend call (``None``: all pending tasks in one call).
        max_workers: backend calls in flight at once (threads; for remote backends).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        store: ResultStore | None = None,
        retry: RetryPolicy | None = None,
        max_rows: int | None = None,
        tasks_per_call: int | None = None,
        max_workers: int = 1,
    ) -> None:
        for name, value in (("max_rows", max_rows), ("tasks_per_call", tasks_per_call)):
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ConfigError(f"{name} must be a positive int or None, got {value!r}")
        if not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigError(f"max_workers must be a positive int, got {max_workers!r}")
        self.backend = backend
        self.store = store
        self.retry = retry if retry is not None else RetryPolicy()
        self.max_rows = max_rows
        self.tasks_per_call = tasks_per_call
        self.max_workers = max_workers
        self.counters = ExecutorCounters()
        # Timed calls run in `_pool`; concurrent calls in `_calls` (separate, so no deadlock).
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers + 1, thread_name_prefix="qtrain-call"
        )
        self._calls = concurrent.futures.ThreadPoolExecutor(
            max_workers=max_workers, thread_name_prefix="qtrain-submit"
        )

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

    def _units(
        self, tasks: Sequence[Task]
    ) -> tuple[list[NDArray[np.int64] | None], list[list[str]], dict[str, tuple[int, int]]]:
        """Validated shot matrices, row keys per task, and each distinct key's first (task, row)."""
        shots = [task.shot_matrix() for task in tasks]
        for task, matrix in zip(tasks, shots, strict=True):
            self._check_limits(task, matrix)
        keys = [row_keys(task, matrix) for task, matrix in zip(tasks, shots, strict=True)]
        first: dict[str, tuple[int, int]] = {}
        for t, task_keys in enumerate(keys):
            for r, key in enumerate(task_keys):
                first.setdefault(key, (t, r))
        return shots, keys, first

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        """One validated result per task, in order (see the module docstring)."""
        shots, keys, first = self._units(tasks)
        self.counters.deduplicated += sum(map(len, keys)) - len(first)
        done = self.store.get_many(first) if self.store is not None else {}
        self.counters.cached += len(done)
        fresh = self._execute([k for k in first if k not in done], first, tasks, shots)
        return [
            self._assemble(t, task, task_keys, first=first, done=done, fresh=fresh)
            for t, (task, task_keys) in enumerate(zip(tasks, keys, strict=True))
        ]

    def preview(self, tasks: Sequence[Task]) -> tuple[int, int, int, int]:
        """What :meth:`run` would do: ``(rows, unique rows, cached rows, shots to spend)``."""
        shots, keys, first = self._units(tasks)
        cached = self.store.get_many(first) if self.store is not None else {}
        spend = 0
        for key, (t, r) in first.items():
            matrix = shots[t]
            if key not in cached and matrix is not None:
                spend += int(matrix[r].sum())
        return sum(map(len, keys)), len(first), len(cached), spend

    def _chunks(
        self,
        pending: list[str],
        first: dict[str, tuple[int, int]],
        tasks: Sequence[Task],
        shots: list[NDArray[np.int64] | None],
    ) -> list[Chunk]:
        by_task: dict[int, list[tuple[int, str]]] = {}
        for key in pending:
            t, r = first[key]
            by_task.setdefault(t, []).append((r, key))
        size = max(
            1, min(self.backend.limits.max_rows, self.max_rows or self.backend.limits.max_rows)
        )
        chunks = []
        for t, members in by_task.items():
            for start in range(0, len(members), size):
                part = members[start : start + size]
                rows = [r for r, _ in part]
                matrix = shots[t]
                sub = None if matrix is None else matrix[rows]
                task = tasks[t]
                chunks.append(
                    Chunk(
                        Task(task.circuit, task.observables, task.params[rows], sub, task.seed),
                        [k for _, k in part],
                        sub,
                    )
                )
        return chunks

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
        retrying = self.retry.retrying()
        try:
            for attempt in retrying:
                with attempt:
                    if attempt.retry_state.attempt_number > 1:
                        self.counters.retried += 1
                        events.retrying(self.name, attempt.retry_state.attempt_number, outstanding)
                    outstanding = self._submit(outstanding, collected)
        except TransientExecutionError as error:
            missing = tuple(k for chunk in outstanding for k in chunk.keys)
            events.gave_up(self.name, self.retry.attempts, outstanding, error)
            raise IncompleteResultError(
                f"{len(missing)} row(s) in {len(outstanding)} task(s) had no valid result after "
                f"{self.retry.attempts} attempts (last error: {error}); no partial result is "
                f"returned. Missing row keys: {', '.join(k[:12] for k in missing[:10])}"
                + (" …" if len(missing) > 10 else ""),
                missing,
            ) from error
        return collected

    def _run_backend(self, tasks: list[Task]) -> Sequence[Result | None]:
        """Where a call runs: here, in this process (the Dask executor sends it to a worker)."""
        return self.backend.run(tasks)

    def _call(self, tasks: list[Task]) -> list[Result | None]:
        started = time.perf_counter()
        try:
            if self.retry.timeout_s is None:  # no thread hop when there is nothing to time out
                results: list[Result | None] = list(self._run_backend(tasks))
            else:
                future = self._pool.submit(self._run_backend, tasks)
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

    def _finish(self, chunk: Chunk, result: Result | None) -> dict[str, StoredRow]:
        """The chunk's rows if ``result`` is valid for it, else nothing (counted as failed)."""
        reason = invalid_reason(chunk, result)
        if result is None or reason:
            self.counters.failed += len(chunk.keys)
            events.result_rejected(self.name, chunk, reason)
            return {}
        self.counters.succeeded += len(chunk.keys)
        rows = {}
        for r, key in enumerate(chunk.keys):
            spent = 0 if chunk.shots is None else int(chunk.shots[r].sum())
            variances = None if result.variances is None else result.variances[r]
            rows[key] = StoredRow(result.values[r], variances, spent, dict(result.metadata))
        return rows

    def _one_call(self, group: list[Chunk]) -> tuple[dict[str, StoredRow], Exception | None]:
        """Run one backend call; commit its valid rows before returning them."""
        self.counters.calls += 1
        self.counters.submitted += sum(len(c.keys) for c in group)
        try:
            results = self._call([c.task for c in group])
        except TransientExecutionError as error:
            self.counters.failed += sum(len(c.keys) for c in group)
            self.counters.throttled += isinstance(error, ThrottledError)
            events.call_failed(self.name, group, error)
            return {}, error
        finished: dict[str, StoredRow] = {}
        rejected = 0
        for chunk, result in zip(group, results, strict=True):
            rows = self._finish(chunk, result)
            rejected += not rows
            finished.update(rows)
        self.counters.partial += rejected > 0
        if finished and self.store is not None:
            self.store.put_many(finished)  # committed before anyone uses the numbers
        return finished, None

    def _submit(self, chunks: list[Chunk], collected: dict[str, StoredRow]) -> list[Chunk]:
        """Run ``chunks`` once (in calls of ``tasks_per_call``); raise if anything is left."""
        size = self.tasks_per_call or len(chunks)
        groups = [chunks[i : i + size] for i in range(0, len(chunks), size)]
        if self.max_workers > 1 and len(groups) > 1:
            outcomes = list(self._calls.map(self._one_call, groups))
        else:
            outcomes = [self._one_call(group) for group in groups]
        errors = [error for _, error in outcomes if error is not None]
        for finished, _ in outcomes:
            collected.update(finished)
        left = [c for c in chunks if any(k not in collected for k in c.keys)]
        if left:
            throttled = [e for e in errors if isinstance(e, ThrottledError)]
            if throttled:
                raise throttled[0]  # carries the retry-after hint to the wait
            raise TransientExecutionError(
                f"{len(left)} task(s) failed, missing or invalid"
                + (f" (last error: {errors[-1]})" if errors else "")
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
