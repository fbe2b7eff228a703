"""OpenQASM angle expressions: parsed once, evaluated to a float or an affine :class:`ParamExpr`.

A gate argument may use numbers, ``pi`` (``π``, ``tau``, ``euler`` in OpenQASM 3), the
parameters in scope (QASM 3 ``input`` values, a gate's own parameters), ``+ - * /``, unary
minus, powers (``^`` in QASM 2, ``**`` in QASM 3), parentheses and the functions ``sin cos tan
arcsin arccos arctan exp ln log sqrt`` of constants. qtrain's gate angles are affine in θ, so
an expression that is not — ``gamma*beta``, ``sin(gamma)``, ``gamma**2``, ``1/gamma`` — is a
:class:`QasmError` naming the line and the sub-expression.

>>> from qtrain.interop.qasm_lex import TokenStream, tokenize
>>> from qtrain.ir.params import P
>>> node = parse_expr(TokenStream(tokenize("2.0*gamma + 0.3")), version=3)
>>> evaluate(node, {"gamma": P(0)})
ParamExpr(2·θ0 + 0.3)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple, TypeAlias

from qtrain.interop.qasm_lex import QasmError, Token, TokenStream
from qtrain.ir.params import ParamExpr

__all__ = ["CONSTANTS", "Node", "Value", "constant", "evaluate", "names", "parse_expr", "show"]

Value: TypeAlias = float | ParamExpr
"""An evaluated angle: a constant, or an affine expression of qtrain parameters."""

CONSTANTS: Mapping[str, float] = {
    "pi": math.pi,
    "π": math.pi,
    "tau": math.tau,
    "τ": math.tau,
    "euler": math.e,
    "ℇ": math.e,
}

_FUNCTIONS: Mapping[str, Callable[[float], float]] = {
    "sin": math.sin,
    "cos": math.cos,
    "tan": math.tan,
    "arcsin": math.asin,
    "arccos": math.acos,
    "arctan": math.atan,
    "exp": math.exp,
    "ln": math.log,
    "log": math.log,
    "sqrt": math.sqrt,
}


class Node(NamedTuple):
    """One node of an expression, with the token it starts at (for errors).

    ``op`` is ``num``, ``name``, ``neg``, ``call`` (a function of one argument) or a binary
    operator (``+ - * / **``).
    """

    op: str
    token: Token
    args: tuple[Node, ...] = ()


def parse_expr(ts: TokenStream, version: int) -> Node:
    """Parse one expression at the cursor (sums of products of unary terms of powers)."""
    node = _term(ts, version)
    while ts.at("+", "-"):
        op = ts.next()
        node = Node(op.text, op, (node, _term(ts, version)))
    return node


def _term(ts: TokenStream, version: int) -> Node:
    node = _unary(ts, version)
    while ts.at("*", "/"):
        op = ts.next()
        node = Node(op.text, op, (node, _unary(ts, version)))
    return node


def _unary(ts: TokenStream, version: int) -> Node:
    if ts.at("-", "+"):
        op = ts.next()
        operand = _unary(ts, version)
        return Node("neg", op, (operand,)) if op.text == "-" else operand
    return _power(ts, version)


def _power(ts: TokenStream, version: int) -> Node:
    base = _atom(ts, version)
    if ts.at("^") and version >= 3:
        raise QasmError(
            "'^' is bitwise xor in OpenQASM 3; write powers with '**'", ts.peek().line, "^"
        )
    if ts.at("**", "^"):
        op = ts.next()
        return Node("**", op, (base, _unary(ts, version)))
    return base


def _atom(ts: TokenStream, version: int) -> Node:
    token = ts.peek()
    if token.kind == "num":
        return Node("num", ts.next())
    if token.kind == "id":
        ts.next()
        if ts.accept("("):
            if token.text not in _FUNCTIONS:
                raise QasmError(f"unknown function {token.text!r}", token.line, token.text)
            argument = parse_expr(ts, version)
            ts.expect(")", "to close the function call")
            return Node("call", token, (argument,))
        return Node("name", token)
    if ts.accept("("):
        inner = parse_expr(ts, version)
        ts.expect(")", "to close the parenthesis")
        return inner
    raise ts.unexpected("a number, a name or '('")


def show(node: Node) -> str:
    """The expression as text (binary sub-expressions in parentheses)."""
    if node.op in ("num", "name"):
        return node.token.text
    if node.op == "neg":
        return "-" + _shown(node.args[0])
    if node.op == "call":
        return f"{node.token.text}({show(node.args[0])})"
    return f"{_shown(node.args[0])} {node.op} {_shown(node.args[1])}"


def _shown(node: Node) -> str:
    return f"({show(node)})" if node.op in ("+", "-", "*", "/", "**") else show(node)


def names(node: Node) -> Iterator[Token]:
    """Every identifier the expression reads."""
    if node.op == "name":
        yield node.token
    for arg in node.args:
        yield from names(arg)


def _affine_error(node: Node, why: str) -> QasmError:
    return QasmError(
        f"non-affine parameter expression {show(node)!r}: {why}; qtrain gate angles must be "
        "affine in the parameters (a·θ + b)",
        node.token.line,
        node.token.text,
    )


def constant(value: Value) -> float | None:
    """The value as a float when it reads no parameter, else ``None``."""
    if isinstance(value, ParamExpr):
        return value.offset if value.is_constant else None
    return value


def evaluate(node: Node, env: Mapping[str, Value]) -> Value:
    """Evaluate ``node`` with the identifiers in ``env`` (and the built-in constants).

    Raises:
        QasmError: an undefined identifier, a non-affine use of a parameter, a division by
            zero or a non-finite result, naming the line and the token.
    """
    value = _evaluate(node, env)
    fixed = constant(value)
    if fixed is None:
        return value
    if not math.isfinite(fixed):
        raise QasmError(f"{show(node)!r} is not a finite number", node.token.line, node.token.text)
    return fixed


def _evaluate(node: Node, env: Mapping[str, Value]) -> Value:
    op, token = node.op, node.token
    if op == "num":
        return token.number
    if op == "name":
        if token.text in env:
            return env[token.text]
        if token.text in CONSTANTS:
            return CONSTANTS[token.text]
        raise QasmError(f"undefined identifier {token.text!r}", token.line, token.text)
    values = [evaluate(arg, env) for arg in node.args]
    if op == "neg":
        return -values[0]
    if op == "call":
        return _call(node, values[0])
    return _binary(node, values[0], values[1])


def _call(node: Node, value: Value) -> float:
    argument = constant(value)
    if argument is None:
        raise _affine_error(node, f"{node.token.text}() of a parameter")
    try:
        return _FUNCTIONS[node.token.text](argument)
    except (ValueError, OverflowError):
        raise QasmError(
            f"{show(node)!r} is outside the domain of {node.token.text}",
            node.token.line,
            node.token.text,
        ) from None


def _binary(node: Node, left: Value, right: Value) -> Value:
    op = node.op
    if op == "+":
        return left + right
    if op == "-":
        return left - right
    a, b = constant(left), constant(right)
    if op == "*":
        if a is None and b is None:
            raise _affine_error(node, "it multiplies two parameters")
        return left * right
    if op == "/":
        if b is None:
            raise _affine_error(node, "it divides by a parameter")
        if b == 0.0:
            raise QasmError(f"division by zero in {show(node)!r}", node.token.line, "/")
        return left / b
    if a is None or b is None:
        raise _affine_error(node, "it raises a parameter to a power or to a parameter power")
    try:
        result = a**b
    except (OverflowError, ZeroDivisionError):
        result = math.nan
    if isinstance(result, complex):
        result = math.nan
    return float(result)
