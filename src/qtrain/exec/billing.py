"""Billing: how many tasks a plan is billed as, its quote, and a step's money allowance.

A *task*, as billed (:func:`billable_tasks`): a backend that says how it counts its work
(``backend.billable_tasks(task) -> int``) is asked; the Qiskit bridge bills one per provider
job (its pieces packed into jobs of at most ``max_circuits`` circuits, as
``backends.qiskit_jobs.plan_pieces``/``pack_jobs`` pack them); any other backend one per
``Task`` the executor sends (a task longer than ``limits.max_rows`` rows is sent as several).
A wrapper (``FaultyBackend``, ``Mitigated``) is counted by its ``inner`` backend.

A step is quoted before it runs (:func:`quote`: the plan's billable tasks, its shots, and
the backend's own time estimate where it has one) and charged after
(:meth:`MoneyAllowance.charge`: the tasks sent, retries included; the shots the executor
counted, wasted and overhead included; the seconds a provider measured, else the estimate).

Seconds under a money limit. A per-second rate makes a step's price depend on time no one
knows before it runs, so a hard ``max_cost`` needs something to go by (:func:`seconds_bound`):
the backend's own ``estimate_seconds``, else its ``max_wait_s`` (the longest one provider job
may take) per billable task. The caller may give the seconds it has seen (a run's observed
seconds per shot, ``train/step_money.py``): the quote takes the larger. The charge is the
seconds a provider measured — the real bill, never capped; seconds past the quote are
reported (:meth:`MoneyAllowance.over_quote`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from qtrain.backends.protocol import Task
from qtrain.errors import ShotAllowanceError
from qtrain.exec.chunks import refuse_past_allowance
from qtrain.exec.pricing import MICRO, Price
from qtrain.exec.validation import Chunk

__all__ = [
    "CostAllowanceError",
    "MoneyAllowance",
    "Quote",
    "billable_tasks",
    "estimated_seconds",
    "has_seconds_bound",
    "quote",
    "seconds_bound",
]


def _qiskit_jobs(task: Task, max_circuits: int, max_shots: int) -> int:
    """Jobs the Qiskit bridge sends for a sampled ``task`` (``backends.qiskit_jobs``).

    One slot per (measurement group, distinct shot count) with its rows; each slot's rows in
    blocks of ``max_circuits`` and its shots in parts of ``max_shots``: one PUB each; PUBs
    packed in order into jobs of at most ``max_circuits`` circuits.
    """
    shots = task.shot_matrix()
    assert shots is not None  # sampled
    jobs, size = 0, max_circuits + 1  # the first PUB opens a job
    for column in shots.T:
        for count in np.unique(column):
            rows = int(np.count_nonzero(column == count))
            parts = -(-int(count) // max_shots)
            for start in range(0, rows, max_circuits):
                block = min(max_circuits, rows - start)
                for _ in range(parts):
                    if size + block > max_circuits:
                        jobs, size = jobs + 1, 0
                    size += block
    return jobs


def billable_tasks(backend: object, task: Task) -> int:
    """Tasks ``task`` is billed as on ``backend`` (module docstring)."""
    count = getattr(backend, "billable_tasks", None)
    if callable(count):
        return int(count(task))
    circuits, most = getattr(backend, "max_circuits", None), getattr(backend, "max_shots", None)
    if isinstance(circuits, int) and isinstance(most, int) and task.shots is not None:
        return _qiskit_jobs(task, circuits, most)  # the Qiskit bridge: one per job
    inner = getattr(backend, "inner", None)
    if inner is not None:
        return billable_tasks(inner, task)
    limits = getattr(backend, "limits", None)
    rows_per_task = int(getattr(limits, "max_rows", 1 << 30))
    return max(1, -(-int(task.params.shape[0]) // rows_per_task))


def _found(backend: object, name: str) -> object:
    """``backend.<name>``, else the first wrapped (``inner``) backend's; ``None``: none has it.

    A provider's ``max_wait_s`` bounds its jobs' seconds under any wrapper (``Mitigated``).
    """
    level, depth = backend, 0
    while level is not None and depth < 16:
        value = getattr(level, name, None)
        if value is not None:
            return value
        level, depth = getattr(level, "inner", None), depth + 1
    return None


def estimated_seconds(backend: object, tasks: Sequence[Task]) -> float | None:
    """The backend's own estimate of ``tasks``' execution seconds (``None``: it has none)."""
    estimate = getattr(backend, "estimate_seconds", None)  # its own: a wrapper's inner
    if not callable(estimate):  # simulator says nothing of the device it stands for
        return None
    total = sum(float(estimate(task)) for task in tasks)
    return total if math.isfinite(total) and total >= 0 else None


def _max_wait(backend: object) -> float | None:
    wait = _found(backend, "max_wait_s")
    if isinstance(wait, bool) or not isinstance(wait, int | float):
        return None
    return float(wait) if math.isfinite(wait) and wait > 0 else None


def has_seconds_bound(backend: object) -> bool:
    """Whether :func:`seconds_bound` has something to go by for ``backend``."""
    return callable(getattr(backend, "estimate_seconds", None)) or _max_wait(backend) is not None


def seconds_bound(backend: object, tasks: Sequence[Task], count: int) -> float | None:
    """The seconds ``tasks`` (``count`` billable tasks) are quoted at under a money limit.

    The backend's own estimate, else ``max_wait_s`` per billable task; ``None``: neither.
    """
    own = estimated_seconds(backend, tasks)
    if own is not None:
        return own
    wait = _max_wait(backend)
    return None if wait is None else wait * count


@dataclass(frozen=True)
class Quote:
    """What some tasks cost before they run.

    Attributes:
        tasks: billable tasks; ``shots``: shots, overhead included; ``seconds``: execution
            seconds the money assumes (the larger of the backend's and the caller's).
        money: the charge, rounded to :data:`MICRO`.
    """

    tasks: int
    shots: int
    seconds: float
    money: Decimal


def quote(
    price: Price,
    backend: object,
    tasks: Sequence[Task],
    *,
    shots: int,
    seconds: float | None = None,
    bounded: bool = False,
) -> Quote:
    """The price of running ``tasks`` (``shots`` in all) on ``backend``.

    ``seconds``: execution seconds the caller has seen for such work (``None``: nothing);
    the quote assumes the larger of them and the backend's own estimate — under ``bounded``
    (a money limit) its :func:`seconds_bound`.
    """
    count = sum(billable_tasks(backend, task) for task in tasks)
    own = None
    if price.per_second:
        own = seconds_bound(backend, tasks, count) if bounded else estimated_seconds(backend, tasks)
    timed = max(own or 0.0, seconds or 0.0)
    return Quote(count, shots, timed, price.charge(tasks=count, shots=shots, seconds=timed))


class CostAllowanceError(ShotAllowanceError):
    """A retry would pass the money a step may spend; ``spent``: the shots the call spent."""


class MoneyAllowance:
    """One executor call's allowance under a money budget (``exec.chunks.SpendLimit``).

    The call's first attempt is what the step was priced at (``first``, counted as sent);
    every retry the executor asks about is priced — its chunks' billable tasks, shots and
    estimated seconds — and refused with :class:`CostAllowanceError` when the money sent so
    far and the retry's would pass ``money``; past ``shots`` it is refused as the executor's
    shot allowance refuses it. What it let through is what :meth:`charge` bills.

    Args:
        price: the backend's rates.
        backend: the backend (billable tasks, its time estimate).
        first: the quote of the call's first attempt.
        shots: the shot allowance (``None``: no shot budget).
        money: what the call may spend in all, first attempt included (``None``: no limit).
    """

    def __init__(
        self,
        price: Price,
        backend: object,
        first: Quote,
        *,
        shots: int | None,
        money: Decimal | None,
    ) -> None:
        self.price, self.backend, self.shots, self.money = price, backend, shots, money
        self.tasks, self.seconds = first.tasks, first.seconds
        self.sent = price.amount(tasks=first.tasks, shots=first.shots, seconds=first.seconds)
        self._rate = first.seconds / first.shots if first.shots else 0.0  # s per shot

    def refuse(self, outstanding: list[Chunk], spent: int) -> None:
        """Raise if re-running ``outstanding`` would pass the shots or the money."""
        if self.shots is not None:
            refuse_past_allowance(outstanding, spent, self.shots)
        needed = sum(int(c.shots.sum()) for c in outstanding if c.shots is not None)
        retry = quote(
            self.price,
            self.backend,
            [c.task for c in outstanding],
            shots=needed,
            seconds=self._rate * needed,
            bounded=self.money is not None,
        )
        sent = self.sent + self.price.amount(tasks=retry.tasks, shots=needed, seconds=retry.seconds)
        if self.money is not None and sent.quantize(MICRO, ROUND_HALF_EVEN) > self.money:
            raise CostAllowanceError(
                f"retrying {len(outstanding)} task(s) would cost {retry.money} more, past the "
                f"{self.money} this step may spend; no partial result is returned",
                spent,
            )
        self.tasks, self.seconds, self.sent = (
            self.tasks + retry.tasks,
            self.seconds + retry.seconds,
            sent,
        )

    def billed_seconds(self, measured_s: float) -> float:
        """Seconds charged: the provider's ``measured_s`` (the real bill), else the quote's."""
        return measured_s if measured_s > 0 else self.seconds

    def over_quote(self, measured_s: float) -> float:
        """Measured seconds past the quoted ones (retries included): charged, and reported."""
        return max(0.0, measured_s - self.seconds)

    def charge(self, *, shots: int, measured_s: float = 0.0) -> Decimal:
        """The call's charge: tasks sent, ``shots`` as counted (wasted, overhead), seconds.

        Seconds as :meth:`billed_seconds` says.
        """
        seconds = self.billed_seconds(measured_s)
        return self.price.charge(tasks=self.tasks, shots=shots, seconds=seconds)

    def wasted(self, *, shots: int, share: float, measured_s: float = 0.0) -> Decimal:
        """The charge of a call whose valid rows a later call reads (and pays for) again.

        Every task it sent (the provider bills them, and the later call sends them again or
        pays for the rows it reads), ``shots`` (rejected, late, overhead), and ``share`` of
        the seconds (their part of the shots the call ran).
        """
        seconds = share * self.billed_seconds(measured_s)
        return self.price.charge(tasks=self.tasks, shots=shots, seconds=seconds)
