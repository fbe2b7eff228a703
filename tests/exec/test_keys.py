import hashlib
import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.backends.protocol import BackendLimits, Task, backend_identity, identity_digest
from qtrain.exec.keys import KEY_VERSION, row_keys, split_units, task_prefix

C = qt.ansatz.hardware_efficient(2, 1)
H = qt.Z(0) + 0.5 * qt.X(1)


def test_keys_row_key_format_is_pinned():
    """Version 2: sha256("qtrain-row-key/2|backend=<digest>|circuit|observables|seed",
    row float64 bytes, shots int64); the backend digest is sha256 of its identity's JSON."""
    rows = np.random.default_rng(0).normal(size=(3, C.n_params))
    task = Task(C, (H,), rows, 100, 7)
    shots = task.shot_matrix()
    identity = {"backend": "local-statevector", "method": "statevector", "sampling": 2}
    assert qt.LocalSimulator().identity() == identity
    digest = hashlib.sha256(
        json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()
    assert identity_digest(qt.LocalSimulator()) == digest and KEY_VERSION == 2
    head = ["qtrain-row-key/2", f"backend={digest}", C.fingerprint(), H.fingerprint()]
    prefix = "|".join([*head, "seed=7"]).encode()
    expected = [
        hashlib.sha256(prefix + rows[r].tobytes() + shots[r].tobytes()).hexdigest()
        for r in range(3)
    ]
    assert task_prefix(task, digest) == prefix and row_keys(task, shots, digest) == expected
    exact = Task(C, (H,), rows)
    assert (
        row_keys(exact, None, digest)[1]
        == hashlib.sha256("|".join([*head, "exact"]).encode() + rows[1].tobytes()).hexdigest()
    )


def test_keys_name_the_backend_identity():
    rows = np.random.default_rng(2).normal(size=(2, C.n_params))
    task = Task(C, (H,), rows, 100, 7)
    sim, budgeted = qt.LocalSimulator(), qt.LocalSimulator(memory_budget=1 << 20, kernels="numpy")
    drifting = qt.FaultyBackend(sim, seed=3, drift_per_call=0.5)
    clean_chaos = qt.FaultyBackend(sim, seed=3, failure_rate=0.5, corrupt_rate=0.2)
    keys = {
        name: split_units([task], [task.shot_matrix()], identity_digest(backend)).keys()
        for name, backend in [
            ("sim", sim),
            ("budgeted", budgeted),
            ("drifting", drifting),
            ("clean chaos", clean_chaos),
            ("other seed", qt.FaultyBackend(sim, seed=4, drift_per_call=0.5)),
        ]
    }
    # Memory budget and kernels change no number; faults without drift change none either.
    assert keys["sim"] == keys["budgeted"] == keys["clean chaos"]
    assert len({tuple(k) for k in keys.values()}) == 3
    assert drifting.identity()["inner"] == sim.identity()


def test_keys_backend_without_identity_is_named_by_class_and_name():
    class Plain:
        name, limits = "plain", BackendLimits()

        def run(self, tasks):
            return []

    assert backend_identity(Plain()) == {
        "backend": "plain",
        "class": f"{__name__}.{Plain.__qualname__}",
    }
    assert identity_digest(Plain()) != identity_digest(qt.LocalSimulator())

    class Odd(Plain):
        def identity(self):
            return {"backend": "odd", "option": object()}

    with pytest.raises(qt.ConfigError, match="identity of backend 'odd' is not plain JSON"):
        identity_digest(Odd())


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
