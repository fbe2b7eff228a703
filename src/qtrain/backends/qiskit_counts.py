"""Sampler bit strings → each measurement group's mean and estimated variance.

The statistics are the local simulator's (``sim.measure.sampled_values``): a group's outcome
``j`` (wire ``w`` is bit ``n − 1 − w``) has the eigenvalue ``GroupPlan.eigenvalues[j]``; the
mean over ``N`` shots estimates the group's value and :class:`~qtrain.sim.spread.Spread`
(built per group by ``measurement_plan``) its variance, from the counts per level when the
group samples by level. Qiskit's bit strings are little-endian (clbit 0 rightmost, the
integer's least significant bit) and clbit ``w`` holds wire ``w``, so outcome integers are
bit-reversed into qtrain's order.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from qiskit.primitives import BitArray

from qtrain.sim.measure import GroupPlan

__all__ = ["group_statistics", "outcome_counts"]


@lru_cache(maxsize=32)
def _reversal(n_qubits: int) -> NDArray[np.int64]:
    """``table[k]``: qtrain's outcome index of Qiskit's outcome integer ``k``."""
    index = np.arange(1 << n_qubits, dtype=np.int64)
    reversed_index = np.zeros_like(index)
    for bit in range(n_qubits):
        reversed_index |= ((index >> bit) & 1) << (n_qubits - 1 - bit)
    reversed_index.setflags(write=False)
    return reversed_index


def outcome_counts(bits: BitArray, n_qubits: int, rows: int) -> NDArray[np.int64]:
    """``(R, 2ⁿ)`` counts of every outcome, in qtrain's order, for a PUB of ``R`` rows.

    A PUB of shape ``()`` (no parameters) holds ``R`` rows' shots one after another.
    """
    packed = np.asarray(bits.array)  # (R, shots, bytes) or (R·shots, bytes), big-endian bytes
    packed = packed.reshape(rows, -1, packed.shape[-1])
    integers = np.zeros(packed.shape[:2], dtype=np.int64)
    for byte in range(packed.shape[2]):
        integers = (integers << 8) | packed[:, :, byte].astype(np.int64)
    integers &= (1 << n_qubits) - 1
    size = 1 << n_qubits
    index = _reversal(n_qubits)[integers] + size * np.arange(rows, dtype=np.int64)[:, None]
    return np.bincount(index.ravel(), minlength=rows * size).reshape(rows, size)


def group_statistics(
    counts: NDArray[np.int64], group: GroupPlan
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(means (R,), variances (R,))`` of a group from its outcome counts ``(R, 2ⁿ)``.

    Exactly as ``sim.measure.sampled_values`` turns its own draws into numbers: the counts
    are summed per level when the group samples by level, then ``Spread.variance``.
    """
    if group.level_of is not None and group.levels is not None:
        eig = group.levels
        order, starts = group.level_runs  # computed once per group
        counts = np.add.reduceat(counts[:, order], starts, axis=1)  # np.add.at: 10× slower
    else:
        eig = group.eigenvalues
    squares = eig * eig
    shots = counts.sum(axis=1)
    means = (counts @ eig) / shots
    seconds = (counts @ squares) / shots
    variances = np.array(
        [
            group.spread.variance(row, float(mean), float(second), int(n))
            for row, mean, second, n in zip(counts, means, seconds, shots, strict=True)
        ]
    )
    return means.astype(np.float64), variances
