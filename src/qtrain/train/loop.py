"""``qt.fit``: the training loop, with hard budgets, stop rules, checkpoints and exact resume.

Each step: the optimizer says what to measure (``ask``); the objective plans the tasks; the
step's shot cost is priced before anything runs and a step that would break the budget is not
started; the executor runs the tasks (dedup, retries, durable store); the optimizer updates θ;
a :class:`StepRecord` goes to the trackers (``metrics.jsonl`` first) and an atomic checkpoint
is written. ``resume=True`` continues from the checkpoint to bit-identical parameters: every
random draw comes from a generator whose state is checkpointed, sampling is seeded by row
content, and rows finished before a crash are read back from the run's result store.

>>> import numpy as np
>>> import qtrain as qt
>>> objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
>>> result = qt.fit(objective, np.array([0.5]), qt.optim.Adam(learning_rate=0.2),
...                 budget=qt.Budget(max_steps=60))
>>> result.stopped_by, bool(result.final_loss < -0.99)
('max_steps', True)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend, Task
from qtrain.diagnostics.monitor import GradientMonitor
from qtrain.errors import ConfigError
from qtrain.exec.counters import ExecutorCounters
from qtrain.exec.dry_run import dry_run
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.expval import resolve_seed
from qtrain.exec.store import ResultStore
from qtrain.grad.shots import ShotPolicy
from qtrain.optim.base import Optimizer
from qtrain.train.checkpoint import save_checkpoint, write_json_atomic
from qtrain.train.monitoring import MonitorHook, scaled_policy
from qtrain.train.objective import Evaluation, Objective
from qtrain.train.records import FitResult
from qtrain.train.reporting import run_summary, step_record
from qtrain.train.rundir import RunDir, reproduction_info
from qtrain.train.state import (
    RunSettings,
    RunState,
    as_policy,
    checked_optimizer,
    existing_checkpoint,
    measurement,
    refuse_missing_run,
)
from qtrain.train.stopping import Budget, StopRules
from qtrain.train.tracking import JsonlTracker, Tracker, truncate_metrics

__all__ = ["FitResult", "fit"]


Report = Callable[[NDArray[np.float64]], Mapping[str, Any]]
"""Extra summary entries from the final parameters."""


def _wasted(counters: ExecutorCounters) -> int:
    """Shots spent on results that were never used (rejected, or returned after a timeout)."""
    return counters.rejected_shots + counters.abandoned_shots


def _simulator_of(backend: Backend) -> LocalSimulator | None:
    """The statevector simulator under ``backend`` (through wrappers), if there is one."""
    seen = 0
    while not isinstance(backend, LocalSimulator) and hasattr(backend, "inner") and seen < 8:
        backend, seen = backend.inner, seen + 1
    return backend if isinstance(backend, LocalSimulator) else None


def _nominal_shots(tasks: Sequence[Task], backend: Backend) -> int:
    """What the step's distinct rows cost, whether or not a store already holds some.

    A resumed step reads rows finished before the crash from the run's store, but the run
    paid for them: charging them again keeps the ledger and the budget identical to an
    uninterrupted run.
    """
    return dry_run(tasks, backend=backend).shots if tasks else 0


@dataclass(frozen=True, eq=False)
class _Planned:
    """A priced step, ready to run."""

    tasks: list[Task]
    assemble: Any
    policy: ShotPolicy | None
    cost: int


class _Session:
    """One call of :func:`fit`: runs steps until a budget or stop rule says no."""

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
    ) -> None:
        self.settings, self.state, self.executor = settings, state, executor
        self.directory, self.trackers, self.exact_value = directory, list(trackers), exact_value
        self.report = report
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

    def elapsed(self) -> float:
        return self._elapsed_before + time.perf_counter() - self._started

    def run(self) -> FitResult:
        info = {"settings": self.settings.describe(), "config_hash": self.config_hash}
        for tracker in self.trackers:
            tracker.start({**info, "step": self.state.step})
        try:
            reason = None
            while reason is None:
                reason = self.step()
        except KeyboardInterrupt:
            reason = "interrupted"  # the last finished step is already checkpointed
        return self.finish(reason)

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
            return _Planned(tasks, assemble, shots, cost), cost

        last = state.history[-1].seconds if state.history else None

        def refuses(cost: int) -> str | None:
            return settings.budget.refuses(
                step=state.step,
                shots_total=state.shots_total,
                cost=cost,
                elapsed=self.elapsed(),
                last_seconds=last,
            )

        limit = settings.budget.max_shots
        remaining = None if limit is None else limit - state.shots_total
        planned, refusal = self.hook.affordable(plan, refuses, remaining)
        if refusal is not None:
            state.rng.bit_generator.state = saved_rng  # the step never happened
            return refusal
        return planned

    def step(self) -> str | None:
        """One step; the reason to stop, or ``None`` to go on."""
        state, counters = self.state, self.executor.counters
        saved_rng = state.rng.bit_generator.state
        before = (counters.retried, counters.failed, counters.cached, _wasted(counters))
        started = time.perf_counter()
        try:
            planned = self._measure()
            if isinstance(planned, str):
                return planned
            evaluation: Evaluation = planned.assemble(self.executor.run(planned.tasks))
            observation = self.hook.observation(evaluation.observation(planned.policy))
            update = self.settings.optimizer.update(state.optimizer_state, state.theta, observation)
        except BaseException:
            # Interrupted mid-step: the step never happened, so neither did its seed draw
            # (the finished rows are in the store and will be read back on resume).
            state.rng.bit_generator.state = saved_rng
            raise
        theta = self.hook.frozen(state.theta, update.theta)  # layerwise: frozen stay put
        finite = bool(np.all(np.isfinite(theta)))
        after = (counters.retried, counters.failed, counters.cached, _wasted(counters))
        # Shots the backend spent on results that were rejected or came back after a
        # timeout are spent all the same: the ledger and the budget count them.
        cost = planned.cost + after[3] - before[3]
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
        )
        state.monitor_state = self.hook.state
        if finite:  # a NaN/inf update is recorded and paid for, but θ and the state keep
            state.theta, state.optimizer_state = theta, update.state
        state.step, state.shots_total = state.step + 1, state.shots_total + cost
        state.elapsed = record.elapsed
        state.history.append(record)
        for tracker in self.trackers:
            tracker.log(record)  # metrics.jsonl before the checkpoint that vouches for it
        self._save(None)
        if not finite:
            return "non_finite"
        if record.monitor is not None and record.monitor["action"] == "stop":
            return "plateau"
        return self.settings.stop.reason(state.history)

    def _save(self, stopped_by: str | None) -> None:
        if self.directory is not None:
            checkpoint = self.state.checkpoint(self.config_hash, self.settings.seed, stopped_by)
            save_checkpoint(self.directory.checkpoint, checkpoint)

    def finish(self, reason: str) -> FitResult:
        state = self.state
        state.elapsed = self.elapsed()
        self._save(reason)
        simulator = _simulator_of(self.executor.backend)
        final = None
        if simulator is not None:
            final = self.settings.objective.exact_loss(state.theta, simulator)
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


def fit(
    objective: Objective,
    theta0: object,
    optimizer: Optimizer,
    *,
    method: str = "best",
    shots: int | ShotPolicy | None = None,
    gradient_options: Mapping[str, Any] | None = None,
    budget: Budget | None = None,
    stop: StopRules | None = None,
    seed: int | None = None,
    backend: Backend | None = None,
    executor: Executor | None = None,
    store: ResultStore | None = None,
    run_dir: str | Path | None = None,
    resume: bool | str = False,
    trackers: Sequence[Tracker] = (),
    exact_value: float | None = None,
    monitor: GradientMonitor | None = None,
    report: Report | None = None,
) -> FitResult:
    """Minimise ``objective`` from ``theta0`` with ``optimizer``.

    Args:
        objective: the loss (``qt.Objective``).
        theta0: ``(P,)`` initial parameters.
        optimizer: a ``qt.optim`` optimizer (or anything with init/ask/update).
        method: gradient method (as ``qt.grad``); an optimizer may ask for another (SPSA).
        shots: per row and group, or a ``qt.ShotPolicy`` for each step (a total covers every
            circuit of the step); ``None`` for exact values. Shot-adaptive optimizers
            choose their own.
        gradient_options: options of ``method`` (e.g. finite-difference ``step``).
        budget: hard limits (default 100 steps).
        stop: convergence rules.
        seed: the run's seed (sampling, SPSA directions); ``None`` draws one, recorded in
            the summary and checkpoint.
        backend: where tasks run (default ``LocalSimulator()``).
        executor: an ``Executor`` (dedup, retries, store) instead of ``backend``.
        store: a ``ResultStore`` for the default executor. With a ``run_dir`` and neither
            executor nor store, the run's store is ``run_dir/results.sqlite``.
        run_dir: checkpoint, metrics, summary and store go here.
        resume: ``True``: continue the run in ``run_dir`` from its checkpoint (refused with
            ``CheckpointMismatchError`` if the settings differ, and with
            ``CheckpointError`` if ``run_dir`` holds no run — a mistyped path never starts
            a fresh run silently); ``"if-exists"``: continue if there is a run, else start
            one; ``False``: start (refused if ``run_dir`` already holds a run).
        trackers: extra :class:`~qtrain.train.tracking.Tracker` s (progress bars, MLflow).
        exact_value: the known minimum, reported in the summary with the final error.
        report: ``f(θ_final) -> entries`` added to the summary before trackers see it (the
            CLI adds a built-in problem's own numbers this way).
        monitor: a :class:`~qtrain.diagnostics.monitor.GradientMonitor` watching the
            gradient's SNR (``warn``, ``stop`` → ``stopped_by="plateau"``, ``raise_shots``,
            ``layerwise``); every decision is in ``StepRecord.monitor``.

    Raises:
        ConfigError, CheckpointError, and the input errors of ``qt.grad``, before any step.
    """
    if not isinstance(objective, Objective):
        raise ConfigError(f"expected a qt.Objective, got {type(objective).__name__}")
    theta = objective.check_theta(theta0)
    checked = checked_optimizer(optimizer, objective)
    if monitor is not None and not isinstance(monitor, GradientMonitor):
        raise ConfigError(f"monitor must be a GradientMonitor, got {type(monitor).__name__}")
    refuse_missing_run(None if run_dir is None else Path(run_dir), resume)
    directory = RunDir(Path(run_dir)).create() if run_dir is not None else None
    checkpoint = existing_checkpoint(directory, resume)
    if seed is None and checkpoint is not None:
        seed = checkpoint.seed
    settings = RunSettings(
        objective,
        checked,
        method,
        as_policy(shots),
        dict(gradient_options or {}),
        budget if budget is not None else Budget(),
        stop if stop is not None else StopRules(),
        resolve_seed(seed),
        theta,
        monitor,
    )
    if checkpoint is not None and directory is not None:
        checkpoint.check_config(settings.config_hash(), directory.checkpoint)
        truncate_metrics(directory.metrics, checkpoint.step)
        state = RunState.restore(checkpoint)
    else:
        state = RunState.fresh(theta, checked, settings.seed, monitor)
    if directory is not None and store is None and executor is None:
        store = ResultStore(directory.store)
    runner = resolve_executor(backend, executor, store)
    all_trackers: list[Tracker] = [JsonlTracker(directory.metrics)] if directory else []
    if directory is not None:
        run_info = {"settings": settings.describe(), "config_hash": settings.config_hash()}
        write_json_atomic(directory.run_info, run_info)
        write_json_atomic(directory.reproduce, reproduction_info(settings.seed))
    session = _Session(
        settings,
        state,
        runner,
        directory=directory,
        trackers=[*all_trackers, *trackers],
        exact_value=exact_value,
        report=report,
    )
    return session.run()
