"""A job provider stand-in whose Sampler jobs live on disk, retrievable by id from any process.

``SpoolService(folder, backend)`` plays ``QiskitRuntimeService`` offline: ``sampler().run``
writes a job to ``folder/jobs/<job_id>/`` and returns; ``job(job_id)`` returns it in any
process. ``QUEUED`` for ``queue_s`` s, ``RUNNING`` for ``run_s`` s, then the first look (any
process) runs it with Aer (seed :func:`job_seed`) and stores the bits. SIGKILL-safe: indices
are O_EXCL claims, a job folder is renamed into place, results ``os.replace``-d, and the
outcome (``final.json``) published once with ``os.link`` — concurrent finishers agree.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import json
import math
import os
import re
import time
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from qiskit import QuantumCircuit, qpy
from qiskit.primitives import BindingsArray, BitArray, DataBin, PrimitiveResult, SamplerPubResult
from qiskit.primitives.containers import SamplerPub
from qiskit.providers import BackendV2
from qiskit_aer import AerSimulator
from qiskit_aer.primitives import SamplerV2

__all__ = ["SpoolJob", "SpoolJobError", "SpoolJobNotFoundError", "SpoolSampler", "SpoolService"]

DEFAULT_SHOTS = 1024  # Aer SamplerV2's default_shots: a PUB without shots when run() has none
FINAL_STATES = ("DONE", "ERROR", "CANCELLED")
_FORMAT = 1  # bump when the stored layout or the digest changes
_JOB_ID = re.compile(r"spool-\d{5,}-[0-9a-f]{8}")
_SETTINGS = ("format", "backend", "queue_s", "run_s", "seed", "fail_jobs", "cancel_jobs")
_Pub = tuple[QuantumCircuit, NDArray[np.float64], int]  # circuit, values (*shape, P), shots


class SpoolJobError(RuntimeError):
    """A spool job ended in ERROR or CANCELLED; the message names the job id and the reason."""


class SpoolJobNotFoundError(KeyError):
    """No job with this id was ever submitted to the spool folder."""


def job_seed(service_seed: int, digest: str) -> int:
    """The Aer seed of a job: a 32-bit hash of the service seed and the job's content digest."""
    text = f"{service_seed}:{digest}".encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:4], "big")


class SpoolService:
    """A job provider over ``folder``: sampler jobs kept on disk, retrievable by id.

    Args:
        folder: the spool folder (created if missing), shared by every process.
        backend: an ``AerSimulator`` (runs the jobs), or a device (``FakeManilaV2()`` …:
            ISA circuits only, run on ``AerSimulator.from_backend``).
        queue_s: seconds a job stays ``QUEUED`` after submission.
        run_s: seconds it is then ``RUNNING`` before it is final.
        seed: the service seed; each job's Aer seed is ``job_seed(seed, digest)``.
        fail_jobs: submission indices (0-based, over the folder) that end in ``ERROR``.
        cancel_jobs: submission indices that end ``CANCELLED``.

    Raises:
        ValueError: the folder was set up with other settings (the message names both).
    """

    def __init__(
        self,
        folder: str | Path,
        backend: BackendV2,
        *,
        queue_s: float = 0.0,
        run_s: float = 0.0,
        seed: int = 0,
        fail_jobs: Iterable[int] = (),
        cancel_jobs: Iterable[int] = (),
    ) -> None:
        self.folder = Path(folder)
        self.backend = backend
        self.queue_s, self.run_s, self.seed = float(queue_s), float(run_s), int(seed)
        self.fail_jobs = frozenset(int(i) for i in fail_jobs)
        self.cancel_jobs = frozenset(int(i) for i in cancel_jobs)
        self.is_simulator = isinstance(backend, AerSimulator)
        self.jobs = self.folder / "jobs"
        for sub in ("claims", "jobs"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        fates = (sorted(self.fail_jobs), sorted(self.cancel_jobs))
        values = (_FORMAT, str(backend.name), self.queue_s, self.run_s, self.seed, *fates)
        settings = dict(zip(_SETTINGS, values, strict=True))
        path = self.folder / "service.json"
        _publish(path, json.dumps(settings, indent=1).encode(), once=True)
        stored = json.loads(path.read_text(encoding="utf-8"))
        for key, value in settings.items():
            if stored.get(key) != value:
                raise ValueError(
                    f"spool folder {self.folder} was set up with {key}={stored.get(key)!r}; "
                    f"this SpoolService has {key}={value!r} (every process must agree)"
                )

    @functools.cached_property
    def simulator(self) -> AerSimulator:
        """The ``AerSimulator`` that runs the jobs (built once per service for a device)."""
        return self.backend if self.is_simulator else AerSimulator.from_backend(self.backend)

    def sampler(self) -> SpoolSampler:
        """A Sampler whose ``run`` submits spool jobs."""
        return SpoolSampler(self)

    def job(self, job_id: str) -> SpoolJob:
        """The job ``job_id``, from any process (``SpoolJobNotFoundError`` if unknown)."""
        if not _JOB_ID.fullmatch(job_id) or not (self.jobs / job_id / "spec.json").is_file():
            raise SpoolJobNotFoundError(f"no spool job {job_id!r} in {self.folder}")
        return SpoolJob(self, job_id)

    def submissions(self) -> list[dict[str, Any]]:
        """``[{"job_id", "index", "digest", "created"}]`` of every job, by index (sha256 digest)."""
        found = []
        for path in self.jobs.glob("spool-*/spec.json"):
            spec = json.loads(path.read_text(encoding="utf-8"))
            found.append({k: spec[k] for k in ("job_id", "index", "digest", "created")})
        return sorted(found, key=lambda s: int(s["index"]))

    def _claim_index(self) -> int:
        claims = self.folder / "claims"
        index = len(os.listdir(claims))
        while True:
            try:
                os.close(os.open(claims / f"{index:08d}", os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            except FileExistsError:
                index += 1
            else:
                return index

    def submit(self, pubs: Sequence[_Pub]) -> SpoolJob:
        """Write a job of coerced PUBs (``SpoolSampler.run`` coerces) and return it."""
        digest = _digest(pubs)
        index = self._claim_index()
        job_id = f"spool-{index:05d}-{digest[:8]}"
        spec = dict(format=_FORMAT, job_id=job_id, index=index, digest=digest, pubs=len(pubs))
        spec.update(created=time.time(), seed=job_seed(self.seed, digest))
        spec.update(fail=index in self.fail_jobs, cancel=index in self.cancel_jobs)
        tmp = self.jobs / f".tmp-{job_id}-{uuid.uuid4().hex}"
        tmp.mkdir()
        with (tmp / "circuits.qpy").open("wb") as handle:
            qpy.dump([pub[0] for pub in pubs], handle)
        arrays = {f"values{i}": pub[1] for i, pub in enumerate(pubs)}
        arrays["shots"] = np.asarray([pub[2] for pub in pubs], dtype=np.int64)
        np.savez(tmp / "arrays.npz", **arrays)  # type: ignore[arg-type]
        (tmp / "spec.json").write_text(json.dumps(spec, indent=1), encoding="utf-8")
        os.rename(tmp, self.jobs / job_id)  # the job appears complete or not at all
        return SpoolJob(self, job_id)


class SpoolSampler:
    """A SamplerV2-like client; ``mode`` is the device circuits are transpiled for."""

    def __init__(self, service: SpoolService) -> None:
        self.service = service
        self.mode: BackendV2 = service.backend

    def run(self, pubs: Iterable[Any], *, shots: int | None = None) -> SpoolJob:
        """Submit one job and return it without waiting.

        ``pubs``: SamplerV2 PUBs ``(circuit[, values[, shots]])``, ``values`` ``(*shape, P)``
        (``(R, P)``: ``R`` rows), a ``BindingsArray`` or ``None``; ``shots`` the default (else
        ``DEFAULT_SHOTS``). ``ValueError``: a malformed PUB, or a non-ISA circuit on a device.
        """
        default = DEFAULT_SHOTS if shots is None else int(shots)
        coerced: list[_Pub] = []
        for pub in pubs:
            found = SamplerPub.coerce(pub, default)
            circuit, bindings = found.circuit, found.parameter_values
            if not self.service.is_simulator:
                _check_isa(circuit, self.mode)
            values = np.asarray(bindings.as_array(circuit.parameters), dtype=np.float64)
            values = values.reshape(*bindings.shape, circuit.num_parameters)
            coerced.append((circuit, np.ascontiguousarray(values), int(found.shots)))
        return self.service.submit(coerced)


class SpoolJob:
    """A ``RuntimeJobV2``-like handle; ``spec``: ``index``, ``created``, ``digest``, ``seed``."""

    def __init__(self, service: SpoolService, job_id: str) -> None:
        self.service = service
        self._id = job_id
        self.path = service.jobs / job_id
        self.spec: dict[str, Any] = json.loads((self.path / "spec.json").read_text("utf-8"))
        self._running = float(self.spec["created"]) + service.queue_s
        self._finished = self._running + service.run_s
        self._final: dict[str, Any] | None = None
        self._result: PrimitiveResult | None = None

    def job_id(self) -> str:
        """The job's id, ``spool-<index:05d>-<digest[:8]>``."""
        return self._id

    def status(self) -> str:
        """``QUEUED``, ``RUNNING``, then ``DONE``/``ERROR``/``CANCELLED`` (runs it if due)."""
        final = self._load_final()
        if final is not None:
            return str(final["status"])
        now = time.time()
        if now < self._running:
            return "QUEUED"
        if now < self._finished:
            return "RUNNING"
        return str(self._finish()["status"])

    def done(self) -> bool:
        """Whether the job ran successfully."""
        return self.status() == "DONE"

    def in_final_state(self) -> bool:
        """Whether the job is ``DONE``, ``ERROR`` or ``CANCELLED``."""
        return self.status() in FINAL_STATES

    def error_message(self) -> str | None:
        """Why the job ended in ``ERROR`` or ``CANCELLED``; ``None`` otherwise."""
        self.status()  # loads the final outcome where there is one
        return None if self._final is None else self._final["error"]

    def cancel(self) -> None:
        """Cancel the job: one not final becomes ``CANCELLED`` (a final one is left as is)."""
        now = time.time()
        if self._load_final() is not None or now >= self._finished:
            return
        error = f"spool job {self._id} CANCELLED: cancelled by the user"
        running = self._running if now >= self._running else None
        final = {"status": "CANCELLED", "error": error, "running": running, "finished": now}
        _publish(self.path / "final.json", json.dumps(final).encode(), once=True)

    def result(self, timeout: float | None = None) -> PrimitiveResult:
        """Wait until final; per PUB ``data.<register>``: a ``BitArray`` of shape ``(R,)``.

        Raises ``SpoolJobError`` (id and reason) for ``ERROR``/``CANCELLED``, ``TimeoutError``
        past ``timeout`` seconds. Registers, shapes and metadata are Aer ``SamplerV2``'s.
        """
        deadline = math.inf if timeout is None else time.time() + timeout
        status = self.status()
        while status not in FINAL_STATES:
            now = time.time()
            if now >= deadline:
                raise TimeoutError(f"spool job {self._id} is still {status} after {timeout} s")
            wait = min(self._running if status == "QUEUED" else self._finished, deadline) - now
            time.sleep(min(max(wait, 0.001), 0.1))
            status = self.status()
        if status != "DONE":
            raise SpoolJobError(self.error_message())
        if self._result is None:
            self._result = _load_result(self.path / "result.npz")
        return self._result

    def metrics(self) -> dict[str, Any]:
        """``{"timestamps": {"created", "running", "finished"}, "usage": {...}}`` (ISO, UTC).

        Like ``RuntimeJobV2.metrics()``: stamps ``None`` until reached; usage
        (``quantum_seconds``, ``seconds``) the simulated time spent running, 0 until final.
        """
        started = self._running if self.status() != "QUEUED" else None
        final = self._final  # loaded by status() where there is one
        finished, seconds = None, 0.0
        if final is not None:
            started, finished = final["running"], float(final["finished"])
            seconds = 0.0 if started is None else max(finished - started, 0.0)
        stamps = {"created": self.spec["created"], "running": started, "finished": finished}
        return {
            "timestamps": {key: _iso(value) for key, value in stamps.items()},
            "usage": {"quantum_seconds": seconds, "seconds": seconds},
        }

    def _load_final(self) -> dict[str, Any] | None:
        if self._final is None and (self.path / "final.json").is_file():
            self._final = json.loads((self.path / "final.json").read_text(encoding="utf-8"))
        return self._final

    def _finish(self) -> dict[str, Any]:
        """Make the job final (it is past its finish time): run it, or apply its fate."""
        status, reason = "DONE", None
        if self.spec["cancel"]:
            status, reason = "CANCELLED", f"submission {self.spec['index']} is in cancel_jobs"
        elif self.spec["fail"]:
            status, reason = "ERROR", f"submission {self.spec['index']} is in fail_jobs"
        else:
            try:
                _save_result(self.path / "result.npz", self._run_aer())
            except Exception as exc:  # a job Aer cannot run ends in ERROR, as on a service
                status, reason = "ERROR", f"{type(exc).__name__}: {exc}"
        error = None if reason is None else f"spool job {self._id} {status}: {reason}"
        final = dict(status=status, error=error, running=self._running, finished=self._finished)
        _publish(self.path / "final.json", json.dumps(final).encode(), once=True)
        return self._load_final() or final  # ours, or another process's that came first

    def _run_aer(self) -> PrimitiveResult:
        with (self.path / "circuits.qpy").open("rb") as handle:
            circuits = qpy.load(handle)
        pubs = []
        with np.load(self.path / "arrays.npz", allow_pickle=False) as arrays:
            for i, (circuit, shots) in enumerate(zip(circuits, arrays["shots"], strict=True)):
                values = arrays[f"values{i}"]
                data = {tuple(circuit.parameters): values} if circuit.num_parameters else None
                bindings = BindingsArray(data, shape=values.shape[:-1])
                pubs.append((circuit, bindings, int(shots)))
        sampler = SamplerV2.from_backend(self.service.simulator, seed=int(self.spec["seed"]))
        return sampler.run(pubs).result()


def _check_isa(circuit: QuantumCircuit, backend: BackendV2) -> None:
    """Refuse a circuit with an instruction the device lacks, as IBM's runtime does."""
    for instruction in circuit.data:
        name = instruction.operation.name
        qargs = tuple(circuit.find_bit(q).index for q in instruction.qubits)
        if name != "barrier" and not backend.target.instruction_supported(name, qargs):
            found = f"{name} on qubits {qargs} is not supported by {backend.name!r}"
            raise ValueError(f"{found}: not an ISA circuit; transpile it for the mode first")


def _canonical(circuit: QuantumCircuit) -> str:
    """A text of what a circuit computes, independent of parameter UUIDs and object ids."""
    cregs = " ".join(f"{reg.name}:{reg.size}" for reg in circuit.cregs)
    names = " ".join(p.name for p in circuit.parameters)
    lines = [f"qubits {circuit.num_qubits} phase {circuit.global_phase} {cregs} θ {names}"]
    for instruction in circuit.data:
        params = [  # floats (repr), expressions (by name), matrices, control-flow blocks
            str(p.tolist()) if isinstance(p, np.ndarray) else str(p)
            for p in instruction.operation.params
        ]
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        clbits = [circuit.find_bit(c).index for c in instruction.clbits]
        lines.append(f"{instruction.operation.name} {params} {qubits} {clbits}")
    return "\n".join(lines)


def _digest(pubs: Sequence[_Pub]) -> str:
    """The sha256 of a job's content: canonical circuits, parameter values and shots."""
    sha = hashlib.sha256(f"spool-job {_FORMAT}\n".encode())
    for circuit, values, shots in pubs:
        sha.update(f"{_canonical(circuit)}\nvalues {values.shape} shots {shots}\n".encode())
        sha.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return sha.hexdigest()


def _save_result(path: Path, result: PrimitiveResult) -> None:
    """Bit arrays (uint8, per PUB and register) and metadata to ``path``, atomically."""
    arrays: dict[str, NDArray[Any]] = {}
    pubs = []
    for i, pub in enumerate(result):
        names = list(pub.data.keys())
        for j, name in enumerate(names):
            arrays[f"p{i}_r{j}"] = np.asarray(pub.data[name].array, dtype=np.uint8)
        bits = [int(pub.data[name].num_bits) for name in names]
        pubs.append(
            {"registers": names, "bits": bits, "shape": pub.data.shape, "meta": pub.metadata}
        )
    meta = {"metadata": result.metadata, "pubs": pubs}
    arrays["meta"] = np.asarray(json.dumps(meta, default=str))
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # type: ignore[arg-type]
    _publish(path, buffer.getvalue())


def _load_result(path: Path) -> PrimitiveResult:
    with np.load(path, allow_pickle=False) as arrays:
        meta = json.loads(str(arrays["meta"]))
        pubs = []
        for i, pub in enumerate(meta["pubs"]):
            names, bits = pub["registers"], pub["bits"]
            data = {name: BitArray(arrays[f"p{i}_r{j}"], bits[j]) for j, name in enumerate(names)}
            databin = DataBin(shape=tuple(pub["shape"]), **data)
            pubs.append(SamplerPubResult(databin, metadata=pub["meta"]))
    return PrimitiveResult(pubs, metadata=meta["metadata"])


def _publish(path: Path, data: bytes, *, once: bool = False) -> None:
    """Write ``data`` to ``path`` via a temporary file: replaced, or ``once`` (first wins)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    tmp.write_bytes(data)
    if not once:
        os.replace(tmp, path)
        return
    with contextlib.suppress(FileExistsError):
        os.link(tmp, path)
    tmp.unlink()


def _iso(stamp: float | None) -> str | None:
    """``time.time()`` as ISO 8601 in UTC (``…Z``), like the runtime's job metadata."""
    return None if stamp is None else datetime.fromtimestamp(stamp, UTC).isoformat()[:-6] + "Z"
