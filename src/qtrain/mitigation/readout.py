"""Readout-error mitigation: per-qubit confusion matrices, inverted on every measured word.

Under independent per-qubit readout error a measured ±1 outcome obeys
``E[z_read | z] = a·z + b`` (``a = 1 − p01 − p10``, ``b = p10 − p01``, ``noise.readout``), so
``(z_read − b)/a`` is an unbiased estimate of ``z`` and, wires misreading independently,
``Π_{w∈W} (z_w − b_w)/a_w`` is one of the word ``P_W``. Expanded over sub-words it is a Pauli
sum diagonal in the same basis (``noise.readout.affine_word_terms`` with ``(1/a, −b/a)``):
mitigating a commuting group is *measuring a rewritten group* (Bravyi et al., PRA 103, 042605
(2021), tensored model), on the same shots, whose per-shot estimate the backend averages
and whose variance it reports. This is the same estimator as applying ``A⁻¹`` to the group's
outcome distribution (Maciejewski et al., Quantum 4, 257 (2020)), with no 2ⁿ table.

The calibration ``(p̂01, p̂10)`` is itself an estimate when measured by calibration circuits
(all-``|0⟩`` and all-``|1⟩``, ``shots`` each): its error moves every mitigated value the same
way, so its variance is added by the delta method, ``Σ_w (∂v/∂p01_w)² Var p̂01_w + (∂v/∂p10_w)²
Var p̂10_w`` with ``∂v/∂a_w = −m(W)/a_w`` and ``∂v/∂b_w = −m(W∖w)/a_w`` summed over the words
``W ∋ w`` (``m`` = a word's mitigated value). The derivatives need the raw value of every
sub-word, from the backend's per-term estimates (``Task.term_values``) on the same shots.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from qtrain.backends.protocol import Result, Task
from qtrain.errors import MitigationError
from qtrain.ir.circuit import Circuit
from qtrain.ir.grouping import MeasurementGroup
from qtrain.ir.observables import Observable, Z
from qtrain.ir.pauli import PauliTerm
from qtrain.noise.calibration import Calibration
from qtrain.noise.readout import Factors, ReadoutError, affine_word_terms

__all__ = [
    "ReadoutCalibration",
    "ReadoutMitigation",
    "calibration_from",
    "calibration_gradients",
    "calibration_tasks",
    "calibration_variance",
    "derived_seed",
    "mitigated_groups",
]

Real = NDArray[np.float64]

MIN_SCALE = 0.2  # a = 1 − p01 − p10 below this: the inverse amplifies noise over 25×


@dataclass(frozen=True)
class ReadoutMitigation:
    """Readout-error mitigation options.

    Args:
        calibration: the readout errors to invert: a ``qt.Calibration`` (its ``readout_p01``
            / ``readout_p10``) or ``{wire: ReadoutError}``; ``None`` (default) measures them
            on the backend with calibration circuits.
        shots: shots per calibration circuit and measured qubit (sampled tasks; exact tasks
            run the calibration circuits exactly). Their cost is reported as overhead.
        max_age_s: re-measure a calibration older than this (seconds); a backend whose
            results name a new ``calibration_id`` also triggers a re-measurement.
        seed: the calibration circuits' sampling seed; ``None`` is seed 0 — a fixed stream, so
            results never depend on which task happened to come first (a run config derives
            one from the run's seed).
        correlated: measure the full ``2ⁿ × 2ⁿ`` confusion matrix (crosstalk included;
            ``2ⁿ`` calibration circuits, ``n ≤ 8``, ``mitigation.correlated``) instead of one
            ``2 × 2`` matrix per qubit.

    Raises:
        MitigationError: a bad option, naming it.
    """

    calibration: Calibration | Mapping[int, ReadoutError] | None = None
    shots: int = 8192
    max_age_s: float | None = None
    seed: int | None = None
    correlated: bool = False

    def __post_init__(self) -> None:
        cal = self.calibration
        if not isinstance(self.correlated, bool):
            raise MitigationError(
                f"ReadoutMitigation.correlated must be a bool, got {self.correlated!r}"
            )
        if self.correlated and cal is not None:
            raise MitigationError(
                "ReadoutMitigation(correlated=True) measures the full confusion matrix on the "
                "backend: a given per-qubit calibration cannot provide it"
            )
        if cal is not None and not isinstance(cal, Calibration):
            if not isinstance(cal, Mapping) or not all(
                isinstance(w, int) and w >= 0 and isinstance(e, ReadoutError)
                for w, e in cal.items()
            ):
                raise MitigationError(
                    "ReadoutMitigation.calibration must be a qt.Calibration or a mapping "
                    f"{{wire: ReadoutError}}, got {cal!r}"
                )
        if isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots < 2:
            raise MitigationError(
                f"ReadoutMitigation.shots must be an int >= 2 (per calibration circuit and "
                f"qubit), got {self.shots!r}"
            )
        age = self.max_age_s
        if age is not None and (
            isinstance(age, bool) or not isinstance(age, (int, float)) or not age > 0
        ):
            raise MitigationError(f"ReadoutMitigation.max_age_s must be > 0, got {age!r}")
        seed = self.seed
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
            raise MitigationError(
                f"ReadoutMitigation.seed must be a non-negative int, got {seed!r}"
            )

    @property
    def measured(self) -> bool:
        """True when the calibration is measured on the backend (no calibration given)."""
        return self.calibration is None

    def describe(self) -> dict[str, object]:
        """JSON-ready options (part of the mitigated backend's identity)."""
        cal = self.calibration
        source: object = "measured"
        if isinstance(cal, Calibration):
            source = {"calibration": cal.fingerprint()}
        elif cal is not None:
            source = {str(w): e.fingerprint() for w, e in sorted(cal.items())}
        described = {"source": source, "shots": self.shots, "seed": self.seed}
        if self.correlated:
            described["model"] = "correlated"
        return described

    def given(self, n_qubits: int) -> ReadoutCalibration:
        """The given calibration on wires ``0..n−1`` (exact: no variance).

        Raises:
            MitigationError: a ``qt.Calibration`` of fewer qubits than the circuit, or a
                mapping naming a wire the circuit lacks (either would mitigate the wrong
                wires, or none, silently).
        """
        cal = self.calibration
        assert cal is not None  # callers check ``measured`` first
        if isinstance(cal, Calibration):
            if cal.n_qubits < n_qubits:
                raise MitigationError(
                    f"calibration {cal.id!r} covers {cal.n_qubits} qubit(s); the circuit has "
                    f"{n_qubits}: wires {list(range(cal.n_qubits, n_qubits))} would go "
                    "unmitigated"
                )
            p01 = np.array(cal.readout_p01[:n_qubits], dtype=np.float64)
            p10 = np.array(cal.readout_p10[:n_qubits], dtype=np.float64)
            return ReadoutCalibration(p01, p10, calibration_id=cal.id).checked()
        outside = sorted(w for w in cal if w >= n_qubits)
        if outside:
            raise MitigationError(
                f"the readout errors name wire(s) {outside}, which the {n_qubits}-qubit "
                "circuit does not have"
            )
        errors = dict(cal)
        p01 = np.array([errors[w].p01 if w in errors else 0.0 for w in range(n_qubits)])
        p10 = np.array([errors[w].p10 if w in errors else 0.0 for w in range(n_qubits)])
        return ReadoutCalibration(p01, p10).checked()


@dataclass(frozen=True, eq=False)
class ReadoutCalibration:
    """Per-wire readout error estimates on wires ``0..n−1``, with their variances.

    Attributes:
        p01, p10: ``(n,)`` estimated ``P(1|0)`` and ``P(0|1)``.
        var01, var10: ``(n,)`` their estimated variances (zeros when exact or given).
        calibration_id: the backend's calibration id when measured ("" if it names none).
        measured_at: when it was measured (``time.time()``; 0 for a given calibration).
        shots: shots the calibration circuits spent.
    """

    p01: Real
    p10: Real
    var01: Real = field(default_factory=lambda: np.zeros(0))
    var10: Real = field(default_factory=lambda: np.zeros(0))
    calibration_id: str = ""
    measured_at: float = 0.0
    shots: int = 0

    def __post_init__(self) -> None:
        for name in ("var01", "var10"):
            if getattr(self, name).size == 0:
                object.__setattr__(self, name, np.zeros_like(self.p01))

    @property
    def n_qubits(self) -> int:
        """Wires covered."""
        return int(self.p01.size)

    @property
    def scale(self) -> Real:
        """``(n,)`` ``a = 1 − p01 − p10``."""
        return np.asarray(1.0 - self.p01 - self.p10, dtype=np.float64)

    @property
    def has_variance(self) -> bool:
        """True when the estimates carry sampling error (measured with shots)."""
        return bool(np.any(self.var01 > 0) or np.any(self.var10 > 0))

    def inverse_maps(self) -> dict[int, tuple[float, float]]:
        """``{wire: (1/a, −b/a)}`` for every wire that misreads (the per-wire inverse)."""
        a, b = self.scale, self.p10 - self.p01
        return {
            w: (1.0 / float(a[w]), -float(b[w]) / float(a[w]))
            for w in range(self.n_qubits)
            if a[w] != 1.0 or b[w] != 0.0
        }

    def checked(self) -> ReadoutCalibration:
        """Itself, if every wire's scale ``a`` is at least ``MIN_SCALE``.

        Raises:
            MitigationError: naming the wire whose readout is too noisy to invert.
        """
        a = self.scale
        bad = np.flatnonzero(~(a >= MIN_SCALE))
        if bad.size:
            w = int(bad[0])
            raise MitigationError(
                f"readout of wire {w} is too noisy to invert: p01 = {self.p01[w]:.4g}, p10 = "
                f"{self.p10[w]:.4g}, 1 − p01 − p10 = {a[w]:.4g} < {MIN_SCALE}"
            )
        return self

    def age_s(self) -> float:
        """Seconds since it was measured (0 for a given calibration)."""
        return 0.0 if self.measured_at == 0.0 else time.time() - self.measured_at


def derived_seed(seed: int, *key: int) -> int:
    """A seed for a sub-stream of ``seed`` (per scale factor, per calibration): independent."""
    state = np.random.SeedSequence(seed, spawn_key=key).generate_state(2, np.uint64)
    return int(state[0]) % (1 << 63)


def calibration_tasks(n_qubits: int, shots: int | None, seed: int | None) -> list[Task]:
    """The two calibration circuits: all wires in ``|0⟩`` and all in ``|1⟩``, each ``Z_w``.

    Each draws from its own stream of ``seed``: the two rows have the same (empty) content,
    and a shared stream would correlate the two estimates.
    """
    observables = tuple(Z(w) for w in range(n_qubits))
    zeros = Circuit(n_qubits)
    ones = Circuit(n_qubits)
    for w in range(n_qubits):
        ones = ones.x(w)
    params = np.zeros((1, 0))
    return [
        Task(c, observables, params, shots, None if seed is None else derived_seed(seed, k))
        for k, c in enumerate((zeros, ones))
    ]


def calibration_from(results: list[Result], n_qubits: int, shots: int | None) -> ReadoutCalibration:
    """The estimates from :func:`calibration_tasks`' results: ``p̂01 = (1 − ⟨Z⟩₀)/2`` etc."""
    zeros, ones = results
    z0, z1 = zeros.values[0], ones.values[0]
    p01, p10 = np.clip((1.0 - z0) / 2.0, 0.0, 1.0), np.clip((1.0 + z1) / 2.0, 0.0, 1.0)
    var01 = np.zeros(n_qubits) if zeros.variances is None else zeros.variances[0] / 4.0
    var10 = np.zeros(n_qubits) if ones.variances is None else ones.variances[0] / 4.0
    ids = [str(r.metadata.get("calibration_id", "")) for r in results]
    return ReadoutCalibration(
        p01,
        p10,
        np.nan_to_num(var01),
        np.nan_to_num(var10),
        calibration_id=ids[-1],
        measured_at=time.time(),
        shots=zeros.shots + ones.shots,
    ).checked()


def mitigated_groups(
    observable: Observable, maps: Mapping[int, tuple[float, float]]
) -> tuple[Observable, ...]:
    """One observable per measurement group of ``observable``: the group, readout-inverted.

    Each is diagonal in its group's basis (sub-words of its words), so it is one group itself
    and its estimate uses the group's shots. The identity term stays out (it has no group).
    """
    rewritten = []
    for group in observable.groups():
        terms: list[tuple[PauliTerm, float]] = []
        for index in group.term_indices:
            term, coefficient = observable.terms[index]
            for kappa, word in affine_word_terms(term.factors, maps):
                terms.append((PauliTerm(word), coefficient.real * kappa))
        rewritten.append(Observable.from_terms(terms))
    return tuple(rewritten)


def calibration_gradients(
    observable: Observable,
    group: MeasurementGroup,
    calibration: ReadoutCalibration,
    rewritten: Observable,
    term_values: Real,
) -> tuple[Real, Real, int]:
    """``∂v/∂p01_w`` and ``∂v/∂p10_w`` ``(B, n)`` of a mitigated group's value (module doc).

    Args:
        observable: the original observable.
        group: one of its measurement groups.
        calibration: the calibration the rewrite used.
        rewritten: the group's rewritten observable (:func:`mitigated_groups`).
        term_values: ``(B, T)`` raw estimates of ``rewritten``'s terms on the same shots.

    Returns:
        ``(d01, d10, missing)``: ``missing`` counts sub-words the rewrite lacks (their
        coefficients cancelled); their raw values are taken as 0.
    """
    rows = term_values.shape[0]
    raw: dict[Factors, Real] = {
        term.factors: term_values[:, t] for t, (term, _) in enumerate(rewritten.terms)
    }
    raw[()] = np.ones(rows)
    maps = calibration.inverse_maps()
    missing = 0

    def mitigated(word: Factors) -> Real:
        nonlocal missing
        total = np.zeros(rows)
        for kappa, sub in affine_word_terms(word, maps):
            column = raw.get(sub)
            if column is None:
                missing += 1
                continue
            total += kappa * column
        return total

    sums_a = np.zeros((rows, calibration.n_qubits))
    sums_b = np.zeros((rows, calibration.n_qubits))
    for index in group.term_indices:
        term, coefficient = observable.terms[index]
        c = coefficient.real
        whole = mitigated(term.factors)
        for k, (wire, _) in enumerate(term.factors):
            sums_a[:, wire] += c * whole
            sums_b[:, wire] += c * mitigated(term.factors[:k] + term.factors[k + 1 :])
    a = calibration.scale
    return (sums_a + sums_b) / a, (sums_a - sums_b) / a, missing


def calibration_variance(calibration: ReadoutCalibration, d01: Real, d10: Real) -> Real:
    """``(...,)`` ``Σ_w d01² Var p̂01_w + d10² Var p̂10_w`` for ``(..., n)`` derivatives."""
    return np.asarray((d01**2) @ calibration.var01 + (d10**2) @ calibration.var10, dtype=np.float64)
