"""Readout mitigation with the full (correlated) confusion matrix, for up to 8 qubits.

``M[r, t] = P(read r | prepared t)`` over all ``2ⁿ`` outcomes (wire 0 the most significant
bit), measured by preparing every basis state. A commuting group whose outcome eigenvalues are
``f`` (in its rotated basis) is mitigated by measuring ``u = M⁻ᵀ f`` instead — an unbiased
per-shot estimate, since ``E[u(r)] = uᵀ M p = fᵀ p`` — written as a Pauli sum through the
Walsh–Hadamard transform, ``u(r) = Σ_S β_S (−1)^{|S ∧ r|}``, each ``S`` a word of the group's
letters (``Z`` on wires the group does not rotate): one rewritten group on the same shots, as
in the tensored model (``mitigation.readout``), now with crosstalk.

A measured column ``t`` is a multinomial estimate from ``N_t`` shots, so the calibration adds
``Σ_t Var_{r∼M[:,t]}(U_t(r))/N_t`` to a value's variance, ``U_t(r) = Σ u(r)·q(t)`` summed over
groups and scale factors (weighted), ``q = M⁻¹ p̂`` the group's mitigated distribution
(delta method: ``dv = −uᵀ dM q``). Calibrating takes ``2ⁿ`` circuits; a sampled calibration
reads each column from one observable of all ``2ⁿ − 1`` Z-words through ``Task.term_values``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.errors import MitigationError
from qtrain.ir.circuit import Circuit
from qtrain.ir.grouping import MeasurementGroup
from qtrain.ir.observables import Observable
from qtrain.ir.pauli import PauliTerm
from qtrain.mitigation.readout import derived_seed
from qtrain.sim.term_values import mask_signs, walsh_hadamard

__all__ = [
    "MAX_CORRELATED_QUBITS",
    "ConfusionMatrix",
    "correlated_group",
    "correlated_tasks",
    "correlated_variance",
    "read_distribution",
]

Real = NDArray[np.float64]

MAX_CORRELATED_QUBITS = 8


def _mask_word(mask: int, n_qubits: int, letters: dict[int, str]) -> tuple[tuple[int, str], ...]:
    """The word of ``mask`` (wire ``w`` ↔ bit ``n − 1 − w``), in the group's letters."""
    return tuple(
        (w, letters.get(w, "Z")) for w in range(n_qubits) if mask >> (n_qubits - 1 - w) & 1
    )


def _word_mask(factors: tuple[tuple[int, str], ...], n_qubits: int) -> int:
    return sum(1 << (n_qubits - 1 - w) for w, _ in factors)


@dataclass(frozen=True, eq=False)
class ConfusionMatrix:
    """A measured full confusion matrix.

    Attributes:
        matrix: ``(2ⁿ, 2ⁿ)`` ``M[read, prepared]``, columns summing to 1.
        column_shots: ``(2ⁿ,)`` shots behind each column (0: exact).
        calibration_id: the backend's calibration id when measured.
        measured_at: ``time.time()`` of the measurement.
        shots: shots the calibration circuits spent.
    """

    matrix: Real
    column_shots: NDArray[np.int64]
    calibration_id: str = ""
    measured_at: float = 0.0
    shots: int = 0
    inverse: Real = field(init=False, repr=False)

    def __post_init__(self) -> None:
        condition = float(np.linalg.cond(self.matrix))
        if not condition < 1e6:
            raise MitigationError(
                f"the measured confusion matrix cannot be inverted (condition number "
                f"{condition:.3g}): readout is too noisy for the correlated model"
            )
        object.__setattr__(self, "inverse", np.linalg.inv(self.matrix))

    @property
    def n_qubits(self) -> int:
        """Wires covered."""
        return int(self.matrix.shape[0]).bit_length() - 1

    @property
    def has_variance(self) -> bool:
        """True when measured with shots."""
        return bool(np.any(self.column_shots > 0))

    def age_s(self) -> float:
        """Seconds since it was measured."""
        return time.time() - self.measured_at

    @classmethod
    def from_results(
        cls, results: list[Result], n_qubits: int, shots: int | None
    ) -> ConfusionMatrix:
        """Columns from :func:`correlated_tasks`' results (exact values or term values)."""
        size = 1 << n_qubits
        masks = [_word_mask(term.factors, n_qubits) for term, _ in _all_z_words(n_qubits).terms]
        parities = np.ones((size, size))  # [prepared, mask]
        for t, result in enumerate(results):
            if shots is None:  # one observable per word, in the words' order
                parities[t, masks] = result.values[0]
                continue
            terms = result.metadata.get("term_values")
            if not isinstance(terms, tuple):
                raise MitigationError(
                    f"a sampled correlated readout calibration needs per-term values "
                    f"(Task.term_values) from backend {result.metadata.get('backend', '?')!r}: "
                    "use the tensored model (correlated=False) on it"
                )
            parities[t, masks] = np.asarray(terms[0])[0]
        matrix = np.clip(walsh_hadamard(parities) / size, 0.0, None).T  # [read, prepared]
        matrix /= matrix.sum(axis=0, keepdims=True)
        column_shots = np.full(size, 0 if shots is None else shots, dtype=np.int64)
        ids = [str(r.metadata.get("calibration_id", "")) for r in results]
        spent = sum(r.shots for r in results)
        return cls(matrix, column_shots, ids[-1], time.time(), spent)


def _all_z_words(n_qubits: int) -> Observable:
    words = [(PauliTerm(_mask_word(m, n_qubits, {})), 1.0) for m in range(1, 1 << n_qubits)]
    return Observable.from_terms(words)


def correlated_tasks(n_qubits: int, shots: int | None, seed: int | None) -> list[Task]:
    """One circuit per basis state (``X`` on its 1 bits), measuring every Z-word.

    Exact: each word its own observable; sampled: one observable of all words (one group),
    with ``term_values`` so that every word is read from the same shots.
    """
    if n_qubits > MAX_CORRELATED_QUBITS:
        raise MitigationError(
            f"the correlated readout model takes at most {MAX_CORRELATED_QUBITS} qubits "
            f"(2ⁿ calibration circuits), got {n_qubits}: use correlated=False"
        )
    everything = _all_z_words(n_qubits)
    observables = (
        tuple(Observable.from_terms([(term, 1.0)]) for term, _ in everything.terms)
        if shots is None
        else (everything,)
    )
    tasks = []
    for state in range(1 << n_qubits):
        circuit = Circuit(n_qubits)
        for w, _ in _mask_word(state, n_qubits, {}):
            circuit = circuit.x(w)
        own = None if seed is None else derived_seed(seed, state)  # columns independent
        tasks.append(Task(circuit, observables, np.zeros((1, 0)), shots, own, term_values=True))
    return tasks


def correlated_group(
    observable: Observable, group: MeasurementGroup, matrix: ConfusionMatrix
) -> tuple[Observable, Real]:
    """The group rewritten by ``M⁻ᵀ``, and its per-outcome estimate ``u`` ``(2ⁿ,)``."""
    n = matrix.n_qubits
    eigenvalues = np.zeros(1 << n)
    for index in group.term_indices:
        term, coefficient = observable.terms[index]
        mask = _word_mask(term.factors, n)
        eigenvalues += coefficient.real * mask_signs(mask, n)
    estimate = matrix.inverse.T @ eigenvalues
    beta = walsh_hadamard(estimate) / (1 << n)
    letters = dict(group.basis)
    scale = float(np.max(np.abs(beta), initial=0.0))
    terms = [
        (PauliTerm(_mask_word(m, n, letters)), float(beta[m]))
        for m in range(1 << n)  # mask 0: the identity, a constant of the estimate
        if abs(beta[m]) > 1e-14 * scale
    ]
    return Observable.from_terms(terms), estimate


def read_distribution(rewritten: Observable, term_values: Real, n_qubits: int) -> Real:
    """``(B, 2ⁿ)`` the read distribution from the rewritten group's raw term estimates.

    Parities the rewrite lacks (a zero coefficient) are taken as 0.
    """
    rows = term_values.shape[0]
    parities = np.zeros((rows, 1 << n_qubits))
    parities[:, 0] = 1.0
    for t, (term, _) in enumerate(rewritten.terms):
        if term.factors:
            parities[:, _word_mask(term.factors, n_qubits)] = term_values[:, t]
    return np.asarray(walsh_hadamard(parities) / (1 << n_qubits), dtype=np.float64)


def correlated_variance(matrix: ConfusionMatrix, pieces: list[tuple[Real, Real, Real]]) -> Real:
    """``(B,)`` the calibration's variance of ``Σ w·uᵀ M⁻¹ p̂`` over ``pieces (w, u, p̂)``.

    ``u`` ``(2ⁿ,)`` a group's estimate table, ``p̂`` ``(B, 2ⁿ)`` its read distribution, ``w``
    ``(B,)`` its weight per row (the extrapolation's, per factor); see the module docstring.
    """
    rows = pieces[0][2].shape[0]
    size = matrix.matrix.shape[0]
    combined = np.zeros((rows, size, size))  # [row, prepared t, read r]: U_t(r)
    for weight, estimate, distribution in pieces:
        mitigated = distribution @ matrix.inverse.T  # q = M⁻¹ p̂ per row: (B, 2ⁿ)
        combined += weight[:, None, None] * mitigated[:, :, None] * estimate[None, None, :]
    columns = matrix.matrix.T[None, :, :]  # p(r | t) as [1, t, r]
    mean = np.sum(columns * combined, axis=2)
    second = np.sum(columns * combined**2, axis=2)
    shots = np.maximum(matrix.column_shots, 1)
    spread = np.where(matrix.column_shots > 0, (second - mean**2) / shots, 0.0)
    return np.asarray(np.sum(np.maximum(spread, 0.0), axis=1), dtype=np.float64)
