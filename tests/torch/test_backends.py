"""QuantumLayer on other backends: noisy, mitigated, faulty behind retries, a result store.

Each backend runs the same layer as the ideal simulator; the checks are what the layer must
hand through unchanged: ``qt.expval`` and ``qt.jacobian`` on the same backend, seeded shots
that do not depend on the failures the executor retried, and stored rows read back instead
of run again.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qtrain as qt  # noqa: E402
from qtrain.noise import amplitude_damping, depolarizing, readout_error  # noqa: E402
from qtrain.torch import QuantumLayer  # noqa: E402

P = qt.P
# input P(0) re-uploaded and scaled; weights P(1..3), P(1) tied; RZZ, CRX, U3: multi-term rules
CIRCUIT = (
    qt.Circuit(2)
    .ry(0, P(0))
    .rx(1, 0.7 * P(0) + 0.2)
    .rzz(0, 1, P(1))
    .crx(0, 1, P(2))
    .ry(1, P(3) - P(1))
    .cnot(1, 0)
    .rz(0, -1.3 * P(0))
    .u3(1, P(2), 0.3, P(3))
)
OBS = [qt.Z(1), qt.X(0) @ qt.Y(1), qt.Observable.parse("0.5 Z0 Z1 - 0.3 X1 + 0.2")]
INPUTS, WEIGHTS = [0], [1, 2, 3]
W0 = np.array([0.4, 1.1, -0.6])
X = torch.tensor([[0.3], [1.2], [-0.8]], dtype=torch.float64)
UPSTREAM = torch.tensor(np.random.default_rng(1).normal(size=(3, 3)))
NOISE = (
    qt.NoiseModel()
    .after_all(depolarizing(0.05))
    .after("CNOT", amplitude_damping(0.1))
    .readout(readout_error(0.03, 0.07))
)


def make(**kw):
    kw.setdefault("method", "param-shift")
    return QuantumLayer(
        CIRCUIT,
        OBS,
        input_params=INPUTS,
        weight_params=WEIGHTS,
        weights=W0,
        dtype=torch.float64,
        **kw,
    )


def theta(x_row):
    row = np.empty(4)
    row[INPUTS], row[WEIGHTS] = x_row, W0
    return row


def step(layer, x=X):
    """One forward and backward with ``UPSTREAM``: ``(y, ∂L/∂x, ∂L/∂w)`` as numpy."""
    x = x.clone().requires_grad_(True)
    y = layer(x)
    (y * UPSTREAM).sum().backward()
    return y.detach().numpy(), x.grad.numpy(), layer.weight.grad.numpy()


def density_matrix():
    return qt.LocalSimulator(noise=NOISE, method="density_matrix")


def test_noisy_layer_is_expval_and_jacobian_on_the_same_backend():
    backend = density_matrix()
    layer = make(backend=backend, method="best")
    assert layer.method == "param-shift"  # adjoint needs the ideal simulator
    y, grad_x, grad_w = step(layer)
    expected_w = np.zeros(3)
    for b in range(3):
        point = theta(X[b].numpy())
        values = [qt.expval(CIRCUIT, obs, point, backend=backend) for obs in OBS]
        np.testing.assert_allclose(y[b], values, atol=1e-12)
        ideal = [qt.expval(CIRCUIT, obs, point) for obs in OBS]
        assert np.max(np.abs(np.subtract(values, ideal))) > 0.05  # the noise matters
        jac = qt.jacobian(CIRCUIT, OBS, point, method="param-shift", backend=backend).value
        contracted = UPSTREAM[b].numpy() @ jac  # (P,)
        np.testing.assert_allclose(grad_x[b], contracted[INPUTS], atol=1e-12)
        expected_w += contracted[WEIGHTS]
    np.testing.assert_allclose(grad_w, expected_w, atol=1e-12)


def test_noisy_density_matrix_layer_passes_gradcheck():
    layer = make(backend=density_matrix())

    def f(inputs, weight):
        return torch.func.functional_call(layer, {"weight": weight}, (inputs,))

    x = X[:2].clone().requires_grad_(True)
    w = layer.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x, w), eps=1e-6, atol=1e-6)


def mitigated():
    return qt.Mitigated(
        density_matrix(),
        readout=qt.ReadoutMitigation(calibration={0: readout_error(0.03, 0.07)}),
        zne=qt.ZNE(factors=(1, 3), extrapolation="linear"),
    )


def test_mitigated_layer_with_shots_has_calibrated_error_bars():
    exact = make(backend=mitigated())
    y_exact, _, _ = step(exact)
    jac_exact = exact.last_result.jacobian
    raw = make(backend=density_matrix())
    step(raw)
    assert np.max(np.abs(raw.last_result.values - y_exact)) > 0.02  # mitigation moves values
    z_values, z_jac = [], []
    for seed in range(30):
        sampled = make(backend=mitigated(), shots=400, seed=seed)
        step(sampled)
        result = sampled.last_result
        assert sampled.last_stderr.shape == (3, 3)
        z_values.append((result.values - y_exact) / result.stderr)
        z_jac.append((result.jacobian - jac_exact) / result.jacobian_stderr)
    for z in (np.ravel(z_values), np.ravel(z_jac)):  # 270 and 810 z-scores
        assert np.all(np.isfinite(z))
        assert abs(z.mean()) < 0.25  # unbiased: mean of N unit normals, sd 1/√N ≤ 0.061
        assert 0.85 < z.std() < 1.15  # the error bars are the spread


def test_faulty_backend_behind_retries_gives_the_fault_free_numbers():
    faulty = qt.FaultyBackend(qt.LocalSimulator(), seed=5, failure_rate=0.3, partial_rate=0.4)
    retry = qt.RetryPolicy(attempts=30, initial_s=0, max_s=0, jitter_s=0)
    executor = qt.Executor(faulty, retry=retry, max_rows=8)  # several tasks per backend call
    layer = make(executor=executor, shots=200, seed=9)
    clean = make(shots=200, seed=9)
    for _ in range(3):  # three training steps: the call counter moves both seeds alike
        for got, want in zip(step(layer), step(clean), strict=True):
            np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(layer.last_stderr, clean.last_stderr)
        layer.weight.grad = clean.weight.grad = None
    counters = executor.counters
    assert counters.failed > 0 and counters.partial > 0 and counters.retried > 0
    assert layer.shots_spent == clean.shots_spent


@pytest.mark.parametrize("via", ["store", "executor"])
def test_a_repeated_step_is_read_from_the_result_store(tmp_path, via):
    store = qt.ResultStore(tmp_path / "rows.sqlite")
    executor = qt.Executor(qt.LocalSimulator(), store=store)
    kw = {"store": store} if via == "store" else {"executor": executor}
    first = make(shots=300, seed=4, **kw)
    numbers = step(first)
    stderr = first.last_stderr
    again = make(shots=300, seed=4, **kw)  # same seed, same call index: the same rows
    repeated = step(again)
    for got, want in zip(repeated, numbers, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(again.last_stderr, stderr)
    counters = again.evaluator.executor.counters
    assert counters.cached > 0 and counters.cached == first.last_result.rows
    assert counters.succeeded == (0 if via == "store" else first.last_result.rows)
