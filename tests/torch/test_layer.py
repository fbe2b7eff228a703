"""QuantumLayer: exact gradients (gradcheck, qt.jacobian), batches, dtypes, bad input."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qtrain as qt  # noqa: E402
from qtrain.errors import AdjointShotsError, ConfigError, ObservableError  # noqa: E402
from qtrain.torch import QuantumLayer  # noqa: E402

P = qt.P


def families_circuit():
    """Inputs 0, 1 (input 0 re-uploaded, scaled); weights 2..7 in rx/ry/rz, rzz, crx, u3."""
    return (
        qt.Circuit(3)
        .ry(0, P(0))
        .rx(1, 0.5 * P(1) + 0.1)
        .rz(2, 2.0 * P(0))
        .rzz(0, 1, P(2))
        .crx(1, 2, P(3))
        .rx(0, P(4))
        .ry(1, P(5) - P(2))  # P(2) tied into a second gate
        .u3(2, P(6), 0.3, P(7))
        .cnot(2, 0)
        .rz(0, -1.5 * P(0))  # input 0 again: data re-uploading
        .cry(0, 1, P(6))
    )


OBS = [qt.Z(0), qt.X(1) @ qt.Z(2), 0.5 * qt.Y(2) + qt.Z(0) @ qt.Z(1)]
INPUTS, WEIGHTS = [0, 1], [2, 3, 4, 5, 6, 7]


def make(method="param-shift", **kw):
    kw.setdefault("weights", np.linspace(0.1, 1.2, 6))
    return QuantumLayer(
        families_circuit(),
        OBS,
        input_params=INPUTS,
        weight_params=WEIGHTS,
        method=method,
        dtype=torch.float64,
        **kw,
    )


def batch(b=4, seed=0):
    rng = np.random.default_rng(seed)
    return torch.tensor(rng.uniform(-np.pi, np.pi, (b, 2)), dtype=torch.float64)


@pytest.mark.parametrize("method", ["param-shift", "adjoint", "best"])
def test_layer_passes_gradcheck_for_weights_and_inputs(method):
    layer = make(method)
    x = batch(3).requires_grad_(True)

    def f(inputs, weight):
        return torch.func.functional_call(layer, {"weight": weight}, (inputs,))

    w = layer.weight.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (x, w), eps=1e-6, atol=1e-6)


def test_layer_gradients_are_the_jacobian_contracted_with_the_upstream_gradient():
    layer = make()
    x = batch(5).requires_grad_(True)
    upstream = torch.tensor(np.random.default_rng(3).normal(size=(5, 3)))
    (layer(x) * upstream).sum().backward()
    w = layer.weight.detach().numpy()
    grad_w = np.zeros(6)
    for b in range(5):
        theta = np.empty(8)
        theta[INPUTS], theta[WEIGHTS] = x[b].detach().numpy(), w
        jac = qt.jacobian(families_circuit(), OBS, theta, method="param-shift").value  # (O, P)
        contracted = upstream[b].numpy() @ jac
        grad_w += contracted[WEIGHTS]
        np.testing.assert_allclose(x.grad[b].numpy(), contracted[INPUTS], atol=1e-12)
    np.testing.assert_allclose(layer.weight.grad.numpy(), grad_w, atol=1e-12)


def test_batch_equals_a_loop_over_samples():
    layer = make()
    x = batch(6, seed=1).requires_grad_(True)
    upstream = torch.tensor(np.random.default_rng(4).normal(size=(6, 3)))
    y = layer(x)
    (y * upstream).sum().backward()
    for b in range(6):
        single = make()
        xb = x[b].detach().clone().requires_grad_(True)
        yb = single(xb)  # an unbatched (n_in,) input gives (O,)
        assert yb.shape == (3,)
        (yb * upstream[b]).sum().backward()
        np.testing.assert_array_equal(y[b].detach().numpy(), yb.detach().numpy())
        np.testing.assert_allclose(x.grad[b].numpy(), xb.grad.numpy(), atol=1e-13)


def test_layer_values_are_qtrain_expectations():
    layer = make()
    x = batch(3)
    y = layer(x)
    w = layer.weight.detach().numpy()
    for b in range(3):
        theta = np.empty(8)
        theta[INPUTS], theta[WEIGHTS] = x[b].numpy(), w
        for o, obs in enumerate(OBS):
            assert y[b, o].item() == pytest.approx(
                qt.expval(families_circuit(), obs, theta), abs=1e-13
            )


def test_no_grad_forward_runs_only_the_unshifted_rows():
    layer = make()
    with torch.no_grad():
        layer(batch(4))
    assert layer.last_result.rows == 4 and layer.last_result.jacobian is None
    layer(batch(4))  # weights require grad, the input does not: weight columns only
    assert layer.last_result.columns == tuple(WEIGHTS)
    layer(batch(4).requires_grad_(True))
    assert layer.last_result.columns == tuple(WEIGHTS + INPUTS)


def test_input_gradients_false_skips_the_input_columns_and_refuses_inputs_needing_grad():
    layer = make(input_gradients=False)
    x = batch(2)
    layer(x).sum().backward()
    assert layer.last_result.columns == tuple(WEIGHTS)
    with pytest.raises(ConfigError, match="input_gradients=False"):
        layer(x.clone().requires_grad_(True))


def test_finite_differences_and_spsa_run_through_the_layer():
    x = batch(3).requires_grad_(True)
    exact = make()
    exact(x).sum().backward()
    fd = make("finite-diff")
    xf = x.detach().clone().requires_grad_(True)
    fd(xf).sum().backward()
    np.testing.assert_allclose(fd.weight.grad.numpy(), exact.weight.grad.numpy(), atol=1e-5)
    np.testing.assert_allclose(xf.grad.numpy(), x.grad.numpy(), atol=1e-5)
    spsa = make("spsa", seed=3, shots=None)
    spsa(x.detach()).sum().backward()
    assert spsa.weight.grad.shape == (6,) and spsa.method == "spsa"


def test_functional_call_uses_the_given_weights():
    layer = make()
    x = batch(2)
    w = torch.zeros(6, dtype=torch.float64, requires_grad=True)
    y = torch.func.functional_call(layer, {"weight": w}, (x,))
    reference = make(weights=np.zeros(6))(x)
    np.testing.assert_array_equal(y.detach().numpy(), reference.detach().numpy())
    y.sum().backward()
    assert w.grad is not None and layer.weight.grad is None


def test_float32_inputs_give_float32_outputs_and_double_turns_weights_to_float64():
    layer = QuantumLayer(families_circuit(), OBS, input_params=INPUTS, weight_params=WEIGHTS)
    assert layer.weight.dtype == torch.float32
    x = batch(2).float().requires_grad_(True)
    y = layer(x)
    assert y.dtype == torch.float32
    y.sum().backward()
    assert x.grad.dtype == torch.float32 and layer.weight.grad.dtype == torch.float32
    layer.double()
    assert layer.weight.dtype == torch.float64 and layer.calls.dtype == torch.int64
    assert layer(x.detach().double()).dtype == torch.float64


def test_default_weights_follow_torch_manual_seed():
    torch.manual_seed(5)
    a = make(weights=None).weight.detach().clone()
    torch.manual_seed(5)
    b = make(weights=None).weight.detach()
    assert torch.equal(a, b)
    assert bool(((a >= 0) & (a < 2 * math.pi)).all())


def test_bad_parameter_splits_are_config_errors_naming_the_index():
    c = families_circuit()
    with pytest.raises(ConfigError, match=r"\[2\].*both input and weight"):
        QuantumLayer(c, OBS, input_params=[0, 1, 2], weight_params=WEIGHTS)
    with pytest.raises(ConfigError, match="index 9 is unknown"):
        QuantumLayer(c, OBS, input_params=[0, 1, 9], weight_params=WEIGHTS)
    with pytest.raises(ConfigError, match=r"\[7\] are neither"):
        QuantumLayer(c, OBS, input_params=INPUTS, weight_params=WEIGHTS[:-1])
    with pytest.raises(ConfigError, match="listed twice"):
        QuantumLayer(c, OBS, input_params=[0, 1, 1], weight_params=WEIGHTS)
    with pytest.raises(ConfigError, match="not a parameter index"):
        QuantumLayer(c, OBS, input_params=[0, 1.5], weight_params=WEIGHTS)
    with pytest.raises(ConfigError, match=r"shape \(6,\)"):
        QuantumLayer(c, OBS, input_params=INPUTS, weight_params=WEIGHTS, weights=[1.0])
    with pytest.raises(ObservableError, match="wire 5"):
        QuantumLayer(c, [qt.Z(5)], input_params=INPUTS, weight_params=WEIGHTS)
    with pytest.raises(AdjointShotsError):
        make("adjoint", shots=100)


def test_bad_inputs_are_config_errors():
    layer = make()
    with pytest.raises(ConfigError, match=r"shape \(batch, 2\).*got \(4, 3\)"):
        layer(torch.zeros(4, 3, dtype=torch.float64))
    bad = batch(3)
    bad[1, 0] = float("nan")
    with pytest.raises(ConfigError, match=r"NaN.*\(1, 0\)"):
        layer(bad)
    with pytest.raises(ConfigError, match="floating-point"):
        layer(torch.zeros(2, 2, dtype=torch.int64))
    with pytest.raises(ConfigError, match=r"torch\.Tensor"):
        layer(np.zeros((2, 2)))


def test_a_tensor_off_the_cpu_is_a_config_error_naming_the_device():
    layer = make()
    with pytest.raises(ConfigError, match="device meta"):
        layer(torch.zeros(2, 2, dtype=torch.float64, device="meta"))
