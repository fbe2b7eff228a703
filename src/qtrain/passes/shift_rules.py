"""Parameter-shift rules from a generator's spectrum: pure functions, cached.

For a gate ``U(x) = exp(-ix·G)`` the expectation ``E(x)`` of any circuit containing it is a
trigonometric polynomial whose frequencies are the distinct positive differences of the
eigenvalues of ``G`` (Wierichs, Izaac, Wang, Lin, "General parameter-shift rules for quantum
gradients", Quantum 6, 677 (2022), §2). A *rule* is a list of ``(coefficient, shift)`` pairs
with ``E'(0) = Σ c_i · E(s_i)``, exact for every such polynomial:

* one frequency Ω — the two-term rule ``Ω/2 · [E(π/2Ω) − E(−π/2Ω)]`` (RX, RZZ, PauliRot);
* R equidistant frequencies ``Ω, 2Ω, …, RΩ`` — the 2R-term rule of Wierichs et al. eq. (13),
  shifts ``x_μ = (2μ−1)π/(2RΩ)``, coefficients ``Ω·(−1)^{μ−1} / (4R·sin²((2μ−1)π/4R))``
  (controlled rotations: frequencies {½, 1}, four terms);
* any other spectrum — solve the ``R × R`` linear system for symmetric shifts (§3.2).

Second-order rules (``E''(0) = Σ c_i · E(s_i)``) serve the Hessian.

>>> [(round(c, 12), round(s, 12)) for c, s in first_order_rule((-0.5, 0.5))]
[(0.5, 1.570796326795), (-0.5, -1.570796326795)]
>>> [round(c, 4) for c, _ in first_order_rule((-0.5, 0.0, 0.0, 0.5))]
[0.4268, -0.0732, 0.0732, -0.4268]
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

__all__ = ["Rule", "first_order_rule", "frequencies", "second_order_rule"]

Rule = tuple[tuple[float, float], ...]
"""``((coefficient, shift), ...)``: the derivative is ``Σ coefficient · E(x + shift)``."""

_TOL = 1e-9


def frequencies(eigenvalues: tuple[float, ...]) -> tuple[float, ...]:
    """Distinct positive differences of ``eigenvalues``, ascending (rounded to 1e-9).

    >>> frequencies((-0.5, 0.0, 0.0, 0.5))
    (0.5, 1.0)
    >>> frequencies((0.5, 0.5))
    ()
    """
    values = np.asarray(eigenvalues, dtype=np.float64)
    gaps = np.abs(values[:, None] - values[None, :]).ravel()
    distinct: list[float] = []
    for gap in np.sort(gaps[gaps > _TOL]):
        if not distinct or gap - distinct[-1] > _TOL:
            distinct.append(float(gap))
    return tuple(distinct)


def _is_equidistant(freqs: tuple[float, ...]) -> bool:
    base = freqs[0]
    return all(abs(f - (i + 1) * base) <= _TOL * max(1.0, f) for i, f in enumerate(freqs))


def _equidistant_rule(base: float, count: int) -> Rule:
    """Wierichs et al. eq. (13): 2R terms for frequencies ``base·(1, …, R)``."""
    terms = []
    for mu in range(1, 2 * count + 1):
        x = (2 * mu - 1) * np.pi / (2 * count)
        coeff = (-1) ** (mu - 1) / (4 * count * np.sin(x / 2) ** 2)
        # Shifts beyond half a period are the same points as their negatives (period 2π/base).
        shift = x if x <= np.pi else x - 2 * np.pi
        terms.append((float(base * coeff), float(shift / base)))
    return tuple(terms)


def _general_rule(freqs: tuple[float, ...]) -> Rule:
    """Symmetric shifts ``±x_μ`` and the coefficients solving ``Σ_l Ω_l b_l`` exactly.

    ``E(x) − E(−x) = 2 Σ_l b_l sin(Ω_l x)`` and ``E'(0) = Σ_l Ω_l b_l``; with ``R`` shifts the
    sine matrix ``S[μ, l] = sin(Ω_l x_μ)`` is square, so ``E'(0) = Ωᵀ S⁻¹ d`` for the
    differences ``d_μ = (E(x_μ) − E(−x_μ)) / 2`` (Wierichs et al. §3.2).
    """
    omega = np.array(freqs)
    count = omega.size
    shifts = (2 * np.arange(1, count + 1) - 1) * np.pi / (2 * count * omega[-1])
    sines = np.sin(np.outer(shifts, omega))
    weights = np.linalg.solve(sines.T, omega)
    terms = []
    for w, x in zip(weights, shifts, strict=True):
        terms += [(float(w / 2), float(x)), (float(-w / 2), float(-x))]
    return tuple(terms)


@lru_cache(maxsize=256)
def first_order_rule(eigenvalues: tuple[float, ...]) -> Rule:
    """Exact rule for ``E'(0)`` of a gate ``exp(-ix·G)`` with the given eigenvalues of ``G``.

    Empty when the spectrum has no gaps (the gate is a global phase; its derivative is 0).
    """
    freqs = frequencies(eigenvalues)
    if not freqs:
        return ()
    if _is_equidistant(freqs):
        return _equidistant_rule(freqs[0], len(freqs))
    return _general_rule(freqs)


@lru_cache(maxsize=256)
def second_order_rule(eigenvalues: tuple[float, ...]) -> Rule:
    """Exact rule for ``E''(0)``: the unshifted point and ``R`` symmetric pairs.

    ``E(x) + E(−x) = 2a₀ + 2 Σ_l a_l cos(Ω_l x)`` and ``E''(0) = −Σ_l Ω_l² a_l``; with
    ``x₀ = 0`` and ``R`` positive shifts the cosine system is square (Wierichs et al. §4).

    >>> [(round(c, 6), round(s, 6)) for c, s in second_order_rule((-0.5, 0.5))]
    [(-0.5, 0.0), (0.25, 3.141593), (0.25, -3.141593)]
    """
    freqs = frequencies(eigenvalues)
    if not freqs:
        return ()
    omega = np.array(freqs)
    count = omega.size
    shifts = np.concatenate([[0.0], np.arange(1, count + 1) * np.pi / (count * omega[-1])])
    cosines = np.cos(np.outer(shifts, np.concatenate([[0.0], omega])))
    # Unknowns: the symmetric sums s_μ = (E(x_μ) + E(-x_μ))/2 = a₀ + Σ a_l cos(Ω_l x_μ).
    weights = np.linalg.solve(cosines.T, np.concatenate([[0.0], -(omega**2)]))
    terms = [(float(weights[0]), 0.0)]
    for w, x in zip(weights[1:], shifts[1:], strict=True):
        terms += [(float(w / 2), float(x)), (float(w / 2), float(-x))]
    return tuple(terms)
