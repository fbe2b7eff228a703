"""Run configurations: YAML files validated by pydantic before anything runs.

A config names the problem (a built-in from ``qt.problems``, or an ansatz and an observable),
the optimizer, the gradient and its shots, budgets, stop rules, the backend (``local``, a
``faulty`` wrapper for chaos runs, or ``qiskit``: :mod:`qtrain.app.qiskit_config`), its error
mitigation (:mod:`qtrain.app.mitigation_config`), the executor (retries, chunking, Dask) and
the run folder.
Every mistake — an unknown key, a wrong type, an impossible value — is a ``ConfigError``
naming the key and what is allowed::

    problem: {name: h2, bond_length: 0.7414}
    optimizer: {name: adam, learning_rate: 0.1}
    gradient: {method: param-shift, shots: 1000}
    budget: {max_steps: 50, max_shots: 5000000}
    seed: 7

>>> cfg = parse_config({"problem": {"name": "h2"}, "optimizer": {"name": "adam"}})
>>> cfg.gradient.method, cfg.budget.max_steps
('best', 100)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from qtrain.app.circuit_config import CircuitConfig
from qtrain.app.config_errors import KeyedError, StrictModel, read_yaml, validate_model
from qtrain.app.drift_config import DriftConfig
from qtrain.app.mitigation_config import MitigationConfig, check_gradient
from qtrain.app.noise_config import ADJOINT_NOISY, NoiseConfig, check_method
from qtrain.app.operations_config import CalibrationConfig
from qtrain.app.pricing_config import PricingSpec
from qtrain.app.qiskit_config import QiskitBackendConfig
from qtrain.app.validation_config import ValidationConfig
from qtrain.backends.faulty import FaultProfile
from qtrain.errors import QtrainError
from qtrain.grad.api import METHODS
from qtrain.ir.observables import Observable
from qtrain.noise import NoiseModel
from qtrain.optim import OPTIMIZERS, from_config
from qtrain.sim.methods import has_channels
from qtrain.sim.trajectories import MIN_TRAJECTORIES

__all__ = ["RunConfig", "load_config", "parse_config", "read_yaml", "validate_model"]


def _check_keys(options: dict[str, Any], allowed: list[str], where: str) -> None:
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r} in {where}; allowed: {', '.join(allowed)}")


class ProblemConfig(BaseModel):
    """``problem: {name: h2, <options of qt.problems.build>}``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str

    def options(self) -> dict[str, Any]:
        """The builder's keyword options."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _known(self) -> ProblemConfig:
        from qtrain.problems import PROBLEMS  # noqa: PLC0415 - registry only needed here

        if self.name not in PROBLEMS:
            raise ValueError(f"unknown problem {self.name!r}; choose one of {', '.join(PROBLEMS)}")
        _check_keys(self.options(), list(PROBLEMS[self.name].options), f"problem {self.name!r}")
        return self


class InitConfig(StrictModel):
    """``theta0: {init: normal, scale: 0.1}``: a seeded initial point."""

    init: Literal["zeros", "uniform", "normal"] = "zeros"
    scale: Annotated[float, Field(gt=0)] = 0.1


class OptimizerConfig(BaseModel):
    """``optimizer: {name: adam, <hyperparameters of qt.optim>}``."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: str

    def as_dict(self) -> dict[str, Any]:
        """``{"name": ..., **hyperparameters}`` for ``qt.optim.from_config``."""
        return {"name": self.name, **(self.model_extra or {})}

    @model_validator(mode="after")
    def _builds(self) -> OptimizerConfig:
        if self.name not in OPTIMIZERS:
            raise ValueError(
                f"unknown optimizer {self.name!r}; choose one of {', '.join(OPTIMIZERS)}"
            )
        try:
            from_config(self.as_dict())
        except (QtrainError, TypeError) as error:
            raise ValueError(str(error)) from None
        return self


class GradientConfig(StrictModel):
    """How each step's gradient is measured (shots per row and group, or a budget)."""

    method: Literal["best", "param-shift", "adjoint", "finite-diff", "spsa"] = "best"
    shots: Annotated[int, Field(ge=2)] | None = None
    budget: Annotated[int, Field(ge=2)] | None = None
    target_stderr: Annotated[float, Field(gt=0)] | None = None
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_shot_rule(self) -> GradientConfig:
        if self.shots is not None and (self.budget is not None or self.target_stderr is not None):
            raise ValueError("give shots, or budget and/or target_stderr, not both")
        sampled = [k for k in ("shots", "budget", "target_stderr") if getattr(self, k) is not None]
        if self.method == "adjoint" and sampled:
            raise KeyedError(
                "method",
                f"'adjoint' is exact by construction and cannot honour gradient.{sampled[0]}: "
                "use param-shift (or best) for sampled gradients with error bars, or drop "
                f"gradient.{sampled[0]} for exact ones",
            )
        assert self.method in METHODS
        return self


class BudgetConfig(StrictModel):
    """Hard limits (see ``qt.Budget``)."""

    max_steps: Annotated[int, Field(ge=1)] = 100
    max_shots: Annotated[int, Field(ge=1)] | None = None
    max_seconds: Annotated[float, Field(gt=0)] | None = None
    max_cost: Annotated[float, Field(gt=0)] | None = None  # money; needs pricing:


class StopConfig(StrictModel):
    """Convergence rules (see ``qt.StopRules``)."""

    loss_tolerance: Annotated[float, Field(gt=0)] | None = None
    patience: Annotated[int, Field(ge=1)] = 1
    grad_tolerance: Annotated[float, Field(gt=0)] | None = None
    grad_snr_below: Annotated[float, Field(gt=0)] | None = None
    target: float | None = None


class MonitorConfig(StrictModel):
    """``monitor: {policy: stop, window: 5}``: the gradient-SNR monitor (``GradientMonitor``)."""

    policy: Literal["warn", "stop", "raise_shots", "layerwise"] = "warn"
    threshold: Annotated[float, Field(gt=0)] = 1.0
    window: Annotated[int, Field(ge=1)] = 5
    factor: Annotated[float, Field(gt=1)] = 2.0
    max_factor: Annotated[float, Field(ge=1)] = 64.0
    layers: Annotated[int, Field(ge=1)] | list[list[Annotated[int, Field(ge=0)]]] | None = None
    start_layers: Annotated[int, Field(ge=1)] = 1
    grow: Annotated[int, Field(ge=1)] = 1

    @model_validator(mode="after")
    def _layers_for_layerwise(self) -> MonitorConfig:
        if self.policy == "layerwise" and self.layers is None:
            raise ValueError("policy 'layerwise' needs layers (a count or lists of indices)")
        return self


class LocalBackendConfig(StrictModel):
    """``backend: {name: local}``: the batched simulator, ideal or noisy.

    ``noise``: see :mod:`qtrain.app.noise_config`; ``method``, ``trajectories`` (default:
    one per shot) and ``precision`` (``double``, or ``single``: complex64 statevector, ideal
    gates and readout errors only) are those of ``qt.LocalSimulator``.
    """

    name: Literal["local"] = "local"
    kernels: Literal["auto", "numba", "numpy"] | None = None
    memory_budget: Annotated[int, Field(gt=0)] | None = None
    method: Literal["auto", "statevector", "density_matrix", "trajectories"] = "auto"
    trajectories: Annotated[int, Field(ge=MIN_TRAJECTORIES)] | None = None
    noise: NoiseConfig | None = None
    precision: Literal["double", "single"] = "double"

    def noise_model(self) -> NoiseModel | None:
        """The configured noise model; ``None``: ideal."""
        return None if self.noise is None else self.noise.model()

    @model_validator(mode="after")
    def _method_fits_noise(self) -> LocalBackendConfig:
        check_method(self.method, self.noise, self.trajectories)
        noisy = self.method == "density_matrix" or has_channels(self.noise_model())
        if self.precision == "single" and noisy:
            raise KeyedError("precision", "'single' supports the statevector and adjoint methods")
        return self


class FaultyBackendConfig(BaseModel):
    """``backend: {name: faulty, seed: 1, failure_rate: 0.3, ...}`` around the simulator."""

    model_config = ConfigDict(extra="allow", frozen=True)
    name: Literal["faulty"]
    seed: Annotated[int, Field(ge=0)] = 0
    inner: LocalBackendConfig = Field(default_factory=LocalBackendConfig)

    def profile(self) -> FaultProfile:
        """The fault rates as a ``FaultProfile``."""
        return FaultProfile(**(self.model_extra or {}))

    @model_validator(mode="after")
    def _rates(self) -> FaultyBackendConfig:
        allowed = [f.name for f in dataclasses.fields(FaultProfile)]
        _check_keys(dict(self.model_extra or {}), allowed, "backend 'faulty'")
        try:
            self.profile()
        except (QtrainError, TypeError) as error:
            raise ValueError(str(error)) from None
        return self


class RetryConfig(StrictModel):
    """Retry policy (see ``qt.RetryPolicy``)."""

    attempts: Annotated[int, Field(ge=1)] = 8
    initial_s: Annotated[float, Field(ge=0)] = 0.05
    max_s: Annotated[float, Field(ge=0)] = 5.0
    jitter_s: Annotated[float, Field(ge=0)] = 0.05
    timeout_s: Annotated[float, Field(gt=0)] | None = None


class DaskConfig(StrictModel):
    """``dask: {address: tcp://scheduler:8786}``; no address starts a LocalCluster."""

    address: str | None = None
    n_workers: Annotated[int, Field(ge=1)] = 2


class ExecutorConfig(StrictModel):
    """The execution layer between the gradient and the backend."""

    retry: RetryConfig = Field(default_factory=RetryConfig)
    max_rows: Annotated[int, Field(ge=1)] | None = None
    tasks_per_call: Annotated[int, Field(ge=1)] | None = None
    max_workers: Annotated[int, Field(ge=1)] = 1
    dask: DaskConfig | None = None


class TrackingConfig(StrictModel):
    """``tracking: mlflow`` or ``{name: mlflow, uri: ..., experiment: ...}``.

    ``metrics.jsonl`` is always written; ``mlflow`` also logs to MLflow (the ``mlflow``
    extra), by default to ``sqlite:///<run.dir>/mlflow.db`` beside the run folders.
    """

    name: Literal["jsonl", "mlflow"] = "jsonl"
    uri: str | None = None
    experiment: Annotated[str, Field(min_length=1)] = "qtrain"

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"name": data} if isinstance(data, str) else data


class StoreConfig(StrictModel):
    """``store: {path: ..., durability: normal}``; no path: the run folder's ``results.sqlite``."""

    path: Path | None = None
    durability: Literal["full", "normal"] = "full"


class RunDirConfig(StrictModel):
    """Where runs go: ``<dir>/<id>/``; the id defaults to ``<name>-<time>-<hash>``."""

    dir: Path = Path("runs")
    id: str | None = None


BackendSection = Annotated[
    LocalBackendConfig | FaultyBackendConfig | QiskitBackendConfig, Field(discriminator="name")
]
"""A ``backend:`` section (and each ``fallback:`` entry)."""


class RunConfig(StrictModel):
    """A whole run."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = "run"
    seed: Annotated[int, Field(ge=0)] | None = None
    problem: ProblemConfig | None = None
    circuit: CircuitConfig | None = None
    observable: str | None = None
    theta0: list[float] | InitConfig | None = None
    optimizer: OptimizerConfig = Field(default_factory=lambda: OptimizerConfig(name="adam"))
    gradient: GradientConfig = Field(default_factory=GradientConfig)
    budget: BudgetConfig = Field(default_factory=BudgetConfig)
    stop: StopConfig = Field(default_factory=StopConfig)
    monitor: MonitorConfig | None = None
    backend: Annotated[
        LocalBackendConfig | FaultyBackendConfig | QiskitBackendConfig, Field(discriminator="name")
    ] = Field(default_factory=LocalBackendConfig)
    executor: ExecutorConfig = Field(default_factory=ExecutorConfig)
    store: bool | Path | StoreConfig = True
    run: RunDirConfig = Field(default_factory=RunDirConfig)
    tracking: TrackingConfig = Field(default_factory=TrackingConfig)
    mitigation: MitigationConfig | None = None
    pricing: PricingSpec = None  # a pricing table: a YAML path or inline (pricing_config)
    validation: ValidationConfig | None = None  # a held-out objective (validation_config)
    drift: DriftConfig | None = None  # a canary and a CUSUM between steps (drift_config)
    fallback: list[BackendSection] = Field(default_factory=list)  # next backends (operations_)
    calibration: CalibrationConfig | None = None  # oldest calibration allowed (operations_config)
    _source: str | None = PrivateAttr(default=None)

    @property
    def source(self) -> str | None:
        """The file this config was read from (``load_config``), named in later errors."""
        return self._source

    @field_validator("observable")
    @classmethod
    def _parses(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                Observable.parse(text)
            except QtrainError as error:
                raise ValueError(str(error)) from None
        return text

    @model_validator(mode="before")
    @classmethod
    def _local_by_default(cls, data: Any) -> Any:
        backend = data.get("backend") if isinstance(data, dict) else None
        if isinstance(backend, dict) and "name" not in backend:
            data = {**data, "backend": {"name": "local", **backend}}
        fallback = data.get("fallback") if isinstance(data, dict) else None
        if isinstance(fallback, list):  # each entry as backend: local when unnamed
            named = [{"name": "local", **b} if isinstance(b, dict) else b for b in fallback]
            data = {**data, "fallback": named}
        return data

    @model_validator(mode="after")
    def _one_objective(self) -> RunConfig:
        custom = self.circuit is not None or self.observable is not None
        if (self.problem is not None) == custom:
            raise ValueError(
                "give either problem (a built-in: qtrain problems) or circuit and observable"
            )
        if custom and (self.circuit is None or self.observable is None):
            raise ValueError("a custom objective needs both circuit and observable")
        for section in (self.backend, *self.fallback):  # every backend the run may use
            local = section.inner if isinstance(section, FaultyBackendConfig) else section
            if isinstance(local, QiskitBackendConfig):
                local.check_gradient(self.gradient.method, dask=self.executor.dask is not None)
            elif self.gradient.method == "adjoint" and (
                local.noise_model() is not None or local.method not in ("auto", "statevector")
            ):
                raise KeyedError("gradient.method", ADJOINT_NOISY)
        check_gradient(self.gradient.method, self.gradient.shots, self.mitigation)
        return self


def parse_config(data: Any, *, source: str | None = None, base: Path | None = None) -> RunConfig:
    """Validate a run config dict; ``base``: the folder relative paths start from (cwd).

    ``source``: the file it came from; errors found later (``prepare``) name it too.

    Raises:
        ConfigError: every problem found, one per line, each naming its key.
    """
    what = "run config"
    config = validate_model(RunConfig, data, source=source or "config", what=what, base=base)
    config._source = source
    return config


def load_config(path: Path) -> RunConfig:
    """Read and validate a YAML config file.

    Raises:
        ConfigError: the file is missing, not YAML, or not a valid config.
    """
    return parse_config(read_yaml(path), source=str(path), base=Path(path).parent)
