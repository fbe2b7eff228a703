"""Optional extras: a clear error naming the extra to install, before any work starts.

>>> require("json", extra="none", purpose="parsing").__name__
'json'
>>> require("no_such_module", extra="plot", purpose="the report")
Traceback (most recent call last):
    ...
qtrain.errors.ConfigError: the report needs the optional package no_such_module: pip install ...
"""

from __future__ import annotations

import importlib
from types import ModuleType

from qtrain.errors import ConfigError

__all__ = ["require"]


def require(module: str, *, extra: str, purpose: str) -> ModuleType:
    """Import ``module``, or raise a ``ConfigError`` naming the extra that provides it.

    Raises:
        ConfigError: the package is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise ConfigError(
            f"{purpose} needs the optional package {module}: pip install 'qtrain[{extra}]'"
        ) from None
