from dataclasses import replace

import numpy as np
import pytest

import qtrain as qt
from qtrain.diagnostics import variance_scan


def product(n, depth):
    """One layer of independent RY rotations: the analytically solvable case."""
    circuit = qt.Circuit(n)
    for q in range(n):
        circuit = circuit.ry(q, qt.P(q))
    return circuit


def analytic(cost, n):
    """Var[∂C/∂θ₀] for θ uniform: ½ sin θ₀ Π_{i>0} cos²(θ_i/2) (global) or ½ sin θ₀ / n (local)."""
    return (1 / 8) * (3 / 8) ** (n - 1) if cost == "global" else 1 / (8 * n**2)


@pytest.fixture(scope="module")
def product_scan():
    return variance_scan(
        product,
        qubits=[1, 2, 3, 4, 5, 6],
        depths=1,
        cost=["global", "local"],
        samples=400,
        seed=1,
    )


def test_scan_variance_matches_the_analytic_value_inside_its_interval(product_scan):
    """Twelve 95 % intervals: at least ten must hold the truth (binomial: P(fewer) = 2 %)."""
    covered = [p.ci_low <= analytic(p.cost, p.n_qubits) <= p.ci_high for p in product_scan.points]
    assert len(covered) == 12 and sum(covered) >= 10
    for p in product_scan.points:  # and every estimate is close, not only covered
        assert 0.5 < p.variance / analytic(p.cost, p.n_qubits) < 2
        assert abs(p.mean) < 4 * np.sqrt(p.variance / p.samples)


def test_global_cost_decays_exponentially_and_local_does_not(product_scan):
    glob, local = product_scan.fit(1, "global"), product_scan.fit(1, "local")
    assert glob.plateau and glob.shape == "exponential"
    # The analytic rate ln(8/3) (this interval covered it in 93 of 100 repetitions).
    assert glob.rate_low < np.log(8 / 3) < glob.rate_high
    assert not local.plateau and local.shape == "polynomial"
    assert local.power_low < 2 < local.power_high  # Var = 1/(8n²)
    assert product_scan.plateau


def test_shots_for_a_target_snr_reach_it():
    """With the reported shots per row, sampled gradients have stderr ≈ √Var / target SNR."""
    scan = variance_scan(
        product, qubits=[4], depths=1, cost="global", samples=300, seed=3, target_snr=2.0
    )
    point = scan.points[0]
    shots = point.shots_per_row
    assert point.shots_per_component == 2 * shots  # two shifted rows, one group
    rng = np.random.default_rng(9)
    circuit, cost = product(4, 1), qt.diagnostics.global_cost(4)
    squared_errors = []  # the sampling error itself, not the reported bar (conservative at
    for i in range(60):  # a dozen shots near p = 0 or 1: Agresti–Coull, docs/decisions.md)
        theta = rng.uniform(0, 2 * np.pi, 4)
        exact = qt.grad(circuit, cost, theta, method="adjoint").value[0]
        sampled = qt.grad(circuit, cost, theta, method="param-shift", shots=shots, seed=i)
        squared_errors.append((sampled.value[0] - exact) ** 2)
    assert 0.5 < np.mean(squared_errors) / (point.variance / 2.0**2) <= 1.25
    assert point.shots_low <= shots <= point.shots_high


@pytest.mark.slow
def test_identity_blocks_keep_the_variance_where_uniform_vanishes():
    """Deep McClean circuits (depth 60), ⟨Z₀Z₁⟩: uniform init decays like 2⁻ⁿ; identity blocks
    (Grant et al.) keep Var = 1/18 (∂ = −⟨X₀⟩⟨Z₁⟩ = −½ for a Y axis, 0 otherwise) at every n."""
    scan = variance_scan(
        "mcclean",
        qubits=[2, 3, 4, 5],
        depths=60,
        cost={"ZZ": qt.Z(0) @ qt.Z(1)},
        init=["uniform", "identity_blocks"],
        samples=150,
        resamples=1000,
        seed=3,
    )
    uniform, blocks = scan.fit(60, "ZZ", "uniform"), scan.fit(60, "ZZ", "identity_blocks")
    assert uniform.plateau and uniform.rate_low > 0.3
    assert not blocks.plateau and blocks.rate_low < 0 < blocks.rate_high
    for n in (2, 3, 4, 5):
        point = scan.point(n, 60, "ZZ", "identity_blocks")
        assert point.ci_low <= 1 / 18 <= point.ci_high or abs(point.variance - 1 / 18) < 0.01
    assert (
        scan.point(5, 60, "ZZ", "uniform").ci_high
        < scan.point(5, 60, "ZZ", "identity_blocks").ci_low
    )


@pytest.mark.slow
def test_dask_scan_equals_the_local_scan():
    settings = dict(
        qubits=[2, 3, 4],
        depths=3,
        cost=["global", "local"],
        samples=60,
        resamples=300,
        seed=8,
        shots=100,
    )
    local = variance_scan("mcclean", **settings)
    with qt.DaskExecutor(n_workers=2, max_rows=32) as executor:
        remote = variance_scan("mcclean", executor=executor, **settings)
        assert executor.counters.calls > 3  # the rows really went out in several calls
    assert [p.variance for p in remote.points] == [p.variance for p in local.points]
    assert [(p.ci_low, p.ci_high, p.shots) for p in remote.points] == [
        (p.ci_low, p.ci_high, p.shots) for p in local.points
    ]
    assert remote.fits == local.fits


def test_points_do_not_depend_on_the_other_points_scanned():
    both = variance_scan("mcclean", qubits=[2, 3], depths=2, samples=20, resamples=200, seed=5)
    alone = variance_scan("mcclean", qubits=[3], depths=2, samples=20, resamples=200, seed=5)
    assert replace(both.point(3, 2), seconds=0) == replace(alone.point(3, 2), seconds=0)
    other = variance_scan("mcclean", qubits=[3], depths=2, samples=20, resamples=200, seed=6)
    assert other.point(3, 2).variance != alone.point(3, 2).variance


def test_auto_method_and_all_components():
    settings = dict(qubits=[3], depths=6, params="all", samples=20, resamples=200, seed=1)
    exact = variance_scan("hardware_efficient", **settings)  # 36 components: 73 rows per draw
    shifted = variance_scan("hardware_efficient", method="param-shift", **settings)
    a, b = exact.points[0], shifted.points[0]
    assert (a.method, b.method) == ("adjoint", "param-shift")
    np.testing.assert_allclose(a.component_variance, b.component_variance, rtol=1e-9, atol=1e-30)
    assert len(a.component_variance) == a.n_params == 36
    few = variance_scan(
        "hardware_efficient",
        qubits=[3],
        depths=6,
        params=list(range(15)),
        samples=20,
        resamples=200,
        seed=1,
    )
    assert few.points[0].method == "param-shift"  # 31 rows per draw: shifts, batched


def test_sampled_scan_subtracts_the_shot_noise():
    exact = variance_scan(product, qubits=[2], depths=1, cost="local", samples=600, seed=4)
    noisy = variance_scan(
        product, qubits=[2], depths=1, cost="local", samples=600, seed=4, shots=20
    )
    assert noisy.points[0].shots > 0 and noisy.points[0].method == "param-shift"
    assert noisy.points[0].ci_low < analytic("local", 2) < noisy.points[0].ci_high
    assert noisy.points[0].variance == pytest.approx(exact.points[0].variance, rel=0.3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"qubits": [0]}, "qubits must be ints >= 1"),
        ({"depths": []}, "depths must name at least one value"),
        ({"samples": 3}, "samples must be an int >= 4"),
        ({"level": 1.5}, r"level must be in \(0, 1\)"),
        ({"shots": 1}, "shots must be None"),
        ({"method": "magic"}, "unknown method 'magic'"),
        ({"method": "adjoint", "shots": 10}, "method='adjoint' is exact"),
        ({"params": [99]}, "parameter index 99 is out of range"),
        ({"cost": "energy"}, "unknown cost 'energy'"),
        ({"cost": qt.Z(7)}, "wire 7"),
        ({"init": {"name": "identity_blocks"}, "depths": 3}, "multiple of 2·blocks"),
        ({"target_snr": 0}, "target_snr must be a positive number"),
    ],
)
def test_bad_settings_are_named_before_anything_runs(kwargs, message):
    settings = {"qubits": [2, 3], "depths": 2, "samples": 10, **kwargs}
    with pytest.raises(qt.QtrainError, match=message):
        variance_scan("mcclean", **settings)
