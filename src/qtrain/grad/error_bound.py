"""Rounding-error bounds of exact gradients on the local simulator, per precision.

``qt.LocalSimulator(precision="single")`` runs states in complex64; these bound how far its
adjoint and parameter-shift gradients can land from the exact ones (``sim.error_bound``
derives the per-op and per-expectation bounds; here they are mapped to the user's parameters
through the slot lowering, tied and scaled parameters included). Against a double-precision
result, add the double bound (2²⁹ times smaller).

>>> import numpy as np
>>> import qtrain as qt
>>> circuit = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).rx(1, 2 * qt.P(0))
>>> bound = adjoint_error_bound(circuit, qt.Z(1), "single")
>>> bool(0 < bound[0] < 1e-4)
True
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.param_shift import shifted_rows
from qtrain.passes.slots import lower
from qtrain.sim.error_bound import adjoint_bound, expectation_bound
from qtrain.sim.program import compile_program

__all__ = ["adjoint_error_bound", "param_shift_error_bound"]


def adjoint_error_bound(
    circuit: Circuit, observable: Observable, precision: str = "single"
) -> NDArray[np.float64]:
    """``(P,)``: ``|∂_k⟨O⟩`` by the adjoint method ``− exact| ≤ bound[k]``, at any ``θ``.

    The method runs on the slot circuit and maps back with ``@ M`` (``grad.adjoint``), so
    the bound maps with ``@ |M|``.
    """
    program = lower(circuit)
    forward = compile_program(program.circuit, precision)
    slots = adjoint_bound(program.circuit, observable, forward, precision)
    bound: NDArray[np.float64] = slots @ np.abs(program.matrix)
    return bound


def param_shift_error_bound(
    circuit: Circuit, observable: Observable, theta: NDArray[np.float64], precision: str = "single"
) -> NDArray[np.float64]:
    """``(P,)``: the same for the exact parameter-shift gradient at ``theta (P,)``.

    Each shifted row's value is within :func:`~qtrain.sim.error_bound.expectation_bound`;
    the gradient weighs the rows by ``W`` (``passes.param_shift.shifted_rows``, multi-term
    rules included), so ``Σ_r |W_rk|`` times it bounds column ``k``.
    """
    program = lower(circuit)
    _, weights = shifted_rows(program, np.asarray(theta, dtype=np.float64))
    value = expectation_bound(
        compile_program(program.shift_circuit, precision), observable, precision
    )
    bound: NDArray[np.float64] = np.abs(weights).sum(axis=0) * value
    return bound
