"""QuantumLayer with shots: unbiased, calibrated error bars, reproducible with a seed."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qtrain as qt  # noqa: E402
from qtrain.torch import QuantumLayer  # noqa: E402

P = qt.P
CIRCUIT = qt.Circuit(2).ry(0, P(0)).rx(1, 0.7 * P(0)).rzz(0, 1, P(1)).crx(0, 1, P(2)).ry(1, P(3))
OBS = [qt.Z(1), qt.X(0)]
WEIGHTS = np.array([0.4, 1.1, -0.6])
X = torch.tensor([[0.3], [1.2], [-0.8]], dtype=torch.float64)


def layer(shots, seed, observables=OBS, **kw):
    return QuantumLayer(
        CIRCUIT,
        observables,
        input_params=[0],
        weight_params=[1, 2, 3],
        method="param-shift",
        shots=shots,
        seed=seed,
        weights=WEIGHTS,
        dtype=torch.float64,
        **kw,
    )


def test_sampled_values_and_jacobians_are_unbiased_with_calibrated_error_bars():
    exact = layer(None, None)
    x = X.clone().requires_grad_(True)
    exact(x)
    value, jac = exact.last_result.values, exact.last_result.jacobian
    z_values, z_jac = [], []
    for seed in range(150):
        sampled = layer(300, seed)
        sampled(X.clone().requires_grad_(True))
        result = sampled.last_result
        z_values.append((result.values - value) / result.stderr)
        z_jac.append((result.jacobian - jac) / result.jacobian_stderr)
    for z in (np.ravel(z_values), np.ravel(z_jac)):
        assert abs(z.mean()) < 0.1  # unbiased
        assert 0.72 < np.abs(z).mean() < 0.88  # E|z| = √(2/π) ≈ 0.80 for a unit normal
        assert 0.92 < (np.abs(z) < 2).mean() < 0.98  # 95 % within 2σ


def test_sampled_weight_gradient_is_unbiased_against_its_own_error_bar():
    exact = layer(None, None, observables=[qt.Z(1)])
    exact(X).sum().backward()
    z = []
    for seed in range(150):
        sampled = layer(300, seed, observables=[qt.Z(1)])
        sampled(X).sum().backward()
        err = np.sqrt((sampled.last_result.jacobian_stderr[:, 0] ** 2).sum(axis=0))  # (K,)
        z.append((sampled.weight.grad.numpy() - exact.weight.grad.numpy()) / err)
    z = np.ravel(z)
    assert abs(z.mean()) < 0.15
    assert 0.70 < np.abs(z).mean() < 0.90
    assert 0.91 < (np.abs(z) < 2).mean() < 0.99


def test_sampling_is_reproducible_with_a_seed_and_successive_calls_differ():
    a, b = layer(100, 7), layer(100, 7)
    ya1, yb1 = a(X), b(X)
    ya2, yb2 = a(X), b(X)
    assert torch.equal(ya1, yb1) and torch.equal(ya2, yb2)
    assert not torch.equal(ya1, ya2)  # the per-call counter moves the seed on
    assert not torch.equal(layer(100, 8)(X), ya1)
    assert int(a.calls) == 2
    assert a.last_stderr.shape == (3, 2) and bool((a.last_stderr > 0).all())
    assert a.last_result.shots == 3 * 9 * 100 * 2  # 9 rows per sample (weights need grad)
    with torch.no_grad():
        a(X)
    assert a.last_result.shots == 3 * 100 * 2  # unshifted rows only: 3 rows x 2 groups


def test_value_statistics_do_not_depend_on_whether_a_gradient_is_asked_for():
    with torch.no_grad():
        plain = layer(qt.ShotPolicy.total(4000), 3)
        plain(X)
    graded = layer(qt.ShotPolicy.total(4000), 3)
    graded(X.clone().requires_grad_(True))
    assert plain.last_result.shots == X.shape[0] * int(graded.evaluator.value_shots().sum())
    assert graded.last_result.shots <= 4000 * X.shape[0]  # the budget is per sample


def test_exact_layer_has_no_stderr():
    exact = layer(None, None)
    exact(X)
    assert exact.last_stderr is None and exact.last_result.seed is None
