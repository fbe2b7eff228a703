"""One session of a training run: the steps of one call of ``fit``, in order.

Each step: the optimizer says what to measure (``ask``); the objective plans the tasks; the
step's shot cost is priced before anything runs and a step that would break the budget is not
started; the executor runs the tasks (dedup, retries, durable store); the optimizer updates θ;
the step's :class:`StepRecord` goes to the trackers (``metrics.jsonl`` first); only then is
the step applied to the run's state and an atomic checkpoint written. A step interrupted or
failed before that never happened: its seed draw is undone, and its finished rows wait in
the store for the resume; what its hooks' work spent stays charged (their state says it
ran). Every executor call — the step's own, and its hooks' through :meth:`Session.run_extra`
— is priced, allowed and charged in one place (``train/step_spend.py``). A storage failure
(full disk, read-only folder) stops the session with a message that says what the
checkpoint holds (``train/failures.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.errors import QtrainError, ShotAllowanceError, StorageError
from qtrain.exec.billing import CostAllowanceError, Quote
from qtrain.exec.counters import ExecutorCounters
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
from qtrain.train.step_hooks import StepHook, before_steps, hook_summaries, merged
from qtrain.train.step_money import Charge, Extra, over_run
from qtrain.train.step_spend import StepSpend
from qtrain.train.tracking import Tracker, tracker_locations

__all__ = ["Extra", "Report", "Session"]


Report = Callable[[NDArray[np.float64]], Mapping[str, Any]]
"""Extra summary entries from the final parameters."""


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


def _counts(counters: ExecutorCounters) -> tuple[int, int, int, float, float]:
    """``(retried, failed, cached, queue s, execution s)`` so far.

    A step's share is the difference.
    """
    return (
        counters.retried,
        counters.failed,
        counters.cached,
        counters.queue_s,
        counters.execution_s,
    )


class Session:
    """One call of :func:`fit`: runs steps until a budget or stop rule says no.

    ``pricing`` prices every executor call of the run (``exec.pricing``; ``None``: no money).
    """

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
        pricing: PricingTable | None = None,
    ) -> None:
        self.settings, self.state, self.executor = settings, state, executor
        self.directory, self.trackers, self.exact_value = directory, list(trackers), exact_value
        self.report, self.hooks, self.pricing = report, list(hooks), pricing
        self.spend = StepSpend(self)  # the one place that charges what a step spends
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

    def run_extra(self, tasks: Sequence[Task], *, purpose: str) -> Extra | None:
        """Run a hook's extra work (a canary, a validation) on the run's executor, charged.

        The tasks are priced first and refused (``None``, an INFO ``extra.refused`` event
        naming ``purpose``) when the shots or money the run has left cannot pay for them;
        retries the allowance cannot pay for are not made (``None``; what was spent is
        charged). What the work spent — nominal shots, wasted and overhead shots, their
        money — is charged to the step, or to the ledger if the step never runs
        (``train/step_spend.py``).
        """
        return self.spend.run_extra(tasks, purpose=purpose)

    @property
    def last_failure(self) -> Charge:
        """What the last failed executor call spent (charged; a fallback records it)."""
        return self.spend.last_failure

    # -- a step --------------------------------------------------------------------------

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
            cost, extra, price = self.spend.quote(tasks)
            return _Planned(tasks, assemble, shots, cost, price), cost + extra

        last = state.history[-1].seconds if state.history else None
        spent, money_spent = self.spend.spent()  # this step's hooks' spending too

        def refuses(planned: _Planned, cost: int) -> str | None:
            return settings.budget.refuses(
                step=state.step,
                shots_total=spent,
                cost=cost,
                elapsed=self.elapsed(),
                last_seconds=last,
                cost_total=money_spent,
                money=None if planned.price is None else planned.price.money,
            )

        limit = settings.budget.max_shots
        remaining = None if limit is None else limit - spent
        planned, refusal = self.hook.affordable(plan, refuses, remaining)
        if refusal is not None:
            state.rng.bit_generator.state = saved_rng  # the step never happened
            return refusal
        return planned

    def step(self) -> str | None:
        """One step; the reason to stop, or ``None`` to go on.

        A step that does not happen (a budget or hook refuses it, a retry the budget cannot
        pay for, a failure, an interruption) leaves the run's RNG as it was, and what it
        spent is charged to the ledger: its hooks' work (their state says it ran) always,
        a failed call's too.
        """
        state = self.state
        saved_rng = state.rng.bit_generator.state
        self.spend.reset()
        try:
            outcome = self._run_step()
        except QtrainError as error:
            state.rng.bit_generator.state = saved_rng
            return self._failed(error)
        except BaseException:
            # Interrupted before the step was applied: it never happened, so neither did its
            # seed draw; its finished rows are in the store for the resume. Its hooks' work
            # is done (their checkpointed state says so) and what the call then running
            # wasted is spent: the ledger keeps both.
            state.rng.bit_generator.state = saved_rng
            self.spend.charge_interrupted(include_valid=not self._stores_rows())
            raise
        if isinstance(outcome, str):
            state.rng.bit_generator.state = saved_rng  # the step never happened
            self.spend.charge_pending()
            return outcome
        finite = self._apply(outcome)
        self._save(None)
        check_store(self.executor, outcome.record.step)
        if not finite:
            return "non_finite"
        if outcome.record.monitor is not None and outcome.record.monitor["action"] == "stop":
            return "plateau"
        return self.settings.stop.reason(state.history)

    def _stores_rows(self) -> bool:
        """Whether the executor keeps finished rows for a later call to read (a store)."""
        return getattr(self.executor, "store", None) is not None

    def _failed(self, error: QtrainError) -> str | None:
        """A step raised ``error``: charge it, checkpoint the ledger; stop, retry or raise.

        The failed call's valid rows are charged only when nobody can read them again (a
        hook moved the step to another backend, or no store keeps them). A ledger-only
        checkpoint (step unchanged) follows unless the budget stops the run (``finish``).
        """
        self.spend.failure()  # last_failure: what a fallback records with its switch
        if isinstance(error, ShotAllowanceError):  # retries the budget cannot pay for
            self.spend.charge_failed(include_valid=not self._stores_rows())
            return "max_cost" if isinstance(error, CostAllowanceError) else "max_shots"
        switched = any(hook.on_error(self, error) for hook in self.hooks)
        self.spend.charge_failed(include_valid=switched or not self._stores_rows())
        if not isinstance(error, StorageError):
            self._save(None)  # the ledger (and a switch) survive a crash or the raise
        if switched:
            return None  # a hook mended the cause (another backend): try the step again
        raise error

    def _run_step(self) -> _Outcome | str:
        """Measure, update and log one step; or the budget's (or a hook's) refusal."""
        if self.state.step >= self.settings.budget.max_steps:
            return "max_steps"  # before the hooks: no canary before a step that cannot run
        hooked = before_steps(self.hooks, self)  # up to the first that stops
        spend = self.spend
        spend.pending = merged([spend.pending, hooked])  # run_extra charged theirs already
        if spend.pending.stop is not None:
            return spend.pending.stop
        started = time.perf_counter()
        planned = self._measure()
        if isinstance(planned, str):
            return planned
        before = _counts(self.executor.counters)
        allowance = spend.start(planned.price, planned.cost)
        results = self.executor.run(planned.tasks, max_shots=allowance)
        spend.finished(own=True)
        evaluation: Evaluation = planned.assemble(results)
        self.unsaved_step = self.state.step  # finished rows exist now; the checkpoint follows
        return self._record(planned, evaluation, before, started)

    def _record(
        self,
        planned: _Planned,
        evaluation: Evaluation,
        before: tuple[int, int, int, float, float],
        started: float,
    ) -> _Outcome:
        """Update θ from a measured step and log its record, completed by the hooks."""
        state = self.state
        observation = self.hook.observation(evaluation.observation(planned.policy))
        update = self.settings.optimizer.update(state.optimizer_state, state.theta, observation)
        theta = self.hook.frozen(state.theta, update.theta)  # layerwise: frozen stay put
        after = _counts(self.executor.counters)
        seconds = time.perf_counter() - started
        record = step_record(state, evaluation, update.learning_rate, 0, seconds)
        record = replace(
            record,
            retries=after[0] - before[0],
            failures=after[1] - before[1],
            cached=after[2] - before[2],
            elapsed=self.elapsed(),
            monitor=self.hook.observe(evaluation.gradient, evaluation.gradient_stderr, state.step),
            backend=str(getattr(self.executor.backend, "name", "")),
            queue_s=after[3] - before[3],
            execution_s=after[4] - before[4],
            **self.spend.paid(),
            **self.spend.pending.fields,
        )
        for hook in self.hooks:
            record = hook.after_step(self, record)  # a validation runs (and is charged) here
        record = replace(record, **self.spend.paid())  # with the hooks' work
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
        self.spend.reset()
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
        if isinstance(summary.get("cost"), dict):  # seconds past the quotes, max_cost passed
            limit = self.settings.budget.max_cost
            summary["cost"] = {**summary["cost"], **over_run(state, limit)}
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
