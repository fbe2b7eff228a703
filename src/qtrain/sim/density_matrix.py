"""Batched density-matrix simulation: a noisy circuit compiled for the doubled register.

Rows of parameters are simulated together as ``(B, 4ⁿ)`` vectorised density matrices
(``sim.superop``: ``vec(ρ)[i·2ⁿ + j] = ρ[i, j]``, row wires ``0..n−1``, column wires
``n..2n−1``), by the same kernels, chunking and prefix sharing as statevectors
(``sim.statevector.run_sorted``): a parameter-shift batch shares every step before a row's
shifted gate, noisy or not.

Compilation fuses what noise allows (one pass over ``4ⁿ`` amplitudes per step):

* every run of 1-qubit gates and 1-wire channels on a wire is one ``4 × 4`` superoperator on
  ``(w, n + w)`` (RY, its depolarizing, RZ, its depolarizing: one step, not four);
* a multi-wire gate and the multi-wire channels that follow it are one superoperator on
  ``2k`` wires, applied through its non-zero entries only (``sim.fast_superop``); 1-wire
  channels after it join the per-wire runs;
* noiseless permutation gates (CNOT ladders) stay one index gather on both halves, noiseless
  diagonal gates one phase pass.

Measurement reads the diagonal of ``ρ`` rotated into each commuting group's basis.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit, Op
from qtrain.noise.channels import Channel
from qtrain.noise.model import NoiseModel
from qtrain.sim.measure import BASIS_CHANGE, GroupPlan
from qtrain.sim.program import (
    MAX_PERMUTATION_QUBITS,
    Program,
    Step,
    first_steps,
    permutation_gather,
)
from qtrain.sim.statevector import KernelSet
from qtrain.sim.superop import Item, PlacedChannel, apply_superop

__all__ = [
    "compile_density_program",
    "density_probabilities",
    "group_probabilities",
    "initial_density",
    "rotation_superop",
]

Complex = NDArray[np.complex128]


class _DensityBuilder:
    """Accumulates density-matrix steps, holding back 1-wire items per wire (as ``_Builder``).

    Held-back items on a wire commute with every step on other wires, so they may be emitted
    late; they are flushed before anything else touches their wire.
    """

    def __init__(self, n_qubits: int) -> None:
        self.n = n_qubits
        self.steps: list[Step] = []
        self.pending: dict[int, list[Item]] = {}
        self.perm_run: list[Op] = []

    def doubled(self, wires: tuple[int, ...]) -> tuple[int, ...]:
        return (*wires, *(w + self.n for w in wires))

    def step(self, wires: tuple[int, ...], items: list[Item]) -> Step:
        ops = tuple(item for item in items if isinstance(item, Op))
        diagonal = len(ops) == len(items) and all(op.spec.diagonal for op in ops)
        return Step(
            "diagonal" if diagonal else "superop", self.doubled(wires), ops, items=tuple(items)
        )

    def flush_wires(self, wires: tuple[int, ...]) -> None:
        for w in sorted(wires):
            items = self.pending.pop(w, None)
            if items:
                self.steps.append(self.step((w,), items))

    def flush_permutations(self) -> None:
        if not self.perm_run:
            return
        rows = tuple((op.gate, op.wires) for op in self.perm_run)
        columns = tuple((gate, tuple(w + self.n for w in wires)) for gate, wires in rows)
        source = permutation_gather(rows + columns, 2 * self.n)
        self.steps.append(Step("permutation", (), tuple(self.perm_run), source))
        self.perm_run = []

    def hold(self, wire: int, items: list[Item]) -> None:
        if any(wire in op.wires for op in self.perm_run):
            self.flush_permutations()
        self.pending.setdefault(wire, []).extend(items)

    def add_channel(self, channel: Channel, wires: tuple[int, ...]) -> None:
        if len(wires) == 1:
            self.hold(wires[0], [(channel, wires)])
            return
        self.flush_wires(wires)
        self.flush_permutations()
        self.steps.append(self.step(wires, [(channel, wires)]))

    def add(self, op: Op, placed: tuple[PlacedChannel, ...]) -> None:
        if op.spec.name == "I":  # no gate, but its noise still acts
            for channel, wires in placed:
                self.add_channel(channel, wires)
            return
        if len(op.wires) == 1:
            self.hold(op.wires[0], [op, *placed])
            return
        # Channels up to the last multi-wire one fuse with the gate; the 1-wire rest are held.
        joint = max((i + 1 for i, (_, w) in enumerate(placed) if len(w) > 1), default=0)
        self.flush_wires(op.wires)
        if not joint and op.spec.permutation and 2 * self.n <= MAX_PERMUTATION_QUBITS:
            self.perm_run.append(op)
        else:
            self.flush_permutations()
            self.steps.append(self.step(op.wires, [op, *placed[:joint]]))
        for channel, wires in placed[joint:]:
            self.add_channel(channel, wires)

    def finish(self) -> tuple[Step, ...]:
        self.flush_permutations()
        self.flush_wires(tuple(self.pending))
        return tuple(self.steps)


@lru_cache(maxsize=64)
def compile_density_program(circuit: Circuit, noise: NoiseModel | None) -> Program:
    """Compile ``circuit`` with ``noise``'s channels into steps on ``2n`` wires (cached).

    Readout errors are not part of the program (they act on measured bits: ``ReadoutMap``).

    Raises:
        NoiseModelError: the model names a wire the circuit lacks (before any simulation).
    """
    resolved = noise.for_circuit(circuit) if noise is not None else None
    builder = _DensityBuilder(circuit.n_qubits)
    for index, op in enumerate(circuit.ops):
        builder.add(op, resolved.after_ops[index] if resolved is not None else ())
    for channel, wires in resolved.before_measure if resolved is not None else ():
        builder.add_channel(channel, wires)
    steps = builder.finish()
    return Program(2 * circuit.n_qubits, steps, first_steps(steps, circuit.n_params))


def initial_density(rows: int, n_qubits: int) -> Complex:
    """``rows`` copies of ``|0…0⟩⟨0…0|`` as ``(rows, 4ⁿ)``."""
    states = np.zeros((rows, 1 << 2 * n_qubits), dtype=np.complex128)
    states[:, 0] = 1.0
    return states


@lru_cache(maxsize=4)
def rotation_superop(letter: str) -> Complex:
    """``(1, 4, 4)`` superoperator of the basis change measuring ``letter`` (X or Y) as Z."""
    rotation = BASIS_CHANGE[letter][0]
    return np.kron(rotation, rotation.conj())[None]


def group_probabilities(
    states: Complex, group: GroupPlan, n_qubits: int, kernels: KernelSet
) -> NDArray[np.float64]:
    """Outcome probabilities ``(B, 2ⁿ)`` of ``ρ`` measured in ``group``'s basis.

    The diagonal of ``R ρ R†`` (a copy is rotated when the group needs a basis change).
    """
    rotated = states
    if group.rotations:
        rotated = states.copy()
        for wire, letter in group.rotations:
            rotated = apply_superop(
                rotated, rotation_superop(letter), (wire, wire + n_qubits), 2 * n_qubits, kernels
            )
    diagonal = rotated[:, :: (1 << n_qubits) + 1].real
    return np.maximum(diagonal, 0.0)  # rounding can leave −1e-17 on a zero population


def density_probabilities(
    states: Complex, n_qubits: int, kernels: KernelSet
) -> Callable[[GroupPlan], NDArray[np.float64]]:
    """The measurement hook of ``sim.measure`` for density matrices ``states (B, 4ⁿ)``."""
    return partial(group_probabilities, states, n_qubits=n_qubits, kernels=kernels)
