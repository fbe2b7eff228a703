"""Initialisation strategies for variance scans (and for θ₀ of a training run).

* :class:`Uniform`: every parameter uniform in ``[0, 2π)`` — the setting of McClean et al.
  (2018), where random circuits form approximate 2-designs and gradients vanish.
* :class:`SmallAngle`: normal with mean 0 and standard deviation ``width``: the circuit starts
  near the identity, a layer at a time (e.g. Zhang et al., NeurIPS 2022).
* :class:`IdentityBlocks`: Grant et al., Quantum 3, 214 (2019). The circuit is built as
  ``blocks`` blocks, each a half ``U(φ_b)`` followed by ``U(φ'_b)†`` on independent
  parameters, initialised to ``φ'_b = φ_b`` with ``φ_b`` uniform: the circuit starts as the
  identity (after the family's fixed preparation) while each parameter still moves the state.
* any callable ``(n_params, rng) -> θ (P,)``.

>>> rng = np.random.default_rng(0)
>>> bool(np.all(SmallAngle(0.01).theta(50, rng) ** 2 < 0.01))
True
>>> resolve_init("identity_blocks").name, resolve_init({"name": "normal", "width": 0.2}).name
('identity_blocks', 'normal(0.2)')
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError

__all__ = ["Custom", "IdentityBlocks", "Init", "InitSpec", "SmallAngle", "Uniform", "resolve_init"]

Vector = NDArray[np.float64]


def _positive(value: object, name: str, *, integer: bool = False) -> None:
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind) or not 0 < float(value) < math.inf:
        raise ConfigError(
            f"{name} must be a positive {'int' if integer else 'number'}, got {value!r}"
        )


@dataclass(frozen=True)
class Uniform:
    """Every parameter uniform in ``[0, 2π)``."""

    @property
    def name(self) -> str:
        """``"uniform"``."""
        return "uniform"

    def theta(self, n_params: int, rng: np.random.Generator) -> Vector:
        """``(P,)`` draws."""
        return rng.uniform(0.0, 2 * math.pi, n_params)


@dataclass(frozen=True)
class SmallAngle:
    """Normal draws with mean 0 and standard deviation ``width``."""

    width: float = 0.1

    def __post_init__(self) -> None:
        _positive(self.width, "width")

    @property
    def name(self) -> str:
        """``"normal(<width>)"``."""
        return f"normal({self.width:g})"

    def theta(self, n_params: int, rng: np.random.Generator) -> Vector:
        """``(P,)`` draws."""
        return rng.normal(0.0, self.width, n_params)


@dataclass(frozen=True)
class IdentityBlocks:
    """Grant et al. 2019: ``blocks`` identity blocks (``depth`` must be a multiple of ``2·blocks``).

    The half of block ``b`` gets uniform parameters ``φ_b``; its inverse gets ``φ_b`` too.
    """

    blocks: int = 1

    def __post_init__(self) -> None:
        _positive(self.blocks, "blocks", integer=True)

    @property
    def name(self) -> str:
        """``"identity_blocks"`` (with the block count when it is not 1)."""
        return "identity_blocks" if self.blocks == 1 else f"identity_blocks({self.blocks})"

    def half_depth(self, depth: int) -> int:
        """Layers in each half block.

        Raises:
            ConfigError: ``depth`` is not a multiple of ``2·blocks``.
        """
        if depth % (2 * self.blocks):
            raise ConfigError(
                f"identity blocks need a depth that is a multiple of 2·blocks = "
                f"{2 * self.blocks}, got depth {depth}"
            )
        return depth // (2 * self.blocks)

    def theta(self, half_params: list[int], rng: np.random.Generator) -> Vector:
        """``concat(φ_1, φ_1, φ_2, φ_2, …)`` for halves of ``half_params[b]`` parameters."""
        parts = []
        for size in half_params:
            phi = rng.uniform(0.0, 2 * math.pi, size)
            parts += [phi, phi]
        return np.concatenate(parts) if parts else np.zeros(0)


@dataclass(frozen=True)
class Custom:
    """A user function ``(n_params, rng) -> θ (P,)``."""

    function: Callable[[int, np.random.Generator], Any]

    @property
    def name(self) -> str:
        """The function's name."""
        return str(getattr(self.function, "__name__", "custom"))

    def theta(self, n_params: int, rng: np.random.Generator) -> Vector:
        """``(P,)`` from the function, checked.

        Raises:
            ConfigError: not ``n_params`` finite numbers.
        """
        values = np.asarray(self.function(n_params, rng), dtype=np.float64)
        if values.shape != (n_params,) or not np.all(np.isfinite(values)):
            raise ConfigError(
                f"init {self.name!r} must return {n_params} finite numbers, got shape "
                f"{values.shape}"
            )
        return values


Init = Uniform | SmallAngle | IdentityBlocks | Custom
InitSpec = str | Init | Mapping[str, Any] | Callable[[int, np.random.Generator], Any]
_NAMED: dict[str, Callable[..., Init]] = {
    "uniform": Uniform,
    "normal": SmallAngle,
    "small": SmallAngle,
    "identity_blocks": IdentityBlocks,
}


def resolve_init(spec: InitSpec) -> Init:
    """A strategy from a name, a mapping ``{"name": ..., <options>}``, a strategy, or a callable.

    Names: ``uniform``, ``normal`` (or ``small``; option ``width``), ``identity_blocks``
    (option ``blocks``).

    Raises:
        ConfigError: an unknown name or option.
    """
    if isinstance(spec, Uniform | SmallAngle | IdentityBlocks | Custom):
        return spec
    if isinstance(spec, str | Mapping):
        options = {"name": spec} if isinstance(spec, str) else dict(spec)
        name = options.pop("name", None)
        if name not in _NAMED:
            raise ConfigError(f"unknown init {name!r}; choose one of {', '.join(_NAMED)}")
        try:
            return _NAMED[name](**options)
        except TypeError as error:
            raise ConfigError(f"init {name!r}: {error}") from None
    if callable(spec):
        return Custom(spec)
    raise ConfigError(f"init must be a name, a strategy or a callable, got {type(spec).__name__}")
