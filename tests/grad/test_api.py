import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import (
    AdjointShotsError,
    BudgetExceededError,
    NoShiftRuleError,
    ParameterShapeError,
    UnknownMethodError,
)
from qtrain.grad.api import plan_jacobian
from qtrain.ir.gates import GATES, GateSpec
from qtrain.passes.param_shift import rule_for

C = qt.Circuit(2).ry(0, qt.P(0)).crx(0, 1, qt.P(1))
THETA = np.array([0.3, 0.5])


def test_api_unknown_method_names_choices():
    with pytest.raises(UnknownMethodError, match=r"'backprop'.*param-shift"):
        qt.grad(C, qt.Z(0), THETA, method="backprop")


def test_api_adjoint_with_shots_is_an_error_not_silently_exact():
    with pytest.raises(AdjointShotsError, match="param-shift"):
        qt.grad(C, qt.Z(0), THETA, method="adjoint", shots=100)


@pytest.mark.parametrize("theta", [[0.3], [0.3, 0.5, 0.7], [[0.3, 0.5]]])
def test_api_theta_shape_errors(theta):
    with pytest.raises(ParameterShapeError):
        qt.grad(C, qt.Z(0), theta)


def test_api_budget_below_one_shot_per_row_is_rejected_before_running():
    with pytest.raises(BudgetExceededError, match="budget of 5 shots"):
        qt.grad(C, qt.Z(0), THETA, method="param-shift", shots=qt.ShotPolicy.total(5))


def test_api_gate_without_generator_or_recipe_names_the_gate():
    bare = GateSpec("MyGate", 1, 1, GATES["RX"].matrix_fn)
    with pytest.raises(NoShiftRuleError, match=r"MyGate.*finite-diff"):
        rule_for(bare)
    custom = GateSpec("MyGate", 1, 1, GATES["RX"].matrix_fn, recipe=((1.0, 0.1), (-1.0, 0.0)))
    assert rule_for(custom) == ((1.0, 0.1), (-1.0, 0.0))


def test_api_finite_diff_and_spsa_options_are_checked():
    with pytest.raises(qt.QtrainError, match="step"):
        qt.grad(C, qt.Z(0), THETA, method="finite-diff", step=0.0)
    with pytest.raises(qt.QtrainError, match="scheme"):
        qt.grad(C, qt.Z(0), THETA, method="finite-diff", scheme="backward")
    with pytest.raises(qt.QtrainError, match="directions"):
        qt.grad(C, qt.Z(0), THETA, method="spsa", directions=0)


def test_api_observable_and_shots_checks_apply():
    with pytest.raises(qt.ObservableError):
        qt.grad(C, qt.Z(5), THETA)
    with pytest.raises(qt.ShotsError):
        qt.grad(C, qt.Z(0), THETA, method="param-shift", shots=0)


def test_api_sampled_gradient_reproducible_with_seed():
    a = qt.grad(C, qt.Z(1), THETA, method="param-shift", shots=200, seed=9)
    b = qt.grad(C, qt.Z(1), THETA, method="param-shift", shots=200, seed=9)
    np.testing.assert_array_equal(a.value, b.value)
    assert a.shots == 200 * (1 + 2 + 4)


WIDE = qt.ansatz.hardware_efficient(4, 2)  # 16 parameters: 2¹⁶ SPSA directions
WIDE_THETA = np.linspace(-1.0, 1.0, WIDE.n_params)
WIDE_H = qt.Z(0) @ qt.Z(1) + 0.5 * qt.X(3)


@pytest.mark.parametrize(
    ("method", "shots"), [("spsa", None), ("spsa", 200), ("param-shift", 200), ("best", 50)]
)
def test_api_unseeded_random_gradients_differ_and_record_their_seed(method, shots):
    # Issue 13 defect 7: seed=None is fresh entropy, and the result says which, so it can be
    # reproduced. At 762dfa5 nothing recorded the seed.
    runs = [qt.grad(WIDE, WIDE_H, WIDE_THETA, method=method, shots=shots) for _ in range(3)]
    seeds = [g.metadata["seed"] for g in runs]
    assert all(isinstance(s, int) and s >= 0 for s in seeds) and len(set(seeds)) == 3
    values = [g.value.tobytes() for g in runs]
    assert len(set(values)) == 3
    for g in runs:
        again = qt.grad(
            WIDE, WIDE_H, WIDE_THETA, method=method, shots=shots, seed=g.metadata["seed"]
        )
        np.testing.assert_array_equal(again.value, g.value)
        assert again.metadata["seed"] == g.metadata["seed"]


def test_api_exact_deterministic_gradients_record_no_seed():
    for method in ("param-shift", "adjoint", "best"):
        assert "seed" not in qt.grad(C, qt.Z(0), THETA, method=method).metadata


def test_api_seed_from_a_generator_is_recorded_as_the_int_it_drew():
    g = qt.grad(C, qt.Z(1), THETA, method="spsa", seed=np.random.default_rng(5))
    drawn = int(np.random.default_rng(5).integers(0, 1 << 63))
    assert g.metadata["seed"] == drawn
    np.testing.assert_array_equal(
        qt.grad(C, qt.Z(1), THETA, method="spsa", seed=drawn).value, g.value
    )


def test_api_unseeded_sampled_hessian_records_its_seed():
    runs = [qt.hessian(C, qt.Z(1), THETA, shots=100) for _ in range(3)]
    assert len({h.value.tobytes() for h in runs}) == 3
    for h in runs:
        again = qt.hessian(C, qt.Z(1), THETA, shots=100, seed=h.metadata["seed"])
        np.testing.assert_array_equal(again.value, h.value)
    assert "seed" not in qt.hessian(C, qt.Z(1), THETA).metadata


def test_api_metric_tensor_runs_on_the_simulator_inside_a_wrapper():
    budget = 16 * 4 * 4 * 2  # two 2-qubit states (with working copies), not S + 1 = 3
    inner = qt.LocalSimulator(memory_budget=budget)
    with pytest.raises(qt.StateTooLargeError, match="metric tensor"):
        qt.metric_tensor(C, THETA, backend=qt.FaultyBackend(inner, seed=0))
    wrapped = qt.FaultyBackend(qt.LocalSimulator(), seed=0)
    np.testing.assert_array_equal(
        qt.metric_tensor(C, THETA, backend=wrapped), qt.metric_tensor(C, THETA)
    )

    class Remote:  # no simulator inside
        name = "remote"

    with pytest.raises(UnknownMethodError, match="Remote"):
        qt.metric_tensor(C, THETA, backend=Remote())


def test_api_one_shot_per_row_cannot_give_error_bars():
    with pytest.raises(qt.ShotsError, match="at least 2 shots"):
        qt.grad(C, qt.Z(0), THETA, method="param-shift", shots=1)


def test_api_target_stderr_bounds_every_component():
    c = qt.Circuit(2).ry(0, 3 * qt.P(0)).crx(0, 1, qt.P(1)).rz(1, 0.2 * qt.P(0))
    obs = qt.Observable.parse("0.5 Z0 Z1 - 1.2 X1")
    for seed in range(5):
        g = qt.grad(
            c, obs, THETA, method="param-shift", shots=qt.ShotPolicy.target(0.02), seed=seed
        )
        assert np.all(g.stderr <= 0.02)  # the spread bound is conservative
    loose = qt.grad(c, obs, THETA, method="param-shift", shots=qt.ShotPolicy.target(0.08), seed=0)
    assert loose.shots < g.shots / 10  # 4x the error needs ~16x fewer shots


def test_api_target_stderr_respects_its_budget_cap():
    policy = qt.ShotPolicy.target(1e-4, budget=10_000)
    with pytest.raises(BudgetExceededError, match="above the budget of 10000"):
        qt.grad(C, qt.Z(1), THETA, method="param-shift", shots=policy)
    with pytest.raises(qt.ShotsError, match="target_stderr"):
        qt.ShotPolicy.target(-1.0)


@pytest.mark.parametrize("method", ["adjoint", "param-shift", "finite-diff", "best"])
def test_api_plan_jacobian_runs_on_any_executor(method):
    tasks, assemble = plan_jacobian(C, [qt.Z(1)], THETA, method=method)
    assert (len(tasks) == 0) == (method in ("adjoint", "best"))
    planned = assemble(qt.Executor(qt.LocalSimulator()).run(tasks))
    direct = qt.jacobian(C, [qt.Z(1)], THETA, method=method)
    np.testing.assert_allclose(planned.value, direct.value, atol=1e-12)
    assert planned.method == direct.method
    assert planned.metadata.get("chosen_by") == direct.metadata.get("chosen_by")


def test_api_plan_jacobian_best_takes_param_shift_off_the_simulator():
    faulty = qt.FaultyBackend(qt.LocalSimulator(), seed=0)
    tasks, assemble = plan_jacobian(C, [qt.Z(1)], THETA, backend=faulty)
    assert len(tasks) == 1
    assert assemble(faulty.run(tasks)).method == "param-shift"
