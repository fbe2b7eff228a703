"""The gate vocabulary of qtrain's OpenQASM reader: native gates, expansions, ``ctrl @`` forms.

Every name of ``qelib1.inc`` (OpenQASM 2, as Qiskit ships it) and ``stdgates.inc`` (OpenQASM 3)
is known without reading the include file. Names are given Qiskit's matrices (the de-facto
meaning of both libraries; the OpenQASM 3 ``stdgates.inc`` text differs from them only by
global phases, which a circuit of expectation values cannot see).

* :data:`NATIVE` names map one-to-one onto a qtrain gate, exactly (no phase): ``U``, ``u``,
  ``u3`` → U3; ``p``, ``u1``, ``phase`` → PhaseShift; ``rz`` → RZ = exp(-iθZ/2) (qelib1's text
  defines ``rz`` as ``u1``, equal up to the global phase e^{-iθ/2}); ``cp``, ``cu1``,
  ``cphase`` → CPhase; ``rxx``, ``rzz`` → RXX, RZZ (qelib1's texts agree up to a global
  phase); ``id`` → I; and the rest by name.
* :data:`PRELUDE` defines the others as qtrain gates, exactly (``u2`` = U3(π/2, φ, λ);
  ``ch`` = RY(-π/4)·CZ·RY(π/4); ``csx`` = CRX(π/2)·P(π/4) on the control; ``cu3``, ``cu`` with
  the phase γ on the control; ``cswap``; qelib1's ``rccx rc3x c3x c3sqrtx c4x``, ``ccz``).
* ``gphase(γ)`` is a global phase and is dropped (PennyLane's exporter writes it with a qubit).
* :data:`CONTROLLED` resolves ``ctrl @ x`` to ``cx``, ``ctrl @ ctrl @ x`` to ``ccx``, ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.gates import GATES, GateSpec, pauli_rot_spec
from qtrain.ir.ops import Op
from qtrain.ir.params import ParamExpr

__all__ = [
    "CONTROLLED",
    "NATIVE",
    "PRELUDE",
    "recognizable",
    "same_up_to_phase",
    "unitary_of",
]

_SAME_NAME = ("x", "y", "z", "h", "s", "t", "sx", "rx", "ry", "rz")
_SAME_NAME_2 = ("cy", "cz", "swap", "crx", "cry", "crz", "rxx", "ryy", "rzz", "rzx", "ccx")

NATIVE: Mapping[str, str] = {
    **{name: GATES[name.upper()].name for name in _SAME_NAME + _SAME_NAME_2},
    "sdg": "Sdg",
    "tdg": "Tdg",
    "sxdg": "SXdg",
    "U": "U3",
    "u": "U3",
    "u3": "U3",
    "CX": "CNOT",
    "cx": "CNOT",
    "id": "I",
    "p": "PhaseShift",
    "u1": "PhaseShift",
    "phase": "PhaseShift",
    "cp": "CPhase",
    "cu1": "CPhase",
    "cphase": "CPhase",
    "iswap": "ISWAP",
    "iswapdg": "ISWAPdg",
}
"""OpenQASM name → the qtrain gate it is, exactly."""

PRELUDE = """
gate u2(phi,lambda) q { U(pi/2,phi,lambda) q; }
gate u0(gamma) q { id q; }
gate ch a,b { ry(-pi/4) b; cz a,b; ry(pi/4) b; }
gate csx a,b { crx(pi/2) a,b; p(pi/4) a; }
gate cu3(theta,phi,lambda) c,t { p((lambda+phi)/2) c; p((lambda-phi)/2) t; cx c,t;
  U(-theta/2,0,-(phi+lambda)/2) t; cx c,t; U(theta/2,phi,0) t; }
gate cu(theta,phi,lambda,gamma) c,t { p(gamma) c; cu3(theta,phi,lambda) c,t; }
gate cswap a,b,c { cx c,b; ccx a,b,c; cx c,b; }
gate ccz a,b,c { h c; ccx a,b,c; h c; }
gate rccx a,b,c { u2(0,pi) c; u1(pi/4) c; cx b,c; u1(-pi/4) c; cx a,c; u1(pi/4) c; cx b,c;
  u1(-pi/4) c; u2(0,pi) c; }
gate rc3x a,b,c,d { u2(0,pi) d; u1(pi/4) d; cx c,d; u1(-pi/4) d; u2(0,pi) d; cx a,d;
  u1(pi/4) d; cx b,d; u1(-pi/4) d; cx a,d; u1(pi/4) d; cx b,d; u1(-pi/4) d; u2(0,pi) d;
  u1(pi/4) d; cx c,d; u1(-pi/4) d; u2(0,pi) d; }
gate c3x a,b,c,d { h d; p(pi/8) a; p(pi/8) b; p(pi/8) c; p(pi/8) d; cx a,b; p(-pi/8) b;
  cx a,b; cx b,c; p(-pi/8) c; cx a,c; p(pi/8) c; cx b,c; p(-pi/8) c; cx a,c; cx c,d;
  p(-pi/8) d; cx b,d; p(pi/8) d; cx c,d; p(-pi/8) d; cx a,d; p(pi/8) d; cx c,d; p(-pi/8) d;
  cx b,d; p(pi/8) d; cx c,d; p(-pi/8) d; cx a,d; h d; }
gate c3sqrtx a,b,c,d { h d; cu1(pi/8) a,d; h d; cx a,b; h d; cu1(-pi/8) b,d; h d; cx a,b;
  h d; cu1(pi/8) b,d; h d; cx b,c; h d; cu1(-pi/8) c,d; h d; cx a,c; h d; cu1(pi/8) c,d;
  h d; cx b,c; h d; cu1(-pi/8) c,d; h d; cx a,c; h d; cu1(pi/8) c,d; h d; }
gate c4x a,b,c,d,e { h e; cu1(pi/2) d,e; h e; c3x a,b,c,d; h e; cu1(-pi/2) d,e; h e;
  c3x a,b,c,d; c3sqrtx a,b,c,e; }
"""
"""Gates without a qtrain equivalent, defined (in OpenQASM 2) by exact qtrain-gate bodies."""

CONTROLLED: Mapping[tuple[str, int], str] = {
    ("x", 1): "cx",
    ("x", 2): "ccx",
    ("x", 3): "c3x",
    ("x", 4): "c4x",
    ("cx", 1): "ccx",
    ("CX", 1): "ccx",
    ("y", 1): "cy",
    ("z", 1): "cz",
    ("cz", 1): "ccz",
    ("h", 1): "ch",
    ("sx", 1): "csx",
    ("rx", 1): "crx",
    ("ry", 1): "cry",
    ("rz", 1): "crz",
    ("p", 1): "cp",
    ("phase", 1): "cp",
    ("u1", 1): "cp",
    ("gphase", 1): "p",
    ("swap", 1): "cswap",
    ("U", 1): "cu3",
    ("u", 1): "cu3",
    ("u3", 1): "cu3",
}
"""``(gate, number of ctrl @)`` → the library gate that is that controlled gate."""

_PAULI_NAME = re.compile(r"pauli_?(?:rot_?)?([IXYZ]+)", re.IGNORECASE)


def recognizable(name: str) -> tuple[GateSpec, str] | None:
    """``(spec, word)`` of the qtrain gate a gate definition called ``name`` may stand for.

    A file that defines ``rzz`` (Qiskit's OpenQASM 3 exporter does) or ``pauli_XZ`` (qtrain's
    writer does) gets the qtrain gate itself when the body is that gate up to a global phase.
    """
    if name in NATIVE:
        return GATES[NATIVE[name]], ""
    match = _PAULI_NAME.fullmatch(name)
    if match is not None:
        word = match.group(1).upper()
        return pauli_rot_spec(word), word
    return None


def unitary_of(n_wires: int, ops: Sequence[Op]) -> NDArray[np.complex128]:
    """The dense unitary of constant-angle ops on wires ``0..n_wires-1`` (0 most significant)."""
    state = np.eye(2**n_wires, dtype=np.complex128).reshape((2,) * n_wires + (2**n_wires,))
    for op in ops:
        k = len(op.wires)
        angles = [a for a in op.args if not isinstance(a, ParamExpr)]
        if len(angles) != len(op.args):
            raise ValueError("unitary_of needs constant angles")
        local = op.spec.matrix(*angles).reshape((2,) * (2 * k))
        state = np.tensordot(local, state, axes=(list(range(k, 2 * k)), list(op.wires)))
        state = np.moveaxis(state, list(range(k)), list(op.wires))
    result: NDArray[np.complex128] = state.reshape(2**n_wires, 2**n_wires)
    return result


def same_up_to_phase(a: NDArray[np.complex128], b: NDArray[np.complex128]) -> bool:
    """True when ``a = e^{iγ}·b`` to 1e-9."""
    pivot = np.unravel_index(int(np.argmax(np.abs(b))), b.shape)
    if abs(b[pivot]) < 1e-9:
        return False
    phase = a[pivot] / b[pivot]
    return bool(abs(abs(phase) - 1.0) < 1e-9 and np.allclose(a, phase * b, atol=1e-9, rtol=0))
