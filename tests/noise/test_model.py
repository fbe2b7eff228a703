"""NoiseModel: immutability, rule order, wires, resolution against circuits, JSON, fingerprints."""

from __future__ import annotations

import json

import pytest

import qtrain as qt
from qtrain.errors import NoiseModelError
from qtrain.noise import (
    NoiseModel,
    amplitude_damping,
    bit_flip,
    depolarizing,
    phase_flip,
    readout_error,
    thermal_relaxation,
)


def issue_model() -> NoiseModel:
    return (
        qt.NoiseModel()
        .after("RY", qt.noise.depolarizing(0.01))
        .after("CNOT", qt.noise.depolarizing(0.03, n_wires=2))
        .after("CNOT", qt.noise.thermal_relaxation(50.0, 40.0, 0.5))
        .after_all(qt.noise.amplitude_damping(0.001))
        .readout(qt.noise.readout_error(0.02, 0.05), wires=None)
    )


def test_builder_is_immutable_and_returns_new_models() -> None:
    base = NoiseModel()
    assert base.is_empty
    grown = base.after("RX", bit_flip(0.1))
    assert base.is_empty
    assert not grown.is_empty
    assert grown is not base
    with pytest.raises(AttributeError):
        grown.gate_rules = ()  # type: ignore[misc]


def test_issue_api_resolves_channels_after_each_op_in_order() -> None:
    c = qt.Circuit(3).ry(0, qt.P(0)).cnot(0, 1).rz(2, 0.3)
    noise = issue_model().for_circuit(c)
    ry, cnot, rz = noise.after_ops
    assert [(ch.name, w) for ch, w in ry] == [("depolarizing", (0,)), ("amplitude_damping", (0,))]
    assert [(ch.name, ch.n_wires, w) for ch, w in cnot] == [
        ("depolarizing", 2, (0, 1)),
        ("thermal_relaxation", 1, (0,)),
        ("thermal_relaxation", 1, (1,)),
        ("amplitude_damping", 1, (0,)),
        ("amplitude_damping", 1, (1,)),
    ]
    assert [(ch.name, w) for ch, w in rz] == [("amplitude_damping", (2,))]
    assert noise.readout == dict.fromkeys(range(3), readout_error(0.02, 0.05))
    assert noise.before_measure == ()


def test_channels_on_the_same_gate_act_in_the_order_added() -> None:
    c = qt.Circuit(1).rx(0, 0.1)
    ab = NoiseModel().after("RX", bit_flip(0.1)).after("RX", phase_flip(0.2))
    ba = NoiseModel().after("RX", phase_flip(0.2)).after("RX", bit_flip(0.1))
    assert [ch.name for ch, _ in ab.for_circuit(c).after_ops[0]] == ["bit_flip", "phase_flip"]
    assert [ch.name for ch, _ in ba.for_circuit(c).after_ops[0]] == ["phase_flip", "bit_flip"]
    assert ab.fingerprint() != ba.fingerprint()


def test_wires_select_one_op_instance_and_aliases_resolve() -> None:
    c = qt.Circuit(3).cnot(0, 1).cnot(1, 0).cnot(1, 2).ry(2, 0.1)
    m = NoiseModel().after("CX", depolarizing(0.1, 2), wires=(1, 0)).after("RY", bit_flip(0.1), 2)
    after = m.for_circuit(c).after_ops
    assert [len(a) for a in after] == [0, 1, 0, 1]
    assert after[1][0][1] == (1, 0)


def test_mismatched_channel_width_and_wires_are_refused() -> None:
    with pytest.raises(NoiseModelError, match="2-wire depolarizing channel cannot follow a 1-wire"):
        NoiseModel().after("RY", depolarizing(0.1, n_wires=2))
    with pytest.raises(NoiseModelError, match=r"wires=\[0, 2\] names 2 wire\(s\) but RY acts on 1"):
        NoiseModel().after("RY", bit_flip(0.1), wires=[0, 2])
    with pytest.raises(NoiseModelError, match="after_all: needs a 1-wire channel"):
        NoiseModel().after_all(depolarizing(0.1, n_wires=2))
    with pytest.raises(NoiseModelError, match="needs exactly 2 wires"):
        NoiseModel().before_measure(depolarizing(0.1, n_wires=2))
    with pytest.raises(NoiseModelError, match="expected a ReadoutError"):
        NoiseModel().readout(bit_flip(0.1))  # type: ignore[arg-type]
    # a variable-width gate is checked against each op when resolved
    m = NoiseModel().after("PauliRot", depolarizing(0.1, n_wires=2))
    c = qt.Circuit(3).pauli_rot("XYZ", (0, 1, 2), 0.1)
    with pytest.raises(NoiseModelError, match="cannot follow a 3-wire gate"):
        m.for_circuit(c)


def test_unknown_gate_name_suggests_the_closest() -> None:
    with pytest.raises(NoiseModelError, match=r"unknown gate 'CNTO'.*did you mean CNOT"):
        NoiseModel().after("CNTO", bit_flip(0.1))


def test_wire_the_circuit_lacks_is_named() -> None:
    c = qt.Circuit(2).ry(0, 0.1)
    for model in (
        NoiseModel().after("RY", bit_flip(0.1), wires=5),
        NoiseModel().before_measure(bit_flip(0.1), wires=[0, 4]),
        NoiseModel().readout(readout_error(0.1, 0.1), wires=[3]),
    ):
        with pytest.raises(NoiseModelError, match=r"names wire [345], but the circuit has 2"):
            model.for_circuit(c)


def test_before_measure_and_readout_overrides() -> None:
    m = (
        NoiseModel()
        .before_measure(bit_flip(0.1))
        .before_measure(depolarizing(0.2, 2), wires=(1, 0))
        .readout(readout_error(0.1, 0.1))
        .readout(readout_error(0.3, 0.0), wires=1)
        .readout(readout_error(0.0, 0.0), wires=0)
    )
    noise = m.for_circuit(qt.Circuit(2))
    assert [(ch.name, w) for ch, w in noise.before_measure] == [
        ("bit_flip", (0,)),
        ("bit_flip", (1,)),
        ("depolarizing", (1, 0)),
    ]
    assert noise.readout == {1: readout_error(0.3, 0.0)}


def test_json_round_trip_and_fingerprints() -> None:
    m = (
        issue_model()
        .before_measure(phase_flip(0.01), wires=[1])
        .readout(readout_error(0.1, 0.0), wires=[2])
    )
    text = json.dumps(m.to_dict())
    back = NoiseModel.from_dict(json.loads(text))
    assert back == m
    assert back.fingerprint() == m.fingerprint()
    assert issue_model().fingerprint() == issue_model().fingerprint()
    others = [
        NoiseModel(),
        issue_model().after("RY", bit_flip(0.0)),
        NoiseModel().after("RY", depolarizing(0.01), wires=0),
        NoiseModel().after("RY", depolarizing(0.01)),
        NoiseModel().after("RY", depolarizing(0.02)),
        NoiseModel().after("RX", depolarizing(0.01)),
        NoiseModel().after_all(depolarizing(0.01)),
        NoiseModel().before_measure(depolarizing(0.01)),
    ]
    prints = {o.fingerprint() for o in [*others, m, issue_model()]}
    assert len(prints) == len(others) + 2
    with pytest.raises(NoiseModelError, match="format"):
        NoiseModel.from_dict({"format": "qtrain.circuit"})


def test_thermal_and_damping_models_round_trip_through_dict() -> None:
    m = (
        NoiseModel()
        .after("SWAP", thermal_relaxation(10.0, 5.0, 1.0))
        .after_all(amplitude_damping(0.5))
    )
    assert NoiseModel.from_dict(m.to_dict()).for_circuit(qt.Circuit(2).swap(0, 1)) == m.for_circuit(
        qt.Circuit(2).swap(0, 1)
    )


def test_top_level_exports() -> None:
    assert qt.NoiseModel is NoiseModel
    assert qt.Calibration is qt.noise.Calibration
    assert issubclass(qt.NoiseModelError, qt.QtrainError)
    assert {"NoiseModel", "Calibration", "NoiseModelError", "noise"} <= set(qt.__all__)
