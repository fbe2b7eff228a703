"""Calibration values, JSON in and out, and NoiseModel.from_calibration's numbers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import NoiseModelError
from qtrain.noise import Calibration, GateCalibration, NoiseModel, readout_error
from qtrain.noise.calibration import depolarizing_infidelity, depolarizing_parameter
from qtrain.noise.channels import Channel


def small_calibration() -> Calibration:
    return Calibration(
        id="toy-2q-2026-12-07",
        timestamp="2026-12-07T12:00:00+00:00",
        t1=(100.0, 80.0),
        t2=(80.0, 100.0),
        readout_p01=(0.02, 0.0),
        readout_p10=(0.05, 0.0),
        gates=(
            GateCalibration("SX", (0,), error=0.001, duration=0.035),
            GateCalibration("CX", (0, 1), error=0.01, duration=0.3),
            GateCalibration("RZ", (1,), error=0.0, duration=0.0),
            GateCalibration("X", (1,), error=1e-6, duration=0.035),
        ),
    )


def relax_avg_fidelity(t1: float, t2: float, t: float) -> float:
    """Closed form for T1/T2 relaxation to |0⟩: F_pro = (1 + e^{-t/T1} + 2e^{-t/T2}) / 4."""
    return (1 + math.exp(-t / t1) + 2 * math.exp(-t / t2)) / 4


def composed_avg_fidelity(channels: list[Channel]) -> float:
    ops = np.eye(channels[0].dim, dtype=complex)[None]
    for ch in channels:
        ops = np.einsum("kij,ljm->klim", ch.kraus_ops, ops).reshape(-1, ch.dim, ch.dim)
    d = channels[0].dim
    f_pro = np.sum(np.abs(np.trace(ops, axis1=1, axis2=2)) ** 2) / d**2
    return float((d * f_pro + 1) / (d + 1))


def test_calibration_json_round_trip_through_a_file(tmp_path: Path) -> None:
    cal = small_calibration()
    path = tmp_path / "cal.json"
    cal.dump(path)
    back = Calibration.load(path)
    assert back == cal
    assert back.fingerprint() == cal.fingerprint()
    assert back.gates[1].gate == "CNOT"  # aliases are stored canonically
    assert back.n_qubits == 2
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(NoiseModelError, match="is not JSON"):
        Calibration.load(tmp_path / "bad.json")


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"t2": (201.0, 100.0)}, r"qubit 0 has t2 = 201\.0 > 2·t1 = 200\.0"),
        ({"t1": (0.0, 80.0)}, r"t1\[0\] must be finite and > 0, got 0\.0"),
        ({"t2": (80.0,)}, "one value per qubit"),
        ({"readout_p10": (0.05, 1.2)}, r"readout_p10\[1\] must be in \[0, 1\], got 1\.2"),
        ({"timestamp": "yesterday"}, "ISO 8601"),
        ({"id": ""}, "id must be a non-empty str"),
        ({"gates": (GateCalibration("CNOT", (0, 2), 0.01, 0.3),)}, "names wire 2"),
        (
            {"gates": (GateCalibration("RZ", (0,), 0.0), GateCalibration("RZ", (0,), 0.1))},
            "listed twice",
        ),
    ],
)
def test_calibration_validation_names_the_bad_value(change: dict, match: str) -> None:
    fields = {
        "id": "x",
        "timestamp": "2026-12-07",
        "t1": (100.0, 80.0),
        "t2": (80.0, 100.0),
        "readout_p01": (0.0, 0.0),
        "readout_p10": (0.0, 0.0),
    }
    with pytest.raises(NoiseModelError, match=match):
        Calibration(**(fields | change))


def test_gate_calibration_validation() -> None:
    with pytest.raises(NoiseModelError, match="did you mean CNOT"):
        GateCalibration("CNTO", (0, 1), 0.01)
    with pytest.raises(NoiseModelError, match=r"CNOT wires \[0\] must be distinct and 2"):
        GateCalibration("CNOT", (0,), 0.01)
    with pytest.raises(NoiseModelError, match=r"error must be in \[0, 1\], got 1\.5"):
        GateCalibration("SX", (0,), 1.5)
    with pytest.raises(NoiseModelError, match="duration must be finite and >= 0"):
        GateCalibration("SX", (0,), 0.01, -1.0)


def test_depolarizing_parameter_inverts_the_infidelity_relation() -> None:
    for k in (1, 2):
        d = 2**k
        assert depolarizing_infidelity(0.04, k) == pytest.approx(0.04 * (d - 1) / d)
        assert depolarizing_parameter(depolarizing_infidelity(0.04, k), k) == pytest.approx(0.04)
    assert depolarizing_parameter(0.001, 1, relaxation_fidelity=0.998) == 0.0  # clipped at 0
    assert depolarizing_parameter(1.0, 1) == pytest.approx(4 / 3)  # clipped at the CPTP limit


def test_from_calibration_numbers_on_a_small_device() -> None:
    cal = small_calibration()
    model = qt.NoiseModel.from_calibration(cal)
    c = qt.Circuit(2).sx(0).cnot(0, 1).rz(1, 0.2).x(1).sx(1)
    noise = model.for_circuit(c)
    sx0, cnot, rz, x1, sx1 = noise.after_ops

    # SX on 0: depolarizing carries what relaxation does not explain, then relaxation.
    f_r = (2 * relax_avg_fidelity(100.0, 80.0, 0.035) + 1) / 3
    p_sx = 2 * (0.001 - (1 - f_r)) / (2 * f_r - 1)
    assert [(ch.name, w) for ch, w in sx0] == [("depolarizing", (0,)), ("thermal_relaxation", (0,))]
    assert sx0[0][0].params["p"] == pytest.approx(p_sx, rel=1e-9)
    assert p_sx == pytest.approx(0.0015924, rel=1e-4)  # worked by hand
    assert dict(sx0[1][0].params) == {
        "t1": 100.0,
        "t2": 80.0,
        "duration": 0.035,
        "excited_population": 0.0,
    }
    assert 1 - composed_avg_fidelity([ch for ch, _ in sx0]) == pytest.approx(0.001, abs=1e-12)

    # CNOT on (0, 1): two-qubit depolarizing, then a product of each wire's relaxation.
    f_pro = relax_avg_fidelity(100.0, 80.0, 0.3) * relax_avg_fidelity(80.0, 100.0, 0.3)
    f_r2 = (4 * f_pro + 1) / 5
    p_cx = 4 * (0.01 - (1 - f_r2)) / (4 * f_r2 - 1)
    assert [(ch.name, ch.n_wires, w) for ch, w in cnot] == [
        ("depolarizing", 2, (0, 1)),
        ("thermal_relaxation", 2, (0, 1)),
    ]
    assert cnot[0][0].params["p"] == pytest.approx(p_cx, rel=1e-9)
    assert 1 - composed_avg_fidelity([ch for ch, _ in cnot]) == pytest.approx(0.01, abs=1e-12)

    # RZ: no error, no duration → nothing; X: relaxation explains more than 1e-6 → p clipped to 0.
    assert rz == ()
    assert [ch.name for ch, _ in x1] == ["thermal_relaxation"]
    # SX on wire 1 was not calibrated → no channels.
    assert sx1 == ()
    assert noise.readout == {0: readout_error(0.02, 0.05)}


def test_from_calibration_model_round_trips_and_fingerprints() -> None:
    model = NoiseModel.from_calibration(small_calibration())
    assert NoiseModel.from_dict(model.to_dict()).fingerprint() == model.fingerprint()
    other = Calibration.from_dict(small_calibration().to_dict() | {"id": "other"})
    assert NoiseModel.from_calibration(other).fingerprint() == model.fingerprint()
    assert other.fingerprint() != small_calibration().fingerprint()
