"""The randomness of sampling: per-row content keys and reproducible outcome draws.

A row's shots are drawn from ``SeedSequence(seed, spawn_key=(*row_key, group))`` with
``row_key`` a hash of the row's parameters, so a row's numbers depend only on the row, the
seed and the group — never on batching, order, chunking or deduplication — and the draw
itself does not depend on rounding (:func:`draw_counts`).
"""

from __future__ import annotations

import hashlib

import numpy as np
from numpy.typing import NDArray

__all__ = ["INVERSE_CDF_MAX_SHOTS", "draw_counts", "row_seed_keys"]


INVERSE_CDF_MAX_SHOTS = 1 << 14
"""Up to this many shots per draw, outcomes are located one by one in the cumulative weights."""


def draw_counts(
    rng: np.random.Generator, shots: int, weights: NDArray[np.float64]
) -> NDArray[np.int64]:
    """Counts ``(K,)`` of ``shots`` draws from the distribution ∝ ``weights (K,)``.

    Up to :data:`INVERSE_CDF_MAX_SHOTS` shots, each shot is a uniform located in the
    cumulative weights (inverse CDF): probabilities that differ by rounding (the numba and
    numpy kernels, ~1e-16) give the same counts except with probability ~1e-16 per shot.
    ``Generator.multinomial`` lacks this: its binomial steps switch algorithm at p = ½, so
    ``p = 0.5`` and ``0.5 + 1e-16`` draw different counts from one seed — common, since
    symmetric states have p = ½ exactly. Inverse CDF costs O(shots) (28 µs at 1000 shots against
    2.4 µs for ``multinomial``; 0.33 ms at 16 384);
    beyond, ``multinomial`` (O(K), microseconds) draws from weights rounded to 12 decimals,
    which keeps exact halves exact and leaves a difference between the kernel sets only where
    a probability sits within 1e-16 of a rounding boundary.
    """
    if shots <= INVERSE_CDF_MAX_SHOTS:
        cumulative = np.cumsum(weights)
        uniforms = rng.random(shots)
        uniforms *= cumulative[-1]
        picks = cumulative.searchsorted(uniforms, side="right")
        np.minimum(picks, weights.size - 1, out=picks)  # a uniform at the very top
        counts: NDArray[np.int64] = np.bincount(picks, minlength=weights.size)
        return counts
    rounded = np.round(weights / weights.sum(), 12)
    drawn: NDArray[np.int64] = rng.multinomial(shots, rounded / rounded.sum()).astype(np.int64)
    return drawn


def row_seed_keys(rows: NDArray[np.float64]) -> NDArray[np.uint32]:
    """``(B, 4)`` content keys of parameter rows (128-bit BLAKE2b of each row's bytes)."""
    data = np.ascontiguousarray(rows, dtype=np.float64)
    digests = b"".join(hashlib.blake2b(row.tobytes(), digest_size=16).digest() for row in data)
    return np.frombuffer(digests, dtype=np.uint32).reshape(data.shape[0], 4)
