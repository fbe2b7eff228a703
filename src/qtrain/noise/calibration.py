"""``Calibration``: a device snapshot (T1, T2, readout, gate errors and durations), as a value.

All times (T1, T2, gate durations) share one unit of the caller's choosing (microseconds by
convention); only their ratios enter the channels. :func:`gate_channels` turns one calibrated
gate into the channels that :meth:`qtrain.noise.NoiseModel.from_calibration` attaches.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from qtrain.errors import NoiseModelError, UnknownGateError
from qtrain.ir.gates import gate_spec
from qtrain.ir.serialize import content_hash
from qtrain.noise.channels import Channel, check_probability, depolarizing, tensor
from qtrain.noise.channels import thermal_relaxation as _thermal_relaxation

_DICT_FORMAT = "qtrain.calibration"


def _positive(label: str, value: object, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise NoiseModelError(f"calibration: {label} must be a real number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or (v == 0.0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise NoiseModelError(f"calibration: {label} must be finite and {bound}, got {v!r}")
    return v


@dataclass(frozen=True)
class GateCalibration:
    """One calibrated gate instance.

    Attributes:
        gate: canonical qtrain gate name.
        wires: the instance's wires, in the gate's order.
        error: reported average gate infidelity ``1 − F_avg`` (e.g. from randomized
            benchmarking), in ``[0, 1]``.
        duration: gate duration, in the calibration's time unit, ``>= 0``.
    """

    gate: str
    wires: tuple[int, ...]
    error: float
    duration: float = 0.0

    def __post_init__(self) -> None:
        try:
            spec = gate_spec(self.gate)
        except UnknownGateError as exc:
            raise NoiseModelError(f"calibration: {exc}") from exc
        wires = tuple(self.wires)
        if any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in wires):
            raise NoiseModelError(f"calibration: {spec.name} wires must be ints >= 0, got {wires}")
        if (
            not wires
            or len(set(wires)) != len(wires)
            or (spec.n_wires and len(wires) != spec.n_wires)
        ):
            raise NoiseModelError(
                f"calibration: {spec.name} wires {list(wires)} must be distinct and "
                f"{spec.n_wires or 'at least 1'} in number"
            )
        object.__setattr__(self, "gate", spec.name)
        object.__setattr__(self, "wires", wires)
        object.__setattr__(
            self,
            "error",
            check_probability(f"calibration {spec.name}{list(wires)}", "error", self.error),
        )
        object.__setattr__(
            self,
            "duration",
            _positive(f"{spec.name}{list(wires)} duration", self.duration, allow_zero=True),
        )


@dataclass(frozen=True)
class Calibration:
    """A device calibration snapshot.

    Attributes:
        id: identifies the snapshot (a store key may name it).
        timestamp: when it was taken, ISO 8601 (``datetime.fromisoformat`` must parse it).
        t1, t2: per-qubit relaxation and dephasing times, ``0 < T2 <= 2·T1``.
        readout_p01, readout_p10: per-qubit ``P(1|0)`` and ``P(0|1)``; empty means all zero.
        gates: calibrated gate instances (no (gate, wires) twice).

    Raises:
        NoiseModelError: naming the first invalid value.
    """

    id: str
    timestamp: str
    t1: tuple[float, ...]
    t2: tuple[float, ...]
    readout_p01: tuple[float, ...] = ()
    readout_p10: tuple[float, ...] = ()
    gates: tuple[GateCalibration, ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.id, str) or not self.id:
            raise NoiseModelError(f"calibration: id must be a non-empty str, got {self.id!r}")
        try:
            datetime.fromisoformat(str(self.timestamp))
        except ValueError as exc:
            raise NoiseModelError(
                f"calibration: timestamp must be ISO 8601, got {self.timestamp!r}"
            ) from exc
        n = len(self.t1)
        if n == 0 or len(self.t2) != n:
            raise NoiseModelError(
                f"calibration: t1 and t2 need one value per qubit (n >= 1), "
                f"got {len(self.t1)} and {len(self.t2)}"
            )
        t1 = tuple(_positive(f"t1[{q}]", v) for q, v in enumerate(self.t1))
        t2 = tuple(_positive(f"t2[{q}]", v) for q, v in enumerate(self.t2))
        for q in range(n):
            if t2[q] > 2.0 * t1[q]:
                raise NoiseModelError(
                    f"calibration: qubit {q} has t2 = {t2[q]!r} > 2·t1 = "
                    f"{2.0 * t1[q]!r}; clip T2 to 2·T1 if the device reports it"
                )
        object.__setattr__(self, "t1", t1)
        object.__setattr__(self, "t2", t2)
        for label in ("readout_p01", "readout_p10"):
            values = tuple(getattr(self, label)) or (0.0,) * n
            if len(values) != n:
                raise NoiseModelError(f"calibration: {label} needs {n} values, got {len(values)}")
            checked = tuple(
                check_probability("calibration", f"{label}[{q}]", v) for q, v in enumerate(values)
            )
            object.__setattr__(self, label, checked)
        self._check_gates(n)

    def _check_gates(self, n: int) -> None:
        gates = tuple(
            g if isinstance(g, GateCalibration) else GateCalibration(**g) for g in self.gates
        )
        seen: set[tuple[str, tuple[int, ...]]] = set()
        for g in gates:
            bad = [w for w in g.wires if w >= n]
            if bad:
                raise NoiseModelError(
                    f"calibration: {g.gate}{list(g.wires)} names wire {bad[0]}"
                    f", but the device has {n} qubit(s)"
                )
            if (g.gate, g.wires) in seen:
                raise NoiseModelError(f"calibration: {g.gate}{list(g.wires)} is listed twice")
            seen.add((g.gate, g.wires))
        object.__setattr__(self, "gates", gates)

    @property
    def n_qubits(self) -> int:
        """The number of calibrated qubits."""
        return len(self.t1)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` inverts it."""
        return {
            "format": _DICT_FORMAT,
            "id": self.id,
            "timestamp": self.timestamp,
            "qubits": [
                {
                    "t1": self.t1[q],
                    "t2": self.t2[q],
                    "readout_p01": self.readout_p01[q],
                    "readout_p10": self.readout_p10[q],
                }
                for q in range(self.n_qubits)
            ],
            "gates": [
                {"gate": g.gate, "wires": list(g.wires), "error": g.error, "duration": g.duration}
                for g in self.gates
            ],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> Calibration:
        """Rebuild (and revalidate) from :meth:`to_dict`'s form."""
        if data.get("format") != _DICT_FORMAT:
            raise NoiseModelError(f"not a qtrain calibration dict: format={data.get('format')!r}")
        try:
            qubits: Sequence[Mapping[str, Any]] = data["qubits"]
            gates = tuple(
                GateCalibration(g["gate"], tuple(g["wires"]), g["error"], g.get("duration", 0.0))
                for g in data.get("gates", [])
            )
            return Calibration(
                id=data["id"],
                timestamp=data["timestamp"],
                t1=tuple(q["t1"] for q in qubits),
                t2=tuple(q["t2"] for q in qubits),
                readout_p01=tuple(q.get("readout_p01", 0.0) for q in qubits),
                readout_p10=tuple(q.get("readout_p10", 0.0) for q in qubits),
                gates=gates,
            )
        except (KeyError, TypeError) as exc:
            raise NoiseModelError(f"malformed calibration dict: missing or bad {exc!r}") from exc

    def dump(self, path: str | Path) -> None:
        """Write the JSON form to ``path``."""
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @staticmethod
    def load(path: str | Path) -> Calibration:
        """Read a calibration written by :meth:`dump` (or by hand in the same form)."""
        text = Path(path).read_text(encoding="utf-8")
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise NoiseModelError(f"calibration file {str(path)!r} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise NoiseModelError(f"calibration file {str(path)!r} must hold a JSON object")
        return Calibration.from_dict(data)

    def fingerprint(self) -> str:
        """sha256 hex of the canonical JSON form."""
        return content_hash(self.to_dict())


def depolarizing_infidelity(p: float, n_wires: int) -> float:
    """Average gate infidelity of Aer's ``k``-wire depolarizing channel: ``p·(d − 1)/d``.

    >>> depolarizing_infidelity(0.01, 1)
    0.005
    """
    d = 1 << n_wires
    return float(p * (d - 1) / d)


def depolarizing_parameter(error: float, n_wires: int, relaxation_fidelity: float = 1.0) -> float:
    """Aer's depolarizing ``p`` that, composed with relaxation, gives gate error ``error``.

    Average fidelity is linear in the channel and a completely depolarized state has fidelity
    ``1/d``, so ``F(dep_p ∘ R) = F_R − p·(d·F_R − 1)/d``. Setting it to ``1 − error`` gives
    ``p = d·(error − r)/(d·F_R − 1)`` with ``r = 1 − F_R`` (``p = d·error/(d − 1)`` without
    relaxation). Clipped to ``0`` when relaxation alone explains the error, and to the CPTP
    limit ``4ᵏ/(4ᵏ − 1)``, as Aer's ``NoiseModel.from_backend`` does.

    >>> round(depolarizing_parameter(0.005, 1), 12)
    0.01
    """
    d = 1 << n_wires
    r = 1.0 - relaxation_fidelity
    if error <= r:
        return 0.0
    p = d * (error - r) / (d * relaxation_fidelity - 1.0)
    d2 = d * d
    return float(min(p, d2 / (d2 - 1)))


def gate_channels(calibration: Calibration, entry: GateCalibration) -> tuple[Channel, ...]:
    """The channels after one calibrated gate: remaining depolarizing, then relaxation.

    Relaxation is ``thermal_relaxation(T1_w, T2_w, duration)`` on each wire (a product channel
    for multi-wire gates, so each wire keeps its own T1/T2); it is omitted for zero duration.
    """
    k = len(entry.wires)
    relax: Channel | None = None
    if entry.duration > 0.0:
        per_wire = [
            _thermal_relaxation(calibration.t1[w], calibration.t2[w], entry.duration)
            for w in entry.wires
        ]
        relax = per_wire[0] if k == 1 else tensor(*per_wire, name="thermal_relaxation")
    fid = relax.average_gate_fidelity() if relax is not None else 1.0
    p = depolarizing_parameter(entry.error, k, fid)
    out = [depolarizing(p, n_wires=k)] if p > 0.0 else []
    if relax is not None:
        out.append(relax)
    return tuple(out)
