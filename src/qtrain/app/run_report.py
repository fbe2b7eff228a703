"""What a configured run adds to its ``summary.json``.

A built-in problem's own numbers, the noise model and its exact noisy loss, the mitigation
and its exact mitigated loss.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from qtrain.app.build import Prepared, backend_spec, local_simulator
from qtrain.app.qiskit_config import QiskitBackendConfig
from qtrain.errors import ExtrapolationError, StateTooLargeError
from qtrain.train.loop import Report

__all__ = ["noise_description", "problem_report"]


def problem_report(prepared: Prepared) -> Report | None:
    """What a run adds to its summary: a built-in problem's own numbers, the noise, mitigation.

    A problem reports its energy error, approximation ratio or accuracy; a noisy run its
    methods and noise model, with the exact noisy and ideal losses at the final θ; a mitigated
    run its options and the exact mitigated loss there (the problem's numbers then use it).
    """
    problem, objective = prepared.problem, prepared.objective
    _, spec = backend_spec(prepared.config)
    noisy = spec.noise_model() is not None or spec.method != "auto"
    mitigation = prepared.config.mitigation
    qiskit = isinstance(prepared.config.backend, QiskitBackendConfig)
    if problem is None and not noisy and mitigation is None and not qiskit:
        return None

    def loss(terms: NDArray[np.float64] | None) -> float | None:
        return None if terms is None else objective.loss_fn.value(terms, objective.targets)

    def report(theta: NDArray[np.float64]) -> dict[str, Any]:
        ideal = objective.exact_terms(theta)
        raw = _noisy_terms(prepared, theta) if noisy else ideal
        if qiskit:  # its values are the device's: the problem's numbers are the ideal ones
            terms: NDArray[np.float64] | None = ideal
        else:
            terms = raw if mitigation is None else _noisy_terms(prepared, theta, mitigated=True)
        out: dict[str, Any] = {}
        if qiskit:
            out["backend"] = {**noise_description(prepared), "ideal_loss": loss(ideal)}
        if problem is not None and terms is not None:
            out["problem"] = {"name": problem.name, "report": problem.report(terms)}
        if noisy:
            out["noise"] = {
                **noise_description(prepared),
                "noisy_loss": loss(raw),
                "ideal_loss": loss(ideal),
            }
        if mitigation is not None:
            readout, zne = mitigation.options()
            out["mitigation"] = {
                "readout": None if readout is None else readout.describe(),
                "zne": None if zne is None else zne.describe(),
                "mitigated_loss": None if qiskit else loss(terms),
                "unmitigated_loss": None if qiskit else loss(raw),
            }
        return out

    return report


def _noisy_terms(
    prepared: Prepared, theta: NDArray[np.float64], *, mitigated: bool = False
) -> NDArray[np.float64] | None:
    """Exact noisy term values (the density matrix where trajectories ran), or mitigated ones.

    ``None``: the state is too large, or the extrapolation has no answer there.
    """
    _, spec = backend_spec(prepared.config)
    if spec.method == "trajectories":
        spec = spec.model_copy(update={"method": "density_matrix"})
    backend = local_simulator(spec)
    mitigation = prepared.config.mitigation
    try:
        if mitigated and mitigation is not None:
            return prepared.objective.exact_terms(theta, mitigation.wrap(backend))
        return prepared.objective.exact_terms(theta, backend)
    except (StateTooLargeError, ExtrapolationError):
        return None


def noise_description(prepared: Prepared) -> dict[str, Any]:
    """The simulator of a run in words: requested and chosen methods, noise model, source.

    A Qiskit backend: its device and options (``QiskitBackendConfig.describe``).
    """
    if isinstance(prepared.config.backend, QiskitBackendConfig):
        return prepared.config.backend.describe()
    _, spec = backend_spec(prepared.config)
    model = spec.noise_model()
    return {
        "method": spec.method,
        "methods": sorted({s.choice.method for s in prepared.simulation}),
        "trajectories": spec.trajectories,
        "model": None if model is None else model.fingerprint(),
        "source": None if spec.noise is None else spec.noise.source(),
    }
