import math

import numpy as np
import pytest

import qtrain as qt
from qtrain.testing import make_record
from qtrain.train.records import StepRecord, gradient_summary


def test_record_round_trip_and_compact_form():
    record = make_record(
        3, loss=-1.1, grad_norm=0.2, circuits=3, seconds=0.01, elapsed=0.05, gradient=(0.1, -0.2)
    )
    assert StepRecord.from_dict(record.to_dict()) == record
    assert record.to_dict(with_gradient=False)["gradient"] == []


def test_record_from_dict_rejects_foreign_fields():
    with pytest.raises(qt.ConfigError, match="not a step record"):
        StepRecord.from_dict({"step": 1, "loss": 0.0})


def test_gradient_summary_delta_method():
    g, s = np.array([3.0, 4.0]), np.array([0.3, 0.4])
    norm, norm_err, snr = gradient_summary(g, s)
    assert norm == 5.0
    assert norm_err == pytest.approx(math.sqrt((0.6 * 0.3) ** 2 + (0.8 * 0.4) ** 2))
    assert snr == pytest.approx(5.0 / 0.5)
    assert gradient_summary(g, None) == (5.0, None, None)


def test_gradient_summary_norm_error_matches_sampling():
    rng = np.random.default_rng(0)
    g, s = np.array([1.0, -2.0, 0.5]), np.array([0.05, 0.02, 0.04])
    norms = np.linalg.norm(g + rng.normal(size=(20000, 3)) * s, axis=1)
    assert norms.std() == pytest.approx(gradient_summary(g, s)[1], rel=0.03)
