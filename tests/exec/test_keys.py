import hashlib

import numpy as np

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.exec.keys import row_keys, split_units, task_prefix

C = qt.ansatz.hardware_efficient(2, 1)
H = qt.Z(0) + 0.5 * qt.X(1)


def test_keys_row_key_format_is_pinned():
    """Stores written before keep their hits: sha256(prefix, row float64 bytes, shots int64)."""
    rows = np.random.default_rng(0).normal(size=(3, C.n_params))
    task = Task(C, (H,), rows, 100, 7)
    shots = task.shot_matrix()
    prefix = "|".join([C.fingerprint(), H.fingerprint(), "seed=7"]).encode()
    expected = [
        hashlib.sha256(prefix + rows[r].tobytes() + shots[r].tobytes()).hexdigest()
        for r in range(3)
    ]
    assert task_prefix(task) == prefix and row_keys(task, shots) == expected
    exact = Task(C, (H,), rows)
    assert (
        row_keys(exact, None)[1]
        == hashlib.sha256(
            "|".join([C.fingerprint(), H.fingerprint(), "exact"]).encode() + rows[1].tobytes()
        ).hexdigest()
    )


def test_keys_units_deduplicate_within_and_across_tasks_with_one_prefix():
    rows = np.random.default_rng(1).normal(size=(3, C.n_params))
    tasks = [
        Task(C, (H,), rows[[0, 1, 0]]),
        Task(C, (H,), rows[[2, 1]]),  # shares row 1 with the first task
        Task(C, (H,), rows[[1]], 50, 3),  # sampled: another prefix, another unit
        Task(C, (qt.Z(1),), rows[[1]]),  # another observable: another unit
    ]
    units = split_units(tasks, [t.shot_matrix() for t in tasks])
    assert len(units) == 5
    assert [o.tolist() for o in units.owner] == [[0, 1, 0], [2, 1], [3], [4]]
    assert units.task_of.tolist() == [0, 0, 1, 2, 3] and units.row_of.tolist() == [0, 1, 0, 0, 0]
    holders = [row_keys(tasks[t], tasks[t].shot_matrix())[r] for t, r in [(0, 0), (0, 1), (1, 0)]]
    assert units.keys()[:3] == holders
    assert units.keys()[3] == row_keys(tasks[2], tasks[2].shot_matrix())[0]


def test_keys_shots_and_signed_zero_make_distinct_units():
    rows = np.array([[0.0, 1.0], [-0.0, 1.0], [0.0, 1.0]])
    c = qt.Circuit(1).rx(0, qt.P(0)).ry(0, qt.P(1))
    task = Task(c, (qt.Z(0),), rows, np.array([10, 10, 20]), 1)
    units = split_units([task], [task.shot_matrix()])
    assert units.owner[0].tolist() == [0, 1, 2]  # different bytes, different keys
    assert len(set(units.keys())) == 3
