"""Rounding-error bounds of the statevector simulator, for either precision (``sim.precision``).

With unit roundoff ``u`` (2⁻²⁴ single, 2⁻⁵³ double), a step applying a ``d × d`` unitary
``M`` (rounded once to the states' dtype) moves the state by at most ``c·u·‖ψ‖`` from the
exact ``Mψ``: each amplitude is a complex inner product of length ``d`` (error ``γ_{d+2}``,
Higham §3.6) of the rounded matrix (``u`` more), so ``|Δy| ≤ (d+3)·u·|M||x|`` and, since
``‖|M|‖₂ ≤ √d`` for a unitary, ``c = (d+3)·√d`` (7.1 for a 1-qubit step, 14 for a 2-qubit
one). A diagonal step is one complex product per amplitude, ``c = 4``; a permutation
moves amplitudes exactly, ``c = 0``. The exact steps preserve norms, so over the steps

    ‖ψ̂ − ψ‖ ≤ η = exp(u·Σ_k c_k) − 1        (≈ u·Σ_k c_k)

and an expectation, read per measured group ``g`` as ``Σ_j |R_g ψ̂|²_j·D_g[j]`` (``R_g`` the
group's basis rotations, ``r_g`` 1-qubit steps; ``|·|²`` squared in the working precision,
error ``γ₂``; the sum in float64), is off by at most

    |⟨O⟩̂ − ⟨O⟩| ≤ Σ_g max|D_g|·(η_g·(2 + η_g) + γ₂·(1 + η_g)²) + 2ⁿ·2⁻⁵³·Σ_g max|D_g|,
    η_g = exp(u·(Σ_k c_k + 7.1·r_g)) − 1,

where ``Σ_g max|D_g| ≤ Σ_t |c_t|`` (the Pauli coefficients). So, to first order,
``|Δ⟨O⟩| ≲ 2·u·(Σ_k c_k + 7.1·n)·Σ_t |c_t|``: linear in the number of steps, a worst case
(measured errors grow more like its square root and sit 10²–10⁴× below).

The adjoint method's derivative of op ``k``, ``2·Im⟨λ_k|G_k|ψ_k⟩`` with ``λ = Hψ``, reads
``ψ`` and ``λ`` after the forward pass (``η``) and the backward walk's undos (each op its
own ``c``), so with ``η_ψ = (1 + η)·e_b − 1`` and ``η_λ = (1 + η)(1 + u)·e_b − 1``
(``e_b = exp(u·Σ_ops c)``, ``h = Σ_g max|D_g| ≥ ‖H‖``) and the inner product's own rounding
(``8u``, its sums are complex128):

    |Δ∂_k| ≤ 2·‖G_k‖·h·(η_λ(1 + η_ψ) + η_ψ + 8u(1 + η_λ)(1 + η_ψ)),

and a parameter's derivative sums ``|scale|`` times these over the ops that read it (tied and
scaled parameters by the chain rule). A parameter-shift derivative is ``Σ_r W_rk·⟨O⟩_r``:
``Σ_r |W_rk|`` times the expectation bound.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit, Op
from qtrain.ir.observables import Observable
from qtrain.sim.adjoint import adjoint_tape
from qtrain.sim.measure import measurement_plan
from qtrain.sim.precision import UNIT_ROUNDOFF, check_precision
from qtrain.sim.program import Program, Step

__all__ = [
    "ONE_QUBIT_CONSTANT",
    "adjoint_bound",
    "expectation_bound",
    "step_constant",
    "steps_constant",
]

ONE_QUBIT_CONSTANT = 5 * math.sqrt(2)  # (d + 3)·√d at d = 2
_DIAGONAL_CONSTANT = 4.0  # one complex product per amplitude, the diagonal rounded once
_INNER_CONSTANT = 8.0  # ⟨λ|G|ψ⟩: G·ψ rounded once or float32 products, complex128 sums


def _dense_constant(n_wires: int) -> float:
    d = 1 << n_wires
    return (d + 3) * math.sqrt(d)


def step_constant(step: Step) -> float:
    """``c`` of one compiled statevector step: its error is at most ``c·u·‖ψ‖``."""
    if step.kind == "permutation":
        return 0.0
    if step.kind == "diagonal":
        return _DIAGONAL_CONSTANT
    return _dense_constant(len(step.wires))


def _undo_constant(kind: str, op: Op) -> float:
    """``c`` of one undo of the adjoint method's backward walk (``sim.adjoint`` step kinds)."""
    if kind in ("cnot", "gather"):
        return 0.0
    if kind in ("diagonal", "diag_1q") or (kind == "wide" and op.spec.diagonal):
        return _DIAGONAL_CONSTANT
    return _dense_constant(len(op.wires))


def steps_constant(program: Program) -> float:
    """``Σ_k c_k`` over the program's steps."""
    return float(sum(step_constant(step) for step in program.steps))


def _group_scales(observable: Observable, n_qubits: int) -> list[tuple[float, int]]:
    """``(max|D_g|, r_g)`` per measured group: its largest eigenvalue and its rotations."""
    plan = measurement_plan(observable, n_qubits)
    return [(float(np.abs(g.eigenvalues).max()), len(g.rotations)) for g in plan.groups]


def expectation_bound(program: Program, observable: Observable, precision: str) -> float:
    """Bound on ``|⟨O⟩ computed − ⟨O⟩ exact|`` for any row of ``program`` in ``precision``.

    The same for every parameter row (the steps, not the angles, set it). Readout errors
    keep it (their eigenvalues ``Aᵀ D`` are averages of ``D``).
    """
    u = UNIT_ROUNDOFF[check_precision(precision)]
    gamma2 = 2 * u / (1 - 2 * u)
    base = steps_constant(program)
    total = 0.0
    scale_sum = 0.0
    for scale, rotations in _group_scales(observable, program.n_qubits):
        eta = math.expm1(u * (base + ONE_QUBIT_CONSTANT * rotations))
        total += scale * (eta * (2 + eta) + gamma2 * (1 + eta) ** 2)
        scale_sum += scale
    return total + (1 << program.n_qubits) * 2.0**-53 * scale_sum


def adjoint_bound(
    circuit: Circuit, observable: Observable, program: Program, precision: str
) -> NDArray[np.float64]:
    """``(P,)`` bounds on the adjoint method's derivatives of ``⟨O⟩`` (``sim.adjoint``).

    ``circuit`` has single-angle trainable gates (a slot circuit) and ``program`` is its
    forward program (``compile_program``).
    """
    u = UNIT_ROUNDOFF[check_precision(precision)]
    tape = adjoint_tape(circuit)
    eta = math.expm1(u * steps_constant(program))
    backward = math.exp(u * sum(_undo_constant(step.kind, step.op) for step in tape.steps))
    eta_psi = (1 + eta) * backward - 1
    eta_lam = (1 + eta) * (1 + u) * backward - 1
    h = sum(scale for scale, _ in _group_scales(observable, circuit.n_qubits))
    rounding = _INNER_CONSTANT * u * (1 + eta_lam) * (1 + eta_psi)
    per_unit = eta_lam * (1 + eta_psi) + eta_psi + rounding
    norms = np.zeros(tape.coeffs.shape[0])
    for step in tape.steps:
        if step.slot >= 0:
            generator = step.op.spec.generator
            assert generator is not None  # trainable steps have one (adjoint_tape checks)
            norms[step.slot] = float(np.linalg.norm(generator, 2))
    bound: NDArray[np.float64] = (2 * h * per_unit * norms) @ np.abs(tape.coeffs)
    return bound
