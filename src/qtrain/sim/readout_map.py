"""Readout errors on measured outcomes: exactly on probabilities and on eigenvalue tables.

Independent per-qubit errors act on a group's outcome distribution ``p (2ⁿ,)`` as the tensor
product of the confusion matrices, ``p' = (⊗_w A_w) p`` with ``A[read, prepared]``
(``noise.ReadoutError.confusion_matrix``): drawing outcomes from ``p'`` is the same as drawing
from ``p`` and flipping each bit with its error probability. The exact value of a group with
outcome eigenvalues ``D`` is then ``p'·D = p·(Aᵀ D)``: the eigenvalue table is mapped once
and measured as before. This equals the expansion of each measured Pauli word over its
sub-words (``noise.readout.pauli_readout_terms``) and costs ``O(m·2ⁿ)`` per group for ``m``
erring wires, whatever the number of terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from qtrain.noise.readout import ReadoutError

__all__ = ["ReadoutMap"]

Real = NDArray[np.float64]


class _HasEigenvalues(Protocol):
    @property
    def eigenvalues(self) -> Real: ...


def _on_wire(values: Real, matrix: Real, wire: int, n_qubits: int) -> Real:
    """Apply a 2×2 ``matrix`` to the axis of ``wire`` of ``values (..., 2ⁿ)``."""
    lead = values.shape[:-1]
    view = values.reshape(*lead, 1 << wire, 2, 1 << (n_qubits - wire - 1))
    out = np.einsum("ij,...ajc->...aic", matrix, view)
    return np.ascontiguousarray(out.reshape(values.shape))


@dataclass(frozen=True)
class ReadoutMap:
    """The readout errors of an ``n_qubits`` register, as maps on outcome tables.

    Attributes:
        n_qubits: register size.
        errors: ``((wire, error), ...)`` for the wires that misread, sorted by wire.
    """

    n_qubits: int
    errors: tuple[tuple[int, ReadoutError], ...]
    _tables: dict[int, tuple[object, Real]] = field(
        default_factory=dict, compare=False, hash=False, repr=False
    )

    @classmethod
    def of(cls, errors: Mapping[int, ReadoutError], n_qubits: int) -> ReadoutMap | None:
        """The map of ``errors`` (wire → error), or ``None`` when no wire misreads."""
        kept = tuple((w, e) for w, e in sorted(errors.items()) if not e.is_trivial)
        return cls(n_qubits, kept) if kept else None

    def apply(self, probabilities: Real) -> Real:
        """Misread distributions ``A p`` of ``probabilities (..., 2ⁿ)``."""
        out = probabilities
        for wire, error in self.errors:
            out = _on_wire(out, error.confusion_matrix(), wire, self.n_qubits)
        return out

    def eigenvalues(self, group: _HasEigenvalues) -> Real:
        """``Aᵀ D`` of ``group.eigenvalues`` (cached per group object): the exact readout map."""
        cached = self._tables.get(id(group))
        if cached is not None and cached[0] is group:
            return cached[1]
        table = group.eigenvalues
        for wire, error in self.errors:
            table = _on_wire(table, error.confusion_matrix().T, wire, self.n_qubits)
        table.setflags(write=False)
        self._tables[id(group)] = (group, table)  # holds the group: its id is not reused
        return table
