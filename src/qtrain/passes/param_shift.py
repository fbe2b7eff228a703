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

__all__ = ["ParameterShiftPass", "ShiftPlan", "ShiftedRows", "rule_for", "shifted_rows"]


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


class ShiftedRows:
    """Distinct rows shifted from a base row, each with its accumulated weight vector.

    Rows that come out identical are merged and their weights added, so every distinct
    parameter setting is evaluated once (used by gradients and Hessians alike).
    """

    def __init__(self, base: NDArray[np.float64], width: int) -> None:
        self.base = base
        self.rows: list[NDArray[np.float64]] = [base]
        self.index = {base.tobytes(): 0}
        self.weights = [np.zeros(width)]

    def add(self, shifts: dict[int, float], weight: NDArray[np.float64]) -> None:
        """Add ``weight`` to the row ``base + Σ shift·e_slot`` (created if new)."""
        row = self.base.copy()
        for slot, delta in shifts.items():
            row[slot] += delta
        r = self.index.setdefault(row.tobytes(), len(self.rows))
        if r == len(self.rows):
            self.rows.append(row)
            self.weights.append(np.zeros_like(weight))
        self.weights[r] = self.weights[r] + weight

    def arrays(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Rows ``(R, S)`` (row 0 the base) and weights ``(R, width)``."""
        return np.array(self.rows).reshape(len(self.rows), self.base.size), np.array(self.weights)


def shifted_rows(
    program: SlotProgram, theta: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Slot-angle rows ``(R, S)`` (row 0 unshifted) and gradient weights ``(R, P)`` at θ.

    The weight of row ``r`` on parameter ``k`` is ``Σ_{(s,i)→r} c_si · M[s, k]``; identical
    rows are merged.
    """
    rows = ShiftedRows(program.angles(theta[None, :])[0], program.n_params)
    for s, spec in enumerate(program.slot_gates):
        for coeff, shift in rule_for(spec):
            rows.add({s: shift}, coeff * program.matrix[s])
    return rows.arrays()


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
