"""The job journal: pending provider jobs, written down before anyone waits for them.

A backend with asynchronous jobs (``backends.protocol.Asynchronous``: ``QiskitBackend``)
hands the executor a :class:`~qtrain.backends.protocol.Submission` whose ``ref`` names the
provider's jobs. With a result store, the executor writes that ref to the store's ``jobs``
table — committed (fsync-ed under ``durability="full"``) *before* it waits — keyed by the
call: the content keys of every row it computes, in order. When the rows are committed the
entry goes. So after a crash (SIGKILL, power loss, a lost laptop) the journal holds exactly
the jobs that were paid for and not yet read; the resumed run replays the same step, forms
the same call, finds its entry and re-attaches (``Asynchronous.attach``) instead of
submitting again. A provider that cannot retrieve jobs by id (Aer runs them in-process)
raises ``JobLostError`` and the work is submitted again, with a ``exec.job_lost`` event.

A journaled call is not run under the retry policy's ``timeout_s``: abandoning a wait and
cancelling a queued job only to submit it again pays the queue twice, and a late return would
race the retry for the entry. The backend bounds one wait instead (``QiskitBackend(max_wait_s)``):
past it the call fails as transient without cancelling, and the retry re-attaches.

A job the provider reports failed or cancelled comes back as a missing result (``None``):
its entry goes at once, so the retry submits fresh work instead of re-attaching to the
failed job. A wait that fails (the provider could not be asked) keeps the entry: the retry
re-attaches.

An entry whose run never comes back (abandoned, or its config changed so the call is never
formed again) would stay for ever: :meth:`JobJournal.prune` drops the entries whose rows are
all in the store (nothing can need their jobs) and those older than ``max_age_s`` (30 days by
default), and the first journaled call on a store in a process prunes it once (a
``jobs.pruned`` event lists what went). A pending job of a young entry is never pruned: a
resumed run re-attaches to it. Each entry records its row keys (column ``rows``); a ``jobs``
table written before that column existed gains it on first use, and its old entries are
pruned by age only.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import sqlite3
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from qtrain.backends.protocol import Asynchronous, Result, Task
from qtrain.errors import ConfigError, JobLostError, StorageError
from qtrain.exec.store import ResultStore
from qtrain.logs import emit

__all__ = [
    "DEFAULT_MAX_AGE_S",
    "CallKey",
    "JobJournal",
    "Pruned",
    "call_key",
    "prune_once",
    "run_journaled",
]

_LOG = logging.getLogger("qtrain.exec")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    ref TEXT NOT NULL,
    created REAL NOT NULL,
    rows TEXT
)
"""
DEFAULT_MAX_AGE_S = 30 * 86400.0
"""How old a journal entry may grow before :meth:`JobJournal.prune` drops it: 30 days.

Past that the entry is far more likely an orphan than a run someone will resume, and its
jobs may be gone: IBM Quantum stores every job's results "for you to retrieve at a later
date" but states no retention period, and its owner may delete them ("Retrieve and save job
results", https://quantum.cloud.ibm.com/docs/guides/save-jobs, whose example looks back three
months; "How we store client data", https://docs.quantum.ibm.com/admin/client-data). Other
providers keep whole results for less (VTT QX reduces jobs older than 7 days to counts).
"""
_CHUNK = 500  # row keys per query: under SQLite's variable limit


class CallKey(str):
    """A call's journal key (a ``str``) that remembers the row keys it was hashed from.

    :meth:`JobJournal.record` stores them with the entry, so :meth:`JobJournal.prune` can
    tell when every row of the call is in the store.
    """

    rows: tuple[tuple[str, ...], ...] = ()


def call_key(row_keys: Sequence[Sequence[str]]) -> CallKey:
    """The journal key of one call: sha256 of its tasks' row keys, task by task, in order."""
    digest = hashlib.sha256(b"qtrain-call/1")
    for keys in row_keys:
        digest.update(b"|task|")
        for key in keys:
            digest.update(key.encode("ascii"))
    key = CallKey(digest.hexdigest())
    key.rows = tuple(tuple(keys) for keys in row_keys)
    return key


@dataclass(frozen=True)
class Pruned:
    """What :meth:`JobJournal.prune` dropped.

    Attributes:
        stored: keys of entries whose rows were all in the store.
        expired: keys of entries older than the age limit (rows not all stored).
    """

    stored: tuple[str, ...] = ()
    expired: tuple[str, ...] = ()

    @property
    def keys(self) -> tuple[str, ...]:
        """Every dropped key: ``stored`` then ``expired``."""
        return self.stored + self.expired

    @property
    def count(self) -> int:
        """How many entries went."""
        return len(self.stored) + len(self.expired)


def _columns(conn: sqlite3.Connection) -> set[str]:
    return {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}


def _ready(conn: sqlite3.Connection) -> None:
    """Create the ``jobs`` table, or add ``rows`` to one written before it existed."""
    conn.execute(_SCHEMA)
    if "rows" in _columns(conn):
        return
    conn.execute("BEGIN IMMEDIATE")  # one process migrates; the others see its column
    try:
        if "rows" not in _columns(conn):
            conn.execute("ALTER TABLE jobs ADD COLUMN rows TEXT")
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise


def _rollback(conn: sqlite3.Connection) -> None:
    if conn.in_transaction:
        try:
            conn.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # SQLite rolled back already (it may, after a full disk or I/O error)


def _row_keys(key: str, text: str | None) -> list[str] | None:
    """The row keys recorded for ``key``; ``None`` when absent or not the ones it hashes."""
    try:  # a damaged or foreign record vouches for nothing: it must hash to the key
        rows = json.loads(text) if text else None
        if not rows or call_key(rows) != key:
            return None
    except (ValueError, TypeError, AttributeError):  # not JSON, not lists of str
        return None
    return list(dict.fromkeys(k for keys in rows for k in keys))


def _all_stored(conn: sqlite3.Connection, keys: Sequence[str]) -> bool:
    found = 0
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        query = f"SELECT COUNT(*) FROM results WHERE key IN ({marks})"
        found += int(conn.execute(query, chunk).fetchone()[0])
    return found == len(keys)


def _prunable(conn: sqlite3.Connection, cutoff: float) -> Pruned:
    stored, expired = [], []
    for key, created, text in conn.execute(
        "SELECT key, created, rows FROM jobs ORDER BY created"
    ).fetchall():
        keys = _row_keys(key, text)
        if keys and _all_stored(conn, keys):
            stored.append(key)
        elif created < cutoff:
            expired.append(key)
    return Pruned(tuple(stored), tuple(expired))


def _age_limit(max_age_s: float | None) -> float:
    if max_age_s is None:
        return math.inf
    if (
        isinstance(max_age_s, bool)
        or not isinstance(max_age_s, int | float)
        or not math.isfinite(max_age_s)
        or max_age_s <= 0
    ):
        raise ConfigError(
            f"max_age_s must be a positive number of seconds or None, got {max_age_s!r}"
        )
    return float(max_age_s)


class JobJournal:
    """Pending jobs in a result store's file (table ``jobs``), shared by processes.

    Args:
        store: the result store whose file holds the journal.
        clock: the time source for entries' ages (``time.time``; tests pass their own).
    """

    def __init__(self, store: ResultStore, *, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._clock = clock

    def _do(self, sql: str, args: tuple[Any, ...], action: str) -> list[tuple[Any, ...]]:
        def operation(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            _ready(conn)
            return list(conn.execute(sql, args))

        return self.store.transact(operation, action)

    def pending(self, key: str) -> Mapping[str, Any] | None:
        """The ref recorded for ``key``, if a job for it is pending."""
        rows = self._do("SELECT ref FROM jobs WHERE key = ?", (key,), "read jobs from")
        return json.loads(rows[0][0]) if rows else None

    def record(
        self,
        key: str,
        backend: str,
        ref: Mapping[str, Any],
        rows: Sequence[Sequence[str]] | None = None,
    ) -> None:
        """Write ``ref`` for ``key`` (committed before this returns).

        ``rows``: the call's row keys, task by task (default: those a :class:`CallKey`
        remembers); without them the entry is pruned by age only.
        """
        if rows is None and isinstance(key, CallKey):
            rows = key.rows or None
        text = json.dumps(dict(ref), sort_keys=True)
        keys = None if rows is None else json.dumps([list(k) for k in rows])
        sql = "INSERT OR REPLACE INTO jobs (key, backend, ref, created, rows) VALUES (?,?,?,?,?)"
        self._do(sql, (str(key), backend, text, self._clock(), keys), "record a job in")

    def forget(self, key: str) -> None:
        """Drop ``key``'s entry (its rows are stored, or its job failed)."""
        self._do("DELETE FROM jobs WHERE key = ?", (key,), "drop a job from")

    def entries(self) -> list[dict[str, Any]]:
        """Every pending entry: ``{"key", "backend", "ref", "created"}``, oldest first."""
        sql = "SELECT key, backend, ref, created FROM jobs ORDER BY created"
        return [
            {"key": key, "backend": backend, "ref": json.loads(ref), "created": created}
            for key, backend, ref, created in self._do(sql, (), "read jobs from")
        ]

    def summary(self) -> tuple[int, float | None]:
        """How many entries are pending and when the oldest was written (``None``: none).

        Read-only: a store without a journal (or with an old-format one) is left as it is.
        """

        def read(conn: sqlite3.Connection) -> tuple[int, float | None]:
            query = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'jobs'"
            if not conn.execute(query).fetchone()[0]:
                return 0, None
            count, oldest = conn.execute("SELECT COUNT(*), MIN(created) FROM jobs").fetchone()
            return int(count), None if oldest is None else float(oldest)

        return self.store.transact(read, "read jobs from")

    def prune(self, *, max_age_s: float | None = DEFAULT_MAX_AGE_S) -> Pruned:
        """Drop orphaned entries: those whose rows are all stored, and those too old.

        An entry whose rows are all in the store guards nothing (re-attaching would only
        fetch rows the store has). One older than ``max_age_s`` seconds (``None``: no age
        limit) belongs to a run that did not come back in time (:data:`DEFAULT_MAX_AGE_S`).
        A younger entry whose rows are not all stored is kept: a resumed run re-attaches to
        it. Entries without recorded row keys (written before they were) go by age only.
        One write transaction: safe beside other processes using the journal.

        Returns:
            What went (keys, and why), for the caller to log.

        Raises:
            ConfigError: ``max_age_s`` is not a positive number of seconds or ``None``.
            StorageError: the store's file cannot be written.
        """
        cutoff = self._clock() - _age_limit(max_age_s)

        def operation(conn: sqlite3.Connection) -> Pruned:
            _ready(conn)
            conn.execute("BEGIN IMMEDIATE")
            try:
                pruned = _prunable(conn, cutoff)
                conn.executemany("DELETE FROM jobs WHERE key = ?", [(k,) for k in pruned.keys])
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            return pruned

        return self.store.transact(operation, "prune jobs in")


_PRUNED: weakref.WeakSet[ResultStore] = weakref.WeakSet()  # stores pruned by this process
_PRUNED_LOCK = threading.Lock()


def prune_once(journal: JobJournal) -> Pruned | None:
    """``journal.prune()`` the first time a process journals with its store; else nothing.

    What went is logged (``jobs.pruned``, info). Pruning is housekeeping: a store it cannot
    write or a lock it cannot get is a ``jobs.prune_failed`` warning, not the run's failure
    (the call that follows says so if the store is really unusable).
    """
    with _PRUNED_LOCK:
        if journal.store in _PRUNED:
            return None
        _PRUNED.add(journal.store)
    path = str(journal.store.path)
    try:
        pruned = journal.prune()
    except (StorageError, sqlite3.Error) as error:
        message = f"could not prune the job journal in {path}: {error}"
        emit(_LOG, logging.WARNING, "jobs.prune_failed", message, path=path)
        return None
    if pruned.count:
        message = (
            f"pruned {pruned.count} orphaned job-journal entr(ies) from {path}: "
            f"{len(pruned.stored)} with every row stored, {len(pruned.expired)} older than "
            f"{DEFAULT_MAX_AGE_S / 86400:g} day(s)"
        )
        emit(
            _LOG,
            logging.INFO,
            "jobs.pruned",
            message,
            path=path,
            stored=list(pruned.stored),
            expired=list(pruned.expired),
        )
    return pruned


def _attach(
    backend: Asynchronous, tasks: Sequence[Task], journal: JobJournal, key: str, name: str
) -> Any:
    ref = journal.pending(key)
    if ref is None:
        return None
    try:
        submission = backend.attach(ref, tasks)
    except JobLostError as error:
        journal.forget(key)
        message = f"{name}: {error}; submitting the work again"
        emit(_LOG, logging.WARNING, "exec.job_lost", message, backend=name, ref=dict(ref))
        return None
    message = f"{name}: re-attached to pending job(s) {dict(ref)}"
    emit(_LOG, logging.INFO, "exec.job_reattached", message, backend=name, ref=dict(ref))
    return submission


def run_journaled(
    backend: Asynchronous, tasks: Sequence[Task], journal: JobJournal, key: str, name: str
) -> Sequence[Result | None]:
    """Run ``tasks`` as jobs, journaled under ``key``: re-attach to a pending one if any.

    The entry stays after a successful return: the caller drops it (``journal.forget``)
    once the rows are committed. It stays when the wait raised (the provider could not be
    asked: the jobs live on, and the retry re-attaches); it goes at once when a job failed
    (a result is ``None``), so the retry submits anew.
    """
    prune_once(journal)  # orphans of runs that never came back: once per store and process
    submission = _attach(backend, tasks, journal, key, name)
    if submission is None:
        submission = backend.submit(tasks)
        journal.record(key, name, submission.ref)  # before waiting: a crash keeps it
    results = backend.collect(submission)  # a transient error keeps the entry: re-attach
    if any(result is None for result in results):
        journal.forget(key)
    return results
