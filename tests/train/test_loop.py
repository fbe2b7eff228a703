import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.train.tracking import read_metrics

H2 = qt.problems.h2()  # STO-3G at 0.7414 Å, UCC double excitation


def vqe():
    circuit = qt.ansatz.hardware_efficient(3, 2)
    H = qt.Z(0) @ qt.Z(1) + 0.5 * qt.X(2) - 0.3 * qt.Z(1)
    return qt.Objective.single(circuit, H), np.full(circuit.n_params, 0.3)


OPTIMIZERS = {
    "adam": lambda: qt.optim.Adam(learning_rate=0.05),
    "sgd": lambda: qt.optim.GradientDescent(learning_rate=0.1, momentum=0.5),
    "spsa": qt.optim.SPSA,
    "rosalin": lambda: qt.optim.Rosalin(learning_rate=0.1),
    "qng": lambda: qt.optim.QNG(learning_rate=0.05),
}


def test_fit_trains_h2_to_the_exact_ground_energy():
    objective = qt.Objective.from_problem(H2)
    result = qt.fit(
        objective,
        [0.0],
        qt.optim.Adam(0.1),
        budget=qt.Budget(max_steps=150),
        exact_value=H2.exact_value,
    )
    assert abs(result.final_loss - H2.exact_value) < 1e-6
    assert result.summary["error"] == pytest.approx(result.final_loss - H2.exact_value)
    assert result.steps == 150 and result.shots == 0
    losses = [r.loss for r in result.history]
    assert losses[-1] < losses[0]


def test_fit_h2_with_shots_reaches_chemical_accuracy_within_a_stated_budget():
    budget = qt.Budget(max_steps=1000, max_shots=2_000_000)
    result = qt.fit(
        qt.Objective.from_problem(H2),
        [0.0],
        qt.optim.Adam(0.05),
        shots=1000,
        seed=7,
        budget=budget,
        stop=qt.StopRules(grad_snr_below=1.0, patience=3),
    )
    assert abs(result.final_loss - H2.exact_value) < 1.6e-3
    assert result.shots <= 2_000_000


def test_fit_maxcut_qaoa_reaches_a_stated_approximation_ratio():
    ring_with_chord = [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5), (5, 0), (0, 3)]
    problem = qt.problems.maxcut(edges=ring_with_chord, layers=3)
    objective = qt.Objective.from_problem(problem)
    result = qt.fit(
        objective,
        problem.theta0,
        qt.optim.Adam(0.05),
        method="adjoint",
        budget=qt.Budget(max_steps=150),
    )
    start = problem.report(objective.exact_terms(problem.theta0))["approximation_ratio"]
    final = problem.report(objective.exact_terms(result.theta))["approximation_ratio"]
    assert final >= 0.95 > start


def interrupt_at(step):
    """A stop-rule callback that presses Ctrl-C after ``step``."""

    def interrupt(record):
        if record.step == step:
            raise KeyboardInterrupt
        return False

    return interrupt


class CountingBackend:
    """The local simulator, adding up the shots its results report."""

    def __init__(self):
        self.inner, self.reported = qt.LocalSimulator(), 0

    name = "counting"

    @property
    def limits(self):
        return self.inner.limits

    def run(self, tasks):
        results = self.inner.run(tasks)
        self.reported += sum(r.shots for r in results)
        return results


def test_fit_ledger_equals_the_shots_the_backend_reports(tmp_path):
    objective, theta0 = vqe()
    counting = CountingBackend()
    result = qt.fit(
        objective,
        theta0,
        qt.optim.Rosalin(learning_rate=0.1),
        seed=3,
        budget=qt.Budget(max_steps=6),
        backend=counting,
    )
    assert result.shots == counting.reported > 0

    # Across an interruption, both sessions' backend reports add up to the one ledger.
    counting = CountingBackend()
    common = {"shots": 80, "seed": 4, "budget": qt.Budget(max_steps=6), "run_dir": tmp_path}
    qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        backend=counting,
        stop=qt.StopRules(callback=interrupt_at(2)),
        **common,
    )
    resumed = qt.fit(
        objective, theta0, qt.optim.Adam(0.05), backend=counting, resume=True, **common
    )
    assert resumed.shots == counting.reported


def test_fit_with_shots_records_error_bars_and_exact_shot_counts():
    objective, theta0 = vqe()
    result = qt.fit(
        objective, theta0, qt.optim.Adam(0.05), shots=200, seed=1, budget=qt.Budget(max_steps=5)
    )
    rows = 2 * objective.n_params + 1
    groups = len(objective.observables[0].groups())
    for record in result.history:
        assert record.shots == rows * groups * 200
        assert record.loss_stderr > 0 and record.grad_norm_stderr > 0 and record.grad_snr > 0
        assert len(record.gradient) == objective.n_params
    assert result.shots == sum(r.shots for r in result.history) == result.history[-1].shots_total


def test_fit_never_exceeds_the_shot_budget_and_does_not_start_the_step_that_would():
    objective, theta0 = vqe()
    per_step = (2 * objective.n_params + 1) * len(objective.observables[0].groups()) * 100
    budget = qt.Budget(max_steps=100, max_shots=int(3.5 * per_step))
    result = qt.fit(objective, theta0, qt.optim.Adam(0.05), shots=100, seed=2, budget=budget)
    assert result.stopped_by == "max_shots"
    assert result.steps == 3 and result.shots == 3 * per_step <= budget.max_shots


def test_fit_rosalin_spends_within_the_budget():
    objective, theta0 = vqe()
    budget = qt.Budget(max_steps=1000, max_shots=50_000)
    result = qt.fit(objective, theta0, qt.optim.Rosalin(learning_rate=0.1), seed=4, budget=budget)
    assert result.stopped_by == "max_shots" and result.shots <= 50_000
    assert sum(r.shots for r in result.history) == result.shots


def test_fit_stops_on_the_wall_time_budget():
    objective, theta0 = vqe()
    budget = qt.Budget(max_steps=10**6, max_seconds=0.3)
    result = qt.fit(objective, theta0, qt.optim.Adam(0.01), budget=budget)
    assert result.stopped_by == "max_seconds" and result.steps >= 1
    # No step was started that its predecessor's duration said would end past the budget:
    # step k+1 starts only if (elapsed after step k) + (duration of step k) ≤ max_seconds.
    for before in result.history[:-1]:
        assert before.elapsed + before.seconds <= budget.max_seconds


@pytest.mark.parametrize(
    ("stop", "reason"),
    [
        (qt.StopRules(target=-1.0), "target"),
        (qt.StopRules(loss_tolerance=1e-6, patience=2), "loss_tolerance"),
        (qt.StopRules(grad_tolerance=1e-3), "grad_tolerance"),
        (qt.StopRules(callback=lambda record: record.step == 4), "callback"),
    ],
)
def test_fit_stop_rules(stop, reason):
    objective = qt.Objective.from_problem(H2)
    result = qt.fit(
        objective, [0.0], qt.optim.GradientDescent(0.5), stop=stop, budget=qt.Budget(max_steps=500)
    )
    assert result.stopped_by == reason and result.steps < 500


def test_fit_stops_when_the_gradient_sinks_below_its_noise():
    objective = qt.Objective.from_problem(H2)
    result = qt.fit(
        objective,
        [0.2097],
        qt.optim.GradientDescent(0.1),
        shots=100,
        seed=3,
        stop=qt.StopRules(grad_snr_below=1.0, patience=2),
        budget=qt.Budget(max_steps=200),
    )
    assert result.stopped_by == "grad_snr_below"
    assert all(r.grad_snr < 1.0 for r in result.history[-2:])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_fit_resume_is_bit_identical(tmp_path, name):
    objective, theta0 = vqe()
    shots = None if name == "qng" else 100
    options = {"shots": shots, "seed": 9}
    straight = qt.fit(
        objective, theta0, OPTIMIZERS[name](), budget=qt.Budget(max_steps=8), **options
    )
    run_dir = tmp_path / name
    first = qt.fit(
        objective,
        theta0,
        OPTIMIZERS[name](),
        budget=qt.Budget(max_steps=3),
        run_dir=run_dir,
        **options,
    )
    assert first.steps == 3
    resumed = qt.fit(
        objective,
        theta0,
        OPTIMIZERS[name](),
        budget=qt.Budget(max_steps=8),
        run_dir=run_dir,
        resume=True,
        **options,
    )
    assert resumed.theta.tobytes() == straight.theta.tobytes()
    assert [r.loss for r in resumed.history] == [r.loss for r in straight.history]
    assert resumed.shots == straight.shots
    metrics = read_metrics(run_dir / "metrics.jsonl")
    assert [r.step for r in metrics] == list(range(8))
    assert [r.gradient for r in metrics] == [r.gradient for r in straight.history]


def test_fit_resume_takes_the_seed_from_the_checkpoint(tmp_path):
    objective, theta0 = vqe()
    qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        shots=50,
        budget=qt.Budget(max_steps=2),
        run_dir=tmp_path,
    )
    seed = json.loads((tmp_path / "summary.json").read_text())["seed"]
    resumed = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        shots=50,
        run_dir=tmp_path,
        resume=True,
        budget=qt.Budget(max_steps=4),
    )
    straight = qt.fit(
        objective, theta0, qt.optim.Adam(0.05), shots=50, seed=seed, budget=qt.Budget(max_steps=4)
    )
    assert resumed.theta.tobytes() == straight.theta.tobytes()


def test_fit_refuses_a_checkpoint_from_another_config(tmp_path):
    objective, theta0 = vqe()
    qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        seed=1,
        budget=qt.Budget(max_steps=2),
        run_dir=tmp_path,
    )
    with pytest.raises(qt.CheckpointMismatchError, match="different runs"):
        qt.fit(objective, theta0, qt.optim.Adam(0.06), seed=1, run_dir=tmp_path, resume=True)
    with pytest.raises(qt.CheckpointError, match="pass resume=True"):
        qt.fit(objective, theta0, qt.optim.Adam(0.05), seed=1, run_dir=tmp_path)
    with pytest.raises(qt.ConfigError, match="run_dir"):
        qt.fit(objective, theta0, qt.optim.Adam(0.05), resume=True)


def test_fit_resume_refuses_a_missing_or_empty_run_folder(tmp_path):
    # At 762dfa5 a mistyped run_dir with resume=True silently started a fresh run there.
    objective, theta0 = vqe()
    missing = tmp_path / "runs" / "h2-typo"
    with pytest.raises(qt.CheckpointError, match=r"does not exist.*if-exists"):
        qt.fit(objective, theta0, qt.optim.Adam(0.05), seed=1, run_dir=missing, resume=True)
    assert not missing.exists()  # refused before anything was created
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(qt.CheckpointError, match="holds no run"):
        qt.fit(objective, theta0, qt.optim.Adam(0.05), seed=1, run_dir=empty, resume=True)
    with pytest.raises(qt.ConfigError, match="'yes'"):
        qt.fit(objective, theta0, qt.optim.Adam(0.05), run_dir=empty, resume="yes")
    budget = qt.Budget(max_steps=2)
    first = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        seed=1,
        budget=budget,
        run_dir=missing,
        resume="if-exists",
    )  # no run there: starts one
    assert first.steps == 2
    more = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        seed=1,
        budget=qt.Budget(max_steps=3),
        run_dir=missing,
        resume="if-exists",
    )  # a run there: continues it
    assert more.steps == 3 and len(more.history) == 3


def test_fit_interrupted_run_checkpoints_and_resumes_exactly(tmp_path):
    objective, theta0 = vqe()

    common = {"shots": 100, "seed": 5}
    result = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        stop=qt.StopRules(callback=interrupt_at(2)),
        run_dir=tmp_path,
        budget=qt.Budget(max_steps=6),
        **common,
    )
    assert result.stopped_by == "interrupted" and result.steps == 3
    resumed = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        run_dir=tmp_path,
        resume=True,
        budget=qt.Budget(max_steps=6),
        **common,
    )
    straight = qt.fit(
        objective, theta0, qt.optim.Adam(0.05), budget=qt.Budget(max_steps=6), **common
    )
    assert resumed.theta.tobytes() == straight.theta.tobytes()


class InterruptingBackend(CountingBackend):
    """Presses Ctrl-C in the middle of its ``at``-th call, after running half of it."""

    def __init__(self, at):
        super().__init__()
        self.at, self.calls = at, 0

    def run(self, tasks):
        self.calls += 1
        if self.calls == self.at:
            raise KeyboardInterrupt
        return super().run(tasks)


def test_fit_ctrl_c_inside_a_backend_call_resumes_exactly(tmp_path):
    objective, theta0 = vqe()
    common = {"shots": 60, "seed": 8, "budget": qt.Budget(max_steps=6), "run_dir": tmp_path}
    executor = qt.Executor(
        InterruptingBackend(at=7),
        store=qt.ResultStore(tmp_path / "s.db"),
        max_rows=10,
        tasks_per_call=1,
    )
    cut = qt.fit(objective, theta0, qt.optim.Adam(0.05), executor=executor, **common)
    assert cut.stopped_by == "interrupted" and 0 < cut.steps < 6
    resumed = qt.fit(objective, theta0, qt.optim.Adam(0.05), resume=True, **common)
    straight = qt.fit(
        objective, theta0, qt.optim.Adam(0.05), shots=60, seed=8, budget=qt.Budget(max_steps=6)
    )
    assert resumed.theta.tobytes() == straight.theta.tobytes()


def test_fit_under_faults_is_bit_identical_and_counts_retries(tmp_path):
    objective, theta0 = vqe()
    clean = qt.fit(
        objective, theta0, qt.optim.Adam(0.05), shots=100, seed=6, budget=qt.Budget(max_steps=4)
    )
    flaky = qt.FaultyBackend(
        qt.LocalSimulator(),
        seed=2,
        failure_rate=0.3,
        partial_rate=0.2,
        throttle_rate=0.1,
        retry_after_s=0.0,
    )
    executor = qt.Executor(flaky, retry=qt.RetryPolicy(attempts=30, initial_s=0.0, jitter_s=0.0))
    faulty = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        shots=100,
        seed=6,
        budget=qt.Budget(max_steps=4),
        executor=executor,
    )
    assert faulty.theta.tobytes() == clean.theta.tobytes()
    assert sum(r.retries for r in faulty.history) == executor.counters.retried > 0
    assert sum(r.failures for r in faulty.history) == executor.counters.failed > 0
    assert faulty.final_loss == clean.final_loss  # the simulator under the faults is found


def test_fit_run_directory_holds_everything(tmp_path):
    objective, theta0 = vqe()
    result = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        shots=50,
        seed=1,
        budget=qt.Budget(max_steps=3),
        run_dir=tmp_path / "run",
    )
    folder = tmp_path / "run"
    for name in (
        "checkpoint.json",
        "metrics.jsonl",
        "results.sqlite",
        "summary.json",
        "reproduce.json",
        "run.json",
    ):
        assert (folder / name).exists(), name
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["shots"] == result.shots
    assert summary["stopped_by"] == "max_steps"
    reproduce = json.loads((folder / "reproduce.json").read_text())
    assert reproduce["seed"] == 1 and reproduce["versions"]["numpy"] == np.__version__
    assert len(qt.ResultStore(folder / "results.sqlite")) > 0


def test_fit_keeps_theta_when_an_update_is_not_finite():
    objective, theta0 = vqe()

    class Exploding(qt.optim.GradientDescent):
        def update(self, state, theta, observation):
            step = super().update(state, theta, observation)
            return qt.optim.Update(step.theta * np.inf, step.state, step.learning_rate)

    result = qt.fit(
        objective, theta0, Exploding(0.1), shots=10, seed=1, budget=qt.Budget(max_steps=3)
    )
    assert result.stopped_by == "non_finite" and result.steps == 1
    assert result.shots == result.history[0].shots > 0  # measured, so charged
    np.testing.assert_array_equal(result.theta, theta0)


def test_fit_rejects_bad_inputs_before_any_step():
    objective, theta0 = vqe()
    with pytest.raises(qt.ConfigError, match="Objective"):
        qt.fit("H2", theta0, qt.optim.Adam())
    with pytest.raises(qt.ParameterError, match="shape"):
        qt.fit(objective, theta0[:-1], qt.optim.Adam())
    with pytest.raises(qt.ConfigError, match="init/ask/update"):
        qt.fit(objective, theta0, "adam")
    with pytest.raises(qt.ConfigError, match="max_steps"):
        qt.Budget(max_steps=0)
    with pytest.raises(qt.ConfigError, match="shots"):
        qt.fit(objective, theta0, qt.optim.Adam(), shots=2.5)


def test_fit_report_entries_reach_the_summary_and_the_trackers(tmp_path):
    objective, theta0 = vqe()
    seen = {}

    class Capture:
        def start(self, info):
            pass

        def log(self, record):
            pass

        def finish(self, summary):
            seen.update(summary)

    result = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        budget=qt.Budget(max_steps=2),
        run_dir=tmp_path,
        trackers=[Capture()],
        report=lambda theta: {"problem": {"norm": float(np.linalg.norm(theta))}},
    )
    expected = float(np.linalg.norm(result.theta))
    assert seen["problem"] == {"norm": expected} == result.summary["problem"]
    assert json.loads((tmp_path / "summary.json").read_text())["problem"]["norm"] == expected


def test_fit_charges_the_shots_of_results_it_had_to_throw_away():
    # A result with impossible numbers is rejected and re-run; its shots were spent all the
    # same. At 762dfa5 the ledger charged only the step's planned cost.
    objective, theta0 = vqe()
    counting = CountingBackend()
    faulty = qt.FaultyBackend(counting, seed=5, impossible_rate=0.3)
    executor = qt.Executor(faulty, retry=qt.RetryPolicy(attempts=20, initial_s=0.0001))
    result = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        shots=50,
        seed=3,
        budget=qt.Budget(max_steps=5),
        executor=executor,
    )
    assert executor.counters.rejected_shots > 0
    assert result.shots == counting.reported == sum(r.shots for r in result.history)


@pytest.mark.parametrize("seed", range(5))
def test_fit_shot_budget_holds_under_faults_that_waste_shots(seed):
    # Rejected results are charged (the ledger is what the backend spent), so retries the
    # budget cannot pay for must not be made: the total never passes max_shots.
    objective, theta0 = vqe()
    counting = CountingBackend()
    faulty = qt.FaultyBackend(counting, seed=seed, corrupt_rate=0.6)
    executor = qt.Executor(faulty, retry=qt.RetryPolicy(attempts=30, initial_s=0.0001))
    budget = qt.Budget(max_steps=1000, max_shots=5000)
    result = qt.fit(
        objective,
        theta0,
        qt.optim.Adam(0.05),
        shots=100,
        seed=seed,
        budget=budget,
        executor=executor,
    )
    assert result.stopped_by == "max_shots"
    assert result.shots == counting.reported <= budget.max_shots
