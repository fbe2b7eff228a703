import numpy as np

import qtrain as qt
from qtrain.diagnostics.batching import axis_angles, axis_form, batches
from qtrain.testing import reference_matrix


def test_axis_form_is_the_same_unitary():
    rng = np.random.default_rng(3)
    for seed in range(4):
        circuit = qt.ansatz.random_pauli(3, 3, seed=seed)
        theta = rng.uniform(0, 2 * np.pi, circuit.n_params)
        skeleton, axes = axis_form(circuit)
        assert skeleton.n_params == circuit.n_params + axes.size == 3 * circuit.n_params
        full = np.concatenate([theta, axes])
        assert np.allclose(
            reference_matrix(skeleton, full), reference_matrix(circuit, theta), atol=1e-12
        )


def test_batches_group_random_members_by_skeleton():
    circuits = tuple(qt.ansatz.random_pauli(3, 2, seed=s) for s in range(5))
    thetas = np.random.default_rng(0).uniform(0, 6, (5, 6))
    (batch,) = batches(circuits, thetas, random_structure=True)
    skeleton, members, rows = batch
    assert skeleton == axis_form(circuits[0])[0]
    assert members == [0, 1, 2, 3, 4] and rows.shape == (5, 18)
    assert np.array_equal(rows[2], np.concatenate([thetas[2], axis_angles(circuits[2])]))
    fixed = (qt.ansatz.hardware_efficient(2, 1),) * 3
    assert batches(fixed, thetas[:3, :4], random_structure=False)[0][0] is fixed[0]


def test_batches_keep_circuits_that_share_no_skeleton():
    circuits = (qt.ansatz.hardware_efficient(2, 1), qt.ansatz.strongly_entangling(2, 1))
    thetas = np.zeros((2, 6))
    out = batches(circuits, thetas, random_structure=True)
    assert [c for c, _, _ in out] == list(circuits)
