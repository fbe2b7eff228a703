"""Declarations and operands of an OpenQASM program: the base of the statement reader.

Registers (``qreg``/``creg``, ``qubit``/``bit``) are concatenated in declaration order, so a
qubit's wire is its register's offset plus its index; hardware qubits ``$k`` are wire k (not
mixed with declared ones). ``input float`` / ``input angle`` parameters become ``θ[k]`` in
declaration order; ``const`` (and initialised ``float``/``angle``/``int``/``uint``)
declarations are constants. Gate applications are read here as written (:class:`Call`);
:mod:`qtrain.interop.qasm_parse` resolves and applies them.
"""

from __future__ import annotations

from qtrain.interop.qasm_build import Call, Modifier, QArg
from qtrain.interop.qasm_expr import Node, Value, constant, evaluate, parse_expr
from qtrain.interop.qasm_lex import QasmError, Token, TokenStream
from qtrain.ir.params import P

__all__ = ["SCALARS", "Declarations"]

_MODIFIERS = ("inv", "pow", "ctrl", "negctrl")
SCALARS = ("float", "angle", "int", "uint")


class Declarations:
    """The registers, parameters and constants declared so far, and the operand readers."""

    def __init__(self, ts: TokenStream) -> None:
        self.ts = ts
        self.version = 2
        self.qregs: dict[str, tuple[int, int]] = {}
        self.cregs: dict[str, int] = {}
        self.n_qubits = 0
        self.hardware = False
        self.inputs: list[str] = []
        self.env: dict[str, Value] = {}
        self.consts: dict[str, Value] = {}

    # --- declarations --------------------------------------------------------------------
    def _declare(self, token: Token) -> str:
        name = token.text
        if name in self.qregs or name in self.cregs or name in self.env:
            raise QasmError(f"{name!r} is already declared", token.line, name)
        return name

    def _add_qreg(self, token: Token, size: int) -> None:
        name = self._declare(token)
        if self.hardware:
            raise QasmError("cannot mix declared qubits with hardware qubits $k", token.line, name)
        self.qregs[name] = (self.n_qubits, size)
        self.n_qubits += size

    def _qreg(self) -> None:
        self.ts.next()
        token = self.ts.identifier("a register name")
        self.ts.expect("[")
        size = self._size()
        self.ts.expect("]")
        self.ts.expect(";")
        self._add_qreg(token, size)

    def _creg(self) -> None:
        self.ts.next()
        token = self.ts.identifier("a register name")
        self.ts.expect("[")
        self.cregs[self._declare(token)] = self._size()
        self.ts.expect("]")
        self.ts.expect(";")

    def _optional_size(self) -> int:
        if not self.ts.accept("["):
            return 1
        size = self._size()
        self.ts.expect("]")
        return size

    def _size(self) -> int:
        token = self.ts.peek()
        size = self.ts.integer("a register size")
        if size < 1:
            raise QasmError("a register needs at least one bit", token.line, token.text)
        return size

    def _qubit(self) -> None:
        self.ts.next()
        size = self._optional_size()
        token = self.ts.identifier("a qubit register name")
        self.ts.expect(";")
        self._add_qreg(token, size)

    def _bit(self) -> None:
        self.ts.next()
        size = self._optional_size()
        self.cregs[self._declare(self.ts.identifier("a bit register name"))] = size
        if self.ts.at("="):
            raise QasmError("bit initialisers are not supported", self.ts.peek().line, "=")
        self.ts.expect(";")

    def _scalar_type(self) -> Token:
        token = self.ts.identifier("a type")
        if token.text not in SCALARS:
            raise QasmError(f"type {token.text!r} is not supported here", token.line, token.text)
        self._optional_size()
        return token

    def _input(self) -> None:
        self.ts.next()
        kind = self._scalar_type()
        if kind.text not in ("float", "angle"):
            raise QasmError(
                "only 'input float' and 'input angle' parameters are supported",
                kind.line,
                kind.text,
            )
        name = self._declare(self.ts.identifier("a parameter name"))
        self.ts.expect(";")
        self.env[name] = P(len(self.inputs))
        self.inputs.append(name)

    def _const(self) -> None:
        self.ts.accept("const")
        self._scalar_type()
        token = self.ts.identifier("a constant name")
        name = self._declare(token)
        self.ts.expect("=", "(declarations need a value)")
        expr = parse_expr(self.ts, self.version)
        self.ts.expect(";")
        value = evaluate(expr, self.env)
        if constant(value) is None:
            raise QasmError(f"constant {name!r} depends on an input parameter", token.line, name)
        self.env[name] = self.consts[name] = value

    def _names(self, closer: str) -> tuple[Token, ...]:
        tokens: list[Token] = []
        while not self.ts.at(closer):
            tokens.append(self.ts.identifier("a name"))
            if not self.ts.accept(","):
                break
        return tuple(tokens)

    def _modifiers(self) -> tuple[Modifier, ...]:
        mods: list[Modifier] = []
        while self.ts.at(*_MODIFIERS) and self.ts.peek(1).text in ("@", "("):
            token = self.ts.next()
            arg: Node | None = None
            if self.ts.accept("("):
                arg = parse_expr(self.ts, self.version)
                self.ts.expect(")")
            self.ts.expect("@", f"after {token.text}")
            mods.append(Modifier(token.text, arg, token))
        return tuple(mods)

    def _call(self, *, in_body: bool) -> Call:
        mods = self._modifiers()
        token = self.ts.identifier("a gate name")
        args: list[Node] = []
        if self.ts.accept("("):
            while not self.ts.at(")"):
                args.append(parse_expr(self.ts, self.version))
                if not self.ts.accept(","):
                    break
            self.ts.expect(")", "to close the gate's parameters")
        qargs: list[QArg] = []
        while not self.ts.at(";"):
            qargs.append(self._qarg(in_body))
            if not self.ts.accept(","):
                break
        self.ts.expect(";", "after the gate's qubits")
        return Call(token, mods, tuple(args), tuple(qargs))

    def _qarg(self, in_body: bool) -> QArg:
        token = self.ts.peek()
        if token.kind == "hw" and not in_body:
            return QArg(self.ts.next().text, None, token)
        name = self.ts.identifier("a qubit")
        index = None
        if self.ts.accept("["):
            index = parse_expr(self.ts, self.version)
            self.ts.expect("]")
        return QArg(name.text, index, name)

    def _wires(self, qarg: QArg) -> list[int]:
        if qarg.name.startswith("$"):
            if self.qregs:
                raise QasmError(
                    "cannot mix declared qubits with hardware qubits $k", qarg.token.line, qarg.name
                )
            self.hardware = True
            return [int(qarg.name[1:])]
        if qarg.name not in self.qregs:
            what = "is a bit register, not qubits" if qarg.name in self.cregs else "is undefined"
            raise QasmError(f"{qarg.name!r} {what}", qarg.token.line, qarg.name)
        offset, size = self.qregs[qarg.name]
        if qarg.index is None:
            return list(range(offset, offset + size))
        return [offset + self._index(qarg.index, size, qarg.token)]

    def _index(self, node: Node, size: int, token: Token) -> int:
        value = constant(evaluate(node, self.consts))
        if value is None or value != int(value) or not 0 <= value < size:
            raise QasmError(
                f"index out of range for {token.text!r} (size {size})", token.line, token.text
            )
        return int(value)
