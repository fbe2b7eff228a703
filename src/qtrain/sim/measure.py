"""Expectation values of Pauli sums on batched states: exact, or sampled per commuting group.

An observable is measured group by group (qubit-wise-commuting groups from
``Observable.groups()``): the state is rotated into the group's basis (H for X, H·S† for Y),
and every term of the group becomes a ±1 parity of the computational-basis outcome. The
group's eigenvalue on outcome ``j`` is ``D_g[j] = Σ_t c_t·(-1)^{popcount(j & mask_t)}``, so

* the exact value is ``Σ_g p_g · D_g`` with ``p_g = |rotated ψ|²``, and
* with ``N`` shots per group, each group's mean ``D̄_g`` has sampling variance ``s²_g / N``
  (``s²_g`` the unbiased sample variance of ``D_g`` over the shots). Groups are measured
  independently, so the variance of the sum is the sum of the group variances.

Sampling is seeded per (row content, group) through ``numpy.random.SeedSequence`` spawn
keys, so a row's numbers do not depend on how the batch was chunked, ordered or deduplicated
— the property the execution layer's content-keyed store relies on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.matrices import HADAMARD
from qtrain.ir.observables import Observable
from qtrain.sim.statevector import KernelSet, select_kernels

__all__ = [
    "MeasurementPlan",
    "exact_values",
    "measurement_plan",
    "parity_signs",
    "row_seed_keys",
    "sampled_values",
    "walsh_hadamard",
]

_MAX_LEVEL_SHARE = 0.25  # sample by level when there are at most 2ⁿ/4 distinct eigenvalues

_BASIS_CHANGE = {
    "X": HADAMARD[None],
    "Y": (HADAMARD @ np.diag([1.0, -1j]))[None],
}


@dataclass(frozen=True, eq=False)
class GroupPlan:
    """One commuting group: the basis change and the eigenvalue of every outcome ``(2ⁿ,)``.

    ``levels`` are the distinct eigenvalues and ``level_of`` ``(2ⁿ,)`` each outcome's level,
    when there are few (Σ Z_i has n + 1): sampling then draws from the ``L`` level
    probabilities instead of the ``2ⁿ`` outcomes — the same distribution of the group's
    eigenvalue, at O(2ⁿ) for a ``bincount`` plus O(L) per draw.
    """

    rotations: tuple[tuple[int, str], ...]
    eigenvalues: NDArray[np.float64]
    levels: NDArray[np.float64] | None = None
    level_of: NDArray[np.intp] | None = None


@dataclass(frozen=True, eq=False)
class MeasurementPlan:
    """How to measure one observable on ``n_qubits``: a constant plus independent groups."""

    n_qubits: int
    constant: float
    groups: tuple[GroupPlan, ...]


def parity_signs(wires: tuple[int, ...], n_qubits: int) -> NDArray[np.float64]:
    """``(-1)^{number of set bits of j on wires}`` for every basis index ``j``."""
    index = np.arange(1 << n_qubits, dtype=np.int64)
    mask = 0
    for w in wires:
        mask |= 1 << (n_qubits - 1 - w)
    bits = np.bitwise_and(index, mask)
    parity = np.zeros_like(index)
    while mask:
        parity ^= bits & 1
        bits >>= 1
        mask >>= 1
    signs: NDArray[np.float64] = 1.0 - 2.0 * parity.astype(np.float64)
    return signs


def _wire_mask(wires: tuple[int, ...], n_qubits: int) -> int:
    return sum(1 << (n_qubits - 1 - w) for w in wires)


def walsh_hadamard(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """The unnormalised Walsh–Hadamard transform ``out[j] = Σ_m values[m]·(-1)^{|j ∧ m|}``.

    ``n`` butterfly passes over ``(2ⁿ,)``: O(n·2ⁿ) whatever the number of non-zero inputs.

    >>> walsh_hadamard(np.array([0.0, 1.0, 0.0, 0.0])).tolist()   # Z on the low bit
    [1.0, -1.0, 1.0, -1.0]
    """
    out = np.array(values, dtype=np.float64)
    size, half = out.size, 1
    while half < size:
        pairs = out.reshape(-1, 2, half)
        low, high = pairs[:, 0, :].copy(), pairs[:, 1, :]
        pairs[:, 0, :] += high
        pairs[:, 1, :] = low - high
        half *= 2
    return out


def _group_eigenvalues(
    observable: Observable, indices: tuple[int, ...], coeffs: NDArray[np.float64], n_qubits: int
) -> NDArray[np.float64]:
    """``D_g[j] = Σ_t c_t·(-1)^{|j ∧ mask_t|}``: term by term, or one Walsh–Hadamard transform.

    The sum term by term costs O(T·2ⁿ) (a parity table per term); it is the Walsh–Hadamard
    transform of the coefficients placed at their masks, O(n·2ⁿ), which is the faster way
    once a group has more than ``n`` terms (the 2ⁿ-term global cost at n = 14: 2.7 s → 0.05 s,
    most of it placing the coefficients; ``bench/bench_global_cost.py``).
    Small groups keep the term-by-term sum, so their numbers are unchanged.
    """
    if len(indices) <= n_qubits:
        eigenvalues = np.zeros(1 << n_qubits)
        for t in indices:
            eigenvalues += coeffs[t] * parity_signs(observable.terms[t][0].wires, n_qubits)
        return eigenvalues
    spectrum = np.zeros(1 << n_qubits)
    for t in indices:
        spectrum[_wire_mask(observable.terms[t][0].wires, n_qubits)] += coeffs[t]
    return walsh_hadamard(spectrum)


@lru_cache(maxsize=64)
def measurement_plan(observable: Observable, n_qubits: int) -> MeasurementPlan:
    """Rotations and eigenvalue tables for every group of ``observable`` (cached)."""
    coeffs = observable.real_coefficients()
    groups = []
    for group in observable.groups():
        eigenvalues = _group_eigenvalues(observable, group.term_indices, coeffs, n_qubits)
        eigenvalues.setflags(write=False)
        rotations = tuple((w, p) for w, p in group.basis if p != "Z")
        levels, level_of = np.unique(eigenvalues, return_inverse=True)
        if levels.size > _MAX_LEVEL_SHARE * eigenvalues.size:  # hardly fewer: sample outcomes
            groups.append(GroupPlan(rotations, eigenvalues))
        else:
            groups.append(GroupPlan(rotations, eigenvalues, levels, level_of))
    return MeasurementPlan(n_qubits, float(observable.identity_coefficient.real), tuple(groups))


def row_seed_keys(rows: NDArray[np.float64]) -> NDArray[np.uint32]:
    """``(B, 4)`` content keys of parameter rows (128-bit BLAKE2b of each row's bytes)."""
    data = np.ascontiguousarray(rows, dtype=np.float64)
    digests = b"".join(hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in data)
    return np.frombuffer(digests, dtype=np.uint32).reshape(data.shape[0], 4)


def _rotated(
    states: NDArray[np.complex128], group: GroupPlan, n_qubits: int, kernels: KernelSet
) -> NDArray[np.complex128]:
    """The states in the group's measurement basis (a copy: kernels may work in place)."""
    if not group.rotations:
        return states
    rotated = states.copy()
    for wire, letter in group.rotations:
        rotated = kernels.apply_one_qubit(rotated, _BASIS_CHANGE[letter], wire, n_qubits)
    return rotated


def exact_values(
    states: NDArray[np.complex128], plan: MeasurementPlan, kernels: KernelSet | None = None
) -> NDArray[np.float64]:
    """Exact ``⟨ψ_b|H|ψ_b⟩`` for every row: ``(B,)``."""
    chosen = kernels if kernels is not None else select_kernels()
    values = np.full(states.shape[0], plan.constant)
    for group in plan.groups:
        rotated = _rotated(states, group, plan.n_qubits, chosen)
        values += chosen.weighted_probabilities(rotated, group.eigenvalues)
    return values


def sampled_values(
    states: NDArray[np.complex128],
    plan: MeasurementPlan,
    shots: NDArray[np.int64],
    entropy: int,
    *,
    row_keys: NDArray[np.uint32] | None = None,
    first_group: int = 0,
    kernels: KernelSet | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Estimate every row's expectation from ``shots`` samples per group.

    Args:
        states: ``(B, 2ⁿ)`` states.
        plan: from :func:`measurement_plan`.
        shots: ``(B, G)`` samples per row and group (each ≥ 1).
        entropy: the seed; row ``r`` and group ``g`` draw from ``SeedSequence(entropy,
            spawn_key=(*row_keys[r], first_group + g))``.
        row_keys: ``(B, K)`` a key per row (default its index); the backend passes
            :func:`row_seed_keys` of the row's content, so a row's numbers depend only on the
            row, the seed and the group — never on batching, order or chunking.
        first_group: global index of this plan's first group (several observables).
        kernels: kernel set for the basis rotations (default: ``select_kernels()``).

    Returns:
        ``(values (B,), variances (B,))``: the estimates and the estimated variance of each
        estimate (``NaN`` where a group got 1 shot: one sample says nothing about its spread).
    """
    chosen = kernels if kernels is not None else select_kernels()
    rows = states.shape[0]
    keys = np.arange(rows, dtype=np.uint32)[:, None] if row_keys is None else row_keys
    values = np.full(rows, plan.constant)
    variances = np.zeros(rows)
    for g, group in enumerate(plan.groups):
        rotated = _rotated(states, group, plan.n_qubits, chosen)
        probs = rotated.real**2 + rotated.imag**2
        eig = group.eigenvalues if group.levels is None else group.levels
        for r in range(rows):
            n = int(shots[r, g])
            key = (*(int(k) for k in keys[r]), first_group + g)
            seq = np.random.SeedSequence(entropy, spawn_key=key)
            weights = probs[r]
            if group.level_of is not None:
                weights = np.bincount(group.level_of, weights=weights, minlength=eig.size)
            counts = np.random.default_rng(seq).multinomial(n, weights / weights.sum())
            mean = float(counts @ eig) / n
            second = float(counts @ (eig * eig)) / n
            values[r] += mean
            # Unbiased sample variance of one shot, divided by n: the variance of the mean.
            variances[r] += max(second - mean * mean, 0.0) / (n - 1) if n > 1 else np.nan
    return values, variances
