"""The ``fallback:`` and ``calibration:`` sections of a run config, and the hooks they make.

``fallback:`` lists the backends to go on with, in order, when a step fails for good on the
run's backend (``train/fallback.py``); each entry takes the forms of ``backend:`` (``local``,
``faulty``, ``qiskit``) and gets the run's ``mitigation:`` too::

    backend: {name: qiskit, device: ibm_kyiv}
    fallback:
      - {name: qiskit, device: ibm_brisbane}
      - {name: qiskit, device: aer}

``calibration:`` bounds the age of the device's calibration (``train/freshness.py``)::

    calibration: {max_age: 6h, policy: refuse}   # warn (default) | refuse

``max_age`` is seconds, or a number with a unit: ``90s``, ``30m``, ``6h``, ``2d``.
``refuse`` on a backend (or a fallback) that reports no calibration time is refused when
the run is built. Without a ``calibration:`` section, a run whose backend reports a
calibration or mitigates readout still records each step's calibration age and readout
error (the hook, with no limit).

Hooks run before each step in this order: fallback (a resumed run first returns to the
backend it had switched to), calibration (a stale calibration stops the run before any
shot), then the others (``hooks_config.py``: the drift canary last, so that its
``fallback`` policy finds the fallback hook).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import Field, field_validator

from qtrain.app.config_errors import StrictModel
from qtrain.app.qiskit_config import QiskitBackendConfig
from qtrain.backends.protocol import Backend
from qtrain.errors import ConfigError
from qtrain.train.fallback import BackendFallback, on_backend
from qtrain.train.freshness import CalibrationFreshness, device_calibration
from qtrain.train.step_hooks import StepHook

if TYPE_CHECKING:
    from qtrain.app.build import Prepared
    from qtrain.exec.executor import Executor

__all__ = ["CalibrationConfig", "operations_hooks", "seconds"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def seconds(value: float | str) -> float:
    """A duration in seconds: a number, or ``"90s"``, ``"30m"``, ``"6h"``, ``"2d"``.

    >>> seconds("6h"), seconds(90)
    (21600.0, 90.0)

    Raises:
        ValueError: not a positive duration (the config names the key).
    """
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match is None:
            raise ValueError(f"a duration is seconds or a number with s, m, h or d; got {value!r}")
        number = float(match.group(1)) * _UNITS[match.group(2)]
    elif isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"a duration is seconds or a number with s, m, h or d; got {value!r}")
    else:
        number = float(value)
    if not 0 < number < float("inf"):
        raise ValueError(f"a duration must be positive, got {value!r}")
    return number


class CalibrationConfig(StrictModel):
    """``calibration: {max_age: 6h, policy: warn}``: the oldest calibration a step may use."""

    max_age: Annotated[float | str, Field(description="seconds, or 90s / 30m / 6h / 2d")]
    policy: Literal["warn", "refuse"] = "warn"

    @field_validator("max_age")
    @classmethod
    def _duration(cls, value: float | str) -> float | str:
        seconds(value)
        return value

    @property
    def max_age_s(self) -> float:
        """``max_age`` in seconds."""
        return seconds(self.max_age)


def _fallback_backends(prepared: Prepared) -> list[Backend]:
    """The ``fallback:`` backends, built (a Qiskit one's transpiler seed from the run's)."""
    from qtrain.app.build import make_backend  # noqa: PLC0415 - build imports the config

    config = prepared.config
    assert config.seed is not None  # drawn by prepare
    optimizer, theta0 = prepared.optimizer, prepared.theta0
    adaptive = optimizer.ask(optimizer.init(theta0)).shots_per_component is not None
    exact = prepared.shots is None and not adaptive
    backends: list[Backend] = []
    for index, section in enumerate(config.fallback):
        spec, inner = section, getattr(section, "inner", section)
        if isinstance(inner, QiskitBackendConfig):
            try:
                inner.check_exact(exact, list(prepared.objective.circuits))
            except ConfigError as error:
                raise ConfigError(f"fallback[{index}]: {error}") from None
            pinned = inner.pinned(config.seed)
            spec = pinned if section is inner else section.model_copy(update={"inner": pinned})
        backends.append(make_backend(spec, config.mitigation))
    return backends


def _freshness(prepared: Prepared, backends: list[Backend]) -> CalibrationFreshness | None:
    """The calibration hook: as configured, or recording only where there is data."""
    section = prepared.config.calibration
    if section is None:
        readout = prepared.config.mitigation is not None and any(
            getattr(b, "readout", None) is not None for b in backends
        )
        known = readout or any(device_calibration(b) is not None for b in backends)
        return CalibrationFreshness() if known else None
    hook = CalibrationFreshness(section.max_age_s, policy=section.policy)
    for index, backend in enumerate(backends):
        try:
            hook.check(backend)
        except ConfigError as error:
            where = "backend" if index == 0 else f"fallback[{index - 1}]"
            raise ConfigError(f"calibration.policy: {where}: {error}") from None
    return hook


def operations_hooks(prepared: Prepared, executor: Executor) -> list[StepHook]:
    """The fallback and calibration hooks of ``prepared.config`` (either may be absent).

    Raises:
        ConfigError: a fallback a device cannot serve (exact values, Dask with a provider's
            jobs), or ``refuse`` on a backend that reports no calibration time.
    """
    fallbacks = _fallback_backends(prepared)
    for index, backend in enumerate(fallbacks):
        try:
            on_backend(executor, backend)
        except ConfigError as error:
            raise ConfigError(f"fallback[{index}]: {error}") from None
    backends = [executor.backend, *fallbacks]
    hooks: list[StepHook] = []
    if fallbacks:
        hooks.append(BackendFallback(backends))
    freshness = _freshness(prepared, backends)
    if freshness is not None:
        hooks.append(freshness)
    return hooks
