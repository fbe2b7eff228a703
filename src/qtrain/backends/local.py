"""The embedded batched statevector simulator as a backend."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar

import numpy as np

from qtrain.backends.protocol import BackendLimits, Result, Task, fresh_seed
from qtrain.errors import ConfigError
from qtrain.sim.measure import exact_values, measurement_plan, row_seed_keys, sampled_values
from qtrain.sim.program import compile_program
from qtrain.sim.statevector import (
    KernelSet,
    chunk_rows,
    default_memory_budget,
    select_kernels,
    state_chunks,
)

__all__ = ["LocalSimulator", "shared_memory_budget"]

# Bump when the sampled numbers of a given (row, seed, shots) change: old store rows must
# then stop matching (the store key hashes the backend's identity).
_SAMPLING_SCHEME = 1

_SHARE: ContextVar[int | None] = ContextVar("qtrain_memory_budget_share", default=None)


@contextmanager
def shared_memory_budget(nbytes: int) -> Iterator[None]:
    """Inside this block, simulators without an explicit budget use ``nbytes`` instead.

    A Dask worker runs its calls inside one, with its share of the host's memory: the
    simulator was built (and its default budget, half the RAM, taken) in the parent process.
    """
    token = _SHARE.set(nbytes)
    try:
        yield
    finally:
        _SHARE.reset(token)


class LocalSimulator:
    """Exact or sampled expectations on the batched statevector simulator.

    Args:
        memory_budget: bytes the simulator may use for states; default half the available
            RAM (or ``$QTRAIN_MEMORY_BUDGET``), or the share of a Dask worker it runs on
            (:func:`shared_memory_budget`). Batches are chunked to fit; a single state
            that does not fit raises ``StateTooLargeError`` before anything is allocated.
        kernels: ``"numba"`` (compiled, ``pip install 'qtrain[fast]'``), ``"numpy"``
            (reference) or ``"auto"``; default ``$QTRAIN_KERNELS`` or ``"auto"``.

    >>> import qtrain as qt
    >>> sim = qt.LocalSimulator(memory_budget=1 << 20)
    >>> task = Task(qt.Circuit(1).x(0), (qt.Z(0), qt.X(0)), np.zeros((1, 0)))
    >>> sim.run([task])[0].values
    array([[-1.,  0.]])
    """

    def __init__(self, memory_budget: int | None = None, *, kernels: str | None = None) -> None:
        if memory_budget is not None and (
            isinstance(memory_budget, bool)
            or not isinstance(memory_budget, int)
            or memory_budget <= 0
        ):
            raise ConfigError(
                f"memory_budget must be a positive int (bytes), got {memory_budget!r}"
            )
        self.memory_budget = memory_budget if memory_budget is not None else default_memory_budget()
        self.budget_is_default = memory_budget is None
        select_kernels(kernels)  # fail now on a bad name, not on a worker later
        self.kernel_name = kernels

    @property
    def kernels(self) -> KernelSet:
        """The kernel set in use (resolved by name, so the simulator pickles to workers)."""
        return select_kernels(self.kernel_name)

    @property
    def name(self) -> str:
        """Backend name recorded in result metadata."""
        return "local-statevector"

    @property
    def limits(self) -> BackendLimits:
        """No row or shot limit (the batch is chunked to the memory budget internally)."""
        return BackendLimits()

    def identity(self) -> dict[str, object]:
        """What changes this simulator's numbers: the method and the sampling scheme.

        The memory budget (chunking) and the kernels (numba and numpy agree to rounding)
        change no result, so they stay out: rows computed under either are shared.
        """
        return {"backend": self.name, "method": "statevector", "sampling": _SAMPLING_SCHEME}

    def effective_budget(self) -> int:
        """The budget in force: a worker's share (if any) unless one was given explicitly."""
        share = _SHARE.get() if self.budget_is_default else None
        return self.memory_budget if share is None else share

    def estimate_seconds(self, task: Task) -> float:
        """A rough time for ``task``: amplitude updates at the kernels' measured rate.

        About 1.3 ns per amplitude per compiled step with the numba kernels and 8 ns with
        numpy (docs/performance.md, HEA (12,6) × 512 rows), plus sampling, which touches every
        amplitude once per (row, group).
        """
        compiled = "fast" in getattr(self.kernels, "__name__", "")
        per_amplitude = 1.3e-9 if compiled else 8e-9
        rows = task.params.shape[0]
        steps = len(compile_program(task.circuit).steps) + 1
        groups = task.n_groups if task.shots is not None else 0
        return float(rows * (steps + 2 * groups) * (1 << task.circuit.n_qubits) * per_amplitude)

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        """Run every task (all rows of a task in batched chunks); one result per task."""
        budget = self.effective_budget()
        for task in tasks:  # fail on an oversized state before simulating anything
            chunk_rows(task.circuit.n_qubits, task.params.shape[0], budget)
        return [self._run_one(task, budget) for task in tasks]

    def _run_one(self, task: Task, budget: int) -> Result:
        """One task; a sampled task without a seed draws fresh entropy (in ``metadata``)."""
        started = time.time()
        n_qubits = task.circuit.n_qubits
        program = compile_program(task.circuit)
        plans = [measurement_plan(obs, n_qubits) for obs in task.observables]
        shots = task.shot_matrix()
        rows, count = task.params.shape[0], len(plans)
        values = np.empty((rows, count))
        row_keys = None if shots is None else row_seed_keys(task.params)
        variances = None if shots is None else np.empty((rows, count))
        seed = 0 if shots is None else fresh_seed() if task.seed is None else task.seed
        for ids, states in state_chunks(program, task.params, budget, self.kernels):
            first_group = 0  # sampling seeds are keyed by (row, group over all observables)
            for o, plan in enumerate(plans):
                if shots is None or variances is None:
                    values[ids, o] = exact_values(states, plan, self.kernels)
                    continue
                cells = shots[ids, first_group : first_group + len(plan.groups)]
                values[ids, o], variances[ids, o] = sampled_values(
                    states,
                    plan,
                    cells,
                    seed,
                    row_keys=None if row_keys is None else row_keys[ids],
                    first_group=first_group,
                    kernels=self.kernels,
                )
                first_group += len(plan.groups)
            del states  # free this chunk before the generator builds the next one
        spent = 0 if shots is None else int(shots.sum())
        metadata: dict[str, object] = {
            "backend": self.name,
            "started": started,
            "duration_s": time.time() - started,
        }
        if shots is not None:
            metadata["seed"] = seed
        return Result(values, variances, spent, metadata)


def simulator_inside(backend: object) -> LocalSimulator | None:
    """The statevector simulator ``backend`` is or wraps (through ``.inner``), else None.

    Exact statevector work (the metric tensor, a run's final exact loss) runs on it under a
    wrapper that injects faults or latency into *tasks* (``FaultyBackend``), honouring its
    memory budget and kernels.
    """
    for _ in range(8):  # wrappers nest a few deep at most; a cycle must not hang
        if isinstance(backend, LocalSimulator):
            return backend
        inner = getattr(backend, "inner", None)
        if inner is None:
            return None
        backend = inner
    return None
