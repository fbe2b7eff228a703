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

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import CircuitError
from qtrain.ir.circuit import Circuit
from qtrain.ir.observables import Observable
from qtrain.ir.params import ParamExpr
from qtrain.sim.program import compile_program, op_matrices
from qtrain.sim.statevector import KernelSet, run_program, select_kernels

__all__ = ["adjoint_jacobian", "apply_observable"]


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


def adjoint_jacobian(
    circuit: Circuit,
    observables: tuple[Observable, ...],
    theta: NDArray[np.float64],
    kernels: KernelSet | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Exact values ``(O,)`` and Jacobian ``(O, P)`` of ``⟨H_o⟩`` at ``theta (P,)``.

    Raises:
        CircuitError: a multi-angle gate reads a parameter (lower the circuit to slots first,
            which decomposes it into single-angle gates).
    """
    chosen = kernels if kernels is not None else select_kernels()
    n = circuit.n_qubits
    row = theta[None, :]
    psi = run_program(compile_program(circuit), row, chosen)
    lam = np.stack([apply_observable(psi[0], obs, n) for obs in observables])
    values = np.real(lam.conj() @ psi[0])
    jac = np.zeros((len(observables), circuit.n_params))
    for op in reversed(circuit.ops):
        spec = op.spec
        exprs = [a for a in op.args if isinstance(a, ParamExpr)]
        if exprs:
            if spec.generator is None or len(op.args) != 1:
                raise CircuitError(
                    f"adjoint needs single-angle gates with a generator; {spec.name} reads "
                    "parameters (lower the circuit to slots first)"
                )
            moved = chosen.apply_matrix(psi.copy(), spec.generator[None], op.wires, n)
            derivative = 2.0 * np.imag(lam.conj() @ moved[0])
            for k, scale in exprs[0].terms:
                jac[:, k] += scale * derivative
        inverse = np.ascontiguousarray(op_matrices(op, row).conj().transpose(0, 2, 1))
        psi = chosen.apply_matrix(psi, inverse, op.wires, n)
        lam = chosen.apply_matrix(lam, inverse, op.wires, n)
    return values, jac
