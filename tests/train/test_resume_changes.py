"""A refused resume names the settings that changed, old → new, not two hashes."""

import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.train.checkpoint import load_checkpoint
from qtrain.train.rundir import RunDir
from qtrain.train.state import RunSettings, refuse_changed_settings, settings_changes
from qtrain.train.stopping import Budget, StopRules

OBJECTIVE = qt.Objective.single(qt.Circuit(1).ry(0, qt.P(0)), qt.Z(0))


def settings(learning_rate=0.05, seed=3, shots=None):
    return RunSettings(
        OBJECTIVE,
        qt.optim.Adam(learning_rate=learning_rate),
        "param-shift",
        None if shots is None else qt.ShotPolicy.fixed(shots),
        {},
        Budget(max_steps=2),
        StopRules(),
        seed,
        np.array([0.5]),
    )


def test_settings_changes_lists_each_changed_key_with_old_and_new_values():
    old, new = settings().describe(), settings(0.07, seed=4, shots=100).describe()
    changes = settings_changes(json.loads(json.dumps(old)), new)
    assert "optimizer.learning_rate 0.05 → 0.07" in changes
    assert "seed 3 → 4" in changes and "shots.per_row none → 100" in changes
    assert len(changes) == 3  # unchanged keys are not listed
    renamed = settings_changes(old, new, names={"shots.per_row": "gradient.shots"})
    assert "gradient.shots none → 100" in renamed
    assert settings_changes(old, old) == []


def test_a_fingerprint_is_cut_to_twelve_characters():
    changed = settings_changes({"objective": "a" * 64}, {"objective": "b" * 64})
    assert changed == [f"objective {'a' * 12}… → {'b' * 12}…"]


def test_refuse_changed_settings_reads_the_recorded_settings_from_run_json(tmp_path):
    qt.fit(
        OBJECTIVE,
        [0.5],
        qt.optim.Adam(learning_rate=0.05),
        method="param-shift",
        seed=3,
        budget=Budget(max_steps=2),
        run_dir=tmp_path,
    )
    directory = RunDir(tmp_path)
    checkpoint = load_checkpoint(directory.checkpoint)
    refuse_changed_settings(checkpoint, settings(), directory)  # the same: nothing said
    with pytest.raises(qt.CheckpointMismatchError) as caught:
        refuse_changed_settings(checkpoint, settings(0.07), directory)
    assert "optimizer.learning_rate 0.05 → 0.07" in str(caught.value)
    assert checkpoint.config_hash[:12] not in str(caught.value)
    directory.run_info.unlink()  # no record of the old settings: the hashes, as before
    with pytest.raises(qt.CheckpointMismatchError, match=checkpoint.config_hash[:12]):
        refuse_changed_settings(checkpoint, settings(0.07), directory)


def test_fit_resumed_with_another_learning_rate_names_it(tmp_path):
    run = tmp_path / "run"
    budget = Budget(max_steps=1)
    qt.fit(OBJECTIVE, [0.5], qt.optim.Adam(learning_rate=0.05), budget=budget, seed=3, run_dir=run)
    with pytest.raises(qt.CheckpointMismatchError, match=r"optimizer.learning_rate 0.05 → 0.07"):
        qt.fit(
            OBJECTIVE,
            [0.5],
            qt.optim.Adam(learning_rate=0.07),
            budget=budget,
            seed=3,
            run_dir=run,
            resume=True,
        )
