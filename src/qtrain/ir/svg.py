"""SVG drawings of circuits, written as text (no drawing library): ``circuit.to_svg()``.

The layout is the text drawing's (:func:`qtrain.ir.drawing.op_columns`): one horizontal line
per wire, wire 0 on top, ops packed into columns. Gates are labelled boxes, controls filled
dots, a controlled ``X`` target ⊕ and ``SWAP`` ends ×, joined by a vertical line. Notebooks
show it through ``Circuit._repr_html_``.

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.params import P
>>> svg = Circuit(2).ry(0, P(0)).cnot(0, 1).to_svg()
>>> svg.startswith("<svg") and "RY(θ0)" in svg and svg.count("<circle") == 2
True
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from qtrain.ir.drawing import op_columns, op_label

if TYPE_CHECKING:
    from qtrain.ir.circuit import Circuit, Op

__all__ = ["draw_svg"]

_ROW = 40.0  # px between wires
_PAD = 14.0  # px above the first wire, below the last, right of the last column
_NAME = 34.0  # px for the wire names on the left
_GAP = 10.0  # px between columns
_CHAR = 7.3  # px per character of 12 px monospace text
_BOX_H = 24.0
# Presentation attributes, not a <style> sheet: an SVG inlined in a notebook's page would
# share its class names with the whole page.
_LINE = 'stroke="#444" stroke-width="1"'
_GATE = 'fill="#fff" stroke="#222" stroke-width="1.2"'
_DOT = 'fill="#222"'
_TEXT = 'fill="#111" dominant-baseline="central" text-anchor="middle"'
_NOTE = 'fill="#555" dominant-baseline="central"'


def _box_width(label: str) -> float:
    return max(_BOX_H, len(label) * _CHAR + 12.0)


def _y(wire: int) -> float:
    return _PAD + _ROW / 2 + wire * _ROW


def _op_width(op: Op) -> float:
    """Width of the op's widest mark (a box, or a ⊕, dot or × at most ``_BOX_H``)."""
    if op.spec.name == "SWAP" or _is_xor(op):
        return _BOX_H
    return _box_width(op_label(op))


def _is_xor(op: Op) -> bool:
    """A controlled X: its target is drawn ⊕."""
    spec = op.spec
    return spec.n_controls > 0 and spec.label == "X" and not op.args


def _marks(op: Op, x: float) -> list[str]:
    """The SVG elements of one op centred on ``x``."""
    spec = op.spec
    parts = []
    if len(op.wires) > 1:
        top, bottom = _y(min(op.wires)), _y(max(op.wires))
        parts.append(f'<line {_LINE} x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}"/>')
    if spec.name == "SWAP":
        for w in op.wires:
            y, d = _y(w), 6.0
            parts.append(
                f'<path {_LINE} d="M{x - d:.1f},{y - d:.1f}L{x + d:.1f},{y + d:.1f}'
                f'M{x - d:.1f},{y + d:.1f}L{x + d:.1f},{y - d:.1f}" style="stroke-width:2"/>'
            )
        return parts
    for w in op.wires[: spec.n_controls]:
        parts.append(f'<circle {_DOT} cx="{x:.1f}" cy="{_y(w):.1f}" r="4"/>')
    label = op_label(op)
    for w in op.wires[spec.n_controls :]:
        y = _y(w)
        if _is_xor(op):
            r = 9.0
            parts.append(f'<circle {_GATE} cx="{x:.1f}" cy="{y:.1f}" r="{r}"/>')
            parts.append(
                f'<path {_LINE} d="M{x - r:.1f},{y:.1f}H{x + r:.1f}'
                f'M{x:.1f},{y - r:.1f}V{y + r:.1f}"/>'
            )
            continue
        width = _box_width(label)
        parts.append(
            f'<rect {_GATE} x="{x - width / 2:.1f}" y="{y - _BOX_H / 2:.1f}" '
            f'width="{width:.1f}" height="{_BOX_H:.1f}" rx="3"/>'
        )
        parts.append(f'<text {_TEXT} x="{x:.1f}" y="{y:.1f}">{escape(label)}</text>')
    return parts


def draw_svg(circuit: Circuit, *, max_columns: int | None = None) -> str:
    """``circuit`` as an SVG document (a string), wire 0 on top.

    Args:
        circuit: the circuit to draw.
        max_columns: draw at most this many columns and say how many were left out
            (``None``: all).
    """
    placed = op_columns(circuit)
    n_columns = max(placed, default=-1) + 1
    shown = n_columns if max_columns is None else min(n_columns, max(max_columns, 0))
    widths = [0.0] * shown
    for op, col in zip(circuit.ops, placed, strict=True):
        if col < shown:
            widths[col] = max(widths[col], _op_width(op))
    starts, x = [], _NAME + _GAP
    for width in widths:
        starts.append(x)
        x += width + _GAP
    body: list[str] = []
    for op, col in zip(circuit.ops, placed, strict=True):
        if col < shown:
            body += _marks(op, starts[col] + widths[col] / 2)
    if shown < n_columns:
        more = f"… {n_columns - shown} more column{'s' if n_columns - shown > 1 else ''}"
        body.append(f'<text {_NOTE} x="{x:.1f}" y="{_PAD / 2 + 2:.1f}">{more}</text>')
        x += len(more) * _CHAR
    width, height = x + _PAD, 2 * _PAD + circuit.n_qubits * _ROW
    wires = [
        f'<line {_LINE} x1="{_NAME:.1f}" y1="{_y(w):.1f}" x2="{width - _PAD:.1f}" '
        f'y2="{_y(w):.1f}"/><text {_NOTE} x="4" y="{_y(w):.1f}">q{w}</text>'
        for w in range(circuit.n_qubits)
    ]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.1f} {height:.1f}" font-family="monospace" font-size="12">'
        f"{''.join(wires)}{''.join(body)}</svg>"
    )
