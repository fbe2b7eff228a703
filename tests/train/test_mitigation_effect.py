"""A step's mitigation effect: the raw (unmitigated) loss beside the mitigated one."""

import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.train.evaluation import raw_results
from qtrain.train.reporting import mitigation_effect

NOISE = qt.NoiseModel().readout(qt.noise.readout_error(0.06, 0.12))
CIRCUIT = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
OBJECTIVE = qt.Objective.single(CIRCUIT, qt.Z(0) @ qt.Z(1) + 0.5 * qt.Z(0))
THETA0 = np.array([0.4, 2.6])


def noisy():
    return qt.LocalSimulator(noise=NOISE)


def mitigated():
    return qt.Mitigated(noisy(), readout=True)


@pytest.mark.parametrize("method", ["param-shift", "spsa"])
def test_the_raw_loss_is_the_noisy_value_of_the_same_rows(method):
    backend = mitigated()
    raws, mitigated_losses, noisy_values = [], [], []
    for seed in range(12):
        tasks, assemble = OBJECTIVE.plan(
            THETA0, method=method, shots=4000, seed=seed, backend=backend
        )
        evaluation = assemble(backend.run(tasks))
        raws.append(evaluation.raw_loss)
        mitigated_losses.append(evaluation.loss)
    noisy_values = OBJECTIVE.exact_loss(THETA0, noisy())
    ideal = OBJECTIVE.exact_loss(THETA0)
    raws = np.array(raws)
    assert abs(raws.mean() - noisy_values) < 4 * raws.std(ddof=1) / np.sqrt(raws.size)
    assert abs(raws.mean() - ideal) > 0.1  # the readout error moves it this far
    assert abs(np.mean(mitigated_losses) - ideal) < 0.02


def test_unmitigated_results_have_no_raw_loss():
    backend = noisy()
    tasks, assemble = OBJECTIVE.plan(THETA0, method="param-shift", shots=500, seed=1)
    results = backend.run(tasks)
    assert raw_results(results) is None
    evaluation = assemble(results)
    assert evaluation.raw_loss is None and mitigation_effect(evaluation) is None


def test_exact_mitigated_values_have_no_raw_estimate():
    tasks, assemble = OBJECTIVE.plan(THETA0, method="param-shift", backend=mitigated())
    evaluation = assemble(mitigated().run(tasks))
    assert evaluation.raw_loss is not None and np.isnan(evaluation.raw_loss)
    assert mitigation_effect(evaluation) == {"raw": None, "mitigated": evaluation.loss}


def test_a_run_without_mitigation_records_none():
    result = qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=500,
        seed=7,
        budget=qt.Budget(max_steps=3),
        backend=noisy(),
    )
    assert [r.mitigation for r in result.history] == [None, None, None]


def check_raw_against_noise(history):
    """``raw`` reads the noisy value, ``mitigated`` the ideal one, step by step."""
    thetas = [np.array(r.theta) for r in history]
    raw = np.array([r.mitigation["raw"] for r in history])
    mitigated_loss = np.array([r.mitigation["mitigated"] for r in history])
    ideal = np.array([OBJECTIVE.exact_loss(t) for t in thetas])
    noisy_exact = np.array([OBJECTIVE.exact_loss(t, noisy()) for t in thetas])
    assert np.array_equal(mitigated_loss, [r.loss for r in history])
    # raw is farther from the ideal value than the mitigated loss, on average ...
    assert np.mean(np.abs(raw - ideal)) > 3 * np.mean(np.abs(mitigated_loss - ideal))
    # ... because it is the noisy (density-matrix) value, within its error bars.
    residual = raw - noisy_exact
    assert abs(residual.mean()) < 4 * residual.std(ddof=1) / np.sqrt(residual.size)
    assert np.max(np.abs(residual)) < 0.1


def test_a_mitigated_run_records_raw_and_mitigated_every_step(tmp_path):
    result = qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=2000,
        seed=7,
        budget=qt.Budget(max_steps=12),
        backend=mitigated(),
        run_dir=tmp_path / "run",
    )
    assert all(r.mitigation is not None for r in result.history)
    check_raw_against_noise(result.history)
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["mitigation"] for line in lines] == [
        r.mitigation for r in result.history
    ]


def test_mitigation_behind_a_faulty_backend_is_still_recorded():
    faulty = qt.FaultyBackend(mitigated(), seed=3, failure_rate=0.2, partial_rate=0.1)
    result = qt.fit(
        OBJECTIVE,
        THETA0,
        qt.optim.Adam(learning_rate=0.1),
        shots=2000,
        seed=8,
        budget=qt.Budget(max_steps=8),
        backend=faulty,
    )
    assert all(r.mitigation is not None for r in result.history)
    assert sum(r.retries for r in result.history) > 0
    check_raw_against_noise(result.history)
