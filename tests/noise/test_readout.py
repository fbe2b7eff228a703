"""Readout error: confusion matrix, ⟨Z⟩ map, and the exact multi-qubit expansion."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from qtrain.errors import NoiseModelError
from qtrain.noise.readout import (
    ReadoutError,
    pauli_readout_terms,
    readout_error,
    z_word_readout_terms,
)


def z_expectation(probs: np.ndarray, wires: tuple[int, ...], n: int) -> float:
    """⟨Π_{w∈wires} Z_w⟩ of a distribution over n-bit strings (wire 0 = most significant)."""
    total = 0.0
    for index, prob in enumerate(probs):
        bits = [(index >> (n - 1 - w)) & 1 for w in range(n)]
        total += prob * (-1) ** sum(bits[w] for w in wires)
    return total


def flipped_distribution(probs: np.ndarray, errors: dict[int, ReadoutError], n: int) -> np.ndarray:
    """Brute force: the distribution of read bits, summing over every flip pattern."""
    out = np.zeros_like(probs)
    for index, prob in enumerate(probs):
        bits = [(index >> (n - 1 - w)) & 1 for w in range(n)]
        for read in itertools.product((0, 1), repeat=n):
            weight = prob
            for w in range(n):
                err = errors.get(w, readout_error(0.0, 0.0))
                weight *= err.confusion_matrix()[read[w], bits[w]]
            out[int("".join(map(str, read)), 2)] += weight
    return out


def test_readout_maps_z_expectation_affinely() -> None:
    err = readout_error(0.02, 0.05)
    for p0 in (1.0, 0.0, 0.3):
        probs = np.array([p0, 1 - p0])
        z = p0 - (1 - p0)
        read = err.confusion_matrix() @ probs
        assert read[0] - read[1] == pytest.approx((1 - 0.02 - 0.05) * z + (0.05 - 0.02))
        assert err.expval_z(z) == pytest.approx(read[0] - read[1])


def test_confusion_matrix_is_column_stochastic_with_p01_below_p00() -> None:
    m = readout_error(0.1, 0.25).confusion_matrix()
    assert np.allclose(m.sum(axis=0), 1.0)
    assert m[1, 0] == 0.1  # read 1 | prepared 0
    assert m[0, 1] == 0.25  # read 0 | prepared 1


@pytest.mark.parametrize("seed", range(5))
def test_exact_expansion_equals_brute_force_bit_flipping(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 4
    probs = rng.random(2**n)
    probs /= probs.sum()
    errors = {w: readout_error(*rng.uniform(0, 0.3, size=2)) for w in range(n) if w != 2}
    noisy = flipped_distribution(probs, errors, n)
    for size in range(1, n + 1):
        for wires in itertools.combinations(range(n), size):
            exact = sum(
                c * z_expectation(probs, sub, n) for c, sub in z_word_readout_terms(wires, errors)
            )
            assert exact == pytest.approx(z_expectation(noisy, wires, n), abs=1e-12)


def test_pauli_terms_keep_letters_and_skip_error_free_wires() -> None:
    errors = {0: readout_error(0.1, 0.3), 2: readout_error(0.2, 0.2)}
    terms = pauli_readout_terms([(2, "Y"), (0, "X"), (1, "Z")], errors)
    # wire 2 is unbiased (b = 0): no sub-word without it; wire 1 has no error.
    assert terms == (
        (pytest.approx(0.2 * 0.6), ((1, "Z"), (2, "Y"))),
        (pytest.approx(0.6 * 0.6), ((0, "X"), (1, "Z"), (2, "Y"))),
    )
    assert pauli_readout_terms([], errors) == ((1.0, ()),)
    with pytest.raises(NoiseModelError, match="letter must be X, Y or Z, got 'I'"):
        pauli_readout_terms([(0, "I")], errors)
    with pytest.raises(NoiseModelError, match="distinct"):
        z_word_readout_terms([0, 0], errors)


def test_sampled_bits_flip_at_the_stated_rates() -> None:
    err = readout_error(0.1, 0.3)
    rng = np.random.default_rng(0)
    zeros = err.flip(np.zeros(200_000, dtype=np.int8), rng)
    ones = err.flip(np.ones(200_000, dtype=np.int8), rng)
    assert zeros.mean() == pytest.approx(0.1, abs=0.005)
    assert 1 - ones.mean() == pytest.approx(0.3, abs=0.005)


def test_readout_error_validation_json_and_fingerprint() -> None:
    with pytest.raises(NoiseModelError, match=r"readout_error: p01 must be in \[0, 1\], got 1\.5"):
        readout_error(1.5, 0.0)
    with pytest.raises(NoiseModelError, match="p10 must be finite"):
        readout_error(0.0, float("nan"))
    err = readout_error(0.02, 0.05)
    assert ReadoutError.from_dict(err.to_dict()) == err
    assert err.fingerprint() == readout_error(0.02, 0.05).fingerprint()
    assert err.fingerprint() != readout_error(0.05, 0.02).fingerprint()
    with pytest.raises(NoiseModelError, match="format"):
        ReadoutError.from_dict({"p01": 0.1})
