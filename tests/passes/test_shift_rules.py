import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qtrain.ir.gates import GATES
from qtrain.passes.shift_rules import (
    _equidistant_rule,
    _general_rule,
    first_order_rule,
    frequencies,
    second_order_rule,
)

RNG = np.random.default_rng(4)


def random_trig(freqs):
    """A random trigonometric polynomial with the given frequencies and its derivatives."""
    a0 = RNG.normal()
    a, b = RNG.normal(size=len(freqs)), RNG.normal(size=len(freqs))
    w = np.array(freqs)

    def f(x):
        return a0 + np.sum(a * np.cos(w * x) + b * np.sin(w * x))

    def d1(x):
        return np.sum(w * (-a * np.sin(w * x) + b * np.cos(w * x)))

    def d2(x):
        return np.sum(-(w**2) * (a * np.cos(w * x) + b * np.sin(w * x)))

    return f, d1, d2


def apply(rule, f, x):
    return sum(c * f(x + s) for c, s in rule)


SPECTRA = [
    (-0.5, 0.5),  # RX: one frequency
    (-0.5, 0.0, 0.0, 0.5),  # CRX: {1/2, 1}
    (-1.0, 0.0),  # PhaseShift
    (-1.5, -0.5, 0.5, 1.5),  # {1, 2, 3}: three equidistant
    (0.0, 0.3, 1.1),  # {0.3, 0.8, 1.1}: not equidistant
    (0.0, 1.0, np.sqrt(2) + 1),  # irrational gaps
]


@pytest.mark.parametrize("spectrum", SPECTRA)
def test_shift_rules_first_order_is_exact(spectrum):
    rule = first_order_rule(spectrum)
    for _ in range(5):
        f, d1, _ = random_trig(frequencies(spectrum))
        x = RNG.uniform(-3, 3)
        assert apply(rule, f, x) == pytest.approx(d1(x), abs=1e-10)


@pytest.mark.parametrize("spectrum", SPECTRA)
def test_shift_rules_second_order_is_exact(spectrum):
    rule = second_order_rule(spectrum)
    for _ in range(5):
        f, _, d2 = random_trig(frequencies(spectrum))
        x = RNG.uniform(-3, 3)
        assert apply(rule, f, x) == pytest.approx(d2(x), abs=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-3, 3, allow_nan=False), min_size=2, max_size=5))
def test_shift_rules_any_spectrum_gives_exact_first_derivative(eigenvalues):
    freqs = frequencies(tuple(eigenvalues))
    if not freqs or min(np.diff((0.0, *freqs))) < 0.05:
        return  # near-degenerate gaps make the solve ill-conditioned; covered above
    rule = first_order_rule(tuple(eigenvalues))
    f, d1, _ = random_trig(freqs)
    assert apply(rule, f, 0.4) == pytest.approx(d1(0.4), abs=1e-7)


def test_shift_rules_two_term_rule_for_single_frequency():
    rule = first_order_rule((-0.5, 0.5))
    np.testing.assert_allclose(sorted(rule), [(-0.5, -np.pi / 2), (0.5, np.pi / 2)], atol=1e-12)
    # rz(2θ) has frequency 2 in θ; as a slot it is still RZ's rule (the chain rule scales it).
    assert len(first_order_rule(GATES["RZZ"].eigenvalues)) == 2


def test_shift_rules_controlled_rotations_need_four_terms():
    for name in ("CRX", "CRY", "CRZ"):
        rule = first_order_rule(GATES[name].eigenvalues)
        assert len(rule) == 4
        coeffs = sorted(abs(c) for c, _ in rule)
        s2 = np.sqrt(2)
        np.testing.assert_allclose(coeffs[::2], [(s2 - 1) / (4 * s2), (s2 + 1) / (4 * s2)])
        np.testing.assert_allclose(
            sorted(abs(s) for _, s in rule), [np.pi / 2] * 2 + [1.5 * np.pi] * 2
        )


def test_shift_rules_equidistant_closed_form_and_general_solve_agree():
    for count in (1, 2, 3, 4):
        freqs = tuple(0.7 * (i + 1) for i in range(count))
        closed, solved = _equidistant_rule(0.7, count), _general_rule(freqs)
        assert len(closed) == len(solved) == 2 * count
        f, d1, _ = random_trig(freqs)
        assert apply(closed, f, 0.2) == pytest.approx(apply(solved, f, 0.2), abs=1e-10)
        assert apply(closed, f, 0.2) == pytest.approx(d1(0.2), abs=1e-10)


def test_shift_rules_frequencies_and_phase_gates():
    assert frequencies((-0.5, 0.0, 0.0, 0.5)) == (0.5, 1.0)
    assert frequencies((0.5, 0.5, 0.5)) == ()
    assert first_order_rule((0.5, 0.5)) == ()
    assert second_order_rule((0.5, 0.5)) == ()
