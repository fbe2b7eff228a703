"""How values show themselves: short reprs, numbers with error bars and small HTML tables.

Results are read in terminals and notebooks, so their reprs are a few lines of plain Python
floats (never ``np.float64(…)``, never a whole history) and their ``_repr_html_`` is a small
table built by :func:`html_table`. This module is a leaf: it imports nothing from qtrain.

>>> number(np.float64(0.123456789)), number(None), number(1234567.0)
('0.1235', '-', '1.235e+06')
>>> vector(np.array([0.5, -0.25]))
'[0.5, -0.25]'
>>> vector(np.arange(100.0))
'(100,) [0, 1, 2, …, 97, 98, 99]'
>>> value_with_error(-1.5, 0.25, 2), compact(3_400_000)
('-1.50 ± 0.25', '3.4M')
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence

import numpy as np

__all__ = ["compact", "html_table", "number", "text_block", "value_with_error", "vector"]

_EDGE = 3  # entries shown at each end of a long vector


def number(value: object, digits: int = 4) -> str:
    """A scalar as a short plain number (``digits`` significant); ``-`` for ``None``."""
    if value is None:
        return "-"
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, complex | np.complexfloating):
        return f"{complex(value):.{digits}g}"
    return f"{float(value):.{digits}g}"  # type: ignore[arg-type] # numbers and 0-d arrays


def vector(values: object, digits: int = 4) -> str:
    """An array as nested ``[a, b]`` lists; over 8 entries: its shape and both ends, flat.

    Scalars (``()``-shaped) are :func:`number`; ``None`` is ``-``.

    >>> vector([[1.0, 2.0], [3.0, 4.0]]), vector(np.ones((3, 3)))
    ('[[1, 2], [3, 4]]', '(3, 3) [1, 1, 1, …, 1, 1, 1]')
    """
    if values is None:
        return "-"
    array = np.asarray(values)
    if array.ndim == 0:
        return number(array.item(), digits)
    if array.size > 2 * _EDGE + 2:
        flat = [number(v, digits) for v in array.ravel().tolist()]
        return f"{array.shape} [{', '.join([*flat[:_EDGE], '…', *flat[-_EDGE:]])}]"
    return _nested(array.tolist(), digits)


def _nested(items: object, digits: int) -> str:
    if isinstance(items, list):
        return "[" + ", ".join(_nested(item, digits) for item in items) + "]"
    return number(items, digits)


def value_with_error(value: float | None, stderr: float | None, digits: int = 6) -> str:
    """``-1.136190 ± 0.000410`` (or the value alone when exact); ``-`` for ``None``."""
    if value is None:
        return "-"
    if stderr is None or not math.isfinite(stderr):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {stderr:.{digits}f}"


def compact(count: int) -> str:
    """``3.4M``, ``120k``, ``950``: shot counts that fit a progress line."""
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if count >= scale:
            return f"{count / scale:.3g}{suffix}"
    return str(count)


def text_block(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """``title`` then one indented ``name  value`` line per row (names aligned)."""
    width = max((len(name) for name, _ in rows), default=0)
    return "\n".join([title, *(f"  {name.ljust(width)}  {value}" for name, value in rows)])


def html_table(title: str, rows: Sequence[tuple[str, str]]) -> str:
    """A two-column HTML table with ``title`` as its caption (every cell escaped)."""
    body = "".join(
        f"<tr><th style='text-align:left'>{html.escape(name)}</th>"
        f"<td style='text-align:left'><code>{html.escape(value)}</code></td></tr>"
        for name, value in rows
    )
    return (
        f"<table><caption style='text-align:left'><b>{html.escape(title)}</b></caption>"
        f"{body}</table>"
    )
