"""``qtrain plan``: what a configured run will cost, priced before anything runs."""

from __future__ import annotations

from typing import Any

from qtrain.app.build import budget_of, prepare
from qtrain.app.config import RunConfig
from qtrain.app.mitigation_config import mitigation_plan
from qtrain.app.plan_time import cache_note, estimate_time
from qtrain.app.pricing_config import plan_money
from qtrain.app.run_report import noise_description
from qtrain.app.step_plan import first_step
from qtrain.exec.dry_run import dry_run

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
    money, affordable = plan_money(  # what max_cost affords as well
        prepared.config, first.executor.backend, first.tasks, (step.shots, calibration), affordable
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
        "total_shots": step.shots * affordable,
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
        mitigation["total_shots"] = step.shots * affordable + calibration
        report["mitigation"] = mitigation
    return report
