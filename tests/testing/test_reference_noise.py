"""The dense noisy reference against closed forms (it is the oracle of the noisy simulators)."""

import itertools
import math

import numpy as np
import pytest

import qtrain as qt
from qtrain.ir.params import evaluate_arg
from qtrain.noise import (
    amplitude_damping,
    bit_flip,
    depolarizing,
    pauli_readout_terms,
    readout_error,
    thermal_relaxation,
)
from qtrain.testing import reference_expval, reference_op_matrix, reference_state
from qtrain.testing.reference_noise import (
    _BASIS_CHANGE,
    GATE_FAMILIES,
    embed_operator,
    random_circuit,
    random_noisy_case,
    random_observable,
    reference_density_matrix,
    reference_noisy_expval,
    reference_readout_distribution,
)

PAULI = {
    "I": np.eye(2, dtype=complex),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]).astype(complex),
}


def word_observable(word: str) -> qt.Observable:
    return qt.Observable.parse(" ".join(f"{p}{w}" for w, p in enumerate(word) if p != "I") or "1")


def generic_prefix(n: int, seed: int = 0) -> qt.Circuit:
    """A generic mixed-free state: random 2-wire unitaries on neighbouring wires."""
    rng = np.random.default_rng(seed)
    c = qt.Circuit(n)
    for w in range(n - 1):
        q, _ = np.linalg.qr(rng.normal(size=(4, 4)) + 1j * rng.normal(size=(4, 4)))
        c = c.unitary(q, [w, w + 1])
    return c


def test_reference_noise_embedding_matches_the_gate_reference_for_every_family():
    rng = np.random.default_rng(1)
    seen = set()
    for _ in range(12):
        circuit = random_circuit(rng, 4, 20)
        theta = rng.uniform(-3, 3, circuit.n_params)
        for op in circuit.ops:
            seen.add(op.gate)
            local = op.spec.matrix(*[float(evaluate_arg(a, theta[None])[0]) for a in op.args])
            np.testing.assert_allclose(
                embed_operator(local, op.wires, 4), reference_op_matrix(op, theta, 4), atol=1e-14
            )
    assert seen == set(GATE_FAMILIES)


def test_reference_noise_basis_changes_rotate_each_pauli_to_z():
    for letter, v in _BASIS_CHANGE.items():
        np.testing.assert_allclose(v @ PAULI[letter] @ v.conj().T, PAULI["Z"], atol=1e-15)


@pytest.mark.parametrize("seed", range(6))
def test_reference_noise_without_noise_is_the_pure_state(seed):
    circuit, _, theta = random_noisy_case(seed, n_qubits=3)
    psi = reference_state(circuit, theta)
    for model in (None, qt.NoiseModel()):
        rho = reference_density_matrix(circuit, theta, model)
        np.testing.assert_allclose(rho, np.outer(psi, psi.conj()), atol=1e-12)
    H = qt.Observable.parse("0.5 Z0 X1 - 1.2 Y2 + 0.3 X0 Y1 Z2 + 0.7")
    assert reference_noisy_expval(circuit, H, theta, None) == pytest.approx(
        reference_expval(circuit, H, theta), abs=1e-12
    )


@pytest.mark.parametrize("seed", range(40))
def test_reference_noise_random_states_are_density_matrices(seed):
    circuit, model, theta = random_noisy_case(seed)
    rho = reference_density_matrix(circuit, theta, model)
    assert np.trace(rho).real == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(rho, rho.conj().T, atol=1e-13)
    assert np.linalg.eigvalsh(rho).min() > -1e-12
    read = reference_readout_distribution(rho, {0: "Y"}, model)
    assert read.min() > -1e-12 and read.sum() == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("k", "gate", "wires"), [(1, "SX", (1,)), (2, "ISWAP", (2, 0))])
def test_reference_noise_depolarizing_multiplies_pauli_expectations_by_one_minus_p(k, gate, wires):
    p = 0.3
    circuit = generic_prefix(3, seed=k).gate(gate, list(wires))
    model = qt.NoiseModel().after(gate, depolarizing(p, n_wires=k))
    rho_ideal = reference_density_matrix(circuit, None, None)
    rho = reference_density_matrix(circuit, None, model)
    touched = visible = 0
    for word in ("".join(w) for w in itertools.product("IXYZ", repeat=3)):
        ideal = np.trace(rho_ideal @ word_matrix(word)).real
        on_channel = any(word[w] != "I" for w in wires)
        touched += on_channel
        expected = (1 - p) * ideal if on_channel else ideal
        assert reference_noisy_expval(circuit, word_observable(word), None, model) == (
            pytest.approx(expected, abs=1e-12)
        ), word
        assert np.trace(rho @ word_matrix(word)).real == pytest.approx(expected, abs=1e-12)
        visible += on_channel and abs(ideal) > 0.05
    assert touched == 64 - 4 ** (3 - k) and visible > 10  # the check has teeth


def word_matrix(word: str) -> np.ndarray:
    out = np.ones((1, 1), dtype=complex)
    for letter in word:
        out = np.kron(out, PAULI[letter])
    return out


@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.45, 1.0])
def test_reference_noise_amplitude_damping_from_one_leaves_p1_one_minus_gamma(gamma):
    circuit = qt.Circuit(2).x(0).h(1)
    model = qt.NoiseModel().after("X", amplitude_damping(gamma))
    rho = reference_density_matrix(circuit, None, model)
    p1 = rho[2, 2].real + rho[3, 3].real  # wire 0 is the most significant bit
    assert p1 == pytest.approx(1 - gamma, abs=1e-12)
    z0 = reference_noisy_expval(circuit, qt.Z(0), None, model)
    assert z0 == pytest.approx(2 * gamma - 1, abs=1e-12)
    assert reference_noisy_expval(circuit, qt.X(1), None, model) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize(("t1", "t2"), [(50.0, 40.0), (30.0, 60.0), (80.0, 10.0)])
@pytest.mark.parametrize("steps", [1, 3])
def test_reference_noise_thermal_relaxation_follows_t1_and_t2(t1, t2, steps):
    dt = 7.0
    t = steps * dt
    model = qt.NoiseModel().after("I", thermal_relaxation(t1, t2, dt))
    idle = qt.Circuit(1)
    for _ in range(steps):
        idle = idle.gate("I", 0)
    excited = reference_density_matrix(qt.Circuit(1).x(0).compose(idle), None, model)
    assert excited[1, 1].real == pytest.approx(math.exp(-t / t1), abs=1e-12)
    plus = reference_density_matrix(qt.Circuit(1).h(0).compose(idle), None, model)
    assert plus[1, 1].real == pytest.approx(0.5 * math.exp(-t / t1), abs=1e-12)
    assert plus[0, 1] == pytest.approx(0.5 * math.exp(-t / t2), abs=1e-12)
    assert reference_noisy_expval(qt.Circuit(1).h(0).compose(idle), qt.X(0), None, model) == (
        pytest.approx(math.exp(-t / t2), abs=1e-12)
    )


def test_reference_noise_thermal_relaxation_relaxes_toward_the_excited_population():
    t1, t2, t, p1 = 40.0, 30.0, 25.0, 0.2
    model = qt.NoiseModel().after("I", thermal_relaxation(t1, t2, t, excited_population=p1))
    ground = reference_density_matrix(qt.Circuit(1).gate("I", 0), None, model)
    assert ground[1, 1].real == pytest.approx(p1 * (1 - math.exp(-t / t1)), abs=1e-12)
    excited = reference_density_matrix(qt.Circuit(1).x(0).gate("I", 0), None, model)
    decay = math.exp(-t / t1)
    assert excited[1, 1].real == pytest.approx(decay + p1 * (1 - decay), abs=1e-12)


@pytest.mark.parametrize("theta", [0.0, 0.4, 1.9, np.pi])
@pytest.mark.parametrize(("letter", "prep"), [("Z", np.cos), ("X", np.sin)])
def test_reference_noise_readout_maps_expectations_affinely(theta, letter, prep):
    p01, p10 = 0.07, 0.19
    c = qt.Circuit(1).ry(0, qt.P(0))
    model = qt.NoiseModel().readout(readout_error(p01, p10))
    obs = qt.Observable.parse(f"{letter}0")
    value = reference_noisy_expval(c, obs, np.array([theta]), model)
    assert value == pytest.approx((1 - p01 - p10) * prep(theta) + (p10 - p01), abs=1e-12)


def test_reference_noise_readout_of_a_two_wire_word_is_the_product_of_affine_maps():
    c = qt.Circuit(2).ry(0, 0.7).ry(1, -1.1).crx(0, 1, 0.9)
    e0, e1 = readout_error(0.05, 0.2), readout_error(0.12, 0.03)
    model = qt.NoiseModel().readout(e0, 0).readout(e1, 1)
    ideal = {str(o): reference_expval(c, o) for o in (qt.Z(0), qt.Z(1), qt.Z(0) @ qt.Z(1))}
    expected = (
        e0.scale * e1.scale * ideal["Z0 Z1"]
        + e0.scale * e1.shift * ideal["Z0"]
        + e0.shift * e1.scale * ideal["Z1"]
        + e0.shift * e1.shift
    )
    assert reference_noisy_expval(c, qt.Z(0) @ qt.Z(1), None, model) == pytest.approx(expected)
    assert abs(expected - ideal["Z0 Z1"]) > 0.05  # the readout error is visible


@pytest.mark.parametrize("seed", range(8))
def test_reference_noise_readout_agrees_with_the_algebraic_expansion(seed):
    circuit, model, theta = random_noisy_case(seed, n_qubits=3)
    H = random_observable(np.random.default_rng(seed), 3, n_terms=5)
    rho = reference_density_matrix(circuit, theta, model)
    errors = model.readout_errors(3)
    expected = 0.0
    for term, coeff in H.terms:
        for weight, sub in pauli_readout_terms(term.factors, errors):
            sub_word = "".join(dict(sub).get(w, "I") for w in range(3))
            expected += coeff.real * weight * np.trace(rho @ word_matrix(sub_word)).real
    assert reference_noisy_expval(circuit, H, theta, model) == pytest.approx(expected, abs=1e-12)


def test_reference_noise_channels_after_one_gate_act_in_the_order_added():
    c = qt.Circuit(1).x(0)
    damp_then_flip = qt.NoiseModel().after("X", amplitude_damping(1.0)).after("X", bit_flip(1.0))
    flip_then_damp = qt.NoiseModel().after("X", bit_flip(1.0)).after("X", amplitude_damping(1.0))
    assert reference_density_matrix(c, None, damp_then_flip)[1, 1].real == pytest.approx(1.0)
    assert reference_density_matrix(c, None, flip_then_damp)[1, 1].real == pytest.approx(0.0)


def test_reference_noise_channel_placement_on_wires():
    c = qt.Circuit(3).cnot(0, 1)
    # a 1-wire channel after a 2-wire gate acts on each of its wires
    each = reference_density_matrix(c, None, qt.NoiseModel().after("CNOT", bit_flip(1.0)))
    assert each[0b110, 0b110].real == pytest.approx(1.0)
    # restricted to another instance's wires: nothing happens
    other = qt.NoiseModel().after("CNOT", bit_flip(1.0), wires=(1, 0))
    assert reference_density_matrix(c, None, other)[0, 0].real == pytest.approx(1.0)
    # after_all follows every gate; before_measure acts once, on its wires only
    every = qt.NoiseModel().after_all(bit_flip(1.0))
    assert reference_density_matrix(c.x(2), None, every)[0b110, 0b110].real == pytest.approx(1.0)
    last = qt.NoiseModel().before_measure(amplitude_damping(1.0), [0])
    rho = reference_density_matrix(qt.Circuit(3).x(0).x(2), None, last)
    assert rho[0b001, 0b001].real == pytest.approx(1.0)


def test_reference_noise_refuses_large_registers():
    with pytest.raises(ValueError, match="n <= 8"):
        embed_operator(np.eye(2), (0,), 9)
    with pytest.raises(ValueError, match="1 wire"):
        embed_operator(np.eye(4), (0,), 3)
