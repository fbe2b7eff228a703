"""Gate angles both ways: qtrain's affine ``ParamExpr`` and Qiskit's ``ParameterExpression``.

``P(k)`` is the ``k``-th element ``θ[k]`` of one ``ParameterVector("θ", n_params)``; an affine
expression keeps its shape (``2·P(0) + 0.3`` → ``2*θ[0] + 0.3``). Reading back, an expression
is affine exactly when its gradient with respect to each of its parameters is a constant:
the gradients are the scales and the value at ``θ = 0`` is the offset, checked once more at a
second point. No sympy is needed (``ParameterExpression.gradient`` and ``bind`` only).

>>> from qiskit.circuit import ParameterVector
>>> from qtrain.ir.params import P
>>> theta = ParameterVector("θ", 2)
>>> expr = to_expression(2 * P(1) + 0.3, theta)
>>> from_expression(expr, {theta[0]: 0, theta[1]: 1}, "rx at instruction 0")
ParamExpr(2·θ1 + 0.3)
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

from qiskit.circuit import Parameter, ParameterExpression

from qtrain.errors import InteropError
from qtrain.ir.params import Arg, ParamExpr, as_arg

__all__ = ["from_expression", "to_expression"]

_PROBE_TOLERANCE = 1e-9  # relative: the affine reconstruction must match the expression


def to_expression(arg: Arg, theta: Sequence[Parameter]) -> float | ParameterExpression:
    """A qtrain gate argument as a Qiskit gate parameter (``P(k)`` → ``theta[k]``).

    A lone ``P(k)`` becomes the ``Parameter`` itself, not ``1.0*θ[k]``.
    """
    if not isinstance(arg, ParamExpr):
        return float(arg)
    out: ParameterExpression | None = None
    for k, scale in arg.terms:
        term = theta[k] if scale == 1.0 else scale * theta[k]
        out = term if out is None else out + term
    if out is None:  # a constant expression (as_arg normally folds these to floats)
        return arg.offset
    return out + arg.offset if arg.offset else out


def _real(value: Any, what: str) -> float:
    """``value`` (a number or a bound expression) as a finite real float, or InteropError."""
    try:
        number = complex(value)
    except (TypeError, ValueError) as exc:
        raise InteropError(f"{what} is not a number: {value!r}") from exc
    if abs(number.imag) > 1e-12 * max(1.0, abs(number.real)):
        raise InteropError(f"{what} is complex ({number!r}); gate angles must be real")
    if not math.isfinite(number.real):
        raise InteropError(f"{what} is not finite: {number.real!r}")
    return number.real


def _affine_parts(value: ParameterExpression, where: str) -> tuple[dict[Parameter, float], float]:
    """The constant gradient of ``value`` per parameter and its value at zero."""
    scales: dict[Parameter, float] = {}
    try:
        for parameter in value.parameters:
            gradient = value.gradient(parameter)
            if isinstance(gradient, ParameterExpression) and gradient.parameters:
                raise InteropError(
                    f"{where}: the angle {value} is not affine in the circuit's parameters "
                    f"(its derivative by {parameter} is {gradient}); qtrain angles are "
                    "Σ scale·θ[k] + offset"
                )
            scales[parameter] = _real(gradient, f"{where}: the scale of {parameter} in {value}")
        offset = value.bind(dict.fromkeys(value.parameters, 0.0))
    except InteropError:
        raise
    except Exception as exc:  # Qiskit raises assorted types for functions it cannot derive
        raise InteropError(
            f"{where}: cannot read the angle {value} as an affine expression: {exc}"
        ) from exc
    return scales, _real(offset, f"{where}: the constant part of {value}")


def _check_probe(
    value: ParameterExpression, scales: Mapping[Parameter, float], offset: float, where: str
) -> None:
    """Evaluate ``value`` at a second point and compare it with ``Σ scale·θ + offset``."""
    point = {p: 0.5 + 0.25 * i for i, p in enumerate(sorted(scales, key=str))}
    expected = offset + sum(scales[p] * x for p, x in point.items())
    try:
        actual = _real(value.bind(point), f"{where}: the angle {value}")
    except InteropError:
        raise
    except Exception as exc:
        raise InteropError(f"{where}: cannot evaluate the angle {value}: {exc}") from exc
    if abs(actual - expected) > _PROBE_TOLERANCE * max(1.0, abs(expected)):
        raise InteropError(
            f"{where}: the angle {value} is not affine in the circuit's parameters "
            f"(it is {actual} at {point}, an affine function would give {expected})"
        )


def from_expression(value: object, index: Mapping[Parameter, int], where: str) -> Arg:
    """A Qiskit gate parameter as a qtrain argument (``parameter`` → ``P(index[parameter])``).

    Args:
        value: a number or a ``ParameterExpression``.
        index: the qtrain index of every parameter the circuit reads.
        where: names the gate and its position, for error messages.

    Raises:
        InteropError: a non-affine expression (``θ²``, ``sin θ``, ``θ0·θ1``), a complex or
            non-finite value, or a parameter missing from ``index``; naming ``where``.
    """
    if not isinstance(value, ParameterExpression):
        if not isinstance(value, numbers.Number):
            raise InteropError(f"{where}: the gate parameter {value!r} is not a number")
        return as_arg(_real(value, f"{where}: the angle"))
    if not value.parameters:
        return as_arg(_real(value, f"{where}: the angle {value}"))
    scales, offset = _affine_parts(value, where)
    _check_probe(value, scales, offset, where)
    terms: dict[int, float] = {}
    for parameter, scale in scales.items():
        if parameter not in index:
            raise InteropError(f"{where}: the parameter {parameter} is not in the parameter list")
        terms[index[parameter]] = terms.get(index[parameter], 0.0) + scale
    return as_arg(ParamExpr.from_terms(terms, offset))
