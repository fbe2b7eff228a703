"""Chunking: the units still to run, as tasks of at most ``size`` rows for the backend.

And what the executor says about chunks it could not finish: the retry the allowance
cannot pay for, and the rows still missing when the retries ran out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.errors import IncompleteResultError, ShotAllowanceError
from qtrain.exec.keys import Units
from qtrain.exec.validation import Chunk

__all__ = ["Allowance", "SpendLimit", "incomplete", "refuse_past_allowance", "split_chunks"]


def split_chunks(
    pending: NDArray[np.int64], units: Units, tasks: Sequence[Task], size: int
) -> list[Chunk]:
    """The ``pending`` units of ``tasks`` as chunks of at most ``size`` rows.

    Each chunk is one task's rows (in the order of their units); a whole task whose rows are
    all pending is sent as given, without copying its arrays.
    """
    if units.simple and pending.size == len(units):  # one task, all of it to run
        task, matrix = tasks[0], units.shots[0]
        if pending.size <= size:
            return [Chunk(task, pending, matrix)]  # the task as given: no copies
        return [
            Chunk(
                Task(
                    task.circuit,
                    task.observables,
                    task.params[i : i + size],
                    None if matrix is None else matrix[i : i + size],
                    task.seed,
                ),
                pending[i : i + size],
                None if matrix is None else matrix[i : i + size],
            )
            for i in range(0, pending.size, size)
        ]
    chunks = []
    owners = units.task_of[pending]
    for t in dict.fromkeys(owners.tolist()):  # tasks in order of their first pending unit
        mine = pending[owners == t]
        task, matrix = tasks[t], units.shots[t]
        for start in range(0, mine.size, size):
            part = mine[start : start + size]
            rows = units.row_of[part]
            whole = rows.size == task.params.shape[0] and bool(np.all(rows[1:] > rows[:-1]))
            params = task.params if whole else task.params[rows]  # no copy for a whole task
            sub = None if matrix is None else (matrix if whole else matrix[rows])
            chunks.append(
                Chunk(Task(task.circuit, task.observables, params, sub, task.seed), part, sub)
            )
    return chunks


class SpendLimit(Protocol):
    """An allowance beside a shot count (``exec.pricing``'s money): it may refuse a retry."""

    def refuse(self, outstanding: list[Chunk], spent: int) -> None:
        """Raise :class:`ShotAllowanceError` (or a subclass) if ``outstanding`` must not run."""


Allowance = int | SpendLimit
"""What an executor call may spend on retries: shots, or a :class:`SpendLimit`."""


def refuse_past_allowance(outstanding: list[Chunk], spent: int, allowance: Allowance) -> None:
    """Raise :class:`ShotAllowanceError` if re-running ``outstanding`` would pass the allowance.

    ``spent``: what the call spent so far, valid and wasted results alike (in shots).
    """
    if not isinstance(allowance, int):
        allowance.refuse(outstanding, spent)
        return
    needed = sum(int(c.shots.sum()) for c in outstanding if c.shots is not None)
    if spent + needed > allowance:
        rows = sum(c.units.size for c in outstanding)
        raise ShotAllowanceError(
            f"retrying {rows} row(s) would spend {needed} more shots after {spent} spent by "
            f"this call, past its allowance of {allowance}; no partial result is returned",
            spent,
        )


def incomplete(
    outstanding: list[Chunk], units: Units, attempts: int, error: Exception
) -> IncompleteResultError:
    """The error naming the rows that had no valid result after ``attempts`` attempts."""
    keys = units.keys()
    missing = tuple(keys[u] for chunk in outstanding for u in chunk.units.tolist())
    return IncompleteResultError(
        f"{len(missing)} row(s) in {len(outstanding)} task(s) had no valid result after "
        f"{attempts} attempts (last error: {error}); no partial result is "
        f"returned. Missing row keys: {', '.join(k[:12] for k in missing[:10])}"
        + (" …" if len(missing) > 10 else ""),
        missing,
    )
