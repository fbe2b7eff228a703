"""Write ``fake_5q.json``: a plausible 5-qubit superconducting device, as a ``qt.Calibration``.

A linear chain 0–1–2–3–4. Times are in microseconds (T1 ≈ 100 µs, T2 ≈ 80 µs; single-qubit
gates 35 ns with error ≈ 3e-4, CNOT 300 ns with error ≈ 8e-3 in both directions on each
coupled pair; RZ is virtual: no error, no duration); readout P(1|0) ≈ 0.01, P(0|1) ≈ 0.02.
Run ``python examples/calibrations/fake_5q.py`` to rewrite the file.
"""

from pathlib import Path

import qtrain as qt

T1 = (112.4, 98.1, 87.5, 105.3, 93.0)
T2 = (85.2, 76.4, 70.8, 91.7, 64.9)
P01 = (0.010, 0.012, 0.008, 0.011, 0.009)
P10 = (0.020, 0.024, 0.018, 0.021, 0.022)
ONE_QUBIT_ERROR = (2.8e-4, 3.1e-4, 3.4e-4, 2.9e-4, 3.2e-4)
CNOT_ERROR = {(0, 1): 7.6e-3, (1, 2): 8.3e-3, (2, 3): 8.0e-3, (3, 4): 8.9e-3}


def fake_5q() -> qt.Calibration:
    """The calibration snapshot."""
    gates = []
    for q, error in enumerate(ONE_QUBIT_ERROR):
        gates += [qt.noise.GateCalibration(g, (q,), error, 0.035) for g in ("X", "SX", "RX", "RY")]
        gates.append(qt.noise.GateCalibration("RZ", (q,), 0.0, 0.0))
    for (a, b), error in CNOT_ERROR.items():
        gates.append(qt.noise.GateCalibration("CNOT", (a, b), error, 0.3))
        gates.append(qt.noise.GateCalibration("CNOT", (b, a), error, 0.3))
    return qt.Calibration(
        id="fake-5q-2025-01-15",
        timestamp="2025-01-15T09:30:00+00:00",
        t1=T1,
        t2=T2,
        readout_p01=P01,
        readout_p10=P10,
        gates=tuple(gates),
    )


if __name__ == "__main__":
    fake_5q().dump(Path(__file__).with_name("fake_5q.json"))
