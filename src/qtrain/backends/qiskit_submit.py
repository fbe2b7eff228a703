"""Sending and finding jobs for :class:`~qtrain.backends.qiskit.QiskitBackend`.

* :func:`send_jobs` sends every job of a call, registering each as it goes (so a cancel
  during a slow submission reaches it); a provider that refuses one job is a transient
  failure, and the jobs already sent are cancelled — never left running unrecorded.
* :func:`job_seed`: job ``k`` of a task samples with its own seed (``k = 0``: the task's),
  so the shot parts and circuit blocks of a task split over jobs are independent draws.
* :func:`retrieve_jobs` finds recorded jobs again through the provider's service: a job the
  provider does not know is lost (``JobLostError``: the work is submitted again); any other
  failure (a network error) is transient, and the journal entry stays for the retry.
* :func:`submission_ref` is what the executor's journal stores: job ids and, per task, a
  digest of what its jobs physically run (:func:`physical_digest`): circuit, measurement
  bases, rows, shots and seed, not the observables' coefficients — a readout calibration
  measured again on resume rewrites the coefficients, not the circuits that ran.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from qtrain.backends.protocol import Task, child_seed
from qtrain.backends.qiskit_jobs import Work
from qtrain.errors import JobLostError, TransientExecutionError
from qtrain.sim.measure import measurement_plan

__all__ = ["job_seed", "physical_digest", "retrieve_jobs", "send_jobs", "submission_ref"]

Send = Callable[[Work, list[int], int], Any]  # (work, its pack, the job's index) -> job


def job_seed(seed: int, index: int) -> int:
    """The sampler seed of job ``index`` of a task seeded ``seed`` (the seed itself for 0)."""
    return seed if index == 0 else child_seed(seed, index)


def cancel_jobs(work: Sequence[Work]) -> None:
    """Ask the provider to cancel every job of ``work``, best effort."""
    for item in work:
        for job in item.jobs:
            try:
                job.cancel()
            except Exception:  # finished, or not cancellable: nothing to do
                continue


def send_jobs(work: Sequence[Work], send: Send, name: str) -> None:
    """Send every job of ``work`` (``item.jobs`` filled as they go).

    Raises:
        TransientExecutionError: the provider refused a job; the ones sent are cancelled.
    """
    try:
        for item in work:
            item.submitted = time.time()
            for index, pack in enumerate(item.packs):
                item.jobs.append(send(item, pack, index))
    except Exception as error:
        cancel_jobs(work)
        raise TransientExecutionError(f"{name} refused a job: {error}") from error


def _not_found(error: Exception) -> bool:
    """A provider's "no such job" (qiskit-ibm-runtime's ``RuntimeJobNotFound``, a KeyError)."""
    return isinstance(error, KeyError) or "NotFound" in type(error).__name__


def retrieve_jobs(
    service: Any, work: Sequence[Work], ids: Sequence[Sequence[str]], name: str
) -> None:
    """Fill every ``item.jobs`` with the recorded jobs, found through ``service``.

    Raises:
        JobLostError: the provider does not know a job.
        TransientExecutionError: it could not be asked (the entry stays: retry later).
    """
    for item, job_ids in zip(work, ids, strict=True):
        try:
            item.jobs = [service.job(str(job_id)) for job_id in job_ids]
        except Exception as error:
            message = f"{name}: cannot retrieve job(s) {list(job_ids)}: {error}"
            if _not_found(error):
                raise JobLostError(message) from None
            raise TransientExecutionError(message) from error
        item.submitted = time.time()


def physical_digest(task: Task, n_qubits: int) -> str:
    """What a task's jobs run: circuit, measurement bases, rows, shots and seed."""
    digest = hashlib.sha256(task.circuit.fingerprint().encode())
    for observable in task.observables:
        for group in measurement_plan(observable, n_qubits).groups:
            digest.update(repr(group.rotations).encode())
        digest.update(b"|")
    digest.update(np.ascontiguousarray(task.params, dtype=np.float64).tobytes())
    shots = task.shot_matrix()
    digest.update(b"exact" if shots is None else shots.tobytes())
    digest.update(f"seed={task.seed}".encode())
    return digest.hexdigest()[:32]


def submission_ref(name: str, work: Sequence[Work]) -> dict[str, Any]:
    """The journal's record of a submission: job ids and what each task's jobs run."""
    return {
        "backend": name,
        "jobs": [[str(job.job_id()) for job in item.jobs] for item in work],
        "tasks": [physical_digest(item.task, item.compiled.n_qubits) for item in work],
    }


def check_ref(ref: Mapping[str, Any], work: Sequence[Work], name: str) -> list[list[str]]:
    """The job ids of ``ref`` if it records exactly this work.

    Raises:
        JobLostError: it records other work (other circuits, rows, shots or job layout).
    """
    ids = ref.get("jobs")
    layout = [len(item.packs) for item in work]
    digests = [physical_digest(item.task, item.compiled.n_qubits) for item in work]
    if not isinstance(ids, list) or [len(i) for i in ids] != layout or ref.get("tasks") != digests:
        raise JobLostError(f"{name}: the recorded jobs {ids!r} ran other tasks")
    return [[str(i) for i in job_ids] for job_ids in ids]
