"""Input checks shared by every entry point, run before any heavy work.

Each check raises a specific ``QtrainError`` subclass whose message names the bad value and
what was expected.
"""

from __future__ import annotations

import numbers

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import (
    ObservableError,
    ObservableWireError,
    ParameterShapeError,
    ParameterValueError,
    ShotsError,
)
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["check_observable_fits", "check_shots", "check_theta"]


def check_theta(circuit: Circuit, theta: object) -> tuple[NDArray[np.float64], bool]:
    """Validate parameter values for ``circuit``.

    Args:
        circuit: the circuit the values are for (``P = circuit.n_params``).
        theta: ``(P,)`` or ``(B, P)`` real values; ``None`` for a circuit with no parameters.

    Returns:
        ``(rows (B, P) float64, batched)`` where ``batched`` says the input was 2-D.

    Raises:
        ParameterShapeError: wrong number of dimensions or wrong ``P``.
        ParameterValueError: complex, non-numeric or non-finite values (naming the position).
    """
    n_params = circuit.n_params
    if theta is None:
        theta = np.zeros(n_params)
    try:
        raw = np.asarray(theta)
    except (TypeError, ValueError) as exc:
        raise ParameterValueError(f"theta is not a numeric array: {exc}") from None
    if raw.dtype.kind not in "biuf":
        raise ParameterValueError(
            f"theta must hold real numbers, got dtype {raw.dtype} (e.g. {raw.ravel()[:1]!r})"
        )
    if raw.ndim not in (1, 2):
        raise ParameterShapeError(f"theta must be (P,) or (B, P), got shape {raw.shape}")
    rows = raw.astype(np.float64) if raw.ndim == 2 else raw.astype(np.float64)[None]
    if rows.shape[1] != n_params:
        raise ParameterShapeError(
            f"theta has {rows.shape[1]} value(s) per row but the circuit reads {n_params} "
            f"parameter(s) (indices {list(circuit.param_indices)})"
        )
    bad = np.argwhere(~np.isfinite(rows))
    if bad.size:
        where = tuple(int(i) for i in bad[0]) if raw.ndim == 2 else int(bad[0][1])
        raise ParameterValueError(f"theta[{where}] is {rows[tuple(bad[0])]}, not a finite number")
    return rows, raw.ndim == 2


def check_shots(shots: object) -> int | None:
    """``None`` (exact) or a positive int; raises ShotsError naming anything else."""
    if shots is None:
        return None
    if isinstance(shots, bool) or not isinstance(shots, numbers.Integral):
        raise ShotsError(f"shots must be a positive int or None, got {shots!r}")
    if shots <= 0:
        raise ShotsError(f"shots must be a positive int or None, got {shots}")
    return int(shots)


def check_observable_fits(circuit: Circuit, observable: object) -> Observable:
    """The observable, checked to act only on the circuit's wires (and to be Hermitian)."""
    if not isinstance(observable, Observable):
        raise ObservableError(
            f"expected an Observable (e.g. qt.Z(0) or Observable.parse('Z0 Z1')), "
            f"got {type(observable).__name__}"
        )
    if observable.max_wire >= circuit.n_qubits:
        raise ObservableWireError(
            f"observable acts on wire {observable.max_wire} but the circuit has "
            f"{circuit.n_qubits} qubit(s) (wires 0..{circuit.n_qubits - 1})"
        )
    observable.real_coefficients()  # raises NonHermitianError naming the complex term
    return observable
