"""A durable result store: SQLite in WAL mode, keyed by content, never pickle.

Every finished row result is committed here before the executor hands it to anyone, so a
crash loses at most what was in flight, and a re-run reads finished rows instead of spending
shots again. Keys are content hashes (``exec.keys.row_key``): the same circuit, row,
observables, shots and seed give the same numbers, so ``INSERT OR IGNORE`` makes concurrent
writers — threads or processes — safe and idempotent. Values are raw float64 bytes and
metadata JSON.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError

__all__ = ["ResultStore", "RowBlock", "StoredRow"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    key TEXT PRIMARY KEY,
    vals BLOB NOT NULL,
    variances BLOB,
    shots INTEGER NOT NULL,
    metadata TEXT NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True, eq=False)
class StoredRow:
    """One row's finished result.

    Attributes:
        values: ``(O,)`` expectation values.
        variances: ``(O,)`` their estimated variances, ``None`` when exact.
        shots: shots spent on the row.
        metadata: backend, calibration id, timestamps.
    """

    values: NDArray[np.float64]
    variances: NDArray[np.float64] | None
    shots: int
    metadata: Mapping[str, Any]


def _parsed(cache: dict[str, Mapping[str, Any]], text: str) -> Mapping[str, Any]:
    """``json.loads(text)``, read-only and parsed once per distinct text."""
    if text not in cache:
        cache[text] = MappingProxyType(json.loads(text))
    return cache[text]


_SYNCHRONOUS = {"full": "FULL", "normal": "NORMAL"}  # durability -> SQLite's setting


@dataclass(frozen=True, eq=False)
class RowBlock:
    """Finished rows from one backend result, written together.

    Attributes:
        keys: ``(b,)`` the rows' content keys.
        values: ``(b, O)`` expectation values.
        variances: ``(b, O)`` their estimated variances, ``None`` when exact.
        shots: ``(b,)`` shots spent on each row.
        metadata: the backend result's metadata, shared by its rows.
    """

    keys: Sequence[str]
    values: NDArray[np.float64]
    variances: NDArray[np.float64] | None
    shots: NDArray[np.int64]
    metadata: Mapping[str, Any]


class ResultStore:
    """Finished row results on disk, shared safely by threads and processes.

    Args:
        path: the SQLite file (created with its folder if missing).
        timeout_s: how long a writer waits for a lock held by another process.
        durability: ``"full"`` (default): every commit is fsync-ed, so a finished row
            survives a power loss. ``"normal"``: SQLite's WAL ``synchronous=NORMAL`` — a
            finished row survives the crash or kill of any process, but the last commits
            may be lost with the machine (power loss, kernel panic). It saves one fsync
            (~0.6 ms here) per backend call, which matters only for tiny, fast tasks.

    Raises:
        ConfigError: an unknown ``durability``.
    """

    def __init__(
        self, path: str | Path, *, timeout_s: float = 30.0, durability: str = "full"
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ConfigError(
                f"durability must be one of {', '.join(_SYNCHRONOUS)}, got {durability!r}"
            )
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.durability = durability
        self._timeout = timeout_s
        self._local = threading.local()  # one connection per thread (sqlite3's rule)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            conn.execute(f"PRAGMA synchronous={_SYNCHRONOUS[self.durability]}")
            self._local.conn = conn
        return conn

    def get_many(self, keys: Iterable[str]) -> dict[str, StoredRow]:
        """The stored rows among ``keys``."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, StoredRow] = {}
        parsed: dict[str, Mapping[str, Any]] = {}  # one backend call's rows share one text
        conn = self._connect()
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT key, vals, variances, shots, metadata FROM results WHERE key IN ({marks})"
            )
            for key, vals, variances, shots, metadata in conn.execute(query, chunk):
                found[key] = StoredRow(
                    np.frombuffer(vals, dtype=np.float64).copy(),
                    None
                    if variances is None
                    else np.frombuffer(variances, dtype=np.float64).copy(),
                    int(shots),
                    _parsed(parsed, metadata),
                )
        return found

    def put_many(self, rows: Mapping[str, StoredRow]) -> None:
        """Commit ``rows`` in one transaction (existing keys are kept: same key, same numbers)."""
        now = time.time()
        records = [
            (
                key,
                np.ascontiguousarray(row.values, dtype=np.float64).tobytes(),
                None
                if row.variances is None
                else np.ascontiguousarray(row.variances, dtype=np.float64).tobytes(),
                int(row.shots),
                json.dumps(dict(row.metadata), default=str),
                now,
            )
            for key, row in rows.items()
        ]
        self._commit(records)

    def put_blocks(self, blocks: Sequence[RowBlock]) -> None:
        """Commit every row of ``blocks`` in one transaction, as :meth:`put_many` would.

        Each block's metadata is serialised once and its arrays converted to bytes once, not
        once per row.
        """
        now, records = time.time(), []
        for block in blocks:
            meta = json.dumps(dict(block.metadata), default=str)
            values = np.ascontiguousarray(block.values, dtype=np.float64)
            variances = (
                None
                if block.variances is None
                else np.ascontiguousarray(block.variances, dtype=np.float64)
            )
            for r, (key, spent) in enumerate(zip(block.keys, block.shots.tolist(), strict=True)):
                spread = None if variances is None else variances[r].tobytes()
                records.append((key, values[r].tobytes(), spread, spent, meta, now))
        self._commit(records)

    def _commit(self, records: Sequence[tuple[object, ...]]) -> None:
        conn = self._connect()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?)", records)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # Ctrl-C may land after COMMIT finished: nothing to undo
                conn.execute("ROLLBACK")
            raise

    def __len__(self) -> int:
        (count,) = self._connect().execute("SELECT COUNT(*) FROM results").fetchone()
        return int(count)

    def prune(self, *, older_than_s: float) -> int:
        """Delete rows older than ``older_than_s`` seconds; returns how many went."""
        cutoff = time.time() - older_than_s
        cursor = self._connect().execute("DELETE FROM results WHERE created < ?", (cutoff,))
        return int(cursor.rowcount)

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
