import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.errors import CircuitError
from qtrain.sim.adjoint import adjoint_jacobian, apply_observable
from qtrain.testing import reference_observable_matrix
from qtrain.testing.strategies import observables


@settings(max_examples=40, deadline=None)
@given(data=st.data(), n=st.integers(1, 5))
def test_adjoint_apply_observable_matches_dense(data, n):
    obs = data.draw(observables(n))
    rng = np.random.default_rng(n)
    state = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    np.testing.assert_allclose(
        apply_observable(state, obs, n), reference_observable_matrix(obs, n) @ state, atol=1e-12
    )


def test_adjoint_rejects_multi_angle_gates_reading_parameters():
    c = qt.Circuit(1).u3(0, qt.P(0), 0.1, 0.2)
    with pytest.raises(CircuitError, match="U3"):
        adjoint_jacobian(c, (qt.Z(0),), np.array([0.3]))


def test_adjoint_values_are_expectations():
    c = qt.ansatz.strongly_entangling(3, 2)
    theta = np.random.default_rng(0).normal(size=c.n_params)
    obs = (qt.Z(0) @ qt.Z(2), qt.X(1) - 0.5 * qt.Y(0))
    values, jac = adjoint_jacobian(c, obs, theta)
    assert jac.shape == (2, c.n_params)
    np.testing.assert_allclose(values, [qt.expval(c, o, theta) for o in obs], atol=1e-12)
