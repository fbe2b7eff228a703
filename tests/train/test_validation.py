"""The validation step hook: when it runs, at which θ, what it costs and how it stops."""

import logging

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import ConfigError
from qtrain.problems import classifier
from qtrain.train.step_money import Extra
from qtrain.train.validation import Validation

PROBLEM = classifier(10, layers=1)
TRAIN = qt.Objective(PROBLEM.circuits[:7], PROBLEM.observables[:7], "mse", PROBLEM.targets[:7])
HELD = qt.Objective(PROBLEM.circuits[7:], PROBLEM.observables[7:], "mse", PROBLEM.targets[7:])


def accuracy(values):
    predicted = np.where(values >= 0, 1.0, -1.0)
    return {"accuracy": float(np.mean(predicted == HELD.targets)), "loss": 99.0}


def run(hook, *, shots=40, steps=5, seed=3, **options):
    return qt.fit(
        TRAIN,
        PROBLEM.theta0,
        qt.optim.Adam(learning_rate=0.1),
        shots=shots,
        budget=qt.Budget(max_steps=steps, max_shots=options.pop("max_shots", None)),
        seed=seed,
        hooks=[hook],
        **options,
    )


def test_every_k_steps_and_the_last_at_theta_step_with_its_shots_charged():
    result = run(Validation(HELD, every=2, shots=300, metrics=accuracy), steps=6)
    validated = [r.step for r in result.history if r.validation is not None]
    assert validated == [0, 2, 4, 5]  # every 2, and the last step the budget allows
    for record in result.history:
        if record.validation is None:
            continue
        assert set(record.validation) == {"loss", "stderr", "shots", "accuracy"}
        assert record.validation["shots"] == 300 and record.validation["stderr"] > 0
        exact = HELD.exact_loss(np.array(record.theta))  # at θ_step, the record's θ
        assert abs(record.validation["loss"] - exact) < 6 * record.validation["stderr"] + 0.05
    plain = [r.shots for r in result.history if r.validation is None]
    assert {r.shots - 300 for r in result.history if r.validation} == set(plain)
    assert result.shots == sum(r.shots for r in result.history)  # the ledger counts them
    assert result.history[-1].shots_total == result.shots
    assert result.summary["validation"]["shots"] == 4 * 300
    assert result.summary["validation"]["evaluations"] == 4


def test_an_exact_run_validates_exactly():
    result = run(Validation(HELD, every=1), shots=None, steps=3)
    for record in result.history:
        assert record.validation["stderr"] is None and record.validation["shots"] == 0
        assert record.validation["loss"] == pytest.approx(HELD.exact_loss(np.array(record.theta)))
    assert result.shots == 0


def test_its_own_budget_stops_validation_and_says_so_training_goes_on(caplog):
    with caplog.at_level(logging.WARNING, logger="qtrain.train"):
        result = run(Validation(HELD, every=1, shots=200, max_shots=500), steps=5)
    validated = [r.step for r in result.history if r.validation is not None]
    assert validated == [0, 1] and result.steps == 5 and result.stopped_by == "max_steps"
    events = [r for r in caplog.records if getattr(r, "event", "") == "validation.stopped"]
    assert len(events) == 1 and "max_shots 500" in events[0].getMessage()
    assert result.summary["validation"]["stopped"] == "max_shots"


def test_the_runs_shot_budget_is_never_passed_for_validation():
    first = run(Validation(HELD, every=1, shots=300), steps=1)
    step_cost = first.history[0].shots - 300
    limit = 2 * step_cost + 300 + 10  # room for two steps and one evaluation
    result = run(Validation(HELD, every=1, shots=300), steps=5, max_shots=limit)
    assert result.shots <= limit
    assert [r.validation is not None for r in result.history] == [True, False]


def test_seeded_and_exactly_the_same_after_a_resume(tmp_path):
    hook = Validation(HELD, every=1, shots=300, metrics=accuracy)
    whole = run(hook, steps=4)
    run(hook, steps=2, run_dir=tmp_path / "run")
    resumed = run(hook, steps=4, run_dir=tmp_path / "run", resume=True)
    assert [r.validation for r in resumed.history] == [r.validation for r in whole.history]
    assert np.array_equal(resumed.theta, whole.theta)
    other = run(hook, steps=1, seed=4)
    assert other.history[0].validation != whole.history[0].validation


def test_a_retried_step_is_not_charged_twice():
    hook = Validation(HELD, every=1, shots=300)

    class Session:
        settings = type("S", (), {"budget": qt.Budget(max_steps=5), "seed": 1})()
        state = type("T", (), {"hook_states": {}, "theta": PROBLEM.theta0})()
        executor = qt.Executor(qt.LocalSimulator())

        @staticmethod
        def run_extra(tasks, *, purpose):  # what the session charges: the tasks' shots
            shots = sum(int(t.shot_matrix().sum()) for t in tasks)
            return Extra(Session.executor.run(tasks), shots, None)

    record = run(Validation(HELD, every=99), steps=1).history[0]
    once = hook.after_step(Session, record)
    twice = hook.after_step(Session, record)  # the same step again (after an interruption)
    assert once == twice and Session.state.hook_states["validation"]["shots"] == 300
    assert Session.state.hook_states["validation"]["evaluations"] == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"every": 0}, "every must be an int >= 1, got 0"),
        ({"shots": 5}, "shots must be an int of at least 6"),
        ({"max_shots": 0}, "max_shots must be an int >= 1, got 0"),
    ],
)
def test_bad_settings_are_refused_naming_the_value(options, message):
    with pytest.raises(ConfigError, match=message):
        Validation(HELD, **options)
