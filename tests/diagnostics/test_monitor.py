import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.diagnostics.monitor import GradientMonitor

NOISE = np.full(4, 0.1)
LOUD = np.array([1.0, -0.8, 0.5, 0.9])  # SNR ≈ 16
QUIET = np.array([0.01, -0.02, 0.0, 0.01])  # SNR ≈ 0.12


def feed(monitor, gradients, state=None, stderr=NOISE):
    state = monitor.init(4) if state is None else state
    records = []
    for g in gradients:
        state, record = monitor.observe(state, np.asarray(g), stderr)
        records.append(record)
        state = json.loads(json.dumps(state))  # what a checkpoint keeps
    return state, records


def actions(records):
    return [r["action"] for r in records]


def test_healthy_gradients_never_fire():
    for policy in ("warn", "stop", "raise_shots"):
        _, records = feed(GradientMonitor(policy=policy, window=3), [LOUD] * 10)
        assert actions(records) == [None] * 10
        assert records[-1]["snr"] == pytest.approx(np.linalg.norm(LOUD) / 0.2)
        assert records[-1]["component_snr_median"] == pytest.approx(8.5)
        assert records[-1]["below"] == 0.0


def test_warn_fires_once_per_crossing_and_rearms():
    monitor = GradientMonitor(policy="warn", window=3)
    _, records = feed(monitor, [LOUD] * 3 + [QUIET] * 6 + [LOUD] * 4 + [QUIET] * 4)
    fired = [i for i, a in enumerate(actions(records)) if a == "warn"]
    assert fired == [5, 15]  # the window is all quiet at step 5; again after recovering
    assert records[4]["snr_window"] > 1 > records[5]["snr_window"]


def test_stop_fires_when_the_window_mean_crosses():
    _, records = feed(GradientMonitor(policy="stop", window=2, threshold=2.0), [LOUD, QUIET, QUIET])
    assert actions(records) == [None, None, "stop"]


def test_raise_shots_multiplies_and_restarts_the_window_up_to_its_cap():
    monitor = GradientMonitor(policy="raise_shots", window=2, factor=3.0, max_factor=9.0)
    state, records = feed(monitor, [QUIET] * 8)
    assert actions(records) == [None, "raise_shots", None, "raise_shots", None, "warn", None, None]
    assert [r["shot_factor"] for r in records][:4] == [1.0, 3.0, 3.0, 9.0]
    assert state["factor"] == 9.0 and state["fired"] == 3


def test_layerwise_unfreezes_the_next_groups():
    monitor = GradientMonitor(policy="layerwise", window=2, layers=[[0, 1], [2], [3]])
    state = monitor.init(4)
    assert monitor.active(state, 4).tolist() == [True, True, False, False]
    gradient = np.array([0.0, 0.01, 5.0, 5.0])  # loud only where frozen: SNR of the active part
    state, records = feed(monitor, [gradient] * 6, state)
    assert actions(records) == [None, "unfreeze", None, None, None, None]
    assert monitor.active(state, 4).tolist() == [True, True, True, False]
    assert records[-1]["active_layers"] == 2 and records[2]["snr"] > 10
    equal = GradientMonitor(policy="layerwise", layers=2, start_layers=2)
    assert equal.groups(6) == ((0, 1, 2), (3, 4, 5)) and equal.active(equal.init(6), 6).all()


def test_exact_gradients_are_recorded_and_never_fire():
    _, records = feed(GradientMonitor(policy="stop", window=1), [QUIET] * 3, stderr=None)
    assert actions(records) == [None] * 3 and records[0]["exact"] and records[0]["snr"] is None


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "pause"}, "unknown monitor policy 'pause'"),
        ({"threshold": 0}, "threshold must be a number > 0"),
        ({"window": 1.5}, "window must be an int"),
        ({"factor": 1.0}, "factor must be a number > 1"),
        ({"policy": "layerwise"}, r"needs layers \(a count"),
    ],
)
def test_bad_monitor_settings_are_named(kwargs, message):
    with pytest.raises(qt.ConfigError, match=message):
        GradientMonitor(**kwargs)


def test_layer_groups_are_checked_against_the_parameters():
    with pytest.raises(qt.ConfigError, match="layers=3 does not divide the 4 parameters"):
        GradientMonitor(policy="layerwise", layers=3).init(4)
    with pytest.raises(qt.ConfigError, match=r"must partition the parameters 0\.\.3"):
        GradientMonitor(policy="layerwise", layers=[[0, 1], [1, 2, 3]]).init(4)
    config = GradientMonitor(policy="layerwise", layers=[[1, 0], [2, 3]]).config()
    assert config["layers"] == [[1, 0], [2, 3]] and json.loads(json.dumps(config)) == config
