"""Compile a circuit into simulator steps: fused 1-qubit runs, diagonals, permutations.

Three fusions, each exact and each measured in ``shared/reference/fast-kernels.md``:

* Every run of 1-qubit gates is multiplied into one per-row 2×2 per wire before the next
  multi-wire gate (RZ·RY costs one pass, not two). A run of only diagonal gates stays diagonal.
* A run of fixed permutation gates (CNOT, X, SWAP, CCX) becomes one index gather: a CNOT
  ladder is one pass instead of ``n - 1``.
* Diagonal multi-wire gates (CZ, CRZ, RZZ, CPhase, Z-word PauliRot) are in-place phase
  products; everything else is a dense per-row matrix on its wires.

The program is cached per circuit (circuits are immutable and hashable).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit, Op
from qtrain.ir.gates import gate_spec
from qtrain.ir.params import evaluate_arg
from qtrain.sim import kernels
from qtrain.sim.precision import complex_dtype

__all__ = [
    "Program",
    "Step",
    "StepBuilder",
    "compile_program",
    "first_steps",
    "op_matrices",
    "permutation_gather",
]

# Largest register for which a fused permutation keeps its index map (8·2ⁿ bytes: 32 MiB).
MAX_PERMUTATION_QUBITS = 22

StepKind = Literal["one_qubit", "diagonal", "dense", "permutation", "superop", "channel"]


@dataclass(frozen=True, eq=False)
class Step:
    """One kernel call.

    Attributes:
        kind: which kernel runs it.
        wires: the wires it acts on (gate order).
        ops: the ops folded into it, in time order.
        source: the gather index map of a permutation step.
        items: for a density-matrix step (``sim.density_matrix``), its gates and channels in
            time order; ``wires`` are then doubled, ``(W, n + W)``, and the step's matrix is
            their superoperator (``sim.superop``). Empty for statevector steps.
    """

    kind: StepKind
    wires: tuple[int, ...]
    ops: tuple[Op, ...] = ()
    source: NDArray[np.int64] | None = None
    items: tuple[object, ...] = ()


@dataclass(frozen=True, eq=False)
class Program:
    """A compiled circuit.

    Attributes:
        n_qubits: register size.
        steps: the kernel calls in order.
        first_step: ``(P,)`` index of the first step reading each parameter (``len(steps)``
            for a parameter no step reads): rows that differ only in late parameters share
            the simulation of every earlier step.
        precision: ``"double"`` or ``"single"`` (``sim.precision``): the states' dtype.
    """

    n_qubits: int
    steps: tuple[Step, ...]
    first_step: NDArray[np.int64]
    precision: str = "double"

    @property
    def dtype(self) -> np.dtype[Any]:
        """The amplitudes' dtype: complex128, or complex64 for ``precision="single"``."""
        return complex_dtype(self.precision)


def op_matrices(op: Op, theta: NDArray[np.float64]) -> NDArray[np.complex128]:
    """The op's matrices for parameter rows ``theta (B, P)``: ``(B, d, d)``, or ``(1, d, d)``."""
    spec = op.spec
    if not op.args:
        return spec.matrix_fn(np.zeros((1, 0)))
    angles = np.stack([evaluate_arg(a, theta) for a in op.args], axis=1)
    return spec.matrix_fn(angles)


class StepBuilder:
    """Accumulates steps, holding back 1-qubit gates per wire until something needs the wire."""

    def __init__(self, n_qubits: int) -> None:
        self.n_qubits = n_qubits
        self.steps: list[Step] = []
        self.pending: dict[int, list[Op]] = {}
        self.perm_run: list[Op] = []

    def flush_pending(self) -> None:
        """Emit every held-back 1-qubit run (one step per wire)."""
        for wire in sorted(self.pending):
            ops = tuple(self.pending[wire])
            kind: StepKind = "diagonal" if all(op.spec.diagonal for op in ops) else "one_qubit"
            self.steps.append(Step(kind, (wire,), ops))
        self.pending.clear()

    def flush_permutations(self) -> None:
        """Emit the pending run of permutation gates as one gather."""
        if self.perm_run:
            key = tuple((op.gate, op.wires) for op in self.perm_run)
            source = permutation_gather(key, self.n_qubits)
            self.steps.append(Step("permutation", (), tuple(self.perm_run), source))
            self.perm_run = []

    def add(self, op: Op) -> None:
        """Add the next op of the circuit."""
        spec = op.spec
        if spec.name == "I":
            return
        if len(op.wires) == 1 and not spec.permutation:
            self.flush_permutations()
            self.pending.setdefault(op.wires[0], []).append(op)
            return
        if spec.permutation and self.n_qubits <= MAX_PERMUTATION_QUBITS:
            # Held-back 1-qubit gates on other wires would commute, but flushing them all keeps
            # the permutation run contiguous (one gather for a whole CNOT ladder).
            self.flush_pending()
            self.perm_run.append(op)
            return
        self.flush_pending()
        self.flush_permutations()
        self.steps.append(Step("diagonal" if spec.diagonal else "dense", op.wires, (op,)))

    def finish(self) -> tuple[Step, ...]:
        """Emit everything held back; the steps in order."""
        self.flush_permutations()
        self.flush_pending()
        return tuple(self.steps)


@lru_cache(maxsize=64)
def permutation_gather(
    key: tuple[tuple[str, tuple[int, ...]], ...], n_qubits: int
) -> NDArray[np.int64]:
    """Gather map of a run of fixed permutation gates, cached by gate names and wires."""
    perms = [(gate_spec(name).matrix(), wires) for name, wires in key]
    source = kernels.permutation_source(perms, n_qubits)
    source.setflags(write=False)  # shared between programs through the cache
    return source


def compile_program(circuit: Circuit, precision: str = "double") -> Program:
    """Compile ``circuit`` into fused kernel steps (cached per circuit and precision).

    ``precision`` (``sim.precision``) sets the dtype its states run in.
    """
    complex_dtype(precision)  # refuse an unknown precision before compiling
    return _compiled(circuit, precision)  # one cache key whether precision was named or not


@lru_cache(maxsize=128)
def _compiled(circuit: Circuit, precision: str) -> Program:
    builder = StepBuilder(circuit.n_qubits)
    for op in circuit.ops:
        builder.add(op)
    steps = builder.finish()
    return Program(circuit.n_qubits, steps, first_steps(steps, circuit.n_params), precision)


def first_steps(steps: tuple[Step, ...], n_params: int) -> NDArray[np.int64]:
    """``(P,)`` the first step reading each parameter (``len(steps)`` for none), read-only."""
    first_step = np.full(n_params, len(steps), dtype=np.int64)
    for k in reversed(range(len(steps))):
        for op in steps[k].ops:
            first_step[list(op.param_indices)] = k
    first_step.setflags(write=False)
    return first_step
