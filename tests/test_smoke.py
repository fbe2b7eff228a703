"""Runs in well under a second: the front door works end to end."""

import numpy as np

import qtrain as qt


def test_smoke_front_door():
    c = qt.Circuit(2).h(0).cnot(0, 1)
    assert abs(qt.expval(c, qt.Z(0) @ qt.Z(1)) - 1.0) < 1e-12
    est = qt.expval(c.ry(1, qt.P(0)), qt.X(1), np.array([0.5]), shots=100, seed=0)
    assert est.shots == 100 and est.stderr > 0
    assert set(qt.__all__) <= set(dir(qt))
