"""``QiskitBackend``: the backend protocol over a Qiskit ``BackendV2`` (Aer, fake devices).

Needs the ``qiskit`` extra (``qiskit``, ``qiskit-aer``; ``qiskit-ibm-runtime`` for fake
devices). Every circuit is transpiled once per fingerprint (``backends.qiskit_compile``);
each task is then one primitive job:

* **sampled** (``shots`` given): one Sampler PUB per (measurement group, distinct shot
  count) with all its rows as one parameter array; bit strings become each group's mean and
  variance with the local simulator's statistics (``backends.qiskit_counts``). A task's seed
  is the sampler's seed: the same task gives the same numbers.
* **exact** (``shots=None``): Aer's ``EstimatorV2`` with precision 0 (its exact
  ``save_expectation_value`` path), one PUB per observable. Only on an ``AerSimulator``:
  a device (a fake device included) refuses exact tasks before any job.

Primitives: Aer's ``SamplerV2`` / ``EstimatorV2`` on the ``AerSimulator`` itself, or on
``AerSimulator.from_backend(device)`` for a fake device — what qiskit-ibm-runtime's local
mode runs too. Its non-deprecated client-side ``executor_sampler.Sampler`` (0.50+) also runs
fake devices offline, but rounds every bound angle to 5 decimals of π/2 by default
(``simulator.angle_decimals``) and restarts one seed for every PUB, so it is not used here.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from typing import Any

from qtrain.extras import require

require("qiskit_aer", extra="qiskit", purpose="qtrain.backends.qiskit (QiskitBackend)")

import numpy as np  # noqa: E402  # after the check, so a missing extra is one clear error
from numpy.typing import NDArray  # noqa: E402
from qiskit_aer import AerSimulator  # noqa: E402
from qiskit_aer.primitives import EstimatorV2, SamplerV2  # noqa: E402

from qtrain.backends.protocol import BackendLimits, Result, Task, fresh_seed  # noqa: E402
from qtrain.backends.qiskit_calibration import calibration_from_target  # noqa: E402
from qtrain.backends.qiskit_compile import CLBITS, Compiled, compile_circuit  # noqa: E402
from qtrain.backends.qiskit_counts import group_statistics, outcome_counts  # noqa: E402
from qtrain.errors import ConfigError, DeviceCapabilityError  # noqa: E402
from qtrain.noise.calibration import Calibration  # noqa: E402
from qtrain.sim.measure import GroupPlan, measurement_plan  # noqa: E402

__all__ = ["QiskitBackend"]

_SAMPLING_SCHEME = 1  # bump when the numbers of a given (task, seed) change
_Slot = tuple[int, GroupPlan, NDArray[np.intp]]  # (observable, group, rows) of one PUB


class QiskitBackend:
    """Run qtrain tasks on a Qiskit ``BackendV2``: an ``AerSimulator`` or a (fake) device.

    Args:
        target: the ``BackendV2``. An ``AerSimulator`` runs exact and sampled tasks; any
            other backend (``FakeManilaV2()`` …) is a device: sampled tasks only, simulated
            locally by ``AerSimulator.from_backend`` with the device's noise.
        transpile: extra keyword arguments for ``qiskit.transpile`` (``layout_method``,
            ``initial_layout``, ``routing_method`` …), part of the identity.
        optimization_level: ``transpile``'s optimization level.
        seed_transpiler: ``transpile``'s seed (layout and routing are then reproducible).

    Raises:
        ConfigError: ``target`` is not a ``BackendV2``, or a transpile option is not JSON.
    """

    def __init__(
        self,
        target: Any,
        *,
        transpile: Mapping[str, Any] | None = None,
        optimization_level: int = 1,
        seed_transpiler: int | None = None,
    ) -> None:
        if not all(hasattr(target, a) for a in ("target", "num_qubits", "name", "run")):
            raise ConfigError(f"QiskitBackend needs a qiskit BackendV2, got {target!r}")
        options = dict(transpile or {})
        options.update(optimization_level=optimization_level, seed_transpiler=seed_transpiler)
        try:
            json.dumps(options, sort_keys=True)
        except TypeError as exc:
            raise ConfigError(f"transpile options must be plain JSON values: {exc}") from None
        self.backend = target
        self.is_simulator = isinstance(target, AerSimulator)
        self.simulator: AerSimulator = (
            target if self.is_simulator else AerSimulator.from_backend(target)
        )
        self.transpile_options = options
        self._compiled: dict[str, Compiled] = {}
        self._calibration: tuple[Calibration | None] | None = None

    @property
    def calibration(self) -> Calibration | None:
        """The device's calibration snapshot (cached); ``None`` for a plain ``AerSimulator``."""
        if self._calibration is None:
            found = None if self.is_simulator else calibration_from_target(self.backend)
            self._calibration = (found,)
        return self._calibration[0]

    @property
    def name(self) -> str:
        """``"qiskit:<backend name>"``."""
        return f"qiskit:{self.backend.name}"

    @property
    def limits(self) -> BackendLimits:
        """The device's qubits; its shot limit where the backend states one."""
        max_shots = _max_shots(self.backend)
        return BackendLimits(
            max_shots=max_shots if max_shots is not None else BackendLimits().max_shots,
            max_qubits=int(self.backend.num_qubits),
        )

    def identity(self) -> dict[str, object]:
        """Provider, device, transpile options and, for Aer, the method and noise."""
        kind = type(self.backend)
        identity: dict[str, object] = {
            "backend": self.name,
            "provider": f"{kind.__module__}.{kind.__qualname__}",
            "device": str(self.backend.name),
            "version": str(getattr(self.backend, "backend_version", "")),
            "transpile": dict(sorted(self.transpile_options.items())),
            "sampling": _SAMPLING_SCHEME,
        }
        if self.is_simulator:
            options = self.backend.options
            identity["method"] = str(options.method)
            noise = options.noise_model
            identity["noise"] = None if noise is None else _noise_digest(noise)
        return identity

    def compiled(self, task: Task) -> Compiled:
        """The task's circuit transpiled for this backend (once per fingerprint)."""
        key = task.circuit.fingerprint()
        found = self._compiled.get(key)
        if found is None:
            found = compile_circuit(
                task.circuit,
                self.backend,
                device_qubits=int(self.backend.num_qubits),
                is_aer=self.is_simulator,
                options=self.transpile_options,
            )
            self._compiled[key] = found
        return found

    def run(self, tasks: Sequence[Task]) -> list[Result]:
        """Run every task, one job each; every task is checked and transpiled first.

        Raises:
            DeviceCapabilityError: exact values asked of a device, a circuit larger than
                the device or one it cannot transpile — before any job is submitted.
        """
        for task in tasks:
            if task.shots is None and not self.is_simulator:
                raise DeviceCapabilityError(
                    f"exact values need a simulator: give shots ({self.backend.name!r} is a "
                    "device); nothing was submitted"
                )
        compiled = [self.compiled(task) for task in tasks]
        return [
            self._exact(task, c) if task.shots is None else self._sampled(task, c)
            for task, c in zip(tasks, compiled, strict=True)
        ]

    def _exact(self, task: Task, compiled: Compiled) -> Result:
        estimator = EstimatorV2.from_backend(self.simulator, options={"default_precision": 0})
        binds: NDArray[np.float64] | None = compiled.bindings(task.params)
        rows = task.params.shape[0]
        if binds is not None and binds.shape[1] == 0:
            binds = None  # Aer runs only the first row of an empty parameter array
        pubs = [(compiled.circuit, compiled.sparse_op(obs), binds) for obs in task.observables]
        start = time.perf_counter()
        job = estimator.run(pubs, precision=0.0)
        results = job.result()
        values = np.stack(
            [np.broadcast_to(np.asarray(r.data.evs, dtype=np.float64), (rows,)) for r in results],
            axis=1,
        )
        metadata = self._metadata(job, start, rows)
        return Result(values.reshape(rows, len(task.observables)), None, 0, metadata)

    def _sampled(self, task: Task, compiled: Compiled) -> Result:
        shots = task.shot_matrix()
        assert shots is not None  # sampled tasks only
        seed = task.seed if task.seed is not None else fresh_seed()
        binds = compiled.bindings(task.params)
        pubs: list[tuple[Any, NDArray[np.float64] | None, int]] = []
        slots: list[_Slot] = []
        g = 0
        for o, observable in enumerate(task.observables):
            for group in measurement_plan(observable, compiled.n_qubits).groups:
                circuit = compiled.measured(group.rotations)
                for count in np.unique(shots[:, g]):
                    rows = np.flatnonzero(shots[:, g] == count)
                    pubs.append(_sampler_pub(circuit, binds[rows], int(count)))
                    slots.append((o, group, rows))
                g += 1
        sampler = SamplerV2.from_backend(self.simulator, seed=seed)
        start = time.perf_counter()
        job = sampler.run(pubs)
        results = job.result()
        values, variances = self._aggregate(task, compiled, slots, results)
        metadata = {**self._metadata(job, start, task.params.shape[0]), "seed": seed}
        return Result(values, variances, int(shots.sum()), metadata)

    @staticmethod
    def _aggregate(
        task: Task, compiled: Compiled, slots: Sequence[_Slot], results: Any
    ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        rows = task.params.shape[0]
        constants = [measurement_plan(obs, compiled.n_qubits).constant for obs in task.observables]
        values = np.tile(np.asarray(constants, dtype=np.float64), (rows, 1))
        variances = np.zeros((rows, len(task.observables)))
        for (o, group, picked), result in zip(slots, results, strict=True):
            counts = outcome_counts(result.data[CLBITS], compiled.n_qubits, picked.size)
            means, spreads = group_statistics(counts, group)
            values[picked, o] += means
            variances[picked, o] += spreads
        return values, variances

    def _metadata(self, job: Any, start: float, rows: int) -> dict[str, object]:
        metadata: dict[str, object] = {
            "backend": self.name,
            "job_id": str(job.job_id()),
            "rows": rows,
            "seconds": time.perf_counter() - start,
        }
        if self.calibration is not None:  # a simulator names none (the ledger reads "" then)
            metadata["calibration_id"] = self.calibration.id
        return metadata


def _sampler_pub(
    circuit: Any, binds: NDArray[np.float64], shots: int
) -> tuple[Any, NDArray[np.float64] | None, int]:
    """A PUB for ``len(binds)`` rows of ``shots`` each.

    Aer samples only the first row of an empty ``(R, 0)`` parameter array (the rest come
    back all zeros), so a circuit without parameters runs ``R·shots`` shots in one row,
    split into ``R`` rows by :func:`outcome_counts`.
    """
    if binds.shape[1] == 0:
        return circuit, None, shots * binds.shape[0]
    return circuit, binds, shots


def _max_shots(target: Any) -> int | None:
    configuration = getattr(target, "configuration", None)
    if configuration is None:
        return None
    try:
        shots = getattr(configuration(), "max_shots", None)
    except (AttributeError, TypeError, NotImplementedError):
        return None
    return int(shots) if isinstance(shots, int) and shots > 0 else None


def _noise_digest(noise: Any) -> str:
    text = json.dumps(noise.to_dict(serializable=True), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
