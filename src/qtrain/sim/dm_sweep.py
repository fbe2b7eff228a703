"""Exact density-matrix values of shifted rows by one forward and one backward sweep.

A parameter-shift batch is a base row and rows that differ from it in the parameters of one
step only (a slot circuit reads each slot once). For such a row ``r`` shifted at step ``k``,

    value_r = Tr(H · E_{>k}(S_k(r)(ρ_{<k})))  =  ⟨W_k, S_k(r) ρ_{<k}⟩,

with ``ρ_{<k}`` the base state before step ``k`` (a forward sweep), ``W_k = E_{>k}†(H)`` the
observable carried back through the steps after ``k`` (a backward sweep of the adjoint
superoperators, the Heisenberg picture) and ``⟨a, b⟩ = Σ conj(a)·b`` on vectorised matrices.
Both sweeps run once for the whole batch; each row then costs one step and one inner product
instead of a whole simulation: for ``R`` rows over ``L`` steps about ``2L + 2R`` passes
over ``4ⁿ`` amplitudes instead of ``R·L/2`` with prefix sharing. It is the density-matrix
adjoint idea (the state cannot be un-computed through a channel, so the forward states at
shifted steps are kept) used to evaluate the shift rule's rows exactly — the rows' values,
not a different gradient. Rows that differ in more than one step take the ordinary path.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.sim.density_matrix import initial_density, rotation_superop
from qtrain.sim.measure import MeasurementPlan
from qtrain.sim.methods import state_bytes
from qtrain.sim.program import Program, Step
from qtrain.sim.readout_map import ReadoutMap
from qtrain.sim.statevector import KernelSet, divergence, owned, run_step
from qtrain.sim.superop import apply_step, apply_superop, step_matrices

__all__ = ["SWEEP_MIN_AMPLITUDES", "single_step_rows", "sweep_values"]

SWEEP_MIN_AMPLITUDES = 1 << 14
"""Rows × 4ⁿ below which the ordinary batch is faster: the sweeps run about three times as
many steps, each ~0.1 ms of Python at this size. Measured (HEA, 2 layers, param-shift batch,
2 cores): n = 4 (33 rows × 256) sweeps 3.1 ms, one batch 1.9 ms; n = 5 (41 × 1024) 4.3
against 5.9 ms; n = 6 7.3 against 16.0 ms."""

Complex = NDArray[np.complex128]
Real = NDArray[np.float64]


def _last_steps(program: Program) -> NDArray[np.int64]:
    """``(P,)`` the last step reading each parameter (−1 for none)."""
    last = np.full(program.first_step.size, -1, dtype=np.int64)
    for k, step in enumerate(program.steps):
        for op in step.ops:
            last[list(op.param_indices)] = k
    return last


def single_step_rows(program: Program, theta: Real) -> NDArray[np.int64]:
    """For each row, the one step where it differs from row 0, or ``−1``.

    ``−1`` for row 0, for rows equal to it and for rows differing in several steps.
    """
    steps = len(program.steps)
    first = divergence(program, theta)
    if theta.shape[1] == 0:
        return np.full(theta.shape[0], -1, dtype=np.int64)
    differs = theta != theta[0]
    last = np.where(differs, _last_steps(program)[None, :], -1).max(axis=1)
    single = (first == last) & (first < steps)
    single[0] = False
    return np.where(single, first, -1)


def _pulled_back(
    conjugates: Complex, step: Step, mats: Complex | None, n2: int, kernels: KernelSet
) -> Complex:
    """``conj(S† w) = Sᵀ conj(w)`` for one step, on ``conjugates = conj(w) (O, 4ⁿ)``.

    The functionals are carried conjugated, so each row's value is a plain product
    ``conj(w)·ρ`` with no conjugated copy of ``w`` (256 MiB each at n = 12) per step.
    ``mats`` is the step's base-row matrix.
    """
    if step.kind == "permutation":
        assert step.source is not None
        return kernels.apply_permutation(conjugates, np.argsort(step.source))
    assert mats is not None  # every other density-matrix step has a superoperator
    if step.kind == "diagonal":
        diag = np.ascontiguousarray(np.diagonal(mats, axis1=1, axis2=2))
        return kernels.apply_diagonal(conjugates, diag, step.wires, n2)
    transposed = np.ascontiguousarray(mats.transpose(0, 2, 1))
    return apply_superop(conjugates, transposed, step.wires, n2, kernels)


def _functionals(
    plans: list[MeasurementPlan], n_qubits: int, readout: ReadoutMap | None, kernels: KernelSet
) -> Complex:
    """``(O, 4ⁿ)`` vectorised ``W_o = c·I + Σ_g R_g† diag(D_g) R_g``: ``value = ⟨W_o, ρ⟩``.

    ``D_g`` is the group's eigenvalue table, mapped by the readout errors (``Aᵀ D_g``).
    """
    dim = 1 << n_qubits
    diagonal = np.arange(dim) * (dim + 1)
    out = np.zeros((len(plans), dim * dim), dtype=np.complex128)
    for o, plan in enumerate(plans):
        out[o, diagonal] += plan.constant
        for group in plan.groups:
            table = np.zeros((1, dim * dim), dtype=np.complex128)
            table[0, diagonal] = (
                group.eigenvalues if readout is None else readout.eigenvalues(group)
            )
            for wire, letter in group.rotations:
                superop = rotation_superop(letter)[0].conj().T[None]  # of R†: W = R† D R
                table = apply_superop(
                    table, superop, (wire, wire + n_qubits), 2 * n_qubits, kernels
                )
            out[o] += table[0]
    return out


def sweep_values(
    program: Program,
    theta: Real,
    plans: list[MeasurementPlan],
    *,
    readout: ReadoutMap | None,
    kernels: KernelSet,
    budget: int,
) -> tuple[Real, NDArray[np.bool_]] | None:
    """Exact values ``(B, O)`` of row 0, its copies and its single-step rows, by two sweeps.

    Returns ``(values, done)``: ``done (B,)`` marks the rows computed (the others, differing
    from row 0 in several steps, are left for the ordinary path), or ``None`` when the kept
    forward states do not fit ``budget`` bytes or too few rows would gain. Callers skip it
    for batches below :data:`SWEEP_MIN_AMPLITUDES`, where the sweeps' Python steps cost more.
    """
    at = single_step_rows(program, theta)
    kept = np.unique(at[at >= 0])
    n2 = program.n_qubits
    widest = int(np.bincount(at[at >= 0]).max(initial=0))
    need = (kept.size + len(plans) + 2 * widest + 2) * state_bytes(n2) // 4  # + kernel copies
    if kept.size < 2 or need > budget:
        return None
    saved: dict[int, Complex] = {}
    keep = set(kept.tolist())
    state = initial_density(1, n2 // 2)
    matrices: list[Complex | None] = []  # each step's base-row superoperator, for both sweeps
    for k, step in enumerate(program.steps):
        if k in keep:
            saved[k] = state.copy()
        if step.kind == "permutation":  # no matrix: a gather (its inverse on the way back)
            mats, state = None, owned(run_step(state, step, theta[:1], n2, kernels), state)
        else:
            mats = step_matrices(step, theta[:1])
            state = owned(apply_step(state, step, mats, n2, kernels), state)
        matrices.append(mats)
    conjugates = np.conj(_functionals(plans, n2 // 2, readout, kernels))
    values = np.zeros((theta.shape[0], len(plans)))
    same = divergence(program, theta) == len(program.steps)
    same[0] = True
    values[same] = (conjugates @ state[0]).real
    buffer = np.empty((widest, state.shape[1]), dtype=np.complex128)  # reused: no fresh pages
    for k in range(len(program.steps) - 1, -1, -1):
        if k in saved:
            rows = np.flatnonzero(at == k)
            shifted = buffer[: rows.size]
            shifted[...] = saved.pop(k)
            shifted = owned(run_step(shifted, program.steps[k], theta[rows], n2, kernels), shifted)
            values[rows] = (shifted @ conjugates.T).real
        conjugates = owned(
            _pulled_back(conjugates, program.steps[k], matrices[k], n2, kernels), conjugates
        )
    return values, same | (at >= 0)
