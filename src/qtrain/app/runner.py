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

import numpy as np
import yaml
from numpy.typing import NDArray

from qtrain.app.build import (
    Prepared,
    backend_spec,
    budget_of,
    close_executor,
    config_trackers,
    executor_for,
    local_simulator,
    make_backend,
    make_executor,
    prepare,
)
from qtrain.app.config import (
    RunConfig,
    load_config,
    parse_config,
)
from qtrain.app.mitigation_config import mitigation_plan
from qtrain.app.plan_time import cache_note, estimate_time
from qtrain.app.qiskit_config import QiskitBackendConfig
from qtrain.app.step_plan import check_machine_memory, first_step, plan_check, with_plan
from qtrain.errors import CheckpointError, ExtrapolationError, StateTooLargeError
from qtrain.exec.dry_run import dry_run
from qtrain.train.checkpoint import load_checkpoint, write_bytes_atomic
from qtrain.train.evaluation import Evaluation
from qtrain.train.loop import FitResult, Report, fit
from qtrain.train.rundir import RunDir, new_run_id, outermost_missing
from qtrain.train.state import RunSettings, as_policy, refuse_changed_settings
from qtrain.train.stopping import StopRules
from qtrain.train.tracking import RunContext, Tracker, bound

__all__ = [
    "Prepared",
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
                report=with_plan(_problem_report(prepared), check),
            )
    finally:
        close_executor(executor)


def _problem_report(prepared: Prepared) -> Report | None:
    """What a run adds to its summary: a built-in problem's own numbers, the noise, mitigation.

    A problem reports its energy error, approximation ratio or accuracy; a noisy run its
    methods and noise model, with the exact noisy and ideal losses at the final θ; a mitigated
    run its options and the exact mitigated loss there (the problem's numbers then use it).
    """
    problem, objective = prepared.problem, prepared.objective
    _, spec = backend_spec(prepared.config)
    noisy = spec.noise_model() is not None or spec.method != "auto"
    mitigation = prepared.config.mitigation
    qiskit = isinstance(prepared.config.backend, QiskitBackendConfig)
    if problem is None and not noisy and mitigation is None and not qiskit:
        return None

    def loss(terms: NDArray[np.float64] | None) -> float | None:
        return None if terms is None else objective.loss_fn.value(terms, objective.targets)

    def report(theta: NDArray[np.float64]) -> dict[str, Any]:
        ideal = objective.exact_terms(theta)
        raw = _noisy_terms(prepared, theta) if noisy else ideal
        if qiskit:  # its values are the device's: the problem's numbers are the ideal ones
            terms: NDArray[np.float64] | None = ideal
        else:
            terms = raw if mitigation is None else _noisy_terms(prepared, theta, mitigated=True)
        out: dict[str, Any] = {}
        if qiskit:
            out["backend"] = {**noise_description(prepared), "ideal_loss": loss(ideal)}
        if problem is not None and terms is not None:
            out["problem"] = {"name": problem.name, "report": problem.report(terms)}
        if noisy:
            out["noise"] = {
                **noise_description(prepared),
                "noisy_loss": loss(raw),
                "ideal_loss": loss(ideal),
            }
        if mitigation is not None:
            readout, zne = mitigation.options()
            out["mitigation"] = {
                "readout": None if readout is None else readout.describe(),
                "zne": None if zne is None else zne.describe(),
                "mitigated_loss": None if qiskit else loss(terms),
                "unmitigated_loss": None if qiskit else loss(raw),
            }
        return out

    return report


def _noisy_terms(
    prepared: Prepared, theta: NDArray[np.float64], *, mitigated: bool = False
) -> NDArray[np.float64] | None:
    """Exact noisy term values (the density matrix where trajectories ran), or mitigated ones.

    ``None``: the state is too large, or the extrapolation has no answer there.
    """
    _, spec = backend_spec(prepared.config)
    if spec.method == "trajectories":
        spec = spec.model_copy(update={"method": "density_matrix"})
    backend = local_simulator(spec)
    mitigation = prepared.config.mitigation
    try:
        if mitigated and mitigation is not None:
            return prepared.objective.exact_terms(theta, mitigation.wrap(backend))
        return prepared.objective.exact_terms(theta, backend)
    except (StateTooLargeError, ExtrapolationError):
        return None


def noise_description(prepared: Prepared) -> dict[str, Any]:
    """The simulator of a run in words: requested and chosen methods, noise model, source.

    A Qiskit backend: its device and options (``QiskitBackendConfig.describe``).
    """
    if isinstance(prepared.config.backend, QiskitBackendConfig):
        return prepared.config.backend.describe()
    _, spec = backend_spec(prepared.config)
    model = spec.noise_model()
    return {
        "method": spec.method,
        "methods": sorted({s.choice.method for s in prepared.simulation}),
        "trajectories": spec.trajectories,
        "model": None if model is None else model.fingerprint(),
        "source": None if spec.noise is None else spec.noise.source(),
    }


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
    run_dir: Path, *, budget: dict[str, Any] | None = None, trackers: Sequence[Tracker] = ()
) -> FitResult:
    """Continue the run in ``run_dir`` from its checkpoint, optionally with a new budget.

    A new budget is written to the run's ``config.yaml`` (so the report and MLflow's params
    show the budget the run has now).

    A damaged ``results.sqlite`` is moved aside and rebuilt empty, with a warning (the
    checkpoint holds what resume needs); other storage failures raise ``StorageError``.

    Everything is checked before the folder is touched: the config, and that it still
    describes the checkpoint's run (``CheckpointMismatchError`` names each setting that
    changed, ``optimizer.learning_rate 0.05 → 0.07``).
    """
    directory = RunDir(Path(run_dir))
    if not directory.config.exists():
        raise CheckpointError(f"{run_dir} is not a run directory (no config.yaml)")
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
    observers = [*config_trackers(prepared.config), *trackers]
    directory.check_writable()  # a read-only folder is refused before any work
    if any(v is not None for v in (budget or {}).values()):  # resume --max-steps 40: recorded
        text = yaml.safe_dump(prepared.config.model_dump(mode="json"), sort_keys=False)
        write_bytes_atomic(directory.config, text.encode("utf-8"))
    return _fit(prepared, directory, resume=True, trackers=observers)


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


def plan_from_config(config: RunConfig) -> dict[str, Any]:
    """The cost of the first step and of the whole run, with nothing executed.

    Time comes from this machine's measured coefficients (``app.plan_time``: measured once
    and cached; a local Qiskit target by its own per-job model): ``time`` says on what it
    rests and where a step's time goes. ``steps`` is what the budget affords: its steps,
    shots (at the first step's cost) and seconds (at the estimated step).

    A mitigated run adds ``mitigation``: circuits, rows and shots per step with and without
    it, the one-off readout calibration, and how much ZNE multiplies each value's variance.
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
    }
    if mitigation is not None:
        mitigation["total_shots"] = step.shots * affordable + calibration
        report["mitigation"] = mitigation
    return report
