"""Random draws of (circuit, θ) and their gradient components, run as batched tasks.

For one scan point, :func:`draw_samples` makes ``S`` draws: for a random-structure family a
new circuit each time, for a fixed one the same circuit with new parameters. The gradient
components ``K`` of every draw are then measured for every cost observable at once:

* **parameter shift** (any backend, exact or sampled): only the slots that feed the chosen
  components are shifted (``passes.param_shift.ShiftedRows`` and each gate's rule), and the
  rows of all draws that share a circuit are one task — for a fixed family the draws share
  it, and random-structure draws that differ only in rotation axes share a skeleton
  (:mod:`qtrain.diagnostics.batching`) — so a scan point is one batched task that the
  executor chunks (and Dask spreads over workers);
* **adjoint** (exact, local simulator): one adjoint pass per draw, every component at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.local import LocalSimulator
from qtrain.backends.protocol import Result, Task
from qtrain.diagnostics.batching import batches
from qtrain.diagnostics.families import Family
from qtrain.diagnostics.inits import IdentityBlocks, Init
from qtrain.errors import ConfigError
from qtrain.grad import adjoint
from qtrain.ir.ansatz import identity_blocks
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.passes.param_shift import ShiftedRows, rule_for
from qtrain.passes.slots import SlotProgram, lower

__all__ = [
    "Draws",
    "Gradients",
    "adjoint_gradients",
    "components_of",
    "draw_samples",
    "plan_gradients",
    "shift_cost",
]

Array = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class Draws:
    """``S`` random draws at one point.

    Attributes:
        circuits: ``S`` circuits (one object repeated for a fixed-structure family).
        thetas: ``(S, P)`` their parameters.
    """

    circuits: tuple[Circuit, ...]
    thetas: Array


@dataclass(frozen=True, eq=False)
class Gradients:
    """Gradient components of every draw, for every observable.

    Attributes:
        values: ``(O, S, K)``.
        stderr: ``(O, S, K)`` sampling standard errors, ``None`` when exact.
        fun: ``(O, S)`` the cost at each draw.
        method: ``"param-shift"`` or ``"adjoint"``.
        rows: parameter rows evaluated (adjoint: one per draw).
        shots: shots spent.
    """

    values: Array
    stderr: Array | None
    fun: Array
    method: str
    rows: int
    shots: int


def _check_member(family: Family, circuit: object, n: int) -> Circuit:
    if not isinstance(circuit, Circuit) or circuit.n_qubits != n:
        raise ConfigError(
            f"ansatz {family.name!r} must return a {n}-qubit Circuit, got {circuit!r:.60}"
        )
    return circuit


def _member(
    family: Family, n: int, depth: int, init: Init, rng: np.random.Generator
) -> tuple[Circuit, list[int]]:
    """One circuit, and the parameter counts of its identity-block halves (if any)."""
    if isinstance(init, IdentityBlocks):
        half = init.half_depth(depth)
        halves = [_check_member(family, family.layers(n, half, rng), n) for _ in range(init.blocks)]
        circuit = Circuit(n, family.preparation(n).ops + identity_blocks(halves).ops)
        return circuit, [h.n_params for h in halves]
    return _check_member(family, family.circuit(n, depth, rng), n), []


def draw_samples(
    family: Family, init: Init, n_qubits: int, depth: int, *, samples: int, rng: np.random.Generator
) -> Draws:
    """``samples`` draws of (circuit, θ) from ``rng`` (structure first, then parameters)."""
    fixed = None if family.random_structure else _member(family, n_qubits, depth, init, rng)
    circuits, thetas = [], []
    for _ in range(samples):
        circuit, halves = fixed or _member(family, n_qubits, depth, init, rng)
        circuits.append(circuit)
        if isinstance(init, IdentityBlocks):
            thetas.append(init.theta(halves, rng))
        else:
            thetas.append(init.theta(circuit.n_params, rng))
    return Draws(tuple(circuits), np.array(thetas).reshape(samples, -1))


def _slots_of(program: SlotProgram, components: NDArray[np.int64]) -> list[int]:
    return [s for s in range(program.n_slots) if np.any(program.matrix[s, components])]


def shift_cost(circuit: Circuit, components: NDArray[np.int64]) -> tuple[Array, Array]:
    """``(Σ_r W_rk², rows_k)`` per component ``(K,)``, from the shift rules.

    A component's sampling variance is ``Σ_r W_rk² · σ²_shot / N`` with ``N`` shots per row
    and group; ``rows_k`` is how many shifted rows it needs.
    """
    program = lower(circuit)
    weight_sq, rows = np.zeros(components.size), np.zeros(components.size)
    for s in _slots_of(program, components):
        rule = rule_for(program.slot_gates[s])
        coeffs = np.array([c for c, _ in rule])
        weight_sq += (coeffs**2).sum() * program.matrix[s, components] ** 2
        rows += len(rule) * (program.matrix[s, components] != 0)
    return weight_sq, rows


def _shifted(
    program: SlotProgram, base: Array, components: NDArray[np.int64], slots: list[int]
) -> tuple[Array, Array]:
    """Rows ``(R, S)`` around slot angles ``base`` (row 0) and weights ``(R, K)``."""
    rows = ShiftedRows(base, components.size)
    for s in slots:
        for coeff, shift in rule_for(program.slot_gates[s]):
            rows.add({s: shift}, coeff * program.matrix[s, components])
    return rows.arrays()


def plan_gradients(
    draws: Draws,
    observables: tuple[Observable, ...],
    components: NDArray[np.int64],
    *,
    shots: int | None,
    seed: int | None,
    random_structure: bool = False,
) -> tuple[list[Task], Callable[[list[Result]], Gradients]]:
    """Parameter-shift tasks for every draw (one task per batch) and their assembly."""
    tasks: list[Task] = []
    layout: list[list[tuple[int, int, Array]]] = []  # per task: (draw, first row, weights)
    for circuit, members, rows_of in batches(
        draws.circuits, draws.thetas, random_structure=random_structure
    ):
        program = lower(circuit)
        slots = _slots_of(program, components)
        angles = program.angles(rows_of)  # (S_b, slots): one product for the whole batch
        blocks, placed, start = [], [], 0
        for s, base in zip(members, angles, strict=True):
            rows, weights = _shifted(program, base, components, slots)
            blocks.append(rows)
            placed.append((s, start, weights))
            start += rows.shape[0]
        tasks.append(Task(program.shift_circuit, observables, np.vstack(blocks), shots, seed))
        layout.append(placed)
    count, width, size = len(observables), components.size, len(draws.circuits)

    def assemble(results: list[Result]) -> Gradients:
        values, fun = np.zeros((count, size, width)), np.zeros((count, size))
        stderr = None if shots is None else np.zeros((count, size, width))
        for result, placed in zip(results, layout, strict=True):
            for s, start, weights in placed:
                block = result.values[start : start + weights.shape[0]]  # (R, O)
                values[:, s, :] = (weights.T @ block).T
                fun[:, s] = block[0]
                if stderr is not None and result.variances is not None:
                    var = result.variances[start : start + weights.shape[0]]
                    stderr[:, s, :] = np.sqrt(((weights**2).T @ var).T)
        rows = sum(task.params.shape[0] for task in tasks)
        spent = sum(int(result.shots) for result in results)
        return Gradients(values, stderr, fun, "param-shift", rows, spent)

    return tasks, assemble


def adjoint_gradients(
    draws: Draws,
    observables: tuple[Observable, ...],
    components: NDArray[np.int64],
    simulator: LocalSimulator,
) -> Gradients:
    """Exact components of every draw by the adjoint method, in this process."""
    size = len(draws.circuits)
    values = np.zeros((len(observables), size, components.size))
    fun = np.zeros((len(observables), size))
    for s, (circuit, theta) in enumerate(zip(draws.circuits, draws.thetas, strict=True)):
        gradient = adjoint.compute(circuit, observables, theta, simulator)
        values[:, s, :] = gradient.value[:, components]
        fun[:, s] = gradient.fun
    return Gradients(values, None, fun, "adjoint", size, 0)


def components_of(params: str | Sequence[int], n_params: int) -> NDArray[np.int64]:
    """The component indices ``(K,)``: ``"all"`` or a sequence of ints in ``[0, P)``.

    Raises:
        ConfigError: an empty selection or an index out of range.
    """
    if isinstance(params, str):
        if params != "all":
            raise ConfigError(f"params must be 'all' or a list of indices, got {params!r}")
        return np.arange(n_params)
    chosen = np.asarray(list(params))
    if chosen.size == 0 or chosen.dtype.kind not in "iu":
        raise ConfigError(f"params must be a non-empty list of ints, got {params!r}")
    bad = chosen[(chosen < 0) | (chosen >= n_params)]
    if bad.size:
        raise ConfigError(
            f"parameter index {int(bad[0])} is out of range for a circuit of {n_params} "
            f"parameters (valid 0..{n_params - 1})"
        )
    return chosen.astype(np.int64)
