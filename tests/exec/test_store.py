import errno
import logging
import multiprocessing as mp
import os
import sqlite3

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import CorruptFileError, NotReadableError, NotWritableError
from qtrain.exec.store import RowBlock, StoredRow
from qtrain.exec.storefile import kind_of


def row(value, shots=10):
    return StoredRow(np.array([value, -value]), np.array([0.1, 0.2]), shots, {"backend": "x"})


def test_store_round_trip_and_persistence(tmp_path):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    store.put_many({"a": row(1.5), "b": StoredRow(np.array([2.0]), None, 0, {})})
    again = qt.ResultStore(tmp_path / "r.sqlite")  # a new process would see the same
    found = again.get_many(["a", "b", "missing"])
    assert set(found) == {"a", "b"} and len(again) == 2
    np.testing.assert_array_equal(found["a"].values, [1.5, -1.5])
    np.testing.assert_array_equal(found["a"].variances, [0.1, 0.2])
    assert found["b"].variances is None and found["a"].shots == 10
    assert found["a"].metadata == {"backend": "x"}


def test_store_keeps_the_first_result_for_a_key(tmp_path):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    store.put_many({"a": row(1.0)})
    store.put_many({"a": row(9.0)})
    assert store.get_many(["a"])["a"].values[0] == 1.0


def test_store_prune_removes_old_rows(tmp_path):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    store.put_many({"a": row(1.0)})
    assert store.prune(older_than_s=3600) == 0
    assert store.prune(older_than_s=-1) == 1 and len(store) == 0


def _writer(path, start, count):
    store = qt.ResultStore(path)
    for i in range(start, start + count, 10):
        store.put_many({f"k{j}": row(float(j)) for j in range(i, i + 10)})


def test_store_concurrent_writers_lose_nothing(tmp_path):
    path = tmp_path / "shared.sqlite"
    qt.ResultStore(path)
    ctx = mp.get_context("spawn")
    # four processes, overlapping ranges: 0-199, 100-299, 200-399, 300-499
    procs = [ctx.Process(target=_writer, args=(path, 100 * i, 200)) for i in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    store = qt.ResultStore(path)
    assert len(store) == 500
    found = store.get_many([f"k{j}" for j in range(500)])
    assert all(found[f"k{j}"].values[0] == j for j in range(500))


def test_an_interrupt_right_after_commit_keeps_the_rows_and_raises_it(tmp_path):
    # Ctrl-C can arrive after SQLite finished COMMIT but before execute() returns; the
    # rollback must not fail then (it used to raise "no transaction is active").
    store = qt.ResultStore(tmp_path / "r.sqlite")
    real = store._connect()

    class InterruptAfterCommit:
        in_transaction = property(lambda self: real.in_transaction)

        def execute(self, sql, *args):
            result = real.execute(sql, *args)
            if sql == "COMMIT":
                raise KeyboardInterrupt
            return result

        def executemany(self, sql, rows):
            return real.executemany(sql, rows)

    store._local.conn = InterruptAfterCommit()
    try:
        store.put_many({"a": row(1.0)})
    except KeyboardInterrupt:
        pass
    else:
        raise AssertionError("the interrupt was swallowed")
    store._local.conn = real
    assert set(store.get_many(["a"])) == {"a"}


def test_store_blocks_write_what_rows_would(tmp_path):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    values, variances = np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[0.1, 0.2], [0.3, 0.4]])
    block = RowBlock(["a", "b"], values, variances, np.array([7, 9]), {"calibration_id": "c"})
    store.put_blocks([block, RowBlock(["c"], np.array([[5.0]]), None, np.array([0]), {})])
    found = store.get_many(["a", "b", "c"])
    np.testing.assert_array_equal(found["b"].values, [3.0, 4.0])
    np.testing.assert_array_equal(found["a"].variances, [0.1, 0.2])
    assert found["a"].shots == 7 and found["b"].shots == 9 and found["c"].variances is None
    assert found["a"].metadata == {"calibration_id": "c"} == found["b"].metadata
    assert found["c"].metadata == {}


@pytest.mark.parametrize(("durability", "level"), [("full", 2), ("normal", 1)])
def test_store_durability_sets_sqlites_synchronous_level(tmp_path, durability, level):
    store = qt.ResultStore(tmp_path / "r.sqlite", durability=durability)
    store.put_many({"a": row(1.0)})
    assert store._connect().execute("PRAGMA synchronous").fetchone()[0] == level
    assert set(qt.ResultStore(tmp_path / "r.sqlite").get_many(["a"])) == {"a"}


def test_store_rejects_an_unknown_durability(tmp_path):
    with pytest.raises(qt.ConfigError, match="durability must be one of full, normal"):
        qt.ResultStore(tmp_path / "r.sqlite", durability="eventual")


def full_store(tmp_path):
    """A store with rows in it, followed by a garbage, a truncated and a zeroed-header copy."""
    path = tmp_path / "good.sqlite"
    store = qt.ResultStore(path)
    store.put_many({f"k{i}": row(float(i)) for i in range(2000)})
    store._connect().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    return path.read_bytes()


def damaged(data, how):
    if how == "garbage":
        return b"this is not a database, just text\n" * 200
    if how == "truncated":
        return data[: len(data) // 2]
    return data[:100] + b"\x00" * 4000 + data[4100:]  # the schema page zeroed: "malformed"


@pytest.mark.parametrize("how", ["garbage", "truncated", "malformed"])
def test_a_damaged_store_is_moved_aside_and_rebuilt_with_a_warning(tmp_path, caplog, how):
    path = tmp_path / "results.sqlite"
    path.write_bytes(bad := damaged(full_store(tmp_path), how))
    with caplog.at_level(logging.WARNING, logger="qtrain.exec"):
        store = qt.ResultStore(path)
    (aside,) = store.quarantined
    assert aside.name.startswith("results.sqlite.corrupt-") and aside.read_bytes() == bad
    assert len(store) == 0 and store.get_many(["k1"]) == {}
    store.put_many({"a": row(1.0)})
    assert set(qt.ResultStore(path).get_many(["a"])) == {"a"}
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "store.quarantined"]
    assert event.fields["moved_to"] == str(aside) and "damaged" in event.getMessage()


def test_damage_found_mid_run_is_quarantined_too(tmp_path):
    path = tmp_path / "results.sqlite"
    data = full_store(tmp_path)
    # the header and schema are fine, a data page in the middle is not: found only on reading
    path.write_bytes(data[: len(data) // 2] + b"\xff" * 8192 + data[len(data) // 2 + 8192 :])
    store = qt.ResultStore(path)
    assert store.quarantined == []
    found = store.get_many([f"k{i}" for i in range(2000)])  # reads the damaged page
    assert found == {} and len(store.quarantined) == 1
    store.put_many({"a": row(1.0)})
    assert set(store.get_many(["a"])) == {"a"}


def test_on_corrupt_raise_reports_and_leaves_the_file_alone(tmp_path):
    path = tmp_path / "results.sqlite"
    path.write_bytes(b"garbage" * 100)
    with pytest.raises(CorruptFileError, match=r"results\.sqlite is damaged \(file is not a"):
        qt.ResultStore(path, on_corrupt="raise")
    assert path.read_bytes() == b"garbage" * 100 and os.listdir(tmp_path) == ["results.sqlite"]
    with pytest.raises(qt.ConfigError, match="on_corrupt"):
        qt.ResultStore(path, on_corrupt="ignore")


def test_a_full_disk_holds_finished_rows_in_memory_until_space_is_back(tmp_path, caplog):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    store.put_many({"first": row(0.5)})
    conn = store._connect()
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")  # SQLite's own "database or disk is full"
    big = {f"k{i}": StoredRow(np.full(400, float(i)), None, 1, {"x": "y" * 500}) for i in range(20)}
    with caplog.at_level(logging.WARNING, logger="qtrain.exec"):
        store.put_many(big)
        store.put_many({"later": row(2.0)})
    assert store.unsaved == 21 and len(store) == 1
    found = store.get_many(["first", "k3", "later", "missing"])  # held rows are served
    assert set(found) == {"first", "k3", "later"} and found["k3"].values[0] == 3.0
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "store.full"]
    assert "database or disk is full" in event.getMessage() and event.fields["unsaved"] == 20
    assert store.flush() == 21  # still full
    conn.execute("PRAGMA max_page_count = 1000000")
    assert store.flush() == 0 and len(store) == 22
    assert set(qt.ResultStore(tmp_path / "r.sqlite").get_many(big)) == set(big)


def test_closing_with_rows_a_full_disk_kept_out_says_they_are_lost(tmp_path, caplog):
    store = qt.ResultStore(tmp_path / "r.sqlite")
    conn = store._connect()
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages}")
    store.put_many({f"k{i}": StoredRow(np.zeros(400), None, 1, {}) for i in range(20)})
    with caplog.at_level(logging.ERROR, logger="qtrain.exec"):
        store.close()
    (event,) = [r for r in caplog.records if getattr(r, "event", "") == "store.rows_lost"]
    assert event.fields["rows"] == 20
    other = qt.ResultStore(tmp_path / "r.sqlite")
    other.put_many({"a": row(1.0)})
    assert other.drop_unsaved() == 0


def test_an_unreadable_store_is_an_error_naming_it(tmp_path, monkeypatch):
    path = tmp_path / "results.sqlite"
    qt.ResultStore(path).put_many({"a": row(1.0)})
    real_open = os.open

    def denied(name, flags, *args, **kwargs):
        if os.fspath(name) == str(path):
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_open(name, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", denied)
    with pytest.raises(NotReadableError, match=r"permission denied: cannot read .*results\.sqlite"):
        qt.ResultStore(path)


def test_a_store_on_a_read_only_file_system_is_an_error_naming_it(tmpfs):
    tmpfs.remount("size=8m,ro")
    refused = r"read-only file system: cannot create files in .*mnt"
    with pytest.raises(NotWritableError, match=refused):
        qt.ResultStore(tmpfs.path / "new.sqlite")


def test_sqlite_errors_are_told_apart():
    assert kind_of(sqlite3.DatabaseError("database disk image is malformed")) == "corrupt"
    assert kind_of(sqlite3.DatabaseError("file is not a database")) == "corrupt"
    assert kind_of(sqlite3.OperationalError("database or disk is full")) == "full"
    assert kind_of(sqlite3.OperationalError("attempt to write a readonly database")) == "readonly"
    assert kind_of(sqlite3.OperationalError("database is locked")) is None


def test_a_damaged_store_that_cannot_be_moved_aside_says_what_to_do(tmp_path, monkeypatch):
    path = tmp_path / "results.sqlite"
    path.write_bytes(b"garbage" * 100)

    def denied(source, target):
        raise PermissionError(errno.EACCES, "Permission denied", os.fspath(source))

    monkeypatch.setattr(os, "replace", denied)
    with pytest.raises(NotWritableError, match=r"cannot move the damaged store aside .*by hand"):
        qt.ResultStore(path)
