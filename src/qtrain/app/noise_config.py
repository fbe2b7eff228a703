"""``backend.noise``: a noise model in a run config, with the keys of the Python builder.

Either rules, one list per builder method of ``qt.NoiseModel``, in the order they are added::

    backend:
      name: local
      method: auto              # or statevector, density_matrix, trajectories
      trajectories: 100         # per parameter row, for method trajectories
      noise:
        after:                  # .after(gate, channel, wires=None)
          - {gate: RY, channel: {depolarizing: {p: 0.01}}}
          - {gate: CNOT, channel: {depolarizing: {p: 0.03, n_wires: 2}}, wires: [0, 1]}
        after_all:              # .after_all(channel)
          - {amplitude_damping: {gamma: 0.001}}
        before_measure:         # .before_measure(channel, wires=None)
          - {channel: {bit_flip: {p: 0.01}}, wires: [0]}
        readout:                # .readout(qt.noise.readout_error(p01, p10), wires=None)
          - {p01: 0.02, p10: 0.05}

or a device calibration, a ``qt.Calibration`` JSON file (its path relative to the config
file), turned into a model by ``NoiseModel.from_calibration``; ``qubits`` picks the device
qubits the circuit's wires 0, 1, … run on (default: all, in order)::

      noise: {calibration: calibrations/fake_5q.json, qubits: [0, 1, 2, 3]}

A channel is ``{<constructor of qt.noise>: {<its keyword arguments>}}``: ``depolarizing``,
``bit_flip``, ``phase_flip``, ``pauli_channel``, ``amplitude_damping``, ``phase_damping``,
``thermal_relaxation``, ``kraus`` (``operators``: a list of matrices; complex entries as
strings such as ``"0.5j"``) and ``tensor`` (``channels``: a list of channels). Every mistake
is a ``ConfigError`` naming its key, e.g. ``backend.noise.after[1].channel``.

>>> spec = NoiseConfig.model_validate({"after_all": [{"bit_flip": {"p": 0.1}}]})
>>> spec.model() == NoiseModel().after_all(qt_noise.bit_flip(0.1))
True
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    RootModel,
    ValidationInfo,
    field_validator,
    model_validator,
)

from qtrain import noise as qt_noise
from qtrain.app.config_errors import KeyedError, StrictModel, relative_to_config
from qtrain.app.noise_channels import CHANNELS, EXAMPLE, build_channel
from qtrain.errors import NoiseModelError, UnknownGateError
from qtrain.ir.gates import gate_spec
from qtrain.noise import Calibration, Channel, GateCalibration, NoiseModel

__all__ = [
    "ADJOINT_NOISY",
    "CHANNELS",
    "ChannelConfig",
    "NoiseConfig",
    "check_method",
    "restrict_calibration",
]

ADJOINT_NOISY = (
    "'adjoint' differentiates a pure state and cannot run on a noisy simulator "
    "(backend.noise): use param-shift (exact under noise) or best"
)


class ChannelConfig(RootModel[dict[str, Any]]):
    """``{depolarizing: {p: 0.01}}``: a channel of ``qt.noise`` by name and arguments."""

    model_config = ConfigDict(frozen=True)
    _channel: Channel | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _mapping(cls, data: Any) -> Any:
        if not isinstance(data, Mapping):
            raise ValueError(f"a channel is one {{name: {{arguments}}}}, e.g. {EXAMPLE}")
        return data

    @model_validator(mode="after")
    def _builds(self) -> ChannelConfig:
        self._channel = build_channel(self.root)
        return self

    def channel(self) -> Channel:
        """The validated channel."""
        assert self._channel is not None  # set by validation
        return self._channel


def _wires(value: Any) -> Any:
    if value is None:
        return None
    seq = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    ok = isinstance(seq, list) and seq and len(set(map(repr, seq))) == len(seq)
    if not ok or any(isinstance(w, bool) or not isinstance(w, int) or w < 0 for w in seq):
        raise ValueError(
            f"wires must be a qubit (an int >= 0) or a list of distinct ones; got {value!r}"
        )
    return seq


Wires = Annotated[list[int] | None, BeforeValidator(_wires)]


def _builder(call: Callable[[], NoiseModel]) -> None:
    """Run one builder call; its ``NoiseModelError`` becomes a config error."""
    try:
        call()
    except NoiseModelError as error:
        raise ValueError(str(error)) from None


class AfterRule(StrictModel):
    """``{gate: CNOT, channel: {...}, wires: [0, 1]}``: ``.after(gate, channel, wires)``."""

    gate: str
    channel: ChannelConfig
    wires: Wires = None

    @field_validator("gate")
    @classmethod
    def _known_gate(cls, gate: str) -> str:
        try:
            gate_spec(gate)
        except UnknownGateError as error:
            raise ValueError(str(error).strip("\"'")) from None
        return gate

    @model_validator(mode="after")
    def _fits(self) -> AfterRule:
        _builder(lambda: self.add_to(NoiseModel()))
        return self

    def add_to(self, model: NoiseModel) -> NoiseModel:
        """``model.after(...)`` with this rule."""
        return model.after(self.gate, self.channel.channel(), self.wires)


def _one_wire(spec: ChannelConfig) -> ChannelConfig:
    _builder(lambda: NoiseModel().after_all(spec.channel()))
    return spec


class MeasureRule(StrictModel):
    """``{channel: {...}, wires: [0]}``: ``NoiseModel.before_measure(channel, wires)``."""

    channel: ChannelConfig
    wires: Wires = None

    @model_validator(mode="after")
    def _fits(self) -> MeasureRule:
        _builder(lambda: NoiseModel().before_measure(self.channel.channel(), self.wires))
        return self


Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class ReadoutRule(StrictModel):
    """``{p01: 0.02, p10: 0.05, wires: null}``: ``NoiseModel.readout(readout_error(p01, p10))``."""

    p01: Probability
    p10: Probability
    wires: Wires = None


def restrict_calibration(calibration: Calibration, qubits: list[int]) -> Calibration:
    """The calibration of device ``qubits`` only, renumbered ``0, 1, …`` in that order.

    Gates on a qubit outside ``qubits`` are dropped; the id records the layout.

    Raises:
        KeyedError: a qubit the device lacks (key ``qubits``).
    """
    n = calibration.n_qubits
    missing = [q for q in qubits if q >= n]
    if missing:
        raise KeyedError(
            "qubits", f"device qubit {missing[0]} does not exist (the calibration has {n})"
        )
    index = {q: i for i, q in enumerate(qubits)}
    gates = tuple(
        GateCalibration(g.gate, tuple(index[w] for w in g.wires), g.error, g.duration)
        for g in calibration.gates
        if all(w in index for w in g.wires)
    )
    return Calibration(
        id=f"{calibration.id}@{','.join(map(str, qubits))}",
        timestamp=calibration.timestamp,
        t1=tuple(calibration.t1[q] for q in qubits),
        t2=tuple(calibration.t2[q] for q in qubits),
        readout_p01=tuple(calibration.readout_p01[q] for q in qubits),
        readout_p10=tuple(calibration.readout_p10[q] for q in qubits),
        gates=gates,
    )


def _load_calibration(path: str) -> Calibration:
    try:
        return Calibration.load(path)
    except OSError as error:
        raise KeyedError("calibration", f"cannot read {path}: {error.strerror}") from None
    except ValueError as error:  # NoiseModelError, and text that is not UTF-8
        raise KeyedError("calibration", f"{path} is not a valid qt.Calibration: {error}") from None


class NoiseConfig(StrictModel):
    """``backend.noise``: noise rules, or ``calibration`` (see the module docstring).

    ``fingerprint`` pins the model: a run records it, so a calibration file changed since
    is refused on resume instead of silently mixing two noise models in one run.
    """

    after: list[AfterRule] = Field(default_factory=list)
    after_all: list[Annotated[ChannelConfig, AfterValidator(_one_wire)]] = Field(
        default_factory=list
    )
    before_measure: list[MeasureRule] = Field(default_factory=list)
    readout: list[ReadoutRule] = Field(default_factory=list)
    calibration: str | None = None
    qubits: Wires = None
    fingerprint: Annotated[str, Field(pattern=r"^[0-9a-f]{8,64}$")] | None = None
    _model: NoiseModel = PrivateAttr(default_factory=NoiseModel)
    _calibration_id: str | None = PrivateAttr(default=None)

    @field_validator("calibration")
    @classmethod
    def _relative_to_config(cls, path: str | None, info: ValidationInfo) -> str | None:
        return relative_to_config(path, info)

    @model_validator(mode="after")
    def _builds(self) -> NoiseConfig:
        rules = self.after or self.after_all or self.before_measure or self.readout
        if self.calibration is None:
            if self.qubits is not None:
                raise KeyedError(
                    "qubits", "qubits picks device qubits of a calibration: give calibration too"
                )
            self._model = self._from_rules()
        elif rules:
            raise KeyedError(
                "calibration",
                "give either calibration (a qt.Calibration JSON file) or noise rules "
                "(after, after_all, before_measure, readout), not both",
            )
        else:
            calibration = _load_calibration(self.calibration)
            if self.qubits is not None:
                calibration = restrict_calibration(calibration, self.qubits)
            self._calibration_id = calibration.id
            self._model = NoiseModel.from_calibration(calibration)
        actual = self._model.fingerprint()
        if self.fingerprint is not None and not actual.startswith(self.fingerprint):
            raise KeyedError(
                "fingerprint",
                f"the noise model is {actual[:12]}, not {self.fingerprint[:12]}: "
                f"{self.calibration or 'the rules'} changed since this config was written",
            )
        return self

    def _from_rules(self) -> NoiseModel:
        model = NoiseModel()
        for rule in self.after:
            model = rule.add_to(model)
        for spec in self.after_all:
            model = model.after_all(spec.channel())
        for entry in self.before_measure:
            model = model.before_measure(entry.channel.channel(), entry.wires)
        for readout in self.readout:
            model = model.readout(qt_noise.readout_error(readout.p01, readout.p10), readout.wires)
        return model

    def model(self) -> NoiseModel | None:
        """The noise model, or ``None`` when it has no rule (ideal simulation)."""
        return None if self._model.is_empty else self._model

    def source(self) -> str:
        """Where the model comes from, in words: ``calibration <id> (<file>)`` or the rules."""
        if self.calibration is not None:
            path = Path(self.calibration)
            with contextlib.suppress(ValueError):  # shown relative to cwd when inside it
                path = path.relative_to(Path.cwd())
            return f"calibration {self._calibration_id} ({path})"
        counts = [(len(self.after), "after"), (len(self.after_all), "after_all")]
        counts += [(len(self.before_measure), "before_measure"), (len(self.readout), "readout")]
        return (
            "rules: " + ", ".join(f"{n} {key}" for n, key in counts if n)
            if any(n for n, _ in counts)
            else "no rules (ideal)"
        )

    def pinned(self) -> NoiseConfig:
        """This config with its model's ``fingerprint`` recorded (what a run writes)."""
        return self.model_copy(update={"fingerprint": self._model.fingerprint()})


def check_method(method: str, noise: NoiseConfig | None, trajectories: int | None) -> None:
    """Refuse a method that cannot honour the backend's noise keys.

    ``statevector`` with channels (it simulates ideal gates); a trajectory count for a method
    that runs none.

    Raises:
        KeyedError: key ``method`` or ``trajectories``.
    """
    if trajectories is not None and method in ("statevector", "density_matrix"):
        raise KeyedError(
            "trajectories",
            f"method {method!r} runs no trajectories: drop the key, or use method "
            "trajectories or auto",
        )
    model = None if noise is None else noise.model()
    if method == "statevector" and model is not None and (model.gate_rules or model.measure_rules):
        raise KeyedError(
            "method",
            "'statevector' simulates ideal gates, but backend.noise has channels: use auto, "
            "density_matrix or trajectories (statevector allows a readout-only model)",
        )
