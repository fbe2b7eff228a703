"""Exact Hessians by second-order parameter-shift rules, in one batched task.

In slot space, ``∂²E/∂a_s²`` uses the second-order rule of slot ``s``'s gate
(``passes.shift_rules.second_order_rule``) and ``∂²E/∂a_s∂a_t`` (``s ≠ t``) the product of
the two first-order rules (Mari, Bromley, Killoran, PRA 103, 012405 (2021); Wierichs et al.
§4). The chain rule ``H_θ = Mᵀ H_slots M`` is folded into the row weights, so tied and scaled
parameters are exact and shot noise propagates into a standard error per entry.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.grad.result import Assemble, Gradient, linear_plan
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.param_shift import ShiftedRows, rule_for
from qtrain.passes.shift_rules import second_order_rule
from qtrain.passes.slots import SlotProgram, lower

__all__ = ["hessian_rows", "plan"]


def hessian_rows(
    program: SlotProgram, theta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rows ``(R, S)`` (row 0 unshifted) and weights ``(R, P·P)`` for the Hessian at θ."""
    m = program.matrix
    rows = ShiftedRows(program.angles(theta[None, :])[0], program.n_params**2)
    for s, spec in enumerate(program.slot_gates):
        if spec.eigenvalues is None:
            rule_for(spec)  # raises NoShiftRuleError naming the gate
        for coeff, shift in second_order_rule(spec.eigenvalues or ()):
            rows.add({s: shift}, coeff * np.outer(m[s], m[s]).ravel())
        for t in range(s + 1, program.n_slots):
            pair = (np.outer(m[s], m[t]) + np.outer(m[t], m[s])).ravel()
            for c1, d1 in rule_for(spec):
                for c2, d2 in rule_for(program.slot_gates[t]):
                    rows.add({s: d1, t: d2}, c1 * c2 * pair)
    return rows.arrays()


def plan(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    *,
    policy: ShotPolicy | None = None,
    seed: int | None = None,
) -> tuple[list[Task], Assemble]:
    """Tasks and assembly for the Hessians ``(O, P, P)`` at ``theta (P,)``."""
    program = lower(circuit)
    rows, weights = hessian_rows(program, theta)
    tasks, flat = linear_plan(
        program.shift_circuit,
        observables,
        rows,
        weights,
        method="param-shift",
        policy=policy,
        seed=seed,
    )
    n = program.n_params

    def assemble(results: list[Result]) -> Gradient:
        result = flat(results)
        shape = (len(observables), n, n)
        stderr = None if result.stderr is None else result.stderr.reshape(shape)
        return Gradient(
            result.value.reshape(shape),
            stderr,
            result.n_circuits,
            result.shots,
            "param-shift (second order)",
            result.fun,
            result.fun_stderr,
            None,
            result.metadata,
        )

    return tasks, assemble
