"""Expectation values of Pauli sums on batched states: exact, or sampled per commuting group.

An observable is measured group by group (qubit-wise-commuting groups from
``Observable.groups()``): the state is rotated into the group's basis (H for X, H·S† for Y),
and every term of the group becomes a ±1 parity of the computational-basis outcome. The
group's eigenvalue on outcome ``j`` is ``D_g[j] = Σ_t c_t·(-1)^{popcount(j & mask_t)}``, so

* the exact value is ``Σ_g p_g · D_g`` with ``p_g = |rotated ψ|²``, and
* with ``N`` shots per group, each group's mean ``D̄_g`` estimates it; its variance is
  estimated per group (:class:`Spread`: plug-in, Laplace-smoothed for two-level groups,
  floored when every shot agrees) and, groups being measured independently, summed.

Sampling is seeded per (row content, group) through ``numpy.random.SeedSequence`` spawn
keys, so a row's numbers do not depend on how the batch was chunked, ordered or deduplicated
— the property the execution layer's content-keyed store relies on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.matrices import HADAMARD
from qtrain.ir.observables import Observable
from qtrain.sim.draws import draw_counts, row_seed_keys
from qtrain.sim.readout_map import ReadoutMap
from qtrain.sim.statevector import KernelSet, select_kernels

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
_SAME_LEVEL = 1e-9  # eigenvalues closer than this × max|D_g| are one level (rounding twins)
_ROUNDING = 64 * float(np.finfo(np.float64).eps)  # cancellation slack of second − mean²

BASIS_CHANGE = {
    "X": HADAMARD[None],
    "Y": (HADAMARD @ np.diag([1.0, -1j]))[None],
}


@dataclass(frozen=True, eq=False)
class Spread:
    """How the variance of one group's mean is estimated from ``N`` shots' ``counts``.

    The values a shot can give are the entries of ``eig`` (the group's ``levels`` or its
    outcome eigenvalues), merged into distinct levels ``a_1 < … < a_L`` (entries closer than
    1e-9·max|D_g| are one level: rounding twins and degenerate outcomes). The estimate is

    * ``L = 1`` (a constant group): 0 — the value is known;
    * ``L = 2`` (gap ``Δ``, ``k`` shots at the upper level): ``Δ²·p̃(1 − p̃)/N`` with the
      Laplace / Agresti–Coull centre ``p̃ = (k + 1)/(N + 2)`` (Agresti & Coull, Am. Stat. 52,
      119 (1998); Brown, Cai & DasGupta, Stat. Sci. 16, 101 (2001)). The plug-in
      ``p̂(1 − p̂)`` is 0 whenever all shots agree and badly noisy with a handful of rare
      outcomes (⟨Z⟩ = 0.9, exact binomial sums: 50 shots give stderr 0 in 7.7 % of
      estimates; 100 shots z sd 1.18 and ±2σ coverage 88 %, Laplace 1.06 and 96 %);
      ``p̃`` pulls ``p̂`` toward ½ by one pseudo-outcome on each side, which keeps the
      variance positive and calibrates the z-scores near ±1. It is at most ``Δ²/(4N)``;
    * ``L ≥ 3``: the unbiased sample variance over ``N``, ``m₂/(N − 1)``; when every shot lands
      on one level ``a_i`` it is 0, and is replaced by the variance had one of the ``N``
      shots landed on the nearest other level instead: ``δ_i²/N²``, ``δ_i`` the gap from
      ``a_i`` to its nearest neighbour in the spectrum. ``N`` agreeing shots cannot prove an
      eigenstate (the "rule of three" spirit: no failure in ``N`` trials bounds the rate
      at ~3/N, not 0), so even an eigenstate reports this small, non-zero error.

    Every estimate is at most ``S²/(N − 1)`` (``S = Σ|c_t|`` over the group, all levels in
    ``[−S, S]``): the plug-in's bound; ``Δ²/(4N) ≤ S²/N``; ``δ_i²/N² < 4S²/N² ≤ S²/(N − 1)``.

    Attributes:
        merged: ``(L,)`` the distinct levels, ascending.
        member: ``(E,)`` the merged level of every entry of ``eig``.
        nearest: ``(L,)`` each level's gap to its nearest other level (0 when ``L = 1``).
        upper: ``(E,)`` 1 on entries at the upper level when ``L = 2``, else ``None``.
        top: the entry of the upper level when ``eig`` is just the two levels, else −1
            (``counts[top]`` is ``k`` without a dot product: the common one-term group).
        suspect: ``m₂`` below ``suspect/N`` may be one level: then the counts decide.
    """

    merged: NDArray[np.float64]
    member: NDArray[np.intp]
    nearest: NDArray[np.float64]
    upper: NDArray[np.int64] | None
    top: int
    suspect: float

    @classmethod
    def of(cls, eig: NDArray[np.float64]) -> Spread:
        """The spread model of a group whose shots take the values ``eig``."""
        distinct, inverse = np.unique(eig, return_inverse=True)
        scale = float(np.max(np.abs(distinct), initial=0.0))
        starts = np.diff(distinct) > _SAME_LEVEL * scale
        cluster = np.concatenate([[0], np.cumsum(starts)])
        merged = distinct[np.concatenate([[True], starts])]
        gaps = np.diff(merged)
        nearest = np.minimum(np.append(gaps, np.inf), np.insert(gaps, 0, np.inf))
        nearest[~np.isfinite(nearest)] = 0.0  # one level: nothing to be confused with
        member = cluster[inverse.reshape(-1)]
        upper = (member == 1).astype(np.int64) if merged.size == 2 else None
        top = int(np.argmax(member)) if member.size == merged.size == 2 else -1
        min_gap = float(gaps.min(initial=np.inf)) if gaps.size else 0.0
        return cls(merged, member, nearest, upper, top, 0.25 * min_gap * min_gap)

    def variance(self, counts: NDArray[np.int64], mean: float, second: float, n: int) -> float:
        """The estimated variance of the mean of ``n`` shots (``NaN`` for one shot)."""
        if n < 2:
            return float("nan")  # one sample says nothing about its spread
        if self.merged.size < 2:
            return 0.0
        if self.upper is not None:
            k = counts[self.top] if self.top >= 0 else counts @ self.upper
            tilde = (float(k) + 1.0) / (n + 2)
            gap = float(self.merged[1] - self.merged[0])
            return gap * gap * tilde * (1.0 - tilde) / n
        moment = max(second - mean * mean, 0.0)
        if moment > self.suspect / n + _ROUNDING * abs(second):
            return moment / (n - 1)  # two levels at least δ apart give m₂ ≥ δ²(n−1)/n²
        hit = self.member[counts > 0]
        if hit.min() != hit.max():
            return moment / (n - 1)
        gap = float(self.nearest[hit[0]])
        return gap * gap / (n * n)


@dataclass(frozen=True, eq=False)
class GroupPlan:
    """One commuting group: the basis change and the eigenvalue of every outcome ``(2ⁿ,)``.

    ``levels`` are the distinct eigenvalues and ``level_of`` ``(2ⁿ,)`` each outcome's level,
    when there are few (Σ Z_i has n + 1): sampling then draws from the ``L`` level
    probabilities instead of the ``2ⁿ`` outcomes — the same distribution of the group's
    eigenvalue, at O(2ⁿ) for a ``bincount`` plus O(L) per draw. ``spread`` (derived) says
    how the variance of the group's mean is estimated.
    """

    rotations: tuple[tuple[int, str], ...]
    eigenvalues: NDArray[np.float64]
    levels: NDArray[np.float64] | None = None
    level_of: NDArray[np.intp] | None = None
    spread: Spread = field(init=False, repr=False)

    def __post_init__(self) -> None:
        values = self.eigenvalues if self.levels is None else self.levels
        object.__setattr__(self, "spread", Spread.of(values))


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


def _rotated(
    states: NDArray[np.complex128], group: GroupPlan, n_qubits: int, kernels: KernelSet
) -> NDArray[np.complex128]:
    """The states in the group's measurement basis (a copy: kernels may work in place)."""
    if not group.rotations:
        return states
    rotated = states.copy()
    for wire, letter in group.rotations:
        rotated = kernels.apply_one_qubit(rotated, BASIS_CHANGE[letter], wire, n_qubits)
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
    """Outcome probabilities ``(B, 2ⁿ)`` of statevectors in ``group``'s basis: ``|R ψ|²``."""
    rotated = _rotated(states, group, n_qubits, kernels)
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
            counts = draw_counts(np.random.default_rng(seq), n, weights)
            mean = float(counts @ eig) / n
            values[r] += mean
            variances[r] += spread.variance(counts, mean, float(counts @ squares) / n, n)
    return values, variances
