"""Expectation values of Pauli sums on batched states: exact, or sampled per commuting group.

An observable is measured group by group (qubit-wise-commuting groups from
``Observable.groups()``): the state is rotated into the group's basis (H for X, H·S† for Y),
and every term of the group becomes a ±1 parity of the computational-basis outcome. The
group's eigenvalue on outcome ``j`` is ``D_g[j] = Σ_t c_t·(-1)^{popcount(j & mask_t)}``, so

* the exact value is ``Σ_g p_g · D_g`` with ``p_g = |rotated ψ|²``, and
* with ``N`` shots per group, each group's mean ``D̄_g`` estimates it; its variance is
  estimated per group (:class:`Spread`: plug-in, Laplace-smoothed for two-level groups,
  floored when every shot agrees) and, groups being measured independently, summed;
* on request, each term's raw estimate is its word's mean parity over the same shots
  (``sim.term_values``; ``Σ_t c_t`` times them is ``D̄_g``).

Sampling is seeded per (row content, group) through ``numpy.random.SeedSequence`` spawn
keys, so a row's numbers do not depend on how the batch was chunked, ordered or deduplicated
— the property the execution layer's content-keyed store relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.matrices import HADAMARD
from qtrain.ir.observables import Observable
from qtrain.sim.draws import draw_counts, row_seed_keys
from qtrain.sim.readout_map import ReadoutMap
from qtrain.sim.spread import Spread
from qtrain.sim.statevector import KernelSet, select_kernels
from qtrain.sim.term_values import TermTable, mask_signs, walsh_hadamard

__all__ = [
    "BASIS_CHANGE",
    "GroupPlan",
    "MeasurementPlan",
    "Probabilities",
    "Spread",
    "draw_counts",
    "exact_values",
    "measurement_plan",
    "parity_signs",
    "rotated_probabilities",
    "row_seed_keys",
    "sampled_values",
    "walsh_hadamard",
]

_MAX_LEVEL_SHARE = 0.25  # sample by level when there are at most 2ⁿ/4 distinct eigenvalues

BASIS_CHANGE = {
    "X": HADAMARD[None],
    "Y": (HADAMARD @ np.diag([1.0, -1j]))[None],
}


@dataclass(frozen=True, eq=False)
class GroupPlan:
    """One commuting group: the basis change and the eigenvalue of every outcome ``(2ⁿ,)``.

    ``levels`` are the distinct eigenvalues and ``level_of`` ``(2ⁿ,)`` each outcome's level,
    when there are few (Σ Z_i has n + 1): sampling then draws from the ``L`` level
    probabilities instead of the ``2ⁿ`` outcomes — the same distribution of the group's
    eigenvalue, at O(2ⁿ) for a ``bincount`` plus O(L) per draw. ``spread`` (derived) says
    how the variance of the group's mean is estimated. ``term_indices`` (into
    ``Observable.terms``) and their words' wire ``masks`` (wire ``w`` is bit ``n − 1 − w`` of
    an outcome) serve per-term estimates (``term_table``).
    """

    rotations: tuple[tuple[int, str], ...]
    eigenvalues: NDArray[np.float64]
    levels: NDArray[np.float64] | None = None
    level_of: NDArray[np.intp] | None = None
    term_indices: tuple[int, ...] = ()
    masks: tuple[int, ...] = ()
    spread: Spread = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = self.eigenvalues if self.levels is None else self.levels
        object.__setattr__(self, "spread", Spread.of(values))

    @cached_property
    def level_runs(self) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        """Outcomes sorted by level, and where each level's run starts (needs ``level_of``)."""
        assert self.level_of is not None and self.levels is not None  # a group with levels
        order = np.argsort(self.level_of, kind="stable")
        return order, np.searchsorted(self.level_of[order], np.arange(self.levels.size))

    @cached_property
    def term_table(self) -> TermTable:
        """How this group's counts become its terms' estimates (built on first use)."""
        return TermTable.of(self.masks, self.eigenvalues.size.bit_length() - 1, self.level_of)


Probabilities = Callable[[GroupPlan], NDArray[np.float64]]
"""Outcome probabilities ``(B, 2ⁿ)`` of every row in a group's measurement basis."""


@dataclass(frozen=True, eq=False)
class MeasurementPlan:
    """How to measure one observable on ``n_qubits``: a constant plus independent groups."""

    n_qubits: int
    constant: float
    groups: tuple[GroupPlan, ...]


def parity_signs(wires: tuple[int, ...], n_qubits: int) -> NDArray[np.float64]:
    """``(-1)^{number of set bits of j on wires}`` for every basis index ``j``."""
    mask = 0
    for w in wires:
        mask |= 1 << (n_qubits - 1 - w)
    return mask_signs(mask, n_qubits)


def _wire_mask(wires: tuple[int, ...], n_qubits: int) -> int:
    return sum(1 << (n_qubits - 1 - w) for w in wires)


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
        terms = group.term_indices
        masks = tuple(_wire_mask(observable.terms[t][0].wires, n_qubits) for t in terms)
        levels, level_of = np.unique(eigenvalues, return_inverse=True)
        if levels.size > _MAX_LEVEL_SHARE * eigenvalues.size:  # hardly fewer: sample outcomes
            groups.append(GroupPlan(rotations, eigenvalues, None, None, terms, masks))
        else:
            groups.append(GroupPlan(rotations, eigenvalues, levels, level_of, terms, masks))
    return MeasurementPlan(n_qubits, float(observable.identity_coefficient.real), tuple(groups))


def _rotated(
    states: NDArray[np.complex128], group: GroupPlan, n_qubits: int, kernels: KernelSet
) -> NDArray[np.complex128]:
    """The states in the group's measurement basis (a copy: kernels may work in place)."""
    if not group.rotations:
        return states
    rotated = states.copy()
    for wire, letter in group.rotations:
        change = BASIS_CHANGE[letter].astype(rotated.dtype, copy=False)  # complex64: rounded
        rotated = kernels.apply_one_qubit(rotated, change, wire, n_qubits)
    return rotated


def _probabilities(
    states: NDArray[np.complex128],
    group: GroupPlan,
    n_qubits: int,
    kernels: KernelSet,
    probabilities: Probabilities | None,
) -> NDArray[np.float64]:
    if probabilities is not None:
        return probabilities(group)
    return rotated_probabilities(states, group, n_qubits, kernels)


def rotated_probabilities(
    states: NDArray[np.complex128], group: GroupPlan, n_qubits: int, kernels: KernelSet
) -> NDArray[np.float64]:
    """Outcome probabilities ``(B, 2ⁿ)`` of statevectors in ``group``'s basis: ``|R ψ|²``.

    Always float64: single-precision amplitudes are squared in double, so draws and
    readout maps see the same kind of weights.
    """
    rotated = _rotated(states, group, n_qubits, kernels).astype(np.complex128, copy=False)
    return rotated.real**2 + rotated.imag**2


def exact_values(
    states: NDArray[np.complex128],
    plan: MeasurementPlan,
    kernels: KernelSet | None = None,
    *,
    readout: ReadoutMap | None = None,
    probabilities: Probabilities | None = None,
) -> NDArray[np.float64]:
    """Exact ``⟨ψ_b|H|ψ_b⟩`` (or ``Tr(ρ_b H)``) for every row: ``(B,)``.

    Args:
        states: ``(B, 2ⁿ)`` statevectors (or what ``probabilities`` reads).
        plan: from :func:`measurement_plan`.
        kernels: kernel set for the basis rotations (default: ``select_kernels()``).
        readout: per-qubit readout errors, exactly: each group's outcome eigenvalues become
            their expectation over the misread outcomes, ``Aᵀ D_g`` (``ReadoutMap``).
        probabilities: each group's outcome probabilities ``(B, 2ⁿ)`` from another state
            representation (density matrices); default ``|R ψ|²`` of the statevectors.
    """
    chosen = kernels if kernels is not None else select_kernels()
    values = np.full(states.shape[0], plan.constant)
    for group in plan.groups:
        eigenvalues = group.eigenvalues if readout is None else readout.eigenvalues(group)
        if probabilities is not None:
            values += probabilities(group) @ eigenvalues
            continue
        rotated = _rotated(states, group, plan.n_qubits, chosen)
        values += chosen.weighted_probabilities(rotated, eigenvalues)
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
    readout: ReadoutMap | None = None,
    probabilities: Probabilities | None = None,
    term_out: NDArray[np.float64] | None = None,
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
        readout: per-qubit readout errors: outcomes are drawn from the misread distribution
            ``A p`` (the same as flipping each sampled bit independently).
        probabilities: as in :func:`exact_values`.
        term_out: ``(B, T)`` (``T`` the observable's terms), when given, receives every
            term's raw estimate from the very same shots (``sim.term_values``; 1 for the
            identity term). A group sampled by level then goes on drawing from its
            generator to split its level counts, after the value's draw: values unchanged.

    Returns:
        ``(values (B,), variances (B,))``: the estimates and the estimated variance of each
        estimate, summed over groups (``NaN`` where a group got 1 shot: one sample says
        nothing about its spread). Per group, :class:`Spread` estimates it: the plug-in
        sample variance over ``N``, except that a two-level group uses the Laplace /
        Agresti–Coull ``p̃ = (k + 1)/(N + 2)`` and a group whose shots all agree reports the
        variance had one shot landed on the nearest other level — never 0 unless the group
        is constant, so error bars near an extreme eigenvalue are not overconfident.
    """
    chosen = kernels if kernels is not None else select_kernels()
    rows = states.shape[0]
    keys = np.arange(rows, dtype=np.uint32)[:, None] if row_keys is None else row_keys
    values = np.full(rows, plan.constant)
    variances = np.zeros(rows)
    if term_out is not None:
        term_out[...] = 1.0  # the identity term, in no group
    for g, group in enumerate(plan.groups):
        probs = _probabilities(states, group, plan.n_qubits, chosen, probabilities)
        if readout is not None:
            probs = readout.apply(probs)
        eig = group.eigenvalues if group.levels is None else group.levels
        squares, spread = eig * eig, group.spread
        for r in range(rows):
            n = int(shots[r, g])
            key = (*(int(k) for k in keys[r]), first_group + g)
            seq = np.random.SeedSequence(entropy, spawn_key=key)
            weights = probs[r]
            if group.level_of is not None:
                weights = np.bincount(group.level_of, weights=weights, minlength=eig.size)
            rng = np.random.default_rng(seq)
            counts = draw_counts(rng, n, weights)
            mean = float(counts @ eig) / n
            values[r] += mean
            variances[r] += spread.variance(counts, mean, float(counts @ squares) / n, n)
            if term_out is not None:  # the draw is done: rng may go on to split it
                table = group.term_table
                term_out[r, group.term_indices] = table.estimates(counts, probs[r], n, rng)
    return values, variances
