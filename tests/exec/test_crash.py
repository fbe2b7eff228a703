"""A worker killed with SIGKILL mid-batch loses only what was in flight."""

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import numpy as np

import qtrain as qt

ROWS = 240
CHILD = textwrap.dedent(
    """
    import sys, numpy as np, qtrain as qt
    c = qt.ansatz.hardware_efficient(6, 2)
    rows = np.random.default_rng(7).normal(size=({rows}, c.n_params))
    slow = qt.FaultyBackend(qt.LocalSimulator(), seed=0, latency_s=0.02)
    executor = qt.Executor(slow, store=qt.ResultStore(sys.argv[1]), max_rows=4, tasks_per_call=1)
    qt.expval(c, qt.Z(0) + qt.X(3), rows, shots=64, seed=3, executor=executor)
    """
)


class Counting(qt.LocalSimulator):
    def __init__(self):
        super().__init__()
        self.rows = 0

    def run(self, tasks):
        self.rows += sum(t.params.shape[0] for t in tasks)
        return super().run(tasks)


def test_crash_sigkill_mid_batch_keeps_store_consistent_and_resumes(tmp_path):
    path = tmp_path / "store.sqlite"
    child = subprocess.Popen([sys.executable, "-c", CHILD.format(rows=ROWS), str(path)])
    deadline = time.monotonic() + 60
    stored = 0
    while time.monotonic() < deadline and stored < 40:
        time.sleep(0.05)
        if path.exists():
            stored = len(qt.ResultStore(path))
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL

    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    store = qt.ResultStore(path)
    kept = len(store)
    assert 40 <= kept < ROWS  # killed in the middle, nothing half-written

    c = qt.ansatz.hardware_efficient(6, 2)
    rows = np.random.default_rng(7).normal(size=(ROWS, c.n_params))
    backend = Counting()
    resumed = qt.expval(
        c, qt.Z(0) + qt.X(3), rows, shots=64, seed=3, executor=qt.Executor(backend, store=store)
    )
    assert backend.rows == ROWS - kept  # only what was not stored runs again
    fresh = qt.expval(c, qt.Z(0) + qt.X(3), rows, shots=64, seed=3)
    np.testing.assert_array_equal(resumed.value, fresh.value)
    np.testing.assert_array_equal(resumed.stderr, fresh.stderr)
