"""The OpenQASM 2/3 writer behind :func:`qtrain.interop.qasm.dumps`.

OpenQASM 3: one ``input float[64] p<k>;`` per parameter index ``0..n_params-1`` (so that
reading it back gives the same ``θ[k]``), affine angles written out exactly (``repr`` of each
float, so every coefficient reads back bit for bit), qubit wire ``k`` as ``q[k]``.
OpenQASM 2 has no free parameters: a parameterized circuit is written with ``theta=`` bound.

Only gates of the original ``qelib1.inc`` (OpenQASM 2, Cross et al. 2017, which is what
Qiskit's strict reader knows) and of ``stdgates.inc`` (OpenQASM 3) are used by name; the
others are written as ``gate`` definitions made of those, each exact (no global phase) unless
noted: ``sxdg`` (``h; sdg; h``), ``iswap`` (Qiskit's body), ``iswapdg``, ``rxx``, ``ryy``,
``rzz``, ``rzx`` (basis change around ``cx; rz; cx``), in QASM 2 also ``sx``, ``swap``,
``crx``, ``cry``; and one ``pauli_<WORD>`` per Pauli word (basis change, CNOT ladder, ``rz``;
the all-identity word is ``gphase(-θ/2)`` in QASM 3 and an empty body, a global phase, in
QASM 2). qtrain's reader recognises each definition and gives back the qtrain gate.

A one-qubit ``Unitary`` is written as ``U(θ, φ, λ)`` (``u3`` in QASM 2) plus, in QASM 3, its
``gphase``; a ``Unitary`` on more qubits is refused (qtrain has no synthesis for it).
"""

from __future__ import annotations

import cmath
import itertools
import math
from collections.abc import Sequence

import numpy as np

from qtrain.interop.qasm_lex import QasmError
from qtrain.ir.circuit import Circuit
from qtrain.ir.ops import Op
from qtrain.ir.params import Arg, ParamExpr

__all__ = ["write"]

_STANDARD = {
    "I": "id",
    "X": "x",
    "Y": "y",
    "Z": "z",
    "H": "h",
    "S": "s",
    "Sdg": "sdg",
    "T": "t",
    "Tdg": "tdg",
    "RX": "rx",
    "RY": "ry",
    "RZ": "rz",
    "CNOT": "cx",
    "CY": "cy",
    "CZ": "cz",
    "CRZ": "crz",
    "CCX": "ccx",
}
"""Names in both the original ``qelib1.inc`` (Cross et al. 2017) and ``stdgates.inc``."""
_BY_VERSION = {
    2: {"PhaseShift": "u1", "CPhase": "cu1", "U3": "u3"},
    3: {"PhaseShift": "p", "CPhase": "cp", "U3": "U", "SX": "sx", "SWAP": "swap"}
    | {"CRX": "crx", "CRY": "cry"},
}
_ZZ = "cx a, b; rz(theta) b; cx a, b;"
_DEFINITIONS = {
    "SX": ("sx", "a", "h a; s a; h a;"),
    "SXdg": ("sxdg", "a", "h a; sdg a; h a;"),
    "SWAP": ("swap", "a, b", "cx a, b; cx b, a; cx a, b;"),
    "CRX": ("crx(theta)", "a, b", "h b; crz(theta) a, b; h b;"),
    "CRY": ("cry(theta)", "a, b", "ry(theta/2) b; cx a, b; ry(-theta/2) b; cx a, b;"),
    "ISWAP": ("iswap", "a, b", "s a; s b; h a; cx a, b; cx b, a; h b;"),
    "ISWAPdg": ("iswapdg", "a, b", "h b; cx b, a; cx a, b; h a; sdg b; sdg a;"),
    "RXX": ("rxx(theta)", "a, b", f"h a; h b; {_ZZ} h a; h b;"),
    "RYY": ("ryy(theta)", "a, b", f"rx(pi/2) a; rx(pi/2) b; {_ZZ} rx(-pi/2) a; rx(-pi/2) b;"),
    "RZZ": ("rzz(theta)", "a, b", _ZZ),
    "RZX": ("rzx(theta)", "a, b", f"h b; {_ZZ} h b;"),
}
"""Gates outside the library of the version, each defined by an exact body of library gates."""
_INTO_Z = {"X": ("h", "h"), "Y": ("rx(pi/2)", "rx(-pi/2)")}


def number(value: float) -> str:
    """``repr`` of a float, with a decimal point (OpenQASM 2 reals need one): exact."""
    text = repr(float(value))
    if "e" in text and "." not in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}.0e{exponent}"
    return text


def _term(scale: float, k: int) -> str:
    if scale == 1.0:
        return f"p{k}"
    if scale == -1.0:
        return f"-p{k}"
    return f"{number(scale)}*p{k}"


def angle(arg: Arg) -> str:
    """A gate argument as OpenQASM 3 text: ``2.0*p0 - 0.5*p1 + 0.3`` (reads back exactly)."""
    if not isinstance(arg, ParamExpr):
        return number(arg)
    text = ""
    for k, scale in arg.terms:
        if text:
            text += (" - " if scale < 0 else " + ") + _term(abs(scale), k)
        else:
            text = _term(scale, k)
    if arg.offset:
        text += (" - " if arg.offset < 0 else " + ") + number(abs(arg.offset))
    return text


def _pauli_definition(word: str, version: int) -> tuple[str, str, str]:
    qubits = [f"a{i}" for i in range(len(word))]
    active = [i for i, letter in enumerate(word) if letter != "I"]
    if not active:
        body = "gphase(-theta/2);" if version == 3 else ""
        return f"pauli_{word}(theta)", ", ".join(qubits), body
    into = [f"{_INTO_Z[word[i]][0]} a{i};" for i in active if word[i] in _INTO_Z]
    back = [f"{_INTO_Z[word[i]][1]} a{i};" for i in active if word[i] in _INTO_Z]
    ladder = [f"cx a{i}, a{j};" for i, j in itertools.pairwise(active)]
    steps = [*into, *ladder, f"rz(theta) a{active[-1]};", *reversed(ladder), *back]
    return f"pauli_{word}(theta)", ", ".join(qubits), " ".join(steps)


def _u3_of(matrix: np.ndarray) -> tuple[float, float, float, float]:
    """``(θ, φ, λ, γ)`` with ``matrix = e^{iγ}·U3(θ, φ, λ)``."""
    c, s = abs(matrix[0, 0]), abs(matrix[1, 0])
    theta = 2.0 * math.atan2(s, c)
    if c > 1e-12:
        gamma = cmath.phase(matrix[0, 0])
        if s > 1e-12:
            phi = cmath.phase(matrix[1, 0]) - gamma
            return theta, phi, cmath.phase(-matrix[0, 1]) - gamma, gamma
        return theta, 0.0, cmath.phase(matrix[1, 1]) - gamma, gamma
    gamma = cmath.phase(matrix[1, 0])
    return theta, 0.0, cmath.phase(-matrix[0, 1]) - gamma, gamma


class _Writer:
    def __init__(self, version: int) -> None:
        self.version = version
        self.definitions: dict[str, str] = {}
        self.lines: list[str] = []

    def define(self, head: str, qubits: str, body: str) -> str:
        name = head.split("(", maxsplit=1)[0]
        if name not in self.definitions:
            sep = ", " if self.version == 3 else ","
            braces = f"{{ {body} }}" if body else "{ }"
            self.definitions[name] = f"gate {head} {qubits.replace(', ', sep)} {braces}"
        return name

    def op(self, op: Op) -> None:
        wires = (", " if self.version == 3 else ",").join(f"q[{w}]" for w in op.wires)
        if op.gate == "Unitary":
            self.unitary(op, wires)
            return
        name = _STANDARD.get(op.gate) or _BY_VERSION[self.version].get(op.gate)
        if name is None and op.gate == "PauliRot":
            name = self.define(*_pauli_definition(op.word, self.version))
        elif name is None:
            name = self.define(*_DEFINITIONS[op.gate])
        args = f"({', '.join(angle(a) for a in op.args)})" if op.args else ""
        self.lines.append(f"{name}{args} {wires};")

    def unitary(self, op: Op, wires: str) -> None:
        if len(op.wires) != 1:
            raise QasmError(
                f"cannot write a {len(op.wires)}-qubit Unitary as OpenQASM: qtrain writes only "
                "one-qubit Unitary gates (as U); decompose it into gates first"
            )
        theta, phi, lam, gamma = _u3_of(np.array(op.matrix).reshape(2, 2))
        name = "U" if self.version == 3 else "u3"
        self.lines.append(f"{name}({number(theta)}, {number(phi)}, {number(lam)}) {wires};")
        if self.version == 3 and gamma:
            self.lines.append(f"gphase({number(gamma)});")


def write(circuit: Circuit, version: int, theta: Sequence[float] | None) -> str:
    """The OpenQASM ``version`` text of ``circuit`` (bound to ``theta`` when given)."""
    if version not in (2, 3):
        raise QasmError(f"OpenQASM version must be 2 or 3, got {version!r}")
    if theta is not None:
        circuit = circuit.bind(theta)
    if version == 2 and circuit.n_params:
        raise QasmError(
            f"OpenQASM 2 has no free parameters and this circuit has {circuit.n_params}: "
            "pass theta= (the values to bind) or use version=3 (input float parameters)"
        )
    writer = _Writer(version)
    for op in circuit.ops:
        writer.op(op)
    if version == 3:
        head = ["OPENQASM 3.0;", 'include "stdgates.inc";']
        head += [f"input float[64] p{k};" for k in range(circuit.n_params)]
        register = f"qubit[{circuit.n_qubits}] q;"
    else:
        head = ["OPENQASM 2.0;", 'include "qelib1.inc";']
        register = f"qreg q[{circuit.n_qubits}];"
    return "\n".join([*head, *writer.definitions.values(), register, *writer.lines]) + "\n"
