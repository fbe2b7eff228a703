"""Pruning the job journal: orphans go, a pending job a resumed run needs never does."""

from __future__ import annotations

import logging
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.errors import DiskFullError
from qtrain.exec import jobs
from qtrain.exec.jobs import DEFAULT_MAX_AGE_S, JobJournal, Pruned, call_key, prune_once
from qtrain.exec.store import StoredRow

DAY = 86400.0
NOW = 1_800_000_000.0  # the injected clock's "now"


def _row(value: float = 1.0) -> StoredRow:
    return StoredRow(np.array([value]), None, 10, {"backend": "x"})


def _journal(store: qt.ResultStore, days_ago: float = 0.0) -> JobJournal:
    return JobJournal(store, clock=lambda: NOW - days_ago * DAY)


def _key(name: str) -> jobs.CallKey:
    return call_key([[f"{name}-0", f"{name}-1"], [f"{name}-2"]])


def _store_rows(store: qt.ResultStore, name: str, count: int = 3) -> None:
    store.put_many({f"{name}-{i}": _row(float(i)) for i in range(count)})


def _keys(store: qt.ResultStore) -> set[str]:
    return {entry["key"] for entry in _journal(store).entries()}


def test_an_orphan_whose_rows_are_all_stored_is_pruned(tmp_path: Path) -> None:
    store = qt.ResultStore(tmp_path / "s.sqlite")
    done, pending = _key("done"), _key("pending")
    _journal(store).record(done, "b", {"jobs": [["j1"]]})
    _journal(store).record(pending, "b", {"jobs": [["j2"]]})
    _store_rows(store, "done")
    _store_rows(store, "pending", count=2)  # one row of its call is still missing
    pruned = _journal(store).prune()
    assert pruned == Pruned(stored=(done,), expired=())
    assert pruned.count == 1 and pruned.keys == (done,)
    assert _keys(store) == {pending}  # young, a row missing: a resumed run re-attaches


def test_a_young_pending_entry_is_never_pruned_whatever_the_age_limit(tmp_path: Path) -> None:
    store = qt.ResultStore(tmp_path / "s.sqlite")
    key = _key("young")
    _journal(store, days_ago=1).record(key, "b", {"jobs": [["j"]]})
    for limit in (DEFAULT_MAX_AGE_S, 2 * DAY, None):
        assert _journal(store).prune(max_age_s=limit).count == 0
    assert _journal(store).pending(key) == {"jobs": [["j"]]}


def test_an_old_entry_is_pruned_by_age(tmp_path: Path) -> None:
    store = qt.ResultStore(tmp_path / "s.sqlite")
    old, young = _key("old"), _key("young")
    _journal(store, days_ago=31).record(old, "b", {"jobs": [["j1"]]})
    _journal(store, days_ago=29).record(young, "b", {"jobs": [["j2"]]})
    assert _journal(store).prune() == Pruned(stored=(), expired=(old,))
    assert _keys(store) == {young}
    assert _journal(store).prune(max_age_s=28 * DAY).expired == (young,)
    assert _keys(store) == set()


def test_row_keys_that_do_not_hash_to_the_key_vouch_for_nothing(tmp_path: Path) -> None:
    store = qt.ResultStore(tmp_path / "s.sqlite")
    key = _key("real")
    _journal(store).record(key, "b", {"jobs": [["j"]]}, rows=[["other-0"]])  # wrong rows
    store.put_many({"other-0": _row()})
    _journal(store).record("plain", "b", {"jobs": [["k"]]})  # a str key: no rows recorded
    with sqlite3.connect(store.path) as conn:
        conn.execute("UPDATE jobs SET rows = '[[' WHERE key = 'plain'")  # damaged JSON
    assert _journal(store).prune().count == 0
    assert _keys(store) == {key, "plain"}


def _old_format(path: Path, entries: list[tuple[str, float]]) -> None:
    """A store whose ``jobs`` table was written before the ``rows`` column existed."""
    qt.ResultStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE jobs (key TEXT PRIMARY KEY, backend TEXT NOT NULL, "
            "ref TEXT NOT NULL, created REAL NOT NULL)"
        )
        conn.executemany(
            "INSERT INTO jobs VALUES (?, 'b', '{\"jobs\": []}', ?)",
            [(key, created) for key, created in entries],
        )


def test_an_old_format_journal_opens_and_prunes_by_age(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    old, young = _key("old"), _key("young")
    _old_format(path, [(old, NOW - 40 * DAY), (young, NOW - DAY)])
    store = qt.ResultStore(path)
    _store_rows(store, "young")  # its rows are stored, but no entry says which rows are its
    count, oldest = _journal(store).summary()  # read-only: the table is not migrated yet
    assert (count, oldest) == (2, NOW - 40 * DAY)
    with sqlite3.connect(path) as conn:
        assert "rows" not in {row[1] for row in conn.execute("PRAGMA table_info(jobs)")}
    assert [e["key"] for e in _journal(store).entries()] == [old, young]
    assert _journal(store).prune() == Pruned(stored=(), expired=(old,))
    assert _keys(store) == {young}  # kept: without row keys it goes by age only
    fresh = _key("fresh")
    _journal(store).record(fresh, "b", {"jobs": [["j"]]})  # the migrated table takes rows
    _store_rows(store, "fresh")
    assert _journal(store).prune().stored == (fresh,)


def test_the_age_limit_must_be_a_positive_number(tmp_path: Path) -> None:
    journal = _journal(qt.ResultStore(tmp_path / "s.sqlite"))
    for bad in (0, -1.0, float("nan"), float("inf"), True, "30"):
        with pytest.raises(qt.ConfigError, match=f"max_age_s .* got {bad!r}"):
            journal.prune(max_age_s=bad)  # type: ignore[arg-type]


def test_the_first_journaled_call_of_a_process_prunes_once_and_logs_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    store = qt.ResultStore(tmp_path / "s.sqlite")
    done, old = _key("done"), _key("old")
    JobJournal(store).record(done, "b", {"jobs": [["j1"]]})
    JobJournal(store, clock=lambda: time.time() - 31 * DAY).record(old, "b", {"jobs": []})
    _store_rows(store, "done")
    with caplog.at_level(logging.INFO, logger="qtrain.exec"):
        assert prune_once(JobJournal(store)) == Pruned(stored=(done,), expired=(old,))
        JobJournal(store, clock=lambda: time.time() - 40 * DAY).record(old, "b", {"jobs": []})
        assert prune_once(JobJournal(store)) is None  # once per store and process
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "jobs.pruned"]
    assert event.levelno == logging.INFO
    assert event.fields["stored"] == [done] and event.fields["expired"] == [old]  # type: ignore[attr-defined]
    assert _keys(store) == {old}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="qtrain.exec"):
        assert prune_once(JobJournal(qt.ResultStore(tmp_path / "e.sqlite"))) == Pruned()
    assert not caplog.records  # nothing dropped: nothing said


def test_a_prune_that_fails_is_a_warning_not_the_runs_failure(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = qt.ResultStore(tmp_path / "s.sqlite")

    def full(self: JobJournal, **_: object) -> Pruned:
        raise DiskFullError("disk full: cannot prune", path=store.path)

    monkeypatch.setattr(JobJournal, "prune", full)
    with caplog.at_level(logging.INFO, logger="qtrain.exec"):
        assert prune_once(JobJournal(store)) is None
    assert [getattr(r, "event", "") for r in caplog.records] == ["jobs.prune_failed"]
    assert caplog.records[0].levelno == logging.WARNING


def test_a_run_on_a_provider_prunes_the_journal_at_its_first_call(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    aer = pytest.importorskip("qiskit_aer")
    from qtrain.backends.qiskit import QiskitBackend  # noqa: PLC0415
    from qtrain.testing.spool import SpoolService  # noqa: PLC0415

    service = SpoolService(tmp_path / "spool", aer.AerSimulator(method="statevector"))
    backend = QiskitBackend(service.sampler(), service=service, seed_transpiler=1)
    store = qt.ResultStore(tmp_path / "s.sqlite")
    old = _key("abandoned")
    JobJournal(store, clock=lambda: time.time() - 31 * DAY).record(old, "b", {"jobs": []})
    circuit = qt.Circuit(1).ry(0, qt.P(0))
    task = Task(circuit, (qt.Z(0),), np.array([[0.1], [0.2]]), shots=100, seed=1)
    executor = qt.Executor(backend, store=store)
    with caplog.at_level(logging.INFO, logger="qtrain.exec"):
        executor.run([task])
    events = [getattr(r, "event", "") for r in caplog.records]
    assert events.count("jobs.pruned") == 1 and _keys(store) == set()
    assert len(service.submissions()) == 1


WORKER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    import numpy as np
    import qtrain as qt
    from qtrain.exec.jobs import JobJournal, call_key
    from qtrain.exec.store import StoredRow

    path, tag, count = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    store = qt.ResultStore(path)
    journal = JobJournal(store)
    row = StoredRow(np.array([1.0]), None, 10, {})
    deadline = time.monotonic() + 60
    while not (path.parent / "go").exists() and time.monotonic() < deadline:
        time.sleep(0.005)  # start together: both race to migrate the old table
    for i in range(count):
        key = call_key([[f"{tag}-{i}-a", f"{tag}-{i}-b"]])
        journal.record(key, tag, {"jobs": [[f"{tag}{i}"]]})
        if i % 3 != 2:  # 0: rows stored, entry left behind; 1: the normal path; 2: pending
            store.put_many({f"{tag}-{i}-a": row, f"{tag}-{i}-b": row})
        if i % 3 == 1:
            journal.forget(key)
        if i % 4 == 0:
            journal.prune()
    """
)


def test_two_processes_journaling_and_pruning_one_file_corrupt_nothing(tmp_path: Path) -> None:
    path = tmp_path / "shared.sqlite"
    _old_format(path, [])  # both processes find an old table: they race to migrate it
    args = [sys.executable, "-c", WORKER, str(path)]
    procs = [subprocess.Popen([*args, tag, "24"], stderr=subprocess.PIPE) for tag in "xy"]
    (tmp_path / "go").touch()
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    store = qt.ResultStore(path)
    assert JobJournal(store).prune().expired == ()  # the real clock: every entry is young
    pending = {call_key([[f"{t}-{i}-a", f"{t}-{i}-b"]]) for t in "xy" for i in range(2, 24, 3)}
    assert _keys(store) == pending  # every pending job kept, every orphan gone
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert len(store) == 2 * 2 * 16
