"""Floating-point precision of the statevector simulator: ``"double"`` or ``"single"``.

``"double"`` (the default) keeps states in complex128; ``"single"`` in complex64, which halves
the bytes every gate pass moves and the memory a state needs. What stays in float64 either
way: the parameters, the gate matrices until a step's fused product is rounded once to the
state's dtype, every sum over amplitudes (``Σ |ψ_j|²·D_j``, the adjoint method's inner
products ``⟨λ|G|ψ⟩``) and every returned value. ``sim.error_bound`` bounds how far single
precision lands from the exact numbers.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qtrain.errors import ConfigError

__all__ = [
    "PRECISIONS",
    "UNIT_ROUNDOFF",
    "check_precision",
    "complex_dtype",
    "real_dtype",
]

PRECISIONS = ("double", "single")
UNIT_ROUNDOFF = {"double": 2.0**-53, "single": 2.0**-24}
"""``u``: the largest relative error of rounding a real number to the precision."""

_COMPLEX: dict[str, np.dtype[Any]] = {
    "double": np.dtype(np.complex128),
    "single": np.dtype(np.complex64),
}
_REAL: dict[str, np.dtype[Any]] = {"double": np.dtype(np.float64), "single": np.dtype(np.float32)}


def check_precision(precision: object) -> str:
    """``precision`` if it is ``"double"`` or ``"single"``.

    Raises:
        ConfigError: anything else, naming the value.
    """
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ConfigError(f"precision must be 'double' or 'single', got {precision!r}")
    return precision


def complex_dtype(precision: str) -> np.dtype[Any]:
    """The amplitudes' dtype: complex128 (``"double"``) or complex64 (``"single"``)."""
    return _COMPLEX[check_precision(precision)]


def real_dtype(precision: str) -> np.dtype[Any]:
    """The matching real dtype (for gates real at every angle): float64 or float32."""
    return _REAL[check_precision(precision)]
