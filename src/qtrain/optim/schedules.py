"""Learning-rate schedules: a factor ``s(k)`` multiplying an optimizer's base learning rate.

Each schedule is a small frozen value with a ``config()`` for checkpoints and configs, and
:func:`schedule_from_config` rebuilds one from it.

>>> Exponential(decay=0.5)(2)
0.25
>>> Step(every=10, factor=0.1)(25)
0.010000000000000002
>>> round(Cosine(total_steps=100, floor=0.0)(50), 12)
0.5
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar, Protocol, runtime_checkable

from qtrain.errors import ConfigError
from qtrain.optim.base import check_positive, check_unit_interval

__all__ = [
    "SCHEDULES",
    "Constant",
    "Cosine",
    "Exponential",
    "InverseTime",
    "Schedule",
    "Step",
    "schedule_from_config",
]


@runtime_checkable
class Schedule(Protocol):
    """``s(k)``: the factor applied to the base learning rate at step ``k`` (from 0)."""

    def __call__(self, step: int) -> float:
        """The factor at ``step``."""
        ...

    def config(self) -> dict[str, Any]:
        """``{"name": ..., **parameters}``."""
        ...


@dataclass(frozen=True)
class _Config:
    """``config()`` for the dataclass schedules below."""

    name: ClassVar[str]

    def config(self) -> dict[str, Any]:
        """``{"name": ..., **parameters}``."""
        return {"name": self.name, **asdict(self)}

    def __call__(self, step: int) -> float:
        """The factor at ``step``."""
        raise NotImplementedError


@dataclass(frozen=True)
class Constant(_Config):
    """``s(k) = 1``."""

    name: ClassVar[str] = "constant"

    def __call__(self, step: int) -> float:  # noqa: D102 - see Schedule
        return 1.0


@dataclass(frozen=True)
class Exponential(_Config):
    """``s(k) = decay^k``."""

    decay: float = 0.99
    name: ClassVar[str] = "exponential"

    def __post_init__(self) -> None:
        if check_positive(self.decay, "decay") > 1:
            raise ConfigError(f"decay must lie in (0, 1], got {self.decay!r}")

    def __call__(self, step: int) -> float:  # noqa: D102 - see Schedule
        return float(self.decay**step)


@dataclass(frozen=True)
class Step(_Config):
    """``s(k) = factor^⌊k / every⌋`` (piecewise constant)."""

    every: int = 100
    factor: float = 0.5
    name: ClassVar[str] = "step"

    def __post_init__(self) -> None:
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise ConfigError(f"every must be a positive int, got {self.every!r}")
        check_positive(self.factor, "factor")

    def __call__(self, step: int) -> float:  # noqa: D102 - see Schedule
        return float(self.factor ** (step // self.every))


@dataclass(frozen=True)
class Cosine(_Config):
    """``s(k) = floor + (1 − floor)·(1 + cos(π·min(k, T)/T))/2`` (Loshchilov & Hutter 2017)."""

    total_steps: int = 100
    floor: float = 0.0
    name: ClassVar[str] = "cosine"

    def __post_init__(self) -> None:
        steps = self.total_steps
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise ConfigError(f"total_steps must be a positive int, got {steps!r}")
        check_unit_interval(self.floor, "floor")

    def __call__(self, step: int) -> float:  # noqa: D102 - see Schedule
        progress = min(step, self.total_steps) / self.total_steps
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


@dataclass(frozen=True)
class InverseTime(_Config):
    """``s(k) = 1 / (1 + decay·k)``."""

    decay: float = 0.01
    name: ClassVar[str] = "inverse-time"

    def __post_init__(self) -> None:
        check_positive(self.decay, "decay", allow_zero=True)

    def __call__(self, step: int) -> float:  # noqa: D102 - see Schedule
        return 1.0 / (1.0 + self.decay * step)


SCHEDULES: dict[str, type[_Config]] = {
    cls.name: cls for cls in (Constant, Exponential, Step, Cosine, InverseTime)
}


def schedule_from_config(config: dict[str, Any] | None) -> Schedule:
    """The schedule a ``config()`` describes (``None``: constant).

    Raises:
        ConfigError: an unknown name or parameter, naming the allowed ones.
    """
    if config is None:
        return Constant()
    options = dict(config)
    name = options.pop("name", None)
    if name not in SCHEDULES:
        raise ConfigError(f"unknown schedule {name!r}; choose one of {', '.join(SCHEDULES)}")
    cls = SCHEDULES[name]
    allowed = [f.name for f in fields(cls)]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"schedule {name!r} has no option {unknown[0]!r}; allowed: {', '.join(allowed) or '-'}"
        )
    schedule: Schedule = cls(**options)
    return schedule
