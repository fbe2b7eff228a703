"""``qtrain store info`` shows the job journal; ``qtrain store prune-jobs`` drops its orphans."""

import sqlite3
import time

import numpy as np
from typer.testing import CliRunner

import qtrain as qt
from qtrain.cli import app
from qtrain.exec.jobs import JobJournal, call_key
from qtrain.exec.store import StoredRow

runner = CliRunner()
DAY = 86400.0


def _entry(store, name, *, days_ago=0.0, stored=False):
    key = call_key([[f"{name}-0", f"{name}-1"]])
    journal = JobJournal(store, clock=lambda: time.time() - days_ago * DAY)
    journal.record(key, "ibm_fake", {"jobs": [[f"job-{name}"]]})
    if stored:
        row = StoredRow(np.zeros(1), None, 1, {})
        store.put_many({f"{name}-0": row, f"{name}-1": row})
    return key


def _tables(path):
    with sqlite3.connect(path) as conn:
        return {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}


def test_store_info_without_a_journal_says_so_and_creates_none(tmp_path):
    path = tmp_path / "s.sqlite"
    qt.ResultStore(path).put_many({"a": StoredRow(np.zeros(1), None, 1, {})})
    result = runner.invoke(app, ["store", "info", str(path)])
    assert result.exit_code == 0, result.output
    assert "1 finished row(s)" in result.output
    assert "no pending provider jobs in the job journal" in result.output
    assert "jobs" not in _tables(path)  # inspected, not written


def test_store_info_counts_pending_jobs_and_the_oldests_age(tmp_path):
    path = tmp_path / "s.sqlite"
    store = qt.ResultStore(path)
    _entry(store, "old", days_ago=40)
    _entry(store, "new", days_ago=1)
    result = runner.invoke(app, ["store", "info", str(path)])
    assert result.exit_code == 0, result.output
    assert "2 pending job entr(ies) in the job journal, the oldest 40.0 day(s) old" in (
        result.output
    )


def test_prune_jobs_drops_stored_and_old_entries_and_keeps_pending_ones(tmp_path):
    path = tmp_path / "s.sqlite"
    store = qt.ResultStore(path)
    done = _entry(store, "done", stored=True)
    old = _entry(store, "old", days_ago=40)
    middle = _entry(store, "middle", days_ago=10)
    pending = _entry(store, "pending", days_ago=1)
    result = runner.invoke(app, ["store", "prune-jobs", str(path)])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == (
        f"{path}: removed 2 job entr(ies): 1 with every row stored, 1 older than 30 day(s)"
    )
    assert lines[1:] == [f"  {done}  every row stored", f"  {old}  older than 30 day(s)"]
    assert {e["key"] for e in JobJournal(store).entries()} == {middle, pending}
    shorter = runner.invoke(app, ["store", "prune-jobs", str(path), "--older-than-days", "5"])
    assert shorter.exit_code == 0 and f"  {middle}  older than 5 day(s)" in shorter.output
    assert [e["key"] for e in JobJournal(store).entries()] == [pending]


def test_prune_jobs_refuses_a_bad_age_in_one_line_and_leaves_the_store(tmp_path):
    path = tmp_path / "s.sqlite"
    store = qt.ResultStore(path)
    key = _entry(store, "old", days_ago=40)
    for bad in ("0", "-3", "inf", "nan"):
        result = runner.invoke(app, ["store", "prune-jobs", str(path), "--older-than-days", bad])
        assert result.exit_code == 2, result.output
        (line,) = result.output.strip().splitlines()
        assert "--older-than-days" in line and "positive number of days" in line
    assert [e["key"] for e in JobJournal(store).entries()] == [key]


def test_prune_jobs_refuses_files_that_are_not_stores_and_reports_damage(tmp_path):
    other = tmp_path / "notes.txt"
    other.write_text("not a store")
    refused = runner.invoke(app, ["store", "prune-jobs", str(other)])
    assert refused.exit_code == 2 and "not a qtrain result store" in refused.output
    assert other.read_text() == "not a store"
    damaged = tmp_path / "results.sqlite"
    damaged.write_bytes(b"garbage, not SQLite" * 50)
    result = runner.invoke(app, ["store", "prune-jobs", str(damaged)])
    assert result.exit_code == 65, result.output
    assert damaged.read_bytes() == b"garbage, not SQLite" * 50
