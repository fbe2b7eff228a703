"""Exact gradients by general parameter-shift rules, for every slot, in one batched task.

The circuit is lowered to slots (``passes.slots``); slot ``s`` feeds a gate whose generator
spectrum gives its rule ``{(c_si, δ_si)}`` (``passes.shift_rules``: two terms for one
frequency, four for controlled rotations, a solved rule otherwise). Rows are the unshifted
angles ``a₀`` and ``a₀ + δ_si·e_s`` for every slot and term; identical rows are merged. The
weight of row ``r`` on parameter ``k`` is ``W[r, k] = Σ_{(s,i)→r} c_si · M[s, k]``, so the
chain rule through tied and scaled parameters is part of the same linear map.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.errors import NoShiftRuleError
from qtrain.grad.result import Assemble, linear_plan
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.gates import GateSpec
from qtrain.ir.observables import Observable
from qtrain.passes.shift_rules import Rule, first_order_rule
from qtrain.passes.slots import SlotProgram, lower

__all__ = ["plan", "rule_for", "shifted_rows"]


def rule_for(spec: GateSpec) -> Rule:
    """The gate's own recipe, or the exact rule derived from its generator's spectrum.

    Raises:
        NoShiftRuleError: the gate declares neither (naming it).
    """
    if spec.recipe is not None:
        return spec.recipe
    if spec.eigenvalues is None:
        raise NoShiftRuleError(
            f"gate {spec.name} has no generator spectrum and no shift recipe; use "
            "method='finite-diff' explicitly (the result records the method)"
        )
    return first_order_rule(spec.eigenvalues)


def shifted_rows(
    program: SlotProgram, theta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Rows ``(R, S)`` (row 0 unshifted) and weights ``(R, P)`` for the gradient at ``theta``."""
    base = program.angles(theta[None, :])[0]
    rows = [base]
    index = {base.tobytes(): 0}
    weights = [np.zeros(program.n_params)]
    for s, spec in enumerate(program.slot_gates):
        for coeff, shift in rule_for(spec):
            row = base.copy()
            row[s] += shift
            r = index.setdefault(row.tobytes(), len(rows))
            if r == len(rows):
                rows.append(row)
                weights.append(np.zeros(program.n_params))
            weights[r] = weights[r] + coeff * program.matrix[s]
    return np.array(rows).reshape(len(rows), program.n_slots), np.array(weights)


def plan(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    *,
    policy: ShotPolicy | None = None,
    seed: int | None = None,
    covariance: bool = False,
) -> tuple[list[Task], Assemble]:
    """Tasks and assembly for the parameter-shift Jacobian ``(O, P)`` at ``theta (P,)``."""
    program = lower(circuit)
    rows, weights = shifted_rows(program, theta)
    return linear_plan(
        program.circuit,
        observables,
        rows,
        weights,
        method="param-shift",
        policy=policy,
        seed=seed,
        covariance=covariance,
    )
