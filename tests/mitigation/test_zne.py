"""``qt.ZNE`` options, folded circuits per factor and the shot split over factors."""

from __future__ import annotations

import numpy as np
import pytest

import qtrain as qt
from qtrain.errors import MitigationError
from qtrain.mitigation.zne import split_shots


def test_split_shots_spends_every_shot_and_follows_the_fractions() -> None:
    rng = np.random.default_rng(3)
    shots = rng.integers(6, 5000, size=(7, 3))
    fractions = qt.ZNE(factors=(1, 3, 5)).fractions()
    split = split_shots(shots, fractions)
    assert split.shape == (3, 7, 3)
    np.testing.assert_array_equal(split.sum(axis=0), shots)
    assert split.min() >= 2  # every cell has >= 2L shots: two per factor at least
    big = split_shots(np.array([[100_000]]), fractions)[:, 0, 0]
    np.testing.assert_allclose(big / 100_000, fractions, atol=1e-4)


def test_split_shots_refuses_fewer_than_two_shots_per_factor() -> None:
    with pytest.raises(MitigationError, match=r"at least 6 shots per \(row, group\).*got 5"):
        split_shots(np.array([[6, 5]]), np.array([0.5, 0.3, 0.2]))
    split = split_shots(np.array([[6, 7]]), np.array([0.5, 0.3, 0.2]))
    assert split.min() == 2 and split.sum() == 13


def test_default_fractions_follow_the_richardson_weights() -> None:
    zne = qt.ZNE(factors=(1, 3, 5), extrapolation="richardson")
    np.testing.assert_allclose(zne.fractions(), np.array([15, 10, 3]) / 28)
    given = qt.ZNE(factors=(1, 3), shot_fractions=(3, 1))
    np.testing.assert_allclose(given.fractions(), [0.75, 0.25])


def test_folded_circuits_reach_their_factors() -> None:
    circuit = qt.Circuit(2).ry(0, qt.P(0)).cnot(0, 1).rz(1, qt.P(1))
    circuits, reached = qt.ZNE(factors=(1, 3, 5)).folded(circuit)
    assert [len(c) for c in circuits] == [3, 9, 15]
    assert reached == (1.0, 3.0, 5.0)
    local, reached = qt.ZNE(factors=(1, 2, 3), folding="local", seed=4).folded(circuit)
    assert [len(c) for c in local] == [3, 7, 9]
    assert reached == pytest.approx((1.0, 7 / 3, 3.0))  # whole gates: 2 becomes 7/3
    assert all(c.n_params == circuit.n_params for c in local)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"factors": (1, 2, 3)}, "folding='local'"),
        ({"factors": (0.5, 1, 3)}, ">= 1"),
        ({"factors": (1, 5, 3)}, "strictly increasing"),
        ({"folding": "random"}, "unknown folding"),
        ({"seed": -1}, "seed"),
        ({"extrapolation": "spline"}, "unknown extrapolation"),
        ({"extrapolation": ("polynomial", 3)}, "at least 4 scale factors"),
        ({"shot_fractions": (1, 2)}, "3 positive numbers"),
        ({"shot_fractions": (1, 0, 2)}, "3 positive numbers"),
        ({"on_failure": "ignore"}, "on_failure"),
    ],
)
def test_bad_zne_options_are_refused_by_name(options: dict[str, object], match: str) -> None:
    with pytest.raises(MitigationError, match=match):
        qt.ZNE(**options)  # type: ignore[arg-type]


def test_describe_names_every_option() -> None:
    described = qt.ZNE(factors=(1, 3), extrapolation=("polynomial", 1)).describe()
    assert described == {
        "factors": [1.0, 3.0],
        "extrapolation": ["polynomial", 1],
        "folding": "global",
        "seed": 0,
        "shot_fractions": None,
        "on_failure": "fallback",
    }
