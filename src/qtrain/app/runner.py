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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from numpy.typing import NDArray

from qtrain.app.config import (
    CircuitConfig,
    ExecutorConfig,
    FaultyBackendConfig,
    InitConfig,
    LocalBackendConfig,
    RunConfig,
    StoreConfig,
    load_config,
    parse_config,
)
from qtrain.backends.faulty import FaultyBackend
from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend, Task
from qtrain.diagnostics.monitor import GradientMonitor
from qtrain.errors import CheckpointError, ConfigError
from qtrain.exec.distributed import DaskExecutor
from qtrain.exec.dry_run import dry_run
from qtrain.exec.executor import Executor
from qtrain.exec.expval import resolve_seed
from qtrain.exec.retry import RetryPolicy
from qtrain.exec.store import ResultStore
from qtrain.grad.shots import ShotPolicy
from qtrain.ir import ansatz
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.observe.mlflow_tracker import MlflowTracker
from qtrain.optim import Optimizer, from_config
from qtrain.problems import Problem, build
from qtrain.train.checkpoint import write_bytes_atomic
from qtrain.train.evaluation import Evaluation, EvaluationAssembly
from qtrain.train.loop import FitResult, Report, fit
from qtrain.train.objective import Objective
from qtrain.train.rundir import RunDir, new_run_id
from qtrain.train.state import checked_optimizer, measurement
from qtrain.train.stopping import Budget, StopRules
from qtrain.train.tracking import LogTracker, RunContext, Tracker, bound

__all__ = [
    "Prepared",
    "config_trackers",
    "executor_for",
    "gradient_from_config",
    "make_backend",
    "make_executor",
    "plan_from_config",
    "prepare",
    "resume_from_dir",
    "train_from_config",
]


@dataclass(frozen=True, eq=False)
class Prepared:
    """Everything a config describes, built and checked, nothing run yet."""

    config: RunConfig
    objective: Objective
    theta0: NDArray[np.float64]
    optimizer: Optimizer
    shots: ShotPolicy | None
    problem: Problem | None
    monitor: GradientMonitor | None = None

    @property
    def exact_value(self) -> float | None:
        """The problem's known minimum, if any."""
        return None if self.problem is None else self.problem.exact_value


def _circuit(spec: CircuitConfig) -> Circuit:
    if spec.path is not None:
        try:
            return Circuit.from_dict(json.loads(Path(spec.path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError) as error:
            raise ConfigError(
                f"circuit.path {spec.path}: cannot load a circuit ({error})"
            ) from None
    assert spec.n_qubits is not None  # checked by CircuitConfig
    build_ansatz = getattr(ansatz, str(spec.ansatz))
    circuit: Circuit = build_ansatz(spec.n_qubits, spec.layers)
    return circuit


def _theta0(config: RunConfig, default: NDArray[np.float64], size: int) -> NDArray[np.float64]:
    spec = config.theta0
    if spec is None:
        return default
    if isinstance(spec, list):
        return np.array(spec, dtype=np.float64)
    assert isinstance(spec, InitConfig) and config.seed is not None
    rng = np.random.default_rng(np.random.SeedSequence(config.seed, spawn_key=(1,)))
    if spec.init == "uniform":
        return rng.uniform(0.0, 2 * np.pi, size)
    if spec.init == "normal":
        return rng.normal(0.0, spec.scale, size)
    return np.zeros(size)


def _shots(config: RunConfig) -> ShotPolicy | None:
    gradient = config.gradient
    if gradient.shots is not None:
        return ShotPolicy.fixed(gradient.shots)
    if gradient.target_stderr is not None:
        return ShotPolicy.target(gradient.target_stderr, budget=gradient.budget)
    if gradient.budget is not None:
        return ShotPolicy.total(gradient.budget)
    return None


def prepare(config: RunConfig) -> Prepared:
    """Build the objective, θ₀ and optimizer; a missing seed is drawn and recorded."""
    if config.seed is None:
        config = config.model_copy(update={"seed": resolve_seed(None)})
    problem = None
    if config.problem is not None:
        problem = build(config.problem.name, **config.problem.options())
        objective = Objective.from_problem(problem)
        default = np.asarray(problem.theta0, dtype=np.float64)
    else:
        assert config.circuit is not None and config.observable is not None
        circuit = _circuit(config.circuit)
        objective = Objective.single(circuit, Observable.parse(config.observable))
        default = np.zeros(circuit.n_params)
    theta0 = objective.check_theta(_theta0(config, default, objective.n_params))
    optimizer = checked_optimizer(from_config(config.optimizer.as_dict()), objective)
    monitor = None
    if config.monitor is not None:
        monitor = GradientMonitor(**config.monitor.model_dump())
        monitor.init(objective.n_params)  # layers that do not fit θ fail here, before a run
    return Prepared(config, objective, theta0, optimizer, _shots(config), problem, monitor)


def make_backend(spec: LocalBackendConfig | FaultyBackendConfig) -> Backend:
    """The configured backend: the local simulator, or a fault-injecting wrapper of it."""
    inner = spec.inner if isinstance(spec, FaultyBackendConfig) else spec
    local = LocalSimulator(inner.memory_budget, kernels=inner.kernels)
    if isinstance(spec, FaultyBackendConfig):
        return FaultyBackend(local, seed=spec.seed, profile=spec.profile())
    return local


def make_executor(config: RunConfig, store_path: Path | None) -> Executor:
    """The configured executor (local or Dask) around the configured backend."""
    spec = config.store
    durability = spec.durability if isinstance(spec, StoreConfig) else "full"
    if isinstance(spec, StoreConfig):
        path = spec.path if spec.path is not None else store_path
    else:
        path = store_path if spec is True else spec or None
    store = ResultStore(path, durability=durability) if isinstance(path, Path) else None
    return executor_for(config.executor, make_backend(config.backend), store)


def executor_for(spec: ExecutorConfig, backend: Backend, store: ResultStore | None) -> Executor:
    """An executor section built around ``backend``."""
    retry = RetryPolicy(**spec.retry.model_dump())
    if spec.dask is not None:
        return DaskExecutor(
            spec.dask.address,
            backend=backend,
            store=store,
            retry=retry,
            n_workers=spec.dask.n_workers,
            max_rows=spec.max_rows or 64,
        )
    return Executor(
        backend,
        store=store,
        retry=retry,
        max_rows=spec.max_rows,
        tasks_per_call=spec.tasks_per_call,
        max_workers=spec.max_workers,
    )


def _close(executor: Executor) -> None:
    """Release what a run's executor holds: a Dask cluster, the store's connection."""
    if isinstance(executor, DaskExecutor):
        executor.close()
    if executor.store is not None:
        executor.store.close()


def _budget(config: RunConfig) -> Budget:
    return Budget(**config.budget.model_dump())


def config_trackers(config: RunConfig) -> list[Tracker]:
    """The trackers a run gets from its config: structured logs, and MLflow when asked."""
    trackers: list[Tracker] = [LogTracker()]
    if config.tracking.name == "mlflow":
        spec = config.tracking
        trackers.append(MlflowTracker(tracking_uri=spec.uri, experiment=spec.experiment))
    return trackers


def _fit(
    prepared: Prepared, directory: RunDir, *, resume: bool, trackers: Sequence[Tracker]
) -> FitResult:
    """Train with the config's trackers too; they see the executor, run id and budget."""
    executor = make_executor(prepared.config, directory.store)
    observers = [*config_trackers(prepared.config), *trackers]
    context = RunContext(
        Path(directory.path).resolve().name,
        Path(directory.path),
        executor,
        _budget(prepared.config),
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
                budget=_budget(config),
                stop=StopRules(**config.stop.model_dump()),
                seed=config.seed,
                executor=executor,
                run_dir=directory.path,
                resume=resume,
                trackers=observers,
                exact_value=prepared.exact_value,
                monitor=prepared.monitor,
                report=_problem_report(prepared),
            )
    finally:
        _close(executor)


def _problem_report(prepared: Prepared) -> Report | None:
    """A built-in problem's own numbers (energy error, approximation ratio, accuracy)."""
    problem = prepared.problem
    if problem is None:
        return None

    def report(theta: NDArray[np.float64]) -> dict[str, Any]:
        terms = prepared.objective.exact_terms(theta)
        return {"problem": {"name": problem.name, "report": problem.report(terms)}}

    return report


def train_from_config(
    config: RunConfig, *, run_dir: Path | None = None, trackers: Sequence[Tracker] = ()
) -> tuple[FitResult, RunDir]:
    """Train a new run; its folder is ``run_dir`` or ``<run.dir>/<run id>``.

    Raises:
        ConfigError, CheckpointError: bad input. StorageError: the folder cannot be written
        (before any work), the disk filled up, or a run file is damaged (see ``qt.fit``).
    """
    prepared = prepare(config)
    resolved = prepared.config
    if run_dir is None:
        text = json.dumps(resolved.model_dump(mode="json"), sort_keys=True)
        digest = hashlib.sha256(text.encode()).hexdigest()
        run_dir = resolved.run.dir / (resolved.run.id or new_run_id(resolved.name, digest))
    directory = RunDir(run_dir)
    if directory.checkpoint.exists():
        raise CheckpointError(f"{run_dir} already holds a run; continue it with qtrain resume")
    directory.create().check_writable()  # a read-only folder is refused before any work
    text = yaml.safe_dump(resolved.model_dump(mode="json"), sort_keys=False)
    write_bytes_atomic(directory.config, text.encode("utf-8"))
    return _fit(prepared, directory, resume=False, trackers=trackers), directory


def resume_from_dir(
    run_dir: Path, *, budget: dict[str, Any] | None = None, trackers: Sequence[Tracker] = ()
) -> FitResult:
    """Continue the run in ``run_dir`` from its checkpoint, optionally with a new budget.

    A damaged ``results.sqlite`` is moved aside and rebuilt empty, with a warning (the
    checkpoint holds what resume needs); other storage failures raise ``StorageError``.
    """
    directory = RunDir(Path(run_dir))
    if not directory.config.exists():
        raise CheckpointError(f"{run_dir} is not a run directory (no config.yaml)")
    config = load_config(directory.config)
    directory.check_writable()  # a read-only folder is refused before any work
    if budget:
        merged = {
            **config.budget.model_dump(),
            **{k: v for k, v in budget.items() if v is not None},
        }
        config = parse_config(
            {**config.model_dump(mode="json"), "budget": merged}, source=str(directory.config)
        )
    return _fit(prepare(config), directory, resume=True, trackers=trackers)


@dataclass(frozen=True, eq=False)
class _FirstStep:
    """The first training step, planned as ``fit`` would plan it, on a storeless executor.

    ``adaptive``: the optimizer chooses its own shots per component.
    """

    executor: Executor
    tasks: list[Task]
    assemble: EvaluationAssembly
    method: str
    adaptive: bool


def _first_step(prepared: Prepared) -> _FirstStep:
    """Plan the first step of ``prepared`` (nothing runs)."""
    config = prepared.config
    executor = make_executor(config.model_copy(update={"store": False}), None)
    request = prepared.optimizer.ask(prepared.optimizer.init(prepared.theta0))
    method, options, shots = measurement(
        request, config.gradient.method, config.gradient.options, prepared.shots
    )
    tasks, assemble = prepared.objective.plan(
        prepared.theta0,
        method=method,
        shots=shots,
        seed=config.seed,
        backend=executor.backend,
        metric=request.metric_tensor,
        options=options,
    )
    return _FirstStep(executor, tasks, assemble, method, request.shots_per_component is not None)


def gradient_from_config(config: RunConfig) -> tuple[Prepared, Evaluation]:
    """One loss-and-gradient evaluation at θ₀, measured as the first training step would be."""
    prepared = prepare(config)
    step = _first_step(prepared)
    return prepared, step.assemble(step.executor.run(step.tasks))


def plan_from_config(config: RunConfig) -> dict[str, Any]:
    """The cost of the first step and of the whole run, with nothing executed."""
    prepared = prepare(config)
    first = _first_step(prepared)
    step = dry_run(first.tasks, executor=first.executor)
    budget = _budget(prepared.config)
    affordable = budget.max_steps
    if budget.max_shots is not None and step.shots > 0:
        affordable = min(affordable, budget.max_shots // step.shots)
    seconds = None if step.estimated_seconds is None else step.estimated_seconds * affordable
    return {
        "name": prepared.config.name,
        "n_params": prepared.objective.n_params,
        "terms": len(prepared.objective.circuits),
        "optimizer": prepared.optimizer.config(),
        "method": first.method,
        "step": {
            "tasks": step.tasks,
            "rows": step.rows,
            "distinct_rows": step.unique_rows,
            "shots": step.shots,
            "estimated_seconds": step.estimated_seconds,
        },
        "steps": affordable,
        "max_steps": budget.max_steps,
        "total_shots": step.shots * affordable,
        "max_shots": budget.max_shots,
        "estimated_seconds": seconds,
        "adaptive_shots": first.adaptive,
    }
