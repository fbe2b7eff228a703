import numpy as np
import pytest

import qtrain as qt
from qtrain.ir.grouping import MeasurementGroup, qubitwise_groups
from qtrain.ir.pauli import PauliTerm


def random_diagonal(rng, n, terms):
    items = []
    for _ in range(terms):
        wires = [w for w in range(n) if rng.random() < 0.5]
        items.append((PauliTerm(tuple((w, "Z") for w in wires)), float(rng.normal())))
    return qt.Observable.from_terms(items)


@pytest.mark.parametrize("seed", range(6))
def test_diagonal_sums_are_one_group_of_every_term(seed):
    rng = np.random.default_rng(seed)
    obs = random_diagonal(rng, n=int(rng.integers(1, 7)), terms=int(rng.integers(1, 30)))
    indexed = tuple(i for i, (term, _) in enumerate(obs.terms) if term.factors)
    wires = sorted({w for i in indexed for w in obs.terms[i][0].wires})
    expected = (MeasurementGroup(tuple((w, "Z") for w in wires), indexed),) if indexed else ()
    assert qubitwise_groups(obs.terms) == expected


def test_non_diagonal_sums_use_the_greedy_partition():
    obs = qt.Observable.parse("Z0 Z1 + Z1 Z2 + X0 + X1 + X2")
    groups = qubitwise_groups(obs.terms)
    assert groups == (
        MeasurementGroup(((0, "X"), (1, "X"), (2, "X")), (0, 1, 2)),
        MeasurementGroup(((0, "Z"), (1, "Z"), (2, "Z")), (3, 4)),
    )


def test_identity_only_has_no_group():
    assert qubitwise_groups(qt.I().terms) == ()
    assert qubitwise_groups((2.0 * qt.I() + qt.Z(3)).terms) == (
        MeasurementGroup(((3, "Z"),), (1,)),
    )
