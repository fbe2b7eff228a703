"""``circuit:`` in a run config: a built-in ansatz, a circuit JSON file, or an OpenQASM file.

Files are found relative to the config file, whatever the working directory, and are read
when the config is validated: a path that is not a circuit is a ``ConfigError`` naming
``circuit.path`` (or ``circuit.qasm``), the file and what it should hold, before any run
folder exists.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import Field, model_validator

from qtrain.app.config_errors import KeyedError, StrictModel, relative_to_config
from qtrain.errors import ConfigError, QtrainError
from qtrain.interop import qasm
from qtrain.ir.circuit import Circuit

__all__ = ["CircuitConfig", "load_circuit_file"]


def load_circuit_file(path: Path) -> Circuit:
    """The circuit in the JSON file at ``path`` (``Circuit.to_dict`` output).

    Raises:
        ConfigError: it cannot be read, or does not hold a qtrain circuit (naming the file
            and what it should hold).
    """
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not a text file"
        raise ConfigError(f"cannot read {path}: {reason}") from None
    hint = "the JSON of Circuit.to_dict()"
    if Path(path).suffix.lower() == ".qasm":
        hint += "; an OpenQASM file goes under circuit.qasm"
    try:
        return Circuit.from_dict(json.loads(text))
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path} is not a qtrain circuit ({hint}): not JSON ({error})") from None
    except (QtrainError, KeyError, TypeError, AttributeError, ValueError) as error:
        reason = f"missing {error}" if isinstance(error, KeyError) else str(error)
        raise ConfigError(f"{path} is not a qtrain circuit ({hint}): {reason}") from None


class CircuitConfig(StrictModel):
    """``{ansatz: hardware_efficient, n_qubits: 4}``, ``{path: c.json}`` or ``{qasm: c.qasm}``."""

    ansatz: Literal["hardware_efficient", "strongly_entangling"] | None = None
    n_qubits: Annotated[int, Field(ge=1, le=40)] | None = None
    layers: Annotated[int, Field(ge=1)] = 1
    path: Path | None = None
    qasm: Path | None = None

    @pydantic.field_validator("path", "qasm")
    @classmethod
    def _relative_to_config(cls, path: Path | None, info: pydantic.ValidationInfo) -> Path | None:
        resolved = relative_to_config(None if path is None else str(path), info)
        return None if resolved is None else Path(resolved)

    @model_validator(mode="after")
    def _one_source(self) -> CircuitConfig:
        if sum(s is not None for s in (self.ansatz, self.path, self.qasm)) != 1:
            message = "give one of ansatz (with n_qubits), path (circuit JSON) or qasm (OpenQASM)"
            raise ValueError(message)
        if self.ansatz is not None and self.n_qubits is None:
            raise ValueError(f"ansatz {self.ansatz!r} needs n_qubits")
        if self.qasm is not None:
            try:
                qasm.load(self.qasm)
            except QtrainError as error:
                raise KeyedError("qasm", str(error)) from None
        if self.path is not None:
            try:
                load_circuit_file(self.path)
            except ConfigError as error:
                raise KeyedError("path", str(error)) from None
        return self
