"""Exact adjoint-method Jacobian on the statevector simulator (no shots, simulator only).

Jones & Gacon, "Efficient calculation of gradients in classical simulations of variational
quantum algorithms", arXiv:2009.02823. One forward pass gives ``ψ = U_N…U_1|0⟩`` and
``λ_o = H_o ψ`` for every observable; walking the ops backwards, an op ``U_k = exp(-iθ·G)``
contributes ``∂⟨H⟩/∂θ = 2·Im⟨λ|G|ψ_k⟩`` before both vectors are moved back through
``U_k†``. O(gates) state passes for any number of parameters; all observables ride along as
rows of one ``(O, 2ⁿ)`` array. Tied and scaled parameters are handled by the chain rule
through each argument's affine coefficients.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import CircuitError
from qtrain.ir.circuit import Circuit, Op
from qtrain.ir.observables import Observable
from qtrain.ir.params import ParamExpr
from qtrain.sim.program import compile_program, op_matrices, permutation_gather
from qtrain.sim.statevector import KernelSet, run_program, select_kernels

__all__ = ["adjoint_jacobian", "apply_observable"]

Complex = NDArray[np.complex128]


def _masks(factors: tuple[tuple[int, str], ...], n_qubits: int) -> tuple[int, int, int]:
    """Bit-flip mask, phase mask and number of Y factors of a Pauli word."""
    flip = phase = count_y = 0
    for wire, letter in factors:
        bit = 1 << (n_qubits - 1 - wire)
        if letter in "XY":
            flip |= bit
        if letter in "YZ":
            phase |= bit
        count_y += letter == "Y"
    return flip, phase, count_y


def apply_observable(
    state: NDArray[np.complex128], observable: Observable, n_qubits: int
) -> NDArray[np.complex128]:
    """``H|ψ⟩`` for a Pauli sum, word by word: ``P|k⟩ = i^{#Y}·(-1)^{|k ∧ z|}·|k ⊕ x⟩``."""
    index = np.arange(1 << n_qubits, dtype=np.int64)
    out = np.zeros_like(state)
    for term, coeff in observable.terms:
        flip, phase, count_y = _masks(term.factors, n_qubits)
        source = index ^ flip
        bits = source & phase
        parity = np.zeros_like(bits)
        while phase:
            parity ^= bits & 1
            bits >>= 1
            phase >>= 1
        out += (coeff * 1j**count_y) * (1.0 - 2.0 * parity) * state[source]
    return out


@lru_cache(maxsize=256)
def _inverse_gather(gate: str, wires: tuple[int, ...], n_qubits: int) -> NDArray[np.int64]:
    """Gather map of a fixed permutation gate's inverse: ``argsort`` of its own map."""
    inverse: NDArray[np.int64] = np.argsort(permutation_gather(((gate, wires),), n_qubits))
    inverse.setflags(write=False)
    return inverse


def _generator_inner(
    both: Complex, op: Op, n_qubits: int, kernels: KernelSet
) -> NDArray[np.complex128]:
    """``⟨λ_o|G|ψ⟩`` for every observable row of ``both = [ψ; λ₁; …; λ_O]``."""
    generator = op.spec.generator
    assert generator is not None  # checked by the caller
    if len(op.wires) == 1:
        return kernels.inner_one_qubit(both[1:], both[:1], generator, op.wires[0], n_qubits)
    moved = kernels.apply_matrix(both[:1].copy(), generator[None], op.wires, n_qubits)
    inner: NDArray[np.complex128] = both[1:].conj() @ moved[0]
    return inner


def _undo(
    both: Complex,
    spare: Complex,
    op: Op,
    row: NDArray[np.float64],
    *,
    n_qubits: int,
    kernels: KernelSet,
) -> tuple[Complex, Complex]:
    """Apply ``U†`` of one op to every row; returns ``(states, spare buffer)``."""
    spec = op.spec
    if spec.permutation:
        moved = kernels.apply_permutation(both, _inverse_gather(op.gate, op.wires, n_qubits), spare)
        return moved, both
    inverse = np.ascontiguousarray(op_matrices(op, row).conj().transpose(0, 2, 1))
    if spec.diagonal:
        diag = np.ascontiguousarray(np.diagonal(inverse, axis1=1, axis2=2))
        return kernels.apply_diagonal(both, diag, op.wires, n_qubits), spare
    return kernels.apply_matrix(both, inverse, op.wires, n_qubits), spare


def adjoint_jacobian(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    kernels: KernelSet | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact values ``(O,)`` and Jacobian ``(O, P)`` of ``⟨H_o⟩`` at ``theta (P,)``.

    ``ψ`` and the ``λ_o`` travel as the rows of one ``(1 + O, 2ⁿ)`` array, so each op's
    inverse is one kernel call; one-qubit generators are sandwiched in a single read.

    Raises:
        CircuitError: a multi-angle gate reads a parameter (lower the circuit to slots first,
            which decomposes it into single-angle gates).
    """
    chosen = kernels if kernels is not None else select_kernels()
    n = circuit.n_qubits
    row = theta[None, :]
    psi = run_program(compile_program(circuit), row, chosen)[0]
    both = np.stack([psi, *(apply_observable(psi, obs, n) for obs in observables)])
    spare = np.empty_like(both)
    values = np.real(both[1:].conj() @ both[0])
    jac = np.zeros((len(observables), circuit.n_params))
    for op in reversed(circuit.ops):
        exprs = [a for a in op.args if isinstance(a, ParamExpr)]
        if exprs:
            if op.spec.generator is None or len(op.args) != 1:
                raise CircuitError(
                    f"adjoint needs single-angle gates with a generator; {op.spec.name} reads "
                    "parameters (lower the circuit to slots first)"
                )
            derivative = 2.0 * np.imag(_generator_inner(both, op, n, chosen))
            for k, scale in exprs[0].terms:
                jac[:, k] += scale * derivative
        both, spare = _undo(both, spare, op, row, n_qubits=n, kernels=chosen)
    return values, jac
