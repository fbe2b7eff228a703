"""Which simulation method runs a task, and the memory one parameter row needs.

* ``"statevector"``: ideal gates, ``(B, 2ⁿ)``; readout errors act on the outcomes.
* ``"density_matrix"``: gates and channels, ``(B, 4ⁿ)``; exact noisy expectations.
* ``"trajectories"``: gates and channels as Monte Carlo wave functions, ``T`` statevectors per
  row; an estimate with a standard error, so it needs shots.
* ``"auto"``: the statevector when the noise model has no channels; else the density matrix
  for exact tasks, and for sampled tasks with ``n ≤ AUTO_DENSITY_MAX_QUBITS`` whose density
  matrix fits the memory budget; trajectories for the other sampled tasks. Exact results
  under ``"auto"`` are always the density matrix's; sampled ones are draws from the same noisy
  distribution whichever method made them, so a store may serve either.
"""

from __future__ import annotations

from dataclasses import dataclass

from qtrain.errors import SimulationMethodError, StateTooLargeError
from qtrain.noise.model import NoiseModel
from qtrain.sim.statevector import BYTES_PER_AMPLITUDE, WORKING_COPIES, format_bytes

__all__ = [
    "AUTO_DENSITY_MAX_QUBITS",
    "METHODS",
    "MethodChoice",
    "check_method",
    "choose_method",
    "has_channels",
    "state_bytes",
]

METHODS = ("auto", "statevector", "density_matrix", "trajectories")
_IDEAL_REASONS = {
    "statevector": "requested",
    "auto": "auto: no noise channels",
    "trajectories": "trajectories without noise channels are the statevector",
}
# At n = 12 one density matrix is 256 MiB (1 GiB with working copies); beyond, a sampled
# task's trajectories cost T·2ⁿ against 4ⁿ amplitudes per row and win for any sensible T.
AUTO_DENSITY_MAX_QUBITS = 12


@dataclass(frozen=True)
class MethodChoice:
    """The method a task runs with.

    Attributes:
        method: ``"statevector"``, ``"density_matrix"`` or ``"trajectories"``.
        bytes_per_row: the least memory a parameter row needs, working copies included (for
            trajectories, one trajectory's: they are batched to the memory budget).
        reason: one line saying why.
    """

    method: str
    bytes_per_row: int
    reason: str


def has_channels(noise: NoiseModel | None) -> bool:
    """True when ``noise`` acts on states (gate or before-measure channels), not only readout."""
    return noise is not None and bool(noise.gate_rules or noise.measure_rules)


def state_bytes(n_qubits: int, itemsize: int = BYTES_PER_AMPLITUDE) -> int:
    """Bytes one ``n``-qubit statevector needs with its working copies.

    ``itemsize``: bytes per amplitude, 16 (complex128) or 8 (complex64, single precision).
    """
    return itemsize * WORKING_COPIES << n_qubits


def _density(n: int, budget: int, reason: str) -> MethodChoice:
    need = state_bytes(2 * n)
    if need > budget:
        raise StateTooLargeError(
            f"method 'density_matrix': a {n}-qubit density matrix needs {need} bytes "
            f"({format_bytes(need)}: 4^{n} amplitudes × {BYTES_PER_AMPLITUDE} B × "
            f"{WORKING_COPIES} working copies) but the memory budget is {budget} bytes "
            f"({format_bytes(budget)}); use method='trajectories' with shots "
            f"({format_bytes(state_bytes(n))} per trajectory), or raise memory_budget"
        )
    return MethodChoice("density_matrix", need, reason)


def _trajectories(n: int, exact: bool, budget: int, why: str) -> MethodChoice:
    if exact:
        raise SimulationMethodError(
            f"method 'trajectories' ({why}) estimates noisy expectations by sampling and needs "
            "shots; give shots, or use method='density_matrix' for exact noisy values"
            + (
                f" (n = {n} > {AUTO_DENSITY_MAX_QUBITS} is large for it)"
                if n > AUTO_DENSITY_MAX_QUBITS
                else ""
            )
        )
    one = state_bytes(n)
    if one > budget:
        raise StateTooLargeError(
            f"method 'trajectories': one {n}-qubit trajectory needs {one} bytes "
            f"({format_bytes(one)}) but the memory budget is {budget} bytes "
            f"({format_bytes(budget)}); use fewer qubits or raise memory_budget"
        )
    return MethodChoice("trajectories", one, why)


def check_method(requested: object, noise: NoiseModel | None) -> str:
    """``requested`` if it is a method that can run under ``noise``.

    Raises:
        SimulationMethodError: an unknown method, or ``"statevector"`` with channels.
    """
    if not isinstance(requested, str) or requested not in METHODS:
        raise SimulationMethodError(
            f"unknown simulation method {requested!r}; choose one of {', '.join(METHODS)}"
        )
    if requested == "statevector" and has_channels(noise):
        raise SimulationMethodError(
            "method 'statevector' simulates ideal gates but the noise model has channels; "
            "use method='density_matrix' or 'trajectories' (or 'auto')"
        )
    return requested


def choose_method(
    requested: str,
    n_qubits: int,
    noise: NoiseModel | None,
    *,
    exact: bool,
    budget: int,
    itemsize: int = BYTES_PER_AMPLITUDE,
) -> MethodChoice:
    """The method for a task on ``n_qubits``, checked against ``budget`` bytes.

    ``itemsize``: bytes per statevector amplitude (8 in single precision).

    Raises:
        SimulationMethodError: an unknown method, ``"statevector"`` with channels,
            ``"trajectories"`` for an exact task.
        StateTooLargeError: one row (one trajectory) does not fit the budget.
    """
    check_method(requested, noise)
    noisy = has_channels(noise)
    if requested == "statevector" or (requested != "density_matrix" and not noisy):
        need = state_bytes(n_qubits, itemsize)
        if need > budget:
            raise StateTooLargeError(
                f"a {n_qubits}-qubit state needs {need} bytes ({format_bytes(need)}) but the "
                f"memory budget is {budget} bytes ({format_bytes(budget)})"
            )
        return MethodChoice("statevector", need, _IDEAL_REASONS[requested])
    if requested == "density_matrix":
        return _density(n_qubits, budget, "requested")
    if requested == "trajectories":
        return _trajectories(n_qubits, exact, budget, "requested")
    if exact:
        return _density(n_qubits, budget, "auto: exact noisy values")
    if n_qubits <= AUTO_DENSITY_MAX_QUBITS and state_bytes(2 * n_qubits) <= budget:
        return _density(n_qubits, budget, f"auto: sampled, n <= {AUTO_DENSITY_MAX_QUBITS}")
    why = (
        f"auto: sampled, n > {AUTO_DENSITY_MAX_QUBITS}"
        if n_qubits > AUTO_DENSITY_MAX_QUBITS
        else "auto: sampled, the density matrix does not fit the memory budget"
    )
    return _trajectories(n_qubits, exact, budget, why)
