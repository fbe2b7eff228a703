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
