"""Where a pass put the user's wires: the one thing a transform may change besides the circuit.

Most passes (unitary folding, gate fusion) keep every logical wire where it was. A device
transpiler may not: it places the circuit on physical qubits and routes with SWAPs, so the
observable measured afterwards must be moved the same way. Such a pass reports a
:class:`Layout` next to its circuit (``passes.core.Routing``); a pipeline composes the layouts
of its steps in order.

>>> from qtrain.ir.observables import X, Z
>>> moved = Layout((2, 0), n_qubits=3)          # logical 0 → physical 2, logical 1 → 0
>>> str(moved.observable(Z(0) @ X(1)))
'X0 Z2'
>>> moved.then(Layout((1, 2, 0), n_qubits=3)).wires
(0, 1)
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from qtrain.errors import ObservableWireError, PassError
from qtrain.ir.observables import Observable, PauliTerm

__all__ = ["Layout"]


@dataclass(frozen=True)
class Layout:
    """Logical wire ``i`` of the user's circuit sits on physical wire ``wires[i]``.

    Attributes:
        wires: ``(n,)`` distinct physical wires, one per logical wire.
        n_qubits: physical wires of the output circuit (``>= len(wires)``).

    Raises:
        PassError: a wire is not an int in ``0..n_qubits-1``, or is used twice.
    """

    wires: tuple[int, ...]
    n_qubits: int

    def __post_init__(self) -> None:
        wires = tuple(self.wires)
        n = self.n_qubits
        if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < len(wires):
            raise PassError(f"Layout needs n_qubits >= {len(wires)} (one per wire), got {n!r}")
        for w in wires:
            if isinstance(w, bool) or not isinstance(w, numbers.Integral) or not 0 <= w < n:
                raise PassError(f"Layout wire {w!r} is not a physical wire 0..{n - 1}")
        if len(set(wires)) != len(wires):
            raise PassError(f"Layout puts two logical wires on one physical wire: {wires}")
        object.__setattr__(self, "wires", tuple(int(w) for w in wires))
        object.__setattr__(self, "n_qubits", int(n))

    @staticmethod
    def identity(n_qubits: int) -> Layout:
        """Every wire where it was."""
        return Layout(tuple(range(n_qubits)), n_qubits)

    @property
    def is_identity(self) -> bool:
        """Whether no wire moved and none was added."""
        return self.wires == tuple(range(self.n_qubits))

    def then(self, later: Layout) -> Layout:
        """This layout followed by ``later``, whose logical wires are this one's physical wires.

        Raises:
            PassError: ``later`` places a different number of wires than this one outputs.
        """
        if len(later.wires) != self.n_qubits:
            raise PassError(
                f"cannot compose layouts: the later one places {len(later.wires)} wire(s), "
                f"the earlier one outputs {self.n_qubits}"
            )
        return Layout(tuple(later.wires[w] for w in self.wires), later.n_qubits)

    def observable(self, observable: Observable) -> Observable:
        """``observable`` on the user's wires, moved to the physical wires.

        Raises:
            ObservableWireError: the observable acts on a wire the layout does not place.
        """
        terms = []
        for term, coefficient in observable.terms:
            factors = []
            for wire, letter in term.factors:
                if wire >= len(self.wires):
                    raise ObservableWireError(
                        f"observable acts on wire {wire}; the layout places wires "
                        f"0..{len(self.wires) - 1}"
                    )
                factors.append((self.wires[wire], letter))
            terms.append((PauliTerm(tuple(sorted(factors))), coefficient))
        return Observable.from_terms(terms)
