"""Dry runs: what a plan will cost before anything runs.

``qt.dry_run(tasks)`` counts tasks, rows, distinct rows (after dedup), rows already in the
store, the shots that would be spent, and an estimated time from the backend's own cost
model (``backend.estimate_seconds(task)`` when it has one). Nothing is executed.

>>> import numpy as np
>>> import qtrain as qt
>>> c = qt.ansatz.hardware_efficient(4, 2)
>>> tasks = qt.gradient_tasks(c, [qt.Z(0)], np.zeros(c.n_params), shots=1000, seed=1)
>>> report = qt.dry_run(tasks)
>>> report.rows, report.shots
(33, 33000)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from qtrain.backends.protocol import Backend, Task
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.store import ResultStore

__all__ = ["DryRun", "dry_run"]


@dataclass(frozen=True)
class DryRun:
    """The cost of running some tasks.

    Attributes:
        tasks: tasks in the plan.
        rows: parameter rows (circuit executions) in all tasks.
        unique_rows: rows left after content-keyed dedup.
        cached_rows: unique rows already in the store (free).
        shots: shots the run would spend (cached rows cost nothing).
        estimated_seconds: the backend's estimate for the rows to run, ``None`` if it has no
            cost model.
    """

    tasks: int
    rows: int
    unique_rows: int
    cached_rows: int
    shots: int
    estimated_seconds: float | None

    def __str__(self) -> str:
        time_text = (
            "unknown" if self.estimated_seconds is None else f"~{self.estimated_seconds:.3g} s"
        )
        return (
            f"{self.tasks} task(s), {self.rows} row(s) ({self.unique_rows} distinct, "
            f"{self.cached_rows} cached), {self.shots:,} shot(s), {time_text}"
        )


def dry_run(
    tasks: Sequence[Task],
    *,
    backend: Backend | None = None,
    executor: Executor | None = None,
    store: ResultStore | None = None,
) -> DryRun:
    """Cost of ``tasks`` on ``backend``/``executor`` (as ``qt.expval`` would resolve them)."""
    runner = resolve_executor(backend, executor, store)
    rows, unique, cached, shots = preview(runner, tasks)
    estimate = getattr(runner.backend, "estimate_seconds", None)
    seconds = None
    if callable(estimate) and rows:
        share = (unique - cached) / rows  # dedup and the store shrink the work proportionally
        seconds = share * sum(float(estimate(task)) for task in tasks)
    return DryRun(len(tasks), rows, unique, cached, shots, seconds)


def preview(executor: Executor, tasks: Sequence[Task]) -> tuple[int, int, int, int]:
    """What ``executor.run(tasks)`` would do: ``(rows, unique rows, cached rows, shots)``."""
    units = executor.units(tasks)
    store = executor.store
    cached = set(store.get_many(units.keys())) if store is not None else set()
    spend = 0
    for u in range(len(units)):
        matrix = units.shots[units.task_of[u]]
        if matrix is not None and not (cached and units.keys()[u] in cached):
            spend += int(matrix[units.row_of[u]].sum())
    return sum(o.size for o in units.owner), len(units), len(cached), spend
