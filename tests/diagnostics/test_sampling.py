import numpy as np
import pytest

import qtrain as qt
from qtrain.diagnostics.families import FAMILIES
from qtrain.diagnostics.inits import IdentityBlocks, Uniform
from qtrain.diagnostics.sampling import (
    adjoint_gradients,
    components_of,
    draw_samples,
    plan_gradients,
    shift_cost,
)
from qtrain.testing import reference_matrix, reference_state

OBS = (qt.Z(0) @ qt.Z(1), qt.diagnostics.local_cost(3))


def run(draws, components, *, shots=None, random_structure=True):
    tasks, assemble = plan_gradients(
        draws, OBS, components, shots=shots, seed=5, random_structure=random_structure
    )
    return assemble(qt.Executor(qt.LocalSimulator()).run(tasks)), tasks


@pytest.mark.parametrize("family", ["mcclean", "hardware_efficient"])
def test_planned_components_equal_qt_grad_for_every_draw(family):
    fam = FAMILIES[family]
    draws = draw_samples(fam, Uniform(), 3, 2, samples=6, rng=np.random.default_rng(1))
    components = np.array([0, 4])
    result, tasks = run(draws, components, random_structure=fam.random_structure)
    assert len(tasks) == 1  # one batched task, random structure or not
    assert result.values.shape == (2, 6, 2) and result.method == "param-shift"
    for s, (circuit, theta) in enumerate(zip(draws.circuits, draws.thetas, strict=True)):
        exact = qt.jacobian(circuit, list(OBS), theta, method="adjoint")
        np.testing.assert_allclose(result.values[:, s, :], exact.value[:, components], atol=1e-12)
        np.testing.assert_allclose(result.fun[:, s], exact.fun, atol=1e-12)
    adjoint = adjoint_gradients(draws, OBS, components, qt.LocalSimulator())
    np.testing.assert_allclose(adjoint.values, result.values, atol=1e-12)


def test_sampled_components_have_error_bars_that_cover_the_exact_values():
    draws = draw_samples(
        FAMILIES["mcclean"], Uniform(), 3, 2, samples=40, rng=np.random.default_rng(2)
    )
    exact, _ = run(draws, np.array([1]))
    sampled, _ = run(draws, np.array([1]), shots=400)
    z = (sampled.values - exact.values) / sampled.stderr
    assert sampled.shots == sampled.rows * 400 * 2  # two observables, one group each
    assert np.all(np.abs(z) < 5) and 0.6 < np.sqrt(np.mean(z**2)) < 1.4


def test_identity_block_draws_start_as_the_identity():
    family = FAMILIES["hardware_efficient"]  # no preparation: the circuit itself is I
    draws = draw_samples(family, IdentityBlocks(2), 2, 4, samples=3, rng=np.random.default_rng(3))
    for circuit, theta in zip(draws.circuits, draws.thetas, strict=True):
        assert circuit.n_params == 2 * 2 * 4  # 2 blocks × 2 halves × one HEA layer (4 params)
        assert np.allclose(reference_matrix(circuit, theta), np.eye(4), atol=1e-12)
    mcclean = draw_samples(
        FAMILIES["mcclean"], IdentityBlocks(), 3, 4, samples=3, rng=np.random.default_rng(4)
    )
    prepared = reference_state(FAMILIES["mcclean"].preparation(3), np.zeros(0))
    for circuit, theta in zip(mcclean.circuits, mcclean.thetas, strict=True):
        assert np.allclose(reference_state(circuit, theta), prepared, atol=1e-12)
    assert len({c.fingerprint() for c in mcclean.circuits}) == 3  # random structure


def test_shift_cost_and_components():
    circuit = qt.Circuit(2).rx(0, qt.P(0)).crx(0, 1, 2 * qt.P(1))
    weight_sq, rows = shift_cost(circuit, np.array([0, 1]))
    assert weight_sq[0] == pytest.approx(0.5) and rows.tolist() == [2.0, 4.0]
    assert components_of("all", 3).tolist() == [0, 1, 2]
    with pytest.raises(qt.ConfigError, match="parameter index 3 is out of range"):
        components_of([0, 3], 3)
    with pytest.raises(qt.ConfigError, match="'all' or a list"):
        components_of("first", 3)
    with pytest.raises(qt.ConfigError, match="non-empty list of ints"):
        components_of([], 3)
