"""Channels in a config: ``{<constructor of qt.noise>: {<its keyword arguments>}}``.

``{depolarizing: {p: 0.01}}`` is ``qt.noise.depolarizing(p=0.01)``; ``kraus`` takes
``operators`` (a list of matrices, complex entries as strings such as ``"0.5j"``) and
``tensor`` takes ``channels`` (a list of channels, the first on the most significant wires).

>>> build_channel({"thermal_relaxation": {"t1": 100, "t2": 80, "duration": "3e-1"}}).name
'thermal_relaxation'
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from qtrain import noise as qt_noise
from qtrain.errors import NoiseModelError
from qtrain.noise import Channel

__all__ = ["CHANNELS", "EXAMPLE", "build_channel"]

CHANNELS: dict[str, Callable[..., Channel]] = {
    "depolarizing": qt_noise.depolarizing,
    "bit_flip": qt_noise.bit_flip,
    "phase_flip": qt_noise.phase_flip,
    "pauli_channel": qt_noise.pauli_channel,
    "amplitude_damping": qt_noise.amplitude_damping,
    "phase_damping": qt_noise.phase_damping,
    "thermal_relaxation": qt_noise.thermal_relaxation,
    "kraus": qt_noise.kraus,
    "tensor": qt_noise.tensor,
}
"""Channel names a config may use: the constructors of ``qt.noise``."""

EXAMPLE = "{depolarizing: {p: 0.01}}"


def _arguments(name: str) -> tuple[list[str], list[str]]:
    """``(allowed, required)`` keyword arguments of channel ``name``."""
    if name == "tensor":
        return ["channels", "name"], ["channels"]
    params = inspect.signature(CHANNELS[name]).parameters.values()
    allowed = [p.name for p in params]
    return allowed, [p.name for p in params if p.default is inspect.Parameter.empty]


def _complex(value: Any) -> Any:
    """Nested lists of numbers or complex strings (``"0.5j"``) as a complex array."""
    if isinstance(value, list):
        return [_complex(v) for v in value]
    if isinstance(value, str):
        try:
            return complex(value.replace(" ", ""))
        except ValueError:
            raise ValueError(
                f"kraus: operators entry {value!r} is not a number "
                "(write complex entries as strings such as '0.5j' or '1-2j')"
            ) from None
    return value


def _argument(name: str, key: str, value: Any) -> Any:
    """A YAML argument as the constructor takes it (``1e-3`` is a string in YAML 1.1)."""
    if key == "operators":
        return np.asarray(_complex(value), dtype=np.complex128)
    if key == "channels":
        if not isinstance(value, list) or not value:
            raise ValueError(
                f"tensor: channels must be a non-empty list of channels, got {value!r}"
            )
        return [build_channel(v) for v in value]
    if isinstance(value, str) and key != "name":
        try:
            return float(value)
        except ValueError:
            raise ValueError(f"{name}: {key} must be a number, got {value!r}") from None
    return value


def build_channel(spec: Any) -> Channel:
    """The channel ``{name: {arguments}}`` describes.

    Raises:
        ValueError: not one mapping, an unknown name or argument, or the constructor's own
            ``NoiseModelError`` (a probability out of range, ``t2 > 2·t1``, not CPTP).
    """
    if not isinstance(spec, Mapping) or len(spec) != 1:
        raise ValueError(f"a channel is one {{name: {{arguments}}}}, e.g. {EXAMPLE}; got {spec!r}")
    ((name, args),) = spec.items()
    if name not in CHANNELS:
        close = difflib.get_close_matches(str(name), CHANNELS, n=1)
        hint = f" (did you mean {close[0]}?)" if close else ""
        raise ValueError(f"unknown channel {name!r}{hint}; choose one of {', '.join(CHANNELS)}")
    args = {} if args is None else args
    allowed, required = _arguments(name)
    if not isinstance(args, Mapping):
        raise ValueError(
            f"{name}: arguments must be a mapping of {', '.join(allowed)}; got {args!r}"
        )
    unknown = sorted(set(args) - set(allowed))
    if unknown:
        raise ValueError(f"{name} has no argument {unknown[0]!r}; arguments: {', '.join(allowed)}")
    missing = [a for a in required if a not in args]
    if missing:
        raise ValueError(f"{name} needs {missing[0]} (arguments: {', '.join(allowed)})")
    values = {key: _argument(name, key, value) for key, value in args.items()}
    try:
        if name == "tensor":
            return qt_noise.tensor(*values.pop("channels"), **values)
        return CHANNELS[name](**values)
    except (NoiseModelError, TypeError) as error:
        raise ValueError(str(error)) from None
