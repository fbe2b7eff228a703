"""The parameter-shift transform as a compiler pass, for users with their own executor.

Given a circuit and θ, :class:`ParameterShiftPass` returns concrete (fully bound) circuits —
the unshifted one first, then one per shifted row — and a ``recombine`` function mapping
their measured expectation values to the gradient. Everything the gradient engine knows is
in it: every occurrence of every parameter is shifted (not only the first), each by its own
gate's rule (four terms for controlled rotations), and tied or scaled parameters go through
the chain rule ``J_θ = J_slots @ M``. This is the TyxonQ ``ParameterShiftPass`` pattern,
without its silent errors (``shared/reference/tyxonq-seed-system.md`` §3).

>>> import numpy as np
>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> plan = ParameterShiftPass()(Circuit(1).rz(0, 2 * P(0)), np.array([0.3]))
>>> len(plan.circuits), round(plan.circuits[1].ops[0].args[0], 6)
(3, 2.170796)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import NoShiftRuleError, ParameterShapeError
from qtrain.ir.circuit import Circuit
from qtrain.ir.gates import GateSpec
from qtrain.passes.shift_rules import Rule, first_order_rule
from qtrain.passes.slots import SlotProgram, lower

__all__ = ["ParameterShiftPass", "ShiftPlan", "rule_for", "shifted_rows"]


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
    """Slot-angle rows ``(R, S)`` (row 0 unshifted) and gradient weights ``(R, P)`` at θ.

    The weight of row ``r`` on parameter ``k`` is ``Σ_{(s,i)→r} c_si · M[s, k]``; identical
    rows are merged.
    """
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


@dataclass(frozen=True, eq=False)
class ShiftPlan:
    """Circuits to run and how to combine their values.

    Attributes:
        circuits: ``C`` bound circuits; ``circuits[0]`` is the unshifted circuit at θ.
        weights: ``(C, P)``: ``gradient = values @ weights``.
    """

    circuits: tuple[Circuit, ...]
    weights: NDArray[np.float64]

    def recombine(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Gradient ``(P,)`` from values ``(C,)``, or Jacobian ``(O, P)`` from ``(C, O)``.

        Raises:
            ParameterShapeError: ``values`` does not have one entry per circuit.
        """
        measured = np.asarray(values, dtype=np.float64)
        if measured.shape[0] != len(self.circuits):
            raise ParameterShapeError(
                f"recombine needs {len(self.circuits)} values (one per circuit), "
                f"got shape {measured.shape}"
            )
        gradient: NDArray[np.float64] = (self.weights.T @ measured).T
        return gradient


class ParameterShiftPass:
    """``pass(circuit, theta) -> ShiftPlan``: shifted circuits for every slot, and recombination."""

    def __call__(self, circuit: Circuit, theta: NDArray[np.float64]) -> ShiftPlan:
        """Plan the parameter-shift gradient of ``circuit`` at ``theta (P,)``."""
        point = np.asarray(theta, dtype=np.float64)
        if point.shape != (circuit.n_params,):
            raise ParameterShapeError(
                f"theta must have shape ({circuit.n_params},), got {point.shape}"
            )
        program = lower(circuit)
        rows, weights = shifted_rows(program, point)
        circuits = tuple(program.circuit.bind(row) for row in rows)
        return ShiftPlan(circuits, weights)
