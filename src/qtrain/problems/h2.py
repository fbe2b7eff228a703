"""The hydrogen molecule in a minimal basis: the standard 4-qubit VQE benchmark.

H₂ at bond length 0.7414 Å in STO-3G, Jordan–Wigner encoded, spin orbitals ordered
(1σg↑, 1σg↓, 1σu↑, 1σu↓) on wires 0–3; coefficients in Hartree as tabulated by O'Malley et
al., Phys. Rev. X 6, 031007 (2016) and reproduced by the usual quantum-chemistry front ends.
The Hartree–Fock state is ``|1100⟩`` (energy −1.1173 Ha); the exact ground-state (FCI) energy
is −1.1362 Ha, which the tests recompute by dense diagonalisation.

>>> round(H2_FCI_ENERGY, 6)
-1.136189
"""

from __future__ import annotations

from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.ir.params import P

__all__ = ["H2_FCI_ENERGY", "H2_HF_ENERGY", "h2_ansatz", "h2_hamiltonian"]

H2_FCI_ENERGY = -1.136189454065923
"""Exact ground-state energy of :func:`h2_hamiltonian` (Hartree)."""

H2_HF_ENERGY = -1.117349034990280
"""Energy of the Hartree–Fock state ``|1100⟩`` (Hartree)."""

_H2_TERMS = """
-0.04207897647782276
+ 0.17771287465139946 Z0 + 0.17771287465139946 Z1
- 0.24274280513140462 Z2 - 0.24274280513140462 Z3
+ 0.17059738328801052 Z0 Z1 + 0.12293305056183798 Z0 Z2 + 0.16768319457718960 Z0 Z3
+ 0.16768319457718960 Z1 Z2 + 0.12293305056183798 Z1 Z3 + 0.17627640804319591 Z2 Z3
+ 0.04475014401535161 Y0 X1 X2 Y3 - 0.04475014401535161 Y0 Y1 X2 X3
- 0.04475014401535161 X0 X1 Y2 Y3 + 0.04475014401535161 X0 Y1 Y2 X3
"""


def h2_hamiltonian() -> Observable:
    """The 15-term qubit Hamiltonian of H₂ (STO-3G, 0.7414 Å)."""
    return Observable.parse(" ".join(_H2_TERMS.split()))


def h2_ansatz() -> Circuit:
    """Hartree–Fock ``|1100⟩`` followed by the double excitation ``|1100⟩ → |0011⟩``.

    The Jordan–Wigner double excitation is eight commuting Pauli rotations, all tied to one
    parameter θ₀ with scale ±⅛, so ``|1100⟩ → cos(θ₀/2)|1100⟩ + sin(θ₀/2)|0011⟩`` (the
    Givens-rotation form of PennyLane's ``DoubleExcitation``). One parameter reaches the
    exact ground state, at θ₀ ≈ 0.20973 for this geometry.
    """
    circuit = Circuit(4).x(0).x(1)
    wires = (0, 1, 2, 3)
    for word, sign in _DOUBLE_EXCITATION:
        circuit = circuit.pauli_rot(word, wires, sign * 0.125 * P(0))
    return circuit


# The Jordan–Wigner double excitation as Pauli words and signs (wires 0, 1, 2, 3).
_DOUBLE_EXCITATION = (
    ("XXXY", -1.0),
    ("XXYX", -1.0),
    ("XYXX", 1.0),
    ("YXXX", 1.0),
    ("XYYY", -1.0),
    ("YXYY", -1.0),
    ("YYXY", 1.0),
    ("YYYX", 1.0),
)
