"""``mitigation`` in run configs: the options it builds, every mistake by key, runs and plans."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

import qtrain as qt
from qtrain.app.build import make_backend, make_executor, prepare
from qtrain.app.config import load_config, parse_config
from qtrain.app.noise_config import restrict_calibration
from qtrain.app.runner import (
    gradient_from_config,
    plan_from_config,
    resume_from_dir,
    train_from_config,
)
from qtrain.backends.faulty import FaultyBackend
from qtrain.mitigation.mitigated import Mitigated

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "examples" / "calibrations" / "fake_5q.json"
NOISE = {"after_all": [{"depolarizing": {"p": 0.02}}], "readout": [{"p01": 0.03, "p10": 0.06}]}
TINY = {
    "name": "tiny-mitigated",
    "seed": 3,
    "circuit": {"ansatz": "hardware_efficient", "n_qubits": 2, "layers": 1},
    "observable": "Z0 + Z1",
    "theta0": [0.4, 0.4, 0.4, 0.4],
    "optimizer": {"name": "adam", "learning_rate": 0.1},
    "gradient": {"method": "param-shift", "shots": 200},
    "budget": {"max_steps": 4},
    "backend": {"noise": NOISE},
    "mitigation": {"readout": {"shots": 500}, "zne": {"factors": [1, 3, 5]}},
}


def with_mitigation(mitigation, **overrides):
    return {**TINY, "mitigation": mitigation, **overrides}


def problems_of(data):
    """The problem lines of the ConfigError ``data`` raises (indented by two spaces)."""
    with pytest.raises(qt.ConfigError) as info:
        parse_config(data)
    return [line.strip() for line in str(info.value).splitlines() if line.startswith("  ")]


def test_the_section_builds_the_mitigated_backend_around_the_configured_one():
    zne = {
        "factors": [1, 3, 5],
        "extrapolation": ["polynomial", 2],
        "folding": "local",
        "seed": 4,
        "shot_fractions": [0.5, 0.3, 0.2],
    }
    config = parse_config(with_mitigation({"readout": True, "zne": zne}))
    backend = make_backend(config.backend, config.mitigation)
    assert isinstance(backend, Mitigated) and isinstance(backend.inner, qt.LocalSimulator)
    assert backend.readout == qt.ReadoutMitigation()
    assert backend.zne == qt.ZNE(
        factors=(1, 3, 5),
        extrapolation=("polynomial", 2),
        folding="local",
        seed=4,
        shot_fractions=(0.5, 0.3, 0.2),
    )
    measured = {"shots": 1000, "max_age_s": 3600, "seed": 3}
    config = parse_config(with_mitigation({"readout": measured, "zne": False}))
    backend = make_executor(config, None).backend  # what runs use
    assert isinstance(backend, Mitigated) and backend.zne is None
    assert backend.readout == qt.ReadoutMitigation(shots=1000, max_age_s=3600, seed=3)
    assert make_backend(config.backend) is not backend and not isinstance(
        make_backend(config.backend), Mitigated
    )


def test_mitigation_wraps_the_faulty_backend_so_faults_hit_the_inner_calls():
    faulty = {"name": "faulty", "seed": 1, "failure_rate": 0.3, "inner": {"noise": NOISE}}
    config = parse_config(with_mitigation({"zne": True}, backend=faulty))
    backend = make_backend(config.backend, config.mitigation)
    assert isinstance(backend, Mitigated) and isinstance(backend.inner, FaultyBackend)
    assert backend.zne == qt.ZNE() and backend.readout is None


def test_a_mitigated_faulty_run_retries_the_inner_faults_and_finishes(tmp_path):
    faulty = {"name": "faulty", "seed": 2, "failure_rate": 0.3, "partial_rate": 0.2}
    config = parse_config(
        {
            **TINY,
            "backend": {**faulty, "inner": {"noise": NOISE}},
            "budget": {"max_steps": 2},
            "executor": {"retry": {"initial_s": 0, "max_s": 0, "jitter_s": 0}},
        }
    )
    result, _ = train_from_config(config, run_dir=tmp_path / "run")
    assert result.steps == 2


def test_a_given_readout_calibration_is_read_relative_to_the_config(tmp_path):
    shutil.copy(CALIBRATION, tmp_path / "device.json")
    readout = {"calibration": "device.json", "qubits": [1, 2]}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(with_mitigation({"readout": readout})))
    config = load_config(path)
    backend = make_backend(config.backend, config.mitigation)
    expected = restrict_calibration(qt.Calibration.load(CALIBRATION), [1, 2])
    assert isinstance(backend, Mitigated) and backend.readout.calibration == expected
    assert not backend.readout.measured


@pytest.mark.parametrize(
    ("mitigation", "key", "says"),
    [
        ({"readout": True, "zne": {"factor": [1, 3]}}, "mitigation.zne.factor", "unknown key"),
        ({"readot": True}, "mitigation.readot", "allowed: readout, zne, fingerprint"),
        ({"readout": {"shot": 9}}, "mitigation.readout.shot", "allowed: calibration, qubits"),
        ({"zne": {"factors": [0.5, 1]}}, "mitigation.zne.factors", ">= 1"),
        ({"zne": {"factors": [1, 3, 2]}}, "mitigation.zne.factors", "strictly increasing"),
        ({"zne": {"factors": [1, 1.5, 2]}}, "mitigation.zne.factors", "folding='local'"),
        ({"zne": {"factors": [1]}}, "mitigation.zne.factors", "at least two"),
        ({"zne": {"extrapolation": "cubic"}}, "mitigation.zne.extrapolation", "'cubic'"),
        (
            {"zne": {"extrapolation": ["polynomial", 3]}},
            "mitigation.zne.extrapolation",
            "at least 4 scale factors",
        ),
        ({"zne": {"folding": "sideways"}}, "mitigation.zne.folding", "'sideways'"),
        ({"zne": {"shot_fractions": [0.5, 0.5]}}, "mitigation.zne.shot_fractions", "3 positive"),
        ({"zne": {"on_failure": "ignore"}}, "mitigation.zne.on_failure", "'ignore'"),
        ({"readout": {"shots": 1}}, "mitigation.readout.shots", "greater than or equal to 2"),
        ({"readout": {"qubits": [0, 1]}}, "mitigation.readout.qubits", "give calibration"),
        ({"readout": "yes"}, "mitigation.readout", "valid dictionary"),
        ({}, "mitigation", "nothing to mitigate"),
        ({"readout": False, "zne": False}, "mitigation", "nothing to mitigate"),
    ],
)
def test_every_mistake_is_one_line_naming_its_key(mitigation, key, says):
    (line,) = problems_of(with_mitigation(mitigation))
    assert line.startswith(f"{key}: ") and says in line, line


def test_readout_calibration_mistakes_name_the_key(tmp_path):
    shutil.copy(CALIBRATION, tmp_path / "device.json")
    (tmp_path / "garbage.json").write_text("{not json")
    (tmp_path / "other.json").write_text(json.dumps({"id": "x"}))
    cases = [
        ({"calibration": "missing.json"}, "calibration", "cannot read"),
        ({"calibration": "garbage.json"}, "calibration", "not a valid qt.Calibration"),
        ({"calibration": "other.json"}, "calibration", "not a valid qt.Calibration"),
        ({"calibration": "device.json", "qubits": [7]}, "qubits", "device qubit 7"),
        ({"calibration": "device.json", "shots": 100}, "shots", "given calibration"),
    ]
    for readout, key, says in cases:
        path = tmp_path / "run.yaml"
        path.write_text(yaml.safe_dump(with_mitigation({"readout": readout})))
        with pytest.raises(qt.ConfigError) as info:
            load_config(path)
        (line,) = [s.strip() for s in str(info.value).splitlines() if s.startswith("  ")]
        assert line.startswith(f"mitigation.readout.{key}: ") and says in line, line


def test_gradients_that_cannot_run_through_mitigation_are_refused_at_load_time():
    ideal = {"backend": {"name": "local"}, "gradient": {"method": "adjoint"}}
    assert parse_config({**TINY, **ideal, "mitigation": None}).gradient.method == "adjoint"
    (line,) = problems_of(with_mitigation({"zne": True}, **ideal))
    assert line.startswith("gradient.method: 'adjoint'") and "mitigation" in line
    (line,) = problems_of(with_mitigation({"zne": True}, gradient={"shots": 2}))
    assert line.startswith("gradient.shots: ") and "at least 6" in line
    best = parse_config(with_mitigation({"readout": True}, gradient={"method": "best"}))
    _, evaluation = gradient_from_config(best)
    assert evaluation.method == "param-shift"  # best: no adjoint through a wrapper


def test_a_run_pins_the_calibration_seed_and_refuses_an_edited_section():
    config = parse_config(with_mitigation({"readout": True, "zne": {"factors": [1, 3]}}))
    pinned = prepare(config).config.mitigation
    assert pinned is not None and pinned.readout.seed is not None and pinned.fingerprint
    written = prepare(config).config.model_dump(mode="json")  # what config.yaml holds
    assert parse_config(written).mitigation == pinned  # the same seed every time
    written["mitigation"]["zne"]["factors"] = [1, 3, 5]
    (line,) = problems_of(written)
    assert line.startswith("mitigation.fingerprint: the mitigation is") and "changed" in line


def test_a_mitigated_run_resumes_bit_identically_and_refuses_an_edited_section(tmp_path):
    straight, _ = train_from_config(parse_config(TINY), run_dir=tmp_path / "straight")
    assert straight.summary["mitigation"]["mitigated_loss"] == straight.final_loss
    assert straight.summary["noise"]["noisy_loss"] != straight.final_loss
    short = parse_config({**TINY, "budget": {"max_steps": 2}})
    _, directory = train_from_config(short, run_dir=tmp_path / "split")
    resumed = resume_from_dir(directory.path, budget={"max_steps": 4})
    assert resumed.theta.tobytes() == straight.theta.tobytes()
    saved = yaml.safe_load(directory.config.read_text())
    saved["mitigation"]["zne"]["extrapolation"] = "linear"
    directory.config.write_text(yaml.safe_dump(saved))
    with pytest.raises(qt.ConfigError, match=r"mitigation\.fingerprint"):
        resume_from_dir(directory.path, budget={"max_steps": 6})


def test_the_plan_prices_mitigation_per_step_and_for_the_run():
    plain = plan_from_config(parse_config({**TINY, "mitigation": None}))
    budget = {"max_steps": 50, "max_shots": 30_000}
    report = plan_from_config(parse_config({**TINY, "budget": budget}))
    assert "mitigation" not in plain and plain["step"]["shots"] == report["step"]["shots"]
    spec, step = report["mitigation"], report["step"]
    assert spec["step"]["circuits"] == 3 * spec["unmitigated"]["circuits"] == 3 * step["tasks"]
    assert spec["step"]["rows"] == 3 * step["rows"] and spec["step"]["shots"] == step["shots"]
    assert spec["calibration"] == {"circuits": 2, "shots": 2 * 2 * 500}  # 2 circuits × 2 wires
    weights = np.array([15, -10, 3]) / 8  # Richardson at 1, 3, 5
    assert spec["variance_factor"] == pytest.approx(np.sum(np.abs(weights)) ** 2)
    assert spec["stderr_factor"] == pytest.approx(3.5)
    assert report["steps"] == (30_000 - 2000) // step["shots"]  # the calibration is paid first
    assert spec["total_shots"] == report["steps"] * step["shots"] + 2000
