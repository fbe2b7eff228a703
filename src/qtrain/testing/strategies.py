"""Hypothesis strategies: random circuits over every gate kind, observables and parameters.

Circuits mix constant angles with tied and scaled parameters (``2·θ₁ + 0.3``, ``-θ₀``,
``θ₀ - 0.5·θ₂``) so every path of the parameter handling is exercised.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from numpy.typing import NDArray

from qtrain.ir.circuit import Circuit, Op, make_op
from qtrain.ir.gates import GATES
from qtrain.ir.observables import Observable, PauliTerm
from qtrain.ir.params import Arg, P

__all__ = ["angle_args", "circuits", "gate_ops", "observables", "thetas"]

_FIXED_SIZE_GATES = sorted({spec.name for spec in GATES.values() if spec.n_wires > 0})
_GATE_CHOICES = [*_FIXED_SIZE_GATES, "PauliRot", "Unitary"]
_SCALES = st.sampled_from([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, 3.0])
_FLOATS = st.floats(-2 * np.pi, 2 * np.pi, allow_nan=False)


def angle_args(n_params: int) -> st.SearchStrategy[Arg]:
    """A constant, or an affine expression of one or two of the first ``n_params`` parameters."""
    if n_params == 0:
        return _FLOATS
    index = st.integers(0, n_params - 1)
    single = st.builds(lambda k, s, b: s * P(k) + b, index, _SCALES, _FLOATS)
    pair = st.builds(lambda k, j, s: P(k) + s * P(j), index, index, _SCALES)
    return st.one_of(_FLOATS, single, pair)


def _random_unitary(dim: int, seed: int) -> NDArray[np.complex128]:
    """Haar-random unitary (QR of a complex Gaussian matrix with the phases of R fixed)."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim)))
    unitary: NDArray[np.complex128] = q * (np.diagonal(r) / np.abs(np.diagonal(r)))
    return unitary


@st.composite
def gate_ops(draw: st.DrawFn, n_qubits: int, n_params: int) -> Op:
    """One random op of any registered gate kind that fits on ``n_qubits`` wires."""
    name = draw(
        st.sampled_from(
            [g for g in _GATE_CHOICES if g not in GATES or GATES[g].n_wires <= n_qubits]
        )
    )
    if name == "PauliRot":
        k = draw(st.integers(1, min(n_qubits, 4)))
        word = "".join(draw(st.lists(st.sampled_from("IXYZ"), min_size=k, max_size=k)))
        wires = draw(st.permutations(range(n_qubits)))[:k]
        return make_op("PauliRot", wires, (draw(angle_args(n_params)),), word=word)
    if name == "Unitary":
        k = draw(st.integers(1, min(n_qubits, 2)))
        wires = draw(st.permutations(range(n_qubits)))[:k]
        return make_op(
            "Unitary", wires, (), matrix=_random_unitary(1 << k, draw(st.integers(0, 2**32)))
        )
    spec = GATES[name]
    wires = draw(st.permutations(range(n_qubits)))[: spec.n_wires]
    args = [draw(angle_args(n_params)) for _ in range(spec.n_params)]
    return make_op(name, wires, args)


@st.composite
def circuits(
    draw: st.DrawFn,
    min_qubits: int = 1,
    max_qubits: int = 8,
    max_ops: int = 12,
    max_params: int = 4,
) -> Circuit:
    """Random circuits over every gate kind, with tied and scaled parameters."""
    n_qubits = draw(st.integers(min_qubits, max_qubits))
    n_params = draw(st.integers(0, max_params))
    ops = draw(st.lists(gate_ops(n_qubits, n_params), max_size=max_ops))
    return Circuit(n_qubits, tuple(ops))


@st.composite
def observables(draw: st.DrawFn, n_qubits: int, max_terms: int = 6) -> Observable:
    """Random Hermitian Pauli sums on ``n_qubits`` wires (identity term allowed)."""
    terms = []
    for _ in range(draw(st.integers(1, max_terms))):
        letters = draw(st.lists(st.sampled_from("IXYZ"), min_size=n_qubits, max_size=n_qubits))
        factors = tuple((w, p) for w, p in enumerate(letters) if p != "I")
        coeff = draw(st.floats(-2.0, 2.0, allow_nan=False).filter(lambda c: abs(c) > 1e-3))
        terms.append((PauliTerm(factors), coeff))
    return Observable.from_terms(terms)


def thetas(n_params: int, rows: int = 1) -> st.SearchStrategy[NDArray[np.float64]]:
    """``(rows, n_params)`` parameter arrays with entries in ``[-2π, 2π]``."""
    return st.lists(_FLOATS, min_size=rows * n_params, max_size=rows * n_params).map(
        lambda values: np.array(values, dtype=np.float64).reshape(rows, n_params)
    )
