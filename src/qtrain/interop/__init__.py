"""Circuits and observables in and out of other libraries' forms (DESIGN.md §8, level ``ir``).

* :mod:`qtrain.interop.qasm`: OpenQASM 2 and 3 ``loads`` / ``dumps`` (``qt.qasm``), a parser
  and writer of our own that imports no other library.
* :mod:`qtrain.interop.qiskit`: ``to_qiskit`` / ``from_qiskit`` (``QuantumCircuit`` with a
  ``ParameterVector``, affine parameter expressions kept) and ``to_sparse_pauli_op`` /
  ``from_sparse_pauli_op``. Needs the ``qiskit`` extra: ``pip install 'qtrain[qiskit]'``.

Qiskit orders a state's index little-endian (qubit 0 is the least significant bit) and qtrain
big-endian (wire 0 is the most significant); wire ``w`` is qubit ``w`` and the conversions
account for the difference (see :mod:`qtrain.interop.qiskit`).

Importing this package imports no third-party library: the four Qiskit functions below are
loaded from :mod:`qtrain.interop.qiskit` on first use, so ``qtrain.interop.<name>`` raises
the extra's clear ``ConfigError`` only when Qiskit is missing *and* a Qiskit function is used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from qtrain.interop.qiskit import from_qiskit as from_qiskit
    from qtrain.interop.qiskit import from_sparse_pauli_op as from_sparse_pauli_op
    from qtrain.interop.qiskit import to_qiskit as to_qiskit
    from qtrain.interop.qiskit import to_sparse_pauli_op as to_sparse_pauli_op

__all__ = ["from_qiskit", "from_sparse_pauli_op", "to_qiskit", "to_sparse_pauli_op"]

_LAZY = {name: "qtrain.interop.qiskit" for name in __all__}


def __getattr__(name: str) -> object:
    """Load the Qiskit functions on first access (PEP 562), keeping this import cheap."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'qtrain.interop' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


def __dir__() -> list[str]:
    """The Qiskit functions and the ``qasm`` module, not this module's imports."""
    return sorted([*__all__, "qasm"])
