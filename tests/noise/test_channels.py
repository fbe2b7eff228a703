"""Channels against their closed forms on dense density matrices."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from qtrain.errors import NoiseModelError, QtrainError
from qtrain.noise import channels as ch

PAULI = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]).astype(complex),
}


def word_matrix(word: str) -> np.ndarray:
    out = np.ones((1, 1), dtype=complex)
    for letter in word:
        out = np.kron(out, PAULI[letter])
    return out


def random_rho(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    d = 2**n
    a = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = a @ a.conj().T
    return rho / np.trace(rho)


def expval(rho: np.ndarray, word: str) -> float:
    return float(np.real(np.trace(rho @ word_matrix(word))))


@pytest.mark.parametrize("k", [1, 2])
def test_depolarizing_multiplies_every_pauli_expectation_by_one_minus_p(k: int) -> None:
    p = 0.37
    rho = random_rho(k, seed=k)
    out = ch.depolarizing(p, n_wires=k).apply(rho)
    assert np.isclose(np.trace(out), 1.0)
    for word in ("".join(w) for w in itertools.product("IXYZ", repeat=k)):
        factor = 1.0 if set(word) == {"I"} else 1.0 - p
        assert expval(out, word) == pytest.approx(factor * expval(rho, word), abs=1e-12)


def test_depolarizing_matches_aer_closed_form_and_pennylane_scaling() -> None:
    rho = random_rho(1, seed=3)
    p = 0.2
    expected = (1 - p) * rho + p * np.eye(2) / 2
    assert np.allclose(ch.depolarizing(p).apply(rho), expected, atol=1e-12)
    # PennyLane's DepolarizingChannel(q): (1-q)ρ + q/3 (XρX + YρY + ZρZ) is Aer's p = 4q/3.
    q = 0.15
    pl = (1 - q) * rho + q / 3 * sum(PAULI[s] @ rho @ PAULI[s] for s in "XYZ")
    assert np.allclose(ch.depolarizing(4 * q / 3).apply(rho), pl, atol=1e-12)


@pytest.mark.parametrize("k", [1, 2])
def test_depolarizing_range_is_up_to_the_cptp_limit(k: int) -> None:
    limit = 4**k / (4**k - 1)
    assert ch.depolarizing(limit, n_wires=k).n_wires == k
    with pytest.raises(NoiseModelError, match=rf"depolarizing: p must be in \[0, {limit:g}\]"):
        ch.depolarizing(limit + 1e-6, n_wires=k)
    with pytest.raises(NoiseModelError, match=r"p must be in .* got -0\.1"):
        ch.depolarizing(-0.1, n_wires=k)


@pytest.mark.parametrize(
    ("channel", "factors"),
    [
        (ch.bit_flip(0.1), {"X": 1.0, "Y": 0.8, "Z": 0.8}),
        (ch.phase_flip(0.1), {"X": 0.8, "Y": 0.8, "Z": 1.0}),
        (ch.pauli_channel(0.1, 0.2, 0.05), {"X": 0.5, "Y": 0.7, "Z": 0.4}),
    ],
)
def test_pauli_channels_scale_x_y_z_expectations(channel: ch.Channel, factors: dict) -> None:
    rho = random_rho(1, seed=7)
    out = channel.apply(rho)
    for word, factor in factors.items():
        assert expval(out, word) == pytest.approx(factor * expval(rho, word), abs=1e-12)


def test_amplitude_damping_from_one_leaves_p1_equal_one_minus_gamma() -> None:
    gamma = 0.3
    out = ch.amplitude_damping(gamma).apply(np.diag([0.0, 1.0]))
    assert out[1, 1].real == pytest.approx(1 - gamma, abs=1e-14)
    plus = np.full((2, 2), 0.5)
    assert abs(ch.amplitude_damping(gamma).apply(plus)[0, 1]) == pytest.approx(
        0.5 * math.sqrt(1 - gamma)
    )


def test_phase_damping_keeps_populations_and_scales_coherence() -> None:
    rho = random_rho(1, seed=9)
    out = ch.phase_damping(0.36).apply(rho)
    assert np.allclose(np.diag(out), np.diag(rho))
    assert out[0, 1] == pytest.approx(rho[0, 1] * 0.8)


@pytest.mark.parametrize("excited", [0.0, 0.2])
@pytest.mark.parametrize(("t1", "t2"), [(50.0, 40.0), (30.0, 60.0), (80.0, 10.0)])
def test_thermal_relaxation_populations_and_coherences_follow_exponentials(
    t1: float, t2: float, excited: float
) -> None:
    rho = random_rho(1, seed=11)
    for t in (0.0, 1.0, 25.0, 200.0):
        out = ch.thermal_relaxation(t1, t2, t, excited_population=excited).apply(rho)
        decay = math.exp(-t / t1)
        p1 = rho[1, 1].real * decay + excited * (1 - decay)
        assert out[1, 1].real == pytest.approx(p1, abs=1e-12)
        assert np.trace(out).real == pytest.approx(1.0, abs=1e-12)
        assert out[0, 1] == pytest.approx(rho[0, 1] * math.exp(-t / t2), abs=1e-12)


def test_thermal_relaxation_refuses_t2_above_twice_t1_naming_values() -> None:
    with pytest.raises(NoiseModelError, match=r"t2 = 101\.0 > 2·t1 = 100\.0"):
        ch.thermal_relaxation(50.0, 101.0, 1.0)
    with pytest.raises(NoiseModelError, match=r"t1 must be > 0, got -1\.0"):
        ch.thermal_relaxation(-1.0, 1.0, 1.0)
    with pytest.raises(NoiseModelError, match=r"duration must be >= 0"):
        ch.thermal_relaxation(1.0, 1.0, -0.5)
    with pytest.raises(NoiseModelError, match=r"excited_population must be in \[0, 1\], got 1\.5"):
        ch.thermal_relaxation(1.0, 1.0, 1.0, excited_population=1.5)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ch.bit_flip(1.2), r"bit_flip: p must be in \[0, 1\], got 1\.2"),
        (lambda: ch.phase_flip(-0.01), r"phase_flip: p must be in .* got -0\.01"),
        (lambda: ch.amplitude_damping(float("nan")), r"amplitude_damping: gamma must be finite"),
        (lambda: ch.phase_damping(float("inf")), r"phase_damping: gamma must be finite"),
        (lambda: ch.pauli_channel(0.5, 0.4, 0.3), r"px \+ py \+ pz must be <= 1, got 1\.2"),
        (lambda: ch.pauli_channel(0.5, -0.1, 0.3), r"py must be in .* got -0\.1"),
        (lambda: ch.bit_flip("0.1"), r"p must be a real number"),  # type: ignore[arg-type]
    ],
)
def test_invalid_probabilities_are_refused_naming_channel_and_value(make, match: str) -> None:
    with pytest.raises(NoiseModelError, match=match) as info:
        make()
    assert isinstance(info.value, QtrainError)
    assert isinstance(info.value, ValueError)


def test_kraus_rejects_sets_that_are_not_trace_preserving() -> None:
    with pytest.raises(NoiseModelError, match=r"mine: not trace preserving, max \|Σ K†K − I\|"):
        ch.kraus([np.eye(2) * 0.9], name="mine")
    with pytest.raises(NoiseModelError, match=r"kraus: Kraus operators must be"):
        ch.kraus(np.eye(3))
    with pytest.raises(NoiseModelError, match="non-finite"):
        ch.kraus([[np.nan, 0], [0, 1]])
    good = ch.kraus(ch.amplitude_damping(0.2).kraus_ops, name="ad")
    assert good.n_wires == 1
    assert np.allclose(good.apply(np.diag([0, 1.0])), np.diag([0.2, 0.8]))


def test_channel_is_immutable_and_read_only() -> None:
    c = ch.bit_flip(0.1)
    with pytest.raises(ValueError, match="read-only"):
        c.kraus_ops[0, 0, 0] = 2.0
    with pytest.raises(AttributeError):
        c.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        c.params["p"] = 0.5  # type: ignore[index]


def test_channel_json_round_trip_and_fingerprints() -> None:
    c = ch.thermal_relaxation(50.0, 40.0, 2.0, excited_population=0.05)
    back = ch.Channel.from_dict(c.to_dict())
    assert back == c
    assert back.fingerprint() == c.fingerprint()
    assert np.array_equal(back.kraus_ops, c.kraus_ops)
    assert dict(back.params) == dict(c.params)
    assert ch.bit_flip(0.1).fingerprint() == ch.bit_flip(0.1).fingerprint()
    assert ch.bit_flip(0.1).fingerprint() != ch.bit_flip(0.1000001).fingerprint()
    assert ch.bit_flip(0.1).fingerprint() != ch.phase_flip(0.1).fingerprint()
    assert hash(ch.depolarizing(0.1)) == hash(ch.depolarizing(0.1))
    with pytest.raises(NoiseModelError, match="format"):
        ch.Channel.from_dict({"format": "x"})


def test_apply_batches_over_leading_axes() -> None:
    rhos = np.stack([random_rho(2, s) for s in range(3)])
    c = ch.depolarizing(0.2, n_wires=2)
    batched = c.apply(rhos)
    assert batched.shape == (3, 4, 4)
    for i in range(3):
        assert np.allclose(batched[i], c.apply(rhos[i]))
    with pytest.raises(NoiseModelError, match=r"shape \(\.\.\., 4, 4\)"):
        c.apply(np.eye(2))


def test_tensor_acts_independently_on_each_wire() -> None:
    a, b = ch.amplitude_damping(0.3), ch.phase_flip(0.2)
    r0, r1 = random_rho(1, 1), random_rho(1, 2)
    both = ch.tensor(a, b)
    assert both.n_wires == 2
    assert np.allclose(both.apply(np.kron(r0, r1)), np.kron(a.apply(r0), b.apply(r1)))


def test_fidelities_of_depolarizing_match_closed_form() -> None:
    for k in (1, 2):
        d = 2**k
        p = 0.06
        c = ch.depolarizing(p, n_wires=k)
        assert c.process_fidelity() == pytest.approx(1 - p + p / d**2)
        assert 1 - c.average_gate_fidelity() == pytest.approx(p * (d - 1) / d)
