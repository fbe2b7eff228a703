"""``QiskitBackend``: the backend protocol over Qiskit: Aer, fake devices, IBM devices, primitives.

Needs the ``qiskit`` extra (``qiskit``, ``qiskit-aer``; ``qiskit-ibm-runtime`` for devices).
What it runs on is a target (``backends.qiskit_target``): an ``AerSimulator``, a fake device
simulated with its noise, an IBM device through qiskit-ibm-runtime's client-side sampler (job,
batch or session mode), a SamplerV2-like primitive or an EstimatorV2. Every circuit is
transpiled once per fingerprint (``backends.qiskit_compile``); then

* **sampled** tasks (``shots`` given): one Sampler PUB per (measurement group, distinct shot
  count) with all its rows as one parameter array, split to the device's circuits-per-job
  and shots-per-circuit limits (``backends.qiskit_jobs``); bit strings become each group's
  mean and variance with the local simulator's statistics (``backends.qiskit_counts``). On
  Aer a task's seed is the sampler's seed: the same task gives the same numbers.
* **exact** tasks (``shots=None``): Aer's ``EstimatorV2`` with precision 0 (its exact
  ``save_expectation_value`` path), one PUB per observable; only on an ``AerSimulator`` (or
  Aer's estimator as the target) — a device refuses exact tasks before any job.
* on an **estimator** target, sampled tasks too: a precision per (row, observable) derived
  from the shots (``backends.qiskit_estimator``).

Calls are asynchronous (``backends.protocol.Asynchronous``): :meth:`QiskitBackend.submit`
sends every job and returns; :meth:`QiskitBackend.collect` waits (Aer's in-process jobs are
joined, a provider's are polled) and records queue and execution time apart;
:meth:`QiskitBackend.attach` finds a submission's jobs again by id through the provider's
service, so the executor's job journal (``exec.jobs``) re-attaches after a crash. A job the
provider reports failed or cancelled is a missing result, retried by the executor.

qiskit-ibm-runtime 0.50+ deprecates its ``SamplerV2``/``EstimatorV2`` for the client-side
``executor_sampler.Sampler``, used here for IBM devices. Fake devices run on Aer's own
primitives instead: the client-side sampler's local mode rounds every bound angle to 5
decimals of π/2 (``simulator.angle_decimals``) and restarts one seed for every PUB.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from qtrain.extras import require

# Aer's OpenMP threads spin while idle by default: on a busy machine a small gradient took
# 0.24 s instead of 0.035 s (docs/performance.md). OpenMP reads this when Aer's library
# loads, so it is set before Aer is imported; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
require("qiskit_aer", extra="qiskit", purpose="qtrain.backends.qiskit (QiskitBackend)")

import numpy as np  # noqa: E402  # after the check, so a missing extra is one clear error
from qiskit_aer import AerSimulator  # noqa: E402

from qtrain.backends.protocol import BackendLimits, Result, Submission, Task, fresh_seed  # noqa: E402
from qtrain.backends.qiskit_calibration import calibration_from_target  # noqa: E402
from qtrain.backends.qiskit_compile import Compiled, compile_circuit  # noqa: E402
from qtrain.backends.qiskit_estimator import estimator_layout, estimator_values  # noqa: E402
from qtrain.backends.qiskit_jobs import (  # noqa: E402
    JobTimes,
    Slot,
    Work,
    aggregate,
    fetch,
    pack_jobs,
    plan_pieces,
    sampler_pub,
    wait_for,
)
from qtrain.backends.qiskit_submit import (  # noqa: E402
    cancel_jobs,
    check_ref,
    job_seed,
    retrieve_jobs,
    send_jobs,
    submission_ref,
)
from qtrain.backends.qiskit_target import (  # noqa: E402
    calibration_digest,
    max_circuits_of,
    max_shots_of,
    noise_digest,
    resolve_target,
)
from qtrain.errors import (  # noqa: E402
    ConfigError,
    DeviceCapabilityError,
    JobFailedError,
    JobLostError,
    TransientExecutionError,
)
from qtrain.logs import emit  # noqa: E402
from qtrain.noise.calibration import Calibration  # noqa: E402
from qtrain.sim.measure import measurement_plan  # noqa: E402

__all__ = ["QiskitBackend"]

_SAMPLING_SCHEME = 2  # bump when the numbers of a given (task, seed) change (2: job seeds)
_CALIBRATION_KEYS = ("strict", "any")
_LOG = logging.getLogger("qtrain.exec")


class QiskitBackend:
    """Run qtrain tasks on Qiskit: an ``AerSimulator``, a (fake) IBM device or a primitive.

    Args:
        target: a ``BackendV2`` (``AerSimulator(...)``: exact and sampled; a device such as
            ``FakeManilaV2()`` or an IBM backend: sampled only), a SamplerV2-like primitive or
            an ``EstimatorV2`` (``backends.qiskit_target``, ``backends.qiskit_estimator``).
        transpile: extra keyword arguments for ``qiskit.transpile`` (``layout_method``,
            ``initial_layout``, ``routing_method`` …), part of the identity.
        optimization_level: ``transpile``'s optimization level.
        seed_transpiler: ``transpile``'s seed (layout and routing are then reproducible).
        execution: ``"job"``, ``"batch"`` or ``"session"``: qiskit-ibm-runtime's execution
            mode for an IBM device (accepted, without effect, for local targets).
        service: retrieves jobs by id (``service.job(job_id)``) so that a resumed run
            re-attaches to pending jobs; an IBM backend's own service by default.
        calibration_key: ``"strict"`` (default): the device's calibration snapshot is part of
            the identity (the store never serves a row measured under another calibration);
            ``"any"``: rows are reused across calibrations.
        poll_s: first interval between status polls of a provider's job (it grows ×1.5 up
            to 5 s).
        max_wait_s: how long one wait for a provider's job may last before the call fails
            as transient (the job is not cancelled: its journal entry stays, and the retry or
            a resumed run re-attaches); ``None``: wait as long as it takes.
        max_circuits: circuits per job (default: the device's stated limit, none for Aer).

    Raises:
        ConfigError: a target that is neither, a transpile option that is not JSON, an
            unknown execution mode or calibration policy.
    """

    def __init__(
        self,
        target: Any,
        *,
        transpile: Mapping[str, Any] | None = None,
        optimization_level: int = 1,
        seed_transpiler: int | None = None,
        execution: str = "job",
        service: Any = None,
        calibration_key: str = "strict",
        poll_s: float = 0.05,
        max_wait_s: float | None = None,
        max_circuits: int | None = None,
    ) -> None:
        options = dict(transpile or {})
        options.update(optimization_level=optimization_level, seed_transpiler=seed_transpiler)
        try:
            json.dumps(options, sort_keys=True)
        except TypeError as exc:
            raise ConfigError(f"transpile options must be plain JSON values: {exc}") from None
        if calibration_key not in _CALIBRATION_KEYS:
            raise ConfigError(
                f"calibration_key must be one of {', '.join(_CALIBRATION_KEYS)}, got "
                f"{calibration_key!r}"
            )
        self.target = resolve_target(target, execution=execution, service=service)
        self.backend = self.target.device
        self.is_simulator = self.target.kind == "aer"
        self.n_qubits = int(self.backend.num_qubits)  # Aer rebuilds its Target on each read
        self.transpile_options = options
        self.calibration_key = calibration_key
        for label, value in (("poll_s", poll_s), ("max_wait_s", max_wait_s)):
            if value is not None and not (isinstance(value, int | float) and 0 < value < 1e9):
                raise ConfigError(f"{label} must be a positive number of seconds, got {value!r}")
        self.poll_s, self.max_wait_s = float(poll_s), max_wait_s
        if max_circuits is not None and (not isinstance(max_circuits, int) or max_circuits < 1):
            raise ConfigError(f"max_circuits must be a positive int, got {max_circuits!r}")
        stated = None if self.is_simulator else max_circuits_of(self.backend)
        self.max_circuits = max_circuits or stated or (1 << 30)
        self.max_shots = max_shots_of(self.backend) or (1 << 62)
        self._compiled: dict[str, Compiled] = {}
        self._calibration: tuple[Calibration | None] | None = None
        self._inflight: dict[int, list[Work]] = {}
        self._lock = threading.Lock()

    @property
    def calibration(self) -> Calibration | None:
        """The device's calibration snapshot (cached).

        ``None`` for an ``AerSimulator`` target and for a device whose target reports no
        T1/T2 (it has no calibration to name).
        """
        if self._calibration is None:
            props = self.backend.target.qubit_properties
            reported = bool(props) and all(q is not None and q.t1 is not None for q in props)
            found = None
            if not self.is_simulator and reported:
                found = calibration_from_target(self.backend)
            self._calibration = (found,)
        return self._calibration[0]

    def refresh_calibration(self) -> Calibration | None:
        """Read the device's calibration again (an IBM backend's ``refresh()`` first).

        Under ``calibration_key="strict"`` a changed snapshot changes :meth:`identity`, so
        rows measured under the old one are not reused; ``identity_epoch`` tells the
        executor to recompute its key.
        """
        if self.target.kind == "ibm":  # a fake device's refresh() downloads: never here
            self.backend.refresh()
        self._calibration = None
        return self.calibration

    @property
    def identity_epoch(self) -> str | None:
        """Changes exactly when :meth:`identity` does over this object's life (calibration)."""
        if self.calibration_key != "strict" or self.calibration is None:
            return None
        return calibration_digest(self.calibration)

    @property
    def name(self) -> str:
        """``"qiskit:<backend name>"``."""
        return f"qiskit:{self.backend.name}"

    @property
    def limits(self) -> BackendLimits:
        """The device's qubits (shots above its per-circuit limit are split into PUBs)."""
        return BackendLimits(max_qubits=self.n_qubits)

    def identity(self) -> dict[str, object]:
        """Provider, device, transpile options; Aer's method and noise; the calibration."""
        kind = type(self.backend)
        identity: dict[str, object] = {
            "backend": self.name,
            "provider": f"{kind.__module__}.{kind.__qualname__}",
            "device": str(self.backend.name),
            "version": str(getattr(self.backend, "backend_version", "")),
            "transpile": dict(sorted(self.transpile_options.items())),
            "sampling": _SAMPLING_SCHEME,
        }
        if self.target.kind == "primitive":
            primitive = type(self.target.sampler(0))
            identity["primitive"] = f"{primitive.__module__}.{primitive.__qualname__}"
        if self.is_simulator:
            options = self.backend.options
            identity["method"] = str(options.method)
            noise = options.noise_model
            identity["noise"] = None if noise is None else noise_digest(noise)
        epoch = self.identity_epoch
        if epoch is not None:
            identity["calibration"] = epoch
        return identity

    def compiled(self, task: Task) -> Compiled:
        """The task's circuit transpiled for this backend (once per fingerprint)."""
        key = task.circuit.fingerprint()
        found = self._compiled.get(key)
        if found is None:
            found = compile_circuit(
                task.circuit,
                self.backend,
                device_qubits=self.n_qubits,
                is_aer=isinstance(self.backend, AerSimulator),
                options=self.transpile_options,
            )
            self._compiled[key] = found
        return found

    def run(self, tasks: Sequence[Task]) -> list[Result | None]:
        """Submit every task and wait: :meth:`collect` of :meth:`submit`."""
        return self.collect(self.submit(tasks))

    def _work(self, tasks: Sequence[Task]) -> list[Work]:
        """Every task checked and transpiled (all before any job), then planned."""
        for task in tasks:
            if task.shots is None and not self.target.exact:
                raise DeviceCapabilityError(
                    f"exact values need a simulator: give shots ({self.backend.name!r} is a "
                    "device); nothing was submitted"
                )
        compiled = [self.compiled(task) for task in tasks]
        return [self._plan(task, c) for task, c in zip(tasks, compiled, strict=True)]

    def submit(self, tasks: Sequence[Task]) -> Submission:
        """Check and transpile every task, then send their jobs; returns without waiting.

        Raises:
            DeviceCapabilityError: exact values asked of a device, a circuit larger than
                the device or one it cannot transpile — before any job is submitted.
        """
        work = self._work(tasks)
        with self._lock:  # registered first: a cancel during a slow submission reaches it
            self._inflight[id(tasks)] = work
        try:
            send_jobs(work, self._send, self.name)
        except TransientExecutionError:
            with self._lock:
                self._inflight.pop(id(tasks), None)
            raise
        return Submission(submission_ref(self.name, work), (id(tasks), work))

    def attach(self, ref: Mapping[str, Any], tasks: Sequence[Task]) -> Submission:
        """The jobs ``ref`` names, retrieved through the service, for the same ``tasks``.

        Raises:
            JobLostError: no service can retrieve jobs (Aer runs them in-process), the ref
                records other work, or the provider does not know a job.
            TransientExecutionError: the provider could not be asked (retry: the entry stays).
        """
        service = self.target.service
        if service is None:
            raise JobLostError(f"{self.name} cannot retrieve jobs by id (no service)")
        work = self._work(tasks)
        retrieve_jobs(service, work, check_ref(ref, work, self.name), self.name)
        with self._lock:
            self._inflight[id(tasks)] = work
        return Submission(dict(ref), (id(tasks), work))

    def collect(self, submission: Submission) -> list[Result | None]:
        """Wait for every job of ``submission``; one result per task (``None``: a job failed)."""
        call, work = submission.state
        try:
            return [self._collect(item) for item in work]
        finally:
            with self._lock:
                self._inflight.pop(call, None)

    def cancel(self, tasks: Sequence[Task]) -> None:
        """Cancel the jobs of the call running ``tasks`` (it timed out), best effort."""
        with self._lock:
            work = self._inflight.get(id(tasks), [])
        cancel_jobs(work)

    def close(self) -> None:
        """Close the batch or session an IBM target opened."""
        self.target.close()

    def _plan(self, task: Task, compiled: Compiled) -> Work:
        if task.shots is None or self.target.kind == "estimator":
            layout = estimator_layout(task, compiled)
            packs = layout.jobs()  # one precision per job: IBM's estimator asks that
            return Work(task, compiled, task.seed, [], [], packs, [], 0.0, layout)
        shots = task.shot_matrix()
        assert shots is not None  # sampled
        slots, counts = [], []
        g = 0
        for o, observable in enumerate(task.observables):
            for group in measurement_plan(observable, compiled.n_qubits).groups:
                circuit = compiled.measured(group.rotations)
                for count in np.unique(shots[:, g]):
                    slots.append(Slot(o, group, circuit, np.flatnonzero(shots[:, g] == count)))
                    counts.append(int(count))
                g += 1
        pieces = plan_pieces(slots, counts, self.max_circuits, self.max_shots)
        seed = task.seed if task.seed is not None else fresh_seed()
        return Work(
            task, compiled, seed, slots, pieces, pack_jobs(pieces, self.max_circuits), [], 0.0
        )

    def _send(self, item: Work, pack: list[int], job: int) -> Any:
        if item.layout is not None:  # exact, or an estimator target
            return self.target.estimator().run([item.layout.pubs[i] for i in pack])
        binds = item.compiled.bindings(item.task.params)
        pubs = []
        for index in pack:
            piece = item.pieces[index]
            slot = item.slots[piece.slot]
            pubs.append(sampler_pub(slot.circuit, binds[piece.rows], piece.shots))
        assert item.seed is not None  # sampled work has one
        return self.target.sampler(job_seed(item.seed, job)).run(pubs)

    def _collect(self, item: Work) -> Result | None:
        times = []
        try:
            for job in item.jobs:
                times.append(wait_for(job, item.submitted, self.poll_s, self.max_wait_s))
        except JobFailedError as error:
            message = f"{self.name}: {error}"
            details = {"backend": self.name, "job_id": error.job_id, "status": error.status}
            emit(_LOG, logging.WARNING, "exec.job_failed", message, **details)
            return None
        metadata = self._metadata(item, times, item.task.params.shape[0])
        shots = item.task.shot_matrix()
        spent = 0 if shots is None else int(shots.sum())  # an estimator's: what was asked
        if shots is not None:
            metadata["seed"] = item.seed
        if item.layout is not None:  # exact, or an estimator target
            results = [pub for job in item.jobs for pub in fetch(job)]
            values, spread = estimator_values(item.task, item.layout, results)
            return Result(values, spread, spent, metadata)
        values, variances, terms = aggregate(item, [fetch(job) for job in item.jobs])
        if terms is not None:
            metadata["term_values"] = terms
        return Result(values, variances, spent, metadata)

    def _metadata(self, item: Work, times: list[JobTimes], rows: int) -> dict[str, object]:
        metadata: dict[str, object] = {
            "backend": self.name,
            "job_ids": [str(job.job_id()) for job in item.jobs],
            "rows": rows,
            "queue_s": sum(t.queue_s for t in times),
            "execution_s": sum(t.execution_s for t in times),
            "seconds": time.time() - item.submitted,
        }
        if self.calibration is not None:  # a simulator names none (the ledger reads "" then)
            metadata["calibration_id"] = self.calibration.id
        return metadata
