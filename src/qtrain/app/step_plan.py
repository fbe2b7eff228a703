"""The first training step of a config, planned as ``fit`` plans it, and its time check.

``qtrain plan`` and ``qtrain grad`` price or take the first step (:func:`first_step`); a run
carries a :class:`~qtrain.app.plan_time.PlanCheck` (:func:`plan_check`) whose summary entry
compares the plan's estimate with the steps that ran (:func:`with_plan`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.app.build import Prepared, backend_spec, budget_of, make_executor
from qtrain.app.plan_time import PlanCheck, estimate_time, unknown_check
from qtrain.backends.protocol import Task
from qtrain.errors import ConfigError
from qtrain.exec.executor import Executor
from qtrain.sim.statevector import format_bytes
from qtrain.train.evaluation import EvaluationAssembly
from qtrain.train.loop import Report
from qtrain.train.state import measurement

__all__ = [
    "FirstStep",
    "check_machine_memory",
    "first_step",
    "machine_memory",
    "plan_check",
    "with_plan",
]


@dataclass(frozen=True, eq=False)
class FirstStep:
    """The first training step, planned as ``fit`` would plan it (nothing runs).

    ``adaptive``: the optimizer chooses its own shots per component; ``metric``: the metric
    tensor approximation it asks for; ``replan()`` plans the step again (for timing it).
    """

    executor: Executor
    tasks: list[Task]
    assemble: EvaluationAssembly
    method: str
    adaptive: bool
    metric: str | None
    replan: Callable[[], object]


def machine_memory() -> int | None:
    """Bytes of memory this machine has at all, RAM and swap (``None``: it cannot say)."""
    found = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                name, _, rest = line.partition(":")
                if name in ("MemTotal", "SwapTotal"):
                    found[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        found = {}
    if "MemTotal" in found:
        return found["MemTotal"] + found.get("SwapTotal", 0)
    try:
        return int(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return None


def check_machine_memory(prepared: Prepared) -> None:
    """Refuse a state larger than the machine, whatever ``memory_budget`` allows.

    The budget check (``prepare``) trusts a budget the config gives; a row that needs more
    than the machine's RAM and swap can never run: ``qtrain plan``, ``grad`` and ``train``
    refuse it alike, before any work.

    Raises:
        ConfigError: naming ``backend.memory_budget``, the bytes a row needs and the machine's.
    """
    total = machine_memory()
    if total is None or not prepared.simulation:
        return
    key, spec = backend_spec(prepared.config)
    for sim in prepared.simulation:
        need = sim.choice.bytes_per_row
        if need > total:
            raise ConfigError(
                f"{key}.memory_budget: a {sim.n_qubits}-qubit state needs {format_bytes(need)} "
                f"per row ({sim.choice.method}) but this machine has {format_bytes(total)} of "
                f"memory (RAM and swap); a budget of "
                f"{format_bytes(spec.memory_budget or need)} cannot make it fit"
            )


def first_step(prepared: Prepared, executor: Executor | None = None) -> FirstStep:
    """Plan the first step of ``prepared`` on ``executor`` (default: a storeless one).

    Raises:
        ConfigError: a state larger than the machine (:func:`check_machine_memory`).
    """
    check_machine_memory(prepared)
    config = prepared.config
    if executor is None:
        executor = make_executor(config.model_copy(update={"store": False}), None)
    request = prepared.optimizer.ask(prepared.optimizer.init(prepared.theta0))
    method, options, shots = measurement(
        request, config.gradient.method, config.gradient.options, prepared.shots
    )
    replan = partial(
        prepared.objective.plan,
        prepared.theta0,
        method=method,
        shots=shots,
        seed=config.seed,
        backend=executor.backend,
        metric=request.metric_tensor,
        options=options,
    )
    tasks, assemble = replan()
    adaptive = request.shots_per_component is not None
    return FirstStep(executor, tasks, assemble, method, adaptive, request.metric_tensor, replan)


def plan_check(prepared: Prepared, executor: Executor) -> PlanCheck:
    """The plan's estimate for this run, made before its first step, to check in its summary.

    It reads this machine's cached coefficients (measuring them once if there are none) and
    never runs anything on the run's backend; any failure leaves the estimate unknown.
    """
    steps = budget_of(prepared.config).max_steps
    try:
        first = first_step(prepared, executor)
        rows = len(executor.units(first.tasks)) if first.tasks else 0
        estimate, _ = estimate_time(
            prepared,
            executor,
            first.assemble,
            replan=first.replan,
            rows=rows,
            metric=first.metric,
            probe=False,
            fresh=False,
        )
    except Exception as error:  # an estimate must never stop a run: it says why instead
        return unknown_check(error, steps)
    return PlanCheck(estimate, steps)


def with_plan(report: Report | None, check: PlanCheck) -> Report:
    """``report``'s entries and the plan check's."""

    def combined(theta: NDArray[np.float64]) -> dict[str, Any]:
        return {**(report(theta) if report is not None else {}), **check.report(theta)}

    return combined
