"""``NoiseModel``: an immutable description of where channels and readout errors act.

A model is an ordered list of rules; each builder call returns a new model::

    m = (NoiseModel()
         .after("RY", depolarizing(0.01))
         .after("CNOT", depolarizing(0.03, n_wires=2))
         .after_all(amplitude_damping(0.001))
         .readout(readout_error(0.02, 0.05)))

After an op, the channels of every matching rule act in the order the rules were added.
:meth:`NoiseModel.for_circuit` resolves a model against a circuit into per-op channel lists,
which is all a simulator needs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from qtrain.errors import NoiseModelError, UnknownGateError
from qtrain.ir.circuit import Circuit
from qtrain.ir.gates import gate_spec
from qtrain.ir.serialize import content_hash
from qtrain.noise.calibration import Calibration, gate_channels
from qtrain.noise.channels import Channel
from qtrain.noise.readout import ReadoutError

_DICT_FORMAT = "qtrain.noise_model"
ALL_GATES = "*"
"""The gate name of an :meth:`NoiseModel.after_all` rule."""

Wires = tuple[int, ...]
Placed = tuple[tuple[Channel, Wires], ...]
"""Channels with the wires they act on, in the order they act."""


@dataclass(frozen=True)
class GateRule:
    """``channel`` after every op of ``gate`` (``"*"``: every gate), optionally on ``wires`` only.

    ``wires`` is the op's exact wire tuple (Qiskit Aer's ``qubits``); ``None`` matches any op.
    """

    gate: str
    channel: Channel
    wires: Wires | None = None


@dataclass(frozen=True)
class MeasureRule:
    """``channel`` before measurement on ``wires`` (``None``: every wire)."""

    channel: Channel
    wires: Wires | None = None


@dataclass(frozen=True)
class ReadoutRule:
    """Readout ``error`` on ``wires`` (``None``: every wire)."""

    error: ReadoutError
    wires: Wires | None = None


@dataclass(frozen=True)
class CircuitNoise:
    """A model resolved against one circuit.

    Attributes:
        after_ops: for each op, the channels (with their wires) that follow it, in order.
        before_measure: channels applied to the final state before measurement.
        readout: the readout error of each wire that has one.
    """

    after_ops: tuple[Placed, ...]
    before_measure: Placed
    readout: Mapping[int, ReadoutError]


def _wires(owner: str, wires: object) -> Wires | None:
    if wires is None:
        return None
    seq = (wires,) if isinstance(wires, int) and not isinstance(wires, bool) else wires
    if not isinstance(seq, Sequence) or isinstance(seq, str) or not seq:
        raise NoiseModelError(
            f"{owner}: wires must be an int or a non-empty sequence of ints, got {wires!r}"
        )
    out = []
    for w in seq:
        if isinstance(w, bool) or not isinstance(w, int) or w < 0:
            raise NoiseModelError(f"{owner}: wire must be an int >= 0, got {w!r}")
        out.append(int(w))
    if len(set(out)) != len(out):
        raise NoiseModelError(f"{owner}: wires must be distinct, got {out}")
    return tuple(out)


def _gate_name(name: object) -> tuple[str, int]:
    try:
        spec = gate_spec(str(name))
    except UnknownGateError as exc:
        raise NoiseModelError(f"NoiseModel.after: {exc}") from exc
    return spec.name, spec.n_wires


def _targets(channel: Channel, op_wires: Wires, where: str) -> tuple[Wires, ...]:
    """The wire tuples ``channel`` acts on after an op on ``op_wires``."""
    if channel.n_wires == len(op_wires):
        return (op_wires,)
    if channel.n_wires == 1:
        return tuple((w,) for w in op_wires)
    raise NoiseModelError(
        f"{where}: a {channel.n_wires}-wire {channel.name} channel cannot follow a "
        f"{len(op_wires)}-wire gate (use a 1-wire or a {len(op_wires)}-wire channel)"
    )


@dataclass(frozen=True)
class NoiseModel:
    """An immutable noise model; every builder method returns a new model.

    Attributes:
        gate_rules: channels after gates, in the order they were added.
        measure_rules: channels before measurement, in order.
        readout_rules: readout errors; for a wire named by several, the last one added wins.
    """

    gate_rules: tuple[GateRule, ...] = field(default=())
    measure_rules: tuple[MeasureRule, ...] = field(default=())
    readout_rules: tuple[ReadoutRule, ...] = field(default=())

    def after(
        self, gate: str, channel: Channel, wires: Sequence[int] | int | None = None
    ) -> NoiseModel:
        """``channel`` after every op of ``gate`` (or only the op on exactly ``wires``).

        A ``k``-wire channel after a ``k``-wire gate acts on the op's wires; a 1-wire channel
        after a multi-wire gate acts on each of its wires. ``wires`` is the op's wire tuple in
        the gate's own order (as Qiskit Aer's ``qubits``), e.g. ``(0, 1)`` for ``CNOT(0, 1)``.

        Raises:
            NoiseModelError: an unknown gate (with the closest names), a channel whose width
                fits neither the gate nor one wire, or ``wires`` of the wrong length.
        """
        name, arity = _gate_name(gate)
        if not isinstance(channel, Channel):
            raise NoiseModelError(
                f"NoiseModel.after({name!r}): expected a Channel, got {type(channel).__name__}"
            )
        where = f"NoiseModel.after({name!r})"
        w = _wires(where, wires)
        if arity > 0:
            _targets(channel, tuple(range(arity)), where)
            if w is not None and len(w) != arity:
                raise NoiseModelError(
                    f"{where}: wires={list(w)} names {len(w)} wire(s) but "
                    f"{name} acts on {arity} (give one op's exact wires)"
                )
        return replace(self, gate_rules=(*self.gate_rules, GateRule(name, channel, w)))

    def after_all(self, channel: Channel) -> NoiseModel:
        """A 1-wire ``channel`` after every gate, on each of the gate's wires."""
        if not isinstance(channel, Channel) or channel.n_wires != 1:
            raise NoiseModelError(
                f"NoiseModel.after_all: needs a 1-wire channel, got {channel!r} "
                "(attach multi-wire channels to named gates with .after)"
            )
        return replace(self, gate_rules=(*self.gate_rules, GateRule(ALL_GATES, channel)))

    def before_measure(
        self, channel: Channel, wires: Sequence[int] | int | None = None
    ) -> NoiseModel:
        """``channel`` on the final state before measurement.

        A 1-wire channel acts on each of ``wires`` (``None``: every wire); a ``k``-wire channel
        needs exactly ``k`` wires, on which it acts jointly.
        """
        if not isinstance(channel, Channel):
            raise NoiseModelError(f"NoiseModel.before_measure: expected a Channel, got {channel!r}")
        w = _wires("NoiseModel.before_measure", wires)
        if channel.n_wires > 1 and (w is None or len(w) != channel.n_wires):
            raise NoiseModelError(
                f"NoiseModel.before_measure: a {channel.n_wires}-wire {channel.name} channel "
                f"needs exactly {channel.n_wires} wires, got {wires!r}"
            )
        return replace(self, measure_rules=(*self.measure_rules, MeasureRule(channel, w)))

    def readout(self, error: ReadoutError, wires: Sequence[int] | int | None = None) -> NoiseModel:
        """Readout ``error`` on each of ``wires`` (``None``: every wire); later calls win."""
        if not isinstance(error, ReadoutError):
            raise NoiseModelError(f"NoiseModel.readout: expected a ReadoutError, got {error!r}")
        w = _wires("NoiseModel.readout", wires)
        return replace(self, readout_rules=(*self.readout_rules, ReadoutRule(error, w)))

    @property
    def is_empty(self) -> bool:
        """True when the model has no rule at all (ideal simulation)."""
        return not (self.gate_rules or self.measure_rules or self.readout_rules)

    def for_circuit(self, circuit: Circuit) -> CircuitNoise:
        """Resolve the model against ``circuit``: the channels after each op, and so on.

        Raises:
            NoiseModelError: a rule names a wire the circuit lacks, or a channel's width fits
                neither an op nor one wire.
        """
        n = circuit.n_qubits
        named = [r.wires for r in self.gate_rules] + [r.wires for r in self.measure_rules]
        for wires in (*named, *(r.wires for r in self.readout_rules)):
            for w in wires or ():
                if w >= n:
                    raise NoiseModelError(
                        f"noise model names wire {w}, but the circuit has {n} qubit(s) "
                        f"(valid wires 0..{n - 1})"
                    )
        after_ops = tuple(self._after_op(op.gate, op.wires) for op in circuit.ops)
        measure: list[tuple[Channel, Wires]] = []
        for rule in self.measure_rules:
            wires = rule.wires if rule.wires is not None else tuple(range(n))
            targets = _targets(rule.channel, wires, "before_measure")
            measure.extend((rule.channel, t) for t in targets)
        return CircuitNoise(after_ops, tuple(measure), self.readout_errors(n))

    def _after_op(self, gate: str, wires: Wires) -> Placed:
        name = gate_spec(gate).name
        placed: list[tuple[Channel, Wires]] = []
        for rule in self.gate_rules:
            if rule.gate not in (ALL_GATES, name):
                continue
            if rule.wires is not None and rule.wires != wires:
                continue
            where = f"NoiseModel.after({rule.gate!r}) on {name}{list(wires)}"
            placed.extend((rule.channel, t) for t in _targets(rule.channel, wires, where))
        return tuple(placed)

    def readout_errors(self, n_qubits: int) -> dict[int, ReadoutError]:
        """The readout error of each wire below ``n_qubits`` that has a non-trivial one."""
        out: dict[int, ReadoutError] = {}
        for rule in self.readout_rules:
            for w in rule.wires if rule.wires is not None else range(n_qubits):
                if w < n_qubits:
                    out[w] = rule.error
        return {w: e for w, e in sorted(out.items()) if not e.is_trivial}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form; :meth:`from_dict` inverts it."""

        def wires(w: Wires | None) -> list[int] | None:
            return None if w is None else list(w)

        return {
            "format": _DICT_FORMAT,
            "after": [
                {"gate": r.gate, "channel": r.channel.to_dict(), "wires": wires(r.wires)}
                for r in self.gate_rules
            ],
            "before_measure": [
                {"channel": r.channel.to_dict(), "wires": wires(r.wires)}
                for r in self.measure_rules
            ],
            "readout": [
                {"error": r.error.to_dict(), "wires": wires(r.wires)} for r in self.readout_rules
            ],
        }

    @staticmethod
    def from_dict(data: Mapping[str, Any]) -> NoiseModel:
        """Rebuild (through the builder, so revalidated) from :meth:`to_dict`'s form."""
        if data.get("format") != _DICT_FORMAT:
            raise NoiseModelError(f"not a qtrain noise-model dict: format={data.get('format')!r}")
        model = NoiseModel()
        try:
            for entry in data.get("after", []):
                ch = Channel.from_dict(entry["channel"])
                if entry["gate"] == ALL_GATES:
                    model = model.after_all(ch)
                else:
                    model = model.after(entry["gate"], ch, entry.get("wires"))
            for entry in data.get("before_measure", []):
                model = model.before_measure(
                    Channel.from_dict(entry["channel"]), entry.get("wires")
                )
            for entry in data.get("readout", []):
                model = model.readout(ReadoutError.from_dict(entry["error"]), entry.get("wires"))
        except (KeyError, TypeError) as exc:
            raise NoiseModelError(f"malformed noise-model dict: {exc!r}") from exc
        return model

    def fingerprint(self) -> str:
        """sha256 hex over the rules (channel and readout fingerprints, gates, wires, order)."""
        return content_hash(
            {
                "format": _DICT_FORMAT,
                "after": [[r.gate, r.channel.fingerprint(), r.wires] for r in self.gate_rules],
                "before_measure": [[r.channel.fingerprint(), r.wires] for r in self.measure_rules],
                "readout": [[r.error.fingerprint(), r.wires] for r in self.readout_rules],
            }
        )

    @classmethod
    def from_calibration(cls, calibration: Calibration) -> NoiseModel:
        """The model a device calibration implies, as Qiskit Aer's ``NoiseModel.from_backend``.

        For each calibrated gate instance (gate, wires): a depolarizing channel carrying the
        reported error that relaxation does not already explain, then thermal relaxation of
        each wire for the gate's duration (see :func:`qtrain.noise.calibration.gate_channels`);
        both attached to exactly that instance. Each qubit gets its readout error.
        """
        model = cls()
        for entry in calibration.gates:
            for channel in gate_channels(calibration, entry):
                model = model.after(entry.gate, channel, entry.wires)
        for q in range(calibration.n_qubits):
            err = ReadoutError(calibration.readout_p01[q], calibration.readout_p10[q])
            if not err.is_trivial:
                model = model.readout(err, q)
        return model
