"""Scale-out on Dask distributed: the same executor, with backend calls run on workers.

``DaskExecutor`` keeps everything the :class:`~qtrain.exec.executor.Executor` does — dedup,
the durable store (written by this process, the one that owns the run), validation, retries —
and only moves the backend calls: each chunk of rows becomes one Dask task. Rows are seeded by
their content, so results are bit-identical however the rows are spread over workers.

Local: ``DaskExecutor()`` starts a ``LocalCluster`` of worker processes, one Dask thread each;
each worker's kernels, numba, OpenMP and BLAS get 1 thread, or its share of
``$QTRAIN_NUM_THREADS`` / ``qt.set_num_threads`` when set (``sim.threads.worker_environment``),
so the workers do not oversubscribe the cores. Workers of a cluster read their own
``QTRAIN_NUM_THREADS``: start them with it.
Cluster: ``DaskExecutor("tcp://scheduler:8786")`` connects to a running scheduler, e.g. one
started with ``dask scheduler`` plus ``dask worker tcp://scheduler:8786 --nthreads 1`` on each
node, or by dask-jobqueue (Slurm, PBS) or dask-kubernetes; every worker needs qtrain installed.

A worker lost mid-call (``KilledWorker``, a closed connection, a future cancelled by a
restart) is a transient error: the executor's retries send the rows again. A simulator built
without an explicit memory budget takes its worker's share on the worker
(:func:`worker_memory_budget`), not the "half the RAM" of the process that built it.
"""

from __future__ import annotations

import concurrent.futures
import os
from collections.abc import Sequence
from typing import Any

from qtrain.backends.local import LocalSimulator, shared_memory_budget
from qtrain.backends.protocol import Backend, Result, Task, is_asynchronous
from qtrain.errors import ConfigError, ExecutionError, QtrainError, TransientExecutionError
from qtrain.exec.executor import Executor
from qtrain.exec.retry import RetryPolicy
from qtrain.exec.store import ResultStore
from qtrain.sim import threads
from qtrain.sim.statevector import default_memory_budget

__all__ = ["DaskExecutor", "worker_memory_budget"]


_BUDGET: list[int] = []  # this worker process's budget, computed once


def worker_memory_budget() -> int:
    """The memory budget of a simulator on the Dask worker this runs on, in bytes.

    ``$QTRAIN_MEMORY_BUDGET`` if the worker has it; else half the worker's own
    ``memory_limit`` (Dask's default, ``"auto"``, is the host's RAM times the worker's share
    of its cores, so the workers of one host split it; the other half leaves Dask room below
    its spill and pause thresholds); else, for a worker without a limit, half the available
    RAM times its share of the host's cores (``nthreads / cpu_count``).
    """
    if not _BUDGET:
        from distributed import get_worker  # noqa: PLC0415 - runs on a worker only

        worker = get_worker()
        limit = worker.memory_manager.memory_limit
        if os.environ.get("QTRAIN_MEMORY_BUDGET") is not None:  # set for this process
            budget = default_memory_budget()
        elif limit:
            budget = int(limit) // 2
        else:
            share = min(1.0, worker.state.nthreads / (os.cpu_count() or 1))
            budget = int(default_memory_budget() * share)
        _BUDGET.append(max(1, budget))
    return _BUDGET[0]


def _run_on_worker(backend: Backend, tasks: list[Task]) -> list[Result | None] | QtrainError:
    with shared_memory_budget(worker_memory_budget()):
        try:
            return list(backend.run(tasks))
        except QtrainError as error:
            # Returned, not raised: Dask's exception transport (tblib) cannot rebuild some of
            # ours (StateTooLargeError is a MemoryError) and would hand back a bare Exception.
            return error


def _lost_worker_errors() -> tuple[type[BaseException], ...]:
    """What Dask raises when a worker or the connection is lost mid-call."""
    from distributed import KilledWorker  # noqa: PLC0415 - optional extra
    from distributed.comm.core import CommClosedError  # noqa: PLC0415 - optional extra

    return (KilledWorker, CommClosedError, concurrent.futures.CancelledError)


class DaskExecutor(Executor):
    """An executor whose backend calls run on a Dask cluster.

    Args:
        address: a scheduler address; ``None`` starts a ``LocalCluster``.
        backend: what each worker runs (default ``LocalSimulator()``); sent to the workers.
        store: the durable store, written by this process.
        retry: a :class:`RetryPolicy`.
        n_workers: worker processes of the local cluster.
        max_rows: rows per Dask task (default 64: enough per call, and enough calls to
            spread a gradient over the workers).
        connect_timeout_s: how long to wait for a scheduler before failing.

    Jobs of an asynchronous backend are not journaled (``exec.jobs``): workers wait for them.
    """

    journals_jobs = False

    def __init__(
        self,
        address: str | None = None,
        *,
        backend: Backend | None = None,
        store: ResultStore | None = None,
        retry: RetryPolicy | None = None,
        n_workers: int = 2,
        max_rows: int = 64,
        connect_timeout_s: float = 10.0,
    ) -> None:
        if backend is not None and is_asynchronous(backend):
            raise ConfigError(
                f"{backend.name} runs a provider's jobs, waited for and journaled by this "
                "process: use qt.Executor (max_workers=... for parallel calls), not Dask"
            )
        try:
            from dask.distributed import Client, LocalCluster  # noqa: PLC0415 - optional extra
        except ImportError as exc:
            raise ConfigError(f"DaskExecutor needs pip install 'qtrain[dask]' ({exc})") from None
        self.cluster: Any = None
        try:
            if address is None:
                self.cluster = LocalCluster(  # type: ignore[no-untyped-call]  # dask is untyped
                    n_workers=n_workers,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # None still binds 8787 (taken by another run: warns)
                    env=threads.worker_environment(n_workers),
                )
                self.client: Any = Client(self.cluster)  # type: ignore[no-untyped-call]  # dask is untyped
            else:
                self.client = Client(address, timeout=f"{connect_timeout_s}s")  # type: ignore[no-untyped-call]  # dask is untyped
        except (OSError, TimeoutError) as exc:
            raise ExecutionError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
        self._lost = _lost_worker_errors()
        self._futures: dict[int, Any] = {}  # id(tasks) of a call in flight -> its Dask future
        workers = max(1, len(self.client.scheduler_info().get("workers", {})) or n_workers)
        super().__init__(
            backend if backend is not None else LocalSimulator(),
            store=store,
            retry=retry,
            max_rows=max_rows,
            tasks_per_call=1,
            max_workers=2 * workers,
        )

    def _run_backend(self, tasks: list[Task]) -> Sequence[Result | None]:
        future = self.client.submit(_run_on_worker, self.backend, tasks, pure=False)
        self._futures[id(tasks)] = future
        try:
            results: list[Result | None] | QtrainError = future.result()
        except self._lost as error:  # the worker (or the link to it) died: try again
            raise TransientExecutionError(
                f"Dask lost the call ({type(error).__name__}: {error})"
            ) from error
        finally:
            self._futures.pop(id(tasks), None)
        if isinstance(results, QtrainError):
            raise results
        return results

    def _cancel(self, tasks: list[Task]) -> None:
        """Cancel the Dask future of a timed-out call (a queued one then never runs)."""
        future = self._futures.get(id(tasks))
        if future is not None:
            future.cancel()

    def close(self) -> None:
        """Shut the client (and a local cluster) down."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
