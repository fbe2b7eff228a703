"""From OpenQASM gate applications to qtrain ops: definitions inlined, modifiers applied.

A gate defined in the file is inlined, recursively, with its parameters bound to the caller's
values (constants or affine :class:`ParamExpr`). A definition whose name is a qtrain gate's
(``rzz``, ``sxdg``, ``iswap``, ``pauli_XZ``, ...) and whose body is that gate up to a global
phase — checked numerically at two random points — becomes that one qtrain op instead, so
that Qiskit's exports and qtrain's own round trips keep their gates.

Modifiers: ``inv @`` (each op replaced by its inverse, in reverse order), ``pow(k) @`` for an
integer ``k`` (repeated, inverted when negative) and ``ctrl @`` / ``ctrl(n) @`` on a library
gate with a controlled form (:data:`~qtrain.interop.qasm_gates.CONTROLLED`). ``negctrl @``,
a non-integer power and ``ctrl @`` of a gate defined in the file are clear errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

import numpy as np

from qtrain.errors import QtrainError
from qtrain.interop.qasm_expr import Node, Value, constant, evaluate, show
from qtrain.interop.qasm_gates import (
    CONTROLLED,
    NATIVE,
    recognizable,
    same_up_to_phase,
    unitary_of,
)
from qtrain.interop.qasm_lex import QasmError, Token
from qtrain.ir.circuit import Circuit
from qtrain.ir.gates import GATES, GateSpec
from qtrain.ir.ops import Op, make_op

__all__ = [
    "GPHASE",
    "MAX_OPS",
    "NATIVE_GATES",
    "Call",
    "Expander",
    "Gate",
    "GateDef",
    "Mod",
    "QArg",
]


@dataclass(frozen=True)
class QArg:
    """A qubit operand: a register (``index`` None), one of its qubits, or ``$k``."""

    name: str
    index: Node | None
    token: Token


@dataclass(frozen=True)
class Modifier:
    """``inv @``, ``pow(k) @``, ``ctrl(n) @`` or ``negctrl(n) @`` as written."""

    kind: str
    arg: Node | None
    token: Token


@dataclass(frozen=True)
class Call:
    """One gate application as written: modifiers, name, angle expressions, qubit operands."""

    token: Token
    modifiers: tuple[Modifier, ...]
    args: tuple[Node, ...]
    qargs: tuple[QArg, ...]


@dataclass(frozen=True)
class Native:
    """A library gate that is one qtrain gate (``gate`` is empty for ``gphase``)."""

    name: str
    gate: str
    n_params: int
    n_qubits: int  # -1: any number (gphase)


@dataclass(frozen=True, eq=False)
class GateDef:
    """A ``gate`` definition; each body call is stored with the gate it resolved to."""

    name: str
    token: Token
    params: tuple[str, ...]
    qubits: tuple[str, ...]
    body: tuple[tuple[Call, Gate], ...]
    builtin: bool = False

    @property
    def n_params(self) -> int:
        """Angle parameters the gate takes."""
        return len(self.params)

    @property
    def n_qubits(self) -> int:
        """Qubits the gate acts on."""
        return len(self.qubits)


Gate: TypeAlias = Native | GateDef


def _native(name: str, gate: str) -> Native:
    spec = GATES[gate]
    return Native(name, gate, spec.n_params, spec.n_wires)


NATIVE_GATES: Mapping[str, Native] = {name: _native(name, gate) for name, gate in NATIVE.items()}
GPHASE = Native("gphase", "", 1, -1)
MAX_OPS = 200_000
"""More ops than this from one program is an error (nested definitions grow exponentially)."""


def check_size(n_ops: int, token: Token) -> None:
    """Raise when a program expands to more than :data:`MAX_OPS` ops."""
    if n_ops > MAX_OPS:
        raise QasmError(f"the program expands to more than {MAX_OPS} gates", token.line, token.text)


class Mod(NamedTuple):
    """A modifier with its integer evaluated: the power, or the number of controls."""

    kind: str
    times: int
    token: Token


def evaluate_modifier(modifier: Modifier, env: Mapping[str, Value]) -> Mod:
    """The modifier with its argument evaluated to an integer (1 when it has none)."""
    if modifier.arg is None:
        return Mod(modifier.kind, 1, modifier.token)
    value = constant(evaluate(modifier.arg, env))
    if value is None or value != int(value) or (modifier.kind != "pow" and value < 1):
        what = "an integer" if modifier.kind == "pow" else "a positive integer"
        raise QasmError(
            f"{modifier.kind}({show(modifier.arg)}) @ needs {what}",
            modifier.token.line,
            modifier.token.text,
        )
    return Mod(modifier.kind, int(value), modifier.token)


def make(
    gate: str, wires: tuple[int, ...], args: tuple[Value, ...], token: Token, word: str = ""
) -> Op:
    """``make_op`` with its errors located at ``token``."""
    try:
        return make_op(gate, wires, args, word=word)
    except QtrainError as error:
        raise QasmError(str(error), token.line, token.text) from None


def inverse(ops: list[Op]) -> list[Op]:
    """The ops of the inverse: reversed, each replaced by its inverse gate."""
    if not ops:
        return []
    n_qubits = 1 + max(w for op in ops for w in op.wires)
    return list(Circuit(n_qubits, tuple(ops)).inverse().ops)


def _check_arity(
    gate: Gate, values: tuple[Value, ...], wires: tuple[int, ...], token: Token
) -> None:
    if len(values) != gate.n_params:
        raise QasmError(
            f"gate {gate.name!r} takes {gate.n_params} parameter(s), got {len(values)}",
            token.line,
            token.text,
        )
    if gate.n_qubits >= 0 and len(wires) != gate.n_qubits:
        raise QasmError(
            f"gate {gate.name!r} acts on {gate.n_qubits} qubit(s), got {len(wires)}",
            token.line,
            token.text,
        )
    if len(set(wires)) != len(wires):
        raise QasmError(f"gate {gate.name!r} uses one qubit twice", token.line, token.text)


class Expander:
    """Turns gate applications into qtrain ops (see the module docstring).

    Args:
        library: looks up a library gate by name (for the targets of ``ctrl @``).
        consts: the program's ``const`` values, visible inside gate bodies.
    """

    def __init__(self, library: Callable[[str], Gate | None], consts: Mapping[str, Value]) -> None:
        self._library = library
        self._consts = consts
        self._recognized: dict[int, tuple[GateSpec, str] | None] = {}

    def expand(
        self,
        gate: Gate,
        mods: tuple[Mod, ...],
        values: tuple[Value, ...],
        wires: tuple[int, ...],
        token: Token,
    ) -> list[Op]:
        """The ops of ``mods @ gate(values) wires`` (``token``: where it was written)."""
        if mods:
            return self._modified(gate, mods, values, wires, token)
        _check_arity(gate, values, wires, token)
        if isinstance(gate, Native):
            return [make(gate.gate, wires, values, token)] if gate.gate else []
        recognized = self._recognize(gate)
        if recognized is not None:
            spec, word = recognized
            return [make(spec.name, wires, values, token, word)]
        return self._inline(gate, values, wires, token)

    def _modified(
        self,
        gate: Gate,
        mods: tuple[Mod, ...],
        values: tuple[Value, ...],
        wires: tuple[int, ...],
        token: Token,
    ) -> list[Op]:
        head, rest = mods[0], mods[1:]
        if head.kind == "inv":
            return inverse(self.expand(gate, rest, values, wires, token))
        if head.kind == "pow":
            ops = self.expand(gate, rest, values, wires, token)
            check_size(len(ops) * abs(head.times), head.token)
            ops = ops * abs(head.times)
            return inverse(ops) if head.times < 0 else ops
        if head.kind == "negctrl":
            raise QasmError("negctrl @ is not supported", head.token.line, head.token.text)
        controls = 0
        while mods and mods[0].kind == "ctrl":
            controls, mods = controls + mods[0].times, mods[1:]
        if mods:
            raise QasmError(
                "ctrl @ followed by other modifiers is not supported",
                mods[0].token.line,
                mods[0].token.text,
            )
        builtin = isinstance(gate, Native) or gate.builtin
        name = CONTROLLED.get((gate.name, controls)) if builtin else None
        target = self._library(name) if name is not None else None
        if target is None:
            raise QasmError(
                f"ctrl @ {gate.name} with {controls} control(s) has no qtrain equivalent "
                "(ctrl @ works on library gates with a controlled form: x, y, z, h, sx, rx, "
                "ry, rz, p, swap, U, gphase)",
                token.line,
                token.text,
            )
        return self.expand(target, (), values, wires, token)

    def _recognize(self, gate: GateDef) -> tuple[GateSpec, str] | None:
        if gate.builtin:
            return None
        if id(gate) not in self._recognized:
            self._recognized[id(gate)] = self._check(gate)
        return self._recognized[id(gate)]

    def _check(self, gate: GateDef) -> tuple[GateSpec, str] | None:
        candidate = recognizable(gate.name)
        if candidate is None:
            return None
        spec, _ = candidate
        if spec.n_params != gate.n_params or spec.n_wires != gate.n_qubits:
            return None
        rng = np.random.default_rng(20240917)
        for _ in range(2):
            angles = tuple(float(a) for a in rng.uniform(-3.0, 3.0, gate.n_params))
            try:
                ops = self._inline(gate, angles, tuple(range(gate.n_qubits)), gate.token)
            except QasmError:
                return None
            if not same_up_to_phase(unitary_of(gate.n_qubits, ops), spec.matrix(*angles)):
                return None
        return candidate

    def _inline(
        self, gate: GateDef, values: tuple[Value, ...], wires: tuple[int, ...], token: Token
    ) -> list[Op]:
        env = {**self._consts, **dict(zip(gate.params, values, strict=True))}
        qubits = dict(zip(gate.qubits, wires, strict=True))
        ops: list[Op] = []
        try:
            for call, target in gate.body:
                args = tuple(evaluate(a, env) for a in call.args)
                mods = tuple(evaluate_modifier(m, env) for m in call.modifiers)
                operands = tuple(qubits[q.name] for q in call.qargs)
                ops.extend(self.expand(target, mods, args, operands, call.token))
                check_size(len(ops), token)
        except QasmError as error:
            if gate.builtin:
                raise QasmError(
                    f"{error.reason} (in the library gate {gate.name!r})", token.line, token.text
                ) from None
            if "(inside gate " in error.reason:  # the innermost definition is named already
                raise
            raise QasmError(
                f"{error.reason} (inside gate {gate.name!r}, used on line {token.line})",
                error.line,
                error.token,
            ) from None
        return ops
