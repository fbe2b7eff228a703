"""``calibration_from_target``: a Qiskit ``BackendV2``'s calibration as a :class:`qt.Calibration`.

Reads what Aer's ``NoiseModel.from_backend`` reads, so that
``qt.NoiseModel.from_calibration(calibration_from_target(device))`` is the same model:

* T1 and T2 from ``target.qubit_properties`` (seconds), stored in **microseconds**; a T2
  above ``2·T1`` is clipped to ``2·T1``, as Aer does, with a warning naming the qubits.
* Gate errors and durations from ``target[gate][qargs]`` (durations converted to µs), for
  the device gates qtrain has: ``id``→``I``, ``x``→``X``, ``sx``→``SX``, ``rz``→``RZ``,
  ``cx``→``CNOT``, ``cz``→``CZ``, … Gates qtrain lacks (``ecr``; ``measure``, ``reset``,
  ``delay`` are not gates) are skipped and named in :func:`skipped_gates`.
* Readout ``P(1|0)``/``P(0|1)``: ``prob_meas1_prep0``/``prob_meas0_prep1`` from
  ``backend.properties()`` where the device reports them, else (like Aer's target path)
  the symmetric ``target["measure"][(q,)].error``. Note that Aer's ``from_backend`` on a
  ``BackendV2`` uses the symmetric target error even when the properties are asymmetric.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from typing import Any

from qtrain.noise.calibration import Calibration, GateCalibration

__all__ = ["QISKIT_GATE_NAMES", "calibration_from_target", "skipped_gates"]

#: Qiskit device gate name → qtrain gate name.
QISKIT_GATE_NAMES: dict[str, str] = {
    "id": "I",
    "x": "X",
    "y": "Y",
    "z": "Z",
    "h": "H",
    "s": "S",
    "sdg": "Sdg",
    "t": "T",
    "tdg": "Tdg",
    "sx": "SX",
    "sxdg": "SXdg",
    "rx": "RX",
    "ry": "RY",
    "rz": "RZ",
    "cx": "CNOT",
    "cy": "CY",
    "cz": "CZ",
    "swap": "SWAP",
    "iswap": "ISWAP",
    "rzz": "RZZ",
    "rzx": "RZX",
}
_NOT_GATES = frozenset({"measure", "reset", "delay", "barrier", "if_else", "for_loop"})
_NOT_GATES |= {"switch_case", "while_loop", "box", "store"}
_US = 1e6  # seconds → microseconds


def skipped_gates(backend: Any) -> list[str]:
    """The target's gates that qtrain has no name for (their errors are not in the snapshot)."""
    return sorted(
        name
        for name in backend.target.operation_names
        if name not in QISKIT_GATE_NAMES and name not in _NOT_GATES
    )


def calibration_from_target(backend: Any) -> Calibration:
    """The calibration snapshot of a Qiskit ``BackendV2`` (a fake device included).

    The id is ``"<backend name>@<timestamp>"``; the timestamp is the properties'
    ``last_update_date`` where there is one, else now (UTC), ISO 8601.
    """
    target = backend.target
    n = int(target.num_qubits)
    props = _properties(backend)
    t1: list[float] = []
    t2: list[float] = []
    clipped: list[int] = []
    for q in range(n):
        qp = target.qubit_properties[q] if target.qubit_properties else None
        if qp is None or qp.t1 is None or qp.t2 is None:
            raise ValueError(f"{backend.name}: qubit {q} has no T1/T2 in its target")
        a, b = float(qp.t1) * _US, float(qp.t2) * _US
        if b > 2.0 * a:
            clipped.append(q)
            b = 2.0 * a
        t1.append(a)
        t2.append(b)
    if clipped:
        warnings.warn(
            f"{backend.name}: T2 > 2·T1 on qubit(s) {clipped}, clipped to 2·T1 (as Aer does)",
            stacklevel=2,
        )
    p01, p10 = _readout(target, props, n)
    stamp = getattr(props, "last_update_date", None) if props is not None else None
    timestamp = (stamp if isinstance(stamp, datetime) else datetime.now(UTC)).isoformat()
    return Calibration(
        id=f"{backend.name}@{timestamp}",
        timestamp=timestamp,
        t1=tuple(t1),
        t2=tuple(t2),
        readout_p01=p01,
        readout_p10=p10,
        gates=_gates(target),
    )


def _properties(backend: Any) -> Any:
    getter = getattr(backend, "properties", None)
    if getter is None:
        return None
    try:
        return getter()
    except (AttributeError, TypeError, NotImplementedError):
        return None


def _readout(target: Any, props: Any, n: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    measure = target["measure"] if "measure" in target else {}
    p01: list[float] = []
    p10: list[float] = []
    for q in range(n):
        asym = _asymmetric_readout(props, q)
        if asym is not None:
            p01.append(asym[0])
            p10.append(asym[1])
            continue
        inst = measure.get((q,)) if measure else None
        err = float(inst.error) if inst is not None and inst.error is not None else 0.0
        p01.append(err)
        p10.append(err)
    return tuple(p01), tuple(p10)


def _asymmetric_readout(props: Any, q: int) -> tuple[float, float] | None:
    if props is None:
        return None
    try:
        found = props.qubit_property(q)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None
    if "prob_meas1_prep0" not in found or "prob_meas0_prep1" not in found:
        return None
    return float(found["prob_meas1_prep0"][0]), float(found["prob_meas0_prep1"][0])


def _gates(target: Any) -> tuple[GateCalibration, ...]:
    out: list[GateCalibration] = []
    for name in sorted(target.operation_names):
        qtrain_name = QISKIT_GATE_NAMES.get(name)
        instances = target[name]
        if qtrain_name is None or not instances:
            continue
        for qargs, inst in sorted(instances.items(), key=lambda kv: kv[0] or ()):
            if qargs is None or inst is None:
                continue
            error = float(inst.error) if inst.error is not None else 0.0
            duration = float(inst.duration) * _US if inst.duration else 0.0
            if error == 0.0 and duration == 0.0:
                continue  # an ideal (virtual) gate, e.g. rz: no channel either side
            out.append(GateCalibration(qtrain_name, tuple(qargs), error, duration))
    return tuple(out)
