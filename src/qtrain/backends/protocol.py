"""The backend protocol: a backend runs tasks and returns one result per task.

A :class:`Task` is one circuit, one or more observables and a block of parameter rows
``(B, P)``, with shots (``None`` = exact) and a seed. A :class:`Result` carries one value per
row and observable ``(B, O)``, the estimated variance of each when sampled, the shots
actually spent and metadata. The execution layer (dedup, retries, durable store) is built on
this protocol alone.

Optional capability, *per-term values from the same shots*: a sampled task with
``term_values=True`` asks for ``Result.metadata["term_values"]``, the raw estimate of every
Pauli term of every observable from the very shots behind ``values`` (what readout
mitigation needs to propagate a calibration's uncertainty). A backend without it leaves the
key out; a wrapper passes it through. ``LocalSimulator`` supports it on every sampled method.

A backend's *identity* (:func:`backend_identity`) names where a result came from: its name
and every option that changes results. The durable store keys every row by it, so backends
that would give different numbers never share rows. A backend declares it with an
``identity()`` method returning a JSON-able mapping; a wrapper nests its inner backend's
identity under ``"inner"``, so noise models, mitigation and calibrations extend it by
adding keys. A backend without ``identity()`` is named by its class and ``name`` alone.

Optional capability, *asynchronous jobs* (:class:`Asynchronous`): a backend whose calls are
jobs at a provider offers ``submit`` (send, return at once with a :class:`Submission`),
``collect`` (wait, then one result per task) and ``attach`` (rebuild a submission from its
JSON ``ref`` in another process). The executor then writes every submission's ``ref`` to
the result store before waiting (``exec.jobs``), so a run killed while jobs are pending
re-attaches to them when it resumes instead of paying for them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ConfigError, ShotsError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable

__all__ = [
    "Asynchronous",
    "Backend",
    "BackendLimits",
    "Identified",
    "Result",
    "Submission",
    "Task",
    "backend_identity",
    "child_seed",
    "fresh_seed",
    "identity_digest",
    "is_asynchronous",
]


@dataclass(frozen=True)
class BackendLimits:
    """What one backend call accepts; the executor chunks work to fit.

    Attributes:
        max_rows: parameter rows per task.
        max_shots: shots per (row, group).
        max_qubits: register size (``None``: limited by memory only).
    """

    max_rows: int = 1 << 30
    max_shots: int = 1 << 62
    max_qubits: int | None = None


@dataclass(frozen=True, eq=False)
class Task:
    """One unit of work for a backend.

    Attributes:
        circuit: the circuit; its parameters are the columns of ``params``.
        observables: the Pauli sums to measure on every row (``O`` of them).
        params: ``(B, P)`` parameter rows, already validated.
        shots: ``None`` for exact values; else shots per (row, measurement group): an int for
            all, ``(B,)`` per row, or ``(B, G)`` per row and group, where the ``G`` groups are
            those of every observable in order (``observable.groups()``).
        seed: sampling entropy (a non-negative int); ignored when ``shots`` is ``None``.
            ``None`` with shots means fresh entropy: the executor (or the backend) draws one
            with :func:`fresh_seed` and records it as ``metadata["seed"]`` of the result.
        term_values: when true and the task is sampled, a backend that supports it returns
            ``metadata["term_values"]`` (see :class:`Result`). Exact tasks ignore it.
    """

    circuit: Circuit
    observables: tuple[Observable, ...]
    params: NDArray[np.float64]
    shots: int | NDArray[np.int64] | None = None
    seed: int | None = None
    term_values: bool = False

    @property
    def n_groups(self) -> int:
        """``G``: measurement groups over all observables."""
        return sum(len(obs.groups()) for obs in self.observables)

    def shot_matrix(self) -> NDArray[np.int64] | None:
        """Shots as a ``(B, G)`` integer array (``None`` when exact).

        Raises:
            ShotsError: a shape that does not broadcast to ``(B, G)`` or a count below 1.
        """
        if self.shots is None:
            return None
        rows, groups = self.params.shape[0], self.n_groups
        raw = np.asarray(self.shots)
        if raw.ndim == 1:
            raw = raw[:, None]
        try:
            matrix = np.broadcast_to(raw, (rows, groups)).astype(np.int64)
        except ValueError:
            raise ShotsError(
                f"shots of shape {np.shape(self.shots)} do not fit {rows} rows × {groups} groups"
            ) from None
        if matrix.size and matrix.min() < 1:
            raise ShotsError(f"every (row, group) needs at least 1 shot, got {matrix.min()}")
        return matrix


@dataclass(frozen=True, eq=False)
class Result:
    """What a backend returns for one task.

    Attributes:
        values: ``(B, O)`` expectation values (exact or estimated).
        variances: ``(B, O)`` estimated variance of each value; ``None`` when exact.
        shots: total shots spent on the task.
        metadata: backend name, timings and anything else worth recording. Optionally
            ``"term_values"`` (a sampled task with ``term_values=True``, on a backend that
            supports it): a tuple with one float64 array per observable, the ``o``-th of
            shape ``(B, T_o)``, ``T_o = len(observable.terms)``. Column ``t`` estimates the
            real expectation of term ``t``'s Pauli word, its coefficient left out: the mean
            ±1 parity of the word over the shots of the group that holds the term — the very
            draws behind ``values[:, o]``, misread by any readout error as they are — and
            1.0 for the identity term. So ``values[b, o] = Σ_t Re(c_t)·term_values[o][b, t]``
            to rounding (until a wrapper changes ``values``, as calibration drift does).
            Optionally ``"overhead_shots"``: shots spent beside the task's own (a readout
            calibration), which the executor charges; ``shots`` stays the task's. Optionally
            ``"shared_errors"``: ``{"source", "loadings" (B, O, K), "variances" (K,)}``, an
            error every row shares (a measured calibration's): row ``b``'s value moves by
            ``Σ_k loadings[b, o, k]·ε_k`` with ``Var ε_k = variances[k]``, already counted in
            its own variance; the executor keeps it for fresh rows of one source, and a
            gradient's stderr adds it coherently (``grad.result.LinearAssembly``).
    """

    values: NDArray[np.float64]
    variances: NDArray[np.float64] | None
    shots: int
    metadata: Mapping[str, object] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """Anything that runs tasks: the local simulator, a remote device, a fault injector.

    Optional members the execution layer uses when present:

    * ``identity() -> Mapping[str, object]``: see :class:`Identified` (recommended).
    * ``cancel(tasks) -> None``: best-effort cancellation of the call running exactly the
      sequence object ``tasks``; the executor calls it when that call times out.
    * ``unbounded_values: bool``: ``True`` when values may legitimately leave the
      observable's spectrum (mitigation: extrapolated or inverted estimates); the executor
      then skips its range checks on values and variances.
    * ``prepare(tasks) -> int``: set-up before a call (a mitigated backend measures its
      readout calibrations); the executor calls it once per call, in its own process, before
      spreading the call over threads or workers, and charges the shots it returns as
      ``overhead_shots``.
    * ``transforms_values: bool``: ``True`` for a wrapper whose values are not its inner
      backend's (mitigation): a run's final exact loss goes through it.
    * ``independent_samples: int | None``: at most this many independent samples stand
      behind a group's shots (quantum trajectories shared by several shots); the executor's
      variance bound then uses ``min(shots, independent_samples)`` samples.
    """

    @property
    def name(self) -> str:
        """A short name recorded in results and metrics."""
        ...

    @property
    def limits(self) -> BackendLimits:
        """What one call accepts."""
        ...

    def run(self, tasks: Sequence[Task]) -> Sequence[Result | None]:
        """Run every task; one result per task, in order.

        ``None`` in place of a result means that task's result is missing (a partial result);
        the executor resubmits it.
        """
        ...


@dataclass(frozen=True, eq=False)
class Submission:
    """Work handed to a provider: what :meth:`Asynchronous.collect` waits for.

    Attributes:
        ref: JSON-able, enough for :meth:`Asynchronous.attach` to find the jobs again in
            another process (job ids; never a credential). The executor stores it.
        state: the backend's own in-process handle (job objects, the tasks' layouts).
    """

    ref: Mapping[str, Any]
    state: Any = None


@runtime_checkable
class Asynchronous(Protocol):
    """A backend whose calls are jobs that outlive the process that submitted them."""

    def submit(self, tasks: Sequence[Task]) -> Submission:
        """Check and send ``tasks``; return without waiting for results."""
        ...

    def attach(self, ref: Mapping[str, Any], tasks: Sequence[Task]) -> Submission:
        """The submission ``ref`` names, for the same ``tasks``, retrieved from the provider.

        Raises:
            JobLostError: the provider cannot retrieve the jobs (it cannot look jobs up by
                id, or forgot them); the caller submits the work again.
        """
        ...

    def collect(self, submission: Submission) -> Sequence[Result | None]:
        """Wait for ``submission``; one result per task (``None``: its job failed)."""
        ...


def is_asynchronous(backend: object) -> bool:
    """Whether ``backend``'s calls are jobs: :class:`Asynchronous`, unless it says otherwise.

    A wrapper has the methods whatever it wraps; its ``asynchronous`` property says whether
    its inner backend's calls are jobs (``Mitigated``).
    """
    return isinstance(backend, Asynchronous) and bool(getattr(backend, "asynchronous", True))


@runtime_checkable
class Identified(Protocol):
    """A backend that names where its results come from (its store identity)."""

    def identity(self) -> Mapping[str, object]:
        """A stable JSON-able mapping of everything that changes results.

        It holds ``"backend"`` (the name) and every result-changing option; a wrapper nests
        its inner backend's identity under ``"inner"``. Options that change only speed or
        memory (a memory budget, a kernel choice that agrees to rounding) stay out, so
        results computed under them share store rows. It must not change over the backend's
        life: a different configuration is a different backend object. A subclass
        inherits its parent's identity, so one that changes results must override it; a
        wrapper that changes no valid number (``FaultyBackend`` without drift) may return
        its inner backend's identity unchanged.
        """
        ...


def backend_identity(backend: object) -> dict[str, Any]:
    """``backend.identity()``, or ``{"backend": name, "class": module.qualname}`` without one.

    The fallback keeps a user's backend working, but its instances share store rows whatever
    their options: a backend with result-changing options should define ``identity()``.
    """
    if isinstance(backend, Identified):
        return dict(backend.identity())
    kind = type(backend)
    return {
        "backend": str(getattr(backend, "name", "")),
        "class": f"{kind.__module__}.{kind.__qualname__}",
    }


def identity_digest(backend: object) -> str:
    """SHA-256 hex digest of the canonical JSON of :func:`backend_identity`."""
    identity = backend_identity(backend)
    try:
        text = json.dumps(identity, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(
            f"the identity of backend {identity.get('backend')!r} is not plain JSON ({exc}): "
            f"{identity!r}"
        ) from None
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fresh_seed() -> int:
    """A non-negative int seed drawn from fresh OS entropy (what ``seed=None`` means)."""
    return int(np.random.SeedSequence().entropy) % (1 << 63)  # type: ignore[arg-type]


def child_seed(seed: int, index: int) -> int:
    """An independent non-negative seed for sub-stream ``index`` of ``seed`` (SeedSequence)."""
    state = np.random.SeedSequence(seed, spawn_key=(index,)).generate_state(1, np.uint64)
    return int(state[0] >> np.uint64(1))
