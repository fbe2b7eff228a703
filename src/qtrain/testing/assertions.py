"""Assertion helpers that compare qtrain against its oracles."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.sim.measure import exact_values, measurement_plan
from qtrain.sim.program import compile_program
from qtrain.sim.statevector import run_program, select_kernels
from qtrain.testing.reference import reference_expval, reference_state

__all__ = ["assert_matches_reference"]


def assert_matches_reference(
    circuit: Circuit,
    theta: NDArray[np.float64],
    observable: Observable | None = None,
    *,
    atol: float = 1e-10,
    kernels: str | None = None,
) -> None:
    """Assert the batched simulator agrees with the dense reference on every row of ``theta``.

    Checks states (batched = row by row = reference) and, if given, the observable's value.

    Args:
        circuit: any circuit with at most 8 qubits.
        theta: ``(B, P)`` parameter rows.
        observable: optional Pauli sum on the circuit's wires.
        atol: absolute tolerance on amplitudes and values.
        kernels: which simulator kernels to check (``"numba"``, ``"numpy"``, default auto).
    """
    rows = np.atleast_2d(np.asarray(theta, dtype=np.float64))
    program = compile_program(circuit)
    chosen = select_kernels(kernels)
    batched = run_program(program, rows, chosen)
    for b in range(rows.shape[0]):
        single = run_program(program, rows[b : b + 1], chosen)[0]
        expected = reference_state(circuit, rows[b])
        np.testing.assert_allclose(
            batched[b], single, atol=atol, err_msg=f"row {b}: batched != single"
        )
        np.testing.assert_allclose(
            batched[b], expected, atol=atol, err_msg=f"row {b}: sim != reference"
        )
    if observable is not None:
        values = exact_values(batched, measurement_plan(observable, circuit.n_qubits), chosen)
        expected_values = [reference_expval(circuit, observable, row) for row in rows]
        np.testing.assert_allclose(
            values, expected_values, atol=atol, err_msg="expectation mismatch"
        )
