import json

import numpy as np
import pytest

import qtrain as qt
from qtrain.problems.classifier import (
    CIRCLE_RADIUS,
    PARAMS_PER_BLOCK,
    circle_dataset,
    classifier,
    reuploading_circuit,
)
from qtrain.testing import reference_expval


def test_classifier_dataset_is_reproducible_with_the_seed():
    points, labels = circle_dataset(50, seed=4)
    again_points, again_labels = circle_dataset(50, seed=4)
    np.testing.assert_array_equal(points, again_points)
    np.testing.assert_array_equal(labels, again_labels)
    assert not np.array_equal(points, circle_dataset(50, seed=5)[0])
    assert points.shape == (50, 2) and np.all(np.abs(points) <= 1.0)
    inside = np.hypot(points[:, 0], points[:, 1]) < CIRCLE_RADIUS
    np.testing.assert_array_equal(labels, np.where(inside, 1, -1))


def test_classifier_dataset_is_balanced_ish():
    _, labels = circle_dataset(2000, seed=0)
    assert 0.45 < np.mean(labels == 1) < 0.55  # the circle holds half the square's area


def test_classifier_problem_shape():
    p = classifier(12, layers=3, seed=1)
    assert p.name == "classifier" and p.loss == "mse" and p.exact_value is None
    assert p.n_terms == len(p.circuits) == len(p.observables) == 12
    assert p.n_params == 3 * PARAMS_PER_BLOCK
    assert all(c.n_params == len(p.theta0) for c in p.circuits)
    assert all(o == qt.Z(0) for o in p.observables)
    points, labels = circle_dataset(12, seed=1)
    np.testing.assert_array_equal(p.targets, labels.astype(float))
    assert set(p.targets.tolist()) <= {-1.0, 1.0}
    assert p.metadata["points"] == points.tolist() and p.metadata["labels"] == labels.tolist()
    assert json.loads(json.dumps(p.metadata)) == p.metadata


def test_classifier_every_parameter_moves_the_prediction():
    p = classifier(1, layers=2, n_qubits=2, seed=0)
    circuit = p.circuits[0]
    assert circuit.n_params == p.n_params == 2 * 2 * PARAMS_PER_BLOCK
    base = qt.expval(circuit, qt.Z(0), p.theta0)
    for k in range(p.n_params):
        shifted = p.theta0.copy()
        shifted[k] += 0.3
        assert qt.expval(circuit, qt.Z(0), shifted) != pytest.approx(base, abs=1e-9), k


def test_classifier_circuit_encodes_the_point_as_parameter_scales():
    theta = np.random.default_rng(0).uniform(-1, 1, 10)
    point = np.array([0.5, -0.25])
    circuit = reuploading_circuit(point, 2, 1)
    manual = qt.Circuit(1)
    for layer in range(2):
        w1, w2, b1, b2, b3 = theta[5 * layer : 5 * layer + 5]
        manual = manual.ry(0, w1 * point[0] + b1).rz(0, w2 * point[1] + b2).ry(0, b3)
    assert qt.expval(circuit, qt.Z(0), theta) == pytest.approx(
        reference_expval(manual, qt.Z(0)), abs=1e-12
    )
    assert reuploading_circuit(np.zeros(2), 2, 1).n_params == 10  # zero coordinates too


def test_classifier_theta0_and_data_are_independent_streams():
    np.testing.assert_array_equal(classifier(5).theta0, classifier(30).theta0)
    np.testing.assert_array_equal(classifier(5, seed=2).theta0, classifier(5, seed=2).theta0)
    assert not np.array_equal(classifier(5, seed=2).theta0, classifier(5, seed=3).theta0)
    assert classifier(5, layers=1).metadata["points"] == classifier(5, layers=4).metadata["points"]


def test_classifier_report_accuracy_and_mse():
    p = classifier(10, seed=0)
    perfect = p.report(p.targets.copy())
    assert perfect == {"loss": 0.0, "accuracy": 1.0}
    wrong = p.report(-p.targets)
    assert wrong == {"loss": 4.0, "accuracy": 0.0}
    values = np.array(
        [qt.expval(c, o, p.theta0) for c, o in zip(p.circuits, p.observables, strict=True)]
    )
    report = p.report(values)
    assert 0.0 <= report["accuracy"] <= 1.0
    assert report["loss"] == pytest.approx(np.mean((values - p.targets) ** 2))


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"dataset": "moons"}, r"\['circle'\]"),
        ({"n_points": 0}, "n_points"),
        ({"layers": 0}, "layers"),
        ({"n_qubits": 0}, "n_qubits"),
        ({"seed": 1.5}, "seed"),
    ],
)
def test_classifier_rejects_bad_input(kwargs, text):
    with pytest.raises(qt.ConfigError, match=text):
        classifier(**kwargs)
