"""``qtrain plan``: what a configured run will cost, priced before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import numpy as np

from qtrain.app.build import Prepared, budget_of, prepare
from qtrain.app.config import RunConfig
from qtrain.app.hooks_config import config_hooks
from qtrain.app.mitigation_config import mitigation_plan
from qtrain.app.plan_time import cache_note, estimate_time
from qtrain.app.pricing_config import plan_money, pricing_of
from qtrain.app.run_report import noise_description
from qtrain.app.step_plan import FirstStep, first_step
from qtrain.backends.protocol import Backend, Task
from qtrain.exec.dry_run import dry_run
from qtrain.exec.executor import Executor
from qtrain.train.canary import Canary, is_ideal
from qtrain.train.step_money import price_step
from qtrain.train.stopping import Budget

__all__ = ["plan_from_config"]


def plan_from_config(config: RunConfig) -> dict[str, Any]:
    """The cost of the first step and of the whole run, with nothing executed.

    Time comes from this machine's measured coefficients (``app.plan_time``: measured once
    and cached; a local Qiskit target by its own per-job model): ``time`` says on what it
    rests and where a step's time goes. ``steps`` is what the budget affords: its steps,
    shots (at the first step's cost) and seconds (at the estimated step).

    A mitigated run adds ``mitigation``: circuits, rows and shots per step with and without
    it, the one-off readout calibration, and how much ZNE multiplies each value's variance.

    With a pricing table, ``cost`` says what a step and the affordable run cost in money
    and how many steps ``budget.max_cost`` affords (``app.pricing_config.plan_money``).
    """
    prepared = prepare(config)
    first = first_step(prepared)
    config_hooks(prepared, first.executor)  # what train refuses in its hooks, plan refuses
    step = dry_run(first.tasks, executor=first.executor)
    share = (step.unique_rows - step.cached_rows) / step.rows if step.rows else 1.0
    mitigation = mitigation_plan(first.executor.backend, first.tasks, unique_share=share)
    calibration = 0 if mitigation is None else int(mitigation["calibration"]["shots"])
    budget = budget_of(prepared.config)
    affordable = budget.max_steps
    if budget.max_shots is not None and step.shots > 0:
        affordable = min(affordable, max(budget.max_shots - calibration, 0) // step.shots)
    estimate, timing = estimate_time(
        prepared,
        first.executor,
        first.assemble,
        replan=first.replan,
        rows=step.unique_rows - step.cached_rows,
        metric=first.metric,
        probe=True,
    )
    step_seconds = estimate.step_seconds
    if budget.max_seconds is not None and step_seconds:  # the time budget ends it sooner
        left = budget.max_seconds - estimate.warmup_seconds
        affordable = min(affordable, max(int(left // step_seconds), 0))
    hooks = hook_costs(prepared, first.executor, step_seconds, budget.max_steps)
    cap = affordable if not hooks else _time_cap(budget, estimate.warmup_seconds, step_seconds)
    money, affordable = plan_money(  # what max_cost affords as well
        prepared.config, first.executor.backend, first.tasks, (step.shots, calibration), affordable
    )
    total_shots, operations = step.shots * affordable, None
    if hooks:  # canaries and validation spend too: the steps they leave, what all cost
        affordable, total_shots, operations = _hooks_plan(
            prepared, first, hooks, (step.shots, calibration), cap, money=money
        )
    seconds = estimate.run_seconds(affordable)
    if mitigation is not None:  # the backend's share, priced like the rest of the step
        mitigation["step"]["estimated_seconds"] = estimate.parts.get("backend")
    adjoint = sum(not p.tasks and p.value_task is None for p in first.assemble.pieces)
    report = {
        "name": prepared.config.name,
        "n_params": prepared.objective.n_params,
        "terms": len(prepared.objective.circuits),
        "optimizer": prepared.optimizer.config(),
        "method": first.method,
        "step": {
            "circuits": step.rows + adjoint,
            "adjoint_circuits": adjoint,
            "tasks": step.tasks,
            "rows": step.rows,
            "distinct_rows": step.unique_rows,
            "shots": step.shots,
            "estimated_seconds": step_seconds,
        },
        "steps": affordable,
        "max_steps": budget.max_steps,
        "total_shots": total_shots,
        "max_shots": budget.max_shots,
        "estimated_seconds": seconds,
        "time": {**estimate.describe(), "coefficients": cache_note(timing)},
        "adaptive_shots": first.adaptive,
        "simulation": [
            {
                "n_qubits": sim.n_qubits,
                "circuits": sim.circuits,
                "method": sim.choice.method,
                "bytes_per_row": sim.choice.bytes_per_row,
                "reason": sim.choice.reason,
            }
            for sim in prepared.simulation
        ],
        "backend": noise_description(prepared),
        "cost": money,
    }
    if mitigation is not None:
        mitigation["total_shots"] = total_shots + calibration
        report["mitigation"] = mitigation
    if operations is not None:
        report["hooks"] = operations
    return report


def _time_cap(budget: Budget, warmup: float, step_seconds: float | None) -> int:
    """The steps ``max_steps`` and ``max_seconds`` allow (at the estimated step time)."""
    cap = budget.max_steps
    if budget.max_seconds is not None and step_seconds:
        cap = min(cap, max(int((budget.max_seconds - warmup) // step_seconds), 0))
    return cap


def hook_costs(
    prepared: Prepared, executor: Executor, step_seconds: float | None, max_steps: int
) -> list[HookCost]:
    """The priced operations hooks of the config that spend shots (drift, validation)."""
    found = [
        drift_cost(prepared, executor, step_seconds),
        validation_cost(prepared, executor, max_steps),
    ]
    return [hook for hook in found if hook is not None]


def _hooks_plan(
    prepared: Prepared,
    first: FirstStep,
    hooks: list[HookCost],
    shots: tuple[int, int],
    cap: int,
    *,
    money: dict[str, Any] | None,
) -> tuple[int, int, dict[str, Any]]:
    """``(steps, their shots and the hooks', the plan's hooks entry)``; ``money`` updated.

    The shot total leaves out the readout calibration, as the plan's ``total_shots`` does.
    """
    backend, budget = first.executor.backend, budget_of(prepared.config)
    table = pricing_of(prepared.config)
    price = None if table is None else table.price(backend)
    step_money = once = Decimal(0)
    if table is not None and price is not None:
        step_money = _priced(prepared, backend, first.tasks, shots[0])[1] or Decimal(0)
        once = price.charge(tasks=0, shots=shots[1], seconds=0.0)
    steps, spend, states = simulate_hooks(
        hooks, (shots[0], step_money), (shots[1], once), budget, cap
    )
    if money is not None:
        money.update(total=float(spend.money), affordable_steps=steps)
    entry = {}
    for hook in hooks:
        state = states[hook.name]
        entry[hook.name] = {
            **(hook.describe or {}),
            "shots_per_run": hook.shots,
            "first_run_shots": hook.first_shots,
            "money_per_run": None if hook.money is None else float(hook.money),
            "max_shots": hook.max_shots,
            "runs": state["runs"],
            "shots": state["shots"],
            "money": None if price is None else float(state["money"]),
        }
    return steps, spend.shots - shots[1] * (steps > 0), entry


@dataclass(frozen=True, eq=False)
class HookCost:
    """What one operations hook spends beside the steps, and when (``qtrain plan``).

    Attributes:
        name: ``drift`` (a canary before the step) or ``validation`` (after it).
        before: runs before the step (and is charged to the ledger when the step is refused).
        shots: shots of one run; ``money`` its price (``None`` without a pricing table).
        first_shots: shots of its first run (a canary's baseline); ``first_money`` its price.
        due: ``(step, step it last ran or None) -> bool``.
        max_shots: its own shot limit (validation's): a run past it stops it for good.
        describe: what the plan reports besides the runs and totals.
    """

    name: str
    before: bool
    shots: int
    money: Decimal | None
    first_shots: int
    first_money: Decimal | None
    due: Callable[[int, int | None], bool]
    max_shots: int | None = None
    describe: dict[str, Any] | None = None


def _priced(
    prepared: Prepared, backend: Backend, tasks: list[Task], shots: int | None = None
) -> tuple[int, Decimal | None]:
    """``(shots, money)`` of ``tasks`` quoted as the session quotes them (``price_step``).

    ``shots``: theirs (``None``: counted here); money ``None`` without a pricing table.
    """
    if shots is None:
        shots = dry_run(tasks, backend=backend).shots
    table, limit = pricing_of(prepared.config), prepared.config.budget.max_cost
    price = price_step(table, backend, tasks, shots, bounded=limit is not None)
    return shots, None if price is None else price.money


def drift_cost(
    prepared: Prepared, executor: Executor, step_seconds: float | None
) -> HookCost | None:
    """The drift canary's runs (``train/drift_watch``): a baseline first unless exact."""
    drift = prepared.config.drift
    if drift is None:
        return None
    seed = prepared.config.seed or 0
    spec = drift.canary
    canary = spec.build() if spec is not None else Canary.from_objective(prepared.objective, seed)
    if canary.reference is not None or drift.reference != "auto":
        exact = canary.reference is not None or drift.reference == "exact"
    else:
        exact = is_ideal(executor.backend)
    backend = executor.backend
    shots, money = _priced(prepared, backend, [canary.task(drift.shots, seed)])
    runs = 1 if exact else drift.baseline
    baseline = [canary.task(drift.shots, seed + i) for i in range(runs)]  # seeds differ
    first_shots, first_money = _priced(prepared, backend, baseline)
    every, seconds = drift.every_steps, drift.every_seconds

    def due(step: int, last: int | None) -> bool:
        if last is None or (every is not None and step - last >= every):
            return True
        return bool(seconds and step_seconds and (step - last) * step_seconds >= seconds)

    describe = {"every_steps": every, "every_seconds": seconds, "baseline_runs": runs}
    return HookCost("drift", True, shots, money, first_shots, first_money, due, None, describe)


def validation_cost(prepared: Prepared, executor: Executor, max_steps: int) -> HookCost | None:
    """The validation objective's evaluations (``train/validation``), at its due steps."""
    hook = prepared.validation
    if hook is None:
        return None
    tasks = hook.tasks(np.asarray(prepared.theta0, dtype=np.float64), 0)
    shots, money = _priced(prepared, executor.backend, tasks)  # exact: 0 shots, tasks still billed

    def due(step: int, last: int | None) -> bool:
        del last
        return hook.due(step, max_steps)

    describe = {"every_steps": hook.every}
    return HookCost("validation", False, shots, money, shots, money, due, hook.max_shots, describe)


@dataclass
class _Spend:
    """Shots and money spent so far."""

    shots: int = 0
    money: Decimal = Decimal(0)

    def plus(self, other: _Spend) -> _Spend:
        """Both spends together."""
        return _Spend(self.shots + other.shots, self.money + other.money)

    def add(self, shots: int, money: Decimal) -> None:
        """Spend ``shots`` and ``money`` more."""
        self.shots, self.money = self.shots + shots, self.money + money

    def fits(self, shots: int, money: Decimal, budget: Budget) -> bool:
        """Whether ``shots`` and ``money`` more stay within the budget's limits."""
        if budget.max_shots is not None and self.shots + shots > budget.max_shots:
            return False
        return budget.max_cost is None or self.money + money <= Decimal(str(budget.max_cost))


def _run_hook(
    hook: HookCost, step: int, spend: _Spend, budget: Budget, state: dict[str, Any]
) -> tuple[int, Decimal]:
    """One hook at ``step`` as the run decides it: the ``(shots, money)`` it spends."""
    if state["stopped"] or not hook.due(step, state["last"]):
        return 0, Decimal(0)
    first = not state["runs"]
    shots = hook.first_shots if first else hook.shots
    money = (hook.first_money if first else hook.money) or Decimal(0)
    if hook.max_shots is not None and state["shots"] + shots > hook.max_shots:
        state["stopped"] = True  # validation's own max_shots: no more evaluations
        return 0, Decimal(0)
    if not spend.fits(shots, money, budget):
        return 0, Decimal(0)  # skipped: the run's budget cannot pay for it now
    state.update(last=step, runs=state["runs"] + 1, shots=state["shots"] + shots)
    state["money"] += money
    return shots, money


def simulate_hooks(
    hooks: list[HookCost],
    step: tuple[int, Decimal],
    once: tuple[int, Decimal],
    budget: Budget,
    cap: int,
) -> tuple[int, _Spend, dict[str, dict[str, Any]]]:
    """The steps the budget affords with the hooks' runs; what all spend; each hook's runs.

    ``step``: one step's shots and money; ``once``: the first step's extra (the readout
    calibration); ``cap``: the steps the other budgets (steps, time) allow. Steps go as a
    session runs them: hooks before the step (charged even when the step is then refused),
    the step, hooks after it; a hook run the budget cannot pay for is skipped.
    """
    spend = _Spend()
    states = {
        h.name: {"runs": 0, "shots": 0, "money": Decimal(0), "last": None, "stopped": False}
        for h in hooks
    }
    steps = 0
    for index in range(cap):
        pending = _Spend()
        for hook in (h for h in hooks if h.before):
            pending.add(*_run_hook(hook, index, spend.plus(pending), budget, states[hook.name]))
        first = index == 0
        shots, money = step[0] + once[0] * first, step[1] + once[1] * first
        if not spend.plus(pending).fits(shots, money, budget):
            spend.add(pending.shots, pending.money)
            break
        spend.add(pending.shots + shots, pending.money + money)
        steps += 1
        for hook in (h for h in hooks if not h.before):
            spend.add(*_run_hook(hook, index, spend, budget, states[hook.name]))
    return steps, spend, states
