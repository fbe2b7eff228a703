"""Classical readout (measurement assignment) errors, and their exact effect on expectations.

Each measured qubit independently misreports its bit: ``p01 = P(read 1 | prepared 0)`` and
``p10 = P(read 0 | prepared 1)``. For the ±1 eigenvalue ``z = (−1)^bit`` of a measured qubit,
``E[z_read | z] = (1 − p01 − p10)·z + (p10 − p01)``, so a measured Pauli string's expectation
becomes an exact, finite sum over sub-words (:func:`pauli_readout_terms`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import NoiseModelError
from qtrain.ir.serialize import content_hash
from qtrain.noise.channels import check_probability

_DICT_FORMAT = "qtrain.readout_error"

Factors = tuple[tuple[int, str], ...]
"""A Pauli word as ``((wire, letter), ...)`` sorted by wire, letters in ``"XYZ"``."""


@dataclass(frozen=True)
class ReadoutError:
    """Per-qubit readout error.

    Attributes:
        p01: probability of reading 1 when 0 was prepared.
        p10: probability of reading 0 when 1 was prepared.

    Raises:
        NoiseModelError: a probability outside ``[0, 1]`` or not finite, naming it.
    """

    p01: float
    p10: float

    def __post_init__(self) -> None:
        object.__setattr__(self, "p01", check_probability("readout_error", "p01", self.p01))
        object.__setattr__(self, "p10", check_probability("readout_error", "p10", self.p10))

    @property
    def scale(self) -> float:
        """``1 − p01 − p10``: the factor multiplying ⟨Z⟩."""
        return 1.0 - self.p01 - self.p10

    @property
    def shift(self) -> float:
        """``p10 − p01``: the constant added to ⟨Z⟩."""
        return self.p10 - self.p01

    @property
    def is_trivial(self) -> bool:
        """True when both probabilities are zero."""
        return self.p01 == 0.0 and self.p10 == 0.0

    def confusion_matrix(self) -> NDArray[np.float64]:
        """``A[read, prepared]`` (column stochastic): ``[[1 − p01, p10], [p01, 1 − p10]]``.

        >>> readout_error(0.1, 0.2).confusion_matrix()
        array([[0.9, 0.2],
               [0.1, 0.8]])
        """
        return np.array([[1.0 - self.p01, self.p10], [self.p01, 1.0 - self.p10]])

    def expval_z(self, z: float) -> float:
        """The measured ⟨Z⟩ for an ideal ⟨Z⟩ = ``z``: ``(1 − p01 − p10)·z + (p10 − p01)``."""
        return self.scale * z + self.shift

    def flip(self, bits: NDArray[np.integer[Any]], rng: np.random.Generator) -> NDArray[np.int8]:
        """Sampled bits ``(...)`` of one qubit after readout error, drawn from ``rng``."""
        b = np.asarray(bits).astype(np.int8)
        u = rng.random(b.shape)
        flip = np.where(b == 0, u < self.p01, u < self.p10)
        return np.asarray(b ^ flip.astype(np.int8), dtype=np.int8)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` inverts it."""
        return {"format": _DICT_FORMAT, "p01": self.p01, "p10": self.p10}

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> ReadoutError:
        """Rebuild (and revalidate) from :meth:`to_dict`'s form."""
        if data.get("format") != _DICT_FORMAT:
            raise NoiseModelError(f"not a qtrain readout-error dict: format={data.get('format')!r}")
        try:
            return ReadoutError(data["p01"], data["p10"])
        except KeyError as exc:
            raise NoiseModelError(f"readout-error dict lacks {exc}") from exc

    def fingerprint(self) -> str:
        """sha256 hex of the canonical JSON form."""
        return content_hash(
            {
                k: (round(v, 12) + 0.0 if isinstance(v, float) else v)
                for k, v in self.to_dict().items()
            }
        )


def readout_error(p01: float, p10: float) -> ReadoutError:
    """A :class:`ReadoutError`: ``p01 = P(1|0)``, ``p10 = P(0|1)``."""
    return ReadoutError(p01, p10)


def pauli_readout_terms(
    factors: Sequence[tuple[int, str]], errors: Mapping[int, ReadoutError]
) -> tuple[tuple[float, Factors], ...]:
    """The exact expansion of a measured Pauli word's expectation under readout error.

    Each factor is measured (after its basis rotation) as a Z outcome, so under independent
    per-qubit errors ``⟨P_W⟩_read = E[Π_{w∈W} (a_w·z_w + b_w)]`` with ``a_w = 1 − p01_w − p10_w``
    and ``b_w = p10_w − p01_w``, which expands to ``Σ_{S⊆W} (Π_{w∈S} a_w Π_{w∈W∖S} b_w)·⟨P_S⟩``.
    Wires without an error (or with ``b_w = 0``) contribute no sub-words, so the number of
    terms is ``2^m`` for ``m`` wires with biased errors.

    Args:
        factors: the word as ``(wire, letter)`` pairs, letters in ``"XYZ"`` (an empty word is I).
        errors: readout error per wire; wires missing from it are read perfectly.

    Returns:
        ``((coefficient, sub_word), ...)`` with ``sub_word`` sorted by wire, ``()`` = identity,
        sub-words in a deterministic order, zero coefficients dropped.

    >>> pauli_readout_terms([(0, "Z")], {0: readout_error(0.25, 0.5)})
    ((0.25, ()), (0.25, ((0, 'Z'),)))
    """
    maps = {wire: (error.scale, error.shift) for wire, error in errors.items()}
    return affine_word_terms(factors, maps)


def affine_word_terms(
    factors: Sequence[tuple[int, str]], maps: Mapping[int, tuple[float, float]]
) -> tuple[tuple[float, Factors], ...]:
    """Expand ``E[Π_{w∈W} (a_w·z_w + b_w)]`` over the sub-words of the word ``factors``.

    ``maps[w] = (a_w, b_w)``; a wire without a map is ``(1, 0)``. With a readout error's
    ``(scale, shift)`` it is :func:`pauli_readout_terms`; with its inverse ``(1/a, −b/a)`` it
    is readout-error mitigation (``qtrain.mitigation``). Returns ``((coefficient, sub_word),
    ...)`` ordered by (length, word), zero coefficients dropped.
    """
    terms: dict[Factors, float] = {(): 1.0}
    for wire, letter in sorted(factors):
        if letter not in ("X", "Y", "Z"):
            raise NoiseModelError(f"readout: Pauli letter must be X, Y or Z, got {letter!r}")
        a, b = maps.get(wire, (1.0, 0.0))
        grown: dict[Factors, float] = {}
        for word, coeff in terms.items():
            if a != 0.0:
                key = (*word, (wire, letter))
                grown[key] = grown.get(key, 0.0) + coeff * a
            if b != 0.0:
                grown[word] = grown.get(word, 0.0) + coeff * b
        terms = grown
    ordered = sorted(terms.items(), key=lambda kv: (len(kv[0]), kv[0]))
    return tuple((c, w) for w, c in ordered if c != 0.0)


def z_word_readout_terms(
    wires: Sequence[int], errors: Mapping[int, ReadoutError]
) -> tuple[tuple[float, tuple[int, ...]], ...]:
    """:func:`pauli_readout_terms` for the Z-word on ``wires``: ``((coefficient, sub_wires), ...)``.

    >>> z_word_readout_terms([0, 1], {0: readout_error(0.0, 0.2)})
    ((0.2, (1,)), (0.8, (0, 1)))
    """
    if len(set(wires)) != len(wires):
        raise NoiseModelError(f"readout: Z-word wires must be distinct, got {list(wires)}")
    full = pauli_readout_terms([(w, "Z") for w in wires], errors)
    return tuple((c, tuple(w for w, _ in word)) for c, word in full)
