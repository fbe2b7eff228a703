"""What a task costs the local simulator: work counts, and seconds from per-unit coefficients.

The simulator's time is a sum of per-call overheads and per-amplitude work, and both matter:
at 4 qubits a step is a few microseconds of Python, at 20 qubits it is millions of amplitude
updates. :func:`task_work` counts, without simulating, what :meth:`LocalSimulator.run` will
do for a task (the same program, the same prefix sharing, the same chunks); :func:`seconds`
prices the counts with coefficients, seconds per unit. The defaults are rough constants
(docs/performance.md); ``qtrain plan`` measures this machine's once and caches them
(``app/calibration.py``).

Units (``sv`` statevector, ``dm`` density matrix on ``2n`` wires):

- ``<m>.task``: one task; ``<m>.step``: one kernel call (a compiled step of one chunk);
  ``<m>.work``: amplitudes touched by those steps (rows × ``2^wires``, shared prefixes once);
  a measured group counts as two steps (its basis rotation, its probabilities);
- ``sample.cell``: one sampled (row, group); ``sample.shot``: one shot;
- ``adjoint.call``, ``adjoint.op``, ``adjoint.work`` (ops × ``2ⁿ`` × (observables + 2)):
  the adjoint method's gradient of one circuit; ``metric.*`` the same for the metric tensor.

>>> import numpy as np
>>> import qtrain as qt
>>> from qtrain.backends.protocol import Task
>>> task = Task(qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1), (qt.Z(0),), np.zeros((3, 1)))
>>> work = task_work(task, method="statevector", program=compile_program(task.circuit),
...                  budget=1 << 30)
>>> work["sv.task"], work["sv.step"], work["sv.work"]
(1.0, 4.0, 32.0)
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Task
from qtrain.ir.circuit import Circuit
from qtrain.sim.dm_sweep import SWEEP_MIN_AMPLITUDES, single_step_rows
from qtrain.sim.program import Program, compile_program
from qtrain.sim.statevector import chunk_rows, divergence

__all__ = [
    "DEFAULT_COEFFICIENTS",
    "adjoint_work",
    "compile_program",
    "metric_work",
    "seconds",
    "task_work",
]

Work = dict[str, float]

DEFAULT_COEFFICIENTS: Mapping[str, float] = {
    "sv.task": 1e-4,
    "sv.step": 1e-5,
    "sv.work": 1.3e-9,
    "dm.task": 1e-4,
    "dm.step": 2e-5,
    "dm.work": 1.3e-9,
    "sample.cell": 2e-5,
    "sample.shot": 2e-8,
    "adjoint.call": 1e-4,
    "adjoint.op": 2e-5,
    "adjoint.work": 2e-9,
    "metric.call": 1e-4,
    "metric.op": 2e-5,
    "metric.work": 2e-9,
}
"""Rough seconds per unit (numba kernels, one core), for a simulator nobody measured."""


def seconds(work: Mapping[str, float], coefficients: Mapping[str, float] | None = None) -> float:
    """``Σ count × seconds per unit`` (units without a coefficient take the default's).

    >>> seconds({"sv.step": 10.0}, {"sv.step": 1e-5})
    0.0001
    """
    chosen = DEFAULT_COEFFICIENTS if coefficients is None else coefficients
    default = DEFAULT_COEFFICIENTS
    return float(sum(n * chosen.get(unit, default.get(unit, 0.0)) for unit, n in work.items()))


def _add(work: Work, unit: str, count: float) -> None:
    work[unit] = work.get(unit, 0.0) + float(count)


def task_work(
    task: Task,
    *,
    method: str,
    program: Program,
    budget: int,
    trajectories: int | None = None,
) -> Work:
    """The units :meth:`LocalSimulator.run` spends on ``task`` with ``method`` and ``program``.

    ``program`` is the compiled statevector, density-matrix or trajectory program
    (``backends.local_run.program_for``). Trajectories are counted as statevector rows, one
    per trajectory (``min(trajectories, shots)`` per (row, group)).
    """
    rows, groups = task.params.shape[0], task.n_groups
    shots = task.shot_matrix()
    work: Work = {}
    if method == "trajectories" and shots is not None:
        runs = shots if trajectories is None else np.minimum(shots, trajectories)
        count = float(runs.sum())
        capacity = chunk_rows(program.n_qubits, max(int(count), 1), budget)
        blocks = -(-int(count) // capacity)
        steps = len(program.steps)
        _add(work, "sv.task", 1)
        _add(work, "sv.step", blocks * steps)
        _add(work, "sv.work", count * steps * (1 << program.n_qubits))
        _add(work, "sv.step", 2 * blocks * groups)
        _add(work, "sv.work", 2 * count * (1 << program.n_qubits))
        _add(work, "sample.cell", count)
        _add(work, "sample.shot", float(shots.sum()))
        return work
    kind = "dm" if method == "density_matrix" else "sv"
    amplitudes = 1 << program.n_qubits
    _add(work, f"{kind}.task", 1)
    params = task.params
    if kind == "dm" and shots is None and rows * amplitudes >= SWEEP_MIN_AMPLITUDES:
        params = _swept(work, program, params, len(task.observables), groups)
    if params.shape[0]:
        chunks = _ordinary(work, kind, program, params, budget)
        # Each group: a basis rotation and the probabilities, on every row's amplitudes.
        _add(work, f"{kind}.step", 2 * groups * chunks)
        _add(work, f"{kind}.work", 2 * params.shape[0] * groups * amplitudes)
    if shots is not None:
        _add(work, "sample.cell", rows * groups)
        _add(work, "sample.shot", float(shots.sum()))
    return work


def _ordinary(
    work: Work, kind: str, program: Program, params: NDArray[np.float64], budget: int
) -> int:
    """Count the batched run of ``params`` (prefix sharing, chunks); returns the chunks."""
    rows, n_steps = params.shape[0], len(program.steps)
    size = chunk_rows(program.n_qubits, rows, budget, program.dtype.itemsize)
    chunks = 1 if size >= rows else -(-rows // max(1, size - 1))
    starts = np.minimum(divergence(program, params), n_steps)
    row_steps = float(np.sum(n_steps - starts)) + (chunks - 1) * n_steps
    _add(work, f"{kind}.step", chunks * n_steps)
    _add(work, f"{kind}.work", row_steps * (1 << program.n_qubits))
    return chunks


def _swept(
    work: Work, program: Program, params: NDArray[np.float64], observables: int, groups: int
) -> NDArray[np.float64]:
    """Count the density-matrix sweeps (``sim.dm_sweep``); returns the rows left over.

    A forward sweep of row 0, a backward sweep of the observables, one step for the rows
    shifted at each kept step; the functionals cost a rotation per group.
    """
    at = single_step_rows(program, params)
    kept = np.unique(at[at >= 0]).size
    if kept < 2:
        return params
    n_steps, amplitudes = len(program.steps), 1 << program.n_qubits
    _add(work, "dm.step", 2 * n_steps + kept + groups)
    _add(work, "dm.work", (n_steps * (1 + observables) + params.shape[0] + groups) * amplitudes)
    done = (divergence(program, params) == n_steps) | (at >= 0)
    done[0] = True
    rest: NDArray[np.float64] = params[~done]
    return rest


def adjoint_work(circuit: Circuit, observables: int, ops: int | None = None) -> Work:
    """Units of one adjoint-method gradient of ``circuit`` (``ops``: its slot circuit's ops).

    >>> import qtrain as qt
    >>> adjoint_work(qt.Circuit(2).ry(0, qt.P(0)), 1)["adjoint.work"]
    12.0
    """
    count = len(circuit.ops) if ops is None else ops
    return {
        "adjoint.call": 1.0,
        "adjoint.op": float(count),
        "adjoint.work": float(count * (observables + 2) << circuit.n_qubits),
    }


def metric_work(circuit: Circuit, slots: int, ops: int | None = None) -> Work:
    """Units of one exact metric tensor of ``circuit`` with ``slots`` angle slots."""
    count = len(circuit.ops) if ops is None else ops
    return {
        "metric.call": 1.0,
        "metric.op": float(count),
        "metric.work": float(count * (slots + 1) << circuit.n_qubits),
    }
