"""The adjoint method as a gradient method: exact, simulator only, never with shots."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.errors import StateTooLargeError
from qtrain.grad.result import Gradient
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.slots import lower
from qtrain.sim.adjoint import adjoint_jacobian
from qtrain.sim.statevector import chunk_rows

__all__ = ["compute"]


def compute(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    simulator: LocalSimulator,
) -> Gradient:
    """Exact Jacobian ``(O, P)`` and values ``(O,)`` by the adjoint method.

    Works on the slot circuit (multi-angle gates decomposed) and maps back with ``@ M``, in
    the simulator's precision (``sim.error_bound`` bounds single precision's error).
    """
    # ψ, one λ per observable and a scratch copy live at once: check them against the budget.
    needed = len(observables) + 2
    if chunk_rows(circuit.n_qubits, needed, simulator.memory_budget, simulator.itemsize) < needed:
        raise StateTooLargeError(
            f"the adjoint method keeps {needed} {circuit.n_qubits}-qubit states at once, "
            f"more than the memory budget of {simulator.memory_budget} bytes"
        )
    program = lower(circuit)
    angles = program.angles(theta[None, :])[0]
    values, jac_slots = adjoint_jacobian(
        program.circuit, observables, angles, simulator.kernels, precision=simulator.precision
    )
    return Gradient(jac_slots @ program.matrix, None, 1, 0, "adjoint", values)
