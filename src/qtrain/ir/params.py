"""Trainable parameter references and the affine angle expressions built from them.

A gate argument is either a plain ``float`` (a constant) or a :class:`ParamExpr`, a linear
combination of trainable parameters plus an offset::

    angle = Σ_k  scale_k · θ[k]  +  offset

``P(k)`` is the expression ``1.0 · θ[k]``. Expressions support ``+``, ``-``, ``*`` and ``/`` by
real scalars, and ``+``/``-`` between expressions, so a parameter may feed several gates,
scaled differently (``rz(2 * P(0))`` and ``rx(-P(0) + 0.3)``). The gradient engine lowers
every gate argument to an angle slot with ``angles = θ @ Mᵀ + b``; the coefficients here are
the rows of ``M`` and ``b``, which is what makes tied and scaled parameters exact.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ParameterIndexError, ParameterValueError

__all__ = ["Arg", "P", "ParamExpr", "arg_from_json", "arg_to_json", "as_arg", "evaluate_arg"]


def _check_real(value: object, what: str) -> float:
    """Return ``value`` as a finite float, or raise ParameterValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ParameterValueError(f"{what} must be a real number, got {value!r}")
    result = float(value)
    if not math.isfinite(result):
        raise ParameterValueError(f"{what} must be finite, got {result!r}")
    return result


@dataclass(frozen=True, slots=True)
class ParamExpr:
    """``Σ_k scale_k · θ[k] + offset``: an affine expression of trainable parameters.

    Attributes:
        terms: ``(index, scale)`` pairs sorted by index, no zero scales, no repeated index.
        offset: the constant added to the combination.

    >>> 2 * P(1) + 0.3
    ParamExpr(2·θ1 + 0.3)
    >>> (P(0) - P(0)).is_constant
    True
    """

    terms: tuple[tuple[int, float], ...]
    offset: float = 0.0

    @staticmethod
    def from_terms(terms: dict[int, float], offset: float = 0.0) -> ParamExpr:
        """Build a canonical expression (sorted, zero scales dropped)."""
        kept = tuple(sorted((k, s) for k, s in terms.items() if s != 0.0))
        # `+ 0.0` turns -0.0 into 0.0 so equal expressions serialise and hash identically.
        return ParamExpr(kept, _check_real(offset, "offset") + 0.0)

    @property
    def indices(self) -> tuple[int, ...]:
        """The parameter indices this expression reads."""
        return tuple(k for k, _ in self.terms)

    @property
    def is_constant(self) -> bool:
        """True when no parameter is left (e.g. after ``P(0) - P(0)``)."""
        return not self.terms

    def _combine(self, other: ParamExpr, sign: float) -> ParamExpr:
        merged = dict(self.terms)
        for k, s in other.terms:
            merged[k] = merged.get(k, 0.0) + sign * s
        return ParamExpr.from_terms(merged, self.offset + sign * other.offset)

    def _scaled(self, factor: float) -> ParamExpr:
        return ParamExpr.from_terms({k: s * factor for k, s in self.terms}, self.offset * factor)

    def __add__(self, other: object) -> ParamExpr:
        if isinstance(other, ParamExpr):
            return self._combine(other, 1.0)
        if isinstance(other, numbers.Number):
            return ParamExpr(self.terms, self.offset + _check_real(other, "offset"))
        return NotImplemented

    __radd__ = __add__

    def __sub__(self, other: object) -> ParamExpr:
        if isinstance(other, ParamExpr):
            return self._combine(other, -1.0)
        if isinstance(other, numbers.Number):
            return ParamExpr(self.terms, self.offset - _check_real(other, "offset"))
        return NotImplemented

    def __rsub__(self, other: object) -> ParamExpr:
        if isinstance(other, numbers.Number):
            return (-self) + _check_real(other, "offset")
        return NotImplemented

    def __neg__(self) -> ParamExpr:
        return self._scaled(-1.0)

    def __mul__(self, other: object) -> ParamExpr:
        if isinstance(other, numbers.Number):
            return self._scaled(_check_real(other, "scale"))
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> ParamExpr:
        if isinstance(other, numbers.Number):
            divisor = _check_real(other, "divisor")
            if divisor == 0.0:
                raise ParameterValueError("cannot divide a parameter expression by 0")
            return self._scaled(1.0 / divisor)
        return NotImplemented

    # numpy scalars must defer to our reflected operators instead of building object arrays.
    __array_ufunc__ = None

    def evaluate(self, theta: NDArray[np.float64]) -> NDArray[np.float64]:
        """Evaluate on parameter rows.

        Args:
            theta: ``(B, P)`` parameter values.

        Returns:
            ``(B,)`` angles.
        """
        out = np.full(theta.shape[0], self.offset)
        for k, s in self.terms:
            out += s * theta[:, k]
        return out

    def __str__(self) -> str:
        parts = []
        for k, s in self.terms:
            coeff = "" if s == 1.0 else "-" if s == -1.0 else f"{s:g}·"
            parts.append(f"{coeff}θ{k}")
        text = " + ".join(parts).replace("+ -", "- ")
        if self.offset or not parts:
            sign = "-" if self.offset < 0 and parts else "+"
            text = f"{text} {sign} {abs(self.offset):g}" if parts else f"{self.offset:g}"
        return text

    def __repr__(self) -> str:
        return f"ParamExpr({self})"


def P(index: int) -> ParamExpr:  # noqa: N802 - the paper-style name users type, like qml.P
    """Reference trainable parameter ``θ[index]``.

    Args:
        index: a non-negative integer.

    Raises:
        ParameterIndexError: for a negative or non-integer index.

    >>> P(3).indices
    (3,)
    """
    if isinstance(index, bool) or not isinstance(index, numbers.Integral):
        raise ParameterIndexError(f"parameter index must be an int, got {index!r}")
    if index < 0:
        raise ParameterIndexError(f"parameter index must be >= 0, got {index}")
    return ParamExpr(((int(index), 1.0),), 0.0)


Arg: TypeAlias = float | ParamExpr
"""A gate argument: a constant angle or an affine parameter expression."""


def as_arg(value: object, what: str = "gate argument") -> Arg:
    """Normalise a user-given gate argument, rejecting non-real or non-finite values."""
    if isinstance(value, ParamExpr):
        return value.offset if value.is_constant else value
    return _check_real(value, what)


def evaluate_arg(arg: Arg, theta: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evaluate a gate argument on ``(B, P)`` parameter rows, giving ``(B,)`` angles."""
    if isinstance(arg, ParamExpr):
        return arg.evaluate(theta)
    return np.full(theta.shape[0], arg)


def arg_to_json(arg: Arg) -> float | dict[str, object]:
    """JSON form: a float, or ``{"terms": [[k, scale], ...], "offset": b}``."""
    if isinstance(arg, ParamExpr):
        return {"terms": [[k, s] for k, s in arg.terms], "offset": arg.offset}
    return arg


def arg_from_json(data: object) -> Arg:
    """Inverse of :func:`arg_to_json`, validating as it goes."""
    if isinstance(data, dict):
        raw_terms = data.get("terms", [])
        if not isinstance(raw_terms, list):
            raise ParameterValueError(f"'terms' must be a list, got {raw_terms!r}")
        expr = ParamExpr.from_terms({}, _check_real(data.get("offset", 0.0), "offset"))
        for k, s in raw_terms:
            expr = expr + _check_real(s, "scale") * P(k)
        return as_arg(expr)
    return as_arg(data)
