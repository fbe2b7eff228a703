"""The JSON form of a circuit and its content hash.

``{"format": "qtrain.circuit", "version": 1, "n_qubits": n, "ops": [...]}``, one entry per op
(``gate``, ``wires`` and, where present, ``args``, ``word``, ``matrix`` as ``[re, im]`` pairs).
Reading it back re-validates every op (:func:`~qtrain.ir.ops.make_op`).
:meth:`Circuit.to_dict <qtrain.ir.circuit.Circuit.to_dict>` and ``from_dict`` use these.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from qtrain.errors import CircuitError
from qtrain.ir.ops import Op, make_op
from qtrain.ir.params import arg_from_json, arg_to_json

__all__ = ["circuit_dict", "content_hash", "ops_from_dict"]

_OP_KEYS = frozenset({"gate", "wires", "args", "word", "matrix"})


def _op_dict(op: Op) -> dict[str, Any]:
    entry: dict[str, Any] = {"gate": op.gate, "wires": list(op.wires)}
    if op.args:
        entry["args"] = [arg_to_json(a) for a in op.args]
    if op.word:
        entry["word"] = op.word
    if op.matrix:
        entry["matrix"] = [[v.real, v.imag] for v in op.matrix]
    return entry


def circuit_dict(n_qubits: int, ops: Sequence[Op]) -> dict[str, Any]:
    """The JSON-ready form of a circuit on ``n_qubits`` wires with ``ops``."""
    entries = [_op_dict(op) for op in ops]
    return {"format": "qtrain.circuit", "version": 1, "n_qubits": n_qubits, "ops": entries}


def _op_from_dict(entry: dict[str, Any]) -> Op:
    unknown = set(entry) - _OP_KEYS
    if unknown:
        raise CircuitError(f"unknown op key(s) {sorted(unknown)} in {entry!r}")
    matrix = entry.get("matrix")
    if matrix is not None:
        dim = round(len(matrix) ** 0.5)
        matrix = np.array([complex(r, i) for r, i in matrix]).reshape(dim, dim)
    args = [arg_from_json(a) for a in entry.get("args", [])]
    return make_op(entry["gate"], entry["wires"], args, word=entry.get("word", ""), matrix=matrix)


def ops_from_dict(data: dict[str, Any]) -> tuple[Any, tuple[Op, ...]]:
    """``(n_qubits, ops)`` of :func:`circuit_dict` output, every op re-validated.

    ``n_qubits`` is returned as found; the circuit built from it checks it.

    Raises:
        CircuitError: not a qtrain circuit dict, or an unknown op key.
    """
    if data.get("format") != "qtrain.circuit":
        raise CircuitError(f"not a qtrain circuit dict: format={data.get('format')!r}")
    ops = tuple(_op_from_dict(entry) for entry in data.get("ops", []))
    return data["n_qubits"], ops


def content_hash(data: dict[str, Any]) -> str:
    """sha256 hex of ``data`` as canonical JSON (sorted keys, no spaces)."""
    text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
