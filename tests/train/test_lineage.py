"""Lineage: every step's checkpoint kept, a branch from any step, output checksums."""

import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import CheckpointError
from qtrain.train.checkpoint import Checkpoint, load_checkpoint
from qtrain.train.lineage import append_lineage, branch, lineage_checkpoint, lineage_entries
from qtrain.train.rundir import RunDir

OBJECTIVE = qt.Objective.single(qt.ansatz.hardware_efficient(2, 1), qt.Z(0) + qt.Z(1))


def run(run_dir, steps, *, resume=False, seed=7):
    return qt.fit(
        OBJECTIVE,
        np.full(4, 0.4),
        qt.optim.Adam(learning_rate=0.1),
        shots=100,
        budget=qt.Budget(max_steps=steps),
        seed=seed,
        run_dir=run_dir,
        resume=resume,
    )


def test_one_entry_per_step_holding_the_state_after_it(tmp_path):
    result = run(tmp_path / "run", 5)
    entries = lineage_entries(RunDir(tmp_path / "run").lineage)
    assert sorted(entries) == [1, 2, 3, 4, 5]  # the finish adds none
    for step, (_, data) in entries.items():
        checkpoint = Checkpoint.from_dict(data)
        assert checkpoint.records == step and checkpoint.stopped_by is None
        if step < 5:  # θ after `step` steps is θ_step of the next record
            assert checkpoint.theta.tolist() == list(result.history[step].theta)
    assert np.array_equal(Checkpoint.from_dict(entries[5][1]).theta, result.theta)


def test_a_branch_continues_exactly_as_the_parent_did(tmp_path):
    parent = run(tmp_path / "parent", 6)
    for name in ("a", "b"):
        checkpoint = branch(RunDir(tmp_path / "parent"), 3, RunDir(tmp_path / name))
        assert checkpoint is not None
        assert checkpoint.theta.tolist() == list(parent.history[3].theta)  # θ after 3 steps
        child = run(tmp_path / name, 6, resume=True)
        assert np.array_equal(child.theta, parent.theta)  # bit for bit
        assert [r.theta for r in child.history] == [r.theta for r in parent.history]
        info = json.loads((tmp_path / name / "run.json").read_text())
        assert info["parent"] == {"run": str((tmp_path / "parent").resolve()), "step": 3}
        assert "settings" in info  # fit rewrote run.json and kept the parent
    head = (tmp_path / "parent" / "metrics.jsonl").read_bytes().splitlines()[:3]
    assert (tmp_path / "a" / "metrics.jsonl").read_bytes().splitlines()[:3] == head
    assert sorted(lineage_entries(RunDir(tmp_path / "a").lineage)) == [1, 2, 3, 4, 5, 6]


def test_branch_from_zero_starts_fresh_and_from_the_last_step_without_lineage(tmp_path):
    parent = run(tmp_path / "parent", 3)
    assert branch(RunDir(tmp_path / "parent"), 0, RunDir(tmp_path / "zero")) is None
    assert np.array_equal(run(tmp_path / "zero", 3, resume=True).theta, parent.theta)
    RunDir(tmp_path / "parent").lineage.unlink()  # a run from before lineage was kept
    last = lineage_checkpoint(RunDir(tmp_path / "parent"), 3)
    assert last is not None and np.array_equal(last.theta, parent.theta)
    with pytest.raises(CheckpointError, match="keeps no lineage for step 2"):
        lineage_checkpoint(RunDir(tmp_path / "parent"), 2)


@pytest.mark.parametrize("step", [-1, 4, 99])
def test_a_step_out_of_range_is_one_clear_error_and_nothing_is_written(tmp_path, step):
    run(tmp_path / "parent", 3)
    with pytest.raises(CheckpointError, match=rf"--from-step {step} is out of range: .* 0 to 3"):
        branch(RunDir(tmp_path / "parent"), step, RunDir(tmp_path / "child"))
    assert not (tmp_path / "child").exists()


def test_a_branch_never_overwrites_a_run(tmp_path):
    run(tmp_path / "parent", 2)
    run(tmp_path / "other", 2)
    with pytest.raises(CheckpointError, match="already holds a run"):
        branch(RunDir(tmp_path / "parent"), 1, RunDir(tmp_path / "other"))


def test_a_torn_last_line_is_cut_before_the_next_append(tmp_path):
    run(tmp_path / "run", 2)
    directory = RunDir(tmp_path / "run")
    with open(directory.lineage, "ab") as handle:
        handle.write(b'{"step": 3, "the')  # a crash mid-write
    assert sorted(lineage_entries(directory.lineage)) == [1, 2]
    append_lineage(directory.lineage, load_checkpoint(directory.checkpoint))
    lines = directory.lineage.read_bytes().splitlines()
    assert len(lines) == 3 and all(json.loads(line)["step"] in (1, 2) for line in lines)


def test_a_step_retried_after_a_crash_reads_its_last_entry(tmp_path):
    run(tmp_path / "run", 2)
    directory = RunDir(tmp_path / "run")
    data = json.loads(directory.lineage.read_bytes().splitlines()[-1])
    data["elapsed"] = 123.0
    with open(directory.lineage, "ab") as handle:
        handle.write(json.dumps(data).encode() + b"\n")
    assert lineage_entries(directory.lineage)[2][1]["elapsed"] == 123.0


def test_damaged_lineage_is_named(tmp_path):
    run(tmp_path / "run", 2)
    directory = RunDir(tmp_path / "run")
    directory.lineage.write_bytes(b"not json\n")
    with pytest.raises(CheckpointError, match="line 1 is not a lineage entry"):
        lineage_checkpoint(directory, 1)


def test_identical_seeded_runs_have_equal_deterministic_checksums(tmp_path):
    first, second, other = (tmp_path / n for n in ("first", "second", "other"))
    run(first, 3)
    run(second, 3)
    run(other, 3, seed=8)

    def outputs(folder):
        return json.loads((folder / "reproduce.json").read_text())["outputs"]

    assert outputs(first)["deterministic"] == outputs(second)["deterministic"]
    assert outputs(first)["deterministic"]["theta"] != outputs(other)["deterministic"]["theta"]
    assert set(outputs(first)["files"]) == {"checkpoint.json", "metrics.jsonl", "summary.json"}
    run(first, 5, resume=True)  # a resume rewrites them at its finish
    run(tmp_path / "whole", 5)  # never stopped: the same numbers
    assert outputs(first)["deterministic"] == outputs(tmp_path / "whole")["deterministic"]
