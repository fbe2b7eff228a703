import math

import pytest

import qtrain as qt
from qtrain.optim.schedules import SCHEDULES, schedule_from_config


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        (qt.optim.Constant(), [1.0, 1.0, 1.0]),
        (qt.optim.Exponential(decay=0.5), [1.0, 0.5, 0.25]),
        (qt.optim.Step(every=2, factor=0.1), [1.0, 1.0, 0.1]),
        (qt.optim.InverseTime(decay=1.0), [1.0, 0.5, 1 / 3]),
        (qt.optim.Cosine(total_steps=2, floor=0.2), [1.0, 0.6, 0.2]),
    ],
)
def test_schedule_factors(schedule, expected):
    assert [schedule(k) for k in range(3)] == pytest.approx(expected)


def test_cosine_stays_at_its_floor_after_the_horizon():
    assert qt.optim.Cosine(total_steps=10, floor=0.1)(1000) == pytest.approx(0.1)
    assert math.isclose(qt.optim.Cosine(total_steps=4)(2), 0.5)


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_schedule_config_round_trip(name):
    schedule = SCHEDULES[name]()
    assert schedule_from_config(schedule.config()) == schedule


def test_schedule_from_config_names_what_is_allowed():
    with pytest.raises(qt.ConfigError, match="choose one of"):
        schedule_from_config({"name": "warmup"})
    with pytest.raises(qt.ConfigError, match="allowed: decay"):
        schedule_from_config({"name": "exponential", "rate": 0.9})
    with pytest.raises(qt.ConfigError, match="decay"):
        qt.optim.Exponential(decay=1.5)
