"""Bounds on the derivatives of an expectation value at every θ, read off the circuit alone.

For ``E(θ) = ⟨0|U(θ)† H U(θ)|0⟩`` with ``H = c₀ + Σ_j c_j P_j`` (Pauli words ``P_j``) and slot
angles ``a = M θ + b`` (:mod:`qtrain.passes.slots`), :func:`derivative_bound` returns
``g (P,)`` and ``A (P, P)`` such that at every ``θ`` and along every direction ``v (P,)``

    ``|∂_v E| ≤ g·|v|``,   ``|∂²_v E| ≤ |v|ᵀ A |v|``,   ``|E − c₀| ≤ Σ_{j≥1} |c_j|``,

hence ``sup_θ ‖∇²E(θ)‖₂ ≤ λ_max(A)``: a Lipschitz constant of ``∇E``. Proof:

1. *Frequencies.* Slot ``s`` enters through ``exp(−i a_s G_s)``. Expanding every such gate in
   its generator's eigenbasis makes ``E`` a finite sum ``Σ_ω c_ω e^{iω·a}`` in which ``ω_s`` is
   a difference of two eigenvalues of ``G_s``: ``|ω_s| ≤ Ω_s = λ_max(G_s) − λ_min(G_s)``
   (Wierichs, Izaac, Wang, Lin, Quantum 6, 677 (2022), §2).
2. *Light cones.* Walk the gates from the last one. While the evolved operator
   ``V† P_j V`` is a Pauli word ``±W``, a gate that maps ``W`` to a Pauli word at every angle
   (one on other wires, a Clifford gate, a rotation whose generator commutes with ``W``)
   keeps it one, so ``⟨P_j⟩ = ±⟨W⟩`` of the circuit before that gate. From the first gate
   that does not, ``⟨W⟩`` depends only on the slots in the backward light cone of ``W``'s
   wires: a gate on wires disjoint from the support of the evolved operator commutes with it
   and cancels; a gate touching it joins the cone and widens it to its own wires.
3. *One direction.* On the line ``θ + t·v`` the angles move as ``a + t·Mv``, so
   ``f_j(t) = ⟨P_j⟩(θ + t·v)`` is a finite sum of ``e^{iνt}`` with
   ``|ν| ≤ σ_j = Σ_{s ∈ cone j} Ω_s |(Mv)_s| ≤ u_j·|v|``, ``u_jk = Σ_{s ∈ cone j} Ω_s |M_sk|``
   (``|⟨W⟩| ≤ 1``).
4. *Bernstein's inequality.* A finite sum ``f(t) = Σ_k α_k e^{iλ_k t}`` with real
   ``|λ_k| ≤ σ`` has ``sup |f'| ≤ σ · sup |f|`` on the real line (S. N. Bernstein; Boas,
   *Entire Functions*, 1954, ch. 11). ``f'`` is such a sum too, and ``|f_j| ≤ 1``, so
   ``|f_j'| ≤ σ_j`` and ``|f_j''| ≤ σ_j²``.
5. *Sum.* ``E = c₀ + Σ_j c_j ⟨P_j⟩`` gives ``g = Σ_j |c_j| u_j`` and
   ``A = Σ_j |c_j| u_j u_jᵀ``. ``‖∇²E‖₂ = max_{‖v‖=1} |vᵀ∇²E v| ≤ max_{‖v‖=1} |v|ᵀA|v|``,
   which is ``λ_max(A)`` because ``A`` has non-negative entries (Perron–Frobenius).

The bound is attained by one parameter fed to ``k`` gates about one axis: three ``RX(θ)``
measured in ``Z`` give ``E = cos 3θ``, ``|E''(0)| = 9 = (1 + 1 + 1)²``.

>>> from qtrain.ir.circuit import Circuit
>>> from qtrain.ir.observables import Z
>>> from qtrain.ir.params import P
>>> bound = derivative_bound(Circuit(1).rx(0, P(0)).rx(0, P(0)).rx(0, P(0)), Z(0))
>>> bound.slope.tolist(), bound.curvature.tolist(), bound.hessian_norm()
([3.0], [[9.0]], 9.0)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import NoShiftRuleError
from qtrain.ir.circuit import Circuit, Op
from qtrain.ir.matrices import pauli_word_matrix
from qtrain.ir.observables import Observable
from qtrain.ir.params import ParamExpr
from qtrain.passes.slots import SlotProgram, lower

__all__ = [
    "DerivativeBound",
    "derivative_bound",
    "largest_eigenvalue",
    "light_cone",
    "pauli_cone",
    "pauli_image",
    "slot_frequencies",
]


@dataclass(frozen=True, eq=False)
class DerivativeBound:
    """Bounds on ``E(θ) = ⟨H⟩`` and its first two directional derivatives, for every ``θ``.

    Attributes:
        slope: ``g (P,)``: ``|∂_v E| ≤ g·|v|``.
        curvature: ``A (P, P)``, symmetric with non-negative entries:
            ``|∂²_v E| ≤ |v|ᵀ A |v|``.
        center: ``c₀``, the identity coefficient of ``H``.
        radius: ``Σ_{j≥1} |c_j|``: ``|E − c₀| ≤ radius``.
    """

    slope: NDArray[np.float64]
    curvature: NDArray[np.float64]
    center: float
    radius: float

    def hessian_norm(self) -> float:
        """``λ_max(A)``, a bound on ``‖∇²E(θ)‖₂`` over every ``θ``."""
        return largest_eigenvalue(self.curvature)


def largest_eigenvalue(matrix: NDArray[np.float64]) -> float:
    """``λ_max`` of a symmetric ``(P, P)`` matrix (0 for ``P = 0``), rounding error clipped."""
    if matrix.size == 0:
        return 0.0
    return max(0.0, float(np.linalg.eigvalsh(matrix)[-1]))


def slot_frequencies(program: SlotProgram) -> NDArray[np.float64]:
    """``(S,)`` the largest frequency ``Ω_s = λ_max − λ_min`` of each slot's gate generator.

    Raises:
        NoShiftRuleError: a slot's gate declares no generator spectrum (naming it).
    """
    out = np.zeros(program.n_slots)
    for s, spec in enumerate(program.slot_gates):
        if spec.eigenvalues is None:
            raise NoShiftRuleError(
                f"gate {spec.name!r} declares no generator eigenvalues, so its frequency (and "
                "any bound on the derivatives it feeds) is unknown"
            )
        out[s] = max(spec.eigenvalues) - min(spec.eigenvalues)
    return out


def light_cone(
    program: SlotProgram, wires: Iterable[int], *, last: int | None = None
) -> NDArray[np.bool_]:
    """``(S,)`` whether each slot lies in the backward light cone of ``wires``.

    The walk starts at op ``last`` of the slot circuit (default: its last op).
    """
    slots_of: dict[int, list[int]] = {}
    for s, index in enumerate(program.slot_ops):
        slots_of.setdefault(index, []).append(s)
    cone, inside = set(wires), np.zeros(program.n_slots, dtype=bool)
    ops = program.circuit.ops
    for index in range(len(ops) - 1 if last is None else last, -1, -1):
        if not cone.isdisjoint(ops[index].wires):
            cone.update(ops[index].wires)
            inside[slots_of.get(index, [])] = True
    return inside


_MAX_PAULI_WIRES = 3  # 4³ trace products per 8 × 8 gate; wider gates end the Pauli walk


@lru_cache(maxsize=4096)
def pauli_image(op: Op, letters: str) -> str | None:
    """``W'`` with ``U† W U = ±W'`` at every angle of ``op`` (``W`` on its wires), else None."""
    word = pauli_word_matrix(letters)
    if any(isinstance(arg, ParamExpr) for arg in op.args):
        generator = op.spec.generator if len(op.args) == 1 else None
        if generator is None or not np.allclose(generator @ word, word @ generator, atol=1e-12):
            return None
        return letters  # exp(−iaG) commutes with W
    if len(op.wires) > _MAX_PAULI_WIRES:
        return None
    matrix = op.spec.matrix(*(float(arg) for arg in op.args if not isinstance(arg, ParamExpr)))
    image = matrix.conj().T @ word @ matrix
    for candidate in itertools.product("IXYZ", repeat=len(op.wires)):
        overlap = np.trace(pauli_word_matrix("".join(candidate)) @ image) / word.shape[0]
        if abs(abs(overlap) - 1.0) < 1e-9:
            return "".join(candidate)
    return None


def pauli_cone(program: SlotProgram, factors: Iterable[tuple[int, str]]) -> NDArray[np.bool_]:
    """``(S,)`` the slots ``⟨P⟩`` can depend on, for the Pauli word ``factors`` (step 2)."""
    word = dict(factors)
    ops = program.circuit.ops
    index = len(ops) - 1
    while index >= 0:
        op = ops[index]
        if not word.keys().isdisjoint(op.wires):
            image = pauli_image(op, "".join(word.get(w, "I") for w in op.wires))
            if image is None:
                break
            word.update(zip(op.wires, image, strict=True))
            word = {w: letter for w, letter in word.items() if letter != "I"}
        index -= 1
    return light_cone(program, word, last=index)


def derivative_bound(circuit: Circuit, observable: Observable) -> DerivativeBound:
    """The bounds of the module docstring for ``⟨observable⟩`` of ``circuit``, ``P`` wide."""
    program = lower(circuit)
    weighted = np.abs(program.matrix) * slot_frequencies(program)[:, None]  # Ω_s |M_sk|
    center, weights = 0.0, dict[tuple[tuple[int, str], ...], float]()
    coefficients = observable.real_coefficients()
    for (term, _), coefficient in zip(observable.terms, coefficients, strict=True):
        if term.factors:
            weights[term.factors] = weights.get(term.factors, 0.0) + abs(float(coefficient))
        else:
            center += float(coefficient)
    slope = np.zeros(circuit.n_params)
    curvature = np.zeros((circuit.n_params, circuit.n_params))
    for factors, weight in weights.items():
        u = pauli_cone(program, factors).astype(np.float64) @ weighted  # (P,)
        slope += weight * u
        curvature += weight * np.outer(u, u)
    return DerivativeBound(slope, curvature, center, float(sum(weights.values())))
