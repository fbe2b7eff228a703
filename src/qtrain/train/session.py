"""One session of a training run: the steps of one call of ``fit``, in order.

Each step: the optimizer says what to measure (``ask``); the objective plans the tasks; the
step's shot cost is priced before anything runs and a step that would break the budget is not
started; the executor runs the tasks (dedup, retries, durable store); the optimizer updates θ;
the step's :class:`StepRecord` goes to the trackers (``metrics.jsonl`` first); only then is
the step applied to the run's state and an atomic checkpoint written. A step interrupted or
failed before that never happened: its seed draw is undone, and its finished rows wait in
the store for the resume. A storage failure (full disk, read-only folder) stops the session
with a message that says what the checkpoint holds (``train/failures.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Backend, Task
from qtrain.errors import QtrainError, ShotAllowanceError, StorageError
from qtrain.exec.billing import CostAllowanceError, Quote
from qtrain.exec.counters import ExecutorCounters
from qtrain.exec.dry_run import dry_run
from qtrain.exec.executor import Executor
from qtrain.exec.pricing import PricingTable, add_money
from qtrain.grad.shots import ShotPolicy
from qtrain.optim.base import OptimizerState
from qtrain.train.checkpoint import save_checkpoint, write_json_atomic
from qtrain.train.failures import check_store, explained, held_rows
from qtrain.train.final_loss import final_exact_loss
from qtrain.train.lineage import append_lineage
from qtrain.train.monitoring import MonitorHook, scaled_policy
from qtrain.train.objective import Evaluation
from qtrain.train.records import FitResult, StepRecord
from qtrain.train.reporting import execution_summary, run_summary, step_record
from qtrain.train.rundir import RunDir
from qtrain.train.state import RunSettings, RunState, measurement
from qtrain.train.step_hooks import HookResult, StepHook, before_steps, hook_summaries
from qtrain.train.stopping import price_step, refused_spend, step_allowance, step_cost
from qtrain.train.tracking import Tracker, tracker_locations

__all__ = ["Report", "Session"]


Report = Callable[[NDArray[np.float64]], Mapping[str, Any]]
"""Extra summary entries from the final parameters."""


def _wasted(counters: ExecutorCounters) -> int:
    """Shots spent beside the results used: rejected, returned after a timeout, overhead."""
    return counters.rejected_shots + counters.abandoned_shots + counters.overhead_shots


def _nominal_shots(tasks: Sequence[Task], backend: Backend) -> int:
    """What the step's distinct rows cost, whether or not a store already holds some.

    A resumed step reads rows finished before the crash from the run's store, but the run
    paid for them: charging them again keeps the ledger and the budget identical to an
    uninterrupted run.
    """
    return dry_run(tasks, backend=backend).shots if tasks else 0


def _pending_overhead(tasks: Sequence[Task], backend: Backend) -> int:
    """Shots the backend will spend beside the tasks' (a readout calibration still to measure).

    The budget refuses a step that cannot pay for them too; the ledger charges what the
    executor then counts (``overhead_shots``).
    """
    price = getattr(backend, "overhead", None)
    if not callable(price) or not tasks:
        return 0
    return int(getattr(price(tasks), "calibration_shots", 0))


@dataclass(frozen=True, eq=False)
class _Planned:
    """A priced step, ready to run."""

    tasks: list[Task]
    assemble: Any
    policy: ShotPolicy | None
    cost: int
    price: Quote | None = None  # its money, under the run's pricing table


@dataclass(frozen=True, eq=False)
class _Outcome:
    """A finished step, logged, not yet applied to the run's state."""

    record: StepRecord
    theta: NDArray[np.float64]
    optimizer_state: OptimizerState


def _counts(counters: ExecutorCounters) -> tuple[int, int, int, int, float, float]:
    """``(retried, failed, cached, wasted shots, queue s, execution s)`` so far.

    A step's share is the difference.
    """
    return (
        counters.retried,
        counters.failed,
        counters.cached,
        _wasted(counters),
        counters.queue_s,
        counters.execution_s,
    )


class Session:
    """One call of :func:`fit`: runs steps until a budget or stop rule says no."""

    pricing: PricingTable | None = None  # set by fit: prices every step (exec.pricing)

    def __init__(
        self,
        settings: RunSettings,
        state: RunState,
        executor: Executor,
        *,
        directory: RunDir | None,
        trackers: Sequence[Tracker],
        exact_value: float | None,
        report: Report | None = None,
        hooks: Sequence[StepHook] = (),
    ) -> None:
        self.settings, self.state, self.executor = settings, state, executor
        self.directory, self.trackers, self.exact_value = directory, list(trackers), exact_value
        self.report, self.hooks = report, list(hooks)
        self._pending = HookResult()  # what this step's hooks spent before it ran
        self.config_hash = settings.config_hash()
        sampled = (
            settings.policy is not None
            or settings.optimizer.ask(state.optimizer_state).shots_per_component is not None
        )
        self.hook = MonitorHook(
            settings.monitor, settings.objective.n_params, state.monitor_state, sampled=sampled
        )
        self._started = time.perf_counter()
        self._elapsed_before = state.elapsed
        self.saved = state.step  # the step of the checkpoint on disk
        self.unsaved_step: int | None = None  # a step that finished after it

    def elapsed(self) -> float:
        """Wall seconds of the run so far, over all its sessions."""
        return self._elapsed_before + time.perf_counter() - self._started

    def run(self) -> FitResult:
        """Steps until a budget or stop rule says no; a storage failure stops it, explained."""
        info = {"settings": self.settings.describe(), "config_hash": self.config_hash}
        if self.directory is not None:  # one run id everywhere: the run folder's name
            info["run_id"] = Path(self.directory.path).resolve().name
        try:
            for tracker in self.trackers:
                tracker.start(
                    {**info, "step": self.state.step, "shots_total": self.state.shots_total}
                )
            try:
                reason = None
                while reason is None:
                    reason = self.step()
            except KeyboardInterrupt:
                reason = "interrupted"  # the last finished step is already checkpointed
            return self.finish(reason)
        except StorageError as error:
            raise explained(
                error,
                run_dir=None if self.directory is None else Path(self.directory.path),
                saved=self.saved,
                unsaved_step=self.unsaved_step,
                lost_rows=held_rows(self.executor, drop=True),
            ) from None

    def _measure(self) -> _Planned | str:
        """Plan the next step, or say which budget refuses it."""
        settings, state = self.settings, self.state
        if state.step >= settings.budget.max_steps:
            return "max_steps"
        request = settings.optimizer.ask(state.optimizer_state)
        method, options, policy = measurement(
            request, settings.method, settings.gradient_options, settings.policy
        )
        saved_rng = state.rng.bit_generator.state
        step_seed = int(state.rng.integers(0, 1 << 62))

        def plan(factor: float) -> tuple[_Planned, int]:
            shots = scaled_policy(policy, factor)  # the monitor's raised shots, if any
            tasks, assemble = settings.objective.plan(
                state.theta,
                method=method,
                shots=shots,
                seed=step_seed,
                backend=self.executor.backend,
                metric=request.metric_tensor,
                options=options,
            )
            cost = _nominal_shots(tasks, self.executor.backend)
            extra = _pending_overhead(tasks, self.executor.backend)
            price = price_step(
                self.pricing, self.executor.backend, tasks, cost + extra, state.history
            )
            priced[0] = None if price is None else price.money
            return _Planned(tasks, assemble, shots, cost, price), cost + extra

        priced: list[Any] = [None]  # the money of the latest plan

        last = state.history[-1].seconds if state.history else None

        spent = state.shots_total + self._pending.shots  # the hooks' shots of this step too

        def refuses(cost: int) -> str | None:
            return settings.budget.refuses(
                step=state.step,
                shots_total=spent,
                cost=cost,
                elapsed=self.elapsed(),
                last_seconds=last,
                cost_total=add_money(state.cost_total, self._pending.cost),
                money=priced[0],
            )

        limit = settings.budget.max_shots
        remaining = None if limit is None else limit - spent
        planned, refusal = self.hook.affordable(plan, refuses, remaining)
        if refusal is not None:
            state.rng.bit_generator.state = saved_rng  # the step never happened
            return refusal
        return planned

    def step(self) -> str | None:
        """One step; the reason to stop, or ``None`` to go on."""
        state = self.state
        saved_rng = state.rng.bit_generator.state
        try:
            outcome = self._run_step()
        except ShotAllowanceError as error:
            # Retries the budget cannot pay for are not made: the step never happened, but
            # what it spent is spent (charged to the ledger, not to a step record).
            state.rng.bit_generator.state = saved_rng
            state.shots_total += error.spent
            self._charge_pending()
            return "max_shots"
        except QtrainError as error:
            state.rng.bit_generator.state = saved_rng
            self._charge_pending()
            if any(hook.on_error(self, error) for hook in self.hooks):
                return None  # a hook mended the cause (another backend): try the step again
            raise
        except BaseException:
            # Interrupted (or failed) before the step was applied: it never happened, so
            # neither did its seed draw. Its finished rows are in the store for the resume.
            state.rng.bit_generator.state = saved_rng
            raise
        if isinstance(outcome, str):
            self._charge_pending()
            return outcome
        finite = self._apply(outcome)
        self._save(None)
        check_store(self.executor, outcome.record.step)
        if not finite:
            return "non_finite"
        if outcome.record.monitor is not None and outcome.record.monitor["action"] == "stop":
            return "plateau"
        return self.settings.stop.reason(state.history)

    def _charge_pending(self) -> None:
        """Charge what hooks spent before a step that never ran to the run's ledger."""
        self.state.shots_total += self._pending.shots
        self.state.cost_total = add_money(self.state.cost_total, self._pending.cost)
        self._pending = HookResult()

    def _run_step(self) -> _Outcome | str:
        """Measure, update and log one step; or the budget's (or a hook's) refusal."""
        state = self.state
        if state.step >= self.settings.budget.max_steps:
            return "max_steps"  # before the hooks: no canary before a step that cannot run
        self._pending = before_steps(self.hooks, self)  # up to the first that stops
        if self._pending.stop is not None:
            return self._pending.stop
        before, started = _counts(self.executor.counters), time.perf_counter()
        planned = self._measure()
        if isinstance(planned, str):
            return planned
        saved_rng, pending = state.rng.bit_generator.state, self._pending
        spent = (state.shots_total + pending.shots, add_money(state.cost_total, pending.cost))
        backend, budget = self.executor.backend, self.settings.budget
        allowance = step_allowance(self.pricing, backend, planned.price, budget, spent)
        try:
            results = self.executor.run(planned.tasks, max_shots=allowance)
        except ShotAllowanceError as error:  # what it spent is spent: its money too
            money = add_money(pending.cost, refused_spend(allowance, error))
            if not isinstance(error, CostAllowanceError):
                self._pending = replace(pending, cost=money)
                raise
            state.rng.bit_generator.state = saved_rng  # the step never happened
            self._pending = replace(pending, shots=pending.shots + error.spent, cost=money)
            return "max_cost"
        evaluation: Evaluation = planned.assemble(results)
        self.unsaved_step = state.step  # finished rows exist now; the checkpoint follows
        observation = self.hook.observation(evaluation.observation(planned.policy))
        update = self.settings.optimizer.update(state.optimizer_state, state.theta, observation)
        theta = self.hook.frozen(state.theta, update.theta)  # layerwise: frozen stay put
        after = _counts(self.executor.counters)
        # Shots the backend spent on results that were rejected or came back after a
        # timeout are spent all the same: the ledger and the budget count them.
        cost = planned.cost + after[3] - before[3] + self._pending.shots
        record = step_record(
            state, evaluation, update.learning_rate, cost, time.perf_counter() - started
        )
        record = replace(
            record,
            retries=after[0] - before[0],
            failures=after[1] - before[1],
            cached=after[2] - before[2],
            elapsed=self.elapsed(),
            monitor=self.hook.observe(evaluation.gradient, evaluation.gradient_stderr, state.step),
            backend=str(getattr(self.executor.backend, "name", "")),
            queue_s=after[4] - before[4],
            execution_s=after[5] - before[5],
            **step_cost(
                allowance,
                self._pending.cost,
                state.cost_total,
                shots=cost - self._pending.shots,
                measured_s=after[5] - before[5],
            ),
            **self._pending.fields,
        )
        for hook in self.hooks:
            record = hook.after_step(self, record)
        for tracker in self.trackers:
            tracker.log(record)  # metrics.jsonl before the checkpoint that vouches for it
        return _Outcome(record, theta, update.state)

    def _apply(self, outcome: _Outcome) -> bool:
        """Advance the state by a logged step; ``False`` when its update was not finite."""
        state, record = self.state, outcome.record
        state.monitor_state = self.hook.state
        finite = bool(np.all(np.isfinite(outcome.theta)))
        if finite:  # a NaN/inf update is recorded and paid for, but θ and the state keep
            state.theta, state.optimizer_state = outcome.theta, outcome.optimizer_state
        state.step, state.shots_total = state.step + 1, state.shots_total + record.shots
        state.cost_total = add_money(state.cost_total, record.cost)  # exact: exec.pricing
        self._pending = HookResult()
        state.elapsed = record.elapsed
        state.history.append(record)
        return finite

    def _save(self, stopped_by: str | None) -> None:
        if self.directory is not None:
            checkpoint = self.state.checkpoint(self.config_hash, self.settings.seed, stopped_by)
            if checkpoint.step > self.saved:  # a new step: its entry first (train/lineage.py)
                append_lineage(self.directory.lineage, checkpoint)
            save_checkpoint(self.directory.checkpoint, checkpoint)
        self.saved, self.unsaved_step = self.state.step, None

    def finish(self, reason: str) -> FitResult:
        """Checkpoint with ``reason``, write the summary, tell the trackers; the result."""
        state = self.state
        state.elapsed = self.elapsed()
        self._save(reason)
        final = final_exact_loss(self.settings.objective, state.theta, self.executor.backend)
        summary = run_summary(
            state,
            reason,
            final,
            exact_value=self.exact_value,
            config_hash=self.config_hash,
            seed=self.settings.seed,
        )
        if self.report is not None:
            summary.update(self.report(state.theta.copy()))
        summary["execution"] = execution_summary(state.history, self.executor.counters)
        summary.update(hook_summaries(self.hooks, self))  # a fallback's switches, ...
        summary.update(tracker_locations(self.trackers))  # where MLflow logged the run
        if self.directory is not None:
            write_json_atomic(self.directory.summary, summary)
        for tracker in self.trackers:
            tracker.finish(summary)
        return FitResult(
            state.theta.copy(),
            tuple(state.history),
            reason,
            state.shots_total,
            state.elapsed,
            final,
            summary,
            None if self.directory is None else Path(self.directory.path),
        )
