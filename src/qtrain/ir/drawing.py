"""Text drawings of circuits: one line per wire, gates packed into columns.

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

__all__ = ["draw_text"]


def _format_arg(arg: Arg) -> str:
    return str(arg) if isinstance(arg, ParamExpr) else f"{arg:.4g}"


def _cells(op: Op) -> dict[int, str]:
    """The text of each wire the op touches (controls as ●, SWAP ends as ×)."""
    spec = op.spec
    if spec.name == "SWAP":
        return {w: "×" for w in op.wires}
    label = spec.label or spec.name
    if op.args:
        label += "(" + ", ".join(_format_arg(a) for a in op.args) + ")"
    cells = {w: "●" for w in op.wires[: spec.n_controls]}
    targets = op.wires[spec.n_controls :]
    return cells | {w: label for w in targets}


def draw_text(circuit: Circuit) -> str:
    """Draw ``circuit`` as text, one line per wire, ops packed greedily into columns."""
    n = circuit.n_qubits
    columns: list[dict[int, str]] = []
    free_at = [0] * n  # first column where each wire is free
    for op in circuit.ops:
        low, high = min(op.wires), max(op.wires)
        col = max(free_at[low : high + 1])
        if col == len(columns):
            columns.append({})
        cells = _cells(op)
        for w in range(low, high + 1):
            columns[col][w] = cells.get(w, "│")
            free_at[w] = col + 1
    lines = [f"q{w}: ".rjust(len(f"q{n - 1}: ")) + "─" for w in range(n)]
    for column in columns:
        width = max(len(text) for text in column.values())
        for w in range(n):
            lines[w] += column.get(w, "").ljust(width, "─") + "─"
    return "\n".join(lines)
