"""The metric tensor (Fubini–Study metric, real part of the quantum geometric tensor).

``g_kl = Re[⟨∂_k ψ|∂_l ψ⟩ − ⟨∂_k ψ|ψ⟩⟨ψ|∂_l ψ⟩]`` — PennyLane's convention (the quantum
Fisher information is ``4g``), the metric that quantum natural gradient preconditions with
(Stokes, Izaac, Killoran, Carleo, Quantum 4, 269 (2020)). Computed exactly on the simulator
in slot space and mapped back with ``g_θ = Mᵀ g_slots M``:

* ``full``: every derivative state ``|∂_s ψ⟩ = U_{>s}(−iG_s)U_{≤s}|0⟩`` joins one growing
  batch at its gate (a derivative row is born as ``−iG_s`` applied to the running state,
  then follows the remaining gates with it), so the cost is one pass per gate over at most
  ``S + 1`` rows, and ``S × S`` inner products at the end;
* ``block-diag``: the same entries kept only within *layers* — sets of parametrised gates
  that are not causally connected (a gate's layer is one more than the latest layer in its
  past light cone) — and between slots fed by the same parameter, so every parameter's own
  block ``g_kk`` is exact even when a tied parameter spans several layers. Within a layer,
  the entries equal the covariances of the generators, which is what a device would measure.

On a noisy simulator the metric is that of the circuit's ideal pure state (the Fubini–Study
metric has no unique mixed-state extension); quantum natural gradient then preconditions the
exact noisy gradient with it, a valid positive-definite choice (``docs/decisions.md``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.local import simulator_inside as local_simulator
from qtrain.errors import GradientError, StateTooLargeError
from qtrain.ir.circuit import Circuit
from qtrain.passes.slots import SlotProgram, lower
from qtrain.sim import kernels as reference_kernels
from qtrain.sim.program import op_matrices
from qtrain.sim.statevector import KernelSet, chunk_rows

__all__ = [
    "APPROXIMATIONS",
    "check_approx",
    "check_memory",
    "compute",
    "local_simulator",
    "slot_layers",
]

APPROXIMATIONS = ("full", "block-diag")


def slot_layers(program: SlotProgram) -> NDArray[np.int64]:
    """``(S,)`` the causal layer of every slot's gate (1 = first)."""
    depth = [0] * program.circuit.n_qubits
    layers = []
    for op in program.circuit.ops:
        level = max(depth[w] for w in op.wires)
        if op.param_indices:
            level += 1
            layers.append(level)
        for w in op.wires:
            depth[w] = level
    return np.array(layers, dtype=np.int64)


def _apply_in_place(
    kernels: KernelSet,
    view: NDArray[np.complex128],
    mats: NDArray[np.complex128],
    wires: tuple[int, ...],
    n_qubits: int,
) -> None:
    result = kernels.apply_matrix(view, mats, wires, n_qubits)
    if result is not view:  # the numpy kernels return new arrays
        view[...] = result


def _derivative_states(
    program: SlotProgram, angles: NDArray[np.float64], kernels: KernelSet
) -> NDArray[np.complex128]:
    """``(1 + S, 2ⁿ)``: row 0 is ``ψ``, row ``1 + s`` is ``∂ψ/∂a_s``."""
    n = program.circuit.n_qubits
    row = angles[None, :]
    states = np.empty((program.n_slots + 1, 1 << n), dtype=np.complex128)
    states[:1] = reference_kernels.zero_states(1, n)
    count = 1
    for op in program.circuit.ops:
        _apply_in_place(kernels, states[:count], op_matrices(op, row), op.wires, n)
        if op.param_indices:
            generator = op.spec.generator
            assert generator is not None  # every slot gate has one (slots decompose U3)
            states[count] = states[0]
            born = states[count : count + 1]
            _apply_in_place(kernels, born, -1j * generator[None], op.wires, n)
            count += 1
    return states


def check_memory(circuit: Circuit, simulator: LocalSimulator) -> None:
    """Refuse, before any allocation, when the ``S + 1`` states do not fit the budget.

    Raises:
        StateTooLargeError: naming the states, qubits and the budget.
    """
    needed = lower(circuit).n_slots + 1
    if chunk_rows(circuit.n_qubits, needed, simulator.memory_budget) < needed:
        raise StateTooLargeError(
            f"the metric tensor keeps {needed} {circuit.n_qubits}-qubit states at once, more "
            f"than the memory budget of {simulator.memory_budget} bytes"
        )


def check_approx(approx: object) -> str:
    """``approx`` if it names an approximation.

    Raises:
        GradientError: an unknown ``approx``.
    """
    if approx not in APPROXIMATIONS:
        raise GradientError(f"approx must be one of {APPROXIMATIONS}, got {approx!r}")
    return str(approx)


def compute(
    circuit: Circuit,
    theta: NDArray[np.float64],
    simulator: LocalSimulator,
    approx: str = "full",
) -> NDArray[np.float64]:
    """The ``(P, P)`` metric tensor at ``theta (P,)``, with ``simulator``'s budget and kernels.

    Raises:
        GradientError: an unknown ``approx``.
        StateTooLargeError: the ``S + 1`` states do not fit the simulator's memory budget.
    """
    check_approx(approx)
    check_memory(circuit, simulator)
    program = lower(circuit)
    states = _derivative_states(program, program.angles(theta[None, :])[0], simulator.kernels)
    psi, derivatives = states[0], states[1:]
    overlaps = derivatives.conj() @ psi  # ⟨∂_s ψ|ψ⟩
    qgt = derivatives.conj() @ derivatives.T - np.outer(overlaps, overlaps.conj())
    metric = qgt.real
    if approx == "block-diag":
        layers = slot_layers(program)
        feeds = program.matrix != 0
        # Slots tied to one parameter stay coupled whatever their layers: otherwise a
        # parameter spread over k sequential gates keeps ~1/k of its own metric.
        shared = (feeds.astype(np.int64) @ feeds.T.astype(np.int64)) > 0
        metric = np.where((layers[:, None] == layers[None, :]) | shared, metric, 0.0)
    result: NDArray[np.float64] = program.matrix.T @ metric @ program.matrix
    return result
