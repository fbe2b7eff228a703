"""Observables: weighted sums of Pauli words, their algebra and measurement grouping.

An :class:`Observable` is ``Σ_k c_k P_k`` with complex coefficients ``c_k`` and Pauli words
``P_k`` (:class:`~qtrain.ir.pauli.PauliTerm`). It is an immutable, hashable value kept in one
canonical form, so equal operators written differently compare equal and share a
:meth:`Observable.fingerprint`.

>>> H = 0.5 * Z(0) @ Z(1) - X(1)
>>> str(H), Observable.parse(str(H)) == H
('-X1 + 0.5 Z0 Z1', True)
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import numbers
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, SupportsComplex, TypeAlias, TypeGuard

import numpy as np
import numpy.typing as npt

from qtrain.errors import NonHermitianError, ObservableError
from qtrain.ir.grouping import MeasurementGroup, qubitwise_groups
from qtrain.ir.pauli import PauliTerm, check_wire, format_pauli_sum, multiply_terms, parse_pauli_sum

__all__ = ["I", "MeasurementGroup", "Observable", "PauliTerm", "Scalar", "X", "Y", "Z"]

Scalar: TypeAlias = complex | np.number[Any]  # int, float, complex or NumPy; never bool

_IMAG_TOLERANCE = 1e-12  # the largest |imag| of a coefficient that still counts as real
_ZERO_TOLERANCE = 1e-14  # relative to max(1, max|c|): smaller combined coefficients are zero
_DICT_FORMAT = "qtrain.observable/1"
_PAIR = 2


def _is_scalar(value: object) -> TypeGuard[SupportsComplex | complex]:
    # bool is a numbers.Integral, but `True * obs` is far likelier a bug than a scaling.
    return isinstance(value, numbers.Complex) and not isinstance(value, bool)


def _finite(value: SupportsComplex | complex, what: str) -> complex:
    """Convert a number to ``complex``, raising ``ObservableError`` naming it if not finite."""
    number = complex(value)
    if not (math.isfinite(number.real) and math.isfinite(number.imag)):
        raise ObservableError(f"{what} is not finite: {value!r}")
    return number


def _canonical(items: Iterable[tuple[PauliTerm, complex]]) -> tuple[tuple[PauliTerm, complex], ...]:
    """Combine like terms, drop (near-)zero coefficients and sort by ``(weight, factors)``."""
    combined: dict[PauliTerm, complex] = {}
    for term, coefficient in items:
        combined[term] = combined.get(term, 0j) + coefficient
    for term, coefficient in combined.items():
        _finite(coefficient, f"coefficient of term {term}")  # finite inputs can overflow
    cutoff = _ZERO_TOLERANCE * max(1.0, max((abs(c) for c in combined.values()), default=0.0))
    # Adding 0.0 turns -0.0 into 0.0 so equal observables also serialise identically.
    kept = [
        (term, complex(c.real + 0.0, c.imag + 0.0))
        for term, c in combined.items()
        if abs(c) > cutoff
    ]
    kept.sort(key=lambda item: (item[0].weight, item[0].factors))
    return tuple(kept)


def _is_canonical(terms: object) -> bool:
    if not isinstance(terms, tuple):
        return False
    pairs = all(isinstance(t, tuple) and len(t) == _PAIR for t in terms)
    if not pairs or not all(isinstance(w, PauliTerm) and type(c) is complex for w, c in terms):
        return False
    return _canonical(terms) == terms


@dataclass(frozen=True, slots=True)
class Observable:
    """A weighted sum of Pauli words, ``Σ_k c_k P_k``, in canonical form.

    Build one with :func:`X`, :func:`Y`, :func:`Z`, :func:`I` and arithmetic (``+``, ``-``,
    scalar ``*`` and ``/``, ``@`` for the operator product), with :meth:`parse`, or with
    :meth:`from_terms`; direct construction rejects non-canonical ``terms``
    (``ObservableError``).

    Attributes:
        terms: ``(word, coefficient)`` pairs with ``complex`` coefficients: like words
            combined, zero coefficients dropped (``|c| <= 1e-14 * max(1, max|c|)``), sorted
            by ``(weight, factors)`` so the identity, if present, comes first.

    >>> (X(0) + 2 * Z(1) - X(0)).terms == ((PauliTerm(((1, "Z"),)), 2 + 0j),)
    True
    >>> X(0) @ Y(0) == 1j * Z(0)
    True
    """

    terms: tuple[tuple[PauliTerm, complex], ...]
    # Every cache (groups, measurement plans, fingerprints) is keyed by the observable, and
    # hashing 2ⁿ terms costs 14 ms at n = 14 (the global cost), so the hash is computed once.
    _hash: int = field(init=False, repr=False, compare=False)

    # Makes NumPy scalars and arrays defer to our reflected operators, so np.float64(2) * obs
    # calls __rmul__ instead of broadcasting obs as an object array.
    __array_ufunc__: ClassVar[None] = None

    def __post_init__(self) -> None:
        """Reject non-canonical terms, which would break equality and hashing."""
        if not _is_canonical(self.terms):
            raise ObservableError(
                f"Observable terms are not in canonical form: {self.terms!r}; "
                "build observables with Observable.from_terms"
            )
        object.__setattr__(self, "_hash", hash(self.terms))

    def __hash__(self) -> int:
        return self._hash

    def __reduce__(self) -> tuple[type[Observable], tuple[Any, ...]]:
        """Pickle by terms only: a string hash is per process, so it is recomputed there."""
        return (Observable, (self.terms,))

    @classmethod
    def from_terms(cls, terms: Iterable[tuple[PauliTerm, Scalar]]) -> Observable:
        """Build an observable from ``(word, coefficient)`` pairs, canonicalising them.

        Args:
            terms: Pairs in any order; repeated words are summed.

        Raises:
            ObservableError: If a word is not a ``PauliTerm`` or a coefficient is not a finite
                number.

        >>> zz = PauliTerm(((0, "Z"), (1, "Z")))
        >>> str(Observable.from_terms([(zz, 0.25), (zz, 0.25), (PauliTerm(()), 1)]))
        '1.0 + 0.5 Z0 Z1'
        """
        items: list[tuple[PauliTerm, complex]] = []
        for term, coefficient in terms:
            if not isinstance(term, PauliTerm):
                raise ObservableError(f"expected a PauliTerm, got {term!r}")
            if not _is_scalar(coefficient):
                raise ObservableError(f"coefficient of {term} is not a number: {coefficient!r}")
            items.append((term, _finite(coefficient, f"coefficient of term {term}")))
        return cls(_canonical(items))

    @classmethod
    def parse(cls, text: str) -> Observable:
        """Parse a weighted Pauli sum such as ``"0.5 Z0 Z1 - 1.2 X1"``.

        The syntax is that of :func:`qtrain.ir.pauli.parse_pauli_sum`: factors ``X0``,
        ``Y1``, ``Z2``, ``I`` joined by spaces, ``*`` or ``@``; ``0.5``, ``2j`` or ``(re+imj)``
        coefficients; a bare number is a multiple of the identity.

        Raises:
            ObservableParseError: Quoting the offending token and its position.

        >>> str(Observable.parse("-X1 + 2*Y3 + Z0@Z1 + 1.5"))
        '1.5 - X1 + 2.0 Y3 + Z0 Z1'
        """
        return cls.from_terms(parse_pauli_sum(text))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Observable:
        """Rebuild an observable from :meth:`to_dict` output.

        Raises:
            ObservableError: If ``data`` does not have the :meth:`to_dict` shape.
        """
        if data.get("format", _DICT_FORMAT) != _DICT_FORMAT:
            raise ObservableError(
                f"unknown observable format {data.get('format')!r}; expected {_DICT_FORMAT!r}"
            )
        try:
            pairs = [
                (PauliTerm(tuple(map(tuple, item["factors"]))), complex(*item["coefficient"]))
                for item in data["terms"]
            ]
        except ObservableError:
            raise
        except (KeyError, TypeError, ValueError) as exc:
            raise ObservableError(f"malformed observable dict {data!r}: {exc}") from exc
        return cls.from_terms(pairs)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-serialisable form; coefficients are ``[re, im]`` pairs.

        Examples:
            >>> (0.5 * Z(0)).to_dict()["terms"]
            [{'factors': [[0, 'Z']], 'coefficient': [0.5, 0.0]}]
        """
        terms = [
            {"factors": [[w, p] for w, p in term.factors], "coefficient": [c.real, c.imag]}
            for term, c in self.terms
        ]
        return {"format": _DICT_FORMAT, "terms": terms}

    def fingerprint(self) -> str:
        """Return the SHA-256 hex digest of the canonical JSON form (equal ⇔ same digest)."""
        return _fingerprint(self)

    @property
    def coefficients(self) -> tuple[complex, ...]:
        """The coefficients, in term order."""
        return tuple(c for _, c in self.terms)

    @property
    def n_terms(self) -> int:
        """The number of canonical terms, the identity included."""
        return len(self.terms)

    @property
    def is_hermitian(self) -> bool:
        """Whether every coefficient is real to within ``1e-12``."""
        return all(abs(c.imag) <= _IMAG_TOLERANCE for _, c in self.terms)

    def real_coefficients(self) -> npt.NDArray[np.float64]:
        """Return the coefficients as a real array `(T,)`, for expectation values.

        Raises:
            NonHermitianError: If a coefficient has ``|imag| > 1e-12``, naming the term.
        """
        for term, c in self.terms:
            if abs(c.imag) > _IMAG_TOLERANCE:
                raise NonHermitianError(
                    f"term {term} has complex coefficient {c!r}: the observable is not "
                    "Hermitian, so its expectation value is not real"
                )
        return np.array([c.real for _, c in self.terms], dtype=np.float64)

    @property
    def wires(self) -> tuple[int, ...]:
        """The sorted union of the wires of all terms."""
        return tuple(sorted({wire for term, _ in self.terms for wire in term.wires}))

    @property
    def max_wire(self) -> int:
        """The largest wire acted on, or ``-1`` for a multiple of the identity."""
        return max(self.wires, default=-1)

    @property
    def identity_coefficient(self) -> complex:
        """The coefficient of the identity term (``0j`` if there is none)."""
        if self.terms and not self.terms[0][0].factors:
            return self.terms[0][1]
        return 0j

    def groups(self) -> tuple[MeasurementGroup, ...]:
        """Partition the non-identity terms into qubit-wise-commuting measurement groups.

        Greedy: terms in order of decreasing ``|coefficient|`` (ties by index) each join the
        first group whose basis agrees on every shared wire, else open a new group. The
        identity term is in no group. Deterministic, and cached per observable.

        Examples:
            >>> H = Observable.parse("Z0 Z1 + Z1 Z2 + X0 + X1 + X2")
            >>> [(g.basis, g.term_indices) for g in H.groups()]
            [(((0, 'X'), (1, 'X'), (2, 'X')), (0, 1, 2)), (((0, 'Z'), (1, 'Z'), (2, 'Z')), (3, 4))]
        """
        return _qubitwise_groups(self)

    def __str__(self) -> str:
        """Return text that :meth:`parse` reads back to an equal observable."""
        return format_pauli_sum(self.terms)

    def __repr__(self) -> str:
        """Return ``Observable.parse('...')``, which evaluates back to an equal observable."""
        return f"Observable.parse({str(self)!r})"

    def __add__(self, other: object) -> Observable:
        """Add an observable, or a scalar as a multiple of the identity."""
        if isinstance(other, Observable):
            return Observable.from_terms(self.terms + other.terms)
        if _is_scalar(other):
            return Observable.from_terms((*self.terms, (PauliTerm(()), _finite(other, "scalar"))))
        return NotImplemented

    __radd__ = __add__

    def __neg__(self) -> Observable:
        """Negate every coefficient."""
        return Observable.from_terms((term, -c) for term, c in self.terms)

    def __sub__(self, other: object) -> Observable:
        """Subtract an observable, or a scalar as a multiple of the identity."""
        if isinstance(other, Observable):
            return self + (-other)
        if _is_scalar(other):
            return self + (-_finite(other, "scalar"))
        return NotImplemented

    def __rsub__(self, other: object) -> Observable:
        """Compute ``scalar - self``."""
        if _is_scalar(other):
            return -self + _finite(other, "scalar")
        return NotImplemented

    def __mul__(self, other: object) -> Observable:
        """Scale by a scalar (use ``@`` for the product of two observables)."""
        if _is_scalar(other):
            factor = _finite(other, "scalar")
            return Observable.from_terms((term, c * factor) for term, c in self.terms)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, other: object) -> Observable:
        """Divide by a scalar; dividing by zero raises ``ZeroDivisionError``."""
        if _is_scalar(other):
            return self * (1 / _finite(other, "scalar"))
        return NotImplemented

    def __matmul__(self, other: object) -> Observable:
        """Return the operator product ``self · other`` (Pauli phases included)."""
        if not isinstance(other, Observable):
            return NotImplemented
        products = []
        for left, a in self.terms:
            for right, b in other.terms:
                phase, word = multiply_terms(left, right)
                products.append((word, a * b * phase))
        return Observable.from_terms(products)


@functools.lru_cache(maxsize=1024)
def _fingerprint(observable: Observable) -> str:
    """Cached: the executor keys every row by it (12–34 µs per call uncached)."""
    text = json.dumps(observable.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1024)
def _qubitwise_groups(observable: Observable) -> tuple[MeasurementGroup, ...]:
    """Cached per observable (observables are hashable, and their hash is cached)."""
    return qubitwise_groups(observable.terms)


def _single(wire: object, letter: str) -> Observable:
    return Observable(((PauliTerm(((check_wire(wire), letter),)), 1 + 0j),))


def X(wire: int) -> Observable:  # noqa: N802  # Pauli operators are uppercase by convention
    """Return the Pauli ``X`` on ``wire`` (coefficient 1); bad wires: ObservableWireError.

    >>> str(X(0) @ X(1))
    'X0 X1'

    """
    return _single(wire, "X")


def Y(wire: int) -> Observable:  # noqa: N802  # Pauli operators are uppercase by convention
    """Return the Pauli ``Y`` on ``wire`` (coefficient 1); bad wires: ObservableWireError."""
    return _single(wire, "Y")


def Z(wire: int) -> Observable:  # noqa: N802  # Pauli operators are uppercase by convention
    """Return the Pauli ``Z`` on ``wire`` (coefficient 1); bad wires: ObservableWireError."""
    return _single(wire, "Z")


def I() -> Observable:  # noqa: E743, N802  # the identity is conventionally named I
    """Return the identity operator, with coefficient 1.

    >>> I().identity_coefficient
    (1+0j)

    """
    return Observable(((PauliTerm(()), 1 + 0j),))
