"""Zero-noise extrapolation: a value at noise scale 0 from values at scale factors ``λ ≥ 1``.

Every estimator here is, at the measured values, a weighted sum ``ŷ₀ = Σ_λ w_λ·y_λ`` (the
exponential one after linearisation), and the weights carry the error bar:

* ``"linear"``, ``"richardson"``, ``("polynomial", k)``: least-squares polynomials of degree 1,
  ``L − 1`` (interpolation: Richardson, Temme et al., PRL 119, 180509 (2017)) and ``k``,
  evaluated at 0. The weights are the first row of the Vandermonde pseudo-inverse and depend
  on the factors only, so ``Var ŷ₀ = Σ w_λ² Var y_λ`` is exact for independent ``y_λ``.
* ``"exponential"``: ``y_λ = a + A·e^{−cλ}`` with the asymptote ``a`` known (the value a fully
  depolarised state gives: the observable's identity coefficient), fitted as a straight line
  through ``(λ, log|y_λ − a|)`` (Giurgica-Tiron et al., IEEE QCE 2020, §IV; Endo et al., PRX 8,
  031027 (2018)). Exact under global depolarising noise. Its variance is the delta method's:
  ``w_λ = (ŷ₀ − a)·ℓ_λ/(y_λ − a)`` with ``ℓ`` the line's intercept weights. The line is
  unweighted; Mitiq's ``ExpFactory(asymptote=a)`` weights it by ``√|y − a|``, so the two agree
  when the points lie on one exponential and differ otherwise (``bench/bench_mitigation.py``).

An exponential fit on values of mixed sign (on both sides of the asymptote) has no answer:
it raises :class:`~qtrain.errors.ExtrapolationError`, or with ``fallback=True`` (what
``qt.ZNE(on_failure="fallback")``, the default, asks for) uses the linear fit for those cells
and warns (:class:`MitigationWarning`). Shot noise near the asymptote, and noise that is not
depolarising (amplitude damping drives values toward ``|0…0⟩``'s, not to the asymptote),
both produce such cells in a training run, where one of them must not end the run.
"""

from __future__ import annotations

import itertools
import math
import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from qtrain.errors import ExtrapolationError, MitigationError

__all__ = [
    "EXTRAPOLATIONS",
    "Extrapolated",
    "Extrapolation",
    "MitigationWarning",
    "check_factors",
    "polynomial_weights",
]

Real = NDArray[np.float64]

EXTRAPOLATIONS = ("linear", "richardson", "polynomial", "exponential")


class MitigationWarning(UserWarning):
    """A mitigation step fell back to a simpler estimator (the result says which cells)."""


def check_factors(factors: object) -> tuple[float, ...]:
    """Scale factors as floats: at least two, each finite and ≥ 1, strictly increasing.

    Raises:
        MitigationError: naming the offending factors.
    """
    if isinstance(factors, (str, bytes)):
        raise MitigationError(f"ZNE scale factors must be a sequence of numbers, got {factors!r}")
    try:
        values = tuple(float(f) for f in factors)  # type: ignore[attr-defined]  # any iterable
    except (TypeError, ValueError):
        raise MitigationError(
            f"ZNE scale factors must be a sequence of numbers, got {factors!r}"
        ) from None
    if len(values) < 2:
        raise MitigationError(f"ZNE needs at least two scale factors, got {values}")
    bad = [f for f in values if not math.isfinite(f) or f < 1.0]
    if bad:
        raise MitigationError(
            f"ZNE scale factors must be finite and >= 1 (1 is the unscaled circuit), got {bad} "
            f"in {values}"
        )
    if any(b <= a for a, b in itertools.pairwise(values)):
        raise MitigationError(f"ZNE scale factors must be strictly increasing, got {values}")
    return values


def polynomial_weights(factors: tuple[float, ...], degree: int) -> Real:
    """``(L,)`` weights of the least-squares polynomial of ``degree`` through ``(λ, y)`` at 0.

    ``degree = L − 1`` is Richardson extrapolation (the Lagrange weights
    ``Π_{μ≠λ} μ/(μ − λ)``).
    """
    vandermonde = np.vander(np.asarray(factors), degree + 1, increasing=True)
    return np.asarray(np.linalg.pinv(vandermonde)[0], dtype=np.float64)


@dataclass(frozen=True)
class Extrapolated:
    """Extrapolated values of ``C`` cells and the weights that make them.

    Attributes:
        values: ``(C,)`` the estimates at zero noise.
        weights: ``(C, L)``: ``values = Σ_λ weights·y`` to first order, so the variance of
            independent ``y_λ`` is ``Σ weights² Var y_λ`` and a shared error ``δy`` moves the
            value by ``Σ weights·δy``.
        fallback: ``(C,)`` true where the exponential fit fell back to the linear one.
    """

    values: Real
    weights: Real
    fallback: NDArray[np.bool_]

    def variances(self, variances: Real) -> Real:
        """``(C,)`` ``Σ_λ w_λ² Var y_λ`` for ``(C, L)`` variances of independent values."""
        return np.asarray(np.sum(self.weights**2 * variances, axis=1), dtype=np.float64)


@dataclass(frozen=True)
class Extrapolation:
    """How values at the scale factors become one value at zero noise.

    Attributes:
        kind: one of :data:`EXTRAPOLATIONS`.
        degree: the polynomial degree (``"polynomial"`` only; 1 for linear, ``L − 1`` for
            Richardson, resolved against the factors by :meth:`weights`).
    """

    kind: str = "richardson"
    degree: int | None = None

    @classmethod
    def parse(cls, spec: object) -> Extrapolation:
        """From ``"linear" | "richardson" | "exponential" | ("polynomial", k)``.

        Raises:
            MitigationError: an unknown name or a degree that is not a positive int.
        """
        if isinstance(spec, Extrapolation):
            return spec
        if isinstance(spec, str) and spec in ("linear", "richardson", "exponential"):
            return cls(spec)
        if isinstance(spec, (tuple, list)) and len(spec) == 2 and spec[0] == "polynomial":
            degree = spec[1]
            if isinstance(degree, bool) or not isinstance(degree, int) or degree < 1:
                raise MitigationError(
                    f"a polynomial extrapolation needs a degree >= 1, got {degree!r}"
                )
            return cls("polynomial", degree)
        raise MitigationError(
            f"unknown extrapolation {spec!r}: expected 'linear', 'richardson', 'exponential' "
            "or ('polynomial', k)"
        )

    def describe(self) -> str | list[object]:
        """JSON-ready form (``parse`` inverts it)."""
        return ["polynomial", self.degree] if self.kind == "polynomial" else self.kind

    def check(self, factors: tuple[float, ...]) -> None:
        """Raise :class:`MitigationError` if ``factors`` cannot determine the fit."""
        need = {"linear": 2, "exponential": 2, "richardson": 2}.get(self.kind)
        if need is None:
            need = (self.degree or 1) + 1
        if len(factors) < need:
            raise MitigationError(
                f"a {self.describe()} extrapolation needs at least {need} scale factors, got "
                f"{factors}"
            )

    def weights(self, factors: tuple[float, ...]) -> Real:
        """``(L,)`` the linear weights (for the exponential fit: its line's intercept weights).

        They also set the shot split over factors (``mitigation.zne``).
        """
        degree = {"linear": 1, "exponential": 1, "richardson": len(factors) - 1}.get(self.kind)
        return polynomial_weights(factors, degree if degree is not None else self.degree or 1)

    def apply(
        self,
        factors: tuple[float, ...],
        values: Real,
        *,
        asymptote: Real | float = 0.0,
        fallback: bool = False,
    ) -> Extrapolated:
        """Extrapolate ``(C, L)`` values at ``factors`` to zero noise.

        Args:
            factors: the ``L`` scale factors actually reached.
            values: ``(C, L)`` one row per cell (a parameter row and observable).
            asymptote: ``(C,)`` or a float: the exponential's limit at infinite noise.
            fallback: cells of mixed sign get the linear fit (and a warning) instead of an
                error.

        Raises:
            ExtrapolationError: an exponential fit on values of mixed sign (without
                ``fallback``).
        """
        self.check(factors)
        values = np.asarray(values, dtype=np.float64)
        weights = np.broadcast_to(self.weights(factors), values.shape).copy()
        linear = np.sum(weights * values, axis=1)
        none = np.zeros(values.shape[0], dtype=bool)
        if self.kind != "exponential":
            return Extrapolated(linear, weights, none)
        limit = np.broadcast_to(np.asarray(asymptote, dtype=np.float64).reshape(-1), linear.shape)
        return _exponential(factors, values, limit, fallback)


def _exponential(
    factors: tuple[float, ...], values: Real, asymptote: Real, fallback: bool
) -> Extrapolated:
    """The log-linear fit of ``values − asymptote`` (module docstring), cell by cell."""
    shifted = values - asymptote[:, None]
    positive, negative = np.all(shifted > 0, axis=1), np.all(shifted < 0, axis=1)
    usable = positive | negative
    if not np.all(usable) and not fallback:
        cell = int(np.flatnonzero(~usable)[0])
        raise ExtrapolationError(
            f"an exponential extrapolation needs values on one side of its asymptote "
            f"{float(asymptote[cell]):.6g} at every scale factor; cell {cell} has "
            f"{values[cell].tolist()} at factors {list(factors)}: use extrapolation="
            "'richardson' or 'linear' for such values (or ZNE(on_failure='fallback'))"
        )
    line = polynomial_weights(factors, 1)
    fitted = np.empty(values.shape[0])
    weights = np.broadcast_to(line, values.shape).copy()
    sign = np.where(negative, -1.0, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        amplitude = sign * np.exp(np.log(np.abs(shifted)) @ line)
        delta = amplitude[:, None] * line[None, :] / shifted
    fitted[usable] = (asymptote + amplitude)[usable]
    weights[usable] = delta[usable]
    failed = ~usable
    if np.any(failed):
        fitted[failed] = values[failed] @ line
        warnings.warn(  # one text: Python shows it once per place, not once per step
            "exponential extrapolation: some values lie on both sides of the asymptote; the "
            "linear fit was used for them (counted in the result's fallback cells)",
            MitigationWarning,
            stacklevel=3,
        )
    return Extrapolated(fitted, weights, failed)
