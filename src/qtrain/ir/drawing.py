"""Text drawings of circuits: one line per wire, gates packed into columns.

The packing (:func:`op_columns`) and the gate labels (:func:`op_label`) are shared with the
SVG drawing (:mod:`qtrain.ir.svg`).

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> print(Circuit(2).ry(0, P(0)).cnot(0, 1).draw())
q0: ─RY(θ0)─●─
q1: ────────X─
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from qtrain.ir.params import Arg, ParamExpr

if TYPE_CHECKING:
    from qtrain.ir.circuit import Circuit, Op

__all__ = ["draw_text", "op_columns", "op_label"]


def _format_arg(arg: Arg) -> str:
    return str(arg) if isinstance(arg, ParamExpr) else f"{arg:.4g}"


def op_label(op: Op) -> str:
    """The text of the op's target wires: ``RY(θ0)``, ``X``, ``RX(2·θ1 + 0.3)``."""
    spec = op.spec
    label = spec.label or spec.name
    if op.args:
        label += "(" + ", ".join(_format_arg(a) for a in op.args) + ")"
    return label


def _cells(op: Op) -> dict[int, str]:
    """The text of each wire the op touches (controls as ●, SWAP ends as ×)."""
    spec = op.spec
    if spec.name == "SWAP":
        return {w: "×" for w in op.wires}
    cells = {w: "●" for w in op.wires[: spec.n_controls]}
    targets = op.wires[spec.n_controls :]
    return cells | {w: op_label(op) for w in targets}


def op_columns(circuit: Circuit) -> list[int]:
    """The column of each op: greedily the first where every wire it spans is free."""
    free_at = [0] * circuit.n_qubits  # first column where each wire is free
    placed = []
    for op in circuit.ops:
        low, high = min(op.wires), max(op.wires)
        col = max(free_at[low : high + 1])
        free_at[low : high + 1] = [col + 1] * (high + 1 - low)
        placed.append(col)
    return placed


def draw_text(circuit: Circuit) -> str:
    """Draw ``circuit`` as text, one line per wire, ops packed greedily into columns."""
    n = circuit.n_qubits
    placed = op_columns(circuit)
    columns: list[dict[int, str]] = [{} for _ in range(max(placed, default=-1) + 1)]
    for op, col in zip(circuit.ops, placed, strict=True):
        cells = _cells(op)
        for w in range(min(op.wires), max(op.wires) + 1):
            columns[col][w] = cells.get(w, "│")
    lines = [f"q{w}: ".rjust(len(f"q{n - 1}: ")) + "─" for w in range(n)]
    for column in columns:
        width = max(len(text) for text in column.values())
        for w in range(n):
            lines[w] += column.get(w, "").ljust(width, "─") + "─"
    return "\n".join(lines)
