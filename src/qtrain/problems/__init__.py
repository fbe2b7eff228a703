"""Built-in problems (Hamiltonians, reference circuits and known exact answers); IR only.

:data:`PROBLEMS` maps each name to a :class:`ProblemInfo` (builder, one-line description,
keyword options with their defaults, read from the builder's signature); :func:`build`
makes a :class:`~qtrain.problems.base.Problem` from a name and options, as a config file or
the command line would.

>>> sorted(PROBLEMS)
['classifier', 'h2', 'maxcut']
>>> build("maxcut", edges=[(0, 1), (1, 2), (0, 2)], layers=1).exact_value
-2.0
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from qtrain.errors import ConfigError
from qtrain.problems.base import LOSSES as LOSSES
from qtrain.problems.base import Problem as Problem
from qtrain.problems.classifier import classifier as classifier
from qtrain.problems.h2 import h2 as h2
from qtrain.problems.maxcut import maxcut as maxcut

__all__ = ["LOSSES", "PROBLEMS", "Problem", "ProblemInfo", "build", "classifier", "h2", "maxcut"]


@dataclass(frozen=True)
class ProblemInfo:
    """A registry entry.

    Attributes:
        name: the registry name (also ``Problem.name``).
        builder: the function that makes the problem from keyword options.
        description: one line, for ``qtrain problems``.
        options: every option the builder takes, with its default (read-only).
    """

    name: str
    builder: Callable[..., Problem]
    description: str
    options: Mapping[str, Any]


def _info(name: str, builder: Callable[..., Problem], description: str) -> ProblemInfo:
    defaults = {
        parameter.name: parameter.default
        for parameter in inspect.signature(builder).parameters.values()
    }
    return ProblemInfo(name, builder, description, MappingProxyType(defaults))


PROBLEMS: Mapping[str, ProblemInfo] = MappingProxyType(
    {
        "h2": _info("h2", h2, "H2 ground state (STO-3G, Jordan-Wigner, 4 qubits): VQE vs FCI"),
        "maxcut": _info(
            "maxcut", maxcut, "MaxCut QAOA on a given or random graph vs the brute-force optimum"
        ),
        "classifier": _info(
            "classifier", classifier, "Data re-uploading classifier on a 2-D dataset (MSE loss)"
        ),
    }
)
"""The built-in problems by name."""


def build(name: str, **options: Any) -> Problem:
    """Build the problem ``name`` with keyword ``options`` (defaults for the rest).

    Raises:
        ConfigError: an unknown name or option (listing the allowed ones), or a bad value.

    >>> build("h2").metadata["bond_length"]
    0.7414
    """
    info = PROBLEMS.get(name) if isinstance(name, str) else None
    if info is None:
        raise ConfigError(f"unknown problem {name!r}; expected one of {sorted(PROBLEMS)}")
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        allowed = ", ".join(f"{key}={value!r}" for key, value in info.options.items())
        raise ConfigError(
            f"unknown option(s) {unknown} for problem {name!r}; allowed (with defaults): {allowed}"
        )
    return info.builder(**options)


def __dir__() -> list[str]:
    """The public API only (``__all__``), not the names this module imports."""
    return sorted(__all__)
