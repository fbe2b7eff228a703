"""Scale-out on Dask distributed: the same executor, with backend calls run on workers.

``DaskExecutor`` keeps everything the :class:`~qtrain.exec.executor.Executor` does — dedup,
the durable store (written by this process, the one that owns the run), validation, retries —
and only moves the backend calls: each chunk of rows becomes one Dask task. Rows are seeded by
their content, so results are bit-identical however the rows are spread over workers.

Local: ``DaskExecutor()`` starts a ``LocalCluster`` of worker processes (one thread each, and
``NUMBA_NUM_THREADS=1`` / ``OMP_NUM_THREADS=1`` so workers do not oversubscribe the cores).
Cluster: ``DaskExecutor("tcp://scheduler:8786")`` connects to a running scheduler, e.g. one
started with ``dask scheduler`` plus ``dask worker tcp://scheduler:8786 --nthreads 1`` on each
node, or by dask-jobqueue (Slurm, PBS) or dask-kubernetes; every worker needs qtrain installed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend, Result, Task
from qtrain.errors import ConfigError, ExecutionError
from qtrain.exec.executor import Executor
from qtrain.exec.retry import RetryPolicy
from qtrain.exec.store import ResultStore

__all__ = ["DaskExecutor"]

_WORKER_ENV = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _run_on_worker(backend: Backend, tasks: list[Task]) -> list[Result | None]:
    return list(backend.run(tasks))


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
    """

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
                    dashboard_address=None,
                    env=dict(_WORKER_ENV),
                )
                self.client: Any = Client(self.cluster)  # type: ignore[no-untyped-call]  # dask is untyped
            else:
                self.client = Client(address, timeout=f"{connect_timeout_s}s")  # type: ignore[no-untyped-call]  # dask is untyped
        except (OSError, TimeoutError) as exc:
            raise ExecutionError(f"cannot reach the Dask scheduler at {address!r}: {exc}") from None
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
        results: list[Result | None] = future.result()
        return results

    def close(self) -> None:
        """Shut the client (and a local cluster) down."""
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
