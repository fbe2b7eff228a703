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
from qtrain.grad.result import Assemble, linear_plan
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.param_shift import shifted_rows
from qtrain.passes.slots import lower

__all__ = ["plan"]


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
        program.shift_circuit,
        observables,
        rows,
        weights,
        method="param-shift",
        policy=policy,
        seed=seed,
        covariance=covariance,
    )
