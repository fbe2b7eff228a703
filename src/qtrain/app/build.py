"""From a validated config to the parts of a run: objective, θ₀, optimizer, executor, trackers.

Nothing runs here; :mod:`qtrain.app.runner` trains, resumes, measures or prices what this
builds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from qtrain.app.config import (
    CircuitConfig,
    ExecutorConfig,
    FaultyBackendConfig,
    InitConfig,
    LocalBackendConfig,
    RunConfig,
    StoreConfig,
)
from qtrain.backends.faulty import FaultyBackend
from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Backend
from qtrain.diagnostics.monitor import GradientMonitor
from qtrain.errors import ConfigError
from qtrain.exec.distributed import DaskExecutor
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
from qtrain.train.objective import Objective
from qtrain.train.state import checked_optimizer
from qtrain.train.stopping import Budget
from qtrain.train.tracking import LogTracker, Tracker

__all__ = [
    "Prepared",
    "budget_of",
    "close_executor",
    "config_trackers",
    "executor_for",
    "make_backend",
    "make_executor",
    "prepare",
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


def close_executor(executor: Executor) -> None:
    """Release what a run's executor holds: a Dask cluster, the store's connection."""
    if isinstance(executor, DaskExecutor):
        executor.close()
    if executor.store is not None:
        executor.store.close()


def budget_of(config: RunConfig) -> Budget:
    """The run's hard limits from its ``budget:`` section."""
    return Budget(**config.budget.model_dump())


def config_trackers(config: RunConfig) -> list[Tracker]:
    """The trackers a run gets from its config: structured logs, and MLflow when asked."""
    trackers: list[Tracker] = [LogTracker()]
    if config.tracking.name == "mlflow":
        spec = config.tracking
        trackers.append(MlflowTracker(tracking_uri=spec.uri, experiment=spec.experiment))
    return trackers
