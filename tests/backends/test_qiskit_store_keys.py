"""Store keys know where a result came from; jobs fit the device's circuit and shot limits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

from qiskit.providers import QubitProperties

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.backends.qiskit import QiskitBackend
from qtrain.backends.qiskit_jobs import Piece, Slot, pack_jobs, plan_pieces
from qtrain.sim.measure import measurement_plan

AerSimulator = pytest.importorskip("qiskit_aer").AerSimulator
fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")

CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).cx(0, 1).ry(1, qt.P(1))
H2 = qt.Observable.parse("-1.05 + 0.39 Z0 - 0.39 Z1 - 0.01 Z0 Z1 + 0.18 X0 X1")
PARAMS = np.array([[0.2, -0.1], [1.3, 0.4], [-2.0, 0.9]])


def _task(shots: int = 300) -> Task:
    return Task(CIRCUIT, (H2,), PARAMS, shots=shots, seed=5)


def _cached(backend: QiskitBackend, store: qt.ResultStore) -> int:
    executor = qt.Executor(backend, store=store)
    executor.run([_task()])
    return executor.counters.cached


def test_two_backends_never_share_rows(tmp_path: Path) -> None:
    store = qt.ResultStore(tmp_path / "store.sqlite")
    aer = QiskitBackend(AerSimulator(method="statevector"), seed_transpiler=1)
    manila = QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=1)
    lima = QiskitBackend(fake_provider.FakeLimaV2(), seed_transpiler=1)
    assert [_cached(b, store) for b in (aer, manila, lima)] == [0, 0, 0]
    assert len(store) == 9
    again = QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=1)  # same identity
    assert _cached(again, store) == 3
    other_layout = QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=2)
    assert _cached(other_layout, store) == 0  # transpile options are part of the key


def _recalibrated(backend: QiskitBackend) -> None:
    """The device reports new T1s (a recalibration); the backend reads them again."""
    target = backend.backend.target
    target.qubit_properties = [  # Qiskit hands out copies: replace the list
        QubitProperties(t1=q.t1 * 0.8, t2=q.t2 * 0.8, frequency=q.frequency)
        for q in target.qubit_properties
    ]
    backend.refresh_calibration()


@pytest.mark.parametrize(("policy", "reused"), [("strict", 0), ("any", 3)])
def test_a_new_calibration_is_not_reused_under_strict(
    tmp_path: Path, policy: str, reused: int
) -> None:
    store = qt.ResultStore(tmp_path / "store.sqlite")
    backend = QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=1, calibration_key=policy)
    executor = qt.Executor(backend, store=store)
    executor.run([_task()])
    executor.run([_task()])
    assert executor.counters.cached == 3  # same calibration: read back under both policies
    before = backend.calibration
    _recalibrated(backend)
    assert backend.calibration is not None and before is not None
    assert backend.calibration.t1 != before.t1
    executor.run([_task()])
    assert executor.counters.cached == 3 + reused
    assert ("calibration" in backend.identity()) == (policy == "strict")


def test_a_mitigated_backend_follows_its_inner_calibration(tmp_path: Path) -> None:
    store = qt.ResultStore(tmp_path / "store.sqlite")
    inner = QiskitBackend(fake_provider.FakeManilaV2(), seed_transpiler=1)
    readout = qt.ReadoutMitigation(calibration=inner.calibration)  # the device's own snapshot
    mitigated = qt.Mitigated(inner, readout=readout)
    executor = qt.Executor(mitigated, store=store)
    executor.run([_task()])
    _recalibrated(inner)
    executor.run([_task()])
    assert executor.counters.cached == 0


def test_shots_above_the_device_limit_are_split_and_added_up() -> None:
    aer = AerSimulator(method="statevector")
    whole = QiskitBackend(aer, seed_transpiler=1)
    split = QiskitBackend(aer, seed_transpiler=1)
    split.max_shots = 128  # a device that takes at most 128 shots per circuit
    task = Task(CIRCUIT, (H2,), PARAMS, shots=1000, seed=9)
    got = split.run([task])[0]
    assert got is not None and got.shots == 1000 * 3 * 2
    want = whole.run([Task(CIRCUIT, (H2,), PARAMS)])[0]
    assert want is not None and got.variances is not None
    z = (got.values - want.values) / np.sqrt(got.variances)
    assert np.all(np.abs(z) < 5)
    spread = whole.run([task])[0]
    assert spread is not None and spread.variances is not None
    np.testing.assert_allclose(got.variances, spread.variances, rtol=0.3)  # 1000 shots each


def test_pieces_respect_circuit_and_shot_limits() -> None:
    group = measurement_plan(qt.Z(0), 1).groups[0]
    slots = [
        Slot(0, group, None, np.arange(7)),
        Slot(0, group, None, np.array([7, 9])),
    ]
    pieces = plan_pieces(slots, [250, 40], max_circuits=3, max_shots=100)
    assert all(p.rows.size <= 3 and p.shots <= 100 for p in pieces)
    for index, (slot, shots) in enumerate(zip(slots, [250, 40], strict=True)):
        mine = [p for p in pieces if p.slot == index]
        per_row = {int(r): 0 for r in slot.rows}
        for piece in mine:
            for row in piece.rows.tolist():
                per_row[row] += piece.shots
        assert set(per_row.values()) == {shots}  # every row gets all its shots, no more
    jobs = pack_jobs(pieces, max_circuits=4)
    assert sorted(i for job in jobs for i in job) == list(range(len(pieces)))
    assert all(sum(pieces[i].rows.size for i in job) <= 4 for job in jobs)
    assert pack_jobs([Piece(0, np.arange(5), 10)], max_circuits=4) == [[0]]  # rows pre-split


def test_a_task_over_max_circuits_runs_as_several_jobs_with_the_same_numbers() -> None:
    aer = AerSimulator(method="statevector")
    one = QiskitBackend(aer, seed_transpiler=1)
    many = QiskitBackend(aer, seed_transpiler=1, max_circuits=2)
    task = Task(CIRCUIT, (H2,), PARAMS, shots=400, seed=4)
    submission = many.submit([task])
    assert len(submission.ref["jobs"][0]) > 1
    got = many.collect(submission)[0]
    want = one.run([Task(CIRCUIT, (H2,), PARAMS)])[0]
    assert got is not None and want is not None and got.variances is not None
    assert np.all(np.abs(got.values - want.values) < 5 * np.sqrt(got.variances))


def test_the_jobs_of_one_task_are_independent_draws() -> None:
    aer = AerSimulator(method="statevector")
    backend = QiskitBackend(aer, seed_transpiler=1, max_circuits=1)
    backend.max_shots = 1000  # 2000 shots: two parts, one job each
    task = Task(qt.Circuit(1).ry(0, qt.P(0)), (qt.Z(0),), np.array([[1.1]]), shots=2000, seed=3)
    submission = backend.submit([task])
    (work,) = submission.state[1]
    assert len(work.jobs) == 2
    first, second = (np.asarray(job.result()[0].data.c.array) for job in work.jobs)
    assert not np.array_equal(first, second)  # one seed per job, not one per task
    result = backend.collect(submission)[0]
    assert result is not None and result.variances is not None
    exact = np.cos(1.1)
    assert abs(result.values[0, 0] - exact) < 4 * np.sqrt(result.variances[0, 0])
