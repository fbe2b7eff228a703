"""The value row of a method that does not measure the loss itself (SPSA).

SPSA's rows straddle ``θ`` (``θ ± c·Δ``), so the loss at ``θ`` needs one row more per
circuit: this row's task, and its shots when nothing else sets them — the gradient rows'
mean per (row, group), at least 2, or the policy's shots per row.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.grad.shots import ShotPolicy
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = ["NEEDS_VALUE_ROW", "value_shots", "value_task"]

NEEDS_VALUE_ROW = frozenset({"spsa"})  # the methods whose rows never sit at θ


def value_shots(policy: ShotPolicy | None, tasks: list[Task]) -> int | None:
    """Shots for an extra value row: the gradient rows' mean per (row, group), at least 2."""
    if policy is None:
        return None
    if policy.per_row is not None:
        return policy.per_row
    matrices = [m for m in (t.shot_matrix() for t in tasks) if m is not None and m.size]
    mean = float(np.mean(np.concatenate([m.ravel() for m in matrices]))) if matrices else 2.0
    return max(2, int(np.ceil(mean)))


def value_task(
    method: str,
    circuit: Circuit,
    observables: tuple[Observable, ...],
    point: NDArray[np.float64],
    *,
    policy: ShotPolicy | None,
    tasks: list[Task],
    shots: NDArray[np.int64] | None,
    seed: int | None,
) -> Task | None:
    """The value row at ``point (P_i,)`` for ``method``, or ``None`` if its rows give the loss.

    Args:
        method: the gradient method.
        circuit: the circuit.
        observables: its terms' observables.
        point: the circuit's own parameters.
        policy: the circuit's shot policy (decides the shots when ``shots`` is ``None``).
        tasks: the circuit's gradient tasks.
        shots: the row's ``(1, G)`` shots from a total's split, or ``None``.
        seed: the circuit's sampling seed.
    """
    if method not in NEEDS_VALUE_ROW:
        return None
    row_shots = value_shots(policy, tasks) if shots is None else shots
    return Task(circuit, observables, point[None, :], row_shots, seed)
