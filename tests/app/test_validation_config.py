"""``validation:`` in run configs: the classifier's held-out split, its hook, its refusals."""

import json

import numpy as np
import pytest

from qtrain.app.build import prepare
from qtrain.app.config import parse_config
from qtrain.app.runner import train_from_config
from qtrain.app.validation_config import ValidationConfig, held_out_split
from qtrain.errors import ConfigError
from qtrain.problems import classifier


def config(**overrides):
    base = {
        "name": "val",
        "seed": 11,
        "problem": {"name": "classifier", "n_points": 16, "layers": 1},
        "optimizer": {"name": "adam", "learning_rate": 0.1},
        "gradient": {"method": "param-shift", "shots": 50},
        "budget": {"max_steps": 4},
        "validation": {"split": 0.25, "every": 2, "shots": 400},
    }
    base.update(overrides)
    return parse_config({k: v for k, v in base.items() if v is not None})


def test_the_split_is_seeded_disjoint_and_covers_every_point():
    problem = classifier(16)
    train, held = held_out_split(problem, ValidationConfig(split=0.25), 11)
    assert held is not None and (train.n_terms, held.n_terms) == (12, 4)
    points = [tuple(p) for p in train.metadata["points"] + held.metadata["points"]]
    assert sorted(points) == sorted(tuple(p) for p in problem.metadata["points"])
    again, held_again = held_out_split(problem, ValidationConfig(split=0.25), 11)
    assert held_again is not None and held_again.metadata == held.metadata
    assert again.metadata == train.metadata
    _, other = held_out_split(problem, ValidationConfig(split=0.25), 12)
    assert other is not None and other.metadata["points"] != held.metadata["points"]
    assert held.metadata["labels"] == held.targets.astype(int).tolist()


def test_prepare_trains_on_the_rest_and_validates_the_held_out_points():
    prepared = prepare(config())
    assert len(prepared.objective.circuits) == 12
    assert prepared.validation is not None and len(prepared.validation.objective.circuits) == 4
    assert prepared.validation.every == 2 and prepared.validation.shots == 400
    assert prepared.problem is not None and prepared.problem.metadata["n_points"] == 12
    assert prepare(config(validation=None)).validation is None


def test_a_run_records_validation_loss_and_accuracy(tmp_path):
    result, directory = train_from_config(config(), run_dir=tmp_path / "run")
    records = [json.loads(line) for line in directory.metrics.read_text().splitlines()]
    validated = [r for r in records if r["validation"] is not None]
    assert [r["step"] for r in validated] == [0, 2, 3]
    for record in validated:
        assert set(record["validation"]) == {"loss", "stderr", "shots", "accuracy"}
        assert 0 <= record["validation"]["accuracy"] <= 1
    assert result.shots == sum(r["shots"] for r in records)
    assert result.summary["validation"]["shots"] == 3 * 400


def test_an_exact_run_validates_exactly(tmp_path):
    exact = config(gradient={"method": "param-shift"}, validation={"every": 1})
    result, _ = train_from_config(exact, run_dir=tmp_path / "run")
    assert all(r.validation is not None and r.validation["stderr"] is None for r in result.history)
    assert result.shots == 0


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"problem": {"name": "h2"}}, "validation: problem 'h2' has no data points"),
        (
            {"problem": None, "circuit": {"ansatz": "hardware_efficient", "n_qubits": 1}},
            "validation: a circuit and observable has no data points",
        ),
        ({"validation": {"split": 0.01}}, "validation.split 0.01 of 16 points holds out 0"),
        ({"validation": {"every": 2}}, "validation.shots: the run samples its gradients"),
        ({"validation": {"shots": 3}}, "validation.shots: .*at least 8"),
        (
            {"gradient": {"method": "param-shift"}, "validation": {"shots": 100}},
            "validation.shots: the run is exact",
        ),
    ],
)
def test_what_cannot_be_validated_is_refused_naming_validation(overrides, message):
    if "circuit" in overrides:
        overrides["observable"] = "Z0"
    with pytest.raises(ConfigError, match=message):
        prepare(config(**overrides))


@pytest.mark.parametrize(
    ("section", "key"),
    [({"split": 1.0}, "validation.split"), ({"every": 0}, "validation.every"), ({"x": 1}, "x")],
)
def test_bad_values_name_their_key(section, key):
    with pytest.raises(ConfigError, match=key):
        config(validation=section)


def test_the_split_is_part_of_the_runs_settings():
    with_split, without = prepare(config()), prepare(config(validation=None))
    assert with_split.objective.fingerprint() != without.objective.fingerprint()
    assert np.array_equal(with_split.theta0, without.theta0)
