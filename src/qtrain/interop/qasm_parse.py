"""The OpenQASM 2/3 statement reader behind :func:`qtrain.interop.qasm.loads`.

Statements read: the ``OPENQASM`` header (required), ``include "qelib1.inc"`` /
``"stdgates.inc"`` (built in; other files are an error), ``qreg``/``creg``, ``qubit``/``bit``
(registers concatenated in declaration order: wire = offset + index; or hardware qubits
``$k`` = wire k), ``input float|angle`` parameters (θ[k] in declaration order), ``const`` and
initialised scalar declarations, ``gate`` definitions, gate applications with modifiers and
register broadcasting, ``gphase`` (dropped), ``barrier`` (skipped), ``reset`` of a qubit no
gate has touched yet (a no-op), and measurements in the three spellings, accepted when no
gate follows on a measured qubit. Anything else (``opaque``, ``if``, loops, subroutines,
calibrations, classical assignments) is a :class:`QasmError` naming the line and token.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from functools import lru_cache

from qtrain.interop.qasm_build import (
    GPHASE,
    NATIVE_GATES,
    Call,
    Expander,
    Gate,
    GateDef,
    QArg,
    check_size,
    evaluate_modifier,
)
from qtrain.interop.qasm_decl import SCALARS, Declarations
from qtrain.interop.qasm_expr import CONSTANTS, evaluate, names
from qtrain.interop.qasm_gates import PRELUDE
from qtrain.interop.qasm_lex import QasmError, Token, TokenStream, tokenize
from qtrain.ir.circuit import Circuit
from qtrain.ir.ops import Op

__all__ = ["QasmProgram", "parse_program"]

_INCLUDES = ("qelib1.inc", "stdgates.inc")
_UNSUPPORTED = {
    "opaque": "an opaque gate has no definition qtrain could simulate",
    "if": "classical control (if) is not supported: qtrain circuits are unitary",
    "else": "classical control is not supported",
    "for": "loops are not supported",
    "while": "loops are not supported",
    "switch": "classical control is not supported",
    "def": "subroutines are not supported",
    "defcal": "calibrations are not supported",
    "defcalgrammar": "calibrations are not supported",
    "cal": "calibrations are not supported",
    "extern": "extern functions are not supported",
    "box": "box is not supported",
    "delay": "delay is not supported",
    "output": "output variables are not supported",
    "let": "aliases (let) are not supported",
    "pragma": "pragmas are not supported",
}


@dataclass(frozen=True)
class QasmProgram:
    """What :func:`parse_program` read.

    Attributes:
        circuit: the circuit (``θ[k]`` is the ``k``-th ``input``).
        version: 2 or 3, from the header.
        parameters: the names of the ``input`` parameters, in declaration order.
        measured: the wires measured at the end, sorted.
    """

    circuit: Circuit
    version: int
    parameters: tuple[str, ...]
    measured: tuple[int, ...]


def parse_program(text: str) -> QasmProgram:
    """Read an OpenQASM 2 or 3 program (see the module docstring for what is accepted).

    Raises:
        QasmError: naming the line and the offending token.
    """
    return _Parser(text, library=False).program()


@lru_cache(maxsize=1)
def _prelude() -> dict[str, GateDef]:
    return _Parser(PRELUDE, library=True).defs


def _library_gate(name: str) -> Gate | None:
    if name == "gphase":
        return GPHASE
    return NATIVE_GATES.get(name) or _prelude().get(name)


class _Parser(Declarations):
    def __init__(self, text: str, *, library: bool) -> None:
        super().__init__(TokenStream(tokenize(text)))
        self.library = library
        self.defs: dict[str, GateDef] = {}
        self.ops: list[Op] = []
        self.measured: dict[int, int] = {}
        self.expander = Expander(_library_gate, self.consts)
        if library:
            self._statements()

    # --- program structure ---------------------------------------------------------------
    def program(self) -> QasmProgram:
        self._header()
        self._statements()
        if self.hardware:
            self.n_qubits = 1 + max((w for op in self.ops for w in op.wires), default=0)
        if self.n_qubits == 0:
            raise QasmError("the program declares no qubits", self.ts.peek().line)
        circuit = Circuit(self.n_qubits, tuple(self.ops))
        return QasmProgram(circuit, self.version, tuple(self.inputs), tuple(sorted(self.measured)))

    def _header(self) -> None:
        token = self.ts.peek()
        if not self.ts.at("OPENQASM"):
            found = "an empty program" if token.kind == "eof" else f"{token.text!r}"
            raise QasmError(
                f"missing header: an OpenQASM program starts with 'OPENQASM 2.0;' or "
                f"'OPENQASM 3.0;', found {found}",
                token.line,
                token.text or None,
            )
        self.ts.next()
        number = self.ts.next()
        major = number.text.split(".")[0] if number.kind == "num" else ""
        if major not in ("2", "3"):
            raise QasmError(
                "unsupported OpenQASM version (2 and 3 are read)", number.line, number.text
            )
        self.version = int(major)
        self.ts.expect(";", "after the OPENQASM version")

    def _statements(self) -> None:
        while self.ts.peek().kind != "eof":
            self._statement()

    def _statement(self) -> None:
        token = self.ts.peek()
        word = token.text if token.kind == "id" else ""
        handler = {
            "include": self._include,
            "qreg": self._qreg,
            "qubit": self._qubit,
            "creg": self._creg,
            "bit": self._bit,
            "input": self._input,
            "const": self._const,
            "gate": self._gate_def,
            "barrier": self.ts.skip_statement,
            "measure": self._measure_arrow,
            "reset": self._reset,
        }.get(word)
        if handler is not None:
            handler()
        elif word in _UNSUPPORTED:
            raise QasmError(_UNSUPPORTED[word], token.line, word)
        elif word in SCALARS:
            self._const()
        elif token.kind == "id" and self._is_assignment():
            self._measure_assign()
        elif token.kind == "id":
            self._apply(self._call(in_body=False))
        else:
            raise self.ts.unexpected("a statement")

    def _include(self) -> None:
        self.ts.next()
        token = self.ts.next()
        if token.kind != "str" or token.text[1:-1] not in _INCLUDES:
            raise QasmError(
                "only qelib1.inc and stdgates.inc can be included (both are built in)",
                token.line,
                token.text,
            )
        self.ts.expect(";", "after the include")

    # --- gate definitions ----------------------------------------------------------------
    def _gate_def(self) -> None:
        self.ts.next()
        token = self.ts.identifier("a gate name")
        params = self._names(")") if self.ts.accept("(") else ()
        if params or self.ts.at(")"):
            self.ts.expect(")")
        qubits = self._names("{")
        self.ts.expect("{", "to open the gate body")
        param_names = {t.text for t in params}
        qubit_names = {t.text for t in qubits}
        body: list[tuple[Call, Gate]] = []
        while not self.ts.accept("}"):
            if self.ts.at("barrier"):
                self.ts.skip_statement()
                continue
            call = self._call(in_body=True)
            self._check_body_call(call, param_names, qubit_names)
            body.append((call, self._lookup(call.token)))
        if token.text in self.defs:
            raise QasmError(f"gate {token.text!r} is already defined", token.line, token.text)
        names_ = (tuple(t.text for t in params), tuple(t.text for t in qubits))
        self.defs[token.text] = GateDef(token.text, token, *names_, tuple(body), self.library)

    def _check_body_call(self, call: Call, params: set[str], qubits: set[str]) -> None:
        exprs = [*call.args, *(m.arg for m in call.modifiers if m.arg is not None)]
        for expr in exprs:
            for name in names(expr):
                if name.text not in params and name.text not in self.consts:
                    if name.text not in CONSTANTS:
                        raise QasmError(f"undefined identifier {name.text!r}", name.line, name.text)
        for qarg in call.qargs:
            if qarg.index is not None or qarg.name not in qubits:
                raise QasmError(
                    "a gate body addresses only the gate's own qubits, by name",
                    qarg.token.line,
                    qarg.token.text,
                )

    def _lookup(self, token: Token) -> Gate:
        gate: Gate | None = self.defs.get(token.text)
        if gate is None:
            library = _library_gate_no_prelude if self.library else _library_gate
            gate = library(token.text)
        if gate is None:
            known = [*self.defs, *NATIVE_GATES, *([] if self.library else _prelude())]
            close = difflib.get_close_matches(token.text, known, n=3, cutoff=0.6)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise QasmError(f"unknown gate {token.text!r}{hint}", token.line, token.text)
        return gate

    # --- gate applications ---------------------------------------------------------------
    def _apply(self, call: Call) -> None:
        gate = self._lookup(call.token)
        args = tuple(evaluate(a, self.env) for a in call.args)
        mods = tuple(evaluate_modifier(m, self.env) for m in call.modifiers)
        for wires in self._broadcast(call):
            for w in wires:
                if w in self.measured:
                    raise QasmError(
                        f"gate {call.token.text!r} acts on a qubit measured on line "
                        f"{self.measured[w]}: qtrain reads only measurements at the end",
                        call.token.line,
                        call.token.text,
                    )
            self.ops.extend(self.expander.expand(gate, mods, args, wires, call.token))
            check_size(len(self.ops), call.token)

    def _broadcast(self, call: Call) -> list[tuple[int, ...]]:
        operands = [self._wires(q) for q in call.qargs]
        sizes = {len(w) for w in operands if len(w) > 1}
        if len(sizes) > 1:
            raise QasmError(
                "registers of different sizes in one gate", call.token.line, call.token.text
            )
        count = sizes.pop() if sizes else 1
        return [tuple(w[i] if len(w) > 1 else w[0] for w in operands) for i in range(count)]

    # --- measurement and reset -----------------------------------------------------------
    def _measure(self, qarg: QArg, token: Token) -> None:
        for wire in self._wires(qarg):
            self.measured.setdefault(wire, token.line)

    def _check_bits(self, target: QArg) -> None:
        if target.name not in self.cregs:
            raise QasmError(
                f"bit register {target.name!r} is undefined", target.token.line, target.name
            )

    def _measure_arrow(self) -> None:
        token = self.ts.next()
        qarg = self._qarg(in_body=False)
        if self.ts.accept("->"):
            self._check_bits(self._qarg(in_body=False))
        self.ts.expect(";", "after the measurement")
        self._measure(qarg, token)

    def _is_assignment(self) -> bool:
        ahead = 1
        if self.ts.peek(1).text == "[":
            while self.ts.peek(ahead).text not in ("]", ";", ""):
                ahead += 1
            ahead += 1
        return self.ts.peek(ahead).text == "="

    def _measure_assign(self) -> None:
        target = self._qarg(in_body=False)
        self.ts.expect("=")
        if not self.ts.at("measure"):
            raise QasmError(
                "classical assignments are not supported", target.token.line, target.name
            )
        token = self.ts.next()
        self._check_bits(target)
        qarg = self._qarg(in_body=False)
        self.ts.expect(";", "after the measurement")
        self._measure(qarg, token)

    def _reset(self) -> None:
        token = self.ts.next()
        qarg = self._qarg(in_body=False)
        self.ts.expect(";")
        touched = {w for op in self.ops for w in op.wires} | set(self.measured)
        if touched & set(self._wires(qarg)):
            raise QasmError(
                "reset of a qubit already in use is not supported (only a no-op reset at the "
                "start is)",
                token.line,
                token.text,
            )


def _library_gate_no_prelude(name: str) -> Gate | None:
    return GPHASE if name == "gphase" else NATIVE_GATES.get(name)
