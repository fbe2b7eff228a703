"""The job journal: provider jobs written down before waiting, re-attached after a crash."""

from __future__ import annotations

import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

import qtrain as qt
from qtrain.backends.protocol import Task
from qtrain.backends.qiskit import QiskitBackend
from qtrain.backends.qiskit_submit import physical_digest
from qtrain.exec.jobs import JobJournal, call_key
from qtrain.testing import spool
from qtrain.testing.spool import SpoolService

AerSimulator = pytest.importorskip("qiskit_aer").AerSimulator
CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).cx(0, 1).rx(1, 2 * qt.P(1) + 0.3)
OBSERVABLE = qt.Observable.parse("0.5 Z0 + 0.8 X1 - 0.3 Z0 Z1")
THETA = np.array([0.4, -0.7])


def _spooled(folder: Path, **options: object) -> tuple[SpoolService, QiskitBackend]:
    aer = AerSimulator(method="statevector", max_parallel_threads=1)
    service = SpoolService(folder, aer, **options)  # type: ignore[arg-type]
    return service, QiskitBackend(service.sampler(), service=service, seed_transpiler=1)


def _task(shots: int = 500, seed: int = 3) -> Task:
    params = np.array([THETA, THETA + 0.5, THETA - 1.0])
    return Task(CIRCUIT, (OBSERVABLE,), params, shots=shots, seed=seed)


def test_job_ids_are_journaled_before_waiting_and_dropped_once_stored(tmp_path: Path) -> None:
    service, backend = _spooled(tmp_path / "spool", queue_s=0.4)
    store = qt.ResultStore(tmp_path / "store.sqlite")
    executor = qt.Executor(backend, store=store)
    seen: list[list[dict[str, object]]] = []
    done = threading.Event()

    def watch() -> None:
        journal = JobJournal(qt.ResultStore(tmp_path / "store.sqlite"))
        while not done.is_set():
            seen.append(journal.entries())
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = executor.run([_task()])[0]
    finally:
        done.set()
        watcher.join()
    pending = [entries for entries in seen if entries]
    assert pending, "the job was never journaled while it was pending"
    entry = pending[0][0]
    job_ids = [s["job_id"] for s in service.submissions()]
    assert entry["ref"]["jobs"] == [job_ids] and entry["backend"] == backend.name
    assert JobJournal(store).entries() == []  # its rows are stored: the entry went
    rows = store.get_many(executor.units([_task()]).keys())
    assert len(rows) == 3 and np.all(np.isfinite(result.values))
    metadata = next(iter(rows.values())).metadata
    assert metadata["job_ids"] == job_ids and metadata["queue_s"] >= 0.3  # provider's stamps
    assert executor.counters.queue_s >= 0.3 and executor.counters.execution_s >= 0.0


def test_a_pending_job_is_reattached_not_resubmitted(tmp_path: Path) -> None:
    service, backend = _spooled(tmp_path / "spool", queue_s=0.2)
    store = qt.ResultStore(tmp_path / "store.sqlite")
    task = _task()
    submission = backend.submit([task])  # a run that died after submitting: only the entry
    executor = qt.Executor(backend, store=store)
    units = executor.units([task])
    JobJournal(store).record(call_key([units.keys()]), backend.name, submission.ref)
    result = executor.run([task])[0]
    assert len(service.submissions()) == 1  # nothing submitted twice
    _, fresh = _spooled(tmp_path / "other", queue_s=0.0)
    want = qt.Executor(fresh).run([task])[0]
    np.testing.assert_array_equal(result.values, want.values)
    assert JobJournal(store).entries() == []


def test_a_job_the_provider_fails_is_retried_and_its_entry_dropped(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    service, backend = _spooled(tmp_path / "spool", fail_jobs=(0,), cancel_jobs=(1,))
    store = qt.ResultStore(tmp_path / "store.sqlite")
    retry = qt.RetryPolicy(attempts=4, initial_s=0.0, max_s=0.0, jitter_s=0.0)
    executor = qt.Executor(backend, store=store, retry=retry)
    with caplog.at_level(logging.WARNING, logger="qtrain.exec"):
        result = executor.run([_task()])[0]
    assert executor.counters.retried == 2 and len(service.submissions()) == 3
    failed = [r.fields for r in caplog.records if getattr(r, "event", "") == "exec.job_failed"]
    assert [f["status"] for f in failed] == ["ERROR", "CANCELLED"]
    assert np.all(np.isfinite(result.values)) and JobJournal(store).entries() == []


def test_aer_jobs_cannot_be_retrieved_so_a_stale_entry_is_resubmitted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    backend = QiskitBackend(AerSimulator(method="statevector"), seed_transpiler=1)
    store = qt.ResultStore(tmp_path / "store.sqlite")
    executor = qt.Executor(backend, store=store)
    task = _task()
    key = call_key([executor.units([task]).keys()])
    JobJournal(store).record(key, backend.name, {"backend": backend.name, "jobs": [["gone"]]})
    with caplog.at_level(logging.WARNING, logger="qtrain.exec"):
        result = executor.run([task])[0]
    assert [getattr(r, "event", "") for r in caplog.records] == ["exec.job_lost"]
    np.testing.assert_array_equal(result.values, backend.run([task])[0].values)  # type: ignore[union-attr]
    assert JobJournal(store).entries() == []


FIT = textwrap.dedent(
    """
    import sys, numpy as np, qtrain as qt
    from qiskit_aer import AerSimulator
    from qtrain.backends.qiskit import QiskitBackend
    from qtrain.testing.spool import SpoolService

    run_dir, spool, resume = sys.argv[1], sys.argv[2], sys.argv[3] == "resume"
    aer = AerSimulator(method="statevector", max_parallel_threads=1)
    service = SpoolService(spool, aer, queue_s=0.25)
    backend = QiskitBackend(service.sampler(), service=service, seed_transpiler=1)
    store = qt.ResultStore(run_dir + "/results.sqlite")
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cx(0, 1).rx(1, 2 * qt.P(1) + 0.3)
    objective = qt.Objective(circuit, qt.Observable.parse("0.5 Z0 + 0.8 X1 - 0.3 Z0 Z1"))
    result = qt.fit(
        objective, [0.4, -0.7], qt.optim.Adam(learning_rate=0.1), method="param-shift",
        shots=400, seed=11, budget=qt.Budget(max_steps=6), run_dir=run_dir, resume=resume,
        executor=qt.Executor(backend, store=store),
    )
    np.save(run_dir + "/theta.npy", result.theta)
    """
)


def _fit(run_dir: Path, spool: Path, mode: str, *, wait: bool = True) -> subprocess.Popen[bytes]:
    """The training run of ``FIT`` in a process of its own (waited for unless ``wait=False``)."""
    args = [sys.executable, "-c", FIT, str(run_dir), str(spool), mode]
    log = spool.parent / f"{run_dir.name}-{mode}.log"
    with log.open("wb") as sink:
        child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=sink)
    if wait:
        assert child.wait(120) == 0, log.read_text()
    return child


def _pending(store: Path) -> int:
    if not store.exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=5) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM jobs").fetchone()[0])
    except sqlite3.OperationalError:  # no jobs table yet
        return 0


@pytest.mark.slow
def test_sigkill_with_jobs_pending_resumes_without_paying_twice(tmp_path: Path) -> None:
    _fit(tmp_path / "whole", tmp_path / "whole-spool", "start")
    child = _fit(tmp_path / "run", tmp_path / "spool", "start", wait=False)
    deadline = time.monotonic() + 90
    spool = SpoolService(tmp_path / "spool", AerSimulator(method="statevector"), queue_s=0.25)
    while time.monotonic() < deadline:  # kill it while its third step's job is queued
        if len(spool.submissions()) >= 3 and _pending(tmp_path / "run" / "results.sqlite"):
            break
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    assert child.returncode == -signal.SIGKILL
    killed_with = _pending(tmp_path / "run" / "results.sqlite")
    assert killed_with == 1  # a job was pending when the run died
    _fit(tmp_path / "run", tmp_path / "spool", "resume")
    digests = [s["digest"] for s in spool.submissions()]
    assert len(digests) == len(set(digests))  # no job was paid for twice
    whole_spool = SpoolService(
        tmp_path / "whole-spool", AerSimulator(method="statevector"), queue_s=0.25
    )
    assert digests == [s["digest"] for s in whole_spool.submissions()]
    theta = np.load(tmp_path / "run" / "theta.npy")
    np.testing.assert_array_equal(theta, np.load(tmp_path / "whole" / "theta.npy"))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert (summary["steps"], summary["stopped_by"]) == (6, "max_steps")


def test_a_provider_that_cannot_be_asked_is_asked_again_not_paid_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, backend = _spooled(tmp_path / "spool", queue_s=0.1)
    honest = spool.SpoolJob.status
    blips = iter([True])  # the first status call fails, as a dropped connection does

    def flaky(job: spool.SpoolJob) -> str:
        if next(blips, False):
            raise ConnectionError("connection reset by peer")
        return honest(job)

    monkeypatch.setattr(spool.SpoolJob, "status", flaky)
    retry = qt.RetryPolicy(attempts=3, initial_s=0.0, max_s=0.0, jitter_s=0.0)
    store = qt.ResultStore(tmp_path / "store.sqlite")
    executor = qt.Executor(backend, store=store, retry=retry)
    result = executor.run([_task()])[0]
    assert executor.counters.retried == 1 and len(service.submissions()) == 1  # re-attached
    assert np.all(np.isfinite(result.values)) and JobJournal(store).entries() == []


def test_a_mitigated_run_on_a_provider_reattaches_too(tmp_path: Path) -> None:
    service, inner = _spooled(tmp_path / "spool", queue_s=0.1)
    readout = qt.ReadoutMitigation(shots=2000, seed=4)  # measured on the provider as well
    mitigated = qt.Mitigated(inner, readout=readout, zne=qt.ZNE(factors=(1, 3)))
    assert mitigated.asynchronous
    assert not qt.Mitigated(qt.LocalSimulator(), readout=True).asynchronous
    store = qt.ResultStore(tmp_path / "store.sqlite")
    executor = qt.Executor(mitigated, store=store)
    task = _task(shots=4000)
    mitigated.prepare([task])  # the calibration, as the executor measures it before a call
    submission = mitigated.submit([task])  # a run that died after submitting
    sent = len(service.submissions())
    JobJournal(store).record(call_key([executor.units([task]).keys()]), "m", submission.ref)
    result = executor.run([task])[0]
    assert len(service.submissions()) == sent  # its jobs were re-attached, not re-sent
    assert np.all(np.isfinite(result.values)) and JobJournal(store).entries() == []


def test_a_ref_for_other_work_is_not_attached(tmp_path: Path) -> None:
    _, backend = _spooled(tmp_path / "spool")
    ref = backend.submit([_task(seed=3)]).ref
    with pytest.raises(qt.ExecutionError, match="ran other tasks"):
        backend.attach(ref, [_task(seed=4)])


def test_a_journaled_call_waits_out_a_queue_longer_than_the_call_timeout(tmp_path: Path) -> None:
    service, backend = _spooled(tmp_path / "spool", queue_s=0.6)
    retry = qt.RetryPolicy(attempts=2, initial_s=0.0, max_s=0.0, jitter_s=0.0, timeout_s=0.2)
    executor = qt.Executor(backend, store=qt.ResultStore(tmp_path / "s.sqlite"), retry=retry)
    result = executor.run([_task()])[0]
    assert len(service.submissions()) == 1 and executor.counters.abandoned == 0
    assert np.all(np.isfinite(result.values))


def test_max_wait_fails_the_wait_but_keeps_the_job_and_the_retry_reattaches(tmp_path: Path) -> None:
    aer = AerSimulator(method="statevector", max_parallel_threads=1)
    service = SpoolService(tmp_path / "spool", aer, queue_s=0.5)
    backend = QiskitBackend(service.sampler(), service=service, max_wait_s=0.2)
    retry = qt.RetryPolicy(attempts=6, initial_s=0.05, max_s=0.05, jitter_s=0.0)
    store = qt.ResultStore(tmp_path / "s.sqlite")
    executor = qt.Executor(backend, store=store, retry=retry)
    result = executor.run([_task()])[0]
    assert executor.counters.retried >= 1 and len(service.submissions()) == 1
    assert np.all(np.isfinite(result.values)) and JobJournal(store).entries() == []
    with pytest.raises(qt.ConfigError, match="max_wait_s"):
        QiskitBackend(service.sampler(), max_wait_s=0)


def test_a_failure_to_reach_the_provider_on_reattach_keeps_the_entry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    service, backend = _spooled(tmp_path / "spool", queue_s=0.1)
    store = qt.ResultStore(tmp_path / "store.sqlite")
    retry = qt.RetryPolicy(attempts=3, initial_s=0.0, max_s=0.0, jitter_s=0.0)
    executor = qt.Executor(backend, store=store, retry=retry)
    task = _task()
    JobJournal(store).record(
        call_key([executor.units([task]).keys()]), backend.name, backend.submit([task]).ref
    )
    honest = SpoolService.job
    blips = iter([True])

    def flaky(self: SpoolService, job_id: str) -> spool.SpoolJob:
        if next(blips, False):
            raise ConnectionError("name resolution failed")
        return honest(self, job_id)

    monkeypatch.setattr(SpoolService, "job", flaky)
    executor.run([task])
    assert executor.counters.retried == 1 and len(service.submissions()) == 1


def test_physical_digests_ignore_coefficients_not_bases() -> None:
    def digest(text: str) -> str:
        task = Task(CIRCUIT, (qt.Observable.parse(text),), np.array([THETA]), shots=10, seed=1)
        return physical_digest(task, 2)

    assert digest("0.5 Z0 + 0.8 Z1") == digest("0.1 Z0 - 2.0 Z1 + 0.3")  # same basis, rows
    assert digest("0.5 Z0 + 0.8 Z1") != digest("0.5 Z0 + 0.8 X1")


def test_a_provider_backend_is_refused_by_dask_before_any_cluster(tmp_path: Path) -> None:
    _, backend = _spooled(tmp_path / "spool")
    with pytest.raises(qt.ConfigError, match="not Dask"):
        qt.DaskExecutor(backend=backend)
