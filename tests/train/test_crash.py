"""SIGKILL at a random moment, then resume: the final parameters are bit-identical."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import qtrain as qt

CHILD = textwrap.dedent(
    """
    import sys
    import numpy as np
    import qtrain as qt

    def problem():
        circuit = qt.ansatz.hardware_efficient(3, 2)
        H = qt.Z(0) @ qt.Z(1) + 0.5 * qt.X(2)
        return qt.Objective.single(circuit, H), np.full(circuit.n_params, 0.3)

    def run(run_dir, resume, latency):
        objective, theta0 = problem()
        slow = qt.FaultyBackend(qt.LocalSimulator(), seed=0, latency_s=latency)
        # Small chunks: a kill mid-step leaves some of the step's rows in the store.
        executor = qt.Executor(slow, store=qt.ResultStore(run_dir + "/results.sqlite"),
                               max_rows=5, tasks_per_call=1)
        return qt.fit(objective, theta0, qt.optim.Adam(0.05), shots=100, seed=3,
                      budget=qt.Budget(max_steps=12), run_dir=run_dir, resume=resume,
                      executor=executor)

    if __name__ == "__main__":
        run(sys.argv[1], False, 0.02)
    """
)


def load_child(tmp_path):
    path = tmp_path / "child.py"
    path.write_text(CHILD)
    namespace: dict[str, object] = {}
    exec(compile(CHILD, str(path), "exec"), namespace)  # the same code, in this process
    return path, namespace


def wait_for_mid_step(run_dir, rows_per_step):
    """Until the store holds rows of a step the checkpoint does not vouch for yet."""
    store = qt.ResultStore(run_dir / "results.sqlite")
    while True:
        done = qt.train.load_checkpoint(run_dir / "checkpoint.json").step
        if len(store) > done * rows_per_step:
            return
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize("moment", [0, 1, 2, "mid-step"])
def test_sigkill_mid_run_then_resume_is_bit_identical(tmp_path, moment):
    script, child = load_child(tmp_path)
    straight = child["run"](str(tmp_path / "straight"), False, 0.0)
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    process = subprocess.Popen([sys.executable, str(script), str(run_dir)])
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "checkpoint.json").exists():
            assert process.poll() is None, "the child ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.01)
        if moment == "mid-step":
            wait_for_mid_step(run_dir, rows_per_step=straight.history[0].circuits)
        else:
            time.sleep(np.random.default_rng(moment).uniform(0.0, 0.6))
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    assert process.returncode == -signal.SIGKILL
    interrupted_at = qt.train.load_checkpoint(run_dir / "checkpoint.json").step
    assert interrupted_at < 12, "the kill came after the run finished"
    resumed = child["run"](str(run_dir), True, 0.0)
    if moment == "mid-step":  # the rows finished before the kill were not run again
        assert resumed.history[interrupted_at].cached > 0
    assert resumed.theta.tobytes() == straight.theta.tobytes()
    assert resumed.shots == straight.shots
    assert [r.loss for r in resumed.history] == [r.loss for r in straight.history]
    assert len(qt.train.read_metrics(run_dir / "metrics.jsonl")) == 12
