"""Pauli words: tensor products of single-qubit Pauli operators, their algebra and syntax.

A :class:`PauliTerm` is a product such as ``Z0 Z1`` or ``X2``, stored as ``(wire, letter)``
pairs sorted by wire, with identity factors left out. Multiplying two words gives another
word times a phase in ``{1, i, -1, -i}`` (:func:`multiply_terms`). The text form of a
weighted sum of words (``"0.5 Z0 Z1 - 1.2 X1"``) is read by :func:`parse_pauli_sum` and
written by :func:`format_pauli_sum`; the ``Observable`` value built on them lives in
:mod:`qtrain.ir.observables`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass

from qtrain.errors import ObservableError, ObservableParseError, ObservableWireError

__all__ = [
    "PAULI_LETTERS",
    "PauliTerm",
    "check_wire",
    "format_pauli_sum",
    "multiply_terms",
    "parse_pauli_sum",
]

PAULI_LETTERS = "XYZ"
"""The non-identity single-qubit Pauli letters, in canonical order."""

_PAIR = 2

# Products of two different Pauli letters: XY = iZ and cyclic; the reverse order flips the
# sign. Equal letters square to the identity with phase 1 and are handled separately.
_LETTER_PRODUCTS: dict[tuple[str, str], tuple[complex, str]] = {
    ("X", "Y"): (1j, "Z"),
    ("Y", "Z"): (1j, "X"),
    ("Z", "X"): (1j, "Y"),
    ("Y", "X"): (-1j, "Z"),
    ("Z", "Y"): (-1j, "X"),
    ("X", "Z"): (-1j, "Y"),
}


def check_wire(wire: object) -> int:
    """Return ``wire`` as an ``int`` if it is a valid (non-negative integer) wire index.

    Args:
        wire: The candidate wire index. ``bool`` is rejected although it subclasses ``int``,
            because ``True`` as a wire is almost certainly a bug.

    Returns:
        The wire as a plain ``int``.

    Raises:
        ObservableWireError: If ``wire`` is not an integer or is negative.

    >>> check_wire(3)
    3

    """
    if isinstance(wire, bool) or not isinstance(wire, numbers.Integral):
        raise ObservableWireError(
            f"wire must be a non-negative int, got {wire!r} of type {type(wire).__name__}"
        )
    if wire < 0:
        raise ObservableWireError(f"wire must be a non-negative int, got {wire!r}")
    return int(wire)


@dataclass(frozen=True, slots=True)
class PauliTerm:
    """A Pauli word: a tensor product of ``X``, ``Y``, ``Z`` on distinct wires.

    Attributes:
        factors: ``(wire, letter)`` pairs sorted by strictly increasing wire, letters in
            ``"XYZ"``; identity factors are omitted, so ``()`` is the identity.

    Raises:
        ObservableError: If the factors are unsorted, repeat a wire or use another letter.
        ObservableWireError: If a wire is not a non-negative int.

    >>> term = PauliTerm(((0, "Z"), (1, "Z")))
    >>> str(term), term.wires, term.weight
    ('Z0 Z1', (0, 1), 2)
    >>> str(PauliTerm(()))
    'I'

    """

    factors: tuple[tuple[int, str], ...]

    def __post_init__(self) -> None:
        """Validate the factors: sorted distinct non-negative wires, letters in ``"XYZ"``."""
        if not isinstance(self.factors, tuple):
            raise ObservableError(
                f"factors must be a tuple of (wire, letter), got {self.factors!r}"
            )
        previous = -1
        for factor in self.factors:
            if not (isinstance(factor, tuple) and len(factor) == _PAIR):
                raise ObservableError(f"a factor must be a (wire, letter) pair, got {factor!r}")
            wire = check_wire(factor[0])
            if not (
                isinstance(factor[1], str) and len(factor[1]) == 1 and factor[1] in PAULI_LETTERS
            ):
                raise ObservableError(
                    f"Pauli letter must be one of 'X', 'Y', 'Z' (identity factors are omitted), "
                    f"got {factor[1]!r} on wire {wire}"
                )
            if wire <= previous:
                raise ObservableError(
                    f"factors must have strictly increasing wires, got wire {wire} after "
                    f"{previous} in {self.factors!r}"
                )
            previous = wire

    @property
    def wires(self) -> tuple[int, ...]:
        """The wires the word acts on non-trivially, ascending."""
        return tuple(wire for wire, _ in self.factors)

    @property
    def weight(self) -> int:
        """The number of non-identity factors."""
        return len(self.factors)

    def __str__(self) -> str:
        """Return the word as text, e.g. ``"Z0 Z1"``; ``"I"`` for the identity."""
        if not self.factors:
            return "I"
        return " ".join(f"{letter}{wire}" for wire, letter in self.factors)

    def qubitwise_commutes(self, other: PauliTerm) -> bool:
        """Whether the two words agree on every wire both act on.

        Qubit-wise commuting words can be measured together in one product basis.

        Args:
            other: The other word.

        Returns:
            ``True`` when no shared wire carries different letters.

        >>> PauliTerm(((0, "Z"),)).qubitwise_commutes(PauliTerm(((0, "Z"), (1, "X"))))
        True
        >>> PauliTerm(((0, "Z"),)).qubitwise_commutes(PauliTerm(((0, "X"),)))
        False

        """
        mine = dict(self.factors)
        return all(mine.get(wire, letter) == letter for wire, letter in other.factors)

    def commutes(self, other: PauliTerm) -> bool:
        """Whether the two words commute as operators.

        Two words commute exactly when they anticommute on an even number of wires.

        Args:
            other: The other word.

        Returns:
            ``True`` when ``self @ other == other @ self``.

        >>> xx, zz = PauliTerm(((0, "X"), (1, "X"))), PauliTerm(((0, "Z"), (1, "Z")))
        >>> xx.commutes(zz), xx.qubitwise_commutes(zz)
        (True, False)

        """
        mine = dict(self.factors)
        clashes = sum(1 for wire, letter in other.factors if mine.get(wire, letter) != letter)
        return clashes % 2 == 0


def multiply_terms(left: PauliTerm, right: PauliTerm) -> tuple[complex, PauliTerm]:
    """Multiply two Pauli words as operators: ``left @ right = phase * word``.

    On distinct wires this is the tensor product; on a shared wire the single-qubit rules
    apply (``XX = I``, ``XY = iZ``, ``YX = -iZ`` and cyclic).

    Args:
        left: The left factor.
        right: The right factor.

    Returns:
        ``(phase, word)`` with ``phase`` one of ``1, 1j, -1, -1j``.

    >>> phase, word = multiply_terms(PauliTerm(((0, "X"),)), PauliTerm(((0, "Y"),)))
    >>> phase, str(word)
    (1j, 'Z0')

    """
    phase: complex = 1
    merged = dict(left.factors)
    for wire, letter in right.factors:
        mine = merged.pop(wire, None)
        if mine is None:
            merged[wire] = letter
        elif mine != letter:
            factor_phase, merged[wire] = _LETTER_PRODUCTS[(mine, letter)]
            phase *= factor_phase
    return complex(phase), PauliTerm(tuple(sorted(merged.items())))


def format_pauli_sum(terms: Iterable[tuple[PauliTerm, complex]]) -> str:
    """Write ``(word, coefficient)`` pairs as text that :func:`parse_pauli_sum` reads back.

    Real coefficients use ``repr(float)``, so they round-trip exactly; a coefficient of 1 is
    left out before a word; complex ones are written as ``(re+imj)``. No terms gives ``"0"``.

    Args:
        terms: The pairs, written in the given order.

    Returns:
        The text, e.g. ``"0.5 Z0 Z1 - X1"``.

    >>> format_pauli_sum([(PauliTerm(()), 1.5 + 0j), (PauliTerm(((1, "X"),)), -1 + 0j)])
    '1.5 - X1'

    """
    parts = [_format_term(term, c, first=i == 0) for i, (term, c) in enumerate(terms)]
    return "".join(parts) if parts else "0"


def _format_term(term: PauliTerm, c: complex, *, first: bool) -> str:
    """One term of ``str(obs)``, with its joining sign unless it is the first."""
    if c.imag != 0.0:
        text = repr(c) if repr(c).startswith("(") else f"({c!r})"
        sign = "" if first else " + "
    else:
        sign = ("-" if c.real < 0 else "") if first else (" - " if c.real < 0 else " + ")
        text = repr(abs(c.real))
        if term.factors and text == "1.0":
            text = ""  # "Z0" rather than "1.0 Z0"
    words = "" if not term.factors else str(term)
    return sign + " ".join(part for part in (text, words) if part)


def parse_pauli_sum(text: str) -> list[tuple[PauliTerm, complex]]:
    """Read a weighted Pauli sum such as ``"0.5 Z0 Z1 - 1.2 X1"`` into ``(word, coefficient)``.

    Factors are ``X<wire>``, ``Y<wire>``, ``Z<wire>`` or ``I``/``I<wire>``, joined by
    spaces, ``*`` or ``@`` (all meaning the operator product, so ``X0 Y0`` is ``1j Z0``); a
    coefficient is a real or imaginary literal (``0.5``, ``1e-3``, ``2j``) or a parenthesised
    complex one such as ``(0.5+1j)``, optionally followed by ``*``. A term of only a
    coefficient multiplies the identity. Like terms are not combined here.

    Args:
        text: The expression.

    Returns:
        One pair per term, in the order written.

    Raises:
        ObservableParseError: Quoting the offending token and its position.

    >>> [(str(word), c) for word, c in parse_pauli_sum("2*X0 - Z0@Z1")]
    [('X0', (2+0j)), ('Z0 Z1', (-1+0j))]

    """
    return _Parser(text).parse()


_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[jJ]?)
      | (?P<complex>\([^()]*\))
      | (?P<word>[A-Za-z_]\w*)
      | (?P<op>[-+*@])
      | (?P<bad>.)""",
    re.VERBOSE | re.ASCII,  # ASCII: "Z٣" must not parse as Z3
)
_FACTOR = re.compile(r"(?P<letter>[XYZ])(?P<wire>\d+)|I\d*", re.ASCII)


class _Parser:
    """Recursive-descent parser for :meth:`Observable.parse` over a flat token list."""

    def __init__(self, text: str) -> None:
        if not isinstance(text, str):
            raise ObservableParseError(f"expected a string to parse, got {text!r}")
        self.text = text
        self.tokens = [
            (m.lastgroup or "bad", m.group(), m.start())
            for m in _TOKEN.finditer(text)
            if m.lastgroup != "space"
        ]
        self.pos = 0

    def error(self, expected: str) -> ObservableParseError:
        if self.pos >= len(self.tokens):
            return ObservableParseError(f"unexpected end of {self.text!r}; expected {expected}")
        _, token, where = self.tokens[self.pos]
        return ObservableParseError(
            f"unexpected token {token!r} at position {where} in {self.text!r}; expected {expected}"
        )

    def peek(self) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            return "end", ""
        kind, token, _ = self.tokens[self.pos]
        return kind, token

    def parse(self) -> list[tuple[PauliTerm, complex]]:
        terms: list[tuple[PauliTerm, complex]] = []
        sign = 1.0
        if self.peek() in (("op", "-"), ("op", "+")):
            sign = -1.0 if self.peek()[1] == "-" else 1.0
            self.pos += 1
        while True:
            term, coefficient = self.term()
            terms.append((term, sign * coefficient))
            kind, token = self.peek()
            if kind == "end":
                return terms
            if (kind, token) not in (("op", "+"), ("op", "-")):
                raise self.error("'+', '-' or the end")
            sign = -1.0 if token == "-" else 1.0
            self.pos += 1

    def term(self) -> tuple[PauliTerm, complex]:
        coefficient: complex = 1 + 0j
        kind, token = self.peek()
        has_number = kind in ("number", "complex")
        if has_number:
            coefficient = self.number(token)
            self.pos += 1
            if self.peek() == ("op", "*"):
                self.pos += 1
                if self.peek()[0] != "word":
                    raise self.error("a Pauli factor after '*'")
        elif kind != "word":
            raise self.error("a coefficient or a Pauli factor such as 'Z0'")
        word = PauliTerm(())
        while self.peek()[0] == "word":
            phase, word = multiply_terms(word, self.factor(self.peek()[1]))
            coefficient *= phase
            self.pos += 1
            if self.peek() in (("op", "*"), ("op", "@")):
                self.pos += 1
                if self.peek()[0] != "word":
                    raise self.error("a Pauli factor such as 'Z0'")
        return word, coefficient

    def number(self, token: str) -> complex:
        try:
            value = complex(token)
        except ValueError:
            raise self.error("a number such as 0.5 or (0.5+1j)") from None
        if not (math.isfinite(value.real) and math.isfinite(value.imag)):
            raise self.error("a finite number")
        return value

    def factor(self, token: str) -> PauliTerm:
        match = _FACTOR.fullmatch(token)
        if match is None:
            raise self.error("a Pauli factor such as 'X0', 'Y1', 'Z2' or 'I'")
        if match.group("letter") is None:
            return PauliTerm(())
        return PauliTerm(((int(match.group("wire")), match.group("letter")),))
