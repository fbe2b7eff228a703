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
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import time
from collections.abc import Mapping, Sequence
from typing import Any

from qtrain.backends.protocol import Asynchronous, Result, Task
from qtrain.errors import JobLostError
from qtrain.exec.store import ResultStore
from qtrain.logs import emit

__all__ = ["JobJournal", "call_key", "run_journaled"]

_LOG = logging.getLogger("qtrain.exec")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    backend TEXT NOT NULL,
    ref TEXT NOT NULL,
    created REAL NOT NULL
)
"""


def call_key(row_keys: Sequence[Sequence[str]]) -> str:
    """The journal key of one call: sha256 of its tasks' row keys, task by task, in order."""
    digest = hashlib.sha256(b"qtrain-call/1")
    for keys in row_keys:
        digest.update(b"|task|")
        for key in keys:
            digest.update(key.encode("ascii"))
    return digest.hexdigest()


class JobJournal:
    """Pending jobs in a result store's file (table ``jobs``), shared by processes."""

    def __init__(self, store: ResultStore) -> None:
        self.store = store

    def _do(self, sql: str, args: tuple[Any, ...], action: str) -> list[tuple[Any, ...]]:
        def operation(conn: sqlite3.Connection) -> list[tuple[Any, ...]]:
            conn.execute(_SCHEMA)
            return list(conn.execute(sql, args))

        return self.store.transact(operation, action)

    def pending(self, key: str) -> Mapping[str, Any] | None:
        """The ref recorded for ``key``, if a job for it is pending."""
        rows = self._do("SELECT ref FROM jobs WHERE key = ?", (key,), "read jobs from")
        return json.loads(rows[0][0]) if rows else None

    def record(self, key: str, backend: str, ref: Mapping[str, Any]) -> None:
        """Write ``ref`` for ``key`` (committed before this returns)."""
        text = json.dumps(dict(ref), sort_keys=True)
        sql = "INSERT OR REPLACE INTO jobs VALUES (?, ?, ?, ?)"
        self._do(sql, (key, backend, text, time.time()), "record a job in")

    def forget(self, key: str) -> None:
        """Drop ``key``'s entry (its rows are stored, or its job failed)."""
        self._do("DELETE FROM jobs WHERE key = ?", (key,), "drop a job from")

    def entries(self) -> list[dict[str, Any]]:
        """Every pending entry: ``{"key", "backend", "ref", "created"}``, oldest first."""
        rows = self._do("SELECT * FROM jobs ORDER BY created", (), "read jobs from")
        return [
            {"key": key, "backend": backend, "ref": json.loads(ref), "created": created}
            for key, backend, ref, created in rows
        ]


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
    submission = _attach(backend, tasks, journal, key, name)
    if submission is None:
        submission = backend.submit(tasks)
        journal.record(key, name, submission.ref)  # before waiting: a crash keeps it
    results = backend.collect(submission)  # a transient error keeps the entry: re-attach
    if any(result is None for result in results):
        journal.forget(key)
    return results
