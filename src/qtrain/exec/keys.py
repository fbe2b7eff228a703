"""Content keys: what makes two row evaluations the same evaluation.

A row unit is (circuit, observables, one parameter row, that row's shots per group, seed).
Its key hashes the circuit's and observables' fingerprints, the row's float64 bytes, the
shots and the seed, so the same key always means the same numbers (the backend seeds each
row by its content, ``sim.measure.row_seed_keys``).
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task

__all__ = ["row_keys", "task_prefix"]


def task_prefix(task: Task) -> bytes:
    """The part of every row key shared by a task's rows."""
    parts = [task.circuit.fingerprint(), *(obs.fingerprint() for obs in task.observables)]
    parts.append("exact" if task.shots is None else f"seed={task.seed}")
    return "|".join(parts).encode()


def row_keys(task: Task, shots: NDArray[np.int64] | None) -> list[str]:
    """One key per row of ``task`` (``shots`` is its ``(B, G)`` shot matrix or ``None``)."""
    prefix = task_prefix(task)
    rows = np.ascontiguousarray(task.params, dtype=np.float64)
    keys = []
    for r in range(rows.shape[0]):
        digest = hashlib.sha256(prefix)
        digest.update(rows[r].tobytes())
        if shots is not None:
            digest.update(np.ascontiguousarray(shots[r], dtype=np.int64).tobytes())
        keys.append(digest.hexdigest())
    return keys
