"""Qubit-wise-commuting measurement groups of a weighted Pauli sum.

Terms whose words agree on every shared wire can be estimated from the same shots, measured
in one product basis. :func:`qubitwise_groups` partitions the terms of an observable
(``Observable.groups()`` caches it per observable).

>>> from qtrain.ir.pauli import PauliTerm
>>> zz, x = PauliTerm(((0, "Z"), (1, "Z"))), PauliTerm(((1, "X"),))
>>> [g.term_indices for g in qubitwise_groups(((zz, 1 + 0j), (x, 0.5 + 0j)))]
[(0,), (1,)]
"""

from __future__ import annotations

from dataclasses import dataclass

from qtrain.ir.pauli import PauliTerm

__all__ = ["MeasurementGroup", "qubitwise_groups"]


@dataclass(frozen=True, slots=True)
class MeasurementGroup:
    """Terms of one observable that can be estimated from the same shots.

    Attributes:
        basis: Sorted ``(wire, letter)`` pairs, the union of the group's terms' factors:
            measuring each listed wire in that letter's eigenbasis measures every term.
        term_indices: Ascending indices into ``Observable.terms``.

    """

    basis: tuple[tuple[int, str], ...]
    term_indices: tuple[int, ...]

    @property
    def wires(self) -> tuple[int, ...]:
        """The wires the group measures, ascending."""
        return tuple(wire for wire, _ in self.basis)


def qubitwise_groups(
    terms: tuple[tuple[PauliTerm, complex], ...],
) -> tuple[MeasurementGroup, ...]:
    """Partition the non-identity terms into qubit-wise-commuting groups.

    Greedy: terms in order of decreasing ``|coefficient|`` (ties by index) each join the
    first group whose basis agrees on every shared wire, else open a new group. The identity
    term is in no group. Deterministic. The cost is ``O(T·G)`` for ``G`` groups, so a
    diagonal sum (one group) is linear: the 2ⁿ-term global cost groups in 51 ms at n = 14
    (``bench/bench_global_cost.py``), and a special path for it measured no faster.
    """
    order = sorted(
        (i for i, (term, _) in enumerate(terms) if term.factors),
        key=lambda i: (-abs(terms[i][1]), i),
    )
    bases: list[dict[int, str]] = []
    members: list[list[int]] = []
    for index in order:
        factors = terms[index][0].factors
        for basis, indices in zip(bases, members, strict=True):
            if all(basis.get(wire, letter) == letter for wire, letter in factors):
                basis.update(factors)
                indices.append(index)
                break
        else:
            bases.append(dict(factors))
            members.append([index])
    return tuple(
        MeasurementGroup(tuple(sorted(basis.items())), tuple(sorted(indices)))
        for basis, indices in zip(bases, members, strict=True)
    )
