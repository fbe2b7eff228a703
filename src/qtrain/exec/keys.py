"""Content keys: what makes two row evaluations the same evaluation.

A row unit is (backend, circuit, observables, one parameter row, that row's shots per group,
seed). Its key hashes the key format version, the backend's identity digest
(``backends.protocol.identity_digest``: its name and every option that changes results), the
circuit's and observables' fingerprints, the row's float64 bytes, the shots and the seed, so
the same key always means the same numbers (the backend seeds each row by its content,
``sim.measure.row_seed_keys``) and backends that differ never share a store's rows.

Two rows are the same unit exactly when their tasks share the prefix (fingerprints and seed)
and their row bytes (parameters, then shots) are equal, which is what their keys hash. So
:func:`split_units` deduplicates on those bytes and hashes them only when someone needs the
hex keys (the store, an error message): a call without a store hashes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.ir.observables import Observable

__all__ = ["KEY_VERSION", "Units", "row_keys", "split_units", "task_prefix"]

KEY_VERSION = 2  # 1: no backend identity in the key (stores of 1 never match 2)
_VERSION_TAG = f"qtrain-row-key/{KEY_VERSION}"


_FINGERPRINTS: dict[int, tuple[Observable, str]] = {}


def _observable_fingerprint(observable: Observable) -> str:
    # Observable recomputes its digest on every call (34 µs for Σ Z_i on 16 qubits) while
    # Circuit caches its own. Observables are immutable, so the digest is cached here, by
    # identity: hashing a large observable for a lookup would cost what we mean to save. The
    # entry holds the observable, so its id cannot be reused while cached.
    entry = _FINGERPRINTS.get(id(observable))
    if entry is None or entry[0] is not observable:
        if len(_FINGERPRINTS) >= 256:
            _FINGERPRINTS.clear()
        entry = _FINGERPRINTS[id(observable)] = (observable, observable.fingerprint())
    return entry[1]


def task_prefix(task: Task, backend: str = "") -> bytes:
    """The part of every row key shared by a task's rows.

    Args:
        task: the task.
        backend: the backend's identity digest (``identity_digest``); the executor always
            passes it, ``""`` names no backend.
    """
    parts = [_VERSION_TAG, f"backend={backend}", task.circuit.fingerprint()]
    parts += map(_observable_fingerprint, task.observables)
    parts.append("exact" if task.shots is None else f"seed={task.seed}")
    return "|".join(parts).encode()


def row_identities(task: Task, shots: NDArray[np.int64] | None) -> list[bytes]:
    """What each row's key hashes after the prefix: its float64 bytes, then its shots."""
    rows = task.params.shape[0]
    if rows == 0:
        return []
    blob = np.ascontiguousarray(task.params, dtype=np.float64).view(np.uint8).reshape(rows, -1)
    if shots is not None:
        counts = np.ascontiguousarray(shots, dtype=np.int64).view(np.uint8).reshape(rows, -1)
        blob = np.concatenate([blob, counts], axis=1)
    data, width = blob.tobytes(), blob.shape[1]
    return [data[r * width : (r + 1) * width] for r in range(rows)]


def _digests(prefix: bytes, identities: Sequence[bytes]) -> list[str]:
    base = hashlib.sha256(prefix)
    keys = []
    for identity in identities:
        digest = base.copy()  # the prefix is hashed once, not once per row
        digest.update(identity)
        keys.append(digest.hexdigest())
    return keys


def row_keys(task: Task, shots: NDArray[np.int64] | None, backend: str = "") -> list[str]:
    """One key per row of ``task`` (``shots`` is its ``(B, G)`` shot matrix or ``None``).

    ``backend`` is the backend's identity digest, as in :func:`task_prefix`.
    """
    return _digests(task_prefix(task, backend), row_identities(task, shots))


# Odd 64-bit multipliers for the row-distinctness test (any fixed odd constants work).
_MIX = np.random.default_rng(0x5EED).integers(1, 1 << 62, size=4096, dtype=np.uint64) * 2 + 1


def _rows_distinct(task: Task, shots: NDArray[np.int64] | None) -> bool:
    """True only if no two rows of ``task`` have equal identities (a cheap sufficient test).

    Equal rows have equal mixes, so distinct mixes prove distinct rows; a collision (or a
    row too wide to mix) answers False and the caller compares the bytes themselves.
    """
    rows = task.params.shape[0]
    if rows < 2:
        return True
    words = np.ascontiguousarray(task.params, dtype=np.float64).view(np.uint64)
    if shots is not None:
        words = np.concatenate(
            [words, np.ascontiguousarray(shots, dtype=np.int64).view(np.uint64)], 1
        )
    if not 0 < words.shape[1] <= _MIX.size:
        return False
    mixed = (words * _MIX[: words.shape[1]]).sum(axis=1)  # wraps modulo 2^64, as intended
    return bool(len(set(mixed.tolist())) == rows)


@dataclass(eq=False)
class Units:
    """The distinct row evaluations of a list of tasks.

    Attributes:
        tasks: the tasks.
        shots: each task's ``(B, G)`` shot matrix (``None`` when exact).
        owner: each task's ``(B,)`` unit of every row.
        task_of: ``(U,)`` the first task holding each unit.
        row_of: ``(U,)`` the unit's row in that task.
        simple: one task whose rows are all distinct: unit ``u`` is row ``u``.
        backend: the backend's identity digest, hashed into every key.
    """

    tasks: Sequence[Task]
    shots: list[NDArray[np.int64] | None]
    owner: list[NDArray[np.int64]]
    task_of: NDArray[np.int64]
    row_of: NDArray[np.int64]
    simple: bool = False
    backend: str = ""
    _keys: list[str] | None = field(default=None, repr=False)

    def __len__(self) -> int:
        return self.task_of.size

    def keys(self) -> list[str]:
        """``(U,)`` content keys, hashed on first use (``row_keys`` of each first holder)."""
        if self._keys is None:
            keys: list[str] = [""] * len(self)
            for t in dict.fromkeys(self.task_of.tolist()):
                found = row_keys(self.tasks[t], self.shots[t], self.backend)
                for u in np.flatnonzero(self.task_of == t).tolist():
                    keys[u] = found[self.row_of[u]]
            self._keys = keys
        return self._keys


def split_units(
    tasks: Sequence[Task], shots: list[NDArray[np.int64] | None], backend: str = ""
) -> Units:
    """Deduplicate the rows of ``tasks`` (with their shot matrices) into units.

    ``backend`` is the identity digest of the backend that will run them (see
    :func:`task_prefix`); it joins every key, so it does not change which rows are equal.
    """
    seen: dict[bytes, dict[bytes, int]] = {}  # prefix -> row identity -> unit
    unregistered: dict[bytes, int] = {}  # prefix -> the task whose rows skipped `seen`
    owner: list[NDArray[np.int64]] = []
    task_of: list[int] = []
    row_of: list[int] = []
    for t, (task, matrix) in enumerate(zip(tasks, shots, strict=True)):
        prefix, start, count = task_prefix(task, backend), len(task_of), task.params.shape[0]
        if prefix not in seen and _rows_distinct(task, matrix):
            # The common call: all rows new and distinct, so no bytes are compared (or even
            # formed) unless a later task shares the prefix.
            seen[prefix], unregistered[prefix] = {}, t
            owner.append(np.arange(start, start + count, dtype=np.int64))
            task_of += [t] * count
            row_of += range(count)
            continue
        known = seen.setdefault(prefix, {})
        if prefix in unregistered:
            earlier = unregistered.pop(prefix)
            first = int(owner[earlier][0]) if owner[earlier].size else 0
            known.update(
                (identity, first + r)
                for r, identity in enumerate(row_identities(tasks[earlier], shots[earlier]))
            )
        units = []
        for r, identity in enumerate(row_identities(task, matrix)):
            u = known.setdefault(identity, len(task_of))
            if u == len(task_of):  # a new unit: this row is its first holder
                task_of.append(t)
                row_of.append(r)
            units.append(u)
        owner.append(np.array(units, dtype=np.int64))
    if len(tasks) == 1 and len(task_of) == tasks[0].params.shape[0]:  # unit u is row u
        zeros = np.zeros(len(task_of), np.int64)
        return Units(tasks, shots, owner, zeros, owner[0], True, backend)
    return Units(
        tasks,
        shots,
        owner,
        np.array(task_of, dtype=np.int64),
        np.array(row_of, dtype=np.int64),
        backend=backend,
    )
