"""How long a run will take: the planned step priced with this machine's coefficients.

A training step costs: planning it (timed directly: it is pure Python), the backend's work
on every task (``backends.local_cost``: the simulator's kernel calls and amplitude updates,
sampling), the adjoint gradients and the metric tensor computed in-process, the executor
(calls, tasks, rows: keys, validation) and the result store (rows, commits, fsync at
``durability: full``), and the loop's own time (checkpoint, ``metrics.jsonl``, optimizer).
A fresh process pays a warm-up once (loading compiled kernels). The coefficients are this
machine's (``app.calibration``); wrappers are priced through: a ``Mitigated`` backend runs
its folded circuits on the inner one, a ``FaultyBackend`` its expected retries, backoff and
re-sent tasks. A Qiskit target is priced by its own measured per-job model
(``app.qiskit_timing``) or not at all (``basis`` says why).

Everything here counts; nothing runs.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from qtrain.app.probes import executor_work
from qtrain.backends.faulty import FaultyBackend
from qtrain.backends.local import LocalSimulator
from qtrain.backends.local_cost import adjoint_work, metric_work, seconds
from qtrain.backends.protocol import Backend, Task, is_asynchronous
from qtrain.exec.executor import Executor
from qtrain.exec.retry import RetryPolicy
from qtrain.mitigation.mitigated import Mitigated
from qtrain.passes.slots import lower
from qtrain.train.evaluation import EvaluationAssembly
from qtrain.train.objective import Objective

__all__ = ["BackendPrice", "TimeEstimate", "estimate_step", "planning_seconds"]

Coefficients = Mapping[str, float]


@dataclass(frozen=True)
class TimeEstimate:
    """The predicted time of a run: a warm-up, then the same cost every step.

    Attributes:
        step_seconds: one step (``None``: unknown, ``basis`` says why).
        warmup_seconds: once per process (loading kernels, first-use caches, transpiling).
        parts: the step's seconds by where they go (``simulation``, ``executor``, ...).
        basis: where the numbers come from, in words.
    """

    step_seconds: float | None
    warmup_seconds: float
    parts: Mapping[str, float] = field(default_factory=dict)
    basis: str = ""

    def run_seconds(self, steps: int) -> float | None:
        """``warm-up + steps × step`` (``None`` when the step is unknown)."""
        if self.step_seconds is None:
            return None
        return self.warmup_seconds + steps * self.step_seconds

    def describe(self) -> dict[str, Any]:
        """JSON-ready: step, warm-up, parts, basis."""
        return {
            "step_seconds": self.step_seconds,
            "warmup_seconds": self.warmup_seconds,
            "parts": dict(self.parts),
            "basis": self.basis,
        }


@dataclass(frozen=True)
class BackendPrice:
    """The backend's part of a step: seconds per call of every task once, and its faults.

    Attributes:
        seconds: every task run once (``None``: the backend cannot say; ``note`` why).
        warmup: once per process (kernels loaded, circuits transpiled).
        missing: chance that a task's result is missing or invalid (it is sent again).
        refused: chance that a call fails as a whole (it is retried after a backoff).
        hint: seconds a refused call asks to wait (a throttling hint), on average.
        note: how it was priced, when not by this machine's simulator coefficients.
    """

    seconds: float | None
    warmup: float = 0.0
    missing: float = 0.0
    refused: float = 0.0
    hint: float = 0.0
    note: str = ""


PriceFn = Callable[[Backend, Sequence[Task]], BackendPrice | None]


def planning_seconds(plan: Callable[[], object]) -> float:
    """How long planning a step takes, timed: the fastest of up to three calls (≤ 0.3 s)."""
    best, spent = math.inf, 0.0
    for _ in range(3):
        started = time.perf_counter()
        plan()
        took = time.perf_counter() - started
        best, spent = min(best, took), spent + took
        if spent > 0.3:
            break
    return best


def _local(sim: LocalSimulator, tasks: Sequence[Task], c: Coefficients) -> BackendPrice:
    """Every task on the local simulator; a fresh process first loads the kernels."""
    warmup = c["warmup.fit"]
    total = 0.0
    for task in tasks:
        work = sim.work(task)
        if "dm.task" in work:
            warmup = c["warmup.fit"] + c["warmup.dm"]
        total += seconds(work, c)
    return BackendPrice(total, warmup)


def _folded(backend: Mitigated, tasks: Sequence[Task]) -> list[Task]:
    """The inner tasks a mitigated call runs: every circuit folded at every scale factor."""
    out = []
    for task in tasks:
        circuits = (task.circuit,) if backend.zne is None else backend.zne.folded(task.circuit)[0]
        out += [Task(c, task.observables, task.params, task.shots, task.seed) for c in circuits]
    return out


def _expected_rounds(chunks: int, missing: float) -> float:
    """Rounds until each of ``chunks`` chunks, each missing w.p. ``missing``, has come back."""
    if missing <= 0 or chunks == 0:
        return 1.0
    missing = min(missing, 0.95)
    return sum(1 - (1 - missing**k) ** chunks for k in range(200))


def backend_price(
    backend: Backend, tasks: Sequence[Task], c: Coefficients, *, other: PriceFn | None = None
) -> BackendPrice:
    """The backend's seconds for ``tasks`` in one call, through wrappers.

    ``other`` prices backends this module does not know (a Qiskit target); a backend it
    does not price either gives its own ``estimate_seconds``, if any.
    """
    if isinstance(backend, LocalSimulator):
        return _local(backend, tasks, c)
    if isinstance(backend, Mitigated):
        return backend_price(backend.inner, _folded(backend, tasks), c, other=other)
    if isinstance(backend, FaultyBackend):
        inner = backend_price(backend.inner, tasks, c, other=other)
        p = backend.profile
        refused = p.failure_rate + (1 - p.failure_rate) * p.throttle_rate
        throttled = 0.0 if not refused else p.throttle_rate * (1 - p.failure_rate) / refused
        lost = p.partial_rate + p.corrupt_rate + p.impossible_rate
        return replace(
            inner,
            missing=1 - (1 - inner.missing) * (1 - lost),
            refused=1 - (1 - inner.refused) * (1 - refused),
            hint=max(inner.hint, throttled * p.retry_after_s),
            note="; ".join(filter(None, [inner.note, "faults priced as expected retries"])),
        )
    found = other(backend, tasks) if other is not None else None
    if found is not None:
        return found
    estimate = getattr(backend, "estimate_seconds", None)
    if callable(estimate):
        return BackendPrice(sum(float(estimate(t)) for t in tasks), note="the backend's estimate")
    return BackendPrice(None, note=f"{backend.name} has no cost model")


def _backoff(retry: RetryPolicy, rounds: float, hint: float) -> float:
    """Expected seconds slept by one executor call that needs ``rounds`` rounds on average.

    Retries are counted as geometric with that mean; the ``k``-th waits
    ``initial_s · 2^(k-1)`` (at most ``max_s``, at least the throttling ``hint``), so the
    rare long streaks, whose waits grow, weigh in as they do in a run.
    """
    if rounds <= 1:
        return 0.0
    again = 1 - 1 / rounds  # chance of one more round
    total = 0.0
    for k in range(1, retry.attempts):
        wait = max(min(retry.max_s, retry.initial_s * 2.0 ** (k - 1)), hint)
        total += again**k * (wait + retry.jitter_s / 2)
    return total


def _in_process(
    objective: Objective, assembly: EvaluationAssembly, metric: str | None, c: Coefficients
) -> tuple[float, float]:
    """Seconds of the adjoint gradients and the metric tensor per step, and their warm-up."""
    spent = warmup = 0.0
    for piece in assembly.pieces:
        if piece.tasks or piece.value_task is not None:
            continue
        circuit = objective.circuits[piece.terms[0]]
        ops = len(lower(circuit).circuit.ops)  # the adjoint method runs the slot circuit
        spent += seconds(adjoint_work(circuit, len(piece.terms), ops), c)
        warmup = c["warmup.fit"] + c["warmup.adjoint"]
    if metric is not None and assembly.metric_fn is not None:
        circuit = objective.circuits[0]
        program = lower(circuit)
        work = metric_work(circuit, program.matrix.shape[0], len(program.circuit.ops))
        spent += seconds(work, c)
    return spent, warmup


def estimate_step(
    objective: Objective,
    assembly: EvaluationAssembly,
    executor: Executor,
    c: Coefficients,
    *,
    durability: str | None,
    rows: int,
    planning: float,
    metric: str | None = None,
    other: PriceFn | None = None,
    loaded: bool = False,
) -> TimeEstimate:
    """The time of one step like the planned one, and of the warm-up.

    Args:
        objective: the run's objective.
        assembly: its planned step.
        executor: the run's executor (its backend, chunking and retries).
        c: seconds per unit (``app.calibration``).
        durability: the run's store durability (``None``: no store).
        rows: the rows the executor will send (after dedup and store hits).
        planning: seconds to plan the step (:func:`planning_seconds`).
        metric: the optimizer's metric tensor approximation, if any.
        other: prices backends this module does not know.
        loaded: this process has already loaded the compiled kernels (no warm-up for them).
    """
    if loaded:
        c = {**c, "warmup.fit": 0.0, "warmup.dm": 0.0, "warmup.adjoint": 0.0}
    tasks = assembly.tasks()
    price = backend_price(executor.backend, tasks, c, other=other)
    adjoints, warm_adjoint = _in_process(objective, assembly, metric, c)
    limit = max(1, min(executor.backend.limits.max_rows, executor.max_rows or 1 << 62))
    chunks = sum(-(-t.params.shape[0] // limit) for t in tasks)
    per_call = executor.tasks_per_call or max(chunks, 1)
    calls = -(-chunks // per_call) if chunks else 0
    work = executor_work(
        calls,
        chunks,
        rows,
        durability=durability,
        journaled=durability is not None and is_asynchronous(executor.backend),
    )
    # Chunks whose result is missing are sent again; a refused call sends them all again.
    rounds = _expected_rounds(chunks, price.missing) / max(1 - price.refused, 0.05)
    retries = (rounds - 1) * calls
    resent = 1 / max(1 - price.missing, 0.05)
    per_retry = c["exec.call"] + c["exec.task"] * chunks / max(calls, 1)
    overhead = seconds(work, c) + retries * per_retry
    sleep = _backoff(executor.retry, rounds, price.hint) * calls
    parts = {
        "planning": planning,
        "adjoint_and_metric": adjoints,
        "executor_and_store": overhead,
        "retry_waits": sleep,
        "loop": c["loop.step"],
    }
    if price.seconds is None:
        return TimeEstimate(None, 0.0, parts, f"unknown: {price.note}")
    parts["backend"] = price.seconds * resent
    warmup = max(price.warmup if tasks else 0.0, warm_adjoint)
    basis = "this machine's measured coefficients" + (f" ({price.note})" if price.note else "")
    return TimeEstimate(sum(parts.values()), warmup, parts, basis)
