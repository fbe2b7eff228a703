"""The executor: between a gradient plan and a backend, it makes execution boring.

For a list of tasks it (1) splits them into row units with content keys and deduplicates
them, (2) reads finished rows from the durable store, (3) chunks the rest to the backend's
limits, (4) submits them with retries — exponential backoff with jitter (tenacity), honouring
a throttling hint, with a per-call timeout — (5) validates every result (shape, finiteness,
values and variances a quantum state can give, shots) so a corrupted result counts as a
failure and is never used, resubmitting only what failed or went missing, (6) commits each
finished row to the store before returning, and (7) reassembles one result per task. When the
retry budget runs out it raises ``IncompleteResultError`` naming the missing rows: a gradient
with missing components never reaches the optimizer. Counters record everything for the
training loop's metrics, shots spent on results never used included.

Row keys name the backend (its identity digest, computed once per backend object), so one
store can serve several backends. A sampled task with ``seed=None`` gets fresh entropy here,
one seed per :meth:`Executor.run` call, before keys are formed: its rows are stored under the
seed they really used, and each result records it as ``metadata["seed"]``. With a timeout,
each call runs on its own thread (``exec.timeouts``), so an abandoned call never starves the
next attempt; what it spends when it returns is counted, and its valid rows are stored.

Rows stay in arrays (``exec.keys.Units``, ``exec.ledger``): no object per row, no hashing
unless a store or an error needs the keys; a call of one task with distinct rows and no store
sends the task itself (~30 µs for 33 rows, docs/performance.md, "Execution layer").
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import (
    Asynchronous,
    Backend,
    BackendLimits,
    Result,
    Task,
    fresh_seed,
    identity_digest,
    is_asynchronous,
)
from qtrain.errors import (
    ConfigError,
    InvalidResultError,
    ThrottledError,
    TransientExecutionError,
)
from qtrain.exec import events
from qtrain.exec.chunks import Allowance, incomplete, refuse_past_allowance, split_chunks
from qtrain.exec.counters import ExecutorCounters, overhead_shots, prepare_backend
from qtrain.exec.jobs import JobJournal, call_key, run_journaled
from qtrain.exec.keys import Units, split_units
from qtrain.exec.ledger import Block, Ledger
from qtrain.exec.retry import RetryPolicy
from qtrain.exec.store import ResultStore
from qtrain.exec.timeouts import Abandoned, TimedCall
from qtrain.exec.validation import Chunk, check_limits, checks_for, invalid_reason

__all__ = ["Executor", "ExecutorCounters", "RetryPolicy", "resolve_executor"]


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
        max_abandoned: timed-out calls that may still be running at once; past it a call is
            refused with ``ExecutionError`` (the backend hangs).

    With a store and an asynchronous backend (``QiskitBackend``), every call's jobs are
    journaled in the store before the executor waits for them (``exec.jobs``).
    """

    journals_jobs = True  # the Dask executor runs backends on workers: it does not

    def __init__(
        self,
        backend: Backend,
        *,
        store: ResultStore | None = None,
        retry: RetryPolicy | None = None,
        max_rows: int | None = None,
        tasks_per_call: int | None = None,
        max_workers: int = 1,
        max_abandoned: int = 16,
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
        self._abandoned = Abandoned(max_abandoned)
        self._digest: tuple[object, object, str] | None = None  # (backend, epoch, digest)
        # Timed calls run on threads of their own (exec.timeouts); concurrent calls here.
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

    def backend_digest(self) -> str:
        """The backend's identity digest (in every row key), once per backend and epoch."""
        epoch = getattr(self.backend, "identity_epoch", None)  # a calibration that changed
        if self._digest is None or self._digest[:2] != (self.backend, epoch):
            self._digest = (self.backend, epoch, identity_digest(self.backend))
        return self._digest[2]

    def units(self, tasks: Sequence[Task]) -> Units:
        """Validated shot matrices and the distinct row units of ``tasks``."""
        shots = [task.shot_matrix() for task in tasks]
        for task, matrix in zip(tasks, shots, strict=True):
            check_limits(self.name, self.backend.limits, task, matrix)
        return split_units(tasks, shots, self.backend_digest())

    def run(self, tasks: Sequence[Task], *, max_shots: Allowance | None = None) -> list[Result]:
        """One validated result per task, in order (see the module docstring).

        ``max_shots`` caps what the call may spend, wasted shots (rejected or late results)
        included: a retry that would pass it is not made (:class:`ShotAllowanceError`, which
        says what was spent). The first attempt is the caller's to price.
        """
        if any(task.seed is None and task.shots is not None for task in tasks):
            seed = fresh_seed()  # one per call: rows shared by its tasks stay one unit
            tasks = [
                replace(task, seed=seed) if task.seed is None and task.shots is not None else task
                for task in tasks
            ]
        units = self.units(tasks)
        self.counters.deduplicated += sum(o.size for o in units.owner) - len(units)
        ledger = Ledger(len(units))
        # Unit u is row u of a simple call: its units array doubles as the pending list, which
        # lets the ledger hand the one block back without a gather.
        pending = units.owner[0] if units.simple else np.arange(len(units))
        if self.store is not None and len(units):
            pending = self._read_store(units, ledger)
        if pending.size:  # set-up a backend does once per call (a readout calibration), here
            self.counters.overhead_shots += prepare_backend(self.backend, tasks)
        self._execute(pending, units, tasks, ledger, max_shots)
        charged = np.zeros(len(tasks), dtype=np.int64)  # shots spent now, to the first holder
        if units.simple:
            charged[0] = ledger.spent.sum()
        else:
            np.add.at(charged, units.task_of, ledger.spent)
        return [
            ledger.result(units.owner[t], task, int(charged[t]), self.name)
            for t, task in enumerate(tasks)
        ]

    def _read_store(self, units: Units, ledger: Ledger) -> NDArray[np.int64]:
        """Put the stored units in ``ledger``; returns the units still to run."""
        assert self.store is not None  # checked by the caller
        keys = units.keys()
        found = self.store.get_many(keys)
        self.counters.cached += len(found)
        hit = np.array([key in found for key in keys], dtype=bool)
        for t in np.unique(units.task_of[hit]):  # one block per first holder: same shape
            mine = np.flatnonzero(hit & (units.task_of == t))
            ledger.add_stored(mine, [found[keys[u]] for u in mine])
        return np.flatnonzero(~hit)

    def _execute(
        self,
        pending: NDArray[np.int64],
        units: Units,
        tasks: Sequence[Task],
        ledger: Ledger,
        max_shots: Allowance | None = None,
    ) -> None:
        if not pending.size:
            return
        wasted_before = self._wasted()
        limit = self.backend.limits.max_rows
        chunks = split_chunks(pending, units, tasks, max(1, min(limit, self.max_rows or limit)))
        try:  # the first attempt outside tenacity, whose loop costs ~10 µs when nothing fails
            self._submit(chunks, units, ledger)
            return
        except TransientExecutionError as error:
            first = error
        try:
            for attempt in self.retry.retrying():
                with attempt:
                    if attempt.retry_state.attempt_number == 1:
                        raise first  # the attempt above: tenacity waits and counts as before
                    outstanding = ledger.missing(chunks)
                    if max_shots is not None:
                        spent = int(ledger.spent.sum()) + self._wasted() - wasted_before
                        refuse_past_allowance(outstanding, spent, max_shots)
                    self.counters.retried += 1
                    events.retrying(
                        self.name, attempt.retry_state.attempt_number, outstanding, units
                    )
                    self._submit(outstanding, units, ledger)
        except TransientExecutionError as error:
            outstanding = ledger.missing(chunks)
            events.gave_up(self.name, self.retry.attempts, outstanding, units, error)
            raise incomplete(outstanding, units, self.retry.attempts, error) from error

    def _wasted(self) -> int:
        counters = self.counters
        return counters.rejected_shots + counters.abandoned_shots + counters.overhead_shots

    def _run_backend(self, tasks: list[Task]) -> Sequence[Result | None]:
        """Where a call runs: here, in this process (the Dask executor sends it to a worker)."""
        return self.backend.run(tasks)

    def _journal_key(self, group: list[Chunk], units: Units) -> str | None:
        """The call's job-journal key (``exec.jobs``); ``None``: this call is not journaled."""
        if self.store is None or not (self.journals_jobs and is_asynchronous(self.backend)):
            return None
        return call_key([[units.keys()[u] for u in chunk.units.tolist()] for chunk in group])

    def _run_tasks(self, tasks: list[Task], key: str | None) -> Sequence[Result | None]:
        if key is None or self.store is None:
            return self._run_backend(tasks)
        assert isinstance(self.backend, Asynchronous)  # a key is formed only then
        return run_journaled(self.backend, tasks, JobJournal(self.store), key, self.name)

    def _cancel(self, tasks: list[Task]) -> None:
        """Ask the backend to stop the call running ``tasks`` (it timed out), if it can."""
        cancel = getattr(self.backend, "cancel", None)
        if callable(cancel):
            cancel(tasks)

    def _call(self, group: list[Chunk], units: Units, key: str | None) -> list[Result | None]:
        tasks = [c.task for c in group]
        started = time.perf_counter()
        try:
            if self.retry.timeout_s is None or key is not None:  # a job waits: see exec.jobs
                results: list[Result | None] = list(self._run_tasks(tasks, key))
            else:
                results = self._timed(tasks, group, units, key, self.retry.timeout_s)
        finally:
            self.counters.latencies_s.append(time.perf_counter() - started)
        if len(results) != len(tasks):
            raise InvalidResultError(
                f"{self.name} returned {len(results)} result(s) for {len(tasks)} task(s)"
            )
        return results

    def _timed(
        self,
        tasks: list[Task],
        group: list[Chunk],
        units: Units,
        key: str | None,
        timeout_s: float,
    ) -> list[Result | None]:
        """Run one call on its own thread; abandon it (and cancel) after ``timeout_s``."""
        self._abandoned.check_room(self.name)
        call = TimedCall(
            lambda: self._run_tasks(tasks, key), lambda late: self._settle(late, group, units, key)
        )
        if not call.wait(timeout_s, self._abandoned.add):
            self.counters.abandoned += 1
            events.call_abandoned(self.name, group, units, timeout_s)
            self._cancel(tasks)
            raise TransientExecutionError(f"{self.name} did not answer within {timeout_s} s")
        if call.error is not None:
            raise call.error
        assert call.results is not None  # no error: the call returned
        return call.results

    def _settle(self, call: TimedCall, group: list[Chunk], units: Units, key: str | None) -> None:
        """An abandoned call came back (on its thread): count its shots, store its rows."""
        spent, finished, lost = 0, [], None
        try:
            results = call.results if call.results is not None else []
            returned = zip(group, results if len(results) == len(group) else [], strict=False)
            for chunk, result in returned:
                if result is not None:  # it ran: the shots are spent
                    spent += 0 if chunk.shots is None else int(chunk.shots.sum())
                    if not invalid_reason(chunk, result, **checks_for(self.backend)):
                        finished.append(Block.of(chunk, result))
            self._commit(finished, units, key)  # paid for: a later run reads them for free
        except Exception as error:  # on a thread of its own: reported, never raised
            lost = error
        with self._abandoned.lock:
            self.counters.abandoned_shots += spent + overhead_shots(call.results or [])
            self.counters.recovered += sum(b.units.size for b in finished) if lost is None else 0
        self._abandoned.discard(call)
        events.abandoned_returned(self.name, group, units, spent, error=call.error, lost=lost)

    def _commit(self, finished: list[Block], units: Units, key: str | None = None) -> None:
        """Write ``finished`` blocks to the store (if any) in one transaction.

        Then the call's job-journal entry (``key``) goes: its jobs are read and stored.
        """
        if finished and self.store is not None:
            keys = units.keys()
            self.store.put_blocks([b.stored([keys[u] for u in b.units.tolist()]) for b in finished])
        if key is not None and self.store is not None:
            JobJournal(self.store).forget(key)

    def wait_abandoned(self, timeout_s: float | None = None) -> int:
        """Wait for timed-out calls still running; returns how many still run after it.

        Their shots and valid rows are accounted when they return (``counters``).
        """
        return self._abandoned.wait(timeout_s)

    def _finish(self, chunk: Chunk, result: Result | None, units: Units) -> Block | None:
        """The chunk's rows if ``result`` is valid for it, else nothing (counted as failed)."""
        reason = invalid_reason(chunk, result, **checks_for(self.backend))
        if result is None or reason:
            self.counters.failed += chunk.units.size
            if result is not None and chunk.shots is not None:  # it ran: its shots are spent
                self.counters.rejected_shots += int(chunk.shots.sum())
            events.result_rejected(self.name, chunk, units, reason)
            return None
        self.counters.succeeded += chunk.units.size
        self.counters.succeeded_shots += 0 if chunk.shots is None else int(chunk.shots.sum())
        return Block.of(chunk, result)

    def _one_call(self, group: list[Chunk], units: Units) -> tuple[list[Block], Exception | None]:
        """Run one backend call; commit its valid rows before returning them."""
        self.counters.calls += 1
        self.counters.submitted += sum(c.units.size for c in group)
        key = self._journal_key(group, units)
        try:
            results = self._call(group, units, key)
        except TransientExecutionError as error:
            self.counters.failed += sum(c.units.size for c in group)
            self.counters.throttled += isinstance(error, ThrottledError)
            events.call_failed(self.name, group, units, error)
            return [], error
        self.counters.record(results)  # overhead shots, queue and execution time
        finished = [
            block
            for chunk, result in zip(group, results, strict=True)
            if (block := self._finish(chunk, result, units)) is not None
        ]
        self.counters.partial += len(finished) < len(group)
        self._commit(finished, units, key)  # committed before anyone uses the numbers
        return finished, None

    def _submit(self, chunks: list[Chunk], units: Units, ledger: Ledger) -> None:
        """Run ``chunks`` once (in calls of ``tasks_per_call``); raise if anything is left."""
        size = self.tasks_per_call or len(chunks)
        groups = [chunks[i : i + size] for i in range(0, len(chunks), size)]
        if self.max_workers > 1 and len(groups) > 1:
            outcomes = list(self._calls.map(lambda g: self._one_call(g, units), groups))
        else:
            outcomes = [self._one_call(group, units) for group in groups]
        errors = [error for _, error in outcomes if error is not None]
        for finished, _ in outcomes:
            for block in finished:
                ledger.add(block)
        left = ledger.missing(chunks)
        if left:
            throttled = [e for e in errors if isinstance(e, ThrottledError)]
            if throttled:
                raise throttled[0]  # carries the retry-after hint to the wait
            raise TransientExecutionError(
                f"{len(left)} task(s) failed, missing or invalid"
                + (f" (last error: {errors[-1]})" if errors else "")
            )


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
