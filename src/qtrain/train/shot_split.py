"""An objective's shot policy across its circuits.

Per-row, per-component and target policies apply to every circuit (a per-component policy
cut to the circuit's own components); a total (``ShotPolicy.total(B)``) is one budget over
every (row, group) cell of every circuit and every value row, ``∝ |W_r|·spread_g``: that
proportion minimises the summed variance of all the Jacobians' components at a fixed total
(:mod:`qtrain.grad.shots`), now across circuits. A target standard error with a budget is
refused when its worst-case shots exceed the budget over all circuits together.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.errors import BudgetExceededError, ConfigError, ShotsError
from qtrain.grad.result import LinearAssembly
from qtrain.grad.shots import ShotPolicy, group_spreads, split_budget
from qtrain.train.evaluation import Piece

__all__ = [
    "as_policy",
    "check_target_budget",
    "piece_row_weights",
    "restrict",
    "split_total",
    "total_to_split",
]

Vector = NDArray[np.float64]


def as_policy(shots: object) -> ShotPolicy | None:
    """``shots`` as a ShotPolicy (an int is fixed shots per row and group).

    Raises:
        ConfigError: ``shots`` is neither None, an int nor a ShotPolicy.
    """
    if shots is None or isinstance(shots, ShotPolicy):
        return shots
    if isinstance(shots, bool) or not isinstance(shots, int):
        raise ConfigError(f"shots must be None, an int or a ShotPolicy, got {shots!r}")
    return ShotPolicy.fixed(shots)


def restrict(policy: ShotPolicy | None, n_params: int) -> ShotPolicy | None:
    """Per-component shots of the first ``n_params`` components (a circuit's own)."""
    if policy is None or policy.per_component is None:
        return policy
    return ShotPolicy.components(policy.per_component[:n_params])


def total_to_split(policy: ShotPolicy | None) -> int | None:
    """The budget of a total to split over every circuit; ``None`` for any other policy.

    A target standard error with a budget is a cap (:func:`check_target_budget`), not a total.
    """
    if policy is None or policy.target_stderr is not None:
        return None
    return policy.budget


def piece_row_weights(piece: Piece) -> Vector:
    """``(R,)`` the allocation weight of each row of a piece's task, its value row last.

    Linear methods (parameter shift, finite differences) say it themselves (``|W_r|``);
    SPSA's rows all weigh the same, and its separate value row as much as one of them.
    """
    (task,) = piece.tasks
    assemble = piece.assemble
    rows = (
        assemble.importance()
        if isinstance(assemble, LinearAssembly)
        else np.ones(task.params.shape[0])
    )
    if piece.value_task is not None:
        rows = np.append(rows, rows.mean() if rows.size else 1.0)
    return rows


def split_total(
    budget: int, pieces: list[Piece]
) -> list[tuple[ShotPolicy, NDArray[np.int64] | None]]:
    """One budget over every (row, group) cell of every piece, ``∝ |W_r|·spread_g``.

    Returns each piece's ``(R, G)`` cells as a policy and its value row's ``(1, G)`` shots
    (``None`` if none).
    """
    shapes, demands = [], []
    for piece in pieces:
        if len(piece.tasks) != 1:
            raise ShotsError("a total shot budget needs one task per circuit")
        spreads = group_spreads(piece.tasks[0].observables)
        demand = np.outer(piece_row_weights(piece), spreads)
        shapes.append(demand.shape)
        demands.append(demand.ravel())
    flat = split_budget(budget, np.concatenate(demands))
    shares: list[tuple[ShotPolicy, NDArray[np.int64] | None]] = []
    cursor = 0
    for piece, shape in zip(pieces, shapes, strict=True):
        cells = flat[cursor : cursor + shape[0] * shape[1]].reshape(shape)
        cursor += cells.size
        if piece.value_task is None:
            shares.append((ShotPolicy.cells(cells), None))
        else:
            shares.append((ShotPolicy.cells(cells[:-1]), cells[-1:]))
    return shares


def check_target_budget(policy: ShotPolicy | None, tasks: list[Task]) -> None:
    """Refuse a target standard error whose shots over every circuit exceed its budget.

    Raises:
        BudgetExceededError: the worst-case shots of all ``tasks`` exceed ``policy.budget``.
    """
    if policy is None or policy.target_stderr is None or policy.budget is None:
        return
    needed = sum(int(m.sum()) for m in (t.shot_matrix() for t in tasks) if m is not None)
    if needed > policy.budget:  # the cap covers every circuit, not each alone
        raise BudgetExceededError(
            f"a standard error of {policy.target_stderr:g} on every circuit's gradient "
            f"needs {needed} shots by the worst-case bound, above the budget of "
            f"{policy.budget}"
        )
