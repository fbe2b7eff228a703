"""From a validated config to the parts of a run: objective, θ₀, optimizer, executor, trackers.

Nothing runs here; :mod:`qtrain.app.runner` trains, resumes, measures or prices what this
builds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from qtrain.app.circuit_config import CircuitConfig, load_circuit_file
from qtrain.app.config import (
    ExecutorConfig,
    FaultyBackendConfig,
    InitConfig,
    LocalBackendConfig,
    RunConfig,
    StoreConfig,
)
from qtrain.app.mitigation_config import MitigationConfig, check_folding
from qtrain.app.preflight import check_first_step, in_file, keyed
from qtrain.app.pricing_config import pricing_of
from qtrain.app.qiskit_config import QiskitBackendConfig
from qtrain.app.validation_config import held_out_split, validation_hook
from qtrain.backends.faulty import FaultyBackend
from qtrain.backends.local import LocalSimulator, MethodChoice
from qtrain.backends.protocol import Backend
from qtrain.diagnostics.monitor import GradientMonitor
from qtrain.errors import ConfigError, NoiseModelError, QtrainError, StateTooLargeError
from qtrain.exec.distributed import DaskExecutor
from qtrain.exec.executor import Executor
from qtrain.exec.expval import resolve_seed
from qtrain.exec.retry import RetryPolicy
from qtrain.exec.store import ResultStore
from qtrain.grad.shots import ShotPolicy
from qtrain.interop import qasm
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
from qtrain.train.validation import Validation

__all__ = [
    "Prepared",
    "Simulation",
    "backend_spec",
    "budget_of",
    "close_executor",
    "config_trackers",
    "executor_for",
    "local_simulator",
    "make_backend",
    "make_executor",
    "prepare",
]


@dataclass(frozen=True)
class Simulation:
    """How the simulator runs the objective's circuits of one width (``sim.choose``).

    Attributes:
        n_qubits: the circuits' width.
        circuits: how many of the objective's circuits have it.
        choice: the method, the bytes one parameter row needs, and why.
    """

    n_qubits: int
    circuits: int
    choice: MethodChoice


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
    simulation: tuple[Simulation, ...] = ()
    validation: Validation | None = None  # the held-out objective's hook (validation_config)

    @property
    def exact_value(self) -> float | None:
        """The problem's known minimum, if any."""
        return None if self.problem is None else self.problem.exact_value


def _circuit(spec: CircuitConfig) -> Circuit:
    """The configured circuit (files are read again: they may have changed since)."""
    if spec.qasm is not None:
        try:
            return qasm.load(spec.qasm)
        except QtrainError as error:  # the file changed since the config was validated
            raise ConfigError(f"circuit.qasm: {error}") from None
    if spec.path is not None:
        with keyed("circuit.path"):
            return load_circuit_file(spec.path)
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
    """Build the objective, θ₀ and optimizer, and check the run can start; nothing runs.

    A missing seed is drawn and recorded, and so are the noise model's and the mitigation's
    fingerprints (and a measured readout calibration's seed). The first step is planned as
    ``fit`` will plan it (``app/preflight.py``), so what would refuse it refuses here.

    Raises:
        ConfigError: naming the key (``backend.method``, ``backend.noise``, ...) when the
            simulator cannot run the objective: trajectories without shots, a noise rule on a
            wire the circuits lack, a state too large for the memory budget (the adjoint
            method's and the metric tensor's states too), a folded circuit
            (``mitigation.zne``) the noise model cannot run.
        QtrainError: the input errors of the parts (``ObservableError``, ``ParameterError``,
            ``GradientError``, ...). Every message names its key (``observable: ...``) and,
            for a config read from a file, the file (``config.source``).
    """
    with in_file(config.source):
        return _prepared(config)


def _prepared(config: RunConfig) -> Prepared:
    """:func:`prepare` without the file's name on its errors."""
    if config.seed is None:
        config = config.model_copy(update={"seed": resolve_seed(None)})
    config = _pinned(config)
    problem = held_out = None
    if config.problem is not None:
        with keyed("problem"):
            problem = build(config.problem.name, **config.problem.options())
        problem, held_out = held_out_split(problem, config.validation, config.seed)
        with keyed("problem"):
            objective = Objective.from_problem(problem)
        default = np.asarray(problem.theta0, dtype=np.float64)
    else:
        held_out_split(None, config.validation, config.seed)  # refused: no data to hold out
        assert config.circuit is not None and config.observable is not None
        circuit = _circuit(config.circuit)
        with keyed("observable"):
            objective = Objective.single(circuit, Observable.parse(config.observable))
        default = np.zeros(circuit.n_params)
    with keyed("theta0"):
        theta0 = objective.check_theta(_theta0(config, default, objective.n_params))
    with keyed("optimizer"):
        optimizer = checked_optimizer(from_config(config.optimizer.as_dict()), objective)
    monitor = None
    if config.monitor is not None:
        with keyed("monitor"):
            monitor = GradientMonitor(**config.monitor.model_dump())
            monitor.init(objective.n_params)  # layers that do not fit θ fail here
    shots = _shots(config)
    adaptive = optimizer.ask(optimizer.init(theta0)).shots_per_component is not None
    validation = validation_hook(held_out, config.validation, sampled=bool(shots) or adaptive)
    simulation = _simulation(config, objective, exact=shots is None and not adaptive)
    if not isinstance(config.backend, QiskitBackendConfig):  # building it may reach a provider
        key, _ = backend_spec(config)
        check_first_step(
            objective,
            theta0,
            optimizer,
            (config.gradient.method, config.gradient.options, shots),
            seed=config.seed,
            backend=make_backend(config.backend, config.mitigation),
            memory_key=f"{key}.memory_budget",
        )
    prepared = (config, objective, theta0, optimizer, shots, problem, monitor, simulation)
    return Prepared(*prepared, validation)


def backend_spec(config: RunConfig) -> tuple[str, LocalBackendConfig]:
    """``(key, section)``: the local simulator's config section and its key in the config.

    A Qiskit backend has none: its exact reference is the ideal local simulator.
    """
    if isinstance(config.backend, FaultyBackendConfig):
        return "backend.inner", config.backend.inner
    if isinstance(config.backend, QiskitBackendConfig):
        return "backend", LocalBackendConfig()
    return "backend", config.backend


def _pinned(config: RunConfig) -> RunConfig:
    """``config`` with its noise and mitigation fingerprints recorded (refused if they change).

    A measured readout calibration's seed is recorded too (a resumed run measures the same),
    and a Qiskit backend's transpiler seed (the same layout on resume).
    """
    seed = config.seed
    assert seed is not None  # drawn by prepare first
    if config.mitigation is not None:
        config = config.model_copy(update={"mitigation": config.mitigation.pinned(seed)})
    if isinstance(config.backend, QiskitBackendConfig):
        return config.model_copy(update={"backend": config.backend.pinned(seed)})
    key, spec = backend_spec(config)
    if spec.noise is None:
        return config
    local = spec.model_copy(update={"noise": spec.noise.pinned()})
    backend = local if key == "backend" else config.backend.model_copy(update={"inner": local})
    return config.model_copy(update={"backend": backend})


def _simulation(config: RunConfig, objective: Objective, *, exact: bool) -> tuple[Simulation, ...]:
    """The method of every circuit width, each checked against the noise model and memory.

    A Qiskit backend simulates (or runs) with its own memory model: none here; its device
    must sample when ``exact`` is false and hold the circuits.
    """
    if isinstance(config.backend, QiskitBackendConfig):
        config.backend.check_exact(exact, list(objective.circuits))
        for circuit in objective.circuits[:1]:
            problem = check_folding(config.mitigation, circuit, None)
            if problem:
                raise ConfigError(f"mitigation.zne: {problem}")
        return ()
    key, spec = backend_spec(config)
    simulator = local_simulator(spec)
    model = simulator.noise
    widths: dict[int, list[Circuit]] = {}
    for circuit in objective.circuits:
        widths.setdefault(circuit.n_qubits, []).append(circuit)
    out = []
    for n, circuits in sorted(widths.items()):
        try:
            if model is not None:
                model.for_circuit(circuits[0])
            choice = simulator.choose(circuits[0], exact)
        except NoiseModelError as error:
            hint = ""
            if spec.noise is not None and spec.noise.calibration and spec.noise.qubits is None:
                hint = f"; pick the device qubits it runs on with {key}.noise.qubits: [0, 1, ...]"
            raise ConfigError(f"{key}.noise: {error}{hint}") from None
        except StateTooLargeError as error:
            raise ConfigError(f"{key}.memory_budget: {error}") from None
        except QtrainError as error:  # SimulationMethodError: e.g. trajectories, exact
            raise ConfigError(f"{key}.method: {error}") from None
        problem = check_folding(config.mitigation, circuits[0], model)
        if problem:
            raise ConfigError(f"mitigation.zne: {problem}")
        out.append(Simulation(n, len(circuits), choice))
    return tuple(out)


def local_simulator(spec: LocalBackendConfig) -> LocalSimulator:
    """The simulator a ``backend: {name: local, ...}`` section describes."""
    return LocalSimulator(
        spec.memory_budget,
        kernels=spec.kernels,
        noise=spec.noise_model(),
        method=spec.method,
        trajectories=spec.trajectories,
        precision=spec.precision,
    )


def make_backend(
    spec: LocalBackendConfig | FaultyBackendConfig | QiskitBackendConfig,
    mitigation: MitigationConfig | None = None,
) -> Backend:
    """The configured backend: the local simulator, a fault-injecting wrapper of it, or Qiskit.

    With ``mitigation``, wrapped in ``qt.Mitigated`` (outside: faults hit its inner calls).
    """
    inner = spec.inner if isinstance(spec, FaultyBackendConfig) else spec
    backend: Backend
    if isinstance(inner, QiskitBackendConfig):
        backend = inner.build()
    else:
        backend = local_simulator(inner)
    if isinstance(spec, FaultyBackendConfig):
        backend = FaultyBackend(backend, seed=spec.seed, profile=spec.profile())
    return backend if mitigation is None else mitigation.wrap(backend)


def make_executor(config: RunConfig, store_path: Path | None) -> Executor:
    """The configured executor (local or Dask) around the configured backend."""
    spec = config.store
    durability = spec.durability if isinstance(spec, StoreConfig) else "full"
    if isinstance(spec, StoreConfig):
        path = spec.path if spec.path is not None else store_path
    else:
        path = store_path if spec is True else spec or None
    store = ResultStore(path, durability=durability) if isinstance(path, Path) else None
    backend = make_backend(config.backend, config.mitigation)
    return executor_for(config.executor, backend, store)


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
    """The run's hard limits from its ``budget:`` section (``max_cost`` needs ``pricing:``)."""
    pricing_of(config)  # a money budget without a pricing table is refused before any work
    return Budget(**config.budget.model_dump())


def config_trackers(config: RunConfig) -> list[Tracker]:
    """The trackers a run gets from its config: structured logs, and MLflow when asked."""
    trackers: list[Tracker] = [LogTracker()]
    if config.tracking.name == "mlflow":
        spec = config.tracking
        trackers.append(MlflowTracker(tracking_uri=spec.uri, experiment=spec.experiment))
    return trackers
