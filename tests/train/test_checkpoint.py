import json
import os

import numpy as np
import pytest

import qtrain as qt
from qtrain.testing import make_record
from qtrain.train.checkpoint import (
    Checkpoint,
    load_checkpoint,
    save_checkpoint,
    write_json_atomic,
)


def record(step):
    return make_record(
        step,
        loss=-1.0 + step,
        loss_stderr=0.1,
        grad_norm=0.5,
        grad_norm_stderr=0.05,
        grad_snr=10.0,
        shots=100,
        shots_total=100 * (step + 1),
        circuits=3,
        seconds=0.01,
        elapsed=0.01 * (step + 1),
        method="param-shift",
        calibration_ids=("cal-1",),
        gradient=(0.1, 0.2),
    )


def checkpoint():
    rng = np.random.Generator(np.random.PCG64(7))
    rng.integers(0, 10, 5)
    theta = np.array([0.1, 1 / 3, np.pi, -2.5e-300])
    return Checkpoint(
        "abc" * 10,
        7,
        2,
        theta,
        {"step": 2, "m": [1 / 7, 0.2]},
        dict(rng.bit_generator.state),
        200,
        0.5,
        (record(0), record(1)),
    )


def test_checkpoint_round_trip_is_exact(tmp_path):
    original = checkpoint()
    save_checkpoint(tmp_path / "c.json", original)
    loaded = load_checkpoint(tmp_path / "c.json")
    assert loaded.theta.tobytes() == original.theta.tobytes()
    assert loaded.optimizer_state == original.optimizer_state
    assert loaded.rng_state == original.rng_state
    assert [r.loss for r in loaded.history] == [r.loss for r in original.history]
    assert all(r.gradient == () for r in loaded.history)  # vectors live in metrics.jsonl
    rng = np.random.Generator(np.random.PCG64())
    rng.bit_generator.state = loaded.rng_state
    expected = np.random.Generator(np.random.PCG64(7))
    expected.integers(0, 10, 5)
    assert rng.integers(0, 1 << 60) == expected.integers(0, 1 << 60)


def test_atomic_write_replaces_and_leaves_no_temporary(tmp_path):
    path = tmp_path / "data.json"
    write_json_atomic(path, {"a": 1})
    write_json_atomic(path, {"a": 2})
    assert json.loads(path.read_text()) == {"a": 2}
    assert os.listdir(tmp_path) == ["data.json"]


def test_load_checkpoint_errors_are_clear(tmp_path):
    with pytest.raises(qt.CheckpointError, match="cannot read"):
        load_checkpoint(tmp_path / "missing.json")
    (tmp_path / "torn.json").write_text('{"format": "qtrain.check')
    with pytest.raises(qt.CheckpointError, match="not valid JSON"):
        load_checkpoint(tmp_path / "torn.json")
    (tmp_path / "other.json").write_text('{"format": "something/2"}')
    with pytest.raises(qt.CheckpointError, match="format"):
        load_checkpoint(tmp_path / "other.json")
    data = checkpoint().to_dict()
    del data["theta"]
    (tmp_path / "partial.json").write_text(json.dumps(data))
    with pytest.raises(qt.CheckpointError, match="incomplete"):
        load_checkpoint(tmp_path / "partial.json")


def test_checkpoint_refuses_another_config(tmp_path):
    with pytest.raises(qt.CheckpointMismatchError, match="abcabcabcabc"):
        checkpoint().check_config("f" * 64, tmp_path / "c.json")
    checkpoint().check_config("abc" * 10, tmp_path / "c.json")  # the same config is accepted


def test_checkpoint_keeps_the_monitor_state_and_reads_old_files(tmp_path):
    from dataclasses import replace  # noqa: PLC0415 - only here

    state = {"snr": [0.5, 1.25], "factor": 2.0, "active_layers": 0, "alarm": True, "fired": 1}
    save_checkpoint(tmp_path / "c.json", replace(checkpoint(), monitor_state=state))
    assert load_checkpoint(tmp_path / "c.json").monitor_state == state
    old = checkpoint().to_dict()
    del old["monitor_state"]  # a checkpoint written before monitors existed
    assert Checkpoint.from_dict(old).monitor_state is None
