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


def sixty_step_result(tmp_path=None):
    circuit = qt.Circuit(2).ry(0, qt.P(0)).ry(1, qt.P(1)).cnot(0, 1)
    objective = qt.Objective.single(circuit, qt.Z(0) @ qt.Z(1))
    return qt.fit(
        objective,
        np.array([0.5, 0.1]),
        qt.optim.Adam(0.2),
        budget=qt.Budget(max_steps=60),
        shots=100,
        seed=3,
        run_dir=tmp_path,
    )


def test_fit_result_repr_is_a_few_lines_of_plain_numbers(tmp_path):
    result = sixty_step_result(tmp_path / "run")
    text = repr(result)
    assert len(text) < 600 and len(text.splitlines()) <= 10  # was 25 k characters
    assert "np.float64" not in text and "StepRecord" not in text
    assert text.splitlines()[0] == "FitResult(60 steps, θ (2,))"
    last = result.history[-1]
    assert "stopped by          max_steps" in text
    assert f"{last.loss:.6f} ± {last.loss_stderr:.6f}" in text
    assert f"{result.final_loss:.8g} (exact)" in text
    assert str(tmp_path / "run") in text


def test_fit_result_html_is_a_small_table():
    html = sixty_step_result()._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == 7  # no run dir row
    assert "max_steps" in html and len(html) < 2000
