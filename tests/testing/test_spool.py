"""The spool job provider: on-disk Sampler jobs, retrievable by id from any process."""

import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

pytest.importorskip("qiskit_aer")

from qiskit import QuantumCircuit, transpile
from qiskit.circuit import ClassicalRegister, ParameterVector
from qiskit.primitives import PrimitiveResult, SamplerPubResult
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2

from qtrain.testing.spool import (
    SpoolJobError,
    SpoolJobNotFoundError,
    SpoolService,
    job_seed,
)

VALUES = np.array([[0.1, 0.2], [0.7, -1.3], [2.0, 0.4]])


def circuit() -> QuantumCircuit:
    """Two qubits, θ[0] and θ[1], measured into register "c" (a fresh ParameterVector)."""
    theta = ParameterVector("θ", 2)
    qc = QuantumCircuit(2)
    qc.add_register(ClassicalRegister(2, "c"))
    qc.rx(theta[0], 0)
    qc.ry(theta[1], 1)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def fixed() -> QuantumCircuit:
    qc = QuantumCircuit(2)
    qc.add_register(ClassicalRegister(2, "c"))
    qc.h(0)
    qc.measure([0, 1], [0, 1])
    return qc


def pubs():
    return [(circuit(), VALUES, 64), (circuit(), VALUES[:2], 17), (fixed(), None, 9)]


def assert_same(result, expected) -> None:
    assert isinstance(result, PrimitiveResult)
    assert len(result) == len(expected)
    assert result.metadata == expected.metadata
    for got, want in zip(result, expected, strict=True):
        assert isinstance(got, SamplerPubResult)
        assert list(got.data.keys()) == list(want.data.keys()) == ["c"]
        assert got.data.shape == want.data.shape
        assert got.metadata["shots"] == want.metadata["shots"]
        assert got.data.c.num_bits == want.data.c.num_bits
        assert got.data.c.num_shots == want.data.c.num_shots
        np.testing.assert_array_equal(got.data.c.array, want.data.c.array)
        np.testing.assert_array_equal(got.join_data().array, want.join_data().array)


def direct(backend, pubs, seed):
    sim = backend if isinstance(backend, AerSimulator) else AerSimulator.from_backend(backend)
    return SamplerV2.from_backend(sim, seed=seed).run(pubs).result()


def test_numbers_equal_a_direct_aer_run(tmp_path):
    sim = AerSimulator()
    service = SpoolService(tmp_path, sim, seed=3)
    job = service.sampler().run(pubs())
    assert job.spec["seed"] == job_seed(3, job.spec["digest"])
    result = job.result()
    assert [r.data.shape for r in result] == [(3,), (2,), ()]
    assert [r.data.c.num_shots for r in result] == [64, 17, 9]
    assert_same(result, direct(sim, pubs(), job.spec["seed"]))
    assert job.done() and job.in_final_state() and job.error_message() is None
    assert service.job(job.job_id()).result() is not result  # read back from disk
    assert_same(service.job(job.job_id()).result(), result)


def test_default_shots_and_two_dimensional_values(tmp_path):
    sim = AerSimulator()
    values = np.linspace(0, 3, 12).reshape(2, 3, 2)
    jobs = [(circuit(), values), (fixed(),)]
    job = SpoolService(tmp_path, sim).sampler().run(jobs, shots=11)
    result = job.result()
    assert result[0].data.shape == (2, 3) and result[0].data.c.num_shots == 11
    assert_same(
        result, SamplerV2.from_backend(sim, seed=job.spec["seed"]).run(jobs, shots=11).result()
    )
    default = SpoolService(tmp_path / "d", sim).sampler().run([(fixed(),)]).result()
    assert default[0].data.c.num_shots == 1024  # Aer's default_shots


def test_status_progresses_queued_running_done(tmp_path):
    service = SpoolService(tmp_path, AerSimulator(), queue_s=0.08, run_s=0.08)
    job = service.sampler().run(pubs())
    seen = [job.status()]
    while seen[-1] != "DONE":
        time.sleep(0.005)
        if (status := job.status()) != seen[-1]:
            seen.append(status)
    assert seen[0] == "QUEUED"
    assert seen in (["QUEUED", "RUNNING", "DONE"], ["QUEUED", "DONE"])
    stamps = job.metrics()["timestamps"]
    assert stamps["created"] < stamps["running"] < stamps["finished"]
    usage = job.metrics()["usage"]
    assert usage["quantum_seconds"] == usage["seconds"] > 0


def test_result_waits_and_times_out(tmp_path):
    service = SpoolService(tmp_path, AerSimulator(), queue_s=0.05, run_s=0.05)
    job = service.sampler().run(pubs())
    with pytest.raises(TimeoutError, match=job.job_id()):
        job.result(timeout=0.001)
    assert job.metrics()["timestamps"]["finished"] is None
    assert len(job.result(timeout=5)) == 3  # waits through QUEUED and RUNNING


SUBMIT = """
import numpy as np, sys
from qiskit import QuantumCircuit
from qiskit.circuit import ClassicalRegister, ParameterVector
from qiskit_aer import AerSimulator
from qtrain.testing.spool import SpoolService
theta = ParameterVector("θ", 2)
qc = QuantumCircuit(2)
qc.add_register(ClassicalRegister(2, "c"))
qc.rx(theta[0], 0)
qc.ry(theta[1], 1)
qc.cx(0, 1)
qc.measure([0, 1], [0, 1])
service = SpoolService(sys.argv[1], AerSimulator(), seed=5, queue_s=float(sys.argv[2]))
values = np.array([[0.1, 0.2], [0.7, -1.3], [2.0, 0.4]])
print(service.sampler().run([(qc, values, 64), (qc, values[:2], 17)]).job_id())
"""

RESULT = """
import sys
from qiskit_aer import AerSimulator
from qtrain.testing.spool import SpoolService
service = SpoolService(sys.argv[1], AerSimulator(), seed=5, queue_s=float(sys.argv[2]))
print(service.job(sys.argv[3]).result()[0].data.c.get_counts())
"""


def python(script, *args):
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *map(str, args)],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return done.stdout.strip()


def test_a_job_from_another_process_is_retrieved_by_id(tmp_path):
    job_id = python(SUBMIT, tmp_path, 0.0)
    service = SpoolService(tmp_path, AerSimulator(), seed=5)
    job = service.job(job_id)
    assert not (job.path / "result.npz").exists()  # nobody has asked for it yet
    local = service.sampler().run([(circuit(), VALUES, 64), (circuit(), VALUES[:2], 17)])
    assert local.spec["digest"] == job.spec["digest"]  # same content, other process, same digest
    mine = [(circuit(), VALUES, 64), (circuit(), VALUES[:2], 17)]
    assert_same(job.result(), direct(AerSimulator(), mine, job.spec["seed"]))
    assert_same(local.result(), job.result())


def test_a_result_computed_in_one_process_is_read_by_another(tmp_path):
    job_id = python(SUBMIT, tmp_path, 0.05)
    counts = python(RESULT, tmp_path, 0.05, job_id)
    service = SpoolService(tmp_path, AerSimulator(), seed=5, queue_s=0.05)
    job = service.job(job_id)
    assert (job.path / "result.npz").exists() and (job.path / "final.json").exists()
    assert job.status() == "DONE"
    assert counts == str(job.result()[0].data.c.get_counts())


def test_failed_and_cancelled_jobs_raise(tmp_path):
    service = SpoolService(tmp_path, AerSimulator(), fail_jobs=[0, 2], cancel_jobs=[1])
    sampler = service.sampler()
    jobs = [sampler.run(pubs()) for _ in range(4)]
    assert [job.status() for job in jobs] == ["ERROR", "CANCELLED", "ERROR", "DONE"]
    for job in jobs[:3]:
        with pytest.raises(SpoolJobError, match=job.job_id()) as caught:
            job.result()
        assert job.error_message() is not None and job.error_message() in str(caught.value)
        assert not job.done() and job.in_final_state()
    assert "fail_jobs" in str(jobs[0].error_message())
    assert "cancel_jobs" in str(jobs[1].error_message())
    assert not (jobs[0].path / "result.npz").exists()
    assert jobs[3].error_message() is None and len(jobs[3].result()) == 3


def test_cancel_a_queued_job(tmp_path):
    service = SpoolService(tmp_path, AerSimulator(), queue_s=30.0)
    job = service.sampler().run(pubs())
    assert job.status() == "QUEUED"
    job.cancel()
    assert job.status() == "CANCELLED" and job.in_final_state()
    again = service.job(job.job_id())  # another handle sees it too
    assert again.status() == "CANCELLED"
    with pytest.raises(SpoolJobError, match="cancelled"):
        again.result()
    metrics = again.metrics()
    assert metrics["timestamps"]["running"] is None
    assert metrics["timestamps"]["finished"] is not None
    assert metrics["usage"]["quantum_seconds"] == 0.0


def test_cancel_after_done_changes_nothing(tmp_path):
    job = SpoolService(tmp_path, AerSimulator()).sampler().run(pubs())
    assert job.status() == "DONE"
    job.cancel()
    assert job.status() == "DONE" and len(job.result()) == 3


def test_unknown_job_id(tmp_path):
    service = SpoolService(tmp_path, AerSimulator())
    for job_id in ("spool-00000-deadbeef", "../service.json", "nonsense"):
        with pytest.raises(SpoolJobNotFoundError, match="no spool job"):
            service.job(job_id)


def test_mismatched_settings_are_refused(tmp_path):
    SpoolService(tmp_path, AerSimulator(), seed=0, queue_s=0.1)
    SpoolService(tmp_path, AerSimulator(), seed=0, queue_s=0.1)  # the same settings are fine
    with pytest.raises(ValueError, match=r"seed=0.*seed=1"):
        SpoolService(tmp_path, AerSimulator(), seed=1, queue_s=0.1)
    with pytest.raises(ValueError, match=r"fail_jobs=\[\].*fail_jobs=\[3\]"):
        SpoolService(tmp_path, AerSimulator(), queue_s=0.1, fail_jobs=[3])
    with pytest.raises(ValueError, match=r"queue_s=0.1.*queue_s=0.0"):
        SpoolService(tmp_path, AerSimulator())


def test_submissions_list_every_job_with_digests(tmp_path):
    service = SpoolService(tmp_path, AerSimulator())
    (tmp_path / "jobs" / ".tmp-spool-00099-killed").mkdir()  # a submission cut short
    first = service.sampler().run(pubs())
    other = service.sampler().run([(circuit(), VALUES + 0.5, 64)])
    same = service.sampler().run(pubs())  # identical content, fresh parameter objects
    listed = service.submissions()
    assert [s["job_id"] for s in listed] == [first.job_id(), other.job_id(), same.job_id()]
    assert [s["index"] for s in listed] == [0, 1, 2]
    assert listed[0]["digest"] == listed[2]["digest"] != listed[1]["digest"]
    assert all(len(s["digest"]) == 64 and s["created"] > 0 for s in listed)
    assert_same(first.result(), same.result())  # same content, same seed, same numbers


def test_concurrent_submissions_get_distinct_indices(tmp_path):
    service = SpoolService(tmp_path, AerSimulator())
    with ThreadPoolExecutor(8) as pool:
        jobs = list(
            pool.map(
                lambda _: SpoolService(tmp_path, AerSimulator()).sampler().run(pubs()), range(8)
            )
        )
    assert sorted(job.spec["index"] for job in jobs) == list(range(8))
    assert len({job.job_id() for job in jobs}) == 8
    handles = [service.job(jobs[0].job_id()) for _ in range(4)]
    with ThreadPoolExecutor(4) as pool:  # four handles finishing one job at once
        results = list(pool.map(lambda job: job.result(), handles))
    for result in results[1:]:
        assert_same(result, results[0])


def test_a_fake_device(tmp_path):
    fake_provider = pytest.importorskip("qiskit_ibm_runtime.fake_provider")
    device = fake_provider.FakeManilaV2()
    service = SpoolService(tmp_path, device, seed=7)
    sampler = service.sampler()
    assert sampler.mode is device
    isa = transpile(circuit(), backend=device, seed_transpiler=1)
    job = sampler.run([(isa, VALUES, 50)])
    assert_same(job.result(), direct(device, [(isa, VALUES, 50)], job.spec["seed"]))
    with pytest.raises(ValueError, match="not an ISA circuit"):
        sampler.run([(circuit(), VALUES, 50)])  # ry and cx are not Manila's instructions
