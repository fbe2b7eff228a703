"""``qt.fit``: the training loop, with hard budgets, stop rules, checkpoints and exact resume.

Each step: the optimizer says what to measure (``ask``); the objective plans the tasks; the
step's shot cost is priced before anything runs and a step that would break the budget is not
started; the executor runs the tasks (dedup, retries, durable store); the optimizer updates θ;
a :class:`StepRecord` goes to the trackers (``metrics.jsonl`` first) and an atomic checkpoint
is written (``train/session.py``). ``resume=True`` continues from the checkpoint to
bit-identical parameters: every random draw comes from a generator whose state is
checkpointed, sampling is seeded by row content, rows finished before a crash are read back
from the run's result store, and the history is read back from ``metrics.jsonl``.

The checkpoint stays the same size however long the run, so a step costs the same at step
10 000 as at step 10. Environment failures are errors, not tracebacks: a run folder that
cannot be written is refused before any work; a full disk or a folder turned read-only stops
the run with one message naming the file, what the checkpoint holds and how to resume; a
damaged result store is moved aside and rebuilt (it is a cache).

>>> import numpy as np
>>> import qtrain as qt
>>> objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))
>>> result = qt.fit(objective, np.array([0.5]), qt.optim.Adam(learning_rate=0.2),
...                 budget=qt.Budget(max_steps=60))
>>> result.stopped_by, bool(result.final_loss < -0.99)
('max_steps', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Backend
from qtrain.diagnostics.monitor import GradientMonitor
from qtrain.errors import ConfigError
from qtrain.exec.executor import Executor, resolve_executor
from qtrain.exec.expval import resolve_seed
from qtrain.exec.pricing import PricingTable
from qtrain.exec.store import ResultStore
from qtrain.grad.shots import ShotPolicy
from qtrain.optim.base import Optimizer
from qtrain.train.checkpoint import Checkpoint, write_json_atomic
from qtrain.train.objective import Objective
from qtrain.train.progress import ProgressTracker
from qtrain.train.records import FitResult
from qtrain.train.reporting import with_cost
from qtrain.train.rundir import RunDir, record_outputs, recorded_parent, reproduction_info
from qtrain.train.session import Report, Session
from qtrain.train.state import (
    RunSettings,
    RunState,
    as_policy,
    checked_optimizer,
    existing_checkpoint,
    refuse_changed_settings,
    refuse_missing_run,
    restored_state,
)
from qtrain.train.step_hooks import StepHook
from qtrain.train.step_money import check_pricing
from qtrain.train.stopping import Budget, StopRules
from qtrain.train.tracking import JsonlTracker, Tracker

__all__ = ["FitResult", "Report", "fit"]


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
    progress: bool = False,
    hooks: Sequence[StepHook] = (),
    pricing: PricingTable | None = None,
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
        progress: show a progress display while the run goes: a bar on standard error in a
            terminal, an HTML line updated in place in Jupyter (``train/progress.py``).
        hooks: :class:`~qtrain.train.step_hooks.StepHook` s run around each step (drift
            canaries, backend fallback, validation); their states are checkpointed.
        pricing: a :class:`~qtrain.exec.pricing.PricingTable`: every step is priced in money
            (``StepRecord.cost``, ``cost_total``; the summary's ``cost``), and
            ``budget.max_cost`` (which needs one) refuses a step it cannot pay for.

    Raises:
        ConfigError: a bad option or setting (and the input errors of ``qt.grad``), before
            any step.
        CheckpointError: the run folder holds a checkpoint that cannot be resumed.
        StorageError: the run folder or a file in it cannot be written or read
            (``NotWritableError``, ``NotReadableError``: before any step), the disk filled
            up (``DiskFullError``: the message says what the checkpoint holds and how to
            resume), or ``metrics.jsonl`` is damaged beyond repair (``CorruptFileError``).
    """
    theta, checked = _checked(objective, theta0, optimizer, monitor)
    where = backend if executor is None else executor.backend  # None: the default simulator
    pricing = check_pricing(budget or Budget(), pricing, where)
    for hook in hooks:  # a fallback the table cannot price is refused now, not mid-run
        for fallback in getattr(hook, "backends", ()):
            check_pricing(budget or Budget(), pricing, fallback)
    shown = _progress(progress, budget)
    directory, checkpoint = _open_run(run_dir, resume)
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
    state = _starting_state(settings, checkpoint, directory)
    own_store = None
    if directory is not None and store is None and executor is None:
        store = own_store = ResultStore(directory.store)
    metrics = [JsonlTracker(directory.metrics)] if directory is not None else []
    try:
        _record_run(directory, settings)
        session = Session(
            settings,
            state,
            resolve_executor(backend, executor, store),
            directory=directory,
            trackers=[*metrics, *trackers, *shown],
            exact_value=exact_value,
            report=with_cost(report, pricing, state),
            hooks=hooks,
            pricing=pricing,
        )
        result = session.run()
        record_outputs(directory, result.theta, list(result.history))  # reproduce.json
        return result
    finally:
        for tracker in metrics:
            tracker.close()
        for display in shown:
            display.close()
        if own_store is not None:
            own_store.close()


def _checked(
    objective: object, theta0: object, optimizer: Optimizer, monitor: object
) -> tuple[NDArray[np.float64], Optimizer]:
    """``(θ₀, optimizer)`` checked against the objective, before anything is created."""
    if not isinstance(objective, Objective):
        raise ConfigError(f"expected a qt.Objective, got {type(objective).__name__}")
    theta = objective.check_theta(theta0)
    checked = checked_optimizer(optimizer, objective)
    if monitor is not None and not isinstance(monitor, GradientMonitor):
        raise ConfigError(f"monitor must be a GradientMonitor, got {type(monitor).__name__}")
    return theta, checked


def _progress(progress: object, budget: Budget | None) -> list[ProgressTracker]:
    """The progress display ``progress=True`` asks for (none for ``False``)."""
    if not isinstance(progress, bool):
        raise ConfigError(f"progress must be True or False, got {progress!r}")
    if not progress:
        return []
    limits = budget if budget is not None else Budget()
    return [ProgressTracker(total_steps=limits.max_steps, max_shots=limits.max_shots)]


def _open_run(
    run_dir: str | Path | None, resume: bool | str
) -> tuple[RunDir | None, Checkpoint | None]:
    """The run folder (created, and checked writable before any work) and its checkpoint."""
    refuse_missing_run(None if run_dir is None else Path(run_dir), resume)
    if run_dir is None:
        return None, existing_checkpoint(None, resume)
    directory = RunDir(Path(run_dir)).create()
    directory.check_writable()
    return directory, existing_checkpoint(directory, resume)


def _starting_state(
    settings: RunSettings, checkpoint: Checkpoint | None, directory: RunDir | None
) -> RunState:
    """Fresh at θ₀, or where the checkpoint left off (its history read from metrics.jsonl)."""
    if checkpoint is None or directory is None:
        return RunState.fresh(settings.theta0, settings.optimizer, settings.seed, settings.monitor)
    refuse_changed_settings(checkpoint, settings, directory)  # names what changed
    return restored_state(checkpoint, directory)


def _record_run(directory: RunDir | None, settings: RunSettings) -> None:
    """``run.json`` (what the run was asked to do) and ``reproduce.json``."""
    if directory is not None:
        run_info = {"settings": settings.describe(), "config_hash": settings.config_hash()}
        run_info.update(recorded_parent(directory))  # a branched run keeps its parent
        write_json_atomic(directory.run_info, run_info)
        write_json_atomic(directory.reproduce, reproduction_info(settings.seed))
