import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.errors import NoShiftRuleError
from qtrain.ir.circuit import make_op
from qtrain.ir.gates import GATES
from qtrain.passes.slots import lower
from qtrain.passes.smoothness import derivative_bound, pauli_cone, pauli_image, slot_frequencies
from qtrain.testing.strategies import circuits, observables

PAULI = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]]),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]),
}


def word_matrix(letters):
    out = np.ones((1, 1))
    for letter in letters:
        out = np.kron(out, PAULI[letter])
    return out


def hessian_by_differences(circuit, observable, theta, step=1e-4):
    """``(P, P)`` central differences of the exact (adjoint) gradient, symmetrised."""
    columns = []
    for k in range(theta.size):
        shift = np.zeros(theta.size)
        shift[k] = step
        plus = qt.grad(circuit, observable, theta + shift, method="adjoint").value
        minus = qt.grad(circuit, observable, theta - shift, method="adjoint").value
        columns.append((plus - minus) / (2 * step))
    hessian = np.array(columns)
    return (hessian + hessian.T) / 2


def test_smoothness_slot_frequencies_are_generator_spreads():
    c = qt.Circuit(2).rx(0, qt.P(0)).crx(0, 1, qt.P(0)).phase(1, qt.P(1)).rzz(0, 1, qt.P(1))
    np.testing.assert_allclose(slot_frequencies(lower(c)), [1.0, 1.0, 1.0, 1.0])


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_smoothness_bound_is_attained_by_a_parameter_shared_by_k_gates(k):
    # ⟨Z⟩ = cos kθ: |E''| reaches k², the bound of k gates of frequency 1 each.
    c = qt.Circuit(1)
    for _ in range(k):
        c = c.rx(0, qt.P(0))
    bound = derivative_bound(c, qt.Z(0))
    assert bound.hessian_norm() == pytest.approx(k**2)
    assert bound.slope.tolist() == [k]
    second = qt.hessian(c, qt.Z(0), np.zeros(1)).value
    assert abs(second[0, 0]) == pytest.approx(k**2)


def test_smoothness_scaled_parameters_count_their_scale():
    c = qt.Circuit(1).rx(0, 2 * qt.P(0) + 0.3).rx(0, -qt.P(0))  # ⟨Z⟩ = cos(θ + 0.3)
    assert derivative_bound(c, qt.Z(0)).hessian_norm() == pytest.approx(9.0)  # (2 + 1)²


def test_smoothness_bound_uses_the_observable_radius_and_center():
    c = qt.Circuit(1).ry(0, qt.P(0))
    bound = derivative_bound(c, 0.5 - 2 * qt.X(0) + 0.25 * qt.Z(0))
    assert bound.center == pytest.approx(0.5)
    assert bound.radius == pytest.approx(2.25)
    assert bound.hessian_norm() == pytest.approx(2.25)


def test_smoothness_light_cone_drops_gates_a_term_cannot_see():
    # Z0 after a CNOT ladder becomes Z0 again; the rotation on wire 2 is outside its cone,
    # and RZ(θ2) on wire 0 commutes with it.
    c = qt.Circuit(3).ry(0, qt.P(0)).ry(2, qt.P(1)).cnot(0, 1).rz(0, qt.P(2))
    assert pauli_cone(lower(c), ((0, "Z"),)).tolist() == [True, False, False]
    assert derivative_bound(c, qt.Z(0)).slope.tolist() == [1.0, 0.0, 0.0]
    # Z1 becomes Z0 Z1 through the CNOT: both wires' rotations count, RZ on 0 still not.
    assert pauli_cone(lower(c), ((1, "Z"),)).tolist() == [True, False, False]
    assert pauli_cone(lower(c), ((0, "X"),)).tolist() == [True, False, True]


@pytest.mark.parametrize(
    "name", sorted(n for n, s in GATES.items() if s.n_params == 0 and s.n_wires > 0)
)
def test_smoothness_pauli_image_is_the_conjugated_word(name):
    spec = GATES[name]
    op = make_op(name, list(range(spec.n_wires)), ())
    matrix = spec.matrix()
    for letters in itertools.product("IXYZ", repeat=spec.n_wires):
        word = word_matrix(letters)
        conjugated = matrix.conj().T @ word @ matrix
        image = pauli_image(op, "".join(letters))
        overlaps = [
            abs(np.trace(word_matrix(c) @ conjugated)) / word.shape[0]
            for c in itertools.product("IXYZ", repeat=spec.n_wires)
        ]
        if image is None:  # not a Pauli word: no single overlap of 1
            assert max(overlaps) < 1 - 1e-9
        else:
            sign = np.trace(word_matrix(image) @ conjugated).real / word.shape[0]
            np.testing.assert_allclose(conjugated, sign * word_matrix(image), atol=1e-12)


def test_smoothness_pauli_image_of_rotations_is_the_word_only_when_they_commute():
    rz = make_op("RZ", [0], (qt.P(0),))
    assert pauli_image(rz, "Z") == "Z"
    assert pauli_image(rz, "X") is None
    rot = make_op("PauliRot", [0, 1], (qt.P(0),), word="XY")
    assert pauli_image(rot, "ZZ") == "ZZ"
    assert pauli_image(rot, "ZI") is None


def test_smoothness_gate_without_a_spectrum_is_refused():
    program = lower(qt.Circuit(1).rx(0, qt.P(0)))
    # a fixed gate declares no generator eigenvalues
    broken = dataclasses.replace(program, slot_gates=(GATES["H"],))
    with pytest.raises(NoShiftRuleError, match="'H'"):
        slot_frequencies(broken)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_smoothness_bounds_hold_on_random_circuits(data):
    circuit = data.draw(circuits(max_qubits=3, max_ops=8, max_params=3))
    if circuit.n_params == 0:
        return
    observable = data.draw(observables(circuit.n_qubits, max_terms=4))
    seed = data.draw(st.integers(0, 2**32 - 1))
    bound = derivative_bound(circuit, observable)
    rng = np.random.default_rng(seed)
    for _ in range(3):
        theta = rng.uniform(-np.pi, np.pi, circuit.n_params)
        value = qt.expval(circuit, observable, theta)
        gradient = qt.grad(circuit, observable, theta, method="adjoint").value
        hessian = hessian_by_differences(circuit, observable, theta)
        assert abs(value - bound.center) <= bound.radius + 1e-9
        assert np.all(np.abs(gradient) <= bound.slope + 1e-9)
        assert np.linalg.norm(hessian, 2) <= bound.hessian_norm() * (1 + 1e-6) + 1e-5
