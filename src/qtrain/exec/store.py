"""A durable result store: SQLite in WAL mode, keyed by content, never pickle.

Every finished row result is committed here before the executor hands it to anyone, so a
crash loses at most what was in flight, and a re-run reads finished rows instead of spending
shots again. Keys are content hashes (``exec.keys.row_key``): the same circuit, row,
observables, shots and seed give the same numbers, so ``INSERT OR IGNORE`` makes concurrent
writers — threads or processes — safe and idempotent. Values are raw float64 bytes and
metadata JSON.

When the environment fails, the store says so and loses nothing it can keep:

- a damaged file (not a database, truncated, "malformed") is a damaged cache: it is moved
  aside to ``<name>.corrupt-<UTC time>`` (with its ``-wal`` and ``-shm``), an empty store is
  built in its place and a ``store.quarantined`` warning names both (``on_corrupt="raise"``
  raises ``CorruptFileError`` instead);
- a full disk does not drop finished rows: they are held in memory (``unsaved``), served by
  :meth:`ResultStore.get_many`, written with the next commit that succeeds, and a
  ``store.full`` warning says so. Whoever needs them durable checks ``unsaved`` (``fit``
  stops the run after the step, see ``train/loop.py``);
- a file or folder this user may not read or write raises ``NotReadableError`` /
  ``NotWritableError`` naming it, before anything runs.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError, DiskFullError, StorageError
from qtrain.exec.storefile import kind_of, make_folder, move_aside, probe, storage_error
from qtrain.logs import emit

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
_ON_CORRUPT = ("quarantine", "raise")
_LOG = logging.getLogger("qtrain.exec")
_Done = TypeVar("_Done")
_Record = tuple[str, bytes, bytes | None, int, str, float]  # one row as the table holds it


def _stored(vals: bytes, variances: bytes | None, shots: int, meta: Mapping[str, Any]) -> StoredRow:
    spread = None if variances is None else np.frombuffer(variances, dtype=np.float64).copy()
    return StoredRow(np.frombuffer(vals, dtype=np.float64).copy(), spread, int(shots), meta)


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
        on_corrupt: ``"quarantine"`` (default): a damaged file is moved aside and rebuilt
            empty, with a warning; ``"raise"``: ``CorruptFileError`` (to inspect a store
            without changing it).

    Raises:
        ConfigError: an unknown ``durability`` or ``on_corrupt``.
        StorageError: the file or its folder cannot be read or written (``NotReadableError``,
            ``NotWritableError``, ``DiskFullError``), or it is damaged and ``on_corrupt`` is
            ``"raise"`` (``CorruptFileError``).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        timeout_s: float = 30.0,
        durability: str = "full",
        on_corrupt: str = "quarantine",
    ) -> None:
        if durability not in _SYNCHRONOUS:
            raise ConfigError(
                f"durability must be one of {', '.join(_SYNCHRONOUS)}, got {durability!r}"
            )
        if on_corrupt not in _ON_CORRUPT:
            raise ConfigError(
                f"on_corrupt must be one of {', '.join(_ON_CORRUPT)}, got {on_corrupt!r}"
            )
        self.path = Path(path)
        self.durability, self.on_corrupt = durability, on_corrupt
        self.quarantined: list[Path] = []  # where damaged files went (this object's doing)
        self._timeout = timeout_s
        self._local = threading.local()  # one connection per thread (sqlite3's rule)
        self._lock = threading.Lock()  # held rows and the file's generation
        self._generation = 0  # +1 when the file is replaced: threads then reconnect
        self._held: dict[str, _Record] = {}  # finished rows a full disk kept out of the file
        make_folder(self.path.parent)
        probe(self.path)  # a file we may not read or write: the OS's reason, not SQLite's
        self.transact(lambda conn: None, "open")

    def _connect(self) -> sqlite3.Connection:
        if getattr(self._local, "generation", self._generation) != self._generation:
            self._close_local()  # the file was replaced (quarantined) by another thread
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            generation = self._generation
            conn = sqlite3.connect(self.path, timeout=self._timeout, isolation_level=None)
            try:
                conn.execute(f"PRAGMA synchronous={_SYNCHRONOUS[self.durability]}")
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute(_SCHEMA)
            except BaseException:
                conn.close()
                raise
            self._local.conn, self._local.generation = conn, generation
        return conn

    def transact(self, operation: Callable[[sqlite3.Connection], _Done], action: str) -> _Done:
        """``operation(connection)`` on this thread's connection, failures as storage errors.

        A damaged file is quarantined and the operation tried once more on the new one.
        Tables beside ``results`` (the job journal, ``exec.jobs``) use it too.
        """
        for attempt in range(2):
            generation = self._generation
            try:
                return operation(self._connect())
            except sqlite3.DatabaseError as error:
                kind = kind_of(error)
                if kind is None:
                    raise  # a lock timeout, a bug: not the file's fault
                if kind == "corrupt" and attempt == 0 and self.on_corrupt == "quarantine":
                    self._quarantine(generation, error)
                    continue
                raise storage_error(error, kind, self.path, action) from None
        raise AssertionError("unreachable: the second attempt returns or raises")

    def _quarantine(self, generation: int, error: sqlite3.Error) -> None:
        """Move the damaged file (and its -wal, -shm) aside; the next connection starts anew."""
        with self._lock:
            self._close_local()
            if generation != self._generation:
                return  # another thread moved it already
            target = move_aside(self.path)
            self._generation += 1
            self.quarantined.append(target)
        emit(
            _LOG,
            logging.WARNING,
            "store.quarantined",
            f"{self.path} was damaged ({error}); moved it to {target.name} and started an "
            "empty store (finished rows are a cache: what is missing is computed again)",
            path=str(self.path),
            moved_to=str(target),
        )

    def _close_local(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
        self._local.conn = None

    @property
    def unsaved(self) -> int:
        """Finished rows held in memory because the disk was full (0 when all are stored)."""
        with self._lock:
            return len(self._held)

    def get_many(self, keys: Iterable[str]) -> dict[str, StoredRow]:
        """The stored rows among ``keys`` (rows held in memory by a full disk included)."""
        wanted = list(dict.fromkeys(keys))
        found = self.transact(lambda conn: self._select(conn, wanted), "read")
        if not self._held:  # the common case: nothing held back by a full disk
            return found
        with self._lock:
            held = [self._held[k] for k in wanted if k in self._held and k not in found]
        parsed: dict[str, Mapping[str, Any]] = {}
        for key, vals, variances, shots, metadata, _ in held:
            found[key] = _stored(vals, variances, shots, _parsed(parsed, metadata))
        return found

    @staticmethod
    def _select(conn: sqlite3.Connection, wanted: list[str]) -> dict[str, StoredRow]:
        found: dict[str, StoredRow] = {}
        parsed: dict[str, Mapping[str, Any]] = {}  # one backend call's rows share one text
        for start in range(0, len(wanted), 500):  # stay under SQLite's variable limit
            chunk = wanted[start : start + 500]
            marks = ",".join("?" * len(chunk))
            query = (
                f"SELECT key, vals, variances, shots, metadata FROM results WHERE key IN ({marks})"
            )
            for key, vals, variances, shots, metadata in conn.execute(query, chunk):
                found[key] = _stored(vals, variances, shots, _parsed(parsed, metadata))
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

    def _commit(self, records: Sequence[_Record]) -> None:
        """Write ``records`` and any held rows; on a full disk, hold them in memory."""
        with self._lock:
            held = list(self._held.values())
        rows = [*held, *records] if held else records  # held rows came first: they win
        try:
            self.transact(lambda conn: self._insert(conn, rows), "write to")
        except DiskFullError as error:
            with self._lock:
                first = not self._held
                self._held.update((r[0], r) for r in records if r[0] not in self._held)
                count = len(self._held)
            if first:
                emit(
                    _LOG,
                    logging.WARNING,
                    "store.full",
                    f"{error}; {count} finished row(s) are held in memory and will be written "
                    "when space is free",
                    path=str(self.path),
                    unsaved=count,
                )
            return
        if held:
            with self._lock:
                for record in held:
                    self._held.pop(record[0], None)
            emit(
                _LOG,
                logging.INFO,
                "store.flushed",
                f"wrote {len(held)} held row(s) to {self.path}",
                path=str(self.path),
                rows=len(held),
            )

    @staticmethod
    def _insert(conn: sqlite3.Connection, records: Sequence[_Record]) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany("INSERT OR IGNORE INTO results VALUES (?, ?, ?, ?, ?, ?)", records)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:  # Ctrl-C may land after COMMIT finished: nothing to undo
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    pass  # SQLite rolled back already (it may, after a full disk or I/O error)
            raise

    def flush(self) -> int:
        """Try again to write the rows a full disk held back; returns how many are still held."""
        if self.unsaved:
            self._commit([])
        return self.unsaved

    def drop_unsaved(self) -> int:
        """Forget the rows a full disk held back (their step is checkpointed, or reported lost).

        Returns how many were dropped.
        """
        with self._lock:
            count, self._held = len(self._held), {}
        return count

    def __len__(self) -> int:
        (count,) = self.transact(
            lambda conn: conn.execute("SELECT COUNT(*) FROM results").fetchone(), "read"
        )
        return int(count)

    def prune(self, *, older_than_s: float) -> int:
        """Delete rows older than ``older_than_s`` seconds; returns how many went."""
        cutoff = time.time() - older_than_s

        def delete(conn: sqlite3.Connection) -> int:
            return int(conn.execute("DELETE FROM results WHERE created < ?", (cutoff,)).rowcount)

        return self.transact(delete, "delete rows from")

    def close(self) -> None:
        """Write held rows if the disk has room again, then close this thread's connection.

        Rows that still cannot be written are lost with the process: a ``store.rows_lost``
        error event counts them.
        """
        try:
            left = self.flush()
        except StorageError as error:
            left, reason = self.unsaved, str(error)
        else:
            reason = "the disk is still full"
        if left:
            emit(
                _LOG,
                logging.ERROR,
                "store.rows_lost",
                f"{left} finished row(s) could not be written to {self.path} ({reason}); a "
                "rerun computes (and pays for) them again",
                path=str(self.path),
                rows=left,
            )
        self._close_local()
