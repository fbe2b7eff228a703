"""Zero-noise extrapolation estimators: closed forms, exactness, weights and error bars."""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest

from qtrain.errors import ExtrapolationError, MitigationError
from qtrain.mitigation.extrapolation import (
    Extrapolation,
    MitigationWarning,
    check_factors,
    polynomial_weights,
)

FACTOR_SETS = [(1.0, 3.0), (1.0, 3.0, 5.0), (1.0, 1.5, 2.0, 3.0), (1.0, 2.0, 3.0, 4.0, 5.0)]


def lagrange_at_zero(factors: tuple[float, ...]) -> np.ndarray:
    """Richardson's weights by the product formula ``Π_{μ≠λ} μ/(μ − λ)``."""
    return np.array(
        [np.prod([m / (m - f) for m in factors if m != f]) for f in factors], dtype=float
    )


@pytest.mark.parametrize("factors", FACTOR_SETS)
def test_richardson_weights_are_the_lagrange_weights(factors: tuple[float, ...]) -> None:
    weights = Extrapolation("richardson").weights(factors)
    np.testing.assert_allclose(weights, lagrange_at_zero(factors), rtol=1e-10)
    assert weights.sum() == pytest.approx(1.0)  # a constant is extrapolated to itself


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_polynomial_fit_is_exact_on_polynomials_of_its_degree(degree: int) -> None:
    rng = np.random.default_rng(degree)
    factors = (1.0, 1.5, 2.0, 3.0, 4.0, 5.0)
    coefficients = rng.normal(size=(7, degree + 1))
    values = np.stack([np.polyval(c[::-1], factors) for c in coefficients])
    fitted = Extrapolation("polynomial", degree).apply(factors, values)
    np.testing.assert_allclose(fitted.values, coefficients[:, 0], atol=1e-9)
    np.testing.assert_allclose(fitted.values, values @ polynomial_weights(factors, degree))


@pytest.mark.parametrize("factors", FACTOR_SETS)
@pytest.mark.parametrize("decay", [0.9, 0.97])
def test_richardson_bias_on_exponential_decay_equals_its_closed_form(
    factors: tuple[float, ...], decay: float
) -> None:
    ideal = np.array([0.8, -0.35])
    values = ideal[:, None] * decay ** np.asarray(factors)[None, :]
    fitted = Extrapolation("richardson").apply(factors, values)
    closed = ideal * (
        sum(w * decay**f for w, f in zip(lagrange_at_zero(factors), factors, strict=True)) - 1
    )
    np.testing.assert_allclose(fitted.values - ideal, closed, atol=1e-12)
    assert np.all(np.abs(closed) > 0)  # the bias is real: Richardson is not exact here


@pytest.mark.parametrize("factors", FACTOR_SETS)
def test_exponential_recovers_decay_toward_the_asymptote_exactly(
    factors: tuple[float, ...],
) -> None:
    asymptote = np.array([-0.5, 0.2, 0.0])
    amplitude = np.array([0.7, -0.4, 1e-3])
    rate = np.array([0.05, 0.3, 0.01])
    f = np.asarray(factors)
    values = asymptote[:, None] + amplitude[:, None] * np.exp(-rate[:, None] * f[None, :])
    fitted = Extrapolation("exponential").apply(factors, values, asymptote=asymptote)
    np.testing.assert_allclose(fitted.values, asymptote + amplitude, rtol=1e-12, atol=1e-14)
    assert not fitted.fallback.any()


def test_exponential_weights_are_the_derivatives_of_the_fit() -> None:
    factors = (1.0, 2.0, 3.5)
    values = np.array([[0.61, 0.47, 0.33]])
    fit = Extrapolation("exponential")
    weights = fit.apply(factors, values, asymptote=0.1).weights[0]
    step = 1e-7
    for k in range(3):
        up, down = values.copy(), values.copy()
        up[0, k] += step
        down[0, k] -= step
        slope = (
            fit.apply(factors, up, asymptote=0.1).values[0]
            - fit.apply(factors, down, asymptote=0.1).values[0]
        ) / (2 * step)
        assert weights[k] == pytest.approx(slope, rel=1e-6)


def test_exponential_on_exact_values_of_mixed_sign_is_an_error() -> None:
    with pytest.raises(ExtrapolationError, match="one side of its asymptote"):
        Extrapolation("exponential").apply((1.0, 3.0, 5.0), np.array([[0.3, 0.1, -0.05]]))


def test_exponential_on_values_of_mixed_sign_can_fall_back_with_a_warning() -> None:
    values = np.array([[0.3, 0.1, -0.05], [0.5, 0.4, 0.3]])
    with pytest.warns(MitigationWarning, match="both sides of the asymptote"):
        fitted = Extrapolation("exponential").apply((1.0, 3.0, 5.0), values, fallback=True)
    assert fitted.fallback.tolist() == [True, False]
    line = polynomial_weights((1.0, 3.0, 5.0), 1)
    assert fitted.values[0] == pytest.approx(values[0] @ line)
    np.testing.assert_allclose(fitted.weights[0], line)


@pytest.mark.parametrize("spec", ["linear", "richardson", ("polynomial", 2), "exponential"])
def test_error_bars_of_extrapolated_values_are_calibrated(spec: object) -> None:
    """z-scores of noisy extrapolations against their propagated stderr: mean 0, std 1."""
    rng = np.random.default_rng(11)
    factors = (1.0, 2.0, 3.0, 4.0)
    fit = Extrapolation.parse(spec)
    truth = 0.6 * np.exp(-0.1 * np.asarray(factors))
    sigma = np.array([0.002, 0.003, 0.004, 0.005])
    draws = truth + rng.normal(size=(4000, 4)) * sigma
    fitted = fit.apply(factors, draws, fallback=True)
    expected = fit.apply(factors, truth[None, :]).values[0]
    z = (fitted.values - expected) / np.sqrt(fitted.variances(np.tile(sigma**2, (4000, 1))))
    assert abs(z.mean()) < 0.1
    assert z.std() == pytest.approx(1.0, abs=0.06)


@pytest.mark.parametrize(
    ("factors", "match"),
    [
        ((1.0,), "at least two"),
        ((0.5, 1.0, 3.0), ">= 1"),
        ((1.0, 3.0, 3.0), "strictly increasing"),
        ((1.0, 5.0, 3.0), "strictly increasing"),
        ((1.0, float("nan")), "finite"),
        ("abc", "sequence of numbers"),
    ],
)
def test_bad_scale_factors_are_refused_by_name(factors: object, match: str) -> None:
    with pytest.raises(MitigationError, match=match):
        check_factors(factors)


@pytest.mark.parametrize("spec", ["cubic", ("polynomial", 0), ("polynomial", "2"), 3, None])
def test_unknown_extrapolations_are_refused(spec: object) -> None:
    with pytest.raises(MitigationError, match=r"extrapolation|degree"):
        Extrapolation.parse(spec)


def test_a_polynomial_needs_more_factors_than_its_degree() -> None:
    with pytest.raises(MitigationError, match=r"at least 4 scale factors"):
        Extrapolation.parse(("polynomial", 3)).apply((1.0, 2.0, 3.0), np.zeros((1, 3)))


def test_parse_and_describe_round_trip() -> None:
    for spec in ["linear", "richardson", "exponential", ("polynomial", 2)]:
        parsed = Extrapolation.parse(spec)
        described = parsed.describe()
        again = Extrapolation.parse(tuple(described) if isinstance(described, list) else described)
        assert again == parsed


def test_warnings_are_not_raised_for_one_sided_sampled_values() -> None:
    values = np.array(list(itertools.repeat([0.5, 0.3, 0.2], 3)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Extrapolation("exponential").apply((1.0, 3.0, 5.0), values, fallback=True)
