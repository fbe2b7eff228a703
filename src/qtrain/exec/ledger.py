"""Where each row unit's numbers came from, kept as arrays, and the per-task results.

A :class:`Block` is the rows of one valid backend result (or of the store): ``(b, O)`` arrays
and the unit of each row, never one object per row. The :class:`Ledger` maps every unit to
its block and row, so a task's result is a gather (or, when one block holds exactly the
task's rows in order, a copy of that block's arrays).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.exec.store import RowBlock, StoredRow
from qtrain.exec.validation import Chunk

__all__ = ["Block", "Ledger", "raw_values", "shared_errors"]


@dataclass(eq=False)
class Block:
    """Finished rows from one source.

    Attributes:
        units: ``(b,)`` the unit of each row.
        values: ``(b, O)`` expectation values.
        variances: ``(b, O)`` their variances, ``None`` when exact.
        spent: ``(b,)`` shots spent on each row now (0 for rows read from the store).
        result: the backend result the rows came from (``None``: read from the store).
        calibrations: each row's calibration id ("" for none), for rows from the store.
    """

    units: NDArray[np.int64]
    values: NDArray[np.float64]
    variances: NDArray[np.float64] | None
    spent: NDArray[np.int64]
    result: Result | None = None
    calibrations: tuple[str, ...] = ()

    @staticmethod
    def of(chunk: Chunk, result: Result) -> Block:
        """The rows of ``chunk`` in a backend's ``result`` for it (already validated)."""
        spent = np.zeros(chunk.units.size, dtype=np.int64)
        if chunk.shots is not None:
            spent = chunk.shots.sum(axis=1)
        variances = None if result.variances is None else np.asarray(result.variances)
        return Block(chunk.units, np.asarray(result.values), variances, spent, result)

    def stored(self, keys: Sequence[str]) -> RowBlock:
        """The block as the store writes it, under the rows' content ``keys``."""
        metadata = {} if self.result is None else self.result.metadata
        return RowBlock(keys, self.values, self.variances, self.spent, metadata)

    def calibration_ids(self, rows: NDArray[np.int64]) -> set[str]:
        """Calibration ids of the given rows of the block."""
        if self.result is not None:  # one backend result: one id for all its rows
            return {str(self.result.metadata.get("calibration_id", ""))}
        return {self.calibrations[r] for r in rows.tolist()}


class Ledger:
    """Every unit's block and row within it, for ``n_units`` units."""

    def __init__(self, n_units: int) -> None:
        self.blocks: list[Block] = []
        self.block = np.full(n_units, -1, dtype=np.int64)
        self.row = np.zeros(n_units, dtype=np.int64)
        self.spent = np.zeros(n_units, dtype=np.int64)

    def add(self, block: Block) -> None:
        """Record a finished block."""
        self.block[block.units] = len(self.blocks)
        self.row[block.units] = np.arange(block.units.size)
        self.spent[block.units] = block.spent
        self.blocks.append(block)

    def add_stored(self, units: NDArray[np.int64], rows: Sequence[StoredRow]) -> None:
        """Record rows read from the store (one task's shape: same observables and shots)."""
        values = np.stack([row.values for row in rows])
        variances = None
        if rows[0].variances is not None:
            variances = np.stack([row.variances for row in rows])  # type: ignore[misc]  # same task
        ids = tuple(str(row.metadata.get("calibration_id", "")) for row in rows)
        spent = np.zeros(units.size, dtype=np.int64)  # nothing spent now on a stored row
        self.add(Block(units, values, variances, spent, calibrations=ids))

    def missing(self, chunks: list[Chunk]) -> list[Chunk]:
        """The chunks without a valid result yet (a chunk's rows finish together)."""
        return [c for c in chunks if c.units.size and self.block[c.units[0]] < 0]

    def result(self, owner: NDArray[np.int64], task: Task, spent: int, backend: str) -> Result:
        """One task's result: its rows' units ``owner (B,)`` gathered from their blocks.

        Its metadata: ``backend``, ``cached_rows``, ``calibration_ids``, when sampled
        ``seed``, ``shared_errors`` when its fresh rows carry them (``Result``), and
        ``mitigation: {"raw_values": (B, O)}`` when some came from a mitigating backend
        (:func:`raw_values`).
        """
        if len(self.blocks) == 1 and self.blocks[0].units is owner:  # one block: the task itself
            block = self.blocks[0]
            values = block.values.copy()
            variances = None if block.variances is None else block.variances.copy()
            ids = block.calibration_ids(block.units)
            cached = 0 if block.result is not None else owner.size
            where = (np.zeros(owner.size, dtype=np.int64), np.arange(owner.size))
        else:
            values, variances, ids, cached = self._gather(owner, task)
            where = (self.block[owner], self.row[owner])
        metadata: dict[str, Any] = {
            "backend": backend,
            "cached_rows": cached,
            "calibration_ids": sorted(ids - {""}),
        }
        if task.shots is not None:
            metadata["seed"] = task.seed  # the entropy the rows used (drawn if it was None)
            shared = shared_errors(self.blocks, *where, len(task.observables))
            if shared is not None:
                metadata["shared_errors"] = shared
        raw = raw_values(self.blocks, *where, values.shape)
        if raw is not None:
            metadata["mitigation"] = {"raw_values": raw}
        return Result(values, variances, spent, metadata)

    def _gather(
        self, owner: NDArray[np.int64], task: Task
    ) -> tuple[NDArray[np.float64], NDArray[np.float64] | None, set[str], int]:
        """Values, variances, calibration ids and rows read from the store, for ``owner``."""
        count = len(task.observables)
        values = np.zeros((owner.size, count))
        variances = None if task.shots is None else np.zeros((owner.size, count))
        blocks, rows = self.block[owner], self.row[owner]
        ids: set[str] = set()
        cached = 0
        for b in dict.fromkeys(blocks.tolist()):
            block = self.blocks[b]
            mask = blocks == b
            values[mask] = block.values[rows[mask]]
            if variances is not None and block.variances is not None:
                variances[mask] = block.variances[rows[mask]]
            ids |= block.calibration_ids(rows[mask])
            cached += int(np.count_nonzero(mask)) if block.result is None else 0
        return values, variances, ids, cached


def raw_values(
    blocks: list[Block],
    block_of: NDArray[np.int64],
    row_of: NDArray[np.int64],
    shape: tuple[int, ...],
) -> NDArray[np.float64] | None:
    """``(B, O)`` the rows' unmitigated values, from their blocks' mitigated results.

    A mitigating backend (``qt.Mitigated``) names them as ``metadata["mitigation"]
    ["raw_values"]``; rows of other blocks (the store's) are NaN. ``None``: no row has them.
    """
    raw = np.full(shape, np.nan)
    found = False
    for b in dict.fromkeys(block_of.tolist()):
        result = blocks[b].result
        mitigation = None if result is None else result.metadata.get("mitigation")
        if isinstance(mitigation, Mapping) and mitigation.get("raw_values") is not None:
            mask = block_of == b
            raw[mask] = np.asarray(mitigation["raw_values"], dtype=np.float64)[row_of[mask]]
            found = True
    return raw if found else None


def shared_errors(
    blocks: list[Block], block_of: NDArray[np.int64], row_of: NDArray[np.int64], count: int
) -> dict[str, Any] | None:
    """The rows' ``shared_errors`` (``Result``), gathered from their blocks' results.

    Only one source (one calibration) is kept: rows read from the store, or from results of
    another source, get zero loadings — their variances still hold that error, as if it
    were their own.
    """
    found: dict[str, Mapping[str, Any]] = {}
    for b in dict.fromkeys(block_of.tolist()):
        result = blocks[b].result
        shared = None if result is None else result.metadata.get("shared_errors")
        if isinstance(shared, Mapping):
            found.setdefault(str(shared["source"]), shared)
    if len(found) != 1:
        return None
    ((source, first),) = found.items()
    variances = np.asarray(first["variances"], dtype=np.float64)
    loadings = np.zeros((block_of.size, count, variances.size))
    for b in dict.fromkeys(block_of.tolist()):
        result = blocks[b].result
        shared = None if result is None else result.metadata.get("shared_errors")
        if isinstance(shared, Mapping) and str(shared["source"]) == source:
            mask = block_of == b
            loadings[mask] = np.asarray(shared["loadings"])[row_of[mask]]
    return {"source": source, "loadings": loadings, "variances": variances}
