"""Parities of Pauli words on measured outcomes, and every term's estimate from a group's shots.

In a measurement group's basis each term's word is diagonal: on outcome ``j`` it is the
parity ``(-1)^{|j ∧ mask_t|}`` (wire ``w`` is bit ``n − 1 − w`` of ``j``; :func:`mask_signs`).
The raw estimate of the word from ``N`` shots with outcome counts ``c`` is its mean parity
``Σ_j c_j·(-1)^{|j ∧ mask_t|}/N`` — the Walsh–Hadamard transform of ``c`` read at ``mask_t``
(:func:`walsh_hadamard`) — and ``Σ_t c_t·estimate_t`` is the group's mean as drawn. These
are ``Task.term_values``: what readout mitigation needs to propagate a calibration's
uncertainty term by term.

Outcomes on which every term of the group has the same parity (one *signature*: they differ
on unmeasured wires, or symmetrically) are alike here, so a :class:`TermTable` counts
signatures: ``(T, S)`` signs instead of ``(T, 2ⁿ)``. A group of more than ``n`` terms keeps
the outcomes (``S = 2ⁿ``) and reads the transform.

A group sampled by level (``sim.measure.GroupPlan.level_of``) has drawn only how many shots
hit each eigenvalue. The signature counts behind them are drawn afterwards, each level's
shots among its signatures ∝ their probability: two-stage sampling, so they are distributed
exactly as a draw over outcomes, while the level counts — and the value — stay as drawn. A
level of a single signature needs no draw: every level of a one-term group, and most levels
when the coefficients are generic.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.sim.draws import INVERSE_CDF_MAX_SHOTS

__all__ = ["TermTable", "mask_signs", "walsh_hadamard"]

Real = NDArray[np.float64]
Index = NDArray[np.intp]


def mask_signs(mask: int, n_qubits: int) -> Real:
    """``(-1)^{|j ∧ mask|}`` for every basis index ``j`` of ``n_qubits``: ``(2ⁿ,)``."""
    index = np.arange(1 << n_qubits, dtype=np.int64)
    bits = np.bitwise_and(index, mask)
    parity = np.zeros_like(index)
    while mask:
        parity ^= bits & 1
        bits >>= 1
        mask >>= 1
    signs: Real = 1.0 - 2.0 * parity.astype(np.float64)
    return signs


def walsh_hadamard(values: Real) -> Real:
    """The unnormalised Walsh–Hadamard transform ``out[j] = Σ_m values[m]·(-1)^{|j ∧ m|}``.

    Along the last axis of ``(..., 2ⁿ)``: ``n`` butterfly passes, O(n·2ⁿ) per transform
    whatever the number of non-zero inputs.

    >>> walsh_hadamard(np.array([0.0, 1.0, 0.0, 0.0])).tolist()   # Z on the low bit
    [1.0, -1.0, 1.0, -1.0]
    """
    out = np.array(values, dtype=np.float64)
    size, lead, half = out.shape[-1], out.shape[:-1], 1
    while half < size:
        pairs = out.reshape(*lead, -1, 2, half)  # blocks stay within one transform
        low, high = pairs[..., 0, :].copy(), pairs[..., 1, :]
        pairs[..., 0, :] += high
        pairs[..., 1, :] = low - high
        half *= 2
    return out


@dataclass(frozen=True, eq=False)
class TermTable:
    """How one group's shot counts become its terms' estimates.

    Attributes:
        masks: the wire masks of the group's words, in the group's term order.
        signature_of: ``(2ⁿ,)`` the signature of every outcome.
        signs: ``(T, S)`` each term's parity on each signature; ``None`` when the signatures
            are the outcomes and :func:`walsh_hadamard` reads the parities (``T > n``).
        order: ``(S,)`` the signatures sorted by level (``None`` for a group without levels).
        starts: ``(L + 1,)`` where each level's signatures start in ``order``.
        lone: ``(L,)`` true where a level holds a single signature.
    """

    masks: tuple[int, ...]
    signature_of: Index
    signs: Real | None
    order: Index | None = None
    starts: Index | None = None
    lone: NDArray[np.bool_] | None = None

    @classmethod
    def of(cls, masks: tuple[int, ...], n_qubits: int, level_of: Index | None) -> TermTable:
        """The table of words ``masks`` on ``n_qubits``, sampled by ``level_of`` when given."""
        signs: Real | None = None
        if len(masks) > n_qubits:
            signature_of = np.arange(1 << n_qubits)
        else:  # bit t of an outcome's signature: term t reads −1 on it
            packed = np.zeros(1 << n_qubits, dtype=np.int64)
            for t, mask in enumerate(masks):
                packed |= (mask_signs(mask, n_qubits) < 0).astype(np.int64) << t
            patterns, signature_of = np.unique(packed, return_inverse=True)
            bits = patterns >> np.arange(len(masks))[:, None] & 1
            signs = 1.0 - 2.0 * bits.astype(np.float64)
        if level_of is None:
            return cls(masks, signature_of, signs)
        level = np.zeros(int(signature_of.max()) + 1, dtype=np.intp)
        level[signature_of] = level_of  # one level per signature: its eigenvalue is Σ c_t·s_t
        order = np.argsort(level, kind="stable")
        starts = np.searchsorted(level[order], np.arange(int(level_of.max()) + 2))
        return cls(masks, signature_of, signs, order, starts, np.diff(starts) == 1)

    @property
    def n_signatures(self) -> int:
        """``S``: the distinct parity patterns of the group's outcomes."""
        return self.signature_of.size if self.signs is None else self.signs.shape[1]

    def estimates(
        self, counts: NDArray[np.int64], weights: Real, shots: int, rng: np.random.Generator
    ) -> Real:
        """``(T,)`` each word's mean parity over the ``shots`` shots behind ``counts``.

        Args:
            counts: ``(L,)`` level counts when the table has levels, else ``(2ⁿ,)`` outcome
                counts; drawn from ``weights``.
            weights: ``(2ⁿ,)`` the outcome probabilities the counts were drawn from.
            shots: the number of shots (``counts.sum()``).
            rng: draws the split of level counts into signature counts (used only then, and
                only for levels of several signatures).
        """
        size = self.n_signatures
        tally: Real
        if self.order is None:  # bincount with weights counts in float64
            tally = np.asarray(np.bincount(self.signature_of, counts, size), dtype=np.float64)
        else:
            mass = np.asarray(np.bincount(self.signature_of, weights, size), dtype=np.float64)
            tally = self._split(counts, mass, rng).astype(np.float64)
        if self.signs is None:
            return walsh_hadamard(tally)[list(self.masks)] / shots
        means: Real = (self.signs @ tally) / shots
        return means

    def _split(self, counts: NDArray[np.int64], mass: Real, rng: np.random.Generator) -> Index:
        """Signature counts ``(S,)`` behind level ``counts (L,)``, drawn ∝ ``mass (S,)``."""
        assert self.order is not None and self.starts is not None and self.lone is not None
        order, starts = self.order, self.starts
        out = np.zeros(mass.size, dtype=np.intp)
        out[order[starts[:-1][self.lone]]] = counts[self.lone]
        rest = np.where(self.lone, 0, counts)
        total = int(rest.sum())
        ranked = mass[order]
        if total > INVERSE_CDF_MAX_SHOTS:  # as draw_counts then: multinomial, O(S) not O(N)
            for level in np.flatnonzero(rest):
                run = slice(starts[level], starts[level + 1])
                part = ranked[run] if ranked[run].sum() > 0 else np.ones(run.stop - run.start)
                rounded = np.round(part / part.sum(), 12)
                out[order[run]] += rng.multinomial(int(rest[level]), rounded / rounded.sum())
        elif total:
            out += np.bincount(order[_placed(rng, rest, ranked, starts)], minlength=mass.size)
        return out


def _placed(
    rng: np.random.Generator, counts: NDArray[np.int64], ranked: Real, starts: Index
) -> Index:
    """Where each of ``counts (L,)`` shots lands among the level-sorted ``ranked`` weights.

    Each shot of level ``l`` sits at a uniform place in that level's span of the cumulative
    weights (inverse CDF within the level, as ``sim.draws.draw_counts`` does over all).
    """
    edges = np.concatenate(([0.0], np.cumsum(ranked)))  # entry i spans edges[i : i + 2]
    base = edges[starts]  # where each level's span starts (and the last one ends)
    targets = rng.random(int(counts.sum()))
    targets *= np.repeat(np.diff(base), counts)
    targets += np.repeat(base[:-1], counts)
    picks: Index = edges.searchsorted(targets, side="right") - 1  # never below its level
    np.minimum(picks, np.repeat(starts[1:] - 1, counts), out=picks)  # rounding at the top
    return picks
