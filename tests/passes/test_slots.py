import numpy as np

import qtrain as qt
from qtrain.passes.slots import lower
from qtrain.testing import reference_state


def test_slots_every_occurrence_is_its_own_slot():
    c = qt.Circuit(2).rx(0, qt.P(0)).rz(1, 2 * qt.P(0) + 0.5).crx(0, 1, qt.P(1) - qt.P(0)).h(0)
    prog = lower(c)
    assert prog.n_slots == 3 and prog.n_params == 2
    np.testing.assert_array_equal(prog.matrix, [[1, 0], [2, 0], [-1, 1]])
    np.testing.assert_array_equal(prog.offset, [0, 0.5, 0])
    assert [g.name for g in prog.slot_gates] == ["RX", "RZ", "CRX"]
    assert prog.circuit.n_params == 3
    theta = np.array([[0.3, -1.1]])
    np.testing.assert_allclose(prog.angles(theta), [[0.3, 1.1, -1.4]])


def test_slots_circuit_prepares_the_same_state():
    c = qt.Circuit(2).u3(0, qt.P(0), 2 * qt.P(1), -0.4).cry(0, 1, qt.P(1) + 0.1).rz(1, 0.7)
    prog = lower(c)
    assert [op.gate for op in prog.circuit.ops] == ["PhaseShift", "RY", "PhaseShift", "CRY", "RZ"]
    theta = np.array([0.9, -0.3])
    angles = prog.angles(theta[None])[0]
    np.testing.assert_allclose(reference_state(prog.circuit, angles), reference_state(c, theta))


def test_slots_constants_are_not_slots_and_lowering_is_cached():
    c = qt.Circuit(1).rx(0, 0.3).ry(0, qt.P(0))
    assert lower(c).n_slots == 1
    assert lower(c) is lower(qt.Circuit(1).rx(0, 0.3).ry(0, qt.P(0)))


def test_slots_one_parameter_object_twice_in_a_u3_is_two_slots():
    """U3(t, t, 0.3) with the same ``P`` object as θ and φ: both slots shifted, in the U3.

    Arguments are matched to the decomposition's factors by position (they were matched by
    object identity once, and the second slot overwrote the first: gradient 0).
    """
    t = qt.P(0)
    circuit = qt.Circuit(1).u3(0, t, t, 0.3)
    program = lower(circuit)
    assert program.n_slots == 2 and len(program.shift_circuit.ops) == 1
    assert program.shift_circuit.ops[0].args[:2] == (qt.P(0), qt.P(1))
    observable = qt.X(0) + 0.5 * qt.Y(0)
    theta = np.array([0.7])
    noise = qt.NoiseModel().after("U3", qt.noise.amplitude_damping(0.2))
    for backend in (qt.LocalSimulator(), qt.LocalSimulator(noise=noise)):
        shifted = qt.grad(circuit, observable, theta, method="param-shift", backend=backend)
        central = qt.grad(circuit, observable, theta, method="finite-diff", backend=backend)
        np.testing.assert_allclose(shifted.value, central.value, atol=1e-6)
        assert abs(shifted.value[0]) > 0.1
