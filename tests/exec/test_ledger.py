import numpy as np

import qtrain as qt
from qtrain.backends.protocol import Result, Task
from qtrain.exec.ledger import Block, Ledger
from qtrain.exec.store import StoredRow

C = qt.Circuit(1).rx(0, qt.P(0))


def test_ledger_gathers_rows_from_blocks_and_the_store():
    ledger = Ledger(4)
    fresh = Result(np.array([[1.0], [2.0]]), np.array([[0.1], [0.2]]), 20, {"calibration_id": "c1"})
    ledger.add(Block(np.array([2, 0]), fresh.values, fresh.variances, np.array([8, 12]), fresh))
    stored = [
        StoredRow(np.array([v]), np.array([0.5]), 5, {"calibration_id": "c0"}) for v in (3, 4)
    ]
    ledger.add_stored(np.array([1, 3]), stored)
    task = Task(C, (qt.Z(0),), np.zeros((5, 1)), 10, 1)
    out = ledger.result(np.array([0, 1, 2, 3, 0]), task, spent=20, backend="b")
    np.testing.assert_array_equal(out.values[:, 0], [2.0, 3.0, 1.0, 4.0, 2.0])
    np.testing.assert_array_equal(out.variances[:, 0], [0.2, 0.5, 0.1, 0.5, 0.2])
    assert out.shots == 20 and out.metadata["cached_rows"] == 2
    assert out.metadata["calibration_ids"] == ["c0", "c1"]
    assert ledger.spent.tolist() == [12, 0, 8, 0]


def test_ledger_result_owns_its_arrays_on_both_paths():
    ledger = Ledger(2)
    result = Result(np.array([[1.0], [2.0]]), None, 0, {"calibration_id": "c"})
    units = np.array([0, 1])
    ledger.add(Block(units, result.values, None, np.zeros(2, dtype=np.int64), result))
    task = Task(C, (qt.Z(0),), np.zeros((2, 1)))
    whole = ledger.result(units, task, 0, "b")  # the block is exactly the task's rows
    gathered = ledger.result(np.array([1, 0]), task, 0, "b")
    np.testing.assert_array_equal(gathered.values[:, 0], [2.0, 1.0])
    assert (
        whole.metadata
        == gathered.metadata
        == {
            "backend": "b",
            "cached_rows": 0,
            "calibration_ids": ["c"],
        }
    )
    whole.values[0, 0] = gathered.values[0, 0] = 99.0
    assert result.values[0, 0] == 1.0 and ledger.result(units, task, 0, "b").values[0, 0] == 1.0
