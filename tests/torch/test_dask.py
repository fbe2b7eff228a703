"""QuantumLayer on a two-worker Dask cluster: the local layer's numbers, bit for bit.

Its own module, so that no other cluster is alive while this one starts.
"""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import qtrain as qt  # noqa: E402
from qtrain.torch import QuantumLayer  # noqa: E402

P = qt.P
CIRCUIT = qt.Circuit(3).ry(0, P(0)).rx(1, 2 * P(1)).crx(0, 1, P(2)).rzz(1, 2, P(3)).ry(2, P(0))
OBS = [qt.Z(2), qt.X(0) @ qt.Z(1)]
X = torch.tensor(np.random.default_rng(2).uniform(-2, 2, (4, 2)))


def step(**kw):
    layer = QuantumLayer(
        CIRCUIT,
        OBS,
        input_params=[0, 1],
        weight_params=[2, 3],
        method="param-shift",
        shots=300,
        seed=6,
        weights=[0.5, -1.2],
        dtype=torch.float64,
        **kw,
    )
    x = X.clone().requires_grad_(True)
    y = layer(x)
    (y * torch.linspace(-1, 1, 8, dtype=torch.float64).reshape(4, 2)).sum().backward()
    return y.detach().numpy(), x.grad.numpy(), layer.weight.grad.numpy(), layer.last_stderr


@pytest.mark.slow  # starting a two-worker LocalCluster: 10-20 s on two busy cores
def test_dask_layer_gives_the_local_numbers():
    local = step()
    with qt.DaskExecutor(n_workers=2, max_rows=8) as executor:
        remote = step(executor=executor)
        assert executor.counters.calls >= 2  # the batch's rows were spread over calls
    for got, want in zip(remote, local, strict=True):
        np.testing.assert_array_equal(got, want)
