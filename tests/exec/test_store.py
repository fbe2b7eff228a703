import multiprocessing as mp

import numpy as np
import pytest

import qtrain as qt
from qtrain.exec.store import RowBlock, StoredRow


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
