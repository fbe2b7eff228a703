"""The CUSUM detector and its documented run lengths (diagnostics/drift.py), measured."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from qtrain.diagnostics.drift import Cusum, CusumDesign, _survival, siegmund_arl
from qtrain.errors import ConfigError


def _alarm_times(z: np.ndarray, design: CusumDesign) -> np.ndarray:
    """``(R,)`` first alarm index (1-based) of each row of ``z`` ``(R, N)`` (N + 1: none)."""
    times = np.full(z.shape[0], z.shape[1] + 1)
    for r, row in enumerate(z):
        detector = Cusum(design)
        for n, value in enumerate(row, start=1):
            if detector.update(float(value)):
                times[r] = n
                break
    return times


def _slack(p: float, runs: int) -> float:
    """Three binomial standard errors of a rate ``p`` measured over ``runs`` runs."""
    return 3.0 * math.sqrt(p * (1.0 - p) / runs)


def test_tabular_cusum_by_hand() -> None:
    detector = Cusum(CusumDesign(k=0.5, h=2.0))
    assert detector.update(1.0) is False  # S⁺ = 0.5
    assert (detector.upper, detector.lower) == (0.5, 0.0)
    assert detector.update(-2.0) is False  # S⁺ = 0, S⁻ = 1.5
    assert (detector.upper, detector.lower) == (0.0, 1.5)
    assert detector.update(-1.0) is False  # S⁻ = 1.5 + 1 − 0.5 = 2.0: not past h
    assert detector.update(-0.6) is True  # S⁻ = 2.1
    assert detector.statistic == pytest.approx(2.1)


def test_alarm_is_strictly_past_the_threshold() -> None:
    detector = Cusum(CusumDesign(k=0.5, h=1.0))
    assert detector.update(1.5) is False  # S⁺ = 1.0, not past h
    assert detector.update(0.51) is True
    detector.reset()
    assert (detector.statistic, detector.runs) == (0.0, 0)


def test_state_is_json_and_round_trips() -> None:
    detector = Cusum(CusumDesign(k=0.25, h=4.0, baseline=8))
    for z in (0.3, 1.2, -0.4):
        detector.update(z)
    data = json.loads(json.dumps(detector.to_dict()))
    again = Cusum.from_dict(data)
    assert again.to_dict() == detector.to_dict()
    assert again.update(2.0) == detector.update(2.0)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: CusumDesign(k=0.0), "k must be"),
        (lambda: CusumDesign(h=math.nan), "h must be"),
        (lambda: CusumDesign(baseline=-1), "baseline"),
        (lambda: CusumDesign.for_arl(1.0), "arl"),
        (lambda: Cusum(CusumDesign()).update(math.inf), "finite"),
        (lambda: Cusum.from_dict({"k": 0.5}), "not a CUSUM state"),
        (lambda: CusumDesign().false_alarm_probability(0), "runs"),
        (lambda: CusumDesign().detection_delay(0.0), "delta"),
        (lambda: CusumDesign().detection_delay(1.0, q=1.0), "q must"),
    ],
)
def test_bad_input_is_refused(make: object, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make()  # type: ignore[operator]


def test_siegmund_agrees_with_the_markov_chain() -> None:
    """Siegmund's ARL and the Brook–Evans chain's mean run length agree within 5%."""
    for delta in (0.0, 1.0, 2.0):
        chain = _survival(delta, 0.5, 5.0, 20_000).sum()  # E RL⁺ = Σ_n P(RL⁺ > n)
        upper_only = 1.0 / (1.0 / siegmund_arl(delta, 0.5, 5.0) - 1.0 / _lower(delta))
        assert chain == pytest.approx(upper_only, rel=0.05)


def _lower(delta: float) -> float:
    b, drift = 5.0 + 1.166, -delta - 0.5
    return (math.exp(-2 * drift * b) + 2 * drift * b - 1) / (2 * drift**2)


def test_threshold_for_a_target_arl() -> None:
    design = CusumDesign.for_arl(300.0, k=0.5)
    assert design.arl(0.0) == pytest.approx(300.0, rel=1e-6)
    assert CusumDesign.for_arl(300.0, baseline=16).h > design.h  # a baseline costs threshold


@pytest.mark.parametrize("baseline", [0, 16])
def test_measured_false_alarm_rate_is_at_most_the_documented(baseline: int) -> None:
    """4000 seeded runs of 60 in-control residuals; a baselined reference shares its error."""
    design, runs, length = CusumDesign(k=0.5, h=4.0, baseline=baseline), 4000, 60
    rng = np.random.default_rng(1954)
    z = rng.standard_normal((runs, length))
    if baseline:
        z += rng.standard_normal((runs, 1)) / math.sqrt(baseline)
    measured = float(np.mean(_alarm_times(z, design) <= length))
    documented = design.false_alarm_probability(length)
    assert measured <= documented + _slack(documented, runs)
    assert measured >= 0.5 * documented  # the bound is not vacuous


def test_measured_detection_delay_is_within_the_documented() -> None:
    """A 1.5 sd shift after 40 in-control runs is decided within the documented delay."""
    design, runs, onset, delta = CusumDesign(k=0.5, h=5.0), 2000, 40, 1.5
    documented = design.detection_delay(delta, q=0.95)
    rng = np.random.default_rng(7)
    z = rng.standard_normal((runs, onset + 200))
    z[:, onset:] += delta
    times = _alarm_times(z, design)
    late = times > onset  # false alarms before the onset are not delays
    delays = times[late] - onset
    within = float(np.mean(delays <= documented))
    assert within >= 0.95 - _slack(0.95, int(late.sum()))
    assert np.mean(delays) == pytest.approx(design.arl(delta), rel=0.25)
