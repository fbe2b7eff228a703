"""``drift:``: a canary run between steps and a CUSUM that decides drift (``train/drift_watch``).

::

    drift:
      every_steps: 10          # and/or every_seconds: 600
      shots: 2000              # per measurement group of one canary run
      policy: pause            # warn | pause | recalibrate | fallback
      arl: 500                 # in-control mean canary runs to a false alarm (or threshold: 5)
      baseline: 16             # runs behind a baselined reference
      canary:                  # optional: the default is the run's first circuit
        circuit: {qasm: canary.qasm}
        observable: "Z0 Z1"
        params: [0.3, 1.1]
        reference: 0.42        # optional: else exact (ideal simulator) or baselined

``policy: fallback`` needs the config's backend fallback (the hook named ``fallback``): a
config without one is a ``ConfigError`` when the run's hooks are built.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from qtrain.app.circuit_config import CircuitConfig, load_circuit_file
from qtrain.app.config_errors import StrictModel
from qtrain.errors import ConfigError, QtrainError
from qtrain.interop import qasm
from qtrain.ir import ansatz
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.train.canary import Canary
from qtrain.train.drift_watch import DriftWatch
from qtrain.train.step_hooks import StepHook

__all__ = ["CanaryConfig", "DriftConfig", "drift_hook"]


class CanaryConfig(StrictModel):
    """``canary: {circuit: {...}, observable: "Z0", params: [...], reference: 0.4}``."""

    circuit: CircuitConfig
    observable: str
    params: list[float] = Field(default_factory=list)
    reference: float | None = None

    @field_validator("observable")
    @classmethod
    def _parses(cls, text: str) -> str:
        try:
            Observable.parse(text)
        except QtrainError as error:
            raise ValueError(str(error)) from None
        return text

    def build(self) -> Canary:
        """The canary (its circuit read again: the file may have changed since)."""
        spec = self.circuit
        if spec.qasm is not None:
            circuit = qasm.load(spec.qasm)
        elif spec.path is not None:
            circuit = load_circuit_file(spec.path)
        else:
            assert spec.n_qubits is not None  # checked by CircuitConfig
            made: Circuit = getattr(ansatz, str(spec.ansatz))(spec.n_qubits, spec.layers)
            circuit = made
        return Canary(circuit, Observable.parse(self.observable), self.params, self.reference)


class DriftConfig(StrictModel):
    """``drift: {every_steps: 10, shots: 1000, policy: warn, ...}`` (module docstring)."""

    every_steps: Annotated[int, Field(ge=1)] | None = 10
    every_seconds: Annotated[float, Field(gt=0)] | None = None
    shots: Annotated[int, Field(ge=2)] = 1000
    policy: Literal["warn", "pause", "recalibrate", "fallback"] = "warn"
    threshold: Annotated[float, Field(gt=0)] | None = None
    arl: Annotated[float, Field(gt=1)] | None = None
    k: Annotated[float, Field(gt=0)] = 0.5
    baseline: Annotated[int, Field(ge=1)] = 16
    reference: Literal["auto", "exact", "baseline"] = "auto"
    canary: CanaryConfig | None = None

    @model_validator(mode="after")
    def _consistent(self) -> DriftConfig:
        if self.every_steps is None and self.every_seconds is None:
            raise ValueError("give every_steps or every_seconds (or both)")
        if self.threshold is not None and self.arl is not None:
            raise ValueError("give threshold or arl, not both")
        if self.canary is not None:
            try:
                self.canary.build()
            except QtrainError as error:
                raise ValueError(f"canary: {error}") from None
        return self


def drift_hook(config: DriftConfig, hooks: list[StepHook]) -> DriftWatch:
    """The run's drift watch; ``hooks`` are those built before it (a fallback among them).

    Raises:
        ConfigError: ``policy: fallback`` without a backend fallback hook.
    """
    if config.policy == "fallback" and not any(
        getattr(h, "name", None) == "fallback" for h in hooks
    ):
        raise ConfigError(
            "drift.policy: 'fallback' needs a backend fallback (a fallback: section with the "
            "backends to go on with); choose warn, pause or recalibrate otherwise"
        )
    return DriftWatch(
        None if config.canary is None else config.canary.build(),
        every_steps=config.every_steps,
        every_seconds=config.every_seconds,
        shots=config.shots,
        policy=config.policy,
        threshold=5.0 if config.threshold is None else config.threshold,
        arl=config.arl,
        k=config.k,
        baseline=config.baseline,
        reference=config.reference,
    )
