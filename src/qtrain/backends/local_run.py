"""One task on the local simulator, by the method chosen for it (``sim.methods``).

Statevector and density matrix share the loop: chunks of rows (``sim.statevector``
``state_chunks`` on ``n`` or ``2n`` wires), every observable measured exactly or sampled per
commuting group, readout errors applied to the outcomes (``sim.readout_map``). Trajectories
measure inside their own loop (``sim.trajectories``).

A sampled task with ``term_values`` also gets ``metadata["term_values"]`` (``Task``,
``Result``): every term's raw estimate from the same shots, on every method. Its values and
variances are the same, bit for bit, as without: the draws that split level counts by term
parities come after the value's draw, or from a stream of their own (``sim.term_values``).
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import partial

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task, fresh_seed
from qtrain.ir.circuit import Circuit
from qtrain.noise.model import NoiseModel
from qtrain.sim.density_matrix import compile_density_program, density_probabilities
from qtrain.sim.dm_sweep import SWEEP_MIN_AMPLITUDES, sweep_values
from qtrain.sim.measure import (
    MeasurementPlan,
    exact_values,
    measurement_plan,
    row_seed_keys,
    sampled_values,
)
from qtrain.sim.methods import state_bytes
from qtrain.sim.program import Program, compile_program
from qtrain.sim.readout_map import ReadoutMap
from qtrain.sim.statevector import KernelSet, state_chunks
from qtrain.sim.trajectories import compile_trajectory_program, trajectory_values

__all__ = ["program_for", "run_task"]

Real = NDArray[np.float64]


def run_task(
    task: Task,
    *,
    name: str,
    method: str,
    budget: int,
    kernels: KernelSet,
    noise: NoiseModel | None,
    trajectories: int | None,
    precision: str = "double",
) -> Result:
    """Run ``task`` with ``method``; a sampled task without a seed draws fresh entropy.

    ``precision``: the statevector's (``sim.precision``); values come back in float64.

    ``metadata`` records the backend stage times, the method, (sampled) the seed and, when
    the task asks for them, the term values.
    """
    started = time.time()
    n_qubits = task.circuit.n_qubits
    plans = [measurement_plan(obs, n_qubits) for obs in task.observables]
    shots = task.shot_matrix()
    seed = 0 if shots is None else fresh_seed() if task.seed is None else task.seed
    readout = None if noise is None else ReadoutMap.of(noise.readout_errors(n_qubits), n_qubits)
    terms = _term_tables(task) if shots is not None and task.term_values else None
    variances: Real | None
    if method == "trajectories":
        assert shots is not None and noise is not None  # choose_method guarantees both
        program = compile_trajectory_program(task.circuit, noise)
        values, variances = trajectory_values(
            program,
            plans,
            task.params,
            shots,
            seed=seed,
            row_keys=row_seed_keys(task.params),
            trajectories=trajectories,
            capacity=budget // state_bytes(n_qubits),
            kernels=kernels,
            readout=readout,
            term_out=terms,
        )
    else:
        program = program_for(task.circuit, method, noise, precision)
        swept = None
        row_amplitudes = task.params.shape[0] << 2 * task.circuit.n_qubits
        if method == "density_matrix" and shots is None and row_amplitudes >= SWEEP_MIN_AMPLITUDES:
            swept = sweep_values(
                program, task.params, plans, readout=readout, kernels=kernels, budget=budget
            )
        chunked = partial(
            _chunked, program=program, plans=plans, seed=seed, budget=budget, kernels=kernels
        )
        if swept is None:
            values, variances = chunked(task, readout=readout, terms=terms)
        else:  # the rows two sweeps could not reach (several shifted steps) the ordinary way
            values, done = swept
            variances, rest = None, np.flatnonzero(~done)
            if rest.size:
                values[rest] = chunked(replace(task, params=task.params[rest]), readout=readout)[0]
    metadata: dict[str, object] = {
        "backend": name,
        "method": method,
        "started": started,
        "duration_s": time.time() - started,
    }
    if shots is not None:
        metadata["seed"] = seed
    if terms is not None:
        metadata["term_values"] = tuple(terms)
    spent = 0 if shots is None else int(shots.sum())
    return Result(values, variances, spent, metadata)


def _term_tables(task: Task) -> list[Real]:
    """One ``(B, T_o)`` table per observable for the term values to fill."""
    return [np.ones((task.params.shape[0], len(obs.terms))) for obs in task.observables]


def program_for(
    circuit: Circuit, method: str, noise: NoiseModel | None, precision: str = "double"
) -> Program:
    """The compiled program a statevector or density-matrix task runs (cached by circuit).

    ``precision`` applies to the statevector (the density matrix is always double).
    """
    if method == "density_matrix":
        return compile_density_program(circuit, noise)
    return compile_program(circuit, precision)


def _chunked(
    task: Task,
    program: Program,
    plans: list[MeasurementPlan],
    *,
    seed: int,
    budget: int,
    kernels: KernelSet,
    readout: ReadoutMap | None,
    terms: list[Real] | None = None,
) -> tuple[Real, Real | None]:
    """Statevector or density-matrix (``program`` on ``2n`` wires) values, chunk by chunk.

    Variances too when the task is sampled, and ``terms`` (one ``(B, T_o)`` table per
    observable) filled with the term values when given.
    """
    n_qubits = task.circuit.n_qubits
    density = program.n_qubits == 2 * n_qubits
    shots = task.shot_matrix()
    rows = task.params.shape[0]
    values = np.empty((rows, len(plans)))
    row_keys = None if shots is None else row_seed_keys(task.params)
    variances = None if shots is None else np.empty((rows, len(plans)))
    for ids, states in state_chunks(program, task.params, budget, kernels):
        hook = density_probabilities(states, n_qubits, kernels) if density else None
        first_group = 0  # sampling seeds are keyed by (row, group over all observables)
        for o, plan in enumerate(plans):
            if shots is None or variances is None or row_keys is None:
                values[ids, o] = exact_values(
                    states, plan, kernels, readout=readout, probabilities=hook
                )
                continue
            cells = shots[ids, first_group : first_group + len(plan.groups)]
            block = None if terms is None else np.empty((len(ids), terms[o].shape[1]))
            values[ids, o], variances[ids, o] = sampled_values(
                states,
                plan,
                cells,
                seed,
                row_keys=row_keys[ids],
                first_group=first_group,
                kernels=kernels,
                readout=readout,
                probabilities=hook,
                term_out=block,
            )
            if terms is not None:
                terms[o][ids] = block
            first_group += len(plan.groups)
        del states, hook  # free this chunk before the generator builds the next one
    return values, variances
