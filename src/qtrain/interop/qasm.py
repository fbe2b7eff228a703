"""OpenQASM 2 and 3 in and out: :func:`loads` / :func:`dumps` (and :func:`load` / :func:`dump`).

A pure reader and writer: nothing here needs Qiskit. The version is read from the header
(``OPENQASM 2.0;``, ``OPENQASM 3;`` or ``OPENQASM 3.0;``; a program without one is an error).
``q[0]`` is qtrain's wire 0 (as in the Qiskit converter, where Qiskit qubit k is wire k);
several registers are concatenated in declaration order. OpenQASM 3 ``input float[64]``
(or ``angle``) parameters become ``qt.P(k)`` in declaration order, and arithmetic on them must
stay affine (``2.0*gamma + 0.3``, ``-gamma/2``, ``pi*gamma``). Global phases (``gphase``, the
phase conventions of ``stdgates.inc``) are dropped: qtrain circuits compute expectation
values, which do not see them. What is read and how each gate maps:
:mod:`qtrain.interop.qasm_parse`, :mod:`qtrain.interop.qasm_gates`,
:mod:`qtrain.interop.qasm_build`; what is written: :mod:`qtrain.interop.qasm_write`.

Every error is a :class:`QasmError` (an ``InteropError``) naming the line and the offending
token.

>>> text = 'OPENQASM 3.0; include "stdgates.inc"; input float[64] gamma; qubit[1] q; '
>>> c = loads(text + 'rz(2.0*gamma + 0.3) q[0];')
>>> c.ops[0].gate, str(c.ops[0].args[0])
('RZ', '2·θ0 + 0.3')
>>> print(dumps(c), end="")
OPENQASM 3.0;
include "stdgates.inc";
input float[64] p0;
qubit[1] q;
rz(2.0*p0 + 0.3) q[0];
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from qtrain.errors import StorageError
from qtrain.interop.qasm_lex import QasmError
from qtrain.interop.qasm_parse import QasmProgram, parse_program
from qtrain.interop.qasm_write import write
from qtrain.ir.circuit import Circuit

__all__ = ["QasmError", "QasmProgram", "dump", "dumps", "load", "loads", "parse"]


def parse(text: str) -> QasmProgram:
    """Read an OpenQASM 2 or 3 program: circuit, version, parameter names, measured wires.

    Raises:
        QasmError: naming the line and the offending token.
    """
    return parse_program(text)


def loads(text: str) -> Circuit:
    """The circuit of an OpenQASM 2 or 3 program (``input`` parameter k becomes ``qt.P(k)``).

    Raises:
        QasmError: naming the line and the offending token.
    """
    return parse_program(text).circuit


def dumps(circuit: Circuit, version: int = 3, *, theta: Sequence[float] | None = None) -> str:
    """The circuit as an OpenQASM ``version`` (2 or 3) program.

    Args:
        circuit: the circuit.
        version: 3 (default; parameters become ``input float[64] p<k>``) or 2.
        theta: values to bind first; required for a parameterized circuit in version 2.

    Raises:
        QasmError: a parameterized circuit for version 2 without ``theta``, a ``Unitary`` on
            more than one qubit, a version other than 2 or 3.
    """
    return write(circuit, version, theta)


def load(path: str | os.PathLike[str]) -> Circuit:
    """The circuit in the OpenQASM file ``path``.

    Raises:
        QasmError: naming the file, the line and the offending token (or: no such file).
        StorageError: the file exists but cannot be read.
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise QasmError("no such file", source=os.fspath(path)) from None
    except OSError as error:
        raise StorageError.from_os(error, path, "read the OpenQASM file") from None
    try:
        return parse_program(text).circuit
    except QasmError as error:
        raise error.located(os.fspath(path)) from None


def dump(
    circuit: Circuit,
    path: str | os.PathLike[str],
    version: int = 3,
    *,
    theta: Sequence[float] | None = None,
) -> None:
    """Write the circuit to ``path`` as OpenQASM ``version`` (see :func:`dumps`).

    Raises:
        QasmError: as :func:`dumps`.
        StorageError: the file cannot be written.
    """
    text = write(circuit, version, theta)
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError as error:
        raise StorageError.from_os(error, path, "write the OpenQASM file") from None


def __dir__() -> list[str]:
    """The public API only (``__all__``), not the names this module imports."""
    return sorted(__all__)
