"""Named one-line builders for the registered gates: ``c.ry(0, P(0)).cnot(0, 1)``.

:class:`GateBuilders` is a mixin of :class:`~qtrain.ir.circuit.Circuit`; every method goes
through ``Circuit.gate`` (validation and the new immutable circuit live there).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qtrain.ir.circuit import Circuit

__all__ = ["GateBuilders"]


class GateBuilders:
    """The named gate methods of a circuit; each returns a new circuit."""

    __slots__ = ()

    def gate(self, name: str, wires: int | Sequence[int], *args: object) -> Circuit:
        """Append any registered gate by name (implemented by the circuit)."""
        raise NotImplementedError

    def i(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("I", q)

    def x(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("X", q)

    def y(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Y", q)

    def z(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Z", q)

    def h(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("H", q)

    def s(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("S", q)

    def sdg(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Sdg", q)

    def t(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("T", q)

    def tdg(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("Tdg", q)

    def sx(self, q: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("SX", q)

    def rx(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RX", q, angle)

    def ry(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RY", q, angle)

    def rz(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RZ", q, angle)

    def phase(self, q: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("PhaseShift", q, angle)

    def u3(self, q: int, theta: object, phi: object, lam: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("U3", q, theta, phi, lam)

    def cnot(self, control: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CNOT", (control, target))

    cx = cnot

    def cy(self, control: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CY", (control, target))

    def cz(self, control: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CZ", (control, target))

    def swap(self, a: int, b: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("SWAP", (a, b))

    def iswap(self, a: int, b: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("ISWAP", (a, b))

    def crx(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CRX", (control, target), angle)

    def cry(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CRY", (control, target), angle)

    def crz(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CRZ", (control, target), angle)

    def cphase(self, control: int, target: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CPhase", (control, target), angle)

    def rxx(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RXX", (a, b), angle)

    def ryy(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RYY", (a, b), angle)

    def rzz(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RZZ", (a, b), angle)

    def rzx(self, a: int, b: int, angle: object) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("RZX", (a, b), angle)

    def ccx(self, c0: int, c1: int, target: int) -> Circuit:  # noqa: D102 - gate in GATES
        return self.gate("CCX", (c0, c1, target))

    toffoli = ccx
