"""OpenQASM tokens: the lexer and the token stream the parser reads (:mod:`qtrain.interop.qasm`).

One lexer serves OpenQASM 2 and 3: identifiers may be Unicode (``θ``, ``β``, ``π``, as
Qiskit's exporter writes them), numbers may carry ``_`` separators, ``$3`` is a hardware
qubit, and ``//`` and ``/* */`` comments are dropped. Every token keeps its line, so every
:class:`QasmError` names the line and the offending text.

>>> [t.text for t in tokenize("rz(2.0*γ) q[0]; // c")]
['rz', '(', '2.0', '*', 'γ', ')', 'q', '[', '0', ']', ';', '']
"""

from __future__ import annotations

import re
from typing import NamedTuple

from qtrain.errors import InteropError

__all__ = ["QasmError", "Token", "TokenStream", "tokenize"]


class QasmError(InteropError):
    """An OpenQASM program qtrain cannot read, or a circuit it cannot write as OpenQASM.

    Attributes:
        reason: the message without its location.
        line: the 1-based line the problem is on (``None`` when it is not about a line).
        token: the offending text (``None`` when there is none).
        source: the file the program came from (``None`` for a string).
    """

    def __init__(
        self,
        reason: str,
        line: int | None = None,
        token: str | None = None,
        source: str | None = None,
    ) -> None:
        self.reason, self.line, self.token, self.source = reason, line, token, source
        where = "" if source is None else f"{source}: "
        if line is not None:
            where += f"line {line}" + ("" if token is None else f", at {token!r}") + ": "
        super().__init__(where + reason)

    def located(self, source: str) -> QasmError:
        """The same error, its message prefixed with ``source`` (a file name)."""
        return QasmError(self.reason, self.line, self.token, source)


class Token(NamedTuple):
    """One token: ``kind`` is ``num``, ``id``, ``str``, ``hw`` (``$3``), ``op`` or ``eof``."""

    kind: str
    text: str
    line: int

    @property
    def number(self) -> float:
        """The value of a ``num`` token."""
        return float(self.text.replace("_", ""))


_PATTERN = re.compile(
    r"""
     (?P<ws>[ \t\r\f\v]+)
    |(?P<nl>\n)
    |(?P<comment>//[^\n]*|/\*.*?\*/)
    |(?P<open>/\*)
    |(?P<num>(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?)
    |(?P<hw>\$\d+)
    |(?P<id>[^\W\d]\w*)
    |(?P<str>"[^"\n]*"|'[^'\n]*')
    |(?P<op>->|\*\*|==|!=|<=|>=|&&|\|\||<<|>>|[-+*/%^(){}\[\];,=@<>!~&|:.#])
    |(?P<bad>.)
    """,
    re.VERBOSE | re.DOTALL,
)


def tokenize(text: str) -> list[Token]:
    """The tokens of ``text``, ending with one ``eof`` token.

    Raises:
        QasmError: an unexpected character or an unterminated ``/*`` comment, naming the line.
    """
    tokens: list[Token] = []
    line = 1
    for match in _PATTERN.finditer(text):
        kind = match.lastgroup
        if kind == "ws":
            continue
        if kind == "nl":
            line += 1
            continue
        value = match.group()
        if kind == "comment":
            line += value.count("\n")
        elif kind == "bad":
            raise QasmError("unexpected character", line, value)
        elif kind == "open":
            raise QasmError("unterminated /* comment", line, "/*")
        else:
            tokens.append(Token(kind or "", value, line))
    tokens.append(Token("eof", "", line))
    return tokens


class TokenStream:
    """A cursor over the tokens of one program."""

    def __init__(self, tokens: list[Token]) -> None:
        self._tokens = tokens
        self._pos = 0

    def peek(self, ahead: int = 0) -> Token:
        """The token ``ahead`` places after the cursor (``eof`` past the end)."""
        if not ahead:
            return self._tokens[self._pos]
        return self._tokens[min(self._pos + ahead, len(self._tokens) - 1)]

    def next(self) -> Token:
        """The token at the cursor, moving past it."""
        token = self.peek()
        self._pos = min(self._pos + 1, len(self._tokens) - 1)
        return token

    def at(self, *texts: str) -> bool:
        """True when the token at the cursor is one of ``texts`` (an op or an identifier)."""
        token = self.peek()
        return token.kind in ("op", "id") and token.text in texts

    def accept(self, text: str) -> bool:
        """Move past the token at the cursor if it is ``text``; say whether it was."""
        if self.at(text):
            self.next()
            return True
        return False

    def expect(self, text: str, what: str = "") -> Token:
        """The token ``text`` at the cursor, else a QasmError saying what was expected."""
        if not self.at(text):
            raise self.unexpected(f"{text!r}" + (f" {what}" if what else ""))
        return self.next()

    def identifier(self, what: str) -> Token:
        """An identifier at the cursor (``what`` it names is used in the error)."""
        if self.peek().kind != "id":
            raise self.unexpected(what)
        return self.next()

    def integer(self, what: str) -> int:
        """A non-negative integer literal at the cursor."""
        token = self.peek()
        if token.kind != "num" or not token.text.replace("_", "").isdigit():
            raise self.unexpected(what)
        self.next()
        return int(token.text.replace("_", ""))

    def unexpected(self, expected: str) -> QasmError:
        """The error for the token at the cursor when ``expected`` should be there."""
        token = self.peek()
        found = "the end of the program" if token.kind == "eof" else repr(token.text)
        return QasmError(f"expected {expected}, found {found}", token.line, token.text or None)

    def skip_statement(self) -> None:
        """Move past the next ``;`` (for statements that are read and ignored)."""
        while self.peek().kind != "eof" and not self.at(";"):
            self.next()
        self.expect(";")
