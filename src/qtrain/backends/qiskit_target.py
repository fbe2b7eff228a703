"""What a :class:`~qtrain.backends.qiskit.QiskitBackend` runs on: the device and its sampler.

A target is one of four kinds:

* ``"aer"``: an ``AerSimulator``: exact and sampled tasks on Aer's V2 primitives.
* ``"fake"``: any other local ``BackendV2`` (qiskit-ibm-runtime's fake devices): sampled
  tasks on Aer's primitives over ``AerSimulator.from_backend(device)`` — the device's noise,
  as qiskit-ibm-runtime's local mode runs it.
* ``"ibm"``: a ``qiskit_ibm_runtime.IBMBackend``: sampled tasks through qiskit-ibm-runtime's
  current client-side ``executor_sampler.Sampler`` in job, batch or session mode; jobs are
  retrieved by id through the backend's service.
* ``"primitive"``: a SamplerV2-like primitive (``run(pubs, shots=)``, and ``mode``: the
  ``BackendV2`` — or a session/batch holding it — that circuits are transpiled for), e.g.
  ``qtrain.testing.spool.SpoolService(...).sampler()``.
* ``"estimator"``: an ``EstimatorV2`` (Aer's, or qiskit-ibm-runtime's client-side
  ``executor_estimator.Estimator``): values and standard errors from ``evs``/``stds``
  (``backends.qiskit_estimator``); exact values only from Aer's.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

from qiskit_aer import AerSimulator

from qtrain.errors import ConfigError
from qtrain.noise.calibration import Calibration

__all__ = [
    "EXECUTION_MODES",
    "Target",
    "calibration_digest",
    "max_circuits_of",
    "max_shots_of",
    "noise_digest",
    "resolve_target",
]

EXECUTION_MODES = ("job", "batch", "session")


class Target:
    """The device circuits are transpiled for and the primitive that samples them.

    Attributes:
        kind: ``"aer"``, ``"fake"``, ``"ibm"`` or ``"primitive"``.
        device: the ``BackendV2``.
        simulator: the ``AerSimulator`` the local primitives run on (``None`` for ``ibm``
            and ``primitive``).
        service: what retrieves jobs by id (``service.job(job_id)``), or ``None``.
    """

    def __init__(self, kind: str, device: Any, primitive: Any, service: Any, execution: str):
        self.kind, self.device, self.service = kind, device, service
        self.execution = execution
        self._primitive = primitive
        self._mode: Any = None
        self._lock = threading.Lock()
        self.simulator: AerSimulator | None = None
        if kind == "aer":
            self.simulator = device
        elif kind == "fake":
            self.simulator = AerSimulator.from_backend(device)

    @property
    def exact(self) -> bool:
        """Whether it computes exact values (Aer: an ``AerSimulator`` or Aer's estimator)."""
        aer_estimator = type(self._primitive).__module__.startswith("qiskit_aer")
        return self.kind == "aer" or (self.kind == "estimator" and aer_estimator)

    def estimator(self) -> Any:
        """The estimator: the target's own, or Aer's (precision 0 by default) on Aer."""
        if self.kind == "estimator":
            return self._primitive
        from qiskit_aer.primitives import EstimatorV2  # noqa: PLC0415 - beside the simulator

        return EstimatorV2.from_backend(self.simulator, options={"default_precision": 0})

    def sampler(self, seed: int) -> Any:
        """The primitive that samples a task (Aer's seeded by ``seed``)."""
        if self.simulator is not None:
            from qiskit_aer.primitives import SamplerV2  # noqa: PLC0415 - beside the simulator

            return SamplerV2.from_backend(self.simulator, seed=seed)
        with self._lock:  # calls on several threads open one batch or session, not several
            return self._ibm_sampler()

    def _ibm_sampler(self) -> Any:
        if self._primitive is None:  # ibm: one client-side sampler in the chosen mode
            from qiskit_ibm_runtime import Batch, Session  # noqa: PLC0415 - ibm only
            from qiskit_ibm_runtime.executor_sampler import Sampler  # noqa: PLC0415

            self._mode = self.device
            if self.execution != "job":
                holder = Batch if self.execution == "batch" else Session
                self._mode = holder(backend=self.device)
            self._primitive = Sampler(mode=self._mode)
        return self._primitive

    def close(self) -> None:
        """Close the batch or session this target opened (nothing for job mode)."""
        close = getattr(self._mode, "close", None)
        if callable(close) and self._mode is not self.device:
            close()
        self._mode = None


def _device_of_primitive(primitive: Any) -> Any:
    mode = getattr(primitive, "mode", None)
    if mode is None:
        mode = getattr(primitive, "_backend", None)
    if mode is not None and not hasattr(mode, "target"):
        mode = getattr(mode, "_backend", None)  # a runtime Session or Batch holds its backend
    if mode is None or not hasattr(mode, "target"):
        raise ConfigError(
            f"QiskitBackend cannot tell which device {primitive!r} runs on: give a sampler "
            "whose mode is a BackendV2 (or a Session/Batch of one)"
        )
    return mode


def _is_estimator(target: Any) -> bool:
    from qiskit.primitives import BaseEstimatorV2  # noqa: PLC0415 - the qiskit extra

    return isinstance(target, BaseEstimatorV2)


def _is_ibm(target: Any) -> bool:
    try:
        from qiskit_ibm_runtime import IBMBackend  # noqa: PLC0415 - optional
    except ImportError:
        return False
    return isinstance(target, IBMBackend)


def resolve_target(target: Any, *, execution: str, service: Any) -> Target:
    """The :class:`Target` of a ``BackendV2`` or a sampler primitive.

    Raises:
        ConfigError: neither a ``BackendV2`` nor a sampler; an unknown execution mode; a
            mode other than ``"job"`` for a primitive (its own mode decides).
    """
    if execution not in EXECUTION_MODES:
        raise ConfigError(
            f"execution must be one of {', '.join(EXECUTION_MODES)}, got {execution!r}"
        )
    if all(hasattr(target, a) for a in ("target", "num_qubits", "name", "run")):
        if isinstance(target, AerSimulator):
            return Target("aer", target, None, service, execution)
        if _is_ibm(target):
            found = service if service is not None else getattr(target, "service", None)
            return Target("ibm", target, None, found, execution)
        return Target("fake", target, None, service, execution)
    if _is_estimator(target):
        return Target("estimator", _device_of_primitive(target), target, service, execution)
    if callable(getattr(target, "run", None)) and hasattr(target, "mode"):
        if execution != "job":
            raise ConfigError(
                f"execution={execution!r} is for BackendV2 targets; a primitive runs in the "
                "mode it was built with"
            )
        return Target("primitive", _device_of_primitive(target), target, service, execution)
    raise ConfigError(
        f"QiskitBackend needs a qiskit BackendV2 or a SamplerV2 primitive, got {target!r}"
    )


def _configuration(device: Any) -> Any:
    configuration = getattr(device, "configuration", None)
    if not callable(configuration):
        return None
    try:
        return configuration()
    except (AttributeError, TypeError, NotImplementedError):
        return None


def max_shots_of(device: Any) -> int | None:
    """The device's shots per circuit limit, where it states one."""
    shots = getattr(_configuration(device), "max_shots", None)
    return int(shots) if isinstance(shots, int) and shots > 0 else None


def max_circuits_of(device: Any) -> int | None:
    """Circuits per job the device accepts (``max_circuits``, else ``max_experiments``)."""
    found = getattr(device, "max_circuits", None)
    if not (isinstance(found, int) and found > 0):
        found = getattr(_configuration(device), "max_experiments", None)
    return int(found) if isinstance(found, int) and found > 0 else None


def calibration_digest(calibration: Calibration) -> str:
    """What the calibration says about the device, without its id and timestamp."""
    data = calibration.to_dict()
    data.pop("id", None)
    data.pop("timestamp", None)
    text = json.dumps(data, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def noise_digest(noise: Any) -> str:
    """sha256 of an Aer noise model's serialisable form."""
    text = json.dumps(noise.to_dict(serializable=True), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
