"""examples/torch_classifier.py reaches the test accuracy its docstring states."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "torch_classifier.py"


def load_example():
    spec = importlib.util.spec_from_file_location("torch_classifier", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow  # 5-20 s: 60 training steps of 200 samples
def test_hybrid_classifier_reaches_the_stated_test_accuracy():
    example = load_example()
    assert f"test accuracy ≥ {example.STATED_TEST_ACCURACY}" in example.__doc__
    result = example.main()
    assert result["test_accuracy"] >= example.STATED_TEST_ACCURACY
    assert result["train_accuracy"] >= 0.9


def test_two_moons_are_seeded_and_balanced():
    example = load_example()
    a, labels = example.two_moons(300, noise=0.15, seed=0)
    b, _ = example.two_moons(300, noise=0.15, seed=0)
    assert (a == b).all() and a.shape == (300, 2)
    assert 100 < labels.sum() < 200
