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
from qtrain.sim.measure import parity_signs
from qtrain.sim.program import compile_program, op_matrices, permutation_gather
from qtrain.sim.statevector import KernelSet, run_program, select_kernels

__all__ = ["adjoint_jacobian", "apply_observable", "observable_action"]

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
    """``H|ψ⟩`` for a Pauli sum (see :func:`observable_action`)."""
    out = np.zeros_like(state)
    for source, diag in observable_action(observable, n_qubits):
        out += diag * state[source]
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
    """``⟨λ_o|G|ψ⟩`` for every observable row of ``both = [ψ; λ₁; …; λ_O]`` (any gate)."""
    generator = op.spec.generator
    assert generator is not None  # checked by the caller
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
    if spec.name == "CNOT":  # self-inverse; swapping a quarter of the pairs beats a gather
        return kernels.apply_cnot(both, op.wires[0], op.wires[1], n_qubits), spare
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
    inverse is one kernel call; for a one-qubit gate the derivative and the inverse share
    one pass over the states.

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
        if not exprs:
            both, spare = _undo(both, spare, op, row, n_qubits=n, kernels=chosen)
            continue
        generator = op.spec.generator
        if generator is None or len(op.args) != 1:
            raise CircuitError(
                f"adjoint needs single-angle gates with a generator; {op.spec.name} reads "
                "parameters (lower the circuit to slots first)"
            )
        if len(op.wires) == 1:  # derivative and undo in one pass over the states
            inverse = op_matrices(op, row)[0].conj().T
            inner, both = chosen.adjoint_one_qubit(both, generator, inverse, op.wires[0], n)
        else:
            inner = _generator_inner(both, op, n, chosen)
            both, spare = _undo(both, spare, op, row, n_qubits=n, kernels=chosen)
        for k, scale in exprs[0].terms:
            jac[:, k] += scale * 2.0 * np.imag(inner)
    return values, jac
