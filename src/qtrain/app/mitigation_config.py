"""``mitigation``: error mitigation of a run's values, the keys of ``qt.Mitigated`` in YAML.

The backend a run uses (``local``, or ``faulty`` around it) is wrapped in ``qt.Mitigated``:
readout errors inverted, noise extrapolated to zero. Faults then hit the inner calls, as on
hardware::

    mitigation:
      readout: true             # measured by calibration circuits, or false, or a mapping:
      # readout: {shots: 8192, max_age_s: 3600, seed: 3}
      # readout: {calibration: calibrations/fake_5q.json, qubits: [0, 1, 2, 3]}
      zne: {factors: [1, 3, 5], extrapolation: exponential, folding: global, seed: 0}
      # extrapolation: richardson | linear | exponential | [polynomial, 2]
      # shot_fractions: [0.5, 0.3, 0.2]     (default: by the extrapolation's weights)
      # on_failure: fallback                (or raise: an exponential fit with no answer)

A given readout ``calibration`` is a ``qt.Calibration`` JSON file (its path relative to the
config file); ``qubits`` picks the device qubits the circuit's wires run on, as
``backend.noise`` does. The options are built when the config is read, so a bad factor list,
extrapolation or calibration file is a ``ConfigError`` naming its key
(``mitigation.zne.factors``). A run pins the measured calibration's seed (so a resumed run
measures the same calibration) and the options' ``fingerprint``: an edited section is then
refused.

>>> spec = MitigationConfig.model_validate({"readout": True, "zne": {"factors": [1, 3]}})
>>> spec.options()[1].factors
(1.0, 3.0)
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from typing import Annotated, Any

import numpy as np
from pydantic import (
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)

from qtrain.app.config_errors import KeyedError, StrictModel, relative_to_config
from qtrain.app.noise_config import Wires, restrict_calibration
from qtrain.app.noise_config import _load_calibration as load_calibration
from qtrain.backends.protocol import Backend, Task
from qtrain.errors import MitigationError, NoiseModelError
from qtrain.ir.circuit import Circuit
from qtrain.mitigation.extrapolation import Extrapolation, check_factors
from qtrain.mitigation.mitigated import Mitigated
from qtrain.mitigation.readout import ReadoutMitigation
from qtrain.mitigation.zne import ZNE
from qtrain.noise import NoiseModel

__all__ = [
    "ADJOINT_MITIGATED",
    "MitigationConfig",
    "ReadoutConfig",
    "ZNEConfig",
    "check_folding",
    "check_gradient",
    "mitigation_plan",
]

ADJOINT_MITIGATED = (
    "'adjoint' differentiates the simulator's state and cannot run through error mitigation "
    "(the mitigation section): use param-shift or best"
)


class ReadoutConfig(StrictModel):
    """``readout``: measured (``shots``, ``max_age_s``, ``seed``) or given (``calibration``)."""

    calibration: str | None = None
    qubits: Wires = None
    shots: Annotated[int, Field(ge=2)] | None = None
    max_age_s: Annotated[float, Field(gt=0)] | None = None
    seed: Annotated[int, Field(ge=0)] | None = None
    _options: ReadoutMitigation = PrivateAttr(default_factory=ReadoutMitigation)

    @field_validator("calibration")
    @classmethod
    def _relative_to_config(cls, path: str | None, info: ValidationInfo) -> str | None:
        return relative_to_config(path, info)

    @model_validator(mode="after")
    def _builds(self) -> ReadoutConfig:
        if self.calibration is None:
            if self.qubits is not None:
                raise KeyedError(
                    "qubits", "qubits picks device qubits of a calibration: give calibration too"
                )
            self._options = ReadoutMitigation(
                shots=8192 if self.shots is None else self.shots,
                max_age_s=self.max_age_s,
                seed=self.seed,
            )
            return self
        for key in ("shots", "max_age_s", "seed"):
            if getattr(self, key) is not None:
                raise KeyedError(
                    key,
                    f"{key} is for a calibration measured by calibration circuits; a given "
                    "calibration measures none: drop the key, or drop calibration",
                )
        calibration = load_calibration(self.calibration)
        if self.qubits is not None:
            calibration = restrict_calibration(calibration, self.qubits)
        self._options = ReadoutMitigation(calibration=calibration)
        return self

    def options(self) -> ReadoutMitigation:
        """The validated ``qt.ReadoutMitigation``."""
        return self._options


class ZNEConfig(StrictModel):
    """``zne``: the keyword arguments of ``qt.ZNE`` (factors, extrapolation, folding, ...)."""

    factors: list[float] = Field(default_factory=lambda: [1.0, 3.0, 5.0])
    extrapolation: Any = "richardson"
    folding: str = "global"
    seed: Annotated[int, Field(ge=0)] = 0
    shot_fractions: list[float] | None = None
    on_failure: str = "fallback"
    _options: ZNE = PrivateAttr(default_factory=ZNE)

    @model_validator(mode="after")
    def _builds(self) -> ZNEConfig:
        try:
            factors = check_factors(self.factors)
        except MitigationError as error:
            raise KeyedError("factors", str(error)) from None
        spec = self.extrapolation
        spec = tuple(spec) if isinstance(spec, list) else spec  # YAML [polynomial, 2]
        try:
            Extrapolation.parse(spec).check(factors)
        except MitigationError as error:
            raise KeyedError("extrapolation", str(error)) from None
        try:
            self._options = ZNE(
                factors=factors,
                extrapolation=spec,
                folding=self.folding,
                seed=self.seed,
                shot_fractions=None if self.shot_fractions is None else tuple(self.shot_fractions),
                on_failure=self.on_failure,
            )
        except MitigationError as error:
            text = str(error)
            keys = {"shot_fractions": "shot_fractions", "on_failure": "on_failure"}
            keys["unknown folding"] = "folding"
            key = next((k for hint, k in keys.items() if hint in text), "factors")
            raise KeyedError(key, text) from None
        return self

    def options(self) -> ZNE:
        """The validated ``qt.ZNE``."""
        return self._options


def _switch(value: Any) -> Any:
    """``true``: the defaults; ``false``: none."""
    if value is True:
        return {}
    return None if value is False else value


class MitigationConfig(StrictModel):
    """``mitigation``: ``readout`` and/or ``zne`` (see the module docstring)."""

    readout: ReadoutConfig | None = None
    zne: ZNEConfig | None = None
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")] | None = None

    @field_validator("readout", "zne", mode="before")
    @classmethod
    def _true_or_false(cls, value: Any) -> Any:
        return _switch(value)

    @model_validator(mode="after")
    def _something(self) -> MitigationConfig:
        if self.readout is None and self.zne is None:
            raise ValueError(
                "nothing to mitigate: give readout (true, or a mapping) and/or zne (a mapping), "
                "or leave the mitigation section out"
            )
        actual = self.digest()
        if self.fingerprint is not None and not actual.startswith(self.fingerprint):
            raise KeyedError(
                "fingerprint",
                f"the mitigation is {actual[:12]}, not {self.fingerprint[:12]}: the mitigation "
                "section (or its readout calibration file) changed since this config was written",
            )
        return self

    def options(self) -> tuple[ReadoutMitigation | None, ZNE | None]:
        """``(readout, zne)`` for ``qt.Mitigated``; ``None`` where not asked for."""
        return (
            None if self.readout is None else self.readout.options(),
            None if self.zne is None else self.zne.options(),
        )

    def wrap(self, backend: Backend) -> Mitigated:
        """``qt.Mitigated(backend, readout=..., zne=...)``."""
        readout, zne = self.options()
        return Mitigated(backend, readout=readout, zne=zne)

    def digest(self) -> str:
        """SHA-256 of the options (the readout calibration's fingerprint included)."""
        readout, zne = self.options()
        described = {
            "readout": None
            if readout is None
            else {**readout.describe(), "max_age_s": readout.max_age_s},
            "zne": None if zne is None else zne.describe(),
        }
        text = json.dumps(described, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def pinned(self, run_seed: int) -> MitigationConfig:
        """This section as a run records it, with its ``fingerprint``.

        A measured calibration's ``seed`` is drawn from the run's seed when not given, so a
        resumed run measures the same calibration.
        """
        spec = self
        readout = self.readout
        if readout is not None and readout.calibration is None and readout.seed is None:
            seed = np.random.SeedSequence(run_seed, spawn_key=(0xCA1,)).generate_state(1)[0]
            data = self.model_dump()
            data["readout"]["seed"] = int(seed)
            data["fingerprint"] = None
            spec = MitigationConfig.model_validate(data)
        return spec.model_copy(update={"fingerprint": spec.digest()})


def check_gradient(method: str, shots: int | None, spec: MitigationConfig | None) -> None:
    """Refuse a gradient that cannot run through mitigation.

    Raises:
        KeyedError: ``gradient.method`` (adjoint) or ``gradient.shots`` (fewer than two
            per factor).
    """
    if spec is None:
        return
    if method == "adjoint":
        raise KeyedError("gradient.method", ADJOINT_MITIGATED)
    zne = spec.options()[1]
    if zne is not None and shots is not None and shots < 2 * len(zne.factors):
        raise KeyedError(
            "gradient.shots",
            f"zero-noise extrapolation splits each (row, group)'s shots over its "
            f"{len(zne.factors)} scale factors (mitigation.zne.factors), two at least each: "
            f"give at least {2 * len(zne.factors)}",
        )


def check_folding(spec: MitigationConfig | None, circuit: Circuit, model: NoiseModel | None) -> str:
    """Fold ``circuit`` at every scale factor and check the noise model covers each.

    Returns an error message (``""``: fine), for the caller to name its key.
    """
    zne = None if spec is None else spec.options()[1]
    if zne is None:
        return ""
    try:
        circuits, _ = zne.folded(circuit)
        if model is not None:
            for folded in circuits:
                model.for_circuit(folded)
    except (MitigationError, NoiseModelError) as error:
        return str(error)
    return ""


def _estimate(backend: Mitigated, tasks: Sequence[Task]) -> float | None:
    """The inner backend's time estimate of the folded tasks (``None``: it has no cost model)."""
    estimate = getattr(backend.inner, "estimate_seconds", None)
    if not callable(estimate):
        return None
    total = 0.0
    for task in tasks:
        circuits = (task.circuit,) if backend.zne is None else backend.zne.folded(task.circuit)[0]
        for circuit in circuits:
            total += float(estimate(Task(circuit, task.observables, task.params, task.shots)))
    return total


def mitigation_plan(
    backend: Backend, tasks: Sequence[Task], *, unique_share: float
) -> dict[str, Any] | None:
    """What mitigation adds to a step of ``tasks`` (runs nothing).

    ``unique_share``: the rows left after dedup, as a share of all (scales the time estimate).
    ``None`` when ``backend`` is not mitigated.
    """
    if not isinstance(backend, Mitigated):
        return None
    cost = backend.overhead(tasks)
    estimate = _estimate(backend, tasks)
    factors = 1 if backend.zne is None else len(backend.zne.factors)
    return {
        "readout": None if backend.readout is None else backend.readout.describe(),
        "zne": None if backend.zne is None else backend.zne.describe(),
        "step": {
            "circuits": cost.circuits,
            "rows": cost.rows,
            "shots": cost.shots,
            "estimated_seconds": None if estimate is None else estimate * unique_share,
        },
        "unmitigated": {"circuits": cost.tasks, "rows": cost.rows_unmitigated, "shots": cost.shots},
        "scale_factors": factors,
        "calibration": {"circuits": cost.calibration_circuits, "shots": cost.calibration_shots},
        "variance_factor": cost.variance_factor,
        "stderr_factor": math.sqrt(cost.variance_factor),
    }
