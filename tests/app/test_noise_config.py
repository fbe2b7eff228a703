"""``backend.noise`` in run configs: the YAML rules, calibrations, and every mistake by key."""

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml

import qtrain as qt
from qtrain.app.build import make_backend, prepare
from qtrain.app.config import load_config, parse_config
from qtrain.app.noise_config import restrict_calibration
from qtrain.backends.faulty import FaultyBackend

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION = ROOT / "examples" / "calibrations" / "fake_5q.json"
BASE = {"problem": {"name": "h2", "ansatz": "hea"}, "optimizer": {"name": "adam"}}
RULES = {
    "after": [
        {"gate": "RY", "channel": {"depolarizing": {"p": 0.01}}},
        {"gate": "CNOT", "channel": {"depolarizing": {"p": 0.03, "n_wires": 2}}},
        {"gate": "CNOT", "channel": {"thermal_relaxation": {"t1": 50, "t2": 40, "duration": 0.5}}},
        {"gate": "CNOT", "channel": {"bit_flip": {"p": 0.002}}, "wires": [1, 2]},
    ],
    "after_all": [{"amplitude_damping": {"gamma": 0.001}}],
    "before_measure": [{"channel": {"phase_flip": {"p": 0.01}}, "wires": 0}],
    "readout": [{"p01": 0.02, "p10": 0.05, "wires": None}, {"p01": 0.0, "p10": 0.1, "wires": [3]}],
}


def python_model():
    noise = qt.noise
    return (
        qt.NoiseModel()
        .after("RY", noise.depolarizing(0.01))
        .after("CNOT", noise.depolarizing(0.03, n_wires=2))
        .after("CNOT", noise.thermal_relaxation(50.0, 40.0, 0.5))
        .after("CNOT", noise.bit_flip(0.002), wires=(1, 2))
        .after_all(noise.amplitude_damping(0.001))
        .before_measure(noise.phase_flip(0.01), wires=0)
        .readout(noise.readout_error(0.02, 0.05), wires=None)
        .readout(noise.readout_error(0.0, 0.1), wires=3)
    )


def noisy(noise, **backend):
    return parse_config({**BASE, "backend": {"name": "local", "noise": noise, **backend}})


def error_of(data):
    with pytest.raises(qt.ConfigError) as info:
        parse_config(data)
    return str(info.value)


def test_rules_build_the_model_the_python_builder_builds():
    config = noisy(RULES, method="trajectories", trajectories=50)
    assert config.backend.noise_model().fingerprint() == python_model().fingerprint()
    simulator = make_backend(config.backend)
    assert simulator.noise.fingerprint() == python_model().fingerprint()
    assert (simulator.method, simulator.trajectories) == ("trajectories", 50)
    dumped = parse_config(config.model_dump(mode="json"))  # what a run folder's config holds
    assert dumped.backend.noise_model().fingerprint() == python_model().fingerprint()


def test_name_local_is_the_default_and_no_noise_is_ideal():
    config = parse_config({**BASE, "backend": {"noise": {"after_all": []}}})
    assert config.backend.name == "local" and config.backend.noise_model() is None
    assert make_backend(parse_config(BASE).backend).identity()["method"] == "statevector"


def test_every_channel_constructor_by_name_and_keywords():
    kraus = [[[1, 0], [0, "0.6"]], [[0, "0.8j"], [0, 0]]]  # complex entries as strings
    channels = [
        ({"bit_flip": {"p": 0.1}}, qt.noise.bit_flip(0.1)),
        ({"phase_flip": {"p": "1e-3"}}, qt.noise.phase_flip(1e-3)),  # YAML 1.1 reads a string
        ({"pauli_channel": {"px": 0.1, "py": 0.0, "pz": 0.2}}, qt.noise.pauli_channel(0.1, 0, 0.2)),
        ({"amplitude_damping": {"gamma": 0.2}}, qt.noise.amplitude_damping(0.2)),
        ({"phase_damping": {"gamma": 0.3}}, qt.noise.phase_damping(0.3)),
        (
            {
                "thermal_relaxation": {
                    "t1": 100,
                    "t2": 80,
                    "duration": 0.3,
                    "excited_population": 0.1,
                }
            },
            qt.noise.thermal_relaxation(100, 80, 0.3, 0.1),
        ),
        (
            {"kraus": {"operators": kraus}},
            qt.noise.kraus([[[1, 0], [0, 0.6]], [[0, 0.8j], [0, 0]]]),
        ),
    ]
    for spec, channel in channels:
        model = noisy({"after_all": [spec]}).backend.noise_model()
        assert model == qt.NoiseModel().after_all(channel), spec
    pair = {"tensor": {"channels": [{"bit_flip": {"p": 0.1}}, {"phase_flip": {"p": 0.2}}]}}
    model = noisy({"after": [{"gate": "CNOT", "channel": pair}]}).backend.noise_model()
    expected = qt.noise.tensor(qt.noise.bit_flip(0.1), qt.noise.phase_flip(0.2))
    assert model == qt.NoiseModel().after("CNOT", expected)


def channel_error(spec, where="after"):
    entry = {"gate": "RY", "channel": spec} if where == "after" else spec
    return error_of({**BASE, "backend": {"name": "local", "noise": {where: [entry]}}})


@pytest.mark.parametrize(
    ("spec", "where", "key", "says"),
    [
        ({"depolarising": {"p": 0.1}}, "after", "after[0].channel", "did you mean depolarizing"),
        ({"depolarizing": {"prob": 0.1}}, "after", "after[0].channel", "no argument 'prob'"),
        ({"depolarizing": {}}, "after", "after[0].channel", "depolarizing needs p"),
        ({"depolarizing": {"p": 1.5}}, "after", "after[0].channel", "p must be in [0, 1.3"),
        ({"bit_flip": {"p": "lots"}}, "after", "after[0].channel", "p must be a number"),
        ({"bit_flip": 0.1}, "after", "after[0].channel", "arguments must be a mapping"),
        ("bit_flip", "after", "after[0].channel", "a channel is one {name: {arguments}}"),
        ({"bit_flip": {"p": 0.1}, "x": {}}, "after", "after[0].channel", "a channel is one"),
        (
            {"thermal_relaxation": {"t1": 10, "t2": 30, "duration": 1}},
            "after",
            "after[0].channel",
            "t2 = 30.0 > 2·t1",
        ),
        ({"kraus": {"operators": [[[1, 0], [0, 0.5]]]}}, "after", "after[0].channel", "trace"),
        ({"depolarizing": {"p": 0.1, "n_wires": 2}}, "after", "after[0]", "cannot follow"),
        ({"depolarizing": {"p": 0.1, "n_wires": 2}}, "after_all", "after_all[0]", "1-wire"),
        ({"p01": 1.5, "p10": 0.0}, "readout", "readout[0].p01", "less than or equal to 1"),
        ({"p01": 0.1, "p10": 0.0, "wires": [0, 0]}, "readout", "readout[0].wires", "distinct"),
        ({"p01": 0.1}, "readout", "readout[0].p10", "Field required"),
        ({"channel": {"bit_flip": {"p": 2}}}, "before_measure", "before_measure[0].channel", "p"),
    ],
)
def test_every_mistake_names_its_key(spec, where, key, says):
    message = channel_error(spec, where)
    assert f"backend.noise.{key}: " in message and says in message, message
    assert len([line for line in message.splitlines() if line.startswith("  ")]) == 1


def test_rule_mistakes_outside_channels_name_their_key():
    rule = {"gate": "RYY2", "channel": {"bit_flip": {"p": 0.1}}}
    message = error_of({**BASE, "backend": {"noise": {"after": [rule]}}})
    assert "backend.noise.after[0].gate: unknown gate 'RYY2'; did you mean RYY" in message
    rule = {"gate": "CNOT", "channel": {"bit_flip": {"p": 0.1}}, "wires": [0]}
    assert "backend.noise.after[0]: " in error_of({**BASE, "backend": {"noise": {"after": [rule]}}})
    message = error_of({**BASE, "backend": {"noise": {"aftr": []}}})
    assert "backend.noise.aftr: unknown key (allowed: after, after_all, before_measure" in message
    inner = {"name": "faulty", "inner": {"noise": {"after_all": [{"bit_flip": {"p": -1}}]}}}
    assert "backend.inner.noise.after_all[0]: bit_flip: p" in error_of({**BASE, "backend": inner})


def test_method_mistakes_name_their_key():
    channels = {"after_all": [{"bit_flip": {"p": 0.1}}]}
    message = error_of({**BASE, "backend": {"method": "statevector", "noise": channels}})
    assert "backend.method: 'statevector' simulates ideal gates" in message
    readout_only = noisy({"readout": [{"p01": 0.1, "p10": 0.1}]}, method="statevector")
    assert readout_only.backend.method == "statevector"
    message = error_of({**BASE, "backend": {"method": "exact"}})
    assert "backend.method: Input should be 'auto', 'statevector'" in message
    assert "backend.trajectories" in error_of({**BASE, "backend": {"trajectories": 1}})
    assert "backend.trajectories" in error_of(
        {**BASE, "backend": {"method": "density_matrix", "trajectories": 20}}
    )
    message = error_of({**BASE, "gradient": {"method": "adjoint"}, "backend": {"noise": channels}})
    assert "gradient.method: 'adjoint' differentiates a pure state" in message


def test_trajectories_without_shots_is_refused_before_a_run():
    config = noisy({"after_all": [{"bit_flip": {"p": 0.1}}]}, method="trajectories")
    with pytest.raises(qt.ConfigError, match=r"^backend\.method: method 'trajectories'"):
        prepare(config)
    sampled = parse_config({**config.model_dump(mode="json"), "gradient": {"shots": 100}})
    (simulation,) = prepare(sampled).simulation
    assert simulation.choice.method == "trajectories" and simulation.n_qubits == 4


def test_a_rule_on_a_wire_the_circuit_lacks_or_a_state_too_large_is_refused_before_a_run():
    config = noisy({"readout": [{"p01": 0.1, "p10": 0.1, "wires": [7]}]})
    with pytest.raises(qt.ConfigError, match=r"^backend\.noise: noise model names wire 7"):
        prepare(config)
    tiny = noisy({"after_all": [{"bit_flip": {"p": 0.1}}]}, memory_budget=1000)
    with pytest.raises(qt.ConfigError, match=r"^backend\.memory_budget: method 'density_matrix'"):
        prepare(tiny)


def write_config(folder: Path, noise: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump({**BASE, "backend": {"name": "local", "noise": noise}}))
    return path


def test_calibration_path_is_relative_to_the_config_file(tmp_path, monkeypatch):
    shutil.copy(CALIBRATION, tmp_path / "device.json")
    path = write_config(tmp_path / "configs", {"calibration": "../device.json"})
    monkeypatch.chdir(ROOT)  # not where the config is
    config = load_config(path)
    assert config.backend.noise.calibration == str((tmp_path / "device.json").absolute())
    device = qt.Calibration.load(tmp_path / "device.json")
    expected = qt.NoiseModel.from_calibration(device)
    assert config.backend.noise_model().fingerprint() == expected.fingerprint()
    assert "calibration fake-5q-2025-01-15 (" in config.backend.noise.source()


def test_qubits_pick_the_device_qubits_a_circuit_runs_on(tmp_path):
    device = qt.Calibration.load(CALIBRATION)
    small = restrict_calibration(device, [1, 2])
    assert small.n_qubits == 2 and small.t1 == device.t1[1:3] and small.id.endswith("@1,2")
    cnots = {g.wires for g in small.gates if g.gate == "CNOT"}
    assert cnots == {(0, 1), (1, 0)}  # device CNOT(1, 2) and CNOT(2, 1), renumbered
    config = noisy({"calibration": str(CALIBRATION), "qubits": [1, 2]})
    expected = qt.NoiseModel.from_calibration(small)
    assert config.backend.noise_model().fingerprint() == expected.fingerprint()
    with pytest.raises(qt.ConfigError, match=r"^backend\.noise: .*backend\.noise\.qubits"):
        prepare(noisy({"calibration": str(CALIBRATION)}))  # 5 device qubits, a 4-qubit circuit
    message = error_of(
        {**BASE, "backend": {"noise": {"calibration": str(CALIBRATION), "qubits": [5]}}}
    )
    assert "backend.noise.qubits: device qubit 5 does not exist (the calibration has 5)" in message
    message = error_of({**BASE, "backend": {"noise": {"qubits": [0]}}})
    assert "backend.noise.qubits: qubits picks device qubits of a calibration" in message


def test_calibration_mistakes_name_the_key(tmp_path):
    data = json.loads(CALIBRATION.read_text())
    data["qubits"][2]["t2"] = 3 * data["qubits"][2]["t1"]
    (tmp_path / "t2.json").write_text(json.dumps(data))
    (tmp_path / "garbage.json").write_text("{not json")
    cases = {
        "missing.json": "cannot read",
        "t2.json": "qubit 2 has t2",
        "garbage.json": "is not JSON",
    }
    for name, says in cases.items():
        with pytest.raises(qt.ConfigError) as info:
            load_config(write_config(tmp_path, {"calibration": name}))
        assert re.search(r"backend\.noise\.calibration: .*" + name, str(info.value)), info.value
        assert says in str(info.value)
    both = {"calibration": "t2.json", "readout": [{"p01": 0.1, "p10": 0.1}]}
    with pytest.raises(qt.ConfigError, match="give either calibration"):
        load_config(write_config(tmp_path, both))


def test_a_run_pins_the_model_and_refuses_a_changed_calibration(tmp_path):
    shutil.copy(CALIBRATION, tmp_path / "device.json")
    config = load_config(
        write_config(tmp_path, {"calibration": "device.json", "qubits": [0, 1, 2, 3]})
    )
    pinned = prepare(config).config
    fingerprint = config.backend.noise_model().fingerprint()
    assert pinned.backend.noise.fingerprint == fingerprint
    written = pinned.model_dump(mode="json")  # as the run folder's config.yaml holds it
    assert parse_config(written).backend.noise_model().fingerprint() == fingerprint
    data = json.loads((tmp_path / "device.json").read_text())
    data["gates"][0]["error"] = 0.05
    (tmp_path / "device.json").write_text(json.dumps(data))
    message = error_of(written)
    assert "backend.noise.fingerprint: the noise model is" in message and "changed" in message
    assert fingerprint[:12] in message


def test_the_faulty_backend_wraps_a_noisy_simulator():
    inner = {"method": "density_matrix", "noise": {"after_all": [{"bit_flip": {"p": 0.1}}]}}
    config = parse_config(
        {**BASE, "backend": {"name": "faulty", "failure_rate": 0.1, "inner": inner}}
    )
    backend = make_backend(config.backend)
    assert isinstance(backend, FaultyBackend)
    assert backend.inner.noise == qt.NoiseModel().after_all(qt.noise.bit_flip(0.1))
    assert prepare(config).config.backend.inner.noise.fingerprint is not None


def test_the_readme_yaml_is_the_readme_model():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Noisy simulation", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.+?)```", section, flags=re.S)
    config = parse_config({**BASE, **yaml.safe_load(block)})
    readme = (
        qt.NoiseModel()
        .after("RY", qt.noise.depolarizing(0.01))
        .after("CNOT", qt.noise.depolarizing(0.03, n_wires=2))
        .after("CNOT", qt.noise.thermal_relaxation(50.0, 40.0, 0.5))
        .after_all(qt.noise.amplitude_damping(0.001))
        .readout(qt.noise.readout_error(0.02, 0.05), wires=None)
    )
    assert config.backend.noise_model().fingerprint() == readme.fingerprint()
