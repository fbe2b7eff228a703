import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qtrain as qt
from qtrain.testing import reference_expval
from qtrain.testing.strategies import circuits, observables
from qtrain.train.seeding import child_seed, root_seed

H2 = qt.problems.h2()  # STO-3G at 0.7414 Å, UCC double excitation


def data_circuits():
    """Two one-qubit 'data points' sharing two parameters (a tiny classifier)."""
    c1 = qt.Circuit(1).ry(0, qt.P(0) + 0.2).rz(0, qt.P(1)).rx(0, 0.7)
    c2 = qt.Circuit(1).ry(0, qt.P(0) - 0.5).rx(0, 2 * qt.P(1))
    return c1, c2


def mse_objective():
    c1, c2 = data_circuits()
    return qt.Objective((c1, c2), (qt.Z(0), qt.Z(0)), "mse", np.array([1.0, -1.0]))


def reference_loss(objective, theta):
    values = np.array(
        [
            reference_expval(c, o, theta[: c.n_params])
            for c, o in zip(objective.circuits, objective.observables, strict=True)
        ]
    )
    return objective.loss_fn.value(values, objective.targets)


def numeric_gradient(objective, theta, eps=1e-6):
    return np.array(
        [
            (
                reference_loss(objective, theta + eps * e)
                - reference_loss(objective, theta - eps * e)
            )
            / (2 * eps)
            for e in np.eye(theta.size)
        ]
    )


@pytest.mark.parametrize("method", ["adjoint", "param-shift", "finite-diff", "best"])
def test_objective_single_term_equals_qt_grad(method):
    circuit, H = H2.circuits[0], H2.observables[0]
    theta = np.array([0.17])
    evaluation = qt.Objective.single(circuit, H).evaluate(theta, method=method)
    reference = qt.grad(circuit, H, theta, method=method)
    np.testing.assert_allclose(evaluation.gradient, reference.value, atol=1e-9)
    assert evaluation.loss == pytest.approx(reference_expval(circuit, H, theta), abs=1e-12)


@settings(max_examples=25, deadline=None)
@given(data=st.data(), first=circuits(max_qubits=3, max_ops=8, max_params=3))
def test_objective_mean_of_random_terms_matches_the_dense_reference(data, first):
    second = data.draw(circuits(min_qubits=first.n_qubits, max_qubits=first.n_qubits, max_ops=8))
    if max(first.n_params, second.n_params) == 0:
        return
    o1 = data.draw(observables(first.n_qubits, max_terms=3))
    o2 = data.draw(observables(second.n_qubits, max_terms=3))
    objective = qt.Objective((first, second), (o1, o2), "mean")
    theta = np.random.default_rng(0).uniform(-3, 3, objective.n_params)
    evaluation = objective.evaluate(theta, method="param-shift")
    assert evaluation.loss == pytest.approx(reference_loss(objective, theta), abs=1e-9)
    np.testing.assert_allclose(evaluation.gradient, numeric_gradient(objective, theta), atol=1e-6)


@pytest.mark.parametrize("method", ["param-shift", "adjoint"])
def test_objective_mse_gradient_is_the_chain_rule(method):
    objective = mse_objective()
    theta = np.array([0.3, -0.4])
    evaluation = objective.evaluate(theta, method=method)
    np.testing.assert_allclose(evaluation.gradient, numeric_gradient(objective, theta), atol=1e-8)
    assert evaluation.loss == pytest.approx(reference_loss(objective, theta), abs=1e-12)
    assert evaluation.term_values.shape == (2,)


def test_objective_sampled_error_bars_match_the_spread_over_seeds():
    objective = mse_objective()
    theta = np.array([0.3, -0.4])
    runs = [objective.evaluate(theta, method="param-shift", shots=400, seed=s) for s in range(300)]
    grads = np.array([r.gradient for r in runs])
    losses = np.array([r.loss for r in runs])
    reported = np.mean([r.gradient_stderr for r in runs], axis=0)
    # Delta-method error bars against the empirical spread over 300 seeds (±20 %).
    np.testing.assert_allclose(grads.std(axis=0, ddof=1), reported, rtol=0.2)
    loss_err = np.mean([r.loss_stderr for r in runs])
    assert losses.std(ddof=1) == pytest.approx(loss_err, rel=0.2)
    exact = objective.evaluate(theta, method="adjoint").gradient
    z = (grads.mean(axis=0) - exact) / (reported / np.sqrt(len(runs)))
    assert np.all(np.abs(z) < 4)


def test_objective_terms_never_share_sampling_noise():
    circuit = qt.Circuit(1).ry(0, qt.P(0))
    twin = qt.Circuit(1).ry(0, qt.P(0)).rz(0, 0.0)  # same state, another circuit
    objective = qt.Objective((circuit, twin), (qt.X(0), qt.X(0)), "sum")
    values = np.array(
        [
            objective.evaluate([0.4], method="param-shift", shots=50, seed=s).term_values
            for s in range(200)
        ]
    )
    assert abs(np.corrcoef(values.T)[0, 1]) < 0.25


def test_objective_terms_on_one_circuit_run_together():
    circuit = qt.ansatz.hardware_efficient(2, 1)
    objective = qt.Objective((circuit, circuit), (qt.Z(0), qt.X(1)), "sum")
    tasks, _ = objective.plan(np.zeros(circuit.n_params), method="param-shift")
    assert len(tasks) == 1 and len(tasks[0].observables) == 2


def test_objective_spsa_measures_the_loss_at_theta():
    objective = qt.Objective.from_problem(H2)
    tasks, assemble = objective.plan(
        np.array([0.1]), method="spsa", shots=100, seed=3, options={"step": 0.1}
    )
    assert [t.params.shape[0] for t in tasks] == [2, 1]
    evaluation = assemble(qt.LocalSimulator().run(tasks))
    exact = reference_expval(H2.circuits[0], H2.observables[0], np.array([0.1]))
    assert abs(evaluation.loss - exact) < 5 * evaluation.loss_stderr


def test_objective_circuits_may_read_fewer_parameters():
    short = qt.Circuit(1).ry(0, qt.P(0))
    long = qt.Circuit(1).ry(0, qt.P(0)).rx(0, qt.P(1))
    objective = qt.Objective((short, long), (qt.Z(0), qt.Z(0)), "sum")
    theta = np.array([0.2, 0.5])
    evaluation = objective.evaluate(theta, method="adjoint")
    np.testing.assert_allclose(evaluation.gradient, numeric_gradient(objective, theta), atol=1e-8)


def test_objective_metric_tensor_on_request_and_its_limits():
    objective = qt.Objective.from_problem(H2)
    _, assemble = objective.plan(np.array([0.1]), method="adjoint", metric="full")
    assert assemble([]).metric == pytest.approx(np.array([[0.25]]))
    with pytest.raises(qt.ConfigError, match="single-circuit"):
        mse_objective().plan(np.zeros(2), metric="full")
    # Under a wrapper the metric runs on the wrapped simulator; with none inside it refuses.
    faulty = qt.FaultyBackend(qt.LocalSimulator(), seed=0)
    _, assemble = objective.plan(
        np.array([0.1]), method="param-shift", metric="full", backend=faulty
    )
    assert assemble.metric_fn is not None
    assert assemble.metric_fn() == pytest.approx(np.array([[0.25]]))

    class Remote:
        name = "remote"

    with pytest.raises(qt.ConfigError, match="Remote, with no LocalSimulator"):
        objective.plan(np.array([0.1]), method="param-shift", metric="full", backend=Remote())
    with pytest.raises(qt.QtrainError, match="approx"):
        objective.plan(np.array([0.1]), method="param-shift", metric="diagonal")


def test_objective_metric_tensor_honours_the_runs_memory_budget():
    # Issue 13 defect 8: at 762dfa5 the metric ran on a default LocalSimulator, so a budget
    # that makes qt.metric_tensor refuse let the objective compute anyway.
    circuit = qt.ansatz.hardware_efficient(4, 2)  # 16 slots: the metric keeps 17 states
    objective = qt.Objective.single(circuit, qt.Z(0) @ qt.Z(1))
    theta = np.full(circuit.n_params, 0.2)
    small = qt.LocalSimulator(memory_budget=4 * (16 * 4 << 4))  # four 4-qubit states
    evaluation = objective.evaluate(theta, method="param-shift", backend=small)  # rows fit
    assert evaluation.gradient.shape == (16,)
    with pytest.raises(qt.StateTooLargeError, match="metric tensor keeps 17"):
        qt.metric_tensor(circuit, theta, backend=small)
    for backend in (small, qt.FaultyBackend(small, seed=0)):
        with pytest.raises(qt.StateTooLargeError, match="metric tensor keeps 17"):
            objective.plan(theta, method="param-shift", metric="block-diag", backend=backend)


# --- Unseeded means fresh entropy, recorded (issue 13, defect 7) ---------------------------
WIDE = qt.ansatz.hardware_efficient(4, 2)  # 16 parameters: 2¹⁶ SPSA directions
WIDE_THETA = np.linspace(-1.0, 1.0, WIDE.n_params)
WIDE_H = qt.Z(0) @ qt.Z(1) + 0.5 * qt.X(3)


@pytest.mark.parametrize(("method", "shots"), [("spsa", None), ("spsa", 200), ("best", 100)])
def test_objective_unseeded_evaluations_differ_and_reproduce_from_their_seed(method, shots):
    objective = qt.Objective.single(WIDE, WIDE_H)
    plans = [objective.plan(WIDE_THETA, method=method, shots=shots) for _ in range(3)]
    for tasks, _ in plans:  # every task, SPSA's value row included, carries a real seed
        assert all(isinstance(task.seed, int) for task in tasks)
    assert len({tuple(task.seed for task in tasks) for tasks, _ in plans}) == 3
    runs = [assemble(qt.LocalSimulator().run(tasks)) for tasks, assemble in plans]
    assert len({run.gradient.tobytes() for run in runs}) == 3
    seeds = [run.seed for run in runs]  # recorded: one fresh draw per plan
    assert all(isinstance(seed, int) for seed in seeds) and len(set(seeds)) == 3
    for run, seed in zip(runs, seeds, strict=True):
        again = objective.evaluate(WIDE_THETA, method=method, shots=shots, seed=seed)
        assert again.gradient.tobytes() == run.gradient.tobytes()
        assert again.loss == run.loss


def test_objective_exact_deterministic_evaluations_draw_no_seed():
    tasks, _ = qt.Objective.single(WIDE, WIDE_H).plan(WIDE_THETA, method="param-shift")
    assert all(task.seed is None for task in tasks)


def test_objective_exact_loss_and_fingerprint():
    objective = mse_objective()
    theta = np.array([0.1, 0.9])
    assert objective.exact_loss(theta) == pytest.approx(reference_loss(objective, theta))
    c1, c2 = data_circuits()
    same = qt.Objective((c1, c2), (qt.Z(0), qt.Z(0)), "mse", [1.0, -1.0])
    other = qt.Objective((c1, c2), (qt.Z(0), qt.Z(0)), "mse", [1.0, 1.0])
    assert objective.fingerprint() == same.fingerprint() != other.fingerprint()


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda c: qt.Objective((c,), (), "expval"), "one observable per circuit"),
        (lambda c: qt.Objective((c,), (qt.Z(0),), "hinge"), "unknown loss 'hinge'"),
        (lambda c: qt.Objective((c,), (qt.Z(0),), "mse"), "needs targets"),
        (lambda c: qt.Objective((c, c), (qt.Z(0), qt.Z(0)), "expval"), "one term"),
        (lambda c: qt.Objective((c,), (qt.Z(3),), "expval"), "wire"),
        (lambda c: qt.Objective((c,), (qt.Z(0),), "mse", [1.0, 2.0]), "targets must be 1"),
    ],
)
def test_objective_rejects_bad_definitions(build, fragment):
    with pytest.raises(qt.QtrainError, match=fragment):
        build(qt.Circuit(1).ry(0, qt.P(0)))


def test_objective_rejects_theta_of_the_wrong_shape():
    with pytest.raises(qt.ParameterError, match=r"shape \(2,\)"):
        mse_objective().evaluate(np.zeros(3))


def test_objective_lipschitz_bound():
    objective = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), 0.5 * qt.Z(0) - 2 * qt.X(0))
    assert objective.lipschitz_bound() == pytest.approx(2.5)


# --- The Lipschitz bound is a bound (issue 13, defect 4) ------------------------------------
def loss_hessian(objective, theta):
    """``(P, P)`` exact ``∇²L = Σ_i ∂²L/∂v_i² ∇v_i∇v_iᵀ + ∂L/∂v_i ∇²v_i``."""
    width = objective.n_params
    values, gradients, hessians = [], [], []
    for circuit, observable in zip(objective.circuits, objective.observables, strict=True):
        n = circuit.n_params
        gradient, hessian = np.zeros(width), np.zeros((width, width))
        gradient[:n] = qt.grad(circuit, observable, theta[:n], method="adjoint").value
        hessian[:n, :n] = qt.hessian(circuit, observable, theta[:n]).value
        values.append(qt.expval(circuit, observable, theta[:n]))
        gradients.append(gradient)
        hessians.append(hessian)
    weights = objective.loss_fn.weights(np.array(values), objective.targets)
    curvature = 2.0 / len(values) if objective.loss_fn.name == "mse" else 0.0
    return sum(
        w * h + curvature * np.outer(g, g)
        for w, g, h in zip(weights, gradients, hessians, strict=True)
    )


def shared_rx():
    """Three RX gates sharing θ: ``⟨Z⟩ = cos 3θ``, ``|E''| = 9`` (762dfa5 said 1.0)."""
    circuit = qt.Circuit(1).rx(0, qt.P(0)).rx(0, qt.P(0)).rx(0, qt.P(0))
    return qt.Objective.single(circuit, qt.Z(0))


def triangle():
    """MaxCut QAOA on a triangle (762dfa5 said 3.0; ‖∇²L‖ passes 14 at random θ)."""
    return qt.problems.build("maxcut", edges=[(0, 1), (1, 2), (0, 2)], layers=1)


# (objective, how many times the largest Hessian norm seen at 20 random θ the bound may be)
LIPSCHITZ_CASES = {
    "shared-rx": (shared_rx, 1.01),
    "maxcut-triangle": (lambda: qt.Objective.from_problem(triangle()), 4.0),
    "h2-ucc": (lambda: qt.Objective.from_problem(qt.problems.h2()), 1.5),
    "h2-hea": (lambda: qt.Objective.from_problem(qt.problems.h2(ansatz="hea")), 30.0),
    "maxcut": (lambda: qt.Objective.from_problem(qt.problems.maxcut()), 20.0),
    "classifier": (
        lambda: qt.Objective.from_problem(qt.problems.classifier(n_points=10)),
        20.0,
    ),
    "mse-two-circuits": (mse_objective, 10.0),
}


@pytest.mark.parametrize("name", sorted(LIPSCHITZ_CASES))
def test_objective_lipschitz_bound_holds_at_random_theta(name):
    build, looseness = LIPSCHITZ_CASES[name]
    objective = build()
    bound = objective.lipschitz_bound()
    rng = np.random.default_rng(13)
    norms = [
        np.linalg.norm(loss_hessian(objective, rng.uniform(-np.pi, np.pi, objective.n_params)), 2)
        for _ in range(20)
    ]
    assert max(norms) <= bound * (1 + 1e-9)
    assert bound <= looseness * max(norms)  # a bound, and not an absurd one


def test_objective_lipschitz_bound_of_mse_counts_gradients_and_curvature():
    # One term v = ⟨Z⟩ = cos θ against t: L = (v − t)², |L''| ≤ 2(g² + (r + |c − t|)·A)
    # with g = A = r = 1, c = 0.
    circuit = qt.Circuit(1).ry(0, qt.P(0))
    for target in (0.0, 1.0, -0.5):
        objective = qt.Objective((circuit,), (qt.Z(0),), "mse", [target])
        assert objective.lipschitz_bound() == pytest.approx(2 * (1 + 1 + abs(target)))
    # With t = 1, L'' = 2(sin²θ − (cos θ − 1)cos θ) peaks at θ = π: |L''| = 4 ≤ 6.
    objective = qt.Objective((circuit,), (qt.Z(0),), "mse", [1.0])
    thetas = np.linspace(-np.pi, np.pi, 101)
    peak = max(abs(loss_hessian(objective, np.array([t]))[0, 0]) for t in thetas)
    assert peak == pytest.approx(4.0)
    assert peak <= objective.lipschitz_bound()


def test_objective_lipschitz_bound_is_infinite_for_bce_and_custom_losses():
    circuit = qt.Circuit(1).ry(0, qt.P(0))
    bce = qt.Objective((circuit,), (qt.Z(0),), "bce", [1.0])
    assert bce.lipschitz_bound() == float("inf")
    custom = qt.train.losses.Loss("mse", lambda v, t: 0.0, lambda v, t: np.zeros_like(v))
    assert qt.Objective((circuit,), (qt.Z(0),), custom, [1.0]).lipschitz_bound() == float("inf")


# --- A total is a total (issue 13, defect 3) -----------------------------------------------
def three_circuit_objective():
    c1, c2 = data_circuits()
    c3 = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).rx(1, qt.P(1))
    observables = (qt.Z(0), qt.Z(0) + 0.5 * qt.X(0), 0.3 * qt.Z(0) @ qt.Z(1) - qt.Y(1))
    return qt.Objective((c1, c2, c3), observables, "mse", np.array([1.0, -1.0, 0.2]))


@pytest.mark.parametrize("method", ["param-shift", "best", "finite-diff", "spsa"])
@pytest.mark.parametrize("budget", [1000, 1237, 5000])
def test_objective_total_budget_is_spent_exactly_across_circuits(method, budget):
    # At 762dfa5 total(1000) gave each of the three circuits 1000 shots (3000 spent), and
    # SPSA's value rows came on top of that.
    objective = three_circuit_objective()
    theta = np.array([0.3, -0.4])
    for seed in range(3):
        evaluation = objective.evaluate(
            theta, method=method, shots=qt.ShotPolicy.total(budget), seed=seed
        )
        assert evaluation.shots == budget
        assert evaluation.gradient_stderr is not None or method == "spsa"


def test_objective_total_budget_follows_each_circuits_weight():
    # The split is one allocation ∝ |W_r|·spread_g over every circuit: the circuit whose
    # observable spreads 1.3 gets more than the one whose observable spreads 1.
    objective = three_circuit_objective()
    tasks, _ = objective.plan(
        np.array([0.3, -0.4]), method="param-shift", shots=qt.ShotPolicy.total(10_000), seed=1
    )
    per_circuit = [int(task.shot_matrix().sum()) for task in tasks]
    assert sum(per_circuit) == 10_000
    assert per_circuit[2] > per_circuit[0]
    # "best" with shots is parameter shift, and splits the budget the same way.
    best, _ = objective.plan(
        np.array([0.3, -0.4]), method="best", shots=qt.ShotPolicy.total(10_000), seed=1
    )
    for ours, theirs in zip(best, tasks, strict=True):
        np.testing.assert_array_equal(ours.shot_matrix(), theirs.shot_matrix())


def test_objective_total_budget_below_the_floor_is_refused_before_running():
    objective = three_circuit_objective()
    with pytest.raises(qt.BudgetExceededError, match="needs at least"):
        objective.plan(np.array([0.3, -0.4]), method="param-shift", shots=qt.ShotPolicy.total(20))


def test_objective_target_budget_cap_covers_every_circuit():
    objective = three_circuit_objective()
    tasks, _ = objective.plan(
        np.array([0.3, -0.4]), method="param-shift", shots=qt.ShotPolicy.target(0.05), seed=1
    )
    needed = sum(int(task.shot_matrix().sum()) for task in tasks)
    largest = max(int(task.shot_matrix().sum()) for task in tasks)
    cap = (needed + largest) // 2  # enough for any one circuit, not for all three
    with pytest.raises(qt.BudgetExceededError, match="every circuit"):
        objective.plan(
            np.array([0.3, -0.4]),
            method="param-shift",
            shots=qt.ShotPolicy.target(0.05, budget=cap),
            seed=1,
        )


@pytest.mark.parametrize("problem", ["h2", "classifier", "maxcut"])
def test_fit_never_passes_its_shot_budget(problem):
    built = qt.problems.build(problem)
    objective = qt.Objective.from_problem(built)
    for seed, shots in [(0, 50), (1, qt.ShotPolicy.total(3000)), (2, 200)]:
        budget = qt.Budget(max_steps=50, max_shots=20_000 + 7919 * seed)
        result = qt.fit(
            objective, built.theta0, qt.optim.Adam(0.05), shots=shots, seed=seed, budget=budget
        )
        assert result.shots <= budget.max_shots
        assert result.shots == sum(record.shots for record in result.history)


def test_child_seeds_are_independent_and_pinned():
    """Each circuit's sampling seed is SeedSequence(seed, spawn_key=(i,)); stored runs and
    store keys depend on it, so the values are pinned."""
    assert [child_seed(7, i) for i in range(3)] == [
        1693125408465869867,
        2021251017632032385,
        8779501138110131270,
    ]
    assert child_seed(None, 0) is None
    assert root_seed(None, None, "param-shift") is None  # exact: nothing to seed
    assert root_seed(3, qt.ShotPolicy.fixed(10), "param-shift") == 3
    assert isinstance(root_seed(None, None, "spsa"), int)  # SPSA is random even when exact
