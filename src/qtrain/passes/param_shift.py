"""The parameter-shift transform as a compiler pass, for users with their own executor.

Given a circuit and θ, :class:`ParameterShiftPass` (an analysis pass,
``passes.core.Analysis[ShiftPlan]``) returns concrete (fully bound) circuits — the unshifted
one first, then one per shifted row — and a ``recombine`` function mapping their measured
expectation values to the gradient. Everything the gradient engine knows is in it: every
occurrence of every parameter is shifted (not only the first), each by its own gate's rule
(four terms for controlled rotations), and tied or scaled parameters go through the chain rule
``J_θ = J_slots @ M``. ``gates=`` / ``params=`` restrict it to chosen gates or parameters,
with fewer circuits. This is the TyxonQ ``ParameterShiftPass`` pattern (one op name, first
occurrence, ±π/2 only), without its silent errors (``shared/reference/tyxonq-seed-system.md``
§3).

>>> import numpy as np
>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> plan = ParameterShiftPass()(Circuit(1).rz(0, 2 * P(0)), np.array([0.3]))
>>> len(plan.circuits), round(plan.circuits[1].ops[0].args[0], 6)
(3, 2.170796)
"""

from __future__ import annotations

import difflib
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import (
    NoShiftRuleError,
    ParameterIndexError,
    ParameterShapeError,
    PassError,
    UnknownGateError,
)
from qtrain.ir.circuit import Circuit
from qtrain.ir.gates import GATES, GateSpec, gate_spec
from qtrain.passes.core import Analysis, fingerprint_of
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
    program: SlotProgram,
    theta: NDArray[np.float64],
    *,
    slots: Sequence[int] | None = None,
    columns: Sequence[int] | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Slot-angle rows ``(R, S)`` (row 0 unshifted) and gradient weights ``(R, K)`` at θ.

    The weight of row ``r`` on column ``j`` is ``Σ_{(s,i)→r} c_si · M[s, columns[j]]`` over
    the shifted ``slots`` (all by default; every other slot keeps its angle); the columns are
    ``columns`` (all ``P`` parameters by default). Identical rows are merged.
    """
    matrix = program.matrix if columns is None else program.matrix[:, list(columns)]
    rows = ShiftedRows(program.angles(theta[None, :])[0], matrix.shape[1])
    for s in range(program.n_slots) if slots is None else slots:
        for coeff, shift in rule_for(program.slot_gates[s]):
            rows.add({s: shift}, coeff * matrix[s])
    return rows.arrays()


@dataclass(frozen=True, eq=False)
class ShiftPlan:
    """Circuits to run and how to combine their values.

    Attributes:
        circuits: ``C`` bound circuits; ``circuits[0]`` is the unshifted circuit at θ.
        weights: ``(C, K)``: ``gradient = values @ weights``.
        params: ``(K,)`` the θ index of each gradient column, ascending (all ``P`` unless the
            pass was restricted).
        slots: the shifted slots of ``passes.slots.lower(circuit)``, ascending.
    """

    circuits: tuple[Circuit, ...]
    weights: NDArray[np.float64]
    params: tuple[int, ...]
    slots: tuple[int, ...]

    def recombine(self, values: NDArray[np.float64]) -> NDArray[np.float64]:
        """Gradient ``(K,)`` from values ``(C,)``, or Jacobian ``(O, K)`` from ``(C, O)``.

        Column ``j`` is the derivative by ``θ[params[j]]``.

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


_DIFFERENTIABLE = tuple(sorted({spec.name for spec in GATES.values() if spec.n_params >= 1}))
"""Canonical names of the gates with angle arguments: the values ``gates=`` may name."""


def _gate_names(gates: str | Iterable[str]) -> frozenset[str]:
    """Canonical names (case-insensitive, aliases resolved) of differentiable gates.

    Raises:
        UnknownGateError: a name is not a registered gate (naming the differentiable ones).
        PassError: a gate takes no angle, or the set is empty.
    """
    names = [gates] if isinstance(gates, str) else list(gates)
    if not names:
        raise PassError(
            f"ParameterShiftPass(gates=...) selects no gate; choose from {_DIFFERENTIABLE}"
        )
    canonical = set()
    for name in names:
        try:
            spec = gate_spec(name)
        except UnknownGateError:
            close = difflib.get_close_matches(str(name).upper(), _DIFFERENTIABLE, n=3, cutoff=0.5)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UnknownGateError(
                f"ParameterShiftPass(gates=...): unknown gate {name!r}{hint} "
                f"Differentiable gates: {', '.join(_DIFFERENTIABLE)}"
            ) from None
        if spec.n_params == 0:
            raise PassError(
                f"ParameterShiftPass(gates=...): gate {spec.name} takes no angle, so there is "
                f"nothing to differentiate. Differentiable gates: {', '.join(_DIFFERENTIABLE)}"
            )
        canonical.add(spec.name)
    return frozenset(canonical)


def _param_indices(params: int | Iterable[int]) -> tuple[int, ...]:
    """Sorted distinct θ indices.

    Raises:
        ParameterIndexError: an index is not a non-negative int.
        PassError: no index given.
    """
    values: list[object] = (
        [params] if isinstance(params, numbers.Integral) else list(cast(Iterable[int], params))
    )
    if not values:
        raise PassError("ParameterShiftPass(params=...) selects no parameter")
    indices = set()
    for k in values:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 0:
            raise ParameterIndexError(
                f"ParameterShiftPass(params=...): {k!r} is not a parameter index "
                "(a non-negative int)"
            )
        indices.add(int(k))
    return tuple(sorted(indices))


class ParameterShiftPass:
    """``pass_(circuit, theta) -> ShiftPlan``: the shifted circuits and their recombination.

    An analysis pass (``passes.core.Analysis[ShiftPlan]``). Unrestricted, it shifts every slot
    and the plan's columns are all ``P`` parameters.

    **Restricting** to ``gates`` (names, case-insensitive, aliases allowed) and/or ``params``
    (θ indices) shifts only the slots — gate arguments after lowering — that feed a chosen gate
    *and* read a chosen parameter; every other argument is held at its value at θ, so the plan
    has fewer circuits. A U3's three slots count as U3 (not as the RZ, RY it lowers to). The
    plan's columns, ``plan.params``, are ``params`` when given, else the parameters the chosen
    gates read. Column ``k`` is ``Σ_s ∂E/∂a_s · M[s, k]`` over the shifted slots ``s``:

    * ``params`` alone shifts every slot that reads θ_k, so column ``k`` is the full
      ``∂E/∂θ_k``: the full Jacobian's column ``k``.
    * with ``gates``, a θ_k that also feeds gates outside the set is differentiated only
      through its occurrences in the chosen gates: column ``k`` is ``∂E/∂θ_k`` of the circuit
      in which θ_k's other occurrences are frozen at their value (a partial derivative); it
      equals the full column when θ_k feeds only chosen gates, and is 0 for a chosen ``params``
      index that feeds none.

    Args:
        gates: gate name(s) to differentiate through; ``None`` for all.
        params: θ index (or indices) to differentiate; ``None`` for all.

    Raises:
        UnknownGateError: a gate name is not registered (naming the differentiable gates).
        PassError: a gate takes no angle, or an empty selection.
        ParameterIndexError: a parameter index is not a non-negative int.

    >>> import numpy as np
    >>> from qtrain.ir.circuit import Circuit
    >>> from qtrain.ir.params import P
    >>> c = Circuit(2).rx(0, P(0)).rzz(0, 1, P(1)).ry(1, P(2))
    >>> full = ParameterShiftPass()(c, np.array([0.1, 0.2, 0.3]))
    >>> zz = ParameterShiftPass(gates={"rzz"})(c, np.array([0.1, 0.2, 0.3]))
    >>> len(full.circuits), len(zz.circuits), zz.params
    (7, 3, (1,))
    """

    name: ClassVar[str] = "parameter-shift"
    kind: ClassVar[Literal["analysis"]] = "analysis"
    __slots__ = ("_gates", "_params")

    def __init__(
        self, *, gates: str | Iterable[str] | None = None, params: int | Iterable[int] | None = None
    ) -> None:
        self._gates = None if gates is None else _gate_names(gates)
        self._params = None if params is None else _param_indices(params)

    @property
    def gates(self) -> frozenset[str] | None:
        """Canonical names of the chosen gates, or ``None`` for all."""
        return self._gates

    @property
    def params(self) -> tuple[int, ...] | None:
        """The chosen θ indices, ascending, or ``None`` for all."""
        return self._params

    def describe(self) -> dict[str, Any]:
        """The name and the restriction: sorted ``gates`` and ``params`` (``None`` for all)."""
        gates = None if self._gates is None else sorted(self._gates)
        params = None if self._params is None else list(self._params)
        return {"name": self.name, "gates": gates, "params": params}

    def fingerprint(self) -> str:
        """Content hash of :meth:`describe`."""
        return fingerprint_of(self.describe())

    def __repr__(self) -> str:
        options = {k: v for k, v in self.describe().items() if k != "name" and v is not None}
        return f"ParameterShiftPass({', '.join(f'{k}={v!r}' for k, v in options.items())})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ParameterShiftPass) and self.describe() == other.describe()

    def __hash__(self) -> int:
        return hash(self.fingerprint())

    def select(self, program: SlotProgram) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The slots to shift and the θ columns of the plan, both ascending.

        Raises:
            ParameterIndexError: a chosen index is not below the circuit's ``P``.
            PassError: none of the chosen gates has a trainable argument in the circuit.
        """
        n_params = program.n_params
        outside = [k for k in self._params or () if k >= n_params]
        if outside:
            raise ParameterIndexError(
                f"ParameterShiftPass(params=...): {outside} out of range; the circuit has "
                f"{n_params} parameter(s), valid indices 0..{n_params - 1}"
            )
        names = [program.source.ops[i].gate for i in program.slot_sources]
        if self._gates is not None and not self._gates & set(names):
            raise PassError(
                f"ParameterShiftPass(gates={sorted(self._gates)}): the circuit has no trainable "
                f"argument in those gates; its trainable gates are {sorted(set(names))}"
            )
        chosen = list(self._params or ())
        slots = tuple(
            s
            for s, name in enumerate(names)
            if (self._gates is None or name in self._gates)
            and (self._params is None or bool(program.matrix[s, chosen].any()))
        )
        if self._params is not None:
            return slots, self._params
        if self._gates is not None:
            read = np.flatnonzero(program.matrix[list(slots)].any(axis=0))
            return slots, tuple(int(k) for k in read)
        return slots, tuple(range(n_params))

    def __call__(self, circuit: Circuit, theta: NDArray[np.float64]) -> ShiftPlan:
        """Plan the parameter-shift gradient of ``circuit`` at ``theta (P,)``.

        Raises:
            ParameterShapeError: ``theta`` is not ``(P,)``.
            ParameterIndexError, PassError: the restriction does not fit the circuit.
        """
        point = np.asarray(theta, dtype=np.float64)
        if point.shape != (circuit.n_params,):
            raise ParameterShapeError(
                f"theta must have shape ({circuit.n_params},), got {point.shape}"
            )
        program = lower(circuit)
        slots, columns = self.select(program)
        restricted = self._gates is not None or self._params is not None
        rows, weights = shifted_rows(
            program, point, slots=slots, columns=columns if restricted else None
        )
        circuits = tuple(program.shift_circuit.bind(row) for row in rows)
        return ShiftPlan(circuits, weights, columns, slots)


if TYPE_CHECKING:  # mypy proves the pass is an analysis reporting a ShiftPlan

    def _is_an_analysis(pass_: ParameterShiftPass) -> Analysis[ShiftPlan]:
        return pass_
