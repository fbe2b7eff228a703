import numpy as np
import pytest

import qtrain as qt

C = qt.ansatz.hardware_efficient(4, 2)
THETA = np.random.default_rng(1).normal(size=C.n_params)


class Counting(qt.LocalSimulator):
    calls = 0

    def run(self, tasks):
        Counting.calls += 1
        return super().run(tasks)


def test_dry_run_counts_rows_and_shots_without_running():
    tasks = qt.gradient_tasks(C, [qt.Z(0), qt.X(1)], THETA, shots=500, seed=2)
    before = Counting.calls
    report = qt.dry_run(tasks, backend=Counting())
    assert Counting.calls == before  # nothing ran
    rows = 1 + 2 * C.n_params
    assert (report.tasks, report.rows, report.unique_rows, report.cached_rows) == (1, rows, rows, 0)
    assert report.shots == rows * 500 * 2  # two observables, one group each
    g = qt.jacobian(C, [qt.Z(0), qt.X(1)], THETA, method="param-shift", shots=500, seed=2)
    assert g.shots == report.shots and g.n_circuits == report.rows
    assert report.estimated_seconds is not None and report.estimated_seconds > 0
    assert "shot(s)" in str(report)


def test_dry_run_sees_the_store(tmp_path):
    store = qt.ResultStore(tmp_path / "s.sqlite")
    tasks = qt.gradient_tasks(C, [qt.Z(0)], THETA, shots=100, seed=2)
    qt.grad(C, qt.Z(0), THETA, method="param-shift", shots=100, seed=2, store=store)
    report = qt.dry_run(tasks, store=store)
    assert report.cached_rows == report.unique_rows and report.shots == 0
    assert report.estimated_seconds == 0


def test_dry_run_rejects_methods_without_tasks():
    with pytest.raises(qt.QtrainError, match="runs no tasks"):
        qt.gradient_tasks(C, [qt.Z(0)], THETA, method="adjoint")
