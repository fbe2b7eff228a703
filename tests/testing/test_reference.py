import numpy as np
import pytest

import qtrain as qt
from qtrain.testing import reference_expval, reference_op_matrix, reference_state


def test_reference_bell_state():
    state = reference_state(qt.Circuit(2).h(0).cnot(0, 1))
    np.testing.assert_allclose(state, [2**-0.5, 0, 0, 2**-0.5], atol=1e-15)


def test_reference_wire_zero_is_most_significant():
    state = reference_state(qt.Circuit(3).x(0))
    assert np.argmax(np.abs(state)) == 0b100


def test_reference_cnot_control_is_first_wire():
    state = reference_state(qt.Circuit(2).x(1).cnot(1, 0))
    assert np.argmax(np.abs(state)) == 0b11


def test_reference_expval_of_rotation():
    c = qt.Circuit(1).ry(0, qt.P(0))
    assert reference_expval(c, qt.Z(0), np.array([0.7])) == pytest.approx(np.cos(0.7))
    assert reference_expval(c, qt.X(0), np.array([0.7])) == pytest.approx(np.sin(0.7))


def test_reference_refuses_large_registers():
    with pytest.raises(ValueError, match="n <= 8"):
        reference_op_matrix(qt.Circuit(9).h(0).ops[0], np.zeros(0), 9)
