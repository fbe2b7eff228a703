"""From a validated config to a run: build it, train, resume, take a gradient, or price it.

Building makes the objective, θ₀, optimizer and executor; nothing runs until asked. The
command line is a thin face over these functions; Python users can call them too::

    config = load_config("h2.yaml")
    result, run_dir = train_from_config(config)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from qtrain.app.branch import branch_run
from qtrain.app.build import (
    Prepared,
    budget_of,
    close_executor,
    config_trackers,
    executor_for,
    make_backend,
    make_executor,
    prepare,
)
from qtrain.app.config import (
    RunConfig,
    load_config,
    parse_config,
)
from qtrain.app.hooks_config import config_hooks
from qtrain.app.pricing_config import pricing_of
from qtrain.app.run_plan import plan_from_config
from qtrain.app.run_report import noise_description, problem_report
from qtrain.app.step_plan import check_machine_memory, first_step, plan_check, with_plan
from qtrain.errors import CheckpointError, ConfigError
from qtrain.train.checkpoint import load_checkpoint, write_bytes_atomic
from qtrain.train.evaluation import Evaluation
from qtrain.train.loop import FitResult, fit
from qtrain.train.rundir import RunDir, new_run_id, outermost_missing
from qtrain.train.state import RunSettings, as_policy, refuse_changed_settings
from qtrain.train.stopping import StopRules
from qtrain.train.tracking import RunContext, Tracker, bound

__all__ = [
    "Prepared",
    "branch_run",
    "config_trackers",
    "executor_for",
    "gradient_from_config",
    "make_backend",
    "make_executor",
    "noise_description",
    "plan_from_config",
    "prepare",
    "resume_from_dir",
    "train_from_config",
]


def _fit(
    prepared: Prepared, directory: RunDir, *, resume: bool, trackers: Sequence[Tracker]
) -> FitResult:
    """Train; the trackers (the config's among them) see the executor, run id and budget."""
    check_machine_memory(prepared)  # as qtrain plan and grad refuse it, before any work
    executor = make_executor(prepared.config, directory.store)
    check = plan_check(prepared, executor)  # the plan's estimate, checked in the summary
    observers = [*trackers, check]
    context = RunContext(
        Path(directory.path).resolve().name,
        Path(directory.path),
        executor,
        budget_of(prepared.config),
        prepared.exact_value,
        prepared.config.model_dump(mode="json"),
    )
    config = prepared.config
    try:
        with bound(observers, context):
            return fit(
                prepared.objective,
                prepared.theta0,
                prepared.optimizer,
                method=config.gradient.method,
                shots=prepared.shots,
                gradient_options=config.gradient.options,
                budget=budget_of(config),
                stop=StopRules(**config.stop.model_dump()),
                seed=config.seed,
                executor=executor,
                run_dir=directory.path,
                resume=resume,
                trackers=observers,
                exact_value=prepared.exact_value,
                monitor=prepared.monitor,
                report=with_plan(problem_report(prepared), check),
                hooks=config_hooks(prepared, executor),
                pricing=pricing_of(config),
            )
    finally:
        close_executor(executor)


def train_from_config(
    config: RunConfig, *, run_dir: Path | None = None, trackers: Sequence[Tracker] = ()
) -> tuple[FitResult, RunDir]:
    """Train a new run; its folder is ``run_dir`` or ``<run.dir>/<run id>``.

    Everything that can be checked is checked before the folder is made (``prepare``, the
    config's trackers and their extras); a run that fails before its first step anyway
    leaves no folder behind (``RunDir.discard_if_unused``).

    Raises:
        ConfigError, CheckpointError: bad input. StorageError: the folder cannot be written
        (before any work), the disk filled up, or a run file is damaged (see ``qt.fit``).
    """
    prepared = prepare(config)
    resolved = prepared.config
    observers = [*config_trackers(resolved), *trackers]  # a missing extra fails here
    if run_dir is None:
        text = json.dumps(resolved.model_dump(mode="json"), sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        run_dir = resolved.run.dir / (resolved.run.id or new_run_id(resolved.name, digest))
    directory = RunDir(run_dir)
    if directory.checkpoint.exists():
        raise CheckpointError(f"{run_dir} already holds a run; continue it with qtrain resume")
    created = outermost_missing(Path(run_dir))
    directory.create().check_writable()  # a read-only folder is refused before any work
    try:
        text = yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False)
        write_bytes_atomic(directory.config, text.encode("utf-8"))
        return _fit(prepared, directory, resume=False, trackers=observers), directory
    except BaseException:
        if created is not None:  # no debris: a folder this call made, with no work in it
            directory.discard_if_unused(created)
        raise


def resume_from_dir(
    run_dir: Path,
    *,
    budget: dict[str, Any] | None = None,
    trackers: Sequence[Tracker] = (),
    from_step: int | None = None,
    new_dir: Path | None = None,
) -> FitResult:
    """Continue the run in ``run_dir`` from its checkpoint, optionally with a new budget.

    ``from_step=N``: roll back instead: a new run folder (``new_dir``, by default
    ``<run_dir>-from-<N>``) starts from the state after step ``N`` of ``run_dir`` and
    continues; ``run_dir`` is left as it is and named as the parent in the new run's
    ``run.json`` (``app/branch.py``). ``FitResult.run_dir`` is the new folder.

    A new budget is written to the run's ``config.yaml`` (so the report and MLflow's params
    show the budget the run has now).

    A damaged ``results.sqlite`` is moved aside and rebuilt empty, with a warning (the
    checkpoint holds what resume needs); other storage failures raise ``StorageError``.

    Everything is checked before the folder is touched: the config, and that it still
    describes the checkpoint's run (``CheckpointMismatchError`` names each setting that
    changed, ``optimizer.learning_rate 0.05 → 0.07``).
    """
    if from_step is None and new_dir is not None:
        raise ConfigError(f"new_dir={new_dir} needs from_step (the step to branch from)")
    directory = RunDir(Path(run_dir))
    prepared = _prepared_resume(directory, budget)  # every check first: a branch too
    if from_step is not None:  # then the branch folder: a refused resume leaves none
        directory = RunDir(branch_run(Path(run_dir), from_step, new_dir))
    observers = [*config_trackers(prepared.config), *trackers]
    directory.check_writable()  # a read-only folder is refused before any work
    if any(v is not None for v in (budget or {}).values()):  # resume --max-steps 40: recorded
        text = yaml.safe_dump(prepared.config.model_dump(mode="json"), sort_keys=False)
        write_bytes_atomic(directory.config, text.encode("utf-8"))
    return _fit(prepared, directory, resume=True, trackers=observers)


def _prepared_resume(directory: RunDir, budget: dict[str, Any] | None) -> Prepared:
    """The run in ``directory`` rebuilt from its config, with ``budget``'s overrides.

    Checked against its checkpoint: everything a resume refuses is refused here, before any
    write.
    """
    if not directory.config.exists():
        raise CheckpointError(f"{directory.path} is not a run directory (no config.yaml)")
    config = load_config(directory.config)
    if budget:
        merged = {
            **config.budget.model_dump(),
            **{k: v for k, v in budget.items() if v is not None},
        }
        config = parse_config(
            {**config.model_dump(mode="json"), "budget": merged}, source=str(directory.config)
        )
    prepared = prepare(config)
    if directory.checkpoint.exists():
        checkpoint = load_checkpoint(directory.checkpoint)
        refuse_changed_settings(checkpoint, _settings(prepared), directory, names=_CONFIG_KEYS)
    return prepared


_CONFIG_KEYS = {
    "method": "gradient.method",
    "gradient_options": "gradient.options",
    "shots": "gradient (shots)",
    "shots.per_row": "gradient.shots",
    "shots.budget": "gradient.budget",
    "shots.target_stderr": "gradient.target_stderr",
    "objective": "objective (problem, circuit or observable)",
}
"""``RunSettings.describe`` keys as a config names them (``fit``'s ``method``, ...)."""


def _settings(prepared: Prepared) -> RunSettings:
    """The settings ``fit`` will run ``prepared`` with (their hash guards the checkpoint)."""
    config = prepared.config
    assert config.seed is not None  # drawn by prepare
    return RunSettings(
        prepared.objective,
        prepared.optimizer,
        config.gradient.method,
        as_policy(prepared.shots),
        dict(config.gradient.options),
        budget_of(config),
        StopRules(**config.stop.model_dump()),
        config.seed,
        prepared.theta0,
        prepared.monitor,
    )


def gradient_from_config(config: RunConfig) -> tuple[Prepared, Evaluation]:
    """One loss-and-gradient evaluation at θ₀, measured as the first training step would be."""
    prepared = prepare(config)
    step = first_step(prepared)
    return prepared, step.assemble(step.executor.run(step.tasks))
