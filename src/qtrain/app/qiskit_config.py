"""``backend: {name: qiskit, ...}``: a run on Qiskit Aer, a fake IBM device or IBM Quantum.

The section names a device (:mod:`qtrain.backends.qiskit_devices`) and the options of
``qt.QiskitBackend``::

    backend:
      name: qiskit
      device: fake_manila        # aer | fake_<name> (qiskit_ibm_runtime.fake_provider) | ibm_<name>
      method: statevector        # Aer's simulation method: device aer only
      execution: job             # job | batch | session (qiskit-ibm-runtime; no effect locally)
      optimization_level: 1      # qiskit.transpile's, 0-3
      seed_transpiler: 7         # default: drawn from the run's seed and recorded
      transpile: {layout_method: sabre}   # more keyword arguments of qiskit.transpile
      cache: {calibration: strict}        # strict | any: does a stored result need the
                                          # device's current calibration to be reused

Everything is checked when the config is read, before a run folder exists: unknown keys,
the device name (with close matches), Aer's method on a device, transpile options
``qiskit.transpile`` does not take, credentials for ``ibm_<name>`` (read from the
environment or Qiskit's saved account, never from the config: a ``token``- or
``api_key``-like key is refused), and ``gradient.method: adjoint`` (it needs the local
simulator). Exact values on a device (no ``gradient.shots``) are refused by ``prepare``,
which knows whether the optimizer picks its own shots.

>>> spec = QiskitBackendConfig.model_validate({"name": "qiskit", "device": "aer"})
>>> spec.kind, spec.backend_options()
('aer', {})
"""

from __future__ import annotations

import inspect
import re
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, JsonValue, field_validator, model_validator

from qtrain.app.config_errors import KeyedError, StrictModel
from qtrain.backends.protocol import Backend
from qtrain.backends.qiskit_devices import (
    TOKEN_ENV,
    check_device,
    device_kind,
    resolve_device,
)
from qtrain.errors import ConfigError
from qtrain.ir.circuit import Circuit

__all__ = ["CREDENTIALS_IN_CONFIG", "QiskitBackendConfig", "QiskitCacheConfig"]

CREDENTIALS_IN_CONFIG = (
    f"credentials never live in a config: remove the key, and set {TOKEN_ENV} (with "
    "QISKIT_IBM_INSTANCE) in the environment or save an account once with "
    "QiskitRuntimeService.save_account(token=..., instance=...)"
)
_CREDENTIAL_KEY = re.compile(r"token|api[_-]?key|apikey|secret|passw|credential", re.IGNORECASE)
_OWN_KEYS = ("optimization_level", "seed_transpiler")
_NOT_OPTIONS = ("circuits", "backend", "target", "callback")
DASK_QISKIT = (
    "a qiskit backend runs in the run's own process (its jobs are waited for and journaled "
    "there): leave out executor.dask; executor.max_workers sends calls in parallel"
)
ADJOINT_QISKIT = (
    "'adjoint' differentiates the local simulator's state; a Qiskit backend runs circuits: "
    "use param-shift (or best)"
)


def _credential_key(data: Any, where: str = "") -> str | None:
    """The path of the first key that looks like a credential, in nested mappings."""
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and _CREDENTIAL_KEY.search(key):
                return where + key
            found = _credential_key(value, f"{where}{key}.")
            if found is not None:
                return found
    return None


class QiskitCacheConfig(StrictModel):
    """``cache: {calibration: strict | any}``: ``QiskitBackend(calibration_key=...)``.

    ``strict``: a stored result is reused only under the device's calibration it was
    measured with; ``any``: whatever the calibration.
    """

    calibration: Literal["strict", "any"] = "strict"


class QiskitBackendConfig(StrictModel):
    """``backend: {name: qiskit, device: ...}`` (see the module docstring)."""

    name: Literal["qiskit"]
    device: str
    method: Literal["statevector", "density_matrix", "matrix_product_state"] | None = None
    execution: Literal["job", "batch", "session"] | None = None
    optimization_level: Annotated[int, Field(ge=0, le=3)] | None = None
    seed_transpiler: Annotated[int, Field(ge=0)] | None = None
    transpile: dict[str, JsonValue] = Field(default_factory=dict)
    cache: QiskitCacheConfig | None = None
    max_wait_s: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _no_credentials(cls, data: Any) -> Any:
        key = _credential_key(data)
        if key is not None:  # the value is never echoed: a KeyedError message names keys only
            raise KeyedError(key, CREDENTIALS_IN_CONFIG)
        return data

    @field_validator("device")
    @classmethod
    def _known_device(cls, device: str) -> str:
        try:
            check_device(device)
        except ConfigError as error:  # CredentialsError too: says where it looked
            raise ValueError(str(error)) from None
        return device

    @field_validator("transpile")
    @classmethod
    def _transpile_options(cls, options: dict[str, JsonValue]) -> dict[str, JsonValue]:
        if not options:
            return options
        for key in options:
            if key in _OWN_KEYS:
                raise KeyedError(key, f"give it as backend.{key}, not inside transpile")
        from qiskit import transpile  # noqa: PLC0415 - the extra is checked with the device

        allowed = [p for p in inspect.signature(transpile).parameters if p not in _NOT_OPTIONS]
        for key in options:
            if key not in allowed:
                raise KeyedError(
                    key,
                    f"not an option of qiskit.transpile; allowed: {', '.join(sorted(allowed))}",
                )
        return options

    @model_validator(mode="after")
    def _method_for_aer(self) -> QiskitBackendConfig:
        if self.method is not None and self.kind != "aer":
            raise KeyedError(
                "method",
                f"method is Aer's simulation method, for device 'aer' only ({self.device!r} "
                "is simulated with its own noise): drop the key",
            )
        return self

    @property
    def kind(self) -> str:
        """``"aer"``, ``"fake"`` or ``"ibm"``."""
        return device_kind(self.device)

    @property
    def samples_only(self) -> bool:
        """Whether the device refuses exact values (every device but Aer)."""
        return self.kind != "aer"

    def check_gradient(self, method: str, *, dask: bool = False) -> None:
        """Refuse a gradient method a Qiskit backend cannot run, and Dask workers.

        Raises:
            KeyedError: ``gradient.method`` adjoint; ``executor.dask`` (a provider's jobs are
                waited for, and journaled, by the run's own process).
        """
        if method == "adjoint":
            raise KeyedError("gradient.method", ADJOINT_QISKIT)
        if dask:
            raise KeyedError("executor.dask", DASK_QISKIT)

    def check_exact(self, exact: bool, circuits: list[Circuit]) -> None:
        """Refuse exact values on a device, and circuits wider than the device.

        Raises:
            ConfigError: naming ``gradient.shots`` or ``backend.device``.
        """
        if exact and self.samples_only:
            raise ConfigError(
                f"gradient.shots: {self.device!r} is a device and only samples: give "
                "gradient.shots (or gradient.budget / target_stderr); exact values need "
                "device 'aer'"
            )
        if self.kind == "ibm":
            return  # its width is known once IBM Quantum is reached, when the run starts
        device = resolve_device(self.device, method=self.method or "statevector")
        width = max(c.n_qubits for c in circuits)
        if width > int(device.num_qubits):
            raise ConfigError(
                f"backend.device: the circuits have {width} qubits but {self.device!r} has "
                f"only {device.num_qubits}"
            )

    def pinned(self, run_seed: int) -> QiskitBackendConfig:
        """This section as a run records it: ``seed_transpiler`` drawn from the run's seed.

        The layout and routing are then the same on resume, and so are the numbers.
        """
        if self.seed_transpiler is not None:
            return self
        seed = np.random.SeedSequence(run_seed, spawn_key=(0x7A5,)).generate_state(1)[0]
        return self.model_copy(update={"seed_transpiler": int(seed) % (2**31)})

    def backend_options(self, service: Any = None) -> dict[str, Any]:
        """Keyword arguments of ``qt.QiskitBackend``: only those the config sets."""
        options: dict[str, Any] = {}
        if self.transpile:
            options["transpile"] = dict(self.transpile)
        if self.optimization_level is not None:
            options["optimization_level"] = self.optimization_level
        if self.seed_transpiler is not None:
            options["seed_transpiler"] = self.seed_transpiler
        if self.execution is not None:
            options["execution"] = self.execution
        if self.cache is not None:
            options["calibration_key"] = self.cache.calibration
        if self.max_wait_s is not None:
            options["max_wait_s"] = self.max_wait_s
        if service is not None:
            options["service"] = service
        return options

    def build(self) -> Backend:
        """``qt.QiskitBackend`` on the device (an ``ibm_<name>`` connects to IBM Quantum)."""
        from qtrain.backends.qiskit import QiskitBackend  # noqa: PLC0415 - optional extra

        device = resolve_device(self.device, method=self.method or "statevector")
        service = getattr(device, "service", None) if self.kind == "ibm" else None
        return QiskitBackend(device, **self.backend_options(service))

    def describe(self) -> dict[str, Any]:
        """The backend in words, for the plan and the summary (no credentials)."""
        return {
            "name": "qiskit",
            "device": self.device,
            "kind": self.kind,
            "method": self.method or ("statevector" if self.kind == "aer" else None),
            "execution": self.execution or "job",
            "optimization_level": 1 if self.optimization_level is None else self.optimization_level,
            "seed_transpiler": self.seed_transpiler,
            "transpile": dict(self.transpile),
            "calibration": "strict" if self.cache is None else self.cache.calibration,
        }
