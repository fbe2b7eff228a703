"""Exact adjoint-method Jacobian on the statevector simulator (no shots, simulator only).

Jones & Gacon, "Efficient calculation of gradients in classical simulations of variational
quantum algorithms", arXiv:2009.02823. One forward pass gives ``ψ = U_N…U_1|0⟩`` and
``λ_o = H_o ψ`` for every observable; walking the ops backwards, an op ``U_k = exp(-iθ·G)``
contributes ``∂⟨H⟩/∂θ = 2·Im⟨λ|G|ψ_k⟩`` before both vectors are moved back through
``U_k†``. O(gates) state passes for any number of parameters; all observables ride along as
rows of one ``(O, 2ⁿ)`` array. Tied and scaled parameters are handled by the chain rule
through each argument's affine coefficients.

In single precision (``sim.precision``) ``ψ`` and the ``λ_o`` are complex64 and every ``U†``
is rounded to complex64; ``λ_o = H_o ψ``, the values ``⟨ψ|H_o|ψ⟩`` and the inner products
``⟨λ|G|ψ⟩`` are summed in complex128 (``sim.error_bound`` bounds the result).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import CircuitError
from qtrain.ir.circuit import Circuit, Op
from qtrain.ir.gates import GateSpec
from qtrain.ir.observables import Observable
from qtrain.ir.params import ParamExpr
from qtrain.sim.measure import parity_signs
from qtrain.sim.precision import complex_dtype, real_dtype
from qtrain.sim.program import (
    MAX_PERMUTATION_QUBITS,
    compile_program,
    op_matrices,
    permutation_gather,
)
from qtrain.sim.statevector import KernelSet, run_program, select_kernels

__all__ = ["adjoint_jacobian", "adjoint_tape", "apply_observable", "observable_action"]

Complex = NDArray[np.complex128]


@lru_cache(maxsize=32)
def observable_action(
    observable: Observable, n_qubits: int
) -> tuple[tuple[NDArray[np.int64], NDArray[np.complex128]], ...]:
    """``H`` as ``Σ_x D_x ⊙ ψ[j ⊕ x]``: one gather and one diagonal per distinct bit flip.

    A word with flip mask ``x`` (its X and Y wires) and phase wires ``z`` (its Y and Z wires)
    maps ``ψ`` to ``i^{#Y}·(-1)^{|(j⊕x) ∧ z|}·ψ[j ⊕ x]``, and ``|(j⊕x) ∧ z| = |j ∧ z| + |x ∧ z|``
    (mod 2), so all words sharing ``x`` add into one diagonal. ``Σ Z_i`` is one diagonal.
    """
    index = np.arange(1 << n_qubits, dtype=np.int64)
    combined: dict[int, NDArray[np.complex128]] = {}
    for term, coeff in observable.terms:
        flip = sum(1 << (n_qubits - 1 - w) for w, p in term.factors if p in "XY")
        phase_wires = tuple(w for w, p in term.factors if p in "YZ")
        phase = sum(1 << (n_qubits - 1 - w) for w in phase_wires)
        count_y = sum(p == "Y" for _, p in term.factors)
        sign = -1.0 if bin(flip & phase).count("1") % 2 else 1.0
        diag = ((coeff * 1j**count_y * sign) * parity_signs(phase_wires, n_qubits)).astype(
            np.complex128
        )
        previous = combined.get(flip)
        combined[flip] = diag if previous is None else previous + diag
    return tuple((index ^ flip, diag) for flip, diag in combined.items())


def apply_observable(
    state: NDArray[np.complex128], observable: Observable, n_qubits: int
) -> NDArray[np.complex128]:
    """``H|ψ⟩`` for a Pauli sum (see :func:`observable_action`), in ``state``'s dtype.

    Summed in complex128 and rounded once when ``state`` is complex64.
    """
    out = np.zeros(state.shape, dtype=np.complex128)
    for source, diag in observable_action(observable, n_qubits):
        out += diag * state[source]
    return out.astype(state.dtype, copy=False)


@lru_cache(maxsize=256)
def _inverse_gather(
    key: tuple[tuple[str, tuple[int, ...]], ...], n_qubits: int
) -> NDArray[np.int64]:
    """Gather map undoing a run of fixed permutation gates (forward order): ``argsort``."""
    inverse: NDArray[np.int64] = np.argsort(permutation_gather(key, n_qubits))
    inverse.setflags(write=False)
    return inverse


StepKind = Literal["cnot", "gather", "diagonal", "matrix", "diag_1q", "real_1q", "dense_1q", "wide"]


@dataclass(frozen=True, eq=False)
class _Step:
    """One op of the backward walk.

    Attributes:
        kind: ``cnot`` / ``gather`` / ``diagonal`` / ``matrix`` undo an op without parameters;
            ``diag_1q`` / ``real_1q`` / ``dense_1q`` are the fused derivative-and-undo kernels
            of a trainable 1-qubit gate (diagonal, real at every angle, anything else) and
            ``wide`` a trainable gate on more wires.
        op: the op.
        fixed: the undo of an op without parameters: its inverse gather map, inverse diagonal
            ``(1, 2^k)`` or inverse matrix ``(1, d, d)``.
        slot: the op's row in :attr:`_Tape.coeffs` (trainable ops), else -1.
        generator: the kernel's form of ``G``: ``diag(G)`` ``(2,)`` (``diag_1q``), the
            weight ``a`` of ``G = a·Y`` ``()`` (``real_1q``), ``G`` (``dense_1q``, ``wide``).
    """

    kind: StepKind
    op: Op
    fixed: NDArray[Any] | None = None
    slot: int = -1
    generator: NDArray[Any] | None = None


@dataclass(frozen=True, eq=False)
class _Tape:
    """A circuit prepared for the adjoint method (cached per circuit).

    Attributes:
        steps: the ops in backward order.
        coeffs: ``(D, P)`` angle coefficients of the ``D`` trainable ops (``angles = coeffs @ θ
            + offsets``); the chain rule maps their derivatives back through it too.
        offsets: ``(D,)`` constant parts of their angles.
        groups: ``(spec, kind, slots)`` per trainable gate type, so all its matrices come
            from one call.
    """

    steps: tuple[_Step, ...]
    coeffs: NDArray[np.float64]
    offsets: NDArray[np.float64]
    groups: tuple[tuple[GateSpec, StepKind, NDArray[np.int64]], ...]


def _trainable_kind(spec: GateSpec, n_wires: int) -> tuple[StepKind, NDArray[Any]]:
    """The derivative kernel for a trainable gate, and its generator in that kernel's form."""
    generator = spec.generator
    assert generator is not None  # checked by the caller
    if n_wires != 1:
        return "wide", generator
    if spec.diagonal:  # G is diagonal too, and Hermitian: a real diagonal
        return "diag_1q", np.ascontiguousarray(np.diagonal(generator).real)
    if not np.any(generator.real):
        # Hermitian and purely imaginary: G = a·Y, so U(θ) = exp(-iθa·Y) is real for every θ.
        return "real_1q", np.array(generator[1, 0].imag)
    return "dense_1q", generator


def _fixed_step(op: Op, n_qubits: int) -> _Step:
    """The undo of an op without trainable parameters, with everything it needs precomputed."""
    spec = op.spec
    if spec.name == "CNOT":  # self-inverse; swapping a quarter of the pairs beats a gather
        return _Step("cnot", op)
    if spec.permutation:
        return _Step("gather", op, _inverse_gather(((op.gate, op.wires),), n_qubits))
    inverse = np.ascontiguousarray(op_matrices(op, np.zeros((1, 0))).conj().transpose(0, 2, 1))
    if spec.diagonal:
        return _Step("diagonal", op, np.ascontiguousarray(np.diagonal(inverse, axis1=1, axis2=2)))
    return _Step("matrix", op, inverse)


def _permutation_steps(run: list[Op], n_qubits: int) -> list[_Step]:
    """The undo of consecutive fixed permutation gates (``run`` in backward order).

    Two or more become one gather: a 16-qubit CNOT ladder costs one pass (0.17 ms on
    ``[ψ; λ]``) instead of 15 in-place CNOTs (about 0.1 ms each).
    """
    if len(run) < 2 or n_qubits > MAX_PERMUTATION_QUBITS:  # one gate, or no room for the map
        return [_fixed_step(op, n_qubits) for op in run]
    key = tuple((op.gate, op.wires) for op in reversed(run))
    return [_Step("gather", run[-1], _inverse_gather(key, n_qubits))]


@lru_cache(maxsize=32)
def _tape(circuit: Circuit) -> _Tape:
    """Prepare ``circuit`` for :func:`adjoint_jacobian`.

    Raises:
        CircuitError: a multi-angle gate reads a parameter.
    """
    steps: list[_Step] = []
    rows: list[ParamExpr] = []
    by_spec: dict[GateSpec, tuple[StepKind, list[int]]] = {}
    run: list[Op] = []  # consecutive fixed permutation gates, undone together
    for op in reversed(circuit.ops):
        exprs = [a for a in op.args if isinstance(a, ParamExpr)]
        if not exprs and op.spec.permutation:
            run.append(op)
            continue
        steps += _permutation_steps(run, circuit.n_qubits)
        run = []
        if not exprs:
            if op.spec.name != "I":
                steps.append(_fixed_step(op, circuit.n_qubits))
            continue
        spec = op.spec
        if spec.generator is None or len(op.args) != 1:
            raise CircuitError(
                f"adjoint needs single-angle gates with a generator; {spec.name} reads "
                "parameters (lower the circuit to slots first)"
            )
        kind, generator = _trainable_kind(spec, len(op.wires))
        by_spec.setdefault(spec, (kind, []))[1].append(len(rows))
        steps.append(_Step(kind, op, slot=len(rows), generator=generator))
        rows.append(exprs[0])
    steps += _permutation_steps(run, circuit.n_qubits)
    coeffs = np.zeros((len(rows), circuit.n_params))
    for d, expr in enumerate(rows):
        for k, scale in expr.terms:
            coeffs[d, k] = scale
    offsets = np.array([expr.offset for expr in rows], dtype=np.float64)
    groups = tuple(
        (spec, kind, np.array(slots, dtype=np.int64)) for spec, (kind, slots) in by_spec.items()
    )
    return _Tape(tuple(steps), coeffs, offsets, groups)


def adjoint_tape(circuit: Circuit) -> _Tape:
    """The backward walk :func:`adjoint_jacobian` takes on ``circuit`` (``sim.error_bound``).

    Raises:
        CircuitError: a multi-angle gate reads a parameter.
    """
    return _tape(circuit)


def _inverses(
    tape: _Tape, theta: NDArray[np.float64], precision: str = "double"
) -> list[NDArray[Any]]:
    """``U†`` of every trainable op at ``theta (P,)``, in each step kernel's form.

    One ``matrix_fn`` call per gate type instead of one per op (DESIGN §6: no Python loop
    over ops where an array call does): diagonals for ``diag_1q``, real parts for ``real_1q``;
    rounded to ``precision``'s dtype.
    """
    angles = tape.coeffs @ theta + tape.offsets
    out: list[NDArray[Any]] = [np.empty(0)] * len(angles)
    for spec, kind, slots in tape.groups:
        inverse: NDArray[Any] = spec.matrix_fn(angles[slots, None]).conj().transpose(0, 2, 1)
        if kind == "diag_1q":
            inverse = np.diagonal(inverse, axis1=1, axis2=2)
        elif kind == "real_1q":
            inverse = inverse.real  # U(θ) is real for every θ: the imaginary parts are zero
        dtype = real_dtype(precision) if kind == "real_1q" else complex_dtype(precision)
        inverse = inverse.astype(dtype, copy=False)
        for slot, matrix in zip(slots.tolist(), inverse, strict=True):
            out[slot] = np.ascontiguousarray(matrix)
    return out


def _generator_inner(
    both: Complex, op: Op, generator: Complex, n_qubits: int, kernels: KernelSet
) -> NDArray[np.complex128]:
    """``⟨λ_o|G|ψ⟩`` for every observable row of ``both = [ψ; λ₁; …; λ_O]`` (any gate)."""
    moved = kernels.apply_matrix(both[:1].copy(), generator[None], op.wires, n_qubits)
    return _inner(both[1:], moved[0])


def _inner(rows: Complex, vector: Complex) -> NDArray[np.complex128]:
    """``⟨row|vector⟩`` for every row, summed in complex128 (single precision too)."""
    inner: NDArray[np.complex128] = rows.astype(np.complex128, copy=False).conj() @ vector.astype(
        np.complex128, copy=False
    )
    return inner


def _undo_fixed(
    both: Complex, spare: Complex, step: _Step, n_qubits: int, kernels: KernelSet
) -> tuple[Complex, Complex]:
    """Apply ``U†`` of an op without parameters to every row; returns ``(states, spare)``."""
    op, fixed = step.op, step.fixed
    if step.kind == "cnot":
        return kernels.apply_cnot(both, op.wires[0], op.wires[1], n_qubits), spare
    assert fixed is not None  # set by _fixed_step for every other kind
    if step.kind == "gather":
        return kernels.apply_permutation(both, fixed, spare), both
    fixed = fixed.astype(both.dtype, copy=False)  # the cached complex128 undo, single: rounded
    if step.kind == "diagonal":
        return kernels.apply_diagonal(both, fixed, op.wires, n_qubits), spare
    return kernels.apply_matrix(both, fixed, op.wires, n_qubits), spare


def _derivative(
    both: Complex, step: _Step, inverse: NDArray[Any], n_qubits: int, kernels: KernelSet
) -> tuple[Complex, Complex]:
    """``⟨λ_o|G|ψ⟩`` ``(O,)`` of a trainable op, and ``both`` moved back through its ``U†``."""
    generator, wires = step.generator, step.op.wires
    assert generator is not None  # set by _tape for every trainable step
    if step.kind == "diag_1q":
        return kernels.adjoint_diagonal(both, generator, inverse, wires[0], n_qubits)
    if step.kind == "real_1q":
        return kernels.adjoint_real(both, float(generator), inverse, wires[0], n_qubits)
    if step.kind == "dense_1q":
        return kernels.adjoint_one_qubit(both, generator, inverse, wires[0], n_qubits)
    inner = _generator_inner(both, step.op, generator, n_qubits, kernels)
    if step.op.spec.diagonal:
        diag = np.ascontiguousarray(np.diagonal(inverse))[None]
        return inner, kernels.apply_diagonal(both, diag, wires, n_qubits)
    return inner, kernels.apply_matrix(both, inverse[None], wires, n_qubits)


def adjoint_jacobian(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    kernels: KernelSet | None = None,
    *,
    precision: str = "double",
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact values ``(O,)`` and Jacobian ``(O, P)`` of ``⟨H_o⟩`` at ``theta (P,)``.

    ``precision``: the states' dtype (``sim.precision``); the results are float64 either way.

    ``ψ`` and the ``λ_o`` travel as the rows of one ``(1 + O, 2ⁿ)`` array, so each op's
    inverse is one kernel call; for a one-qubit gate the derivative and the inverse share
    one pass over the states, in a kernel chosen from the gate's metadata (diagonal, real
    at every angle, or general).

    Raises:
        CircuitError: a multi-angle gate reads a parameter (lower the circuit to slots first,
            which decomposes it into single-angle gates).
    """
    chosen = kernels if kernels is not None else select_kernels()
    n = circuit.n_qubits
    tape = _tape(circuit)
    if not observables:
        return np.zeros(0), np.zeros((0, circuit.n_params))
    psi = run_program(compile_program(circuit, precision), theta[None, :], chosen)[0]
    both = np.stack([psi, *(apply_observable(psi, obs, n) for obs in observables)])
    values = np.real(_inner(both[1:], both[0]))
    inverses = _inverses(tape, theta, precision)
    inners = np.zeros((len(observables), len(inverses)), dtype=np.complex128)
    spare = np.empty_like(both)
    for step in tape.steps:
        if step.slot < 0:
            both, spare = _undo_fixed(both, spare, step, n, chosen)
        else:
            inners[:, step.slot], both = _derivative(both, step, inverses[step.slot], n, chosen)
    jac: NDArray[np.float64] = 2.0 * np.imag(inners) @ tape.coeffs  # ∂θ_k = Σ_d scale_dk ∂a_d
    return values, jac
